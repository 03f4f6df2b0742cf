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

/* The longest line the loader accepts, its '\n' included. */
#define MD_AUTHFILE_LINE_MAX 1024

/* One "name:value" entry of a file, split at the first ':'. `value` is
 * NUL-terminated (value_len bytes); `where` is "path:line" for messages.
 * Returns MD_OK or an error with a message in err. */
typedef int (*md_authfile_entry_cb)(void *arg, const char *name, size_t name_len, const char *value,
                                    size_t value_len, unsigned lineno, const char *where, char *err,
                                    size_t errlen);

/* Reads the file at path and calls cb for each line that is not blank,
 * in order, stopping at the first error. `form` names the expected shape
 * in messages ("name:key"). The line buffer is wiped before returning.
 * MD_OK; MD_ERR (cannot open or read); MD_ETOOBIG, MD_EINVAL (a bad
 * line, "path:3: expected name:key") or cb's error. Entries added before
 * an error stay added: the caller rolls back. */
int md_authfile_load(const char *path, const char *form, md_authfile_entry_cb cb, void *arg, char *err,
                     size_t errlen);

#endif
