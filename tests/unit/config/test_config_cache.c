/*
 * Unit tests for the caching keys of the config (config/cache.c): the
 * top-level `cache:` block (memory and redis stores, the purge token) and
 * the `cache:` of backends and endpoints (ttl, stale windows, vary, the
 * shorthands). Every accepted form is checked field by field, every
 * refusal at its line:column, counted by hand from the YAML below.
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
#define EP "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

/* Lines 1-8: an endpoint with two optional query params. */
#define EP_PARAMS UP "endpoints:\n  - path: /a\n    params:\n      lang:\n      region:\n"
/* Three lines of one backend, to follow EP_PARAMS. */
#define BE "    backends:\n      - upstream: hr\n        path: /x\n"

/* The top-level redis block with url X: the url value is at 4:10. */
#define REDIS(x) "cache:\n  store: redis\n  redis:\n    url: " x "\n" UP EP

/* ---- the top-level block ------------------------------------------------- */

static void defaults_when_absent(void **state)
{
    (void)state;
    md_config_t *cfg = load(UP EP);
    const md_cache_global_conf_t *g = &cfg->cache;
    assert_int_equal(g->store, MD_CACHE_STORE_MEMORY);
    assert_int_equal(g->max_memory, 64 * 1024 * 1024);
    assert_int_equal(g->max_waiters, 4096);
    assert_null(g->redis_url);
    assert_null(g->redis_host);
    assert_int_equal(g->redis_port, 6379);
    assert_null(g->redis_password);
    assert_int_equal(g->redis_db, 0);
    assert_int_equal(g->redis_timeout_ms, 50);
    assert_string_equal(g->redis_prefix, "medley:");
    assert_null(g->purge_token);
    assert_int_equal(g->line, 0);
    assert_int_equal(g->col, 0);
    const md_endpoint_conf_t *e = &cfg->endpoints[0];
    assert_false(e->cache.on);
    assert_null(e->cache.vary);
    assert_int_equal(e->cache.nvary, 0);
    assert_int_equal(e->cache.line, 0);
    assert_false(e->backends[0].cache.on);
    assert_int_equal(e->backends[0].cache.ttl_ms, 0);
    md_config_free(cfg);

    cfg = load("cache:\n" UP EP); /* an empty block is absent too */
    assert_int_equal(cfg->cache.store, MD_CACHE_STORE_MEMORY);
    assert_int_equal(cfg->cache.max_memory, 64 * 1024 * 1024);
    md_config_free(cfg);
}

static void memory_store_fields(void **state)
{
    (void)state;
    md_config_t *cfg = load("listen: 8080\n"
                            "cache:\n"
                            "  store: memory\n"
                            "  max_memory: 2MiB\n"
                            "  max_waiters: 10\n"
                            "  purge_token: 0123456789abcdef-_.~+/==\n" UP EP);
    const md_cache_global_conf_t *g = &cfg->cache;
    assert_int_equal(g->store, MD_CACHE_STORE_MEMORY);
    assert_int_equal(g->max_memory, 2 * 1024 * 1024);
    assert_int_equal(g->max_waiters, 10);
    assert_string_equal(g->purge_token, "0123456789abcdef-_.~+/==");
    assert_null(g->redis_url);
    assert_int_equal(g->line, 2);
    assert_int_equal(g->col, 1);
    md_config_free(cfg);

    cfg = load("cache: { max_memory: 1m, max_waiters: 1000000, purge_token: \"\" }\n" UP EP);
    assert_int_equal(cfg->cache.max_memory, 1024 * 1024);
    assert_int_equal(cfg->cache.max_waiters, 1000000);
    assert_null(cfg->cache.purge_token); /* empty: purge stays off */
    md_config_free(cfg);
}

