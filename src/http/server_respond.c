/*
 * server_respond.c - the write side of a server connection: response heads,
 * the write queue, JSON error bodies (escaped by json/write.h) and
 * streaming with backpressure.
 *
 * The write queue is a short array of segments (server_internal.h). Heads,
 * chunk framing and small bodies are copied into one per-connection buffer
 * `out` and coalesce into a single segment; a large body gets a segment of
 * its own. The whole queue goes out in one sendmsg (writev with
 * MSG_NOSIGNAL, so a vanished client never raises SIGPIPE).
 *
 * When the application answers from outside the server's own call stack
 * (the usual case: backends answered), the response is sent at once from
 * the caller's memory and only what the socket does not take is copied.
 * Inside a kick (a handler answering synchronously, possibly for several
 * pipelined requests) everything is queued and flushed once at the end.
 *
 * A response header can never be injected: a caller's header whose name is
 * not a token or whose value holds CR, LF, NUL (or another control
 * character but HTAB) makes the whole response a logged 500. Framing
 * headers (Content-Length, Transfer-Encoding, Connection) and Date/Server
 * are the server's: the caller's are dropped.
 */
#include "http/server_internal.h"

#include "core/alloc.h"
#include "json/write.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

bool md_srv_paused(const md_srv_conn_t *c)
{
    return c->queued_resps >= c->w->srv->limits.max_pipelined ||
           c->wq_bytes >= MD_SRV_HIGH_WATER;
}

/* ---- the queue ---- */

static char *out_reserve(md_srv_conn_t *c, size_t n)
{
    if (md_buf_reserve(&c->out, n) != MD_OK) {
        md_srv_log("response exceeds the %u-byte connection buffer", (unsigned)MD_SRV_OUT_MAX);
        return NULL;
    }
    return md_buf_tail(&c->out);
}

/* Marks n bytes written at the tail of `out` as queued. The owned-segment
 * rule in wq_own_seg() keeps a slot free whenever the last segment is an
 * owned one, so this always has room. */
static void out_commit(md_srv_conn_t *c, size_t n)
{
    if (n == 0)
        return;
    size_t off = c->out.len;
    md_buf_commit(&c->out, n);
    md_srv_seg_t *last = c->wq_n ? &c->wq[c->wq_n - 1] : NULL;
    if (last && !last->own && last->off + last->len == off)
        last->len += n;
    else
        c->wq[c->wq_n++] = (md_srv_seg_t){ NULL, off, n, 0 };
    c->wq_bytes += n;
}

int md_srv_queue_copy(md_srv_conn_t *c, const void *p, size_t n)
{
    char *d = out_reserve(c, n);
    if (!d)
        return MD_ETOOBIG;
    memcpy(d, p, n);
    out_commit(c, n);
    return MD_OK;
}

/* Takes ownership of own[0..n). */
static int wq_own_seg(md_srv_conn_t *c, char *own, size_t n)
{
    if (c->wq_n + 2 > MD_SRV_WQ_SEGS) {
        int rc = md_srv_queue_copy(c, own, n);
        md_free(own);
        return rc;
    }
    c->wq[c->wq_n++] = (md_srv_seg_t){ own, 0, n, 0 };
    c->wq_bytes += n;
    return MD_OK;
}

static int wq_copy_any(md_srv_conn_t *c, const char *p, size_t n)
{
    if (n > MD_SRV_COPY_MAX && c->wq_n + 2 <= MD_SRV_WQ_SEGS) {
        char *own = md_malloc(n);
        memcpy(own, p, n);
        return wq_own_seg(c, own, n);
    }
    return md_srv_queue_copy(c, p, n);
}

/* The response queued so far is complete (counted for max_pipelined). */
static void wq_mark_end(md_srv_conn_t *c)
{
    if (c->wq_n) {
        c->wq[c->wq_n - 1].ends++;
        c->queued_resps++;
    }
}

void md_srv_wq_clear(md_srv_conn_t *c)
{
    for (unsigned i = 0; i < c->wq_n; i++)
        md_free(c->wq[i].own);
    c->wq_n = 0;
    c->wq_bytes = 0;
    c->queued_resps = 0;
    md_buf_reset(&c->out);
}

/* A long stream never empties the queue, so drop the sent prefix of `out`
 * once it is big and most of the buffer. */
