/*
 * outbound.c - credentials fetched in the background: OAuth 2.0 client
 * credentials tokens medley sends to upstreams with `oauth2:`, the key
 * sets (JWKS) of jwt providers with `jwks_url`; and the caller's own
 * Authorization header for backends with `forward_authorization: true`.
 *
 * One "outbound" thread runs its own md_loop_t with one upstream client
 * (upstream/client.c) per token endpoint and per JWKS URL, so every fetch
 * for every worker happens there, one at a time per credential, with the
 * client's timeouts and size caps. Why a thread and not a worker's loop:
 * a credential outlives any worker's requests, must be fetched before the
 * first request, and a slow identity provider must never stall a worker.
 * Requests may ask for an early fetch (refresh.h: coalesced, at most one
 * forced fetch per 10 s per credential): a token naming an unknown kid
 * (auth.c, which waits for the fetch), a backend answering 401 to a token
 * that is still current (compose.c and cache.c; nobody waits, and that
 * 401 is not retried).
 *
 * Each oauth2 upstream has a slot holding an atomic pointer to an
 * immutable token ("Bearer ..." and its expiry). Workers copy the header
 * into the request's pool without taking a lock: they bump a shared
 * reader count, load the pointer, copy, drop the count. The outbound
 * thread swaps in a new token and frees an old one only once it sees no
 * reader (sequentially consistent atomics make that sound: a reader that
 * counted itself before the swap is seen, one that counts itself after
 * loads the new pointer).
 *
 * A token is refreshed at 80% of its life (expires_in measured from when
 * the request was sent). A failure is retried after 1 s, doubling to 30 s,
 * while the old token keeps being used until it expires; after that, calls
 * to the upstream fail with kind "auth". Neither the client secret nor any
 * token is ever logged; the form body holding the secret is wiped after
 * use and tokens are wiped when freed.
 *
 * Key sets. A jwks_url provider's set lives in an md_jwks_slot_t (owned
 * here, so it outlives gw_auth_fini, which md_gateway_free runs first):
 * a 200 that md_jwks_parse accepts replaces it, anything else keeps the
 * previous set, is logged once per streak of the same reason and retried
 * after 1 s, doubling to 60 s; a success is re-fetched after jwks_refresh.
 * Until the first set arrives, the slot is empty and auth.c answers 503.
 *
 * Forwarded Authorization. The caller's header goes to the backend as is;
 * a cache key holds a keyed digest of it (SipHash-128, random key per
 * process), never the credential itself, so Redis and purge tags see no
 * tokens and two different tokens never share a key.
 */
#include "gateway/internal.h"

#include "auth/jwks.h"
#include "auth/secret.h"
#include "core/alloc.h"
#include "json/scan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOKEN_MAX_BYTES 8192          /* an access token; larger is refused */
#define TOKEN_MAX_JSON_TOKENS 256     /* a token answer is a small flat object */
#define TOKEN_DEFAULT_LIFE_S 300      /* when expires_in is absent: be careful */
#define TOKEN_MAX_LIFE_S (366 * 86400)
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS 30000
#define JWKS_RETRY_MAX_MS 60000
#define RECLAIM_MS 50                 /* re-check for readers of a retired token */
#define FORM_MAX_BYTES (64 * 1024)

typedef struct gw_token {
    struct gw_token *next;            /* on the retired list */
    uint64_t expires_ms;              /* monotonic */
    uint64_t published_us;            /* monotonic: calls sent before it carried an older token */
    size_t len;
    char value[];                     /* "Bearer <token>" */
} gw_token_t;

/* What every background credential has: its URL's client, the scheduled
 * fetch, the retry delay and the early-fetch bookkeeping. The first member
 * of gw_oauth_t and gw_jwks_src_t, so the timer and forced-fetch handlers
 * serve both; `fetch` is what differs. */
typedef struct gw_fetch_src gw_fetch_src_t;
struct gw_fetch_src {
    struct gw_outbound *ob;
    md_upstream_conf_t idp;           /* the credential's URL, base_path "" */
    md_upstream_t *client;            /* client..retry_ms: outbound thread only */
    md_upstream_call_t *call;
    md_timer_t timer;
    uint32_t retry_ms;
    void (*fetch)(gw_fetch_src_t *);  /* sends the request; the caller holds the refresh's fetch */
    atomic_bool attempted;            /* the first fetch ended, either way */
    gw_refresh_t refresh;             /* any thread; initialized when the credential is configured */
};

