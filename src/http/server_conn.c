/*
 * server_conn.c - one client connection of the HTTP/1.1 server: reading,
 * parsing, request bodies, pipelining, timeouts, the request lifetime and
 * the lingering close.
 *
 * The read buffer `in` always starts with the current request: its head,
 * then its body (Content-Length bodies as read, chunked bodies decoded in
 * place by md_chunked_decode), then whatever the client pipelined after it.
 * The application's md_http_req_t points straight into it, so while the
 * request is held the buffer is never reallocated: reads then only use the
 * capacity already there (enough to notice EOF, which means the client left).
 * Before that, reading a body may grow (move) it under the parsed head,
 * which is then parsed again in place (conn_head_refresh). The bytes are
 * consumed when the request is finished.
 *
 * Requests are parsed one at a time, the next only once the previous
 * response is completely queued, and no further while max_pipelined
 * responses or more than the high-water mark of bytes wait to be sent: a
 * client that pipelines without reading stalls itself, not the server.
 *
 * One timer per connection serves, by state: the idle timeout between
 * requests, the header timeout (from the first byte of a head), the body
 * timeout (from the end of the head) and the lingering close. A second one
 * gives up on a client that takes no bytes for idle_timeout, and a third
 * resumes a pipeline outside the application's call stack.
 *
 * Every request the server answers itself with an error (bad syntax,
 * limits, timeouts, overload) is reported once through hooks.on_reject,
 * with only what was parsed or is a well-formed request line: the code
 * for that runs on refusals alone.
 *
 * Hot path (keep-alive, whole request in one segment, handler answers at
 * once): one read, parse, handler, one sendmsg, no epoll_ctl, no malloc.
 */
#include "http/server_internal.h"

#include "core/alloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_io(md_io_t *io, unsigned events);
static void on_timer(md_timer_t *t);
static void on_wtimer(md_timer_t *t);
static void on_kick_timer(md_timer_t *t);
static size_t peer_text(const struct sockaddr_storage *peer, char *out, size_t outlen);

static const md_limits_t *limits_of(const md_srv_conn_t *c)
{
    return &c->w->srv->limits;
}

/* ---- allocation and release ---- */

static md_srv_conn_t *conn_alloc(md_worker_t *w)
{
    md_srv_conn_t *c = w->cache;
    md_pool_t *pool;
    md_header_t *hdrs;
    if (c) {
        w->cache = c->next;
        w->ncache--;
        pool = c->pool;
        hdrs = c->hdrs;
    } else {
        c = md_malloc(sizeof(*c));
        pool = md_pool_new(0);
        /* Per connection, not per request: 2 KiB at the default limit is
         * more than a pool chunk serves without a malloc of its own. */
        hdrs = md_malloc(w->srv->limits.max_headers * sizeof(md_header_t));
    }
    memset(c, 0, sizeof(*c));
    c->pool = pool;
    c->hdrs = hdrs;
    c->w = w;
    c->fd = -1;
    md_timer_init(&c->timer, on_timer, c);
    md_timer_init(&c->wtimer, on_wtimer, c);
    md_timer_init(&c->kick_timer, on_kick_timer, c);
    return c;
}

static void conn_free(md_srv_conn_t *c)
{
    md_worker_t *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    md_srv_publish(w);
    if (c->rejected)
        w->nreject--;
    md_timer_stop(w->loop, &c->timer);
    md_timer_stop(w->loop, &c->wtimer);
    md_timer_stop(w->loop, &c->kick_timer);
    md_srv_wq_clear(c);
    md_buf_free(&c->in);
    md_buf_free(&c->out);
    md_pool_reset(c->pool);
    if (w->ncache < MD_SRV_CONN_CACHE) {
        c->next = w->cache;
        w->cache = c;
        w->ncache++;
    } else {
        md_pool_destroy(c->pool);
        md_free(c->hdrs);
        md_free(c);
    }
    md_srv_worker_check_done(w);
}

void md_srv_conn_cache_free(md_worker_t *w)
{
    while (w->cache) {
        md_srv_conn_t *c = w->cache;
        w->cache = c->next;
        md_pool_destroy(c->pool);
        md_free(c->hdrs);
        md_free(c);
    }
    w->ncache = 0;
}

