/*
 * cache_store.c - micro-benchmark for cache/store: ns per hit (lookup +
 * unref) over 1000 keys of 4 KB values, on one thread, then on two threads
 * each reading its own 1000 keys, best of 7 rounds. Keys look like the
 * gateway's ("b|GET /home|news|#GET news /news/<i>") and are visited in a
 * shuffled order so the LRU bump and the chain walk are the real ones.
 * Not a unit test (the Makefile only builds test_*.c).
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/cache_store.c \
 *      src/cache/store.c src/core/alloc.c src/core/buf.c src/core/hash.c \
 *      -pthread -o /tmp/bench_cache_store && /tmp/bench_cache_store
 */
#include "cache/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NKEYS 1000
#define VALUE_LEN 4096
#define PASSES 2000 /* over every key, per round */
#define ROUNDS 7

typedef struct reader {
    md_cache_t *c;
    char keys[NKEYS][48];
    size_t lens[NKEYS];
    unsigned order[NKEYS];
    double best_ns;             /* per hit, CPU time of this thread */
    double best_wall_ns;        /* per hit, wall clock */
    long misses;
} reader_t;

static double clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void reader_init(reader_t *r, md_cache_t *c, unsigned base)
{
    static char value[VALUE_LEN];
    memset(value, 'v', sizeof(value));
    md_cache_meta_t m = { 0, INT64_MAX, INT64_MAX, INT64_MAX, 0, 0 };
    uint64_t rng = 0x9e3779b97f4a7c15ull + base;
    r->c = c;
    for (unsigned i = 0; i < NKEYS; i++) {
        int n = snprintf(r->keys[i], sizeof(r->keys[i]), "b|GET /home|news|#GET news /news/%u", base + i);
        r->lens[i] = (size_t)n;
        md_cache_entry_unref(md_cache_fill(c, r->keys[i], r->lens[i], value, sizeof(value), &m, NULL, 0, 0));
        r->order[i] = i;
    }
    for (unsigned i = NKEYS - 1; i > 0; i--) {
        unsigned j = md_xorshift32(&rng) % (i + 1), t = r->order[i];
        r->order[i] = r->order[j];
        r->order[j] = t;
    }
    r->best_ns = r->best_wall_ns = 1e18;
}

static void *reader_run(void *arg)
{
    reader_t *r = arg;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);
        for (int p = 0; p < PASSES; p++) {
            for (unsigned i = 0; i < NKEYS; i++) {
                unsigned k = r->order[i];
                md_cache_entry_t *e;
                bool refresh;
                if (md_cache_lookup(r->c, r->keys[k], r->lens[k], 1, NULL, &e, &refresh) != MD_CACHE_HIT)
                    r->misses++;
                md_cache_entry_unref(e);
            }
        }
        double ns = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / ((double)PASSES * NKEYS);
        double wall = (clock_ns(CLOCK_MONOTONIC) - w0) / ((double)PASSES * NKEYS);
        r->best_ns = ns < r->best_ns ? ns : r->best_ns;
        r->best_wall_ns = wall < r->best_wall_ns ? wall : r->best_wall_ns;
    }
    return NULL;
}

int main(void)
{
    static reader_t r[2];
    md_cache_t *c = md_cache_new(64u << 20, 0, 0, 0); /* 8 shards */
    reader_init(&r[0], c, 0);
    reader_run(&r[0]);
    printf("1 thread : %.1f ns/hit (cpu), %.1f ns/hit (wall), misses %ld\n", r[0].best_ns, r[0].best_wall_ns,
           r[0].misses);

    reader_init(&r[1], c, NKEYS);
    r[0].misses = 0;
    r[0].best_ns = r[0].best_wall_ns = 1e18;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, reader_run, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++)
        printf("2 threads: thread %d %.1f ns/hit (cpu), %.1f ns/hit (wall), misses %ld\n", i, r[i].best_ns,
               r[i].best_wall_ns, r[i].misses);
    md_cache_free(c);
    return r[0].misses || r[1].misses;
}
