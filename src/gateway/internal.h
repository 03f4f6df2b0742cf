/*
 * internal.h - structures shared by the gateway's files (gateway.c builds
 * them, compose.c and passthrough.c run requests against them). Not part of
 * the public API.
 */
#ifndef MD_GATEWAY_INTERNAL_H
#define MD_GATEWAY_INTERNAL_H

#include "auth/cors.h"
#include "auth/jwks.h"
#include "auth/ratelimit.h"
#include "cache/policy.h"
#include "cache/purge_msg.h"
#include "cache/redis.h"
#include "cache/store.h"
#include "config/config.h"
#include "core/loop.h"
#include "gateway/gateway.h"
#include "gateway/params.h"
#include "gateway/refresh.h"
#include "http/server.h"
#include "shape/merge.h"
#include "shape/shape.h"
#include "telemetry/telemetry.h"
#include "upstream/client.h"
#include "upstream/template.h"

#define GW_MAX_QUERY_PAIRS 64
#define GW_MAX_SEGMENTS 32

typedef struct gw_header_tpl {
    const char *name;
    md_template_t *value;
} gw_header_tpl_t;

/* One input of a cache key: a template variable or a `vary` entry. */
typedef struct gw_key_input {
    md_str_t ns, name;           /* as gw_lookup takes them */
    char *label;                 /* "user", "query.lang", "header.Accept-Language" */
} gw_key_input_t;

/* How a backend fragment or an endpoint's view is cached (cache.c compiles
 * it from md_cache_conf_t). Keys look like
 *   b|/home|GET|news|user=42|#GET hr /employees/42/vacation
 *   e|/home|GET|user=42|#GET news /news#GET hr /employees/42/vacation
 * (input values percent-encoded, so '|' '=' and glob characters never
 * appear in them) and carry the purge tags "e=/home", "b=news" and
 * "i:user=42". */
typedef struct gw_cache_plan {
    const md_cache_conf_t *conf; /* NULL: not cached */
    char *prefix;                /* "b|/home|GET|news|" or "e|/home|GET|" */
    size_t prefix_len;
    char *tags;                  /* "e=/home\0b=news\0" (NUL-separated) */
    size_t tags_len;
    gw_key_input_t *inputs;
    size_t ninputs;
    bool personal;               /* an input is a header, jwt. or auth. (or the endpoint needs auth): responses are private */
} gw_cache_plan_t;

typedef struct gw_backend {
    const md_backend_conf_t *conf;
    size_t upstream;             /* index into cfg->upstreams */
    md_template_t *target;       /* path + query */
    gw_header_tpl_t *headers;
    size_t nheaders;
    md_shape_t *shape;           /* NULL: validate and copy verbatim */
    gw_cache_plan_t cache;
} gw_backend_t;

/* One segment of an endpoint path: a literal, or a path parameter. */
typedef struct gw_segment {
    md_str_t literal;
    int param;                   /* index of the declared param, -1 if literal */
} gw_segment_t;

typedef struct gw_endpoint {
    const md_endpoint_conf_t *conf;
    gw_segment_t segs[GW_MAX_SEGMENTS];
    size_t nsegs;
    md_params_t *params;
    gw_backend_t *backends;
    size_t nbackends;
    md_merge_t *merge;
    gw_cache_plan_t cache;       /* the composed view */
} gw_endpoint_t;

struct md_gateway {
    const md_config_t *cfg;
    int nworkers;
    gw_endpoint_t *endpoints;
    size_t nendpoints;
    md_buf_t openapi;            /* GET /openapi.json: the connector definition; empty without public_url */
    md_telemetry_t *tm;          /* NULL: no per-request telemetry */
    md_cache_t *store;           /* NULL: nothing is cached */
    md_redis_t *admin_redis;     /* the admin thread's connection for purges */
    char instance_id[MD_PURGE_ID_LEN + 1]; /* random; names this process's purge messages (purge.c) */
    md_cors_policy_t *cors;      /* NULL: CORS off (guard.c) */
    md_ratelimit_t **limits;     /* one per cfg->rate_limits, shared by the workers */
    struct gw_auth *auth;        /* the built auth providers (auth.c) */
    struct gw_outbound *outbound; /* OAuth2 tokens, jwks_url key sets, their thread; NULL: neither (outbound.c) */
};

