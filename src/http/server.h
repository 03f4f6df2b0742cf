/*
 * server.h - the HTTP/1.1 server: listeners, worker threads, connections.
 *
 * md_server_t runs `workers` threads, each with its own md_loop_t and its own
 * SO_REUSEPORT listening socket, so the kernel spreads connections and no
 * lock is taken per request. A connection belongs to one worker for life.
 *
 * Per connection the server reads, parses (parser.h), enforces the limits in
 * md_limits_t (sizes, counts, timeouts), answers protocol errors itself with
 * JSON bodies (each refusal reported through hooks.on_reject), and hands
 * each complete request to the application handler as an md_http_req_t.
 * Requests on a connection are answered strictly in order (pipelining): the
 * next request is parsed only after the previous response has been fully
 * queued.
 *
 * Request lifetime (the one rule the application must follow): after the
 * handler is called, the application finishes the request exactly once with
 * md_http_respond(), md_http_respond_error() or md_http_stream_end() /
 * md_http_stream_abort(). If the client goes away first, the server calls
 * req->on_abort (if set) once; the application must still finish the request
 * (the bytes are discarded). The request and its pool are freed by the
 * server right after it is finished: nothing may touch it afterwards.
 * on_abort runs from the worker's loop, never inside one of the
 * application's own md_http_* calls, and not at all if the application
 * finished the request first (e.g. on MD_ERESET from md_http_stream_write).
 *
 * The implementation is split over server.c, server_conn.c and
 * server_respond.c; server_internal.h describes how.
 */
#ifndef MD_HTTP_SERVER_H
#define MD_HTTP_SERVER_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/loop.h"
#include "core/pool.h"

typedef struct md_server md_server_t;
typedef struct md_http_req md_http_req_t;
typedef struct md_worker md_worker_t;

struct md_http_req {
    md_pool_t *pool;          /* freed when the request is finished */
    md_loop_t *loop;          /* the worker's loop */
    md_worker_t *worker;
    md_str_t method;
    md_str_t target;          /* raw request-target */
    md_str_t path;            /* raw path (not percent-decoded) */
    md_str_t query;           /* raw query, without '?' */
    md_header_t *headers;
    size_t num_headers;
    const char *body;         /* request body (dechunked), NULL if none */
    size_t body_len;
    int minor_version;
    bool keep_alive;          /* the server may still close (shutdown) */
    uint64_t start_us;        /* when the head was complete */
    void (*on_abort)(md_http_req_t *req); /* set by the application */
    void *app_data;           /* the application's per-request state */
    void *telemetry;          /* the application's per-request record for on_finish; NULL until set */
    /* Set by the application: headers added to whichever response the
     * request gets, errors and streams included (CORS, RateLimit-*), so
     * that code answering it need not know about them. Checked like the
     * respond functions' headers (invalid ones are dropped and logged);
     * borrowed until the request is finished. */
    const md_header_t *extra_headers;
    size_t num_extra_headers;
    void *conn;               /* the server's (opaque) */
};

/* What was answered, as the on_finish hook sees it. */
typedef struct md_http_done {
    int status;               /* the status sent (or that the application gave, if the client was gone) */
    uint64_t body_bytes;      /* response body bytes queued (0 for HEAD, 204, 304) */
    bool client_gone;         /* the connection was closed before the response was complete */
} md_http_done_t;

/* A request the server refused itself, before (or instead of) the
 * handler, as the on_reject hook sees it. `reason` is one of:
 *
 *   bad_request           400  malformed request line or header
 *   bad_framing           400  conflicting or invalid Content-Length / Transfer-Encoding
 *   bad_chunked           400  malformed chunked body
 *   header_timeout        408  head not complete within header_timeout
 *   body_timeout          408  body not complete within body_timeout
 *   body_too_large        413  body over max_body_bytes
 *   header_too_large      431  head over max_header_bytes
 *   too_many_headers      431  more than max_headers fields
 *   transfer_encoding     501  a Transfer-Encoding other than chunked
 *   too_many_connections  503  over max_connections (no request read at all)
 *   overloaded            503  over max_inflight
 *   version               505  not HTTP/1.0 or HTTP/1.1
 *
 * The strings point into the server's buffers and live only for the call.
 * Method and path come from the parsed head, or else from a request line
 * that is well formed as far as it goes (a token, one space, a target of
 * visible ASCII, one space, HTTP/d.d, line end); otherwise they are empty.
 * So they never hold control bytes, never the query; a method longer than
 * the limit below is left out, a path is cut at it. Headers are never
 * passed on. */
