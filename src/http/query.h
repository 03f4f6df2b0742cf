/*
 * query.h - the request's query string as decoded name/value pairs.
 *
 * The HTTP parser hands over the raw query (the bytes after '?'). Before any
 * of it is validated (gateway/params) or copied into a backend request
 * (upstream/template) it is split on '&' and percent-decoded here, once, into
 * NUL-terminated copies carved from the request pool. Decoding is strict:
 * a '%' not followed by two hex digits, or any NUL byte (raw or "%00"), makes
 * the whole query invalid, because later stages treat the values as C
 * strings and a truncated value must never pass validation.
 */
#ifndef MD_HTTP_QUERY_H
#define MD_HTTP_QUERY_H

#include "core/common.h"
#include "core/pool.h"

/* Percent-decodes src[0..len) into dst, which must have room for len bytes
 * (decoding never grows). With plus_is_space, '+' decodes to ' ' (the
 * form-encoding rule of query strings; paths keep '+'). Sets *dlen to the
 * decoded length; dst is not NUL-terminated. MD_OK, or MD_EINVAL for a '%'
 * without two hex digits after it or a NUL byte in the result (dst and
 * *dlen are then unspecified). dst may equal src (in-place decoding). */
int md_percent_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *dlen);

/* Splits the raw query q[0..len) on '&' into at most `max` pairs in out[],
 * each name and value decoded into a NUL-terminated copy from pool. "a"
 * without '=' gives an empty value; the first '=' splits name from value;
 * empty pieces ("a=1&&b=2", a trailing '&') are skipped. Sets *n to the
 * number of pairs. MD_OK; MD_EINVAL for a bad escape or a NUL byte;
 * MD_ETOOBIG for more than `max` pairs. On error *n is 0. */
int md_query_parse(md_pool_t *pool, const char *q, size_t len, md_header_t *out, size_t max, size_t *n);

/* First pair whose name equals `name` exactly (query names are
 * case-sensitive), or NULL. */
const md_header_t *md_query_get(const md_header_t *pairs, size_t n, const char *name);

#endif
