/*
 * Unit tests for telemetry/metrics: label escaping, the exposition format
 * (every line checked against the 0.0.4 grammar, no series twice), exact
 * counter and cumulative bucket values for known observations, shared
 * label sets, "(none)" folding, merging of per-worker blocks written by
 * concurrent threads, and arguments out of range. Expected values are
 * computed by hand from the observations and the bucket bounds in
 * metrics.h.
 */
#include "testutil.h"

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "telemetry/metrics.h"
#include "telemetry/record.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef MD_VERSION
#define MD_VERSION "0.0.0" /* what the library falls back to when built without -DMD_VERSION */
#endif

static const char yaml[] =
    "listen: 127.0.0.1:0\n"
    "upstreams:\n"
    "  news: { url: \"http://127.0.0.1:1\" }\n"
    "  hr: { url: \"http://127.0.0.1:2\" }\n"
    "endpoints:\n"
    "  - path: /home\n"
    "    backends:\n"
    "      - { upstream: news, path: /n, as: news }\n"
    "      - { name: vacation, upstream: hr, path: /v, as: cards.vacation, optional: true }\n"
    "  - path: /x\n"
    "    method: POST\n"
    "    backends: [ { upstream: news, path: /n } ]\n"
    "  - path: /x\n"
    "    method: PUT\n"
    "    backends: [ { upstream: news, path: /n } ]\n"
    "  - path: '/q\"uo\\te'\n"
    "    backends: [ { name: 'n\"b', upstream: hr, path: /v } ]\n";

enum { EP_HOME, EP_X_POST, EP_X_PUT, EP_QUOTE };

static md_config_t *load(void)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "m.yaml", &d);
    if (!cfg)
        fail_msg("config: %s:%d:%d: %s", d.file, d.line, d.col, d.msg);
    return cfg;
}

static md_str_t lit(const char *s)
{
    return (md_str_t){ s, strlen(s) };
}

static char *render(const md_metrics_t *m, const md_metrics_gauges_t *g)
{
    md_buf_t b;
    md_buf_init(&b, MD_METRICS_MAX_BYTES);
    assert_int_equal(md_metrics_render(m, g, &b), MD_OK);
    return md_buf_detach(&b, NULL);
}

static void has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return;
    fail_msg("missing line: %s", line);
}

static void lacks(const char *text, const char *frag)
{
    if (strstr(text, frag))
        fail_msg("unexpected: %s", frag);
}

/* ---- the exposition grammar ---- */

static const char *metric_name(const char *p)
{
    if (!(isalpha((unsigned char)*p) || *p == '_' || *p == ':'))
        return NULL;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
        p++;
    return p;
}

/* {name="value",...}: returns the end, or NULL. Escapes: \\ \" \n only. */
static const char *label_set(const char *p)
{
    if (*p != '{')
        return p;
    p++;
    while (*p != '}') {
        if (!(isalpha((unsigned char)*p) || *p == '_'))
            return NULL;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        if (p[0] != '=' || p[1] != '"')
            return NULL;
        for (p += 2; *p != '"'; p++) {
            if (*p == '\n' || *p == '\0')
                return NULL;
            if (*p == '\\' && p[1] != '\\' && p[1] != '"' && p[1] != 'n')
                return NULL;
            if (*p == '\\')
                p++;
        }
        p++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return NULL;
    }
    return p + 1;
}

static bool number(const char *p, const char *end)
{
    if (p == end)
        return false;
    const char *q = p;
    while (q < end && isdigit((unsigned char)*q))
        q++;
    if (q < end && *q == '.')
        for (q++; q < end && isdigit((unsigned char)*q); q++)
            ;
    return q == end && q > p;
}

typedef struct family {
    char name[128];
    char type[16];
} family_t;

static const family_t *family_of(const family_t *f, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        size_t fl = strlen(f[i].name);
        if (len == fl && memcmp(name, f[i].name, len) == 0)
            return &f[i];
        if (strcmp(f[i].type, "histogram") != 0 || len < fl || memcmp(name, f[i].name, fl) != 0)
            continue;
        const char *sfx = name + fl;
        size_t sl = len - fl;
        if ((sl == 7 && !memcmp(sfx, "_bucket", 7)) || (sl == 4 && !memcmp(sfx, "_sum", 4)) ||
            (sl == 6 && !memcmp(sfx, "_count", 6)))
            return &f[i];
    }
    return NULL;
}

