/*
 * trace.h - W3C Trace Context (level 1) on the wire: parsing and writing
 * the `traceparent` header, checking `tracestate`, and making trace and
 * span ids.
 *
 *   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
 *                ^^ version  ^^ trace id (16 bytes)  ^^ parent span id   ^^ flags
 *
 * Parsing is strict, as the spec asks of a vendor that restarts the trace
 * on anything doubtful: lowercase hex only, version ff and all-zero ids
 * refused, version 00 exactly 55 characters. A later version is read from
 * its first 55 characters when the 56th is '-' or the end, so a newer
 * caller still keeps its trace id. `tracestate` is only checked, never
 * rewritten: a valid one is forwarded byte for byte, an invalid one is
 * dropped whole.
 *
 * Ids come from a per-thread generator (splitmix64 over a counter seeded
 * from getrandom): no lock, no syscall after the first use on a thread,
 * and never an all-zero id. They are unique, not secret.
 */
#ifndef MD_TELEMETRY_TRACE_H
#define MD_TELEMETRY_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MD_TRACE_ID_BYTES 16
#define MD_SPAN_ID_BYTES 8
#define MD_TRACEPARENT_LEN 55          /* "00-" 32 "-" 16 "-" 2 */
#define MD_TRACESTATE_MAX 512          /* longest tracestate forwarded, bytes */
#define MD_TRACESTATE_MAX_MEMBERS 32   /* the spec's limit on list members */

#define MD_TRACE_FLAG_SAMPLED 0x01

/* What a traceparent carries. */
typedef struct md_trace_parent {
    uint8_t version;
    uint8_t trace_id[MD_TRACE_ID_BYTES];
    uint8_t span_id[MD_SPAN_ID_BYTES];  /* the caller's span: our parent */
    uint8_t flags;
} md_trace_parent_t;

/* Parses one traceparent value s[0..len) (no surrounding whitespace).
 * MD_OK with *out filled, or MD_EINVAL (out untouched) for anything the
 * spec says to restart the trace on. */
int md_traceparent_parse(const char *s, size_t len, md_trace_parent_t *out);

/* Writes the version-00 traceparent for (trace_id, span_id, flags) into
 * out: exactly MD_TRACEPARENT_LEN characters plus a NUL. Only the sampled
 * bit of flags is kept (level 1: other bits must be sent as zero). */
void md_traceparent_format(char out[MD_TRACEPARENT_LEN + 1], const uint8_t trace_id[MD_TRACE_ID_BYTES],
                           const uint8_t span_id[MD_SPAN_ID_BYTES], uint8_t flags);

/* True if s[0..len) is a tracestate worth forwarding: the spec's list
 * grammar (keys simple or tenant@system, values of printable ASCII without
 * ',' or '=' and not ending in a space, empty members and spaces between
 * members allowed), at most MD_TRACESTATE_MAX bytes, at most
 * MD_TRACESTATE_MAX_MEMBERS members, no key twice. Empty is false
 * (nothing to forward). */
bool md_tracestate_valid(const char *s, size_t len);

/* Fills id[0..n) with random bytes from the calling thread's generator,
 * never all zero (n >= 1). */
void md_trace_random_id(uint8_t *id, size_t n);

/* A uniform 64-bit draw from the calling thread's generator. */
uint64_t md_trace_random(void);

/* True when id[0..n) is all zero (the spec's invalid id). */
bool md_trace_id_is_zero(const uint8_t *id, size_t n);

/* Writes id[0..n) as 2n lowercase hex digits (no NUL); returns the byte
 * after them. */
char *md_trace_hex(char *out, const uint8_t *id, size_t n);

#endif
