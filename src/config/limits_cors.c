/*
 * limits_cors.c - the configuration keys of rate limiting and CORS
 * (config.h: md_rate_limit_conf_t, md_cors_conf_t): the top-level
 * `rate_limits:` map of named limits and `cors:` policy, and an endpoint's
 * `rate_limit:` (which limits apply) and `cors:` (opt-out).
 *
 *   cors:                                   # off when absent (or `cors: off`)
 *     allow_origins: [ "https://apps.powerapps.com" ]   # or [ "*" ]
 *     allow_methods: [ GET ]
 *     allow_headers: [ Authorization, Content-Type ]
 *     expose_headers: [ Server-Timing, Cache-Status ]
 *     allow_credentials: false
 *     max_age: 10m                          # whole seconds, 0s .. 24h
 *   rate_limits:
 *     per_key: { rate: 100/1m, burst: 20, key: client, max_keys: 100000 }
 *     shared:  { rate: 1000/1h, key: auth, store: redis }   # memory (default) | redis
 *   endpoints[].rate_limit: per_key         # or a list of names
 *   endpoints[].cors: off                   # or on (the default)
 *
 * The CORS lists are checked by the library that will serve them
 * (auth/cors.h), item by item, so that a bad origin is reported at its own
 * line and column with the same rules the gateway applies; the gateway
 * builds the policy again at startup. Limits are checked with
 * md_ratelimit_limit_check() for the same reason.
 *
 * `store: redis` uses the connection of the top-level `cache: redis:` block
 * (which may come before or after `rate_limits:` in the file, with either
 * cache store): a limit asking for Redis without it is an error at the
 * limit, checked as soon as both blocks are known (after `rate_limits:` when
 * `cache:` came first, else when the endpoints are read, which is always
 * last).
 */
#include "auth/cors.h"
#include "auth/ratelimit.h"
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_LIMITS 64                   /* named limits */
#define MAX_ENDPOINT_LIMITS 8           /* limits on one endpoint */
#define DEFAULT_MAX_KEYS 100000u
#define MAX_CLAIM 64                    /* NAME in jwt.NAME */
#define MAX_HEADER_NAME 64              /* NAME in header.NAME */

static const char *const cors_keys[] = { "allow_origins", "allow_methods", "allow_headers", "expose_headers",
                                         "allow_credentials", "max_age", NULL };
static const char *const limit_keys[] = { "rate", "burst", "key", "max_keys", "store", NULL };

/* Which list of the policy an item belongs to. */
enum { L_ORIGINS, L_METHODS, L_HEADERS, L_EXPOSE };

/* ---- freeing ------------------------------------------------------------- */

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        md_free(v[i]);
    md_free(v);
}

void md_cfg_guard_free(md_config_t *cfg)
{
    md_cors_conf_t *k = &cfg->cors;
    free_strings(k->origins, k->norigins);
    free_strings(k->methods, k->nmethods);
    free_strings(k->headers, k->nheaders);
    free_strings(k->expose, k->nexpose);
    for (size_t i = 0; cfg->rate_limits && i < cfg->nrate_limits; i++) {
        md_free(cfg->rate_limits[i].name);
        md_free(cfg->rate_limits[i].key_name);
    }
    md_free(cfg->rate_limits);
}

void md_cfg_endpoint_guard_free(md_endpoint_conf_t *e)
{
    md_free(e->rate_limits);
}

/* ---- small readers -------------------------------------------------------- */

static bool is_scalar(const md_cfg_node_t *n, const char *s)
{
    return n->kind == MD_CFG_SCALAR && strcmp(n->str, s) == 0;
}

/* "[N]UNIT" with UNIT ms, s, m, h or d and N 1..10^6 (1 when absent); the
 * whole string must be used. 0 when malformed. */
