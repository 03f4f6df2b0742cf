/*
 * alloc.h - allocation wrappers with medley's one out-of-memory policy:
 * print a message naming the size and abort(). Callers therefore never
 * check for NULL. Bounded resources (buffers, pools, queues) keep the
 * process far from that point; a failure here is a sizing bug, not input.
 */
#ifndef MD_ALLOC_H
#define MD_ALLOC_H

#include <stddef.h>

void *md_malloc(size_t n);
void *md_calloc(size_t count, size_t size);
void *md_realloc(void *p, size_t n);
char *md_strdup(const char *s);
char *md_strndup(const char *s, size_t n);
void md_free(void *p);

#endif