#define MD_HTTP_REJECT_METHOD_MAX 32
#define MD_HTTP_REJECT_PATH_MAX 1024
typedef struct md_http_reject {
    int status;               /* the status sent */
    const char *reason;       /* the code above */
    md_str_t method;          /* len 0 when unknown */
    md_str_t path;            /* without the query; len 0 when unknown */
    const char *client;       /* the client's IP address as text, "" if unknown */
    uint64_t body_bytes;      /* error body bytes queued */
    uint64_t start_us;        /* md_now_us() of the head's first byte when the head came in
                                 several reads and was refused before it ended (slowloris 408,
                                 431); 0 when not known */
    uint64_t end_us;          /* md_now_us() of the refusal */
} md_http_reject_t;

/* The application: called on the worker thread for every request. */
typedef void (*md_http_handler_t)(md_http_req_t *req, void *app);

/* Called on each worker thread when it starts/stops (per-worker state such
 * as upstream pools lives in `*worker_data`). */
typedef struct md_server_hooks {
    md_http_handler_t handler;
    void *app;
    int (*worker_init)(md_worker_t *w, void *app, void **worker_data);
    void (*worker_fini)(md_worker_t *w, void *app, void *worker_data);
    /* Optional: runs once for every request the handler got, when it is
     * finished, on the worker thread, before the request and its pool are
     * released. It must not call md_http_* on the request. Access logs and
     * metrics. */
    void (*on_finish)(md_http_req_t *req, const md_http_done_t *done, void *app);
    /* Optional: runs once for every request the server answers itself with
     * an error instead of handing it over (md_http_reject_t), on the worker
     * thread, once the error is queued. A connection idle between requests
     * that times out or closes sent no request: it is not reported. Never
     * called for a request that on_finish sees. */
    void (*on_reject)(md_worker_t *w, const md_http_reject_t *r, void *app);
} md_server_hooks_t;

/* Creates the server and binds its listeners (all workers' sockets are bound
 * here so that a busy port fails fast: "listen 0.0.0.0:8080: Address already
 * in use"). host: IPv4/IPv6 literal ("::1" or "[::1]") or name; NULL or ""
 * mean 0.0.0.0. Port 0 picks a free port (md_server_port). workers <= 0 means
 * one per online CPU. limits: NULL or zero fields take the defaults listed in
 * config.h. Returns NULL with a message in err. */
md_server_t *md_server_new(const char *host, uint16_t port, int workers,
                           const md_limits_t *limits, const md_server_hooks_t *hooks,
                           char *err, size_t errlen);

/* Starts the worker threads and blocks until md_server_shutdown() has
 * drained them. Returns MD_OK, or MD_ERR when a worker could not start (its
 * worker_init failed): the server then shuts itself down. */
int md_server_run(md_server_t *srv);

/* Thread- and signal-safe-ish (call from a signal-handling thread, not a
 * handler): stop accepting, let in-flight requests finish up to the
 * configured shutdown timeout, close idle connections, then make
 * md_server_run() return. */
void md_server_shutdown(md_server_t *srv);

/* Frees a server whose run has returned (or never started). */
void md_server_free(md_server_t *srv);

/* The port actually bound (useful with port 0 in tests). */
uint16_t md_server_port(const md_server_t *srv);

/* Thread-safe: true once every worker serves its listener and no
 * shutdown was requested (a readiness probe). */
bool md_server_ready(const md_server_t *srv);

