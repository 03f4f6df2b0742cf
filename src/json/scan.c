/*
 * scan.c - the strict single-pass JSON tokenizer, see scan.h.
 *
 * The scanner is an explicit state machine with a fixed stack of open
 * containers (no recursion, so input cannot exhaust the C stack). Strings,
 * which are most of the bytes of a typical API response, are skipped 8
 * bytes at a time: one 64-bit word test finds the first byte that is a
 * quote, a backslash, a control character or non-ASCII; only those bytes
 * take the slow path.
 */
#include "json/scan.h"
#include "core/alloc.h"
#include "core/common.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scanner {
    const unsigned char *s;
    size_t len;
    size_t pos;
    md_json_toks_t *t;
    uint32_t max;       /* effective token cap */
    unsigned depth;     /* open containers */
    uint32_t stack[MD_JSON_MAX_DEPTH];
    const char *what;   /* error description */
    size_t where;       /* error byte offset */
} scanner_t;

static int fail(scanner_t *sc, int rc, size_t at, const char *what)
{
    sc->what = what;
    sc->where = at;
    return rc;
}

/* ---- token array ---- */

void md_json_toks_init(md_json_toks_t *t, uint32_t max)
{
    t->v = NULL;
    t->n = 0;
    t->cap = 0;
    t->max = max;
}

void md_json_toks_free(md_json_toks_t *t)
{
    md_free(t->v);
    t->v = NULL;
    t->n = 0;
    t->cap = 0;
}

static int toks_grow(scanner_t *sc)
{
    md_json_toks_t *t = sc->t;
    if (t->n >= sc->max)
        return fail(sc, MD_ETOOBIG, sc->pos, "too many tokens");
    if (t->n < t->cap)
        return MD_OK;
    uint32_t cap = t->cap < 256 ? 256 : (t->cap > sc->max / 2 ? sc->max : t->cap * 2);
    if (cap > sc->max)
        cap = sc->max;
    t->v = md_realloc(t->v, (size_t)cap * sizeof(*t->v));
    t->cap = cap;
    return MD_OK;
}

/* Appends a token starting at sc->pos; its index goes to *idx. */
static inline int tok_add(scanner_t *sc, uint8_t type, uint32_t *idx)
{
    md_json_toks_t *t = sc->t;
    if (MD_UNLIKELY(t->n >= t->cap || t->n >= sc->max)) {
        int rc = toks_grow(sc);
        if (rc != MD_OK)
            return rc;
    }
    uint32_t i = t->n++;
    md_json_tok_t *k = &t->v[i];
    k->off = (uint32_t)sc->pos;
    k->len = 0;
    k->next = i + 1;
    k->count = 0;
    k->type = type;
    k->flags = 0;
    *idx = i;
    return MD_OK;
}

/* ---- whitespace ---- */

static inline bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline void skip_ws(scanner_t *sc)
{
    size_t p = sc->pos;
    while (p < sc->len && is_ws(sc->s[p]))
        p++;
    if (p != sc->pos) {
        /* Remember it so the container is not copied out verbatim. */
        if (sc->depth)
            sc->t->v[sc->stack[sc->depth - 1]].flags |= MD_JSON_F_SPACED;
        sc->pos = p;
    }
}

/* ---- strings ---- */

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL
#define LOW7 0x7f7f7f7f7f7f7f7fULL

/* High bit set in each byte of y that is zero; exact (no carries between
 * bytes, because each byte's low 7 bits plus 0x7f stay below 0x100). */
static inline uint64_t zero_bytes(uint64_t y)
{
    return ~(((y & LOW7) + LOW7) | y) & HIGH;
}

/* High bit set in each byte that needs the slow path: '"', '\\', < 0x20,
 * >= 0x80. */
static inline uint64_t special_bytes(uint64_t x)
{
    uint64_t ctl = ~(((x & LOW7) + ONES * 0x60) | x) & HIGH;
    return ctl | zero_bytes(x ^ (ONES * '"')) | zero_bytes(x ^ (ONES * '\\')) | (x & HIGH);
}

static inline unsigned first_marked_byte(uint64_t m)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (unsigned)__builtin_ctzll(m) >> 3;
#else
    return (unsigned)__builtin_clzll(m) >> 3;
#endif
}

