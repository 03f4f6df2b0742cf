/*
 * fuzz_template.c - libFuzzer driver for upstream/template.
 *
 * Input: a template source, then up to MAX_VALUES variable values, all
 * NUL-separated ("/u/{user}?q={query.q}\0alice\0a&b"). The source is
 * compiled as each md_tpl_kind_t; when it compiles it is rendered with a
 * lookup that serves the values to the distinct variables in order of first
 * appearance (a variable beyond the last value is absent), once as given
 * and once with a NUL spliced into every value. A variable named "fail"
 * makes the lookup return MD_ECANCELED.
 *
 * Every render is compared byte for byte with a small reference renderer
 * written here from template.h (literals as written, values encoded with
 * upper-case %XX), including whether it must be refused. Beyond "no crash,
 * no sanitizer report" it checks the security properties backends rely on,
 * and aborts when one breaks:
 *   - an accepted source obeys the literal rules of its kind;
 *   - TARGET: value bytes are only unreserved chars and %XX, so the output
 *     holds no more '/', '?', '#', '&', '=' than the literal text, and never
 *     CR, LF, NUL, space or a non-ASCII byte; it never starts with "//"
 *     and no path segment a value touched is "." or ".." (also as %2e);
 *   - QUERY_VALUE: value bytes are only unreserved chars and %XX;
 *   - HEADER_VALUE: the output never holds CR, LF or NUL;
 *   - a failed render (refusal, lookup error, cap hit) leaves the output
 *     buffer as it was; a cap of exactly the output length succeeds.
 *
 * Dot segments are checked in the path part only: a query part is not a
 * path, so "/a?p=/{x}/" with x ".." is legal.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_template.c src/upstream/template.c src/core/ *.c -pthread
 * Seeds: tests/fuzz/corpus/template/, dictionary: fuzz_template.dict.
 */
#include "core/buf.h"
#include "core/common.h"
#include "upstream/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define MAX_VALUES 8
#define PREFIX "PFX"
#define PREFIX_LEN 3

/* One variable reference as the reference parser saw it. */
typedef struct ref_var {
    md_str_t ns, name;
    size_t value;  /* index among the distinct variables */
    bool in_path;  /* TARGET: before the first literal '?' */
} ref_var_t;

typedef struct ref_tpl {
    md_tpl_kind_t kind;
    const char *src;
    size_t len;
    ref_var_t vars[MD_TPL_MAX_VARS];
    size_t nvars;
    bool has_fail;
} ref_tpl_t;

/* What one render serves: values[i] for distinct variable i. */
typedef struct values {
    md_str_t v[MAX_VALUES];
    size_t n;
} values_t;

typedef struct lookup_ctx {
    const ref_tpl_t *ref;
    const values_t *vals;
} lookup_ctx_t;

/* A rendered output with, per byte, whether a value produced it, and the
 * output offsets where path-part variables were inserted. */
typedef struct ref_out {
    md_buf_t buf;
    unsigned char *from_value;
    size_t *var_at;
    size_t nvar_at;
    size_t path_end;  /* TARGET: end of the path part */
} ref_out_t;

/* ---- the reference: written from template.h, shares no code ---- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool header_plain(unsigned char c)
{
    return c == ' ' || (c > 0x20 && c < 0x7F && c != '%');
}

static bool upper_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool eq(md_str_t a, md_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void split_ns(const char *s, size_t len, md_str_t *ns, md_str_t *name)
{
    static const char *const spaces[] = { "query", "header", "jwt" };
    *ns = (md_str_t){ "", 0 };
    *name = (md_str_t){ s, len };
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(spaces[k]);
        if (len > n && s[n] == '.' && memcmp(s, spaces[k], n) == 0) {
            *ns = (md_str_t){ s, n };
            *name = (md_str_t){ s + n + 1, len - n - 1 };
        }
    }
}

/* Parses an accepted source: "{name}" is a variable, all else literal. */
static void ref_parse(ref_tpl_t *r, md_tpl_kind_t kind, const char *src)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->src = src;
    r->len = strlen(src);
    bool in_query = false;
    for (size_t i = 0; i < r->len; i++) {
        if (src[i] == '?')
            in_query = true;
        if (src[i] != '{')
            continue;
        const char *close = memchr(src + i, '}', r->len - i);
        CHECK(close && r->nvars < MD_TPL_MAX_VARS);
        ref_var_t *v = &r->vars[r->nvars++];
        split_ns(src + i + 1, (size_t)(close - src) - i - 1, &v->ns, &v->name);
        v->in_path = kind == MD_TPL_TARGET && !in_query;
        v->value = 0;
        for (size_t k = 0; k + 1 < r->nvars; k++) {
            if (eq(r->vars[k].ns, v->ns) && eq(r->vars[k].name, v->name)) {
                v->value = r->vars[k].value;
                break;
            }
            v->value = MD_MAX(v->value, r->vars[k].value + 1);
        }
        if (v->ns.len == 0 && eq(v->name, MD_STR_LIT("fail")))
            r->has_fail = true;
        i = (size_t)(close - src);
    }
}