/* Checks every line; returns the number of samples. */
static size_t check_exposition(const char *text)
{
    static family_t fams[64];
    size_t nfam = 0, nsamples = 0;
    char **seen = calloc(100000, sizeof(*seen));
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol)
            fail_msg("last line has no newline: %s", p);
        if (!strncmp(p, "# HELP ", 7)) {
            const char *e = metric_name(p + 7);
            if (!e || *e != ' ')
                fail_msg("bad HELP: %.*s", (int)(eol - p), p);
        } else if (!strncmp(p, "# TYPE ", 7)) {
            const char *e = metric_name(p + 7);
            if (!e || *e != ' ' || nfam == 64)
                fail_msg("bad TYPE: %.*s", (int)(eol - p), p);
            family_t *f = &fams[nfam++];
            snprintf(f->name, sizeof(f->name), "%.*s", (int)(e - p - 7), p + 7);
            snprintf(f->type, sizeof(f->type), "%.*s", (int)(eol - e - 1), e + 1);
            if (strcmp(f->type, "counter") && strcmp(f->type, "gauge") && strcmp(f->type, "histogram"))
                fail_msg("bad type %s", f->type);
            for (size_t i = 0; i + 1 < nfam; i++)
                if (!strcmp(fams[i].name, f->name))
                    fail_msg("TYPE twice for %s", f->name);
        } else {
            const char *e = metric_name(p);
            const char *l = e ? label_set(e) : NULL;
            if (!l || *l != ' ' || !number(l + 1, eol))
                fail_msg("bad sample line: %.*s", (int)(eol - p), p);
            const family_t *f = family_of(fams, nfam, p, (size_t)(e - p));
            if (!f)
                fail_msg("sample before its TYPE: %.*s", (int)(eol - p), p);
            if (!strcmp(f->type, "counter") && strncmp(e - 6, "_total", 6) != 0)
                fail_msg("counter without _total: %.*s", (int)(eol - p), p);
            for (size_t i = 0; i < nsamples; i++)
                if (strlen(seen[i]) == (size_t)(l - p) && !memcmp(seen[i], p, (size_t)(l - p)))
                    fail_msg("series printed twice: %.*s", (int)(l - p), p);
            seen[nsamples++] = strndup(p, (size_t)(l - p));
        }
        p = eol + 1;
    }
    for (size_t i = 0; i < nsamples; i++)
        free(seen[i]);
    free(seen);
    return nsamples;
}

/* ---- tests ---- */

static void label_values_are_escaped(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_prom_escape(&b, "a\"b\\c\nd", 7), MD_OK);
    assert_string_equal(b.data, "a\\\"b\\\\c\\nd");
    md_buf_free(&b);
    md_buf_init(&b, 6);
    md_buf_append_str(&b, "xy");
    assert_int_equal(md_prom_escape(&b, "\"\"\"", 3), MD_ETOOBIG); /* needs 6 more */
    assert_string_equal(b.data, "xy");
    md_buf_free(&b);
}

