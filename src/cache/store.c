/*
 * store.c - the in-process cache (contract in store.h).
 *
 * Layout: the store is an array of shards, each a mutex, a chained hash
 * table of entries, an LRU list (head = most recently used) and a second,
 * smaller hash table of fill records (one per key being fetched). A key's
 * 64-bit hash (md_hash64 with a per-store random seed, so keys chosen by
 * clients cannot be aimed at one chain) picks the shard with its high half
 * and the bucket with its low bits. Tables double when they hold more
 * nodes than buckets, up to MAX_BUCKETS.
 *
 * An entry is one allocation: the header below, then the key, the tags
 * blob, the data and one NUL after the data (so text values can be used as
 * C strings). Its accounted size is exactly that allocation's size; the
 * allocator's own overhead and fill records are not counted.
 *
 * Lock discipline: a shard lock covers only its own tables and lists. Work
 * that may be slow or may re-enter the store (freeing entries, notifying
 * waiters) is collected in a `later_t` under the lock and done after
 * unlocking, so a notify callback may call back into the store.
 *
 * Fill records are also kept in start order per shard. A lookup that
 * starts a fill first retires the oldest records that have run for twice
 * max_fill_ms (no lookup of their key came to take them over; their
 * waiters, if any are still queued, get MD_ETIMEDOUT and no entry): a
 * filler lost to a caller bug costs a few bytes for a while, never a slot
 * forever. At most MAX_FILLS records live in a shard; past that, lookups
 * answer BUSY (or STALE without refresh).
 */
#include "cache/store.h"
#include "core/alloc.h"
#include "core/hash.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MIN_BUCKETS 64
#define MAX_BUCKETS (1u << 20)  /* per table: 8 MiB of chain heads */
#define MAX_SHARDS 256
#define AUTO_SHARD_BYTES (8u << 20)
#define AUTO_MAX_SHARDS 64
#define MAX_FILLS 16384         /* fill records per shard */
#define REAP_PER_FILL 4         /* old fill records retired per new one */
#define CACHE_LINE 64

/* A node of a chained hash table, the first member of entries and fills. */
typedef struct hnode {
    struct hnode *next;
    uint64_t hash;
    const char *key;
    size_t keylen;
} hnode_t;

/* A circular doubly-linked list with a sentinel: no head/tail cases. */
typedef struct dlist {
    struct dlist *prev, *next;
} dlist_t;

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

typedef struct htable {
    hnode_t **b;
    size_t mask;                /* buckets - 1 (a power of two) */
    size_t count;
} htable_t;

struct md_cache_entry {
    hnode_t node;               /* shard table; key points into bytes[] */
    dlist_t lru;                /* shard LRU, while indexed */
    md_cache_entry_t *dead;     /* later_t list, once out of the index */
    atomic_uint refs;
    uint32_t tagslen;
    size_t len;                 /* data bytes */
    size_t size;                /* accounted: the whole allocation */
    md_cache_meta_t meta;
    char bytes[];               /* key, tags, data, NUL */
};

typedef struct fill {
    hnode_t node;               /* key points into key[] */
    dlist_t order;              /* shard list in start order */
    struct fill *ended;         /* later_t list, once out of the shard */
    int64_t started_ms;
    md_cache_waiter_t *head, *tail;
    uint32_t nwaiters;
    int status;                 /* given to the waiters */
    md_cache_entry_t *result;   /* ditto (each gets its own reference) */
    char key[];
} fill_t;

typedef struct shard {
    pthread_mutex_t lock;
    htable_t entries;
    htable_t fills;
    dlist_t lru;                /* next: most recently used */
    dlist_t fill_order;         /* next: oldest fill */
    size_t budget;
    /* Written under the lock, read by md_cache_get_stats without it. */
    _Atomic uint64_t nentries, bytes, evictions, expirations, purged, too_big, taken_over;
} shard_t;

