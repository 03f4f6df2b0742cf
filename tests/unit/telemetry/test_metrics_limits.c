/*
 * Unit tests for the rate-limit families of telemetry/metrics:
 * medley_rate_limited_total{endpoint,limit} (429s, one row per endpoint
 * label and limit, shown at 0 from the start, GET and POST of one path
 * sharing a row) and medley_rate_limit_redis_total{outcome} (only when a
 * limit has store: redis). Counts come from several worker blocks and must
 * add up exactly; arguments out of range count nothing.
 */
#include "testutil.h"

#include "config/config.h"
#include "core/buf.h"
#include "telemetry/metrics.h"

#include <stdio.h>
#include <stdlib.h>

#define UP "upstreams:\n  hr: { url: \"http://127.0.0.1:2\" }\n"

/* Limits: 0 per_client, 1 per_user (redis), 2 unused. Endpoints: 0 GET /a
 * [per_client, per_user], 1 POST /a [per_client], 2 GET /b [per_user],
 * 3 GET /free (none). */
static const char yaml_limits[] =
    "cache: { redis: { url: \"redis://127.0.0.1:1\" } }\n"
    "rate_limits:\n"
    "  per_client: { rate: 10/s }\n"
    "  per_user: { rate: 5/1m, key: header.X-User, store: redis }\n"
    "  unused: { rate: 1/s }\n" UP
    "endpoints:\n"
    "  - path: /a\n"
    "    rate_limit: [ per_client, per_user ]\n"
    "    backends: [ { upstream: hr, path: /x } ]\n"
    "  - path: /a\n"
    "    method: POST\n"
    "    rate_limit: per_client\n"
    "    backends: [ { upstream: hr, path: /x } ]\n"
    "  - path: /b\n"
    "    rate_limit: per_user\n"
    "    backends: [ { upstream: hr, path: /x } ]\n"
    "  - path: /free\n"
    "    backends: [ { upstream: hr, path: /x } ]\n";

enum { L_CLIENT, L_USER, L_UNUSED };
enum { E_A_GET, E_A_POST, E_B, E_FREE };

static md_config_t *load(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "m.yaml", &d);
    if (!cfg)
        fail_msg("config: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

static char *render(const md_metrics_t *m)
{
    md_buf_t b;
    md_buf_init(&b, MD_METRICS_MAX_BYTES);
    assert_int_equal(md_metrics_render(m, NULL, &b), MD_OK);
    return md_buf_detach(&b, NULL);
}

/* How many whole lines of text equal line. */
static int lines_equal(const char *text, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[len] == '\n')
            n++;
    return n;
}

static void has_line(const char *text, const char *line)
{
    if (lines_equal(text, line) != 1)
        fail_msg("expected exactly one line: %s\n%s", line, text);
}

static int count_prefix(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, len) == 0;
    return n;
}

