/*
 * Unit tests for telemetry/telemetry: outcome names and mappings, the
 * per-request record, the Server-Timing value (names, one-decimal rounding,
 * which calls appear), and the whole path through a real md_server_t: its
 * on_finish hook reports status, body bytes and the client address, and
 * md_tm_finish turns them into exact counters and access log lines that
 * hold no secret sent by the client (Authorization, Cookie, query), with
 * each call's bytes, and hands every finished request to the observer.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/pool.h"
#include "http/server.h"
#include "json/scan.h"
#include "telemetry/telemetry.h"

#include "http_client.h"

#include <pthread.h>

static const char yaml_fmt[] =
    "listen: 127.0.0.1:0\n"
    "upstreams:\n"
    "  news: { url: \"http://127.0.0.1:1\" }\n"
    "  events: { url: \"http://127.0.0.1:2\" }\n"
    "  hr: { url: \"http://127.0.0.1:3\", headers: { X-Api-Key: SECRET-UPSTREAM-KEY } }\n"
    "access_log: { path: %s }\n"
    "server_timing: %s\n"
    "endpoints:\n"
    "  - path: /home\n"
    "    backends:\n"
    "      - { upstream: news, path: /n, as: news }\n"
    "      - { upstream: events, path: /e, as: events }\n"
    "      - { name: 'vaca tion', upstream: hr, path: /v, as: cards.vacation, optional: true }\n"
    "      - { name: late, upstream: hr, path: /v, as: late, optional: true }\n";

static md_config_t *load(const char *log, const char *timing)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), yaml_fmt, log, timing);
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "t.yaml", &d);
    if (!cfg)
        fail_msg("config: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

static void outcome_names_and_mappings(void **state)
{
    (void)state;
    assert_string_equal(md_tm_outcome_name(MD_TM_OK), "ok");
    assert_string_equal(md_tm_outcome_name(MD_TM_INVALID_JSON), "invalid_json");
    assert_string_equal(md_tm_outcome_name(MD_TM_SHAPE), "shape");
    assert_string_equal(md_tm_outcome_name(MD_TM_PENDING), "cancelled");
    assert_string_equal(md_tm_outcome_name((md_tm_outcome_t)200), "reset");
    assert_int_equal(md_tm_outcome_of_kind(NULL), MD_TM_OK);
    assert_int_equal(md_tm_outcome_of_kind("timeout"), MD_TM_TIMEOUT);
    assert_int_equal(md_tm_outcome_of_kind("too_big"), MD_TM_TOO_BIG);
    assert_int_equal(md_tm_outcome_of_kind("overloaded"), MD_TM_OVERLOADED);
    assert_int_equal(md_tm_outcome_of_kind("invalid_response"), MD_TM_INVALID_JSON);
    assert_int_equal(md_tm_outcome_of_kind("something new"), MD_TM_RESET);
    assert_int_equal(md_tm_outcome_of_error(MD_OK), MD_TM_OK);
    assert_int_equal(md_tm_outcome_of_error(MD_ETIMEDOUT), MD_TM_TIMEOUT);
    assert_int_equal(md_tm_outcome_of_error(MD_ECONNECT), MD_TM_CONNECT);
    assert_int_equal(md_tm_outcome_of_error(MD_ERESET), MD_TM_RESET);
    assert_int_equal(md_tm_outcome_of_error(MD_ETOOBIG), MD_TM_TOO_BIG);
    assert_int_equal(md_tm_outcome_of_error(MD_ECANCELED), MD_TM_CANCELLED);
}

static void server_timing_lists_ended_calls_and_total(void **state)
{
    (void)state;
    md_config_t *cfg = load("off", "true");
    char err[256];
    md_telemetry_t *tm = md_telemetry_new(cfg, 1, err, sizeof(err));
    assert_non_null(tm);
    md_http_req_t req = { .pool = md_pool_new(0) };
    req.start_us = md_now_us() - 4000;
    md_tm_req_t *t = md_tm_begin(tm, &req, 0);
    assert_ptr_equal(req.telemetry, t);
    assert_int_equal(t->ncalls, 4);
    assert_int_equal(t->endpoint, 0);
    for (size_t i = 0; i < 4; i++)
        md_tm_call_start(t, i);
    md_tm_call_end(t, 0, 200, MD_TM_OK, 3149);      /* 3.149 ms -> 3.1 */
    md_tm_call_end(t, 1, 503, MD_TM_STATUS, 2450);  /* 2.45 ms -> 2.5 (half up) */
    md_tm_call_end(t, 2, 0, MD_TM_TIMEOUT, 1000049); /* 1000.049 ms -> 1000.0 */
    md_tm_call_end(t, 9, 0, MD_TM_OK, 1);           /* no such call: ignored */
    /* call 3 stays pending (cut short): no duration of its own */
    size_t len = 0;
    char *v = md_tm_server_timing(t, &req, &len);
    assert_non_null(v);
    assert_int_equal(strlen(v), len);
    const char *want = "news;dur=3.1, events;dur=2.5, vaca_tion;dur=1000.0, total;dur=";
    if (strncmp(v, want, strlen(want)) != 0)
        fail_msg("got %s", v);
    double total = atof(v + strlen(want));
    assert_true(total >= 4.0 && total < 4000.0);
    assert_true(t->end_us >= req.start_us + 4000);
    md_pool_destroy(req.pool);
    md_telemetry_free(tm);
    md_config_free(cfg);
}

