/*
 * template.h - backend paths, query values and header values filled from
 * request inputs.
 *
 * A template is literal text written in the config with "{name}" holes:
 * "/users/{user}/orders?limit={query.limit}". It is compiled once at startup
 * into a list of literal spans and variable references; rendering is a single
 * pass that copies literals as written and percent-encodes every substituted
 * value through a 256-entry table chosen by where the value lands:
 *
 *   path part (TARGET, before the first literal '?') and query part (after
 *   it), and QUERY_VALUE templates: every byte except A-Z a-z 0-9 - . _ ~ is
 *   encoded, so a value cannot add a path segment ('/'), start a query or
 *   fragment ('?', '#'), add a parameter ('&', '='), or smuggle an escape
 *   ('%').
 *   HEADER_VALUE: bytes outside 0x21-0x7E other than space, and '%', are
 *   encoded, so CR, LF, NUL and other CTLs can never reach the wire.
 *
 * Together with the compile-time checks on the literal text (a TARGET starts
 * with a single '/', no '#', space, CTL or non-ASCII byte, no literal dot
 * segment) and two render-time checks (a segment that renders to "." or
 * ".." and a path that renders to start with "//" are refused), request
 * input can never change the host, add a path segment or inject a header.
 *
 * Compiled templates are immutable and may be rendered from many threads.
 */
#ifndef MD_UPSTREAM_TEMPLATE_H
#define MD_UPSTREAM_TEMPLATE_H

#include "core/buf.h"
#include "core/common.h"

/* Longest template source accepted, and most variables in one template. */
#define MD_TPL_MAX_SOURCE 8192
#define MD_TPL_MAX_VARS 64

typedef enum {
    MD_TPL_TARGET,       /* "/a/{x}/b?q={y}&k=v": path part, then query part */
    MD_TPL_QUERY_VALUE,  /* the value of one query parameter */
    MD_TPL_HEADER_VALUE, /* the value of one request header */
} md_tpl_kind_t;

typedef struct md_template md_template_t;

/* Compiles `src` as a template of the given kind. Returns NULL and writes a
 * message naming the 1-based column of the problem into err ("column 7:
 * empty variable name") on: unbalanced braces, an empty name, a character
 * outside [A-Za-z0-9_.-] in a name, a source longer than MD_TPL_MAX_SOURCE
 * or with more than MD_TPL_MAX_VARS variables; for TARGET also a source that
 * does not start with '/', starts with "//", holds a literal '#', space,
 * CTL or non-ASCII byte, or a literal "." / ".." segment; for QUERY_VALUE a
 * literal '#', '&', space, CTL or non-ASCII byte; for HEADER_VALUE a literal
 * CTL other than HTAB. */
md_template_t *md_template_compile(const char *src, md_tpl_kind_t kind, char *err, size_t errlen);

/* Frees a compiled template. NULL is ignored. */
void md_template_free(md_template_t *t);

/* Number of variable references, in source order (repeats counted). */
size_t md_template_nvars(const md_template_t *t);

/* The i-th variable (i < nvars). "{user}" gives ns "" and name "user" (a
 * declared endpoint parameter); "{query.q}" gives ns "query" and name "q";
 * likewise the namespaces "header", "jwt" and "auth". A prefix before the first '.'
 * that is not one of those stays part of the name ("{a.b}": ns "", name
 * "a.b"). Both strings point into the template and live as long as it. */
void md_template_var(const md_template_t *t, size_t i, md_str_t *ns, md_str_t *name);

/* Looks up a variable's value for one request. Returns MD_OK with *value
 * set, or MD_ENOTFOUND when the input is absent. */
typedef int (*md_tpl_lookup_fn)(void *ctx, md_str_t ns, md_str_t name, md_str_t *value);

/* Appends the rendered template to `out`; absent values render as "".
 * Returns MD_OK; MD_EINVAL if a path segment holding a variable renders to
 * "." or ".." (a dot segment) or the path renders to start with "//" (would
 * read as an authority); MD_ETOOBIG when out's cap is hit; or any other
 * error the lookup returns. On error out is left as it was. */
int md_template_render(const md_template_t *t, md_tpl_lookup_fn lookup, void *ctx, md_buf_t *out);

/* True if the template has no variables: it renders the same every time,
 * so callers can render it once up front. */
bool md_template_is_static(const md_template_t *t);

#endif