static void rows_start_at_zero_and_are_shared_by_a_path(void **state)
{
    (void)state;
    md_config_t *cfg = load(yaml_limits);
    md_metrics_t *m = md_metrics_new(cfg, 2);
    char *text = render(m);
    has_line(text, "# TYPE medley_rate_limited_total counter");
    has_line(text, "medley_rate_limited_total{endpoint=\"/a\",limit=\"per_client\"} 0");
    has_line(text, "medley_rate_limited_total{endpoint=\"/a\",limit=\"per_user\"} 0");
    has_line(text, "medley_rate_limited_total{endpoint=\"/b\",limit=\"per_user\"} 0");
    assert_int_equal(count_prefix(text, "medley_rate_limited_total{"), 3); /* not unused, not /free */
    has_line(text, "# TYPE medley_rate_limit_redis_total counter");
    has_line(text, "medley_rate_limit_redis_total{outcome=\"ok\"} 0");
    has_line(text, "medley_rate_limit_redis_total{outcome=\"fallback\"} 0");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void counts_from_every_worker_add_up(void **state)
{
    (void)state;
    md_config_t *cfg = load(yaml_limits);
    md_metrics_t *m = md_metrics_new(cfg, 3);
    for (int i = 0; i < 5; i++)
        md_metrics_rate_limited(m, i % 3, E_A_GET, L_CLIENT);
    md_metrics_rate_limited(m, 1, E_A_POST, L_CLIENT); /* same row as GET /a */
    md_metrics_rate_limited(m, 2, E_A_GET, L_USER);
    md_metrics_rate_limited(m, 0, E_B, L_USER);
    md_metrics_rate_limited(m, 0, E_B, L_USER);
    for (int i = 0; i < 7; i++)
        md_metrics_rate_limit_redis(m, i % 3, false);
    md_metrics_rate_limit_redis(m, 2, true);
    md_metrics_rate_limit_redis(m, 0, true);
    char *text = render(m);
    has_line(text, "medley_rate_limited_total{endpoint=\"/a\",limit=\"per_client\"} 6");
    has_line(text, "medley_rate_limited_total{endpoint=\"/a\",limit=\"per_user\"} 1");
    has_line(text, "medley_rate_limited_total{endpoint=\"/b\",limit=\"per_user\"} 2");
    has_line(text, "medley_rate_limit_redis_total{outcome=\"ok\"} 7");
    has_line(text, "medley_rate_limit_redis_total{outcome=\"fallback\"} 2");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void out_of_range_counts_nothing(void **state)
{
    (void)state;
    md_config_t *cfg = load(yaml_limits);
    md_metrics_t *m = md_metrics_new(cfg, 2);
    md_metrics_rate_limited(m, 0, E_A_POST, L_USER);   /* not a limit of POST /a */
    md_metrics_rate_limited(m, 0, E_FREE, L_CLIENT);   /* no limits at all */
    md_metrics_rate_limited(m, 0, E_A_GET, L_UNUSED);
    md_metrics_rate_limited(m, 0, E_A_GET, 99);
    md_metrics_rate_limited(m, 0, -1, L_CLIENT);
    md_metrics_rate_limited(m, 0, 4, L_CLIENT);
    md_metrics_rate_limited(m, 2, E_A_GET, L_CLIENT);  /* no worker 2 */
    md_metrics_rate_limited(m, -1, E_A_GET, L_CLIENT);
    md_metrics_rate_limit_redis(m, 2, false);
    md_metrics_rate_limit_redis(m, -1, true);
    md_metrics_rate_limited(NULL, 0, E_A_GET, L_CLIENT);
    md_metrics_rate_limit_redis(NULL, 0, true);
    char *text = render(m);
    has_line(text, "medley_rate_limited_total{endpoint=\"/a\",limit=\"per_client\"} 0");
    has_line(text, "medley_rate_limited_total{endpoint=\"/a\",limit=\"per_user\"} 0");
    has_line(text, "medley_rate_limited_total{endpoint=\"/b\",limit=\"per_user\"} 0");
    has_line(text, "medley_rate_limit_redis_total{outcome=\"ok\"} 0");
    has_line(text, "medley_rate_limit_redis_total{outcome=\"fallback\"} 0");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void families_only_when_configured(void **state)
{
    (void)state;
    /* Limits in memory only: no Redis family. */
    md_config_t *cfg = load("rate_limits:\n  l: { rate: 1/s }\n" UP
                            "endpoints:\n  - path: /a\n    rate_limit: l\n"
                            "    backends: [ { upstream: hr, path: /x } ]\n");
    md_metrics_t *m = md_metrics_new(cfg, 1);
    md_metrics_rate_limit_redis(m, 0, true);
    char *text = render(m);
    has_line(text, "medley_rate_limited_total{endpoint=\"/a\",limit=\"l\"} 0");
    assert_null(strstr(text, "medley_rate_limit_redis_total"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);

    /* No endpoint limited: neither family. */
    cfg = load("rate_limits:\n  l: { rate: 1/s }\n" UP
               "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n");
    m = md_metrics_new(cfg, 1);
    text = render(m);
    assert_null(strstr(text, "medley_rate_limit"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_start_at_zero_and_are_shared_by_a_path),
        cmocka_unit_test(counts_from_every_worker_add_up),
        cmocka_unit_test(out_of_range_counts_nothing),
        cmocka_unit_test(families_only_when_configured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
