/*
 * server_internal.h - the server's private structures, shared by its three
 * files and nothing else:
 *
 *   server.c          listeners, worker threads, accept, graceful shutdown
 *   server_conn.c     one connection: reading, parsing, bodies, pipelining,
 *                     timeouts, lingering close, the request lifetime
 *   server_respond.c  response heads, the write queue (sendmsg), JSON
 *                     errors, streaming and backpressure
 *
 * Threading: a connection and everything hanging off it belong to one worker
 * thread; no field here is touched from another thread. The only
 * cross-thread entry is md_server_shutdown(), which goes through
 * md_loop_post().
 *
 * Freeing rule: every entry point into a connection (io and timer callbacks,
 * the md_http_* calls of the application, shutdown) brackets its work with
 * md_srv_conn_enter()/md_srv_conn_leave(). Closing only marks the connection
 * closed; the struct is released by the outermost leave once the
 * application no longer holds its request, so no callback ever runs on
 * freed memory.
 */
#ifndef MD_HTTP_SERVER_INTERNAL_H
#define MD_HTTP_SERVER_INTERNAL_H

#include "http/parser.h"
#include "http/server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Fixed limits that md_limits_t does not carry. */
#define MD_SRV_READ_CHUNK 4096       /* free space ensured before a read */
#define MD_SRV_READ_SLACK 8192       /* in-buffer room beyond head + body limits */
#define MD_SRV_WQ_SEGS 32            /* write-queue segments per connection */
#define MD_SRV_HIGH_WATER (64 * 1024) /* queued bytes: streams get MD_AGAIN above */
#define MD_SRV_LOW_WATER (16 * 1024)  /* ... and their drain callback below */
#define MD_SRV_COPY_MAX (16 * 1024)   /* larger bodies get their own segment */
#define MD_SRV_OUT_MAX (16u << 20)    /* cap on the per-connection copy buffer */
#define MD_SRV_OUT_COMPACT (64 * 1024) /* sent prefix that triggers compaction */
#define MD_SRV_LINGER_MS 2000        /* after shutdown(SHUT_WR), wait for EOF */
#define MD_SRV_LINGER_BYTES (256 * 1024) /* ... and discard at most this much */
#define MD_SRV_ACCEPT_BATCH 64       /* accept4 calls per readiness event */
#define MD_SRV_ACCEPT_PAUSE_MS 100   /* accept pause after EMFILE/ENFILE */
#define MD_SRV_REJECT_MAX 64         /* connections over the limit being sent 503 */
#define MD_SRV_CONN_CACHE 64         /* freed connection structs kept per worker */
#define MD_SRV_FORCE_GRACE_MS 1000   /* after force-close, wait for app finishes */
#define MD_SRV_MAX_WORKERS 256
#define MD_SRV_ERROR_MSG_MAX 1024    /* message bytes kept in a JSON error body */
#define MD_SRV_ERROR_BODY_MAX (64 * 1024) /* whole error body, extra_json included */

/* Read side of a connection. */
typedef enum md_srv_state {
    MD_SRV_IDLE,    /* between requests, no byte of the next head yet */
    MD_SRV_HEAD,    /* part of a head buffered (header timeout) */
    MD_SRV_BODY,    /* head parsed, body incomplete (body timeout) */
    MD_SRV_APP,     /* the request is with the application */
    MD_SRV_CLOSING, /* no more requests: flush, then lingering close */
    MD_SRV_LINGER,  /* FIN sent: discard input until EOF or timeout */
} md_srv_state_t;

/* How the current response's body is delimited. */
typedef enum md_srv_framing {
    MD_SRV_FR_LENGTH,  /* Content-Length */
    MD_SRV_FR_CHUNKED, /* Transfer-Encoding: chunked */
    MD_SRV_FR_CLOSE,   /* HTTP/1.0 stream of unknown length: ends at close */
    MD_SRV_FR_NONE,    /* 204/304: no body at all */
} md_srv_framing_t;

