/*
 * Unit tests for the telemetry of requests the HTTP server refuses itself
 * (md_tm_reject, telemetry.h): the access log line's "reject" field, and
 * the whole path through a real md_server_t whose on_reject hook feeds
 * md_tm_reject: exact counters under endpoint "(none)" (method "other"
 * when the request line was malformed), the duration of a slowloris head,
 * and log lines with endpoint null, no backends, the reason, and no secret
 * the client sent. Expected values come from the documented formats.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "http/server.h"
#include "json/scan.h"
#include "telemetry/telemetry.h"

#include "http_client.h"

#include <pthread.h>

/* ---- the line ---- */

static void log_line_names_the_reason(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 4096);
    md_log_entry_t e = {
        .wall_us = 1700000000123000ull, /* 2023-11-14T22:13:20.123Z */
        .method = MD_STR_LIT(""),
        .path = MD_STR_LIT(""),
        .status = 400,
        .bytes = 75,
        .client = "127.0.0.1",
        .reject = "bad_request",
    };
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_string_equal(b.data, "{\"time\":\"2023-11-14T22:13:20.123Z\",\"method\":\"\",\"path\":\"\",\"status\":400,"
                                "\"bytes\":75,\"duration_ms\":0.000,\"client\":\"127.0.0.1\",\"trace_id\":null,"
                                "\"span_id\":null,\"endpoint\":null,\"reject\":\"bad_request\",\"backends\":[],"
                                "\"incomplete\":false}\n");
    /* a reason is escaped like any string; no reason, no field */
    md_buf_reset(&b);
    e.reject = "a\"b";
    e.method = MD_STR_LIT("GET");
    e.path = MD_STR_LIT("/x");
    e.duration_us = 200123;
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_non_null(strstr(b.data, "\"method\":\"GET\",\"path\":\"/x\",\"status\":400,\"bytes\":75,"
                                   "\"duration_ms\":200.123,"));
    assert_non_null(strstr(b.data, ",\"endpoint\":null,\"reject\":\"a\\\"b\",\"backends\":[]"));
    md_buf_reset(&b);
    e.reject = NULL;
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_null(strstr(b.data, "reject"));
    /* too long for the buffer: MD_ETOOBIG, nothing left behind */
    md_buf_t small;
    md_buf_init(&small, 100);
    e.reject = "bad_request";
    assert_int_equal(md_accesslog_format(&small, &e), MD_ETOOBIG);
    assert_int_equal(small.len, 0);
    md_buf_free(&small);
    md_buf_free(&b);
}

static void no_worker_or_no_reason_is_harmless(void **state)
{
    (void)state;
    md_http_reject_t r = { .status = 400 };
    md_tm_reject(NULL, &r);
    md_tm_reject(NULL, NULL);
}

/* ---- through a real server ---- */

static const char yaml_fmt[] =
    "listen: 127.0.0.1:0\n"
    "upstreams:\n"
    "  news: { url: \"http://127.0.0.1:1\" }\n"
    "access_log: { path: %s }\n"
    "endpoints:\n"
    "  - path: /home\n"
    "    backends:\n"
    "      - { upstream: news, path: /n, as: news }\n";

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

static void on_reject(md_worker_t *w, const md_http_reject_t *r, void *app)
{
    (void)app;
    md_tm_reject(md_worker_data(w), r);
}

static void handler(md_http_req_t *req, void *app)
{
    (void)app;
    md_http_respond(req, 200, NULL, 0, "ok", 2);
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

static void has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing %s", line);
}

/* The value after `prefix` in the exposition. */
static double sample(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    if (!p)
        fail_msg("no sample %s", prefix);
    return atof(p + strlen(prefix));
}

/* Sends the bytes, reads the answer (the connection then closes). */
static int send_refused(uint16_t port, const char *raw)
{
    tc_resp_t r = tc_request(port, raw);
    free(r.body);
    return r.status;
}

static void check_metrics(void)
{
    md_buf_t text;
    md_buf_init(&text, MD_METRICS_MAX_BYTES);
    assert_int_equal(md_metrics_render(md_telemetry_metrics(g_tm), NULL, &text), MD_OK);
    has(text.data, "medley_requests_total{endpoint=\"(none)\",method=\"other\",status_class=\"4xx\"} 1\n");
    has(text.data, "medley_requests_total{endpoint=\"(none)\",method=\"GET\",status_class=\"4xx\"} 4\n");
    has(text.data, "medley_requests_total{endpoint=\"(none)\",method=\"GET\",status_class=\"5xx\"} 1\n");
    has(text.data, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"4xx\"} 0\n");
    has(text.data, "medley_request_duration_seconds_count{endpoint=\"(none)\"} 6\n");
    /* five refused at once; the slowloris head only after header_timeout */
    has(text.data, "medley_request_duration_seconds_bucket{endpoint=\"(none)\",le=\"0.1\"} 5\n");
    assert_true(sample(text.data, "medley_request_duration_seconds_sum{endpoint=\"(none)\"} ") >= 0.15);
    md_buf_free(&text);
}

