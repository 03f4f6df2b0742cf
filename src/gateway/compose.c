/*
 * compose.c - one composite request: fan out to every backend at once,
 * shape each answer as it arrives, merge, respond.
 *
 * Partial-failure contract (docs/config.md): a backend is required unless
 * `optional: true`. The first required backend to fail ends the request at
 * once with 502 (504 for a timeout) naming it; the other calls are
 * cancelled. A failed optional backend leaves its key out, adds its name to
 * the X-Medley-Incomplete header and, when the endpoint sets errors_field,
 * an entry under that key. The endpoint deadline times out whatever is
 * still running.
 *
 * All state lives in the request's pool; release() is registered on the
 * pool and is the one place that cancels calls and frees buffers.
 */
#include "gateway/internal.h"

#include "core/alloc.h"
#include "json/write.h"

#include <stdio.h>
#include <string.h>

typedef struct gw_compose gw_compose_t;

typedef struct gw_call {
    gw_compose_t *c;
    const gw_backend_t *b;
    md_upstream_call_t *call;   /* non-NULL while in flight */
    bool done;
    const char *kind;           /* NULL on success, else the failure kind */
    char message[160];
    md_buf_t frag;              /* the shaped fragment */
} gw_call_t;

struct gw_compose {
    md_http_req_t *req;
    const gw_endpoint_t *ep;
    gw_call_t *calls;
    size_t pending;
    md_timer_t deadline;
    bool finished;
};

static void release(void *arg)
{
    gw_compose_t *c = arg;
    md_timer_stop(c->req->loop, &c->deadline);
    for (size_t i = 0; i < c->ep->nbackends; i++) {
        if (c->calls[i].call)
            md_upstream_cancel(c->calls[i].call);
        c->calls[i].call = NULL;
        md_buf_free(&c->calls[i].frag);
    }
}

/* The Server-Timing header for the response, if telemetry wants one. */
static size_t timing_header(gw_compose_t *c, md_header_t *h)
{
    size_t len = 0;
    char *v = md_tm_server_timing(c->req->telemetry, c->req, &len);
    if (!v)
        return 0;
    *h = (md_header_t){ "Server-Timing", 13, v, len };
    return 1;
}

static void respond_backend_error(gw_compose_t *c, const gw_call_t *k)
{
    bool timeout = strcmp(k->kind, "timeout") == 0;
    char msg[256];
    snprintf(msg, sizeof(msg), "backend '%s' failed: %s", k->b->conf->name, k->message);
    md_buf_t extra;
    md_buf_init(&extra, 1024);
    md_buf_append_str(&extra, "\"backend\":");
    md_json_write_string(&extra, k->b->conf->name, strlen(k->b->conf->name));
    md_buf_printf(&extra, ",\"reason\":\"%s\"", k->kind);
    c->finished = true;
    md_header_t st;
    size_t nst = timing_header(c, &st);
    md_http_respond_error_h(c->req, timeout ? 504 : 502, timeout ? "backend_timeout" : "backend_failed", msg,
                            extra.data, &st, nst);
    md_buf_free(&extra);
}

/* {"name":{"error":"kind","message":"..."},...} for failed optional backends. */
static void errors_json(gw_compose_t *c, md_buf_t *out, md_buf_t *names)
{
    md_buf_append_char(out, '{');
    for (size_t i = 0; i < c->ep->nbackends; i++) {
        const gw_call_t *k = &c->calls[i];
        if (!k->kind)
            continue;
        if (out->len > 1)
            md_buf_append_char(out, ',');
        if (names->len)
            md_buf_append(names, ", ", 2);
        md_buf_append_str(names, k->b->conf->name);
        md_json_write_string(out, k->b->conf->name, strlen(k->b->conf->name));
        md_buf_printf(out, ":{\"error\":\"%s\",\"message\":", k->kind);
        md_json_write_string(out, k->message, strlen(k->message));
        md_buf_append_char(out, '}');
    }
    md_buf_append_char(out, '}');
}

static void respond_merged(gw_compose_t *c)
{
    size_t n = c->ep->nbackends;
    md_fragment_t *frags = md_pool_alloc(c->req->pool, n * sizeof(*frags));
    bool incomplete = false;
    for (size_t i = 0; i < n; i++) {
        frags[i].json = c->calls[i].kind ? NULL : c->calls[i].frag.data;
        frags[i].len = c->calls[i].frag.len;
        incomplete |= c->calls[i].kind != NULL;
    }
    md_buf_t errs, names, body;
    md_buf_init(&errs, 64 * 1024);
    md_buf_init(&names, 4096);
    md_buf_init(&body, 0);
    if (incomplete)
        errors_json(c, &errs, &names);
    const char *field = names.len ? c->ep->conf->errors_field : NULL;
    c->finished = true;
    if (md_merge_write(c->ep->merge, frags, field, errs.data, errs.len, &body) != MD_OK) {
        md_buf_free(&body);
        md_http_respond_error(c->req, 502, "merge_failed", "backend answers could not be merged", NULL);
    } else {
        md_header_t hs[3] = { { "Content-Type", 12, "application/json", 16 } };
        size_t nh = 1;
        if (names.len)
            hs[nh++] = (md_header_t){ "X-Medley-Incomplete", 19, names.data, names.len };
        nh += timing_header(c, &hs[nh]);
        md_tm_req_t *t = c->req->telemetry;
        if (t)
            t->incomplete = names.len > 0;
        md_http_respond_buf(c->req, 200, hs, nh, &body);
    }
    md_buf_free(&errs);
    md_buf_free(&names);
}

