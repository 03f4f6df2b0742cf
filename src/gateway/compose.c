/*
 * compose.c - one composite request: fan out to every backend at once,
 * shape each answer as it arrives, merge, respond.
 *
 * Partial-failure contract (docs/config.md): a backend is required unless
 * `optional: true`. The first required backend to fail ends the request at
 * once with 502 (504 for a timeout) naming it; the other calls are
 * cancelled. A failed optional backend leaves its key out, adds its name to
 * the X-Medley-Incomplete header and, when the endpoint sets errors_field,
 * an entry under that key. The endpoint deadline times out whatever is
 * still running.
 *
 * Caching (cache.c): a backend with a cache policy is looked up first. A
 * fresh or stale hit needs no call (a stale one starts a background
 * refresh); a miss starts a fill that the worker owns and this request
 * waits for; a lookup while another request's fill runs waits for that
 * fill (coalescing). An endpoint with its own policy caches the composed
 * view: a hit answers before any backend is considered.
 *
 * Every composed 200 carries an ETag (If-None-Match gets a 304), and an
 * endpoint with any cache policy also gets Cache-Control derived from its
 * parts and an RFC 9211 Cache-Status member per cached part.
 *
 * All state lives in the request's pool; release() is registered on the
 * pool and is the one place that cancels calls, waits and fills and drops
 * cache references.
 */
#include "gateway/internal.h"

#include "core/alloc.h"
#include "core/hash.h"
#include "json/write.h"

#include <stdio.h>
#include <string.h>

typedef struct gw_compose gw_compose_t;

typedef struct gw_call {
    gw_compose_t *c;
    const gw_backend_t *b;
    md_upstream_call_t *call;   /* non-NULL while in flight */
    gw_fetch_t *fetch;          /* the cache fill this call started and waits for */
    gw_wait_t *wait;            /* queued on another request's fill */
    md_cache_entry_t *entry;    /* the fragment when it came through the cache */
    md_str_t key;               /* cache key (pool); empty when not cached */
    int cs;                     /* md_cs_outcome_t; -1 when not cached */
    bool done;
    const char *kind;           /* NULL on success, else the failure kind */
    char message[160];
    md_buf_t frag;              /* the shaped fragment */
} gw_call_t;

struct gw_compose {
    gw_worker_t *w;
    md_http_req_t *req;
    const gw_endpoint_t *ep;
    gw_call_t *calls;
    size_t pending;
    md_timer_t deadline;
    bool finished;
    md_str_t view_key;          /* the endpoint view this request must fill, if any */
};

/* Stops whatever call k still waits on (a fill it started goes on alone). */
static void stop_call(gw_compose_t *c, gw_call_t *k)
{
    md_upstream_cancel(k->call);
    k->call = NULL;
    if (k->fetch)
        gw_fetch_detach(k->fetch);
    k->fetch = NULL;
    if (k->wait)
        gw_wait_cancel(c->w, k->wait, k->key);
    k->wait = NULL;
}

static void release(void *arg)
{
    gw_compose_t *c = arg;
    md_timer_stop(c->req->loop, &c->deadline);
    for (size_t i = 0; i < c->ep->nbackends; i++) {
        stop_call(c, &c->calls[i]);
        md_cache_entry_unref(c->calls[i].entry);
        c->calls[i].entry = NULL;
        md_buf_free(&c->calls[i].frag);
    }
    if (c->view_key.len)
        md_cache_abandon(c->w->gw->store, c->view_key.ptr, c->view_key.len, NULL, MD_ECANCELED);
}

/* The Server-Timing header for the response, if telemetry wants one. */
static size_t timing_header(gw_compose_t *c, md_header_t *h)
{
    size_t len = 0;
    char *v = md_tm_server_timing(c->req->telemetry, c->req, &len);
    if (!v)
        return 0;
    *h = (md_header_t){ "Server-Timing", 13, v, len };
    return 1;
}