static void redis_store_fields(void **state)
{
    (void)state;
    md_config_t *cfg = load("cache:\n"
                            "  store: redis\n"
                            "  redis:\n"
                            "    url: redis://:s3cret@cache.internal:6380/3\n"
                            "    timeout: 2s\n"
                            "    prefix: \"app:v1:\"\n" UP EP);
    const md_cache_global_conf_t *g = &cfg->cache;
    assert_int_equal(g->store, MD_CACHE_STORE_REDIS);
    assert_string_equal(g->redis_url, "redis://:s3cret@cache.internal:6380/3");
    assert_string_equal(g->redis_host, "cache.internal");
    assert_int_equal(g->redis_port, 6380);
    assert_string_equal(g->redis_password, "s3cret");
    assert_int_equal(g->redis_db, 3);
    assert_int_equal(g->redis_timeout_ms, 2000);
    assert_string_equal(g->redis_prefix, "app:v1:");
    md_config_free(cfg);

    cfg = load(REDIS("redis://127.0.0.1"));
    g = &cfg->cache;
    assert_string_equal(g->redis_host, "127.0.0.1");
    assert_int_equal(g->redis_port, 6379);
    assert_null(g->redis_password);
    assert_int_equal(g->redis_db, 0);
    assert_int_equal(g->redis_timeout_ms, 50);
    assert_string_equal(g->redis_prefix, "medley:");
    md_config_free(cfg);

    cfg = load(REDIS("\"redis://[::1]:7000/\""));
    assert_string_equal(cfg->cache.redis_host, "::1");
    assert_int_equal(cfg->cache.redis_port, 7000);
    assert_int_equal(cfg->cache.redis_db, 0);
    md_config_free(cfg);

    cfg = load(REDIS("REDIS://:p%40ss%2Fw%25rd@h:1/15"));
    assert_string_equal(cfg->cache.redis_password, "p@ss/w%rd");
    assert_string_equal(cfg->cache.redis_host, "h");
    assert_int_equal(cfg->cache.redis_port, 1);
    assert_int_equal(cfg->cache.redis_db, 15);
    md_config_free(cfg);

    cfg = load(REDIS("redis://:@h:65535/0")); /* an empty password is none */
    assert_null(cfg->cache.redis_password);
    assert_int_equal(cfg->cache.redis_port, 65535);
    md_config_free(cfg);

    cfg = load("cache:\n  store: redis\n  redis: { url: \"redis://h\", timeout: 10s, prefix: \"x\" }\n" UP EP);
    assert_int_equal(cfg->cache.redis_timeout_ms, 10000);
    assert_string_equal(cfg->cache.redis_prefix, "x");
    md_config_free(cfg);
}

static void env_vars_expand_in_url_and_token(void **state)
{
    (void)state;
    setenv("MD_TEST_REDIS_URL", "redis://:envpw@10.0.0.9:6390/2", 1);
    setenv("MD_TEST_PURGE", "abcdefghijklmnop", 1);
    unsetenv("MD_TEST_UNSET");
    md_config_t *cfg = load("cache:\n"
                            "  store: redis\n"
                            "  purge_token: ${MD_TEST_PURGE}\n"
                            "  redis: { url: \"${MD_TEST_REDIS_URL}\" }\n" UP EP);
    const md_cache_global_conf_t *g = &cfg->cache;
    assert_string_equal(g->redis_url, "redis://:envpw@10.0.0.9:6390/2");
    assert_string_equal(g->redis_host, "10.0.0.9");
    assert_int_equal(g->redis_port, 6390);
    assert_string_equal(g->redis_password, "envpw");
    assert_int_equal(g->redis_db, 2);
    assert_string_equal(g->purge_token, "abcdefghijklmnop");
    md_config_free(cfg);

    cfg = load("cache: { purge_token: \"${MD_TEST_UNSET:-}\" }\n" UP EP);
    assert_null(cfg->cache.purge_token);
    md_config_free(cfg);

    expect_error("cache:\n  purge_token: ${MD_TEST_UNSET}\n" UP EP, 2, 16,
                 "environment variable 'MD_TEST_UNSET' is not set");
    setenv("MD_TEST_PURGE", "short", 1);
    expect_secret_error("cache:\n  purge_token: ${MD_TEST_PURGE}\n" UP EP, 2, 16, "'purge_token' must be 16-256",
                        "short");
    setenv("MD_TEST_REDIS_URL", "http://:leaked@h", 1);
    expect_secret_error(REDIS("${MD_TEST_REDIS_URL}"), 4, 10, "must start with redis://", "leaked");
    unsetenv("MD_TEST_PURGE");
    unsetenv("MD_TEST_REDIS_URL");
}

