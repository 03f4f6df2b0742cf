/*
 * template.c - compile and render backend templates, see template.h.
 *
 * Compilation validates the source once and turns it into parts: literal
 * spans (pointing into a private copy of the source) and variable refs, each
 * tagged with whether it sits in a TARGET's query part. Rendering walks the
 * parts, copies literals, asks the lookup for each variable and encodes it
 * through a constant 256-entry table. While rendering a TARGET's path part it
 * tracks where the current segment began in the output so that a segment a
 * variable helped to build can be refused if it came out as a dot segment.
 */
#include "upstream/template.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* At most one literal before each variable, one after the last, plus the
 * split of a TARGET's literal at its first '?'. */
#define MAX_PARTS (2 * MD_TPL_MAX_VARS + 2)

typedef struct tpl_part {
    md_str_t text;  /* literal text, or the variable's name */
    md_str_t ns;    /* variable namespace, "" for endpoint params */
    bool is_var;
    bool in_query;  /* TARGET only: at or after the first literal '?' */
} tpl_part_t;

struct md_template {
    md_tpl_kind_t kind;
    char *src;          /* private copy the parts point into */
    tpl_part_t *parts;
    size_t nparts;
    size_t nvars;
};

/* ---- encoding tables: 1 = copy the byte, 0 = percent-encode it ---- */

#define IS_UNRESERVED(c) \
    (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9') || \
     (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~')
#define IS_HEADER_SAFE(c) ((c) == ' ' || ((c) >= 0x21 && (c) <= 0x7E && (c) != '%'))

#define ROW(F, b) \
    F((b) + 0), F((b) + 1), F((b) + 2), F((b) + 3), F((b) + 4), F((b) + 5), F((b) + 6), F((b) + 7), \
    F((b) + 8), F((b) + 9), F((b) + 10), F((b) + 11), F((b) + 12), F((b) + 13), F((b) + 14), F((b) + 15)
#define TABLE(F) \
    { ROW(F, 0x00), ROW(F, 0x10), ROW(F, 0x20), ROW(F, 0x30), ROW(F, 0x40), ROW(F, 0x50), \
      ROW(F, 0x60), ROW(F, 0x70), ROW(F, 0x80), ROW(F, 0x90), ROW(F, 0xA0), ROW(F, 0xB0), \
      ROW(F, 0xC0), ROW(F, 0xD0), ROW(F, 0xE0), ROW(F, 0xF0) }

static const unsigned char unreserved_table[256] = TABLE(IS_UNRESERVED);
static const unsigned char header_table[256] = TABLE(IS_HEADER_SAFE);

static const char hex_digits[] = "0123456789ABCDEF";

/* ---- compilation ---- */

typedef struct tpl_compiler {
    md_template_t *t;
    tpl_part_t parts[MAX_PARTS];
    size_t nparts;
    char *err;
    size_t errlen;
} tpl_compiler_t;

__attribute__((format(printf, 3, 4)))
static int fail(tpl_compiler_t *c, size_t pos, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int n = snprintf(c->err, c->errlen, "column %zu: ", pos + 1);
        if (n >= 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return MD_EINVAL;
}

static bool is_name_char(unsigned char ch)
{
    return IS_UNRESERVED(ch) && ch != '~';
}

/* A segment that is "." or "..", also when written with "%2e" escapes
 * (many servers decode those before resolving dot segments). */
static bool is_dot_segment(const char *s, size_t len)
{
    size_t dots = 0;
    for (size_t i = 0; i < len; dots++) {
        if (s[i] == '.')
            i++;
        else if (len - i >= 3 && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] == 'e' || s[i + 2] == 'E'))
            i += 3;
        else
            return false;
    }
    return dots == 1 || dots == 2;
}