static void check_log(const char *path)
{
    char log[16384];
    read_file(path, log, sizeof(log));
    assert_null(strstr(log, "SECRET"));
    assert_null(strstr(log, "Bearer"));
    assert_null(strstr(log, "token"));
    int lines = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        md_json_toks_t t;
        md_json_toks_init(&t, 0);
        char err[128];
        if (md_json_scan(&t, line, strlen(line), NULL, err, sizeof(err)) != MD_OK)
            fail_msg("not JSON (%s): %s", err, line);
        md_json_toks_free(&t);
        has(line, ",\"client\":\"127.0.0.1\",\"trace_id\":null,\"span_id\":null,\"endpoint\":null,\"reject\":\"");
        has(line, "\",\"backends\":[],\"incomplete\":false}");
    }
    assert_int_equal(lines, 6);
}

static void refused_requests_reach_metrics_and_log(void **state)
{
    (void)state;
    char path[] = "/tmp/medley-reject-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), yaml_fmt, path);
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "t.yaml", &d);
    assert_non_null(cfg);
    char err[256];
    g_tm = md_telemetry_new(cfg, 1, err, sizeof(err));
    assert_non_null(g_tm);
    md_limits_t l = { .max_header_bytes = 2048, .max_headers = 8, .header_timeout_ms = 200 };
    md_server_hooks_t hooks = { .handler = handler, .worker_init = worker_init, .worker_fini = worker_fini,
                                .on_reject = on_reject };
    md_server_t *srv = md_server_new("127.0.0.1", 0, 1, &l, &hooks, err, sizeof(err));
    assert_non_null(srv);
    pthread_t th;
    pthread_create(&th, NULL, run_server, srv);
    uint16_t port = md_server_port(srv);

    assert_int_equal(send_refused(port, "GE T /home?token=SECRET456 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(send_refused(port, "GET /home?token=SECRET456 HTTP/1.1\r\n"
                                        "Authorization: Bearer SECRET123\r\nX-Bad: \x01\r\n\r\n"),
                     400);
    char big[4096];
    int k = snprintf(big, sizeof(big), "GET /home HTTP/1.1\r\nAuthorization: Bearer SECRET123\r\nX-Big: ");
    memset(big + k, 'b', 3000);
    strcpy(big + k + 3000, "\r\n\r\n");
    assert_int_equal(send_refused(port, big), 431);
    assert_int_equal(send_refused(port, "GET /home HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n"
                                        "F: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n\r\n"),
                     431);
    assert_int_equal(send_refused(port, "GET /home HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
    /* slowloris: a few header lines, then nothing */
    fd = tc_connect(port);
    tc_send(fd, "GET /home HTTP/1.1\r\nHost: x\r\n");
    usleep(50000);
    tc_send(fd, "Cookie: sid=SECRET789\r\n");
    tc_resp_t r = tc_read(fd, 0);
    close(fd);
    assert_int_equal(r.status, 408);
    free(r.body);

    check_metrics();
    md_server_shutdown(srv);
    pthread_join(th, NULL);
    md_server_free(srv);
    md_telemetry_free(g_tm); /* writes out the log */
    check_log(path);

    char log[16384];
    read_file(path, log, sizeof(log));
    has(log, "\"method\":\"\",\"path\":\"\",\"status\":400,");
    has(log, "\"method\":\"GET\",\"path\":\"/home\",\"status\":400,");
    has(log, "\"method\":\"GET\",\"path\":\"/home\",\"status\":431,");
    has(log, "\"method\":\"GET\",\"path\":\"/home\",\"status\":505,");
    has(log, "\"method\":\"GET\",\"path\":\"/home\",\"status\":408,");
    const char *reasons[] = { "bad_request", "header_too_large", "too_many_headers", "version", "header_timeout" };
    for (size_t i = 0; i < MD_ARRAY_LEN(reasons); i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"reject\":\"%s\"", reasons[i]);
        has(log, want);
    }
    unlink(path);
    md_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(log_line_names_the_reason),
        cmocka_unit_test(no_worker_or_no_reason_is_harmless),
        cmocka_unit_test(refused_requests_reach_metrics_and_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