/* The literal rules of template.h, checked on an accepted source. */
static void check_literals(const ref_tpl_t *r)
{
    const unsigned char *s = (const unsigned char *)r->src;
    if (r->kind == MD_TPL_TARGET)
        CHECK(r->len >= 1 && s[0] == '/' && (r->len < 2 || s[1] != '/'));
    for (size_t i = 0; i < r->len; i++) {
        if (s[i] == '{') {
            i = (size_t)((const unsigned char *)memchr(s + i, '}', r->len - i) - s);
            continue;
        }
        CHECK(s[i] != '}');
        if (r->kind == MD_TPL_HEADER_VALUE) {
            CHECK(s[i] == '\t' || (s[i] >= 0x20 && s[i] != 0x7F));
            continue;
        }
        CHECK(s[i] > 0x20 && s[i] < 0x7F && s[i] != '#');
        CHECK(r->kind != MD_TPL_QUERY_VALUE || s[i] != '&');
    }
}

/* Dots, each written "." or "%2e"/"%2E": one or two make a dot segment. */
static bool dot_segment(const char *s, size_t len)
{
    size_t dots = 0, i = 0;
    while (i < len) {
        if (s[i] == '.') {
            i += 1;
        } else if (len - i >= 3 && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] | 0x20) == 'e') {
            i += 3;
        } else {
            return false;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

static void out_byte(ref_out_t *o, unsigned char c, bool from_value)
{
    o->from_value[o->buf.len] = from_value;
    CHECK(md_buf_append_char(&o->buf, (char)c) == MD_OK);
}

static void ref_encode(ref_out_t *o, md_tpl_kind_t kind, md_str_t v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        bool plain = kind == MD_TPL_HEADER_VALUE ? header_plain(c) : unreserved(c);
        if (plain) {
            out_byte(o, c, true);
        } else {
            out_byte(o, '%', true);
            out_byte(o, (unsigned char)hex[c >> 4], true);
            out_byte(o, (unsigned char)hex[c & 15], true);
        }
    }
}

static size_t ref_out_size(const ref_tpl_t *r, const values_t *vals)
{
    size_t n = PREFIX_LEN + r->len + 1;
    for (size_t i = 0; i < r->nvars; i++)
        if (r->vars[i].value < vals->n)
            n += 3 * vals->v[r->vars[i].value].len;
    return n;
}

/* Renders r after PREFIX; returns the code md_template_render must give
 * (ignoring the "fail" variable). */
static int ref_render(const ref_tpl_t *r, const values_t *vals, ref_out_t *o)
{
    size_t cap = ref_out_size(r, vals);
    md_buf_init(&o->buf, 0);
    o->from_value = calloc(cap, 1);
    o->var_at = calloc(r->nvars + 1, sizeof(size_t));
    o->nvar_at = 0;
    for (size_t i = 0; i < PREFIX_LEN; i++)
        out_byte(o, (unsigned char)PREFIX[i], false);
    size_t k = 0;
    o->path_end = SIZE_MAX;
    for (size_t i = 0; i < r->len; i++) {
        if (r->src[i] == '?' && o->path_end == SIZE_MAX)
            o->path_end = o->buf.len;
        if (r->src[i] != '{') {
            out_byte(o, (unsigned char)r->src[i], false);
            continue;
        }
        const ref_var_t *v = &r->vars[k++];
        if (v->in_path)
            o->var_at[o->nvar_at++] = o->buf.len;
        if (v->value < vals->n)
            ref_encode(o, r->kind, vals->v[v->value]);
        i = (size_t)((const char *)memchr(r->src + i, '}', r->len - i) - r->src);
    }
    if (o->path_end == SIZE_MAX)
        o->path_end = o->buf.len;
    if (r->kind != MD_TPL_TARGET)
        return MD_OK;
    const char *path = o->buf.data + PREFIX_LEN;
    size_t plen = o->path_end - PREFIX_LEN;
    if (plen >= 2 && path[1] == '/')
        return MD_EINVAL;
    for (size_t s = PREFIX_LEN + 1; s <= o->path_end;) {
        const char *slash = memchr(o->buf.data + s, '/', o->path_end - s);
        size_t e = slash ? (size_t)(slash - o->buf.data) : o->path_end;
        bool touched = false;
        for (size_t j = 0; j < o->nvar_at; j++)
            touched |= o->var_at[j] >= s && o->var_at[j] <= e;
        if (touched && dot_segment(o->buf.data + s, e - s))
            return MD_EINVAL;
        s = e + 1;
    }
    return MD_OK;
}