static void wq_compact(md_srv_conn_t *c)
{
    size_t dead = c->out.len;
    for (unsigned i = 0; i < c->wq_n; i++) {
        if (!c->wq[i].own) {
            dead = c->wq[i].off;
            break;
        }
    }
    if (dead < MD_SRV_OUT_COMPACT || dead < c->out.len / 2)
        return;
    md_buf_consume(&c->out, dead);
    for (unsigned i = 0; i < c->wq_n; i++)
        if (!c->wq[i].own)
            c->wq[i].off -= dead;
}

static void wq_advance(md_srv_conn_t *c, size_t n)
{
    unsigned done = 0;
    while (done < c->wq_n && n >= c->wq[done].len) {
        md_srv_seg_t *s = &c->wq[done++];
        n -= s->len;
        c->wq_bytes -= s->len;
        c->queued_resps -= s->ends;
        md_free(s->own);
    }
    if (done < c->wq_n && n) {
        c->wq[done].off += n;
        c->wq[done].len -= n;
        c->wq_bytes -= n;
    }
    if (done) {
        memmove(c->wq, c->wq + done, (c->wq_n - done) * sizeof(c->wq[0]));
        c->wq_n -= done;
    }
    if (c->wq_n == 0) {
        if (c->out.cap > MD_SRV_OUT_COMPACT)
            md_buf_free(&c->out); /* a big response's buffer is not kept */
        else
            md_buf_reset(&c->out);
    } else {
        wq_compact(c);
    }
}

static void wq_block(md_srv_conn_t *c, bool progress)
{
    c->write_blocked = true;
    if (progress || !md_timer_active(&c->wtimer))
        md_timer_start(c->w->loop, &c->wtimer, c->w->srv->limits.idle_timeout_ms);
    md_io_set(&c->io, c->io.events | MD_IO_WRITE);
}

/* One sendmsg of the queue followed by the borrowed x[0..nx). Returns how
 * many bytes of x went out (the queue goes first), or MD_ERESET after
 * closing a connection whose peer is gone. */
static ssize_t wq_send(md_srv_conn_t *c, const struct iovec *x, int nx)
{
    struct iovec iov[MD_SRV_WQ_SEGS + 4];
    size_t n = 0, total = c->wq_bytes;
    for (unsigned i = 0; i < c->wq_n; i++, n++) {
        const md_srv_seg_t *s = &c->wq[i];
        iov[n].iov_base = (s->own ? s->own : c->out.data) + s->off;
        iov[n].iov_len = s->len;
    }
    for (int i = 0; i < nx; i++, n++) {
        iov[n] = x[i];
        total += x[i].iov_len;
    }
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
    ssize_t sent;
    do
        sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            wq_block(c, false);
            return 0;
        }
        md_srv_conn_close(c, false);
        return MD_ERESET;
    }
    size_t q = MD_MIN((size_t)sent, c->wq_bytes);
    wq_advance(c, q);
    if ((size_t)sent < total)
        wq_block(c, sent > 0); /* a short write means the socket is full */
    else
        md_timer_stop(c->w->loop, &c->wtimer);
    return (ssize_t)((size_t)sent - q);
}

int md_srv_flush(md_srv_conn_t *c)
{
    if (c->closed)
        return MD_ERESET;
    if (c->wq_n == 0)
        return MD_OK;
    if (c->write_blocked)
        return MD_AGAIN; /* the WRITE event will come; no syscall to learn it */
    if (wq_send(c, NULL, 0) < 0)
        return MD_ERESET;
    return c->wq_n ? MD_AGAIN : MD_OK;
}

/* Queues x[0..nx) after what is queued. Outside a kick it first tries to
 * send everything straight from the caller's memory, copying only what the
 * socket does not take. */