static void respond_backend_error(gw_compose_t *c, const gw_call_t *k)
{
    bool timeout = strcmp(k->kind, "timeout") == 0;
    char msg[256];
    snprintf(msg, sizeof(msg), "backend '%s' failed: %s", k->b->conf->name, k->message);
    md_buf_t extra;
    md_buf_init(&extra, 1024);
    md_buf_append_str(&extra, "\"backend\":");
    md_json_write_string(&extra, k->b->conf->name, strlen(k->b->conf->name));
    md_buf_printf(&extra, ",\"reason\":\"%s\"", k->kind);
    c->finished = true;
    md_header_t st;
    size_t nst = timing_header(c, &st);
    md_http_respond_error_h(c->req, timeout ? 504 : 502, timeout ? "backend_timeout" : "backend_failed", msg,
                            extra.data, &st, nst);
    md_buf_free(&extra);
}

/* {"name":{"error":"kind","message":"..."},...} for failed optional backends. */
static void errors_json(gw_compose_t *c, md_buf_t *out, md_buf_t *names)
{
    md_buf_append_char(out, '{');
    for (size_t i = 0; i < c->ep->nbackends; i++) {
        const gw_call_t *k = &c->calls[i];
        if (!k->kind)
            continue;
        if (out->len > 1)
            md_buf_append_char(out, ',');
        if (names->len)
            md_buf_append(names, ", ", 2);
        md_buf_append_str(names, k->b->conf->name);
        md_json_write_string(out, k->b->conf->name, strlen(k->b->conf->name));
        md_buf_printf(out, ":{\"error\":\"%s\",\"message\":", k->kind);
        md_json_write_string(out, k->message, strlen(k->message));
        md_buf_append_char(out, '}');
    }
    md_buf_append_char(out, '}');
}

/* Cache-Status members and the Cache-Control of a composed answer, when
 * the endpoint caches anything. */
static void cache_headers(gw_compose_t *c, bool incomplete, md_buf_t *status, md_buf_t *cc)
{
    bool any = c->ep->cache.conf != NULL, all = true, personal = c->ep->cache.personal;
    int64_t now = gw_cache_now_ms(), min_ttl = INT64_MAX;
    for (size_t i = 0; i < c->ep->nbackends; i++) {
        const gw_call_t *k = &c->calls[i];
        const gw_cache_plan_t *p = &k->b->cache;
        if (!p->conf) {
            all = false;
            continue;
        }
        any = true;
        personal |= p->personal;
        if (k->cs < 0 || !k->entry) {
            all = false;
            continue;
        }
        const md_cache_meta_t *m = md_cache_entry_meta(k->entry);
        int64_t ttl = (m->fresh_until_ms - now) / 1000;
        min_ttl = MD_MIN(min_ttl, ttl);
        char name[96];
        snprintf(name, sizeof(name), "medley.%s", k->b->conf->name);
        md_cache_status_append(status, name, (md_cs_outcome_t)k->cs, ttl, 0,
                               k->cs == MD_CS_MISS || k->cs == MD_CS_REDIS_HIT);
        /* Fresh parts only: a stale or uncacheable part makes the whole
         * answer one to revalidate. */
        all &= ttl > 0 && k->cs != MD_CS_BYPASS && k->cs != MD_CS_STALE && k->cs != MD_CS_STALE_IF_ERROR;
    }
    if (any)
        md_cc_compose(incomplete, all, min_ttl > 0 && min_ttl != INT64_MAX ? (uint64_t)min_ttl : 0, personal, cc);
}

/* Stores the composed view when this request is its filler. */
static void fill_view(gw_compose_t *c, const md_buf_t *body, uint64_t etag)
{
    if (!c->view_key.len)
        return;
    int64_t now = gw_cache_now_ms();
    md_cache_meta_t m = { .stored_ms = now, .etag = etag };
    m.fresh_until_ms = m.stale_until_ms = m.error_until_ms = now + c->ep->cache.conf->ttl_ms;
    const gw_cache_plan_t *p = &c->ep->cache;
    md_cache_entry_unref(md_cache_fill(c->w->gw->store, c->view_key.ptr, c->view_key.len, body->data, body->len,
                                       &m, p->tags, p->tags_len, now));
    c->view_key.len = 0;
}

