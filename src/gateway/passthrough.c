/*
 * passthrough.c - a passthrough endpoint: one upstream response proxied
 * unchanged (status, end-to-end headers, body), streamed as it arrives with
 * backpressure: when the client's send queue is full the upstream reads
 * pause until it drains. An upstream failure before the head is a 502/504
 * JSON error; after the head, the client connection is cut so a truncated
 * body can never look complete.
 */
#include "gateway/internal.h"

#include <string.h>

typedef struct gw_pass {
    md_http_req_t *req;
    md_upstream_call_t *call;
    md_gateway_t *gw;
    size_t upstream;
    uint64_t started_us;        /* when the call started: which token it carried */
    bool head_sent;
    bool finished;
    uint64_t streamed;          /* body bytes passed on to the client */
} gw_pass_t;

/* The call's outcome; its duration runs from the request's start, and the
 * same clock read ends the request's own timing. Nothing is shaped, so
 * what came in is what went out. */
static void record_end(gw_pass_t *p, int error)
{
    md_http_req_t *req = p->req;
    md_tm_req_t *t = req->telemetry;
    if (!t || !t->ncalls)
        return;
    t->end_us = md_now_us();
    md_tm_call_end(t, 0, t->calls[0].status, md_tm_outcome_of_error(error), t->end_us - req->start_us);
    md_tm_call_bytes(t, 0, p->streamed, p->streamed);
}

/* Headers the server writes itself or that describe the old framing. */
static bool skip_header(const md_header_t *h)
{
    return md_header_name_is(h, "Content-Length") || md_header_name_is(h, "Date") ||
           md_header_name_is(h, "Server") || md_header_name_is(h, "Transfer-Encoding") ||
           md_header_name_is(h, "Connection");
}

static void on_head(void *arg, int status, const md_header_t *headers, size_t n, int64_t content_length)
{
    gw_pass_t *p = arg;
    if (p->finished)
        return;
    md_tm_req_t *t = p->req->telemetry;
    if (t && t->ncalls)
        t->calls[0].status = status > 0 && status < 1000 ? (uint16_t)status : 0;
    if (status == 401) { /* an oauth2 upstream refusing our token: fetch anew */
        md_upstream_result_t r = { .error = MD_OK, .status = status, .duration_us = md_now_us() - p->started_us };
        gw_outbound_unauthorized(p->gw, p->upstream, &r);
    }
    md_header_t *out = md_pool_alloc(p->req->pool, (n ? n : 1) * sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip_header(&headers[i]))
            out[k++] = headers[i];
    if (md_http_stream_start(p->req, status, out, k, content_length) == MD_OK)
        p->head_sent = true;
}

static void on_drain(md_http_req_t *req)
{
    gw_pass_t *p = req->app_data;
    if (p->call)
        md_upstream_resume(p->call);
}

static int on_data(void *arg, const char *data, size_t len)
{
    gw_pass_t *p = arg;
    if (p->finished || !p->head_sent)
        return MD_OK;
    int rc = md_http_stream_write(p->req, data, len);
    if (rc == MD_OK || rc == MD_AGAIN)
        p->streamed += len;
    if (rc == MD_AGAIN) {
        md_http_stream_on_drain(p->req, on_drain);
        return MD_AGAIN;
    }
    return MD_OK;
}

static void on_end(void *arg, int error)
{
    gw_pass_t *p = arg;
    p->call = NULL;
    if (p->finished)
        return;
    p->finished = true;
    record_end(p, error);
    if (p->head_sent) {
        if (error == MD_OK)
            md_http_stream_end(p->req);
        else
            md_http_stream_abort(p->req);
        return;
    }
    bool timeout = error == MD_ETIMEDOUT;
    md_http_respond_error(p->req, timeout ? 504 : 502, timeout ? "backend_timeout" : "backend_failed",
                          "the upstream did not answer", NULL);
}

static void on_abort(md_http_req_t *req)
{
    gw_pass_t *p = req->app_data;
    if (p->finished)
        return;
    p->finished = true;
    if (p->call)
        md_upstream_cancel(p->call);
    p->call = NULL;
    if (p->head_sent)
        md_http_stream_abort(req);
    else
        md_http_respond(req, 499, NULL, 0, NULL, 0);
}

static const md_upstream_stream_cbs_t cbs = { on_head, on_data, on_end };

void gw_passthrough(gw_worker_t *w, const gw_endpoint_t *ep, gw_inputs_t *in)
{
    md_http_req_t *req = in->req;
    const gw_backend_t *b = &ep->backends[0];
    md_upstream_req_t ureq;
    char msg[256];
    int rc = gw_render_backend(b, in, &ureq, msg, sizeof(msg));
    if (rc == MD_ENOTFOUND) {
        md_http_respond_error(req, 502, "backend_failed", msg, "\"reason\":\"auth\"");
        return;
    }
    if (rc != MD_OK) {
        md_http_respond_error(req, 400, "invalid_input", msg, NULL);
        return;
    }
    gw_pass_t *p = md_pool_calloc(req->pool, sizeof(*p));
    p->req = req;
    p->gw = w->gw;
    p->upstream = b->upstream;
    p->started_us = md_now_us();
    req->app_data = p;
    req->on_abort = on_abort;
    p->call = md_upstream_stream(w->upstreams[b->upstream], &ureq, &cbs, p);
    md_tm_call_start(req->telemetry, 0);
    if (!p->call) {
        md_tm_call_end(req->telemetry, 0, 0, MD_TM_OVERLOADED, 0);
        p->finished = true;
        md_http_respond_error(req, 503, "overloaded", "too many calls queued for this upstream", NULL);
    }
}
