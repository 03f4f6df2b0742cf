/*
 * explain.h - `medley explain`: run one request through the real gateway
 * and show what each backend cost and what shaping saved.
 *
 *   medley explain -c medley.yaml '/home?user=42'
 *
 * The config is compiled as `run` would, served in this process by a
 * one-worker server on an ephemeral 127.0.0.1 port (no admin listener, no
 * access log, no span export), and the one GET is sent over a real socket,
 * so the backends are called, shaped and merged exactly as for a client.
 * The finished request's telemetry record (telemetry/record.h) is copied
 * out through the telemetry observer (md_telemetry_set_observer), then the
 * server is drained and everything freed.
 *
 * The report is a table (or one JSON object): per backend its status,
 * outcome, cache outcome, time, bytes read from it and bytes of its shaped
 * fragment in the answer; then the bytes fetched from all backends against
 * the body sent to the client ("shaped 31,702 B from 3 backends into
 * 1,187 B: 26.7x smaller").
 */
#ifndef MD_CLI_EXPLAIN_H
#define MD_CLI_EXPLAIN_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "telemetry/record.h"

#define MD_EXPLAIN_MAX_HEADERS 32           /* --header options */
#define MD_EXPLAIN_MAX_REQUEST (64 * 1024)  /* the request head sent */
#define MD_EXPLAIN_MAX_HEAD (64 * 1024)     /* response head kept; the body is only counted */
#define MD_EXPLAIN_MARGIN_MS 2000           /* waited for an answer beyond the longest deadline */

/* What happened to the request. */
typedef struct md_explain {
    bool recorded;              /* the gateway handled it: the fields below come from its record */
    int status;                 /* the status sent */
    uint64_t body_bytes;        /* response body bytes sent */
    uint64_t duration_us;       /* from the complete request head to the finished response */
    int endpoint;               /* index into cfg->endpoints; -1: none matched */
    bool incomplete;            /* an optional backend failed */
    size_t ncalls;              /* the endpoint's backends */
    md_tm_call_t *calls;        /* ncalls records (md_malloc), config order */
} md_explain_t;

/* Sends `GET target` with the given extra headers to cfg served in this
 * process and fills *out. Changes cfg first: no access log, no admin
 * listener, no span export. A request the server refused before any
 * endpoint ran (a 431, say) has recorded false, and status and body_bytes
 * as the client read them. Returns MD_OK (an answer came, whatever its
 * status); MD_EINVAL with diag when the gateway refuses the config; MD_ERR
 * with a message in err when the request cannot be sent (a target not
 * starting with '/' or holding a space or control byte; a header name that
 * is not a token, a control byte in a value, Connection, Content-Length or
 * Transfer-Encoding; more than MD_EXPLAIN_MAX_HEADERS headers or
 * MD_EXPLAIN_MAX_REQUEST bytes); MD_ECONNECT with a message in err when no
 * answer came (no loopback socket, no answer in time). *out is overwritten:
 * free it with md_explain_free before reusing it. */
int md_explain_run(md_config_t *cfg, const char *target, const md_header_t *headers, size_t nheaders,
                   md_explain_t *out, md_diag_t *diag, char *err, size_t errlen);

/* Frees what md_explain_run put into x. */
void md_explain_free(md_explain_t *x);

/* Appends the report as an aligned text table (for a person). cfg is the
 * config x was run with (it names the endpoint and the backends). */
int md_explain_text(const md_explain_t *x, const md_config_t *cfg, const char *target, md_buf_t *out);

/* Appends the report as one JSON object and a newline:
 *   {"method":"GET","target":"/home?user=42","endpoint":"/home","status":200,
 *    "bytes":1187,"duration_ms":4.101,"incomplete":false,
 *    "backends":[{"name":"news","status":200,"outcome":"ok","cache":null,
 *                 "duration_ms":3.104,"bytes_in":24614,"bytes_out":812},...],
 *    "bytes_in":29154,"bytes_out":1394,"backends_fetched":3,"ratio":24.56}
 * bytes_in and bytes_out at the top are the backends' sums, ratio is
 * bytes_in / bytes (null when either is 0). */
int md_explain_json(const md_explain_t *x, const md_config_t *cfg, const char *target, md_buf_t *out);

#endif