static void global_refusals(void **state)
{
    (void)state;
    expect_error("cache:\n  stor: redis\n" UP EP, 2, 3, "unknown key 'stor' in cache (did you mean 'store'?)");
    expect_error("cach: {}\n" UP EP, 1, 1, "unknown key 'cach' in the top level (did you mean 'cache'?)");
    expect_error("cache: memory\n" UP EP, 1, 8, "cache must be a mapping of settings");
    expect_error("cache: { store: disk }\n" UP EP, 1, 17, "'store' must be memory or redis");
    expect_error("cache: { store: Redis }\n" UP EP, 1, 17, "'store' must be memory or redis");
    expect_error("cache: { max_memory: 512k }\n" UP EP, 1, 22, "'max_memory' must be at least 1MiB");
    expect_error("cache: { max_memory: lots }\n" UP EP, 1, 22, "'max_memory' must be a size");
    expect_error("cache: { max_memory: 2GiB }\n" UP EP, 1, 22, "'max_memory' must be between 1 byte and 1GiB");
    expect_error("cache: { max_waiters: 0 }\n" UP EP, 1, 23, "'max_waiters' must be an integer between 1 and 1000000");
    expect_error("cache: { max_waiters: 1000001 }\n" UP EP, 1, 23, "'max_waiters' must be an integer between 1");
    expect_error("cache:\n  store: memory\n  store: redis\n" UP EP, 3, 3, "duplicate key 'store' in cache");
}

static void purge_token_refusals_hide_the_value(void **state)
{
    (void)state;
    expect_secret_error("cache: { purge_token: tooshort }\n" UP EP, 1, 23, "'purge_token' must be 16-256 characters",
                        "tooshort");
    expect_secret_error("cache: { purge_token: \"has space in it 1234567\" }\n" UP EP, 1, 23,
                        "'purge_token' must be 16-256", "has space");
    expect_secret_error("cache: { purge_token: \"abcdefghijklmnop=q\" }\n" UP EP, 1, 23, "'purge_token' must be",
                        "abcdefghijklmnop");
    expect_secret_error("cache: { purge_token: \"=abcdefghijklmnopq\" }\n" UP EP, 1, 23, "'purge_token' must be",
                        "abcdefghijklmnopq");
    expect_error("cache: { purge_token: [a] }\n" UP EP, 1, 23, "'purge_token' must be a string");

    char yaml[1024], token[258];
    memset(token, 'k', 257);
    token[257] = '\0';
    snprintf(yaml, sizeof(yaml), "cache: { purge_token: %s }\n" UP EP, token);
    expect_secret_error(yaml, 1, 23, "it has 257", "kkkkkkkkkkkkkkkk");
    token[256] = '\0'; /* 256 is the most */
    snprintf(yaml, sizeof(yaml), "cache: { purge_token: %s }\n" UP EP, token);
    md_config_t *cfg = load(yaml);
    assert_int_equal(strlen(cfg->cache.purge_token), 256);
    md_config_free(cfg);
}

