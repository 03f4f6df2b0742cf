/*
 * internal.h - structures shared by the gateway's files (gateway.c builds
 * them, compose.c and passthrough.c run requests against them). Not part of
 * the public API.
 */
#ifndef MD_GATEWAY_INTERNAL_H
#define MD_GATEWAY_INTERNAL_H

#include "cache/policy.h"
#include "cache/redis.h"
#include "cache/store.h"
#include "config/config.h"
#include "core/loop.h"
#include "gateway/gateway.h"
#include "gateway/params.h"
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
    bool personal;               /* an input is a header: responses are private */
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
};

typedef struct gw_fetch gw_fetch_t;

/* Per worker thread: one pool per upstream. */
typedef struct gw_worker {
    md_gateway_t *gw;
    md_loop_t *loop;
    md_upstream_t **upstreams;
    md_tm_worker_t *tm;          /* NULL without telemetry */
    md_redis_t *redis;           /* NULL unless `cache.store: redis` */
    gw_fetch_t *fetches;         /* cache fills in flight on this worker */
} gw_worker_t;

/* Inputs of one request, for template rendering. */
typedef struct gw_inputs {
    const gw_endpoint_t *ep;
    md_http_req_t *req;
    md_header_t query[GW_MAX_QUERY_PAIRS];
    size_t nquery;
    md_str_t *values;            /* one per declared param */
} gw_inputs_t;

/* Template lookup over gw_inputs_t (params, query.*, header.*). */
int gw_lookup(void *ctx, md_str_t ns, md_str_t name, md_str_t *value);

/* Renders a backend's target and headers into the request pool and fills
 * an md_upstream_req_t. MD_OK, or MD_EINVAL with msg (a bad input value). */
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

/* Wall-clock milliseconds (the cache's clock). */
int64_t gw_cache_now_ms(void);

/* Builds a key into `key` and its tags into `tags`: the plan's prefix and
 * inputs, then "#METHOD UPSTREAM TARGET" and the rendered headers of each
 * request given (one for a backend, all of them for an endpoint view).
 * MD_ETOOBIG when the key would exceed MD_CACHE_MAX_KEY. */
int gw_cache_key(const md_config_t *cfg, const gw_cache_plan_t *p, gw_inputs_t *in, const gw_backend_t *bs,
                 const md_upstream_req_t *reqs, size_t nreqs, md_buf_t *key, md_buf_t *tags);

/* How a fetch ended, for the request that started it: `e` a reference
 * (NULL on failure: kind, message and the backend's HTTP status say why).
 * Runs on the worker's loop, never from inside gw_fetch_start. */
typedef void (*gw_fetch_done_fn)(void *arg, md_cache_entry_t *e, md_cs_outcome_t cs, const char *kind,
                                 const char *message, int status, uint64_t duration_us);

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

#endif