typedef struct gw_oauth {
    gw_fetch_src_t src;               /* first: a gw_fetch_src_t * is a gw_oauth_t * */
    const md_upstream_conf_t *up;     /* NULL: this upstream has no oauth2 */
    uint64_t sent_ms;
    _Atomic(gw_token_t *) current;
} gw_oauth_t;

/* A jwt provider's jwks_url. */
typedef struct gw_jwks_src {
    gw_fetch_src_t src;               /* first: a gw_fetch_src_t * is a gw_jwks_src_t * */
    const md_auth_provider_conf_t *conf; /* NULL: not a jwks_url provider */
    char last_why[256];               /* outbound thread: the failure logged last; "" while fetches succeed */
    md_jwks_slot_t *slot;             /* any thread; empty until the first good fetch */
} gw_jwks_src_t;

struct gw_outbound {
    pthread_t thread;
    bool running, failed;             /* the thread was started / could not be (under mu) */
    md_loop_t *loop;
    pthread_mutex_t mu;
    pthread_cond_t cv;                /* the first attempts, on CLOCK_MONOTONIC */
    gw_oauth_t *slots;                /* one per cfg->upstreams */
    size_t nslots;
    gw_jwks_src_t *jwks;              /* one per cfg->auth.providers */
    size_t njwks;
    bool stopping;                    /* outbound thread: its loop ended, start nothing */
    atomic_uint readers;
    gw_token_t *retired;              /* outbound thread only */
    md_timer_t reclaim;
};

static uint64_t now_ms(void)
{
    return md_now_us() / 1000;
}

/* ---- tokens ---- */

static void token_free(gw_token_t *t)
{
    if (!t)
        return;
    explicit_bzero(t->value, t->len);
    md_free(t);
}

/* Frees the retired tokens once no worker is reading; else looks again soon. */
static void reclaim(gw_outbound_t *ob)
{
    if (atomic_load(&ob->readers) != 0) {
        if (!md_timer_active(&ob->reclaim))
            md_timer_start(ob->loop, &ob->reclaim, RECLAIM_MS);
        return;
    }
    while (ob->retired) {
        gw_token_t *t = ob->retired;
        ob->retired = t->next;
        token_free(t);
    }
}

static void on_reclaim(md_timer_t *t)
{
    reclaim(t->data);
}

static void publish(gw_oauth_t *o, const char *tok, size_t len, uint64_t life_s)
{
    gw_token_t *t = md_malloc(sizeof(*t) + 7 + len + 1);
    t->next = NULL;
    t->expires_ms = o->sent_ms + life_s * 1000;
    t->published_us = md_now_us();
    t->len = 7 + len;
    memcpy(t->value, "Bearer ", 7);
    memcpy(t->value + 7, tok, len);
    t->value[t->len] = '\0';
    gw_token_t *old = atomic_exchange(&o->current, t);
    if (old) {
        old->next = o->src.ob->retired;
        o->src.ob->retired = old;
        reclaim(o->src.ob);
    }
}

int gw_outbound_bearer(md_gateway_t *gw, size_t upstream, md_pool_t *pool, md_header_t *h)
{
    gw_outbound_t *ob = gw->outbound;
    if (!ob || upstream >= ob->nslots || !ob->slots[upstream].up)
        return 0;
    gw_oauth_t *o = &ob->slots[upstream];
    int rc = MD_ERR;
    atomic_fetch_add(&ob->readers, 1);
    gw_token_t *t = atomic_load(&o->current);
    if (t && now_ms() < t->expires_ms) {
        *h = (md_header_t){ "Authorization", 13, md_pool_strndup(pool, t->value, t->len), t->len };
        rc = 1;
    }
    atomic_fetch_sub(&ob->readers, 1);
    return rc;
}

/* ---- the token answer ---- */

/* The raw text of string token t when it has no escapes but "\/" (some
 * serializers escape every '/'), unescaped into out. 0 if unusable. */
