/*
 * loop.c - epoll event loop with a binary min-heap of timers, see loop.h.
 *
 * Removal safety: md_io_stop() may be called for an io whose event is still
 * pending in the current epoll_wait batch (a callback closing another
 * connection). Each batch entry carries the io pointer, so stopped ios are
 * recorded in a small "stopped this iteration" generation check: we keep a
 * per-loop counter of stops and re-validate by looking the io up in a
 * per-iteration table of stopped pointers.
 */
#include "core/loop.h"
#include "core/alloc.h"
#include "core/common.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

typedef struct post {
    struct post *next;
    void (*fn)(void *);
    void *arg;
} post_t;

struct md_loop {
    int epfd;
    int wakefd;
    int stop;
    uint64_t now_ms;
    md_timer_t **heap;
    size_t heap_len, heap_cap;
    /* ios stopped while a batch is being dispatched */
    md_io_t **stopped;
    size_t nstopped, stopped_cap;
    int dispatching;
    pthread_mutex_t post_lock;
    post_t *posts;
    md_io_t wake_io;
};

uint64_t md_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void md_loop_update_time(md_loop_t *loop)
{
    loop->now_ms = md_now_us() / 1000u;
}

uint64_t md_loop_now_ms(const md_loop_t *loop)
{
    return loop->now_ms;
}

static void run_posts(md_loop_t *loop)
{
    pthread_mutex_lock(&loop->post_lock);
    post_t *list = loop->posts;
    loop->posts = NULL;
    pthread_mutex_unlock(&loop->post_lock);
    /* reverse to FIFO order */
    post_t *fifo = NULL;
    while (list) {
        post_t *n = list->next;
        list->next = fifo;
        fifo = list;
        list = n;
    }
    while (fifo) {
        post_t *n = fifo->next;
        fifo->fn(fifo->arg);
        md_free(fifo);
        fifo = n;
    }
}

static void on_wake(md_io_t *io, unsigned events)
{
    MD_UNUSED(events);
    uint64_t v;
    while (read(io->fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
        ;
    run_posts(io->loop);
}

md_loop_t *md_loop_new(void)
{
    md_loop_t *loop = md_calloc(1, sizeof(*loop));
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epfd < 0 || loop->wakefd < 0) {
        if (loop->epfd >= 0)
            close(loop->epfd);
        if (loop->wakefd >= 0)
            close(loop->wakefd);
        md_free(loop);
        return NULL;
    }
    pthread_mutex_init(&loop->post_lock, NULL);
    md_loop_update_time(loop);
    md_io_start(loop, &loop->wake_io, loop->wakefd, MD_IO_READ, on_wake, NULL);
    return loop;
}

void md_loop_free(md_loop_t *loop)
{
    if (!loop)
        return;
    md_io_stop(&loop->wake_io);
    run_posts(loop); /* nothing may leak; posted work runs even at exit */
    close(loop->wakefd);
    close(loop->epfd);
    pthread_mutex_destroy(&loop->post_lock);
    md_free(loop->heap);
    md_free(loop->stopped);
    md_free(loop);
}

void md_loop_stop(md_loop_t *loop)
{
    loop->stop = 1;
}

int md_loop_post(md_loop_t *loop, void (*fn)(void *arg), void *arg)
{
    post_t *p = md_malloc(sizeof(*p));
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&loop->post_lock);
    p->next = loop->posts;
    loop->posts = p;
    pthread_mutex_unlock(&loop->post_lock);
    uint64_t one = 1;
    ssize_t w = write(loop->wakefd, &one, sizeof(one));
    MD_UNUSED(w); /* EAGAIN means the counter is already non-zero: awake */
    return MD_OK;
}

/* ---- io ---- */

static uint32_t to_epoll(unsigned ev)
{
    uint32_t e = EPOLLRDHUP;
    if (ev & MD_IO_READ)
        e |= EPOLLIN;
    if (ev & MD_IO_WRITE)
        e |= EPOLLOUT;
    return e;
}

int md_io_start(md_loop_t *loop, md_io_t *io, int fd, unsigned events, md_io_cb cb, void *data)
{
    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->data = data;
    io->loop = loop;
    struct epoll_event ev = { .events = to_epoll(events), .data.ptr = io };
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return MD_ERR;
    return MD_OK;
}

