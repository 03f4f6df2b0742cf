/*
 * text.h - the names and strings the connector export derives from the
 * config: operationIds, operation summaries, display names of properties
 * and parameters.
 *
 * Power Platform's rules (certification and string guidance):
 *   - operationId: unique, stable, PascalCase. Derived from the method and
 *     the path only, so it never changes when other endpoints are added or
 *     reordered: GET /home -> GetHome, GET /users/{id}/orders ->
 *     GetUsersOrdersById, GET / -> GetRoot.
 *   - summary: a phrase of at most 80 characters made of letters, digits,
 *     spaces and parentheses, in sentence case, with no trailing
 *     punctuation.
 *   - x-ms-summary: a short Title Case name.
 * Everything here is pure string work on bounded buffers.
 */
#ifndef MD_CONNECTOR_TEXT_H
#define MD_CONNECTOR_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest operationId (bytes); the config's operation_id has the same cap. */
#define MD_CONNECTOR_MAX_OPID 64
/* Longest operation summary, in characters. */
#define MD_CONNECTOR_MAX_SUMMARY 80
/* Buffer size that holds any summary (80 characters of up to 4 bytes). */
#define MD_CONNECTOR_SUMMARY_BUF (4 * MD_CONNECTOR_MAX_SUMMARY + 1)

/* Derives the operationId of an endpoint: the method in PascalCase, then
 * each literal path segment's words (split at anything but A-Z a-z 0-9)
 * with a capital first letter, then "By" and the path parameters' names
 * joined by "And". Bytes outside A-Z a-z 0-9 never appear in the result.
 * MD_OK, or MD_ETOOBIG when it would pass MD_CONNECTOR_MAX_OPID or
 * outlen - 1 bytes (the caller asks for an explicit operation_id). */
int md_connector_operation_id(const char *method, const char *path, char *out, size_t outlen);

/* Whether s is PascalCase: an ASCII capital, then only A-Z a-z 0-9. */
bool md_connector_is_pascal(const char *s);

/* Turns free text (an endpoint's `summary`) into a summary Power Platform
 * accepts: characters other than letters, digits, spaces and parentheses
 * become spaces ('\'' is dropped, so "employee's" gives "employees"),
 * runs of spaces collapse, Title Case text becomes sentence case (words
 * in capitals such as "HR" stay), the first letter is capitalized, the
 * text is cut at a word boundary to MD_CONNECTOR_MAX_SUMMARY characters
 * and trailing spaces and '(' are removed. Non-ASCII letters are kept
 * (malformed UTF-8 is not). Returns the length written; 0 when nothing
 * usable is left. out must hold MD_CONNECTOR_SUMMARY_BUF bytes or more. */
size_t md_connector_summary(const char *text, char *out, size_t outlen);

/* A summary for an endpoint that has none, from its method and path:
 * GET /users/{id}/orders -> "Get users orders by id". Same output rules
 * as md_connector_summary. */
size_t md_connector_path_summary(const char *method, const char *path, char *out, size_t outlen);

/* A Title Case display name for a property or parameter key:
 * "balance_days" -> "Balance Days", "publishedAt" -> "Published At",
 * "id" -> "ID", "url" -> "URL". A key without letters or digits gives
 * "Value". Cut to outlen - 1 bytes at a character boundary. */
void md_connector_title(const char *name, char *out, size_t outlen);

#endif