/* Shards padded to whole cache lines so neighbours' locks never share one. */
typedef union shard_slot {
    shard_t s;
    char pad[(sizeof(shard_t) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE];
} shard_slot_t;

struct md_cache {
    shard_slot_t *shards;
    void *shards_mem;           /* shards, before alignment */
    unsigned nshards;
    uint32_t max_waiters;
    uint32_t max_fill_ms;
    uint64_t seed;
};

/* What a locked section leaves to do once the lock is released. */
typedef struct later {
    md_cache_entry_t *dead;     /* store references to drop */
    fill_t *ended;              /* fills whose waiters to notify */
} later_t;

/* ---- counters ---- */

/* Only the lock holder writes, so a relaxed load + store is enough and
 * costs no locked instruction. */
static inline void stat_add(_Atomic uint64_t *x, uint64_t d)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + d, memory_order_relaxed);
}

static inline void stat_sub(_Atomic uint64_t *x, uint64_t d)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) - d, memory_order_relaxed);
}

static inline uint64_t stat_get(const _Atomic uint64_t *x)
{
    return atomic_load_explicit(x, memory_order_relaxed);
}

/* ---- hash tables ---- */

static void ht_init(htable_t *t)
{
    t->b = md_calloc(MIN_BUCKETS, sizeof(*t->b));
    t->mask = MIN_BUCKETS - 1;
    t->count = 0;
}

static inline bool key_eq(const hnode_t *n, uint64_t hash, const char *key, size_t keylen)
{
    return n->hash == hash && n->keylen == keylen && (keylen == 0 || memcmp(n->key, key, keylen) == 0);
}

static hnode_t *ht_find(const htable_t *t, uint64_t hash, const char *key, size_t keylen)
{
    for (hnode_t *n = t->b[hash & t->mask]; n; n = n->next)
        if (key_eq(n, hash, key, keylen))
            return n;
    return NULL;
}

/* Rehashing holds the shard lock for O(n), but only when the table has
 * doubled in population, so its cost per insert stays constant. */
