/*
 * Unit tests for cache/store: time windows, replacement, LRU eviction by
 * bytes, refcounts, coalescing (wait, busy, cancel, refresh, takeover),
 * purge, the Redis record format, and two threaded runs (random traffic
 * with consistent counters; eight threads missing one key at once).
 *
 * MD_STORE_ITERS sets the threaded run's operations per thread (default
 * 50000, a few seconds even under valgrind).
 */
#include "testutil.h"

#include "cache/store.h"
#include "core/buf.h"
#include "core/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static md_cache_meta_t meta_of(int64_t stored, int64_t fresh, int64_t stale, int64_t error)
{
    md_cache_meta_t m = { .stored_ms = stored, .fresh_until_ms = fresh, .stale_until_ms = stale,
                          .error_until_ms = error, .flags = 7, .etag = 0x1122334455667788ull };
    return m;
}

/* Fills key with the NUL-terminated value; drops the returned reference. */
static void put(md_cache_t *c, const char *key, const char *val, md_cache_meta_t m, const char *tags,
                size_t tagslen)
{
    md_cache_entry_t *e = md_cache_fill(c, key, strlen(key), val, strlen(val), &m, tags, tagslen, m.stored_ms);
    assert_non_null(e);
    md_cache_entry_unref(e);
}

static int lookup(md_cache_t *c, const char *key, int64_t now, md_cache_waiter_t *w, md_cache_entry_t **out,
                  bool *refresh)
{
    return md_cache_lookup(c, key, strlen(key), now, w, out, refresh);
}

static void assert_data(md_cache_entry_t *e, const char *want)
{
    size_t len;
    const char *d = md_cache_entry_data(e, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(d, want, len);
}

/* Asserts a lookup outcome and that it hands out no entry. */
static void expect_no_entry(md_cache_t *c, const char *key, int64_t now, md_cache_waiter_t *w, int want)
{
    md_cache_entry_t *e = (md_cache_entry_t *)1;
    bool r = true;
    assert_int_equal(lookup(c, key, now, w, &e, &r), want);
    assert_null(e);
    assert_false(r);
}

static md_cache_stats_t stats(const md_cache_t *c)
{
    md_cache_stats_t st;
    md_cache_get_stats(c, &st);
    return st;
}

/* A waiter that records what it was told. */
typedef struct twaiter {
    md_cache_waiter_t w;
    atomic_int calls;
    md_cache_entry_t *e;
    int status;
} twaiter_t;

static void record_notify(md_cache_waiter_t *w, md_cache_entry_t *e, int status)
{
    twaiter_t *t = (twaiter_t *)w;
    t->e = e;
    t->status = status;
    atomic_fetch_add(&t->calls, 1);
}

static void twaiter_init(twaiter_t *t)
{
    memset(t, 0, sizeof(*t));
    t->w.notify = record_notify;
    t->status = 12345;
}

/* ---- windows ---- */

static void windows_hit_stale_error_expired(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    md_cache_entry_t *e;
    bool r;
    put(c, "k", "v1", meta_of(1000, 2000, 3000, 4000), NULL, 0);

    for (int64_t now = 1000; now <= 1999; now += 999) {
        assert_int_equal(lookup(c, "k", now, NULL, &e, &r), MD_CACHE_HIT);
        assert_false(r);
        assert_data(e, "v1");
        const md_cache_meta_t *m = md_cache_entry_meta(e);
        assert_int_equal(m->stored_ms, 1000);
        assert_int_equal(m->fresh_until_ms, 2000);
        assert_int_equal(m->stale_until_ms, 3000);
        assert_int_equal(m->error_until_ms, 4000);
        assert_int_equal(m->flags, 7);
        assert_true(m->etag == 0x1122334455667788ull);
        md_cache_entry_unref(e);
    }
    for (int64_t now = 2000; now <= 2999; now += 999) {
        assert_int_equal(lookup(c, "k", now, NULL, &e, &r), MD_CACHE_STALE);
        assert_true(r);
        assert_data(e, "v1");
        md_cache_entry_unref(e);
        md_cache_abandon(c, "k", 1, NULL, MD_ETIMEDOUT);
    }
    for (int64_t now = 3000; now <= 3999; now += 999) {
        assert_int_equal(lookup(c, "k", now, NULL, &e, &r), MD_CACHE_MISS);
        assert_non_null(e); /* stale-if-error material */
        assert_false(r);
        assert_data(e, "v1");
        md_cache_entry_unref(e);
        md_cache_abandon(c, "k", 1, NULL, MD_ECONNECT);
    }
    assert_int_equal(stats(c).entries, 1); /* kept while its error window lasts */
    expect_no_entry(c, "k", 4000, NULL, MD_CACHE_MISS);
    md_cache_stats_t st = stats(c);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.expirations, 1);
    md_cache_abandon(c, "k", 1, NULL, MD_ECONNECT);
    md_cache_free(c);
}

/* The latest window decides when an entry goes, and an empty stale window
 * (stale_until == fresh_until) goes straight to the error window. */
static void windows_without_stale_period(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    md_cache_entry_t *e;
    bool r;
    put(c, "a", "x", meta_of(0, 100, 100, 500), NULL, 0);
    assert_int_equal(lookup(c, "a", 100, NULL, &e, &r), MD_CACHE_MISS);
    assert_non_null(e);
    md_cache_entry_unref(e);
    md_cache_abandon(c, "a", 1, NULL, MD_ERR);
    /* error_until before stale_until: dropped when the stale window ends. */
    put(c, "b", "y", meta_of(0, 100, 300, 200), NULL, 0);
    assert_int_equal(lookup(c, "b", 250, NULL, &e, &r), MD_CACHE_STALE);
    md_cache_entry_unref(e);
    md_cache_abandon(c, "b", 1, NULL, MD_ERR);
    expect_no_entry(c, "b", 300, NULL, MD_CACHE_MISS);
    md_cache_abandon(c, "b", 1, NULL, MD_ERR);
    md_cache_free(c);
}