void md_srv_conn_enter(md_srv_conn_t *c)
{
    c->busy++;
}

void md_srv_conn_leave(md_srv_conn_t *c)
{
    if (--c->busy == 0 && c->closed && !c->req_held)
        conn_free(c);
}

void md_srv_conn_close(md_srv_conn_t *c, bool reset)
{
    if (c->closed)
        return;
    c->closed = true;
    md_io_stop(&c->io);
    if (reset) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->fd);
    c->fd = -1;
    md_loop_t *loop = c->w->loop;
    md_timer_stop(loop, &c->timer);
    md_timer_stop(loop, &c->wtimer);
    md_timer_stop(loop, &c->kick_timer);
    md_srv_wq_clear(c);
    if (c->req_held && !c->abort_called)
        md_timer_start(loop, &c->timer, 0); /* relays on_abort, see on_timer */
}

void md_srv_conn_destroy(md_srv_conn_t *c)
{
    if (c->req_held)
        md_srv_log("worker %d: dropping a request the application never finished",
                   c->w->index);
    md_srv_conn_close(c, true);
    if (c->req_held) {
        c->req_held = false;
        c->w->ninflight--;
        md_srv_publish(c->w);
    }
    c->busy = 0;
    conn_free(c);
}

/* ---- interest ---- */

static void conn_update_io(md_srv_conn_t *c)
{
    unsigned ev = 0;
    switch (c->state) {
    case MD_SRV_CLOSING:
    case MD_SRV_LINGER:
        ev = MD_IO_READ;
        break;
    case MD_SRV_APP:
        /* Only to notice the client leaving; never grow the buffer here. */
        if (c->in.data && c->in.cap > c->in.len)
            ev = MD_IO_READ;
        break;
    default:
        if (!md_srv_paused(c) && c->in.len < c->in.max)
            ev = MD_IO_READ;
        break;
    }
    if (c->write_blocked)
        ev |= MD_IO_WRITE;
    md_io_set(&c->io, ev);
}

/* ---- the parsed head ---- */

/* The parsed head points into `in`, and reading a body can move that
 * buffer (md_buf_reserve): then the head is parsed again where it now is,
 * before anything reads it. Only a request whose body made the buffer grow
 * pays for this; the address is kept as an integer, never dereferenced. */
static void conn_head_refresh(md_srv_conn_t *c)
{
    if ((uintptr_t)c->in.data == c->head_base)
        return;
    memset(&c->head, 0, sizeof(c->head));
    c->head.headers = c->hdrs;
    c->head.num_headers = limits_of(c)->max_headers;
    int rc = md_http_parse_request(c->in.data, c->head_len, &c->head);
    if (rc != (int)c->head_len)
        md_srv_log("worker %d: request head changed while its body was read", c->w->index);
    c->head_base = (uintptr_t)c->in.data;
}

/* ---- refusals ---- */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Method and path from a request line that is well formed as far as a
 * report needs: token SP target SP "HTTP/" d "." d [CR] LF, the target
 * visible ASCII starting with '/' (or exactly "*"). Anything else leaves
 * both empty, so no byte that might be an attack reaches a log. */
static void scan_request_line(const char *p, size_t n, md_str_t *method, md_str_t *path)
{
    size_t i = 0;
    while (i < n && i <= MD_HTTP_REJECT_METHOD_MAX && md_is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i > MD_HTTP_REJECT_METHOD_MAX || i >= n || p[i] != ' ')
        return;
    size_t mlen = i++, t = i, end = 0;
    while (i < n && p[i] > ' ' && p[i] < 0x7f) {
        if (p[i] == '?' && !end)
            end = i;
        i++;
    }
    if (!end)
        end = i;
    if (i == t || (p[t] != '/' && !(i == t + 1 && p[t] == '*')))
        return;
    if (n - i < 10 || memcmp(p + i, " HTTP/", 6) != 0 || !is_digit(p[i + 6]) || p[i + 7] != '.' ||
        !is_digit(p[i + 8]))
        return;
    i += 9 + (p[i + 9] == '\r');
    if (i >= n || p[i] != '\n')
        return;
    *method = (md_str_t){ p, mlen };
    *path = (md_str_t){ p + t, MD_MIN(end - t, (size_t)MD_HTTP_REJECT_PATH_MAX) };
}

