/*
 * Unit tests for telemetry/admin: /healthz, /readyz through the main
 * server's life (starting, ready, draining), /metrics (content type, the
 * main server's in-flight and connection gauges while a request is held),
 * 404 and 405, and a busy admin port reported at creation. The main server
 * here is a real md_server_t whose /slow answers from a timer.
 */
#include "testutil.h"

#include "core/loop.h"
#include "core/pool.h"
#include "http/server.h"
#include "telemetry/admin.h"

#include "http_client.h"

#include <pthread.h>
#include <time.h>

static const char yaml[] = "listen: 127.0.0.1:0\n"
                           "upstreams: { news: { url: \"http://127.0.0.1:1\" } }\n"
                           "access_log: off\n"
                           "endpoints:\n"
                           "  - path: /home\n"
                           "    backends: [ { upstream: news, path: /n } ]\n";

typedef struct slow {
    md_timer_t timer;
    md_http_req_t *req;
} slow_t;

static void slow_fire(md_timer_t *t)
{
    slow_t *s = t->data;
    md_http_respond(s->req, 200, NULL, 0, "late", 4);
}

static void slow_release(void *arg)
{
    slow_t *s = arg;
    md_timer_stop(s->req->loop, &s->timer);
}

static void handler(md_http_req_t *req, void *app)
{
    (void)app;
    slow_t *s = md_pool_calloc(req->pool, sizeof(*s));
    s->req = req;
    md_timer_init(&s->timer, slow_fire, s);
    md_timer_start(req->loop, &s->timer, 400);
    md_pool_on_release(req->pool, slow_release, s);
}

static void *run_server(void *arg)
{
    md_server_run(arg);
    return NULL;
}

typedef struct world {
    md_config_t *cfg;
    md_telemetry_t *tm;
    md_server_t *main;
    md_admin_t *admin;
    uint16_t aport;
} world_t;

static void world_start(world_t *w)
{
    md_diag_t d;
    char err[256];
    w->cfg = md_config_load_string(yaml, strlen(yaml), "a.yaml", &d);
    assert_non_null(w->cfg);
    w->tm = md_telemetry_new(w->cfg, 1, err, sizeof(err));
    assert_non_null(w->tm);
    md_server_hooks_t hooks = { .handler = handler };
    w->main = md_server_new("127.0.0.1", 0, 1, NULL, &hooks, err, sizeof(err));
    assert_non_null(w->main);
    w->admin = md_admin_new("127.0.0.1", 0, w->tm, err, sizeof(err));
    assert_non_null(w->admin);
    assert_int_equal(md_admin_start(w->admin, w->main), MD_OK);
    w->aport = md_admin_port(w->admin);
}

static void world_stop(world_t *w)
{
    md_admin_free(w->admin);
    md_server_free(w->main);
    md_telemetry_free(w->tm);
    md_config_free(w->cfg);
}

static void expect(uint16_t port, const char *raw, int status, const char *body)
{
    tc_resp_t r = tc_request(port, raw);
    if (r.status != status || (body && (!r.body || strcmp(r.body, body) != 0)))
        fail_msg("%s -> %d %s (wanted %d %s)", raw, r.status, r.body ? r.body : "", status, body ? body : "");
    free(r.body);
}

/* Polls GET path until its body contains `frag` (at most ~3 s). */
static bool eventually(uint16_t port, const char *raw, const char *frag)
{
    for (int i = 0; i < 300; i++) {
        tc_resp_t r = tc_request(port, raw);
        bool ok = r.body && strstr(r.body, frag);
        free(r.body);
        if (ok)
            return true;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return false;
}

#define GET(p) "GET " p " HTTP/1.1\r\nHost: admin\r\n\r\n"

static void health_readiness_and_errors(void **state)
{
    (void)state;
    world_t w;
    world_start(&w);
    expect(w.aport, GET("/healthz"), 200, "{\"status\":\"ok\"}");
    expect(w.aport, GET("/readyz"), 503, "{\"status\":\"starting\"}"); /* main server not running */
    expect(w.aport, GET("/nope"), 404, NULL);
    expect(w.aport, GET("/metrics?x=1"), 200, NULL);
    tc_resp_t r = tc_request(w.aport, "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r.status, 405);
    char allow[64];
    assert_non_null(tc_header(&r, "Allow", allow, sizeof(allow)));
    assert_string_equal(allow, "GET, HEAD");
    free(r.body);
    r = tc_request(w.aport, "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_int_equal(r.status, 200);
    free(r.body);

    pthread_t th;
    pthread_create(&th, NULL, run_server, w.main);
    assert_true(eventually(w.aport, GET("/readyz"), "{\"status\":\"ready\"}"));
    md_server_shutdown(w.main);
    expect(w.aport, GET("/readyz"), 503, "{\"status\":\"draining\"}");
    expect(w.aport, GET("/healthz"), 200, "{\"status\":\"ok\"}"); /* alive while draining */
    pthread_join(th, NULL);
    expect(w.aport, GET("/readyz"), 503, "{\"status\":\"draining\"}");
    world_stop(&w);
}

static void metrics_report_the_main_servers_gauges(void **state)
{
    (void)state;
    world_t w;
    world_start(&w);
    pthread_t th;
    pthread_create(&th, NULL, run_server, w.main);
    tc_resp_t r = tc_request(w.aport, GET("/metrics"));
    assert_int_equal(r.status, 200);
    char ctype[128];
    assert_non_null(tc_header(&r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "# TYPE medley_requests_total counter\n"));
    assert_non_null(strstr(r.body, "\nmedley_requests_in_flight 0\n"));
    assert_null(strstr(r.body, "medley_access_log_dropped_total")); /* the log is off */
    free(r.body);

    int fd = tc_connect(md_server_port(w.main));
    assert_true(fd >= 0);
    tc_send(fd, "GET /slow HTTP/1.1\r\nHost: m\r\n\r\n"); /* held 400 ms by the handler */
    assert_true(eventually(w.aport, GET("/metrics"), "\nmedley_requests_in_flight 1\n"));
    assert_true(eventually(w.aport, GET("/metrics"), "\nmedley_connections_open 1\n"));
    r = tc_read(fd, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "late");
    free(r.body);
    assert_true(eventually(w.aport, GET("/metrics"), "\nmedley_requests_in_flight 0\n"));
    close(fd);
    assert_true(eventually(w.aport, GET("/metrics"), "\nmedley_connections_open 0\n"));
    md_server_shutdown(w.main);
    pthread_join(th, NULL);
    world_stop(&w);
}

static void a_busy_admin_port_is_reported(void **state)
{
    (void)state;
    world_t w;
    world_start(&w);
    char err[256] = "";
    md_admin_t *again = md_admin_new("127.0.0.1", w.aport, w.tm, err, sizeof(err));
    assert_null(again);
    assert_non_null(strstr(err, "Address already in use"));
    md_admin_stop(NULL);
    md_admin_free(NULL);
    world_stop(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_readiness_and_errors),
        cmocka_unit_test(metrics_report_the_main_servers_gauges),
        cmocka_unit_test(a_busy_admin_port_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
