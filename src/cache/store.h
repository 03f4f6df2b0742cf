/*
 * store.h - the in-process cache: shaped fragments and composed views,
 * shared by every worker thread, bounded by bytes.
 *
 * The store is split into shards, each with its own mutex, hash table and
 * LRU list; a key's shard is picked by its hash, so threads working on
 * different keys rarely meet and no lock covers the whole store. Each shard
 * gets an equal part of max_bytes and evicts its least recently used
 * entries when a fill would go over. An entry larger than a shard's budget
 * is never indexed (md_cache_fill still hands it to the caller and the
 * waiters).
 *
 * Entries are immutable and refcounted: a lookup hands out a reference
 * (an atomic increment under the shard lock), so a hit copies nothing and a
 * purge or eviction never frees bytes a request is still writing out. The
 * store holds one reference while an entry is indexed.
 *
 * Time is the caller's: every call takes `now_ms` (wall-clock milliseconds,
 * so entries read back from Redis keep their meaning). An entry is fresh
 * until fresh_until, servable stale (stale-while-revalidate) until
 * stale_until, usable as a fallback when the backend fails until
 * error_until, and dropped after the latest of the three.
 *
 * Coalescing: the first lookup that finds no usable entry becomes the
 * key's filler (MD_CACHE_MISS) and must end the fill with md_cache_fill()
 * or md_cache_abandon(). Lookups that come while a fill is in progress wait
 * (MD_CACHE_WAIT): their waiter is queued and notified exactly once when
 * the fill ends, unless md_cache_cancel_wait() removed it first. A fill
 * that is not ended within max_fill_ms is taken over by the next lookup
 * (the new filler inherits the waiters), so a lost filler cannot strand
 * a key.
 *
 * Threads: every function may be called from any thread. Notifications run
 * on the thread that ends the fill, outside any store lock; a waiter's
 * callback must only hand the result over to its own thread (md_loop_post).
 */
#ifndef MD_CACHE_STORE_H
#define MD_CACHE_STORE_H

#include "core/buf.h"
#include "core/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keys longer than this are refused by lookup and fill (MD_ETOOBIG). */
#define MD_CACHE_MAX_KEY 4096
/* Tags blob (see md_cache_fill) longer than this is refused. */
#define MD_CACHE_MAX_TAGS 2048

typedef struct md_cache md_cache_t;
typedef struct md_cache_entry md_cache_entry_t;

/* What is known about a stored value besides its bytes. */
typedef struct md_cache_meta {
    int64_t stored_ms;          /* when it was fetched */
    int64_t fresh_until_ms;     /* fresh before this */
    int64_t stale_until_ms;     /* servable stale (SWR) before this; >= fresh_until */
    int64_t error_until_ms;     /* fallback on backend failure before this; >= fresh_until */
    uint32_t flags;             /* the caller's bits, stored and returned as is */
    uint64_t etag;              /* the caller's validator (e.g. md_hash64 of the data) */
} md_cache_meta_t;

/* How a lookup ended. */
typedef enum {
    MD_CACHE_HIT,               /* *out: a fresh entry */
    MD_CACHE_STALE,             /* *out: an entry in its stale window; see *refresh */
    MD_CACHE_MISS,              /* the caller is now the key's filler; *out: an
                                   expired entry still in its error window, or NULL */
    MD_CACHE_WAIT,              /* a fill is in progress; the waiter is queued */
    MD_CACHE_BUSY,              /* a fill is in progress and the waiter could not be
                                   queued (NULL waiter, or max_waiters reached):
                                   the caller fetches on its own, without filling */
} md_cache_outcome_t;

typedef struct md_cache_waiter md_cache_waiter_t;

/* Runs once on the filler's thread when the fill ends: `e` is a reference
 * the callback owns (NULL when the fill was abandoned without a fallback),
 * `status` is the value given to md_cache_fill (MD_OK) or
 * md_cache_abandon. After the call the store never touches the waiter. */
typedef void (*md_cache_notify_fn)(md_cache_waiter_t *w, md_cache_entry_t *e, int status);

/* Owned by the caller, who keeps it alive until it is notified or
 * md_cache_cancel_wait() returned true. */
struct md_cache_waiter {
    md_cache_notify_fn notify;
    void *data;                 /* the caller's */
    md_cache_waiter_t *next;    /* the store's */
};

/* Store-wide counters (atomic reads; for metrics and tests). */
typedef struct md_cache_stats {
    uint64_t entries;           /* currently indexed */
    uint64_t bytes;             /* accounted bytes of indexed entries */
    uint64_t evictions;         /* entries dropped to make room */
    uint64_t expirations;       /* entries dropped because every window passed */
    uint64_t purged;            /* entries dropped by md_cache_purge */
    uint64_t too_big;           /* fills not indexed because over a shard's budget */
    uint64_t fills_taken_over;  /* fills older than max_fill_ms taken over */
} md_cache_stats_t;

