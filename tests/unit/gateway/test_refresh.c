/*
 * Unit tests for gateway/refresh (early fetches of a background
 * credential): the retry backoff schedule, coalescing (one fetch at a
 * time), the rate of forced fetches (one per interval), the bound on
 * waiting requests, cancelling a wait, and that every waiter is woken on
 * its loop exactly once when the fetch ends. Times are given explicitly,
 * so nothing here sleeps.
 */
#include "testutil.h"

#include "core/loop.h"
#include "gateway/refresh.h"

#define INTERVAL 10000
#define T0 1000000 /* an arbitrary monotonic "now" in ms */

static int woken[8];

static void wake(void *arg)
{
    woken[*(int *)arg]++;
}

/* Waiter i of ids[] on loop. */
static void waiter(gw_refresh_waiter_t *w, md_loop_t *loop, int *id)
{
    memset(w, 0, sizeof(*w));
    w->loop = loop;
    w->fn = wake;
    w->arg = id;
}

static void backoff_doubles_to_its_cap(void **state)
{
    (void)state;
    /* JWKS: 1 s doubling to 60 s. */
    uint32_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
    uint32_t cur = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cur = gw_backoff_next(cur, 1000, 60000);
        assert_int_equal(cur, want[i]);
    }
    /* OAuth2 tokens: 1 s doubling to 30 s. */
    assert_int_equal(gw_backoff_next(16000, 1000, 30000), 30000);
    assert_int_equal(gw_backoff_next(30000, 1000, 30000), 30000);
    /* A success resets: the next failure waits the first delay again. */
    assert_int_equal(gw_backoff_next(0, 1000, 30000), 1000);
    /* Never above the cap, even from an odd value or a first above max. */
    assert_int_equal(gw_backoff_next(45000, 1000, 60000), 60000);
    assert_int_equal(gw_backoff_next(0, 5000, 2000), 2000);
}

static void forced_fetches_are_rate_limited(void **state)
{
    (void)state;
    gw_refresh_t r;
    gw_refresh_init(&r, INTERVAL, 4);
    assert_int_equal(gw_refresh_force(&r, T0, NULL), GW_REFRESH_STARTED);
    /* While it runs, askers join it. */
    assert_int_equal(gw_refresh_force(&r, T0 + 5, NULL), GW_REFRESH_JOINED);
    gw_refresh_end(&r, false);
    /* Ended, but within 10 s of the forced one: refused. */
    assert_int_equal(gw_refresh_force(&r, T0 + 1, NULL), MD_AGAIN);
    assert_int_equal(gw_refresh_force(&r, T0 + INTERVAL - 1, NULL), MD_AGAIN);
    /* 10 s after: one more. */
    assert_int_equal(gw_refresh_force(&r, T0 + INTERVAL, NULL), GW_REFRESH_STARTED);
    gw_refresh_end(&r, true);
    gw_refresh_stats_t st;
    gw_refresh_get_stats(&r, &st);
    assert_int_equal(st.forced, 2);
    assert_int_equal(st.fetches_ok, 1);
    assert_int_equal(st.fetches_failed, 1);
    gw_refresh_destroy(&r);
}

static void scheduled_fetches_coalesce_with_forced_ones(void **state)
{
    (void)state;
    gw_refresh_t r;
    gw_refresh_init(&r, INTERVAL, 4);
    /* A scheduled fetch runs: a forced ask joins it and starts nothing,
     * and it does not use up the forced quota. */
    assert_true(gw_refresh_begin(&r));
    assert_false(gw_refresh_begin(&r));
    assert_int_equal(gw_refresh_force(&r, T0, NULL), GW_REFRESH_JOINED);
    gw_refresh_end(&r, true);
    assert_int_equal(gw_refresh_force(&r, T0 + 1, NULL), GW_REFRESH_STARTED);
    /* The forced fetch is on its way: the timer must not start another. */
    assert_false(gw_refresh_begin(&r));
    gw_refresh_end(&r, true);
    assert_true(gw_refresh_begin(&r));
    gw_refresh_end(&r, false);
    gw_refresh_stats_t st;
    gw_refresh_get_stats(&r, &st);
    assert_int_equal(st.forced, 1);
    assert_int_equal(st.fetches_ok, 2);
    assert_int_equal(st.fetches_failed, 1);
    gw_refresh_destroy(&r);
}

