/*
 * params.c - compile and check declared endpoint parameters, see params.h.
 *
 * A pattern must match the WHOLE value, so it is compiled as "^(PATTERN)$".
 * That wrapping is only safe if PATTERN cannot close the group itself: glibc
 * accepts a stray ')' as a literal, so "a)|(b)" alone is valid, yet wrapped
 * it would read "^(a)|(b))$" and match any value starting with "a". Patterns
 * are therefore scanned for an unmatched ')' and refused.
 *
 * Regexes run with REG_STARTEND (a GNU extension, we build with _GNU_SOURCE)
 * so values borrowed from the request need no NUL-terminated copy.
 */
#include "gateway/params.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "http/query.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

typedef struct param {
    char *name;
    md_param_in_t in;
    md_param_type_t type;
    bool required;
    char *pattern;      /* as written, for messages; NULL if none */
    bool has_regex;
    regex_t re;         /* "^(pattern)$" */
    char *def;          /* default value, NULL if none */
    size_t max_length;
} param_t;

struct md_params {
    param_t *v;
    size_t n;
};

static const char *in_name(md_param_in_t in)
{
    switch (in) {
    case MD_PARAM_IN_PATH: return "path";
    case MD_PARAM_IN_HEADER: return "header";
    default: return "query";
    }
}

/* ---- type checks ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Optional '-', then "0" or 1-18 digits without a leading zero. */
static bool is_integer(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 0 && s[0] == '-')
        i++;
    size_t digits = len - i;
    if (digits == 0 || digits > 18)
        return false;
    if (s[i] == '0' && digits > 1)
        return false;
    for (; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* Advances *i over one or more digits; false if there were none. */
static bool skip_digits(const char *s, size_t len, size_t *i)
{
    size_t start = *i;
    while (*i < len && is_digit(s[*i]))
        (*i)++;
    return *i > start;
}

/* JSON: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool is_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i < len && s[i] == '0')
        i++;
    else if (!(i < len && s[i] >= '1' && s[i] <= '9') || !skip_digits(s, len, &i))
        return false;
    if (i < len && s[i] == '.') {
        i++;
        if (!skip_digits(s, len, &i))
            return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!skip_digits(s, len, &i))
            return false;
    }
    return i == len;
}

static bool is_boolean(const char *s, size_t len)
{
    return (len == 4 && memcmp(s, "true", 4) == 0) || (len == 5 && memcmp(s, "false", 5) == 0);
}

/* Checks a present value; on failure writes why ("must be an integer")
 * into why. */
static int check_value(const param_t *p, const char *s, size_t len, char *why, size_t whylen)
{
    if (!s)
        s = "";
    if (len > p->max_length) {
        snprintf(why, whylen, "is longer than %zu bytes", p->max_length);
        return MD_EINVAL;
    }
    if (memchr(s, '\0', len)) {
        snprintf(why, whylen, "must not contain a NUL byte");
        return MD_EINVAL;
    }
    const char *type_err = NULL;
    if (p->type == MD_PARAM_INTEGER && !is_integer(s, len))
        type_err = "must be an integer";
    else if (p->type == MD_PARAM_NUMBER && !is_number(s, len))
        type_err = "must be a number";
    else if (p->type == MD_PARAM_BOOLEAN && !is_boolean(s, len))
        type_err = "must be true or false";
    if (type_err) {
        snprintf(why, whylen, "%s", type_err);
        return MD_EINVAL;
    }
    if (p->has_regex) {
        regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t)len };
        if (regexec(&p->re, s, 1, &m, REG_STARTEND) != 0) {
            snprintf(why, whylen, "must match %s", p->pattern);
            return MD_EINVAL;
        }
    }
    return MD_OK;
}

/* ---- compilation ---- */

/* Skips a bracket expression starting at pat[i] == '['; returns the index
 * of its closing ']' (or of the terminating NUL if there is none). */
