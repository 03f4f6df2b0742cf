/*
 * ratelimit.h - token-bucket rate limiting, keyed by a string (an API key's
 * name, a JWT claim value, a client address).
 *
 * One md_ratelimit_t per configured limit ("100 per minute, burst 20"). A key
 * gets a bucket of `burst` tokens, full when first seen; a request takes one
 * token; tokens come back at `count` per `period_ms`. Arithmetic is exact
 * integers: a bucket's level is kept in units of 1/period_ms token, so each
 * elapsed millisecond adds exactly `count` units and one token is `period_ms`
 * units. Nothing is rounded, so no drift accumulates however long a bucket
 * lives, and retry_after_ms is exact (rounded up to the next millisecond).
 *
 * Time is injected: callers pass a monotonic now_ms (md_loop_now_ms()), tests
 * pass what they like. A time earlier than a bucket's last one refills
 * nothing (threads may present slightly different clocks).
 *
 * Buckets live in a hash table of 16 shards (1 shard below 1,024 buckets),
 * each with its own mutex and LRU list, keyed by SipHash under a random key
 * so that chosen keys cannot pile into one chain. The total is bounded by
 * max_buckets. Every take reclaims up to two least-recently-used buckets that
 * are full again: a full bucket is indistinguishable from a new one, so
 * forgetting it changes no answer. When a shard is still at its bound, its
 * least-recently-used bucket is evicted even though not yet full; that key
 * then starts again with a full bucket (lenient; counted in evicted_active,
 * which should stay 0 when max_buckets is sized for the key population).
 *
 * Remote store (`store: redis`, cache/redis_limit.h): the decision is the
 * pure function md_ratelimit_bucket_take() over a two-integer state, so
 * Redis keeps (level, last_ms) per key and a server-side script applies the
 * same arithmetic atomically, answering the same md_ratelimit_result_t; the
 * gateway (gateway/guard.c) waits for it on the loop and falls back to an
 * md_ratelimit_t of this process when Redis cannot answer.
 */
#ifndef MD_AUTH_RATELIMIT_H
#define MD_AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MD_RATELIMIT_KEY_MAX 256
#define MD_RATELIMIT_PERIOD_MAX 86400000u /* one day */
#define MD_RATELIMIT_BURST_MAX 1000000u
#define MD_RATELIMIT_COUNT_MAX 1000000000u
#define MD_RATELIMIT_BUCKETS_MAX (1u << 24)

/* A limit: `count` tokens per `period_ms` (1000 per second, 60000 per
 * minute), at most `burst` at once. */
typedef struct md_ratelimit_limit {
    uint32_t count;     /* 1..MD_RATELIMIT_COUNT_MAX */
    uint32_t period_ms; /* 1..MD_RATELIMIT_PERIOD_MAX */
    uint32_t burst;     /* 1..MD_RATELIMIT_BURST_MAX */
} md_ratelimit_limit_t;

/* One bucket's whole state: what a remote store would keep per key. */
typedef struct md_ratelimit_bucket {
    uint64_t level;   /* units of 1/period_ms token, <= burst * period_ms */
    uint64_t last_ms; /* the latest time seen */
} md_ratelimit_bucket_t;

/* The decision for one request, with what the response headers need. */
typedef struct md_ratelimit_result {
    bool allowed;
    uint32_t limit;          /* the burst (RateLimit "limit") */
    uint32_t remaining;      /* whole tokens left after this request */
    uint64_t retry_after_ms; /* denied: ms until a token is available; else 0 */
    uint64_t reset_ms;       /* ms until the bucket is full again */
} md_ratelimit_result_t;

/* Counters for metrics and tests. */
typedef struct md_ratelimit_stats {
    size_t buckets;          /* buckets held now */
    uint64_t evicted_idle;   /* reclaimed because full again (harmless) */
    uint64_t evicted_active; /* evicted at the bound before being full */
} md_ratelimit_stats_t;

typedef struct md_ratelimit md_ratelimit_t;

/* Checks a limit's ranges. MD_OK or MD_EINVAL with a message. */
int md_ratelimit_limit_check(const md_ratelimit_limit_t *lim, char *err, size_t errlen);

/* Sets b to a full bucket at now_ms. */
void md_ratelimit_bucket_init(const md_ratelimit_limit_t *lim, md_ratelimit_bucket_t *b, uint64_t now_ms);

/* Refills b up to now_ms, takes one token if there is one, and describes
 * the outcome in *r. Pure arithmetic on b: no locking, no allocation. */
void md_ratelimit_bucket_take(const md_ratelimit_limit_t *lim, md_ratelimit_bucket_t *b, uint64_t now_ms,
                              md_ratelimit_result_t *r);

/* True when b would be full at now_ms (and so may be forgotten). */
bool md_ratelimit_bucket_is_full(const md_ratelimit_limit_t *lim, const md_ratelimit_bucket_t *b,
                                 uint64_t now_ms);

/* Creates a limiter holding at most max_buckets buckets
 * (1..MD_RATELIMIT_BUCKETS_MAX). MD_OK, MD_EINVAL (bad limit or bound, with a
 * message) or MD_ERR (no kernel randomness). */
int md_ratelimit_new(const md_ratelimit_limit_t *lim, size_t max_buckets, md_ratelimit_t **out, char *err,
                     size_t errlen);

/* Frees the limiter and its buckets. NULL is ignored. */
void md_ratelimit_free(md_ratelimit_t *rl);

/* Takes one token from key's bucket at now_ms. MD_OK with *r filled
 * (r->allowed says whether to serve or answer 429), or MD_EINVAL for an
 * empty key or one over MD_RATELIMIT_KEY_MAX bytes. Thread-safe. */
int md_ratelimit_take(md_ratelimit_t *rl, const char *key, size_t key_len, uint64_t now_ms,
                      md_ratelimit_result_t *r);

/* Whole seconds for Retry-After / RateLimit reset: ms rounded up (1 ms gives
 * 1 s, 1000 ms gives 1 s, 1001 ms gives 2 s, 0 gives 0). */
uint64_t md_ratelimit_ceil_seconds(uint64_t ms);

/* Current counters (locks each shard briefly). */
void md_ratelimit_stats(md_ratelimit_t *rl, md_ratelimit_stats_t *st);

#endif
