/*
 * json_strict.c - decoded string copies and the duplicate-name check; see
 * json_strict.h for why the latter exists.
 *
 * The scanner has already validated every string, so decoding trusts the
 * escape grammar, but it still never reads outside the token or writes
 * past the caller's capacity.
 */
#include "auth/json_strict.h"

#include "core/common.h"

#include <stdlib.h>
#include <string.h>

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d = md_hex_value((unsigned char)p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Writes code point cp as UTF-8 at out (room for 4); returns the length. */
static size_t utf8_put(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the \uXXXX escape (or surrogate pair) at s[*i] ('\\' 'u' ...)
 * into utf8[]; advances *i past it. Returns the UTF-8 length or 0. */
static size_t unicode_escape(const char *s, size_t end, size_t *i, char *utf8)
{
    if (*i + 6 > end)
        return 0;
    int hi = hex4(s + *i + 2);
    if (hi < 0)
        return 0;
    *i += 6;
    if (hi < 0xd800 || hi > 0xdfff)
        return utf8_put((unsigned long)hi, utf8);
    if (hi > 0xdbff || *i + 6 > end || s[*i] != '\\' || s[*i + 1] != 'u')
        return 0;
    int lo = hex4(s + *i + 2);
    if (lo < 0xdc00 || lo > 0xdfff)
        return 0;
    *i += 6;
    return utf8_put(0x10000 + ((unsigned long)(hi - 0xd800) << 10) + (unsigned long)(lo - 0xdc00),
                    utf8);
}

static char simple_escape(char c)
{
    switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
    }
}

int md_auth_json_string(const char *json, const md_json_tok_t *t, char *out, size_t cap,
                        size_t *outlen)
{
    if (t->type != MD_JSON_STRING || t->len < 2)
        return MD_EINVAL;
    if (cap == 0)
        return MD_ETOOBIG;
    const char *s = json + t->off + 1;
    size_t end = t->len - 2, o = 0;
    for (size_t i = 0; i < end;) {
        char utf8[4];
        size_t n = 1;
        if (s[i] != '\\') {
            utf8[0] = s[i++];
        } else if (i + 1 < end && s[i + 1] == 'u') {
            n = unicode_escape(s, end, &i, utf8);
        } else {
            utf8[0] = i + 1 < end ? simple_escape(s[i + 1]) : 0;
            n = utf8[0] ? 1 : 0;
            i += 2;
        }
        if (n == 0)
            return MD_EINVAL;
        if (n > cap - 1 - o)
            return MD_ETOOBIG;
        memcpy(out + o, utf8, n);
        o += n;
    }
    out[o] = '\0';
    *outlen = o;
    return MD_OK;
}

typedef struct {
    const char *json;
    const md_json_tok_t *toks;
} sort_ctx_t;

static int key_cmp(const void *a, const void *b, void *arg)
{
    const sort_ctx_t *c = arg;
    return md_json_str_compare(c->json, &c->toks[*(const uint32_t *)a], c->json,
                               &c->toks[*(const uint32_t *)b]);
}

int md_auth_json_unique(const char *json, const md_json_tok_t *toks, uint32_t obj)
{
    if (toks[obj].type != MD_JSON_OBJECT)
        return MD_EINVAL;
    uint32_t n = toks[obj].count;
    if (n > MD_AUTH_JSON_MAX_MEMBERS)
        return MD_ETOOBIG;
    if (n < 2)
        return MD_OK;
    uint32_t keys[MD_AUTH_JSON_MAX_MEMBERS], k = obj + 1;
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = k;
        k = toks[k + 1].next;
    }
    /* Sorting makes equal names neighbours: O(n log n) even for a hostile
     * object of many near-identical names. */
    sort_ctx_t ctx = { json, toks };
    qsort_r(keys, n, sizeof(keys[0]), key_cmp, &ctx);
    for (uint32_t i = 1; i < n; i++)
        if (key_cmp(&keys[i - 1], &keys[i], &ctx) == 0)
            return MD_EINVAL;
    return MD_OK;
}