/* Answers 200, or 304 when the client already holds this ETag. */
static void respond_ok(md_http_req_t *req, md_header_t *hs, size_t nh, md_buf_t *body, uint64_t hash)
{
    char etag[18];
    md_etag_format(hash, etag);
    hs[nh++] = (md_header_t){ "ETag", 4, etag, sizeof(etag) };
    const md_header_t *inm = md_header_find(req->headers, req->num_headers, "if-none-match");
    if (inm && md_etag_match(inm->value, inm->value_len, etag, sizeof(etag))) {
        md_buf_free(body);
        md_http_respond(req, 304, hs + 1, nh - 1, NULL, 0); /* no Content-Type on a 304 */
        return;
    }
    md_http_respond_buf(req, 200, hs, nh, body);
}

static void respond_merged(gw_compose_t *c)
{
    size_t n = c->ep->nbackends;
    md_fragment_t *frags = md_pool_alloc(c->req->pool, n * sizeof(*frags));
    bool incomplete = false;
    for (size_t i = 0; i < n; i++) {
        const gw_call_t *k = &c->calls[i];
        if (k->entry)
            frags[i].json = md_cache_entry_data(k->entry, &frags[i].len);
        else
            frags[i] = (md_fragment_t){ k->kind ? NULL : k->frag.data, k->frag.len };
        incomplete |= k->kind != NULL;
    }
    md_buf_t errs, names, body, cs, cc;
    md_buf_init(&errs, 64 * 1024);
    md_buf_init(&names, 4096);
    md_buf_init(&body, 0);
    md_buf_init(&cs, 4096);
    md_buf_init(&cc, 128);
    if (incomplete)
        errors_json(c, &errs, &names);
    const char *field = names.len ? c->ep->conf->errors_field : NULL;
    c->finished = true;
    if (md_merge_write(c->ep->merge, frags, field, errs.data, errs.len, &body) != MD_OK) {
        md_buf_free(&body);
        md_http_respond_error(c->req, 502, "merge_failed", "backend answers could not be merged", NULL);
    } else {
        md_header_t hs[8] = { { "Content-Type", 12, "application/json", 16 } };
        size_t nh = 1;
        if (names.len)
            hs[nh++] = (md_header_t){ "X-Medley-Incomplete", 19, names.data, names.len };
        nh += timing_header(c, &hs[nh]);
        cache_headers(c, incomplete, &cs, &cc);
        if (cs.len)
            hs[nh++] = (md_header_t){ "Cache-Status", 12, cs.data, cs.len };
        if (cc.len)
            hs[nh++] = (md_header_t){ "Cache-Control", 13, cc.data, cc.len };
        md_tm_req_t *t = c->req->telemetry;
        if (t)
            t->incomplete = names.len > 0;
        if (incomplete) {
            md_http_respond_buf(c->req, 200, hs, nh, &body);
        } else {
            uint64_t hash = md_hash64(body.data, body.len, 0);
            fill_view(c, &body, hash);
            respond_ok(c->req, hs, nh, &body, hash);
        }
    }
    md_buf_free(&errs);
    md_buf_free(&names);
    md_buf_free(&cs);
    md_buf_free(&cc);
}

/* Called whenever a call completes: fail fast on a required failure, or
 * respond once nothing is pending. */
static void progress(gw_compose_t *c, gw_call_t *k)
{
    if (c->finished)
        return;
    if (k && k->kind && !k->b->conf->optional) {
        respond_backend_error(c, k);
        return;
    }
    if (c->pending == 0)
        respond_merged(c);
}

static void fail_call(gw_call_t *k, const char *kind, const char *fmt, const char *detail)
{
    k->kind = kind;
    snprintf(k->message, sizeof(k->message), fmt, detail);
}