static void ht_grow(htable_t *t)
{
    size_t nb = (t->mask + 1) * 2;
    hnode_t **b = md_calloc(nb, sizeof(*b));
    for (size_t i = 0; i <= t->mask; i++) {
        hnode_t *n = t->b[i];
        while (n) {
            hnode_t *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    md_free(t->b);
    t->b = b;
    t->mask = nb - 1;
}

static void ht_insert(htable_t *t, hnode_t *n)
{
    if (t->count >= t->mask + 1 && t->mask + 1 < MAX_BUCKETS)
        ht_grow(t);
    hnode_t **head = &t->b[n->hash & t->mask];
    n->next = *head;
    *head = n;
    t->count++;
}

static void ht_remove(htable_t *t, hnode_t *n)
{
    for (hnode_t **p = &t->b[n->hash & t->mask]; *p; p = &(*p)->next) {
        if (*p == n) {
            *p = n->next;
            t->count--;
            return;
        }
    }
}

/* ---- entries ---- */

static md_cache_entry_t *entry_alloc(const char *key, size_t keylen, const char *tags, size_t tagslen,
                                     const void *data, size_t len, const md_cache_meta_t *meta)
{
    size_t size = sizeof(md_cache_entry_t) + keylen + tagslen + len + 1;
    md_cache_entry_t *e = md_malloc(size);
    memset(e, 0, sizeof(*e));
    char *p = e->bytes;
    if (keylen)
        memcpy(p, key, keylen);
    e->node.key = p;
    e->node.keylen = keylen;
    p += keylen;
    if (tagslen)
        memcpy(p, tags, tagslen);
    p += tagslen;
    if (len)
        memcpy(p, data, len);
    p[len] = '\0';
    atomic_init(&e->refs, 1);
    e->tagslen = (uint32_t)tagslen;
    e->len = len;
    e->size = size;
    if (meta)
        e->meta = *meta;
    return e;
}

static inline const char *entry_tags(const md_cache_entry_t *e)
{
    return e->bytes + e->node.keylen;
}

void md_cache_entry_ref(md_cache_entry_t *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

void md_cache_entry_unref(md_cache_entry_t *e)
{
    /* acq_rel: every holder's reads happen before the free. */
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        md_free(e);
}

md_cache_entry_t *md_cache_entry_new(const void *data, size_t len, const md_cache_meta_t *meta)
{
    return entry_alloc(NULL, 0, NULL, 0, data, len, meta);
}

const char *md_cache_entry_data(const md_cache_entry_t *e, size_t *len)
{
    if (len)
        *len = e->len;
    return e->bytes + e->node.keylen + e->tagslen;
}

const md_cache_meta_t *md_cache_entry_meta(const md_cache_entry_t *e)
{
    return &e->meta;
}

/* ---- shards ---- */

static inline uint64_t key_hash(const md_cache_t *c, const char *key, size_t keylen)
{
    return md_hash64(key, keylen, c->seed);
}

/* Multiply-shift instead of a modulo: the high half spread over nshards. */
static inline shard_t *shard_of(md_cache_t *c, uint64_t hash)
{
    return &c->shards[((hash >> 32) * c->nshards) >> 32].s;
}

static inline void dl_init(dlist_t *l)
{
    l->prev = l->next = l;
}

static inline void dl_unlink(dlist_t *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
}

static inline void dl_push_front(dlist_t *l, dlist_t *n)
{
    n->next = l->next;
    n->prev = l;
    l->next->prev = n;
    l->next = n;
}

static inline void dl_push_back(dlist_t *l, dlist_t *n)
{
    dl_push_front(l->prev, n);
}

static inline md_cache_entry_t *lru_entry(dlist_t *n)
{
    return CONTAINER(n, md_cache_entry_t, lru);
}

static inline fill_t *order_fill(dlist_t *n)
{
    return CONTAINER(n, fill_t, order);
}

/* Takes e out of the index; its store reference is dropped after unlock. */
static void unindex(shard_t *s, md_cache_entry_t *e, later_t *l)
{
    ht_remove(&s->entries, &e->node);
    dl_unlink(&e->lru);
    stat_sub(&s->nentries, 1);
    stat_sub(&s->bytes, e->size);
    e->dead = l->dead;
    l->dead = e;
}

static md_cache_entry_t *find_entry(shard_t *s, uint64_t hash, const char *key, size_t keylen)
{
    return (md_cache_entry_t *)ht_find(&s->entries, hash, key, keylen);
}

static fill_t *find_fill(shard_t *s, uint64_t hash, const char *key, size_t keylen)
{
    return (fill_t *)ht_find(&s->fills, hash, key, keylen);
}

/* Ends a fill: out of the shard, its waiters notified after unlock. The
 * caller keeps `result` alive until then. */
static void end_fill(shard_t *s, fill_t *f, md_cache_entry_t *result, int status, later_t *l)
{
    ht_remove(&s->fills, &f->node);
    dl_unlink(&f->order);
    f->result = result;
    f->status = status;
    f->ended = l->ended;
    l->ended = f;
}

static void run_later(later_t *l)
{
    while (l->ended) {
        fill_t *f = l->ended;
        l->ended = f->ended;
        for (md_cache_waiter_t *w = f->head; w;) {
            /* The callback may free w: read the link first. */
            md_cache_waiter_t *next = w->next;
            if (f->result)
                md_cache_entry_ref(f->result);
            w->notify(w, f->result, f->status);
            w = next;
        }
        md_free(f);
    }
    while (l->dead) {
        md_cache_entry_t *e = l->dead;
        l->dead = e->dead;
        md_cache_entry_unref(e);
    }
}

/* A fill left running past max_fill_ms (times `mult`) by its filler. */
static inline bool fill_expired(const md_cache_t *c, const fill_t *f, int64_t now_ms, uint64_t mult)
{
    /* Unsigned: any two clock readings subtract without overflow. */
    return now_ms > f->started_ms && (uint64_t)now_ms - (uint64_t)f->started_ms > c->max_fill_ms * mult;
}

static void reap_fills(md_cache_t *c, shard_t *s, int64_t now_ms, later_t *l)
{
    for (int i = 0; i < REAP_PER_FILL && s->fill_order.next != &s->fill_order; i++) {
        fill_t *f = order_fill(s->fill_order.next);
        if (!fill_expired(c, f, now_ms, 2))
            return;
        end_fill(s, f, NULL, MD_ETIMEDOUT, l);
    }
}

/* Makes the caller the key's filler; NULL when the shard has too many. */
static fill_t *start_fill(md_cache_t *c, shard_t *s, uint64_t hash, const char *key, size_t keylen,
                          int64_t now_ms, later_t *l)
{
    reap_fills(c, s, now_ms, l);
    if (s->fills.count >= MAX_FILLS)
        return NULL;
    fill_t *f = md_malloc(sizeof(*f) + keylen + 1);
    memset(f, 0, sizeof(*f));
    if (keylen)
        memcpy(f->key, key, keylen);
    f->node.hash = hash;
    f->node.key = f->key;
    f->node.keylen = keylen;
    f->started_ms = now_ms;
    ht_insert(&s->fills, &f->node);
    dl_push_back(&s->fill_order, &f->order);
    return f;
}

/* An expired fill changes hands: it restarts now and keeps its waiters. */
static void take_over(shard_t *s, fill_t *f, int64_t now_ms)
{
    f->started_ms = now_ms;
    dl_unlink(&f->order);
    dl_push_back(&s->fill_order, &f->order);
    stat_add(&s->taken_over, 1);
}

/* ---- store ---- */

static uint64_t random_seed(void *salt)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)salt;
    }
    return seed;
}

