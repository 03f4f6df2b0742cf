/*
 * cache.c - the configuration keys of caching (config.h): the top-level
 * `cache:` block, which says where entries live, and the `cache:` key of a
 * backend (its shaped fragment) or of an endpoint (its composed view),
 * which says how long an answer is reused and what else its key depends on.
 *
 *   cache:                                  # top level, all optional
 *     store: memory                         # memory | redis
 *     max_memory: 64MiB                     # 1 MiB .. 1 GiB
 *     max_waiters: 4096                     # per key, 1 .. 1000000
 *     purge_token: ${MEDLEY_PURGE_TOKEN}    # 16-256 bearer-token characters; "" = purge off
 *     redis: { url: "redis://:pw@host:6379/0", timeout: 50ms, prefix: "medley:" }
 *                                           # also with store: memory, for rate limits
 *                                           # with store: redis (limits_cors.c)
 *   backends[].cache: { ttl: 30s, stale_while_revalidate: 60s, stale_if_error: 10m, vary: [lang] }
 *   endpoints[].cache: { ttl: 5s, vary: [header.Accept-Language] }
 *   ... or the shorthands `cache: 30s` (ttl only) and `cache: off`.
 *
 * Durations here reach further than md_cfg_duration's hour: up to 7 days,
 * written with the same units plus "d". The redis password and the purge
 * token are secrets: no message ever shows them, nor the url that holds
 * the password. In the url the password may be percent-encoded (%40 for
 * '@', %2F for '/', %25 for '%'); it is stored decoded, and an empty one
 * means none.
 */
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_MEMORY ((size_t)64 << 20)
#define MIN_MAX_MEMORY ((size_t)1 << 20)
#define MAX_WAITERS 1000000u
#define MIN_PURGE_TOKEN 16
#define MAX_PURGE_TOKEN 256
#define MAX_REDIS_TIMEOUT_MS 10000u
#define MAX_PREFIX 64
#define MAX_PASSWORD 256
#define MAX_REDIS_DB 15
#define MAX_HOSTPORT 272                          /* a 253-byte host, brackets and a port */
#define MAX_CACHE_MS (7u * 24 * 3600 * 1000)      /* ttl and stale windows: 7 days */
#define MAX_VARY 16
#define MAX_VARY_NAME 64                          /* NAME in query.NAME / header.NAME */

static const char *const global_keys[] = { "store", "max_memory", "max_waiters", "purge_token", "redis", NULL };
static const char *const redis_keys[] = { "url", "timeout", "prefix", NULL };
static const char *const policy_keys[] = { "ttl", "stale_while_revalidate", "stale_if_error", "vary", NULL };
static const char *const backend_only_keys[] = { "stale_while_revalidate", "stale_if_error" };

/* ---- defaults and freeing ------------------------------------------------ */

void md_cfg_cache_defaults(md_config_t *cfg)
{
    md_cache_global_conf_t *g = &cfg->cache;
    g->store = MD_CACHE_STORE_MEMORY;
    g->max_memory = DEFAULT_MAX_MEMORY;
    g->max_waiters = 4096;
    g->redis_port = 6379;
    g->redis_db = 0;
    g->redis_timeout_ms = 50;
    g->redis_prefix = md_strdup("medley:");
}

/* Secrets are wiped before their memory goes back to the allocator. */
static void free_secret(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    md_free(s);
}

void md_cfg_cache_global_free(md_cache_global_conf_t *g)
{
    free_secret(g->redis_url);
    md_free(g->redis_host);
    free_secret(g->redis_password);
    md_free(g->redis_prefix);
    free_secret(g->purge_token);
}

void md_cfg_cache_policy_free(md_cache_conf_t *cc)
{
    for (size_t i = 0; cc->vary && i < cc->nvary; i++)
        md_free(cc->vary[i]);
    md_free(cc->vary);
}

/* ---- small readers -------------------------------------------------------- */

static bool is_scalar(const md_cfg_node_t *n, const char *s)
{
    return n->kind == MD_CFG_SCALAR && strcmp(n->str, s) == 0;
}

/* A duration as md_cfg_duration reads it ("250ms", "2s", "1m", bare
 * integers are milliseconds) plus hours and days, from 1 ms to 7 days.
 * `also` completes the message with the other accepted words. */
static int long_duration(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *also, uint32_t *out_ms)
{
    uint64_t v;
    if (md_cfg_duration_ms(n, &v) == MD_OK && v >= 1 && v <= MAX_CACHE_MS) {
        *out_ms = (uint32_t)v;
        return MD_OK;
    }
    return md_cfg_fail(c, n->line, n->col, "'%s' must be a duration between 1ms and 7d, like 30s or 10m%s",
                       n->key ? n->key : "value", also);
}


