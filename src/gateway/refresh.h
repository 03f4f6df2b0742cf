/*
 * refresh.h - the bookkeeping of a credential the gateway fetches in the
 * background (an issuer's JWKS, an OAuth2 token; outbound.c) that requests
 * may also ask to have fetched early (auth.c: a token naming an unknown
 * kid; compose.c and cache.c: a backend answering 401).
 *
 * Three rules, so that callers on the network cannot turn medley into a
 * tool against the identity provider:
 *   - coalescing: at most one fetch at a time per credential; a request
 *     that asks while one runs joins it instead of starting another;
 *   - rate: at most one forced fetch per interval (10 s) per credential,
 *     however many requests ask (a flood of random kids costs one fetch);
 *   - bounded waiting: at most max_waiters requests wait for a fetch; each
 *     is woken on its own loop with md_loop_post when the fetch ends,
 *     successful or not, and may cancel its wait first (client gone).
 * Plus the retry schedule after a failure: gw_backoff_next.
 *
 * Pure bookkeeping: the caller starts the fetch (on the outbound thread)
 * and says when it ended. Any thread may call any function; one mutex per
 * credential, held for a few instructions (and one md_loop_post per
 * waiter when a fetch ends: posting under the mutex is what lets a worker
 * that cancels under the same mutex know whether a wake-up is queued).
 */
#ifndef MD_GATEWAY_REFRESH_H
#define MD_GATEWAY_REFRESH_H

#include "core/common.h"
#include "core/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_REFRESH_FORCE_INTERVAL_MS 10000 /* one forced fetch per 10 s per credential */
#define GW_REFRESH_MAX_WAITERS 1024        /* requests waiting for one JWKS fetch */

/* One request waiting for the fetch to end. Owned by the caller, who
 * fills loop, fn and arg; the rest belongs to the refresh (its mutex). */
typedef struct gw_refresh_waiter gw_refresh_waiter_t;
struct gw_refresh_waiter {
    md_loop_t *loop;                   /* where fn(arg) runs once the fetch ended */
    void (*fn)(void *arg);
    void *arg;
    gw_refresh_waiter_t *prev, *next;  /* the refresh's list */
    bool queued;                       /* on the list: no wake-up posted yet */
};

/* The state of one credential's fetching. Counters are for metrics. */
typedef struct gw_refresh {
    pthread_mutex_t mu;
    bool fetching;                     /* a fetch runs, or a forced one was asked for */
    bool forced_ever;
    uint64_t last_forced_ms;           /* monotonic, valid when forced_ever */
    uint32_t interval_ms;
    size_t max_waiters, nwaiters;
    gw_refresh_waiter_t *head;
    _Atomic uint64_t fetches_ok, fetches_failed, forced;
} gw_refresh_t;

/* What gw_refresh_force did: the caller must now start the fetch
 * (STARTED), or one runs already (JOINED). Both queued the waiter, if
 * any. Refusals are negative: MD_AGAIN (a forced fetch happened less than
 * interval_ms ago and none runs: nothing to wait for), MD_ETOOBIG
 * (max_waiters already wait). */
enum { GW_REFRESH_STARTED = 1, GW_REFRESH_JOINED = 2 };

/* A copy of the counters. */
typedef struct gw_refresh_stats {
    uint64_t fetches_ok, fetches_failed, forced;
} gw_refresh_stats_t;

void gw_refresh_init(gw_refresh_t *r, uint32_t interval_ms, size_t max_waiters);

/* Frees the mutex. Waiters still queued are woken first (their fetch will
 * never end), so no request waits forever. */
void gw_refresh_destroy(gw_refresh_t *r);

/* A request wants the credential fetched now (now_ms: md_now_us() / 1000,
 * the same clock on every thread). `w` (may be NULL: nobody waits) is
 * queued for the end of the fetch unless the answer is a refusal. */
int gw_refresh_force(gw_refresh_t *r, uint64_t now_ms, gw_refresh_waiter_t *w);

/* The fetcher starts a scheduled fetch. False when a fetch already runs
 * or a forced one was asked for (its start is on its way): skip this one. */
bool gw_refresh_begin(gw_refresh_t *r);

/* The fetch ended (ok: a new credential was installed). Posts every
 * waiter's fn to its loop and counts the fetch. */
void gw_refresh_end(gw_refresh_t *r, bool ok);

/* Takes w off the list. True if it was still queued (fn will never run
 * for it); false if its wake-up is already posted (fn will run). */
bool gw_refresh_cancel(gw_refresh_t *r, gw_refresh_waiter_t *w);

void gw_refresh_get_stats(gw_refresh_t *r, gw_refresh_stats_t *st);

/* The next retry delay after a failure: first_ms after a success (cur_ms
 * 0), then doubling, never above max_ms. */
uint32_t gw_backoff_next(uint32_t cur_ms, uint32_t first_ms, uint32_t max_ms);

#endif