static unsigned pick_shards(size_t max_bytes, unsigned nshards)
{
    if (nshards == 0) {
        size_t n = max_bytes / AUTO_SHARD_BYTES;
        return (unsigned)MD_MAX(1, MD_MIN(n, (size_t)AUTO_MAX_SHARDS));
    }
    return MD_MIN(nshards, (unsigned)MAX_SHARDS);
}

md_cache_t *md_cache_new(size_t max_bytes, unsigned nshards, uint32_t max_waiters, uint32_t max_fill_ms)
{
    md_cache_t *c = md_calloc(1, sizeof(*c));
    c->nshards = pick_shards(max_bytes, nshards);
    c->max_waiters = max_waiters ? max_waiters : 4096;
    c->max_fill_ms = max_fill_ms ? max_fill_ms : 60000;
    c->seed = random_seed(c);
    c->shards_mem = md_calloc(c->nshards + 1, sizeof(shard_slot_t));
    uintptr_t p = ((uintptr_t)c->shards_mem + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1);
    c->shards = (shard_slot_t *)p;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = &c->shards[i].s;
        pthread_mutex_init(&s->lock, NULL);
        ht_init(&s->entries);
        ht_init(&s->fills);
        dl_init(&s->lru);
        dl_init(&s->fill_order);
        s->budget = max_bytes / c->nshards;
    }
    return c;
}

void md_cache_free(md_cache_t *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = &c->shards[i].s;
        for (dlist_t *n = s->lru.next, *next; n != &s->lru; n = next) {
            next = n->next;
            md_cache_entry_unref(lru_entry(n));
        }
        for (dlist_t *n = s->fill_order.next, *next; n != &s->fill_order; n = next) {
            next = n->next;
            md_free(order_fill(n));
        }
        md_free(s->entries.b);
        md_free(s->fills.b);
        pthread_mutex_destroy(&s->lock);
    }
    md_free(c->shards_mem);
    md_free(c);
}

/* ---- lookup ---- */

typedef enum { W_FRESH, W_STALE, W_ERROR, W_DEAD } window_t;

static inline window_t window_at(const md_cache_meta_t *m, int64_t now_ms)
{
    if (now_ms < m->fresh_until_ms)
        return W_FRESH;
    if (now_ms < m->stale_until_ms)
        return W_STALE;
    if (now_ms < m->error_until_ms)
        return W_ERROR;
    return W_DEAD;
}

/* A stale entry is served to everyone; the one caller that finds no fill
 * running (or an expired one) starts the refresh. */
static bool stale_refresh(md_cache_t *c, shard_t *s, uint64_t hash, const char *key, size_t keylen,
                          int64_t now_ms, later_t *l)
{
    fill_t *f = find_fill(s, hash, key, keylen);
    if (!f)
        return start_fill(c, s, hash, key, keylen, now_ms, l) != NULL;
    if (!fill_expired(c, f, now_ms, 1))
        return false;
    take_over(s, f, now_ms);
    return true;
}

/* No usable entry: become the filler, wait for the one running, or not. */
static int miss_or_wait(md_cache_t *c, shard_t *s, uint64_t hash, const char *key, size_t keylen,
                        int64_t now_ms, md_cache_waiter_t *w, later_t *l)
{
    fill_t *f = find_fill(s, hash, key, keylen);
    if (!f)
        return start_fill(c, s, hash, key, keylen, now_ms, l) ? MD_CACHE_MISS : MD_CACHE_BUSY;
    if (fill_expired(c, f, now_ms, 1)) {
        take_over(s, f, now_ms);
        return MD_CACHE_MISS;
    }
    if (!w || f->nwaiters >= c->max_waiters)
        return MD_CACHE_BUSY;
    w->next = NULL;
    if (f->tail)
        f->tail->next = w;
    else
        f->head = w;
    f->tail = w;
    f->nwaiters++;
    return MD_CACHE_WAIT;
}

