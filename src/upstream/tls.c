/*
 * tls.c - OpenSSL contexts and non-blocking connections for https://
 * upstreams (contract in tls.h).
 *
 * A context is an SSL_CTX set up once: client method, protocol floor,
 * VERIFY_PEER with the expected name in its verify parameters (every SSL
 * made from it inherits them, so a connection only adds SNI), renegotiation
 * off, partial writes on (the client keeps its own offset), read-ahead on
 * (one read(2) may carry several records; md_tls_pending() covers what it
 * leaves buffered) and buffers released while idle (keep-alive pools hold
 * many quiet connections). Sessions go to the pool's md_tls_resume_t
 * through the new-session callback, never to OpenSSL's internal cache, so
 * workers share nothing but the read-only SSL_CTX.
 *
 * OpenSSL's per-thread error queue is cleared before each operation and
 * after each failure: SSL_get_error() needs it empty, and a stale entry
 * would confuse the next libcrypto user on the thread (JWT checks).
 */
#include "upstream/tls.h"

#include "core/alloc.h"
#include "core/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define LOG_INTERVAL_MS 60000   /* one handshake-failure line per context per minute */
#define MAX_SERVER_NAME 253

struct md_tls_ctx {
    SSL_CTX *ssl_ctx;
    char *name;
    char *server_name;
    bool sni;                   /* server_name is a DNS name (RFC 6066: no IP in SNI) */
    bool verify;
    int min_version;
    _Atomic uint64_t last_log_ms; /* 0: never logged; shared by every worker */
};

struct md_tls_conn {
    SSL *ssl;
    md_tls_ctx_t *ctx;
    md_tls_resume_t *resume;
    unsigned want;
    bool failed;                /* a fatal error: SSL_shutdown is not allowed */
};

/* The system trust store, loaded on first use and shared (refcounted) by
 * every context that uses it: the Debian bundle costs ~23 ms and ~150
 * certificates per load, which 256 upstreams should not pay 256 times. */
static pthread_mutex_t sys_lock = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *sys_store;

static const char *ossl_reason(void)
{
    const char *r = ERR_reason_error_string(ERR_peek_last_error());
    return r ? r : "unknown OpenSSL error";
}

static bool is_ip_literal(const char *s)
{
    unsigned char bin[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1;
}

/* Encrypted keys would make OpenSSL prompt on the terminal: refuse them. */
static int no_password(char *buf, int size, int rwflag, void *arg)
{
    MD_UNUSED(buf);
    MD_UNUSED(size);
    MD_UNUSED(rwflag);
    MD_UNUSED(arg);
    return 0;
}

/* A new session (at the end of a TLS 1.2 handshake, or each TLS 1.3
 * ticket read later): becomes the pool's session to resume. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    md_tls_conn_t *s = SSL_get_app_data(ssl);
    if (!s || !s->resume)
        return 0;
    md_tls_resume_clear(s->resume);
    s->resume->session = sess;
    return 1; /* we keep OpenSSL's reference */
}

/* ---- contexts ---- */

static bool check_opts(const md_tls_opts_t *o, char *err, size_t errlen)
{
    if (o->min_version != MD_TLS_1_2 && o->min_version != MD_TLS_1_3) {
        md_seterr(err, errlen, "min_version must be 1.2 or 1.3");
        return false;
    }
    size_t n = o->server_name ? strlen(o->server_name) : 0;
    if (n == 0 || n > MAX_SERVER_NAME) {
        md_seterr(err, errlen, "server_name must be 1-%d characters", MAX_SERVER_NAME);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)o->server_name[i];
        if (ch <= 0x20 || ch >= 0x7f) {
            md_seterr(err, errlen, "server_name must be a host name or an IP address");
            return false;
        }
    }
    return true;
}

/* The name the certificate must carry, in the context's verify
 * parameters: a DNS name (no partial wildcards like "a*.example") or an
 * IP address (matched against the IP SANs). */
static bool set_expected_name(md_tls_ctx_t *t)
{
    X509_VERIFY_PARAM *p = SSL_CTX_get0_param(t->ssl_ctx);
    if (!t->sni)
        return X509_VERIFY_PARAM_set1_ip_asc(p, t->server_name) == 1;
    X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(p, t->server_name, 0) == 1;
}

static bool setup_ctx(md_tls_ctx_t *t, int min_version)
{
    SSL_CTX *x = t->ssl_ctx;
    int floor = min_version == MD_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(x, floor) != 1)
        return false;
    SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(x, 1);
    SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(x, on_new_session);
    SSL_CTX_set_default_passwd_cb(x, no_password);
    SSL_CTX_set_verify(x, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return !t->verify || set_expected_name(t);
}