static inline bool is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Index of the first byte at or after p that is not plain string content. */
static inline size_t skip_plain(const unsigned char *s, size_t p, size_t end)
{
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, s + p, 8);
        uint64_t m = special_bytes(x);
        if (m)
            return p + first_marked_byte(m);
        p += 8;
    }
    while (p < end && is_plain(s[p]))
        p++;
    return p;
}

static int hex4(const unsigned char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* Length of the well-formed UTF-8 sequence at s (first byte >= 0x80), or 0
 * if it is not one (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        n = 2;
    } else if (c < 0xF0) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (c < 0xF5) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

size_t md_json_utf8_seq(const char *s, size_t avail)
{
    if (!avail)
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    return u[0] < 0x80 ? 1 : utf8_seq(u, avail);
}

/* Validates the escape at s[p] == '\\'; advances *pp past it. */
static int scan_escape(scanner_t *sc, size_t *pp)
{
    const unsigned char *s = sc->s;
    size_t p = *pp, end = sc->len;
    if (end - p < 2)
        return fail(sc, MD_EINVAL, p, "unterminated string");
    switch (s[p + 1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        *pp = p + 2;
        return MD_OK;
    case 'u':
        break;
    default:
        return fail(sc, MD_EINVAL, p, "invalid escape in string");
    }
    int cp = end - p >= 6 ? hex4(s + p + 2) : -1;
    if (cp < 0)
        return fail(sc, MD_EINVAL, p, "invalid \\u escape");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(sc, MD_EINVAL, p, "lone low surrogate escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = (end - p >= 12 && s[p + 6] == '\\' && s[p + 7] == 'u') ? hex4(s + p + 8) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(sc, MD_EINVAL, p, "unpaired high surrogate escape");
        *pp = p + 12;
        return MD_OK;
    }
    *pp = p + 6;
    return MD_OK;
}

/* Scans the string starting at sc->pos ('"') into token idx. */
static int scan_string(scanner_t *sc, uint32_t idx)
{
    const unsigned char *s = sc->s;
    size_t start = sc->pos, p = start + 1, end = sc->len;
    uint8_t flags = 0;
    for (;;) {
        p = skip_plain(s, p, end);
        if (MD_UNLIKELY(p >= end))
            return fail(sc, MD_EINVAL, start, "unterminated string");
        unsigned char c = s[p];
        if (c == '"')
            break;
        if (c == '\\') {
            flags |= MD_JSON_F_ESCAPED;
            int rc = scan_escape(sc, &p);
            if (rc != MD_OK)
                return rc;
        } else if (c < 0x20) {
            return fail(sc, MD_EINVAL, p, "control character in string");
        } else {
            /* Non-ASCII tends to come in runs (CJK, Cyrillic): stay here. */
            do {
                size_t n = utf8_seq(s + p, end - p);
                if (!n)
                    return fail(sc, MD_EINVAL, p, "invalid UTF-8 in string");
                p += n;
            } while (p < end && s[p] >= 0x80);
        }
    }
    p++;
    md_json_tok_t *k = &sc->t->v[idx];
    k->len = (uint32_t)(p - start);
    k->flags = flags;
    sc->pos = p;
    return MD_OK;
}

/* ---- numbers and literals ---- */

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(scanner_t *sc, uint32_t idx)
{
    const unsigned char *s = sc->s;
    size_t p = sc->pos, end = sc->len;
    if (s[p] == '-')
        p++;
    if (p >= end || !is_digit(s[p]))
        return fail(sc, MD_EINVAL, p, "invalid number");
    if (s[p] == '0') {
        p++;
        if (p < end && is_digit(s[p]))
            return fail(sc, MD_EINVAL, p, "leading zero in number");
    } else {
        while (p < end && is_digit(s[p]))
            p++;
    }
    if (p < end && s[p] == '.') {
        p++;
        if (p >= end || !is_digit(s[p]))
            return fail(sc, MD_EINVAL, p, "digit expected after '.'");
        while (p < end && is_digit(s[p]))
            p++;
    }
    if (p < end && (s[p] | 0x20) == 'e') {
        p++;
        if (p < end && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= end || !is_digit(s[p]))
            return fail(sc, MD_EINVAL, p, "digit expected in exponent");
        while (p < end && is_digit(s[p]))
            p++;
    }
    sc->t->v[idx].len = (uint32_t)(p - sc->pos);
    sc->pos = p;
    return MD_OK;
}

static int scan_literal(scanner_t *sc, uint32_t idx, const char *word, size_t n)
{
    if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
        return fail(sc, MD_EINVAL, sc->pos, "invalid literal");
    sc->t->v[idx].len = (uint32_t)n;
    sc->pos += n;
    return MD_OK;
}

/* ---- structure ---- */

static void count_in_parent(scanner_t *sc)
{
    if (sc->depth)
        sc->t->v[sc->stack[sc->depth - 1]].count++;
}

/* Closes the innermost container at sc->pos (its closing bracket). */
static void close_container(scanner_t *sc)
{
    md_json_tok_t *v = sc->t->v;
    uint32_t i = sc->stack[--sc->depth];
    sc->pos++;
    v[i].len = (uint32_t)(sc->pos - v[i].off);
    v[i].next = sc->t->n;
    if (sc->depth && (v[i].flags & MD_JSON_F_SPACED))
        v[sc->stack[sc->depth - 1]].flags |= MD_JSON_F_SPACED;
}

/* An object member's key and ':' (surrounding whitespace included). */
static int scan_key(scanner_t *sc)
{
    if (sc->pos >= sc->len)
        return fail(sc, MD_EINVAL, sc->pos, "unexpected end, expected a key");
    if (sc->s[sc->pos] != '"')
        return fail(sc, MD_EINVAL, sc->pos, "expected a string key");
    uint32_t k;
    int rc = tok_add(sc, MD_JSON_STRING, &k);
    if (rc != MD_OK)
        return rc;
    count_in_parent(sc);
    rc = scan_string(sc, k);
    if (rc != MD_OK)
        return rc;
    skip_ws(sc);
    if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
        return fail(sc, MD_EINVAL, sc->pos, "expected ':' after key");
    sc->pos++;
    skip_ws(sc);
    return MD_OK;
}

/* Opens '{' or '['. Returns 1 if a value (or key) must follow, 0 if the
 * container was empty and is already closed, or an error. */
static int open_container(scanner_t *sc, uint8_t type, uint32_t idx)
{
    if (sc->depth == MD_JSON_MAX_DEPTH)
        return fail(sc, MD_EINVAL, sc->pos, "nesting too deep");
    sc->stack[sc->depth++] = idx;
    sc->pos++;
    skip_ws(sc);
    char close = type == MD_JSON_OBJECT ? '}' : ']';
    if (sc->pos < sc->len && sc->s[sc->pos] == close) {
        close_container(sc);
        return 0;
    }
    if (type == MD_JSON_OBJECT) {
        int rc = scan_key(sc);
        if (rc != MD_OK)
            return rc;
    }
    return 1;
}

/* Scans one value at sc->pos. Returns 0 when a complete value was read, 1
 * when a container was opened and its first value is expected next. */
static int scan_value(scanner_t *sc)
{
    if (sc->pos >= sc->len)
        return fail(sc, MD_EINVAL, sc->pos, "unexpected end, expected a value");
    uint8_t type;
    unsigned char c = sc->s[sc->pos];
    switch (c) {
    case '{': type = MD_JSON_OBJECT; break;
    case '[': type = MD_JSON_ARRAY; break;
    case '"': type = MD_JSON_STRING; break;
    case 't': type = MD_JSON_TRUE; break;
    case 'f': type = MD_JSON_FALSE; break;
    case 'n': type = MD_JSON_NULL; break;
    default:
        if (c != '-' && !is_digit(c))
            return fail(sc, MD_EINVAL, sc->pos, "unexpected character, expected a value");
        type = MD_JSON_NUMBER;
        break;
    }
    uint32_t idx;
    int rc = tok_add(sc, type, &idx);
    if (rc != MD_OK)
        return rc;
    /* Object members were counted at their key. */
    if (sc->depth && sc->t->v[sc->stack[sc->depth - 1]].type == MD_JSON_ARRAY)
        count_in_parent(sc);
    switch (type) {
    case MD_JSON_OBJECT:
    case MD_JSON_ARRAY: return open_container(sc, type, idx);
    case MD_JSON_STRING: return scan_string(sc, idx);
    case MD_JSON_NUMBER: return scan_number(sc, idx);
    case MD_JSON_TRUE: return scan_literal(sc, idx, "true", 4);
    case MD_JSON_FALSE: return scan_literal(sc, idx, "false", 5);
    default: return scan_literal(sc, idx, "null", 4);
    }
}

/* After a complete value: closes finished containers and consumes the ','
 * (and next key) before another value. Returns 1 if a value must follow,
 * 0 when the top-level value is complete. */
static int after_value(scanner_t *sc)
{
    while (sc->depth) {
        skip_ws(sc);
        const md_json_tok_t *top = &sc->t->v[sc->stack[sc->depth - 1]];
        bool obj = top->type == MD_JSON_OBJECT;
        if (sc->pos >= sc->len)
            return fail(sc, MD_EINVAL, sc->pos,
                        obj ? "unexpected end, expected ',' or '}'" : "unexpected end, expected ',' or ']'");
        unsigned char c = sc->s[sc->pos];
        if (c == ',') {
            sc->pos++;
            skip_ws(sc);
            if (obj) {
                int rc = scan_key(sc);
                if (rc != MD_OK)
                    return rc;
            }
            return 1;
        }
        if (c != (obj ? '}' : ']'))
            return fail(sc, MD_EINVAL, sc->pos, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        close_container(sc);
    }
    return 0;
}

static int scan_document(scanner_t *sc)
{
    skip_ws(sc);
    if (sc->pos >= sc->len)
        return fail(sc, MD_EINVAL, sc->pos, "empty document");
    for (;;) {
        int rc = scan_value(sc);
        if (rc < 0)
            return rc;
        if (rc == 1)
            continue;
        rc = after_value(sc);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
    }
    skip_ws(sc);
    if (sc->pos != sc->len)
        return fail(sc, MD_EINVAL, sc->pos, "unexpected data after the document");
    return MD_OK;
}

int md_json_scan(md_json_toks_t *t, const char *json, size_t len, uint32_t *root, char *err,
                 size_t errlen)
{
    scanner_t sc;
    sc.s = (const unsigned char *)(json ? json : "");
    sc.len = json ? len : 0;
    sc.pos = 0;
    sc.t = t;
    sc.max = t->max && t->max < MD_JSON_NONE ? t->max : MD_JSON_MAX_TOKENS;
    sc.depth = 0;
    sc.what = NULL;
    sc.where = 0;
    uint32_t first = t->n;
    int rc;
    if (len >= UINT32_MAX)
        rc = fail(&sc, MD_ETOOBIG, 0, "document of 4 GiB or more");
    else
        rc = scan_document(&sc);
    if (rc != MD_OK) {
        t->n = first;
        if (err && errlen)
            snprintf(err, errlen, "%s JSON at byte %zu: %s", rc == MD_ETOOBIG ? "too big" : "invalid",
                     sc.where, sc.what ? sc.what : "error");
        return rc;
    }
    if (root)
        *root = first;
    return MD_OK;
}

/* ---- per-thread scratch ---- */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local md_json_toks_t *tl_scratch;

static void scratch_destroy(void *p)
{
    md_json_toks_t *t = p;
    md_json_toks_free(t);
    md_free(t);
}

static void scratch_key_create(void)
{
    /* The key exists only so that the destructor frees a worker's scratch
     * when the thread exits. */
    if (pthread_key_create(&scratch_key, scratch_destroy) != 0)
        abort();
}

md_json_toks_t *md_json_scratch(void)
{
    if (MD_LIKELY(tl_scratch != NULL))
        return tl_scratch;
    pthread_once(&scratch_once, scratch_key_create);
    tl_scratch = md_malloc(sizeof(*tl_scratch));
    md_json_toks_init(tl_scratch, MD_JSON_MAX_TOKENS);
    pthread_setspecific(scratch_key, tl_scratch);
    return tl_scratch;
}

void md_json_scratch_release(void)
{
    if (!tl_scratch)
        return;
    pthread_setspecific(scratch_key, NULL);
    scratch_destroy(tl_scratch);
    tl_scratch = NULL;
}

void md_json_scratch_trim(void)
{
    if (tl_scratch && tl_scratch->cap > MD_JSON_SCRATCH_KEEP)
        md_json_toks_free(tl_scratch);
}

/* ---- reading values ---- */

/* Yields the decoded bytes of a (validated) string's content one by one. */
typedef struct str_reader {
    const unsigned char *p, *end;
    unsigned char buf[4];
    unsigned nbuf, ibuf;
} str_reader_t;

static void reader_init(str_reader_t *r, const char *json, const md_json_tok_t *t)
{
    r->p = (const unsigned char *)json + t->off + 1;
    r->end = r->p + (t->len >= 2 ? t->len - 2 : 0);
    r->nbuf = r->ibuf = 0;
}

static unsigned utf8_encode(unsigned long cp, unsigned char *b)
{
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | cp >> 6);
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12);
        b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | cp >> 18);
    b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes \uXXXX (and its low surrogate) at r->p; defensive about bounds
 * although scanned tokens are already valid. */
static int reader_unicode(str_reader_t *r)
{
    long cp = r->end - r->p >= 6 ? hex4(r->p + 2) : -1;
    if (cp < 0) {
        r->p = r->end;
        return -1;
    }
    r->p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
        int lo = hex4(r->p + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            r->p += 6;
        }
    }
    r->nbuf = utf8_encode((unsigned long)cp, r->buf);
    r->ibuf = 1;
    return r->buf[0];
}

