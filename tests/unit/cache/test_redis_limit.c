/*
 * Unit tests for cache/redis_limit: rate-limit buckets kept in a real
 * redis-server. The script is checked against the in-process reference
 * (md_ratelimit_bucket_take) step by step, using the time the script itself
 * stored; then the behaviours the gateway relies on: the N+1th request is
 * denied, tokens come back with time (a 200 ms period and real sleeps: the
 * server's clock cannot be moved), two clients share one bucket, any byte
 * may be part of a key, keys expire when their bucket is full again, and
 * broken state or replies are refused. Expected numbers are worked out by
 * hand from the limit (docs/security.md gives the arithmetic).
 */
#include "testutil.h"

#include "redistest.h"

#include "auth/ratelimit.h"
#include "cache/redis_limit.h"


typedef struct got {
    int calls;
    int status;
    md_ratelimit_result_t r;
    const md_ratelimit_limit_t *lim;
} got_t;

static void on_take(void *arg, int status, const int64_t *v, size_t n)
{
    got_t *g = arg;
    g->calls++;
    g->status = md_redis_limit_result(g->lim, status, v, n, &g->r);
}

static bool got_called(void *arg)
{
    return ((got_t *)arg)->calls > 0;
}

/* One take, waited for; returns the status. */
static int take(md_redis_t *r, const md_ratelimit_limit_t *lim, const char *name, const char *key, size_t klen,
                md_ratelimit_result_t *out)
{
    got_t g = { .lim = lim };
    assert_non_null(md_redis_limit_take(r, lim, name, key, klen, on_take, &g));
    assert_true(rt_wait(got_called, &g, RT_GUARD_MS));
    assert_int_equal(g.calls, 1);
    *out = g.r;
    return g.status;
}

static bool take_allowed(md_redis_t *r, const md_ratelimit_limit_t *lim, const char *name, const char *key)
{
    md_ratelimit_result_t res;
    assert_int_equal(take(r, lim, name, key, strlen(key), &res), MD_OK);
    return res.allowed;
}

/* The stored {level, last_ms} of medley:rl:NAME:KEY. */
static void stored(const char *name, const char *key, uint64_t *level, uint64_t *last)
{
    char k[512];
    int n = snprintf(k, sizeof(k), "medley:rl:%s:%s", name, key);
    redisReply *rep = rt_cmd(main_port, "HMGET %b level last_ms", k, (size_t)n);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->element[0]->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->element[1]->type, REDIS_REPLY_STRING);
    *level = strtoull(rep->element[0]->str, NULL, 10);
    *last = strtoull(rep->element[1]->str, NULL, 10);
    freeReplyObject(rep);
}

static void sleep_ms(unsigned ms)
{
    usleep(ms * 1000u);
}

/* ---- the arithmetic ---- */

/* Every answer and every stored level equal what the in-process bucket
 * computes at the time the script stored (a time that did not move on
 * refills nothing, in both). */
