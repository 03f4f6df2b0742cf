/*
 * client.c - the upstream HTTP/1.1 client with per-worker keep-alive pools
 * (contract in client.h).
 *
 * An md_upstream_t owns its connections (conn_t) and its calls. A
 * connection is connecting, busy (serving exactly one call) or idle (on a
 * LIFO stack so the hottest one is reused first, watched for EOF/RST through
 * the READ interest it keeps, closed by an idle timer). A call is queued,
 * connecting, sending, reading the head, reading the body, or done and
 * waiting to be reported.
 *
 * Re-entrancy is the hard part: a user callback may start, cancel or free
 * anything, including the pool. So a callback runs only as the very last
 * action of an event or timer handler, after the call has been recycled and
 * its connection released. `depth` counts md_upstream_* frames (and queue
 * dispatch) on the stack; a call that ends while depth > 0 is reported from
 * a zero-delay timer instead. Internal steps return STEP_GONE once the call
 * has ended, telling their callers to touch nothing more.
 *
 * https:// (tls.h): after the TCP connect, a connection of a TLS upstream
 * runs its handshake in CONN_HANDSHAKE, under the connect timer; then
 * reads and writes go through md_tls_read/md_tls_write where the plain
 * path calls read()/send(), one branch on conn->ssl. Bytes OpenSSL has
 * already taken off the socket are invisible to epoll, so a read that
 * leaves some behind (md_tls_pending) reads on, or kicks itself through
 * the connection's zero-delay timer.
 */
#include "upstream/client.h"

#include "core/alloc.h"
#include "http/parser.h"
#include "upstream/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define IN_BUF_BYTES (MD_UPSTREAM_MAX_HEAD_BYTES + 16384) /* read buffer per connection */
#define READS_PER_EVENT 8            /* then let other connections run */
#define MAX_INTERIM 8                /* 1xx heads skipped before giving up */
#define FREE_CALLS_MAX 64            /* recycled call objects kept per pool */
#define REQ_BUF_KEEP 4096            /* request buffer a recycled call keeps */
#define ZCHUNK 16384                 /* inflate output step */
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_MS 1000
#define DEFAULT_MAX_RESPONSE (8u * 1024 * 1024)
#define MAX_CONNECTION_HEADERS 4     /* Connection headers honoured when filtering */

enum { CONN_CONNECTING, CONN_HANDSHAKE, CONN_IDLE, CONN_BUSY };
enum { CALL_QUEUED, CALL_CONNECTING, CALL_SENDING, CALL_HEAD, CALL_BODY, CALL_DONE, CALL_FREE };
enum { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };
/* What a processing step left behind. */
enum { STEP_MORE, STEP_PAUSED, STEP_GONE };

typedef struct conn conn_t;

struct conn {
    md_upstream_t *up;
    md_io_t io;
    int fd;
    int state;
    md_timer_t timer;            /* connect (+ handshake) timeout, idle timeout or read kick */
    md_tls_conn_t *ssl;          /* https only: the TLS state over fd */
    md_upstream_call_t *call;    /* while busy or connecting */
    conn_t *next, *prev;         /* every connection of the pool */
    conn_t *inext, *iprev;       /* idle stack */
    md_buf_t in;                 /* unparsed response bytes start at rpos */
    size_t rpos;
    uint32_t served;             /* complete responses: > 0 means reused */
    bool zinit;
    z_stream z;                  /* kept for the connection's life: no per-call setup */
};

struct md_upstream_call {
    md_upstream_t *up;
    conn_t *conn;
    md_upstream_call_t *next, *prev;   /* live list, or free list (next only) */
    md_upstream_call_t *qnext, *qprev; /* wait queue */
    md_timer_t timer;                  /* deadline, or zero-delay report */
    int state;
    int error;                         /* outcome once CALL_DONE */
    bool streaming, is_head, idempotent;
    bool reused, retried, got_bytes, keep_alive, direct, gzip, zdone;
    bool paused, in_cb, canceled, resume_req;
    md_upstream_cb cb;
    md_upstream_stream_cbs_t cbs;
    void *arg;
    md_buf_t req;                      /* the whole request as sent */
    size_t sent;
    int framing;
    int interim;
    uint64_t remaining;                /* FRAME_LENGTH: body bytes still due */
    size_t body_wire;                  /* body bytes off the wire (capped) */
    md_chunked_decoder_t dec;
    uint64_t start_us;
    md_upstream_result_t res;
};

struct md_upstream {
    md_loop_t *loop;
    const md_upstream_conf_t *conf;
    uint32_t max_open;
    uint32_t max_queue;
    uint32_t timeout_ms, connect_timeout_ms, idle_timeout_ms;
    size_t max_body;
    const char *base_path;
    size_t base_len;
    char *fixed;                       /* Host, Connection and static header lines */
    size_t fixed_len;
    conn_t *conns;
    conn_t *idle;                      /* top of the idle stack */
    md_upstream_call_t *live;
    md_upstream_call_t *qhead, *qtail;
    md_upstream_call_t *free_calls;
    uint32_t nfree;
    md_tls_ctx_t *tls;                 /* https only: the upstream's shared context */
    md_tls_resume_t resume;            /* the session the next handshake offers */
    int depth;
    bool dispatching;
    md_upstream_stats_t st;
};

static void on_conn_io(md_io_t *io, unsigned events);
static void on_conn_timer(md_timer_t *t);
static void on_call_timer(md_timer_t *t);
static int send_request(md_upstream_call_t *call);
static int conn_up(conn_t *c);
static int call_finish(md_upstream_call_t *call, int err);

/* ---- validation: nothing the caller gives us reaches the wire unchecked ---- */

/* field-value: no CTL but HTAB (so no CR, LF or NUL), no DEL. */
static bool valid_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* Visible ASCII and obs-text only: a space would end the request-target. */
static bool valid_path_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static bool name_eq(const char *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && strncasecmp(name, lit, n) == 0;
}

