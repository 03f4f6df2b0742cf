/*
 * Unit tests for https:// upstreams: upstream/tls.c and the TLS paths of
 * upstream/client.c. The group setup makes a throwaway PKI with the openssl
 * command line in a mkdtemp directory (a test CA, a server certificate for
 * localhost and 127.0.0.1, one from another CA, a self-signed one, a
 * client certificate); the tests run small OpenSSL servers in threads
 * (blocking sockets, a thread per connection) and the client on a real
 * md_loop_t, so handshakes, records, resumption and failures are real.
 */
#include "testutil.h"

#include "clienttest.h"
#include "upstream/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG_BYTES (1024u * 1024)
#define MAX_CONNS 16

/* ---- the throwaway PKI ---- */

static char pki[64];

static const char *P(const char *name)
{
    static char ring[8][128];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof(ring[0]), "%s/%s", pki, name);
    return p;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(P(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_pki(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* tls.h: OpenSSL writes with write(2) */
    snprintf(pki, sizeof(pki), "/tmp/md-tls-test-XXXXXX");
    if (!mkdtemp(pki))
        return -1;
    write_file("srv.ext", "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
                          "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    write_file("cli.ext", "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n");
    write_file("junk.pem", "this is not a certificate\n");
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "(cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
             "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=medley-test-ca && "
             "openssl req -x509 $K -keyout ca2.key -out ca2.pem -days 2 -subj /CN=medley-other-ca && "
             "openssl req $K -keyout srv.key -out srv.csr -subj /CN=localhost && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 -extfile srv.ext "
             "-out srv.pem && "
             "openssl req $K -keyout srv2.key -out srv2.csr -subj /CN=localhost && "
             "openssl x509 -req -in srv2.csr -CA ca2.pem -CAkey ca2.key -set_serial 3 -days 2 -extfile srv.ext "
             "-out srv2.pem && "
             "openssl req -x509 $K -keyout self.key -out self.pem -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost && "
             "openssl req $K -keyout cli.key -out cli.csr -subj /CN=medley-client && "
             "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -set_serial 4 -days 2 -extfile cli.ext "
             "-out cli.pem && "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:secret "
             "-out enc.key) >/dev/null 2>&1",
             pki);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_pki(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- the TLS test server (struct srv; srv_t in clienttest.h) ---- */

/* Answers request k on a TLS connection; false closes the connection. */
typedef bool (*srv_respond)(srv_t *s, SSL *ssl, int k);
/* Serves a whole connection without TLS (misbehaving servers). */
typedef void (*srv_raw)(srv_t *s, int fd);

struct srv {
    int lfd;
    uint16_t port;
    pthread_t accept_thread;
    SSL_CTX *ctx;
    srv_respond respond;
    srv_raw raw;
    const char *resp;                  /* for respond_fixed */
    bool close_after;                  /* respond_fixed: close after answering */
    int close_delay_ms;                /* ...this long after */
    atomic_int accepts, handshakes, resumed, requests, failed_accepts;
    atomic_bool stop;
    pthread_mutex_t lock;
    char last_req[4096];
    size_t last_body_len;
    uint32_t last_body_sum;
    char peer_cn[64];
    int fds[MAX_CONNS];
    pthread_t threads[MAX_CONNS];
    int nthreads;
};

typedef struct targ {
    srv_t *s;
    int slot;
} targ_t;

static uint32_t sum_bytes(uint32_t sum, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sum = sum * 31 + (unsigned char)p[i];
    return sum;
}

/* Reads one request over TLS: the head is kept, a Content-Length body is
 * counted and checksummed. False at EOF or error. */
static bool read_request(srv_t *s, SSL *ssl)
{
    char buf[8192];
    size_t len = 0;
    ssize_t end;
    while ((end = find(buf, len, "\r\n\r\n")) < 0) {
        if (len == sizeof(buf))
            return false;
        int n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - len));
        if (n <= 0)
            return false;
        len += (size_t)n;
    }
    size_t head = (size_t)end + 4;
    ssize_t at = find(buf, head, "Content-Length: ");
    size_t body = at >= 0 ? strtoul(buf + at + 16, NULL, 10) : 0;
    size_t have = len - head;
    uint32_t sum = sum_bytes(0, buf + head, have);
    while (have < body) {
        char tmp[16384];
        size_t want = body - have < sizeof(tmp) ? body - have : sizeof(tmp);
        int n = SSL_read(ssl, tmp, (int)want);
        if (n <= 0)
            return false;
        sum = sum_bytes(sum, tmp, (size_t)n);
        have += (size_t)n;
    }
    pthread_mutex_lock(&s->lock);
    size_t keep = head < sizeof(s->last_req) - 1 ? head : sizeof(s->last_req) - 1;
    memcpy(s->last_req, buf, keep);
    s->last_req[keep] = '\0';
    s->last_body_len = have;
    s->last_body_sum = sum;
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(&s->requests, 1);
    return true;
}

static bool ssl_send(SSL *ssl, const char *p, size_t n)
{
    while (n) {
        int w = SSL_write(ssl, p, (int)n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool respond_fixed(srv_t *s, SSL *ssl, int k)
{
    (void)k;
    if (!ssl_send(ssl, s->resp, strlen(s->resp)))
        return false;
    if (s->close_after && s->close_delay_ms)
        ms_sleep(s->close_delay_ms);
    return !s->close_after;
}

static void record_peer(srv_t *s, SSL *ssl)
{
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (!peer)
        return;
    pthread_mutex_lock(&s->lock);
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->peer_cn, sizeof(s->peer_cn));
    pthread_mutex_unlock(&s->lock);
    X509_free(peer);
}

static void serve_tls(srv_t *s, int fd)
{
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
        atomic_fetch_add(&s->failed_accepts, 1);
        SSL_free(ssl);
        ERR_clear_error();
        return;
    }
    atomic_fetch_add(&s->handshakes, 1);
    if (SSL_session_reused(ssl))
        atomic_fetch_add(&s->resumed, 1);
    record_peer(s, ssl);
    for (int k = 0; !atomic_load(&s->stop) && read_request(s, ssl); k++)
        if (!s->respond(s, ssl, k))
            break;
    SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
}

static void *conn_thread(void *p)
{
    targ_t *a = p;
    srv_t *s = a->s;
    int fd = s->fds[a->slot];
    if (s->raw)
        s->raw(s, fd);
    else
        serve_tls(s, fd);
    pthread_mutex_lock(&s->lock); /* srv_stop must never shut down a recycled fd number */
    s->fds[a->slot] = -1;
    close(fd);
    pthread_mutex_unlock(&s->lock);
    free(a);
    return NULL;
}

static void *accept_thread(void *p)
{
    srv_t *s = p;
    int fd;
    while ((fd = accept_conn(s->lfd, &s->stop, s->nthreads, MAX_CONNS)) >= 0) {
        atomic_fetch_add(&s->accepts, 1);
        int one = 1; /* no Nagle delay: each write leaves when the test says */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        targ_t *a = malloc(sizeof(*a));
        a->s = s;
        a->slot = s->nthreads;
        pthread_mutex_lock(&s->lock);
        s->fds[a->slot] = fd;
        pthread_mutex_unlock(&s->lock);
        pthread_create(&s->threads[s->nthreads++], NULL, conn_thread, a);
    }
    return NULL;
}

/* A server context with `cert`/`key`, at most `max_version` (0: any);
 * with client_ca, client certificates signed by it are required. */
static SSL_CTX *server_ctx(const char *cert, const char *key, int max_version, const char *client_ca)
{
    SSL_CTX *x = SSL_CTX_new(TLS_server_method());
    assert_non_null(x);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(x, cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey_file(x, key, SSL_FILETYPE_PEM), 1);
    if (max_version)
        SSL_CTX_set_max_proto_version(x, max_version);
    static const unsigned char sid[] = "medley-test";
    SSL_CTX_set_session_id_context(x, sid, sizeof(sid) - 1);
    if (client_ca) {
        assert_int_equal(SSL_CTX_load_verify_locations(x, client_ca, NULL), 1);
        SSL_CTX_set_verify(x, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return x;
}

static srv_t *srv_start(SSL_CTX *ctx, srv_raw raw)
{
    srv_t *s = calloc(1, sizeof(*s));
    s->ctx = ctx;
    s->raw = raw;
    s->respond = respond_fixed;
    s->resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    pthread_mutex_init(&s->lock, NULL);
    s->lfd = loopback_listener(&s->port);
    pthread_create(&s->accept_thread, NULL, accept_thread, s);
    return s;
}

static void srv_stop(srv_t *s)
{
    atomic_store(&s->stop, true);
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->accept_thread, NULL);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nthreads; i++)
        if (s->fds[i] >= 0)
            shutdown(s->fds[i], SHUT_RDWR); /* wakes blocked reads */
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    close(s->lfd);
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- misbehaving servers (no TLS) ---- */

static void raw_stall(srv_t *s, int fd)
{
    char buf[4096];
    while (!atomic_load(&s->stop) && recv(fd, buf, sizeof(buf), 0) > 0)
        ; /* takes the ClientHello, says nothing, until srv_stop */
}

static void raw_garbage(srv_t *s, int fd)
{
    char buf[4096];
    (void)s;
    if (recv(fd, buf, sizeof(buf), 0) <= 0)
        return;
    static const char junk[] = "\x17\x01\x02\xff\xff garbage, not a TLS record at all \x00\x01";
    send(fd, junk, sizeof(junk) - 1, MSG_NOSIGNAL);
    ms_sleep(50);
}

static void raw_plain_http(srv_t *s, int fd)
{
    char buf[4096];
    (void)s;
    if (recv(fd, buf, sizeof(buf), 0) <= 0)
        return;
    static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL);
}

static void raw_hang_up(srv_t *s, int fd)
{
    char buf[4096];
    (void)s;
    recv(fd, buf, sizeof(buf), 0); /* the ClientHello, then close */
}

/* ---- client side ---- */

/* A client context for server_name; verify with trust from ca (NULL:
 * the system store). */
static md_tls_ctx_t *client_ctx(const char *server_name, bool verify, int min_version, const char *ca)
{
    md_tls_opts_t o = { .name = "tls-test", .server_name = server_name, .verify = verify,
                        .min_version = min_version };
    char err[256];
    md_tls_ctx_t *t = md_tls_ctx_new(&o, err, sizeof(err));
    if (!t)
        fail_msg("md_tls_ctx_new: %s", err);
    if (verify && md_tls_ctx_trust(t, ca, err, sizeof(err)) != MD_OK)
        fail_msg("md_tls_ctx_trust: %s", err);
    return t;
}

/* Client for server s through tls (owned by the fixture from now on). */
static void fx_init(fx_t *f, srv_t *s, md_tls_ctx_t *tls)
{
    memset(f, 0, sizeof(*f));
    f->srv = s;
    f->tls = tls;
    f->loop = md_loop_new();
    loopback_conf(f, "tls-test", "localhost", s->port);
    f->conf.max_response_bytes = 4 * BIG_BYTES;
    f->conf.tls = tls;
    f->up = md_upstream_new(f->loop, &f->conf, 1);
    assert_non_null(f->up);
}

/* One GET to a server with `cert`, through a client context; returns the
 * outcome. */
static int get_through(SSL_CTX *sctx, md_tls_ctx_t *cctx)
{
    fx_t f;
    fx_init(&f, srv_start(sctx, NULL), cctx);
    md_upstream_req_t req = get_req("/x");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    int err = g.error;
    if (err == MD_OK)
        assert_int_equal(g.status, 200);
    assert_int_equal(stats(&f).open, 0 + (err == MD_OK));
    md_free(g.body);
    fx_done(&f);
    return err;
}

/* stderr into a file while failures are logged. */
static int stderr_to(const char *path)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static char *stderr_back(int saved, const char *path)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char text[8192];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- tests: the happy paths ---- */

static void get_over_https_keeps_the_connection(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    md_upstream_req_t req = get_req("/a?b=1");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, 5);
    assert_memory_equal(g.body, "hello", 5);
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_memory_equal(g.body, "hello", 5);

    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.handshakes, 1);
    assert_int_equal(st.reuses, 1);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.idle, 1);
    assert_int_equal(atomic_load(&f.srv->accepts), 1);
    assert_int_equal(atomic_load(&f.srv->handshakes), 1);
    assert_int_equal(atomic_load(&f.srv->requests), 2);
    char expect[256];
    snprintf(expect, sizeof(expect), "GET /a?b=1 HTTP/1.1\r\nHost: localhost:%u\r\nConnection: keep-alive\r\n"
                                     "Accept-Encoding: gzip\r\n\r\n", f.srv->port);
    pthread_mutex_lock(&f.srv->lock);
    assert_string_equal(f.srv->last_req, expect);
    pthread_mutex_unlock(&f.srv->lock);
    md_free(g.body);
    fx_done(&f);
}

