/*
 * accesslog.h - the structured access log: one JSON line per request.
 *
 *   {"time":"2024-05-01T12:00:00.123Z","method":"GET","path":"/home",
 *    "status":200,"bytes":1187,"duration_ms":4.012,"client":"10.0.0.7",
 *    "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7",
 *    "endpoint":"/home","backends":[{"name":"news","status":200,
 *    "outcome":"ok","duration_ms":3.104,"bytes_in":24614,"bytes_out":812},
 *    ...],"incomplete":false}
 *
 * A backend's bytes_in is what it sent (head and body as read off the
 * socket, 0 when the cache answered) and bytes_out the shaped fragment
 * that went into the answer: how much shaping saved, per backend.
 *
 * trace_id is the request's trace (the caller's or a new one: what the
 * backends were sent) and span_id its server span, so a line can be found
 * from a trace and back; both are null for a request without a record.
 *
 * A request the HTTP server refused itself (bad syntax, a limit, a
 * timeout, overload) gets a line too, with "endpoint":null, no backends and
 * a "reject" field naming the reason (server.h's md_http_reject_t); its
 * method and path are empty unless the request line was well formed.
 *
 * An authenticated request adds "auth":"PROVIDER:NAME" after "endpoint"
 * (the API key's name, the Basic user or the token's sub; never a key,
 * password or token).
 *
 * What is never written: query strings (their values may be tokens), any
 * request header (Authorization, Cookie...), any upstream header value.
 * The path is the raw request path without its query, cut at
 * MD_LOG_PATH_MAX bytes and JSON-escaped like every string.
 *
 * Cost: each worker formats its lines into its own bounded buffer (no
 * lock, no syscall, no malloc once warm). A full-enough buffer, or the
 * worker's 1 s tick, hands it to one writer thread, which does one write()
 * per batch; the loop never waits for the disk or a slow pipe. If the
 * writer falls behind and the buffer reaches its cap, lines are dropped
 * and counted (medley_access_log_dropped_total), never queued without
 * bound.
 */
#ifndef MD_TELEMETRY_ACCESSLOG_H
#define MD_TELEMETRY_ACCESSLOG_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"

#include <stdbool.h>
#include <stdint.h>

#define MD_LOG_PATH_MAX 2048          /* path bytes logged */
#define MD_LOG_FLUSH_BYTES (64 * 1024) /* a batch this big goes to the writer at once */
#define MD_LOG_BUF_MAX (1024 * 1024)  /* per worker; lines beyond are dropped */

typedef struct md_accesslog md_accesslog_t;

/* One backend call as the line shows it. */
typedef struct md_log_call {
    md_str_t name_json;         /* the name as a JSON string literal, quotes included */
    int status;                 /* 0: no answer (printed as null) */
    const char *outcome;        /* "ok", "timeout", ... "cancelled" */
    uint64_t duration_us;
    const char *cache;          /* "hit", "miss", ... (cache/policy.h); NULL: not cached */
    uint64_t bytes_in;          /* read from the backend (md_tm_call_t.bytes_in) */
    uint64_t bytes_out;         /* shaped fragment merged into the answer */
} md_log_call_t;

/* One finished request. */
typedef struct md_log_entry {
    uint64_t wall_us;           /* end of the request, microseconds since the Unix epoch */
    md_str_t method;
    md_str_t path;              /* without the query string */
    int status;
    uint64_t bytes;             /* response body bytes */
    uint64_t duration_us;
    const char *client;         /* IP address text, "" if unknown */
    const char *trace_id;       /* 32 lowercase hex digits, or NULL (written as null) */
    const char *span_id;        /* 16 lowercase hex digits, or NULL */
    md_str_t endpoint_json;     /* the configured path as a JSON string literal, or null */
    const md_log_call_t *calls;
    size_t ncalls;
    bool incomplete;
    const char *reject;         /* the server's reason for refusing the request, or NULL (no field) */
    md_str_t auth;              /* "PROVIDER:NAME" of the authenticated caller (gateway/auth.c:
                                   a key's name, a user, a token's sub; never a secret), or
                                   empty (no field) */
} md_log_entry_t;

/* Appends one line (ending in '\n') to out. MD_OK, or MD_ETOOBIG with out
 * unchanged. */
int md_accesslog_format(md_buf_t *out, const md_log_entry_t *e);

/* Opens the configured target (a file is opened O_APPEND, created 0644) and
 * starts the writer thread; `nworkers` buffers. NULL with a message in err
 * when the file cannot be opened or the target is off. Call with the
 * shutdown signals already blocked: the writer thread inherits the mask. */
md_accesslog_t *md_accesslog_open(const md_telemetry_conf_t *conf, int nworkers, char *err, size_t errlen);

/* Stops the writer after it has written every batch and every worker's
 * remaining lines, closes a file it opened, frees everything. Call once
 * the workers have stopped. NULL is ignored. */
void md_accesslog_close(md_accesslog_t *log);

/* Worker `worker` only: true if a request with this status is to be
 * logged (level, then sampling). */
bool md_accesslog_wants(md_accesslog_t *log, int worker, int status);

/* Worker `worker` only: formats the line into the worker's buffer (counts
 * a drop when it is full) and hands the buffer over when it is big. */
void md_accesslog_write(md_accesslog_t *log, int worker, const md_log_entry_t *e);

/* Worker `worker` only: hands whatever is buffered to the writer (the
 * worker's periodic tick). */
void md_accesslog_flush(md_accesslog_t *log, int worker);

/* Lines dropped so far (any thread). */
uint64_t md_accesslog_dropped(const md_accesslog_t *log);

#endif
