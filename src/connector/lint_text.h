/*
 * lint_text.h - the text predicates of the connector lint (lint.c): JSON
 * string decoding, character counts, whole-word search, and the shapes
 * Power Platform asks of hosts, URLs, emails, operationIds, colours and
 * response codes. Pure functions of their arguments, kept apart from the
 * rule walk so each can be read (and tested) on its own.
 */
#ifndef MD_CONNECTOR_LINT_TEXT_H
#define MD_CONNECTOR_LINT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "json/scan.h"

/* Appends the decoded content of scanned string token t of json to out
 * (escapes resolved, surrogate pairs joined into UTF-8). out's cap must
 * allow t->len bytes, which decoding never exceeds. False, leaving out
 * unchanged, when t is not a string. out->data is never NULL after a true
 * return. */
bool md_lint_decode(const char *json, const md_json_tok_t *t, md_buf_t *out);

/* Characters (UTF-8 code points) of s[0..n): Power Platform's length
 * limits count characters, not bytes. */
size_t md_lint_chars(const char *s, size_t n);

/* Whether c is an ASCII letter or digit. */
bool md_lint_is_alnum_ascii(unsigned char c);

/* Whether a title or summary may end with byte c: a letter, a digit or a
 * closing parenthesis (non-ASCII bytes count as letters, so accented words
 * end fine). */
bool md_lint_ends_well(unsigned char c);

/* Whether s[0..n) is empty or only spaces, tabs and line ends. */
bool md_lint_is_blank(const char *s, size_t n);

/* The first of `words` found in s[0..n) as a whole word (not preceded or
 * followed by an ASCII letter or digit), ignoring ASCII case, or NULL:
 * "API" is found in "Feed API" but not in "Rapid". */
const char *md_lint_find_word(const char *s, size_t n, const char *const *words, size_t nwords);

/* Why s[0..n) is not a bare host[:port] (a scheme, a path, a bad port...),
 * as a phrase for a message, or NULL when it is one. */
const char *md_lint_host_problem(const char *s, size_t n);

/* An absolute http(s) URL with a host and no spaces. */
bool md_lint_is_url(const char *s, size_t n);

/* local@domain.tld with no spaces. */
bool md_lint_is_email(const char *s, size_t n);

/* PascalCase: an ASCII capital, then only ASCII letters and digits. */
bool md_lint_is_pascal_case(const char *s, size_t n);

/* Whether two texts say the same, ignoring ASCII case and trailing
 * periods and spaces. */
bool md_lint_same_text(const char *a, size_t na, const char *b, size_t nb);

/* "#rrggbb". */
bool md_lint_is_hex_colour(const char *s, size_t n);

/* A success response code: 200-299 or "2XX" (any case). */
bool md_lint_is_success_code(const char *s, size_t n);

#endif
