/*
 * scan.h - medley's strict JSON tokenizer: one pass over a document that
 * validates it against RFC 8259 and records a flat array of tokens.
 *
 * There is no DOM and no allocation per value. A token is a byte span of
 * the input plus the index of the first token after its subtree, so a
 * consumer skips any value, however large, in O(1) and copies selected
 * values out as byte spans (see shape/shape.c). Because validation is
 * strict, every span copied out is valid JSON on its own.
 *
 * Token layout, in document order (pre-order):
 *   - object: the object token, then per member a STRING key token
 *     followed by the value's tokens; `count` = number of members;
 *   - array: the array token, then each element's tokens; `count` = number
 *     of elements;
 *   - scalars: one token each.
 * For every token `next` is the index just past its subtree (a key's
 * `next` is its value). `off`/`len` cover the whole value: quotes of a
 * string, brackets of a container.
 *
 * What "strict" means here:
 *   - numbers follow the RFC grammar exactly (no leading zeros, no '+',
 *     no bare '.', no hex, no NaN/Infinity);
 *   - literals are exactly true, false, null;
 *   - strings: no raw byte below 0x20; escapes are \" \\ \/ \b \f \n \r \t
 *     and \uXXXX; surrogate escapes must form a pair (a lone \uD800 or
 *     \uDC00 is rejected, as I-JSON, RFC 7493, requires); raw bytes must be
 *     well-formed UTF-8 (no overlongs, no encoded surrogates, nothing above
 *     U+10FFFF). UTF-8 checking costs nothing measurable on ASCII text, as
 *     the string loop tests 8 bytes at a time for '"', '\\', < 0x20 and
 *     >= 0x80 together. On text where every other word has non-ASCII
 *     letters it costs 20 us instead of 11 us per 25 KB (bench/micro);
 *   - nesting deeper than MD_JSON_MAX_DEPTH is an error;
 *   - only whitespace (space, tab, CR, LF) may surround the one top-level
 *     value; any top-level value (also a scalar) is accepted.
 *
 * Limits: documents must be shorter than 4 GiB (offsets are 32-bit) and the
 * token array never grows past its `max` (MD_ETOOBIG).
 *
 * Thread safety: md_json_scan() touches only its arguments. The scratch
 * array returned by md_json_scratch() belongs to the calling thread.
 */
#ifndef MD_JSON_SCAN_H
#define MD_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting of arrays/objects accepted ("[[[[..." bombs stop here). */
#define MD_JSON_MAX_DEPTH 64

/* Default cap on the tokens of one scan (about 20 MiB of tokens). */
#define MD_JSON_MAX_TOKENS (1u << 20)

/* "No such token", returned by the lookup helpers. */
#define MD_JSON_NONE UINT32_MAX

typedef enum md_json_type {
    MD_JSON_OBJECT = 1,
    MD_JSON_ARRAY,
    MD_JSON_STRING,
    MD_JSON_NUMBER,
    MD_JSON_TRUE,
    MD_JSON_FALSE,
    MD_JSON_NULL,
} md_json_type_t;

/* Token flags. */
enum {
    MD_JSON_F_ESCAPED = 1, /* string: holds at least one backslash escape */
    MD_JSON_F_SPACED = 2,  /* container: whitespace somewhere inside, so a
                              verbatim copy would not be compact */
};

/* One value (or object key) of a scanned document. 20 bytes. */
typedef struct md_json_tok {
    uint32_t off;   /* offset of the first byte of the value */
    uint32_t len;   /* bytes of the value, quotes/brackets included */
    uint32_t next;  /* index of the first token after this subtree */
    uint32_t count; /* members (object) or elements (array); else 0 */
    uint8_t type;   /* md_json_type_t */
    uint8_t flags;  /* MD_JSON_F_* */
} md_json_tok_t;

/* A growable, capped token array. */
typedef struct md_json_toks {
    md_json_tok_t *v;
    uint32_t n;   /* tokens in use */
    uint32_t cap; /* tokens allocated */
    uint32_t max; /* never grows past this; 0 means MD_JSON_MAX_TOKENS */
} md_json_toks_t;

/* Initializes an empty token array capped at `max` tokens (0: default). */
void md_json_toks_init(md_json_toks_t *t, uint32_t max);

/* Frees the storage; the array is empty and reusable afterwards. */
void md_json_toks_free(md_json_toks_t *t);

/* The calling thread's scratch token array, capped at MD_JSON_MAX_TOKENS.
 * It is reused across calls (callers set ->n = 0 first) and freed when the
 * thread exits. One user at a time: do not hold its tokens across a call
 * to another function that also uses it (md_shape_apply, md_merge_write). */
md_json_toks_t *md_json_scratch(void);

/* Frees the calling thread's scratch now (it is recreated on next use). */
void md_json_scratch_release(void);

/* Gives back the scratch's storage if one huge document grew it past
 * MD_JSON_SCRATCH_KEEP tokens, so a rare big response does not pin
 * megabytes per thread. Cheap; called after each use. */
void md_json_scratch_trim(void);

/* Tokens the scratch keeps between uses (about 1.3 MiB). */
#define MD_JSON_SCRATCH_KEEP (1u << 16)

/* Validates json[0..len) and APPENDS its tokens to t (tokens of earlier
 * scans stay valid, so several documents can share one array). The root
 * token's index is stored in *root when root != NULL. Offsets are relative
 * to `json`.
 * MD_OK; MD_EINVAL invalid JSON, with "invalid JSON at byte N: what" in
 * err; MD_ETOOBIG document of 4 GiB or more, or t->max reached. On error
 * t->n is restored to its value before the call. */
int md_json_scan(md_json_toks_t *t, const char *json, size_t len, uint32_t *root, char *err,
                 size_t errlen);

/* Value token of the member named key[0..keylen) of object token `obj`
 * (compared with the key's decoded content, so "\u0069d" matches "id").
 * With duplicate names the LAST one wins, as in most JSON parsers.
 * MD_JSON_NONE if absent or if `obj` is not an object. */
uint32_t md_json_member(const char *json, const md_json_tok_t *toks, uint32_t obj, const char *key,
                        size_t keylen);

/* Whether string token `t` decodes to exactly s[0..n). */
bool md_json_str_equal(const char *json, const md_json_tok_t *t, const char *s, size_t n);

/* Compares two string tokens (of possibly different documents) by their
 * decoded UTF-8 bytes: <0, 0, >0 like memcmp, shorter prefix first. */
int md_json_str_compare(const char *ja, const md_json_tok_t *a, const char *jb,
                        const md_json_tok_t *b);

/* Seeded 64-bit hash of bytes, and of a string token's DECODED content;
 * the two agree (hash_bytes("id") == str_hash("\u0069d")). For hash
 * tables keyed by member names; with a secret per-process seed a hostile
 * document cannot aim for collisions without knowing it. */
uint64_t md_json_hash_bytes(const void *p, size_t n, uint64_t seed);
uint64_t md_json_str_hash(const char *json, const md_json_tok_t *t, uint64_t seed);

/* Length of the well-formed UTF-8 sequence starting at s[0] (1 for ASCII),
 * or 0 if s[0..avail) does not start with one (stray continuation byte,
 * overlong form, encoded surrogate, above U+10FFFF, truncated). */
size_t md_json_utf8_seq(const char *s, size_t avail);

/* The number token `t` as a double (strtod semantics: huge values give
 * +-HUGE_VAL). */
double md_json_number(const char *json, const md_json_tok_t *t);

#endif