static size_t plain_string(const char *json, const md_json_tok_t *t, char *out, size_t cap)
{
    const char *s = json + t->off + 1;
    size_t n = t->len - 2, len = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && (i + 1 == n || s[++i] != '/'))
            return 0;
        if (len == cap)
            return 0;
        out[len++] = s[i];
    }
    return len;
}

/* The plain text of string member `key` of object `obj` into out; 0 when
 * absent, not a string, too long or escaped beyond "\/". */
static size_t member_string(const char *json, const md_json_tok_t *t, uint32_t obj, const char *key, char *out,
                            size_t cap)
{
    uint32_t v = md_json_member(json, t, obj, key, strlen(key));
    return v != MD_JSON_NONE && t[v].type == MD_JSON_STRING ? plain_string(json, &t[v], out, cap) : 0;
}

/* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool is_b64token(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (strchr("-._~+/", s[i]) || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
                     (s[i] >= 'A' && s[i] <= 'Z')) && s[i])
        i++;
    if (i == 0)
        return false;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

/* expires_in: a positive integer, as a number or (some providers) a string. */
static int life_of(const char *json, const md_json_tok_t *toks, uint32_t v, uint64_t *life_s)
{
    if (v == MD_JSON_NONE) {
        *life_s = TOKEN_DEFAULT_LIFE_S;
        return MD_OK;
    }
    double d = -1;
    char digits[16];
    if (toks[v].type == MD_JSON_NUMBER) {
        d = md_json_number(json, &toks[v]);
    } else if (toks[v].type == MD_JSON_STRING) {
        size_t n = plain_string(json, &toks[v], digits, sizeof(digits) - 1);
        digits[n] = '\0';
        if (n > 0 && strspn(digits, "0123456789") == n)
            d = (double)strtoull(digits, NULL, 10);
    }
    if (!(d >= 1))
        return MD_EINVAL;
    *life_s = d > TOKEN_MAX_LIFE_S ? TOKEN_MAX_LIFE_S : (uint64_t)d;
    return MD_OK;
}

/* Checks a 200 answer and publishes its token. MD_OK, or MD_EINVAL with why. */
static int take_answer(gw_oauth_t *o, const md_buf_t *body, uint64_t *life_s, char *why, size_t whylen)
{
    md_json_toks_t toks;
    md_json_toks_init(&toks, TOKEN_MAX_JSON_TOKENS);
    uint32_t root;
    char err[128];
    const char *json = body->data ? body->data : "";
    int rc = MD_EINVAL;
    if (md_json_scan(&toks, json, body->len, &root, err, sizeof(err)) != MD_OK) {
        snprintf(why, whylen, "the answer is not JSON (%s)", err);
        goto out;
    }
    const md_json_tok_t *t = toks.v;
    uint32_t ty = md_json_member(json, t, root, "token_type", 10);
    uint32_t ex = md_json_member(json, t, root, "expires_in", 10);
    char *tok = md_malloc(TOKEN_MAX_BYTES), type[16];
    size_t n = member_string(json, t, root, "access_token", tok, TOKEN_MAX_BYTES);
    size_t tn = member_string(json, t, root, "token_type", type, sizeof(type));
    if (n == 0 || !is_b64token(tok, n))
        snprintf(why, whylen, "the answer has no usable access_token (a string of at most %d token characters)",
                 TOKEN_MAX_BYTES);
    else if (ty != MD_JSON_NONE && !(tn == 6 && strncasecmp(type, "Bearer", 6) == 0))
        snprintf(why, whylen, "token_type is not Bearer");
    else if (life_of(json, t, ex, life_s) != MD_OK)
        snprintf(why, whylen, "expires_in is not a positive integer");
    else {
        publish(o, tok, n, *life_s);
        rc = MD_OK;
    }
    explicit_bzero(tok, TOKEN_MAX_BYTES);
    md_free(tok);
out:
    md_json_toks_free(&toks);
    return rc;
}

/* The OAuth error code of a failed answer ("invalid_client"), if it has a
 * plain one: safe to log, unlike error_description which may echo input. */
