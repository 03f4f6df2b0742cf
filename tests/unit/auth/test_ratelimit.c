/*
 * Unit tests for auth/ratelimit: exact bucket arithmetic (retry_after_ms
 * worked out by hand from the rate), refill over injected time, burst,
 * bounded buckets with idle and active eviction, concurrent takes that never
 * exceed the budget, and argument checks.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>

#include "auth/ratelimit.h"
#include "core/common.h"

static md_ratelimit_t *limiter(uint32_t count, uint32_t period_ms, uint32_t burst, size_t max_buckets)
{
    md_ratelimit_limit_t lim = { count, period_ms, burst };
    md_ratelimit_t *rl = NULL;
    char err[128] = "";
    assert_int_equal(md_ratelimit_new(&lim, max_buckets, &rl, err, sizeof(err)), MD_OK);
    return rl;
}

static md_ratelimit_result_t take(md_ratelimit_t *rl, const char *key, uint64_t now)
{
    md_ratelimit_result_t r;
    memset(&r, 0xAA, sizeof(r));
    assert_int_equal(md_ratelimit_take(rl, key, strlen(key), now, &r), MD_OK);
    return r;
}

/* 3 per second, burst 3: a token every 333.33 ms. */
static void three_per_second_exact(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(3, 1000, 3, 100);
    md_ratelimit_result_t r = take(rl, "k", 0);
    assert_true(r.allowed);
    assert_int_equal(r.limit, 3);
    assert_int_equal(r.remaining, 2);
    assert_int_equal(r.retry_after_ms, 0);
    assert_int_equal(r.reset_ms, 334); /* one token short: ceil(1000/3) */
    assert_int_equal(take(rl, "k", 0).remaining, 1);
    r = take(rl, "k", 0);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.reset_ms, 1000); /* empty: 3 tokens at 3/s */
    r = take(rl, "k", 0);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after_ms, 334); /* ceil(1000/3) */
    r = take(rl, "k", 333);                  /* 999/1000 of a token */
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 1);
    r = take(rl, "k", 334); /* 1002/1000: one token, 2 units left */
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 0);
    r = take(rl, "k", 334);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 333); /* ceil(998/3) */
    md_ratelimit_free(rl);
}

static void per_minute_burst_then_retry(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(100, 60000, 10, 100); /* a token every 600 ms */
    for (int i = 0; i < 10; i++) {
        md_ratelimit_result_t r = take(rl, "client", 5000);
        assert_true(r.allowed);
        assert_int_equal(r.remaining, 9 - i);
    }
    md_ratelimit_result_t r = take(rl, "client", 5000);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 600);
    assert_int_equal(md_ratelimit_ceil_seconds(r.retry_after_ms), 1);
    assert_int_equal(r.reset_ms, 6000);
    assert_false(take(rl, "client", 5599).allowed);
    assert_true(take(rl, "client", 5600).allowed);
    assert_false(take(rl, "client", 5600).allowed);
    /* Another key has its own full bucket. */
    assert_int_equal(take(rl, "other", 5600).remaining, 9);
    md_ratelimit_free(rl);
}

static void refill_is_capped_at_the_burst(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(10, 1000, 5, 100); /* a token every 100 ms */
    for (int i = 0; i < 5; i++)
        assert_true(take(rl, "k", 1000).allowed);
    assert_false(take(rl, "k", 1000).allowed);
    /* 250 ms later: 2.5 tokens. */
    assert_true(take(rl, "k", 1250).allowed);
    assert_true(take(rl, "k", 1250).allowed);
    md_ratelimit_result_t r = take(rl, "k", 1250);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 50);
    /* A day of idleness refills to 5, not more. */
    uint64_t later = 1250 + 86400000ull;
    for (int i = 0; i < 5; i++)
        assert_true(take(rl, "k", later).allowed);
    assert_false(take(rl, "k", later).allowed);
    md_ratelimit_free(rl);
}

static void burst_allows_a_spike(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(1, 1000, 20, 100);
    for (int i = 0; i < 20; i++)
        assert_true(take(rl, "k", 0).allowed);
    md_ratelimit_result_t r = take(rl, "k", 0);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 1000);
    assert_int_equal(r.reset_ms, 20000);
    md_ratelimit_free(rl);
}

