/*
 * fuzz_query.c - libFuzzer driver for http/query and gateway/params.
 *
 * Input: a request target's tail, "PATHVALUE?QUERY" or just "QUERY" (no
 * '?'): the part before the first '?' is the raw value of the path
 * parameter, the rest is the raw query. The query goes through
 * md_percent_decode and md_query_parse, whose results are compared with a
 * reference decoder written here from query.h; the decoded pairs (also
 * used as the request headers) and the path value then go through
 * md_params_validate with a fixed set of parameters of every type, each
 * alone and all together. Beyond "no crash, no sanitizer report" it checks,
 * and aborts when one breaks:
 *   - decoding agrees with the reference (result and error), in place too;
 *   - a parsed pair's name and value are NUL-terminated, hold no NUL, lie
 *     inside the pool memory the parse allocated, do not overlap one
 *     another or the input; on error *n is 0; `max` is honoured;
 *   - a parameter is accepted exactly when the reference says so, and an
 *     accepted value really is what its type says (integer:
 *     -?[0-9]{1,18} without a leading zero, fits int64_t; number: JSON
 *     grammar; boolean: true/false; every type: no NUL, within max_length,
 *     matching its whole pattern);
 *   - the set as a whole fails exactly at the first parameter that fails
 *     alone, and otherwise gives the same values.
 *
 * The pool check relies on the pool being a bump allocator: with a 1 MiB
 * chunk and inputs cut to 64 KiB every allocation of one parse lands in
 * one chunk between two marker allocations.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_query.c src/http/query.c src/gateway/params.c \
 *        src/config/ *.c src/core/ *.c -lyaml -pthread
 * Seeds: tests/fuzz/corpus/query/, dictionary: fuzz_query.dict.
 */
#include "config/config.h"
#include "core/common.h"
#include "core/pool.h"
#include "gateway/params.h"
#include "http/query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define MAX_INPUT 65536
#define MAX_PAIRS 32
#define SMALL_MAX 4
#define POOL_CHUNK (1u << 20)

/* ---- reference decoding, written from query.h ---- */

static int hexval(unsigned char c)
{
    static const char digits[] = "0123456789abcdef";
    if (c >= 'A' && c <= 'F')
        c = (unsigned char)(c - 'A' + 'a');
    const char *p = memchr(digits, c, 16);
    return p ? (int)(p - digits) : -1;
}

/* Decodes s into dst (room for len); false on a bad escape or a NUL. */
static bool ref_decode(const char *s, size_t len, bool plus, char *dst, size_t *dlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0)
            return false;
        dst[o++] = (char)c;
    }
    *dlen = o;
    return true;
}

typedef struct ref_pair {
    char *name, *value;
    size_t nlen, vlen;
} ref_pair_t;

typedef struct ref_query {
    ref_pair_t *pairs;  /* every non-empty piece, decoded */
    size_t n;
    bool bad;           /* some piece does not decode */
    bool bad_in_first_max; /* ... among the first MAX_PAIRS pieces */
} ref_query_t;

static void ref_split(const char *q, size_t len, ref_query_t *r)
{
    memset(r, 0, sizeof(*r));
    r->pairs = calloc(len / 2 + 2, sizeof(*r->pairs));
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && q[i] != '&')
            continue;
        if (i > start) {
            const char *p = q + start, *eq = memchr(p, '=', i - start);
            size_t nlen = eq ? (size_t)(eq - p) : i - start;
            size_t vlen = eq ? i - start - nlen - 1 : 0;
            ref_pair_t *rp = &r->pairs[r->n++];
            rp->name = malloc(nlen + 1);
            rp->value = malloc(vlen + 1);
            bool ok = ref_decode(p, nlen, true, rp->name, &rp->nlen) &&
                      ref_decode(eq ? eq + 1 : "", vlen, true, rp->value, &rp->vlen);
            if (!ok) {
                r->bad = true;
                if (r->n <= MAX_PAIRS)
                    r->bad_in_first_max = true;
            }
        }
        start = i + 1;
    }
}