/* ---- the top-level block ------------------------------------------------- */

/* RFC 6750 b64token: what a client can send after "Bearer ". */
static bool is_bearer_token(const char *s, size_t n)
{
    size_t i = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
    if (i == 0)
        return false;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

/* Never shows the value: it is a credential. */
static int parse_purge_token(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_cache_global_conf_t *g)
{
    if (n->kind != MD_CFG_SCALAR)
        return md_cfg_fail(c, n->line, n->col, "'purge_token' must be a string");
    if (n->len == 0) /* `${MEDLEY_PURGE_TOKEN:-}` unset: purge stays off */
        return MD_OK;
    if (n->len < MIN_PURGE_TOKEN || n->len > MAX_PURGE_TOKEN || !is_bearer_token(n->str, n->len))
        return md_cfg_fail(c, n->line, n->col, "'purge_token' must be %d-%d characters of A-Z a-z 0-9 - . _ ~ + / "
                           "(a bearer token, e.g. from `openssl rand -hex 32`); it has %zu", MIN_PURGE_TOKEN,
                           MAX_PURGE_TOKEN, n->len);
    g->purge_token = md_strdup(n->str);
    return MD_OK;
}

static int bad_redis_url(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *why)
{
    return md_cfg_fail(c, n->line, n->col, "redis 'url' %s (expected redis://[:password@]host[:port][/db])", why);
}

/* The password of redis://:password@host, percent-decoded. */
static int redis_password(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *s, size_t len,
                          md_cache_global_conf_t *g)
{
    if (len == 0 || s[0] != ':')
        return bad_redis_url(c, n, "must give the password after a ':' (user names are not supported)");
    char pw[MAX_PASSWORD + 1];
    size_t k = 0;
    for (size_t i = 1; i < len; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            int hi = i + 2 < len ? md_hex_value((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? md_hex_value((unsigned char)s[i + 2]) : -1;
            if (lo < 0)
                return bad_redis_url(c, n, "has a bad %-escape in the password");
            ch = hi * 16 + lo;
            i += 2;
        } else if (ch == '@') {
            return bad_redis_url(c, n, "must write '@' in the password as %40");
        }
        if (ch < 0x20 || ch == 0x7f)
            return bad_redis_url(c, n, "must not have control characters in the password");
        if (k == MAX_PASSWORD)
            return bad_redis_url(c, n, "has a password longer than 256 bytes");
        pw[k++] = (char)ch;
    }
    if (k > 0)
        g->redis_password = md_strndup(pw, k);
    explicit_bzero(pw, sizeof(pw));
    return MD_OK;
}

/* host[:port] of the url. */
static int redis_host_port(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *s, size_t len,
                           md_cache_global_conf_t *g)
{
    char hp[MAX_HOSTPORT];
    const char *host, *port;
    size_t hlen;
    bool v6;
    if (len >= sizeof(hp))
        return bad_redis_url(c, n, "has a host that is too long");
    memcpy(hp, s, len);
    hp[len] = '\0';
    if (!md_cfg_split_host_port(hp, &host, &hlen, &port, &v6) || hlen == 0)
        return bad_redis_url(c, n, "must name a host");
    if (*port && !md_cfg_parse_port(port, &g->redis_port, false))
        return bad_redis_url(c, n, "has a bad port (1-65535)");
    g->redis_host = md_strndup(host, hlen);
    return MD_OK;
}

/* "", "/" or "/N" with N 0..15. */
static int redis_db(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *path, md_cache_global_conf_t *g)
{
    if (*path == '/')
        path++;
    size_t len = strlen(path);
    if (len == 0)
        return MD_OK;
    int db = len <= 2 && strspn(path, "0123456789") == len ? atoi(path) : -1;
    if (db < 0 || db > MAX_REDIS_DB)
        return bad_redis_url(c, n, "has a bad database number (0-15)");
    g->redis_db = db;
    return MD_OK;
}

static int parse_redis_url(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_cache_global_conf_t *g)
{
    if (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &g->redis_url) != MD_OK)
        return MD_EINVAL;
    const char *s = g->redis_url;
    if (strncasecmp(s, "rediss://", 9) == 0)
        return md_cfg_fail(c, n->line, n->col, "redis 'url': TLS (rediss://) is not supported, use redis://");
    if (strncasecmp(s, "redis://", 8) != 0)
        return bad_redis_url(c, n, "must start with redis://");
    s += 8;
    if (strpbrk(s, "?# "))
        return bad_redis_url(c, n, "must not have a query, a fragment or spaces");
    size_t alen = strcspn(s, "/");
    const char *at = memrchr(s, '@', alen);
    if (at && redis_password(c, n, s, (size_t)(at - s), g) != MD_OK)
        return MD_EINVAL;
    const char *hp = at ? at + 1 : s;
    if (redis_host_port(c, n, hp, (size_t)(s + alen - hp), g) != MD_OK)
        return MD_EINVAL;
    return redis_db(c, n, s + alen, g);
}

static int parse_redis(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_cache_global_conf_t *g)
{
    if (md_cfg_check_keys(c, map, redis_keys, "cache.redis") != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if (md_cfg_require(c, map, "url", "cache.redis", &n) != MD_OK || parse_redis_url(c, n, g) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "timeout"))) {
        if (md_cfg_duration(c, n, &g->redis_timeout_ms) != MD_OK)
            return MD_EINVAL;
        if (g->redis_timeout_ms > MAX_REDIS_TIMEOUT_MS)
            return md_cfg_fail(c, n->line, n->col, "'timeout' must be between 1ms and 10s (a slower redis counts "
                                                   "as down)");
    }
    if ((n = md_cfg_get(map, "prefix"))) {
        char *prefix = NULL;
        if (md_cfg_line(c, n, false, MAX_PREFIX, &prefix) != MD_OK)
            return MD_EINVAL;
        md_free(g->redis_prefix);
        g->redis_prefix = prefix;
        for (const char *p = prefix; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                return md_cfg_fail(c, n->line, n->col, "'prefix' must be printable ASCII without spaces");
    }
    return MD_OK;
}

static int parse_global_fields(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_cache_global_conf_t *g)
{
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "store"))) {
        if (is_scalar(n, "redis"))
            g->store = MD_CACHE_STORE_REDIS;
        else if (!is_scalar(n, "memory"))
            return md_cfg_fail(c, n->line, n->col, "'store' must be memory or redis");
    }
    if ((n = md_cfg_get(map, "max_memory"))) {
        if (md_cfg_size(c, n, &g->max_memory) != MD_OK)
            return MD_EINVAL;
        if (g->max_memory < MIN_MAX_MEMORY)
            return md_cfg_fail(c, n->line, n->col, "'max_memory' must be at least 1MiB");
    }
    if ((n = md_cfg_get(map, "max_waiters")) && md_cfg_uint(c, n, 1, MAX_WAITERS, &g->max_waiters) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "purge_token")) && parse_purge_token(c, n, g) != MD_OK)
        return MD_EINVAL;
    return MD_OK;
}