static void server_timing_off_and_no_telemetry(void **state)
{
    (void)state;
    md_config_t *cfg = load("off", "false");
    char err[256];
    md_telemetry_t *tm = md_telemetry_new(cfg, 1, err, sizeof(err));
    md_http_req_t req = { .pool = md_pool_new(0) };
    md_tm_req_t *t = md_tm_begin(tm, &req, 0);
    size_t len = 7;
    assert_null(md_tm_server_timing(t, &req, &len));
    assert_int_equal(t->end_us, 0);
    assert_null(md_tm_server_timing(NULL, &req, &len));
    assert_null(md_tm_begin(NULL, &req, 0));
    t = md_tm_begin(tm, &req, 57); /* no such endpoint: "(none)" without calls */
    assert_int_equal(t->endpoint, -1);
    assert_int_equal(t->ncalls, 0);
    md_pool_destroy(req.pool);
    assert_true(md_telemetry_active(tm)); /* metrics: the admin listener is on by default */
    md_telemetry_free(tm);
    md_config_free(cfg);
    md_telemetry_free(NULL);
}

static void unopenable_log_fails_creation(void **state)
{
    (void)state;
    md_config_t *cfg = load("/nonexistent-dir/x.log", "true");
    char err[256] = "";
    assert_null(md_telemetry_new(cfg, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot open /nonexistent-dir/x.log"));
    md_config_free(cfg);
}

/* ---- through a real server ---- */

static md_telemetry_t *g_tm;

static int worker_init(md_worker_t *w, void *app, void **data)
{
    (void)app;
    *data = md_tm_worker_new(g_tm, md_worker_index(w), md_worker_loop(w), NULL, NULL);
    return MD_OK;
}

static void worker_fini(md_worker_t *w, void *app, void *data)
{
    (void)w;
    (void)app;
    md_tm_worker_free(data);
}

static void on_finish(md_http_req_t *req, const md_http_done_t *done, void *app)
{
    (void)app;
    md_tm_finish(md_worker_data(req->worker), req, done);
}

/* /home plays a composite endpoint whose backends answered in known
 * times; anything else matched no endpoint. */
static void handler(md_http_req_t *req, void *app)
{
    (void)app;
    bool home = req->path.len == 5 && memcmp(req->path.ptr, "/home", 5) == 0;
    md_tm_req_t *t = md_tm_begin(g_tm, req, home ? 0 : -1);
    if (!home) {
        md_http_respond_error(req, 404, "not_found", "no endpoint matches this path", NULL);
        return;
    }
    for (size_t i = 0; i < 4; i++)
        md_tm_call_start(t, i);
    md_tm_call_end(t, 0, 200, MD_TM_OK, 3000);
    md_tm_call_end(t, 1, 200, MD_TM_OK, 2000);
    md_tm_call_end(t, 2, 0, MD_TM_TIMEOUT, 500000);
    md_tm_call_bytes(t, 0, 2876, 566);
    md_tm_call_bytes(t, 1, 989, 497);
    md_tm_call_bytes(t, 4, 1, 1); /* no such call: ignored */
    t->incomplete = true;
    size_t len;
    char *st = md_tm_server_timing(t, req, &len);
    md_header_t hs[1] = { { "Server-Timing", 13, st, len } };
    md_http_respond(req, 200, hs, 1, "{\"ok\":1}", 8);
}

/* What the observer saw, copied on the worker thread and read after the
 * server thread was joined. */
typedef struct seen {
    int status;
    uint64_t body_bytes;
    int endpoint;
    uint32_t ncalls;
    uint64_t in[4], out[4];
    bool has_record;
} seen_t;

static seen_t g_seen[8];
static size_t g_nseen;

static void observe(void *arg, const md_http_req_t *req, const md_http_done_t *done, const md_tm_req_t *t,
                    uint64_t duration_us)
{
    (void)req;
    (void)duration_us;
    if (arg != &g_nseen || g_nseen == MD_ARRAY_LEN(g_seen))
        return; /* no cmocka assert off the test thread: the count check catches it */
    seen_t *s = &g_seen[g_nseen++];
    *s = (seen_t){ .status = done->status, .body_bytes = done->body_bytes, .has_record = t != NULL };
    s->endpoint = t ? t->endpoint : -2;
    s->ncalls = t ? t->ncalls : 0;
    for (uint32_t i = 0; t && i < t->ncalls && i < 4; i++) {
        s->in[i] = t->calls[i].bytes_in;
        s->out[i] = t->calls[i].bytes_out;
    }
}

static void *run_server(void *arg)
{
    md_server_run(arg);
    return NULL;
}

static size_t read_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
    return n;
}

static void check_lines_are_json(char *text)
{
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        md_json_toks_t t;
        md_json_toks_init(&t, 0);
        char err[128];
        if (md_json_scan(&t, line, strlen(line), NULL, err, sizeof(err)) != MD_OK)
            fail_msg("not JSON (%s): %s", err, line);
        md_json_toks_free(&t);
    }
}

