/*
 * tls.h - TLS for the upstream client (https:// upstreams), on OpenSSL's
 * libssl.
 *
 * Two halves. A context (md_tls_ctx_t) is built once per configured https
 * upstream when the config is loaded: trust anchors, the server name to
 * check, the lowest protocol version, an optional client certificate. It is
 * read-only afterwards, so every worker makes its connections from the one
 * context without locks (an SSL_CTX is safe to share for creating SSLs).
 * A connection (md_tls_conn_t) wraps one SSL on a non-blocking socket the
 * client owns: the handshake and every read and write return at once, and
 * say which socket event to wait for when they cannot go on (nginx's way).
 *
 * Reads and writes look like read(2)/send(2) (bytes, or -1 with errno) so
 * the client's plain and TLS paths differ by one branch. OpenSSL writes to
 * the socket with write(2): the process must ignore SIGPIPE (medley's main
 * does), or a peer that resets the connection kills it.
 *
 * Handshake failures are logged on stderr (the certificate verification
 * error, or OpenSSL's reason) at most once a minute per context; nothing
 * about keys or session secrets is ever logged.
 */
#ifndef MD_UPSTREAM_TLS_H
#define MD_UPSTREAM_TLS_H

#include "core/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct md_tls_ctx md_tls_ctx_t;
typedef struct md_tls_conn md_tls_conn_t;

/* Protocol floors for md_tls_opts_t.min_version. */
enum { MD_TLS_1_2 = 12, MD_TLS_1_3 = 13 };

/* Largest ca_file, cert_file or key_file accepted (the Debian system
 * bundle is about 220 KB); anything else than a regular file is refused. */
#define MD_TLS_MAX_FILE_BYTES (4u * 1024 * 1024)

/* What a context is built from; strings are copied. */
typedef struct md_tls_opts {
    const char *name;           /* the upstream's name, for log lines */
    const char *server_name;    /* sent as SNI (DNS names only) and checked
                                   against the certificate (DNS name or IP) */
    bool verify;                /* false: any certificate is accepted (dev only) */
    int min_version;            /* MD_TLS_1_2 or MD_TLS_1_3 */
} md_tls_opts_t;

/* Builds a context. NULL with a message in err if an option is unusable
 * (a bad min_version, an empty server_name) or OpenSSL fails. A verifying
 * context trusts nothing until md_tls_ctx_trust() runs. With verify false
 * it prints a warning on stderr: every call it makes can be intercepted. */
md_tls_ctx_t *md_tls_ctx_new(const md_tls_opts_t *o, char *err, size_t errlen);

/* Sets the trust anchors: the PEM certificates of ca_file, or with NULL
 * the system store (Debian's ca-certificates, loaded once per process and
 * shared by every context). MD_EINVAL with a message naming the file if it
 * cannot be read, is not a regular file, is over MD_TLS_MAX_FILE_BYTES or
 * holds no certificate. Call once, before the context makes connections. */
int md_tls_ctx_trust(md_tls_ctx_t *t, const char *ca_file, char *err, size_t errlen);

/* Presents a client certificate (mutual TLS): cert_file is a PEM chain,
 * leaf first; key_file its unencrypted PEM private key. MD_EINVAL with a
 * message if either cannot be read (as above) or parsed, if the key is
 * encrypted or if it does not match the certificate; the message names
 * the file and never shows key bytes. *bad_key is set when the key file
 * is to blame, so the caller can point at the right config line. */
int md_tls_ctx_client_cert(md_tls_ctx_t *t, const char *cert_file, const char *key_file, bool *bad_key,
                           char *err, size_t errlen);

/* The options a context was built with (strings borrowed from it), for
 * tests and `medley explain`-style reports. */
void md_tls_ctx_opts(const md_tls_ctx_t *t, md_tls_opts_t *out);

/* Frees a context; its connections must be gone. NULL is ignored. */
void md_tls_ctx_free(md_tls_ctx_t *t);

/* The session a pool's last handshake received (owned reference or
 * NULL), offered by its next handshake to skip the certificate exchange
 * and the key agreement's expensive half. One per upstream pool, used on
 * the pool's thread only; zero-initialize, md_tls_resume_clear() to free. */
typedef struct md_tls_resume {
    struct ssl_session_st *session;
} md_tls_resume_t;

void md_tls_resume_clear(md_tls_resume_t *r);

/* Wraps the connected non-blocking socket fd (which stays the caller's to
 * close, after md_tls_conn_free). `resume` (may be NULL) is offered a
 * session and receives the new ones the server sends; it must outlive the
 * connection. NULL if OpenSSL cannot allocate the connection. */
md_tls_conn_t *md_tls_conn_new(md_tls_ctx_t *t, int fd, md_tls_resume_t *resume);

/* Drives the handshake. MD_OK when done; MD_AGAIN with *want set to
 * MD_IO_READ or MD_IO_WRITE (call again when that event comes); MD_ETLS if
 * the certificate is refused (untrusted, expired, wrong name) or the peer
 * does not speak TLS properly (garbage, an alert, no common version);
 * MD_ECONNECT if the peer closed or reset the connection first. After an
 * error the connection may only be freed, and the pool's cached session is
 * dropped. */
int md_tls_handshake(md_tls_conn_t *s, unsigned *want);

/* True if the finished handshake resumed a cached session. */
bool md_tls_resumed(const md_tls_conn_t *s);

/* Like read(2): bytes decrypted into buf (> 0), 0 after the peer's
 * close_notify, or -1 with errno EAGAIN (wait for md_tls_want()) or
 * ECONNRESET (reset, EOF without close_notify, or a TLS error: a
 * truncation cannot pass for the end of a close-delimited body). */
ssize_t md_tls_read(md_tls_conn_t *s, void *buf, size_t n);

/* Like send(2): bytes taken (> 0, maybe fewer than n), or -1 with errno
 * EAGAIN or ECONNRESET. After EAGAIN, call again with the same buf and n
 * (OpenSSL's rule; the client retries from the same offset anyway). */
ssize_t md_tls_write(md_tls_conn_t *s, const void *buf, size_t n);

/* The event the last EAGAIN waits for: MD_IO_READ or MD_IO_WRITE (a read
 * may have to write, and a write to read, when the peer changes keys). */
unsigned md_tls_want(const md_tls_conn_t *s);

/* True if OpenSSL holds received bytes the socket no longer shows: epoll
 * will not report them, so the caller must read again without waiting. */
bool md_tls_pending(const md_tls_conn_t *s);

/* Sends close_notify if the connection is healthy and the socket takes it
 * now (one non-blocking try, never waiting for the peer's), then frees.
 * Does not close the fd. NULL is ignored. */
void md_tls_conn_free(md_tls_conn_t *s);

#endif