/* Checks one literal byte of the source against the rules of its kind. */
static int check_literal(tpl_compiler_t *c, const char *src, size_t i)
{
    unsigned char ch = (unsigned char)src[i];
    if (c->t->kind == MD_TPL_HEADER_VALUE) {
        if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
            return fail(c, i, "control character 0x%02X in a header value", ch);
        return MD_OK;
    }
    if (ch <= 0x20 || ch >= 0x7F)
        return fail(c, i, "byte 0x%02X (space, control or non-ASCII) must be percent-encoded", ch);
    if (ch == '#')
        return fail(c, i, "'#' is not allowed (a fragment is never sent to a backend)");
    if (ch == '&' && c->t->kind == MD_TPL_QUERY_VALUE)
        return fail(c, i, "'&' is not allowed in a query value (it would start another parameter)");
    return MD_OK;
}

static int add_part(tpl_compiler_t *c, size_t pos, tpl_part_t part)
{
    if (c->nparts == MAX_PARTS)
        return fail(c, pos, "too many variables (at most %d)", MD_TPL_MAX_VARS);
    c->parts[c->nparts++] = part;
    return MD_OK;
}

/* Splits "ns.name" when ns is a known input source. */
static void split_name(const char *s, size_t len, md_str_t *ns, md_str_t *name)
{
    static const char *const known[] = { "query", "header", "jwt", "auth" };
    const char *dot = memchr(s, '.', len);
    *ns = (md_str_t){ "", 0 };
    *name = (md_str_t){ s, len };
    if (!dot)
        return;
    size_t nslen = (size_t)(dot - s);
    for (size_t k = 0; k < MD_ARRAY_LEN(known); k++) {
        if (strlen(known[k]) == nslen && memcmp(known[k], s, nslen) == 0) {
            *ns = (md_str_t){ s, nslen };
            *name = (md_str_t){ dot + 1, len - nslen - 1 };
            return;
        }
    }
}

/* Parses "{...}" starting at src[*i] == '{'; advances *i past the '}'. */
static int parse_var(tpl_compiler_t *c, const char *src, size_t len, size_t *i, bool in_query)
{
    size_t open = *i, j = open + 1;
    for (; j < len && src[j] != '}'; j++) {
        unsigned char ch = (unsigned char)src[j];
        if (ch == '{')
            return fail(c, open, "unbalanced '{' (a '{' opens again at column %zu)", j + 1);
        if (!is_name_char(ch))
            return fail(c, j, "bad character in variable name (allowed: A-Z a-z 0-9 _ . -)");
    }
    if (j == len)
        return fail(c, open, "unbalanced '{' (no closing '}')");
    if (j == open + 1)
        return fail(c, open, "empty variable name");
    tpl_part_t part = { .is_var = true, .in_query = in_query };
    split_name(src + open + 1, j - open - 1, &part.ns, &part.text);
    if (part.text.len == 0)
        return fail(c, open, "empty variable name after '%.*s.'", (int)part.ns.len, part.ns.ptr);
    if (c->t->nvars == MD_TPL_MAX_VARS)
        return fail(c, open, "too many variables (at most %d)", MD_TPL_MAX_VARS);
    c->t->nvars++;
    *i = j + 1;
    return add_part(c, open, part);
}

/* Rejects a literal "." or ".." segment in a TARGET's path part. */
static int check_literal_segments(tpl_compiler_t *c, const char *src, size_t len)
{
    const char *q = memchr(src, '?', len);
    size_t end = q ? (size_t)(q - src) : len;
    size_t seg = 1;
    for (size_t i = 1; i <= end; i++) {
        if (i < end && src[i] != '/')
            continue;
        if (is_dot_segment(src + seg, i - seg))
            return fail(c, seg, "a '.' or '..' path segment is not allowed");
        seg = i + 1;
    }
    return MD_OK;
}

static int check_target_start(tpl_compiler_t *c, const char *src, size_t len)
{
    if (len == 0 || src[0] != '/')
        return fail(c, 0, "a backend target must start with '/'");
    if (len > 1 && src[1] == '/')
        return fail(c, 0, "a backend target must not start with \"//\" (it would be read as a host)");
    return check_literal_segments(c, src, len);
}