int md_cache_lookup(md_cache_t *c, const char *key, size_t keylen, int64_t now_ms, md_cache_waiter_t *w,
                    md_cache_entry_t **out, bool *refresh)
{
    if (out)
        *out = NULL;
    if (refresh)
        *refresh = false;
    if (keylen > MD_CACHE_MAX_KEY)
        return MD_ETOOBIG;
    uint64_t hash = key_hash(c, key, keylen);
    shard_t *s = shard_of(c, hash);
    later_t l = { NULL, NULL };
    int outcome;

    pthread_mutex_lock(&s->lock);
    md_cache_entry_t *e = find_entry(s, hash, key, keylen);
    window_t win = e ? window_at(&e->meta, now_ms) : W_DEAD;
    if (e && win == W_DEAD) {
        unindex(s, e, &l);
        stat_add(&s->expirations, 1);
        e = NULL;
    }
    if (win == W_FRESH || win == W_STALE) {
        dl_unlink(&e->lru);
        dl_push_front(&s->lru, &e->lru);
        outcome = win == W_FRESH ? MD_CACHE_HIT : MD_CACHE_STALE;
        bool r = win == W_STALE && stale_refresh(c, s, hash, key, keylen, now_ms, &l);
        if (refresh)
            *refresh = r;
    } else {
        outcome = miss_or_wait(c, s, hash, key, keylen, now_ms, w, &l);
        if (outcome != MD_CACHE_MISS)
            e = NULL; /* stale-if-error material goes to the filler only */
    }
    if (e && out) {
        md_cache_entry_ref(e);
        *out = e;
    }
    pthread_mutex_unlock(&s->lock);
    if (MD_UNLIKELY(l.dead || l.ended))
        run_later(&l);
    return outcome;
}

/* ---- fill, abandon, cancel ---- */

/* Makes room for `size` bytes in s, least recently used first. */
static void evict_for(shard_t *s, size_t size, later_t *l)
{
    while (s->lru.prev != &s->lru && stat_get(&s->bytes) + size > s->budget) {
        unindex(s, lru_entry(s->lru.prev), l);
        stat_add(&s->evictions, 1);
    }
}

static void index_entry(shard_t *s, md_cache_entry_t *e, uint64_t hash, later_t *l)
{
    e->node.hash = hash;
    /* The old value goes even when the new one is not indexed: it has been
     * superseded and must not be served as fresh. */
    md_cache_entry_t *old = find_entry(s, hash, e->node.key, e->node.keylen);
    if (old)
        unindex(s, old, l);
    if (e->size > s->budget) {
        stat_add(&s->too_big, 1);
        return;
    }
    evict_for(s, e->size, l);
    md_cache_entry_ref(e); /* the store's */
    ht_insert(&s->entries, &e->node);
    dl_push_front(&s->lru, &e->lru);
    stat_add(&s->nentries, 1);
    stat_add(&s->bytes, e->size);
}

md_cache_entry_t *md_cache_fill(md_cache_t *c, const char *key, size_t keylen, const void *data, size_t len,
                                const md_cache_meta_t *meta, const char *tags, size_t tagslen, int64_t now_ms)
{
    MD_UNUSED(now_ms);
    if (!tags)
        tagslen = 0;
    /* The last check keeps the allocation size from wrapping. */
    if (keylen > MD_CACHE_MAX_KEY || tagslen > MD_CACHE_MAX_TAGS || len > SIZE_MAX / 2) {
        md_cache_abandon(c, key, keylen, NULL, MD_ETOOBIG);
        return NULL;
    }
    md_cache_entry_t *e = entry_alloc(key, keylen, tags, tagslen, data, len, meta);
    uint64_t hash = key_hash(c, key, keylen);
    shard_t *s = shard_of(c, hash);
    later_t l = { NULL, NULL };

    pthread_mutex_lock(&s->lock);
    index_entry(s, e, hash, &l);
    fill_t *f = find_fill(s, hash, key, keylen);
    if (f)
        end_fill(s, f, e, MD_OK, &l);
    pthread_mutex_unlock(&s->lock);
    run_later(&l);
    return e;
}