static void miss_fill_then_hit(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 0, 0, 0);
    md_cache_entry_t *e;
    bool r;
    expect_no_entry(c, "b|GET /home|news", 10, NULL, MD_CACHE_MISS);
    md_cache_meta_t m = meta_of(10, 1010, 2010, 3010);
    md_cache_entry_t *f = md_cache_fill(c, "b|GET /home|news", 16, "{\"a\":1}", 7, &m, NULL, 0, 10);
    assert_non_null(f);
    assert_data(f, "{\"a\":1}");
    assert_int_equal(lookup(c, "b|GET /home|news", 11, NULL, &e, &r), MD_CACHE_HIT);
    assert_ptr_equal(e, f); /* no copy */
    md_cache_entry_unref(e);
    md_cache_entry_unref(f);
    /* Binary keys and values: the key is bytes, not a C string. */
    const char key[3] = { 'x', '\0', 'y' }, val[4] = { 0, 1, 0, 2 };
    md_cache_entry_t *g = md_cache_fill(c, key, 3, val, 4, &m, NULL, 0, 10);
    md_cache_entry_unref(g);
    assert_int_equal(md_cache_lookup(c, key, 3, 11, NULL, &e, &r), MD_CACHE_HIT);
    size_t len;
    assert_memory_equal(md_cache_entry_data(e, &len), val, 4);
    assert_int_equal(len, 4);
    md_cache_entry_unref(e);
    expect_no_entry(c, "x", 11, NULL, MD_CACHE_MISS); /* a prefix of the key is another key */
    md_cache_abandon(c, "x", 1, NULL, MD_ERR);
    md_cache_free(c);
}

static void replacing_a_key(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    md_cache_entry_t *old, *e;
    bool r;
    put(c, "k", "one", meta_of(0, 100, 100, 100), NULL, 0);
    uint64_t b1 = stats(c).bytes;
    assert_int_equal(lookup(c, "k", 1, NULL, &old, &r), MD_CACHE_HIT);
    put(c, "k", "three", meta_of(0, 100, 100, 100), NULL, 0);
    md_cache_stats_t st = stats(c);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, b1 + 2); /* accounting follows the data length */
    assert_int_equal(lookup(c, "k", 1, NULL, &e, &r), MD_CACHE_HIT);
    assert_data(e, "three");
    assert_data(old, "one"); /* the holder of the old value still reads it */
    md_cache_entry_unref(e);
    md_cache_entry_unref(old);
    md_cache_free(c);
}

/* ---- bytes, eviction, refcounts ---- */

/* The accounted size of one entry with this key and value length. */
static uint64_t entry_size(const char *key, size_t len)
{
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    char *v = calloc(1, len + 1);
    memset(v, 'v', len);
    put(c, key, v, meta_of(0, 100, 100, 100), NULL, 0);
    uint64_t n = stats(c).bytes;
    free(v);
    md_cache_free(c);
    return n;
}

static void eviction_drops_least_recently_used(void **state)
{
    (void)state;
    uint64_t s = entry_size("k1", 100);
    assert_true(s >= 102); /* key and data count */
    md_cache_t *c = md_cache_new(3 * s + s / 2, 1, 0, 0);
    char v[101];
    memset(v, 'v', 100);
    v[100] = '\0';
    md_cache_meta_t m = meta_of(0, 1000, 1000, 1000);
    md_cache_entry_t *e, *held;
    bool r;
    put(c, "k1", v, m, NULL, 0);
    put(c, "k2", v, m, NULL, 0);
    put(c, "k3", v, m, NULL, 0);
    assert_int_equal(stats(c).bytes, 3 * s);
    assert_int_equal(lookup(c, "k1", 1, NULL, &e, &r), MD_CACHE_HIT); /* k1 now most recent */
    md_cache_entry_unref(e);
    assert_int_equal(lookup(c, "k2", 1, NULL, &held, &r), MD_CACHE_HIT); /* k2 now most recent */
    assert_int_equal(lookup(c, "k3", 1, NULL, &e, &r), MD_CACHE_HIT);
    md_cache_entry_unref(e);
    assert_int_equal(lookup(c, "k1", 1, NULL, &e, &r), MD_CACHE_HIT); /* order: k2 k3 k1 */
    md_cache_entry_unref(e);
    put(c, "k4", v, m, NULL, 0);
    md_cache_stats_t st = stats(c);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.bytes, 3 * s);
    expect_no_entry(c, "k2", 1, NULL, MD_CACHE_MISS);
    md_cache_abandon(c, "k2", 2, NULL, MD_ERR);
    assert_data(held, v); /* evicted while referenced: still readable */
    md_cache_entry_unref(held);
    const char *alive[] = { "k1", "k3", "k4" };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(lookup(c, alive[i], 1, NULL, &e, &r), MD_CACHE_HIT);
        md_cache_entry_unref(e);
    }
    /* An entry of twice the size evicts the two least recently used. */
    char *big = calloc(1, 100 + s + 1);
    memset(big, 'b', 100 + s);
    put(c, "k5", big, m, NULL, 0);
    free(big);
    st = stats(c);
    assert_int_equal(st.evictions, 3);
    assert_true(st.bytes <= 3 * s + s / 2);
    expect_no_entry(c, "k1", 1, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "k3", 1, NULL, MD_CACHE_MISS);
    assert_int_equal(lookup(c, "k4", 1, NULL, &e, &r), MD_CACHE_HIT);
    md_cache_entry_unref(e);
    md_cache_free(c);
}