/* Where the application's response stands. */
typedef enum md_srv_resp {
    MD_SRV_RESP_NONE,   /* nothing sent yet */
    MD_SRV_RESP_STREAM, /* md_http_stream_start() succeeded */
    MD_SRV_RESP_FAILED, /* stream_start was refused; a 500 was sent */
} md_srv_resp_t;

/* One write-queue entry: `len` unsent bytes at `off` in `own` (a buffer the
 * connection owns and md_free()s) or, when own is NULL, in the connection's
 * copy buffer `out` (an offset, so growing `out` moves nothing). */
typedef struct md_srv_seg {
    char *own;
    size_t off;
    size_t len;
    uint32_t ends; /* responses whose last byte is in this segment */
} md_srv_seg_t;

typedef struct md_srv_conn md_srv_conn_t;

struct md_srv_conn {
    md_worker_t *w;
    md_srv_conn_t *prev, *next; /* the worker's list of live connections */
    md_io_t io;
    int fd;
    md_srv_state_t state;
    unsigned busy;         /* entry-point nesting; freeing waits for 0 */
    bool closed;           /* fd closed; struct alive while busy or held */
    bool req_held;         /* the application holds `req` */
    bool abort_called;     /* req.on_abort ran (or was not needed) */
    bool processing;       /* inside md_srv_conn_kick: defer nested kicks */
    bool peer_eof;         /* read returned 0 */
    bool keep_alive;       /* the current request allows another */
    bool must_close;       /* the current response said Connection: close */
    bool head_req;         /* the current request is HEAD */
    bool rejected;         /* over max_connections: 503 then close */
    bool write_blocked;    /* sendmsg hit EAGAIN: wait for MD_IO_WRITE */
    bool want_drain;       /* a stream got MD_AGAIN: call drain_cb later */
    bool close_no_linger;  /* after the flush, close at once (stream abort) */
    md_timer_t timer;      /* idle / header / body / linger; on_abort relay */
    md_timer_t wtimer;     /* no write progress for idle_timeout: give up */
    md_timer_t kick_timer; /* resume the pipeline outside the app's stack */

    /* read side: the current request starts at in.data[0] */
    md_buf_t in;
    size_t scan_pos;       /* bytes already looked at for a line end */
    size_t head_len;
    size_t body_len;       /* payload at in.data + head_len (dechunked) */
    int64_t body_need;     /* Content-Length, or -1 for chunked */
    md_chunked_decoder_t dec;
    size_t discarded;      /* bytes thrown away while closing/lingering */
    uint64_t head_start_us; /* first byte of a head that took several reads (valid in MD_SRV_HEAD) */
    uintptr_t head_base;   /* in.data when a head with a body was parsed (see conn_head_refresh) */
    md_http_request_head_t head;
    md_header_t *hdrs;     /* max_headers entries, kept for the connection's life */
    md_pool_t *pool;
    md_http_req_t req;

    /* write side */
    md_buf_t out;
    md_srv_seg_t wq[MD_SRV_WQ_SEGS];
    unsigned wq_n;
    size_t wq_bytes;       /* unsent bytes in the queue */
    uint32_t queued_resps; /* complete responses not yet fully sent */
    md_srv_resp_t resp;
    md_srv_framing_t framing;
    int64_t stream_left;   /* Content-Length streams: bytes still owed */
    void (*drain_cb)(md_http_req_t *req);

    /* what the current response was, for hooks.on_finish */
    int resp_status;
    uint64_t resp_bytes;   /* body bytes queued */
    struct sockaddr_storage peer; /* the client, from accept */
};

struct md_worker {
    md_server_t *srv;
    int index;
    pthread_t thread;
    bool thread_started;
    bool started;          /* the loop ran: shutdown posts may act */
    bool shutting_down;
    bool force_closed;
    md_loop_t *loop;
    int lfd;
    md_io_t lio;
    bool listening;
    md_timer_t accept_timer;   /* re-arms accept after EMFILE */
    md_timer_t shutdown_timer; /* shutdown_timeout, then the grace period */
    void *data;                /* worker_init's per-worker state */
    md_srv_conn_t *conns;
    md_srv_conn_t *cache;      /* freed structs (with their pools) for reuse */
    uint32_t nconns, nreject, ncache, ninflight;
    /* nconns and ninflight published for md_server_get_stats (other threads) */
    atomic_uint_fast32_t pub_conns, pub_inflight;
    time_t date_sec;
    char date[32];             /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};

