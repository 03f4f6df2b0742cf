/*
 * lint_text.c - the connector lint's text predicates, see lint_text.h.
 */
#include "connector/lint_text.h"
#include "core/common.h"

#include <string.h>


static unsigned long hex4(const char *p)
{
    /* The scanner checked every escape: all four are hex digits. */
    return (unsigned long)(md_hex_value((unsigned char)p[0]) << 12 | md_hex_value((unsigned char)p[1]) << 8 |
                           md_hex_value((unsigned char)p[2]) << 4 | md_hex_value((unsigned char)p[3]));
}

static void put_utf8(md_buf_t *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12);
        b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18);
        b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    md_buf_append(out, b, n); /* cannot pass the cap: decoding never grows */
}

/* Decodes \uXXXX at p (and a following low surrogate); returns the bytes
 * consumed. The scanner has already rejected lone surrogates. */
static size_t decode_unicode(const char *p, const char *end, md_buf_t *out)
{
    unsigned long cp = hex4(p + 2);
    size_t used = 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u') {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(p + 8) - 0xDC00);
        used = 12;
    }
    put_utf8(out, cp);
    return used;
}

bool md_lint_decode(const char *json, const md_json_tok_t *t, md_buf_t *out)
{
    if (t->type != MD_JSON_STRING || md_buf_reserve(out, t->len) != MD_OK)
        return false;
    const char *p = json + t->off + 1, *end = p + t->len - 2;
    while (p < end) {
        if (*p != '\\') {
            const char *q = memchr(p, '\\', (size_t)(end - p));
            size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
            md_buf_append(out, p, n);
            p += n;
            continue;
        }
        char e = p[1];
        if (e == 'u') {
            p += decode_unicode(p, end, out);
            continue;
        }
        static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
        const char *m = strchr(from, e);
        md_buf_append_char(out, m ? to[m - from] : e);
        p += 2;
    }
    return true;
}

size_t md_lint_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

bool md_lint_is_alnum_ascii(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool md_lint_ends_well(unsigned char c)
{
    return md_lint_is_alnum_ascii(c) || c >= 0x80 || c == ')'; /* "(by id)" ends well */
}

bool md_lint_is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* O(nwords * n * word length); callers cap n (lint.c: WORD_SCAN_MAX). */
const char *md_lint_find_word(const char *s, size_t n, const char *const *words, size_t nwords)
{
    for (size_t w = 0; w < nwords; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++) {
            if (i > 0 && md_lint_is_alnum_ascii((unsigned char)s[i - 1]))
                continue;
            if (i + wl < n && md_lint_is_alnum_ascii((unsigned char)s[i + wl]))
                continue;
            size_t k = 0;
            while (k < wl && lower(s[i + k]) == lower(words[w][k]))
                k++;
            if (k == wl)
                return words[w];
        }
    }
    return NULL;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);
    return n >= p && memcmp(s, prefix, p) == 0;
}

/* Swagger's format uri, as far as makers' links go. */
bool md_lint_is_url(const char *s, size_t n)
{
    size_t skip = starts_with(s, n, "https://") ? 8 : starts_with(s, n, "http://") ? 7 : 0;
    if (!skip || skip == n || s[skip] == '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ')
            return false;
    return true;
}

/* Swagger's format email, roughly. */
bool md_lint_is_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (!at || at == s || memchr(at + 1, '@', (size_t)(s + n - at - 1)))
        return false;
    const char *dot = memchr(at + 1, '.', (size_t)(s + n - at - 1));
    if (!dot || dot == at + 1 || dot == s + n - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ')
            return false;
    return true;
}

const char *md_lint_host_problem(const char *s, size_t n)
{
    if (memmem(s, n, "://", 3))
        return "has a scheme; write the bare host[:port] and list the scheme in schemes";
    if (memchr(s, '/', n))
        return "has a path; put the path in basePath";
    const char *colon = memchr(s, ':', n);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || strchr("{} \\?#@", s[i])) /* NUL is < 0x20 */
            return "has a character a host name cannot have";
    if (colon == s)
        return "has no host name";
    if (colon) {
        const char *port = colon + 1, *end = s + n;
        unsigned long v = 0;
        if (port == end || end - port > 5)
            return "has a bad port";
        for (const char *c = port; c < end; c++) {
            if (*c < '0' || *c > '9')
                return "has a bad port";
            v = v * 10 + (unsigned long)(*c - '0');
        }
        if (v == 0 || v > 65535)
            return "has a bad port";
    }
    return NULL;
}

bool md_lint_is_pascal_case(const char *s, size_t n)
{
    if (n == 0 || s[0] < 'A' || s[0] > 'Z')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!md_lint_is_alnum_ascii((unsigned char)s[i]))
            return false;
    return true;
}

bool md_lint_same_text(const char *a, size_t na, const char *b, size_t nb)
{
    while (na && (a[na - 1] == '.' || a[na - 1] == ' '))
        na--;
    while (nb && (b[nb - 1] == '.' || b[nb - 1] == ' '))
        nb--;
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

bool md_lint_is_hex_colour(const char *s, size_t n)
{
    if (n != 7 || s[0] != '#')
        return false;
    for (size_t i = 1; i < 7; i++) {
        char c = lower(s[i]);
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool md_lint_is_success_code(const char *s, size_t n)
{
    if (n != 3 || s[0] != '2')
        return false;
    if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X'))
        return true;
    return s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9';
}