static void over_budget_entry_is_returned_not_indexed(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(4000, 2, 0, 0); /* 2000 bytes a shard */
    char v[3000];
    memset(v, 'z', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    md_cache_meta_t m = meta_of(0, 1000, 1000, 1000);
    twaiter_t tw;
    twaiter_init(&tw);
    md_cache_entry_t *e;
    put(c, "k", "small", m, NULL, 0);
    /* The old value is served as a HIT, so a lookup starts no fill; make
     * one by looking up a key that is missing. */
    expect_no_entry(c, "big", 1, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "big", 1, &tw.w, MD_CACHE_WAIT);
    e = md_cache_fill(c, "big", 3, v, strlen(v), &m, NULL, 0, 1);
    assert_non_null(e);
    assert_data(e, v);
    assert_int_equal(atomic_load(&tw.calls), 1);
    assert_ptr_equal(tw.e, e); /* handed to the waiter too */
    assert_int_equal(tw.status, MD_OK);
    md_cache_entry_unref(tw.e);
    md_cache_entry_unref(e);
    md_cache_stats_t st = stats(c);
    assert_int_equal(st.too_big, 1);
    assert_int_equal(st.entries, 1);
    expect_no_entry(c, "big", 1, NULL, MD_CACHE_MISS);
    md_cache_abandon(c, "big", 3, NULL, MD_ERR);
    /* Replacing with an over-budget value removes the old one: it is no
     * longer the key's value. */
    e = md_cache_fill(c, "k", 1, v, strlen(v), &m, NULL, 0, 1);
    md_cache_entry_unref(e);
    st = stats(c);
    assert_int_equal(st.too_big, 2);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    expect_no_entry(c, "k", 1, NULL, MD_CACHE_MISS);
    md_cache_abandon(c, "k", 1, NULL, MD_ERR);
    md_cache_free(c);
}

static void references_outlive_purge_and_store(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 4, 0, 0);
    md_cache_entry_t *e, *e2;
    bool r;
    put(c, "k", "value", meta_of(0, 100, 100, 100), NULL, 0);
    assert_int_equal(lookup(c, "k", 1, NULL, &e, &r), MD_CACHE_HIT);
    md_cache_entry_ref(e);
    e2 = e;
    assert_int_equal(md_cache_purge(c, MD_PURGE_KEY, "k", 1), 1);
    assert_int_equal(stats(c).entries, 0);
    assert_data(e, "value");
    md_cache_entry_unref(e);
    assert_data(e2, "value"); /* the second reference keeps it */
    md_cache_entry_unref(e2);
    /* A reference held past md_cache_free. */
    put(c, "k", "again", meta_of(0, 100, 100, 100), NULL, 0);
    assert_int_equal(lookup(c, "k", 1, NULL, &e, &r), MD_CACHE_HIT);
    md_cache_free(c);
    assert_data(e, "again");
    md_cache_entry_unref(e);
    md_cache_entry_unref(NULL);
    md_cache_free(NULL);
}

static void standalone_entry(void **state)
{
    (void)state;
    md_cache_meta_t m = meta_of(5, 6, 7, 8);
    md_cache_entry_t *e = md_cache_entry_new("abc", 3, &m);
    assert_data(e, "abc");
    assert_int_equal(md_cache_entry_meta(e)->error_until_ms, 8);
    md_cache_entry_t *empty = md_cache_entry_new(NULL, 0, &m);
    size_t len = 99;
    assert_non_null(md_cache_entry_data(empty, &len));
    assert_int_equal(len, 0);
    md_cache_entry_unref(empty);
    md_cache_entry_unref(e);
}

/* ---- coalescing ---- */

static void coalescing_wait_busy_fill(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 3, 0);
    twaiter_t tw[4];
    for (int i = 0; i < 4; i++)
        twaiter_init(&tw[i]);
    expect_no_entry(c, "k", 0, &tw[3].w, MD_CACHE_MISS); /* the filler's waiter is not queued */
    for (int i = 0; i < 3; i++)
        expect_no_entry(c, "k", 1, &tw[i].w, MD_CACHE_WAIT);
    twaiter_t extra;
    twaiter_init(&extra);
    expect_no_entry(c, "k", 1, &extra.w, MD_CACHE_BUSY); /* max_waiters reached */
    expect_no_entry(c, "k", 1, NULL, MD_CACHE_BUSY);
    for (int i = 0; i < 4; i++)
        assert_int_equal(atomic_load(&tw[i].calls), 0);
    md_cache_meta_t m = meta_of(2, 100, 100, 100);
    md_cache_entry_t *e = md_cache_fill(c, "k", 1, "data", 4, &m, NULL, 0, 2);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&tw[i].calls), 1);
        assert_ptr_equal(tw[i].e, e);
        assert_int_equal(tw[i].status, MD_OK);
    }
    assert_int_equal(atomic_load(&tw[3].calls), 0);
    assert_int_equal(atomic_load(&extra.calls), 0);
    md_cache_entry_unref(e);
    /* Each waiter got its own reference: the entry lives while one is held. */
    md_cache_purge(c, MD_PURGE_ALL, NULL, 0);
    md_cache_entry_unref(tw[0].e);
    md_cache_entry_unref(tw[1].e);
    assert_data(tw[2].e, "data");
    md_cache_entry_unref(tw[2].e);
    /* A second fill of the same key notifies nobody again. */
    e = md_cache_fill(c, "k", 1, "more", 4, &m, NULL, 0, 3);
    md_cache_entry_unref(e);
    for (int i = 0; i < 3; i++)
        assert_int_equal(atomic_load(&tw[i].calls), 1);
    md_cache_free(c);
}

static void abandon_with_and_without_fallback(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    twaiter_t a, b;
    twaiter_init(&a);
    twaiter_init(&b);
    md_cache_abandon(c, "k", 1, NULL, MD_ERR); /* no fill: nothing happens */
    expect_no_entry(c, "k", 0, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "k", 0, &a.w, MD_CACHE_WAIT);
    md_cache_abandon(c, "k", 1, NULL, MD_ETIMEDOUT);
    assert_int_equal(atomic_load(&a.calls), 1);
    assert_null(a.e);
    assert_int_equal(a.status, MD_ETIMEDOUT);
    /* The fill ended: the next lookup is the new filler. */
    expect_no_entry(c, "k", 0, &b.w, MD_CACHE_MISS);
    twaiter_init(&a);
    expect_no_entry(c, "k", 0, &a.w, MD_CACHE_WAIT);
    md_cache_meta_t m = meta_of(0, 0, 0, 1000);
    md_cache_entry_t *fb = md_cache_entry_new("old", 3, &m);
    md_cache_abandon(c, "k", 1, fb, MD_ECONNECT);
    assert_int_equal(atomic_load(&a.calls), 1);
    assert_ptr_equal(a.e, fb);
    assert_int_equal(a.status, MD_ECONNECT);
    assert_int_equal(atomic_load(&b.calls), 0);
    md_cache_entry_unref(fb);
    assert_data(a.e, "old"); /* the waiter's own reference */
    md_cache_entry_unref(a.e);
    assert_int_equal(stats(c).entries, 0); /* the index is unchanged */
    md_cache_abandon(c, "k", 1, NULL, MD_ERR); /* already ended: nothing */
    assert_int_equal(atomic_load(&a.calls), 1);
    md_cache_free(c);
}