/* Headers whose value the client decides: letting a caller set them would
 * break framing or smuggle a second request. */
static bool client_owned(const char *name, size_t len, bool buffered)
{
    static const char *const owned[] = { "host", "connection", "content-length", "transfer-encoding",
                                         "keep-alive", "te", "trailer", "upgrade" };
    for (size_t i = 0; i < MD_ARRAY_LEN(owned); i++)
        if (name_eq(name, len, owned[i]))
            return true;
    return buffered && name_eq(name, len, "accept-encoding");
}

static bool valid_header(const char *name, size_t nlen, const char *value, size_t vlen, bool buffered)
{
    if (!name || (!value && vlen))
        return false;
    return md_is_token(name, nlen) && valid_value(value, vlen) && !client_owned(name, nlen, buffered);
}

static bool method_is(const char *m, const char *lit)
{
    return strcmp(m, lit) == 0;
}

static bool method_idempotent(const char *m)
{
    return method_is(m, "GET") || method_is(m, "HEAD") || method_is(m, "PUT") || method_is(m, "DELETE") ||
           method_is(m, "OPTIONS");
}

static int check_request(const md_upstream_req_t *req, bool buffered)
{
    if (!req->method || !md_is_token(req->method, strlen(req->method)))
        return MD_EINVAL;
    if (!req->path || req->path_len == 0 || req->path_len > MD_UPSTREAM_MAX_REQUEST_HEAD)
        return MD_EINVAL;
    if (req->path[0] != '/' || !valid_path_bytes(req->path, req->path_len))
        return MD_EINVAL;
    if (req->nheaders && !req->headers)
        return MD_EINVAL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const md_header_t *h = &req->headers[i];
        if (h->name_len > MD_UPSTREAM_MAX_REQUEST_HEAD || h->value_len > MD_UPSTREAM_MAX_REQUEST_HEAD)
            return MD_ETOOBIG;
        if (!valid_header(h->name, h->name_len, h->value, h->value_len, buffered))
            return MD_EINVAL;
    }
    if (req->body_len && !req->body)
        return MD_EINVAL;
    return req->body_len > MD_UPSTREAM_MAX_REQUEST_BODY ? MD_ETOOBIG : MD_OK;
}

/* ---- request building: compute the length, reserve once, copy ---- */

static char *put(char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static size_t format_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* RFC 9110 8.6: send a length whenever there is content or the method
 * expects some, so the server never waits for a body that is not coming. */
static bool needs_length(const md_upstream_req_t *req)
{
    return req->body_len || req->body || method_is(req->method, "POST") || method_is(req->method, "PUT") ||
           method_is(req->method, "PATCH");
}

static int build_request(md_upstream_t *up, md_upstream_call_t *call, const md_upstream_req_t *req)
{
    size_t mlen = strlen(req->method);
    char num[24];
    size_t numlen = needs_length(req) ? format_u64(num, req->body_len) : 0;
    size_t head = mlen + 1 + up->base_len + req->path_len + sizeof(" HTTP/1.1\r\n") - 1 + up->fixed_len;
    for (size_t i = 0; i < req->nheaders && head <= MD_UPSTREAM_MAX_REQUEST_HEAD; i++)
        head += req->headers[i].name_len + 2 + req->headers[i].value_len + 2;
    if (!call->streaming)
        head += sizeof("Accept-Encoding: gzip\r\n") - 1;
    if (numlen)
        head += sizeof("Content-Length: \r\n") - 1 + numlen;
    head += 2;
    if (head > MD_UPSTREAM_MAX_REQUEST_HEAD)
        return MD_ETOOBIG;

    md_buf_reset(&call->req);
    if (md_buf_reserve(&call->req, head + req->body_len) != MD_OK)
        return MD_ETOOBIG;
    char *p = md_buf_tail(&call->req);
    p = put(p, req->method, mlen);
    *p++ = ' ';
    p = put(p, up->base_path, up->base_len);
    p = put(p, req->path, req->path_len);
    p = PUT_LIT(p, " HTTP/1.1\r\n");
    p = put(p, up->fixed, up->fixed_len);
    for (size_t i = 0; i < req->nheaders; i++) {
        const md_header_t *h = &req->headers[i];
        p = put(p, h->name, h->name_len);
        p = PUT_LIT(p, ": ");
        if (h->value_len)
            p = put(p, h->value, h->value_len);
        p = PUT_LIT(p, "\r\n");
    }
    if (!call->streaming)
        p = PUT_LIT(p, "Accept-Encoding: gzip\r\n");
    if (numlen) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put(p, num, numlen);
        p = PUT_LIT(p, "\r\n");
    }
    p = PUT_LIT(p, "\r\n");
    if (req->body_len)
        put(p, req->body, req->body_len);
    md_buf_commit(&call->req, head + req->body_len);
    return MD_OK;
}

/* The part of every request that only depends on the configuration. */
static int build_fixed(md_upstream_t *up, const md_upstream_conf_t *conf)
{
    const char *host = conf->host_header ? conf->host_header : conf->host;
    if (!host || !*host || !valid_value(host, strlen(host)))
        return MD_EINVAL;
    md_buf_t b;
    md_buf_init(&b, MD_UPSTREAM_MAX_REQUEST_HEAD / 2);
    int rc = md_buf_printf(&b, "Host: %s\r\nConnection: keep-alive\r\n", host);
    for (size_t i = 0; rc == MD_OK && i < conf->nheaders; i++) {
        const md_kv_t *kv = &conf->headers[i];
        if (!kv->name || !kv->value ||
            !valid_header(kv->name, strlen(kv->name), kv->value, strlen(kv->value), true))
            rc = MD_EINVAL;
        else
            rc = md_buf_printf(&b, "%s: %s\r\n", kv->name, kv->value);
    }
    if (rc != MD_OK) {
        md_buf_free(&b);
        return rc;
    }
    up->fixed = md_buf_detach(&b, &up->fixed_len);
    return MD_OK;
}

/* ---- lists: live calls, wait queue, connections, idle stack ---- */

