/*
 * buf.h - a growable byte buffer with a hard size cap (curl's dynbuf idea).
 *
 * Every buffer that input can grow has a `max`: an append that would pass it
 * fails with MD_ETOOBIG and leaves the buffer unchanged, so a hostile peer
 * can never make medley allocate without bound. The data is always kept
 * NUL-terminated (one spare byte) so it can be handed to C string functions.
 */
#ifndef MD_BUF_H
#define MD_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct md_buf {
    char *data;    /* NULL until the first append */
    size_t len;    /* bytes in use */
    size_t cap;    /* bytes allocated (excluding the NUL spare) */
    size_t max;    /* hard cap on len; 0 means SIZE_MAX/2 */
} md_buf_t;

/* Initializes an empty buffer that may grow up to `max` bytes. */
void md_buf_init(md_buf_t *b, size_t max);

/* Frees the storage; the buffer is empty and reusable afterwards. */
void md_buf_free(md_buf_t *b);

/* Empties the buffer, keeping its storage. */
static inline void md_buf_reset(md_buf_t *b) { b->len = 0; if (b->data) b->data[0] = '\0'; }

/* Makes room for `n` more bytes. MD_OK or MD_ETOOBIG. */
int md_buf_reserve(md_buf_t *b, size_t n);

/* Appends bytes. MD_OK or MD_ETOOBIG (buffer unchanged). */
int md_buf_append(md_buf_t *b, const void *p, size_t n);
int md_buf_append_str(md_buf_t *b, const char *s);
int md_buf_append_char(md_buf_t *b, char c);

/* Appends printf-style formatted text. MD_OK or MD_ETOOBIG. */
int md_buf_printf(md_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int md_buf_vprintf(md_buf_t *b, const char *fmt, va_list ap);

/* Removes the first `n` bytes (n <= len), moving the rest to the front. */
void md_buf_consume(md_buf_t *b, size_t n);

/* Pointer to the free space after the data; valid for b->cap - b->len bytes
 * (call md_buf_reserve first). Mark bytes written there with md_buf_commit. */
static inline char *md_buf_tail(md_buf_t *b) { return b->data + b->len; }
void md_buf_commit(md_buf_t *b, size_t n);

/* Hands the storage to the caller (who frees it with md_free) and empties b. */
char *md_buf_detach(md_buf_t *b, size_t *len);

#endif
