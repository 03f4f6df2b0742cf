/*
 * parser.h - strict, zero-copy HTTP/1.1 message head parser and chunked
 * body decoder, used by the server (requests) and the upstream client
 * (responses).
 *
 * The parser never allocates: names and values point into the caller's
 * buffer, and the caller supplies the header array. It is incremental in the
 * simplest way: call it again with more bytes; MD_AGAIN means "the head is
 * not complete yet" (the caller enforces its header-size limit on the
 * buffered length).
 *
 * Strictness (RFC 9110/9112): methods and header names are tokens; header
 * values contain no CTLs but HTAB; no whitespace before the colon; obsolete
 * line folding rejected; bare CR rejected (bare LF accepted as line end);
 * Content-Length must be a single non-negative decimal (repeated identical
 * values allowed); Transfer-Encoding with Content-Length rejected in a
 * request; a Transfer-Encoding other than a final "chunked" rejected in a
 * request; HTTP/1.0 and HTTP/1.1 only.
 *
 * Request-target: origin-form ("/path?query") and, for OPTIONS only, "*".
 * Absolute-form ("http://host/x") and authority-form (CONNECT) are rejected
 * with MD_EINVAL: a gateway is not a proxy. Target bytes must be visible
 * ASCII; percent-decoding is left to the router.
 *
 * On any return other than success the caller's head struct is left as it
 * was (num_headers keeps its capacity), so retrying after MD_AGAIN is safe;
 * only the header array may hold partial results.
 */
#ifndef MD_HTTP_PARSER_H
#define MD_HTTP_PARSER_H

#include "core/common.h"

#include <sys/types.h>

/* Parser-specific errors (in addition to MD_AGAIN / MD_EINVAL). */
enum {
    MD_HTTP_ETOO_MANY_HEADERS = -100, /* more than the caller's array: 431 */
    MD_HTTP_EVERSION = -101,          /* unsupported HTTP version: 505 */
    MD_HTTP_ELENGTH = -102,           /* bad/conflicting framing: 400 */
};

typedef struct md_http_request_head {
    md_str_t method;
    md_str_t target;        /* raw request-target, e.g. "/home?user=42" */
    md_str_t path;          /* target up to '?' */
    md_str_t query;         /* after '?', without it; len 0 if none */
    int minor_version;      /* 0 or 1 */
    md_header_t *headers;   /* caller's array */
    size_t num_headers;     /* in: capacity, out: count */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* after Connection header and version defaults */
    bool expect_continue;   /* Expect: 100-continue */
    md_str_t host;          /* Host header value, len 0 if absent */
} md_http_request_head_t;

typedef struct md_http_response_head {
    int status;
    md_str_t reason;
    int minor_version;
    md_header_t *headers;
    size_t num_headers;     /* in: capacity, out: count */
    int64_t content_length; /* -1 when absent */
    bool chunked;
    bool keep_alive;
    bool gzip;              /* Content-Encoding: gzip (or x-gzip) */
    bool unknown_encoding;  /* a Content-Encoding other than gzip/identity */
    md_str_t content_type;  /* len 0 if absent; the first if repeated */
} md_http_response_head_t;

/* Parses a request head from buf[0..len). Returns the head's length in bytes
 * (> 0) on success, MD_AGAIN if incomplete, or MD_EINVAL /
 * MD_HTTP_ETOO_MANY_HEADERS / MD_HTTP_EVERSION / MD_HTTP_ELENGTH. */
int md_http_parse_request(const char *buf, size_t len, md_http_request_head_t *req);

/* Parses a response head (same return convention). Transfer-Encoding must
 * be exactly "chunked" (else MD_HTTP_ELENGTH); chunked overrides a
 * Content-Length (reported as -1) and then clears keep_alive, since such a
 * response hints at a confused or hostile backend. */
int md_http_parse_response(const char *buf, size_t len, md_http_response_head_t *res);

#define MD_CHUNK_LINE_MAX 4096     /* size line incl. extensions and CRLF */
#define MD_CHUNK_TRAILER_MAX 16384 /* all trailer lines together */

/* Incremental chunked-body decoder. Zero-initialize before use. */
typedef struct md_chunked_decoder {
    int state;
    uint64_t remaining;     /* bytes left in the current chunk */
    size_t line_len;        /* bytes of the current size/trailer line (bounded) */
    size_t trailer_len;     /* bytes of the trailer section so far (bounded) */
    bool done;              /* the terminating chunk and trailers were consumed */
} md_chunked_decoder_t;

/* Decodes in place: takes buf[0..*len) of raw chunked bytes, compacts the
 * payload to the front of buf and sets *len to the payload length. Returns
 * the number of raw input bytes consumed (all of them unless done: bytes
 * after the final CRLF are left untouched at buf[ret..old *len)), or
 * MD_EINVAL on malformed framing (sticky: later calls fail too; *len is 0).
 * dec->done tells when the body ended. Limits: a size line (with its
 * extensions) is at most MD_CHUNK_LINE_MAX bytes, a chunk at most 2^53
 * bytes, the whole trailer section at most MD_CHUNK_TRAILER_MAX bytes. */
ssize_t md_chunked_decode(md_chunked_decoder_t *dec, char *buf, size_t *len);

/* Standard reason phrase for a status code ("OK", "Not Found"...), or
 * "Unknown". Never NULL. */
const char *md_http_reason(int status);

#endif
