/*
 * params.h - an endpoint's declared parameters, checked on every request.
 *
 * At startup the `params:` list of an endpoint (md_param_conf_t) is compiled:
 * patterns become anchored POSIX extended regexes (compiled once, then used
 * read-only from every worker thread; glibc's regexec is safe on a shared
 * regex_t) and defaults are checked against their own rules. Per request,
 * md_params_validate() finds each parameter in the decoded query pairs
 * (http/query), the request headers or the raw path values the router
 * extracted, and checks its length, type and pattern. The values it returns
 * are what templates substitute, so nothing unchecked reaches a backend
 * through a declared parameter.
 *
 * Types: integer = optional '-' then 1-18 digits, no leading zero unless the
 * number is 0 (fits int64_t); number = the JSON number grammar; boolean =
 * "true" or "false"; string = any bytes but NUL. Every type is bounded by
 * max_length (bytes, after decoding).
 */
#ifndef MD_GATEWAY_PARAMS_H
#define MD_GATEWAY_PARAMS_H

#include "config/config.h"
#include "core/common.h"
#include "core/pool.h"

/* Most parameters one endpoint may declare. */
#define MD_PARAMS_MAX 64
/* max_length used when the config gives 0. */
#define MD_PARAM_DEFAULT_MAX_LENGTH 256

typedef struct md_params md_params_t;

/* Compiles n declared parameters (n may be 0). Returns NULL with a message
 * naming the parameter in err on: a missing name, more than MD_PARAMS_MAX
 * parameters, an empty or invalid pattern, a pattern with an unbalanced ')'
 * (it would escape the anchoring), or a default value that fails its own
 * length, type or pattern. The result does not point into `params`. */
md_params_t *md_params_compile(const md_param_conf_t *params, size_t n, char *err, size_t errlen);

/* Frees compiled parameters. NULL is ignored. */
void md_params_free(md_params_t *p);

/* Number of declared parameters (the size of md_params_validate's values). */
size_t md_params_count(const md_params_t *p);

/* Validates one request's inputs against the declared parameters.
 * query: decoded pairs from md_query_parse (names match exactly); headers:
 * the request headers (names match case-insensitively); path_values[i]: the
 * raw, still percent-encoded value of declared parameter i when it is
 * `in: path` (.ptr NULL if the router found none), ignored otherwise;
 * path_values may be NULL when the endpoint has no path parameters.
 *
 * On MD_OK, values[i] (md_params_count entries) is the value of parameter i:
 * decoded, or the default when absent, or .ptr NULL when absent without a
 * default. Values borrow from query/headers or from `pool` (decoded path
 * values). On MD_EINVAL, *bad is the index of the first failing parameter
 * and msg says why, e.g. "query parameter 'user' is required", "... must be
 * an integer", "... must match ^[0-9]+$", "... is longer than 64 bytes". */
int md_params_validate(const md_params_t *p, md_pool_t *pool, const md_header_t *query, size_t nquery,
                       const md_header_t *headers, size_t nheaders, const md_str_t *path_values,
                       md_str_t *values, size_t *bad, char *msg, size_t msglen);

#endif