static void store_and_redis_block_must_agree(void **state)
{
    (void)state;
    expect_error("cache:\n  store: redis\n" UP EP, 2, 10, "'store: redis' needs a 'redis:' block");
    /* A redis block with the memory store is the connection of rate limits
     * with `store: redis` (test_config_limit_store.c): the cache stays in
     * process. */
    md_config_t *cfg = load("cache:\n  redis: { url: redis://h }\n" UP EP);
    assert_int_equal(cfg->cache.store, MD_CACHE_STORE_MEMORY);
    assert_string_equal(cfg->cache.redis_host, "h");
    md_config_free(cfg);
    cfg = load("cache:\n  store: memory\n  redis: { url: redis://h }\n" UP EP);
    assert_int_equal(cfg->cache.store, MD_CACHE_STORE_MEMORY);
    md_config_free(cfg);
    expect_error("cache:\n  store: redis\n  redis: { timeout: 5ms }\n" UP EP, 3, 3,
                 "missing required key 'url' in cache.redis");
    expect_error("cache:\n  store: redis\n  redis:\n    urll: redis://h\n" UP EP, 4, 5,
                 "unknown key 'urll' in cache.redis (did you mean 'url'?)");
    expect_error("cache:\n  store: redis\n  redis: redis://h\n" UP EP, 3, 10, "cache.redis must be a mapping");
}

static void bad_redis_urls(void **state)
{
    (void)state;
    expect_error(REDIS("http://h"), 4, 10, "redis 'url' must start with redis://");
    expect_error(REDIS("junk"), 4, 10, "must start with redis://");
    expect_error(REDIS("rediss://h"), 4, 10, "TLS (rediss://) is not supported");
    expect_error(REDIS("redis://"), 4, 10, "must name a host");
    expect_error(REDIS("redis:///3"), 4, 10, "must name a host");
    expect_error(REDIS("\"redis://[::1\""), 4, 10, "must name a host");
    expect_error(REDIS("redis://h:0"), 4, 10, "has a bad port (1-65535)");
    expect_error(REDIS("redis://h:70000"), 4, 10, "has a bad port (1-65535)");
    expect_error(REDIS("redis://h:abc"), 4, 10, "has a bad port");
    expect_error(REDIS("redis://h:1:2"), 4, 10, "must name a host");
    expect_error(REDIS("redis://h/16"), 4, 10, "has a bad database number (0-15)");
    expect_error(REDIS("redis://h/1x"), 4, 10, "has a bad database number");
    expect_error(REDIS("redis://h/1/2"), 4, 10, "has a bad database number");
    expect_error(REDIS("redis://h/-1"), 4, 10, "has a bad database number");
    expect_error(REDIS("redis://h?db=1"), 4, 10, "must not have a query, a fragment or spaces");
    expect_error(REDIS("\"redis://h 1\""), 4, 10, "must not have a query, a fragment or spaces");
    expect_error(REDIS("\"\""), 4, 10, "'url' must not be empty");
    expect_secret_error(REDIS("redis://user:pw123@h"), 4, 10, "user names are not supported", "pw123");
    expect_secret_error(REDIS("redis://pw123@h"), 4, 10, "must give the password after a ':'", "pw123");
    expect_secret_error(REDIS("redis://:p@ss123@h"), 4, 10, "must write '@' in the password as %40", "ss123");
    expect_secret_error(REDIS("redis://:pw123%4@h"), 4, 10, "bad %-escape in the password", "pw123");
    expect_secret_error(REDIS("redis://:pw123%zz@h"), 4, 10, "bad %-escape in the password", "pw123");
    expect_secret_error(REDIS("redis://:pw123%00x@h"), 4, 10, "must not have control characters", "pw123");
    expect_secret_error(REDIS("redis://:pw123@"), 4, 10, "must name a host", "pw123");
    expect_secret_error(REDIS("redis://:pw123@h:99999"), 4, 10, "has a bad port", "pw123");

    char yaml[2048], url[400];
    snprintf(url, sizeof(url), "redis://:%0257d@h", 0); /* 257 password bytes */
    snprintf(yaml, sizeof(yaml), REDIS("%s"), url);
    expect_error(yaml, 4, 10, "has a password longer than 256 bytes");
    snprintf(url, sizeof(url), "redis://%0300d", 0); /* a 300-byte host */
    snprintf(yaml, sizeof(yaml), REDIS("%s"), url);
    expect_error(yaml, 4, 10, "has a host that is too long");
}

