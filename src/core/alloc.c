/*
 * alloc.c - see alloc.h: abort on allocation failure, never return NULL.
 */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "medley: out of memory allocating %zu bytes\n", n);
    abort();
}

void *md_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *md_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *md_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *md_strndup(const char *s, size_t n)
{
    char *d = md_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *md_strdup(const char *s)
{
    return md_strndup(s, strlen(s));
}

void md_free(void *p)
{
    free(p);
}