md_tls_ctx_t *md_tls_ctx_new(const md_tls_opts_t *o, char *err, size_t errlen)
{
    if (!o || !check_opts(o, err, errlen))
        return NULL;
    md_tls_ctx_t *t = md_calloc(1, sizeof(*t));
    t->name = md_strdup(o->name ? o->name : "?");
    t->server_name = md_strdup(o->server_name);
    t->sni = !is_ip_literal(t->server_name);
    t->verify = o->verify;
    t->min_version = o->min_version;
    ERR_clear_error();
    t->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ssl_ctx || !setup_ctx(t, o->min_version)) {
        md_seterr(err, errlen, "cannot set up TLS: %s", ossl_reason());
        ERR_clear_error();
        md_tls_ctx_free(t);
        return NULL;
    }
    if (!t->verify)
        fprintf(stderr, "medley: WARNING: upstream '%s': 'tls: { verify: false }': the server's certificate is NOT "
                        "checked; anyone on the network path can read and change these calls (development only)\n",
                t->name);
    return t;
}

void md_tls_ctx_opts(const md_tls_ctx_t *t, md_tls_opts_t *out)
{
    *out = (md_tls_opts_t){ .name = t->name, .server_name = t->server_name, .verify = t->verify,
                            .min_version = t->min_version };
}

void md_tls_ctx_free(md_tls_ctx_t *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ssl_ctx);
    md_free(t->name);
    md_free(t->server_name);
    md_free(t);
}

/* A file OpenSSL may read whole: a regular file of bounded size (a FIFO
 * or /dev/zero would hang the loader). */
static int check_file(const char *what, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (!path || !*path) {
        md_seterr(err, errlen, "%s is empty", what);
        return MD_EINVAL;
    }
    if (stat(path, &st) != 0) {
        md_seterr(err, errlen, "cannot read %s '%s': %s", what, path, strerror(errno));
        return MD_EINVAL;
    }
    if (!S_ISREG(st.st_mode)) {
        md_seterr(err, errlen, "%s '%s' is not a regular file", what, path);
        return MD_EINVAL;
    }
    if ((uint64_t)st.st_size > MD_TLS_MAX_FILE_BYTES) {
        md_seterr(err, errlen, "%s '%s' is larger than %u KiB", what, path, MD_TLS_MAX_FILE_BYTES / 1024);
        return MD_EINVAL;
    }
    return MD_OK;
}

static X509_STORE *system_store(void)
{
    pthread_mutex_lock(&sys_lock);
    if (!sys_store) {
        sys_store = X509_STORE_new();
        if (sys_store && X509_STORE_set_default_paths(sys_store) != 1) {
            X509_STORE_free(sys_store);
            sys_store = NULL;
        }
    }
    X509_STORE *s = sys_store;
    pthread_mutex_unlock(&sys_lock);
    return s;
}

int md_tls_ctx_trust(md_tls_ctx_t *t, const char *ca_file, char *err, size_t errlen)
{
    ERR_clear_error();
    if (!ca_file) {
        X509_STORE *s = system_store();
        if (!s) {
            md_seterr(err, errlen, "cannot load the system trust store: %s", ossl_reason());
            ERR_clear_error();
            return MD_EINVAL;
        }
        SSL_CTX_set1_cert_store(t->ssl_ctx, s); /* takes its own reference */
        return MD_OK;
    }
    if (check_file("ca_file", ca_file, err, errlen) != MD_OK)
        return MD_EINVAL;
    X509_STORE *s = X509_STORE_new();
    if (!s || X509_STORE_load_file(s, ca_file) != 1) {
        md_seterr(err, errlen, "ca_file '%s' holds no usable PEM certificate (%s)", ca_file, ossl_reason());
        X509_STORE_free(s);
        ERR_clear_error();
        return MD_EINVAL;
    }
    SSL_CTX_set_cert_store(t->ssl_ctx, s); /* owns it now */
    return MD_OK;
}