int md_io_set(md_io_t *io, unsigned events)
{
    if (io->events == events)
        return MD_OK;
    struct epoll_event ev = { .events = to_epoll(events), .data.ptr = io };
    if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return MD_ERR;
    io->events = events;
    return MD_OK;
}

void md_io_stop(md_io_t *io)
{
    md_loop_t *loop = io->loop;
    if (!loop || io->fd < 0)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    if (loop->dispatching) {
        if (loop->nstopped == loop->stopped_cap) {
            loop->stopped_cap = loop->stopped_cap ? loop->stopped_cap * 2 : 16;
            loop->stopped = md_realloc(loop->stopped, loop->stopped_cap * sizeof(*loop->stopped));
        }
        loop->stopped[loop->nstopped++] = io;
    }
    io->loop = NULL;
    io->fd = -1;
}

static int was_stopped(md_loop_t *loop, md_io_t *io)
{
    for (size_t i = 0; i < loop->nstopped; i++)
        if (loop->stopped[i] == io)
            return 1;
    return 0;
}

/* ---- timers: binary min-heap on due_ms ---- */

void md_timer_init(md_timer_t *t, md_timer_cb cb, void *data)
{
    t->due_ms = 0;
    t->heap_index = (size_t)-1;
    t->cb = cb;
    t->data = data;
}

static void heap_swap(md_loop_t *l, size_t a, size_t b)
{
    md_timer_t *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->heap_index = a;
    l->heap[b]->heap_index = b;
}

static void heap_up(md_loop_t *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->due_ms <= l->heap[i]->due_ms)
            break;
        heap_swap(l, p, i);
        i = p;
    }
}

static void heap_down(md_loop_t *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->heap_len && l->heap[a]->due_ms < l->heap[m]->due_ms)
            m = a;
        if (b < l->heap_len && l->heap[b]->due_ms < l->heap[m]->due_ms)
            m = b;
        if (m == i)
            return;
        heap_swap(l, i, m);
        i = m;
    }
}

void md_timer_stop(md_loop_t *l, md_timer_t *t)
{
    size_t i = t->heap_index;
    if (i == (size_t)-1)
        return;
    t->heap_index = (size_t)-1;
    l->heap_len--;
    if (i == l->heap_len)
        return;
    l->heap[i] = l->heap[l->heap_len];
    l->heap[i]->heap_index = i;
    heap_up(l, i);
    heap_down(l, l->heap[i]->heap_index);
}

void md_timer_start(md_loop_t *l, md_timer_t *t, uint64_t after_ms)
{
    md_timer_stop(l, t);
    t->due_ms = l->now_ms + after_ms;
    if (l->heap_len == l->heap_cap) {
        l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 64;
        l->heap = md_realloc(l->heap, l->heap_cap * sizeof(*l->heap));
    }
    t->heap_index = l->heap_len;
    l->heap[l->heap_len++] = t;
    heap_up(l, t->heap_index);
}

static int next_timeout(md_loop_t *l)
{
    if (l->heap_len == 0)
        return 1000;
    uint64_t due = l->heap[0]->due_ms;
    if (due <= l->now_ms)
        return 0;
    uint64_t d = due - l->now_ms;
    return d > 1000 ? 1000 : (int)d;
}

static void run_timers(md_loop_t *l)
{
    while (l->heap_len && l->heap[0]->due_ms <= l->now_ms) {
        md_timer_t *t = l->heap[0];
        md_timer_stop(l, t);
        t->cb(t);
    }
}

int md_loop_run(md_loop_t *loop)
{
    struct epoll_event evs[MAX_EVENTS];
    loop->stop = 0;
    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, evs, MAX_EVENTS, next_timeout(loop));
        md_loop_update_time(loop);
        if (n < 0 && errno != EINTR)
            return MD_ERR;
        loop->dispatching = 1;
        loop->nstopped = 0;
        for (int i = 0; i < n; i++) {
            md_io_t *io = evs[i].data.ptr;
            if (loop->nstopped && was_stopped(loop, io))
                continue;
            unsigned ready = 0;
            if (evs[i].events & (EPOLLIN | EPOLLPRI))
                ready |= MD_IO_READ;
            if (evs[i].events & EPOLLOUT)
                ready |= MD_IO_WRITE;
            if (evs[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP))
                ready |= MD_IO_HUP;
            io->cb(io, ready);
        }
        loop->dispatching = 0;
        loop->nstopped = 0;
        run_timers(loop);
    }
    return MD_OK;
}
