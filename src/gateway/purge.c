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
 * and the answer waits for it.
 *
 * Other instances sharing the Redis: when the Redis purge is done (so
 * nobody refills from a key about to go), the selector is PUBLISHed on
 * PREFIX+"purge" (cache/purge_msg.h, with this process's random instance
 * id). Worker 0 of every instance subscribes on a connection of its own and
 * applies the same in-process purge, skipping its own messages; anything
 * malformed is ignored and counted. While a subscriber is disconnected
 * messages are lost (Redis keeps none): the TTL still bounds staleness.
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
#include <time.h>
#include <unistd.h>

#define PURGE_CHANNEL "purge"   /* after the configured prefix */

/* One purge request: how to match in memory and in Redis. */
typedef struct gw_purge {
    const md_gateway_t *gw;
    md_http_req_t *req;
    md_redis_op_t *op;
    size_t memory;
    md_cache_purge_kind_t kind;
    md_buf_t arg;               /* the memory key / tag */
    md_buf_t pattern;           /* the Redis glob */
    md_buf_t msg;               /* for the other instances; empty: none */
} gw_purge_t;

/* A selector as given: the one set (all: "true") is the one used. */
typedef struct gw_selector {
    const char *ep, *be, *key, *input, *value, *all;
} gw_selector_t;

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

/* Fills p from a selector: exactly one. MD_EINVAL otherwise. */
static int build_selector(gw_purge_t *p, const gw_selector_t *sel)
{
    const char *ep = sel->ep, *be = sel->be, *key = sel->key, *input = sel->input, *value = sel->value;
    const char *all = sel->all;
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

static md_str_t str_of(const char *s)
{
    return (md_str_t){ s, s ? strlen(s) : 0 };
}

/* The message telling the other instances (cache/purge_msg.h). */
static int encode_selector(const md_gateway_t *gw, const gw_selector_t *sel, md_buf_t *out)
{
    md_purge_msg_t m = { .sel = MD_PURGE_SEL_ALL };
    if (sel->ep)
        m = (md_purge_msg_t){ .sel = MD_PURGE_SEL_ENDPOINT, .a = str_of(sel->ep) };
    else if (sel->be)
        m = (md_purge_msg_t){ .sel = MD_PURGE_SEL_BACKEND, .a = str_of(sel->be) };
    else if (sel->key)
        m = (md_purge_msg_t){ .sel = MD_PURGE_SEL_KEY, .a = str_of(sel->key) };
    else if (sel->input)
        m = (md_purge_msg_t){ .sel = MD_PURGE_SEL_INPUT, .a = str_of(sel->input), .b = str_of(sel->value) };
    memcpy(m.id, gw->instance_id, sizeof(m.id));
    return md_purge_msg_encode(&m, out);
}

/* Fills p (and its message, with Redis) from the query. */
static int parse_selector(const md_gateway_t *gw, gw_purge_t *p, const md_header_t *q, size_t n)
{
    gw_selector_t sel = {
        find(q, n, "endpoint"), find(q, n, "backend"), find(q, n, "key"),
        find(q, n, "input"),    find(q, n, "value"),   find(q, n, "all"),
    };
    int rc = build_selector(p, &sel);
    /* Too big to send (no real key is): this instance and Redis only. */
    if (rc == MD_OK && gw->admin_redis && encode_selector(gw, &sel, &p->msg) != MD_OK)
        md_buf_reset(&p->msg);
    return rc;
}

static void purge_release(void *arg)
{
    gw_purge_t *p = arg;
    md_redis_cancel(p->op);
    p->op = NULL;
    md_buf_free(&p->arg);
    md_buf_free(&p->pattern);
    md_buf_free(&p->msg);
}

/* Tells the other instances, best effort: a lost message leaves their
 * copies to their TTL. */
static void publish(const md_gateway_t *gw, const gw_purge_t *p)
{
    if (gw->admin_redis && p->msg.len)
        (void)md_redis_publish(gw->admin_redis, PURGE_CHANNEL, strlen(PURGE_CHANNEL), p->msg.data, p->msg.len);
}

static void on_redis_purged(void *arg, int status, uint64_t n)
{
    gw_purge_t *p = arg;
    p->op = NULL;
    publish(p->gw, p);
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
        p->gw = gw;
        p->req = req;
        md_buf_init(&p->arg, MD_CACHE_MAX_KEY + 16);
        md_buf_init(&p->pattern, 2 * MD_CACHE_MAX_KEY + 16);
        md_buf_init(&p->msg, MD_PURGE_MSG_MAX);
        md_pool_on_release(req->pool, purge_release, p);
        if (md_query_parse(req->pool, req->query.ptr, req->query.len, q, MD_ARRAY_LEN(q), &n) != MD_OK ||
            parse_selector(gw, p, q, n) != MD_OK)
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

/* ---- purges from other instances (worker 0) ---- */

void gw_purge_init(md_gateway_t *gw)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[MD_PURGE_ID_LEN / 2];
    if (md_random_bytes(raw, sizeof(raw)) != MD_OK) {
        /* Only needs to differ between instances, not to be secret. */
        uint64_t v = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)gw;
        memcpy(raw, &v, sizeof(raw));
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        gw->instance_id[2 * i] = hex[raw[i] >> 4];
        gw->instance_id[2 * i + 1] = hex[raw[i] & 15];
    }
    gw->instance_id[MD_PURGE_ID_LEN] = '\0';
}

