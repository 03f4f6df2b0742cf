/*
 * cache.c - the gateway's side of caching: cache plans compiled from the
 * config, cache keys built from a request's rendered backend calls, the
 * fetches that fill the store (Redis first when configured, then the
 * backend), and the waits of requests coalesced onto another request's
 * fetch.
 *
 * Safety by construction: a key always holds the fully rendered backend
 * request (method, upstream, target, every rendered header), so whatever
 * input a backend's request uses (a param, a header, later a JWT claim) is
 * in its key. A fragment fetched for user 42 cannot answer user 7. A
 * forwarded Authorization is in it as a keyed digest (outbound.c); an
 * upstream's OAuth2 token is not: it is medley's own, the same for every
 * caller, and changes on each refresh.
 *
 * A fetch belongs to the worker, not to the request that started it: a
 * client that gives up does not cancel the fill the others wait for, and a
 * stale-while-revalidate refresh has no request at all. Fetches still
 * running when the worker stops are cancelled and their fills abandoned.
 *
 * A wait is a small heap object, because the fill may end on another
 * worker's thread after the waiting request is gone: the store notifies it
 * on the filler's thread, md_loop_post() carries it to the waiter's loop,
 * and only there does it touch the request (or, if the request cancelled
 * meanwhile, free itself).
 */
#include "gateway/internal.h"

#include "core/alloc.h"
#include "core/hash.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GW_MAX_KEY_INPUTS 32

int64_t gw_cache_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- key text ---- */

/* A bounded writer over caller memory: keys are built on the stack and
 * copied into the request pool once, so a hit costs no malloc. */
typedef struct kw {
    char *p;
    size_t len, cap;
    bool over;
} kw_t;

static void kw_put(kw_t *w, const char *s, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void kw_str(kw_t *w, const char *s)
{
    kw_put(w, s, strlen(s));
}

size_t gw_cache_escape(char *dst, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c && strchr("-._~/{}", c) != NULL);
        if (len + (plain ? 1 : 3) > cap)
            return SIZE_MAX;
        if (plain) {
            dst[len++] = (char)c;
        } else {
            dst[len++] = '%';
            dst[len++] = hex[c >> 4];
            dst[len++] = hex[c & 15];
        }
    }
    return len;
}

static void kw_escaped(kw_t *w, const char *s, size_t n)
{
    size_t len = w->over ? SIZE_MAX : gw_cache_escape(w->p + w->len, w->cap - w->len, s, n);
    if (len == SIZE_MAX)
        w->over = true;
    else
        w->len += len;
}

/* ---- plans ---- */

static int plan_fail(md_diag_t *diag, const char *file, const md_cache_conf_t *cc, const char *msg)
{
    snprintf(diag->file, sizeof(diag->file), "%s", file);
    diag->line = cc->line;
    diag->col = cc->col;
    snprintf(diag->msg, sizeof(diag->msg), "%s", msg);
    return MD_EINVAL;
}

/* Adds an input once (a variable used twice is one input). */
static int add_input(gw_cache_plan_t *p, md_str_t ns, md_str_t name)
{
    char label[300];
    snprintf(label, sizeof(label), "%.*s%s%.*s", (int)MD_MIN(ns.len, 16), ns.ptr, ns.len ? "." : "",
             (int)MD_MIN(name.len, 256), name.ptr);
    for (size_t i = 0; i < p->ninputs; i++)
        if (strcasecmp(p->inputs[i].label, label) == 0)
            return MD_OK;
    if (p->ninputs == GW_MAX_KEY_INPUTS)
        return MD_ETOOBIG;
    gw_key_input_t *in = &p->inputs[p->ninputs++];
    in->ns = ns;
    in->name = name;
    in->label = md_strdup(label);
    /* Headers, and the caller's identity (jwt., auth.), are one person's:
     * such answers are private to shared caches. */
    if ((ns.len == 6 && memcmp(ns.ptr, "header", 6) == 0) || (ns.len == 3 && memcmp(ns.ptr, "jwt", 3) == 0) ||
        (ns.len == 4 && memcmp(ns.ptr, "auth", 4) == 0))
        p->personal = true;
    return MD_OK;
}

static int add_template_inputs(gw_cache_plan_t *p, const md_template_t *t)
{
    for (size_t i = 0; i < md_template_nvars(t); i++) {
        md_str_t ns, name;
        md_template_var(t, i, &ns, &name);
        if (add_input(p, ns, name) != MD_OK)
            return MD_ETOOBIG;
    }
    return MD_OK;
}

