/*
 * buf.c - bounded growable buffer, see buf.h.
 */
#include "core/buf.h"
#include "core/alloc.h"
#include "core/common.h"

#include <stdio.h>
#include <string.h>

void md_buf_init(md_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void md_buf_free(md_buf_t *b)
{
    md_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int md_buf_reserve(md_buf_t *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return MD_ETOOBIG;
    size_t need = b->len + n;
    if (need <= b->cap && b->data)
        return MD_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap < SIZE_MAX / 4 ? cap * 2 : need;
    if (cap > b->max)
        cap = b->max;
    b->data = md_realloc(b->data, cap + 1);
    b->cap = cap;
    b->data[b->len] = '\0';
    return MD_OK;
}

int md_buf_append(md_buf_t *b, const void *p, size_t n)
{
    int rc = md_buf_reserve(b, n);
    if (rc != MD_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MD_OK;
}

int md_buf_append_str(md_buf_t *b, const char *s)
{
    return md_buf_append(b, s, strlen(s));
}

int md_buf_append_char(md_buf_t *b, char c)
{
    return md_buf_append(b, &c, 1);
}

int md_buf_vprintf(md_buf_t *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return MD_EINVAL;
    int rc = md_buf_reserve(b, (size_t)n);
    if (rc != MD_OK)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return MD_OK;
}

int md_buf_printf(md_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = md_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void md_buf_consume(md_buf_t *b, size_t n)
{
    if (n >= b->len) {
        md_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

void md_buf_commit(md_buf_t *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

char *md_buf_detach(md_buf_t *b, size_t *len)
{
    char *d = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}
