/*
 * telemetry.h - what medley reports about itself, tied together: the
 * Prometheus registry (metrics.h), the access log (accesslog.h) and the
 * Server-Timing header, fed from one per-request record (record.h).
 *
 * md_telemetry_t is made once from the config. The gateway gives each
 * worker an md_tm_worker_t (its slot in the registry and the log, and a 1 s
 * tick that refreshes gauges and flushes the log buffer), starts a record
 * per request with md_tm_begin(), fills in each backend call, and passes
 * the finished request to md_tm_finish() from the server's on_finish hook;
 * requests the server refuses itself (bad syntax, limits, timeouts,
 * overload) reach md_tm_reject() from its on_reject hook.
 *
 * Cost per request: the record in the request pool, one clock read at the
 * end (shared with Server-Timing), a few relaxed counter stores, and, when
 * logged, one line formatted into a per-worker buffer. No lock, no malloc,
 * no syscall. Trace context (trace.h) adds a header scan and a few random
 * draws; a sampled request with an exporter adds a few clock reads and one
 * short-lived lock to queue its spans (otlp.h).
 */
#ifndef MD_TELEMETRY_TELEMETRY_H
#define MD_TELEMETRY_TELEMETRY_H

#include "config/config.h"
#include "core/loop.h"
#include "core/pool.h"
#include "http/server.h"
#include "telemetry/accesslog.h"
#include "telemetry/metrics.h"
#include "telemetry/otlp.h"
#include "telemetry/record.h"
#include "telemetry/trace.h"

#define MD_TM_TICK_MS 1000      /* gauge refresh and log flush period */
#define MD_TM_MAX_CALLS 64      /* backend calls a log line lists */

typedef struct md_tm_worker md_tm_worker_t;

/* Builds what cfg asks for: metrics when the admin listener is on, the
 * access log (opened here, so call with the shutdown signals blocked) when
 * it is not off, Server-Timing when enabled, the span exporter and its
 * thread when tracing.otlp_endpoint is set. cfg is borrowed for the
 * telemetry's life. NULL with a message in err (an unopenable log file, a
 * thread that cannot start). */
md_telemetry_t *md_telemetry_new(const md_config_t *cfg, int nworkers, char *err, size_t errlen);

/* Flushes the span queue (one last attempt within tracing.timeout), writes
 * out the log and frees everything; the workers must have stopped. NULL is
 * ignored. */
void md_telemetry_free(md_telemetry_t *tm);

/* True for any telemetry object: even with metrics, log and Server-Timing
 * all off, every request carries its trace context to the backends. False
 * only for NULL (the gateway then skips the records altogether). */
bool md_telemetry_active(const md_telemetry_t *tm);

/* The parts, or NULL when off. */
md_metrics_t *md_telemetry_metrics(const md_telemetry_t *tm);
md_accesslog_t *md_telemetry_log(const md_telemetry_t *tm);
md_otlp_t *md_telemetry_otlp(const md_telemetry_t *tm);

/* Gauges a worker refreshes on each tick (the gateway's upstream pools):
 * called on the worker thread with the worker's md_tm_worker_t. */
typedef void (*md_tm_refresh_cb)(md_tm_worker_t *tw, void *arg);

/* Per-worker state for worker `index` (< nworkers) on its loop; starts the
 * tick. NULL if index is out of range. */
md_tm_worker_t *md_tm_worker_new(md_telemetry_t *tm, int index, md_loop_t *loop, md_tm_refresh_cb refresh,
                                 void *arg);

/* Stops the tick and frees the worker state (its unflushed log lines stay
 * with the log until md_telemetry_free). NULL is ignored. */
void md_tm_worker_free(md_tm_worker_t *tw);

/* Sets the worker's pool gauges of upstream i (from the refresh callback). */
void md_tm_set_upstream(md_tm_worker_t *tw, size_t upstream, uint32_t open, uint32_t idle, uint64_t calls);

/* The cache's state for the metrics (from the refresh callback): the
 * store's counters, and this worker's Redis client. */
void md_tm_set_cache_store(md_tm_worker_t *tw, const md_metrics_store_t *st);
void md_tm_set_redis(md_tm_worker_t *tw, bool up, uint64_t errors, uint64_t timeouts, uint64_t refused);
/* Purge messages from other instances: applied, ignored (running totals). */
void md_tm_set_purge_messages(md_tm_worker_t *tw, uint64_t applied, uint64_t ignored);