#define GZ_PLAIN_BYTES 50000

/* gzip in 1 KiB chunks, each chunk its own TLS record. */
static bool respond_chunked_gzip(srv_t *s, SSL *ssl, int k)
{
    (void)s;
    (void)k;
    char *plain = malloc(GZ_PLAIN_BYTES);
    for (size_t i = 0; i < GZ_PLAIN_BYTES; i++)
        plain[i] = pattern_byte(i);
    size_t zlen;
    char *z = gzip_bytes(plain, GZ_PLAIN_BYTES, 6, &zlen);
    free(plain);
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n";
    bool ok = ssl_send(ssl, head, strlen(head));
    for (size_t off = 0; ok && off < zlen; off += 1024) {
        size_t n = zlen - off < 1024 ? zlen - off : 1024;
        char line[16];
        int h = snprintf(line, sizeof(line), "%zx\r\n", n);
        ok = ssl_send(ssl, line, (size_t)h) && ssl_send(ssl, z + off, n) && ssl_send(ssl, "\r\n", 2);
    }
    free(z);
    return ok && ssl_send(ssl, "0\r\n\r\n", 5);
}

static void chunked_gzip_over_tls(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    f.srv->respond = respond_chunked_gzip;
    md_upstream_req_t req = get_req("/gz");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, GZ_PLAIN_BYTES);
    for (size_t i = 0; i < GZ_PLAIN_BYTES; i++)
        if (g.body[i] != pattern_byte(i))
            fail_msg("byte %zu differs", i);
    assert_int_equal(stats(&f).idle, 1); /* the chunked framing left it reusable */
    md_free(g.body);
    fx_done(&f);
}

