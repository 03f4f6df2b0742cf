/*
 * policy.c - the HTTP caching rules of policy.h: reading an upstream's
 * Cache-Control (RFC 9111 section 5.2, RFC 5861), ETags and If-None-Match
 * (RFC 9110 section 13.1.2), the Cache-Control of a composed answer, and
 * RFC 9211 Cache-Status members.
 *
 * Every parser here walks its input once, left to right, and never looks
 * further than `len`: the input is a header value a peer wrote, so a
 * thousand commas or a megabyte of digits costs one linear pass and
 * nothing else. Output is built in a small stack buffer first and appended
 * in one go, so a full md_buf_t is left unchanged.
 */
#include "cache/policy.h"

#include <string.h>
#include <strings.h>

/* Freshness lifetimes are capped at 10 years (RFC 9111 4.2.1 asks for
 * "the greatest positive integer it can conveniently represent"). */
#define CC_MAX_SECONDS (10LL * 365 * 24 * 3600)
/* RFC 8941 sf-integer: at most 15 digits. */
#define SF_INT_MAX 999999999999999LL
/* A Cache-Status member's name is cut after this many bytes. */
#define CS_MAX_NAME 128

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}


/* ---- Cache-Control -------------------------------------------------------- */

/* One list element: `name[=value]`, value a token or the inside of a
 * quoted-string (escapes left in place). `ok` is false when the element
 * does not follow the grammar; its name may still have been read. */
typedef struct cc_item {
    const char *name;
    size_t name_len;
    const char *val;
    size_t val_len;
    bool has_val;
    bool ok;
} cc_item_t;

/* Moves past the rest of a malformed element: up to the next comma that
 * is not inside a quoted-string. */
static size_t skip_element(const char *v, size_t len, size_t i)
{
    bool quoted = false;
    for (; i < len; i++) {
        if (quoted && v[i] == '\\')
            i++;
        else if (v[i] == '"')
            quoted = !quoted;
        else if (!quoted && v[i] == ',')
            break;
    }
    return i < len ? i : len;
}

/* Reads a quoted-string starting at v[i] == '"'; returns the index after
 * the closing quote, or len when it is not closed. */
static size_t read_quoted(const char *v, size_t len, size_t i, cc_item_t *it)
{
    size_t start = ++i;
    for (; i < len; i++) {
        if (v[i] == '\\') {
            i++;
        } else if (v[i] == '"') {
            it->val = v + start;
            it->val_len = i - start;
            it->has_val = true;
            return i + 1;
        }
    }
    return len;
}

/* Parses one element at v[i] (not OWS, not a comma); returns the index of
 * the comma that ends it, or len. */
static size_t read_item(const char *v, size_t len, size_t i, cc_item_t *it)
{
    memset(it, 0, sizeof(*it));
    size_t start = i;
    while (i < len && md_is_tchar((unsigned char)v[i]))
        i++;
    it->name = v + start;
    it->name_len = i - start;
    if (it->name_len == 0)
        return skip_element(v, len, i);
    while (i < len && is_ows(v[i]))
        i++;
    if (i < len && v[i] == '=') {
        for (i++; i < len && is_ows(v[i]); i++)
            ;
        if (i < len && v[i] == '"') {
            i = read_quoted(v, len, i, it);
            if (!it->has_val)
                return len;
        } else {
            size_t vs = i;
            while (i < len && md_is_tchar((unsigned char)v[i]))
                i++;
            it->val = v + vs;
            it->val_len = i - vs;
            it->has_val = it->val_len > 0;
            if (!it->has_val)
                return skip_element(v, len, i);
        }
        while (i < len && is_ows(v[i]))
            i++;
    }
    if (i < len && v[i] != ',')
        return skip_element(v, len, i);
    it->ok = true;
    return i;
}

/* delta-seconds (RFC 9111 1.2.2): digits only; large values saturate at
 * the cap instead of overflowing. */
static bool parse_delta(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v <= CC_MAX_SECONDS)
            v = v * 10 + (s[i] - '0');
    }
    *out = MD_MIN(v, CC_MAX_SECONDS);
    return true;
}

static bool name_is(const cc_item_t *it, const char *name)
{
    return strlen(name) == it->name_len && strncasecmp(it->name, name, it->name_len) == 0;
}

/* Sets a delta-seconds directive the first time it appears well formed
 * (RFC 9111 4.2.1 lets a cache use the first of several values). */