static uint64_t period_ms(const char *s)
{
    static const struct { const char *unit; uint64_t ms; } units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
    };
    size_t digits = strspn(s, "0123456789");
    uint64_t v = digits ? 0 : 1;
    if (digits > 7)
        return 0;
    for (size_t i = 0; i < digits; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    for (size_t i = 0; i < MD_ARRAY_LEN(units); i++)
        if (strcmp(s + digits, units[i].unit) == 0)
            return v * units[i].ms;
    return 0;
}

/* ---- cors ------------------------------------------------------------------ */

/* Compiles a throwaway policy made of `items` as list `which` (the other
 * lists empty, origins "*"), so that each list is checked by the very code
 * that will serve it. */
static int try_policy(int which, const char *const *items, size_t n, bool credentials, char *err, size_t errlen)
{
    static const char *const star[] = { "*" };
    md_cors_opts_t o = { .origins = star, .n_origins = 1, .credentials = credentials, .max_age = -1 };
    if (which == L_ORIGINS) {
        o.origins = items;
        o.n_origins = n;
    } else if (which == L_METHODS) {
        o.methods = items;
        o.n_methods = n;
    } else if (which == L_HEADERS) {
        o.headers = items;
        o.n_headers = n;
    } else {
        o.expose = items;
        o.n_expose = n;
    }
    md_cors_policy_t *p = NULL;
    int rc = md_cors_policy_new(&o, &p, err, errlen);
    md_cors_policy_free(p);
    return rc;
}

/* A list (or one scalar, read as a list of one) of `which` items. */
static int cors_list(md_cfg_ctx_t *c, const md_cfg_node_t *n, int which, char ***out, size_t *count)
{
    char err[256];
    const md_cfg_node_t *first = n->kind == MD_CFG_SEQ ? n->first : n;
    size_t len = n->kind == MD_CFG_SEQ ? n->count : 1;
    if (n->kind == MD_CFG_MAP)
        return md_cfg_fail(c, n->line, n->col, "'%s' must be a list", n->key);
    if (len > MD_CORS_LIST_MAX)
        return md_cfg_fail(c, n->line, n->col, "'%s' has more than %d entries", n->key, MD_CORS_LIST_MAX);
    *out = md_calloc(len ? len : 1, sizeof(char *));
    *count = 0;
    for (const md_cfg_node_t *it = first; it; it = n->kind == MD_CFG_SEQ ? it->next : NULL) {
        if (it->kind != MD_CFG_SCALAR || it->len == 0)
            return md_cfg_fail(c, it->line, it->col, "items of '%s' must be non-empty strings", n->key);
        const char *one[1] = { it->str };
        if (try_policy(which, one, 1, false, err, sizeof(err)) != MD_OK)
            return md_cfg_fail(c, it->line, it->col, "'%s': %s", n->key, err);
        (*out)[(*count)++] = md_strdup(it->str);
    }
    if (try_policy(which, (const char *const *)*out, *count, false, err, sizeof(err)) != MD_OK)
        return md_cfg_fail(c, n->line, n->col, "'%s': %s", n->key, err);
    return MD_OK;
}

/* max_age: a duration in whole seconds, 0s .. 24h. */
static int cors_max_age(md_cfg_ctx_t *c, const md_cfg_node_t *n, long *out)
{
    uint64_t ms = n->kind == MD_CFG_SCALAR ? period_ms(n->str) : 0;
    if (n->kind == MD_CFG_SCALAR && (strcmp(n->str, "0") == 0 || strcmp(n->str, "0s") == 0))
        ms = 0;
    else if (ms == 0 || ms % 1000 != 0 || ms / 1000 > MD_CORS_MAX_AGE_MAX)
        return md_cfg_fail(c, n->line, n->col, "'max_age' must be whole seconds between 0s and 24h, like 10m "
                                               "or 600s");
    *out = (long)(ms / 1000);
    return MD_OK;
}

