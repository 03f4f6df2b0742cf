/*
 * mock.h - the demo's built-in mock backends.
 *
 * `medley demo` needs no other service: this module runs one small HTTP
 * server (md_server_t, one worker) on a background thread inside the medley
 * process, serving the deterministic documents of data.h:
 *
 *   GET /news                      {"items":[20 articles]}
 *   GET /events                    {"events":[15 events]}
 *   GET /employees/{id}/vacation   one record for ids 1..1000,
 *                                  else 404 {"error":"no such employee"}
 *   GET /demo                      the HTML demo page (page.h)
 *   anything else                  404 {"error":"not found"}
 *                                  (405 {"error":"method not allowed"} for a
 *                                  known path with a method other than GET
 *                                  or HEAD)
 *
 * Every route takes an optional `?delay_ms=N` (0..5000): the answer is held
 * back N ms on a loop timer, without blocking the worker, so the demo can
 * show medley calling backends concurrently. A bad delay, or a query that
 * cannot be decoded, gives 400.
 *
 * Routing is a pure function (md_demo_mock_route) so it can be tested without
 * sockets; the server glue only sends what it decides.
 */
#ifndef MD_DEMO_MOCK_H
#define MD_DEMO_MOCK_H

#include "core/common.h"
#include "core/pool.h"
#include "demo/data.h"

#include <stddef.h>
#include <stdint.h>

/* Upper bound of ?delay_ms. */
#define MD_DEMO_MAX_DELAY_MS 5000

typedef struct md_demo_mocks md_demo_mocks_t;

/* Builds the demo data and starts the mock server on host:base_port (port 0:
 * an ephemeral port, see md_demo_mocks_port; host NULL: "127.0.0.1") with
 * its threads running in the background. The threads block all signals, so
 * the caller's signal handling (sigwait in one thread) is unaffected.
 * MD_OK and *out set; or a negative code, *out NULL and a message in err. */
int md_demo_mocks_start(const char *host, uint16_t base_port, md_demo_mocks_t **out, char *err,
                        size_t errlen);

/* The port the mock server actually listens on. */
uint16_t md_demo_mocks_port(const md_demo_mocks_t *m);

/* Shuts the server down (a delayed answer still pending is sent at once),
 * joins its threads and frees everything. NULL is ignored. */
void md_demo_mocks_stop(md_demo_mocks_t *m);

/* What the mock answers to one request. `body` points into the shared data,
 * the static page, a string literal or `pool`; it is valid as long as both
 * the data and the pool are. */
typedef struct md_demo_reply {
    int status;
    const char *content_type;
    const char *body;
    size_t body_len;
    uint32_t delay_ms; /* hold the answer back this long (0 = now) */
} md_demo_reply_t;

/* Decides the answer to `method path?query` (raw, as the server parsed them)
 * and fills *out; per-request strings come from `pool`. Never fails: bad
 * input gives a 4xx reply. */
void md_demo_mock_route(const md_demo_data_t *data, md_pool_t *pool, md_str_t method, md_str_t path,
                        md_str_t query, md_demo_reply_t *out);

#endif