/* 1 MiB body with Content-Length, written 16 KiB at a time (one record each). */
static bool respond_big(srv_t *s, SSL *ssl, int k)
{
    (void)s;
    (void)k;
    char head[128];
    int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BIG_BYTES);
    if (!ssl_send(ssl, head, (size_t)h))
        return false;
    char piece[16384];
    for (size_t off = 0; off < BIG_BYTES; off += sizeof(piece)) {
        for (size_t i = 0; i < sizeof(piece); i++)
            piece[i] = pattern_byte(off + i);
        if (!ssl_send(ssl, piece, sizeof(piece)))
            return false;
    }
    return true;
}

static void large_body_across_many_records(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    f.srv->respond = respond_big;
    md_upstream_req_t req = get_req("/big");
    got_t g = { 0 };
    for (int round = 0; round < 2; round++) { /* the second on the kept connection */
        call_once(&f, &req, &g);
        assert_int_equal(g.error, MD_OK);
        assert_int_equal(g.len, BIG_BYTES);
        for (size_t i = 0; i < BIG_BYTES; i++)
            if (g.body[i] != pattern_byte(i))
                fail_msg("round %d: byte %zu differs", round, i);
    }
    assert_int_equal(stats(&f).handshakes, 1);
    assert_int_equal(stats(&f).reuses, 1);
    md_free(g.body);
    fx_done(&f);
}

