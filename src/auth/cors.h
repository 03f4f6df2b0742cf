/*
 * cors.h - Cross-Origin Resource Sharing: a policy checked once at
 * configuration time, and the response headers for preflights and for
 * actual cross-origin requests (Fetch standard, "CORS protocol").
 *
 * Policy: allowed origins (an exact list, or "*" alone), allowed methods,
 * allowed request headers, exposed response headers, allow-credentials and
 * max-age. Refused at creation: credentials together with a "*" anywhere
 * (browsers reject "Access-Control-Allow-Origin: *" with credentials and
 * read "*" in the other lists literally), more than 64 entries in a list,
 * a joined list over 4 KiB, malformed tokens, and origins that are not
 * `scheme://host[:port]`. Configured origins are lowercased and lose a
 * default port (`https://a.example:443` becomes `https://a.example`), which
 * is how browsers serialize the Origin header.
 *
 * Matching: a request's Origin is compared byte for byte with the configured
 * ones (browsers send them lowercase). "null" (sandboxed iframes, file:
 * pages) is refused unless listed, even with "*". Methods are case-sensitive
 * (RFC 9110); GET, HEAD and POST are always allowed in a preflight, as
 * browsers do not check them. Header names are case-insensitive. A request
 * header list (Access-Control-Request-Headers) is parsed with blanks and
 * empty elements allowed, at most 64 names and 4 KiB, each a token.
 *
 * Output: up to MD_CORS_OUT_MAX md_header_t to add to the response. Their
 * strings are borrowed: from the policy, and (for a "*" methods or headers
 * policy, which echoes what was requested) from the request's headers, so
 * copy them before either goes away. Nothing from a request is echoed
 * unless it was validated as a token list; the allowed origin sent back is
 * the configured string, never the request's bytes.
 *
 * `Vary: Origin` is added whenever the answer depends on the Origin (a
 * listed-origins policy), including responses to requests without Origin or
 * with a refused one, so that caches do not hand one origin's answer to
 * another.
 *
 * A policy is immutable once created and can be shared by threads.
 */
#ifndef MD_AUTH_CORS_H
#define MD_AUTH_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

#define MD_CORS_LIST_MAX 64
#define MD_CORS_VALUE_MAX 4096
#define MD_CORS_MAX_AGE_MAX 86400
#define MD_CORS_OUT_MAX 8

/* What the configuration says; lists are arrays of NUL-terminated strings. */
typedef struct md_cors_opts {
    const char *const *origins; /* exact origins, or one "*" */
    size_t n_origins;
    const char *const *methods; /* e.g. PUT, DELETE; or one "*" */
    size_t n_methods;
    const char *const *headers; /* allowed request headers; or one "*" */
    size_t n_headers;
    const char *const *expose; /* response headers scripts may read */
    size_t n_expose;
    bool credentials;          /* Access-Control-Allow-Credentials: true */
    long max_age;              /* seconds, 0..86400; negative: not sent */
} md_cors_opts_t;

typedef struct md_cors_policy md_cors_policy_t;

/* The decision: headers to add and, when refused, why (for logs). */
typedef struct md_cors_result {
    md_header_t headers[MD_CORS_OUT_MAX];
    size_t n;
    const char *refusal; /* NULL when allowed; a static string otherwise */
} md_cors_result_t;

/* Checks and compiles a policy. MD_OK, or MD_EINVAL / MD_ETOOBIG with a
 * message ("cors: ..."); *out is NULL on error. */
int md_cors_policy_new(const md_cors_opts_t *opts, md_cors_policy_t **out, char *err, size_t errlen);

/* Frees the policy. NULL is ignored. */
void md_cors_policy_free(md_cors_policy_t *p);

/* True for a CORS preflight: OPTIONS with Origin and
 * Access-Control-Request-Method (header names in any case). */
bool md_cors_is_preflight(const char *method, size_t method_len, const md_header_t *hs, size_t n);

/* Answers a preflight. MD_OK: allowed, send the headers (with 204).
 * MD_EINVAL (origin, method or header not allowed; malformed or repeated
 * CORS headers) or MD_ETOOBIG (header list over its limits): refused,
 * out->refusal says why and out holds only the Vary header; answer without
 * CORS headers (e.g. 403). */
int md_cors_preflight(const md_cors_policy_t *p, const md_header_t *hs, size_t n, md_cors_result_t *out);

/* Headers for an actual (non-preflight) request. MD_OK: add out's headers
 * (none but Vary when the request has no Origin: not a CORS request).
 * MD_EINVAL: the Origin is present but not allowed; out holds only the Vary
 * header and the browser will not let the page read the response. */
int md_cors_actual(const md_cors_policy_t *p, const md_header_t *hs, size_t n, md_cors_result_t *out);

#endif