static size_t skip_bracket(const char *pat, size_t i)
{
    size_t j = i + 1;
    if (pat[j] == '^')
        j++;
    if (pat[j] == ']')
        j++; /* a leading ']' is a member, not the end */
    while (pat[j] && pat[j] != ']') {
        if (pat[j] == '[' && (pat[j + 1] == ':' || pat[j + 1] == '=' || pat[j + 1] == '.')) {
            char kind = pat[j + 1];
            const char *close = NULL;
            for (size_t k = j + 2; pat[k] && pat[k + 1]; k++) {
                if (pat[k] == kind && pat[k + 1] == ']') {
                    close = pat + k;
                    break;
                }
            }
            if (!close)
                return j + strlen(pat + j);
            j = (size_t)(close - pat) + 2;
            continue;
        }
        j++;
    }
    return j;
}

/* True if some ')' outside brackets and escapes has no matching '('. */
static bool has_unmatched_close(const char *pat)
{
    size_t depth = 0;
    for (size_t i = 0; pat[i]; i++) {
        if (pat[i] == '\\') {
            if (!pat[i + 1])
                break;
            i++;
        } else if (pat[i] == '[') {
            i = skip_bracket(pat, i);
            if (!pat[i])
                break;
        } else if (pat[i] == '(') {
            depth++;
        } else if (pat[i] == ')') {
            if (depth == 0)
                return true;
            depth--;
        }
    }
    return false;
}

/* Compiles src as an ERE into re; on failure describes it in why. */
static int compile_regex(regex_t *re, const char *src, char *why, size_t whylen)
{
    int rc = regcomp(re, src, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, re, why, whylen);
        regfree(re);
        return MD_EINVAL;
    }
    return MD_OK;
}

static int compile_pattern(param_t *p, char *why, size_t whylen)
{
    regex_t raw;
    if (p->pattern[0] == '\0') {
        snprintf(why, whylen, "is empty");
        return MD_EINVAL;
    }
    /* The pattern must stand on its own first: that catches an unmatched
     * '(' which the wrapper's ')' would otherwise close. */
    if (compile_regex(&raw, p->pattern, why, whylen) != MD_OK)
        return MD_EINVAL;
    regfree(&raw);
    if (has_unmatched_close(p->pattern)) {
        snprintf(why, whylen, "has an unmatched ')'");
        return MD_EINVAL;
    }
    md_buf_t b;
    md_buf_init(&b, 0);
    md_buf_printf(&b, "^(%s)$", p->pattern);
    int rc = compile_regex(&p->re, b.data, why, whylen);
    md_buf_free(&b);
    if (rc == MD_OK)
        p->has_regex = true;
    return rc;
}

static int compile_one(param_t *p, const md_param_conf_t *c, size_t index, char *err, size_t errlen)
{
    char why[256];
    if (!c->name || !c->name[0]) {
        snprintf(err, errlen, "parameter #%zu has no name", index + 1);
        return MD_EINVAL;
    }
    p->name = md_strdup(c->name);
    p->in = c->in;
    p->type = c->type;
    p->required = c->required || c->in == MD_PARAM_IN_PATH;
    p->max_length = c->max_length ? c->max_length : MD_PARAM_DEFAULT_MAX_LENGTH;
    if (c->pattern) {
        p->pattern = md_strdup(c->pattern);
        if (compile_pattern(p, why, sizeof(why)) != MD_OK) {
            snprintf(err, errlen, "parameter '%s': pattern '%s' %s", c->name, c->pattern, why);
            return MD_EINVAL;
        }
    }
    if (c->default_value) {
        p->def = md_strdup(c->default_value);
        if (check_value(p, p->def, strlen(p->def), why, sizeof(why)) != MD_OK) {
            snprintf(err, errlen, "parameter '%s': default value '%s' %s", c->name, c->default_value, why);
            return MD_EINVAL;
        }
    }
    return MD_OK;
}