typedef struct gw_fetch gw_fetch_t;

/* Per worker thread: one pool per upstream. */
typedef struct gw_worker {
    md_gateway_t *gw;
    md_loop_t *loop;
    md_upstream_t **upstreams;
    md_tm_worker_t *tm;          /* NULL without telemetry */
    int index;                   /* the server worker's index */
    md_redis_t *redis;           /* NULL unless `cache.store: redis` */
    md_redis_t *rl_redis;        /* rate limits with store: redis: `redis`, or a connection of their own
                                    (rl_redis_owned); NULL when no limit uses Redis (guard.c) */
    bool rl_redis_owned;
    md_redis_t *purge_sub;       /* worker 0 with `cache.store: redis`: other instances' purges (purge.c) */
    uint64_t purge_applied;      /* purge messages applied / ignored (malformed, or over the size limit) */
    uint64_t purge_ignored;
    gw_fetch_t *fetches;         /* cache fills in flight on this worker */
    struct gw_auth_worker *auth; /* the worker's Basic verifications and JWKS waits in flight (auth.c) */
} gw_worker_t;

typedef struct gw_guard_req gw_guard_req_t;

/* Inputs of one request, for template rendering. */
typedef struct gw_inputs {
    const gw_endpoint_t *ep;
    md_http_req_t *req;
    md_header_t query[GW_MAX_QUERY_PAIRS];
    size_t nquery;
    md_str_t *values;            /* one per declared param */
    /* Set by authentication for rate limits keyed `auth` / `jwt.CLAIM`:
     * the identity (API key name, user, JWT sub; empty: none) and a claim
     * lookup over its own state `auth` (NULL: no JWT). Both fall back to
     * the client address while unset. */
    md_str_t identity;
    int (*claim)(const struct gw_inputs *in, const char *name, md_str_t *value);
    void *auth;
    gw_guard_req_t *guard;       /* guard.c's per-request state; NULL: none */
} gw_inputs_t;

/* Template lookup over gw_inputs_t (params, query.*, header.*). */
int gw_lookup(void *ctx, md_str_t ns, md_str_t name, md_str_t *value);

/* Renders a backend's target and headers into the request pool and fills
 * an md_upstream_req_t: configured headers, then the forwarded
 * Authorization or the upstream's OAuth2 token, then trace context. MD_OK;
 * MD_EINVAL with msg (a bad input value); MD_ENOTFOUND with msg when the
 * upstream's OAuth2 token is missing or expired (*out is complete but
 * must not be sent: the call fails with kind "auth"). */
int gw_render_backend(const gw_backend_t *b, gw_inputs_t *in, md_upstream_req_t *out,
                      char *msg, size_t msglen);

/* ---- cache.c ---- */

/* Compiles the cache plans of a backend / an endpoint (after the backend's
 * templates). MD_OK or MD_EINVAL with diag. */
int gw_cache_plan_backend(gw_backend_t *gb, const md_endpoint_conf_t *e, const char *file, md_diag_t *diag);
int gw_cache_plan_endpoint(gw_endpoint_t *ep, const char *file, md_diag_t *diag);
void gw_cache_plan_free(gw_cache_plan_t *p);

/* Creates the store (when anything is cached) and frees it. */
void gw_cache_init(md_gateway_t *gw);
void gw_cache_fini(md_gateway_t *gw);
void gw_cache_worker_init(gw_worker_t *w);
void gw_cache_worker_fini(gw_worker_t *w);

/* Writes s percent-encoded as keys and tags hold input values: bytes
 * outside [A-Za-z0-9-._~/{}] become %XX, so no '|', '=', '#', NUL or glob
 * character comes from a value. Returns the length, or SIZE_MAX when it
 * does not fit in cap. */
size_t gw_cache_escape(char *dst, size_t cap, const char *s, size_t n);

/* ---- purge.c: purges from other instances ---- */