static bool respond_count(srv_t *s, SSL *ssl, int k)
{
    (void)k;
    char resp[160];
    pthread_mutex_lock(&s->lock);
    char body[64];
    int blen = snprintf(body, sizeof(body), "%zu %u", s->last_body_len, s->last_body_sum);
    pthread_mutex_unlock(&s->lock);
    int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", blen, body);
    return ssl_send(ssl, resp, (size_t)n);
}

/* A 1 MiB request body: SSL_write goes partial and waits for WRITE. */
static void large_request_body_is_written_whole(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    f.srv->respond = respond_count;
    char *body = malloc(BIG_BYTES);
    for (size_t i = 0; i < BIG_BYTES; i++)
        body[i] = pattern_byte(i * 3);
    md_upstream_req_t req = { .method = "POST", .path = "/up", .path_len = 3, .body = body, .body_len = BIG_BYTES };
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    char expect[64];
    snprintf(expect, sizeof(expect), "%u %u", BIG_BYTES, sum_bytes(0, body, BIG_BYTES));
    assert_int_equal(g.len, strlen(expect));
    assert_memory_equal(g.body, expect, g.len);
    free(body);
    md_free(g.body);
    fx_done(&f);
}

#define SMALL_RECORDS 2000
#define SMALL_RECORD_BYTES 50

/* The body in 2000 records of 50 bytes, corked so that they arrive in big
 * segments: one read(2) by OpenSSL then holds hundreds of records, which
 * epoll no longer sees once the socket is empty. */
static bool respond_small_records(srv_t *s, SSL *ssl, int k)
{
    (void)s;
    (void)k;
    char head[128];
    int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
                     SMALL_RECORDS * SMALL_RECORD_BYTES);
    int fd = SSL_get_fd(ssl), on = 1, off = 0;
    setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    bool ok = ssl_send(ssl, head, (size_t)h);
    for (size_t r = 0; ok && r < SMALL_RECORDS; r++) {
        char piece[SMALL_RECORD_BYTES];
        for (size_t i = 0; i < sizeof(piece); i++)
            piece[i] = pattern_byte(r * SMALL_RECORD_BYTES + i);
        ok = ssl_send(ssl, piece, sizeof(piece));
    }
    setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
    return ok;
}

