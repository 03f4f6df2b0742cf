/*
 * admin.c - the admin listener's three endpoints (contract in admin.h).
 *
 * It is an ordinary md_server_t with one worker and tight limits: the
 * requests are small GETs from a scraper or an orchestrator's probe. Its
 * own requests are not counted in the metrics (no on_finish hook).
 */
#include "telemetry/admin.h"

#include "core/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct md_admin {
    md_server_t *srv;
    md_telemetry_t *tm;
    md_server_t *target;
    pthread_t thread;
    bool started;
    md_admin_route_t route;     /* all NULL when none */
};

static const md_limits_t admin_limits = {
    .max_header_bytes = 8 * 1024,
    .max_headers = 32,
    .max_body_bytes = 1024,
    .header_timeout_ms = 5000,
    .body_timeout_ms = 5000,
    .idle_timeout_ms = 30000,
    .max_connections = 64,
    .max_inflight = 16,
    .shutdown_timeout_ms = 1000,
    .max_pipelined = 4,
};

static bool path_is(const md_http_req_t *req, const char *p)
{
    size_t n = strlen(p);
    return req->path.len == n && memcmp(req->path.ptr, p, n) == 0;
}

static bool method_is(const md_http_req_t *req, const char *m)
{
    size_t n = strlen(m);
    return req->method.len == n && memcmp(req->method.ptr, m, n) == 0;
}

static void respond_json(md_http_req_t *req, int status, const char *body)
{
    md_header_t hs[2] = { { "Content-Type", 12, "application/json", 16 }, { "Cache-Control", 13, "no-store", 8 } };
    md_http_respond(req, status, hs, 2, body, strlen(body));
}

static void serve_metrics(md_admin_t *a, md_http_req_t *req)
{
    md_metrics_gauges_t g = { 0 };
    if (a->target) {
        md_server_stats_t st;
        md_server_get_stats(a->target, &st);
        g.requests_in_flight = st.requests_in_flight;
        g.connections_open = st.connections_open;
    }
    md_accesslog_t *log = md_telemetry_log(a->tm);
    g.has_access_log = log != NULL;
    g.access_log_dropped = md_accesslog_dropped(log);
    md_otlp_stats_t ts;
    md_otlp_get_stats(md_telemetry_otlp(a->tm), &ts);
    g.has_trace_export = md_telemetry_otlp(a->tm) != NULL;
    g.trace_spans_exported = ts.exported;
    g.trace_spans_dropped = ts.dropped;
    g.trace_export_failures = ts.failures;
    md_metrics_t *m = md_telemetry_metrics(a->tm);
    md_buf_t body;
    md_buf_init(&body, MD_METRICS_MAX_BYTES);
    if (!m || md_metrics_render(m, &g, &body) != MD_OK) {
        md_buf_free(&body);
        md_http_respond_error(req, 500, "metrics_unavailable", "the metrics could not be rendered", NULL);
        return;
    }
    md_header_t hs[2] = { { "Content-Type", 12, "text/plain; version=0.0.4; charset=utf-8", 40 },
                          { "Cache-Control", 13, "no-store", 8 } };
    md_http_respond_buf(req, 200, hs, 2, &body);
}

static void serve_readyz(md_admin_t *a, md_http_req_t *req)
{
    if (a->target && md_server_ready(a->target))
        respond_json(req, 200, "{\"status\":\"ready\"}");
    else if (a->target && md_server_draining(a->target))
        respond_json(req, 503, "{\"status\":\"draining\"}");
    else
        respond_json(req, 503, "{\"status\":\"starting\"}");
}

static void handle(md_http_req_t *req, void *app)
{
    md_admin_t *a = app;
    bool known = path_is(req, "/metrics") || path_is(req, "/healthz") || path_is(req, "/readyz");
    if (!known && a->route.handle && a->route.handle(req, a->route.arg))
        return;
    if (!known) {
        md_http_respond_error(req, 404, "not_found", "admin endpoints: /metrics, /healthz, /readyz", NULL);
        return;
    }
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
        md_header_t allow = { "Allow", 5, "GET, HEAD", 9 };
        md_http_respond_error_h(req, 405, "method_not_allowed", "method not allowed on this path", NULL, &allow, 1);
        return;
    }
    if (path_is(req, "/metrics"))
        serve_metrics(a, req);
    else if (path_is(req, "/healthz"))
        respond_json(req, 200, "{\"status\":\"ok\"}");
    else
        serve_readyz(a, req);
}

static int worker_init(md_worker_t *w, void *app, void **data)
{
    md_admin_t *a = app;
    *data = NULL;
    return a->route.worker_init ? a->route.worker_init(md_worker_loop(w), a->route.arg) : MD_OK;
}

static void worker_fini(md_worker_t *w, void *app, void *data)
{
    MD_UNUSED(w);
    MD_UNUSED(data);
    md_admin_t *a = app;
    if (a->route.worker_fini)
        a->route.worker_fini(a->route.arg);
}

void md_admin_set_route(md_admin_t *a, const md_admin_route_t *route)
{
    a->route = *route;
}

md_admin_t *md_admin_new(const char *host, uint16_t port, md_telemetry_t *tm, char *err, size_t errlen)
{
    md_admin_t *a = md_calloc(1, sizeof(*a));
    a->tm = tm;
    md_server_hooks_t hooks = { .handler = handle, .app = a, .worker_init = worker_init, .worker_fini = worker_fini };
    a->srv = md_server_new(host, port, 1, &admin_limits, &hooks, err, errlen);
    if (!a->srv) {
        md_free(a);
        return NULL;
    }
    return a;
}

static void *admin_main(void *arg)
{
    md_admin_t *a = arg;
    md_server_run(a->srv);
    return NULL;
}

int md_admin_start(md_admin_t *a, md_server_t *target)
{
    if (a->started)
        return MD_OK;
    a->target = target; /* before the thread exists: no race */
    int rc = pthread_create(&a->thread, NULL, admin_main, a);
    if (rc != 0) {
        fprintf(stderr, "medley: admin: cannot start its thread: %s\n", strerror(rc));
        return MD_ERR;
    }
    a->started = true;
    return MD_OK;
}

void md_admin_stop(md_admin_t *a)
{
    if (!a || !a->started)
        return;
    md_server_shutdown(a->srv);
    pthread_join(a->thread, NULL);
    a->started = false;
}

void md_admin_free(md_admin_t *a)
{
    if (!a)
        return;
    md_admin_stop(a);
    md_server_free(a->srv);
    md_free(a);
}

uint16_t md_admin_port(const md_admin_t *a)
{
    return md_server_port(a->srv);
}