static void set_delta(int64_t *field, const cc_item_t *it)
{
    int64_t v;
    if (*field < 0 && it->ok && it->has_val && parse_delta(it->val, it->val_len, &v))
        *field = v;
}

/* Directives that forbid or restrict storing apply even from a malformed
 * element (failing safe); the ones that allow storing must be well formed.
 * The qualified forms (no-cache="f", private="f") count as unqualified:
 * medley keeps no upstream header fields to single out. */
static void apply_item(md_cc_t *cc, const cc_item_t *it)
{
    if (name_is(it, "no-store"))
        cc->no_store = true;
    else if (name_is(it, "no-cache"))
        cc->no_cache = true;
    else if (name_is(it, "private"))
        cc->private_ = true;
    else if (name_is(it, "must-revalidate") || name_is(it, "proxy-revalidate"))
        cc->must_revalidate = true;
    else if (name_is(it, "public"))
        cc->public_ |= it->ok;
    else if (name_is(it, "max-age"))
        set_delta(&cc->max_age, it);
    else if (name_is(it, "s-maxage"))
        set_delta(&cc->s_maxage, it);
    else if (name_is(it, "stale-while-revalidate"))
        set_delta(&cc->stale_while_revalidate, it);
    else if (name_is(it, "stale-if-error"))
        set_delta(&cc->stale_if_error, it);
}

void md_cc_init(md_cc_t *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = -1;
    cc->s_maxage = -1;
    cc->stale_while_revalidate = -1;
    cc->stale_if_error = -1;
}

void md_cc_parse(md_cc_t *cc, const char *v, size_t len)
{
    size_t i = 0;
    if (!v)
        return;
    while (i < len) {
        /* Empty elements (", ,") are allowed in a list (RFC 9110 5.6.1). */
        if (is_ows(v[i]) || v[i] == ',') {
            i++;
            continue;
        }
        cc_item_t it;
        i = read_item(v, len, i, &it);
        apply_item(cc, &it);
    }
}

uint64_t md_cc_shared_ttl_ms(const md_cc_t *cc)
{
    if (cc->no_store || cc->private_ || cc->no_cache)
        return 0;
    int64_t s = cc->s_maxage >= 0 ? cc->s_maxage : cc->max_age;
    return s > 0 ? (uint64_t)s * 1000 : 0;
}

int md_cc_compose(bool incomplete, bool all_cached, uint64_t min_ttl_s, bool personal, md_buf_t *out)
{
    char tmp[64], *p = tmp;
    const char *head;
    if (incomplete)
        head = "no-store";
    else if (!all_cached)
        head = personal ? "no-cache, private" : "no-cache";
    else
        head = personal ? "private, max-age=" : "public, max-age=";
    size_t n = strlen(head);
    memcpy(p, head, n);
    p += n;
    if (!incomplete && all_cached)
        p = md_put_u64(p, MD_MIN(min_ttl_s, (uint64_t)CC_MAX_SECONDS));
    return md_buf_append(out, tmp, (size_t)(p - tmp));
}

/* ---- ETags ---------------------------------------------------------------- */

void md_etag_format(uint64_t hash, char out[18])
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '"';
    for (int i = 0; i < 16; i++)
        out[1 + i] = hex[(hash >> (60 - 4 * i)) & 0xf];
    out[17] = '"';
}

/* RFC 9110 etagc: %x21 / %x23-7E / obs-text. */
static bool is_etagc(unsigned char ch)
{
    return ch == 0x21 || (ch >= 0x23 && ch != 0x7f);
}

/* Reads one entity-tag at v[i]; on success *tag and *tag_len span its
 * opaque-tag, quotes included, and the index after it is returned. On
 * failure returns the index where it went wrong and sets *tag NULL. */
static size_t read_etag(const char *v, size_t len, size_t i, const char **tag, size_t *tag_len)
{
    *tag = NULL;
    if (i + 1 < len && v[i] == 'W' && v[i + 1] == '/')
        i += 2;
    if (i >= len || v[i] != '"')
        return i;
    size_t start = i++;
    while (i < len && is_etagc((unsigned char)v[i]))
        i++;
    if (i >= len || v[i] != '"')
        return i;
    *tag = v + start;
    *tag_len = ++i - start;
    return i;
}