static void many_small_records_in_one_read(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    f.srv->respond = respond_small_records;
    md_upstream_req_t req = get_req("/small");
    got_t g = { 0 };
    for (int round = 0; round < 3; round++) {
        call_once(&f, &req, &g);
        assert_int_equal(g.error, MD_OK);
        assert_int_equal(g.len, SMALL_RECORDS * SMALL_RECORD_BYTES);
        for (size_t i = 0; i < g.len; i++)
            if (g.body[i] != pattern_byte(i))
                fail_msg("round %d: byte %zu differs", round, i);
    }
    md_free(g.body);
    fx_done(&f);
}

/* ---- streaming: bytes OpenSSL holds while the stream is paused ---- */

static void s_on_head(void *arg, int status, const md_header_t *hs, size_t n, int64_t content_length)
{
    sctx_t *c = arg;
    (void)hs;
    (void)n;
    c->heads++;
    assert_int_equal(status, 200);
    assert_int_equal(content_length, c->expect);
}

static void paused_stream_case(srv_respond respond, size_t total)
{
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    f.srv->respond = respond;
    static const md_upstream_stream_cbs_t cbs = { s_on_head, s_on_data, s_on_end };
    sctx_t c = { .loop = f.loop, .expect = (int64_t)total };
    stream_get(&f, &c, "/big", &cbs);
    assert_non_null(c.call);
    run_loop(f.loop, 10000);
    assert_false(guard_fired);
    assert_int_equal(c.heads, 1);
    assert_int_equal(c.ends, 1);
    assert_int_equal(c.error, MD_OK);
    assert_int_equal(c.data_while_paused, 0);
    assert_true(c.pauses > 16);
    assert_int_equal(c.data.len, total);
    for (size_t i = 0; i < total; i++)
        if (c.data.data[i] != pattern_byte(i))
            fail_msg("byte %zu differs", i);
    assert_int_equal(stats(&f).idle, 1);
    md_buf_free(&c.data);
    fx_done(&f);
}

static void paused_stream_gets_every_buffered_byte(void **state)
{
    (void)state;
    paused_stream_case(respond_big, BIG_BYTES);
    paused_stream_case(respond_small_records, SMALL_RECORDS * SMALL_RECORD_BYTES);
}

/* ---- tests: certificates ---- */

static void wrong_hostname_fails_and_is_logged_once(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("api.example.com", true, MD_TLS_1_2, P("ca.pem")));
    md_upstream_req_t req = get_req("/x");
    got_t g = { 0 };
    int saved = stderr_to(P("stderr.txt"));
    call_once(&f, &req, &g);
    int first = g.error;
    call_once(&f, &req, &g);
    const char *log = stderr_back(saved, P("stderr.txt"));
    assert_int_equal(first, MD_ETLS);
    assert_int_equal(g.error, MD_ETLS);
    assert_int_equal(g.status, 0);
    assert_int_equal(g.len, 0);
    assert_int_equal(atomic_load(&f.srv->requests), 0);
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.open, 0);
    assert_int_equal(st.handshakes, 0);
    assert_int_equal(count(log, "TLS handshake"), 1); /* once a minute at most */
    assert_non_null(strstr(log, "upstream 'tls-test': TLS handshake with 'api.example.com' failed: certificate "
                                "verify failed: hostname mismatch"));
    assert_null(strstr(log, "PRIVATE"));
    md_free(g.body);
    fx_done(&f);
}

static void untrusted_ca_fails_with_etls(void **state)
{
    (void)state;
    int saved = stderr_to(P("stderr.txt"));
    int err = get_through(server_ctx(P("srv2.pem"), P("srv2.key"), 0, NULL),
                          client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    const char *log = stderr_back(saved, P("stderr.txt"));
    assert_int_equal(err, MD_ETLS);
    assert_non_null(strstr(log, "unable to get local issuer certificate"));
}

static void ip_server_name_matches_ip_san_only(void **state)
{
    (void)state;
    assert_int_equal(get_through(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL),
                                 client_ctx("127.0.0.1", true, MD_TLS_1_2, P("ca.pem"))),
                     MD_OK);
    int saved = stderr_to(P("stderr.txt"));
    int err = get_through(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL),
                          client_ctx("127.0.0.2", true, MD_TLS_1_2, P("ca.pem")));
    const char *log = stderr_back(saved, P("stderr.txt"));
    assert_int_equal(err, MD_ETLS);
    assert_non_null(strstr(log, "IP address mismatch"));
}