/* `vary` entries as written: "name", "query.NAME" or "header.NAME" (the
 * loader checked them). */
static int add_vary_inputs(gw_cache_plan_t *p, const md_cache_conf_t *cc)
{
    for (size_t i = 0; i < cc->nvary; i++) {
        const char *v = cc->vary[i];
        const char *dot = strchr(v, '.');
        md_str_t ns = { v, 0 }, name = { v, strlen(v) };
        if (dot && ((dot - v == 5 && memcmp(v, "query", 5) == 0) || (dot - v == 6 && memcmp(v, "header", 6) == 0))) {
            ns.len = (size_t)(dot - v);
            name = (md_str_t){ dot + 1, strlen(dot + 1) };
        }
        if (add_input(p, ns, name) != MD_OK)
            return MD_ETOOBIG;
    }
    return MD_OK;
}

/* prefix "K|/path|METHOD|[name|]" and tags "e=/path\0[b=name\0]". */
static void plan_names(gw_cache_plan_t *p, char kind, const md_endpoint_conf_t *e, const char *backend)
{
    char buf[MD_CACHE_MAX_KEY];
    kw_t w = { buf, 0, sizeof(buf), false };
    kw_put(&w, &kind, 1);
    kw_put(&w, "|", 1);
    kw_escaped(&w, e->path, strlen(e->path));
    kw_put(&w, "|", 1);
    kw_str(&w, e->method);
    kw_put(&w, "|", 1);
    if (backend) {
        kw_escaped(&w, backend, strlen(backend));
        kw_put(&w, "|", 1);
    }
    p->prefix = md_strndup(buf, w.len);
    p->prefix_len = w.len;
    w.len = 0;
    kw_put(&w, "e=", 2);
    kw_escaped(&w, e->path, strlen(e->path));
    kw_put(&w, "", 1);
    if (backend) {
        kw_put(&w, "b=", 2);
        kw_escaped(&w, backend, strlen(backend));
        kw_put(&w, "", 1);
    }
    p->tags = md_malloc(w.len);
    memcpy(p->tags, buf, w.len);
    p->tags_len = w.len;
}

int gw_cache_plan_backend(gw_backend_t *gb, const md_endpoint_conf_t *e, const char *file, md_diag_t *diag)
{
    const md_cache_conf_t *cc = &gb->conf->cache;
    gw_cache_plan_t *p = &gb->cache;
    if (!cc->on)
        return MD_OK;
    p->conf = cc;
    p->inputs = md_calloc(GW_MAX_KEY_INPUTS, sizeof(*p->inputs));
    plan_names(p, 'b', e, gb->conf->name);
    p->personal = gb->conf->forward_authorization; /* one caller's answer */
    int rc = add_template_inputs(p, gb->target);
    for (size_t i = 0; i < gb->nheaders && rc == MD_OK; i++)
        rc = add_template_inputs(p, gb->headers[i].value);
    if (rc == MD_OK)
        rc = add_vary_inputs(p, cc);
    if (rc != MD_OK)
        return plan_fail(diag, file, cc, "cache: a backend's key may use at most 32 inputs (params, vary)");
    return MD_OK;
}

int gw_cache_plan_endpoint(gw_endpoint_t *ep, const char *file, md_diag_t *diag)
{
    const md_cache_conf_t *cc = &ep->conf->cache;
    gw_cache_plan_t *p = &ep->cache;
    if (!cc->on)
        return MD_OK;
    p->conf = cc;
    p->inputs = md_calloc(GW_MAX_KEY_INPUTS, sizeof(*p->inputs));
    plan_names(p, 'e', ep->conf, NULL);
    int rc = MD_OK;
    for (size_t i = 0; i < ep->nbackends && rc == MD_OK; i++) {
        const gw_backend_t *b = &ep->backends[i];
        p->personal |= b->conf->forward_authorization;
        rc = add_template_inputs(p, b->target);
        for (size_t j = 0; j < b->nheaders && rc == MD_OK; j++)
            rc = add_template_inputs(p, b->headers[j].value);
    }
    if (rc == MD_OK)
        rc = add_vary_inputs(p, cc);
    if (rc != MD_OK)
        return plan_fail(diag, file, cc, "cache: an endpoint's key may use at most 32 inputs (params, vary)");
    return MD_OK;
}

