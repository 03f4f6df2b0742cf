/*
 * pretty.h - an indented JSON writer for the files the connector export
 * writes (apiDefinition.swagger.json, apiProperties.json) and for
 * GET /openapi.json.
 *
 * Those files are read and edited by people (the maker portal shows them,
 * paconn diffs them), so unlike medley's response bodies they are indented,
 * two spaces per level. Escaping is json/write.h's, so every byte is valid
 * JSON. The writer keeps the first error (MD_ETOOBIG from the buffer's cap
 * or from nesting deeper than MD_JW_MAX_DEPTH) and ignores every call after
 * it, so a builder can write a whole document and check once at the end.
 */
#ifndef MD_CONNECTOR_PRETTY_H
#define MD_CONNECTOR_PRETTY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/* Deepest nesting the writer accepts. */
#define MD_JW_MAX_DEPTH 128

typedef struct md_jw {
    md_buf_t *out;
    int depth;
    bool has_items[MD_JW_MAX_DEPTH]; /* per open container: a member written */
    char close[MD_JW_MAX_DEPTH];     /* per open container: '}' or ']' */
    int rc;                          /* first error, MD_OK until then */
} md_jw_t;

/* Starts writing one document into out (appended to what it holds). */
void md_jw_init(md_jw_t *w, md_buf_t *out);

/* Opens an object or array. `key` names it inside an object and must be
 * NULL inside an array or for the top-level value. */
void md_jw_object(md_jw_t *w, const char *key);
void md_jw_array(md_jw_t *w, const char *key);

/* Closes the innermost object or array ("{}" / "[]" when empty). */
void md_jw_end(md_jw_t *w);

/* Scalars; `key` as for md_jw_object. A NULL string value writes nothing
 * at all, so optional fields need no test at the call site. */
void md_jw_string(md_jw_t *w, const char *key, const char *value);
void md_jw_int(md_jw_t *w, const char *key, long long value);
void md_jw_bool(md_jw_t *w, const char *key, bool value);

/* A value that is already JSON text (a number from the config), copied
 * verbatim: the caller vouches for it. */
void md_jw_raw(md_jw_t *w, const char *key, const char *json);

/* Ends the document with a newline. MD_OK, or the first error met (the
 * buffer then holds a truncated document the caller must discard). */
int md_jw_finish(md_jw_t *w);

#endif