int md_cfg_cache_global(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    md_cache_global_conf_t *g = &c->cfg->cache;
    g->line = map->key_line;
    g->col = map->key_col;
    if (md_cfg_check_keys(c, map, global_keys, "cache") != MD_OK || parse_global_fields(c, map, g) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *store = md_cfg_get(map, "store"), *redis = md_cfg_get(map, "redis");
    if (g->store == MD_CACHE_STORE_REDIS && !redis)
        return md_cfg_fail(c, store->line, store->col, "'store: redis' needs a 'redis:' block with its url");
    return redis ? parse_redis(c, redis, g) : MD_OK;
}

/* ---- backend and endpoint policies ---------------------------------------- */

/* `ttl`, or the shorthand `cache: VALUE`: a duration or, on a backend,
 * upstream. */
static int parse_ttl(md_cfg_ctx_t *c, const md_cfg_node_t *n, bool backend, bool shorthand, md_cache_conf_t *cc)
{
    if (is_scalar(n, "upstream")) {
        if (!backend)
            return md_cfg_fail(c, n->line, n->col, "'ttl: upstream' applies to backends only (an endpoint's view "
                                                   "has no upstream answer to read it from)");
        cc->ttl_upstream = true;
        cc->ttl_ms = 0; /* no fallback: an answer that says nothing is not stored */
        return MD_OK;
    }
    const char *also = backend ? (shorthand ? ", upstream or off" : ", or upstream") : (shorthand ? ", or off" : "");
    return long_duration(c, n, also, &cc->ttl_ms);
}

/* A declared param of e: what a plain `vary` entry must name. */
static int vary_param(md_cfg_ctx_t *c, const md_cfg_node_t *n, const md_endpoint_conf_t *e, const char *what)
{
    const char *names[MD_CFG_MAX_PARAMS];
    size_t count = MD_MIN(e->nparams, (size_t)MD_CFG_MAX_PARAMS);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(e->params[i].name, n->str) == 0)
            return MD_OK;
        names[i] = e->params[i].name;
    }
    char s[MD_CFG_SHOW];
    const char *hint = md_cfg_suggest(n->str, names, count);
    if (hint)
        return md_cfg_fail(c, n->line, n->col, "unknown param '%s' in 'vary' of %s (did you mean '%s'?)",
                           md_cfg_show(s, n->str), what, hint);
    return md_cfg_fail(c, n->line, n->col, "unknown param '%s' in 'vary' of %s (declare it under 'params', or "
                       "write query.NAME or header.NAME)", md_cfg_show(s, n->str), what);
}

