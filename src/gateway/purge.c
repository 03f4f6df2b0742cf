/*
 * purge.c - POST /cache/purge on the admin listener: drops cached entries
 * by endpoint, backend, input value (all entries of user 42), exact key,
 * or everything, in this process's store and in Redis.
 *
 *   POST /cache/purge?endpoint=/home          every fragment and view of /home
 *   POST /cache/purge?backend=news            every fragment of backends named news
 *   POST /cache/purge?input=user&value=42     every entry whose key used user=42
 *   POST /cache/purge?key=...                 one entry (keys as Cache-Status shows them)
 *   POST /cache/purge?all=true                everything
 *   Authorization: Bearer <cache.purge_token>
 *
 * Answers {"purged":{"memory":N,"redis":M}}. The in-process store is
 * purged at once (md_cache_purge walks its shards one lock at a time); the
 * Redis purge runs on the admin thread's own connection (SCAN + UNLINK)
 * and the answer waits for it. Other instances' in-process stores are not
 * reached from here: purge each instance, Redis is shared.
 *
 * Without a purge_token the route answers 403; a wrong or missing token
 * 401 with WWW-Authenticate. The token is compared in constant time and
 * never logged.
 */
#include "gateway/internal.h"

#include "auth/secret.h"
#include "core/alloc.h"
#include "http/query.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One purge request: how to match in memory and in Redis. */
typedef struct gw_purge {
    md_http_req_t *req;
    md_redis_op_t *op;
    size_t memory;
    md_cache_purge_kind_t kind;
    md_buf_t arg;               /* the memory key / tag */
    md_buf_t pattern;           /* the Redis glob */
} gw_purge_t;

static bool str_is(md_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Constant time over the configured token's length. */
static bool token_ok(const md_http_req_t *req, const char *token)
{
    const md_header_t *h = md_header_find(req->headers, req->num_headers, "authorization");
    size_t tlen = strlen(token);
    if (!h || h->value_len != 7 + tlen || strncasecmp(h->value, "Bearer ", 7) != 0)
        return false;
    return md_ct_equal(h->value + 7, token, tlen);
}

static void respond(md_http_req_t *req, int status, const char *body)
{
    md_header_t hs[2] = { { "Content-Type", 12, "application/json", 16 }, { "Cache-Control", 13, "no-store", 8 } };
    md_http_respond(req, status, hs, 2, body, strlen(body));
}

static const char *find(const md_header_t *q, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(q[i].name, name) == 0)
            return q[i].value;
    return NULL;
}

/* Appends a value percent-encoded as keys hold it; with glob, also with
 * the glob metacharacters escaped (none survive the encoding, but the
 * rule is Redis's to keep). */
static int put_value(md_buf_t *out, const char *v, bool glob)
{
    char tmp[MD_CACHE_MAX_KEY];
    size_t n = gw_cache_escape(tmp, sizeof(tmp), v, strlen(v));
    if (n == SIZE_MAX)
        return MD_ETOOBIG;
    return glob ? md_redis_glob_escape(tmp, n, out) : md_buf_append(out, tmp, n);
}

/* Fills p from the query: exactly one selector. MD_EINVAL otherwise. */
static int parse_selector(gw_purge_t *p, const md_header_t *q, size_t n)
{
    const char *ep = find(q, n, "endpoint"), *be = find(q, n, "backend"), *key = find(q, n, "key");
    const char *input = find(q, n, "input"), *value = find(q, n, "value"), *all = find(q, n, "all");
    int given = !!ep + !!be + !!key + !!input + !!all;
    if (given != 1 || (input && !value) || (!input && value) || (all && strcmp(all, "true") != 0))
        return MD_EINVAL;
    int rc = MD_OK;
    if (ep) {
        p->kind = MD_PURGE_TAG;
        md_buf_append(&p->arg, "e=", 2);
        rc |= put_value(&p->arg, ep, false);
        md_buf_append_str(&p->pattern, "[be]|");
        rc |= put_value(&p->pattern, ep, true);
        md_buf_append(&p->pattern, "|*", 2);
    } else if (be) {
        p->kind = MD_PURGE_TAG;
        md_buf_append(&p->arg, "b=", 2);
        rc |= put_value(&p->arg, be, false);
        md_buf_append_str(&p->pattern, "b|*|");
        rc |= put_value(&p->pattern, be, true);
        md_buf_append(&p->pattern, "|*", 2);
    } else if (input) {
        p->kind = MD_PURGE_TAG;
        md_buf_printf(&p->arg, "i:%s=", input);
        rc |= put_value(&p->arg, value, false);
        md_buf_append(&p->pattern, "*|", 2);
        rc |= md_redis_glob_escape(input, strlen(input), &p->pattern);
        md_buf_append_char(&p->pattern, '=');
        rc |= put_value(&p->pattern, value, true);
        md_buf_append(&p->pattern, "|*", 2);
    } else if (key) {
        p->kind = MD_PURGE_KEY;
        md_buf_append_str(&p->arg, key);
        rc |= md_redis_glob_escape(key, strlen(key), &p->pattern);
    } else {
        p->kind = MD_PURGE_ALL;
        md_buf_append_char(&p->pattern, '*');
    }
    return rc == MD_OK ? MD_OK : MD_EINVAL;
}