/* The message's selector as C strings in buf (the values hold no NUL:
 * the decoder refused those). */
static void selector_of(const md_purge_msg_t *m, char *buf, gw_selector_t *sel)
{
    char *a = buf, *b = buf + m->a.len + 1;
    memcpy(a, m->a.ptr, m->a.len);
    a[m->a.len] = '\0';
    memcpy(b, m->b.ptr, m->b.len);
    b[m->b.len] = '\0';
    *sel = (gw_selector_t){ 0 };
    switch (m->sel) {
    case MD_PURGE_SEL_ENDPOINT: sel->ep = a; break;
    case MD_PURGE_SEL_BACKEND: sel->be = a; break;
    case MD_PURGE_SEL_KEY: sel->key = a; break;
    case MD_PURGE_SEL_INPUT: sel->input = a; sel->value = b; break;
    default: sel->all = "true"; break;
    }
}

/* Applies another instance's purge to this process's store. */
static void on_purge_message(void *arg, const char *msg, size_t len)
{
    gw_worker_t *w = arg;
    md_purge_msg_t m;
    if (md_purge_msg_decode(msg, len, &m) != MD_OK) {
        w->purge_ignored++;
        return;
    }
    if (memcmp(m.id, w->gw->instance_id, MD_PURGE_ID_LEN) == 0)
        return;  /* ours: already purged */
    char buf[MD_PURGE_MSG_MAX + 2];
    gw_selector_t sel;
    selector_of(&m, buf, &sel);
    gw_purge_t p = { .gw = w->gw };
    md_buf_init(&p.arg, MD_CACHE_MAX_KEY + 16);
    md_buf_init(&p.pattern, 2 * MD_CACHE_MAX_KEY + 16);
    if (build_selector(&p, &sel) == MD_OK) {
        md_cache_purge(w->gw->store, p.kind, p.arg.data, p.arg.len);
        w->purge_applied++;
    } else {
        w->purge_ignored++;
    }
    md_buf_free(&p.arg);
    md_buf_free(&p.pattern);
}

void gw_purge_worker_init(gw_worker_t *w)
{
    const md_config_t *cfg = w->gw->cfg;
    if (w->index != 0 || !w->gw->store || cfg->cache.store != MD_CACHE_STORE_REDIS)
        return;
    w->purge_sub = md_redis_subscribe(w->loop, &cfg->cache, PURGE_CHANNEL, MD_PURGE_MSG_MAX, on_purge_message, w);
}

void gw_purge_worker_fini(gw_worker_t *w)
{
    md_redis_free(w->purge_sub);
    w->purge_sub = NULL;
}