struct md_server {
    md_limits_t limits;
    md_server_hooks_t hooks;
    int nworkers;
    md_worker_t *workers;
    uint16_t port;
    char addr_text[80];        /* "0.0.0.0:8080" / "[::1]:8080" for messages */
    atomic_bool shutdown_requested;
    atomic_bool init_failed;
    atomic_int nserving;       /* workers whose listener is watched (readiness) */
};

/* Publishes the worker's gauges (relaxed stores: plain moves on x86,
 * no lock; only this worker writes them). */
static inline void md_srv_publish(md_worker_t *w)
{
    atomic_store_explicit(&w->pub_conns, w->nconns, memory_order_relaxed);
    atomic_store_explicit(&w->pub_inflight, w->ninflight, memory_order_relaxed);
}

/* ---- server.c ---- */

/* Logs one line to stderr ("medley: http: ..."). */
void md_srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The cached Date header value for this second (length 29). */
const char *md_srv_date(md_worker_t *w);

/* Called when a connection struct is released or a request finishes: ends
 * the worker's loop once shutdown has drained everything. */
void md_srv_worker_check_done(md_worker_t *w);

/* ---- server_conn.c ---- */

/* Takes an accepted, non-blocking socket and its peer address. */
void md_srv_conn_accept(md_worker_t *w, int fd, const struct sockaddr_storage *peer);

/* Entry-point bracket (see the freeing rule above). */
void md_srv_conn_enter(md_srv_conn_t *c);
void md_srv_conn_leave(md_srv_conn_t *c);

/* Closes the socket now (RST if `reset`). If the application holds the
 * request, its on_abort is relayed through a zero-delay timer so it never
 * runs inside one of the application's own calls. */
void md_srv_conn_close(md_srv_conn_t *c, bool reset);

/* Runs the connection forward: parse and dispatch buffered requests, flush,
 * start the lingering close, set the epoll interest. No-op when nested. */
void md_srv_conn_kick(md_srv_conn_t *c);

/* The application finished the request (response fully queued). */
void md_srv_conn_finish(md_srv_conn_t *c);

/* Shutdown: close the connection if it is idle between requests. */
void md_srv_conn_shutdown_idle(md_srv_conn_t *c);

/* Frees a connection still allocated when its worker exits. */
void md_srv_conn_destroy(md_srv_conn_t *c);

/* Frees the worker's cache of connection structs. */
void md_srv_conn_cache_free(md_worker_t *w);

/* ---- server_respond.c ---- */

/* True when more requests must not be parsed until the queue drains. */
bool md_srv_paused(const md_srv_conn_t *c);

/* Queues a copy of bytes that are not a response end (100 Continue). */
int md_srv_queue_copy(md_srv_conn_t *c, const void *p, size_t n);

/* Queues a complete JSON error response generated by the server itself
 * (framing errors, timeouts, overload); the connection closes after it. */
void md_srv_queue_server_error(md_srv_conn_t *c, int status, const char *code, const char *msg);

/* Queues the server's own JSON error as the answer to the current,
 * dispatched request, keeping the connection (the in-flight 503). MD_OK,
 * or an error when nothing could be queued (then close the connection). */
int md_srv_queue_error(md_srv_conn_t *c, int status, const char *code, const char *msg);

/* Writes as much of the queue as the socket takes. MD_OK when empty,
 * MD_AGAIN when blocked (write interest set), MD_ERESET if the connection
 * was closed because the peer is gone. */
int md_srv_flush(md_srv_conn_t *c);

/* Drops everything queued. */
void md_srv_wq_clear(md_srv_conn_t *c);

#endif
