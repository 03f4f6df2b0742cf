/*
 * ratelimit.c - exact-integer token buckets in a sharded, bounded LRU hash
 * table (contract and design in ratelimit.h).
 */
#include "auth/ratelimit.h"

#include <pthread.h>
#include <string.h>

#include "auth/secret.h"
#include "core/alloc.h"
#include "core/common.h"

#define SHARDS_BIG 16
#define SHARDS_BIG_FROM 1024 /* below this many buckets, one exact LRU */
#define RECLAIM_PER_TAKE 2

typedef struct rl_entry {
    struct rl_entry *chain;       /* next in the hash chain */
    struct rl_entry *prev, *next; /* LRU list, head = most recently used */
    uint64_t hash;
    md_ratelimit_bucket_t bucket;
    uint16_t key_len;
    char key[];
} rl_entry_t;

typedef struct {
    pthread_mutex_t mu;
    rl_entry_t **table;
    size_t mask;
    rl_entry_t *head, *tail;
    size_t count, max;
    uint64_t evicted_idle, evicted_active;
    char pad[64]; /* keeps two shards' locks off one cache line */
} rl_shard_t;

struct md_ratelimit {
    md_ratelimit_limit_t limit;
    uint8_t seed[MD_SIPHASH_KEY_LEN];
    unsigned shard_bits;
    rl_shard_t *shards;
};

/* ---- the bucket arithmetic ---------------------------------------------- */