void gw_cache_plan_free(gw_cache_plan_t *p)
{
    for (size_t i = 0; i < p->ninputs; i++)
        md_free(p->inputs[i].label);
    md_free(p->inputs);
    md_free(p->prefix);
    md_free(p->tags);
    memset(p, 0, sizeof(*p));
}

/* ---- keys ---- */

static void key_request(kw_t *w, const md_config_t *cfg, const gw_inputs_t *in, const gw_backend_t *b,
                        const md_upstream_req_t *r)
{
    kw_put(w, "#", 1);
    kw_str(w, r->method);
    kw_put(w, " ", 1);
    kw_escaped(w, cfg->upstreams[b->upstream].name, strlen(cfg->upstreams[b->upstream].name));
    kw_put(w, " ", 1);
    kw_put(w, r->path, r->path_len);
    /* The configured headers only: trace context headers follow them and
     * differ on every request. */
    for (size_t i = 0; i < r->nheaders && i < b->nheaders; i++) {
        kw_put(w, "\n", 1);
        kw_put(w, r->headers[i].name, r->headers[i].name_len);
        kw_put(w, ":", 1);
        kw_put(w, r->headers[i].value, r->headers[i].value_len);
    }
    /* A forwarded Authorization follows them: its digest (never the
     * credential, which would reach Redis) or "~" when the caller sent none. */
    if (b->conf->forward_authorization) {
        char d[GW_DIGEST_LEN + 1];
        size_t n = gw_forwarded_digest(in, d);
        kw_str(w, "\nAuthorization:");
        kw_put(w, n ? d : "~", n ? n : 1);
    }
}

int gw_cache_key(const md_config_t *cfg, const gw_cache_plan_t *p, gw_inputs_t *in, const gw_backend_t *bs,
                 const md_upstream_req_t *reqs, size_t nreqs, md_buf_t *key, md_buf_t *tags)
{
    char kb[MD_CACHE_MAX_KEY], tb[MD_CACHE_MAX_TAGS];
    kw_t k = { kb, 0, sizeof(kb), false }, t = { tb, 0, sizeof(tb), false };
    kw_put(&k, p->prefix, p->prefix_len);
    kw_put(&t, p->tags, p->tags_len);
    for (size_t i = 0; i < p->ninputs; i++) {
        const gw_key_input_t *ki = &p->inputs[i];
        md_str_t v;
        kw_str(&k, ki->label);
        if (gw_lookup(in, ki->ns, ki->name, &v) != MD_OK) {
            kw_put(&k, "~|", 2); /* absent, which differs from empty */
            continue;
        }
        kw_put(&k, "=", 1);
        kw_escaped(&k, v.ptr, v.len);
        kw_put(&k, "|", 1);
        kw_put(&t, "i:", 2);
        kw_str(&t, ki->label);
        kw_put(&t, "=", 1);
        kw_escaped(&t, v.ptr, v.len);
        kw_put(&t, "", 1);
    }
    for (size_t i = 0; i < nreqs; i++)
        key_request(&k, cfg, in, &bs[i], &reqs[i]);
    if (k.over || t.over)
        return MD_ETOOBIG;
    /* Pool-backed buffers: the key lives as long as the request. */
    key->data = md_pool_strndup(in->req->pool, kb, k.len);
    key->len = k.len;
    tags->data = md_pool_alloc(in->req->pool, t.len ? t.len : 1);
    memcpy(tags->data, tb, t.len);
    tags->len = t.len;
    return MD_OK;
}

/* ---- waits ---- */

struct gw_wait {
    md_cache_waiter_t waiter;
    md_loop_t *loop;
    gw_wait_done_fn done;
    void *arg;
    md_cache_entry_t *e;
    int status;
    bool cancelled;             /* the request went away after the notification left */
};

/* On the waiter's loop. */
static void wait_deliver(void *arg)
{
    gw_wait_t *wt = arg;
    if (wt->cancelled)
        md_cache_entry_unref(wt->e);
    else
        wt->done(wt->arg, wt->e, wt->status);
    md_free(wt);
}

/* On the filler's thread: hand over to the waiter's own loop. */
static void wait_notify(md_cache_waiter_t *cw, md_cache_entry_t *e, int status)
{
    gw_wait_t *wt = (gw_wait_t *)cw;
    wt->e = e;
    wt->status = status;
    md_loop_post(wt->loop, wait_deliver, wt);
}