bool md_etag_match(const char *if_none_match, size_t len, const char *etag, size_t etag_len)
{
    const char *v = if_none_match;
    if (!v || !etag || etag_len == 0)
        return false;
    if (etag_len >= 2 && etag[0] == 'W' && etag[1] == '/') {
        etag += 2;
        etag_len -= 2;
    }
    size_t b = 0, e = len;
    while (b < e && is_ows(v[b]))
        b++;
    while (e > b && is_ows(v[e - 1]))
        e--;
    if (e - b == 1 && v[b] == '*')
        return true;
    size_t i = b;
    while (i < e) {
        if (is_ows(v[i]) || v[i] == ',') {
            i++;
            continue;
        }
        const char *tag;
        size_t tag_len = 0;
        i = read_etag(v, e, i, &tag, &tag_len);
        while (i < e && is_ows(v[i]))
            i++;
        if (tag && (i == e || v[i] == ',')) {
            if (tag_len == etag_len && memcmp(tag, etag, tag_len) == 0)
                return true;
            continue;
        }
        /* A malformed entry matches nothing; resume at the next comma. */
        while (i < e && v[i] != ',')
            i++;
    }
    return false;
}

/* ---- Cache-Status --------------------------------------------------------- */

static bool is_alpha(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_name_char(unsigned char ch)
{
    return is_alpha(ch) || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' || ch == '/' ||
           ch == '-';
}

/* Writes name as an sf-token; returns the end. */
static char *put_name(char *p, const char *name)
{
    if (!name || !*name) {
        memcpy(p, "medley", 6);
        return p + 6;
    }
    if (!is_alpha((unsigned char)name[0]))
        *p++ = 'x';
    for (size_t i = 0; name[i] && i < CS_MAX_NAME; i++)
        *p++ = is_name_char((unsigned char)name[i]) ? name[i] : '_';
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* "; ttl=N", N clamped to what an sf-integer can hold. */
static char *put_ttl(char *p, int64_t ttl)
{
    ttl = MD_MAX(MD_MIN(ttl, SF_INT_MAX), -SF_INT_MAX);
    p = put_str(p, "; ttl=");
    if (ttl < 0)
        *p++ = '-';
    return md_put_u64(p, (uint64_t)(ttl < 0 ? -ttl : ttl));
}

int md_cache_status_append(md_buf_t *out, const char *name, md_cs_outcome_t outcome, int64_t ttl_s,
                           int fwd_status, bool stored)
{
    char tmp[CS_MAX_NAME + 160], *p = tmp;
    if (out->len > 0)
        p = put_str(p, ", ");
    p = put_name(p, name);
    switch (outcome) {
    case MD_CS_HIT:
        p = put_ttl(put_str(p, "; hit"), ttl_s);
        break;
    case MD_CS_STALE:
        p = put_str(put_ttl(put_str(p, "; hit"), ttl_s), "; detail=stale-while-revalidate");
        break;
    case MD_CS_MISS:
        p = put_str(p, stored ? "; fwd=miss; stored" : "; fwd=miss");
        break;
    case MD_CS_COALESCED:
        p = put_str(p, "; fwd=miss; collapsed");
        break;
    case MD_CS_STALE_IF_ERROR:
        p = put_str(p, "; fwd=stale");
        if (fwd_status >= 100 && fwd_status <= 999)
            p = md_put_u64(put_str(p, "; fwd-status="), (uint64_t)fwd_status);
        p = put_str(put_ttl(p, ttl_s), "; detail=stale-if-error");
        break;
    case MD_CS_REDIS_HIT:
        p = put_str(put_ttl(put_str(p, "; hit"), ttl_s), "; detail=redis");
        break;
    case MD_CS_BYPASS:
        p = put_str(p, "; fwd=bypass");
        break;
    default:
        return MD_EINVAL;
    }
    return md_buf_append(out, tmp, (size_t)(p - tmp));
}

const char *md_cs_outcome_name(md_cs_outcome_t outcome)
{
    static const char *const names[] = {
        [MD_CS_HIT] = "hit",
        [MD_CS_STALE] = "stale",
        [MD_CS_MISS] = "miss",
        [MD_CS_COALESCED] = "coalesced",
        [MD_CS_STALE_IF_ERROR] = "stale_if_error",
        [MD_CS_REDIS_HIT] = "redis_hit",
        [MD_CS_BYPASS] = "bypass",
    };
    if ((unsigned)outcome >= MD_ARRAY_LEN(names))
        return "unknown";
    return names[outcome];
}