static void ref_out_free(ref_out_t *o)
{
    md_buf_free(&o->buf);
    free(o->from_value);
    free(o->var_at);
}

/* ---- the security properties, checked on medley's own output ---- */

static size_t count(const char *s, size_t len, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == c;
    return n;
}

static size_t literal_count(const ref_tpl_t *r, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < r->len; i++) {
        if (r->src[i] == '{')
            i = (size_t)((const char *)memchr(r->src + i, '}', r->len - i) - r->src);
        else
            n += r->src[i] == c;
    }
    return n;
}

/* Bytes a value produced: plain chars of the kind, or %XX. */
static void check_value_bytes(const ref_tpl_t *r, const char *s, const unsigned char *from_value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!from_value[i])
            continue;
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            CHECK(i + 2 < len && from_value[i + 1] && from_value[i + 2]);
            CHECK(upper_hex((unsigned char)s[i + 1]) && upper_hex((unsigned char)s[i + 2]));
            i += 2;
        } else if (r->kind == MD_TPL_HEADER_VALUE) {
            CHECK(header_plain(c));
        } else {
            CHECK(unreserved(c));
        }
    }
}

static void check_target(const ref_tpl_t *r, const char *s, size_t len)
{
    static const char delims[] = "/?#&=";
    bool in_literal[256] = { false };
    for (size_t i = 0; i < r->len; i++)
        in_literal[(unsigned char)r->src[i]] = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        CHECK(c > 0x20 && c < 0x7F);
        CHECK(in_literal[c] || unreserved(c) || c == '%');
    }
    for (size_t k = 0; delims[k]; k++)
        CHECK(count(s, len, delims[k]) == literal_count(r, delims[k]));
    CHECK(!(len >= 2 && s[0] == '/' && s[1] == '/'));
}

static void check_output(const ref_tpl_t *r, const ref_out_t *ref, const char *s, size_t len)
{
    check_value_bytes(r, s, ref->from_value + PREFIX_LEN, len);
    if (r->kind == MD_TPL_TARGET)
        check_target(r, s, len);
    if (r->kind == MD_TPL_QUERY_VALUE)
        CHECK(count(s, len, '&') == 0 && count(s, len, '#') == 0);
    CHECK(!memchr(s, '\r', len) && !memchr(s, '\n', len) && !memchr(s, '\0', len));
    /* Every path segment a value touched is not a dot segment. */
    if (r->kind == MD_TPL_TARGET) {
        for (size_t j = 0; j < ref->nvar_at; j++) {
            size_t at = ref->var_at[j] - PREFIX_LEN, path_end = ref->path_end - PREFIX_LEN;
            size_t s0 = at, e = at;
            while (s0 > 0 && s[s0 - 1] != '/')
                s0--;
            while (e < path_end && s[e] != '/')
                e++;
            CHECK(!dot_segment(s + s0, e - s0));
        }
    }
}

/* ---- driving medley ---- */

static int lookup(void *ctx, md_str_t ns, md_str_t name, md_str_t *value)
{
    const lookup_ctx_t *c = ctx;
    if (ns.len == 0 && eq(name, MD_STR_LIT("fail")))
        return MD_ECANCELED;
    for (size_t i = 0; i < c->ref->nvars; i++) {
        const ref_var_t *v = &c->ref->vars[i];
        if (!eq(v->ns, ns) || !eq(v->name, name))
            continue;
        if (v->value >= c->vals->n)
            return MD_ENOTFOUND;
        *value = c->vals->v[v->value];
        return MD_OK;
    }
    CHECK(!"lookup asked for a variable the source does not hold");
    return MD_ERR;
}

