/*
 * telemetry.c - the gateway's side of telemetry (src/telemetry/): each
 * worker's telemetry state, whose tick copies the worker's upstream pool
 * gauges into the metrics, and the server's on_finish hook that hands every
 * finished request to md_tm_finish() (on_reject: every request the server
 * refused itself, to md_tm_reject()). compose.c and passthrough.c fill in
 * the per-request record as backend calls end; gw_render_backend
 * (gateway.c) adds each call's trace context headers from it
 * (md_tm_trace_headers); guard.c counts 429s and how Redis-backed limits
 * were decided here; worker 0's tick also publishes the counters of the
 * credentials outbound.c fetches in the background (JWKS, OAuth2 tokens).
 * The telemetry object always exists, even with metrics, log and
 * Server-Timing off, so trace context is always passed on.
 */
#include "gateway/internal.h"

void md_gateway_set_telemetry(md_gateway_t *gw, md_telemetry_t *tm)
{
    gw->tm = md_telemetry_active(tm) ? tm : NULL;
}

/* The background credentials' counters and each key set's size: they are
 * process-wide, so only the first worker copies them. */
static void refresh_credentials(md_tm_worker_t *tw, md_gateway_t *gw)
{
    gw_refresh_stats_t rs;
    for (size_t p = 0; p < gw->cfg->auth.nproviders; p++) {
        if (gw_jwks_stats(gw, p, &rs) != MD_OK)
            continue;
        md_jwks_t *ks = gw_jwks_acquire(gw, p);
        uint64_t keys = ks ? md_jwks_count(ks) : 0;
        md_jwks_release(ks);
        md_metrics_fetches_t f = { rs.fetches_ok, rs.fetches_failed, rs.forced };
        md_tm_set_jwks(tw, p, &f, keys);
    }
    for (size_t u = 0; u < gw->cfg->nupstreams; u++) {
        if (gw_oauth_stats(gw, u, &rs) != MD_OK)
            continue;
        md_metrics_fetches_t f = { rs.fetches_ok, rs.fetches_failed, rs.forced };
        md_tm_set_oauth2(tw, u, &f);
    }
}

/* Every tick: the worker's pool gauges and call counts, its Redis
 * client's state, and (the first worker) the shared store's and the
 * background credentials'. */
static void refresh_gauges(md_tm_worker_t *tw, void *arg)
{
    gw_worker_t *w = arg;
    for (size_t i = 0; i < w->gw->cfg->nupstreams; i++) {
        md_upstream_stats_t st;
        md_upstream_get_stats(w->upstreams[i], &st);
        md_tm_set_upstream(tw, i, st.open, st.idle, st.calls);
    }
    if (w->redis) {
        md_redis_stats_t rs;
        md_redis_get_stats(w->redis, &rs);
        md_tm_set_redis(tw, rs.up, rs.errors, rs.timeouts, rs.refused);
    }
    if (w->purge_sub) {
        md_redis_stats_t ps;
        md_redis_get_stats(w->purge_sub, &ps);
        md_tm_set_purge_messages(tw, w->purge_applied, w->purge_ignored + ps.ignored);
    }
    if (w->gw->store && w->index == 0) {
        md_cache_stats_t cs;
        md_cache_get_stats(w->gw->store, &cs);
        md_metrics_store_t ms = { cs.entries, cs.bytes, cs.evictions };
        md_tm_set_cache_store(tw, &ms);
    }
    if (w->index == 0)
        refresh_credentials(tw, w->gw);
}

void gw_tm_worker_init(gw_worker_t *w, md_worker_t *mw)
{
    w->tm = md_tm_worker_new(w->gw->tm, md_worker_index(mw), w->loop, refresh_gauges, w);
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

static void on_reject(md_worker_t *mw, const md_http_reject_t *r, void *app)
{
    MD_UNUSED(app);
    gw_worker_t *w = md_worker_data(mw);
    if (w)
        md_tm_reject(w->tm, r);
}

void gw_tm_rate_limited(gw_worker_t *w, const gw_inputs_t *in, size_t limit)
{
    md_metrics_rate_limited(md_telemetry_metrics(w->gw->tm), w->index, (int)(in->ep - w->gw->endpoints), limit);
}

void gw_tm_rate_limit_redis(gw_worker_t *w, bool fallback)
{
    md_metrics_rate_limit_redis(md_telemetry_metrics(w->gw->tm), w->index, fallback);
}

void gw_tm_hooks(md_gateway_t *gw, md_server_hooks_t *hooks)
{
    hooks->on_finish = gw->tm ? on_finish : NULL;
    hooks->on_reject = gw->tm ? on_reject : NULL;
}