static void cancel_wait_stops_notification(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 2, 0);
    twaiter_t a, b, d;
    twaiter_init(&a);
    twaiter_init(&b);
    twaiter_init(&d);
    assert_false(md_cache_cancel_wait(c, "k", 1, &a.w)); /* no fill at all */
    expect_no_entry(c, "k", 0, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "k", 0, &a.w, MD_CACHE_WAIT);
    expect_no_entry(c, "k", 0, &b.w, MD_CACHE_WAIT);
    expect_no_entry(c, "k", 0, &d.w, MD_CACHE_BUSY);
    assert_true(md_cache_cancel_wait(c, "k", 1, &b.w)); /* the last one */
    assert_false(md_cache_cancel_wait(c, "k", 1, &b.w));
    assert_false(md_cache_cancel_wait(c, "other", 5, &a.w));
    expect_no_entry(c, "k", 0, &d.w, MD_CACHE_WAIT); /* a slot was freed */
    assert_true(md_cache_cancel_wait(c, "k", 1, &a.w)); /* the first one */
    md_cache_meta_t m = meta_of(0, 100, 100, 100);
    md_cache_entry_t *e = md_cache_fill(c, "k", 1, "v", 1, &m, NULL, 0, 0);
    assert_int_equal(atomic_load(&a.calls), 0);
    assert_int_equal(atomic_load(&b.calls), 0);
    assert_int_equal(atomic_load(&d.calls), 1);
    assert_false(md_cache_cancel_wait(c, "k", 1, &d.w)); /* already notified */
    md_cache_entry_unref(d.e);
    md_cache_entry_unref(e);
    md_cache_free(c);
}

static void refresh_goes_to_exactly_one(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    put(c, "k", "old", meta_of(0, 100, 1000, 1000), NULL, 0);
    twaiter_t tw[6];
    int refreshes = 0;
    for (int i = 0; i < 6; i++) {
        twaiter_init(&tw[i]);
        md_cache_entry_t *e;
        bool r = false;
        assert_int_equal(lookup(c, "k", 200 + i, i % 2 ? &tw[i].w : NULL, &e, &r), MD_CACHE_STALE);
        assert_data(e, "old");
        md_cache_entry_unref(e);
        refreshes += r;
        if (i == 0)
            assert_true(r);
    }
    assert_int_equal(refreshes, 1);
    put(c, "k", "new", meta_of(300, 400, 1000, 1000), NULL, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(atomic_load(&tw[i].calls), 0); /* stale lookups are never queued */
    md_cache_entry_t *e;
    bool r;
    assert_int_equal(lookup(c, "k", 301, NULL, &e, &r), MD_CACHE_HIT);
    assert_data(e, "new");
    md_cache_entry_unref(e);
    /* A refresh that failed ends the period: the next stale lookup retries. */
    assert_int_equal(lookup(c, "k", 500, NULL, &e, &r), MD_CACHE_STALE);
    assert_true(r);
    md_cache_entry_unref(e);
    assert_int_equal(lookup(c, "k", 501, NULL, &e, &r), MD_CACHE_STALE);
    assert_false(r);
    md_cache_entry_unref(e);
    md_cache_abandon(c, "k", 1, NULL, MD_ECONNECT);
    assert_int_equal(lookup(c, "k", 502, NULL, &e, &r), MD_CACHE_STALE);
    assert_true(r);
    md_cache_entry_unref(e);
    md_cache_abandon(c, "k", 1, NULL, MD_ECONNECT);
    md_cache_free(c);
}

static void takeover_after_max_fill_ms(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 100);
    twaiter_t a, b, x;
    twaiter_init(&a);
    twaiter_init(&b);
    twaiter_init(&x);
    expect_no_entry(c, "k", 1000, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "k", 1050, &a.w, MD_CACHE_WAIT);
    expect_no_entry(c, "k", 1100, &b.w, MD_CACHE_WAIT); /* 100 ms old: not yet "older than" */
    expect_no_entry(c, "k", 1101, &x.w, MD_CACHE_MISS); /* taken over; x is the filler */
    assert_int_equal(stats(c).fills_taken_over, 1);
    expect_no_entry(c, "k", 1150, NULL, MD_CACHE_BUSY); /* the new filler's clock runs from 1101 */
    md_cache_meta_t m = meta_of(1160, 2000, 2000, 2000);
    md_cache_entry_t *e = md_cache_fill(c, "k", 1, "v", 1, &m, NULL, 0, 1160);
    assert_int_equal(atomic_load(&a.calls), 1); /* the waiters stayed queued */
    assert_int_equal(atomic_load(&b.calls), 1);
    assert_int_equal(atomic_load(&x.calls), 0);
    assert_ptr_equal(a.e, e);
    assert_ptr_equal(b.e, e);
    md_cache_entry_unref(a.e);
    md_cache_entry_unref(b.e);
    md_cache_entry_unref(e);
    /* A refresh is taken over the same way. */
    md_cache_entry_t *s;
    bool r;
    assert_int_equal(lookup(c, "k", 2000, NULL, &s, &r), MD_CACHE_MISS); /* past every window */
    md_cache_abandon(c, "k", 1, NULL, MD_ERR);
    put(c, "k", "v", meta_of(3000, 3001, 5000, 5000), NULL, 0);
    assert_int_equal(lookup(c, "k", 3001, NULL, &s, &r), MD_CACHE_STALE);
    assert_true(r);
    md_cache_entry_unref(s);
    assert_int_equal(lookup(c, "k", 3101, NULL, &s, &r), MD_CACHE_STALE);
    assert_false(r);
    md_cache_entry_unref(s);
    assert_int_equal(lookup(c, "k", 3102, NULL, &s, &r), MD_CACHE_STALE);
    assert_true(r);
    md_cache_entry_unref(s);
    assert_int_equal(stats(c).fills_taken_over, 2);
    md_cache_abandon(c, "k", 1, NULL, MD_ERR);
    md_cache_free(c);
}

/* A fill nobody ended nor took over for twice max_fill_ms is retired when
 * another fill starts in its shard: its waiters learn it timed out. */