/* Renders into a buffer holding PREFIX with cap max (0: none). */
static int render(const md_template_t *t, lookup_ctx_t *ctx, size_t max, md_buf_t *out)
{
    md_buf_init(out, max);
    CHECK(md_buf_append(out, PREFIX, PREFIX_LEN) == MD_OK);
    int rc = md_template_render(t, lookup, ctx, out);
    CHECK(out->len >= PREFIX_LEN && memcmp(out->data, PREFIX, PREFIX_LEN) == 0);
    CHECK(out->data[out->len] == '\0');
    if (rc != MD_OK)
        CHECK(out->len == PREFIX_LEN);
    return rc;
}

static void render_checked(const md_template_t *t, const ref_tpl_t *r, const values_t *vals)
{
    lookup_ctx_t ctx = { r, vals };
    ref_out_t ref;
    int want = ref_render(r, vals, &ref);
    md_buf_t out;
    int rc = render(t, &ctx, 0, &out);
    if (r->has_fail)
        CHECK(rc == MD_ECANCELED || (rc == MD_EINVAL && want == MD_EINVAL));
    else
        CHECK(rc == want);
    if (rc == MD_OK) {
        CHECK(out.len == ref.buf.len && memcmp(out.data, ref.buf.data, out.len) == 0);
        check_output(r, &ref, out.data + PREFIX_LEN, out.len - PREFIX_LEN);
        /* The cap is honoured exactly: one byte short fails cleanly. */
        md_buf_t capped;
        if (out.len > PREFIX_LEN) {
            CHECK(render(t, &ctx, out.len - 1, &capped) == MD_ETOOBIG);
            md_buf_free(&capped);
        }
        CHECK(render(t, &ctx, out.len, &capped) == MD_OK);
        CHECK(capped.len == out.len && memcmp(capped.data, out.data, out.len) == 0);
        md_buf_free(&capped);
    }
    md_buf_free(&out);
    ref_out_free(&ref);
}

static void check_vars(const md_template_t *t, const ref_tpl_t *r)
{
    CHECK(md_template_nvars(t) == r->nvars);
    CHECK(md_template_is_static(t) == (r->nvars == 0));
    for (size_t i = 0; i < r->nvars; i++) {
        md_str_t ns, name;
        md_template_var(t, i, &ns, &name);
        CHECK(eq(ns, r->vars[i].ns) && eq(name, r->vars[i].name));
    }
}

/* Copies each value with a NUL spliced into its middle. */
static void splice_nul(const values_t *in, values_t *out, char *store)
{
    out->n = in->n;
    for (size_t i = 0; i < in->n; i++) {
        size_t half = in->v[i].len / 2;
        memcpy(store, in->v[i].ptr, half);
        store[half] = '\0';
        memcpy(store + half + 1, in->v[i].ptr + half, in->v[i].len - half);
        out->v[i] = (md_str_t){ store, in->v[i].len + 1 };
        store += in->v[i].len + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nul = size ? memchr(in, '\0', size) : NULL;
    size_t srclen = nul ? (size_t)(nul - in) : size;
    char *src = strndup(in, srclen);
    values_t vals = { .n = 0 };
    for (size_t pos = srclen + 1; nul && pos <= size && vals.n < MAX_VALUES;) {
        const char *end = memchr(in + pos, '\0', size - pos);
        size_t len = end ? (size_t)(end - in) - pos : size - pos;
        vals.v[vals.n++] = (md_str_t){ in + pos, len };
        pos += len + 1;
    }
    values_t spliced;
    char *store = malloc(size + MAX_VALUES + 1);
    splice_nul(&vals, &spliced, store);

    static const md_tpl_kind_t kinds[] = { MD_TPL_TARGET, MD_TPL_QUERY_VALUE, MD_TPL_HEADER_VALUE };
    for (size_t k = 0; k < MD_ARRAY_LEN(kinds); k++) {
        char err[256];
        err[0] = '\0';
        md_template_t *t = md_template_compile(src, kinds[k], err, sizeof(err));
        if (!t) {
            CHECK(strncmp(err, "column ", 7) == 0);
            continue;
        }
        ref_tpl_t r;
        ref_parse(&r, kinds[k], src);
        check_literals(&r);
        check_vars(t, &r);
        render_checked(t, &r, &vals);
        render_checked(t, &r, &spliced);
        md_template_free(t);
    }
    free(store);
    free(src);
    return 0;
}
