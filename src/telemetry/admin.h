/*
 * admin.h - the admin listener: a second, one-worker md_server_t on its own
 * address (default 127.0.0.1:9090, never the public port) serving
 *
 *   GET /metrics   Prometheus text format 0.0.4 (metrics.h)
 *   GET /healthz   200 {"status":"ok"} while the process runs
 *   GET /readyz    200 {"status":"ready"} once the main server's workers
 *                  all serve; 503 {"status":"starting"} before that and
 *                  503 {"status":"draining"} after SIGTERM
 *
 * It runs on its own thread so a scrape never competes with a request
 * worker's loop, starts before the main server and is stopped after it, so
 * /readyz can report the drain.
 */
#ifndef MD_TELEMETRY_ADMIN_H
#define MD_TELEMETRY_ADMIN_H

#include "http/server.h"
#include "telemetry/telemetry.h"

typedef struct md_admin md_admin_t;

/* Binds host:port (port 0: any free port); `tm` is borrowed. Binding
 * before the main server keeps the work between the main listener's bind
 * and its workers' start short. NULL with a message in err. */
md_admin_t *md_admin_new(const char *host, uint16_t port, md_telemetry_t *tm, char *err, size_t errlen);

/* Starts serving on a thread of its own, reporting on `target` (the main
 * server, borrowed: its gauges and readiness; NULL: /readyz says
 * starting). MD_OK or MD_ERR. Call with the shutdown signals blocked (the
 * thread inherits the mask). */
int md_admin_start(md_admin_t *a, md_server_t *target);

/* An extra admin route, e.g. the gateway's POST /cache/purge. `handle`
 * runs for every path the admin listener does not serve itself and returns
 * false to let it answer 404; it may answer later (the request stays
 * open). `worker_init` / `worker_fini` run on the admin thread around its
 * loop, so the route can keep loop state (a Redis connection); either may
 * be NULL. */
typedef struct md_admin_route {
    bool (*handle)(md_http_req_t *req, void *arg);
    int (*worker_init)(md_loop_t *loop, void *arg);
    void (*worker_fini)(void *arg);
    void *arg;
} md_admin_route_t;

/* Installs the route; call before md_admin_start. */
void md_admin_set_route(md_admin_t *a, const md_admin_route_t *route);

/* Drains the admin server and joins its thread. Harmless if not started. */
void md_admin_stop(md_admin_t *a);

/* Frees a stopped (or never started) admin listener. NULL is ignored. */
void md_admin_free(md_admin_t *a);

/* The port actually bound. */
uint16_t md_admin_port(const md_admin_t *a);

#endif