static void shape_answer(gw_call_t *k, md_upstream_result_t *res)
{
    if (res->error != MD_OK) {
        fail_call(k, gw_error_kind(res->error), "%s", md_strerror(res->error));
        return;
    }
    if (res->status < 200 || res->status > 299) {
        char st[16];
        snprintf(st, sizeof(st), "%d", res->status);
        fail_call(k, "status", "backend returned status %s", st);
        return;
    }
    char err[128];
    md_buf_init(&k->frag, k->b->conf->up->max_response_bytes);
    int rc = md_shape_apply(k->b->shape, res->body.data ? res->body.data : "", res->body.len, &k->frag, err,
                            sizeof(err));
    if (rc == MD_EINVAL)
        fail_call(k, "invalid_json", "invalid JSON: %s", err);
    else if (rc == MD_ENOTFOUND)
        fail_call(k, "shape", "%s", err);
    else if (rc != MD_OK)
        fail_call(k, "too_big", "%s", err);
}

static void on_answer(md_upstream_result_t *res, void *arg)
{
    gw_call_t *k = arg;
    k->call = NULL;
    k->done = true;
    k->c->pending--;
    gw_outbound_unauthorized(k->c->w->gw, k->b->upstream, res); /* a 401 to an oauth2 token: fetch anew */
    shape_answer(k, res);
    size_t i = (size_t)(k - k->c->calls);
    md_tm_call_end(k->c->req->telemetry, i, res->status, md_tm_outcome_of_kind(k->kind), res->duration_us);
    md_tm_call_bytes(k->c->req->telemetry, i, res->wire_bytes, k->kind ? 0 : k->frag.len);
    md_buf_free(&res->body);
    progress(k->c, k);
}

/* A cached call is answered. `called`: a backend call of this request's
 * own happened (its fill went to the backend), which telemetry counts as a
 * backend call; hits and shared fills are cache outcomes only. `wire_bytes`:
 * what that call read from the backend (0 when the cache answered). */
static void cached_call_end(gw_call_t *k, md_cache_entry_t *e, int cs, bool called, int status,
                            uint64_t duration_us, uint64_t wire_bytes)
{
    size_t i = (size_t)(k - k->c->calls), len = 0;
    k->done = true;
    k->entry = e;
    k->cs = cs;
    if (e)
        md_cache_entry_data(e, &len);
    md_tm_call_cache(k->c->req->telemetry, i, cs);
    md_tm_call_bytes(k->c->req->telemetry, i, wire_bytes, len);
    if (called)
        md_tm_call_end(k->c->req->telemetry, i, status, md_tm_outcome_of_kind(k->kind), duration_us);
}

static void on_fetched(void *arg, md_cache_entry_t *e, md_cs_outcome_t cs, const char *kind, const char *message,
                       int status, uint64_t duration_us, uint64_t wire_bytes)
{
    gw_call_t *k = arg;
    k->fetch = NULL;
    k->c->pending--;
    if (!e)
        fail_call(k, kind, "%s", message);
    cached_call_end(k, e, (int)cs, cs == MD_CS_MISS || cs == MD_CS_BYPASS, status, duration_us, wire_bytes);
    progress(k->c, k);
}

static void on_waited(void *arg, md_cache_entry_t *e, int status)
{
    gw_call_t *k = arg;
    k->wait = NULL;
    k->c->pending--;
    if (!e)
        fail_call(k, gw_error_kind(status), "the shared fetch failed: %s", md_strerror(status));
    cached_call_end(k, e, status == MD_OK ? MD_CS_COALESCED : MD_CS_STALE_IF_ERROR, false, 0, 0, 0);
    progress(k->c, k);
}