static void lost_fill_is_retired(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 100);
    twaiter_t a;
    twaiter_init(&a);
    expect_no_entry(c, "lost", 0, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "lost", 10, &a.w, MD_CACHE_WAIT);
    expect_no_entry(c, "other", 200, NULL, MD_CACHE_MISS);
    assert_int_equal(atomic_load(&a.calls), 0); /* 200 ms: not yet */
    md_cache_abandon(c, "other", 5, NULL, MD_ERR);
    expect_no_entry(c, "other", 201, NULL, MD_CACHE_MISS);
    assert_int_equal(atomic_load(&a.calls), 1);
    assert_null(a.e);
    assert_int_equal(a.status, MD_ETIMEDOUT);
    assert_int_equal(stats(c).fills_taken_over, 0);
    expect_no_entry(c, "lost", 202, NULL, MD_CACHE_MISS); /* a fresh fill, not a takeover */
    assert_int_equal(stats(c).fills_taken_over, 0);
    md_cache_abandon(c, "other", 5, NULL, MD_ERR);
    md_cache_abandon(c, "lost", 4, NULL, MD_ERR);
    md_cache_free(c);
}

/* Notifications run outside the store's locks: a callback may use it. */
static md_cache_t *reentrant_store;
static int reentrant_outcome = -100;

static void reentrant_notify(md_cache_waiter_t *w, md_cache_entry_t *e, int status)
{
    (void)w;
    (void)status;
    md_cache_entry_t *again;
    bool r;
    reentrant_outcome = lookup(reentrant_store, "k", 1, NULL, &again, &r);
    md_cache_entry_unref(again);
    md_cache_entry_unref(e);
}

static void notify_may_reenter(void **state)
{
    (void)state;
    md_cache_t *c = reentrant_store = md_cache_new(1 << 20, 1, 0, 0);
    md_cache_waiter_t w = { .notify = reentrant_notify };
    expect_no_entry(c, "k", 0, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "k", 0, &w, MD_CACHE_WAIT);
    put(c, "k", "v", meta_of(0, 100, 100, 100), NULL, 0);
    assert_int_equal(reentrant_outcome, MD_CACHE_HIT);
    md_cache_free(c);
}

/* ---- limits ---- */

static void overlong_key_and_tags(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    size_t n = MD_CACHE_MAX_KEY + 1;
    char *key = malloc(n);
    memset(key, 'k', n);
    md_cache_entry_t *e = (md_cache_entry_t *)1;
    bool r = true;
    md_cache_meta_t m = meta_of(0, 100, 100, 100);
    assert_int_equal(md_cache_lookup(c, key, n, 0, NULL, &e, &r), MD_ETOOBIG);
    assert_null(e);
    assert_null(md_cache_fill(c, key, n, "v", 1, &m, NULL, 0, 0));
    twaiter_t tw;
    twaiter_init(&tw);
    assert_false(md_cache_cancel_wait(c, key, n, &tw.w));
    assert_int_equal(md_cache_purge(c, MD_PURGE_KEY, key, n), 0);
    md_cache_abandon(c, key, n, NULL, MD_ERR);
    /* The longest key allowed works. */
    assert_int_equal(md_cache_lookup(c, key, n - 1, 0, NULL, &e, &r), MD_CACHE_MISS);
    e = md_cache_fill(c, key, n - 1, "v", 1, &m, NULL, 0, 0);
    assert_non_null(e);
    md_cache_entry_unref(e);
    assert_int_equal(md_cache_lookup(c, key, n - 1, 0, NULL, &e, &r), MD_CACHE_HIT);
    md_cache_entry_unref(e);
    /* Tags over the limit: no entry, and the fill is abandoned. */
    char *tags = calloc(1, MD_CACHE_MAX_TAGS + 1);
    expect_no_entry(c, "t", 0, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "t", 0, &tw.w, MD_CACHE_WAIT);
    assert_null(md_cache_fill(c, "t", 1, "v", 1, &m, tags, MD_CACHE_MAX_TAGS + 1, 0));
    assert_int_equal(atomic_load(&tw.calls), 1);
    assert_null(tw.e);
    assert_int_equal(tw.status, MD_ETOOBIG);
    assert_int_equal(stats(c).entries, 1);
    e = md_cache_fill(c, "t", 1, "v", 1, &m, tags, MD_CACHE_MAX_TAGS, 0);
    assert_non_null(e);
    md_cache_entry_unref(e);
    free(tags);
    free(key);
    md_cache_free(c);
}

/* A store of 0 bytes indexes nothing but still coalesces. */
static void zero_budget_store(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(0, 0, 0, 0);
    twaiter_t tw;
    twaiter_init(&tw);
    expect_no_entry(c, "k", 0, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "k", 0, &tw.w, MD_CACHE_WAIT);
    md_cache_meta_t m = meta_of(0, 100, 100, 100);
    md_cache_entry_t *e = md_cache_fill(c, "k", 1, "", 0, &m, NULL, 0, 0);
    assert_int_equal(atomic_load(&tw.calls), 1);
    assert_ptr_equal(tw.e, e);
    md_cache_entry_unref(tw.e);
    md_cache_entry_unref(e);
    assert_int_equal(stats(c).too_big, 1);
    assert_int_equal(stats(c).entries, 0);
    md_cache_free(c);
}

/* ---- purge ---- */

