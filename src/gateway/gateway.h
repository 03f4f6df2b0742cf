/*
 * gateway.h - medley's application: composite and passthrough endpoints.
 *
 * md_gateway_new() compiles a loaded md_config_t into everything the hot
 * path needs (routes, parameter validators, backend templates, shapes,
 * merge plans), reporting any problem as FILE:LINE:COL like the config
 * loader. md_gateway_hooks() then gives the HTTP server its request handler
 * and per-worker init/fini (each worker owns one keep-alive pool per
 * upstream).
 *
 * Per request (compose.c): route, validate params, render and start every
 * backend call at once, shape each answer as it arrives, merge, respond.
 * Passthrough endpoints (passthrough.c) stream one upstream response.
 *
 * With `public_url` in the config, the gateway also answers GET (and HEAD)
 * /openapi.json with the connector definition (connector/swagger.h), built
 * once in md_gateway_new (which fails if it cannot be built), unless an
 * endpoint's route matches that path.
 */
#ifndef MD_GATEWAY_H
#define MD_GATEWAY_H

#include "config/config.h"
#include "http/server.h"
#include "telemetry/admin.h"
#include "telemetry/telemetry.h"

typedef struct md_gateway md_gateway_t;

/* Compiles cfg (borrowed: it must outlive the gateway). NULL + diag on
 * error, also when cfg has public_url and its connector definition cannot
 * be built. `nworkers` is the number of server workers (splits pool
 * sizes). */
md_gateway_t *md_gateway_new(const md_config_t *cfg, int nworkers, md_diag_t *diag);

void md_gateway_free(md_gateway_t *gw);

/* Fills the server hooks (handler, worker_init, worker_fini, on_finish). */
void md_gateway_hooks(md_gateway_t *gw, md_server_hooks_t *hooks);

/* Makes the gateway record metrics, access log lines and Server-Timing
 * through tm (borrowed; NULL or inactive: none). Call before
 * md_gateway_hooks. */
void md_gateway_set_telemetry(md_gateway_t *gw, md_telemetry_t *tm);

/* The admin listener's POST /cache/purge route (purge.c). The gateway
 * must outlive the admin listener. */
void md_gateway_admin_route(md_gateway_t *gw, md_admin_route_t *route);

#endif