static void oauth_error(const md_buf_t *body, char *out, size_t cap)
{
    md_json_toks_t toks;
    md_json_toks_init(&toks, TOKEN_MAX_JSON_TOKENS);
    uint32_t root;
    char err[64];
    out[0] = '\0';
    if (body->data && md_json_scan(&toks, body->data, body->len, &root, err, sizeof(err)) == MD_OK) {
        size_t n = member_string(body->data, toks.v, root, "error", out, cap - 1);
        out[n] = '\0';
        if (strspn(out, "abcdefghijklmnopqrstuvwxyz_") != n)
            out[0] = '\0';
    }
    md_json_toks_free(&toks);
}

/* ---- fetching, either credential (outbound thread) ---- */

/* Marks a credential's first fetch as ended, for wait_first. */
static void first_attempt_done(gw_fetch_src_t *f)
{
    if (atomic_load(&f->attempted))
        return;
    pthread_mutex_lock(&f->ob->mu);
    atomic_store(&f->attempted, true);
    pthread_cond_broadcast(&f->ob->cv);
    pthread_mutex_unlock(&f->ob->mu);
}

/* Scheduled: the refresh (a token at 80% of its life, a key set after
 * jwks_refresh), or a retry. */
static void on_timer(md_timer_t *t)
{
    gw_fetch_src_t *f = t->data;
    if (gw_refresh_begin(&f->refresh)) /* else a forced fetch is on its way */
        f->fetch(f);
}

/* Posted by gw_outbound_unauthorized or gw_jwks_force, which won the
 * refresh's forced fetch. */
static void force_fetch(void *arg)
{
    gw_fetch_src_t *f = arg;
    if (f->ob->stopping || f->call) /* a running fetch's end serves the forced one too */
        return;
    if (!f->client) { /* an unusable URL: nothing to fetch, ever */
        gw_refresh_end(&f->refresh, false);
        return;
    }
    md_timer_stop(f->ob->loop, &f->timer);
    f->fetch(f);
}

/* The client and the first fetch (unless a forced one is on its way). A
 * URL whose bytes the client refuses (host or path) can never be fetched:
 * its first attempt ends at once, and forced fetches end as they start.
 * owner, name and url only word that refusal's message. */
static void start_fetch(gw_fetch_src_t *f, const char *owner, const char *name, const char *url)
{
    f->client = md_upstream_new(f->ob->loop, &f->idp, 1);
    if (!f->client) {
        fprintf(stderr, "medley: %s '%s': the %s cannot be used\n", owner, name, url);
        first_attempt_done(f);
    } else if (gw_refresh_begin(&f->refresh)) {
        f->fetch(f);
    }
}

/* Once the loop ended: nothing of the credential's may run any more. */
static void stop_fetch(gw_fetch_src_t *f)
{
    md_upstream_cancel(f->call);
    md_timer_stop(f->ob->loop, &f->timer);
    md_upstream_free(f->client);
}

/* ---- fetching tokens (outbound thread) ---- */

static void fetch_failed(gw_oauth_t *o, const char *why)
{
    gw_fetch_src_t *f = &o->src;
    f->retry_ms = gw_backoff_next(f->retry_ms, RETRY_FIRST_MS, RETRY_MAX_MS);
    fprintf(stderr, "medley: upstream '%s': cannot get an OAuth2 token from %s: %s; retrying in %u ms\n",
            o->up->name, o->up->oauth2->token.url, why, (unsigned)f->retry_ms);
    md_timer_start(f->ob->loop, &f->timer, f->retry_ms);
    gw_refresh_end(&f->refresh, false);
    first_attempt_done(f);
}

static void on_token(md_upstream_result_t *res, void *arg)
{
    gw_oauth_t *o = arg;
    gw_fetch_src_t *f = &o->src;
    char why[200], code[48];
    uint64_t life_s = 0;
    bool ok = false;
    f->call = NULL;
    if (res->error != MD_OK) {
        snprintf(why, sizeof(why), "%s", md_strerror(res->error));
    } else if (res->status != 200) {
        oauth_error(&res->body, code, sizeof(code));
        snprintf(why, sizeof(why), "status %d%s%s%s", res->status, code[0] ? " (" : "", code, code[0] ? ")" : "");
    } else if (take_answer(o, &res->body, &life_s, why, sizeof(why)) == MD_OK) {
        ok = true;
        f->retry_ms = 0;
        uint64_t at = o->sent_ms + life_s * 800, now = now_ms();
        md_timer_start(f->ob->loop, &f->timer, at > now + 1000 ? at - now : 1000);
        gw_refresh_end(&f->refresh, true);
        first_attempt_done(f);
    }
    if (res->body.data)
        explicit_bzero(res->body.data, res->body.len);
    md_buf_free(&res->body);
    if (!ok)
        fetch_failed(o, why);
}

