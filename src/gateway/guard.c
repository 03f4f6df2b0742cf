/*
 * guard.c - the gateway's CORS and rate limiting, between routing and the
 * backends (auth/cors.h and auth/ratelimit.h do the deciding; this file
 * wires them to requests and responses).
 *
 * Order in the request handler (gateway.c):
 *   1. route;
 *   2. a CORS preflight (OPTIONS + Origin + Access-Control-Request-Method)
 *      on a path served by an endpoint with CORS on is answered here, 204
 *      or 403, before routing would answer 405; preflights are not rate
 *      limited (browsers send them on their own and cache them max_age);
 *   3. the CORS headers of an actual request are attached to the request
 *      as the server's per-request extra headers (md_http_req_t
 *      extra_headers), so every answer carries them: composed, streamed,
 *      cached, 304, and every error (404, 400, 429, 502...), which browser
 *      scripts could not read otherwise;
 *   4. limits keyed by the client address or a header are taken right
 *      after routing, before the query is parsed: invalid requests count;
 *   5. limits keyed by the authenticated identity or a JWT claim are taken
 *      after parameter validation and authentication, so a bad credential
 *      never consumes someone else's tokens.
 * Both take phases come before any cache lookup or backend call.
 *
 * A request takes a token from every limit of its endpoint (in that
 * phase); the first empty bucket answers 429 (tokens already taken from
 * earlier limits stay taken). Responses carry RateLimit-Limit (the burst),
 * RateLimit-Remaining and RateLimit-Reset (seconds until the bucket is full)
 * of the limit with the fewest tokens left; a 429 adds Retry-After (whole
 * seconds, rounded up) and the JSON error {"code":"rate_limited",
 * "limit":"NAME"}.
 *
 * Buckets are kept in this process (md_ratelimit_t, shared by the worker
 * threads) unless the limit says `store: redis`: then every medley process
 * using the same Redis shares one bucket per key (cache/redis_limit.h), on
 * the worker's own connection (the cache's when it has one). A phase with
 * such a limit sends its Redis takes together (pipelined on the one
 * connection) and suspends the request; the last answer resumes it on the
 * same loop, and the limits are then decided in their configured order as
 * above. Limits in memory before the first Redis one are taken at once (a
 * denial there asks Redis nothing), those after it when the answers are in;
 * when one limit denies, the Redis limits of the phase listed after it have
 * still taken their token (they were asked together). A client that leaves
 * while waiting has its Redis calls cancelled (their callbacks never run)
 * and is finished with 499.
 *
 * Failure policy: Redis refusing the call (down, reconnecting), answering
 * late (the client's timeout closes the connection and fails the call) or
 * answering something that is not a valid decision makes that limit fall
 * back to this process's bucket for that request, counted in
 * medley_rate_limit_redis_total{outcome="fallback"}; a request never waits
 * longer than the Redis timeout. 429s are counted per endpoint and limit.
 */
#include "gateway/internal.h"

#include "cache/redis_limit.h"
#include "core/alloc.h"

#include <stdio.h>
#include <string.h>

#define GUARD_CORS_MAX MD_CORS_OUT_MAX
#define GUARD_RL_HEADERS 3               /* RateLimit-Limit, -Remaining, -Reset */
#define GUARD_NUM 24                     /* a decimal uint64 and its NUL */

/* Per-request state, in the request's pool: the extra headers the server
 * appends to the response (CORS first, then RateLimit-*). */
struct gw_guard_req {
    md_header_t headers[GUARD_CORS_MAX + GUARD_RL_HEADERS];
    size_t ncors;
    bool limited;                        /* a limit was taken: RateLimit-* follow */
    md_ratelimit_result_t tightest;
    char num[GUARD_RL_HEADERS][GUARD_NUM];
};

/* ---- startup ----------------------------------------------------------- */

static int guard_fail(md_diag_t *diag, const char *file, int line, int col, const char *msg)
{
    snprintf(diag->file, sizeof(diag->file), "%s", file);
    diag->line = line;
    diag->col = col;
    snprintf(diag->msg, sizeof(diag->msg), "%s", msg);
    return MD_EINVAL;
}