/* 7 per second does not divide 1000: the remainder is carried, not lost. */
static void fractional_rate_carries_remainders(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(7, 1000, 1, 100);
    assert_true(take(rl, "k", 0).allowed);
    md_ratelimit_result_t r = take(rl, "k", 0);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 143); /* 142.857 rounded up */
    assert_false(take(rl, "k", 142).allowed); /* 994 units */
    assert_true(take(rl, "k", 143).allowed);  /* 1001 units, 1 left */
    md_ratelimit_free(rl);

    /* Burst 2 so the cap never clips: after draining at t=0, steady demand
     * gets exactly 7 tokens by t=1000, the 7th exactly at t=1000 (7000
     * units): it would come later if any remainder were dropped. */
    rl = limiter(7, 1000, 2, 100);
    assert_true(take(rl, "k", 0).allowed);
    assert_true(take(rl, "k", 0).allowed);
    int allowed = 0;
    for (uint64_t t = 1; t < 1000; t++)
        allowed += take(rl, "k", t).allowed;
    assert_int_equal(allowed, 6);
    assert_true(take(rl, "k", 1000).allowed);
    assert_false(take(rl, "k", 1000).allowed);
    md_ratelimit_free(rl);
}

static void time_going_backwards_refills_nothing(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(10, 1000, 1, 100);
    assert_true(take(rl, "k", 10000).allowed);
    assert_false(take(rl, "k", 5000).allowed); /* earlier clock: no credit */
    md_ratelimit_result_t r = take(rl, "k", 10099);
    assert_false(r.allowed);
    assert_int_equal(r.retry_after_ms, 1);
    assert_true(take(rl, "k", 10100).allowed);
    md_ratelimit_free(rl);
}

static void bucket_functions_work_without_a_table(void **state)
{
    (void)state;
    md_ratelimit_limit_t lim = { 2, 1000, 2 };
    md_ratelimit_bucket_t b;
    md_ratelimit_result_t r;
    md_ratelimit_bucket_init(&lim, &b, 100);
    assert_true(md_ratelimit_bucket_is_full(&lim, &b, 100));
    md_ratelimit_bucket_take(&lim, &b, 100, &r);
    assert_true(r.allowed);
    assert_false(md_ratelimit_bucket_is_full(&lim, &b, 100));
    assert_false(md_ratelimit_bucket_is_full(&lim, &b, 599));
    assert_true(md_ratelimit_bucket_is_full(&lim, &b, 600));
    assert_int_equal(b.last_ms, 100); /* is_full does not modify */
}

static void ceil_seconds_rounds_up(void **state)
{
    (void)state;
    assert_int_equal(md_ratelimit_ceil_seconds(0), 0);
    assert_int_equal(md_ratelimit_ceil_seconds(1), 1);
    assert_int_equal(md_ratelimit_ceil_seconds(999), 1);
    assert_int_equal(md_ratelimit_ceil_seconds(1000), 1);
    assert_int_equal(md_ratelimit_ceil_seconds(1001), 2);
    assert_int_equal(md_ratelimit_ceil_seconds(60000), 60);
}

static void bad_limits_and_keys_are_refused(void **state)
{
    (void)state;
    md_ratelimit_t *rl = (md_ratelimit_t *)1;
    char err[128];
    md_ratelimit_limit_t zero_count = { 0, 1000, 1 }, zero_period = { 1, 0, 1 };
    md_ratelimit_limit_t long_period = { 1, 86400001, 1 }, zero_burst = { 1, 1000, 0 };
    md_ratelimit_limit_t huge_burst = { 1, 1000, 1000001 }, ok = { 1, 1000, 1 };
    assert_int_equal(md_ratelimit_new(&zero_count, 10, &rl, err, sizeof(err)), MD_EINVAL);
    assert_null(rl);
    assert_non_null(strstr(err, "count"));
    assert_int_equal(md_ratelimit_new(&zero_period, 10, &rl, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "period"));
    assert_int_equal(md_ratelimit_new(&long_period, 10, &rl, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_ratelimit_new(&zero_burst, 10, &rl, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "burst"));
    assert_int_equal(md_ratelimit_new(&huge_burst, 10, &rl, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_ratelimit_new(&ok, 0, &rl, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "max buckets"));

    rl = limiter(1, 1000, 1, 10);
    md_ratelimit_result_t r;
    char key[300];
    memset(key, 'k', sizeof(key));
    assert_int_equal(md_ratelimit_take(rl, key, 0, 0, &r), MD_EINVAL);
    assert_int_equal(md_ratelimit_take(rl, key, 257, 0, &r), MD_EINVAL);
    assert_int_equal(md_ratelimit_take(rl, key, 256, 0, &r), MD_OK);
    assert_true(r.allowed);
    md_ratelimit_free(rl);
    md_ratelimit_free(NULL);
}

static md_ratelimit_stats_t stats(md_ratelimit_t *rl)
{
    md_ratelimit_stats_t st;
    md_ratelimit_stats(rl, &st);
    return st;
}

/* One shard (under 1,024 buckets): an exact LRU with a bound of 100. */
static void buckets_are_bounded_idle_first(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(1, 1000, 1, 100);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "a%d", i);
        assert_true(take(rl, key, 0).allowed);
    }
    md_ratelimit_stats_t st = stats(rl);
    assert_int_equal(st.buckets, 100);
    assert_int_equal(st.evicted_idle + st.evicted_active, 0);

    /* At t=1000 every a-bucket is full again: each new key reclaims two. */
    assert_true(take(rl, "b0", 1000).allowed);
    st = stats(rl);
    assert_int_equal(st.buckets, 99);
    assert_int_equal(st.evicted_idle, 2);
    for (int i = 1; i <= 49; i++) {
        snprintf(key, sizeof(key), "b%d", i);
        assert_true(take(rl, key, 1000).allowed);
    }
    st = stats(rl);
    assert_int_equal(st.buckets, 50); /* all 100 a's gone, 50 b's */
    assert_int_equal(st.evicted_idle, 100);
    /* The b-buckets are empty (not idle): 50 fill the table, then each new
     * key evicts the least recently used b-bucket. */
    for (int i = 50; i <= 200; i++) {
        snprintf(key, sizeof(key), "b%d", i);
        assert_true(take(rl, key, 1000).allowed);
    }
    st = stats(rl);
    assert_int_equal(st.buckets, 100);
    assert_int_equal(st.evicted_idle, 100);
    assert_int_equal(st.evicted_active, 101);
    /* b200 is still held (empty); b0 was evicted and starts full again. */
    assert_false(take(rl, "b200", 1000).allowed);
    assert_true(take(rl, "b0", 1000).allowed);
    md_ratelimit_free(rl);
}

