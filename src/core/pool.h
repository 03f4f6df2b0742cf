/*
 * pool.h - a region allocator: one per client request (h2o/nginx style).
 *
 * Everything a request needs (parsed params, rendered backend paths, shaped
 * fragments) is carved from its pool and released at once by
 * md_pool_reset()/md_pool_destroy(); registered cleanups run first, in
 * reverse order. Allocations are 16-byte aligned. A pool never frees
 * individual allocations.
 */
#ifndef MD_POOL_H
#define MD_POOL_H

#include <stddef.h>

typedef struct md_pool md_pool_t;

/* Creates a pool whose chunks are `chunk_size` bytes (0: 4 KiB). Requests
 * bigger than a quarter chunk get their own allocation. */
md_pool_t *md_pool_new(size_t chunk_size);

/* Runs cleanups, frees every chunk, then the pool itself. NULL is ignored. */
void md_pool_destroy(md_pool_t *p);

/* Runs cleanups and frees all but the first chunk, ready for reuse. */
void md_pool_reset(md_pool_t *p);

/* Returns `n` bytes of uninitialized / zeroed memory owned by the pool. */
void *md_pool_alloc(md_pool_t *p, size_t n);
void *md_pool_calloc(md_pool_t *p, size_t n);

/* NUL-terminated copy of s[0..n) owned by the pool. */
char *md_pool_strndup(md_pool_t *p, const char *s, size_t n);

/* Registers fn(arg) to run when the pool is reset or destroyed. */
void md_pool_on_release(md_pool_t *p, void (*fn)(void *arg), void *arg);

/* Bytes handed out since creation or the last reset (for limits/metrics). */
size_t md_pool_used(const md_pool_t *p);

#endif