static void redis_timeout_and_prefix_refusals(void **state)
{
    (void)state;
#define R "cache:\n  store: redis\n  redis:\n    url: redis://h\n"
    expect_error(R "    timeout: 11s\n" UP EP, 5, 14, "'timeout' must be between 1ms and 10s");
    expect_error(R "    timeout: 0ms\n" UP EP, 5, 14, "'timeout' must be between 1ms and 1h");
    expect_error(R "    timeout: soon\n" UP EP, 5, 14, "'timeout' must be a duration");
    expect_error(R "    prefix: \"a b\"\n" UP EP, 5, 13, "'prefix' must be printable ASCII without spaces");
    expect_error(R "    prefix: \"caf\xc3\xa9:\"\n" UP EP, 5, 13, "'prefix' must be printable ASCII");
    expect_error(R "    prefix: \"\"\n" UP EP, 5, 13, "'prefix' must not be empty");
    expect_error(R "    prefix: "
                   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n" UP EP,
                 5, 13, "'prefix' is longer than 64 bytes");
#undef R
}

/* ---- backend and endpoint policies ---------------------------------------- */

static void every_policy_form_is_read(void **state)
{
    (void)state;
    md_config_t *cfg = load(UP "endpoints:\n"
                               "  - path: /home\n"
                               "    params: { lang: { in: query }, id: }\n"
                               "    cache: { ttl: 5s, vary: [header.Accept-Language, lang] }\n"
                               "    backends:\n"
                               "      - upstream: news\n"
                               "        path: /n\n"
                               "        cache: { ttl: 30s, stale_while_revalidate: 60s, stale_if_error: 10m, "
                               "vary: [lang, query.page] }\n"
                               "      - upstream: hr\n"
                               "        path: /h\n"
                               "        cache: { ttl: upstream }\n"
                               "      - { upstream: hr, name: hr2, path: /h2, cache: 30s }\n"
                               "      - { upstream: hr, name: hr3, path: /h3, cache: upstream }\n"
                               "      - { upstream: news, name: n2, path: /n2, cache: off }\n"
                               "      - { upstream: news, name: n3, path: /n3 }\n");
    const md_endpoint_conf_t *e = &cfg->endpoints[0];
    assert_true(e->cache.on);
    assert_false(e->cache.ttl_upstream);
    assert_int_equal(e->cache.ttl_ms, 5000);
    assert_int_equal(e->cache.swr_ms, 0);
    assert_int_equal(e->cache.sie_ms, 0);
    assert_int_equal(e->cache.nvary, 2);
    assert_string_equal(e->cache.vary[0], "header.Accept-Language");
    assert_string_equal(e->cache.vary[1], "lang");
    assert_int_equal(e->cache.line, 7);
    assert_int_equal(e->cache.col, 5);

    const md_cache_conf_t *b = &e->backends[0].cache;
    assert_true(b->on);
    assert_false(b->ttl_upstream);
    assert_int_equal(b->ttl_ms, 30000);
    assert_int_equal(b->swr_ms, 60000);
    assert_int_equal(b->sie_ms, 600000);
    assert_int_equal(b->nvary, 2);
    assert_string_equal(b->vary[0], "lang");
    assert_string_equal(b->vary[1], "query.page");
    assert_int_equal(b->line, 11);
    assert_int_equal(b->col, 9);

    b = &e->backends[1].cache;
    assert_true(b->on);
    assert_true(b->ttl_upstream);
    assert_int_equal(b->ttl_ms, 0); /* no fallback */
    assert_int_equal(b->nvary, 0);
    assert_int_equal(b->line, 14);

    b = &e->backends[2].cache;
    assert_true(b->on);
    assert_false(b->ttl_upstream);
    assert_int_equal(b->ttl_ms, 30000);
    assert_int_equal(b->swr_ms, 0);
    assert_int_equal(b->line, 15);
    assert_int_equal(b->col, 47);

    b = &e->backends[3].cache;
    assert_true(b->on);
    assert_true(b->ttl_upstream);
    assert_int_equal(b->ttl_ms, 0);

    b = &e->backends[4].cache;
    assert_false(b->on);
    assert_int_equal(b->line, 17);
    assert_int_equal(b->col, 48);

    assert_false(e->backends[5].cache.on);
    assert_int_equal(e->backends[5].cache.line, 0);
    md_config_free(cfg);
}