static void waiters_are_woken_once_when_the_fetch_ends(void **state)
{
    (void)state;
    memset(woken, 0, sizeof(woken));
    md_loop_t *loop = md_loop_new();
    assert_non_null(loop);
    gw_refresh_t r;
    gw_refresh_init(&r, INTERVAL, 2);
    int ids[4] = { 0, 1, 2, 3 };
    gw_refresh_waiter_t w[4];
    for (int i = 0; i < 4; i++)
        waiter(&w[i], loop, &ids[i]);
    assert_int_equal(gw_refresh_force(&r, T0, &w[0]), GW_REFRESH_STARTED);
    assert_int_equal(gw_refresh_force(&r, T0, &w[1]), GW_REFRESH_JOINED);
    /* max_waiters (2) wait already: refused, not queued. */
    assert_int_equal(gw_refresh_force(&r, T0, &w[2]), MD_ETOOBIG);
    assert_false(w[2].queued);
    /* A nobody-waits ask is not bounded by max_waiters. */
    assert_int_equal(gw_refresh_force(&r, T0, NULL), GW_REFRESH_JOINED);
    gw_refresh_end(&r, true);
    assert_false(w[0].queued);
    assert_false(w[1].queued);
    /* Posted, not run: they run on their loop (md_loop_free runs what is
     * still queued). */
    assert_int_equal(woken[0], 0);
    md_loop_free(loop);
    assert_int_equal(woken[0], 1);
    assert_int_equal(woken[1], 1);
    assert_int_equal(woken[2], 0);
    /* The list is empty again: a rate-limited ask queues nothing. */
    assert_int_equal(gw_refresh_force(&r, T0 + 1, &w[3]), MD_AGAIN);
    assert_false(w[3].queued);
    gw_refresh_destroy(&r);
    assert_int_equal(woken[3], 0);
}

static void a_cancelled_waiter_is_never_woken(void **state)
{
    (void)state;
    memset(woken, 0, sizeof(woken));
    md_loop_t *loop = md_loop_new();
    gw_refresh_t r;
    gw_refresh_init(&r, INTERVAL, 2);
    int ids[3] = { 0, 1, 2 };
    gw_refresh_waiter_t w[3];
    for (int i = 0; i < 3; i++)
        waiter(&w[i], loop, &ids[i]);
    assert_int_equal(gw_refresh_force(&r, T0, &w[0]), GW_REFRESH_STARTED);
    assert_int_equal(gw_refresh_force(&r, T0, &w[1]), GW_REFRESH_JOINED);
    /* The client of w[0] leaves: its place is free again. */
    assert_true(gw_refresh_cancel(&r, &w[0]));
    assert_false(gw_refresh_cancel(&r, &w[0]));
    assert_int_equal(gw_refresh_force(&r, T0, &w[2]), GW_REFRESH_JOINED);
    gw_refresh_end(&r, false);
    /* Already posted: cancel says so, and fn will run. */
    assert_false(gw_refresh_cancel(&r, &w[1]));
    md_loop_free(loop);
    assert_int_equal(woken[0], 0);
    assert_int_equal(woken[1], 1);
    assert_int_equal(woken[2], 1);
    gw_refresh_destroy(&r);
}

static void destroy_wakes_whoever_still_waits(void **state)
{
    (void)state;
    memset(woken, 0, sizeof(woken));
    md_loop_t *loop = md_loop_new();
    gw_refresh_t r;
    gw_refresh_init(&r, INTERVAL, 2);
    int id = 0;
    gw_refresh_waiter_t w;
    waiter(&w, loop, &id);
    assert_int_equal(gw_refresh_force(&r, T0, &w), GW_REFRESH_STARTED);
    gw_refresh_destroy(&r); /* the fetch will never end: nobody may hang */
    assert_false(w.queued);
    md_loop_free(loop);
    assert_int_equal(woken[0], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_doubles_to_its_cap),
        cmocka_unit_test(forced_fetches_are_rate_limited),
        cmocka_unit_test(scheduled_fetches_coalesce_with_forced_ones),
        cmocka_unit_test(waiters_are_woken_once_when_the_fetch_ends),
        cmocka_unit_test(a_cancelled_waiter_is_never_woken),
        cmocka_unit_test(destroy_wakes_whoever_still_waits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