static int init_cors(md_gateway_t *gw, md_diag_t *diag)
{
    const md_cors_conf_t *k = &gw->cfg->cors;
    if (!k->on)
        return MD_OK;
    md_cors_opts_t o = {
        .origins = (const char *const *)k->origins, .n_origins = k->norigins,
        .methods = (const char *const *)k->methods, .n_methods = k->nmethods,
        .headers = (const char *const *)k->headers, .n_headers = k->nheaders,
        .expose = (const char *const *)k->expose, .n_expose = k->nexpose,
        .credentials = k->credentials, .max_age = k->max_age_s,
    };
    char err[256];
    if (md_cors_policy_new(&o, &gw->cors, err, sizeof(err)) != MD_OK)
        return guard_fail(diag, gw->cfg->file, k->line, k->col, err);
    return MD_OK;
}

int gw_guard_init(md_gateway_t *gw, md_diag_t *diag)
{
    const md_config_t *cfg = gw->cfg;
    if (init_cors(gw, diag) != MD_OK)
        return MD_EINVAL;
    if (!cfg->nrate_limits)
        return MD_OK;
    gw->limits = md_calloc(cfg->nrate_limits, sizeof(*gw->limits));
    for (size_t i = 0; i < cfg->nrate_limits; i++) {
        const md_rate_limit_conf_t *l = &cfg->rate_limits[i];
        md_ratelimit_limit_t lim = { .count = l->count, .period_ms = l->period_ms, .burst = l->burst };
        char err[256], msg[320];
        if (md_ratelimit_new(&lim, l->max_keys, &gw->limits[i], err, sizeof(err)) != MD_OK) {
            snprintf(msg, sizeof(msg), "rate limit '%s': %s", l->name, err);
            return guard_fail(diag, cfg->file, l->line, l->col, msg);
        }
    }
    return MD_OK;
}

void gw_guard_fini(md_gateway_t *gw)
{
    md_cors_policy_free(gw->cors);
    gw->cors = NULL;
    for (size_t i = 0; gw->limits && i < gw->cfg->nrate_limits; i++)
        md_ratelimit_free(gw->limits[i]);
    md_free(gw->limits);
    gw->limits = NULL;
}

/* ---- CORS ---------------------------------------------------------------- */

/* Whether endpoints serve this path (any method): PATH_NONE, only ones
 * with `cors: off` (PATH_OFF), or one with CORS on (PATH_CORS). */
enum { PATH_NONE, PATH_OFF, PATH_CORS };

static int path_cors(const md_gateway_t *gw, md_str_t path)
{
    md_str_t pvals[MD_PARAMS_MAX];
    int found = PATH_NONE;
    for (size_t i = 0; i < gw->nendpoints && found != PATH_CORS; i++)
        if (gw_match_path(&gw->endpoints[i], path, pvals))
            found = gw->endpoints[i].conf->cors_off ? PATH_OFF : PATH_CORS;
    return found;
}

bool gw_guard_preflight(md_gateway_t *gw, md_http_req_t *req)
{
    if (!gw->cors || !md_cors_is_preflight(req->method.ptr, req->method.len, req->headers, req->num_headers) ||
        path_cors(gw, req->path) != PATH_CORS)
        return false;
    md_cors_result_t out;
    if (md_cors_preflight(gw->cors, req->headers, req->num_headers, &out) == MD_OK) {
        md_http_respond(req, 204, out.headers, out.n, NULL, 0);
        return true;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "CORS preflight refused: %s", out.refusal ? out.refusal : "not allowed");
    md_http_respond_error_h(req, 403, "cors_refused", msg, NULL, out.headers, out.n);
    return true;
}

gw_guard_req_t *gw_guard_begin(md_gateway_t *gw, const gw_endpoint_t *ep, md_http_req_t *req)
{
    /* No endpoint: a 404 carries CORS headers, a 405 on a path whose
     * endpoints all opted out does not. */
    bool cors = gw->cors && (ep ? !ep->conf->cors_off : path_cors(gw, req->path) != PATH_OFF);
    if (!cors && !(ep && ep->conf->nrate_limits))
        return NULL;
    gw_guard_req_t *g = md_pool_calloc(req->pool, sizeof(*g));
    if (cors) {
        /* A refused Origin still gets the Vary header; the browser then
         * keeps the response from the page. */
        md_cors_result_t out;
        md_cors_actual(gw->cors, req->headers, req->num_headers, &out);
        memcpy(g->headers, out.headers, out.n * sizeof(out.headers[0]));
        g->ncors = out.n;
    }
    req->extra_headers = g->headers;
    req->num_extra_headers = g->ncors;
    return g;
}