void md_cache_abandon(md_cache_t *c, const char *key, size_t keylen, md_cache_entry_t *fallback, int status)
{
    if (keylen > MD_CACHE_MAX_KEY)
        return; /* no lookup could have started a fill for it */
    uint64_t hash = key_hash(c, key, keylen);
    shard_t *s = shard_of(c, hash);
    later_t l = { NULL, NULL };

    pthread_mutex_lock(&s->lock);
    fill_t *f = find_fill(s, hash, key, keylen);
    if (f)
        end_fill(s, f, fallback, status, &l);
    pthread_mutex_unlock(&s->lock);
    run_later(&l);
}

bool md_cache_cancel_wait(md_cache_t *c, const char *key, size_t keylen, md_cache_waiter_t *w)
{
    if (keylen > MD_CACHE_MAX_KEY || !w)
        return false;
    uint64_t hash = key_hash(c, key, keylen);
    shard_t *s = shard_of(c, hash);
    bool found = false;

    pthread_mutex_lock(&s->lock);
    fill_t *f = find_fill(s, hash, key, keylen);
    md_cache_waiter_t *prev = NULL;
    for (md_cache_waiter_t *x = f ? f->head : NULL; x; prev = x, x = x->next) {
        if (x != w)
            continue;
        if (prev)
            prev->next = x->next;
        else
            f->head = x->next;
        if (f->tail == x)
            f->tail = prev;
        f->nwaiters--;
        found = true;
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* ---- purge ---- */

/* Exact match against each NUL-terminated string of the blob; a last
 * string without its NUL ends at the blob's end. The empty tag matches
 * nothing (empty strings in a blob are not tags). */
static bool has_tag(const md_cache_entry_t *e, const char *tag, size_t len)
{
    const char *p = entry_tags(e), *end = p + e->tagslen;
    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
        if (n == len && memcmp(p, tag, len) == 0)
            return true;
        p += n + 1;
    }
    return false;
}

static bool purge_match(const md_cache_entry_t *e, md_cache_purge_kind_t kind, const char *arg, size_t len)
{
    switch (kind) {
    case MD_PURGE_PREFIX:
        return e->node.keylen >= len && (len == 0 || memcmp(e->node.key, arg, len) == 0);
    case MD_PURGE_TAG:
        return len > 0 && has_tag(e, arg, len);
    case MD_PURGE_ALL:
        return true;
    default:
        return false;
    }
}

static size_t purge_key(md_cache_t *c, const char *key, size_t keylen)
{
    if (keylen > MD_CACHE_MAX_KEY)
        return 0;
    uint64_t hash = key_hash(c, key, keylen);
    shard_t *s = shard_of(c, hash);
    later_t l = { NULL, NULL };

    pthread_mutex_lock(&s->lock);
    md_cache_entry_t *e = find_entry(s, hash, key, keylen);
    if (e) {
        unindex(s, e, &l);
        stat_add(&s->purged, 1);
    }
    pthread_mutex_unlock(&s->lock);
    run_later(&l);
    return e ? 1 : 0;
}

size_t md_cache_purge(md_cache_t *c, md_cache_purge_kind_t kind, const char *arg, size_t len)
{
    if (!arg)
        len = 0;
    if (kind == MD_PURGE_KEY)
        return purge_key(c, arg, len);
    size_t n = 0;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = &c->shards[i].s;
        later_t l = { NULL, NULL };
        pthread_mutex_lock(&s->lock);
        for (dlist_t *x = s->lru.next, *next; x != &s->lru; x = next) {
            next = x->next;
            if (purge_match(lru_entry(x), kind, arg, len)) {
                unindex(s, lru_entry(x), &l);
                stat_add(&s->purged, 1);
                n++;
            }
        }
        pthread_mutex_unlock(&s->lock);
        run_later(&l);
    }
    return n;
}