/* A new store bounded to max_bytes (keys, values, tags and per-entry
 * overhead all count). nshards 0 picks one shard per 8 MiB, between 1 and
 * 64. max_waiters bounds the waiters queued on one key (0: 4096).
 * max_fill_ms: a fill older than this is taken over (0: 60000). */
md_cache_t *md_cache_new(size_t max_bytes, unsigned nshards, uint32_t max_waiters, uint32_t max_fill_ms);

/* Frees the store and drops its references; entries still referenced
 * elsewhere live until their last md_cache_entry_unref. No waiter may be
 * pending (they are not notified). NULL is ignored. */
void md_cache_free(md_cache_t *c);

/* Looks `key` up at now_ms (see md_cache_outcome_t). On HIT and STALE,
 * *out holds a reference the caller must unref. On STALE, *refresh is true
 * for exactly one caller per stale period: that caller is the key's filler
 * and must refresh it (md_cache_fill / md_cache_abandon); others get
 * *refresh false and just use the stale entry. On MISS, *out may hold an
 * entry past its stale window but inside its error window (stale-if-error
 * material) or NULL. An entry past every window is dropped. `w` may be NULL
 * (the caller will not wait: BUSY instead of WAIT). Returns MD_ETOOBIG
 * (as a negative int) for an over-long key, else the outcome. */
int md_cache_lookup(md_cache_t *c, const char *key, size_t keylen, int64_t now_ms, md_cache_waiter_t *w,
                    md_cache_entry_t **out, bool *refresh);

/* Stores `len` bytes under key (replacing any entry), ends the key's fill if
 * one is in progress and notifies its waiters with the new entry (status
 * MD_OK). `tags` is a blob of NUL-terminated strings (e.g. "backend=news\0
 * user=42\0", tagslen counts every byte) that md_cache_purge(MD_PURGE_TAG)
 * matches; may be NULL. Returns a reference to the new entry for the caller
 * (unref it), or NULL when the key or tags are too long (the fill is then
 * abandoned with MD_ETOOBIG). An entry over a shard's budget is returned and
 * handed to the waiters but not indexed. */
md_cache_entry_t *md_cache_fill(md_cache_t *c, const char *key, size_t keylen, const void *data, size_t len,
                                const md_cache_meta_t *meta, const char *tags, size_t tagslen, int64_t now_ms);

/* Ends the key's fill without a new value: each waiter is notified with a
 * new reference to `fallback` (may be NULL) and `status` (a negative
 * MD_E* code). The index is unchanged. No fill in progress: nothing. */
void md_cache_abandon(md_cache_t *c, const char *key, size_t keylen, md_cache_entry_t *fallback, int status);

/* Removes a queued waiter. true: removed, it will never be notified.
 * false: it was not queued (already notified, or being notified right now
 * on another thread: the notification will still arrive). */
bool md_cache_cancel_wait(md_cache_t *c, const char *key, size_t keylen, md_cache_waiter_t *w);

/* What md_cache_purge matches. */
typedef enum {
    MD_PURGE_KEY,               /* the exact key */
    MD_PURGE_PREFIX,            /* keys starting with arg */
    MD_PURGE_TAG,               /* entries carrying the tag arg (exact) */
    MD_PURGE_ALL,               /* everything; arg ignored */
} md_cache_purge_kind_t;

/* Drops every indexed entry that matches and returns how many. Entries still
 * referenced stay alive for their holders. Fills in progress are not
 * affected. Walks every shard, one lock at a time. */
size_t md_cache_purge(md_cache_t *c, md_cache_purge_kind_t kind, const char *arg, size_t len);

/* Entry accessors. The data pointer is valid while the reference is held. */
const char *md_cache_entry_data(const md_cache_entry_t *e, size_t *len);
const md_cache_meta_t *md_cache_entry_meta(const md_cache_entry_t *e);

/* Adds a reference (any thread). */
void md_cache_entry_ref(md_cache_entry_t *e);

/* Drops a reference; the last one frees the entry. NULL is ignored. */
void md_cache_entry_unref(md_cache_entry_t *e);

/* A standalone entry (not indexed), e.g. one read back from Redis, to be
 * used like a stored one; the caller holds the only reference. */
md_cache_entry_t *md_cache_entry_new(const void *data, size_t len, const md_cache_meta_t *meta);

void md_cache_get_stats(const md_cache_t *c, md_cache_stats_t *st);

/* Serializes meta + tags + data into out (for the Redis tier): a versioned
 * binary record. MD_OK or MD_ETOOBIG (out's cap). */
int md_cache_record_encode(const md_cache_meta_t *meta, const char *tags, size_t tagslen, const void *data,
                           size_t len, md_buf_t *out);

/* Parses a record made by md_cache_record_encode. On MD_OK, *tags and *data point
 * into `rec`. MD_EINVAL for anything else (wrong version, truncated, bad
 * lengths, windows out of order). */
int md_cache_record_decode(const char *rec, size_t reclen, md_cache_meta_t *meta, const char **tags,
                           size_t *tagslen, const char **data, size_t *len);

#endif