static void live_push(md_upstream_t *up, md_upstream_call_t *call)
{
    call->prev = NULL;
    call->next = up->live;
    if (up->live)
        up->live->prev = call;
    up->live = call;
}

static void live_remove(md_upstream_t *up, md_upstream_call_t *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        up->live = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->next = call->prev = NULL;
}

static void queue_push(md_upstream_t *up, md_upstream_call_t *call)
{
    call->state = CALL_QUEUED;
    call->qnext = NULL;
    call->qprev = up->qtail;
    if (up->qtail)
        up->qtail->qnext = call;
    else
        up->qhead = call;
    up->qtail = call;
    up->st.queued++;
}

static void queue_remove(md_upstream_t *up, md_upstream_call_t *call)
{
    if (call->qprev)
        call->qprev->qnext = call->qnext;
    else
        up->qhead = call->qnext;
    if (call->qnext)
        call->qnext->qprev = call->qprev;
    else
        up->qtail = call->qprev;
    call->qnext = call->qprev = NULL;
    up->st.queued--;
}

static void idle_push(md_upstream_t *up, conn_t *c)
{
    c->state = CONN_IDLE;
    c->iprev = NULL;
    c->inext = up->idle;
    if (up->idle)
        up->idle->iprev = c;
    up->idle = c;
    up->st.idle++;
    md_timer_start(up->loop, &c->timer, up->idle_timeout_ms);
}

static void idle_remove(md_upstream_t *up, conn_t *c)
{
    if (c->iprev)
        c->iprev->inext = c->inext;
    else
        up->idle = c->inext;
    if (c->inext)
        c->inext->iprev = c->iprev;
    c->inext = c->iprev = NULL;
    up->st.idle--;
    md_timer_stop(up->loop, &c->timer);
}

static conn_t *idle_pop(md_upstream_t *up)
{
    conn_t *c = up->idle;
    if (c)
        idle_remove(up, c);
    return c;
}

/* ---- connections ---- */

static conn_t *conn_new(md_upstream_t *up, int fd)
{
    conn_t *c = md_calloc(1, sizeof(*c));
    c->up = up;
    c->fd = fd;
    c->io.fd = -1;
    md_timer_init(&c->timer, on_conn_timer, c);
    md_buf_init(&c->in, IN_BUF_BYTES);
    md_buf_reserve(&c->in, IN_BUF_BYTES);
    c->next = up->conns;
    if (up->conns)
        up->conns->prev = c;
    up->conns = c;
    up->st.open++;
    return c;
}

/* Closes without handing the freed slot to a queued call. */
static void conn_destroy(conn_t *c)
{
    md_upstream_t *up = c->up;
    if (c->state == CONN_IDLE)
        idle_remove(up, c);
    md_timer_stop(up->loop, &c->timer);
    md_io_stop(&c->io);
    md_tls_conn_free(c->ssl); /* close_notify, best effort */
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        up->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    up->st.open--;
    md_buf_free(&c->in);
    if (c->zinit)
        inflateEnd(&c->z);
    md_free(c);
}

static void attach(conn_t *c, md_upstream_call_t *call)
{
    c->call = call;
    c->state = CONN_BUSY;
    call->conn = c;
}

static void detach(md_upstream_call_t *call)
{
    call->conn->call = NULL;
    call->conn = NULL;
}

/* Sends the call on an idle connection. */
static int call_use_conn(md_upstream_call_t *call, conn_t *c)
{
    attach(c, call);
    call->reused = c->served > 0;
    if (call->reused)
        call->up->st.reuses++;
    return send_request(call);
}