static void finished_requests_reach_metrics_and_log_without_secrets(void **state)
{
    (void)state;
    char path[] = "/tmp/medley-tm-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    md_config_t *cfg = load(path, "true");
    char err[256];
    g_tm = md_telemetry_new(cfg, 1, err, sizeof(err));
    assert_non_null(g_tm);
    g_nseen = 0;
    md_telemetry_set_observer(g_tm, observe, &g_nseen);
    md_telemetry_set_observer(NULL, observe, &g_nseen); /* ignored */
    md_server_hooks_t hooks = { .handler = handler, .worker_init = worker_init, .worker_fini = worker_fini,
                                .on_finish = on_finish };
    md_server_t *srv = md_server_new("127.0.0.1", 0, 1, NULL, &hooks, err, sizeof(err));
    assert_non_null(srv);
    pthread_t th;
    pthread_create(&th, NULL, run_server, srv);
    uint16_t port = md_server_port(srv);

    tc_resp_t r = tc_request(port, "GET /home?token=SECRET456&user=1 HTTP/1.1\r\nHost: x\r\n"
                                   "Authorization: Bearer SECRET123\r\nCookie: sid=SECRET789\r\n\r\n");
    assert_int_equal(r.status, 200);
    char st[256];
    assert_non_null(tc_header(&r, "Server-Timing", st, sizeof(st)));
    assert_true(strncmp(st, "news;dur=3.0, events;dur=2.0, vaca_tion;dur=500.0, total;dur=", 61) == 0);
    free(r.body);
    r = tc_request(port, "HEAD /home HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(r.status, 200);
    free(r.body);
    r = tc_request(port, "DELETE /nothing?password=SECRET000 HTTP/1.1\r\nHost: x\r\n"
                         "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n");
    assert_int_equal(r.status, 404);
    free(r.body);

    md_buf_t text;
    md_buf_init(&text, MD_METRICS_MAX_BYTES);
    assert_int_equal(md_metrics_render(md_telemetry_metrics(g_tm), NULL, &text), MD_OK);
    assert_non_null(strstr(text.data, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"2xx\"} 1\n"));
    assert_non_null(strstr(text.data, "medley_requests_total{endpoint=\"/home\",method=\"HEAD\",status_class=\"2xx\"} 1\n"));
    assert_non_null(strstr(text.data, "medley_requests_total{endpoint=\"(none)\",method=\"DELETE\",status_class=\"4xx\"} 1\n"));
    assert_non_null(strstr(text.data, "medley_backend_calls_total{endpoint=\"/home\",backend=\"news\",outcome=\"ok\"} 2\n"));
    assert_non_null(strstr(text.data,
                           "medley_backend_calls_total{endpoint=\"/home\",backend=\"vaca tion\",outcome=\"timeout\"} 2\n"));
    /* the pending call ("late") has no outcome: it counts nowhere */
    assert_non_null(strstr(text.data, "medley_backend_duration_seconds_count{backend=\"late\"} 0\n"));
    md_buf_free(&text);

    md_server_shutdown(srv);
    pthread_join(th, NULL);
    md_server_free(srv);
    md_telemetry_free(g_tm); /* writes out the log */

    /* The observer saw each request once, after the workers finished it. */
    assert_int_equal(g_nseen, 3);
    const seen_t *sget = &g_seen[0], *shead = &g_seen[1], *snone = &g_seen[2];
    assert_int_equal(sget->status, 200);
    assert_int_equal(sget->body_bytes, 8);
    assert_true(sget->has_record);
    assert_int_equal(sget->endpoint, 0);
    assert_int_equal(sget->ncalls, 4);
    assert_int_equal(sget->in[0], 2876);
    assert_int_equal(sget->out[0], 566);
    assert_int_equal(sget->in[1], 989);
    assert_int_equal(sget->out[1], 497);
    assert_int_equal(sget->in[2] + sget->out[2] + sget->in[3] + sget->out[3], 0);
    assert_int_equal(shead->status, 200);
    assert_int_equal(shead->body_bytes, 0);
    assert_int_equal(snone->status, 404);
    assert_int_equal(snone->endpoint, -1);
    assert_int_equal(snone->ncalls, 0);

    char log[16384];
    read_file(path, log, sizeof(log));
    assert_null(strstr(log, "SECRET"));
    assert_null(strstr(log, "token"));
    assert_null(strstr(log, "Bearer"));
    char *get = strstr(log, "\"method\":\"GET\"");
    assert_non_null(get);
    assert_non_null(strstr(log, "\"method\":\"GET\",\"path\":\"/home\",\"status\":200,\"bytes\":8,"));
    assert_non_null(strstr(log, "\"method\":\"HEAD\",\"path\":\"/home\",\"status\":200,\"bytes\":0,"));
    assert_non_null(strstr(log, "\"method\":\"DELETE\",\"path\":\"/nothing\",\"status\":404,"));
    /* a new trace per request, unless the client sent one */
    const char *ids = strstr(log, "\"client\":\"127.0.0.1\",\"trace_id\":\"");
    assert_non_null(ids);
    ids += strlen("\"client\":\"127.0.0.1\",\"trace_id\":\"");
    assert_int_equal(strspn(ids, "0123456789abcdef"), 32);
    assert_memory_equal(ids + 32, "\",\"span_id\":\"", 13);
    assert_int_equal(strspn(ids + 45, "0123456789abcdef"), 16);
    assert_non_null(strstr(ids + 61, "\",\"endpoint\":\"/home\",\"backends\":[{\"name\":\"news\","
                                     "\"status\":200,\"outcome\":\"ok\",\"duration_ms\":3.000,"
                                     "\"bytes_in\":2876,\"bytes_out\":566},{\"name\":\"events\",\"status\":200,"
                                     "\"outcome\":\"ok\",\"duration_ms\":2.000,\"bytes_in\":989,\"bytes_out\":497},"));
    assert_non_null(strstr(log, "\"path\":\"/nothing\",\"status\":404,"));
    assert_non_null(strstr(log, "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\""));
    assert_non_null(strstr(log, "{\"name\":\"vaca tion\",\"status\":null,\"outcome\":\"timeout\","
                                "\"duration_ms\":500.000,\"bytes_in\":0,\"bytes_out\":0},{\"name\":\"late\","
                                "\"status\":null,\"outcome\":\"cancelled\",\"duration_ms\":0.000,\"bytes_in\":0,"
                                "\"bytes_out\":0}],\"incomplete\":true}"));
    assert_non_null(strstr(log, "\"endpoint\":null,\"backends\":[],\"incomplete\":false}"));
    check_lines_are_json(log);
    unlink(path);
    md_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcome_names_and_mappings),
        cmocka_unit_test(server_timing_lists_ended_calls_and_total),
        cmocka_unit_test(server_timing_off_and_no_telemetry),
        cmocka_unit_test(unopenable_log_fails_creation),
        cmocka_unit_test(finished_requests_reach_metrics_and_log_without_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
