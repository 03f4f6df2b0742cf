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
 * cancelled first, after which it never runs.
 */
#ifndef MD_UPSTREAM_CLIENT_H
#define MD_UPSTREAM_CLIENT_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/loop.h"

typedef struct md_upstream md_upstream_t;
typedef struct md_upstream_call md_upstream_call_t;

/* Outcome of a buffered call. `error` is MD_OK when a complete response was
 * read (whatever its status), else MD_ETIMEDOUT, MD_ECONNECT, MD_ERESET,
 * MD_ETOOBIG, MD_EINVAL (malformed response) or MD_AGAIN (queue full). */
typedef struct md_upstream_result {
    int error;
    int status;                 /* HTTP status, 0 if none was read */
    md_buf_t body;              /* decoded body; owned by the result */
    char content_type[128];     /* "" if absent; truncated if longer */
    uint64_t duration_us;       /* from the call to its end */
    size_t wire_bytes;          /* response bytes read off the socket */
} md_upstream_result_t;

/* Runs once with the outcome. The callback takes ownership of res->body
 * (md_buf_free it or detach it); everything else in res is valid only
 * during the call. */
typedef void (*md_upstream_cb)(md_upstream_result_t *res, void *arg);

/* A request to send: method, path+query (already rendered and encoded, must
 * start with '/'; the upstream's base_path is prepended by the client), extra
 * headers (the client adds Host, Connection: keep-alive and the upstream's
 * static headers), optional body. */
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
 * max_connections. */
md_upstream_t *md_upstream_new(md_loop_t *loop, const md_upstream_conf_t *conf, int nworkers);

/* Closes every connection and frees the pool. Pending calls are cancelled
 * without their callbacks being run (their owners must be gone already). */
void md_upstream_free(md_upstream_t *up);

const md_upstream_conf_t *md_upstream_conf(const md_upstream_t *up);

/* Starts a buffered call. NULL if it cannot start (cb is not run). */
md_upstream_call_t *md_upstream_call(md_upstream_t *up, const md_upstream_req_t *req,
                                     md_upstream_cb cb, void *arg);

/* Streaming callbacks (passthrough). on_head runs once with the status,
 * the response headers (hop-by-hop ones removed) and the content length (-1
 * if unknown); on_data runs for each decoded (dechunked, not inflated) piece
 * and returns MD_OK to continue or MD_AGAIN to pause the reads until
 * md_upstream_resume(); on_end runs once last with MD_OK or an error (also
 * when on_head never ran). */
typedef struct md_upstream_stream_cbs {
    void (*on_head)(void *arg, int status, const md_header_t *headers, size_t n,
                    int64_t content_length);
    int (*on_data)(void *arg, const char *data, size_t len);
    void (*on_end)(void *arg, int error);
} md_upstream_stream_cbs_t;

md_upstream_call_t *md_upstream_stream(md_upstream_t *up, const md_upstream_req_t *req,
                                       const md_upstream_stream_cbs_t *cbs, void *arg);

/* Resumes a paused stream. */
void md_upstream_resume(md_upstream_call_t *call);

/* Cancels a call: no callback runs afterwards; its connection is closed
 * (or returned to the pool if it was idle). */
void md_upstream_cancel(md_upstream_call_t *call);

/* Counters for tests and metrics. */
typedef struct md_upstream_stats {
    uint64_t calls, connects, reuses, errors;
    uint32_t open, idle, queued;
} md_upstream_stats_t;
void md_upstream_get_stats(const md_upstream_t *up, md_upstream_stats_t *st);

#endif