/* Next decoded byte, or -1 at the end. */
static int reader_next(str_reader_t *r)
{
    if (r->ibuf < r->nbuf)
        return r->buf[r->ibuf++];
    if (r->p >= r->end)
        return -1;
    unsigned char c = *r->p;
    if (c != '\\' || r->end - r->p < 2) {
        r->p++;
        return c;
    }
    unsigned char e = r->p[1];
    r->p += 2;
    switch (e) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': r->p -= 2; return reader_unicode(r);
    default: return e; /* '"', '\\', '/' */
    }
}

bool md_json_str_equal(const char *json, const md_json_tok_t *t, const char *s, size_t n)
{
    if (t->type != MD_JSON_STRING)
        return false;
    if (!(t->flags & MD_JSON_F_ESCAPED))
        return t->len - 2 == n && memcmp(json + t->off + 1, s, n) == 0;
    str_reader_t r;
    reader_init(&r, json, t);
    for (size_t i = 0; i < n; i++)
        if (reader_next(&r) != (unsigned char)s[i])
            return false;
    return reader_next(&r) == -1;
}

int md_json_str_compare(const char *ja, const md_json_tok_t *a, const char *jb,
                        const md_json_tok_t *b)
{
    if (!((a->flags | b->flags) & MD_JSON_F_ESCAPED)) {
        size_t la = a->len - 2, lb = b->len - 2;
        int c = memcmp(ja + a->off + 1, jb + b->off + 1, MD_MIN(la, lb));
        if (c)
            return c;
        return la < lb ? -1 : la > lb;
    }
    str_reader_t ra, rb;
    reader_init(&ra, ja, a);
    reader_init(&rb, jb, b);
    for (;;) {
        int ca = reader_next(&ra), cb = reader_next(&rb);
        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca == -1)
            return 0;
    }
}

