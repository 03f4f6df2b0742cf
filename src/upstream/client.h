/*
 * client.h - the upstream HTTP/1.1 client: per-worker keep-alive pools.
 *
 * One md_upstream_t per (worker, configured upstream). It owns up to
 * ceil(max_connections / workers) connections to the upstream's resolved
 * address, reuses idle ones (keep-alive), queues calls beyond that (bounded
 * by max_queue) and runs on the worker's md_loop_t, so a request's backend
 * calls all proceed concurrently on one thread with no locks.
 *
 * A call either buffers the whole response (md_upstream_call: for shaping)
 * or streams it (md_upstream_stream: for passthrough). Responses may be
 * Content-Length framed, chunked, or close-delimited, and gzip-encoded (the
 * client sends Accept-Encoding: gzip only in buffered mode and inflates with
 * zlib; the decoded body is capped by max_response_bytes).
 *
 * libuv's rule: a call that fails to start returns NULL and never runs its
 * callback; a call that starts runs its callback exactly once unless it is
 * cancelled first, after which it never runs. Callbacks never run from inside
 * an md_upstream_* function (an error found while starting is reported from
 * the loop), so a caller may start several calls before any answer arrives.
 * A call handle is valid until its final callback (cb / on_end) begins.
 *
 * An https:// upstream (conf->tls set, upstream/tls.h) runs a TLS handshake
 * on each new connection, within connect_timeout, offering the pool's last
 * session for resumption; keep-alive makes it rare. The plain path pays one
 * branch for it.
 *
 * Cost model: one send() per request (head and body in one buffer), reads
 * into a per-connection buffer that lives as long as the connection (the
 * rest of a known-length plain body is read straight into the result), call objects
 * recycled through a free list, and no epoll_ctl for a connection that goes
 * idle and is reused.
 */
#ifndef MD_UPSTREAM_CLIENT_H
#define MD_UPSTREAM_CLIENT_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/loop.h"

/* An idle keep-alive connection is closed after this long unused. */
#define MD_UPSTREAM_IDLE_TIMEOUT_MS 30000
/* Largest response head (status line + headers) accepted, and most headers. */
#define MD_UPSTREAM_MAX_HEAD_BYTES 16384
#define MD_UPSTREAM_MAX_HEADERS 100
/* Largest request head we build, and largest request body we send. */
#define MD_UPSTREAM_MAX_REQUEST_HEAD 16384
#define MD_UPSTREAM_MAX_REQUEST_BODY (16u * 1024 * 1024)

typedef struct md_upstream md_upstream_t;
typedef struct md_upstream_call md_upstream_call_t;

/* Outcome of a buffered call. `error` is MD_OK when a complete response was
 * read (whatever its status), else MD_ETIMEDOUT (the call's deadline or the
 * connect timeout passed, a TLS handshake included), MD_ECONNECT (refused
 * or unreachable, or closed during the TLS handshake), MD_ETLS (https: the
 * certificate was refused or the peer does not speak TLS), MD_ERESET
 * (the connection closed or reset before the response was complete),
 * MD_ETOOBIG (body over max_response_bytes, raw or decoded) or MD_EINVAL
 * (malformed response, unknown Content-Encoding, corrupt gzip); on error the
 * body is empty. A full queue is not an outcome: the call then fails to
 * start (NULL). */
typedef struct md_upstream_result {
    int error;
    int status;                 /* HTTP status, 0 if none was read */
    md_buf_t body;              /* decoded body; owned by the result */
    char content_type[128];     /* "" if absent; truncated if longer */
    char cache_control[256];    /* every Cache-Control value joined by ", "; "" if
                                   absent; cut at a directive boundary if longer */
    uint64_t duration_us;       /* from the call to its end */
    size_t wire_bytes;          /* response bytes read off the socket (decrypted, for https) */
} md_upstream_result_t;

/* Runs once with the outcome. The callback takes ownership of res->body
 * (md_buf_free it or detach it); everything else in res is valid only
 * during the call. */
typedef void (*md_upstream_cb)(md_upstream_result_t *res, void *arg);

/* A request to send: method, path+query (already rendered and encoded, must
 * start with '/'; the upstream's base_path is prepended by the client), extra
 * headers (the client adds Host, Connection: keep-alive and the upstream's
 * static headers), optional body. Everything is copied when the call starts,
 * so the request only needs to live during md_upstream_call/stream.
 *
 * Refused (the call fails to start): a method that is not a token; a path
 * not starting with '/' or holding a control byte, space or DEL; a header
 * name that is not a token; a value with a control byte other than HTAB;
 * headers the client owns (Host, Connection, Content-Length,
 * Transfer-Encoding, Keep-Alive, TE, Trailer, Upgrade, and in buffered mode
 * Accept-Encoding); a head over MD_UPSTREAM_MAX_REQUEST_HEAD or a body over
 * MD_UPSTREAM_MAX_REQUEST_BODY. */