/* ---- rate limits ------------------------------------------------------------ */

/* The bucket key of limit l for this request, into key (MD_RATELIMIT_KEY_MAX
 * bytes). Values that cannot be used (absent, empty, too long) fall back
 * to the client address, under a different prefix so that no header value
 * can pose as an address. Returns the length, 0 if there is none. */
static size_t limit_key(const md_rate_limit_conf_t *l, const gw_inputs_t *in, char *key)
{
    md_str_t v = { NULL, 0 };
    if (l->key == MD_RL_KEY_HEADER) {
        const md_header_t *h = md_header_find(in->req->headers, in->req->num_headers, l->key_name);
        if (h)
            v = (md_str_t){ h->value, h->value_len };
    } else if (l->key == MD_RL_KEY_AUTH) {
        v = in->identity;
    } else if (l->key == MD_RL_KEY_JWT && in->claim && in->claim(in, l->key_name, &v) != MD_OK) {
        v = (md_str_t){ NULL, 0 };
    }
    if (v.ptr && v.len > 0 && v.len <= MD_RATELIMIT_KEY_MAX - 2) {
        key[0] = "chaj"[l->key];
        key[1] = ':';
        memcpy(key + 2, v.ptr, v.len);
        return v.len + 2;
    }
    char addr[64];
    size_t n = md_http_client_addr(in->req, addr, sizeof(addr));
    if (n == 0)
        return 0;
    key[0] = '@';
    memcpy(key + 1, addr, n);
    return n + 1;
}

static const char *put_num(char *buf, uint64_t v)
{
    *md_put_u64(buf, v) = '\0';
    return buf;
}

/* (Re)writes the RateLimit-* headers after the CORS ones. */
static void set_headers(gw_guard_req_t *g, md_http_req_t *req)
{
    static const char *const names[GUARD_RL_HEADERS] = { "RateLimit-Limit", "RateLimit-Remaining",
                                                          "RateLimit-Reset" };
    const md_ratelimit_result_t *r = &g->tightest;
    const char *vals[GUARD_RL_HEADERS] = {
        put_num(g->num[0], r->limit),
        put_num(g->num[1], r->remaining),
        put_num(g->num[2], md_ratelimit_ceil_seconds(r->reset_ms)),
    };
    for (size_t i = 0; i < GUARD_RL_HEADERS; i++)
        g->headers[g->ncors + i] = (md_header_t){ names[i], strlen(names[i]), vals[i], strlen(vals[i]) };
    req->num_extra_headers = g->ncors + GUARD_RL_HEADERS;
}

static void deny(md_http_req_t *req, const md_rate_limit_conf_t *l, const md_ratelimit_result_t *r)
{
    char secs[GUARD_NUM], msg[128], extra[96]; /* names are at most 64 bytes */
    uint64_t s = md_ratelimit_ceil_seconds(r->retry_after_ms);
    put_num(secs, s);
    md_header_t h = { "Retry-After", 11, secs, strlen(secs) };
    snprintf(msg, sizeof(msg), "too many requests: retry after %llu s", (unsigned long long)s);
    /* The name is [A-Za-z0-9_.-] (the loader checked): safe inside JSON. */
    snprintf(extra, sizeof(extra), "\"limit\":\"%s\"", l->name);
    md_http_respond_error_h(req, 429, "rate_limited", msg, extra, &h, 1);
}

static bool in_phase(const md_rate_limit_conf_t *l, bool authenticated)
{
    return (l->key == MD_RL_KEY_AUTH || l->key == MD_RL_KEY_JWT) == authenticated;
}