/* Draws the instance id (from gw_cache_init, before any thread starts). */
void gw_purge_init(md_gateway_t *gw);

/* On worker 0 with `cache.store: redis` and a store: subscribes to
 * PREFIX+"purge" and applies what other instances purged to this
 * process's store. Other workers: nothing. fini frees the subscriber (no
 * message is applied after it). Called from gw_cache_worker_init/fini. */
void gw_purge_worker_init(gw_worker_t *w);
void gw_purge_worker_fini(gw_worker_t *w);

/* Wall-clock milliseconds (the cache's clock). */
int64_t gw_cache_now_ms(void);

/* Builds a key into `key` and its tags into `tags`: the plan's prefix and
 * inputs, then "#METHOD UPSTREAM TARGET" and the rendered headers of each
 * request given (one for a backend, all of them for an endpoint view).
 * MD_ETOOBIG when the key would exceed MD_CACHE_MAX_KEY. */
int gw_cache_key(const md_config_t *cfg, const gw_cache_plan_t *p, gw_inputs_t *in, const gw_backend_t *bs,
                 const md_upstream_req_t *reqs, size_t nreqs, md_buf_t *key, md_buf_t *tags);

/* How a fetch ended, for the request that started it: `e` a reference
 * (NULL on failure: kind, message and the backend's HTTP status say why);
 * `wire_bytes` the backend's response as read off the socket (0 when Redis
 * answered or no call was made), for the request's telemetry. Runs on the
 * worker's loop, never from inside gw_fetch_start. */
typedef void (*gw_fetch_done_fn)(void *arg, md_cache_entry_t *e, md_cs_outcome_t cs, const char *kind,
                                 const char *message, int status, uint64_t duration_us, uint64_t wire_bytes);

/* Starts the fill of `key` (the caller is its filler): Redis first when
 * configured, else or then the backend; shapes the answer, stores it,
 * wakes the waiters. `fallback` (a reference, may be NULL) is served if
 * the backend fails inside its stale-if-error window. `done` may be NULL
 * (a background refresh). Returns NULL when the call cannot start (the
 * fill is abandoned, `done` never runs). */
gw_fetch_t *gw_fetch_start(gw_worker_t *w, const gw_backend_t *b, md_str_t key, md_str_t tags,
                           const md_upstream_req_t *r, md_cache_entry_t *fallback, gw_fetch_done_fn done,
                           void *arg);

/* The request that started the fetch is gone: the fetch goes on alone. */
void gw_fetch_detach(gw_fetch_t *f);

/* A request queued on another request's fetch (md_cache_lookup's WAIT). */
typedef struct gw_wait gw_wait_t;
typedef void (*gw_wait_done_fn)(void *arg, md_cache_entry_t *e, int status);

/* Looks key up with a waiter ready: HIT/STALE/MISS/BUSY as
 * md_cache_lookup (no waiter kept), or WAIT with *wait set: `done` runs
 * later on this worker's loop unless gw_wait_cancel() comes first. */
int gw_cache_lookup_wait(gw_worker_t *w, md_str_t key, gw_wait_done_fn done, void *arg, gw_wait_t **wait,
                         md_cache_entry_t **out, bool *refresh);
void gw_wait_cancel(gw_worker_t *w, gw_wait_t *wait, md_str_t key);

/* ---- guard.c: CORS and rate limits ---- */

/* Builds the CORS policy and one limiter per configured rate limit.
 * MD_OK or MD_EINVAL with diag. gw_guard_fini frees them. */
int gw_guard_init(md_gateway_t *gw, md_diag_t *diag);
void gw_guard_fini(md_gateway_t *gw);

/* Answers a CORS preflight (204 with the policy's headers, or 403) when
 * req is one and its path belongs to an endpoint with CORS on. True if it
 * answered. */
bool gw_guard_preflight(md_gateway_t *gw, md_http_req_t *req);

/* Starts the request's guard state: the CORS headers of an actual request
 * (ep NULL: no endpoint matched) become req's extra headers, so every
 * answer carries them. NULL when neither CORS nor a limit applies. */