md_params_t *md_params_compile(const md_param_conf_t *params, size_t n, char *err, size_t errlen)
{
    if (n > MD_PARAMS_MAX) {
        snprintf(err, errlen, "too many parameters (%zu, at most %d)", n, MD_PARAMS_MAX);
        return NULL;
    }
    if (n && !params) {
        snprintf(err, errlen, "no parameter list given");
        return NULL;
    }
    md_params_t *p = md_calloc(1, sizeof(*p));
    p->v = n ? md_calloc(n, sizeof(*p->v)) : NULL;
    for (size_t i = 0; i < n; i++) {
        p->n = i + 1; /* what md_params_free must release */
        if (compile_one(&p->v[i], &params[i], i, err, errlen) != MD_OK) {
            md_params_free(p);
            return NULL;
        }
    }
    p->n = n;
    return p;
}

void md_params_free(md_params_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        if (p->v[i].has_regex)
            regfree(&p->v[i].re);
        md_free(p->v[i].name);
        md_free(p->v[i].pattern);
        md_free(p->v[i].def);
    }
    md_free(p->v);
    md_free(p);
}

size_t md_params_count(const md_params_t *p)
{
    return p->n;
}

/* ---- validation ---- */

/* Finds parameter p's raw input. Sets *found; decodes path values into the
 * pool. MD_OK or MD_EINVAL (a path value that does not decode). */
static int find_input(const param_t *p, size_t i, md_pool_t *pool, const md_header_t *query, size_t nquery,
                      const md_header_t *headers, size_t nheaders, const md_str_t *path_values,
                      md_str_t *out, bool *found)
{
    const md_header_t *h = NULL;
    *found = false;
    if (p->in == MD_PARAM_IN_QUERY)
        h = md_query_get(query, nquery, p->name);
    else if (p->in == MD_PARAM_IN_HEADER)
        h = md_header_find(headers, nheaders, p->name);
    if (h) {
        *out = (md_str_t){ h->value, h->value_len };
        *found = true;
        return MD_OK;
    }
    if (p->in != MD_PARAM_IN_PATH || !path_values || !path_values[i].ptr)
        return MD_OK;
    /* '+' is a literal plus in a path, not a space. */
    md_str_t raw = path_values[i];
    char *d = md_pool_alloc(pool, raw.len + 1);
    size_t dlen;
    if (md_percent_decode(raw.ptr, raw.len, false, d, &dlen) != MD_OK)
        return MD_EINVAL;
    d[dlen] = '\0';
    *out = (md_str_t){ d, dlen };
    *found = true;
    return MD_OK;
}

/* Checks parameter i; on success sets *value. */
static int validate_one(const param_t *p, size_t i, md_pool_t *pool, const md_header_t *query, size_t nquery,
                        const md_header_t *headers, size_t nheaders, const md_str_t *path_values,
                        md_str_t *value, char *msg, size_t msglen)
{
    char why[192];
    md_str_t v = { NULL, 0 };
    bool found;
    if (find_input(p, i, pool, query, nquery, headers, nheaders, path_values, &v, &found) != MD_OK) {
        snprintf(msg, msglen, "%s parameter '%s' is not validly percent-encoded", in_name(p->in), p->name);
        return MD_EINVAL;
    }
    if (!found) {
        if (p->required) {
            snprintf(msg, msglen, "%s parameter '%s' is required", in_name(p->in), p->name);
            return MD_EINVAL;
        }
        *value = p->def ? (md_str_t){ p->def, strlen(p->def) } : (md_str_t){ NULL, 0 };
        return MD_OK;
    }
    if (check_value(p, v.ptr, v.len, why, sizeof(why)) != MD_OK) {
        snprintf(msg, msglen, "%s parameter '%s' %s", in_name(p->in), p->name, why);
        return MD_EINVAL;
    }
    *value = v;
    return MD_OK;
}

int md_params_validate(const md_params_t *p, md_pool_t *pool, const md_header_t *query, size_t nquery,
                       const md_header_t *headers, size_t nheaders, const md_str_t *path_values,
                       md_str_t *values, size_t *bad, char *msg, size_t msglen)
{
    for (size_t i = 0; i < p->n; i++) {
        int rc = validate_one(&p->v[i], i, pool, query, nquery, headers, nheaders, path_values, &values[i],
                              msg, msglen);
        if (rc != MD_OK) {
            *bad = i;
            return rc;
        }
    }
    return MD_OK;
}