/* Tells the on_reject hook about a refusal whose error is queued. h: the
 * parsed head, or NULL to take what a well-formed request line gives. */
static void conn_report_reject(md_srv_conn_t *c, int status, const char *reason,
                               const md_http_request_head_t *h, uint64_t start_us)
{
    const md_server_hooks_t *hk = &c->w->srv->hooks;
    if (!hk->on_reject)
        return;
    char client[INET6_ADDRSTRLEN];
    peer_text(&c->peer, client, sizeof(client));
    md_http_reject_t r = {
        .status = status,
        .reason = reason,
        .client = client,
        .body_bytes = c->resp_bytes,
        .start_us = start_us,
        .end_us = md_now_us(),
    };
    if (h) {
        if (h->method.len <= MD_HTTP_REJECT_METHOD_MAX)
            r.method = h->method; /* a longer one is left out, as by the scan */
        r.path = (md_str_t){ h->path.ptr, MD_MIN(h->path.len, (size_t)MD_HTTP_REJECT_PATH_MAX) };
    } else if (c->in.data) {
        scan_request_line(c->in.data, MD_MIN(c->in.len, limits_of(c)->max_header_bytes), &r.method,
                          &r.path);
    }
    hk->on_reject(c->w, &r, hk->app);
}

/* Refuses the request being read: queues the error (the connection closes
 * after it) and reports it. Only a head in MD_SRV_HEAD has a known start;
 * only one in MD_SRV_BODY was parsed. */
static int conn_fail(md_srv_conn_t *c, int status, const char *code, const char *msg, const char *reason)
{
    uint64_t start = c->state == MD_SRV_HEAD ? c->head_start_us : 0;
    const md_http_request_head_t *h = NULL;
    if (c->state == MD_SRV_BODY) {
        conn_head_refresh(c);
        h = &c->head;
    }
    c->resp_bytes = 0; /* no request is held: the count is this error's */
    md_srv_queue_server_error(c, status, code, msg);
    conn_report_reject(c, status, reason, h, start);
    return MD_EINVAL;
}

/* ---- closing ---- */

/* After the last response: send FIN, then read until the client closes, so
 * that data it is still sending does not make our close() reset the
 * connection and destroy the response before the client has read it. */