static void purge_by_key_prefix_tag_all(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 8, 0, 0);
    md_cache_meta_t m = meta_of(0, 100, 100, 100);
    static const char t42[] = "backend=news\0user=42\0";
    static const char t4[] = "user=4\0";
    static const char tnews[] = "backend=news\0";
    put(c, "b|GET /home|news|#GET news /news", "1", m, t42, sizeof(t42) - 1);
    put(c, "b|GET /home|weather", "2", m, t4, sizeof(t4) - 1);
    put(c, "b|GET /homeX", "3", m, tnews, sizeof(tnews) - 1);
    put(c, "v|GET /home", "4", m, NULL, 0);
    put(c, "v|GET /other", "5", m, "user=4", 6); /* last tag without its NUL */
    assert_int_equal(stats(c).entries, 5);

    assert_int_equal(md_cache_purge(c, MD_PURGE_KEY, "v|GET /hom", 10), 0);
    assert_int_equal(md_cache_purge(c, MD_PURGE_KEY, "v|GET /home", 11), 1);
    assert_int_equal(md_cache_purge(c, MD_PURGE_KEY, "v|GET /home", 11), 0);
    assert_int_equal(md_cache_purge(c, MD_PURGE_TAG, "user=4", 6), 2); /* not user=42 */
    assert_int_equal(md_cache_purge(c, MD_PURGE_TAG, "user=", 5), 0);
    assert_int_equal(md_cache_purge(c, MD_PURGE_TAG, "", 0), 0);
    assert_int_equal(md_cache_purge(c, MD_PURGE_TAG, "user=42", 7), 1);
    assert_int_equal(stats(c).entries, 1);
    put(c, "b|GET /home|weather", "2", m, t4, sizeof(t4) - 1);
    put(c, "b|GET /home|x", "6", m, t4, sizeof(t4) - 1);
    assert_int_equal(md_cache_purge(c, MD_PURGE_PREFIX, "b|GET /home|", 12), 2);
    md_cache_entry_t *e;
    bool r;
    assert_int_equal(lookup(c, "b|GET /homeX", 1, NULL, &e, &r), MD_CACHE_HIT);
    md_cache_entry_unref(e);
    expect_no_entry(c, "b|GET /home|x", 1, NULL, MD_CACHE_MISS);
    md_cache_abandon(c, "b|GET /home|x", 13, NULL, MD_ERR);
    put(c, "a", "1", m, NULL, 0);
    put(c, "b", "2", m, NULL, 0);
    assert_int_equal(md_cache_purge(c, MD_PURGE_ALL, NULL, 0), 3);
    md_cache_stats_t st = stats(c);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.purged, 1 + 2 + 1 + 2 + 3);
    assert_int_equal(md_cache_purge(c, MD_PURGE_ALL, NULL, 0), 0);
    md_cache_free(c);
}

/* Purge leaves fills in progress alone. */
static void purge_keeps_fills(void **state)
{
    (void)state;
    md_cache_t *c = md_cache_new(1 << 20, 1, 0, 0);
    twaiter_t tw;
    twaiter_init(&tw);
    expect_no_entry(c, "k", 0, NULL, MD_CACHE_MISS);
    expect_no_entry(c, "k", 0, &tw.w, MD_CACHE_WAIT);
    md_cache_purge(c, MD_PURGE_ALL, NULL, 0);
    md_cache_purge(c, MD_PURGE_KEY, "k", 1);
    assert_int_equal(atomic_load(&tw.calls), 0);
    expect_no_entry(c, "k", 0, NULL, MD_CACHE_BUSY);
    md_cache_abandon(c, "k", 1, NULL, MD_ERR);
    assert_int_equal(atomic_load(&tw.calls), 1);
    md_cache_free(c);
}

/* ---- records ---- */

static void record_layout_is_little_endian(void **state)
{
    (void)state;
    md_cache_meta_t m = { .stored_ms = -2, .fresh_until_ms = 0x0102, .stale_until_ms = 0x0102,
                          .error_until_ms = 0x010203, .flags = 0xA0B0C0D0u, .etag = 0x0807060504030201ull };
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_cache_record_encode(&m, "t\0", 2, "xyz", 3, &b), MD_OK);
    static const unsigned char want[] = {
        'M', 'C', 1, 0,
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        2, 1, 0, 0, 0, 0, 0, 0,
        2, 1, 0, 0, 0, 0, 0, 0,
        3, 2, 1, 0, 0, 0, 0, 0,
        0xd0, 0xc0, 0xb0, 0xa0,
        1, 2, 3, 4, 5, 6, 7, 8,
        2, 0, 0, 0, 't', 0,
        3, 0, 0, 0, 0, 0, 0, 0, 'x', 'y', 'z',
    };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    md_cache_meta_t got;
    const char *t, *d;
    size_t tl, dl;
    assert_int_equal(md_cache_record_decode(b.data, b.len, &got, &t, &tl, &d, &dl), MD_OK);
    assert_int_equal(got.stored_ms, -2);
    assert_int_equal(got.error_until_ms, 0x010203);
    md_buf_free(&b);
}

static void record_round_trip(void **state)
{
    (void)state;
    md_cache_meta_t m = meta_of(-5, 1700000000123, 1700000060123, INT64_MAX);
    static const char tags[] = "backend=news\0user=42\0";
    const char data[5] = { 'a', 0, 'b', (char)0xff, '\n' };
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_buf_append(&b, "prefix", 6), MD_OK); /* encode appends */
    assert_int_equal(md_cache_record_encode(&m, tags, sizeof(tags) - 1, data, sizeof(data), &b), MD_OK);
    md_cache_meta_t got;
    const char *t, *d;
    size_t tl, dl;
    assert_int_equal(md_cache_record_decode(b.data + 6, b.len - 6, &got, &t, &tl, &d, &dl), MD_OK);
    assert_int_equal(got.stored_ms, -5);
    assert_int_equal(got.fresh_until_ms, 1700000000123);
    assert_int_equal(got.stale_until_ms, 1700000060123);
    assert_true(got.error_until_ms == INT64_MAX);
    assert_int_equal(got.flags, 7);
    assert_true(got.etag == 0x1122334455667788ull);
    assert_int_equal(tl, sizeof(tags) - 1);
    assert_memory_equal(t, tags, tl);
    assert_int_equal(dl, sizeof(data));
    assert_memory_equal(d, data, dl);
    assert_true(t > b.data && d > t && d + dl == b.data + b.len); /* pointers into the record */
    /* Empty tags and data. */
    md_buf_reset(&b);
    assert_int_equal(md_cache_record_encode(&m, NULL, 0, NULL, 0, &b), MD_OK);
    assert_int_equal(b.len, 60);
    assert_int_equal(md_cache_record_decode(b.data, b.len, &got, &t, &tl, &d, &dl), MD_OK);
    assert_int_equal(tl, 0);
    assert_int_equal(dl, 0);
    md_buf_free(&b);
}

static int decode(const char *rec, size_t len)
{
    md_cache_meta_t m;
    const char *t, *d;
    size_t tl, dl;
    return md_cache_record_decode(rec, len, &m, &t, &tl, &d, &dl);
}

static void put_le(char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (char)(v >> (8 * i));
}

