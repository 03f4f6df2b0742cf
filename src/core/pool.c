/*
 * pool.c - region allocator, see pool.h.
 *
 * Layout: a singly linked list of chunks; the head chunk is the one being
 * filled. Large allocations get a chunk of exactly their size, linked
 * behind the head so the head keeps filling.
 */
#include "core/pool.h"
#include "core/alloc.h"

#include <string.h>

#define POOL_ALIGN 16

typedef struct chunk {
    struct chunk *next;
    size_t size;   /* usable bytes in data[] */
    size_t used;
    _Alignas(POOL_ALIGN) unsigned char data[];
} chunk_t;

typedef struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *arg;
} cleanup_t;

struct md_pool {
    chunk_t *head;
    cleanup_t *cleanups;
    size_t chunk_size;
    size_t used;
};

static chunk_t *chunk_new(size_t size)
{
    chunk_t *c = md_malloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

md_pool_t *md_pool_new(size_t chunk_size)
{
    md_pool_t *p = md_malloc(sizeof(*p));
    p->chunk_size = chunk_size ? chunk_size : 4096;
    p->head = chunk_new(p->chunk_size);
    p->cleanups = NULL;
    p->used = 0;
    return p;
}

static void run_cleanups(md_pool_t *p)
{
    while (p->cleanups) {
        cleanup_t *c = p->cleanups;
        p->cleanups = c->next;
        c->fn(c->arg);
    }
}

void md_pool_reset(md_pool_t *p)
{
    run_cleanups(p);
    /* Keep the one standard-size chunk; free the rest. */
    chunk_t *keep = NULL, *c = p->head;
    while (c) {
        chunk_t *next = c->next;
        if (!keep && c->size == p->chunk_size) {
            keep = c;
            keep->next = NULL;
            keep->used = 0;
        } else {
            md_free(c);
        }
        c = next;
    }
    p->head = keep ? keep : chunk_new(p->chunk_size);
    p->used = 0;
}

void md_pool_destroy(md_pool_t *p)
{
    if (!p)
        return;
    run_cleanups(p);
    chunk_t *c = p->head;
    while (c) {
        chunk_t *next = c->next;
        md_free(c);
        c = next;
    }
    md_free(p);
}

void *md_pool_alloc(md_pool_t *p, size_t n)
{
    size_t need = (n + POOL_ALIGN - 1) & ~(size_t)(POOL_ALIGN - 1);
    if (need == 0)
        need = POOL_ALIGN;
    p->used += need;
    if (need > p->chunk_size / 4) {
        chunk_t *big = chunk_new(need);
        big->used = need;
        big->next = p->head->next;
        p->head->next = big;
        return big->data;
    }
    if (p->head->size - p->head->used < need) {
        chunk_t *c = chunk_new(p->chunk_size);
        c->next = p->head;
        p->head = c;
    }
    void *r = p->head->data + p->head->used;
    p->head->used += need;
    return r;
}

void *md_pool_calloc(md_pool_t *p, size_t n)
{
    void *r = md_pool_alloc(p, n);
    memset(r, 0, n);
    return r;
}

char *md_pool_strndup(md_pool_t *p, const char *s, size_t n)
{
    char *d = md_pool_alloc(p, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void md_pool_on_release(md_pool_t *p, void (*fn)(void *arg), void *arg)
{
    cleanup_t *c = md_pool_alloc(p, sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = p->cleanups;
    p->cleanups = c;
}

size_t md_pool_used(const md_pool_t *p)
{
    return p->used;
}
