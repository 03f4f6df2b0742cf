/*
 * write.h - appending JSON text to a bounded md_buf_t.
 *
 * medley never builds a JSON tree to print it: responses are assembled
 * from byte spans of validated input (shape/, merge) plus the few strings
 * it writes itself (renamed keys, error bodies). These helpers are the
 * only place that escapes text, so every byte medley emits is valid JSON.
 *
 * Each call is all or nothing: on MD_ETOOBIG (the buffer's cap) the
 * buffer is left exactly as it was.
 */
#ifndef MD_JSON_WRITE_H
#define MD_JSON_WRITE_H

#include <stddef.h>

#include "core/buf.h"
#include "json/scan.h"

/* Appends s[0..len) as a JSON string literal, quotes included. '"' and '\\'
 * are escaped, control characters become \b \f \n \r \t or \u00XX, and
 * bytes that are not well-formed UTF-8 are replaced by U+FFFD (so even
 * arbitrary bytes, e.g. an echoed request parameter, give valid JSON).
 * s may be NULL when len is 0. MD_OK or MD_ETOOBIG. */
int md_json_write_string(md_buf_t *out, const char *s, size_t len);

/* Appends s[0..len) as an object key followed by ':' ("key":), escaped as
 * md_json_write_string does. MD_OK or MD_ETOOBIG. */
int md_json_write_key(md_buf_t *out, const char *s, size_t len);

/* Appends the scanned value t of json (tokens from md_json_scan) in
 * compact form: its bytes verbatim when it holds no insignificant
 * whitespace, else with that whitespace removed. String contents,
 * including escapes, are never altered. MD_OK or MD_ETOOBIG. */
int md_json_write_value(md_buf_t *out, const char *json, const md_json_tok_t *t);

#endif