static void verify_false_accepts_self_signed(void **state)
{
    (void)state;
    int saved = stderr_to(P("stderr.txt"));
    md_tls_ctx_t *loose = client_ctx("localhost", false, MD_TLS_1_2, NULL);
    const char *log = stderr_back(saved, P("stderr.txt"));
    assert_non_null(strstr(log, "WARNING: upstream 'tls-test'"));
    assert_non_null(strstr(log, "NOT checked"));
    assert_int_equal(get_through(server_ctx(P("self.pem"), P("self.key"), 0, NULL), loose), MD_OK);
    /* The same server against the system trust store. */
    saved = stderr_to(P("stderr.txt"));
    int err = get_through(server_ctx(P("self.pem"), P("self.key"), 0, NULL),
                          client_ctx("localhost", true, MD_TLS_1_2, NULL));
    log = stderr_back(saved, P("stderr.txt"));
    assert_int_equal(err, MD_ETLS);
    assert_non_null(strstr(log, "self-signed certificate"));
}

static void client_certificate_for_mutual_tls(void **state)
{
    (void)state;
    md_tls_ctx_t *t = client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem"));
    bool bad_key = true;
    char err[256];
    assert_int_equal(md_tls_ctx_client_cert(t, P("cli.pem"), P("cli.key"), &bad_key, err, sizeof(err)), MD_OK);
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, P("ca.pem")), NULL), t);
    md_upstream_req_t req = get_req("/m");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.status, 200);
    pthread_mutex_lock(&f.srv->lock);
    assert_string_equal(f.srv->peer_cn, "medley-client");
    pthread_mutex_unlock(&f.srv->lock);
    md_free(g.body);
    fx_done(&f);

    /* Without one, the server refuses (after the client's Finished in TLS
     * 1.3, so the client sees it as a reset). */
    int rc = get_through(server_ctx(P("srv.pem"), P("srv.key"), 0, P("ca.pem")),
                         client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    assert_true(rc == MD_ERESET || rc == MD_ETLS);
}

/* ---- tests: servers that do not play along ---- */

static void stalled_handshake_times_out_within_connect_timeout(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(NULL, raw_stall), client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    md_upstream_free(f.up);
    f.conf.connect_timeout_ms = 200;
    f.up = md_upstream_new(f.loop, &f.conf, 1);
    md_upstream_req_t req = get_req("/x");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_ETIMEDOUT);
    assert_true(g.duration_us >= 150000);
    assert_true(g.duration_us < 1500000); /* the connect timeout, not the call's 3 s */
    assert_int_equal(stats(&f).open, 0);
    md_free(g.body);
    fx_done(&f);
}

static void garbage_instead_of_tls_fails(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(NULL, raw_garbage), client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    md_upstream_req_t req = get_req("/x");
    got_t g = { 0 };
    int saved = stderr_to(P("stderr.txt"));
    call_once(&f, &req, &g);
    stderr_back(saved, P("stderr.txt"));
    assert_int_equal(g.error, MD_ETLS);
    assert_int_equal(g.status, 0);
    assert_int_equal(stats(&f).open, 0);
    md_free(g.body);
    fx_done(&f);
}

static void plain_http_server_on_https_url_fails(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(NULL, raw_plain_http), client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    md_upstream_req_t req = get_req("/x");
    got_t g = { 0 };
    int saved = stderr_to(P("stderr.txt"));
    call_once(&f, &req, &g);
    const char *log = stderr_back(saved, P("stderr.txt"));
    assert_int_equal(g.error, MD_ETLS);
    assert_int_equal(g.status, 0); /* the plain answer never passes for a response */
    assert_non_null(strstr(log, "wrong version number"));
    md_free(g.body);
    fx_done(&f);
}

static void hang_up_during_handshake_is_econnect(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(NULL, raw_hang_up), client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    md_upstream_req_t req = get_req("/x");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_ECONNECT);
    md_free(g.body);
    fx_done(&f);
}

