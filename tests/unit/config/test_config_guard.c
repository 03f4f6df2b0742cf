/*
 * Unit tests for the rate-limit and CORS keys of the config
 * (config/limits_cors.c): the top-level `cors:` block and `rate_limits:`
 * map, and an endpoint's `rate_limit:` and `cors:`. Every accepted form is
 * checked field by field, every refusal at its line:column, counted by
 * hand from the YAML below.
 */
#include "testutil.h"

#include "cfgtest.h"

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>

/* Three fixed lines, so positions below them are easy to count. */
#define UP                                                                                                   \
    "upstreams:\n"                                                                                           \
    "  hr: { url: \"http://127.0.0.1:9001\" }\n"                                                            \
    "  news: { url: \"http://127.0.0.1:9002\" }\n"
#define BACKENDS "    backends: [ { upstream: hr, path: /x } ]\n"
#define EP "endpoints:\n  - path: /a\n" BACKENDS

/* ---- absent ---------------------------------------------------------------- */

static void off_when_absent(void **state)
{
    (void)state;
    md_config_t *cfg = load(UP EP);
    assert_false(cfg->cors.on);
    assert_null(cfg->cors.origins);
    assert_int_equal(cfg->cors.norigins, 0);
    assert_null(cfg->rate_limits);
    assert_int_equal(cfg->nrate_limits, 0);
    assert_null(cfg->endpoints[0].rate_limits);
    assert_int_equal(cfg->endpoints[0].nrate_limits, 0);
    assert_false(cfg->endpoints[0].cors_off);
    md_config_free(cfg);

    cfg = load("cors: off\n" UP EP);
    assert_false(cfg->cors.on);
    md_config_free(cfg);
}

/* ---- cors ------------------------------------------------------------------- */

static void cors_full_block(void **state)
{
    (void)state;
    md_config_t *cfg = load("listen: 8080\n"
                            "cors:\n"
                            "  allow_origins: [ \"https://apps.powerapps.com\", \"https://make.powerapps.com\" ]\n"
                            "  allow_methods: [ GET, PUT ]\n"
                            "  allow_headers: [ Authorization, Content-Type ]\n"
                            "  expose_headers: [ Server-Timing, Cache-Status, X-Medley-Incomplete ]\n"
                            "  allow_credentials: true\n"
                            "  max_age: 10m\n" UP EP);
    const md_cors_conf_t *k = &cfg->cors;
    assert_true(k->on);
    assert_int_equal(k->line, 2);
    assert_int_equal(k->col, 1);
    assert_int_equal(k->norigins, 2);
    assert_string_equal(k->origins[0], "https://apps.powerapps.com");
    assert_string_equal(k->origins[1], "https://make.powerapps.com");
    assert_int_equal(k->nmethods, 2);
    assert_string_equal(k->methods[0], "GET");
    assert_string_equal(k->methods[1], "PUT");
    assert_int_equal(k->nheaders, 2);
    assert_string_equal(k->headers[1], "Content-Type");
    assert_int_equal(k->nexpose, 3);
    assert_string_equal(k->expose[2], "X-Medley-Incomplete");
    assert_true(k->credentials);
    assert_int_equal(k->max_age_s, 600);
    md_config_free(cfg);
}

static void cors_short_forms(void **state)
{
    (void)state;
    /* A scalar is a list of one; no max_age: not sent (-1). */
    md_config_t *cfg = load("cors: { allow_origins: \"*\", allow_methods: \"*\" }\n" UP EP);
    assert_true(cfg->cors.on);
    assert_int_equal(cfg->cors.norigins, 1);
    assert_string_equal(cfg->cors.origins[0], "*");
    assert_int_equal(cfg->cors.nmethods, 1);
    assert_int_equal(cfg->cors.nheaders, 0);
    assert_false(cfg->cors.credentials);
    assert_int_equal(cfg->cors.max_age_s, -1);
    md_config_free(cfg);

    cfg = load("cors: { allow_origins: [ \"https://a.example:8443\" ], max_age: 0 }\n" UP EP);
    assert_int_equal(cfg->cors.max_age_s, 0);
    md_config_free(cfg);
    cfg = load("cors: { allow_origins: [ \"https://a.example\" ], max_age: 24h }\n" UP EP);
    assert_int_equal(cfg->cors.max_age_s, 86400);
    md_config_free(cfg);
    cfg = load("cors: { allow_origins: [ \"https://a.example\" ], max_age: 90s }\n" UP EP);
    assert_int_equal(cfg->cors.max_age_s, 90);
    md_config_free(cfg);
}