/* One entry: "param", "query.NAME" or "header.NAME". */
static int vary_entry(md_cfg_ctx_t *c, const md_cfg_node_t *n, const md_endpoint_conf_t *e, const char *what)
{
    char s[MD_CFG_SHOW];
    if (n->kind != MD_CFG_SCALAR || n->len == 0)
        return md_cfg_fail(c, n->line, n->col, "items of 'vary' must be a param name, query.NAME or header.NAME");
    const char *name = NULL;
    if (strncmp(n->str, "query.", 6) == 0)
        name = n->str + 6;
    else if (strncmp(n->str, "header.", 7) == 0)
        name = n->str + 7;
    if (!name && strchr(n->str, '.'))
        return md_cfg_fail(c, n->line, n->col, "'vary' entry '%s' must be a param name, query.NAME or header.NAME",
                           md_cfg_show(s, n->str));
    if (!name)
        return vary_param(c, n, e, what);
    if (!md_cfg_is_token(name, MAX_VARY_NAME))
        return md_cfg_fail(c, n->line, n->col, "'vary' entry '%s': NAME must be 1-%d characters of an HTTP token "
                           "(A-Z a-z 0-9 ! # $ %% & ' * + - . ^ _ ` | ~)", md_cfg_show(s, n->str), MAX_VARY_NAME);
    return MD_OK;
}

/* Header names compare without case, everything else exactly. */
static bool same_vary(const char *a, const char *b)
{
    if (strncmp(a, "header.", 7) == 0 && strncmp(b, "header.", 7) == 0)
        return strcasecmp(a + 7, b + 7) == 0;
    return strcmp(a, b) == 0;
}

static int parse_vary(md_cfg_ctx_t *c, const md_cfg_node_t *seq, const md_endpoint_conf_t *e, const char *what,
                      md_cache_conf_t *cc)
{
    if (md_cfg_check_seq(c, seq, MAX_VARY, "vary entries") != MD_OK)
        return MD_EINVAL;
    cc->vary = md_calloc(seq->count ? seq->count : 1, sizeof(char *));
    cc->nvary = seq->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = seq->first; n; n = n->next, i++) {
        if (vary_entry(c, n, e, what) != MD_OK)
            return MD_EINVAL;
        for (size_t j = 0; j < i; j++) {
            char s[MD_CFG_SHOW];
            if (same_vary(cc->vary[j], n->str))
                return md_cfg_fail(c, n->line, n->col, "'%s' is listed twice in 'vary'", md_cfg_show(s, n->str));
        }
        cc->vary[i] = md_strdup(n->str);
    }
    return MD_OK;
}

static int parse_policy_map(md_cfg_ctx_t *c, const md_cfg_node_t *map, const md_endpoint_conf_t *e, bool backend,
                            const char *what, md_cache_conf_t *cc)
{
    char where[2 * MD_CFG_SHOW + 64];
    snprintf(where, sizeof(where), "the cache of %s", what);
    const md_cfg_node_t *n;
    if (md_cfg_check_keys(c, map, policy_keys, where) != MD_OK)
        return MD_EINVAL;
    for (size_t i = 0; !backend && i < MD_ARRAY_LEN(backend_only_keys); i++) {
        if ((n = md_cfg_get(map, backend_only_keys[i])))
            return md_cfg_fail(c, n->key_line, n->key_col, "'%s' applies to backends only: an endpoint's view is "
                               "rebuilt from its backends, so give them the stale windows", n->key);
    }
    if (md_cfg_require(c, map, "ttl", where, &n) != MD_OK || parse_ttl(c, n, backend, false, cc) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "stale_while_revalidate")) && long_duration(c, n, "", &cc->swr_ms) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "stale_if_error")) && long_duration(c, n, "", &cc->sie_ms) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "vary")) && parse_vary(c, n, e, what, cc) != MD_OK)
        return MD_EINVAL;
    return MD_OK;
}

int md_cfg_cache_policy(md_cfg_ctx_t *c, const md_cfg_node_t *n, const md_endpoint_conf_t *e, bool backend,
                        const char *what, md_cache_conf_t *cc)
{
    cc->line = n->key_line;
    cc->col = n->key_col;
    if (is_scalar(n, "off"))
        return MD_OK;
    cc->on = true;
    if (n->kind == MD_CFG_SCALAR)
        return parse_ttl(c, n, backend, true, cc);
    if (n->kind == MD_CFG_MAP)
        return parse_policy_map(c, n, e, backend, what, cc);
    return md_cfg_fail(c, n->line, n->col, "'cache' of %s must be a duration like 30s, off, or a mapping with "
                       "'ttl'", what);
}
