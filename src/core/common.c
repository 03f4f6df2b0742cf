/*
 * common.c - md_strerror() and header helpers used across modules.
 */
#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *md_strerror(int code)
{
    switch (code) {
    case MD_OK: return "ok";
    case MD_AGAIN: return "again";
    case MD_EINVAL: return "invalid";
    case MD_ETOOBIG: return "too big";
    case MD_ETIMEDOUT: return "timeout";
    case MD_ECONNECT: return "connect failed";
    case MD_ERESET: return "connection reset";
    case MD_ETLS: return "TLS failed";
    case MD_ENOTFOUND: return "not found";
    case MD_ECANCELED: return "canceled";
    default: return "error";
    }
}

bool md_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool md_is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!md_is_tchar((unsigned char)s[i]))
            return false;
    return true;
}

bool md_header_name_is(const md_header_t *h, const char *name)
{
    size_t n = strlen(name);
    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

const md_header_t *md_header_find(const md_header_t *hs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (md_header_name_is(&hs[i], name))
            return &hs[i];
    return NULL;
}

void md_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

char *md_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}