gw_guard_req_t *gw_guard_begin(md_gateway_t *gw, const gw_endpoint_t *ep, md_http_req_t *req);

/* Takes a token from each of the endpoint's limits of this phase: keyed by
 * the client or a header (`authenticated` false, right after routing) or
 * by the identity or a JWT claim (true, after authentication). Adds the
 * RateLimit-* headers; answers 429 and returns true when one is empty.
 * Also true when a limit with store: redis must wait for Redis: the request
 * is suspended, and gw_limits_passed() (or a 429, or the client leaving)
 * comes later on this worker's loop. False: go on now. */
bool gw_guard_limit(gw_worker_t *w, gw_inputs_t *in, bool authenticated);

/* The worker's Redis connection for limits with store: redis (shares the
 * cache's when there is one). gw_guard_worker_fini must run before
 * gw_cache_worker_fini. */
void gw_guard_worker_init(gw_worker_t *w);
void gw_guard_worker_fini(gw_worker_t *w);

/* A suspended request's limits of that phase all passed: go on from where
 * gw_guard_limit returned (gateway.c). */
void gw_limits_passed(gw_worker_t *w, gw_inputs_t *in, bool authenticated);

/* Matches a raw request path against an endpoint's segments, filling the
 * raw values of its path params (gateway.c). */
bool gw_match_path(const gw_endpoint_t *ep, md_str_t path, md_str_t *pvals);

/* ---- auth.c: inbound authentication ---- */

/* Builds every provider of cfg->auth (key sets, users, JWT policies and
 * key sets read from jwks_file; a jwks_url provider's set lives in
 * outbound.c) and, with a basic provider, starts the verification
 * threads. MD_OK, or an error with diag at the provider. gw_auth_fini
 * stops the threads and frees them (NULL gw->auth is fine). */
int gw_auth_init(md_gateway_t *gw, md_diag_t *diag);
void gw_auth_fini(md_gateway_t *gw);
void gw_auth_worker_init(gw_worker_t *w);
void gw_auth_worker_fini(gw_worker_t *w);

/* Checks the request against its endpoint's provider. MD_OK: go on now
 * (open, or authenticated: in->identity, in->claim and in->auth set).
 * MD_AGAIN: verification continues off the loop (a Basic crypt, or a
 * JWKS fetch for an unknown kid), and gw_run() is called later on this
 * worker if it succeeds. Anything else: answered (401, 403, 503). */
int gw_auth_check(gw_worker_t *w, gw_inputs_t *in);

/* Why {ns.name} (ns "jwt" or "auth") cannot be used by endpoint e, or
 * NULL when its provider supplies it. For the config-time check. */
const char *gw_auth_var_problem(const md_config_t *cfg, const md_endpoint_conf_t *e, md_str_t ns, md_str_t name);

/* {jwt.NAME} and {auth.name} for gw_lookup. */
int gw_auth_lookup(const gw_inputs_t *in, md_str_t ns, md_str_t name, md_str_t *value);

/* ---- outbound.c: credentials sent to backends ---- */

typedef struct gw_outbound gw_outbound_t;

/* Builds a token slot per upstream with `oauth2:` and an (empty) key set
 * slot per jwt provider with `jwks_url`, and seeds the
 * forwarded-Authorization digest key. MD_OK or an error with diag.
 * Nothing is fetched yet: `medley check` and the connector export build a
 * gateway without serving. */
int gw_outbound_init(md_gateway_t *gw, md_diag_t *diag);

/* From each worker_init: the first call starts the outbound thread; every
 * call waits (at most the longest token or JWKS timeout, and 0.5 s) until
 * each first fetch ended, so the first requests find a token and keys. A
 * failed fetch is retried in the background. MD_ERR only when the thread
 * cannot start. */
int gw_outbound_start(md_gateway_t *gw);

/* Stops the thread, wipes the tokens, frees the key sets. Runs after
 * every worker's fini (no JWKS wait is left). Nothing to fetch is fine. */
void gw_outbound_fini(md_gateway_t *gw);