/* The counters of the credentials fetched in the background (from the
 * refresh callback of one worker: they are process-wide): jwks_url
 * provider `provider` with the keys in its current set, and oauth2
 * upstream `upstream`. See md_metrics_jwks. */
void md_tm_set_jwks(md_tm_worker_t *tw, size_t provider, const md_metrics_fetches_t *f, uint64_t keys);
void md_tm_set_oauth2(md_tm_worker_t *tw, size_t upstream, const md_metrics_fetches_t *f);

/* Starts the request's record in its pool and hangs it on req->telemetry.
 * `endpoint` is an index into cfg->endpoints or -1 (no match). Takes the
 * trace context from a valid `traceparent` (and `tracestate`) header, else
 * starts a new trace, sampled by tracing.sample. Returns the record, or
 * NULL when tm is NULL. */
md_tm_req_t *md_tm_begin(const md_telemetry_t *tm, md_http_req_t *req, int endpoint);

/* The traceparent to send with backend call i: the request's trace id,
 * call i's own (client span) id, made now if it has none, and the sampling
 * decision. Writes MD_TRACEPARENT_LEN characters and a NUL into out and
 * returns MD_TRACEPARENT_LEN, or 0 (nothing written) when t is NULL or i
 * is out of range. */
size_t md_tm_traceparent(md_tm_req_t *t, size_t i, char out[MD_TRACEPARENT_LEN + 1]);

/* Most headers md_tm_trace_headers writes. */
#define MD_TM_TRACE_HEADERS 2

/* Writes the trace context headers for backend call i into out (room for
 * MD_TM_TRACE_HEADERS): `traceparent` (md_tm_traceparent) and, when there
 * is one to forward, `tracestate`, values in `pool`. When the backend's own
 * configured headers (configured[0..nconfigured)) set traceparent, they own
 * the context and nothing is written; one that sets only tracestate keeps
 * it. Returns the number written: 0 when t is NULL. */
size_t md_tm_trace_headers(md_tm_req_t *t, size_t i, md_pool_t *pool, md_header_t *out,
                           const md_header_t *configured, size_t nconfigured);

/* The tracestate to forward with every backend call: the caller's, when it
 * and its traceparent were valid; else empty (send no tracestate). Lives in
 * the request pool. t may be NULL. */
md_str_t md_tm_tracestate(const md_tm_req_t *t);

/* The Server-Timing value for the request's ended calls plus total
 * ("news;dur=3.1, events;dur=2.4, total;dur=4.0"), NUL-terminated in the
 * request pool; also fixes the record's end time. NULL when the header is
 * off or t is NULL. */
char *md_tm_server_timing(md_tm_req_t *t, md_http_req_t *req, size_t *len);

/* The server's on_finish: counts the request and its calls, writes its log
 * line, then tells the observer, if any. tw may be NULL (the worker has no
 * telemetry). */
void md_tm_finish(md_tm_worker_t *tw, md_http_req_t *req, const md_http_done_t *done);

/* The server's on_reject: counts a request the server refused itself under
 * endpoint "(none)" (its method, or "other" when the request line was not
 * well formed), observing the time since its first byte when the server
 * knew it (a head that came in pieces: slowloris, 431), else 0; and writes
 * its log line with "reject" set. No trace, no observer. tw may be NULL. */
void md_tm_reject(md_tm_worker_t *tw, const md_http_reject_t *r);

/* Sees each finished request after metrics, log and spans: the request,
 * what was answered, its record (NULL when it has none) and its duration
 * (as logged). Runs on the worker's thread; req, done and t live only
 * during the call, so copy what is needed. */
typedef void (*md_tm_observer_fn)(void *arg, const md_http_req_t *req, const md_http_done_t *done,
                                  const md_tm_req_t *t, uint64_t duration_us);

/* Sets the one observer (NULL: none). For tools that run a request
 * through the real gateway and read back what happened (`medley explain`,
 * tests); a server in production has none, and pays one branch per
 * request. Set it before the workers start. */
void md_telemetry_set_observer(md_telemetry_t *tm, md_tm_observer_fn fn, void *arg);

#endif