/* Splits the source into parts. */
static int parse(tpl_compiler_t *c, const char *src, size_t len)
{
    bool in_query = false;
    size_t i = 0;
    while (i < len) {
        if (src[i] == '{') {
            int rc = parse_var(c, src, len, &i, in_query);
            if (rc != MD_OK)
                return rc;
            continue;
        }
        size_t start = i;
        for (; i < len && src[i] != '{'; i++) {
            if (src[i] == '}')
                return fail(c, i, "unbalanced '}'");
            int rc = check_literal(c, src, i);
            if (rc != MD_OK)
                return rc;
            /* The first '?' of a TARGET starts its query part: cut the
             * literal there so each part knows its side. */
            if (src[i] == '?' && c->t->kind == MD_TPL_TARGET && !in_query && i > start)
                break;
            if (src[i] == '?' && c->t->kind == MD_TPL_TARGET)
                in_query = true;
        }
        tpl_part_t part = { .text = { src + start, i - start }, .in_query = in_query };
        int rc = add_part(c, start, part);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

md_template_t *md_template_compile(const char *src, md_tpl_kind_t kind, char *err, size_t errlen)
{
    tpl_compiler_t *c = md_calloc(1, sizeof(*c));
    c->err = err;
    c->errlen = errlen;
    c->t = md_calloc(1, sizeof(*c->t));
    c->t->kind = kind;
    md_template_t *t = c->t;
    size_t len = src ? strlen(src) : 0;
    int rc = MD_OK;
    if (!src)
        rc = fail(c, 0, "no template given");
    else if (len > MD_TPL_MAX_SOURCE)
        rc = fail(c, MD_TPL_MAX_SOURCE, "template is longer than %d bytes", MD_TPL_MAX_SOURCE);
    if (rc == MD_OK) {
        t->src = md_strndup(src, len);
        if (kind == MD_TPL_TARGET)
            rc = check_target_start(c, t->src, len);
    }
    if (rc == MD_OK)
        rc = parse(c, t->src, len);
    if (rc == MD_OK && c->nparts) {
        t->parts = md_malloc(c->nparts * sizeof(*t->parts));
        memcpy(t->parts, c->parts, c->nparts * sizeof(*t->parts));
        t->nparts = c->nparts;
    }
    md_free(c);
    if (rc != MD_OK) {
        md_template_free(t);
        return NULL;
    }
    return t;
}

void md_template_free(md_template_t *t)
{
    if (!t)
        return;
    md_free(t->parts);
    md_free(t->src);
    md_free(t);
}

size_t md_template_nvars(const md_template_t *t)
{
    return t->nvars;
}

void md_template_var(const md_template_t *t, size_t i, md_str_t *ns, md_str_t *name)
{
    for (size_t k = 0; k < t->nparts; k++) {
        if (!t->parts[k].is_var)
            continue;
        if (i-- == 0) {
            *ns = t->parts[k].ns;
            *name = t->parts[k].text;
            return;
        }
    }
    *ns = (md_str_t){ "", 0 };
    *name = (md_str_t){ "", 0 };
}

bool md_template_is_static(const md_template_t *t)
{
    return t->nvars == 0;
}

/* ---- rendering ---- */

/* Appends v[0..len) percent-encoding every byte the table marks 0. Reserves
 * the worst case (3 bytes per input byte) when the cap allows, else the
 * exact size, so the cap is honoured exactly without a second pass in the
 * common case. */
static int encode(md_buf_t *out, const unsigned char *table, const char *v, size_t len)
{
    const unsigned char *s = (const unsigned char *)v;
    if (len == 0)
        return MD_OK;
    if (len > out->max / 3 || md_buf_reserve(out, len * 3) != MD_OK) {
        size_t need = len;
        for (size_t i = 0; i < len; i++)
            need += table[s[i]] ? 0 : 2;
        if (md_buf_reserve(out, need) != MD_OK)
            return MD_ETOOBIG;
    }
    char *d = md_buf_tail(out), *start = d;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = s[i];
        if (table[ch]) {
            *d++ = (char)ch;
        } else {
            d[0] = '%';
            d[1] = hex_digits[ch >> 4];
            d[2] = hex_digits[ch & 15];
            d += 3;
        }
    }
    md_buf_commit(out, (size_t)(d - start));
    return MD_OK;
}

/* Where the path part being rendered stands. */
typedef struct path_state {
    size_t start;  /* offset of the rendered path in out */
    size_t seg;    /* offset where the current segment begins */
    bool seg_var;  /* a variable contributed to the current segment */
} path_state_t;

/* Closes the current segment at offset `end`: a variable must not have made
 * it a dot segment. */
static int close_segment(const md_buf_t *out, path_state_t *ps, size_t end)
{
    if (ps->seg_var && is_dot_segment(out->data + ps->seg, end - ps->seg))
        return MD_EINVAL;
    ps->seg = end + 1;
    ps->seg_var = false;
    return MD_OK;
}

/* Tracks the segments a literal in the path part ends (at each '/'). */
static int path_literal(const md_buf_t *out, path_state_t *ps, size_t from)
{
    for (size_t k = from; k < out->len; k++) {
        if (out->data[k] != '/')
            continue;
        int rc = close_segment(out, ps, k);
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* Ends the path part: the last segment, and no "//" start made by an empty
 * value ("/{x}/b" with x absent). */
static int end_path(const md_buf_t *out, path_state_t *ps)
{
    int rc = close_segment(out, ps, out->len);
    if (rc != MD_OK)
        return rc;
    if (out->len - ps->start >= 2 && out->data[ps->start + 1] == '/')
        return MD_EINVAL;
    return MD_OK;
}

static int render_var(const md_template_t *t, const tpl_part_t *p, md_tpl_lookup_fn lookup, void *ctx,
                      md_buf_t *out)
{
    md_str_t v = { "", 0 };
    int rc = lookup(ctx, p->ns, p->text, &v);
    if (rc == MD_ENOTFOUND)
        return MD_OK;
    if (rc != MD_OK)
        return rc;
    const unsigned char *table = t->kind == MD_TPL_HEADER_VALUE ? header_table : unreserved_table;
    return encode(out, table, v.ptr, v.len);
}

static int render_parts(const md_template_t *t, md_tpl_lookup_fn lookup, void *ctx, md_buf_t *out)
{
    path_state_t ps = { out->len, out->len + 1, false };
    bool in_path = t->kind == MD_TPL_TARGET;
    int rc = MD_OK;
    for (size_t k = 0; k < t->nparts && rc == MD_OK; k++) {
        const tpl_part_t *p = &t->parts[k];
        if (in_path && p->in_query) {
            rc = end_path(out, &ps);
            in_path = false;
            if (rc != MD_OK)
                break;
        }
        size_t before = out->len;
        if (p->is_var) {
            rc = render_var(t, p, lookup, ctx, out);
            ps.seg_var |= in_path;
        } else {
            rc = md_buf_append(out, p->text.ptr, p->text.len);
            /* The target's leading '/' opens the first segment, it does not
             * close one. */
            if (rc == MD_OK && in_path)
                rc = path_literal(out, &ps, before == ps.start ? before + 1 : before);
        }
    }
    if (rc == MD_OK && in_path)
        rc = end_path(out, &ps);
    return rc;
}

int md_template_render(const md_template_t *t, md_tpl_lookup_fn lookup, void *ctx, md_buf_t *out)
{
    size_t start = out->len;
    int rc = render_parts(t, lookup, ctx, out);
    if (rc != MD_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