static void on_deadline(md_timer_t *t)
{
    gw_compose_t *c = t->data;
    gw_call_t *first_required = NULL;
    uint64_t now = md_now_us();
    for (size_t i = 0; i < c->ep->nbackends; i++) {
        gw_call_t *k = &c->calls[i];
        if (k->done)
            continue;
        md_tm_call_end(c->req->telemetry, i, 0, MD_TM_TIMEOUT, now - c->req->start_us);
        stop_call(c, k);
        k->done = true;
        c->pending--;
        fail_call(k, "timeout", "%s", "endpoint deadline exceeded");
        if (!k->b->conf->optional && !first_required)
            first_required = k;
    }
    progress(c, first_required);
}

static void on_abort(md_http_req_t *req)
{
    gw_compose_t *c = req->app_data;
    if (c->finished)
        return;
    c->finished = true;
    /* The client is gone; finishing frees the pool, and release() cancels. */
    md_http_respond(req, 499, NULL, 0, NULL, 0);
}

/* Looks a cached backend up. true when the cache took the call over (hit,
 * stale hit, a fill started or joined, or a failure to start one); false
 * when the backend must be called directly (no usable key, or too many
 * waiters on this key). */
static bool start_cached(gw_call_t *k, gw_inputs_t *in, const md_upstream_req_t *r, size_t i)
{
    gw_compose_t *c = k->c;
    gw_worker_t *w = c->w;
    md_buf_t key, tags;
    k->cs = MD_CS_BYPASS;
    if (gw_cache_key(w->gw->cfg, &k->b->cache, in, k->b, r, 1, &key, &tags) != MD_OK)
        return false;
    k->key = (md_str_t){ key.data, key.len };
    md_str_t tg = { tags.data, tags.len };
    md_cache_entry_t *e = NULL;
    bool refresh = false;
    int rc = md_cache_lookup(w->gw->store, key.data, key.len, gw_cache_now_ms(), NULL, &e, &refresh);
    if (rc == MD_CACHE_BUSY)
        rc = gw_cache_lookup_wait(w, k->key, on_waited, k, &k->wait, &e, &refresh);
    switch (rc) {
    case MD_CACHE_STALE:
        if (refresh)
            gw_fetch_start(w, k->b, k->key, tg, r, NULL, NULL, NULL);
        cached_call_end(k, e, MD_CS_STALE, false, 0, 0, 0);
        return true;
    case MD_CACHE_HIT:
        cached_call_end(k, e, MD_CS_HIT, false, 0, 0, 0);
        return true;
    case MD_CACHE_MISS:
        k->fetch = gw_fetch_start(w, k->b, k->key, tg, r, e, on_fetched, k);
        if (!k->fetch) {
            fail_call(k, "overloaded", "%s", "too many calls queued for this upstream");
            cached_call_end(k, NULL, MD_CS_MISS, true, 0, 0, 0);
            return true;
        }
        md_tm_call_start(c->req->telemetry, i);
        break;
    case MD_CACHE_WAIT:
        k->cs = MD_CS_COALESCED;
        break;
    default:
        return false;
    }
    c->pending++;
    return true;
}

static void start_call(gw_call_t *k, gw_inputs_t *in, const md_upstream_req_t *r, size_t i)
{
    gw_compose_t *c = k->c;
    k->cs = -1;
    if (k->b->cache.conf && c->w->gw->store && start_cached(k, in, r, i))
        return;
    k->call = md_upstream_call(c->w->upstreams[k->b->upstream], r, on_answer, k);
    if (k->call) {
        c->pending++;
        md_tm_call_start(c->req->telemetry, i);
    } else {
        k->done = true;
        fail_call(k, "overloaded", "%s", "too many calls queued for this upstream");
        md_tm_call_end(c->req->telemetry, i, 0, MD_TM_OVERLOADED, 0);
    }
}

/* The endpoint's cached view: true when it answered. Otherwise this
 * request may have become the view's filler (c->view_key). */