static int wq_put(md_srv_conn_t *c, const struct iovec *x, int nx)
{
    size_t skip = 0;
    if (!c->processing && !c->write_blocked) {
        ssize_t s = wq_send(c, x, nx);
        if (s < 0)
            return MD_ERESET;
        skip = (size_t)s;
    }
    for (int i = 0; i < nx; i++) {
        const char *p = x[i].iov_base;
        size_t len = x[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        int rc = wq_copy_any(c, p + skip, len - skip);
        skip = 0;
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* Same for a body whose storage we own: large ones are queued as they are. */
static int wq_put_own(md_srv_conn_t *c, char *own, size_t len)
{
    if (len <= MD_SRV_COPY_MAX || c->wq_n + 2 > MD_SRV_WQ_SEGS) {
        struct iovec v = { own, len };
        int rc = wq_put(c, &v, 1);
        md_free(own);
        return rc;
    }
    int rc = wq_own_seg(c, own, len);
    if (rc == MD_OK && !c->processing)
        md_srv_flush(c);
    return c->closed ? MD_ERESET : rc;
}

/* ---- heads ---- */

static bool header_valid(const md_header_t *h)
{
    if (!h->name || h->name_len == 0 || (h->value_len && !h->value))
        return false;
    for (size_t i = 0; i < h->name_len; i++)
        if (!md_is_tchar((unsigned char)h->name[i]))
            return false;
    /* CR, LF and NUL would inject; the other CTLs are invalid anyway. */
    for (size_t i = 0; i < h->value_len; i++) {
        unsigned char ch = (unsigned char)h->value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

static bool headers_valid(const md_header_t *hs, size_t n)
{
    if (n && !hs)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!header_valid(&hs[i])) {
            md_srv_log("response header #%zu refused: bad name, or CR/LF/NUL/CTL in value", i);
            return false;
        }
    }
    return true;
}

static bool header_reserved(const md_header_t *h)
{
    return md_header_name_is(h, "content-length") || md_header_name_is(h, "transfer-encoding") ||
           md_header_name_is(h, "connection") || md_header_name_is(h, "date") ||
           md_header_name_is(h, "server");
}

static int check_status(int status)
{
    if (status >= 200 && status <= 599)
        return status;
    md_srv_log("response status %d refused, sending 500", status);
    return 500;
}

static bool status_has_body(int status)
{
    return status != 204 && status != 304;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* Writes "Name: value\r\n" for each header the server does not own. */
static char *put_headers(char *p, const md_header_t *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (header_reserved(&hs[i]))
            continue;
        p = put(p, hs[i].name, hs[i].name_len);
        p = PUT_LIT(p, ": ");
        p = put(p, hs[i].value, hs[i].value_len);
        p = PUT_LIT(p, "\r\n");
    }
    return p;
}

/* Queues the status line and headers. `clen` is used with FR_LENGTH. */
static int queue_head(md_srv_conn_t *c, int status, const md_header_t *hs, size_t n,
                      md_srv_framing_t fr, uint64_t clen, const char *ctype)
{
    bool close = !c->keep_alive || c->w->shutting_down || fr == MD_SRV_FR_CLOSE || c->rejected;
    const char *reason = md_http_reason(status);
    size_t rlen = strlen(reason), tlen = ctype ? strlen(ctype) : 0;
    size_t need = 160 + rlen + tlen;
    /* The application's per-request headers; none on the server's own
     * answers between requests. */
    const md_header_t *xs = c->req_held ? c->req.extra_headers : NULL;
    size_t nx = xs ? c->req.num_extra_headers : 0;
    if (nx && !headers_valid(xs, nx))
        nx = 0;
    for (size_t i = 0; i < n; i++)
        need += hs[i].name_len + hs[i].value_len + 4;
    for (size_t i = 0; i < nx; i++)
        need += xs[i].name_len + xs[i].value_len + 4;
    char *p = out_reserve(c, need);
    if (!p)
        return MD_ETOOBIG;
    char *start = p;
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = md_put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, reason, rlen);
    p = PUT_LIT(p, "\r\nServer: medley\r\nDate: ");
    p = put(p, md_srv_date(c->w), 29);
    p = PUT_LIT(p, "\r\n");
    if (ctype) {
        p = PUT_LIT(p, "Content-Type: ");
        p = put(p, ctype, tlen);
        p = PUT_LIT(p, "\r\n");
    }
    p = put_headers(p, hs, n);
    p = put_headers(p, xs, nx);
    if (fr == MD_SRV_FR_LENGTH) {
        p = PUT_LIT(p, "Content-Length: ");
        p = md_put_u64(p, clen);
        p = PUT_LIT(p, "\r\n");
    } else if (fr == MD_SRV_FR_CHUNKED) {
        p = PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
    }
    if (close)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (c->req.minor_version == 0)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    p = PUT_LIT(p, "\r\n");
    out_commit(c, (size_t)(p - start));
    c->must_close = close;
    c->framing = fr;
    c->resp_status = status;
    return MD_OK;
}

/* ---- JSON error bodies ---- */

/* {"error":{"status":S,"code":"...","message":"..."[,extra]}} into b,
 * escaped by the project's one JSON string writer. The message is cut at
 * MD_SRV_ERROR_MSG_MAX bytes: it may echo client input, and the writer
 * turns a sequence split by the cut into U+FFFD, so the body stays valid. */
static int error_body(md_buf_t *b, int status, const char *code, const char *msg,
                      const char *extra)
{
    int rc = md_buf_printf(b, "{\"error\":{\"status\":%d,\"code\":", status);
    if (rc == MD_OK)
        rc = md_json_write_string(b, code, strlen(code));
    if (rc == MD_OK)
        rc = md_buf_append_str(b, ",\"message\":");
    if (rc == MD_OK)
        rc = md_json_write_string(b, msg, MD_MIN(strlen(msg), MD_SRV_ERROR_MSG_MAX));
    if (rc == MD_OK && *extra)
        rc = md_buf_printf(b, ",%s", extra);
    if (rc == MD_OK)
        rc = md_buf_append_str(b, "}}");
    return rc;
}

static int queue_error(md_srv_conn_t *c, int status, const char *code, const char *msg,
                       const char *extra, const md_header_t *hs, size_t nhs)
{
    md_buf_t b;
    md_buf_init(&b, MD_SRV_ERROR_BODY_MAX);
    status = check_status(status);
    int rc = error_body(&b, status, code ? code : "error", msg ? msg : "", extra ? extra : "");
    if (rc != MD_OK) {
        md_srv_log("error body for status %d exceeds %u bytes", status,
                   (unsigned)MD_SRV_ERROR_BODY_MAX);
        md_buf_free(&b);
        return rc;
    }
    bool body = status_has_body(status);
    rc = queue_head(c, status, hs, nhs, body ? MD_SRV_FR_LENGTH : MD_SRV_FR_NONE, b.len,
                    "application/json");
    if (rc == MD_OK && body && !c->head_req) {
        rc = md_srv_queue_copy(c, b.data, b.len);
        c->resp_bytes += rc == MD_OK ? b.len : 0;
    }
    if (rc == MD_OK)
        wq_mark_end(c);
    md_buf_free(&b);
    return rc;
}

void md_srv_queue_server_error(md_srv_conn_t *c, int status, const char *code, const char *msg)
{
    c->keep_alive = false;
    c->head_req = false;
    c->state = MD_SRV_CLOSING;
    if (queue_error(c, status, code, msg, NULL, NULL, 0) != MD_OK)
        c->close_no_linger = true;
}

int md_srv_queue_error(md_srv_conn_t *c, int status, const char *code, const char *msg)
{
    return queue_error(c, status, code, msg, NULL, NULL, 0);
}

/* ---- whole responses ---- */

static bool req_live(const md_srv_conn_t *c, const char *fn)
{
    if (c->req_held)
        return true;
    md_srv_log("%s: the request is already finished", fn);
    return false;
}

/* The application's bug, not the client's: the client must not mistake
 * what it got for a complete response, so the connection closes. */
static void abort_response(md_srv_conn_t *c)
{
    if (c->closed)
        return;
    if (c->resp == MD_SRV_RESP_STREAM && c->framing == MD_SRV_FR_CLOSE && !c->head_req) {
        md_srv_conn_close(c, true); /* a FIN would look like a complete body */
        return;
    }
    c->must_close = true;
    c->close_no_linger = true;
}

static void respond_whole(md_srv_conn_t *c, int status, const md_header_t *hs, size_t n,
                          const char *body, size_t len, char *own)
{
    int rc;
    if (c->closed) {
        md_free(own);
        return;
    }
    if (!body && !own)
        len = 0;
    if (!headers_valid(hs, n)) {
        md_free(own);
        rc = queue_error(c, 500, "internal_error", "invalid response header", NULL, NULL, 0);
    } else {
        status = check_status(status);
        bool has_body = status_has_body(status);
        if (!has_body || c->head_req) {
            len = has_body ? len : 0;
            rc = queue_head(c, status, hs, n, has_body ? MD_SRV_FR_LENGTH : MD_SRV_FR_NONE, len,
                            NULL);
            md_free(own);
        } else {
            rc = queue_head(c, status, hs, n, MD_SRV_FR_LENGTH, len, NULL);
            if (rc == MD_OK)
                c->resp_bytes += len;
            if (rc == MD_OK && len && own) {
                rc = wq_put_own(c, own, len);
            } else if (rc == MD_OK && len) {
                struct iovec v = { (void *)body, len };
                rc = wq_put(c, &v, 1);
            } else {
                md_free(own);
            }
        }
        if (rc == MD_OK)
            wq_mark_end(c);
    }
    if (rc != MD_OK && !c->closed)
        md_srv_conn_close(c, true);
}

void md_http_respond(md_http_req_t *req, int status, const md_header_t *headers,
                     size_t nheaders, const char *body, size_t body_len)
{
    md_srv_conn_t *c = req->conn;
    if (!req_live(c, "md_http_respond"))
        return;
    md_srv_conn_enter(c);
    c->resp_status = status;
    if (c->resp != MD_SRV_RESP_NONE)
        abort_response(c);
    else
        respond_whole(c, status, headers, nheaders, body, body_len, NULL);
    md_srv_conn_finish(c);
    md_srv_conn_leave(c);
}

void md_http_respond_buf(md_http_req_t *req, int status, const md_header_t *headers,
                         size_t nheaders, md_buf_t *body)
{
    md_srv_conn_t *c = req->conn;
    size_t len = 0;
    char *own = body ? md_buf_detach(body, &len) : NULL;
    if (!own)
        len = 0;
    if (!req_live(c, "md_http_respond_buf")) {
        md_free(own);
        return;
    }
    md_srv_conn_enter(c);
    c->resp_status = status;
    if (c->resp != MD_SRV_RESP_NONE) {
        md_free(own);
        abort_response(c);
    } else {
        respond_whole(c, status, headers, nheaders, NULL, len, own);
    }
    md_srv_conn_finish(c);
    md_srv_conn_leave(c);
}

void md_http_respond_error(md_http_req_t *req, int status, const char *code,
                           const char *message, const char *extra_json)
{
    md_http_respond_error_h(req, status, code, message, extra_json, NULL, 0);
}

void md_http_respond_error_h(md_http_req_t *req, int status, const char *code, const char *message,
                             const char *extra_json, const md_header_t *headers, size_t nheaders)
{
    md_srv_conn_t *c = req->conn;
    if (!req_live(c, "md_http_respond_error"))
        return;
    md_srv_conn_enter(c);
    c->resp_status = status;
    if (!headers_valid(headers, nheaders)) {
        headers = NULL;
        nheaders = 0;
        status = 500;
        code = "internal_error";
        message = "invalid response header";
        extra_json = NULL;
    }
    if (c->resp != MD_SRV_RESP_NONE)
        abort_response(c);
    else if (!c->closed && queue_error(c, status, code, message, extra_json, headers, nheaders) != MD_OK)
        md_srv_conn_close(c, true);
    md_srv_conn_finish(c);
    md_srv_conn_leave(c);
}

/* ---- streaming ---- */

static int stream_backpressure(md_srv_conn_t *c)
{
    if (c->closed)
        return MD_ERESET;
    if (c->wq_bytes > MD_SRV_HIGH_WATER) {
        c->want_drain = true;
        return MD_AGAIN;
    }
    return MD_OK;
}

static int stream_begin(md_srv_conn_t *c, int status, const md_header_t *hs, size_t n,
                        int64_t content_length)
{
    if (c->closed) {
        c->resp = MD_SRV_RESP_STREAM;
        return MD_ERESET;
    }
    if (!headers_valid(hs, n)) {
        c->resp = MD_SRV_RESP_FAILED;
        if (queue_error(c, 500, "internal_error", "invalid response header", NULL, NULL, 0) != MD_OK)
            md_srv_conn_close(c, true);
        else if (!c->processing)
            md_srv_flush(c);
        return MD_EINVAL;
    }
    status = check_status(status);
    md_srv_framing_t fr = !status_has_body(status) ? MD_SRV_FR_NONE
                          : content_length >= 0     ? MD_SRV_FR_LENGTH
                          : c->req.minor_version >= 1 ? MD_SRV_FR_CHUNKED
                                                      : MD_SRV_FR_CLOSE;
    c->resp = MD_SRV_RESP_STREAM;
    c->stream_left = fr == MD_SRV_FR_LENGTH ? content_length : 0;
    int rc = queue_head(c, status, hs, n, fr, content_length >= 0 ? (uint64_t)content_length : 0,
                        NULL);
    if (rc != MD_OK)
        md_srv_conn_close(c, true);
    else if (!c->processing)
        md_srv_flush(c); /* the head goes out before the first body byte exists */
    return c->closed ? MD_ERESET : MD_OK;
}

int md_http_stream_start(md_http_req_t *req, int status, const md_header_t *headers,
                         size_t nheaders, int64_t content_length)
{
    md_srv_conn_t *c = req->conn;
    if (!req_live(c, "md_http_stream_start"))
        return MD_EINVAL;
    if (c->resp != MD_SRV_RESP_NONE) {
        md_srv_log("md_http_stream_start: a response was already started");
        return MD_EINVAL;
    }
    md_srv_conn_enter(c);
    c->resp_status = status;
    int rc = stream_begin(c, status, headers, nheaders, content_length);
    md_srv_conn_leave(c);
    return rc;
}

static size_t chunk_size_line(char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t k = 0, i = 0;
    do
        tmp[k++] = hex[n & 15];
    while ((n >>= 4) != 0);
    while (k)
        p[i++] = tmp[--k];
    p[i++] = '\r';
    p[i++] = '\n';
    return i;
}

static int stream_put(md_srv_conn_t *c, const char *data, size_t len)
{
    if (c->closed)
        return MD_ERESET;
    if (c->resp != MD_SRV_RESP_STREAM)
        return MD_EINVAL;
    if (len == 0 || c->head_req || c->framing == MD_SRV_FR_NONE)
        return stream_backpressure(c); /* an empty chunk would end the body */
    if (c->framing == MD_SRV_FR_LENGTH) {
        if ((uint64_t)len > (uint64_t)c->stream_left) {
            md_srv_log("md_http_stream_write: more bytes than the announced Content-Length");
            return MD_EINVAL;
        }
        c->stream_left -= (int64_t)len;
    }
    char line[24];
    struct iovec x[3];
    int nx = 0;
    if (c->framing == MD_SRV_FR_CHUNKED)
        x[nx++] = (struct iovec){ line, chunk_size_line(line, len) };
    x[nx++] = (struct iovec){ (void *)data, len };
    if (c->framing == MD_SRV_FR_CHUNKED)
        x[nx++] = (struct iovec){ (void *)"\r\n", 2 };
    if (wq_put(c, x, nx) != MD_OK) {
        md_srv_conn_close(c, true);
        return MD_ERESET;
    }
    c->resp_bytes += len;
    return stream_backpressure(c);
}

int md_http_stream_write(md_http_req_t *req, const char *data, size_t len)
{
    md_srv_conn_t *c = req->conn;
    if (!req_live(c, "md_http_stream_write"))
        return MD_EINVAL;
    md_srv_conn_enter(c);
    int rc = stream_put(c, data, len);
    md_srv_conn_leave(c);
    return rc;
}

void md_http_stream_on_drain(md_http_req_t *req, void (*cb)(md_http_req_t *req))
{
    md_srv_conn_t *c = req->conn;
    c->drain_cb = cb;
}

static void stream_finish(md_srv_conn_t *c)
{
    if (c->resp == MD_SRV_RESP_NONE) {
        md_srv_log("md_http_stream_end: no stream was started, sending 500");
        if (queue_error(c, 500, "internal_error", "response not started", NULL, NULL, 0) != MD_OK)
            md_srv_conn_close(c, true);
        return;
    }
    if (c->resp != MD_SRV_RESP_STREAM || c->head_req)
        return;
    if (c->framing == MD_SRV_FR_CHUNKED) {
        struct iovec v = { (void *)"0\r\n\r\n", 5 };
        if (wq_put(c, &v, 1) != MD_OK) {
            md_srv_conn_close(c, true);
            return;
        }
    } else if (c->framing == MD_SRV_FR_LENGTH && c->stream_left > 0) {
        md_srv_log("md_http_stream_end: body shorter than its Content-Length");
        abort_response(c);
        return;
    }
    wq_mark_end(c);
}

void md_http_stream_end(md_http_req_t *req)
{
    md_srv_conn_t *c = req->conn;
    if (!req_live(c, "md_http_stream_end"))
        return;
    md_srv_conn_enter(c);
    if (!c->closed)
        stream_finish(c);
    md_srv_conn_finish(c);
    md_srv_conn_leave(c);
}

void md_http_stream_abort(md_http_req_t *req)
{
    md_srv_conn_t *c = req->conn;
    if (!req_live(c, "md_http_stream_abort"))
        return;
    md_srv_conn_enter(c);
    abort_response(c);
    md_srv_conn_finish(c);
    md_srv_conn_leave(c);
}