/* Opens a connection for `call` (the caller checked the limit). */
static int call_connect(md_upstream_call_t *call)
{
    md_upstream_t *up = call->up;
    const md_upstream_conf_t *cf = up->conf;
    up->st.connects++;
    int fd = socket(cf->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return call_finish(call, MD_ECONNECT);
    if (cf->addr.ss_family == AF_INET || cf->addr.ss_family == AF_INET6) {
        int one = 1; /* the request leaves in one send: never hold it back */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    conn_t *c = conn_new(up, fd);
    attach(c, call);
    c->state = CONN_CONNECTING;
    call->state = CALL_CONNECTING;
    call->reused = false;
    if (connect(fd, (const struct sockaddr *)&cf->addr, cf->addrlen) == 0) {
        if (md_io_start(up->loop, &c->io, fd, MD_IO_READ, on_conn_io, c) != MD_OK)
            return call_finish(call, MD_ECONNECT);
        return conn_up(c);
    }
    if (errno != EINPROGRESS)
        return call_finish(call, MD_ECONNECT);
    if (md_io_start(up->loop, &c->io, fd, MD_IO_WRITE, on_conn_io, c) != MD_OK)
        return call_finish(call, MD_ECONNECT);
    md_timer_start(up->loop, &c->timer, up->connect_timeout_ms);
    return STEP_MORE;
}

/* Hands free connections (idle, or room to open one) to queued calls. A
 * nested dispatch returns at once: the outer loop sees the freed slot. */
static void dispatch(md_upstream_t *up)
{
    if (up->dispatching)
        return;
    up->dispatching = true;
    up->depth++;
    while (up->qhead) {
        conn_t *c = idle_pop(up);
        if (!c && up->st.open >= up->max_open)
            break;
        md_upstream_call_t *call = up->qhead;
        queue_remove(up, call);
        if (c)
            call_use_conn(call, c);
        else
            call_connect(call);
    }
    up->depth--;
    up->dispatching = false;
}

static void conn_close(conn_t *c)
{
    md_upstream_t *up = c->up;
    conn_destroy(c);
    dispatch(up);
}

/* A complete response left the connection clean: reuse it. */
static void conn_release(conn_t *c)
{
    md_upstream_t *up = c->up;
    c->served++;
    c->rpos = 0;
    md_buf_reset(&c->in);
    md_timer_stop(up->loop, &c->timer); /* a resume kick may be pending */
    /* A paused stream had stopped the io; idle connections keep READ so
     * that EOF/RST is seen without any epoll_ctl on reuse. */
    int rc = c->io.fd < 0 ? md_io_start(up->loop, &c->io, c->fd, MD_IO_READ, on_conn_io, c)
                          : md_io_set(&c->io, MD_IO_READ);
    if (rc != MD_OK) {
        conn_close(c);
        return;
    }
    if (up->qhead) {
        md_upstream_call_t *call = up->qhead;
        queue_remove(up, call);
        up->depth++;
        call_use_conn(call, c);
        up->depth--;
        return;
    }
    idle_push(up, c);
}

/* ---- ending a call ---- */

static void call_recycle(md_upstream_call_t *call)
{
    md_upstream_t *up = call->up;
    md_timer_stop(up->loop, &call->timer);
    live_remove(up, call);
    md_buf_free(&call->res.body);
    call->state = CALL_FREE; /* a stale cancel/resume from its own callback is ignored */
    if (up->nfree >= FREE_CALLS_MAX) {
        md_buf_free(&call->req);
        md_free(call);
        return;
    }
    if (call->req.cap > REQ_BUF_KEEP)
        md_buf_free(&call->req);
    call->next = up->free_calls;
    up->free_calls = call;
    up->nfree++;
}

/* Runs the final callback: the last thing the calling handler does, since
 * the callback may free the pool. */
static void call_report(md_upstream_call_t *call)
{
    md_upstream_t *up = call->up;
    int err = call->error;
    void *arg = call->arg;
    if (err != MD_OK)
        up->st.errors++;
    if (call->streaming) {
        void (*on_end)(void *, int) = call->cbs.on_end;
        call_recycle(call);
        if (on_end)
            on_end(arg, err);
        return;
    }
    md_upstream_result_t res = call->res; /* the callback owns res.body */
    md_upstream_cb cb = call->cb;
    md_buf_init(&call->res.body, 1);
    res.error = err;
    res.duration_us = md_now_us() - call->start_us;
    if (err != MD_OK)
        md_buf_free(&res.body);
    call_recycle(call);
    cb(&res, arg);
}

/* Received bytes that only OpenSSL holds (epoll cannot see them). */
static bool tls_buffered(const conn_t *c)
{
    return c->ssl && md_tls_pending(c->ssl);
}

/* TLS 1.3 lets a server send records without data at any time (session
 * tickets, key updates): process what arrived. True if that was all (what
 * OpenSSL may still hold is then part of a record), so the connection is
 * still clean; false on data, close_notify or error. */
static bool tls_only_control(conn_t *c)
{
    char b;
    ssize_t n = md_tls_read(c->ssl, &b, 1);
    return n < 0 && errno == EAGAIN && md_tls_want(c->ssl) == MD_IO_READ;
}

static bool reusable(const md_upstream_call_t *call, conn_t *c)
{
    return call->keep_alive && call->framing != FRAME_CLOSE && c->rpos == c->in.len &&
           (!tls_buffered(c) || tls_only_control(c));
}

/* Ends the call with `err`: releases or closes its connection, then
 * reports now or (inside an md_upstream_* frame) from the loop. */
static int call_finish(md_upstream_call_t *call, int err)
{
    md_upstream_t *up = call->up;
    md_timer_stop(up->loop, &call->timer);
    if (call->state == CALL_QUEUED)
        queue_remove(up, call);
    conn_t *c = call->conn;
    bool keep = c && err == MD_OK && reusable(call, c);
    call->state = CALL_DONE;
    call->error = err;
    call->paused = false;
    if (c) {
        detach(call);
        if (keep)
            conn_release(c);
        else
            conn_close(c);
    }
    if (up->depth > 0)
        md_timer_start(up->loop, &call->timer, 0);
    else
        call_report(call);
    return STEP_GONE;
}

/* Drops the call without a callback (cancel). */
static int call_abandon(md_upstream_call_t *call)
{
    md_upstream_t *up = call->up;
    if (call->state == CALL_QUEUED)
        queue_remove(up, call);
    conn_t *c = call->conn;
    if (c) {
        detach(call);
        conn_close(c); /* the request may be in flight: never reuse */
    }
    call_recycle(call);
    return STEP_GONE;
}

static void reset_response(md_upstream_call_t *call)
{
    call->got_bytes = call->keep_alive = call->direct = call->gzip = call->zdone = false;
    call->interim = 0;
    call->framing = FRAME_NONE;
    call->remaining = 0;
    call->body_wire = 0;
    call->res.status = 0;
    call->res.content_type[0] = '\0';
    call->res.cache_control[0] = '\0';
    md_buf_reset(&call->res.body);
}

/* The server closed a kept-alive connection just as we reused it: resend
 * once on a fresh connection if that cannot repeat a side effect. */
static int call_conn_failed(md_upstream_call_t *call, int err)
{
    if (!call->reused || call->got_bytes || !call->idempotent || call->retried)
        return call_finish(call, err);
    conn_t *c = call->conn;
    detach(call);
    conn_destroy(c); /* its slot goes to this call, not to the queue */
    call->retried = true;
    call->sent = 0;
    reset_response(call);
    call->up->st.retries++;
    return call_connect(call);
}

/* ---- sending ---- */

static int set_interest(md_upstream_call_t *call, unsigned events)
{
    if (md_io_set(&call->conn->io, events) != MD_OK)
        return call_finish(call, MD_ERESET);
    return STEP_MORE;
}

/* A retried write passes the same pointer and length again (OpenSSL
 * requires it after WANT_WRITE): `sent` only moves on success. */
static int send_request(md_upstream_call_t *call)
{
    conn_t *c = call->conn;
    call->state = CALL_SENDING;
    while (call->sent < call->req.len) {
        const char *p = call->req.data + call->sent;
        size_t len = call->req.len - call->sent;
        ssize_t n = c->ssl ? md_tls_write(c->ssl, p, len) : send(c->fd, p, len, MSG_NOSIGNAL);
        if (n >= 0) {
            call->sent += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return set_interest(call, c->ssl ? md_tls_want(c->ssl) : MD_IO_WRITE);
        return call_conn_failed(call, MD_ERESET);
    }
    call->state = CALL_HEAD;
    return set_interest(call, MD_IO_READ);
}

/* ---- TLS handshake ---- */

static int handshake_step(conn_t *c)
{
    md_upstream_t *up = c->up;
    md_upstream_call_t *call = c->call;
    unsigned want = MD_IO_READ;
    int rc = md_tls_handshake(c->ssl, &want);
    if (rc == MD_AGAIN)
        return set_interest(call, want);
    if (rc != MD_OK)
        return call_finish(call, rc);
    up->st.handshakes++;
    up->st.resumed += md_tls_resumed(c->ssl);
    md_timer_stop(up->loop, &c->timer);
    c->state = CONN_BUSY;
    return send_request(call);
}

/* TCP is connected: start TLS, or send. The connect timer runs on through
 * the handshake, so a server that stalls it is a connect timeout. */
static int conn_up(conn_t *c)
{
    md_upstream_t *up = c->up;
    md_upstream_call_t *call = c->call;
    if (!up->tls) {
        md_timer_stop(up->loop, &c->timer);
        c->state = CONN_BUSY;
        return send_request(call);
    }
    if (!md_timer_active(&c->timer))
        md_timer_start(up->loop, &c->timer, up->connect_timeout_ms);
    c->ssl = md_tls_conn_new(up->tls, c->fd, &up->resume);
    if (!c->ssl)
        return call_finish(call, MD_ETLS);
    c->state = CONN_HANDSHAKE;
    return handshake_step(c);
}

/* ---- gzip ---- */

static int gzip_start(md_upstream_call_t *call)
{
    conn_t *c = call->conn;
    call->zdone = false;
    if (c->zinit)
        return inflateReset(&c->z) == Z_OK ? MD_OK : MD_EINVAL;
    memset(&c->z, 0, sizeof(c->z));
    if (inflateInit2(&c->z, 16 + MAX_WBITS) != Z_OK)
        return MD_EINVAL;
    c->zinit = true;
    return MD_OK;
}

/* Inflates into the result body, never past its cap: once the cap is
 * reached a one-byte probe tells a bomb (more output) from the trailer. */
static int inflate_into(md_upstream_call_t *call, const char *p, size_t n)
{
    z_stream *z = &call->conn->z;
    md_buf_t *b = &call->res.body;
    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)n;
    for (;;) {
        if (call->zdone) {
            if (z->avail_in == 0)
                return MD_OK;
            if (inflateReset(z) != Z_OK) /* another gzip member follows */
                return MD_EINVAL;
            call->zdone = false;
        }
        char probe;
        char *dst = &probe;
        size_t out = MD_MIN(b->max - b->len, (size_t)ZCHUNK);
        if (out) {
            md_buf_reserve(b, out);
            dst = md_buf_tail(b);
        } else {
            out = 1;
        }
        z->next_out = (Bytef *)dst;
        z->avail_out = (uInt)out;
        int zr = inflate(z, Z_NO_FLUSH);
        size_t got = out - z->avail_out;
        if (got && dst == &probe)
            return MD_ETOOBIG;
        if (got)
            md_buf_commit(b, got);
        if (zr == Z_STREAM_END) {
            call->zdone = true;
            continue;
        }
        if (zr == Z_BUF_ERROR)
            return MD_OK; /* needs more input */
        if (zr != Z_OK)
            return MD_EINVAL;
        if (z->avail_in == 0 && z->avail_out > 0)
            return MD_OK;
    }
}

/* ---- streaming callbacks ---- */

/* Does the comma-separated `list` name `name`? */
static bool list_has(const char *list, size_t len, const char *name, size_t nlen)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',' && list[i] != ' ' && list[i] != '\t')
            i++;
        if (i > start && i - start == nlen && strncasecmp(list + start, name, nlen) == 0)
            return true;
    }
    return false;
}