static bool serve_view(gw_compose_t *c, gw_inputs_t *in, const md_upstream_req_t *reqs)
{
    const gw_endpoint_t *ep = c->ep;
    md_cache_t *store = c->w->gw->store;
    md_buf_t key, tags;
    if (!ep->cache.conf || !store ||
        gw_cache_key(c->w->gw->cfg, &ep->cache, in, ep->backends, reqs, ep->nbackends, &key, &tags) != MD_OK)
        return false;
    md_cache_entry_t *e = NULL;
    bool refresh = false;
    int rc = md_cache_lookup(store, key.data, key.len, gw_cache_now_ms(), NULL, &e, &refresh);
    if (rc == MD_CACHE_MISS)
        c->view_key = (md_str_t){ key.data, key.len };
    if (rc != MD_CACHE_HIT) {
        md_cache_entry_unref(e);
        return false;
    }
    const md_cache_meta_t *m = md_cache_entry_meta(e);
    int64_t ttl = (m->fresh_until_ms - gw_cache_now_ms()) / 1000;
    md_buf_t body, cs, cc;
    size_t len;
    const char *data = md_cache_entry_data(e, &len);
    md_buf_init(&body, 0);
    md_buf_append(&body, data, len);
    md_buf_init(&cs, 256);
    md_buf_init(&cc, 128);
    md_cache_status_append(&cs, "medley", MD_CS_HIT, ttl, 0, false);
    md_cc_compose(false, true, ttl > 0 ? (uint64_t)ttl : 0, ep->cache.personal, &cc);
    md_header_t hs[4] = { { "Content-Type", 12, "application/json", 16 },
                          { "Cache-Status", 12, cs.data, cs.len },
                          { "Cache-Control", 13, cc.data, cc.len } };
    c->finished = true;
    respond_ok(c->req, hs, 3, &body, m->etag);
    md_cache_entry_unref(e);
    md_buf_free(&cs);
    md_buf_free(&cc);
    return true;
}

void gw_compose(gw_worker_t *w, const gw_endpoint_t *ep, gw_inputs_t *in)
{
    md_http_req_t *req = in->req;
    size_t n = ep->nbackends;
    char msg[256];
    md_upstream_req_t *ureqs = md_pool_calloc(req->pool, n * sizeof(*ureqs));
    uint64_t no_token = 0; /* backends whose upstream has no OAuth2 token now (n <= 32) */
    /* Render every call first: a bad input fails with no backend called. */
    for (size_t i = 0; i < n; i++) {
        int rc = gw_render_backend(&ep->backends[i], in, &ureqs[i], msg, sizeof(msg));
        if (rc == MD_ENOTFOUND) {
            no_token |= (uint64_t)1 << i;
        } else if (rc != MD_OK) {
            md_http_respond_error(req, 400, "invalid_input", msg, NULL);
            return;
        }
    }
    gw_compose_t *c = md_pool_calloc(req->pool, sizeof(*c));
    c->w = w;
    c->req = req;
    c->ep = ep;
    c->calls = md_pool_calloc(req->pool, n * sizeof(*c->calls));
    md_timer_init(&c->deadline, on_deadline, c);
    md_pool_on_release(req->pool, release, c);
    req->app_data = c;
    req->on_abort = on_abort;
    if (serve_view(c, in, ureqs))
        return;
    for (size_t i = 0; i < n; i++) {
        gw_call_t *k = &c->calls[i];
        k->c = c;
        k->b = &ep->backends[i];
        md_buf_init(&k->frag, 1);
        if (no_token >> i & 1) {
            k->done = true;
            fail_call(k, "auth", "no OAuth2 access token for upstream '%s'", k->b->conf->up->name);
        } else {
            start_call(k, in, &ureqs[i], i);
        }
    }
    md_timer_start(req->loop, &c->deadline, ep->conf->deadline_ms);
    /* One progress() call: it may finish the request, after which c is gone. */
    gw_call_t *failed = NULL;
    for (size_t i = 0; i < n && !failed; i++)
        if (c->calls[i].kind && !c->calls[i].b->conf->optional)
            failed = &c->calls[i];
    progress(c, failed);
}
