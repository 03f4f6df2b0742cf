/*
 * schema.c - checks YAML nodes against what a config field expects and
 * turns them into C values, reporting the first problem as
 * FILE:LINE:COL: 'key' must be ... (see internal.h).
 *
 * Every reader is strict: a value either parses completely and lies in its
 * range or is an error; nothing is silently clamped or truncated.
 */
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_DURATION_MS (3600u * 1000u)  /* 1h */
#define MAX_SIZE ((size_t)1 << 30)       /* 1 GiB */
#define SUGGEST_MAX_LEN 64               /* longer words get no suggestion */

int md_cfg_fail(md_cfg_ctx_t *c, int line, int col, const char *fmt, ...)
{
    if (c->failed)
        return MD_EINVAL;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->diag->msg, sizeof(c->diag->msg), fmt, ap);
    va_end(ap);
    c->diag->line = line;
    c->diag->col = col;
    return MD_EINVAL;
}

const char *md_cfg_show(char out[MD_CFG_SHOW], const char *s)
{
    size_t i = 0;
    for (; s[i] && i < MD_CFG_SHOW - 16; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (s[i])
        memcpy(out + i, "...", 4);
    else
        out[i] = '\0';
    return out;
}

/* Levenshtein distance with one row of memory; both inputs are short. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[SUGGEST_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            row[j] = MD_MIN(MD_MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
            diag = up;
        }
    }
    return row[lb];
}

const char *md_cfg_suggest(const char *word, const char *const *cands, size_t ncands)
{
    size_t wl = strlen(word);
    if (wl == 0 || wl > SUGGEST_MAX_LEN)
        return NULL;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < ncands; i++) {
        size_t cl = strlen(cands[i]);
        if (cl > SUGGEST_MAX_LEN)
            continue;
        size_t d = edit_distance(word, cands[i]);
        /* Up to a third of the word may be wrong, at least one edit. */
        size_t allowed = MD_MAX((size_t)1, MD_MAX(wl, cl) / 3);
        if (d <= allowed && d < best_d && d < wl) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

static int key_line(const md_cfg_node_t *n) { return n->key ? n->key_line : n->line; }
static int key_col(const md_cfg_node_t *n) { return n->key ? n->key_col : n->col; }

static int unknown_key(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *const *keys, const char *what)
{
    size_t nkeys = 0;
    while (keys[nkeys])
        nkeys++;
    char k[MD_CFG_SHOW];
    const char *hint = md_cfg_suggest(n->key, keys, nkeys);
    if (hint)
        return md_cfg_fail(c, n->key_line, n->key_col, "unknown key '%s' in %s (did you mean '%s'?)",
                           md_cfg_show(k, n->key), what, hint);
    return md_cfg_fail(c, n->key_line, n->key_col, "unknown key '%s' in %s", md_cfg_show(k, n->key), what);
}

int md_cfg_check_keys(md_cfg_ctx_t *c, const md_cfg_node_t *map, const char *const *keys, const char *what)
{
    if (map->kind != MD_CFG_MAP)
        return md_cfg_fail(c, map->line, map->col, "%s must be a mapping of settings", what);
    const md_cfg_node_t *seen[32] = { 0 };
    for (const md_cfg_node_t *n = map->first; n; n = n->next) {
        size_t k = 0;
        while (keys[k] && strcmp(keys[k], n->key) != 0)
            k++;
        if (!keys[k] || k >= MD_ARRAY_LEN(seen))
            return unknown_key(c, n, keys, what);
        if (seen[k])
            return md_cfg_fail(c, n->key_line, n->key_col, "duplicate key '%s' in %s (first at line %d)", keys[k],
                               what, seen[k]->key_line);
        seen[k] = n;
    }
    return MD_OK;
}

int md_cfg_check_map(md_cfg_ctx_t *c, const md_cfg_node_t *map, size_t max, bool nocase, const char *what)
{
    if (map->kind != MD_CFG_MAP)
        return md_cfg_fail(c, map->line, map->col, "'%s' must be a mapping", map->key ? map->key : what);
    size_t i = 0;
    char k[MD_CFG_SHOW];
    for (const md_cfg_node_t *n = map->first; n; n = n->next, i++) {
        if (i == max)
            return md_cfg_fail(c, n->key_line, n->key_col, "too many %s (max %zu)", what, max);
        /* Quadratic, but n is bounded by max (at most a few hundred). */
        for (const md_cfg_node_t *p = map->first; p != n; p = p->next) {
            bool same = nocase ? strcasecmp(p->key, n->key) == 0 : strcmp(p->key, n->key) == 0;
            if (same)
                return md_cfg_fail(c, n->key_line, n->key_col, "duplicate key '%s' in %s (first at line %d)",
                                   md_cfg_show(k, n->key), what, p->key_line);
        }
    }
    return MD_OK;
}

int md_cfg_check_seq(md_cfg_ctx_t *c, const md_cfg_node_t *seq, size_t max, const char *what)
{
    if (seq->kind != MD_CFG_SEQ)
        return md_cfg_fail(c, seq->line, seq->col, "'%s' must be a list", seq->key ? seq->key : what);
    size_t i = 0;
    for (const md_cfg_node_t *n = seq->first; n; n = n->next, i++)
        if (i == max)
            return md_cfg_fail(c, n->line, n->col, "too many %s (max %zu)", what, max);
    return MD_OK;
}

const md_cfg_node_t *md_cfg_get(const md_cfg_node_t *map, const char *key)
{
    if (map->kind != MD_CFG_MAP)
        return NULL;
    for (const md_cfg_node_t *n = map->first; n; n = n->next)
        if (strcmp(n->key, key) == 0)
            return n->null ? NULL : n;
    return NULL;
}

int md_cfg_require(md_cfg_ctx_t *c, const md_cfg_node_t *map, const char *key, const char *what,
                   const md_cfg_node_t **out)
{
    *out = md_cfg_get(map, key);
    if (*out)
        return MD_OK;
    return md_cfg_fail(c, key_line(map), key_col(map), "missing required key '%s' in %s", key, what);
}

static const char *name_of(const md_cfg_node_t *n)
{
    return n->key ? n->key : "value";
}

static int need_scalar(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *what)
{
    if (n->kind == MD_CFG_SCALAR)
        return MD_OK;
    return md_cfg_fail(c, n->line, n->col, "'%s' must be %s, not a %s", name_of(n), what,
                       n->kind == MD_CFG_MAP ? "mapping" : "list");
}

int md_cfg_text(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **out)
{
    if (need_scalar(c, n, "a string") != MD_OK)
        return MD_EINVAL;
    for (size_t i = 0; i < n->len; i++) {
        unsigned char ch = (unsigned char)n->str[i];
        if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
            return md_cfg_fail(c, n->line, n->col, "'%s' must not contain control characters", name_of(n));
    }
    *out = md_strdup(n->str);
    return MD_OK;
}

int md_cfg_line(md_cfg_ctx_t *c, const md_cfg_node_t *n, bool allow_empty, size_t max, char **out)
{
    if (need_scalar(c, n, "a string") != MD_OK)
        return MD_EINVAL;
    if (!allow_empty && n->len == 0)
        return md_cfg_fail(c, n->line, n->col, "'%s' must not be empty", name_of(n));
    if (n->len > max)
        return md_cfg_fail(c, n->line, n->col, "'%s' is longer than %zu bytes", name_of(n), max);
    for (size_t i = 0; i < n->len; i++) {
        unsigned char ch = (unsigned char)n->str[i];
        if (ch < 0x20 || ch == 0x7f)
            return md_cfg_fail(c, n->line, n->col, "'%s' must be one line without control characters",
                               name_of(n));
    }
    *out = md_strdup(n->str);
    return MD_OK;
}

int md_cfg_bool(md_cfg_ctx_t *c, const md_cfg_node_t *n, bool *out)
{
    if (n->kind == MD_CFG_SCALAR && strcmp(n->str, "true") == 0)
        *out = true;
    else if (n->kind == MD_CFG_SCALAR && strcmp(n->str, "false") == 0)
        *out = false;
    else
        return md_cfg_fail(c, n->line, n->col, "'%s' must be true or false", name_of(n));
    return MD_OK;
}

/* Leading decimal digits of s (at most 12, so any unit multiplier up to
 * 2^30 stays far from overflow); *rest points after them. */
static bool leading_number(const char *s, uint64_t *v, const char **rest)
{
    size_t i = 0;
    *v = 0;
    while (s[i] >= '0' && s[i] <= '9') {
        if (i == 12)
            return false;
        *v = *v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    *rest = s + i;
    return i > 0;
}

int md_cfg_uint(md_cfg_ctx_t *c, const md_cfg_node_t *n, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v;
    const char *rest;
    if (n->kind != MD_CFG_SCALAR || !leading_number(n->str, &v, &rest) || *rest || v < min || v > max)
        return md_cfg_fail(c, n->line, n->col, "'%s' must be an integer between %u and %u", name_of(n), min, max);
    *out = (uint32_t)v;
    return MD_OK;
}

int md_cfg_duration_ms(const md_cfg_node_t *n, uint64_t *ms)
{
    static const struct { const char *unit; uint64_t ms; } units[] = {
        { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    uint64_t v;
    const char *rest;
    if (n->kind != MD_CFG_SCALAR || !leading_number(n->str, &v, &rest))
        return MD_EINVAL;
    for (size_t i = 0; i < MD_ARRAY_LEN(units); i++) {
        if (strcmp(rest, units[i].unit) == 0) {
            *ms = v * units[i].ms; /* at most 10^12 * 86400000: below 2^64 */
            return MD_OK;
        }
    }
    return MD_EINVAL;
}

int md_cfg_duration(md_cfg_ctx_t *c, const md_cfg_node_t *n, uint32_t *out_ms)
{
    uint64_t v;
    if (md_cfg_duration_ms(n, &v) != MD_OK)
        return md_cfg_fail(c, n->line, n->col, "'%s' must be a duration like 250ms or 2s", name_of(n));
    if (v < 1 || v > MAX_DURATION_MS)
        return md_cfg_fail(c, n->line, n->col, "'%s' must be between 1ms and 1h", name_of(n));
    *out_ms = (uint32_t)v;
    return MD_OK;
}

int md_cfg_size(md_cfg_ctx_t *c, const md_cfg_node_t *n, size_t *out)
{
    /* All binary: "1m" and "1MiB" both mean 1048576 bytes. */
    static const struct { const char *unit; uint64_t mult; } units[] = {
        { "", 1 },          { "b", 1 },          { "k", 1u << 10 },  { "kb", 1u << 10 }, { "kib", 1u << 10 },
        { "m", 1u << 20 },  { "mb", 1u << 20 },  { "mib", 1u << 20 }, { "g", 1u << 30 }, { "gb", 1u << 30 },
        { "gib", 1u << 30 },
    };
    uint64_t v;
    const char *rest;
    if (n->kind == MD_CFG_SCALAR && leading_number(n->str, &v, &rest)) {
        for (size_t i = 0; i < MD_ARRAY_LEN(units); i++) {
            if (strcasecmp(rest, units[i].unit) != 0)
                continue;
            v *= units[i].mult;
            if (v < 1 || v > MAX_SIZE)
                return md_cfg_fail(c, n->line, n->col, "'%s' must be between 1 byte and 1GiB", name_of(n));
            *out = (size_t)v;
            return MD_OK;
        }
    }
    return md_cfg_fail(c, n->line, n->col, "'%s' must be a size like 512, 64k or 1m", name_of(n));
}

int md_cfg_method(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **out)
{
    static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" };
    for (size_t i = 0; n->kind == MD_CFG_SCALAR && i < MD_ARRAY_LEN(methods); i++) {
        if (strcmp(n->str, methods[i]) == 0) {
            *out = md_strdup(methods[i]);
            return MD_OK;
        }
    }
    return md_cfg_fail(c, n->line, n->col, "'%s' must be one of GET, HEAD, POST, PUT, PATCH, DELETE", name_of(n));
}


static int kv_name(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_cfg_kv_kind_t kind)
{
    char k[MD_CFG_SHOW];
    if (kind == MD_CFG_KV_HEADERS && !md_is_token(n->key, strlen(n->key)))
        return md_cfg_fail(c, n->key_line, n->key_col, "'%s' is not a valid header name", md_cfg_show(k, n->key));
    for (const char *p = n->key; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return md_cfg_fail(c, n->key_line, n->key_col, "'%s' must not contain control characters",
                               md_cfg_show(k, n->key));
    if (!*n->key)
        return md_cfg_fail(c, n->key_line, n->key_col, "names in '%s' must not be empty",
                           kind == MD_CFG_KV_QUERY ? "query" : "rename");
    return MD_OK;
}

int md_cfg_kv(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_cfg_kv_kind_t kind, md_kv_t **out, size_t *n)
{
    static const struct { const char *what; size_t max; } kinds[] = {
        [MD_CFG_KV_HEADERS] = { "headers", MD_CFG_MAX_HEADERS },
        [MD_CFG_KV_QUERY] = { "query parameters", MD_CFG_MAX_QUERY },
        [MD_CFG_KV_RENAME] = { "renames", MD_CFG_MAX_SHAPE_FIELDS },
    };
    if (md_cfg_check_map(c, map, kinds[kind].max, kind == MD_CFG_KV_HEADERS, kinds[kind].what) != MD_OK)
        return MD_EINVAL;
    *out = md_calloc(map->count ? map->count : 1, sizeof(md_kv_t));
    *n = map->count;
    size_t i = 0;
    for (const md_cfg_node_t *e = map->first; e; e = e->next, i++) {
        if (kv_name(c, e, kind) != MD_OK)
            return MD_EINVAL;
        (*out)[i].name = md_strdup(e->key);
        /* A null value (`X-Empty:`) is an empty string, except for renames. */
        bool empty_ok = kind != MD_CFG_KV_RENAME;
        if (e->null && empty_ok)
            (*out)[i].value = md_strdup("");
        else if (md_cfg_line(c, e, empty_ok, MD_CFG_MAX_VALUE, &(*out)[i].value) != MD_OK)
            return MD_EINVAL;
    }
    return MD_OK;
}