/* Backend cache at line 12: "        cache: " puts the value at column 16. */
#define BC(x) EP_PARAMS BE "        cache: " x "\n"

static uint32_t backend_ttl(const char *value)
{
    char yaml[512];
    snprintf(yaml, sizeof(yaml), EP_PARAMS BE "        cache: %s\n", value);
    md_config_t *cfg = load(yaml);
    uint32_t ttl = cfg->endpoints[0].backends[0].cache.ttl_ms;
    md_config_free(cfg);
    return ttl;
}

static void durations_reach_seven_days(void **state)
{
    (void)state;
    assert_int_equal(backend_ttl("2"), 2); /* bare integers are milliseconds */
    assert_int_equal(backend_ttl("250ms"), 250);
    assert_int_equal(backend_ttl("{ ttl: 90s }"), 90000);
    assert_int_equal(backend_ttl("{ ttl: 10m }"), 600000);
    assert_int_equal(backend_ttl("{ ttl: 2h }"), 7200000);
    assert_int_equal(backend_ttl("{ ttl: 1d }"), 86400000);
    assert_int_equal(backend_ttl("{ ttl: 7d }"), 604800000);
    assert_int_equal(backend_ttl("{ ttl: 168h }"), 604800000);
    assert_int_equal(backend_ttl("604800000"), 604800000);

    md_config_t *cfg = load(BC("{ ttl: 1s, stale_while_revalidate: 7d, stale_if_error: 1ms }"));
    assert_int_equal(cfg->endpoints[0].backends[0].cache.swr_ms, 604800000);
    assert_int_equal(cfg->endpoints[0].backends[0].cache.sie_ms, 1);
    md_config_free(cfg);
}

static void vary_accepts_params_query_and_headers(void **state)
{
    (void)state;
    md_config_t *cfg = load(UP "endpoints:\n"
                               "  - path: /u/{id}\n"
                               "    cache:\n"
                               "      ttl: 1s\n"
                               "      vary: [id, query.a, query.A, header.X-Trace_1, \"header.!#$%&'*+-.^_`|~\"]\n"
                               "    backends: [ { upstream: hr, path: /x } ]\n");
    const md_cache_conf_t *cc = &cfg->endpoints[0].cache;
    assert_int_equal(cc->nvary, 5);
    assert_string_equal(cc->vary[0], "id"); /* an implicit path param */
    assert_string_equal(cc->vary[1], "query.a");
    assert_string_equal(cc->vary[2], "query.A"); /* query names are case-sensitive */
    assert_string_equal(cc->vary[3], "header.X-Trace_1");
    assert_string_equal(cc->vary[4], "header.!#$%&'*+-.^_`|~");
    md_config_free(cfg);

    /* Exactly 16 entries, and an empty list. */
    cfg = load(EP_PARAMS BE "        cache: { ttl: 1s, vary: [query.a, query.b, query.c, query.d, query.e, query.f, "
                            "query.g, query.h, query.i, query.j, query.k, query.l, query.m, query.n, query.o, "
                            "query.p] }\n");
    assert_int_equal(cfg->endpoints[0].backends[0].cache.nvary, 16);
    assert_string_equal(cfg->endpoints[0].backends[0].cache.vary[15], "query.p");
    md_config_free(cfg);
    cfg = load(EP_PARAMS BE "        cache: { ttl: 1s, vary: [] }\n");
    assert_true(cfg->endpoints[0].backends[0].cache.on);
    assert_int_equal(cfg->endpoints[0].backends[0].cache.nvary, 0);
    md_config_free(cfg);
}