void md_cache_get_stats(const md_cache_t *c, md_cache_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    for (unsigned i = 0; i < c->nshards; i++) {
        const shard_t *s = &c->shards[i].s;
        st->entries += stat_get(&s->nentries);
        st->bytes += stat_get(&s->bytes);
        st->evictions += stat_get(&s->evictions);
        st->expirations += stat_get(&s->expirations);
        st->purged += stat_get(&s->purged);
        st->too_big += stat_get(&s->too_big);
        st->fills_taken_over += stat_get(&s->taken_over);
    }
}

/* ---- Redis records ----
 *
 * Little-endian, version 1:
 *   0   'M' 'C' 0x01 0x00        magic, version, reserved (must be 0)
 *   4   stored, fresh_until, stale_until, error_until   4 x int64
 *   36  flags uint32, etag uint64
 *   48  tagslen uint32, tags (empty or ending in NUL, <= MD_CACHE_MAX_TAGS)
 *   ..  datalen uint64, data (exactly to the end of the record)
 */
#define REC_VERSION 1
#define REC_FIXED 48
#define REC_OVERHEAD (REC_FIXED + 4 + 8)

static char *put_le(char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *p++ = (char)(v >> (8 * i));
    return p;
}

static uint64_t get_le(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | (unsigned char)p[i];
    return v;
}

int md_cache_record_encode(const md_cache_meta_t *meta, const char *tags, size_t tagslen, const void *data,
                           size_t len, md_buf_t *out)
{
    if (!tags)
        tagslen = 0;
    if (tagslen > MD_CACHE_MAX_TAGS || len > SIZE_MAX / 2 - REC_OVERHEAD - tagslen)
        return MD_ETOOBIG;
    size_t total = REC_OVERHEAD + tagslen + len;
    int rc = md_buf_reserve(out, total);
    if (rc != MD_OK)
        return rc;
    char *p = md_buf_tail(out);
    *p++ = 'M';
    *p++ = 'C';
    *p++ = REC_VERSION;
    *p++ = 0;
    p = put_le(p, (uint64_t)meta->stored_ms, 8);
    p = put_le(p, (uint64_t)meta->fresh_until_ms, 8);
    p = put_le(p, (uint64_t)meta->stale_until_ms, 8);
    p = put_le(p, (uint64_t)meta->error_until_ms, 8);
    p = put_le(p, meta->flags, 4);
    p = put_le(p, meta->etag, 8);
    p = put_le(p, tagslen, 4);
    if (tagslen)
        memcpy(p, tags, tagslen);
    p = put_le(p + tagslen, len, 8);
    if (len)
        memcpy(p, data, len);
    md_buf_commit(out, total);
    return MD_OK;
}

int md_cache_record_decode(const char *rec, size_t reclen, md_cache_meta_t *meta, const char **tags,
                           size_t *tagslen, const char **data, size_t *len)
{
    if (!rec || reclen < REC_OVERHEAD || rec[0] != 'M' || rec[1] != 'C' || rec[2] != REC_VERSION || rec[3] != 0)
        return MD_EINVAL;
    md_cache_meta_t m;
    m.stored_ms = (int64_t)get_le(rec + 4, 8);
    m.fresh_until_ms = (int64_t)get_le(rec + 12, 8);
    m.stale_until_ms = (int64_t)get_le(rec + 20, 8);
    m.error_until_ms = (int64_t)get_le(rec + 28, 8);
    m.flags = (uint32_t)get_le(rec + 36, 4);
    m.etag = get_le(rec + 40, 8);
    if (m.stale_until_ms < m.fresh_until_ms || m.error_until_ms < m.fresh_until_ms)
        return MD_EINVAL;
    /* Every length is checked against what is left before it is used, so
     * no sum can wrap. */
    size_t pos = REC_FIXED;
    uint64_t tl = get_le(rec + pos, 4);
    pos += 4;
    if (tl > MD_CACHE_MAX_TAGS || tl > reclen - pos - 8)
        return MD_EINVAL;
    const char *t = rec + pos;
    if (tl && t[tl - 1] != '\0')
        return MD_EINVAL;
    pos += tl;
    uint64_t dl = get_le(rec + pos, 8);
    pos += 8;
    if (dl != reclen - pos)
        return MD_EINVAL;
    *meta = m;
    *tags = t;
    *tagslen = (size_t)tl;
    *data = rec + pos;
    *len = (size_t)dl;
    return MD_OK;
}
