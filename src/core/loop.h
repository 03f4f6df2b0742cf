/*
 * loop.h - the event loop: one per worker thread, epoll + a timer heap.
 *
 * Every socket medley owns (client connections, listeners, upstream
 * connections) is an md_io_t registered on the loop of the thread that owns
 * it; nothing is shared between loops except through md_loop_post(), the one
 * thread-safe entry point (it wakes the loop through an eventfd).
 *
 * Interest is level-triggered: a callback that does not drain a socket is
 * simply called again. Changing interest to the value it already has costs
 * nothing (no epoll_ctl).
 *
 * Time: md_loop_now_ms() is a monotonic clock cached once per iteration, so
 * hot paths never call clock_gettime for timeouts.
 */
#ifndef MD_LOOP_H
#define MD_LOOP_H

#include <stdint.h>
#include <stddef.h>

typedef struct md_loop md_loop_t;
typedef struct md_io md_io_t;
typedef struct md_timer md_timer_t;

enum {
    MD_IO_READ = 1,
    MD_IO_WRITE = 2,
    MD_IO_HUP = 4   /* reported only: EPOLLHUP/EPOLLERR/EPOLLRDHUP */
};

/* Called with the subset of READ/WRITE/HUP that is ready. */
typedef void (*md_io_cb)(md_io_t *io, unsigned events);

struct md_io {
    int fd;
    unsigned events;   /* current interest, READ|WRITE */
    md_io_cb cb;
    void *data;        /* owner's pointer */
    md_loop_t *loop;
};

/* Called once when the timer fires; the timer is inactive by then and may be
 * restarted from inside the callback. */
typedef void (*md_timer_cb)(md_timer_t *t);

struct md_timer {
    uint64_t due_ms;
    size_t heap_index;  /* SIZE_MAX when not scheduled */
    md_timer_cb cb;
    void *data;
};

md_loop_t *md_loop_new(void);

/* Frees the loop. Every io must have been stopped and every timer stopped. */
void md_loop_free(md_loop_t *loop);

/* Runs until md_loop_stop() is called. Returns MD_OK. */
int md_loop_run(md_loop_t *loop);

/* Makes md_loop_run() return after the current iteration. Loop thread only. */
void md_loop_stop(md_loop_t *loop);

/* Monotonic milliseconds, cached per iteration (md_loop_update_time
 * refreshes it). */
uint64_t md_loop_now_ms(const md_loop_t *loop);
void md_loop_update_time(md_loop_t *loop);

/* Monotonic microseconds straight from the clock (for durations). */
uint64_t md_now_us(void);

/* Registers fd with the given interest. MD_OK or MD_ERR (errno set). */
int md_io_start(md_loop_t *loop, md_io_t *io, int fd, unsigned events, md_io_cb cb, void *data);

/* Changes the interest of a started io. MD_OK or MD_ERR. */
int md_io_set(md_io_t *io, unsigned events);

/* Unregisters the io (does not close the fd). Safe to call from inside its
 * own callback; no further callbacks happen for it in this iteration. */
void md_io_stop(md_io_t *io);

/* Initializes a timer (inactive). Must be called once before use. */
void md_timer_init(md_timer_t *t, md_timer_cb cb, void *data);

/* (Re)schedules the timer `after_ms` from md_loop_now_ms(). */
void md_timer_start(md_loop_t *loop, md_timer_t *t, uint64_t after_ms);

/* Cancels the timer if scheduled; harmless otherwise. */
void md_timer_stop(md_loop_t *loop, md_timer_t *t);

static inline int md_timer_active(const md_timer_t *t) { return t->heap_index != (size_t)-1; }

/* Thread-safe: queues fn(arg) to run on the loop's thread and wakes it.
 * Returns MD_OK. The queue is bounded by its callers: control messages
 * (shutdown), cache waiters woken by another worker's fill (at most
 * max_waiters per key) and Basic-auth results (at most 64 pending). One
 * malloc and one eventfd write per post: not for every request. Posts still
 * queued when the loop is freed run then. */
int md_loop_post(md_loop_t *loop, void (*fn)(void *arg), void *arg);

#endif
