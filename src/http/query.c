/*
 * query.c - percent-decoding and query-string splitting, see query.h.
 *
 * Work is linear in the query length: one scan to split, one to decode each
 * piece, straight into pool memory sized to the raw piece (decoding only
 * shrinks). The caller bounds the query's length (request head limit) and
 * the pair count (`max`).
 */
#include "http/query.h"

#include <string.h>

/* Value of a hex digit, or -1. */

int md_percent_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *dlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%') {
            if (len - i < 3)
                return MD_EINVAL;
            int hi = md_hex_value((unsigned char)src[i + 1]);
            int lo = md_hex_value((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return MD_EINVAL;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        /* A NUL would silently cut the value short wherever it is later
         * used as a C string (regexec, logs): refuse it outright. */
        if (c == '\0')
            return MD_EINVAL;
        dst[o++] = (char)c;
    }
    *dlen = o;
    return MD_OK;
}

/* Decodes s[0..len) into a NUL-terminated pool copy. */
static int decode_copy(md_pool_t *pool, const char *s, size_t len, const char **out, size_t *outlen)
{
    char *d = md_pool_alloc(pool, len + 1);
    int rc = md_percent_decode(s, len, true, d, outlen);
    if (rc != MD_OK)
        return rc;
    d[*outlen] = '\0';
    *out = d;
    return MD_OK;
}

/* Decodes one "name[=value]" piece into *pair. */
static int parse_pair(md_pool_t *pool, const char *p, size_t len, md_header_t *pair)
{
    const char *eq = memchr(p, '=', len);
    size_t nlen = eq ? (size_t)(eq - p) : len;
    int rc = decode_copy(pool, p, nlen, &pair->name, &pair->name_len);
    if (rc != MD_OK)
        return rc;
    if (!eq)
        return decode_copy(pool, "", 0, &pair->value, &pair->value_len);
    return decode_copy(pool, eq + 1, len - nlen - 1, &pair->value, &pair->value_len);
}

int md_query_parse(md_pool_t *pool, const char *q, size_t len, md_header_t *out, size_t max, size_t *n)
{
    size_t count = 0;
    *n = 0;
    if (len == 0)
        return MD_OK; /* q may be NULL for an absent query */
    const char *end = q + len;
    for (const char *p = q; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t plen = amp ? (size_t)(amp - p) : (size_t)(end - p);
        if (plen > 0) {
            if (count == max)
                return MD_ETOOBIG;
            int rc = parse_pair(pool, p, plen, &out[count]);
            if (rc != MD_OK)
                return rc;
            count++;
        }
        p += plen + (amp ? 1 : 0);
    }
    *n = count;
    return MD_OK;
}

const md_header_t *md_query_get(const md_header_t *pairs, size_t n, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (pairs[i].name_len == nlen && memcmp(pairs[i].name, name, nlen) == 0)
            return &pairs[i];
    return NULL;
}