static int cors_fields(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_cors_conf_t *k)
{
    const md_cfg_node_t *n;
    if (md_cfg_require(c, map, "allow_origins", "cors", &n) != MD_OK ||
        cors_list(c, n, L_ORIGINS, &k->origins, &k->norigins) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "allow_methods")) && cors_list(c, n, L_METHODS, &k->methods, &k->nmethods) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "allow_headers")) && cors_list(c, n, L_HEADERS, &k->headers, &k->nheaders) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "expose_headers")) && cors_list(c, n, L_EXPOSE, &k->expose, &k->nexpose) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "max_age")) && cors_max_age(c, n, &k->max_age_s) != MD_OK)
        return MD_EINVAL;
    return MD_OK;
}

/* Browsers refuse credentials with any "*": said where credentials are. */
static int cors_credentials(md_cfg_ctx_t *c, const md_cfg_node_t *n, const md_cors_conf_t *k)
{
    struct { char **v; size_t n; const char *key; } lists[] = {
        { k->origins, k->norigins, "allow_origins" }, { k->methods, k->nmethods, "allow_methods" },
        { k->headers, k->nheaders, "allow_headers" }, { k->expose, k->nexpose, "expose_headers" },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(lists); i++)
        if (lists[i].n == 1 && strcmp(lists[i].v[0], "*") == 0)
            return md_cfg_fail(c, n->line, n->col, "'allow_credentials: true' cannot be combined with \"*\" in "
                               "'%s' (browsers refuse it): list the values", lists[i].key);
    return MD_OK;
}

int md_cfg_cors(md_cfg_ctx_t *c, const md_cfg_node_t *n)
{
    md_cors_conf_t *k = &c->cfg->cors;
    k->line = n->key_line;
    k->col = n->key_col;
    k->max_age_s = -1;
    if (is_scalar(n, "off"))
        return MD_OK;
    if (n->kind != MD_CFG_MAP)
        return md_cfg_fail(c, n->line, n->col, "'cors' must be off or a mapping with 'allow_origins'");
    if (md_cfg_check_keys(c, n, cors_keys, "cors") != MD_OK || cors_fields(c, n, k) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *cred = md_cfg_get(n, "allow_credentials");
    if (cred && (md_cfg_bool(c, cred, &k->credentials) != MD_OK ||
                 (k->credentials && cors_credentials(c, cred, k) != MD_OK)))
        return MD_EINVAL;
    k->on = true;
    return MD_OK;
}

/* ---- rate_limits ------------------------------------------------------------ */

/* rate: COUNT/PERIOD, e.g. 100/1m, 10/s, 5/250ms. */
static int limit_rate(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_rate_limit_conf_t *l)
{
    const char *s = n->kind == MD_CFG_SCALAR ? n->str : "";
    size_t digits = strspn(s, "0123456789");
    uint64_t count = 0, period = 0;
    for (size_t i = 0; i < digits && digits <= 10; i++)
        count = count * 10 + (uint64_t)(s[i] - '0');
    if (digits > 0 && digits <= 10 && s[digits] == '/')
        period = period_ms(s + digits + 1);
    if (count < 1 || count > MD_RATELIMIT_COUNT_MAX || period < 1 || period > MD_RATELIMIT_PERIOD_MAX)
        return md_cfg_fail(c, n->line, n->col, "'rate' must be COUNT/PERIOD like 100/1m or 10/s (COUNT 1-%u, "
                           "PERIOD 1ms-1d)", MD_RATELIMIT_COUNT_MAX);
    l->count = (uint32_t)count;
    l->period_ms = (uint32_t)period;
    return MD_OK;
}

/* key: client | auth | header.NAME | jwt.CLAIM */
static int limit_key(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_rate_limit_conf_t *l)
{
    static const char *const words[] = { "client", "auth", "header.", "jwt." };
    char s[MD_CFG_SHOW];
    const char *v = n->kind == MD_CFG_SCALAR ? n->str : "";
    if (strcmp(v, "client") == 0 || strcmp(v, "auth") == 0) {
        l->key = v[0] == 'c' ? MD_RL_KEY_CLIENT : MD_RL_KEY_AUTH;
        return MD_OK;
    }
    bool header = strncmp(v, "header.", 7) == 0, jwt = strncmp(v, "jwt.", 4) == 0;
    if (!header && !jwt) {
        const char *hint = md_cfg_suggest(v, words, 2);
        return md_cfg_fail(c, n->line, n->col, "'key' must be client, auth, header.NAME or jwt.CLAIM, not '%s'%s%s%s",
                           md_cfg_show(s, v), hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
    }
    const char *name = v + (header ? 7 : 4);
    if (!md_cfg_is_token(name, header ? MAX_HEADER_NAME : MAX_CLAIM))
        return md_cfg_fail(c, n->line, n->col, "'key' %s: NAME must be 1-%d characters of an HTTP token",
                           md_cfg_show(s, v), header ? MAX_HEADER_NAME : MAX_CLAIM);
    l->key = header ? MD_RL_KEY_HEADER : MD_RL_KEY_JWT;
    l->key_name = md_strdup(name);
    return MD_OK;
}

static int limit_fields(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_rate_limit_conf_t *l, const char *what)
{
    const md_cfg_node_t *n;
    if (md_cfg_require(c, map, "rate", what, &n) != MD_OK || limit_rate(c, n, l) != MD_OK)
        return MD_EINVAL;
    l->burst = MD_MIN(l->count, MD_RATELIMIT_BURST_MAX);
    if ((n = md_cfg_get(map, "burst")) && md_cfg_uint(c, n, 1, MD_RATELIMIT_BURST_MAX, &l->burst) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "key")) && limit_key(c, n, l) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "max_keys")) && md_cfg_uint(c, n, 1, MD_RATELIMIT_BUCKETS_MAX, &l->max_keys) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "store"))) {
        if (!is_scalar(n, "memory") && !is_scalar(n, "redis"))
            return md_cfg_fail(c, n->line, n->col, "'store' of %s must be memory or redis", what);
        l->redis = is_scalar(n, "redis");
    }
    char err[256];
    md_ratelimit_limit_t lim = { .count = l->count, .period_ms = l->period_ms, .burst = l->burst };
    if (md_ratelimit_limit_check(&lim, err, sizeof(err)) != MD_OK)
        return md_cfg_fail(c, map->key_line, map->key_col, "%s: %s", what, err);
    return MD_OK;
}

