/*
 * telemetry.c - the gateway's side of telemetry (src/telemetry/): each
 * worker's telemetry state, whose tick copies the worker's upstream pool
 * gauges into the metrics, and the server's on_finish hook that hands every
 * finished request to md_tm_finish(). compose.c and passthrough.c fill in
 * the per-request record as backend calls end; gw_render_backend
 * (gateway.c) adds each call's trace context headers from it
 * (md_tm_trace_headers). The telemetry object always exists, even with
 * metrics, log and Server-Timing off, so trace context is always passed on.
 */
#include "gateway/internal.h"

void md_gateway_set_telemetry(md_gateway_t *gw, md_telemetry_t *tm)
{
    gw->tm = md_telemetry_active(tm) ? tm : NULL;
}

static void refresh_upstreams(md_tm_worker_t *tw, void *arg)
{
    gw_worker_t *w = arg;
    for (size_t i = 0; i < w->gw->cfg->nupstreams; i++) {
        md_upstream_stats_t st;
        md_upstream_get_stats(w->upstreams[i], &st);
        md_tm_set_upstream(tw, i, st.open, st.idle);
    }
}

void gw_tm_worker_init(gw_worker_t *w, md_worker_t *mw)
{
    w->tm = md_tm_worker_new(w->gw->tm, md_worker_index(mw), w->loop, refresh_upstreams, w);
}

void gw_tm_worker_fini(gw_worker_t *w)
{
    md_tm_worker_free(w->tm);
    w->tm = NULL;
}

static void on_finish(md_http_req_t *req, const md_http_done_t *done, void *app)
{
    MD_UNUSED(app);
    gw_worker_t *w = md_worker_data(req->worker);
    if (w)
        md_tm_finish(w->tm, req, done);
}

void gw_tm_hooks(md_gateway_t *gw, md_server_hooks_t *hooks)
{
    hooks->on_finish = gw->tm ? on_finish : NULL;
}