static void purge_release(void *arg)
{
    gw_purge_t *p = arg;
    md_redis_cancel(p->op);
    p->op = NULL;
    md_buf_free(&p->arg);
    md_buf_free(&p->pattern);
}

static void on_redis_purged(void *arg, int status, uint64_t n)
{
    gw_purge_t *p = arg;
    p->op = NULL;
    char body[160];
    if (status != MD_OK) {
        snprintf(body, sizeof(body),
                 "{\"error\":\"redis_unavailable\",\"message\":\"Redis purge failed: %s\",\"purged\":{\"memory\":%zu,"
                 "\"redis\":%llu}}",
                 md_strerror(status), p->memory, (unsigned long long)n);
        respond(p->req, 502, body);
        return;
    }
    snprintf(body, sizeof(body), "{\"purged\":{\"memory\":%zu,\"redis\":%llu}}", p->memory, (unsigned long long)n);
    respond(p->req, 200, body);
}

static void on_abort(md_http_req_t *req)
{
    md_http_respond(req, 499, NULL, 0, NULL, 0); /* release cancels the Redis op */
}

/* Runs the purge; answers now (memory only) or when Redis is done. */
static void run_purge(md_gateway_t *gw, md_http_req_t *req, gw_purge_t *p)
{
    if (gw->store)
        p->memory = md_cache_purge(gw->store, p->kind, p->arg.data, p->arg.len);
    if (gw->admin_redis) {
        p->op = md_redis_purge(gw->admin_redis, p->pattern.data, p->pattern.len, on_redis_purged, p);
        if (!p->op) {
            on_redis_purged(p, MD_ECONNECT, 0);
            return;
        }
        req->on_abort = on_abort;
        return;
    }
    char body[96];
    snprintf(body, sizeof(body), "{\"purged\":{\"memory\":%zu}}", p->memory);
    respond(req, 200, body);
}

static bool handle(md_http_req_t *req, void *arg)
{
    md_gateway_t *gw = arg;
    const char *token = gw->cfg->cache.purge_token;
    if (!str_is(req->path, "/cache/purge"))
        return false;
    if (!str_is(req->method, "POST")) {
        md_header_t allow = { "Allow", 5, "POST", 4 };
        md_http_respond_error_h(req, 405, "method_not_allowed", "use POST", NULL, &allow, 1);
    } else if (!token) {
        md_http_respond_error(req, 403, "purge_disabled", "set cache.purge_token to enable purging", NULL);
    } else if (!token_ok(req, token)) {
        md_header_t www = { "WWW-Authenticate", 16, "Bearer realm=\"medley-admin\"", 27 };
        md_http_respond_error_h(req, 401, "unauthorized", "a valid purge token is required", NULL, &www, 1);
    } else {
        md_header_t q[8];
        size_t n = 0;
        gw_purge_t *p = md_pool_calloc(req->pool, sizeof(*p));
        p->req = req;
        md_buf_init(&p->arg, MD_CACHE_MAX_KEY + 16);
        md_buf_init(&p->pattern, 2 * MD_CACHE_MAX_KEY + 16);
        md_pool_on_release(req->pool, purge_release, p);
        if (md_query_parse(req->pool, req->query.ptr, req->query.len, q, MD_ARRAY_LEN(q), &n) != MD_OK ||
            parse_selector(p, q, n) != MD_OK)
            md_http_respond_error(req, 400, "bad_selector",
                                  "give exactly one of endpoint=, backend=, input=&value=, key=, all=true", NULL);
        else
            run_purge(gw, req, p);
    }
    return true;
}

static int admin_init(md_loop_t *loop, void *arg)
{
    md_gateway_t *gw = arg;
    if (gw->store && gw->cfg->cache.store == MD_CACHE_STORE_REDIS)
        gw->admin_redis = md_redis_new(loop, &gw->cfg->cache);
    return MD_OK;
}

static void admin_fini(void *arg)
{
    md_gateway_t *gw = arg;
    md_redis_free(gw->admin_redis);
    gw->admin_redis = NULL;
}

void md_gateway_admin_route(md_gateway_t *gw, md_admin_route_t *route)
{
    *route = (md_admin_route_t){ .handle = handle, .worker_init = admin_init, .worker_fini = admin_fini, .arg = gw };
}