static void ref_free(ref_query_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->pairs[i].name);
        free(r->pairs[i].value);
    }
    free(r->pairs);
}

/* ---- http/query checks ---- */

static bool within(const char *lo, const char *hi, const char *p, size_t n)
{
    return p >= lo && p <= hi && n <= (size_t)(hi - p);
}

static bool overlaps(const char *a, size_t an, const char *b, size_t bn)
{
    return a < b + bn && b < a + an;
}

static void check_decode(const char *in, size_t len)
{
    char *dst = malloc(len + 1), *ref = malloc(len + 1), *inplace = malloc(len + 1);
    for (int plus = 0; plus <= 1; plus++) {
        size_t dlen = 0, rlen = 0, ilen = 0;
        bool want = ref_decode(in, len, plus, ref, &rlen);
        int rc = md_percent_decode(in, len, plus, dst, &dlen);
        CHECK(rc == (want ? MD_OK : MD_EINVAL));
        memcpy(inplace, in, len);
        CHECK(md_percent_decode(inplace, len, plus, inplace, &ilen) == rc);
        if (!want)
            continue;
        CHECK(dlen == rlen && ilen == rlen && dlen <= len);
        CHECK(memcmp(dst, ref, rlen) == 0 && memcmp(inplace, ref, rlen) == 0);
        CHECK(!memchr(dst, '\0', dlen));
    }
    free(dst);
    free(ref);
    free(inplace);
}

static void check_pair_string(const char *lo, const char *hi, const char *in, size_t len, const char *s,
                              size_t slen, const char *want, size_t wlen)
{
    CHECK(s && within(lo, hi, s, slen + 1));
    CHECK(!overlaps(s, slen + 1, in, len));
    CHECK(s[slen] == '\0' && strlen(s) == slen);
    CHECK(slen == wlen && memcmp(s, want, wlen) == 0);
}

/* Parses q into pairs; checks it against the reference. Returns the rc. */
static int parse_checked(md_pool_t *pool, const char *q, size_t len, md_header_t *pairs, size_t *n)
{
    ref_query_t ref;
    ref_split(q, len, &ref);
    const char *lo = md_pool_alloc(pool, 1);
    *n = 12345;
    int rc = md_query_parse(pool, q, len, pairs, MAX_PAIRS, n);
    const char *hi = md_pool_alloc(pool, 1);
    CHECK(hi > lo && (size_t)(hi - lo) <= POOL_CHUNK);
    if (ref.n > MAX_PAIRS)
        CHECK(rc == MD_ETOOBIG || (rc == MD_EINVAL && ref.bad_in_first_max));
    else
        CHECK(rc == (ref.bad ? MD_EINVAL : MD_OK));
    if (rc != MD_OK) {
        CHECK(*n == 0);
        ref_free(&ref);
        return rc;
    }
    CHECK(*n == ref.n);
    for (size_t i = 0; i < *n; i++) {
        const md_header_t *p = &pairs[i];
        check_pair_string(lo + 1, hi, q, len, p->name, p->name_len, ref.pairs[i].name, ref.pairs[i].nlen);
        check_pair_string(lo + 1, hi, q, len, p->value, p->value_len, ref.pairs[i].value, ref.pairs[i].vlen);
        CHECK(!overlaps(p->name, p->name_len + 1, p->value, p->value_len + 1));
        for (size_t j = 0; j < i; j++) {
            CHECK(!overlaps(p->name, p->name_len + 1, pairs[j].value, pairs[j].value_len + 1));
            CHECK(!overlaps(p->value, p->value_len + 1, pairs[j].name, pairs[j].name_len + 1));
            CHECK(!overlaps(p->name, p->name_len + 1, pairs[j].name, pairs[j].name_len + 1));
            CHECK(!overlaps(p->value, p->value_len + 1, pairs[j].value, pairs[j].value_len + 1));
        }
        const md_header_t *g = md_query_get(pairs, *n, p->name);
        CHECK(g && g <= p && g->name_len == p->name_len && memcmp(g->name, p->name, p->name_len) == 0);
    }
    /* A smaller max: the same pairs, or MD_ETOOBIG with *n 0. */
    md_header_t small[SMALL_MAX];
    size_t sn = 99;
    int src = md_query_parse(pool, q, len, small, SMALL_MAX, &sn);
    CHECK(src == (*n > SMALL_MAX ? MD_ETOOBIG : MD_OK));
    CHECK(sn == (*n > SMALL_MAX ? 0 : *n));
    ref_free(&ref);
    return rc;
}

