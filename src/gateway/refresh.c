/*
 * refresh.c - coalesced, rate-limited early fetches of a background
 * credential and the requests waiting for them (refresh.h says why).
 */
#include "gateway/refresh.h"

void gw_refresh_init(gw_refresh_t *r, uint32_t interval_ms, size_t max_waiters)
{
    pthread_mutex_init(&r->mu, NULL);
    r->fetching = false;
    r->forced_ever = false;
    r->last_forced_ms = 0;
    r->interval_ms = interval_ms;
    r->max_waiters = max_waiters;
    r->nwaiters = 0;
    r->head = NULL;
    atomic_init(&r->fetches_ok, 0);
    atomic_init(&r->fetches_failed, 0);
    atomic_init(&r->forced, 0);
}

/* Under r->mu: posts every queued waiter and empties the list. */
static void wake_all(gw_refresh_t *r)
{
    gw_refresh_waiter_t *w = r->head;
    while (w) {
        gw_refresh_waiter_t *next = w->next;
        w->queued = false;
        w->prev = w->next = NULL;
        md_loop_post(w->loop, w->fn, w->arg);
        w = next;
    }
    r->head = NULL;
    r->nwaiters = 0;
}

void gw_refresh_destroy(gw_refresh_t *r)
{
    pthread_mutex_lock(&r->mu);
    wake_all(r);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_destroy(&r->mu);
}

static void enqueue(gw_refresh_t *r, gw_refresh_waiter_t *w)
{
    w->prev = NULL;
    w->next = r->head;
    if (r->head)
        r->head->prev = w;
    r->head = w;
    w->queued = true;
    r->nwaiters++;
}

int gw_refresh_force(gw_refresh_t *r, uint64_t now_ms, gw_refresh_waiter_t *w)
{
    int rc;
    pthread_mutex_lock(&r->mu);
    if (w && r->nwaiters >= r->max_waiters) {
        rc = MD_ETOOBIG;
    } else if (r->fetching) {
        rc = GW_REFRESH_JOINED;
    } else if (r->forced_ever && now_ms - r->last_forced_ms < r->interval_ms) {
        rc = MD_AGAIN;
    } else {
        r->fetching = true;
        r->forced_ever = true;
        r->last_forced_ms = now_ms;
        atomic_fetch_add(&r->forced, 1);
        rc = GW_REFRESH_STARTED;
    }
    if (rc > 0 && w)
        enqueue(r, w);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

bool gw_refresh_begin(gw_refresh_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool start = !r->fetching;
    r->fetching = true;
    pthread_mutex_unlock(&r->mu);
    return start;
}

void gw_refresh_end(gw_refresh_t *r, bool ok)
{
    atomic_fetch_add(ok ? &r->fetches_ok : &r->fetches_failed, 1);
    pthread_mutex_lock(&r->mu);
    r->fetching = false;
    wake_all(r);
    pthread_mutex_unlock(&r->mu);
}

bool gw_refresh_cancel(gw_refresh_t *r, gw_refresh_waiter_t *w)
{
    pthread_mutex_lock(&r->mu);
    bool queued = w->queued;
    if (queued) {
        if (w->prev)
            w->prev->next = w->next;
        else
            r->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->prev = w->next = NULL;
        w->queued = false;
        r->nwaiters--;
    }
    pthread_mutex_unlock(&r->mu);
    return queued;
}

void gw_refresh_get_stats(gw_refresh_t *r, gw_refresh_stats_t *st)
{
    st->fetches_ok = atomic_load(&r->fetches_ok);
    st->fetches_failed = atomic_load(&r->fetches_failed);
    st->forced = atomic_load(&r->forced);
}

uint32_t gw_backoff_next(uint32_t cur_ms, uint32_t first_ms, uint32_t max_ms)
{
    if (cur_ms == 0)
        return MD_MIN(first_ms, max_ms);
    return cur_ms >= max_ms / 2 ? max_ms : cur_ms * 2;
}
