/*
 * record.h - the per-request telemetry record: what happened to one client
 * request, filled in by the gateway as it runs and read once when the
 * request is finished (metrics, access log, Server-Timing, an observer
 * such as `medley explain`).
 *
 * The record lives in the request's pool (one allocation, no malloc): the
 * gateway makes it with md_tm_begin() (telemetry.h) as soon as the route is
 * known and hangs it on md_http_req_t.telemetry, which the server's
 * on_finish hook hands back. Tracing hangs its ids here too (md_tm_trace_t,
 * and a span id per call), so every consumer sees one record per request
 * and one per backend call.
 */
#ifndef MD_TELEMETRY_RECORD_H
#define MD_TELEMETRY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "core/loop.h"
#include "telemetry/trace.h"

typedef struct md_telemetry md_telemetry_t;

/* How a backend call ended. The first MD_TM_NOUTCOMES are the `outcome`
 * label of medley_backend_calls_total (docs/config.md's failure kinds);
 * the rest only describe calls that have no outcome of their own. */
typedef enum md_tm_outcome {
    MD_TM_OK,
    MD_TM_TIMEOUT,
    MD_TM_CONNECT,
    MD_TM_RESET,
    MD_TM_STATUS,
    MD_TM_INVALID_JSON,
    MD_TM_TOO_BIG,
    MD_TM_OVERLOADED,
    MD_TM_SHAPE,
    MD_TM_TLS,                         /* the certificate or the handshake failed */
    MD_TM_NOUTCOMES,
    MD_TM_CANCELLED = MD_TM_NOUTCOMES, /* the request ended first (shown as "cancelled") */
    MD_TM_PENDING,                     /* started, not ended: reported as cancelled */
    MD_TM_NOT_STARTED,                 /* never called (a bad parameter, say): not reported */
} md_tm_outcome_t;

/* One backend call of the request, indexed like the endpoint's backends. */
typedef struct md_tm_call {
    uint32_t duration_us;
    uint16_t status;            /* HTTP status of the answer, 0 if none was read */
    uint8_t outcome;            /* md_tm_outcome_t */
    uint8_t cache;              /* 0: not cached; else 1 + md_cs_outcome_t (cache/policy.h) */
    bool has_span;              /* span_id is made (by md_tm_traceparent or the start) */
    uint8_t span_id[MD_SPAN_ID_BYTES]; /* the call's client span: the backend's parent */
    uint64_t start_us, end_us;  /* monotonic; only kept when the trace is exported */
    uint64_t bytes_in;          /* response bytes read off the backend's socket; 0 when the cache answered */
    uint64_t bytes_out;         /* the shaped fragment merged into the answer (a cached one too); 0 if none */
} md_tm_call_t;

/* The request's place in its trace (trace.h). */
typedef struct md_tm_trace {
    uint8_t trace_id[MD_TRACE_ID_BYTES];
    uint8_t span_id[MD_SPAN_ID_BYTES];   /* the request's server span */
    uint8_t parent_id[MD_SPAN_ID_BYTES]; /* the caller's span; all zero for a new trace */
    bool has_parent;            /* a valid traceparent came in */
    bool sampled;               /* the one sampling decision, sent downstream */
    bool exported;              /* sampled and an exporter is configured: spans are kept */
    md_str_t tracestate;        /* the caller's valid tracestate (request pool), or empty */
    int64_t wall_base_ns;       /* Unix ns = wall_base_ns + 1000 * monotonic us (exported only) */
} md_tm_trace_t;

typedef struct md_tm_req {
    const md_telemetry_t *tm;
    int endpoint;               /* index into cfg->endpoints, -1 when none matched */
    bool incomplete;            /* an optional backend failed (X-Medley-Incomplete) */
    md_str_t auth;              /* "PROVIDER:NAME" of the authenticated caller (request pool), or empty */
    uint64_t end_us;            /* monotonic end once known (md_now_us), else 0 */
    md_tm_trace_t trace;
    uint32_t ncalls;
    md_tm_call_t calls[];       /* the endpoint's backends */
} md_tm_req_t;

/* Makes call i's span id (and, when exported, its start time) if it has
 * none yet (telemetry.c). */
void md_tm_call_open(md_tm_req_t *t, size_t i);

/* Marks call i as started. t may be NULL (telemetry off). */
static inline void md_tm_call_start(md_tm_req_t *t, size_t i)
{
    if (!t || i >= t->ncalls)
        return;
    t->calls[i].outcome = MD_TM_PENDING;
    if (!t->calls[i].has_span)
        md_tm_call_open(t, i);
}

/* Records what the cache did for call i (an md_cs_outcome_t). A call the
 * cache answered without a backend call of this request's own stays "not
 * started": it is a cache outcome, not a backend call. */
static inline void md_tm_call_cache(md_tm_req_t *t, size_t i, int cs)
{
    if (!t || i >= t->ncalls || cs < 0 || cs >= 255)
        return;
    t->calls[i].cache = (uint8_t)(cs + 1);
    if (t->calls[i].outcome == MD_TM_PENDING)
        t->calls[i].outcome = MD_TM_NOT_STARTED; /* md_tm_call_end follows if a call was made */
}

/* Records how call i ended. t may be NULL (telemetry off). */
static inline void md_tm_call_end(md_tm_req_t *t, size_t i, int status, md_tm_outcome_t outcome,
                                  uint64_t duration_us)
{
    if (!t || i >= t->ncalls)
        return;
    t->calls[i].status = status > 0 && status < 1000 ? (uint16_t)status : 0;
    t->calls[i].outcome = (uint8_t)outcome;
    t->calls[i].duration_us = duration_us > UINT32_MAX ? UINT32_MAX : (uint32_t)duration_us;
    if (t->trace.exported) {
        if (!t->calls[i].has_span)
            md_tm_call_open(t, i); /* ended without starting: overloaded */
        t->calls[i].end_us = md_now_us();
    }
}

/* Records call i's traffic: what the backend sent (`in`) and what of it
 * went into the answer (`out`), which together show how much shaping saved
 * ("shaped server-side": the access log, `medley explain`). t may be NULL. */
static inline void md_tm_call_bytes(md_tm_req_t *t, size_t i, uint64_t in, uint64_t out)
{
    if (!t || i >= t->ncalls)
        return;
    t->calls[i].bytes_in = in;
    t->calls[i].bytes_out = out;
}

/* The outcome for a failure kind named as compose.c names them ("timeout",
 * "invalid_json"...; NULL means success). Unknown kinds count as reset. */
md_tm_outcome_t md_tm_outcome_of_kind(const char *kind);

/* The outcome for an upstream error code (client.h): MD_OK is ok. */
md_tm_outcome_t md_tm_outcome_of_error(int error);

/* "ok", "timeout", ... "cancelled"; never NULL. */
const char *md_tm_outcome_name(md_tm_outcome_t outcome);

#endif
