/*
 * write.c - JSON string escaping and compact value copies, see write.h.
 *
 * Following nginx's ngx_escape_json: measure the escaped length first,
 * reserve once, then encode straight into the buffer's tail. That makes
 * every call all-or-nothing for free.
 */
#include "json/write.h"
#include "core/common.h"

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

/* Bytes the escaped form of s[i..] takes for the unit starting at i; *adv
 * receives how many input bytes that unit spans. */
static size_t escaped_unit(const unsigned char *s, size_t i, size_t len, size_t *adv)
{
    unsigned char c = s[i];
    *adv = 1;
    if (c >= 0x80) {
        size_t n = md_json_utf8_seq((const char *)s + i, len - i);
        if (!n)
            return 3; /* U+FFFD, EF BF BD */
        *adv = n;
        return n;
    }
    if (c == '"' || c == '\\')
        return 2;
    if (c >= 0x20)
        return 1;
    if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
        return 2;
    return 6;
}

static size_t escaped_len(const unsigned char *s, size_t len)
{
    size_t total = 0, adv;
    for (size_t i = 0; i < len; i += adv)
        total += escaped_unit(s, i, len, &adv);
    return total;
}

static char *escape_into(char *d, const unsigned char *s, size_t len)
{
    size_t adv;
    for (size_t i = 0; i < len; i += adv) {
        unsigned char c = s[i];
        size_t n = escaped_unit(s, i, len, &adv);
        if (n == adv) {
            memcpy(d, s + i, n);
            d += n;
        } else if (c >= 0x80) {
            memcpy(d, "\xEF\xBF\xBD", 3);
            d += 3;
        } else if (n == 2) {
            *d++ = '\\';
            switch (c) {
            case '\b': *d++ = 'b'; break;
            case '\f': *d++ = 'f'; break;
            case '\n': *d++ = 'n'; break;
            case '\r': *d++ = 'r'; break;
            case '\t': *d++ = 't'; break;
            default: *d++ = (char)c; break; /* '"' or '\\' */
            }
        } else {
            memcpy(d, "\\u00", 4);
            d[4] = hexdig[c >> 4];
            d[5] = hexdig[c & 15];
            d += 6;
        }
    }
    return d;
}

static int write_quoted(md_buf_t *out, const char *s, size_t len, bool key)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    if (!s)
        len = 0;
    size_t n = escaped_len(u, len) + 2 + (key ? 1 : 0);
    int rc = md_buf_reserve(out, n);
    if (rc != MD_OK)
        return rc;
    char *d = md_buf_tail(out);
    *d++ = '"';
    d = escape_into(d, u, len);
    *d++ = '"';
    if (key)
        *d = ':';
    md_buf_commit(out, n);
    return MD_OK;
}

int md_json_write_string(md_buf_t *out, const char *s, size_t len)
{
    return write_quoted(out, s, len, false);
}

int md_json_write_key(md_buf_t *out, const char *s, size_t len)
{
    return write_quoted(out, s, len, true);
}

/* Copies src[0..len) without the whitespace outside strings; returns the
 * bytes written to d (d == NULL: only counts). */
static size_t compact_copy(char *d, const char *src, size_t len)
{
    size_t n = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (in_str) {
            if (c == '\\') {
                /* The escaped byte is copied with it, so '\"' never ends
                 * the string. Valid input never ends on a backslash. */
                if (d)
                    d[n] = c;
                n++;
                c = src[++i];
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            continue;
        } else if (c == '"') {
            in_str = true;
        }
        if (d)
            d[n] = c;
        n++;
    }
    return n;
}

int md_json_write_value(md_buf_t *out, const char *json, const md_json_tok_t *t)
{
    const char *src = json + t->off;
    if (!(t->flags & MD_JSON_F_SPACED) || (t->type != MD_JSON_OBJECT && t->type != MD_JSON_ARRAY))
        return md_buf_append(out, src, t->len);
    size_t need = t->len;
    if (md_buf_reserve(out, need) != MD_OK) {
        /* The compact form may still fit: measure it exactly. */
        need = compact_copy(NULL, src, t->len);
        int rc = md_buf_reserve(out, need);
        if (rc != MD_OK)
            return rc;
    }
    md_buf_commit(out, compact_copy(md_buf_tail(out), src, t->len));
    return MD_OK;
}