static void backend_policy_refusals(void **state)
{
    (void)state;
    const char *ttl_msg = "'ttl' must be a duration between 1ms and 7d, like 30s or 10m, or upstream";
    expect_error(BC("{ ttl: 0s }"), 12, 23, ttl_msg);
    expect_error(BC("{ ttl: 8d }"), 12, 23, ttl_msg);
    expect_error(BC("{ ttl: 10081m }"), 12, 23, ttl_msg);
    expect_error(BC("{ ttl: forever }"), 12, 23, ttl_msg);
    expect_error(BC("{ ttl: 99999999999s }"), 12, 23, ttl_msg);
    expect_error(BC("{ ttl: -5s }"), 12, 23, ttl_msg);
    expect_error(BC("{ ttl: 5 s }"), 12, 23, ttl_msg);
    expect_error(BC("{ ttl: [5s] }"), 12, 23, ttl_msg);
    expect_error(BC("0"), 12, 16, "'cache' must be a duration between 1ms and 7d, like 30s or 10m, upstream or off");
    expect_error(BC("sometimes"), 12, 16, "upstream or off");
    expect_error(BC("[30s]"), 12, 16,
                 "'cache' of backend #1 of endpoint '/a' must be a duration like 30s, off, or a mapping with 'ttl'");
    expect_error(BC("{ vary: [lang] }"), 12, 9,
                 "missing required key 'ttl' in the cache of backend #1 of endpoint '/a'");
    expect_error(BC("{}"), 12, 9, "missing required key 'ttl'");
    expect_error(BC("{ ttl: 5s, tll: 1s }"), 12, 27,
                 "unknown key 'tll' in the cache of backend #1 of endpoint '/a' (did you mean 'ttl'?)");
    expect_error(BC("{ ttl: 5s, stale_while_revalidate: 0 }"), 12, 51,
                 "'stale_while_revalidate' must be a duration between 1ms and 7d");
    expect_error(BC("{ ttl: 5s, stale_if_error: 8d }"), 12, 43, "'stale_if_error' must be a duration between 1ms");
    expect_error(EP_PARAMS BE "        cach: 30s\n", 12, 9,
                 "unknown key 'cach' in backend #1 of endpoint '/a' (did you mean 'cache'?)");
}

static void vary_refusals(void **state)
{
    (void)state;
    expect_error(BC("{ ttl: 5s, vary: lang }"), 12, 33, "'vary' must be a list");
    expect_error(BC("{ ttl: 5s, vary: [lan] }"), 12, 34,
                 "unknown param 'lan' in 'vary' of backend #1 of endpoint '/a' (did you mean 'lang'?)");
    expect_error(BC("{ ttl: 5s, vary: [zzz] }"), 12, 34,
                 "unknown param 'zzz' in 'vary' of backend #1 of endpoint '/a' (declare it under 'params'");
    expect_error(BC("{ ttl: 5s, vary: [lang, lang] }"), 12, 40, "'lang' is listed twice in 'vary'");
    expect_error(BC("{ ttl: 5s, vary: [header.Accept, header.accept] }"), 12, 49,
                 "'header.accept' is listed twice in 'vary'");
    expect_error(BC("{ ttl: 5s, vary: [query.x, query.x] }"), 12, 43, "'query.x' is listed twice");
    expect_error(BC("{ ttl: 5s, vary: [cookie.sid] }"), 12, 34,
                 "'vary' entry 'cookie.sid' must be a param name, query.NAME or header.NAME");
    expect_error(BC("{ ttl: 5s, vary: [Header.X] }"), 12, 34, "must be a param name, query.NAME or header.NAME");
    expect_error(BC("{ ttl: 5s, vary: [\"header.Bad Name\"] }"), 12, 34,
                 "'vary' entry 'header.Bad Name': NAME must be 1-64 characters of an HTTP token");
    expect_error(BC("{ ttl: 5s, vary: [query.] }"), 12, 34, "NAME must be 1-64 characters");
    expect_error(BC("{ ttl: 5s, vary: [\"query.a\\tb\"] }"), 12, 34, "NAME must be 1-64 characters");
    expect_error(BC("{ ttl: 5s, vary: [header.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa] }"),
                 12, 34, "NAME must be 1-64 characters"); /* 65 */
    expect_error(BC("{ ttl: 5s, vary: [[a]] }"), 12, 34, "items of 'vary' must be a param name");
    expect_error(BC("{ ttl: 5s, vary: [\"\"] }"), 12, 34, "items of 'vary' must be a param name");
    /* The 17th entry is one too many: 16 entries of 9 bytes after column 34. */
    expect_error(BC("{ ttl: 5s, vary: [query.a, query.b, query.c, query.d, query.e, query.f, query.g, query.h, "
                    "query.i, query.j, query.k, query.l, query.m, query.n, query.o, query.p, query.q] }"),
                 12, 178, "too many vary entries (max 16)");
}