/* application/x-www-form-urlencoded (RFC 6749 4.4.2, client_secret_post). */
static void form_value(md_buf_t *b, const char *name, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    md_buf_printf(b, "&%s=", name);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        bool plain = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     strchr("-._*", *p);
        char enc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
        if (*p == ' ')
            md_buf_append_char(b, '+');
        else if (plain)
            md_buf_append_char(b, (char)*p);
        else
            md_buf_append(b, enc, 3);
    }
}

/* Sends the token request; the caller holds the refresh's fetch. */
static void token_fetch(gw_fetch_src_t *f)
{
    gw_oauth_t *o = (gw_oauth_t *)f;
    const md_oauth2_conf_t *c = o->up->oauth2;
    md_buf_t form;
    md_buf_init(&form, FORM_MAX_BYTES);
    md_buf_append_str(&form, "grant_type=client_credentials");
    form_value(&form, "client_id", c->client_id);
    form_value(&form, "client_secret", c->client_secret);
    if (c->scope)
        form_value(&form, "scope", c->scope);
    static const md_header_t hs[] = {
        { "Content-Type", 12, "application/x-www-form-urlencoded", 33 },
        { "Accept", 6, "application/json", 16 },
    };
    const char *path = c->token.base_path[0] ? c->token.base_path : "/";
    md_upstream_req_t r = { "POST", path, strlen(path), hs, 2, form.data, form.len, 0 };
    o->sent_ms = now_ms();
    f->call = md_upstream_call(f->client, &r, on_token, o);
    if (form.data)
        explicit_bzero(form.data, form.len);
    md_buf_free(&form);
    if (!f->call)
        fetch_failed(o, "the token request could not be sent");
}

/* ---- fetching key sets (outbound thread) ---- */

/* How a JWKS fetch ended: schedules the next one, logs the first failure
 * of a streak (and each new reason), wakes the requests waiting on it. */
static void jwks_done(gw_jwks_src_t *s, bool ok, const char *why)
{
    const md_auth_provider_conf_t *c = s->conf;
    gw_fetch_src_t *f = &s->src;
    if (ok) {
        if (s->last_why[0])
            fprintf(stderr, "medley: auth provider '%s': JWKS fetched from %s again\n", c->name, c->jwks->url);
        s->last_why[0] = '\0';
        f->retry_ms = 0;
        md_timer_start(f->ob->loop, &f->timer, c->jwks_refresh_ms);
    } else {
        f->retry_ms = gw_backoff_next(f->retry_ms, RETRY_FIRST_MS, JWKS_RETRY_MAX_MS);
        if (strcmp(s->last_why, why) != 0)
            fprintf(stderr, "medley: auth provider '%s': cannot fetch the JWKS from %s: %s; keeping the previous "
                    "keys and retrying (1 s, doubling to 60 s)\n", c->name, c->jwks->url, why);
        snprintf(s->last_why, sizeof(s->last_why), "%s", why);
        md_timer_start(f->ob->loop, &f->timer, f->retry_ms);
    }
    gw_refresh_end(&f->refresh, ok);
    first_attempt_done(f);
}

static void on_jwks(md_upstream_result_t *res, void *arg)
{
    gw_jwks_src_t *s = arg;
    char why[256], err[200];
    bool ok = false;
    s->src.call = NULL;
    if (res->error != MD_OK) {
        snprintf(why, sizeof(why), "%s", md_strerror(res->error));
    } else if (res->status != 200) {
        snprintf(why, sizeof(why), "status %d", res->status);
    } else {
        md_jwks_t *ks = NULL;
        if (md_jwks_parse(res->body.data ? res->body.data : "", res->body.len, &ks, err, sizeof(err)) == MD_OK) {
            md_jwks_slot_replace(s->slot, ks);
            ok = true;
        } else {
            snprintf(why, sizeof(why), "not a usable JWKS: %s", err);
        }
    }
    md_buf_free(&res->body);
    jwks_done(s, ok, ok ? "" : why);
}

