/*
 * authfile.h - the line reader shared by the api-key and users-file loaders.
 *
 * Both files are line-oriented secrets files (`name:key`, `user:hash`) that
 * an operator edits by hand. The reader keeps memory bounded (a caller's
 * fixed buffer: a longer line is an error, not a reallocation), accepts LF
 * or CRLF endings, counts lines for `file:line:` messages and refuses NUL
 * bytes, which would otherwise silently cut a secret short in C strings.
 */
#ifndef MD_AUTH_AUTHFILE_H
#define MD_AUTH_AUTHFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Reads the next line of f into buf[0..cap) without its '\n' or a trailing
 * '\r', NUL-terminated, sets *len and increments *lineno. Returns MD_OK,
 * MD_ENOTFOUND at end of file, MD_ETOOBIG for a line of cap-1 bytes or more
 * (the rest is not read), MD_EINVAL for a NUL byte, MD_ERR on a read error.
 * The buffer may hold secrets: the caller wipes it when done. */
int md_authfile_read_line(FILE *f, char *buf, size_t cap, size_t *len, unsigned *lineno);

/* True for a line to ignore: empty, only blanks, or a comment (first
 * non-blank character '#'). */
bool md_authfile_is_blank(const char *line, size_t len);

#endif