static void cors_refusals(void **state)
{
    (void)state;
    expect_error("cors:\n  allow_origins: [ \"https://a.example\", \"ftp//x\" ]\n" UP EP, 2, 41,
                 "is not scheme://host[:port]");
    expect_error("cors:\n  allow_methods: [ GET ]\n" UP EP, 1, 1, "missing required key 'allow_origins' in cors");
    expect_error("cors:\n  allow_origin: [ \"*\" ]\n" UP EP, 2, 3,
                 "unknown key 'allow_origin' in cors (did you mean 'allow_origins'?)");
    expect_error("cors:\n  allow_origins: [ \"*\", \"https://a.example\" ]\n" UP EP, 2, 18,
                 "\"*\" must be the only entry");
    expect_error("cors:\n  allow_origins: [ \"*\" ]\n  allow_credentials: true\n" UP EP, 3, 22,
                 "cannot be combined with \"*\" in 'allow_origins'");
    expect_error("cors:\n  allow_origins: [ \"https://a.example\" ]\n  allow_headers: \"*\"\n"
                 "  allow_credentials: true\n" UP EP,
                 4, 22, "in 'allow_headers'");
    expect_error("cors:\n  allow_origins: [ \"*\" ]\n  allow_methods: [ GET, \"BAD METHOD\" ]\n" UP EP, 3, 25,
                 "is not a valid token");
    expect_error("cors:\n  allow_origins: [ \"*\" ]\n  allow_headers: [ \"\" ]\n" UP EP, 3, 20,
                 "items of 'allow_headers' must be non-empty strings");
    expect_error("cors:\n  allow_origins: { a: b }\n" UP EP, 2, 18, "'allow_origins' must be a list");
    expect_error("cors:\n  allow_origins: [ \"*\" ]\n  max_age: 1500ms\n" UP EP, 3, 12, "whole seconds");
    expect_error("cors:\n  allow_origins: [ \"*\" ]\n  max_age: 25h\n" UP EP, 3, 12, "between 0s and 24h");
    expect_error("cors:\n  allow_origins: [ \"*\" ]\n  max_age: soon\n" UP EP, 3, 12, "'max_age' must be");
    expect_error("cors:\n  allow_origins: [ \"*\" ]\n  allow_credentials: yes\n" UP EP, 3, 22,
                 "'allow_credentials' must be true or false");
    expect_error("cors: 5\n" UP EP, 1, 7, "'cors' must be off or a mapping");
}

static void cors_list_bound(void **state)
{
    (void)state;
    char yaml[4096];
    int n = snprintf(yaml, sizeof(yaml), "cors:\n  allow_origins: [");
    for (int i = 0; i < 65; i++)
        n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "%s\"https://h%d.example\"", i ? ", " : " ", i);
    snprintf(yaml + n, sizeof(yaml) - (size_t)n, " ]\n" UP EP);
    expect_error(yaml, 2, 18, "more than 64 entries");
}

/* ---- rate_limits --------------------------------------------------------------- */

static void rate_limit_forms(void **state)
{
    (void)state;
    md_config_t *cfg = load("rate_limits:\n"
                            "  a: { rate: 100/1m, burst: 20, key: client }\n"
                            "  b: { rate: 10/s, key: header.X-Api-Key, max_keys: 500 }\n"
                            "  c: { rate: 5/250ms, key: auth }\n"
                            "  d.x-1: { rate: 1/d, burst: 3, key: jwt.tenant }\n" UP
                            "endpoints:\n"
                            "  - path: /a\n"
                            "    rate_limit: a\n" BACKENDS
                            "  - path: /b\n"
                            "    rate_limit: [ b, d.x-1 ]\n"
                            "    cors: off\n" BACKENDS);
    assert_int_equal(cfg->nrate_limits, 4);
    const md_rate_limit_conf_t *l = cfg->rate_limits;
    assert_string_equal(l[0].name, "a");
    assert_int_equal(l[0].count, 100);
    assert_int_equal(l[0].period_ms, 60000);
    assert_int_equal(l[0].burst, 20);
    assert_int_equal(l[0].key, MD_RL_KEY_CLIENT);
    assert_null(l[0].key_name);
    assert_int_equal(l[0].max_keys, 100000);
    assert_int_equal(l[0].line, 2);
    assert_int_equal(l[0].col, 3);
    assert_int_equal(l[1].count, 10);
    assert_int_equal(l[1].period_ms, 1000);
    assert_int_equal(l[1].burst, 10); /* default: the count */
    assert_int_equal(l[1].key, MD_RL_KEY_HEADER);
    assert_string_equal(l[1].key_name, "X-Api-Key");
    assert_int_equal(l[1].max_keys, 500);
    assert_int_equal(l[2].count, 5);
    assert_int_equal(l[2].period_ms, 250);
    assert_int_equal(l[2].key, MD_RL_KEY_AUTH);
    assert_null(l[2].key_name);
    assert_string_equal(l[3].name, "d.x-1");
    assert_int_equal(l[3].period_ms, 86400000);
    assert_int_equal(l[3].burst, 3);
    assert_int_equal(l[3].key, MD_RL_KEY_JWT);
    assert_string_equal(l[3].key_name, "tenant");
    const md_endpoint_conf_t *e = cfg->endpoints;
    assert_int_equal(e[0].nrate_limits, 1);
    assert_int_equal(e[0].rate_limits[0], 0);
    assert_false(e[0].cors_off);
    assert_int_equal(e[1].nrate_limits, 2);
    assert_int_equal(e[1].rate_limits[0], 1);
    assert_int_equal(e[1].rate_limits[1], 3);
    assert_true(e[1].cors_off);
    md_config_free(cfg);

    /* A limit defined after the endpoints in the file still resolves. */
    cfg = load(UP "endpoints:\n  - path: /a\n    rate_limit: late\n" BACKENDS "rate_limits: { late: { rate: 2/h } }\n");
    assert_int_equal(cfg->endpoints[0].rate_limits[0], 0);
    assert_int_equal(cfg->rate_limits[0].period_ms, 3600000);
    md_config_free(cfg);
}