/* FNV-1a steps from a seeded basis, then a murmur-style finalizer so the
 * low bits that pick a table slot depend on every input byte. */
#define HASH_PRIME 0x100000001b3ULL

static uint64_t hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

uint64_t md_json_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = seed ^ 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * HASH_PRIME;
    return hash_final(h);
}

uint64_t md_json_str_hash(const char *json, const md_json_tok_t *t, uint64_t seed)
{
    if (!(t->flags & MD_JSON_F_ESCAPED))
        return md_json_hash_bytes(json + t->off + 1, t->len - 2, seed);
    str_reader_t r;
    reader_init(&r, json, t);
    uint64_t h = seed ^ 0xcbf29ce484222325ULL;
    for (int c; (c = reader_next(&r)) >= 0;)
        h = (h ^ (unsigned char)c) * HASH_PRIME;
    return hash_final(h);
}

uint32_t md_json_member(const char *json, const md_json_tok_t *toks, uint32_t obj, const char *key,
                        size_t keylen)
{
    if (toks[obj].type != MD_JSON_OBJECT)
        return MD_JSON_NONE;
    uint32_t found = MD_JSON_NONE, k = obj + 1;
    for (uint32_t i = 0; i < toks[obj].count; i++) {
        if (md_json_str_equal(json, &toks[k], key, keylen))
            found = k + 1;
        k = toks[k + 1].next;
    }
    return found;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_create(void)
{
    /* strtod follows LC_NUMERIC; JSON always uses '.'. */
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

double md_json_number(const char *json, const md_json_tok_t *t)
{
    char small[64];
    char *s = t->len < sizeof(small) ? small : md_malloc((size_t)t->len + 1);
    memcpy(s, json + t->off, t->len);
    s[t->len] = '\0';
    pthread_once(&c_locale_once, c_locale_create);
    double d = c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
    if (s != small)
        md_free(s);
    return d;
}