/* Sends the JWKS request; the caller holds the refresh's fetch. */
static void jwks_fetch(gw_fetch_src_t *f)
{
    gw_jwks_src_t *s = (gw_jwks_src_t *)f;
    static const md_header_t hs[] = { { "Accept", 6, "application/jwk-set+json, application/json", 42 } };
    const char *base = s->conf->jwks->base_path;
    const char *path = base[0] ? base : "/";
    md_upstream_req_t r = { "GET", path, strlen(path), hs, 1, NULL, 0, 0 };
    f->call = md_upstream_call(f->client, &r, on_jwks, s);
    if (!f->call)
        jwks_done(s, false, "the request could not be sent");
}

/* ---- the outbound thread ---- */

static void stop_loop(void *arg)
{
    gw_outbound_t *ob = arg;
    ob->stopping = true;
    md_loop_stop(ob->loop);
}

static void start_fetches(gw_outbound_t *ob)
{
    for (size_t i = 0; i < ob->nslots; i++)
        if (ob->slots[i].up)
            start_fetch(&ob->slots[i].src, "upstream", ob->slots[i].up->name, "OAuth2 token URL");
    for (size_t i = 0; i < ob->njwks; i++)
        if (ob->jwks[i].conf)
            start_fetch(&ob->jwks[i].src, "auth provider", ob->jwks[i].conf->name, "jwks_url");
}

static void *outbound_main(void *arg)
{
    gw_outbound_t *ob = arg;
    start_fetches(ob);
    md_loop_run(ob->loop);
    for (size_t i = 0; i < ob->nslots; i++)
        stop_fetch(&ob->slots[i].src);
    for (size_t i = 0; i < ob->njwks; i++)
        stop_fetch(&ob->jwks[i].src);
    md_timer_stop(ob->loop, &ob->reclaim);
    return NULL;
}

/* ---- requests asking for an early fetch (any thread) ---- */

void gw_outbound_unauthorized(md_gateway_t *gw, size_t upstream, const md_upstream_result_t *res)
{
    gw_outbound_t *ob = gw->outbound;
    if (res->error != MD_OK || res->status != 401 || !ob || !ob->running || upstream >= ob->nslots ||
        !ob->slots[upstream].up)
        return;
    gw_oauth_t *o = &ob->slots[upstream];
    /* The call carried the current token only if that token was published
     * before the call started; a 401 to an older one says nothing. */
    uint64_t now = md_now_us(), sent = now - MD_MIN(res->duration_us, now);
    atomic_fetch_add(&ob->readers, 1);
    gw_token_t *t = atomic_load(&o->current);
    bool current = t && t->published_us <= sent;
    atomic_fetch_sub(&ob->readers, 1);
    if (current && gw_refresh_force(&o->src.refresh, now / 1000, NULL) == GW_REFRESH_STARTED)
        md_loop_post(ob->loop, force_fetch, &o->src);
}

static gw_jwks_src_t *jwks_src(const md_gateway_t *gw, size_t provider)
{
    gw_outbound_t *ob = gw->outbound;
    return ob && provider < ob->njwks && ob->jwks[provider].conf ? &ob->jwks[provider] : NULL;
}

md_jwks_t *gw_jwks_acquire(md_gateway_t *gw, size_t provider)
{
    gw_jwks_src_t *s = jwks_src(gw, provider);
    return s ? md_jwks_slot_acquire(s->slot) : NULL;
}

int gw_jwks_force(md_gateway_t *gw, size_t provider, gw_refresh_waiter_t *w)
{
    gw_jwks_src_t *s = jwks_src(gw, provider);
    if (!s || !s->src.ob->running)
        return MD_ERR;
    int rc = gw_refresh_force(&s->src.refresh, md_now_us() / 1000, w);
    if (rc == GW_REFRESH_STARTED)
        md_loop_post(s->src.ob->loop, force_fetch, &s->src);
    return rc;
}