int gw_cache_lookup_wait(gw_worker_t *w, md_str_t key, gw_wait_done_fn done, void *arg, gw_wait_t **wait,
                         md_cache_entry_t **out, bool *refresh)
{
    gw_wait_t *wt = md_calloc(1, sizeof(*wt));
    wt->waiter.notify = wait_notify;
    wt->loop = w->loop;
    wt->done = done;
    wt->arg = arg;
    int rc = md_cache_lookup(w->gw->store, key.ptr, key.len, gw_cache_now_ms(), &wt->waiter, out, refresh);
    if (rc == MD_CACHE_WAIT)
        *wait = wt;
    else
        md_free(wt);
    return rc;
}

void gw_wait_cancel(gw_worker_t *w, gw_wait_t *wt, md_str_t key)
{
    if (md_cache_cancel_wait(w->gw->store, key.ptr, key.len, &wt->waiter))
        md_free(wt);
    else
        wt->cancelled = true; /* wait_deliver is on its way and frees it */
}

/* ---- fetches ---- */

struct gw_fetch {
    gw_worker_t *w;
    const gw_backend_t *b;
    md_pool_t *pool;            /* key, tags and the request copy */
    md_str_t key, tags;
    md_upstream_req_t req;
    md_upstream_call_t *call;
    md_redis_op_t *rop;
    md_cache_entry_t *fallback; /* stale-if-error material, or NULL */
    gw_fetch_done_fn done;      /* NULL once detached */
    void *arg;
    uint64_t start_us;
    uint64_t wire_bytes;        /* the backend's answer as read off the socket */
    gw_fetch_t *prev, *next;
};

static void fetch_free(gw_fetch_t *f)
{
    gw_worker_t *w = f->w;
    if (f->prev)
        f->prev->next = f->next;
    else
        w->fetches = f->next;
    if (f->next)
        f->next->prev = f->prev;
    md_cache_entry_unref(f->fallback);
    md_pool_destroy(f->pool);
    md_free(f);
}

/* The status a failure kind travels to waiters with (they turn it back
 * into a kind with gw_error_kind). */
static int kind_code(const char *kind)
{
    static const struct { const char *kind; int code; } map[] = {
        { "timeout", MD_ETIMEDOUT }, { "connect", MD_ECONNECT }, { "reset", MD_ERESET },
        { "tls", MD_ETLS },
        { "too_big", MD_ETOOBIG },   { "overloaded", MD_AGAIN },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(map); i++)
        if (strcmp(kind, map[i].kind) == 0)
            return map[i].code;
    return MD_EINVAL;
}

static void fetch_deliver(gw_fetch_t *f, md_cache_entry_t *e, md_cs_outcome_t cs, const char *kind,
                          const char *msg, int status)
{
    if (f->done)
        f->done(f->arg, e, cs, kind, msg, status, md_now_us() - f->start_us, f->wire_bytes);
    else
        md_cache_entry_unref(e);
    fetch_free(f);
}

/* The backend failed: serve the stale copy inside its error window, or
 * pass the failure on. */
static void fetch_failed(gw_fetch_t *f, const char *kind, const char *msg, int status)
{
    md_cache_t *store = f->w->gw->store;
    md_cache_entry_t *fb = f->fallback;
    if (fb && gw_cache_now_ms() < md_cache_entry_meta(fb)->error_until_ms) {
        md_cache_abandon(store, f->key.ptr, f->key.len, fb, kind_code(kind));
        f->fallback = NULL;
        fetch_deliver(f, fb, MD_CS_STALE_IF_ERROR, NULL, NULL, status);
        return;
    }
    md_cache_abandon(store, f->key.ptr, f->key.len, NULL, kind_code(kind));
    fetch_deliver(f, NULL, MD_CS_MISS, kind, msg, status);
}

/* Freshness of a new answer, from the policy (and, for `ttl: upstream`,
 * the answer's Cache-Control). ttl 0: do not store. */
static void fetch_meta(const md_cache_conf_t *cc, const char *cache_control, int64_t now, md_cache_meta_t *m)
{
    uint64_t ttl = cc->ttl_ms, swr = cc->swr_ms, sie = cc->sie_ms;
    if (cc->ttl_upstream) {
        md_cc_t pcc;
        md_cc_init(&pcc);
        md_cc_parse(&pcc, cache_control, strlen(cache_control));
        ttl = md_cc_shared_ttl_ms(&pcc);
        if (ttl && pcc.stale_while_revalidate > 0 && (uint64_t)pcc.stale_while_revalidate * 1000 > swr)
            swr = (uint64_t)pcc.stale_while_revalidate * 1000;
        if (ttl && pcc.stale_if_error > 0 && (uint64_t)pcc.stale_if_error * 1000 > sie)
            sie = (uint64_t)pcc.stale_if_error * 1000;
    }
    memset(m, 0, sizeof(*m));
    m->stored_ms = now;
    m->fresh_until_ms = now + (int64_t)ttl;
    m->stale_until_ms = m->fresh_until_ms + (ttl ? (int64_t)swr : 0);
    m->error_until_ms = m->fresh_until_ms + (ttl ? (int64_t)sie : 0);
}