static void conn_linger(md_srv_conn_t *c)
{
    if (c->peer_eof || c->close_no_linger) {
        md_srv_conn_close(c, false);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = MD_SRV_LINGER;
    c->discarded = 0;
    md_timer_start(c->w->loop, &c->timer, MD_SRV_LINGER_MS);
}

static void conn_discard_input(md_srv_conn_t *c)
{
    char tmp[4096];
    ssize_t n = read(c->fd, tmp, sizeof(tmp));
    if (n > 0) {
        c->discarded += (size_t)n;
        if (c->discarded > MD_SRV_LINGER_BYTES)
            md_srv_conn_close(c, false);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    c->peer_eof = true;
    md_srv_conn_close(c, false);
}

/* ---- reading ---- */

static void conn_fill(md_srv_conn_t *c, bool grow)
{
    md_buf_t *b = &c->in;
    if (grow && (!b->data || b->cap - b->len < MD_SRV_READ_CHUNK / 2)) {
        if (md_buf_reserve(b, MD_SRV_READ_CHUNK) != MD_OK && b->max > b->len)
            md_buf_reserve(b, b->max - b->len);
    }
    size_t room = b->data ? b->cap - b->len : 0;
    if (room == 0)
        return;
    ssize_t n = read(c->fd, md_buf_tail(b), room);
    if (n > 0) {
        md_buf_commit(b, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    /* EOF or error. A partial head or body has nobody left to answer; a
     * held request is aborted (nginx's 499 case). */
    c->peer_eof = n == 0;
    md_srv_conn_close(c, false);
}

/* ---- parsing ---- */

/* A head can only complete once a line end arrives, so a client trickling
 * bytes costs one parse per line, not one per read. The very first look
 * parses anyway to reject junk (TLS, random bytes) at once. */
static bool conn_worth_parsing(md_srv_conn_t *c)
{
    size_t from = c->scan_pos;
    c->scan_pos = c->in.len;
    return from == 0 || memchr(c->in.data + from, '\n', c->in.len - from) != NULL;
}

static bool name_is(const char *p, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n == k && strncasecmp(p, name, k) == 0;
}

/* On a framing error, tells "a Transfer-Encoding we do not implement" (501)
 * from conflicting or malformed framing (400) by scanning the raw head; the
 * parser does not report which. */
static bool conn_unknown_te(const md_srv_conn_t *c)
{
    const char *p = c->in.data, *end = p + MD_MIN(c->in.len, limits_of(c)->max_header_bytes);
    bool other = false, cl = false;
    p = memchr(p, '\n', (size_t)(end - p));
    while (p && ++p < end && *p != '\r' && *p != '\n') {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *colon = memchr(p, ':', (size_t)((eol ? eol : end) - p));
        if (!eol || !colon)
            break;
        if (name_is(p, (size_t)(colon - p), "content-length"))
            cl = true;
        if (name_is(p, (size_t)(colon - p), "transfer-encoding")) {
            for (const char *v = colon + 1; v < eol;) {
                while (v < eol && (*v == ' ' || *v == '\t' || *v == ','))
                    v++;
                const char *s = v;
                while (v < eol && *v != ',' && *v != ' ' && *v != '\t' && *v != '\r')
                    v++;
                if (v > s && !name_is(s, (size_t)(v - s), "chunked"))
                    other = true;
                while (v < eol && *v != ',')
                    v++;
            }
        }
        p = eol;
    }
    return other && !cl;
}

static int conn_head_error(md_srv_conn_t *c, int rc)
{
    switch (rc) {
    case MD_HTTP_ETOO_MANY_HEADERS:
        return conn_fail(c, 431, "headers_too_large", "too many header fields", "too_many_headers");
    case MD_HTTP_EVERSION:
        return conn_fail(c, 505, "version_not_supported",
                         "only HTTP/1.0 and HTTP/1.1 are supported", "version");
    case MD_HTTP_ELENGTH:
        if (conn_unknown_te(c))
            return conn_fail(c, 501, "not_implemented", "unsupported Transfer-Encoding",
                             "transfer_encoding");
        return conn_fail(c, 400, "bad_request", "invalid message framing", "bad_framing");
    default:
        return conn_fail(c, 400, "bad_request", "malformed request", "bad_request");
    }
}

static int conn_head_incomplete(md_srv_conn_t *c)
{
    const md_limits_t *l = limits_of(c);
    if (c->in.len >= l->max_header_bytes)
        return conn_fail(c, 431, "headers_too_large", "request head too large", "header_too_large");
    if (c->state == MD_SRV_IDLE) {
        c->state = MD_SRV_HEAD;
        c->head_start_us = md_now_us(); /* for on_reject only: this path already arms a timer */
        md_timer_start(c->w->loop, &c->timer, l->header_timeout_ms);
    }
    return MD_AGAIN;
}

static int conn_body_chunked(md_srv_conn_t *c)
{
    size_t raw = c->head_len + c->body_len;
    size_t avail = c->in.len - raw;
    if (avail == 0)
        return MD_AGAIN;
    size_t plen = avail;
    ssize_t used = md_chunked_decode(&c->dec, c->in.data + raw, &plen);
    if (used < 0)
        return conn_fail(c, 400, "bad_request", "malformed chunked body", "bad_chunked");
    /* Payload now sits right after the previous payload; move what follows
     * the body (the next pipelined request) up behind it. */
    size_t rest = avail - (size_t)used;
    if (rest)
        memmove(c->in.data + raw + plen, c->in.data + raw + used, rest);
    c->body_len += plen;
    c->in.len = raw + plen + rest;
    c->in.data[c->in.len] = '\0';
    if (c->body_len > limits_of(c)->max_body_bytes)
        return conn_fail(c, 413, "body_too_large", "request body too large", "body_too_large");
    return c->dec.done ? MD_OK : MD_AGAIN;
}

static int conn_body(md_srv_conn_t *c)
{
    if (c->body_need < 0) {
        int rc = conn_body_chunked(c);
        if (rc == MD_OK)
            conn_head_refresh(c);
        return rc;
    }
    size_t total = c->head_len + (size_t)c->body_need;
    if (c->in.len >= total) {
        c->body_len = (size_t)c->body_need;
        conn_head_refresh(c);
        return MD_OK;
    }
    /* One allocation for the whole body, which is then read in place. */
    if (md_buf_reserve(&c->in, total - c->in.len) != MD_OK)
        return conn_fail(c, 413, "body_too_large", "request body too large", "body_too_large");
    return MD_AGAIN;
}

static int conn_head_complete(md_srv_conn_t *c)
{
    const md_limits_t *l = limits_of(c);
    md_http_request_head_t *h = &c->head;
    c->head_req = h->method.len == 4 && memcmp(h->method.ptr, "HEAD", 4) == 0;
    c->keep_alive = h->keep_alive;
    c->body_len = 0;
    if (h->chunked) {
        memset(&c->dec, 0, sizeof(c->dec));
        c->body_need = -1;
    } else if (h->content_length > 0) {
        if ((uint64_t)h->content_length > l->max_body_bytes)
            return conn_fail(c, 413, "body_too_large", "request body too large", "body_too_large");
        c->body_need = h->content_length;
    } else {
        return MD_OK;
    }
    c->head_base = (uintptr_t)c->in.data;
    c->state = MD_SRV_BODY;
    int rc = conn_body(c);
    if (rc == MD_AGAIN) {
        if (h->expect_continue)
            md_srv_queue_copy(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        md_timer_start(c->w->loop, &c->timer, l->body_timeout_ms);
    }
    return rc;
}

static int conn_head(md_srv_conn_t *c)
{
    const md_limits_t *l = limits_of(c);
    if (c->in.len == 0) {
        if (c->w->shutting_down) {
            c->state = MD_SRV_CLOSING;
            return MD_EINVAL;
        }
        return MD_AGAIN;
    }
    if (!conn_worth_parsing(c))
        return conn_head_incomplete(c);
    memset(&c->head, 0, sizeof(c->head));
    c->head.headers = c->hdrs;
    c->head.num_headers = l->max_headers;
    /* Parsing at most the limit makes an oversized head MD_AGAIN: 431. */
    int rc = md_http_parse_request(c->in.data, MD_MIN(c->in.len, l->max_header_bytes), &c->head);
    if (rc == MD_AGAIN)
        return conn_head_incomplete(c);
    if (rc < 0)
        return conn_head_error(c, rc);
    c->head_len = (size_t)rc;
    return conn_head_complete(c);
}

/* ---- dispatch and finish ---- */

static void conn_release(md_srv_conn_t *c);

/* Over max_inflight: the server answers the request itself, keeping the
 * connection, so it is reported as refused and the handler never sees it. */
static void conn_refuse_inflight(md_srv_conn_t *c)
{
    if (md_srv_queue_error(c, 503, "overloaded", "too many requests in flight") != MD_OK)
        md_srv_conn_close(c, true);
    conn_report_reject(c, 503, "overloaded", &c->head, 0);
    conn_release(c);
}

static void conn_dispatch(md_srv_conn_t *c)
{
    md_worker_t *w = c->w;
    md_server_t *srv = w->srv;
    const md_http_request_head_t *h = &c->head;
    md_http_req_t *r = &c->req;
    memset(r, 0, sizeof(*r));
    r->pool = c->pool;
    r->loop = w->loop;
    r->worker = w;
    r->method = h->method;
    r->target = h->target;
    r->path = h->path;
    r->query = h->query;
    r->headers = h->headers;
    r->num_headers = h->num_headers;
    r->body = c->body_len ? c->in.data + c->head_len : NULL;
    r->body_len = c->body_len;
    r->minor_version = h->minor_version;
    c->keep_alive = h->keep_alive && !w->shutting_down;
    r->keep_alive = c->keep_alive;
    r->start_us = md_now_us();
    r->conn = c;
    c->state = MD_SRV_APP;
    c->req_held = true;
    c->abort_called = false;
    c->must_close = false;
    c->resp = MD_SRV_RESP_NONE;
    c->resp_status = 0;
    c->resp_bytes = 0;
    w->ninflight++;
    md_srv_publish(w);
    if (w->ninflight > srv->limits.max_inflight) {
        conn_refuse_inflight(c);
        return;
    }
    srv->hooks.handler(r, srv->hooks.app);
}

/* Tells the application's on_finish hook what was answered, while the
 * request and its pool are still alive. */
static void conn_report(md_srv_conn_t *c)
{
    const md_server_hooks_t *h = &c->w->srv->hooks;
    if (!h->on_finish)
        return;
    md_http_done_t done = {
        .status = c->resp_status ? c->resp_status : 500,
        .body_bytes = c->resp_bytes,
        .client_gone = c->closed,
    };
    h->on_finish(&c->req, &done, h->app);
}

/* Everything of finishing a request but its report: the request is
 * released, then the connection goes on to the next one or closes. */
static void conn_release(md_srv_conn_t *c)
{
    md_worker_t *w = c->w;
    c->req_held = false;
    w->ninflight--;
    md_srv_publish(w);
    c->resp = MD_SRV_RESP_NONE;
    c->drain_cb = NULL;
    c->want_drain = false;
    md_pool_reset(c->pool);
    if (c->closed)
        return; /* freed by the outermost leave */
    md_buf_consume(&c->in, c->head_len + c->body_len);
    c->head_len = c->body_len = 0;
    c->scan_pos = 0;
    if (c->must_close || !c->keep_alive || w->shutting_down) {
        c->state = MD_SRV_CLOSING;
    } else {
        c->state = MD_SRV_IDLE;
        if (c->in.len == 0)
            md_timer_start(w->loop, &c->timer, limits_of(c)->idle_timeout_ms);
        else
            md_timer_stop(w->loop, &c->timer); /* the next head's timer starts in kick */
    }
    if (c->processing)
        return; /* the kick that called the handler carries on */
    if (c->state == MD_SRV_CLOSING || c->in.len == 0)
        md_srv_conn_kick(c); /* cannot call the handler: nothing to parse */
    else
        md_timer_start(w->loop, &c->kick_timer, 0); /* never re-enter the app */
}

void md_srv_conn_finish(md_srv_conn_t *c)
{
    conn_report(c);
    conn_release(c);
}

/* ---- the driver ---- */

void md_srv_conn_kick(md_srv_conn_t *c)
{
    if (c->closed || c->processing)
        return;
    c->processing = true;
    for (;;) {
        bool need_input = false;
        while (!c->closed && !c->req_held && c->state <= MD_SRV_BODY && !md_srv_paused(c)) {
            int rc = c->state == MD_SRV_BODY ? conn_body(c) : conn_head(c);
            if (rc == MD_AGAIN) {
                need_input = true;
                break;
            }
            if (rc == MD_OK)
                conn_dispatch(c);
        }
        if (!c->closed && c->wq_n && !c->write_blocked)
            md_srv_flush(c);
        if (c->closed)
            break;
        if (c->state == MD_SRV_CLOSING) {
            if (c->wq_n == 0)
                conn_linger(c);
            break;
        }
        /* Go round again only when a flush just un-paused the pipeline. */
        if (need_input || c->req_held || c->state > MD_SRV_BODY || md_srv_paused(c))
            break;
    }
    c->processing = false;
    if (!c->closed)
        conn_update_io(c);
}

static void conn_maybe_drain(md_srv_conn_t *c)
{
    if (!c->closed && c->req_held && c->want_drain && c->drain_cb &&
        c->wq_bytes <= MD_SRV_LOW_WATER) {
        c->want_drain = false;
        c->drain_cb(&c->req);
    }
}

/* ---- callbacks ---- */

static void on_io(md_io_t *io, unsigned events)
{
    md_srv_conn_t *c = io->data;
    md_srv_conn_enter(c);
    if (events & MD_IO_WRITE)
        c->write_blocked = false;
    if (events & MD_IO_READ) {
        if (c->state == MD_SRV_CLOSING || c->state == MD_SRV_LINGER)
            conn_discard_input(c);
        else
            conn_fill(c, c->state != MD_SRV_APP);
    } else if (events & MD_IO_HUP) {
        /* Hang-up while we were not reading: level-triggered, it would be
         * reported again and again, and the client cannot be answered. */
        md_srv_conn_close(c, false);
    }
    md_srv_conn_kick(c);
    conn_maybe_drain(c);
    md_srv_conn_leave(c);
}

static void on_timer(md_timer_t *t)
{
    md_srv_conn_t *c = t->data;
    md_srv_conn_enter(c);
    if (c->closed) {
        if (c->req_held && !c->abort_called) {
            c->abort_called = true;
            if (c->req.on_abort)
                c->req.on_abort(&c->req);
        }
    } else {
        switch (c->state) {
        case MD_SRV_IDLE:
        case MD_SRV_LINGER:
            md_srv_conn_close(c, false);
            break;
        case MD_SRV_HEAD:
        case MD_SRV_BODY:
            conn_fail(c, 408, "request_timeout", "request not received in time",
                      c->state == MD_SRV_HEAD ? "header_timeout" : "body_timeout");
            md_srv_conn_kick(c);
            break;
        default:
            break; /* a stale read timer while the app holds the request */
        }
    }
    md_srv_conn_leave(c);
}

static void on_wtimer(md_timer_t *t)
{
    md_srv_conn_t *c = t->data;
    md_srv_conn_enter(c);
    md_srv_conn_close(c, true); /* the client stopped reading */
    md_srv_conn_leave(c);
}

static void on_kick_timer(md_timer_t *t)
{
    md_srv_conn_t *c = t->data;
    md_srv_conn_enter(c);
    md_srv_conn_kick(c);
    conn_maybe_drain(c);
    md_srv_conn_leave(c);
}

/* ---- accept and shutdown ---- */

void md_srv_conn_accept(md_worker_t *w, int fd, const struct sockaddr_storage *peer)
{
    const md_limits_t *l = &w->srv->limits;
    bool over = w->nconns - w->nreject >= l->max_connections;
    if (over && w->nreject >= MD_SRV_REJECT_MAX) {
        close(fd);
        return;
    }
    md_srv_conn_t *c = conn_alloc(w);
    c->fd = fd;
    c->peer = *peer;
    md_buf_init(&c->in, l->max_header_bytes + l->max_body_bytes + MD_SRV_READ_SLACK);
    md_buf_init(&c->out, MD_SRV_OUT_MAX);
    if (md_io_start(w->loop, &c->io, fd, MD_IO_READ, on_io, c) != MD_OK) {
        md_srv_log("worker %d: epoll_ctl: %s", w->index, strerror(errno));
        close(fd);
        md_pool_destroy(c->pool); /* not linked yet: nothing else to undo */
        md_free(c->hdrs);
        md_free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    md_srv_publish(w);
    c->state = MD_SRV_IDLE;
    c->keep_alive = true;
    md_srv_conn_enter(c);
    if (over) {
        c->rejected = true;
        w->nreject++;
        conn_fail(c, 503, "overloaded", "too many connections", "too_many_connections");
    } else {
        /* A new connection gets the header timeout to send its first byte. */
        md_timer_start(w->loop, &c->timer, l->header_timeout_ms);
    }
    md_srv_conn_kick(c);
    md_srv_conn_leave(c);
}

void md_srv_conn_shutdown_idle(md_srv_conn_t *c)
{
    md_srv_conn_enter(c);
    if (!c->closed && !c->req_held && c->state == MD_SRV_IDLE && c->in.len == 0 &&
        c->wq_n == 0)
        md_srv_conn_close(c, false);
    md_srv_conn_leave(c);
}

static size_t peer_text(const struct sockaddr_storage *peer, char *out, size_t outlen)
{
    const void *a = NULL;
    if (peer->ss_family == AF_INET)
        a = &((const struct sockaddr_in *)peer)->sin_addr;
    else if (peer->ss_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
    if (!outlen)
        return 0;
    out[0] = '\0';
    if (!a || !inet_ntop(peer->ss_family, a, out, (socklen_t)outlen))
        return 0;
    return strlen(out);
}

size_t md_http_client_addr(const md_http_req_t *req, char *out, size_t outlen)
{
    const md_srv_conn_t *c = req->conn;
    return peer_text(&c->peer, out, outlen);
}
