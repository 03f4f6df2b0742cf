/*
 * common.h - the return codes, small macros and limits shared by every medley
 * module.
 *
 * One error convention (house style): functions return int, 0 (MD_OK) on
 * success and a negative MD_E* code on failure. Where a human message is
 * useful it travels in a caller-provided buffer, never in a global.
 *
 * Allocation failure policy: medley does not try to limp on after malloc
 * fails. md_malloc() and friends (alloc.h) log and abort; every other
 * resource is bounded by configuration so that memory use stays predictable.
 */
#ifndef MD_COMMON_H
#define MD_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
    MD_OK = 0,
    MD_ERR = -1,         /* generic failure, message elsewhere */
    MD_AGAIN = -2,       /* not enough input yet / would block */
    MD_EINVAL = -3,      /* malformed input */
    MD_ETOOBIG = -4,     /* a configured size or count limit was hit */
    MD_ETIMEDOUT = -5,   /* a deadline passed */
    MD_ECONNECT = -6,    /* could not connect */
    MD_ERESET = -7,      /* peer closed or reset the connection early */
    MD_ENOTFOUND = -8,   /* no such thing (key, route, param) */
    MD_ECANCELED = -9,   /* the operation was cancelled by its owner */
    MD_ETLS = -10,       /* TLS failed: certificate refused, or the peer spoke TLS wrong */
};

/* Human name of an MD_E* code ("timeout", "connect", ...), for logs and
 * error bodies. Never NULL. */
const char *md_strerror(int code);

#define MD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MD_UNUSED(x) ((void)(x))
#define MD_LIKELY(x) __builtin_expect(!!(x), 1)
#define MD_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* A borrowed byte string: pointer + length, not NUL-terminated. */
typedef struct md_str {
    const char *ptr;
    size_t len;
} md_str_t;

#define MD_STR_LIT(s) ((md_str_t){ (s), sizeof(s) - 1 })

/* A name/value pair of borrowed strings (HTTP headers, query parameters). */
typedef struct md_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} md_header_t;

/* Formats a message into a caller's error buffer (err may be NULL or
 * errlen 0: nothing is written). Truncates, always NUL-terminates. */
void md_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The value of a hexadecimal digit, or -1 if c is not one. */
static inline int md_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Marsaglia's xorshift64 (13, 7, 17): advances *state (never 0) and returns
 * its high 32 bits. Not for secrets; for sampling and demo data. */
static inline uint32_t md_xorshift32(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (uint32_t)(x >> 32);
}

/* Writes v in decimal at p (at most 20 bytes, no NUL) and returns the
 * byte after it. For hot paths that build text without printf. */
char *md_put_u64(char *p, uint64_t v);

/* True if c is an RFC 9110 tchar: a byte a token (header name, method)
 * may hold. */
bool md_is_tchar(unsigned char c);

/* True if s[0..n) is a non-empty RFC 9110 token. */
bool md_is_token(const char *s, size_t n);

/* Case-insensitive comparison of a header name with a NUL-terminated one. */
bool md_header_name_is(const md_header_t *h, const char *name);

/* Finds the first header named `name` (case-insensitive) or NULL. */
const md_header_t *md_header_find(const md_header_t *hs, size_t n, const char *name);

#endif