static bool hop_by_hop(const md_header_t *h, const md_header_t *const *conn_hs, size_t nconn)
{
    static const char *const names[] = { "connection", "keep-alive", "transfer-encoding", "te", "trailer",
                                         "upgrade" };
    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++)
        if (md_header_name_is(h, names[i]))
            return true;
    if (h->name_len >= 6 && strncasecmp(h->name, "proxy-", 6) == 0)
        return true;
    for (size_t i = 0; i < nconn; i++)
        if (list_has(conn_hs[i]->value, conn_hs[i]->value_len, h->name, h->name_len))
            return true;
    return false;
}

static int stream_head(md_upstream_call_t *call, const md_http_response_head_t *h)
{
    const md_header_t *conn_hs[MAX_CONNECTION_HEADERS];
    size_t nconn = 0;
    for (size_t i = 0; i < h->num_headers && nconn < MAX_CONNECTION_HEADERS; i++)
        if (md_header_name_is(&h->headers[i], "connection"))
            conn_hs[nconn++] = &h->headers[i];
    md_header_t out[MD_UPSTREAM_MAX_HEADERS];
    size_t k = 0;
    for (size_t i = 0; i < h->num_headers; i++)
        if (!hop_by_hop(&h->headers[i], conn_hs, nconn))
            out[k++] = h->headers[i];
    int64_t len = call->framing == FRAME_NONE ? 0 : call->framing == FRAME_LENGTH ? (int64_t)call->remaining : -1;
    call->in_cb = true;
    call->cbs.on_head(call->arg, h->status, out, k, len);
    call->in_cb = false;
    return call->canceled ? call_abandon(call) : STEP_MORE;
}

static int stream_data(md_upstream_call_t *call, const char *p, size_t n)
{
    call->in_cb = true;
    call->resume_req = false;
    int r = call->cbs.on_data(call->arg, p, n);
    call->in_cb = false;
    if (call->canceled)
        return call_abandon(call);
    if (r != MD_AGAIN || call->resume_req)
        return STEP_MORE;
    /* Stop the io rather than clear its interest: EPOLLRDHUP would still be
     * reported, level-triggered, and spin the loop while we wait. */
    call->paused = true;
    md_io_stop(&call->conn->io);
    return STEP_PAUSED;
}