/* Called whenever a call completes: fail fast on a required failure, or
 * respond once nothing is pending. */
static void progress(gw_compose_t *c, gw_call_t *k)
{
    if (c->finished)
        return;
    if (k && k->kind && !k->b->conf->optional) {
        respond_backend_error(c, k);
        return;
    }
    if (c->pending == 0)
        respond_merged(c);
}

static void fail_call(gw_call_t *k, const char *kind, const char *fmt, const char *detail)
{
    k->kind = kind;
    snprintf(k->message, sizeof(k->message), fmt, detail);
}

static void shape_answer(gw_call_t *k, md_upstream_result_t *res)
{
    if (res->error != MD_OK) {
        fail_call(k, gw_error_kind(res->error), "%s", md_strerror(res->error));
        return;
    }
    if (res->status < 200 || res->status > 299) {
        char st[16];
        snprintf(st, sizeof(st), "%d", res->status);
        fail_call(k, "status", "backend returned status %s", st);
        return;
    }
    char err[128];
    md_buf_init(&k->frag, k->b->conf->up->max_response_bytes);
    int rc = md_shape_apply(k->b->shape, res->body.data ? res->body.data : "", res->body.len, &k->frag, err,
                            sizeof(err));
    if (rc == MD_EINVAL)
        fail_call(k, "invalid_json", "invalid JSON: %s", err);
    else if (rc == MD_ENOTFOUND)
        fail_call(k, "shape", "%s", err);
    else if (rc != MD_OK)
        fail_call(k, "too_big", "%s", err);
}

static void on_answer(md_upstream_result_t *res, void *arg)
{
    gw_call_t *k = arg;
    k->call = NULL;
    k->done = true;
    k->c->pending--;
    shape_answer(k, res);
    md_tm_call_end(k->c->req->telemetry, (size_t)(k - k->c->calls), res->status, md_tm_outcome_of_kind(k->kind),
                   res->duration_us);
    md_buf_free(&res->body);
    progress(k->c, k);
}

static void on_deadline(md_timer_t *t)
{
    gw_compose_t *c = t->data;
    gw_call_t *first_required = NULL;
    uint64_t now = md_now_us();
    for (size_t i = 0; i < c->ep->nbackends; i++) {
        gw_call_t *k = &c->calls[i];
        if (k->done)
            continue;
        md_tm_call_end(c->req->telemetry, i, 0, MD_TM_TIMEOUT, now - c->req->start_us);
        md_upstream_cancel(k->call);
        k->call = NULL;
        k->done = true;
        c->pending--;
        fail_call(k, "timeout", "%s", "endpoint deadline exceeded");
        if (!k->b->conf->optional && !first_required)
            first_required = k;
    }
    progress(c, first_required);
}

static void on_abort(md_http_req_t *req)
{
    gw_compose_t *c = req->app_data;
    if (c->finished)
        return;
    c->finished = true;
    /* The client is gone; finishing frees the pool, and release() cancels. */
    md_http_respond(req, 499, NULL, 0, NULL, 0);
}

void gw_compose(gw_worker_t *w, const gw_endpoint_t *ep, gw_inputs_t *in)
{
    md_http_req_t *req = in->req;
    size_t n = ep->nbackends;
    char msg[256];
    md_upstream_req_t *ureqs = md_pool_calloc(req->pool, n * sizeof(*ureqs));
    /* Render every call first: a bad input fails with no backend called. */
    for (size_t i = 0; i < n; i++) {
        if (gw_render_backend(&ep->backends[i], in, &ureqs[i], msg, sizeof(msg)) != MD_OK) {
            md_http_respond_error(req, 400, "invalid_input", msg, NULL);
            return;
        }
    }
    gw_compose_t *c = md_pool_calloc(req->pool, sizeof(*c));
    c->req = req;
    c->ep = ep;
    c->calls = md_pool_calloc(req->pool, n * sizeof(*c->calls));
    md_timer_init(&c->deadline, on_deadline, c);
    md_pool_on_release(req->pool, release, c);
    req->app_data = c;
    req->on_abort = on_abort;
    for (size_t i = 0; i < n; i++) {
        gw_call_t *k = &c->calls[i];
        k->c = c;
        k->b = &ep->backends[i];
        md_buf_init(&k->frag, 1);
        k->call = md_upstream_call(w->upstreams[k->b->upstream], &ureqs[i], on_answer, k);
        if (k->call) {
            c->pending++;
            md_tm_call_start(req->telemetry, i);
        } else {
            k->done = true;
            fail_call(k, "overloaded", "%s", "too many calls queued for this upstream");
            md_tm_call_end(req->telemetry, i, 0, MD_TM_OVERLOADED, 0);
        }
    }
    md_timer_start(req->loop, &c->deadline, ep->conf->deadline_ms);
    /* One progress() call: it may finish the request, after which c is gone. */
    gw_call_t *failed = NULL;
    for (size_t i = 0; i < n && !failed; i++)
        if (c->calls[i].kind && !c->calls[i].b->conf->optional)
            failed = &c->calls[i];
    progress(c, failed);
}
