/*
 * metrics.h - medley's Prometheus metrics: per-worker counter blocks
 * merged at scrape time, rendered in the text exposition format 0.0.4.
 *
 * Every label set is known when the config is loaded (endpoints, their
 * backends, upstreams), so each series is a fixed slot in an array: the
 * hot path indexes, never hashes or allocates. Each worker thread owns one
 * cache-line-aligned block of counters and is its only writer (relaxed
 * atomic load + store: plain moves, no lock, no read-modify-write); the
 * admin thread sums the blocks when /metrics is scraped. A sum read during
 * updates may be a moment old, never torn.
 *
 * Label values come from the config (the configured endpoint path, never
 * the request's, so cardinality is bounded); requests that matched no
 * endpoint count under endpoint="(none)" with the method folded to a fixed
 * list. Series sharing a label set (GET /x and POST /x share endpoint="/x"
 * in the histograms) share one slot, so no series is ever printed twice.
 */
#ifndef MD_TELEMETRY_METRICS_H
#define MD_TELEMETRY_METRICS_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct md_metrics md_metrics_t;

/* Histogram bucket bounds (seconds, "le"): 0.5 ms up to 10 s. */
#define MD_METRICS_NBUCKETS 14

/* Largest /metrics output; more is an error (a sizing bug, not input). */
#define MD_METRICS_MAX_BYTES (32u << 20)

/* Builds the series tables from cfg (borrowed for the registry's life) and
 * one zeroed block per worker. */
md_metrics_t *md_metrics_new(const md_config_t *cfg, int nworkers);

void md_metrics_free(md_metrics_t *m);

/* Hot path, on worker `worker` only. `endpoint` is an index into
 * cfg->endpoints or -1; method is the request's; status 100..599. */
void md_metrics_request(md_metrics_t *m, int worker, int endpoint, md_str_t method, int status,
                        uint64_t duration_us);

/* One ended backend call: backend i of `endpoint`, outcome < MD_TM_NOUTCOMES
 * (record.h); others are ignored. */
void md_metrics_call(md_metrics_t *m, int worker, int endpoint, size_t backend, int outcome,
                     uint64_t duration_us);

/* The worker's own pool gauges for upstream i (index into cfg->upstreams)
 * and its count of calls sent so far. */
void md_metrics_upstream(md_metrics_t *m, int worker, size_t upstream, uint32_t open, uint32_t idle,
                         uint64_t calls);

/* What the cache did for backend i of `endpoint` (an md_cs_outcome_t). */
void md_metrics_cache(md_metrics_t *m, int worker, int endpoint, size_t backend, int outcome);

/* The cache's own state, refreshed on the tick: the store's (any worker
 * may publish it, it is process-wide) and each worker's Redis client. */
typedef struct md_metrics_store {
    uint64_t entries, bytes, evictions;
} md_metrics_store_t;
void md_metrics_cache_store(md_metrics_t *m, const md_metrics_store_t *st);
void md_metrics_redis(md_metrics_t *m, int worker, bool up, uint64_t errors, uint64_t timeouts, uint64_t refused);

/* The worker's running totals of purge messages from other instances
 * (Redis pub/sub): applied, and ignored (malformed or too long). */
void md_metrics_purge_messages(md_metrics_t *m, int worker, uint64_t applied, uint64_t ignored);

/* A 429 answered because limit `limit` (index into cfg->rate_limits) of
 * `endpoint` was used up. A limit the endpoint does not have is ignored. */
void md_metrics_rate_limited(md_metrics_t *m, int worker, int endpoint, size_t limit);

/* One decision of a limit with `store: redis`: made by Redis, or by the
 * local bucket (`fallback`: Redis down, late or answering nonsense). */
void md_metrics_rate_limit_redis(md_metrics_t *m, int worker, bool fallback);

/* A credential the gateway fetches in the background, as its bookkeeping
 * counts it (gateway/refresh.h): fetches that installed a new one, fetches
 * that failed (the previous one kept), and early fetches that requests
 * asked for (a token naming an unknown kid, a backend answering 401). */
typedef struct md_metrics_fetches {
    uint64_t ok, failed, forced;
} md_metrics_fetches_t;

/* Process-wide, so one worker publishes them on its tick, like the
 * store's: jwt provider `provider` (index into cfg->auth.providers) with
 * jwks_url and the keys in its current set (0: none yet), and upstream
 * `upstream` (index into cfg->upstreams) with oauth2. Values are stored,
 * not added. A provider or upstream without such a credential is ignored. */
void md_metrics_jwks(md_metrics_t *m, size_t provider, const md_metrics_fetches_t *f, uint64_t keys);
void md_metrics_oauth2(md_metrics_t *m, size_t upstream, const md_metrics_fetches_t *f);

/* Process-wide values the registry does not count itself. */
typedef struct md_metrics_gauges {
    uint64_t requests_in_flight;
    uint64_t connections_open;
    bool has_access_log;        /* print medley_access_log_dropped_total */
    uint64_t access_log_dropped;
    bool has_trace_export;      /* print the medley_trace_* families (otlp_endpoint set) */
    uint64_t trace_spans_exported;
    uint64_t trace_spans_dropped;
    uint64_t trace_export_failures;
} md_metrics_gauges_t;

/* Appends the whole exposition (every family with # HELP and # TYPE).
 * Thread-safe against the writers. MD_OK or MD_ETOOBIG (out's cap). */
int md_metrics_render(const md_metrics_t *m, const md_metrics_gauges_t *g, md_buf_t *out);

/* Appends s[0..n) escaped as a label value (\\, \" and \n), without
 * quotes. MD_OK or MD_ETOOBIG. */
int md_prom_escape(md_buf_t *out, const char *s, size_t n);

#endif