/* Sixteen shards: the bound holds across them. */
static void sharded_table_stays_bounded(void **state)
{
    (void)state;
    md_ratelimit_t *rl = limiter(1, 60000, 5, 4096);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
        assert_true(take(rl, key, (uint64_t)i).allowed);
    }
    md_ratelimit_stats_t st = stats(rl);
    /* Each shard (bound 4096/16 = 256) saw thousands of keys: all are full.
     * A bucket refills in a minute, the oldest held one is ~4 s old: every
     * eviction was of a not-yet-full bucket. */
    assert_int_equal(st.buckets, 4096);
    assert_int_equal(st.evicted_idle, 0);
    assert_int_equal(st.evicted_active, 100000 - 4096);
    md_ratelimit_free(rl);
}

typedef struct {
    md_ratelimit_t *rl;
    pthread_barrier_t *start;
    int allowed;
} hammer_t;

#define WINDOW_MS 5000
#define TAKES_PER_MS 16

static void *hammer(void *arg)
{
    hammer_t *h = arg;
    md_ratelimit_result_t r;
    pthread_barrier_wait(h->start); /* all four really run at once */
    for (uint64_t t = 0; t <= WINDOW_MS; t++)
        for (int i = 0; i < TAKES_PER_MS; i++) {
            if (md_ratelimit_take(h->rl, "hot", 3, t, &r) == MD_OK && r.allowed)
                h->allowed++;
        }
    return NULL;
}

/* 10,000/s (10 per ms), burst 100, window 0..5,000 ms: 100 + 50,000 tokens
 * exist. Each thread alone demands 16 per ms, more than the supply, so
 * every token is taken whatever the interleaving (none is lost to the cap),
 * and the four threads contend for each one: a missing lock shows up as a
 * total above (or below) the budget. */
static void threads_never_exceed_the_budget(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        md_ratelimit_t *rl = limiter(10000, 1000, 100, 1024);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, 4);
        pthread_t th[4];
        hammer_t h[4];
        for (int i = 0; i < 4; i++) {
            h[i] = (hammer_t){ rl, &start, 0 };
            assert_int_equal(pthread_create(&th[i], NULL, hammer, &h[i]), 0);
        }
        int total = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            total += h[i].allowed;
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(total, 100 + WINDOW_MS * 10);
        md_ratelimit_free(rl);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_per_second_exact),
        cmocka_unit_test(per_minute_burst_then_retry),
        cmocka_unit_test(refill_is_capped_at_the_burst),
        cmocka_unit_test(burst_allows_a_spike),
        cmocka_unit_test(fractional_rate_carries_remainders),
        cmocka_unit_test(time_going_backwards_refills_nothing),
        cmocka_unit_test(bucket_functions_work_without_a_table),
        cmocka_unit_test(ceil_seconds_rounds_up),
        cmocka_unit_test(bad_limits_and_keys_are_refused),
        cmocka_unit_test(buckets_are_bounded_idle_first),
        cmocka_unit_test(sharded_table_stays_bounded),
        cmocka_unit_test(threads_never_exceed_the_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