static inline uint64_t ceil_div(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

static inline uint64_t capacity_units(const md_ratelimit_limit_t *lim)
{
    return (uint64_t)lim->burst * lim->period_ms;
}

int md_ratelimit_limit_check(const md_ratelimit_limit_t *lim, char *err, size_t errlen)
{
    if (lim->count < 1 || lim->count > MD_RATELIMIT_COUNT_MAX) {
        md_seterr(err, errlen, "rate limit: count must be 1..%u", MD_RATELIMIT_COUNT_MAX);
        return MD_EINVAL;
    }
    if (lim->period_ms < 1 || lim->period_ms > MD_RATELIMIT_PERIOD_MAX) {
        md_seterr(err, errlen, "rate limit: period must be 1 ms..1 day");
        return MD_EINVAL;
    }
    if (lim->burst < 1 || lim->burst > MD_RATELIMIT_BURST_MAX) {
        md_seterr(err, errlen, "rate limit: burst must be 1..%u", MD_RATELIMIT_BURST_MAX);
        return MD_EINVAL;
    }
    return MD_OK;
}

void md_ratelimit_bucket_init(const md_ratelimit_limit_t *lim, md_ratelimit_bucket_t *b, uint64_t now_ms)
{
    b->level = capacity_units(lim);
    b->last_ms = now_ms;
}

/* Adds what the time since last_ms earned, capped at the capacity. The cap
 * is applied before multiplying so that a bucket idle for years cannot
 * overflow: capacity <= 10^6 * 8.64 * 10^7, far below 2^64. */
static void refill(const md_ratelimit_limit_t *lim, md_ratelimit_bucket_t *b, uint64_t now_ms)
{
    if (now_ms <= b->last_ms)
        return;
    uint64_t cap = capacity_units(lim);
    uint64_t dt = now_ms - b->last_ms;
    b->last_ms = now_ms;
    if (b->level >= cap)
        return;
    uint64_t missing = cap - b->level;
    if (dt >= ceil_div(missing, lim->count))
        b->level = cap;
    else
        b->level += dt * lim->count;
}

void md_ratelimit_bucket_take(const md_ratelimit_limit_t *lim, md_ratelimit_bucket_t *b, uint64_t now_ms,
                              md_ratelimit_result_t *r)
{
    refill(lim, b, now_ms);
    uint64_t token = lim->period_ms;
    r->allowed = b->level >= token;
    if (r->allowed) {
        b->level -= token;
        r->retry_after_ms = 0;
    } else {
        r->retry_after_ms = ceil_div(token - b->level, lim->count);
    }
    r->limit = lim->burst;
    r->remaining = (uint32_t)(b->level / token);
    r->reset_ms = ceil_div(capacity_units(lim) - b->level, lim->count);
}

bool md_ratelimit_bucket_is_full(const md_ratelimit_limit_t *lim, const md_ratelimit_bucket_t *b,
                                 uint64_t now_ms)
{
    md_ratelimit_bucket_t copy = *b;
    refill(lim, &copy, now_ms);
    return copy.level >= capacity_units(lim);
}

uint64_t md_ratelimit_ceil_seconds(uint64_t ms) { return ceil_div(ms, 1000); }

/* ---- the table ---------------------------------------------------------- */

int md_ratelimit_new(const md_ratelimit_limit_t *lim, size_t max_buckets, md_ratelimit_t **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    int rc = md_ratelimit_limit_check(lim, err, errlen);
    if (rc != MD_OK)
        return rc;
    if (max_buckets < 1 || max_buckets > MD_RATELIMIT_BUCKETS_MAX) {
        md_seterr(err, errlen, "rate limit: max buckets must be 1..%u", MD_RATELIMIT_BUCKETS_MAX);
        return MD_EINVAL;
    }
    md_ratelimit_t *rl = md_calloc(1, sizeof(*rl));
    if (md_random_bytes(rl->seed, sizeof(rl->seed)) != MD_OK) {
        md_free(rl);
        md_seterr(err, errlen, "rate limit: no randomness from the kernel");
        return MD_ERR;
    }
    rl->limit = *lim;
    rl->shard_bits = max_buckets >= SHARDS_BIG_FROM ? 4 : 0;
    size_t nshards = (size_t)1 << rl->shard_bits;
    rl->shards = md_calloc(nshards, sizeof(rl_shard_t));
    for (size_t i = 0; i < nshards; i++) {
        rl_shard_t *sh = &rl->shards[i];
        pthread_mutex_init(&sh->mu, NULL);
        sh->max = max_buckets / nshards;
        size_t slots = 16;
        while (slots < sh->max)
            slots *= 2;
        sh->table = md_calloc(slots, sizeof(rl_entry_t *));
        sh->mask = slots - 1;
    }
    *out = rl;
    return MD_OK;
}

void md_ratelimit_free(md_ratelimit_t *rl)
{
    if (!rl)
        return;
    size_t nshards = (size_t)1 << rl->shard_bits;
    for (size_t i = 0; i < nshards; i++) {
        rl_shard_t *sh = &rl->shards[i];
        for (rl_entry_t *e = sh->head, *next; e; e = next) {
            next = e->next;
            md_free(e);
        }
        md_free(sh->table);
        pthread_mutex_destroy(&sh->mu);
    }
    md_free(rl->shards);
    md_free(rl);
}

static void lru_unlink(rl_shard_t *sh, rl_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        sh->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        sh->tail = e->prev;
}

static void lru_push_front(rl_shard_t *sh, rl_entry_t *e)
{
    e->prev = NULL;
    e->next = sh->head;
    if (sh->head)
        sh->head->prev = e;
    sh->head = e;
    if (!sh->tail)
        sh->tail = e;
}

static rl_entry_t *find(rl_shard_t *sh, uint64_t hash, const char *key, size_t len)
{
    for (rl_entry_t *e = sh->table[hash & sh->mask]; e; e = e->chain)
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static void remove_entry(rl_shard_t *sh, rl_entry_t *e)
{
    rl_entry_t **pp = &sh->table[e->hash & sh->mask];
    while (*pp != e)
        pp = &(*pp)->chain;
    *pp = e->chain;
    lru_unlink(sh, e);
    sh->count--;
    md_free(e);
}

/* Forgets up to RECLAIM_PER_TAKE least-recently-used buckets that are full
 * again, never `keep` (the bucket being used). */
static void reclaim_idle(const md_ratelimit_limit_t *lim, rl_shard_t *sh, const rl_entry_t *keep,
                         uint64_t now_ms)
{
    for (int i = 0; i < RECLAIM_PER_TAKE; i++) {
        rl_entry_t *t = sh->tail;
        if (!t || t == keep || !md_ratelimit_bucket_is_full(lim, &t->bucket, now_ms))
            return;
        remove_entry(sh, t);
        sh->evicted_idle++;
    }
}

static rl_entry_t *insert(md_ratelimit_t *rl, rl_shard_t *sh, uint64_t hash, const char *key, size_t len,
                          uint64_t now_ms)
{
    if (sh->count >= sh->max) {
        rl_entry_t *t = sh->tail;
        if (md_ratelimit_bucket_is_full(&rl->limit, &t->bucket, now_ms))
            sh->evicted_idle++;
        else
            sh->evicted_active++;
        remove_entry(sh, t);
    }
    rl_entry_t *e = md_malloc(sizeof(*e) + len);
    e->hash = hash;
    e->key_len = (uint16_t)len;
    memcpy(e->key, key, len);
    md_ratelimit_bucket_init(&rl->limit, &e->bucket, now_ms);
    e->chain = sh->table[hash & sh->mask];
    sh->table[hash & sh->mask] = e;
    lru_push_front(sh, e);
    sh->count++;
    return e;
}

int md_ratelimit_take(md_ratelimit_t *rl, const char *key, size_t key_len, uint64_t now_ms,
                      md_ratelimit_result_t *r)
{
    if (key_len == 0 || key_len > MD_RATELIMIT_KEY_MAX)
        return MD_EINVAL;
    uint64_t hash = md_siphash64(rl->seed, key, key_len);
    /* High bits pick the shard, low bits the chain: independent choices. */
    rl_shard_t *sh = &rl->shards[rl->shard_bits ? hash >> (64 - rl->shard_bits) : 0];
    pthread_mutex_lock(&sh->mu);
    rl_entry_t *e = find(sh, hash, key, key_len);
    if (e) {
        lru_unlink(sh, e);
        lru_push_front(sh, e);
    }
    reclaim_idle(&rl->limit, sh, e, now_ms);
    if (!e)
        e = insert(rl, sh, hash, key, key_len, now_ms);
    md_ratelimit_bucket_take(&rl->limit, &e->bucket, now_ms, r);
    pthread_mutex_unlock(&sh->mu);
    return MD_OK;
}

void md_ratelimit_stats(md_ratelimit_t *rl, md_ratelimit_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    size_t nshards = (size_t)1 << rl->shard_bits;
    for (size_t i = 0; i < nshards; i++) {
        rl_shard_t *sh = &rl->shards[i];
        pthread_mutex_lock(&sh->mu);
        st->buckets += sh->count;
        st->evicted_idle += sh->evicted_idle;
        st->evicted_active += sh->evicted_active;
        pthread_mutex_unlock(&sh->mu);
    }
}
