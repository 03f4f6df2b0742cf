/*
 * Unit tests for where rate-limit buckets live (config/limits_cors.c
 * `rate_limits.NAME.store`, config/cache.c `cache.redis`): memory by
 * default, redis through the cache block's connection whatever the cache
 * store, and a limit asking for Redis with no connection refused at the
 * limit, whichever order the blocks come in. Positions are counted by hand
 * from the YAML below.
 */
#include "testutil.h"

#include "cfgtest.h"

#include "config/config.h"

/* Three fixed lines each, so positions below them are easy to count. */
#define UP                                                                                                   \
    "upstreams:\n"                                                                                           \
    "  hr: { url: \"http://127.0.0.1:9001\" }\n"                                                            \
    "  news: { url: \"http://127.0.0.1:9002\" }\n"
#define EP "endpoints:\n  - path: /a\n    rate_limit: [ shared ]\n    backends: [ { upstream: hr, path: /x } ]\n"
#define SHARED "rate_limits:\n  shared: { rate: 5/1m, store: redis }\n"
#define REDIS_URL "cache: { redis: { url: \"redis://127.0.0.1:6390/2\", timeout: 20ms, prefix: \"x:\" } }\n"

static void memory_is_the_default(void **state)
{
    (void)state;
    md_config_t *cfg = load("rate_limits:\n"
                            "  shared: { rate: 5/1m }\n"
                            "  other: { rate: 5/1m, store: memory }\n" UP EP);
    assert_false(cfg->rate_limits[0].redis);
    assert_false(cfg->rate_limits[1].redis);
    assert_null(cfg->cache.redis_url);
    md_config_free(cfg);
}

static void redis_uses_the_cache_connection_with_either_store(void **state)
{
    (void)state;
    md_config_t *cfg = load(SHARED "  local: { rate: 2/s, store: memory }\n" UP EP REDIS_URL);
    assert_true(cfg->rate_limits[0].redis);
    assert_false(cfg->rate_limits[1].redis);
    assert_int_equal(cfg->rate_limits[0].count, 5);
    assert_int_equal(cfg->rate_limits[0].period_ms, 60000);
    /* The cache itself stays in process; only the limit uses Redis. */
    assert_int_equal(cfg->cache.store, MD_CACHE_STORE_MEMORY);
    assert_string_equal(cfg->cache.redis_host, "127.0.0.1");
    assert_int_equal(cfg->cache.redis_port, 6390);
    assert_int_equal(cfg->cache.redis_db, 2);
    assert_int_equal(cfg->cache.redis_timeout_ms, 20);
    assert_string_equal(cfg->cache.redis_prefix, "x:");
    md_config_free(cfg);

    cfg = load("cache:\n  store: redis\n  redis: { url: redis://h }\n" SHARED UP EP);
    assert_true(cfg->rate_limits[0].redis);
    assert_int_equal(cfg->cache.store, MD_CACHE_STORE_REDIS);
    md_config_free(cfg);
}

static void redis_without_a_connection_is_refused_at_the_limit(void **state)
{
    (void)state;
    static const char want[] = "rate limit 'shared' has 'store: redis' but there is no Redis connection";
    /* No cache block at all: found when the endpoints are read. */
    expect_error(SHARED UP EP, 2, 3, want);
    /* A cache block without redis, before the limits... */
    expect_error("cache: { max_memory: 2MiB }\n" SHARED UP EP, 3, 3, want);
    /* ... and after them. */
    expect_error(SHARED "cache: { max_waiters: 5 }\n" UP EP, 2, 3, want);
    /* The same limit unused by any endpoint is still refused. */
    expect_error(SHARED UP "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n", 2, 3, want);
    /* An earlier mistake in the file is still the one reported. */
    expect_error("cache: { store: disk }\n" SHARED UP EP, 1, 17, "'store' must be memory or redis");
}

static void store_values_are_checked(void **state)
{
    (void)state;
    expect_error("rate_limits:\n  a: { rate: 1/s, store: disk }\n" UP EP, 2, 26,
                 "'store' of rate limit 'a' must be memory or redis");
    expect_error("rate_limits:\n  a: { rate: 1/s, store: [ redis ] }\n" UP EP, 2, 26,
                 "'store' of rate limit 'a' must be memory or redis");
    expect_error("rate_limits:\n  a: { rate: 1/s, stor: redis }\n" UP EP, 2, 19,
                 "unknown key 'stor' in rate limit 'a' (did you mean 'store'?)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memory_is_the_default),
        cmocka_unit_test(redis_uses_the_cache_connection_with_either_store),
        cmocka_unit_test(redis_without_a_connection_is_refused_at_the_limit),
        cmocka_unit_test(store_values_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