int md_tls_ctx_client_cert(md_tls_ctx_t *t, const char *cert_file, const char *key_file, bool *bad_key,
                           char *err, size_t errlen)
{
    *bad_key = false;
    if (check_file("cert_file", cert_file, err, errlen) != MD_OK)
        return MD_EINVAL;
    *bad_key = true;
    if (check_file("key_file", key_file, err, errlen) != MD_OK)
        return MD_EINVAL;
    ERR_clear_error();
    int rc = MD_EINVAL;
    if (SSL_CTX_use_certificate_chain_file(t->ssl_ctx, cert_file) != 1) {
        *bad_key = false;
        md_seterr(err, errlen, "cert_file '%s' holds no usable PEM certificate (%s)", cert_file, ossl_reason());
    } else if (SSL_CTX_use_PrivateKey_file(t->ssl_ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            md_seterr(err, errlen, "key_file '%s' does not match the certificate of cert_file '%s'", key_file,
                      cert_file);
        else
            md_seterr(err, errlen, "key_file '%s' is not an unencrypted PEM private key (%s)", key_file,
                      ossl_reason());
    } else if (SSL_CTX_check_private_key(t->ssl_ctx) != 1) {
        md_seterr(err, errlen, "key_file '%s' does not match the certificate of cert_file '%s'", key_file,
                  cert_file);
    } else {
        rc = MD_OK;
    }
    ERR_clear_error();
    return rc;
}

void md_tls_resume_clear(md_tls_resume_t *r)
{
    if (r && r->session) {
        SSL_SESSION_free(r->session);
        r->session = NULL;
    }
}

/* ---- connections ---- */

md_tls_conn_t *md_tls_conn_new(md_tls_ctx_t *t, int fd, md_tls_resume_t *resume)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(t->ssl_ctx);
    if (!ssl) {
        ERR_clear_error();
        return NULL;
    }
    md_tls_conn_t *s = md_calloc(1, sizeof(*s));
    s->ssl = ssl;
    s->ctx = t;
    s->resume = resume;
    s->want = MD_IO_WRITE;
    if (SSL_set_fd(ssl, fd) != 1 || (t->sni && SSL_set_tlsext_host_name(ssl, t->server_name) != 1)) {
        s->failed = true;
        md_tls_conn_free(s);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_app_data(ssl, s);
    if (resume && resume->session)
        SSL_set_session(ssl, resume->session); /* a refused session only means a full handshake */
    SSL_set_connect_state(ssl);
    ERR_clear_error();
    return s;
}

/* Logs at most once per LOG_INTERVAL_MS per context, whichever worker
 * sees the failure first. */
static void log_failure(md_tls_ctx_t *t, const char *why)
{
    uint64_t now = md_now_us() / 1000 + 1;
    uint64_t last = atomic_load(&t->last_log_ms);
    if (last && now - last < LOG_INTERVAL_MS)
        return;
    if (!atomic_compare_exchange_strong(&t->last_log_ms, &last, now))
        return;
    fprintf(stderr, "medley: upstream '%s': TLS handshake with '%s' failed: %s\n", t->name, t->server_name, why);
}

/* Why the handshake failed, logged; MD_ETLS or MD_ECONNECT. */
static int handshake_failed(md_tls_conn_t *s, int e)
{
    char why[256];
    long v = SSL_get_verify_result(s->ssl);
    unsigned long last = ERR_peek_last_error();
    if (s->ctx->verify && v != X509_V_OK) {
        snprintf(why, sizeof(why), "certificate verify failed: %s", X509_verify_cert_error_string(v));
    } else if (e == SSL_ERROR_SSL && ERR_GET_REASON(last) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        snprintf(why, sizeof(why), "%s", ossl_reason());
    } else {
        return MD_ECONNECT; /* closed or reset before any TLS was spoken wrong */
    }
    log_failure(s->ctx, why);
    return MD_ETLS;
}

int md_tls_handshake(md_tls_conn_t *s, unsigned *want)
{
    ERR_clear_error();
    int r = SSL_connect(s->ssl);
    if (r == 1)
        return MD_OK;
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        s->want = *want = e == SSL_ERROR_WANT_READ ? MD_IO_READ : MD_IO_WRITE;
        return MD_AGAIN;
    }
    s->failed = true;
    int rc = handshake_failed(s, e);
    ERR_clear_error();
    md_tls_resume_clear(s->resume); /* it may be what the server refused */
    return rc;
}

bool md_tls_resumed(const md_tls_conn_t *s)
{
    return SSL_session_reused(s->ssl) == 1;
}

/* Maps an SSL_read/SSL_write result <= 0 onto the read(2) conventions. */
static ssize_t io_failed(md_tls_conn_t *s, int r, bool reading)
{
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        s->want = e == SSL_ERROR_WANT_READ ? MD_IO_READ : MD_IO_WRITE;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN && reading)
        return 0;
    if (e != SSL_ERROR_ZERO_RETURN)
        s->failed = true;
    ERR_clear_error();
    errno = ECONNRESET;
    return -1;
}

ssize_t md_tls_read(md_tls_conn_t *s, void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_read(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : io_failed(s, r, true);
}

ssize_t md_tls_write(md_tls_conn_t *s, const void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_write(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : io_failed(s, r, false);
}

unsigned md_tls_want(const md_tls_conn_t *s)
{
    return s->want;
}

bool md_tls_pending(const md_tls_conn_t *s)
{
    return SSL_has_pending(s->ssl) == 1;
}

void md_tls_conn_free(md_tls_conn_t *s)
{
    if (!s)
        return;
    if (!s->failed && SSL_is_init_finished(s->ssl)) {
        ERR_clear_error();
        SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
    SSL_free(s->ssl);
    md_free(s);
}