/* ---- gateway/params: the fixed parameter set and its reference ---- */

enum { P_ID, P_PRICE, P_FLAG, P_Q, P_CODE, P_ALT, P_LIMIT, P_NEG, P_TOK, P_USER, NPARAMS };

static const md_param_conf_t confs[NPARAMS] = {
    [P_ID] = { .name = "id", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_INTEGER },
    [P_PRICE] = { .name = "price", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_NUMBER },
    [P_FLAG] = { .name = "flag", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_BOOLEAN },
    [P_Q] = { .name = "q", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_STRING, .max_length = 16 },
    [P_CODE] = { .name = "code", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_STRING,
                 .pattern = "[a-z]{2,4}-[0-9]{1,6}" },
    [P_ALT] = { .name = "alt", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_STRING, .pattern = "abc|de+f" },
    [P_LIMIT] = { .name = "limit", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_INTEGER,
                  .pattern = "[1-9][0-9]?", .default_value = "10" },
    [P_NEG] = { .name = "neg", .in = MD_PARAM_IN_QUERY, .type = MD_PARAM_INTEGER, .required = true,
                .max_length = 5 },
    [P_TOK] = { .name = "X-Tok", .in = MD_PARAM_IN_HEADER, .type = MD_PARAM_STRING,
                .pattern = "[A-Za-z0-9]+", .max_length = 32 },
    [P_USER] = { .name = "user", .in = MD_PARAM_IN_PATH, .type = MD_PARAM_STRING, .pattern = "[^/]+",
                 .max_length = 64 },
};

static md_params_t *singles[NPARAMS], *all_params;
static md_pool_t *pool;

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* -?[0-9]{1,18}, no leading zero unless the number is 0. */
static bool ref_integer(const char *s, size_t len)
{
    size_t sign = len > 0 && s[0] == '-';
    size_t digits = len - sign;
    return digits >= 1 && digits <= 18 && all_digits(s + sign, digits) && (digits == 1 || s[sign] != '0');
}

/* JSON number: int part, optional fraction, optional exponent. */
static bool ref_number(const char *s, size_t len)
{
    if (len == 0)
        return false;
    size_t i = s[0] == '-' ? 1 : 0, d;
    for (d = i; d < len && s[d] >= '0' && s[d] <= '9'; d++)
        ;
    if (d == i || (s[i] == '0' && d > i + 1))
        return false;
    i = d;
    if (i < len && s[i] == '.') {
        for (d = ++i; d < len && s[d] >= '0' && s[d] <= '9'; d++)
            ;
        if (d == i)
            return false;
        i = d;
    }
    if (i < len && (s[i] | 0x20) == 'e') {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; d < len && s[d] >= '0' && s[d] <= '9'; d++)
            ;
        if (d == i)
            return false;
        i = d;
    }
    return i == len;
}

