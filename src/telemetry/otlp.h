/*
 * otlp.h - the span exporter: a bounded queue of finished spans and one
 * thread that sends them to an OpenTelemetry collector over OTLP/HTTP
 * (POST {otlp_path}, an ExportTraceServiceRequest), as protobuf
 * (application/x-protobuf, the default: 40% of the JSON's bytes and less
 * than half its CPU to write) or as JSON (otlp_protocol: http/json).
 *
 * Workers only ever copy fixed-size span records into a ring under a
 * mutex held for that copy: a full ring drops the new spans and counts
 * them, so a worker never waits for the network and memory never grows
 * past otlp_queue records. The exporter thread wakes when a batch is full
 * or every otlp_interval_ms, encodes up to otlp_batch spans in place
 * (without the lock: they stay counted in the queue until encoded, so no
 * worker writes over them), frees their slots, and sends them with one
 * blocking POST whose connect, send and answer read share one
 * otlp_timeout_ms deadline. Memory: otlp_queue x sizeof(md_span_t) (about
 * 460 bytes; pages are touched only as spans reach them) plus one encoded
 * batch.
 * A 2xx counts the spans exported; anything else drops the batch and
 * counts one export failure, then the exporter waits for the next
 * interval: no retry (beyond the one below for a stale kept connection),
 * no backlog of attempts. Stopping flushes what is queued with one last
 * attempt bounded by otlp_timeout_ms in total.
 *
 * The connection is kept for the next batch only when the collector's
 * answer leaves no doubt where it ended: a whole HTTP/1.1 2xx head with a
 * Content-Length body (read to its end, at most 64 KiB) and no
 * Connection: close. Anything else (an error status, chunked or unframed
 * bodies, stray bytes, a timeout) closes it. A kept connection is reused
 * only if idle under 4 s with nothing to read; if it then fails before
 * any answer byte (the collector closed it while idle) the POST is made
 * once more on a new connection, within the same deadline.
 */
#ifndef MD_TELEMETRY_OTLP_H
#define MD_TELEMETRY_OTLP_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "telemetry/trace.h"

#include <stdbool.h>
#include <stdint.h>

#define MD_SPAN_SERVER 2        /* OTLP SpanKind values */
#define MD_SPAN_CLIENT 3
#define MD_SPAN_METHOD_MAX 16   /* longer request methods are exported as _OTHER */
#define MD_SPAN_HOST_MAX 128    /* server.address of a server span: the Host header, cut */
#define MD_SPAN_PATH_MAX 256    /* url.path of a server span, cut */
#define MD_OTLP_HEAD_MAX 1024   /* status line bytes read from the collector */

typedef struct md_otlp md_otlp_t;

/* One finished span, fixed size so the queue is one flat array. Names,
 * routes and upstream addresses are not copied: the exporter looks them up
 * by endpoint/backend index in the config it was made from. */
typedef struct md_span {
    uint8_t trace_id[MD_TRACE_ID_BYTES];
    uint8_t span_id[MD_SPAN_ID_BYTES];
    uint8_t parent_id[MD_SPAN_ID_BYTES];
    bool has_parent;
    uint8_t kind;               /* MD_SPAN_SERVER or MD_SPAN_CLIENT */
    uint8_t outcome;            /* client: md_tm_outcome_t (record.h) */
    uint8_t method_len;         /* server: the request method */
    uint8_t host_len;
    uint16_t status;            /* HTTP status; 0 = none */
    uint16_t port;              /* server: server.port, 0 = unknown */
    uint16_t path_len;
    int32_t endpoint;           /* index into cfg->endpoints, -1 = none matched */
    int32_t backend;            /* client: index into the endpoint's backends */
    uint64_t start_ns, end_ns;  /* Unix time */
    char method[MD_SPAN_METHOD_MAX];
    char host[MD_SPAN_HOST_MAX];
    char path[MD_SPAN_PATH_MAX];
} md_span_t;

/* Counters, each a total since start (any thread). */
typedef struct md_otlp_stats {
    uint64_t exported;          /* spans the collector accepted (2xx) */
    uint64_t dropped;           /* spans lost: queue full, failed export, left at stop */
    uint64_t failures;          /* export requests that failed (no 2xx, timeout, refused) */
} md_otlp_stats_t;

/* Makes the exporter's queue and tables from cfg (borrowed for its life)
 * without starting its thread. NULL when cfg has no otlp_endpoint. */
md_otlp_t *md_otlp_new(const md_config_t *cfg);

/* Starts the exporter thread (call with the shutdown signals blocked: it
 * inherits the mask). MD_OK, or MD_ERR with a message in err. */
int md_otlp_start(md_otlp_t *x, char *err, size_t errlen);

/* Stops the thread after its last bounded flush, then frees everything.
 * Spans still queued (no thread, or the flush ran out of time) are counted
 * dropped. NULL is ignored. */
void md_otlp_free(md_otlp_t *x);

/* Any thread: queues spans[0..n) by copy, or drops (and counts) those that
 * do not fit. Never blocks beyond the queue's short critical section. */
void md_otlp_push(md_otlp_t *x, const md_span_t *spans, size_t n);

/* Spans waiting in the queue now (any thread). */
size_t md_otlp_queued(md_otlp_t *x);

/* The counters (any thread). x may be NULL: all zero. */
void md_otlp_get_stats(const md_otlp_t *x, md_otlp_stats_t *st);

/* Appends the ExportTraceServiceRequest for spans[0..n) to out in the
 * configured protocol (protobuf or JSON; the same spans either way).
 * MD_OK, or MD_ETOOBIG with out unchanged. */
int md_otlp_encode(const md_otlp_t *x, const md_span_t *spans, size_t n, md_buf_t *out);

/* One blocking POST of body (in the configured protocol's Content-Type)
 * to the configured endpoint, on the kept connection when there is one,
 * everything within timeout_ms. MD_OK with the response's status in
 * *status, or MD_ECONNECT, MD_ETIMEDOUT, MD_ERESET, MD_EINVAL (not an
 * HTTP answer). */
int md_otlp_post(md_otlp_t *x, const char *body, size_t len, uint32_t timeout_ms, int *status);

/* Exports what is queued now, batch by batch, on the calling thread,
 * within timeout_ms in total; stops at the first failure and drops (and
 * counts) the rest. Returns the spans exported. For the thread's last
 * flush and for tests (with no thread started). */
size_t md_otlp_flush(md_otlp_t *x, uint32_t timeout_ms);

#endif