static void the_script_matches_the_reference_bucket(void **state)
{
    (void)state;
    static const unsigned pauses[] = { 0, 0, 0, 0, 0, 30, 0, 200, 0, 0, 143, 1, 0, 600, 0, 0, 0, 0, 0, 77, 0, 0 };
    const md_ratelimit_limit_t lim = { .count = 7, .period_ms = 1000, .burst = 4 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    md_ratelimit_bucket_t ref = { 0, 0 };
    int allowed = 0, denied = 0;
    for (size_t i = 0; i < sizeof(pauses) / sizeof(pauses[0]); i++) {
        sleep_ms(pauses[i]);
        md_ratelimit_result_t got, want;
        assert_int_equal(take(r, &lim, "ref", "k", 1, &got), MD_OK);
        uint64_t level, last;
        stored("ref", "k", &level, &last);
        if (i == 0)
            md_ratelimit_bucket_init(&lim, &ref, last);
        md_ratelimit_bucket_take(&lim, &ref, last, &want);
        assert_int_equal(got.allowed, want.allowed);
        assert_int_equal(got.limit, 4);
        assert_int_equal(got.remaining, want.remaining);
        assert_int_equal(got.retry_after_ms, want.retry_after_ms);
        assert_int_equal(got.reset_ms, want.reset_ms);
        assert_int_equal(level, ref.level);
        assert_int_equal(last, ref.last_ms);
        allowed += got.allowed;
        denied += !got.allowed;
    }
    assert_true(allowed >= 4 && denied >= 4); /* both sides were exercised */
    md_redis_free(r);
}

/* 3 per minute, burst 3: three pass (2, 1, 0 left), the fourth is told to
 * come back when one token (20 s, less the few ms that passed) is in. */
static void the_request_after_the_burst_is_denied(void **state)
{
    (void)state;
    const md_ratelimit_limit_t lim = { .count = 3, .period_ms = 60000, .burst = 3 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    md_ratelimit_result_t res;
    uint64_t t0 = md_now_us();
    for (uint32_t left = 3; left-- > 0;) {
        assert_int_equal(take(r, &lim, "burst", "c:1", 3, &res), MD_OK);
        assert_true(res.allowed);
        assert_int_equal(res.remaining, left);
        assert_int_equal(res.retry_after_ms, 0);
    }
    assert_int_equal(take(r, &lim, "burst", "c:1", 3, &res), MD_OK);
    uint64_t elapsed_ms = (md_now_us() - t0) / 1000 + 5;
    assert_false(res.allowed);
    assert_int_equal(res.remaining, 0);
    assert_true(res.retry_after_ms <= 20000 && res.retry_after_ms + elapsed_ms >= 20000);
    assert_int_equal(res.reset_ms - res.retry_after_ms, 40000); /* two more tokens */
    assert_int_equal(res.limit, 3);
    /* Another key has its own bucket. */
    assert_int_equal(take(r, &lim, "burst", "c:2", 3, &res), MD_OK);
    assert_true(res.allowed);
    assert_int_equal(res.remaining, 2);
    md_redis_free(r);
}

static void tokens_come_back_with_time(void **state)
{
    (void)state;
    const md_ratelimit_limit_t lim = { .count = 1, .period_ms = 200, .burst = 1 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    md_ratelimit_result_t res;
    assert_int_equal(take(r, &lim, "refill", "k", 1, &res), MD_OK);
    assert_true(res.allowed);
    assert_true(res.reset_ms >= 1 && res.reset_ms <= 200);
    assert_int_equal(take(r, &lim, "refill", "k", 1, &res), MD_OK);
    assert_false(res.allowed);
    assert_true(res.retry_after_ms >= 1 && res.retry_after_ms <= 200);
    sleep_ms((unsigned)res.retry_after_ms + 20);
    assert_true(take_allowed(r, &lim, "refill", "k"));
    assert_false(take_allowed(r, &lim, "refill", "k"));
    md_redis_free(r);
}

static void two_clients_share_one_bucket(void **state)
{
    (void)state;
    const md_ratelimit_limit_t lim = { .count = 3, .period_ms = 60000, .burst = 3 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *a = rt_client(&conf), *b = rt_client(&conf);
    assert_true(take_allowed(a, &lim, "shared", "@10.0.0.1"));
    assert_true(take_allowed(b, &lim, "shared", "@10.0.0.1"));
    assert_true(take_allowed(a, &lim, "shared", "@10.0.0.1"));
    assert_false(take_allowed(b, &lim, "shared", "@10.0.0.1"));
    assert_false(take_allowed(a, &lim, "shared", "@10.0.0.1"));
    /* The name is part of the key: another limit, another bucket. */
    assert_true(take_allowed(b, &lim, "other", "@10.0.0.1"));
    md_redis_free(a);
    md_redis_free(b);
}

/* ---- keys ---- */

static void any_byte_may_be_in_a_key(void **state)
{
    (void)state;
    static const struct { const char *v; size_t n; const char *full; size_t fn; } keys[] = {
        { "a", 1, "medley:rl:bin:a", 15 },
        { "a\0b", 3, "medley:rl:bin:a\0b", 17 },
        { "a:b", 3, "medley:rl:bin:a:b", 17 },
        { "\xff\r\n*?[", 6, "medley:rl:bin:\xff\r\n*?[", 20 },
    };
    const md_ratelimit_limit_t lim = { .count = 1, .period_ms = 60000, .burst = 1 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    md_ratelimit_result_t res;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(take(r, &lim, "bin", keys[i].v, keys[i].n, &res), MD_OK);
        assert_true(res.allowed); /* a bucket of its own */
        assert_int_equal(rt_int(main_port, "EXISTS %b", keys[i].full, keys[i].fn), 1);
    }
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(take(r, &lim, "bin", keys[i].v, keys[i].n, &res), MD_OK);
        assert_false(res.allowed);
    }
    char longest[MD_RATELIMIT_KEY_MAX];
    memset(longest, 'x', sizeof(longest));
    assert_int_equal(take(r, &lim, "bin", longest, sizeof(longest), &res), MD_OK);
    assert_true(res.allowed);
    md_redis_free(r);
}

static void bad_arguments_do_not_start(void **state)
{
    (void)state;
    const md_ratelimit_limit_t lim = { .count = 1, .period_ms = 1000, .burst = 1 };
    const md_ratelimit_limit_t zero = { .count = 0, .period_ms = 1000, .burst = 1 };
    const md_ratelimit_limit_t far = { .count = 1, .period_ms = MD_RATELIMIT_PERIOD_MAX + 1, .burst = 1 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    char name65[66], key257[MD_RATELIMIT_KEY_MAX + 1];
    memset(name65, 'n', 65);
    name65[65] = '\0';
    memset(key257, 'k', sizeof(key257));
    got_t g = { .lim = &lim };
    assert_null(md_redis_limit_take(r, &lim, NULL, "k", 1, on_take, &g));
    assert_null(md_redis_limit_take(r, &lim, "", "k", 1, on_take, &g));
    assert_null(md_redis_limit_take(r, &lim, name65, "k", 1, on_take, &g));
    assert_null(md_redis_limit_take(r, &lim, "a:b", "k", 1, on_take, &g));
    assert_null(md_redis_limit_take(r, &lim, "n", NULL, 1, on_take, &g));
    assert_null(md_redis_limit_take(r, &lim, "n", "", 0, on_take, &g));
    assert_null(md_redis_limit_take(r, &lim, "n", key257, sizeof(key257), on_take, &g));
    assert_null(md_redis_limit_take(r, &zero, "n", "k", 1, on_take, &g));
    assert_null(md_redis_limit_take(r, &far, "n", "k", 1, on_take, &g));
    name65[64] = '\0'; /* 64 is the most */
    md_ratelimit_result_t res;
    assert_int_equal(take(r, &lim, name65, "k", 1, &res), MD_OK);
    rt_run_for(20);
    assert_int_equal(g.calls, 0);
    md_redis_free(r);

    conf = rt_conf(rt_free_port()); /* down: the caller falls back */
    r = md_redis_new(loop, &conf);
    assert_null(md_redis_limit_take(r, &lim, "n", "k", 1, on_take, &g));
    md_redis_free(r);
}

static void keys_expire_when_full_again(void **state)
{
    (void)state;
    const md_ratelimit_limit_t fast = { .count = 1, .period_ms = 200, .burst = 2 };
    const md_ratelimit_limit_t slow = { .count = 1, .period_ms = 3600000, .burst = 1 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    md_ratelimit_result_t res;
    assert_int_equal(take(r, &slow, "exp", "slow", 4, &res), MD_OK);
    long long pttl = rt_int(main_port, "PTTL medley:rl:exp:slow");
    assert_true(pttl > 3600000 - 5000 && pttl <= 3600000);
    assert_int_equal(take(r, &fast, "exp", "fast", 4, &res), MD_OK);
    assert_true(res.allowed);
    assert_int_equal(res.remaining, 1);
    pttl = rt_int(main_port, "PTTL medley:rl:exp:fast");
    assert_true(pttl > 0 && pttl <= 200); /* one token out: full in 200 ms */
    assert_true((uint64_t)pttl <= res.reset_ms);
    sleep_ms(400);
    assert_int_equal(rt_int(main_port, "EXISTS medley:rl:exp:fast"), 0);
    md_redis_free(r);
}

/* ---- broken state and answers ---- */

static void foreign_state_is_refused_or_reset(void **state)
{
    (void)state;
    const md_ratelimit_limit_t lim = { .count = 1, .period_ms = 60000, .burst = 3 };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    md_ratelimit_result_t res;
    /* Another type under the key: the script fails, the caller falls back. */
    freeReplyObject(rt_cmd(main_port, "SET medley:rl:odd:str hello"));
    assert_int_equal(take(r, &lim, "odd", "str", 3, &res), MD_EINVAL);
    /* Values that are not levels and times in range: a new, full bucket. */
    static const char *const junk[][2] = {
        { "abc", "1" }, { "-1", "1" }, { "180001", "1" }, { "1.5", "1" }, { "0", "-5" }, { "0", "1e300" },
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        freeReplyObject(rt_cmd(main_port, "HSET medley:rl:odd:h level %s last_ms %s", junk[i][0], junk[i][1]));
        assert_int_equal(take(r, &lim, "odd", "h", 1, &res), MD_OK);
        assert_true(res.allowed);
        assert_int_equal(res.remaining, 2);
    }
    /* An empty bucket last seen in the future refills nothing. */
    freeReplyObject(rt_cmd(main_port, "HSET medley:rl:odd:h level 0 last_ms 4000000000000"));
    assert_int_equal(take(r, &lim, "odd", "h", 1, &res), MD_OK);
    assert_false(res.allowed);
    assert_int_equal(res.retry_after_ms, 60000);
    md_redis_free(r);
}

static int result_of(const md_ratelimit_limit_t *lim, int64_t a, int64_t b, int64_t c, int64_t d,
                     md_ratelimit_result_t *out)
{
    const int64_t v[4] = { a, b, c, d };
    return md_redis_limit_result(lim, MD_OK, v, 4, out);
}

/* 2 per second, burst 5: a token every 500 ms, full from empty in 2500 ms. */
static void answers_are_checked_against_the_limit(void **state)
{
    (void)state;
    const md_ratelimit_limit_t lim = { .count = 2, .period_ms = 1000, .burst = 5 };
    md_ratelimit_result_t r;
    assert_int_equal(result_of(&lim, 1, 4, 0, 500, &r), MD_OK);
    assert_true(r.allowed);
    assert_int_equal(r.limit, 5);
    assert_int_equal(r.remaining, 4);
    assert_int_equal(r.retry_after_ms, 0);
    assert_int_equal(r.reset_ms, 500);
    assert_int_equal(result_of(&lim, 0, 0, 500, 2500, &r), MD_OK);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 500);
    assert_int_equal(r.reset_ms, 2500);

    assert_int_equal(result_of(&lim, 2, 0, 0, 500, &r), MD_EINVAL);   /* allowed is 0 or 1 */
    assert_int_equal(result_of(&lim, 1, 5, 0, 500, &r), MD_EINVAL);   /* more left than the burst allows */
    assert_int_equal(result_of(&lim, 1, -1, 0, 500, &r), MD_EINVAL);
    assert_int_equal(result_of(&lim, 1, 4, 10, 500, &r), MD_EINVAL);  /* allowed, yet a wait */
    assert_int_equal(result_of(&lim, 0, 0, 0, 500, &r), MD_EINVAL);   /* denied, no wait */
    assert_int_equal(result_of(&lim, 0, 0, 501, 2500, &r), MD_EINVAL); /* a token never takes that long */
    assert_int_equal(result_of(&lim, 0, 1, 500, 2500, &r), MD_EINVAL); /* denied with tokens left */
    assert_int_equal(result_of(&lim, 1, 4, 0, 0, &r), MD_EINVAL);
    assert_int_equal(result_of(&lim, 1, 4, 0, 2501, &r), MD_EINVAL);
    const int64_t three[3] = { 1, 4, 0 };
    assert_int_equal(md_redis_limit_result(&lim, MD_OK, three, 3, &r), MD_EINVAL);
    assert_int_equal(md_redis_limit_result(&lim, MD_OK, NULL, 0, &r), MD_EINVAL);
    assert_int_equal(md_redis_limit_result(&lim, MD_ETIMEDOUT, NULL, 0, &r), MD_ETIMEDOUT);
    assert_int_equal(md_redis_limit_result(&lim, MD_ERESET, NULL, 0, &r), MD_ERESET);
    const md_ratelimit_limit_t zero = { .count = 0, .period_ms = 1000, .burst = 5 };
    assert_int_equal(result_of(&zero, 1, 4, 0, 500, &r), MD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_script_matches_the_reference_bucket),
        cmocka_unit_test(the_request_after_the_burst_is_denied),
        cmocka_unit_test(tokens_come_back_with_time),
        cmocka_unit_test(two_clients_share_one_bucket),
        cmocka_unit_test(any_byte_may_be_in_a_key),
        cmocka_unit_test(bad_arguments_do_not_start),
        cmocka_unit_test(keys_expire_when_full_again),
        cmocka_unit_test(foreign_state_is_refused_or_reset),
        cmocka_unit_test(answers_are_checked_against_the_limit),
    };
    return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