/* Endpoint cache at line 9: "    cache: " puts the value at column 12. */
#define EC(x) EP_PARAMS "    cache: " x "\n" BE

static void endpoint_policy_refusals(void **state)
{
    (void)state;
    expect_error(EC("{ ttl: 5s, stale_while_revalidate: 1s }"), 9, 23,
                 "'stale_while_revalidate' applies to backends only");
    expect_error(EC("{ ttl: 5s, stale_if_error: 1s }"), 9, 23, "'stale_if_error' applies to backends only");
    expect_error(EC("{ ttl: upstream }"), 9, 19, "'ttl: upstream' applies to backends only");
    expect_error(EC("upstream"), 9, 12, "'ttl: upstream' applies to backends only");
    expect_error(EC("8d"), 9, 12, "'cache' must be a duration between 1ms and 7d, like 30s or 10m, or off");
    expect_error(EC("{ ttl: 8d }"), 9, 19, "'ttl' must be a duration between 1ms and 7d, like 30s or 10m");
    expect_error(EC("{ ttl: 5s, vary: [regoin] }"), 9, 30,
                 "unknown param 'regoin' in 'vary' of endpoint '/a' (did you mean 'region'?)");
    expect_error(EC("{ ttl: 5s, vry: [lang] }"), 9, 23,
                 "unknown key 'vry' in the cache of endpoint '/a' (did you mean 'vary'?)");
    expect_error(EP_PARAMS "    cach: 5s\n" BE, 9, 5, "unknown key 'cach' in endpoint '/a' (did you mean 'cache'?)");
}

static void passthrough_endpoints_are_not_cached(void **state)
{
    (void)state;
    expect_error(UP "endpoints:\n"
                    "  - path: /p\n"
                    "    cache: 5s\n"
                    "    passthrough: { upstream: hr, path: /x }\n",
                 6, 5, "endpoint '/p': 'cache' needs 'backends' (a passthrough is not cached)");
    md_config_t *cfg = load(UP "endpoints:\n"
                               "  - path: /p\n"
                               "    cache: off\n"
                               "    passthrough: { upstream: hr, path: /x }\n");
    assert_false(cfg->endpoints[0].cache.on);
    assert_true(cfg->endpoints[0].passthrough);
    md_config_free(cfg);
    /* A passthrough has no `cache` key of its own. */
    expect_error(UP "endpoints:\n"
                    "  - path: /p\n"
                    "    passthrough: { upstream: hr, path: /x, cache: 5s }\n",
                 6, 44, "unknown key 'cache' in the passthrough of endpoint '/p'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_when_absent),
        cmocka_unit_test(memory_store_fields),
        cmocka_unit_test(redis_store_fields),
        cmocka_unit_test(env_vars_expand_in_url_and_token),
        cmocka_unit_test(global_refusals),
        cmocka_unit_test(purge_token_refusals_hide_the_value),
        cmocka_unit_test(store_and_redis_block_must_agree),
        cmocka_unit_test(bad_redis_urls),
        cmocka_unit_test(redis_timeout_and_prefix_refusals),
        cmocka_unit_test(every_policy_form_is_read),
        cmocka_unit_test(durations_reach_seven_days),
        cmocka_unit_test(vary_accepts_params_query_and_headers),
        cmocka_unit_test(backend_policy_refusals),
        cmocka_unit_test(vary_refusals),
        cmocka_unit_test(endpoint_policy_refusals),
        cmocka_unit_test(passthrough_endpoints_are_not_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
