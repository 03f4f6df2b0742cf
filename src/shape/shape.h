/*
 * shape.h - cutting a backend's JSON response down to what the client
 * needs: the `shape:` block of a backend in the config (md_shape_spec_t).
 *
 * A spec is compiled once at startup into a small tree of field rules;
 * per request md_shape_apply() tokenizes the response in one strict pass
 * (json/scan.h) and walks the tokens, copying the selected values into the
 * output as byte spans. Unselected subtrees are skipped in O(1) each; no
 * value is ever decoded except the sort field.
 *
 * Semantics, in the order they apply:
 *
 *   from: a.b      Descend into object member a, then its member b. A
 *                  missing member, or a non-object on the way, is
 *                  MD_ENOTFOUND. (Only object members: no array indexes.)
 *   The value found is then shaped according to its type:
 *     array        select/deny/rename apply to each element that is an
 *                  object; other elements are copied as they are. sort
 *                  orders the elements, then limit keeps the first N.
 *     object       select/deny/rename apply to it. sort or limit in the
 *                  spec make this an error (MD_EINVAL): they describe a
 *                  list, and silently returning a whole object instead of
 *                  N items would hide a backend/config mismatch.
 *     other        copied as it is (sort/limit: MD_EINVAL, as above).
 *
 *   select: [p..]  Keep only these dotted paths. Output members come in
 *                  the order of the select list; nested paths build nested
 *                  objects, grouped under the first path that names their
 *                  parent ([a.x, b, a.y] gives {"a":{"x":..,"y":..},"b":..}).
 *                  A missing field is left out. For a nested path the
 *                  parent is emitted only if the document has it as an
 *                  object (then possibly as {}); if the parent is a string,
 *                  say, the path does not exist and the parent is left out.
 *   deny: [p..]    Keep everything, in document order, except these paths.
 *                  A path through a non-object simply does not exist.
 *   rename: p: k   Emit field p under key k, at the same level (for a
 *                  nested path the leaf key is renamed). With select, p
 *                  must be selected, an ancestor of a selected path, or
 *                  inside a selected subtree.
 *   sort: f / -f   Stable sort by element field f (dotted path allowed),
 *                  ascending, or descending with '-'. The type of the first
 *                  element (in document order) whose field is a number,
 *                  string or boolean decides the comparison: numbers as
 *                  doubles, strings bytewise by their decoded content,
 *                  false < true. Elements whose field is missing, null, a
 *                  container or of another type sort last, in document
 *                  order, in both directions. Equal keys keep document
 *                  order in both directions.
 *   limit: N       Keep the first N elements after sorting; -1 = all.
 *
 * Output is compact JSON. Values are copied unchanged (string escapes such
 * as \u00e9 pass through as written); only whitespace between tokens is
 * dropped. Object keys from the document are copied as written; renamed
 * and selected keys are written from the spec. Duplicate keys in an input
 * object: select, from and sort use the last occurrence; deny/keep-all
 * mode copies every occurrence, as the document had them.
 *
 * Compile-time errors (md_shape_compile): both select and deny, an empty
 * path segment, a path deeper than MD_SHAPE_MAX_DEPTH, a duplicate or
 * overlapping select/deny path (`a` with `a.b`), a rename of a field that
 * is not selected or is denied, a field renamed twice or to "", two
 * selected fields emitted under one key, limit < -1, more than
 * MD_SHAPE_MAX_RULES fields or MD_SHAPE_MAX_FIELDS on one level.
 */
#ifndef MD_SHAPE_H
#define MD_SHAPE_H

#include <stddef.h>

#include "config/config.h"
#include "core/buf.h"

/* Segments in one dotted path. */
#define MD_SHAPE_MAX_DEPTH 16
/* Field rules in one compiled shape (every path segment is one). */
#define MD_SHAPE_MAX_RULES 256
/* Rules directly under one object level. */
#define MD_SHAPE_MAX_FIELDS 64

typedef struct md_shape md_shape_t;

/* Compiles a spec; NULL + message in err on an invalid spec (see above).
 * The result does not point into spec. */
md_shape_t *md_shape_compile(const md_shape_spec_t *spec, char *err, size_t errlen);

/* Frees a compiled shape. NULL is ignored. */
void md_shape_free(md_shape_t *s);

/* Validates `json` strictly and appends the shaped value (compact JSON) to
 * out. s == NULL: validate and copy the input verbatim (byte-identical).
 * MD_OK; MD_EINVAL invalid JSON (err says what and the byte offset) or
 * sort/limit on a non-array; MD_ENOTFOUND `from` path absent; MD_ETOOBIG
 * out's cap or the token cap. On error out is left as it was.
 * Thread-safe: a compiled shape is read-only and the token scratch is per
 * thread, so worker threads may apply one shape concurrently. */
int md_shape_apply(const md_shape_t *s, const char *json, size_t len, md_buf_t *out, char *err,
                   size_t errlen);

#endif