static void min_version_1_3_refuses_a_1_2_server(void **state)
{
    (void)state;
    assert_int_equal(get_through(server_ctx(P("srv.pem"), P("srv.key"), TLS1_2_VERSION, NULL),
                                 client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem"))),
                     MD_OK);
    int saved = stderr_to(P("stderr.txt"));
    int err = get_through(server_ctx(P("srv.pem"), P("srv.key"), TLS1_2_VERSION, NULL),
                          client_ctx("localhost", true, MD_TLS_1_3, P("ca.pem")));
    stderr_back(saved, P("stderr.txt"));
    assert_int_equal(err, MD_ETLS);
}

static void cancel_during_handshake_runs_no_callback(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(NULL, raw_stall), client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    md_upstream_req_t req = get_req("/x");
    got_t g = { .loop = f.loop };
    md_loop_update_time(f.loop);
    md_upstream_call_t *call = md_upstream_call(f.up, &req, on_result, &g);
    assert_non_null(call);
    run_loop(f.loop, 100); /* connected, ClientHello sent, no answer */
    assert_true(guard_fired);
    assert_int_equal(stats(&f).open, 1);
    md_upstream_cancel(call);
    run_loop(f.loop, 50);
    assert_int_equal(g.called, 0);
    assert_int_equal(stats(&f).open, 0);
    fx_done(&f);
}

/* ---- tests: connection life ---- */

static void session_is_resumed_on_the_next_connection(void **state)
{
    (void)state;
    static const int versions[] = { 0, TLS1_2_VERSION }; /* TLS 1.3 tickets, then 1.2 */
    for (size_t v = 0; v < MD_ARRAY_LEN(versions); v++) {
        fx_t f;
        fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), versions[v], NULL), NULL),
                client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
        f.srv->resp = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
        f.srv->close_after = true;
        md_upstream_req_t req = get_req("/r");
        got_t g = { 0 };
        for (int i = 0; i < 3; i++) {
            call_once(&f, &req, &g);
            assert_int_equal(g.error, MD_OK);
            assert_memory_equal(g.body, "ok", 2);
        }
        md_upstream_stats_t st = stats(&f);
        assert_int_equal(st.connects, 3);
        assert_int_equal(st.handshakes, 3);
        assert_int_equal(st.resumed, 2);
        assert_int_equal(st.open, 0);
        for (int i = 0; i < 100 && atomic_load(&f.srv->handshakes) < 3; i++)
            ms_sleep(5);
        assert_int_equal(atomic_load(&f.srv->resumed), 2);
        md_free(g.body);
        fx_done(&f);
    }
}

static void stale_tls_keep_alive_is_retried(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
            client_ctx("localhost", true, MD_TLS_1_2, P("ca.pem")));
    f.srv->close_after = true; /* keep-alive promised, then closed 30 ms later */
    f.srv->close_delay_ms = 30;
    md_upstream_req_t req = get_req("/s");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    ms_sleep(150); /* the loop is not running to see the close */
    assert_int_equal(stats(&f).idle, 1);
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_memory_equal(g.body, "hello", 5);
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.reuses, 1);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.handshakes, 2);
    assert_int_equal(st.errors, 0);
    md_free(g.body);
    fx_done(&f);
}

/* Answers, then 20 ms later sends a fresh TLS 1.3 session ticket (no
 * data) or, with close_after, stray application bytes. */
static bool respond_then_late_record(srv_t *s, SSL *ssl, int k)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    if (!ssl_send(ssl, resp, sizeof(resp) - 1))
        return false;
    if (k > 0)
        return true;
    ms_sleep(20);
    if (s->close_after)
        return ssl_send(ssl, "junk", 4);
    return SSL_new_session_ticket(ssl) == 1 && SSL_do_handshake(ssl) == 1;
}

static void idle_connection_takes_late_tickets_not_data(void **state)
{
    (void)state;
    for (int stray = 0; stray < 2; stray++) {
        fx_t f;
        fx_init(&f, srv_start(server_ctx(P("srv.pem"), P("srv.key"), 0, NULL), NULL),
                client_ctx("localhost", true, MD_TLS_1_3, P("ca.pem")));
        f.srv->respond = respond_then_late_record;
        f.srv->close_after = stray;
        md_upstream_req_t req = get_req("/t");
        got_t g = { 0 };
        call_once(&f, &req, &g);
        assert_int_equal(g.error, MD_OK);
        run_loop(f.loop, 150); /* the late record reaches the idle connection */
        assert_true(guard_fired);
        assert_int_equal(stats(&f).idle, stray ? 0 : 1);
        call_once(&f, &req, &g);
        assert_int_equal(g.error, MD_OK);
        assert_memory_equal(g.body, "ok", 2);
        md_upstream_stats_t st = stats(&f);
        assert_int_equal(st.reuses, stray ? 0 : 1);
        assert_int_equal(st.handshakes, stray ? 2 : 1);
        md_free(g.body);
        fx_done(&f);
    }
}