/* ---- receiving ---- */

static int complete(md_upstream_call_t *call)
{
    if (call->gzip && call->body_wire > 0 && !call->zdone)
        return call_finish(call, MD_EINVAL); /* truncated gzip stream */
    return call_finish(call, MD_OK);
}

static int deliver(md_upstream_call_t *call, const char *p, size_t n)
{
    if (n == 0)
        return STEP_MORE;
    if (n > call->up->max_body - call->body_wire)
        return call_finish(call, MD_ETOOBIG);
    call->body_wire += n;
    if (call->streaming)
        return stream_data(call, p, n);
    int rc = call->gzip ? inflate_into(call, p, n) : md_buf_append(&call->res.body, p, n);
    return rc == MD_OK ? STEP_MORE : call_finish(call, rc);
}

static bool body_complete(const md_upstream_call_t *call)
{
    if (call->framing == FRAME_LENGTH)
        return call->remaining == 0;
    return call->framing == FRAME_CHUNKED && call->dec.done;
}

/* Consumes buffered body bytes per the framing. */
static int body_step(md_upstream_call_t *call)
{
    conn_t *c = call->conn;
    while (c->rpos < c->in.len) {
        char *p = c->in.data + c->rpos;
        size_t avail = c->in.len - c->rpos, take = avail;
        if (call->framing == FRAME_LENGTH) {
            take = (size_t)MD_MIN((uint64_t)avail, call->remaining);
            call->remaining -= take;
            c->rpos += take;
        } else if (call->framing == FRAME_CHUNKED) {
            ssize_t used = md_chunked_decode(&call->dec, p, &take); /* payload compacted to p */
            if (used < 0)
                return call_finish(call, MD_EINVAL);
            c->rpos += (size_t)used;
        } else {
            c->rpos += avail;
        }
        int st = deliver(call, p, take);
        if (st == STEP_GONE)
            return st;
        if (body_complete(call))
            return complete(call);
        if (st == STEP_PAUSED)
            return st;
    }
    return STEP_MORE;
}

static void copy_content_type(md_upstream_call_t *call, md_str_t ct)
{
    size_t n = MD_MIN(ct.len, sizeof(call->res.content_type) - 1);
    if (n)
        memcpy(call->res.content_type, ct.ptr, n);
    call->res.content_type[n] = '\0';
}

static void choose_framing(md_upstream_call_t *call, const md_http_response_head_t *h)
{
    call->keep_alive = h->keep_alive;
    if (call->is_head || h->status == 204 || h->status == 304) {
        call->framing = FRAME_NONE;
    } else if (h->chunked) {
        call->framing = FRAME_CHUNKED;
        memset(&call->dec, 0, sizeof(call->dec));
    } else if (h->content_length >= 0) {
        call->framing = h->content_length ? FRAME_LENGTH : FRAME_NONE;
        call->remaining = (uint64_t)h->content_length;
    } else {
        call->framing = FRAME_CLOSE;
        call->keep_alive = false;
    }
}

/* Joins the Cache-Control headers (the cache needs them for `ttl:
 * upstream`). A value that does not fit is dropped whole, never cut in the
 * middle of a directive. */
static void copy_cache_control(md_upstream_call_t *call, const md_http_response_head_t *h)
{
    char *out = call->res.cache_control;
    size_t len = 0, cap = sizeof(call->res.cache_control);
    for (size_t i = 0; i < h->num_headers; i++) {
        const md_header_t *hd = &h->headers[i];
        if (!md_header_name_is(hd, "cache-control"))
            continue;
        size_t need = hd->value_len + (len ? 2 : 0);
        if (len + need >= cap)
            break;
        if (len) {
            memcpy(out + len, ", ", 2);
            len += 2;
        }
        memcpy(out + len, hd->value, hd->value_len);
        len += hd->value_len;
    }
    out[len] = '\0';
}

/* A final response head of `n` bytes was parsed. */
static int head_done(md_upstream_call_t *call, const md_http_response_head_t *h, size_t n)
{
    conn_t *c = call->conn;
    call->res.status = h->status;
    copy_content_type(call, h->content_type);
    copy_cache_control(call, h);
    if (!call->streaming && h->unknown_encoding)
        return call_finish(call, MD_EINVAL);
    choose_framing(call, h);
    if (call->framing == FRAME_LENGTH && call->remaining > call->up->max_body)
        return call_finish(call, MD_ETOOBIG);
    call->gzip = !call->streaming && h->gzip && call->framing != FRAME_NONE;
    if (call->gzip && gzip_start(call) != MD_OK)
        return call_finish(call, MD_EINVAL);
    if (call->streaming && stream_head(call, h) == STEP_GONE)
        return STEP_GONE;
    c->rpos += n; /* after on_head: its headers point into the buffer */
    call->state = CALL_BODY;
    if (call->framing == FRAME_NONE)
        return complete(call);
    if (call->framing == FRAME_LENGTH && !call->streaming && !call->gzip) {
        /* Known length, no decoding: read the rest straight into the body. */
        md_buf_reserve(&call->res.body, (size_t)call->remaining);
        call->direct = true;
    }
    return STEP_MORE;
}

static int head_step(md_upstream_call_t *call)
{
    conn_t *c = call->conn;
    md_header_t hs[MD_UPSTREAM_MAX_HEADERS];
    for (;;) {
        md_http_response_head_t h = { .headers = hs, .num_headers = MD_UPSTREAM_MAX_HEADERS };
        size_t avail = c->in.len - c->rpos;
        int n = md_http_parse_response(c->in.data + c->rpos, avail, &h);
        if (n == MD_AGAIN)
            return avail >= MD_UPSTREAM_MAX_HEAD_BYTES ? call_finish(call, MD_EINVAL) : STEP_MORE;
        if (n < 0 || (size_t)n > MD_UPSTREAM_MAX_HEAD_BYTES || h.status > 599)
            return call_finish(call, MD_EINVAL);
        if (h.status >= 200)
            return head_done(call, &h, (size_t)n);
        if (h.status == 101 || ++call->interim > MAX_INTERIM) /* we never ask to upgrade */
            return call_finish(call, MD_EINVAL);
        c->rpos += (size_t)n;
    }
}