typedef struct md_upstream_req {
    const char *method;
    const char *path;
    size_t path_len;
    const md_header_t *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    uint32_t timeout_ms;        /* 0 = upstream default */
} md_upstream_req_t;

/* Creates the per-worker pool for one upstream. `nworkers` splits
 * max_connections (ceil, at least 1 each); max_queue applies per pool.
 * `conf` must outlive the pool. NULL if the conf is unusable: a static
 * header or the host header with bad bytes (see md_upstream_req_t), or a
 * base_path that is not empty and not a valid path. Static header values
 * are sent verbatim. */
md_upstream_t *md_upstream_new(md_loop_t *loop, const md_upstream_conf_t *conf, int nworkers);

/* Closes every connection and frees the pool. Pending calls are cancelled
 * without their callbacks being run (their owners must be gone already).
 * Must run before md_loop_free, and not from inside on_head/on_data. NULL
 * is ignored. */
void md_upstream_free(md_upstream_t *up);

/* The configuration the pool was created with. */
const md_upstream_conf_t *md_upstream_conf(const md_upstream_t *up);

/* Overrides MD_UPSTREAM_IDLE_TIMEOUT_MS for this pool (0 restores it); it
 * applies to connections that go idle afterwards. */
void md_upstream_set_idle_timeout(md_upstream_t *up, uint32_t ms);

/* Starts a buffered call. NULL if it cannot start (cb is not run): the
 * request is refused (see md_upstream_req_t) or every connection is busy
 * and max_queue calls already wait (the caller answers 503). Idempotent
 * methods (GET, HEAD, PUT, DELETE, OPTIONS) that fail on a reused
 * keep-alive connection before any response byte arrived are retried once
 * on a fresh connection. */
md_upstream_call_t *md_upstream_call(md_upstream_t *up, const md_upstream_req_t *req,
                                     md_upstream_cb cb, void *arg);

/* Streaming callbacks (passthrough). on_head runs once with the status,
 * the response headers (hop-by-hop ones removed) and the content length (-1
 * if unknown); on_data runs for each decoded (dechunked, not inflated) piece
 * and returns MD_OK to continue or MD_AGAIN to pause the reads until
 * md_upstream_resume(); on_end runs once last with MD_OK or an error (also
 * when on_head never ran). Pointers given to on_head/on_data are valid only
 * during that callback. Connection-listed headers are removed too.
 * content_length is the number of bytes on_data will deliver: 0 for HEAD,
 * 204 and 304, -1 when unknown (chunked, close-delimited). No
 * Accept-Encoding is sent; Content-Encoding passes through untouched. The
 * max_response_bytes cap applies to the streamed bytes as well (MD_ETOOBIG).
 * On_end may run while paused once the last byte was delivered. Inside
 * on_head/on_data, md_upstream_cancel() of the same call is allowed. */
typedef struct md_upstream_stream_cbs {
    void (*on_head)(void *arg, int status, const md_header_t *headers, size_t n,
                    int64_t content_length);
    int (*on_data)(void *arg, const char *data, size_t len);
    void (*on_end)(void *arg, int error);
} md_upstream_stream_cbs_t;

/* Starts a streaming call; NULL exactly as for md_upstream_call. */
md_upstream_call_t *md_upstream_stream(md_upstream_t *up, const md_upstream_req_t *req,
                                       const md_upstream_stream_cbs_t *cbs, void *arg);

/* Resumes a paused stream (the buffered bytes are delivered from the loop,
 * not from inside this function). NULL or a running call is ignored. */
void md_upstream_resume(md_upstream_call_t *call);

/* Cancels a call: no callback runs afterwards; a connection with the
 * request in flight (or still connecting) is closed, never reused. NULL is
 * ignored. */
void md_upstream_cancel(md_upstream_call_t *call);

/* Counters for tests and metrics. calls: calls started; connects:
 * connections attempted; reuses: calls sent on a kept-alive connection;
 * errors: calls that ended with an error (not cancellations); retries:
 * calls resent on a fresh connection; open/idle/queued: current gauges;
 * handshakes: TLS handshakes completed, resumed: those of them that
 * resumed a session. */
typedef struct md_upstream_stats {
    uint64_t calls, connects, reuses, errors, retries;
    uint32_t open, idle, queued;
    uint64_t handshakes, resumed;
} md_upstream_stats_t;
void md_upstream_get_stats(const md_upstream_t *up, md_upstream_stats_t *st);

#endif