bool gw_jwks_cancel(md_gateway_t *gw, size_t provider, gw_refresh_waiter_t *w)
{
    gw_jwks_src_t *s = jwks_src(gw, provider);
    return s && gw_refresh_cancel(&s->src.refresh, w);
}

int gw_jwks_stats(md_gateway_t *gw, size_t provider, gw_refresh_stats_t *st)
{
    gw_jwks_src_t *s = jwks_src(gw, provider);
    if (!s)
        return MD_ENOTFOUND;
    gw_refresh_get_stats(&s->src.refresh, st);
    return MD_OK;
}

int gw_oauth_stats(md_gateway_t *gw, size_t upstream, gw_refresh_stats_t *st)
{
    gw_outbound_t *ob = gw->outbound;
    if (!ob || upstream >= ob->nslots || !ob->slots[upstream].up)
        return MD_ENOTFOUND;
    gw_refresh_get_stats(&ob->slots[upstream].src.refresh, st);
    return MD_OK;
}

/* ---- life cycle ---- */

/* Waits until every credential's first fetch ended, at most the longest
 * fetch timeout and a bit: the first requests then find a token and keys. */
static void wait_first(gw_outbound_t *ob)
{
    uint32_t longest = 0;
    for (size_t i = 0; i < ob->nslots; i++)
        if (ob->slots[i].up)
            longest = MD_MAX(longest, ob->slots[i].src.idp.timeout_ms);
    for (size_t i = 0; i < ob->njwks; i++)
        if (ob->jwks[i].conf)
            longest = MD_MAX(longest, ob->jwks[i].src.idp.timeout_ms);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + ((uint64_t)longest + 500) * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&ob->mu);
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < ob->nslots; i++)
            all &= !ob->slots[i].up || atomic_load(&ob->slots[i].src.attempted);
        for (size_t i = 0; i < ob->njwks; i++)
            all &= !ob->jwks[i].conf || atomic_load(&ob->jwks[i].src.attempted);
        if (all || pthread_cond_timedwait(&ob->cv, &ob->mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&ob->mu);
}

static bool any_fetch(const md_config_t *cfg)
{
    for (size_t i = 0; i < cfg->nupstreams; i++)
        if (cfg->upstreams[i].oauth2)
            return true;
    for (size_t i = 0; i < cfg->auth.nproviders; i++)
        if (cfg->auth.providers[i].jwks)
            return true;
    return false;
}

static void outbound_free(gw_outbound_t *ob)
{
    if (ob->loop)
        md_loop_free(ob->loop);
    for (size_t i = 0; i < ob->nslots; i++) {
        token_free(atomic_load(&ob->slots[i].current));
        if (ob->slots[i].up)
            gw_refresh_destroy(&ob->slots[i].src.refresh);
    }
    for (size_t i = 0; i < ob->njwks; i++) {
        if (!ob->jwks[i].conf)
            continue;
        gw_refresh_destroy(&ob->jwks[i].src.refresh);
        md_jwks_slot_free(ob->jwks[i].slot);
    }
    while (ob->retired) {
        gw_token_t *t = ob->retired;
        ob->retired = t->next;
        token_free(t);
    }
    pthread_mutex_destroy(&ob->mu);
    pthread_cond_destroy(&ob->cv);
    md_free(ob->slots);
    md_free(ob->jwks);
    md_free(ob);
}

static int digest_key_init(void);

/* What every slot has; the URL (NULL: not this kind of credential) is
 * copied with base_path "": each fetch sends the URL's own path whole. */
static void init_fetch_src(gw_fetch_src_t *f, gw_outbound_t *ob, void (*fetch)(gw_fetch_src_t *),
                           const md_upstream_conf_t *url, size_t max_waiters)
{
    f->ob = ob;
    f->fetch = fetch;
    md_timer_init(&f->timer, on_timer, f);
    if (!url)
        return;
    f->idp = *url;
    f->idp.base_path = "";
    gw_refresh_init(&f->refresh, GW_REFRESH_FORCE_INTERVAL_MS, max_waiters);
}