static void a_fresh_registry_shows_the_configured_series_at_zero(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 2);
    char *text = render(m, NULL);
    check_exposition(text);
    has_line(text, "# TYPE medley_requests_total counter");
    has_line(text, "# TYPE medley_request_duration_seconds histogram");
    has_line(text, "# TYPE medley_backend_calls_total counter");
    has_line(text, "# TYPE medley_backend_duration_seconds histogram");
    has_line(text, "# TYPE medley_requests_in_flight gauge");
    has_line(text, "# TYPE medley_connections_open gauge");
    has_line(text, "# TYPE medley_upstream_connections gauge");
    has_line(text, "# TYPE medley_build_info gauge");
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"2xx\"} 0");
    has_line(text, "medley_requests_total{endpoint=\"/x\",method=\"PUT\",status_class=\"5xx\"} 0");
    has_line(text, "medley_backend_calls_total{endpoint=\"/home\",backend=\"vacation\",outcome=\"shape\"} 0");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"+Inf\"} 0");
    has_line(text, "medley_request_duration_seconds_count{endpoint=\"/home\"} 0");
    has_line(text, "medley_request_duration_seconds_sum{endpoint=\"/home\"} 0.000000");
    has_line(text, "medley_upstream_connections{upstream=\"hr\",state=\"idle\"} 0");
    lacks(text, "endpoint=\"(none)\"");    /* until counted */
    lacks(text, "method=\"HEAD\"");
    lacks(text, "medley_access_log_dropped_total"); /* no log */
    lacks(text, "medley_trace_");                   /* no span export */
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void counts_and_cumulative_buckets(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 2);
    md_metrics_request(m, 0, EP_HOME, lit("GET"), 200, 300);
    md_metrics_request(m, 1, EP_HOME, lit("GET"), 200, 1000); /* on a bound: le="0.001" holds it */
    md_metrics_request(m, 0, EP_HOME, lit("GET"), 404, 3000);
    md_metrics_request(m, 1, EP_HOME, lit("HEAD"), 200, 20000);
    md_metrics_request(m, 0, EP_X_POST, lit("POST"), 502, 100);
    md_metrics_request(m, 0, -1, lit("BREW"), 404, 10);
    md_metrics_request(m, 1, -1, lit("GET"), 404, 10);
    md_metrics_call(m, 0, EP_HOME, 0, MD_TM_OK, 400);
    md_metrics_call(m, 0, EP_HOME, 1, MD_TM_TIMEOUT, 500000);
    md_metrics_call(m, 1, EP_X_POST, 0, MD_TM_STATUS, 100);
    md_metrics_call(m, 0, EP_X_PUT, 0, MD_TM_OK, 2000);
    char *text = render(m, NULL);
    check_exposition(text);
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"2xx\"} 2");
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"4xx\"} 1");
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"HEAD\",status_class=\"2xx\"} 1");
    lacks(text, "method=\"HEAD\",status_class=\"4xx\"");
    has_line(text, "medley_requests_total{endpoint=\"/x\",method=\"POST\",status_class=\"5xx\"} 1");
    has_line(text, "medley_requests_total{endpoint=\"(none)\",method=\"other\",status_class=\"4xx\"} 1");
    has_line(text, "medley_requests_total{endpoint=\"(none)\",method=\"GET\",status_class=\"4xx\"} 1");
    lacks(text, "BREW");
    /* /home: 300, 1000, 3000, 20000 us (GET and HEAD share the label). */
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"0.0005\"} 1");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"0.001\"} 2");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"0.0025\"} 2");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"0.005\"} 3");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"0.01\"} 3");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"0.025\"} 4");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"10\"} 4");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"+Inf\"} 4");
    has_line(text, "medley_request_duration_seconds_sum{endpoint=\"/home\"} 0.024300");
    has_line(text, "medley_request_duration_seconds_count{endpoint=\"/home\"} 4");
    has_line(text, "medley_request_duration_seconds_count{endpoint=\"(none)\"} 2");
    /* POST /x and PUT /x share endpoint="/x" and their backend "news". */
    has_line(text, "medley_backend_calls_total{endpoint=\"/x\",backend=\"news\",outcome=\"status\"} 1");
    has_line(text, "medley_backend_calls_total{endpoint=\"/x\",backend=\"news\",outcome=\"ok\"} 1");
    has_line(text, "medley_backend_calls_total{endpoint=\"/home\",backend=\"news\",outcome=\"ok\"} 1");
    has_line(text, "medley_backend_calls_total{endpoint=\"/home\",backend=\"vacation\",outcome=\"timeout\"} 1");
    /* news: 400, 100, 2000 us; vacation: 500000 us (on the 0.5 bound). */
    has_line(text, "medley_backend_duration_seconds_bucket{backend=\"news\",le=\"0.0005\"} 2");
    has_line(text, "medley_backend_duration_seconds_bucket{backend=\"news\",le=\"0.001\"} 2");
    has_line(text, "medley_backend_duration_seconds_bucket{backend=\"news\",le=\"0.0025\"} 3");
    has_line(text, "medley_backend_duration_seconds_sum{backend=\"news\"} 0.002500");
    has_line(text, "medley_backend_duration_seconds_count{backend=\"news\"} 3");
    has_line(text, "medley_backend_duration_seconds_bucket{backend=\"vacation\",le=\"0.25\"} 0");
    has_line(text, "medley_backend_duration_seconds_bucket{backend=\"vacation\",le=\"0.5\"} 1");
    has_line(text, "medley_backend_duration_seconds_sum{backend=\"vacation\"} 0.500000");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void config_strings_are_escaped_in_labels(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 1);
    md_metrics_call(m, 0, EP_QUOTE, 0, MD_TM_OK, 1);
    char *text = render(m, NULL);
    check_exposition(text);
    has_line(text, "medley_backend_calls_total{endpoint=\"/q\\\"uo\\\\te\",backend=\"n\\\"b\",outcome=\"ok\"} 1");
    has_line(text, "medley_backend_duration_seconds_count{backend=\"n\\\"b\"} 1");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

typedef struct hammer {
    md_metrics_t *m;
    int worker;
} hammer_t;

#define PER_THREAD 50000

static void *hammer_main(void *arg)
{
    hammer_t *h = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        md_metrics_request(h->m, h->worker, EP_HOME, lit("GET"), 200, 1);
        md_metrics_call(h->m, h->worker, EP_HOME, 1, MD_TM_OK, 2);
    }
    md_metrics_upstream(h->m, h->worker, 0, (uint32_t)h->worker + 1, (uint32_t)h->worker, 0);
    return NULL;
}