static void rate_limit_refusals(void **state)
{
    (void)state;
    static const char *const bad_rates[] = { "100", "100/1x", "0/1s", "1/0s", "1/2d", "/s", "1/", "x/s",
                                             "12345678901/s", "1000000001/s", "-1/s" };
    for (size_t i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "rate_limits:\n  a: { rate: \"%s\" }\n" UP EP, bad_rates[i]);
        expect_error(yaml, 2, 14, "'rate' must be COUNT/PERIOD like 100/1m");
    }
    expect_error("rate_limits:\n  a: { burst: 2 }\n" UP EP, 2, 3, "missing required key 'rate' in rate limit 'a'");
    expect_error("rate_limits:\n  a:\n" UP EP, 2, 3, "missing required key 'rate' in rate limit 'a'");
    expect_error("rate_limits:\n  a: { rate: 1/s, key: clinet }\n" UP EP, 2, 24, "(did you mean 'client'?)");
    expect_error("rate_limits:\n  a: { rate: 1/s, key: header. }\n" UP EP, 2, 24, "NAME must be");
    expect_error("rate_limits:\n  a: { rate: 1/s, key: \"jwt.a b\" }\n" UP EP, 2, 24, "NAME must be");
    expect_error("rate_limits:\n  a: { rate: 1/s, burst: 0 }\n" UP EP, 2, 26,
                 "'burst' must be an integer between 1 and 1000000");
    expect_error("rate_limits:\n  a: { rate: 1/s, max_keys: 0 }\n" UP EP, 2, 29, "'max_keys' must be an integer");
    expect_error("rate_limits:\n  a: { rate: 1/s, bust: 2 }\n" UP EP, 2, 19,
                 "unknown key 'bust' in rate limit 'a' (did you mean 'burst'?)");
    expect_error("rate_limits:\n  \"a b\": { rate: 1/s }\n" UP EP, 2, 3, "rate limit name 'a b' must be");
    expect_error("rate_limits:\n  a: { rate: 1/s }\n  a: { rate: 2/s }\n" UP EP, 3, 3, "duplicate key 'a'");
    expect_error("rate_limits: [ a ]\n" UP EP, 1, 14, "'rate_limits' must be a mapping");
}

static void endpoint_refusals(void **state)
{
    (void)state;
#define LIM "rate_limits:\n  per_key: { rate: 1/s }\n"
    expect_error(LIM UP "endpoints:\n  - path: /a\n    rate_limit: per_kye\n" BACKENDS, 8, 17,
                 "unknown rate limit 'per_kye' (did you mean 'per_key'?)");
    expect_error(UP "endpoints:\n  - path: /a\n    rate_limit: per_key\n" BACKENDS, 6, 17,
                 "unknown rate limit 'per_key' (define it under 'rate_limits')");
    expect_error(LIM UP "endpoints:\n  - path: /a\n    rate_limit: [ per_key, per_key ]\n" BACKENDS, 8, 28,
                 "rate limit 'per_key' is listed twice");
    expect_error(LIM UP "endpoints:\n  - path: /a\n    rate_limit: [ [ per_key ] ]\n" BACKENDS, 8, 19,
                 "'rate_limit' of endpoint '/a' must name limits");
    expect_error(LIM UP "endpoints:\n  - path: /a\n    rate_limit: [ per_key, b, c, d, e, f, g, h, i ]\n" BACKENDS,
                 8, 49, "too many rate limits on one endpoint (max 8)");
    expect_error(LIM UP "endpoints:\n  - path: /a\n    cors: maybe\n" BACKENDS, 8, 11,
                 "'cors' of endpoint '/a' must be on or off");
    expect_error(LIM UP "endpoints:\n  - path: /a\n    cors: on\n" BACKENDS, 8, 11,
                 "needs a top-level 'cors:' block");
    expect_error(LIM UP "endpoints:\n  - path: /a\n    rate_limits: per_key\n" BACKENDS, 8, 5,
                 "(did you mean 'rate_limit'?)");
#undef LIM
    /* `cors: on` with a policy is the default, spelled out. */
    md_config_t *cfg = load("cors: { allow_origins: \"*\" }\n" UP "endpoints:\n  - path: /a\n    cors: on\n" BACKENDS);
    assert_false(cfg->endpoints[0].cors_off);
    md_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(off_when_absent),
        cmocka_unit_test(cors_full_block),
        cmocka_unit_test(cors_short_forms),
        cmocka_unit_test(cors_refusals),
        cmocka_unit_test(cors_list_bound),
        cmocka_unit_test(rate_limit_forms),
        cmocka_unit_test(rate_limit_refusals),
        cmocka_unit_test(endpoint_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