/* Stores a shaped answer (or, when it must not be stored, hands it to the
 * waiters only) and copies it to Redis. */
static void fetch_store(gw_fetch_t *f, const md_buf_t *frag, const char *cache_control)
{
    gw_worker_t *w = f->w;
    int64_t now = gw_cache_now_ms();
    md_cache_meta_t m;
    fetch_meta(f->b->cache.conf, cache_control, now, &m);
    m.etag = md_hash64(frag->data, frag->len, 0);
    if (m.fresh_until_ms <= now) {
        md_cache_entry_t *e = md_cache_entry_new(frag->data, frag->len, &m);
        md_cache_abandon(w->gw->store, f->key.ptr, f->key.len, e, MD_OK);
        fetch_deliver(f, e, MD_CS_BYPASS, NULL, NULL, 200);
        return;
    }
    md_cache_entry_t *e = md_cache_fill(w->gw->store, f->key.ptr, f->key.len, frag->data, frag->len, &m,
                                        f->tags.ptr, f->tags.len, now);
    if (!e) {
        fetch_failed(f, "too_big", "cache key too long", 200);
        return;
    }
    if (w->redis) {
        md_buf_t rec;
        md_buf_init(&rec, frag->len + f->tags.len + 256);
        int64_t until = MD_MAX(m.stale_until_ms, m.error_until_ms);
        if (md_cache_record_encode(&m, f->tags.ptr, f->tags.len, frag->data, frag->len, &rec) == MD_OK)
            md_redis_set(w->redis, f->key.ptr, f->key.len, rec.data, rec.len, (uint64_t)(until - now));
        md_buf_free(&rec);
    }
    fetch_deliver(f, e, MD_CS_MISS, NULL, NULL, 200);
}

static void fetch_on_answer(md_upstream_result_t *res, void *arg)
{
    gw_fetch_t *f = arg;
    f->call = NULL;
    f->wire_bytes = res->wire_bytes;
    gw_outbound_unauthorized(f->w->gw, f->b->upstream, res); /* a 401 to an oauth2 token: fetch anew */
    char msg[160], err[128];
    md_buf_t frag;
    md_buf_init(&frag, f->b->conf->up->max_response_bytes);
    if (res->error != MD_OK) {
        fetch_failed(f, gw_error_kind(res->error), md_strerror(res->error), 0);
    } else if (res->status < 200 || res->status > 299) {
        snprintf(msg, sizeof(msg), "backend returned status %d", res->status);
        fetch_failed(f, "status", msg, res->status);
    } else {
        int rc = md_shape_apply(f->b->shape, res->body.data ? res->body.data : "", res->body.len, &frag, err,
                                sizeof(err));
        if (rc == MD_OK) {
            fetch_store(f, &frag, res->cache_control);
        } else {
            snprintf(msg, sizeof(msg), "%s%s", rc == MD_EINVAL ? "invalid JSON: " : "", err);
            fetch_failed(f, rc == MD_EINVAL ? "invalid_json" : rc == MD_ENOTFOUND ? "shape" : "too_big", msg,
                         res->status);
        }
    }
    md_buf_free(&frag);
    md_buf_free(&res->body);
}

static int fetch_call(gw_fetch_t *f)
{
    f->call = md_upstream_call(f->w->upstreams[f->b->upstream], &f->req, fetch_on_answer, f);
    return f->call ? MD_OK : MD_AGAIN;
}

/* Redis answered: a fresh record fills the store at once; anything else
 * goes on to the backend. */