static int parse_limit(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_rate_limit_conf_t *l)
{
    char what[MD_CFG_SHOW + 16], k[MD_CFG_SHOW];
    snprintf(what, sizeof(what), "rate limit '%s'", md_cfg_show(k, map->key));
    l->line = map->key_line;
    l->col = map->key_col;
    l->key = MD_RL_KEY_CLIENT;
    l->max_keys = DEFAULT_MAX_KEYS;
    if (!md_cfg_is_name(map->key))
        return md_cfg_fail(c, map->key_line, map->key_col, "rate limit name '%s' must be 1-%d characters of "
                           "A-Z a-z 0-9 _ . -", k, MD_CFG_MAX_NAME);
    l->name = md_strdup(map->key);
    if (map->null)
        return md_cfg_fail(c, map->key_line, map->key_col, "missing required key 'rate' in %s", what);
    if (md_cfg_check_keys(c, map, limit_keys, what) != MD_OK)
        return MD_EINVAL;
    return limit_fields(c, map, l, what);
}

/* Every limit with `store: redis` has the cache's Redis connection. */
static int check_redis_stores(md_cfg_ctx_t *c)
{
    const md_config_t *cfg = c->cfg;
    for (size_t i = 0; i < cfg->nrate_limits; i++) {
        const md_rate_limit_conf_t *l = &cfg->rate_limits[i];
        if (l->redis && !cfg->cache.redis_url)
            return md_cfg_fail(c, l->line, l->col, "rate limit '%s' has 'store: redis' but there is no Redis "
                               "connection: add 'cache: { redis: { url: ... } }' (the cache store may stay "
                               "memory)", l->name);
    }
    return MD_OK;
}