static bool ref_code(const char *s, size_t len)
{
    const char *dash = memchr(s, '-', len);
    if (!dash)
        return false;
    size_t a = (size_t)(dash - s), b = len - a - 1;
    for (size_t i = 0; i < a; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return a >= 2 && a <= 4 && b >= 1 && b <= 6 && all_digits(dash + 1, b);
}

static bool ref_alt(const char *s, size_t len)
{
    if (len == 3 && memcmp(s, "abc", 3) == 0)
        return true;
    if (len < 3 || s[0] != 'd' || s[len - 1] != 'f')
        return false;
    for (size_t i = 1; i + 1 < len; i++)
        if (s[i] != 'e')
            return false;
    return true;
}

static bool ref_alnum(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return len > 0;
}

/* Whether parameter i accepts the present value s[0..len). */
static bool ref_accepts(size_t i, const char *s, size_t len)
{
    size_t max = confs[i].max_length ? confs[i].max_length : MD_PARAM_DEFAULT_MAX_LENGTH;
    if (len > max || memchr(s, '\0', len))
        return false;
    switch (i) {
    case P_ID: return ref_integer(s, len);
    case P_PRICE: return ref_number(s, len);
    case P_FLAG: return (len == 4 && !memcmp(s, "true", 4)) || (len == 5 && !memcmp(s, "false", 5));
    case P_CODE: return ref_code(s, len);
    case P_ALT: return ref_alt(s, len);
    case P_LIMIT: return ref_integer(s, len) && len >= 1 && len <= 2 && s[0] >= '1' && s[0] <= '9';
    case P_NEG: return ref_integer(s, len);
    case P_TOK: return ref_alnum(s, len);
    case P_USER: return len > 0 && !memchr(s, '/', len);
    default: return true;
    }
}

/* What an accepted value must be, checked on medley's own output. */
static void check_accepted(size_t i, md_str_t v)
{
    if (!v.ptr)
        return;
    size_t max = confs[i].max_length ? confs[i].max_length : MD_PARAM_DEFAULT_MAX_LENGTH;
    CHECK(v.len <= max && !memchr(v.ptr, '\0', v.len));
    char *copy = strndup(v.ptr, v.len), *end = NULL;
    errno = 0;
    if (confs[i].type == MD_PARAM_INTEGER) {
        CHECK(ref_integer(v.ptr, v.len));
        long long x = strtoll(copy, &end, 10);
        CHECK(errno == 0 && *end == '\0' && (x != 0 || v.len <= 2));
    } else if (confs[i].type == MD_PARAM_NUMBER) {
        CHECK(ref_number(v.ptr, v.len));
        (void)strtod(copy, &end);
        CHECK(*end == '\0');
    } else if (confs[i].type == MD_PARAM_BOOLEAN) {
        CHECK(strcmp(copy, "true") == 0 || strcmp(copy, "false") == 0);
    }
    free(copy);
}

static void init(void)
{
    char err[256];
    for (size_t i = 0; i < NPARAMS; i++) {
        singles[i] = md_params_compile(&confs[i], 1, err, sizeof(err));
        CHECK(singles[i] && md_params_count(singles[i]) == 1);
    }
    all_params = md_params_compile(confs, NPARAMS, err, sizeof(err));
    CHECK(all_params && md_params_count(all_params) == NPARAMS);
    pool = md_pool_new(POOL_CHUNK);
}

/* The reference's view of parameter i: found?, the decoded value (into
 * buf), or false in *decodes when the path value does not decode. */
static bool ref_find(size_t i, const md_header_t *pairs, size_t n, md_str_t path, char *buf, md_str_t *v,
                     bool *decodes)
{
    *decodes = true;
    const char *name = confs[i].name;
    size_t nlen = strlen(name);
    for (size_t k = 0; confs[i].in != MD_PARAM_IN_PATH && k < n; k++) {
        bool match = pairs[k].name_len == nlen &&
                     (confs[i].in == MD_PARAM_IN_QUERY ? memcmp(pairs[k].name, name, nlen) == 0
                                                       : strncasecmp(pairs[k].name, name, nlen) == 0);
        if (match) {
            *v = (md_str_t){ pairs[k].value, pairs[k].value_len };
            return true;
        }
    }
    if (confs[i].in != MD_PARAM_IN_PATH || !path.ptr)
        return false;
    size_t dlen;
    *decodes = ref_decode(path.ptr, path.len, false, buf, &dlen);
    *v = (md_str_t){ buf, *decodes ? dlen : 0 };
    return *decodes;
}

/* Validates parameter i alone; returns whether medley accepted it. */
static bool validate_single(size_t i, const md_header_t *pairs, size_t n, md_str_t path, char *buf,
                            md_str_t *value)
{
    md_str_t pv[1] = { confs[i].in == MD_PARAM_IN_PATH ? path : (md_str_t){ NULL, 0 } };
    size_t bad = 99;
    char msg[256] = "";
    *value = (md_str_t){ "sentinel", 8 };
    int rc = md_params_validate(singles[i], pool, pairs, n, pairs, n, pv, value, &bad, msg, sizeof(msg));
    md_str_t in;
    bool decodes, found = ref_find(i, pairs, n, path, buf, &in, &decodes);
    bool want = found ? ref_accepts(i, in.ptr, in.len) : decodes && !confs[i].required &&
                                                         confs[i].in != MD_PARAM_IN_PATH;
    CHECK(rc == (want ? MD_OK : MD_EINVAL));
    if (rc != MD_OK) {
        CHECK(bad == 0 && strstr(msg, confs[i].name));
        return false;
    }
    if (!found) {
        const char *def = confs[i].default_value;
        CHECK(def ? value->ptr && value->len == strlen(def) && !memcmp(value->ptr, def, value->len)
                  : value->ptr == NULL);
    } else {
        CHECK(value->ptr && value->len == in.len && !memcmp(value->ptr, in.ptr, in.len));
        CHECK(value->ptr[value->len] == '\0');
        /* Query and header values are borrowed, not copied. */
        CHECK(confs[i].in == MD_PARAM_IN_PATH || value->ptr == in.ptr);
    }
    check_accepted(i, *value);
    return true;
}

static void check_params(const md_header_t *pairs, size_t n, md_str_t path)
{
    char *buf = malloc(path.len + 1);
    md_str_t one[NPARAMS];
    size_t first_bad = NPARAMS;
    for (size_t i = 0; i < NPARAMS; i++)
        if (!validate_single(i, pairs, n, path, buf, &one[i]) && first_bad == NPARAMS)
            first_bad = i;
    md_str_t pv[NPARAMS] = { [P_USER] = path }, values[NPARAMS];
    size_t bad = 99;
    char msg[256];
    int rc = md_params_validate(all_params, pool, pairs, n, pairs, n, pv, values, &bad, msg, sizeof(msg));
    CHECK(rc == (first_bad == NPARAMS ? MD_OK : MD_EINVAL));
    if (rc != MD_OK)
        CHECK(bad == first_bad);
    for (size_t i = 0; rc == MD_OK && i < NPARAMS; i++) {
        CHECK(!values[i].ptr == !one[i].ptr && values[i].len == one[i].len);
        CHECK(!values[i].ptr || memcmp(values[i].ptr, one[i].ptr, one[i].len) == 0);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pool)
        init();
    size = MD_MIN(size, (size_t)MAX_INPUT);
    /* An exact-size heap copy so ASan sees any read past the end. */
    char *in = malloc(size ? size : 1);
    if (size)
        memcpy(in, data, size);
    const char *qmark = size ? memchr(in, '?', size) : NULL;
    md_str_t path = qmark ? (md_str_t){ in, (size_t)(qmark - in) } : (md_str_t){ NULL, 0 };
    const char *q = qmark ? qmark + 1 : in;
    size_t qlen = qmark ? size - path.len - 1 : size;

    check_decode(in, size);
    md_header_t pairs[MAX_PAIRS];
    size_t n;
    if (parse_checked(pool, q, qlen, pairs, &n) == MD_OK)
        check_params(pairs, n, path);
    else
        check_params(NULL, 0, path);
    md_pool_reset(pool);
    free(in);
    return 0;
}