/* A backend call to `upstream` ended with `res`: when it is a 401, that
 * upstream has oauth2, the call carried the current token (published
 * before the call started) and no forced fetch happened in the last 10 s
 * (refresh.h), the token is fetched again now. The 401 itself is answered
 * as any backend failure, not retried. Any thread; cheap when not 401. */
void gw_outbound_unauthorized(md_gateway_t *gw, size_t upstream, const md_upstream_result_t *res);

/* The current key set of jwks_url provider `provider` (index into
 * cfg->auth.providers): a new reference (md_jwks_release it), or NULL
 * when none arrived yet or the provider has no jwks_url. Lock-free. */
md_jwks_t *gw_jwks_acquire(md_gateway_t *gw, size_t provider);

/* Asks for the provider's JWKS now (a token named an unknown kid) and
 * queues `w` (loop, fn, arg filled in) for the end of that fetch: see
 * gw_refresh_force for the answers. MD_ERR when the provider has no
 * jwks_url or the outbound thread is not running (nothing queued). */
int gw_jwks_force(md_gateway_t *gw, size_t provider, gw_refresh_waiter_t *w);

/* Withdraws a wait: true if w was still queued (its fn never runs). */
bool gw_jwks_cancel(md_gateway_t *gw, size_t provider, gw_refresh_waiter_t *w);

/* Counters for metrics: JWKS fetches ok / failed and forced fetches of a
 * jwks_url provider, token fetches and forced (401) fetches of an oauth2
 * upstream. MD_OK, or MD_ENOTFOUND when it has no such credential. */
int gw_jwks_stats(md_gateway_t *gw, size_t provider, gw_refresh_stats_t *st);
int gw_oauth_stats(md_gateway_t *gw, size_t upstream, gw_refresh_stats_t *st);

/* The "Authorization: Bearer ..." header for a call to upstream
 * `upstream` (index into cfg->upstreams), copied into pool: 1 when *h was
 * set, 0 when that upstream has no oauth2, MD_ERR when it has no valid
 * token now (the call fails with kind "auth"). Lock-free; any thread. */
int gw_outbound_bearer(md_gateway_t *gw, size_t upstream, md_pool_t *pool, md_header_t *h);

/* The caller's Authorization header (the first one), as forwarded by
 * `forward_authorization`. False when the request has none. */
bool gw_forwarded_authorization(const gw_inputs_t *in, md_str_t *value);

/* Hex of a keyed 128-bit digest of the caller's Authorization, for cache
 * keys (never the credential itself). Returns GW_DIGEST_LEN, or 0 when
 * the request has none. */
#define GW_DIGEST_LEN 32
size_t gw_forwarded_digest(const gw_inputs_t *in, char out[GW_DIGEST_LEN + 1]);

/* After authentication: the limits keyed by identity, then the backends
 * (gateway.c). */
void gw_run(gw_worker_t *w, gw_inputs_t *in);

/* Runs a composite endpoint (compose.c). */
void gw_compose(gw_worker_t *w, const gw_endpoint_t *ep, gw_inputs_t *in);

/* Runs a passthrough endpoint (passthrough.c). */
void gw_passthrough(gw_worker_t *w, const gw_endpoint_t *ep, gw_inputs_t *in);

/* Error kind name for an upstream error code ("timeout", "connect"...). */
const char *gw_error_kind(int error);

/* Telemetry glue (telemetry.c): the worker's telemetry state, and the
 * server's on_finish hook (set to NULL when telemetry is off). */
void gw_tm_worker_init(gw_worker_t *w, md_worker_t *mw);
void gw_tm_worker_fini(gw_worker_t *w);
void gw_tm_hooks(md_gateway_t *gw, md_server_hooks_t *hooks);

/* Counts a 429 of limit `limit` (index into cfg->rate_limits), and a
 * decision of a Redis-backed limit (made by Redis, or by the local
 * fallback). Nothing when metrics are off. */
void gw_tm_rate_limited(gw_worker_t *w, const gw_inputs_t *in, size_t limit);
void gw_tm_rate_limit_redis(gw_worker_t *w, bool fallback);

#endif