int md_cfg_rate_limits(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    md_config_t *cfg = c->cfg;
    if (md_cfg_check_map(c, map, MAX_LIMITS, false, "rate limits") != MD_OK)
        return MD_EINVAL;
    cfg->rate_limits = md_calloc(map->count ? map->count : 1, sizeof(md_rate_limit_conf_t));
    cfg->nrate_limits = map->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = map->first; n; n = n->next, i++)
        if (parse_limit(c, n, &cfg->rate_limits[i]) != MD_OK)
            return MD_EINVAL;
    return cfg->cache.line ? check_redis_stores(c) : MD_OK; /* else when the endpoints come */
}

/* ---- an endpoint's keys ------------------------------------------------------ */

/* One name of `rate_limit:`, resolved to its index. */
static int limit_ref(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *ep, size_t *out)
{
    const md_config_t *cfg = c->cfg;
    char s[MD_CFG_SHOW];
    if (n->kind != MD_CFG_SCALAR || n->len == 0)
        return md_cfg_fail(c, n->line, n->col, "'rate_limit' of %s must name limits of 'rate_limits'", ep);
    const char *names[MAX_LIMITS];
    for (size_t i = 0; i < cfg->nrate_limits; i++) {
        if (strcmp(cfg->rate_limits[i].name, n->str) == 0) {
            *out = i;
            return MD_OK;
        }
        names[i] = cfg->rate_limits[i].name;
    }
    const char *hint = md_cfg_suggest(n->str, names, cfg->nrate_limits);
    if (hint)
        return md_cfg_fail(c, n->line, n->col, "unknown rate limit '%s' (did you mean '%s'?)", md_cfg_show(s, n->str),
                           hint);
    return md_cfg_fail(c, n->line, n->col, "unknown rate limit '%s' (define it under 'rate_limits')",
                       md_cfg_show(s, n->str));
}

static int endpoint_limits(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_endpoint_conf_t *e, const char *ep)
{
    bool list = n->kind == MD_CFG_SEQ;
    if (list && md_cfg_check_seq(c, n, MAX_ENDPOINT_LIMITS, "rate limits on one endpoint") != MD_OK)
        return MD_EINVAL;
    size_t count = list ? n->count : 1;
    e->rate_limits = md_calloc(count ? count : 1, sizeof(size_t));
    for (const md_cfg_node_t *it = list ? n->first : n; it; it = list ? it->next : NULL) {
        size_t idx;
        if (limit_ref(c, it, ep, &idx) != MD_OK)
            return MD_EINVAL;
        for (size_t j = 0; j < e->nrate_limits; j++)
            if (e->rate_limits[j] == idx)
                return md_cfg_fail(c, it->line, it->col, "rate limit '%s' is listed twice", it->str);
        e->rate_limits[e->nrate_limits++] = idx;
    }
    return MD_OK;
}

int md_cfg_endpoint_guard(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e, const char *ep)
{
    const md_cfg_node_t *n;
    /* The first endpoint comes after every top-level block. */
    if (e == c->cfg->endpoints && check_redis_stores(c) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "rate_limit")) && endpoint_limits(c, n, e, ep) != MD_OK)
        return MD_EINVAL;
    if (!(n = md_cfg_get(map, "cors")))
        return MD_OK;
    if (is_scalar(n, "off")) {
        e->cors_off = true;
        return MD_OK;
    }
    if (!is_scalar(n, "on"))
        return md_cfg_fail(c, n->line, n->col, "'cors' of %s must be on or off (the policy is the top-level "
                           "'cors:' block)", ep);
    if (!c->cfg->cors.on)
        return md_cfg_fail(c, n->line, n->col, "'cors: on' of %s needs a top-level 'cors:' block", ep);
    return MD_OK;
}