static void init_slots(gw_outbound_t *ob, const md_config_t *cfg)
{
    ob->slots = md_calloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*ob->slots));
    ob->nslots = cfg->nupstreams;
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        gw_oauth_t *o = &ob->slots[i];
        const md_oauth2_conf_t *c = cfg->upstreams[i].oauth2;
        o->up = c ? &cfg->upstreams[i] : NULL;
        init_fetch_src(&o->src, ob, token_fetch, c ? &c->token : NULL, 0);
    }
    ob->jwks = md_calloc(cfg->auth.nproviders ? cfg->auth.nproviders : 1, sizeof(*ob->jwks));
    ob->njwks = cfg->auth.nproviders;
    for (size_t i = 0; i < ob->njwks; i++) {
        gw_jwks_src_t *s = &ob->jwks[i];
        const md_upstream_conf_t *url = cfg->auth.providers[i].jwks;
        s->conf = url ? &cfg->auth.providers[i] : NULL;
        s->slot = url ? md_jwks_slot_new(NULL) : NULL;
        init_fetch_src(&s->src, ob, jwks_fetch, url, GW_REFRESH_MAX_WAITERS);
    }
}

int gw_outbound_init(md_gateway_t *gw, md_diag_t *diag)
{
    const md_config_t *cfg = gw->cfg;
    if (digest_key_init() != MD_OK) {
        snprintf(diag->file, sizeof(diag->file), "%s", cfg->file);
        snprintf(diag->msg, sizeof(diag->msg), "no kernel randomness for the cache key digests");
        return MD_ERR;
    }
    if (!any_fetch(cfg))
        return MD_OK;
    gw_outbound_t *ob = md_calloc(1, sizeof(*ob));
    pthread_mutex_init(&ob->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ob->cv, &ca);
    pthread_condattr_destroy(&ca);
    md_timer_init(&ob->reclaim, on_reclaim, ob);
    init_slots(ob, cfg);
    gw->outbound = ob;
    return MD_OK;
}

int gw_outbound_start(md_gateway_t *gw)
{
    gw_outbound_t *ob = gw->outbound;
    if (!ob)
        return MD_OK;
    pthread_mutex_lock(&ob->mu);
    if (!ob->running && !ob->failed) {
        ob->loop = md_loop_new();
        ob->running = ob->loop && pthread_create(&ob->thread, NULL, outbound_main, ob) == 0;
        ob->failed = !ob->running;
    }
    pthread_mutex_unlock(&ob->mu);
    if (ob->failed) {
        fprintf(stderr, "medley: cannot start the outbound credentials thread\n");
        return MD_ERR;
    }
    wait_first(ob);
    return MD_OK;
}

void gw_outbound_fini(md_gateway_t *gw)
{
    gw_outbound_t *ob = gw->outbound;
    if (!ob)
        return;
    if (ob->running) {
        md_loop_post(ob->loop, stop_loop, ob);
        pthread_join(ob->thread, NULL);
    }
    outbound_free(ob);
    gw->outbound = NULL;
}

/* ---- the forwarded Authorization ---- */

static uint8_t digest_key[MD_SIPHASH_KEY_LEN];
static bool digest_key_set;
static pthread_mutex_t digest_mu = PTHREAD_MUTEX_INITIALIZER;

/* Once per process: a key shared by gateways, so keys never change under
 * a running one. */
static int digest_key_init(void)
{
    pthread_mutex_lock(&digest_mu);
    int rc = digest_key_set ? MD_OK : md_random_bytes(digest_key, sizeof(digest_key));
    digest_key_set = rc == MD_OK;
    pthread_mutex_unlock(&digest_mu);
    return rc;
}

bool gw_forwarded_authorization(const gw_inputs_t *in, md_str_t *value)
{
    const md_header_t *h = md_header_find(in->req->headers, in->req->num_headers, "authorization");
    if (!h)
        return false;
    *value = (md_str_t){ h->value, h->value_len };
    return true;
}

size_t gw_forwarded_digest(const gw_inputs_t *in, char out[GW_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    md_str_t v;
    if (!gw_forwarded_authorization(in, &v))
        return 0;
    uint8_t d[16];
    md_siphash128(digest_key, v.ptr, v.len, d);
    for (size_t i = 0; i < 16; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[GW_DIGEST_LEN] = '\0';
    return GW_DIGEST_LEN;
}