static int process(md_upstream_call_t *call)
{
    if (call->state == CALL_HEAD) {
        int st = head_step(call);
        if (st != STEP_MORE || call->state != CALL_BODY)
            return st;
    }
    return body_step(call);
}

static int direct_step(md_upstream_call_t *call, size_t n)
{
    md_buf_commit(&call->res.body, n);
    call->remaining -= n;
    call->body_wire += n;
    return call->remaining == 0 ? complete(call) : STEP_MORE;
}

/* EOF (reset false) or a read error. */
static int read_ended(md_upstream_call_t *call, bool reset)
{
    if (call->state == CALL_BODY && call->framing == FRAME_CLOSE && !reset)
        return complete(call);
    if (call->state != CALL_BODY && !call->got_bytes)
        return call_conn_failed(call, MD_ERESET);
    return call_finish(call, MD_ERESET);
}

/* Room at the end of the read buffer; unconsumed bytes move to the front
 * only when the buffer is full (a head split over many reads). */
static void make_room(conn_t *c)
{
    if (c->rpos == c->in.len) {
        c->rpos = 0;
        md_buf_reset(&c->in);
    } else if (c->rpos > 0 && c->in.len == c->in.cap) {
        md_buf_consume(&c->in, c->rpos);
        c->rpos = 0;
    }
}

static void read_response(conn_t *c)
{
    md_upstream_call_t *call = c->call;
    for (int i = 0; i < READS_PER_EVENT; i++) {
        bool direct = call->direct && c->rpos == c->in.len;
        char *dst;
        size_t want;
        if (direct) {
            dst = md_buf_tail(&call->res.body);
            want = (size_t)call->remaining;
        } else {
            make_room(c);
            dst = md_buf_tail(&c->in);
            want = c->in.cap - c->in.len;
            if (want == 0) { /* unreachable: a full buffer fails the head limit first */
                call_finish(call, MD_EINVAL);
                return;
            }
        }
        ssize_t n = c->ssl ? md_tls_read(c->ssl, dst, want) : read(c->fd, dst, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->ssl) /* a key update may need to write first */
                set_interest(call, md_tls_want(c->ssl));
            return;
        }
        if (n <= 0) {
            read_ended(call, n < 0);
            return;
        }
        call->res.wire_bytes += (size_t)n;
        call->got_bytes = true;
        int st;
        if (direct) {
            st = direct_step(call, (size_t)n);
        } else {
            md_buf_commit(&c->in, (size_t)n);
            st = process(call);
        }
        if (st != STEP_MORE || ((size_t)n < want && !tls_buffered(c)))
            return; /* gone, paused, or drained: level-triggered epoll calls again */
    }
    if (tls_buffered(c)) /* the socket may be empty: epoll would not call again */
        md_timer_start(c->up->loop, &c->timer, 0);
}

/* ---- loop callbacks: each ends right after anything that may report ---- */

static void on_connected(conn_t *c, unsigned events)
{
    md_upstream_call_t *call = c->call;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0 && !(events & MD_IO_WRITE))
        err = ECONNREFUSED;
    if (err) {
        call_finish(call, MD_ECONNECT);
        return;
    }
    conn_up(c);
}

static void on_conn_io(md_io_t *io, unsigned events)
{
    conn_t *c = io->data;
    if (c->state == CONN_IDLE) {
        if (!c->ssl || !tls_only_control(c))
            conn_close(c); /* EOF, RST or stray bytes: unusable either way */
        return;
    }
    if (c->state == CONN_CONNECTING) {
        on_connected(c, events);
        return;
    }
    if (c->state == CONN_HANDSHAKE) {
        handshake_step(c);
        return;
    }
    md_upstream_call_t *call = c->call;
    if (call->state == CALL_SENDING) {
        /* Peer hung up mid-request: sending on would only spin on RDHUP. */
        if (events & MD_IO_HUP)
            call_conn_failed(call, MD_ERESET);
        else
            send_request(call);
        return;
    }
    read_response(c);
}

static void on_conn_timer(md_timer_t *t)
{
    conn_t *c = t->data;
    if (c->state == CONN_IDLE) {
        conn_close(c);
        return;
    }
    if (c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE) {
        call_finish(c->call, MD_ETIMEDOUT);
        return;
    }
    /* Busy: the kick after md_upstream_resume() for bytes already read,
     * or for bytes OpenSSL holds. */
    md_upstream_call_t *call = c->call;
    if (!call || call->paused || (call->state != CALL_HEAD && call->state != CALL_BODY))
        return;
    if (call->state == CALL_BODY && body_step(call) != STEP_MORE)
        return;
    if (tls_buffered(c))
        read_response(c);
}

static void on_call_timer(md_timer_t *t)
{
    md_upstream_call_t *call = t->data;
    if (call->state == CALL_DONE)
        call_report(call);
    else
        call_finish(call, MD_ETIMEDOUT);
}

/* ---- public API ---- */