/* ---- tests: building contexts ---- */

static void expect_trust_error(const char *ca, const char *frag)
{
    md_tls_opts_t o = { .name = "t", .server_name = "localhost", .verify = true, .min_version = MD_TLS_1_2 };
    char err[400];
    md_tls_ctx_t *t = md_tls_ctx_new(&o, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(md_tls_ctx_trust(t, ca, err, sizeof(err)), MD_EINVAL);
    if (!strstr(err, frag))
        fail_msg("'%s' does not hold '%s'", err, frag);
    md_tls_ctx_free(t);
}

static void expect_cert_error(const char *cert, const char *key, bool want_bad_key, const char *frag)
{
    md_tls_opts_t o = { .name = "t", .server_name = "localhost", .verify = true, .min_version = MD_TLS_1_2 };
    char err[400];
    md_tls_ctx_t *t = md_tls_ctx_new(&o, err, sizeof(err));
    bool bad_key = !want_bad_key;
    assert_int_equal(md_tls_ctx_client_cert(t, cert, key, &bad_key, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(bad_key, want_bad_key);
    if (!strstr(err, frag))
        fail_msg("'%s' does not hold '%s'", err, frag);
    assert_null(strstr(err, "BEGIN")); /* no key bytes in messages */
    md_tls_ctx_free(t);
}

static void contexts_refuse_bad_options_and_files(void **state)
{
    (void)state;
    char err[400];
    md_tls_opts_t o = { .name = "t", .server_name = "localhost", .verify = true, .min_version = 11 };
    assert_null(md_tls_ctx_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "min_version must be 1.2 or 1.3"));
    o.min_version = MD_TLS_1_3;
    o.server_name = "";
    assert_null(md_tls_ctx_new(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "server_name"));
    o.server_name = "bad name";
    assert_null(md_tls_ctx_new(&o, err, sizeof(err)));

    expect_trust_error(P("missing.pem"), "No such file or directory");
    expect_trust_error(pki, "is not a regular file");
    expect_trust_error("/dev/zero", "is not a regular file");
    expect_trust_error(P("junk.pem"), "holds no usable PEM certificate");
    write_file("empty.pem", "");
    expect_trust_error(P("empty.pem"), "holds no usable PEM certificate");

    expect_cert_error(P("missing.pem"), P("cli.key"), false, "cannot read cert_file");
    expect_cert_error(P("cli.pem"), P("missing.key"), true, "cannot read key_file");
    expect_cert_error(P("junk.pem"), P("cli.key"), false, "cert_file");
    expect_cert_error(P("cli.pem"), P("junk.pem"), true, "is not an unencrypted PEM private key");
    expect_cert_error(P("cli.pem"), P("enc.key"), true, "is not an unencrypted PEM private key");
    expect_cert_error(P("cli.pem"), P("srv.key"), true, "does not match");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_over_https_keeps_the_connection),
        cmocka_unit_test(chunked_gzip_over_tls),
        cmocka_unit_test(large_body_across_many_records),
        cmocka_unit_test(large_request_body_is_written_whole),
        cmocka_unit_test(many_small_records_in_one_read),
        cmocka_unit_test(paused_stream_gets_every_buffered_byte),
        cmocka_unit_test(wrong_hostname_fails_and_is_logged_once),
        cmocka_unit_test(untrusted_ca_fails_with_etls),
        cmocka_unit_test(ip_server_name_matches_ip_san_only),
        cmocka_unit_test(verify_false_accepts_self_signed),
        cmocka_unit_test(client_certificate_for_mutual_tls),
        cmocka_unit_test(stalled_handshake_times_out_within_connect_timeout),
        cmocka_unit_test(garbage_instead_of_tls_fails),
        cmocka_unit_test(plain_http_server_on_https_url_fails),
        cmocka_unit_test(hang_up_during_handshake_is_econnect),
        cmocka_unit_test(min_version_1_3_refuses_a_1_2_server),
        cmocka_unit_test(cancel_during_handshake_runs_no_callback),
        cmocka_unit_test(session_is_resumed_on_the_next_connection),
        cmocka_unit_test(stale_tls_keep_alive_is_retried),
        cmocka_unit_test(idle_connection_takes_late_tickets_not_data),
        cmocka_unit_test(contexts_refuse_bad_options_and_files),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