static md_ratelimit_limit_t limit_of(const md_rate_limit_conf_t *l)
{
    return (md_ratelimit_limit_t){ .count = l->count, .period_ms = l->period_ms, .burst = l->burst };
}

/* Applies the decision of limit k: headers, and a counted 429 when it
 * denies (true). */
static bool apply(gw_worker_t *w, gw_inputs_t *in, size_t k, const md_ratelimit_result_t *r)
{
    gw_guard_req_t *g = in->guard;
    if (!g->limited || !r->allowed || r->remaining < g->tightest.remaining)
        g->tightest = *r;
    g->limited = true;
    set_headers(g, in->req);
    if (r->allowed)
        return false;
    gw_tm_rate_limited(w, in, k); /* before the answer frees the request */
    deny(in->req, &w->gw->cfg->rate_limits[k], r);
    return true;
}

/* Takes from this process's bucket of limit k; true when answered 429. */
static bool take_local(gw_worker_t *w, gw_inputs_t *in, size_t k, uint64_t now)
{
    char key[MD_RATELIMIT_KEY_MAX];
    size_t klen = limit_key(&w->gw->cfg->rate_limits[k], in, key);
    md_ratelimit_result_t r;
    if (klen == 0 || md_ratelimit_take(w->gw->limits[k], key, klen, now, &r) != MD_OK)
        return false; /* no address to count by (a Unix socket): nothing to limit */
    return apply(w, in, k, &r);
}

/* ---- limits shared in Redis ----------------------------------------------- */

enum { SLOT_DONE, SLOT_LOCAL, SLOT_ASKED };

typedef struct rl_wait rl_wait_t;

/* One limit of the phase. */
typedef struct rl_slot {
    rl_wait_t *wait;
    size_t limit;                        /* index into cfg->rate_limits */
    int state;                           /* SLOT_* */
    md_redis_op_t *op;                   /* ASKED: in flight; NULL once answered or refused */
    int status;                          /* ASKED: MD_OK when r is Redis's decision */
    md_ratelimit_result_t r;
} rl_slot_t;

/* A request waiting for Redis, in its pool. */
struct rl_wait {
    gw_worker_t *w;
    gw_inputs_t *in;
    bool authenticated;
    size_t nslots, pending;
    rl_slot_t slots[];
};

static bool phase_uses_redis(const md_config_t *cfg, const md_endpoint_conf_t *e, bool authenticated)
{
    for (size_t i = 0; i < e->nrate_limits; i++) {
        const md_rate_limit_conf_t *l = &cfg->rate_limits[e->rate_limits[i]];
        if (l->redis && in_phase(l, authenticated))
            return true;
    }
    return false;
}

/* The slots in order once every answer is in: Redis's decisions, local
 * takes for the rest and for the calls that failed. True when answered. */
static bool decide(rl_wait_t *wt)
{
    gw_worker_t *w = wt->w;
    uint64_t now = md_loop_now_ms(wt->in->req->loop);
    for (size_t i = 0; i < wt->nslots; i++) {
        rl_slot_t *s = &wt->slots[i];
        bool denied = false;
        if (s->state == SLOT_LOCAL) {
            denied = take_local(w, wt->in, s->limit, now);
        } else if (s->state == SLOT_ASKED) {
            gw_tm_rate_limit_redis(w, s->status != MD_OK);
            denied = s->status == MD_OK ? apply(w, wt->in, s->limit, &s->r) : take_local(w, wt->in, s->limit, now);
        }
        if (denied)
            return true;
    }
    return false;
}

static void on_answer(void *arg, int status, const int64_t *v, size_t n)
{
    rl_slot_t *s = arg;
    rl_wait_t *wt = s->wait;
    md_ratelimit_limit_t lim = limit_of(&wt->w->gw->cfg->rate_limits[s->limit]);
    s->op = NULL;
    s->status = md_redis_limit_result(&lim, status, v, n, &s->r);
    if (--wt->pending > 0)
        return;
    md_http_req_t *req = wt->in->req;
    req->on_abort = NULL;
    req->app_data = NULL;
    /* Last use of wt: a 429 or the rest of the request may finish it. */
    if (!decide(wt))
        gw_limits_passed(wt->w, wt->in, wt->authenticated);
}