md_upstream_t *md_upstream_new(md_loop_t *loop, const md_upstream_conf_t *conf, int nworkers)
{
    if (!loop || !conf)
        return NULL;
    const char *base = conf->base_path ? conf->base_path : "";
    size_t base_len = strlen(base);
    if (base_len && (base[0] != '/' || !valid_path_bytes(base, base_len) ||
                     base_len > MD_UPSTREAM_MAX_REQUEST_HEAD / 2))
        return NULL;
    md_upstream_t *up = md_calloc(1, sizeof(*up));
    if (build_fixed(up, conf) != MD_OK) {
        md_free(up);
        return NULL;
    }
    up->loop = loop;
    up->conf = conf;
    up->base_path = base;
    up->base_len = base_len;
    uint32_t workers = nworkers > 0 ? (uint32_t)nworkers : 1;
    uint32_t max = conf->max_connections ? conf->max_connections : 1;
    up->max_open = max / workers + (max % workers != 0);
    up->max_queue = conf->max_queue;
    up->timeout_ms = conf->timeout_ms ? conf->timeout_ms : DEFAULT_TIMEOUT_MS;
    up->connect_timeout_ms = conf->connect_timeout_ms ? conf->connect_timeout_ms
                                                      : MD_MIN(up->timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
    up->max_body = conf->max_response_bytes ? conf->max_response_bytes : DEFAULT_MAX_RESPONSE;
    up->idle_timeout_ms = MD_UPSTREAM_IDLE_TIMEOUT_MS;
    up->tls = conf->tls;
    return up;
}

void md_upstream_free(md_upstream_t *up)
{
    if (!up)
        return;
    while (up->conns)
        conn_destroy(up->conns);
    while (up->live) {
        md_upstream_call_t *call = up->live;
        live_remove(up, call);
        md_timer_stop(up->loop, &call->timer);
        md_buf_free(&call->res.body);
        md_buf_free(&call->req);
        md_free(call);
    }
    while (up->free_calls) {
        md_upstream_call_t *call = up->free_calls;
        up->free_calls = call->next;
        md_buf_free(&call->req);
        md_free(call);
    }
    md_tls_resume_clear(&up->resume);
    md_free(up->fixed);
    md_free(up);
}

const md_upstream_conf_t *md_upstream_conf(const md_upstream_t *up)
{
    return up->conf;
}

void md_upstream_set_idle_timeout(md_upstream_t *up, uint32_t ms)
{
    up->idle_timeout_ms = ms ? ms : MD_UPSTREAM_IDLE_TIMEOUT_MS;
}

static md_upstream_call_t *call_alloc(md_upstream_t *up)
{
    md_upstream_call_t *call = up->free_calls;
    if (call) {
        up->free_calls = call->next;
        up->nfree--;
        md_buf_t req = call->req;
        memset(call, 0, sizeof(*call));
        call->req = req;
    } else {
        call = md_calloc(1, sizeof(*call));
        md_buf_init(&call->req, MD_UPSTREAM_MAX_REQUEST_HEAD + MD_UPSTREAM_MAX_REQUEST_BODY);
    }
    call->up = up;
    md_timer_init(&call->timer, on_call_timer, call);
    md_buf_init(&call->res.body, up->max_body);
    live_push(up, call);
    return call;
}

static md_upstream_call_t *call_start(md_upstream_t *up, const md_upstream_req_t *req, bool streaming)
{
    if (!up || !req)
        return NULL;
    if (!up->idle && up->st.open >= up->max_open && up->st.queued >= up->max_queue)
        return NULL;
    if (check_request(req, !streaming) != MD_OK)
        return NULL;
    md_upstream_call_t *call = call_alloc(up);
    call->streaming = streaming;
    if (build_request(up, call, req) != MD_OK) {
        call_recycle(call);
        return NULL;
    }
    call->is_head = method_is(req->method, "HEAD");
    call->idempotent = method_idempotent(req->method);
    call->start_us = md_now_us();
    up->st.calls++;
    return call;
}

/* Gives the new call a connection, or queues it. */
static void call_go(md_upstream_t *up, md_upstream_call_t *call, uint32_t timeout_ms)
{
    up->depth++;
    md_timer_start(up->loop, &call->timer, timeout_ms ? timeout_ms : up->timeout_ms);
    conn_t *c = idle_pop(up);
    if (c)
        call_use_conn(call, c);
    else if (up->st.open < up->max_open)
        call_connect(call);
    else
        queue_push(up, call);
    up->depth--;
}

md_upstream_call_t *md_upstream_call(md_upstream_t *up, const md_upstream_req_t *req, md_upstream_cb cb,
                                     void *arg)
{
    if (!cb)
        return NULL;
    md_upstream_call_t *call = call_start(up, req, false);
    if (!call)
        return NULL;
    call->cb = cb;
    call->arg = arg;
    call_go(up, call, req->timeout_ms);
    return call;
}

md_upstream_call_t *md_upstream_stream(md_upstream_t *up, const md_upstream_req_t *req,
                                       const md_upstream_stream_cbs_t *cbs, void *arg)
{
    if (!cbs || !cbs->on_head || !cbs->on_data || !cbs->on_end)
        return NULL;
    md_upstream_call_t *call = call_start(up, req, true);
    if (!call)
        return NULL;
    call->cbs = *cbs;
    call->arg = arg;
    call_go(up, call, req->timeout_ms);
    return call;
}

void md_upstream_resume(md_upstream_call_t *call)
{
    if (!call || call->state == CALL_FREE)
        return;
    if (call->in_cb) {
        call->resume_req = true;
        return;
    }
    if (!call->paused || !call->conn)
        return;
    md_upstream_t *up = call->up;
    conn_t *c = call->conn;
    call->paused = false;
    if (md_io_start(up->loop, &c->io, c->fd, MD_IO_READ, on_conn_io, c) != MD_OK) {
        up->depth++;
        call_finish(call, MD_ERESET);
        up->depth--;
        return;
    }
    if (c->rpos < c->in.len || tls_buffered(c))
        md_timer_start(up->loop, &c->timer, 0);
}

void md_upstream_cancel(md_upstream_call_t *call)
{
    if (!call || call->state == CALL_FREE)
        return;
    if (call->in_cb) {
        call->canceled = true; /* the running step cleans up when it returns */
        return;
    }
    md_upstream_t *up = call->up;
    up->depth++;
    call_abandon(call);
    up->depth--;
}

void md_upstream_get_stats(const md_upstream_t *up, md_upstream_stats_t *st)
{
    *st = up->st;
}