static void record_rejections(void **state)
{
    (void)state;
    md_cache_meta_t m = meta_of(0, 10, 20, 30);
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_cache_record_encode(&m, "a\0bc\0", 5, "data", 4, &b), MD_OK);
    size_t n = b.len; /* 60 + 5 + 4 */
    assert_int_equal(n, 69);
    char *r = malloc(n + 1);
    memcpy(r, b.data, n);
    assert_int_equal(decode(r, n), MD_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(decode(r, i), MD_EINVAL); /* every truncation */
    r[n] = 'x';
    assert_int_equal(decode(r, n + 1), MD_EINVAL); /* trailing byte */
    assert_int_equal(decode(NULL, 0), MD_EINVAL);

    struct {
        size_t off;
        uint64_t v;
        int width;
    } bad[] = {
        { 0, 'X', 1 },                    /* magic */
        { 1, 'X', 1 },
        { 2, 2, 1 },                      /* version */
        { 2, 0, 1 },
        { 3, 1, 1 },                      /* reserved */
        { 20, 9, 8 },                     /* stale_until < fresh_until */
        { 28, 9, 8 },                     /* error_until < fresh_until */
        { 12, 21, 8 },                    /* fresh_until > stale_until */
        { 48, 10, 4 },                    /* tags length past what is left */
        { 48, 4, 4 },                     /* tags not ending in NUL */
        { 48, 0xffffffffu, 4 },           /* tags length past the end */
        { 57, 5, 8 },                     /* data length one past the end */
        { 57, 3, 8 },                     /* one byte left over */
        { 57, UINT64_MAX, 8 },            /* would wrap */
        { 57, UINT64_MAX - 60, 8 },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        memcpy(r, b.data, n);
        put_le(r + bad[i].off, bad[i].v, bad[i].width);
        assert_int_equal(decode(r, n), MD_EINVAL);
    }
    /* Equal windows are in order. */
    memcpy(r, b.data, n);
    put_le(r + 20, 10, 8);
    put_le(r + 28, 10, 8);
    assert_int_equal(decode(r, n), MD_OK);
    md_buf_free(&b);
    free(r);

    /* A tags length over MD_CACHE_MAX_TAGS, even when the bytes are there. */
    size_t big = 60 + MD_CACHE_MAX_TAGS + 1;
    char *rec = calloc(1, big);
    md_buf_init(&b, 0);
    assert_int_equal(md_cache_record_encode(&m, NULL, 0, NULL, 0, &b), MD_OK);
    memcpy(rec, b.data, 52);
    put_le(rec + 48, MD_CACHE_MAX_TAGS + 1, 4);
    put_le(rec + 52 + MD_CACHE_MAX_TAGS + 1, 0, 8);
    assert_int_equal(decode(rec, big), MD_EINVAL);
    put_le(rec + 48, MD_CACHE_MAX_TAGS, 4); /* the limit itself is fine */
    put_le(rec + 52 + MD_CACHE_MAX_TAGS, 0, 8);
    assert_int_equal(decode(rec, big - 1), MD_OK);
    free(rec);
    md_buf_free(&b);
}

static void record_encode_limits(void **state)
{
    (void)state;
    md_cache_meta_t m = meta_of(0, 10, 20, 30);
    md_buf_t b;
    md_buf_init(&b, 70);
    assert_int_equal(md_buf_append(&b, "ab", 2), MD_OK);
    char data[16] = { 0 };
    assert_int_equal(md_cache_record_encode(&m, NULL, 0, data, 9, &b), MD_ETOOBIG); /* 2 + 69 > 70 */
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "ab", 2);
    assert_int_equal(md_cache_record_encode(&m, NULL, 0, data, 8, &b), MD_OK);
    assert_int_equal(b.len, 70);
    md_buf_free(&b);
    md_buf_init(&b, 0);
    char *tags = calloc(1, MD_CACHE_MAX_TAGS + 1);
    assert_int_equal(md_cache_record_encode(&m, tags, MD_CACHE_MAX_TAGS + 1, NULL, 0, &b), MD_ETOOBIG);
    assert_int_equal(b.len, 0);
    free(tags);
    md_buf_free(&b);
}

/* ---- threads ---- */

#define NKEYS 200

typedef struct worker {
    md_cache_t *c;
    unsigned id;
    int iters;
    uint64_t rng;
    int hits, misses, waits, bad;
} worker_t;

typedef struct spin_waiter {
    md_cache_waiter_t w;
    atomic_int done;
    md_cache_entry_t *e;
} spin_waiter_t;

static void spin_notify(md_cache_waiter_t *w, md_cache_entry_t *e, int status)
{
    spin_waiter_t *s = (spin_waiter_t *)w;
    (void)status;
    s->e = e;
    atomic_store_explicit(&s->done, 1, memory_order_release);
}

/* Values carry their key and length, so a corrupted hit is caught. */
static size_t make_value(char *buf, unsigned k, size_t len)
{
    memset(buf, (char)('a' + k % 26), len);
    snprintf(buf, len, "%u:", k);
    return len;
}

static bool value_ok(md_cache_entry_t *e, unsigned k)
{
    size_t len;
    const char *d = md_cache_entry_data(e, &len);
    char want[2048];
    if (len < 16 || len > sizeof(want))
        return false;
    make_value(want, k, len);
    return memcmp(d, want, len) == 0 && d[len] == '\0';
}

static void worker_fill(worker_t *w, unsigned k, const char *key, int64_t now)
{
    char val[2048];
    size_t len = make_value(val, k, 16 + md_xorshift32(&w->rng) % 1500);
    md_cache_meta_t m = meta_of(now, now + 20, now + 40, now + 60);
    char tags[32];
    int tl = snprintf(tags, sizeof(tags), "k=%u", k % 10) + 1;
    if (md_xorshift32(&w->rng) % 8 == 0) {
        md_cache_abandon(w->c, key, strlen(key), NULL, MD_ECONNECT);
        return;
    }
    md_cache_entry_t *e = md_cache_fill(w->c, key, strlen(key), val, len, &m, tags, (size_t)tl, now);
    w->bad += !value_ok(e, k);
    md_cache_entry_unref(e);
}