static void on_abort(md_http_req_t *req)
{
    rl_wait_t *wt = req->app_data;
    for (size_t i = 0; i < wt->nslots; i++) {
        md_redis_cancel(wt->slots[i].op);
        wt->slots[i].op = NULL;
    }
    md_http_respond(req, 499, NULL, 0, NULL, 0);
}

/* Sends slot s's take to Redis; a call that cannot start is decided
 * locally later (status stays an error). */
static void ask(rl_wait_t *wt, rl_slot_t *s)
{
    const md_rate_limit_conf_t *l = &wt->w->gw->cfg->rate_limits[s->limit];
    char key[MD_RATELIMIT_KEY_MAX];
    size_t klen = limit_key(l, wt->in, key);
    if (klen == 0) {
        s->state = SLOT_DONE; /* nothing to count by */
        return;
    }
    md_ratelimit_limit_t lim = limit_of(l);
    s->state = SLOT_ASKED;
    s->status = MD_ECONNECT;
    s->op = md_redis_limit_take(wt->w->rl_redis, &lim, l->name, key, klen, on_answer, s);
    wt->pending += s->op != NULL;
}

/* The phase when one of its limits is in Redis. True when answered or
 * suspended. */
static bool limit_shared(gw_worker_t *w, gw_inputs_t *in, bool authenticated)
{
    const md_config_t *cfg = w->gw->cfg;
    const md_endpoint_conf_t *e = in->ep->conf;
    md_http_req_t *req = in->req;
    rl_wait_t *wt = md_pool_calloc(req->pool, sizeof(*wt) + e->nrate_limits * sizeof(rl_slot_t));
    wt->w = w;
    wt->in = in;
    wt->authenticated = authenticated;
    uint64_t now = md_loop_now_ms(req->loop);
    bool asked = false;
    for (size_t i = 0; i < e->nrate_limits; i++) {
        const md_rate_limit_conf_t *l = &cfg->rate_limits[e->rate_limits[i]];
        if (!in_phase(l, authenticated))
            continue;
        rl_slot_t *s = &wt->slots[wt->nslots++];
        *s = (rl_slot_t){ .wait = wt, .limit = e->rate_limits[i], .state = SLOT_LOCAL };
        if (l->redis) {
            asked = true;
            ask(wt, s);
        } else if (!asked) {
            s->state = SLOT_DONE; /* before any Redis limit: now */
            if (take_local(w, in, s->limit, now))
                return true;
        }
    }
    if (wt->pending == 0) /* Redis refused every call: all local, now */
        return decide(wt);
    req->app_data = wt;
    req->on_abort = on_abort;
    return true;
}

/* ---- the phases ------------------------------------------------------------- */

bool gw_guard_limit(gw_worker_t *w, gw_inputs_t *in, bool authenticated)
{
    const md_endpoint_conf_t *e = in->ep->conf;
    if (!in->guard)
        return false;
    if (w->rl_redis && phase_uses_redis(w->gw->cfg, e, authenticated))
        return limit_shared(w, in, authenticated);
    uint64_t now = md_loop_now_ms(in->req->loop);
    for (size_t i = 0; i < e->nrate_limits; i++) {
        size_t k = e->rate_limits[i];
        if (in_phase(&w->gw->cfg->rate_limits[k], authenticated) && take_local(w, in, k, now))
            return true;
    }
    return false;
}

static bool any_redis_limit(const md_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nrate_limits; i++)
        if (cfg->rate_limits[i].redis)
            return true;
    return false;
}

void gw_guard_worker_init(gw_worker_t *w)
{
    const md_config_t *cfg = w->gw->cfg;
    if (!any_redis_limit(cfg))
        return;
    w->rl_redis = w->redis; /* one connection per worker when the cache has one */
    if (!w->rl_redis) {
        w->rl_redis = md_redis_new(w->loop, &cfg->cache);
        w->rl_redis_owned = true;
    }
}

void gw_guard_worker_fini(gw_worker_t *w)
{
    if (w->rl_redis_owned)
        md_redis_free(w->rl_redis);
    w->rl_redis = NULL;
    w->rl_redis_owned = false;
}
