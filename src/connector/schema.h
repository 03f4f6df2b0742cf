/*
 * schema.h - the JSON schema of an endpoint's 200 response for the
 * connector export: the exact shape of what medley answers, so that a
 * canvas app gets typed fields.
 *
 * The schema is built in three passes over a small tree of properties:
 *
 * 1. From the config. A composite endpoint answers an object; each backend
 *    puts its result at its `as` path (dotted keys nest objects) or merges
 *    it into the root. A backend whose shape has `sort` or `limit` gives a
 *    list, any other shape is taken to give an object (a guess that a
 *    sample corrects); `select` paths become the properties of that object
 *    (of each list item), nested paths nested objects, `rename`s rename
 *    them. Without `select` (no shape, or `deny`) the members are unknown.
 *    `errors_field` adds its object. Where two backends meet, objects merge
 *    and otherwise the later one wins, as in the merge itself.
 * 2. From a sample (`connector export --sample`): a real answer of the
 *    endpoint. Its values type the properties (string, integer, number,
 *    boolean; strings that are all RFC 3339 timestamps get format
 *    date-time), settle object versus list, and add the members a `deny`
 *    or unshaped backend returns.
 * 3. From `response.schema` overrides, which win over both: type, title
 *    (x-ms-summary), description and format of any dotted path, lists
 *    stepped through ("news.title" is the title of each news item); a path
 *    the tree lacks is added.
 *
 * What is still unknown after that is typed string, and each such property
 * is named in a warning. Every property gets an x-ms-summary (its title,
 * else the key in Title Case) and a description (else a generated
 * sentence naming its backend).
 *
 * A passthrough endpoint streams its upstream's answer unchanged, so its
 * schema is only what a sample or the overrides say; with neither there is
 * no schema at all (the 200 response has a description only).
 *
 * Limits: MD_SCHEMA_MAX_NODES properties per endpoint, MD_SCHEMA_MAX_DEPTH
 * levels, MD_SCHEMA_MAX_SAMPLE_ITEMS list items read per list; beyond them
 * the sample is not followed (and a warning says so).
 */
#ifndef MD_CONNECTOR_SCHEMA_H
#define MD_CONNECTOR_SCHEMA_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "connector/pretty.h"

#define MD_SCHEMA_MAX_NODES 4096
#define MD_SCHEMA_MAX_DEPTH 32
#define MD_SCHEMA_MAX_SAMPLE_ITEMS 200

/* Writes the 200 response schema of endpoint e as the member "schema" of
 * w's current object, and sets *written; when nothing is known about a
 * passthrough endpoint's answer it writes nothing and clears *written.
 * `sample` is the endpoint's sampled answer (NULL if none; a sample that
 * is not valid JSON is ignored with a warning). Warnings, prefixed with
 * `opid` ("GetHome: ..."), go to `warn` when it is not NULL. Returns MD_OK
 * or the writer's error (w->rc). */
int md_connector_response_schema(md_jw_t *w, const md_endpoint_conf_t *e, const char *opid, const char *sample,
                                 size_t sample_len, FILE *warn, bool *written);

#endif