static void worker_step(worker_t *w, int i)
{
    unsigned k = md_xorshift32(&w->rng) % NKEYS;
    char key[32];
    snprintf(key, sizeof(key), "b|GET /k|%u", k);
    int64_t now = i;
    if (md_xorshift32(&w->rng) % 2000 == 0) {
        char tag[16];
        int n = snprintf(tag, sizeof(tag), "k=%u", k % 10);
        md_cache_purge(w->c, MD_PURGE_TAG, tag, (size_t)n);
        return;
    }
    spin_waiter_t sw = { .w = { .notify = spin_notify } };
    md_cache_entry_t *e;
    bool r;
    int rc = md_cache_lookup(w->c, key, strlen(key), now, &sw.w, &e, &r);
    if (e) {
        w->bad += !value_ok(e, k);
        md_cache_entry_unref(e);
    }
    if (rc == MD_CACHE_HIT || rc == MD_CACHE_STALE)
        w->hits++;
    if (rc == MD_CACHE_MISS || r) {
        w->misses++;
        worker_fill(w, k, key, now);
    } else if (rc == MD_CACHE_WAIT) {
        w->waits++;
        if (md_xorshift32(&w->rng) % 2 == 0 && md_cache_cancel_wait(w->c, key, strlen(key), &sw.w))
            return;
        /* The filler ends its fill right after its lookup, so this is short. */
        while (!atomic_load_explicit(&sw.done, memory_order_acquire))
            sched_yield();
        if (sw.e)
            w->bad += !value_ok(sw.e, k);
        md_cache_entry_unref(sw.e);
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < w->iters; i++)
        worker_step(w, i);
    return NULL;
}

static void threads_random_traffic(void **state)
{
    (void)state;
    const char *env = getenv("MD_STORE_ITERS");
    int iters = env ? atoi(env) : 50000;
    size_t max_bytes = 64 * 1024;
    md_cache_t *c = md_cache_new(max_bytes, 4, 2, 0);
    worker_t w[4];
    pthread_t t[4];
    for (unsigned i = 0; i < 4; i++) {
        w[i] = (worker_t){ .c = c, .id = i, .iters = iters, .rng = 0x9e3779b97f4a7c15ull * (i + 1) };
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    int hits = 0, misses = 0, waits = 0;
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].bad, 0);
        hits += w[i].hits;
        misses += w[i].misses;
        waits += w[i].waits;
    }
    md_cache_stats_t st = stats(c);
    assert_true(st.bytes <= max_bytes);
    assert_true(st.entries <= NKEYS);
    if (iters >= 10000) /* the traffic did reach every path */
        assert_true(hits > 0 && misses > 0 && waits > 0 && st.evictions > 0 && st.expirations > 0);
    uint64_t purged_before = st.purged;
    assert_int_equal(md_cache_purge(c, MD_PURGE_ALL, NULL, 0), st.entries);
    st = stats(c);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_true(st.purged >= purged_before);
    md_cache_free(c);
}

typedef struct racer {
    md_cache_t *c;
    pthread_barrier_t *start, *looked;
    twaiter_t tw;
    int outcome;
    md_cache_entry_t *filled;
} racer_t;

static void *racer_main(void *arg)
{
    racer_t *r = arg;
    md_cache_entry_t *e;
    bool refresh;
    pthread_barrier_wait(r->start);
    r->outcome = md_cache_lookup(r->c, "hot", 3, 0, &r->tw.w, &e, &refresh);
    pthread_barrier_wait(r->looked);
    if (r->outcome == MD_CACHE_MISS) {
        md_cache_meta_t m = meta_of(0, 100, 100, 100);
        r->filled = md_cache_fill(r->c, "hot", 3, "payload", 7, &m, NULL, 0, 0);
    }
    return NULL;
}

static void race_one_missing_key(unsigned max_waiters, int want_wait, int want_busy)
{
    md_cache_t *c = md_cache_new(1 << 20, 4, max_waiters, 0);
    pthread_barrier_t start, looked;
    pthread_barrier_init(&start, NULL, 8);
    pthread_barrier_init(&looked, NULL, 8);
    racer_t r[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (racer_t){ .c = c, .start = &start, .looked = &looked };
        twaiter_init(&r[i].tw);
        assert_int_equal(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    int miss = 0, wait = 0, busy = 0;
    md_cache_entry_t *filled = NULL;
    for (int i = 0; i < 8; i++) {
        miss += r[i].outcome == MD_CACHE_MISS;
        wait += r[i].outcome == MD_CACHE_WAIT;
        busy += r[i].outcome == MD_CACHE_BUSY;
        if (r[i].filled)
            filled = r[i].filled;
    }
    assert_int_equal(miss, 1);
    assert_int_equal(wait, want_wait);
    assert_int_equal(busy, want_busy);
    assert_non_null(filled);
    for (int i = 0; i < 8; i++) {
        bool waited = r[i].outcome == MD_CACHE_WAIT;
        assert_int_equal(atomic_load(&r[i].tw.calls), waited ? 1 : 0);
        if (waited) {
            assert_ptr_equal(r[i].tw.e, filled);
            assert_int_equal(r[i].tw.status, MD_OK);
            md_cache_entry_unref(r[i].tw.e);
        }
    }
    md_cache_entry_unref(filled);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&looked);
    md_cache_free(c);
}

static void threads_coalesce_one_key(void **state)
{
    (void)state;
    race_one_missing_key(0, 7, 0);
    race_one_missing_key(3, 3, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows_hit_stale_error_expired),
        cmocka_unit_test(windows_without_stale_period),
        cmocka_unit_test(miss_fill_then_hit),
        cmocka_unit_test(replacing_a_key),
        cmocka_unit_test(eviction_drops_least_recently_used),
        cmocka_unit_test(over_budget_entry_is_returned_not_indexed),
        cmocka_unit_test(references_outlive_purge_and_store),
        cmocka_unit_test(standalone_entry),
        cmocka_unit_test(coalescing_wait_busy_fill),
        cmocka_unit_test(abandon_with_and_without_fallback),
        cmocka_unit_test(cancel_wait_stops_notification),
        cmocka_unit_test(refresh_goes_to_exactly_one),
        cmocka_unit_test(takeover_after_max_fill_ms),
        cmocka_unit_test(lost_fill_is_retired),
        cmocka_unit_test(notify_may_reenter),
        cmocka_unit_test(overlong_key_and_tags),
        cmocka_unit_test(zero_budget_store),
        cmocka_unit_test(purge_by_key_prefix_tag_all),
        cmocka_unit_test(purge_keeps_fills),
        cmocka_unit_test(record_layout_is_little_endian),
        cmocka_unit_test(record_round_trip),
        cmocka_unit_test(record_rejections),
        cmocka_unit_test(record_encode_limits),
        cmocka_unit_test(threads_random_traffic),
        cmocka_unit_test(threads_coalesce_one_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