static void worker_blocks_written_by_threads_merge_exactly(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 4);
    pthread_t th[4];
    hammer_t h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (hammer_t){ m, i };
        pthread_create(&th[i], NULL, hammer_main, &h[i]);
    }
    /* A scrape while they run must parse too (values may be a moment old). */
    char *mid = render(m, NULL);
    check_exposition(mid);
    free(mid);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *text = render(m, NULL);
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"2xx\"} 200000");
    has_line(text, "medley_request_duration_seconds_bucket{endpoint=\"/home\",le=\"0.0005\"} 200000");
    has_line(text, "medley_request_duration_seconds_sum{endpoint=\"/home\"} 0.200000");
    has_line(text, "medley_request_duration_seconds_count{endpoint=\"/home\"} 200000");
    has_line(text, "medley_backend_calls_total{endpoint=\"/home\",backend=\"vacation\",outcome=\"ok\"} 200000");
    has_line(text, "medley_backend_duration_seconds_sum{backend=\"vacation\"} 0.400000");
    has_line(text, "medley_upstream_connections{upstream=\"news\",state=\"open\"} 10");
    has_line(text, "medley_upstream_connections{upstream=\"news\",state=\"idle\"} 6");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void arguments_out_of_range_count_nothing(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 2);
    char *before = render(m, NULL);
    md_metrics_request(m, 2, EP_HOME, lit("GET"), 200, 1);   /* no worker 2 */
    md_metrics_request(m, -1, EP_HOME, lit("GET"), 200, 1);
    md_metrics_call(m, 0, 99, 0, MD_TM_OK, 1);               /* no endpoint 99 */
    md_metrics_call(m, 0, -1, 0, MD_TM_OK, 1);
    md_metrics_call(m, 0, EP_HOME, 2, MD_TM_OK, 1);          /* /home has 2 backends */
    md_metrics_call(m, 0, EP_HOME, 0, MD_TM_CANCELLED, 1);   /* not an outcome label */
    md_metrics_call(m, 0, EP_HOME, 0, -1, 1);
    md_metrics_upstream(m, 0, 2, 5, 5, 0);                    /* 2 upstreams */
    md_metrics_upstream(m, 7, 0, 5, 5, 0);
    md_metrics_request(NULL, 0, EP_HOME, lit("GET"), 200, 1);
    char *after = render(m, NULL);
    assert_string_equal(before, after);
    free(before);
    free(after);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void out_of_range_statuses_fold_into_the_edge_classes(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 1);
    md_metrics_request(m, 0, EP_HOME, lit("GET"), 0, 1);
    md_metrics_request(m, 0, EP_HOME, lit("GET"), 999, 1);
    md_metrics_request(m, 0, EP_HOME, lit("GET"), 499, 1);
    char *text = render(m, NULL);
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"1xx\"} 1");
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"5xx\"} 1");
    has_line(text, "medley_requests_total{endpoint=\"/home\",method=\"GET\",status_class=\"4xx\"} 1");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void gauges_come_from_the_caller(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 1);
    md_metrics_gauges_t g = { .requests_in_flight = 3, .connections_open = 7, .has_access_log = true,
                              .access_log_dropped = 5, .has_trace_export = true, .trace_spans_exported = 11,
                              .trace_spans_dropped = 12, .trace_export_failures = 13 };
    char *text = render(m, &g);
    check_exposition(text);
    has_line(text, "medley_requests_in_flight 3");
    has_line(text, "medley_connections_open 7");
    has_line(text, "# TYPE medley_access_log_dropped_total counter");
    has_line(text, "medley_access_log_dropped_total 5");
    has_line(text, "# TYPE medley_trace_spans_exported_total counter");
    has_line(text, "medley_trace_spans_exported_total 11");
    has_line(text, "# TYPE medley_trace_spans_dropped_total counter");
    has_line(text, "medley_trace_spans_dropped_total 12");
    has_line(text, "# TYPE medley_trace_export_failures_total counter");
    has_line(text, "medley_trace_export_failures_total 13");
    has_line(text, "medley_build_info{version=\"" MD_VERSION "\"} 1");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void a_small_buffer_is_an_error_and_left_unchanged(void **state)
{
    (void)state;
    md_config_t *cfg = load();
    md_metrics_t *m = md_metrics_new(cfg, 1);
    md_buf_t b;
    md_buf_init(&b, 4096);
    md_buf_append_str(&b, "prefix");
    assert_int_equal(md_metrics_render(m, NULL, &b), MD_ETOOBIG);
    assert_string_equal(b.data, "prefix");
    md_buf_free(&b);
    md_metrics_free(m);
    md_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(a_fresh_registry_shows_the_configured_series_at_zero),
        cmocka_unit_test(counts_and_cumulative_buckets),
        cmocka_unit_test(config_strings_are_escaped_in_labels),
        cmocka_unit_test(worker_blocks_written_by_threads_merge_exactly),
        cmocka_unit_test(arguments_out_of_range_count_nothing),
        cmocka_unit_test(out_of_range_statuses_fold_into_the_edge_classes),
        cmocka_unit_test(gauges_come_from_the_caller),
        cmocka_unit_test(a_small_buffer_is_an_error_and_left_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