/* Thread-safe: true once md_server_shutdown() was called (draining). */
bool md_server_draining(const md_server_t *srv);

/* Gauges summed over the workers; thread-safe (each worker publishes its
 * own with relaxed atomic stores, so a sum may be a moment old). */
typedef struct md_server_stats {
    uint64_t connections_open;  /* client connections, including those being refused */
    uint64_t requests_in_flight; /* dispatched and not yet finished */
} md_server_stats_t;
void md_server_get_stats(const md_server_t *srv, md_server_stats_t *st);

/* The client's IP address as text ("192.0.2.1", "2001:db8::1"), written
 * NUL-terminated into out (at least 46 bytes). Returns the length, 0 if
 * unknown. */
size_t md_http_client_addr(const md_http_req_t *req, char *out, size_t outlen);

/* Per-worker accessors. */
md_loop_t *md_worker_loop(md_worker_t *w);
void *md_worker_data(md_worker_t *w);
int md_worker_index(md_worker_t *w);

/* Whole response: status, extra headers (Content-Length, Date, Server and
 * Connection are added by the server; the caller's own Content-Length,
 * Transfer-Encoding, Connection, Date and Server are dropped), body copied
 * (or sent straight from `body` when the socket takes it at once). A header
 * whose name is not a token or whose value holds CR, LF, NUL or another
 * control character (HTAB aside) turns the whole response into a logged
 * 500: headers can never be injected. Status must be 200..599 (else 500);
 * 204 and 304 carry no body. */
void md_http_respond(md_http_req_t *req, int status, const md_header_t *headers,
                     size_t nheaders, const char *body, size_t body_len);

/* Same, taking ownership of a buffer's storage (no copy of the body). */
void md_http_respond_buf(md_http_req_t *req, int status, const md_header_t *headers,
                         size_t nheaders, md_buf_t *body);

/* JSON error: {"error":{"status":S,"code":"code","message":"..."}} with
 * proper escaping (json/write.h; the message is cut at 1 KiB). `extra_json`,
 * if not NULL, is a JSON object's members (e.g. "\"backend\":\"hr\"")
 * placed inside "error"; it is trusted and copied verbatim. */
void md_http_respond_error(md_http_req_t *req, int status, const char *code,
                           const char *message, const char *extra_json);

/* Same, with extra response headers (e.g. Allow on a 405). */
void md_http_respond_error_h(md_http_req_t *req, int status, const char *code, const char *message,
                             const char *extra_json, const md_header_t *headers, size_t nheaders);

/* Streaming response (passthrough). content_length < 0 means chunked (for
 * an HTTP/1.0 client: no framing, the body ends when the connection
 * closes). Returns MD_OK; MD_ERESET if the client is gone; MD_EINVAL for an
 * invalid header (a 500 has been sent instead) or a second start. In every
 * case the request still has to be finished (md_http_stream_end/abort). */
int md_http_stream_start(md_http_req_t *req, int status, const md_header_t *headers,
                         size_t nheaders, int64_t content_length);

/* Queues body bytes. Returns MD_OK while the client's send queue is below
 * its high-water mark (64 KiB), MD_AGAIN when above it (the caller should
 * pause its source until the drain callback runs; the bytes were taken),
 * MD_ERESET if the client is gone, MD_EINVAL if no stream was started or the
 * bytes would pass the announced Content-Length (nothing is taken). */
int md_http_stream_write(md_http_req_t *req, const char *data, size_t len);

/* Sets the callback run once the send queue drops below the low-water mark
 * (16 KiB) after a write returned MD_AGAIN. */
void md_http_stream_on_drain(md_http_req_t *req, void (*cb)(md_http_req_t *req));

/* Ends a streamed response normally. A Content-Length stream that got fewer
 * bytes than announced is ended as md_http_stream_abort() would. */
void md_http_stream_end(md_http_req_t *req);

/* Ends a streamed response abnormally: the connection is closed so the
 * client sees a truncated body, never a complete-looking one. */
void md_http_stream_abort(md_http_req_t *req);

#endif