static void fetch_on_redis(void *arg, int status, const char *val, size_t len)
{
    gw_fetch_t *f = arg;
    f->rop = NULL;
    md_cache_meta_t m;
    const char *tags, *data;
    size_t tagslen, dlen;
    int64_t now = gw_cache_now_ms();
    if (status == MD_OK && md_cache_record_decode(val, len, &m, &tags, &tagslen, &data, &dlen) == MD_OK &&
        now < m.fresh_until_ms) {
        md_cache_entry_t *e =
            md_cache_fill(f->w->gw->store, f->key.ptr, f->key.len, data, dlen, &m, tags, tagslen, now);
        if (e) {
            fetch_deliver(f, e, MD_CS_REDIS_HIT, NULL, NULL, 0);
            return;
        }
    }
    if (fetch_call(f) != MD_OK)
        fetch_failed(f, "overloaded", "too many calls queued for this upstream", 0);
}

/* Copies what the fetch needs beyond the request's life. */
static void fetch_copy(gw_fetch_t *f, md_str_t key, md_str_t tags, const md_upstream_req_t *r)
{
    md_pool_t *p = f->pool;
    f->key = (md_str_t){ md_pool_strndup(p, key.ptr, key.len), key.len };
    char *t = md_pool_alloc(p, tags.len ? tags.len : 1);
    memcpy(t, tags.ptr, tags.len);
    f->tags = (md_str_t){ t, tags.len };
    f->req = *r;
    f->req.path = md_pool_strndup(p, r->path, r->path_len);
    md_header_t *hs = r->nheaders ? md_pool_alloc(p, r->nheaders * sizeof(*hs)) : NULL;
    for (size_t i = 0; i < r->nheaders; i++) {
        hs[i] = r->headers[i];
        hs[i].name = md_pool_strndup(p, r->headers[i].name, r->headers[i].name_len);
        hs[i].value = md_pool_strndup(p, r->headers[i].value, r->headers[i].value_len);
    }
    f->req.headers = hs;
}

gw_fetch_t *gw_fetch_start(gw_worker_t *w, const gw_backend_t *b, md_str_t key, md_str_t tags,
                           const md_upstream_req_t *r, md_cache_entry_t *fallback, gw_fetch_done_fn done,
                           void *arg)
{
    gw_fetch_t *f = md_calloc(1, sizeof(*f));
    f->w = w;
    f->b = b;
    f->pool = md_pool_new(1024);
    f->fallback = fallback;
    f->done = done;
    f->arg = arg;
    f->start_us = md_now_us();
    fetch_copy(f, key, tags, r);
    f->next = w->fetches;
    if (w->fetches)
        w->fetches->prev = f;
    w->fetches = f;
    if (w->redis)
        f->rop = md_redis_get(w->redis, f->key.ptr, f->key.len, fetch_on_redis, f);
    if (!f->rop && fetch_call(f) != MD_OK) {
        md_cache_abandon(w->gw->store, f->key.ptr, f->key.len, NULL, MD_AGAIN);
        fetch_free(f);
        return NULL;
    }
    return f;
}

void gw_fetch_detach(gw_fetch_t *f)
{
    f->done = NULL;
    f->arg = NULL;
}

/* ---- lifecycle ---- */

void gw_cache_init(md_gateway_t *gw)
{
    const md_config_t *cfg = gw->cfg;
    bool any = false;
    for (size_t i = 0; i < gw->nendpoints && !any; i++) {
        const gw_endpoint_t *ep = &gw->endpoints[i];
        any = ep->cache.conf != NULL;
        for (size_t j = 0; j < ep->nbackends && !any; j++)
            any = ep->backends[j].cache.conf != NULL;
    }
    if (any)
        gw->store = md_cache_new(cfg->cache.max_memory, 0, cfg->cache.max_waiters, 0);
    gw_purge_init(gw);
}

void gw_cache_fini(md_gateway_t *gw)
{
    md_cache_free(gw->store);
    gw->store = NULL;
}

void gw_cache_worker_init(gw_worker_t *w)
{
    const md_config_t *cfg = w->gw->cfg;
    if (w->gw->store && cfg->cache.store == MD_CACHE_STORE_REDIS)
        w->redis = md_redis_new(w->loop, &cfg->cache);
    gw_purge_worker_init(w);
}

/* Fills still running end now: their waiters hear MD_ECANCELED. */
void gw_cache_worker_fini(gw_worker_t *w)
{
    while (w->fetches) {
        gw_fetch_t *f = w->fetches;
        md_upstream_cancel(f->call);
        md_redis_cancel(f->rop);
        md_cache_abandon(w->gw->store, f->key.ptr, f->key.len, NULL, MD_ECANCELED);
        fetch_free(f);
    }
    md_redis_free(w->redis);
    w->redis = NULL;
    gw_purge_worker_fini(w);
}
