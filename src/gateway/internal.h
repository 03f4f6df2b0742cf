/*
 * internal.h - structures shared by the gateway's files (gateway.c builds
 * them, compose.c and passthrough.c run requests against them). Not part of
 * the public API.
 */
#ifndef MD_GATEWAY_INTERNAL_H
#define MD_GATEWAY_INTERNAL_H

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

typedef struct gw_backend {
    const md_backend_conf_t *conf;
    size_t upstream;             /* index into cfg->upstreams */
    md_template_t *target;       /* path + query */
    gw_header_tpl_t *headers;
    size_t nheaders;
    md_shape_t *shape;           /* NULL: validate and copy verbatim */
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
} gw_endpoint_t;

struct md_gateway {
    const md_config_t *cfg;
    int nworkers;
    gw_endpoint_t *endpoints;
    size_t nendpoints;
    md_buf_t openapi;            /* GET /openapi.json: the connector definition; empty without public_url */
    md_telemetry_t *tm;          /* NULL: no per-request telemetry */
};

/* Per worker thread: one pool per upstream. */
typedef struct gw_worker {
    md_gateway_t *gw;
    md_loop_t *loop;
    md_upstream_t **upstreams;
    md_tm_worker_t *tm;          /* NULL without telemetry */
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
