/*
 * endpoint.c - the `endpoints:` list of the configuration: each endpoint's
 * route, its declared parameters, and its backends (or passthrough) with
 * their shapes. See config.h for the model and internal.h for the helpers.
 *
 * Cross-checks live here too: every backend names a defined upstream,
 * backend names are unique in an endpoint, (method, path) routes are unique
 * (with "{a}" and "{b}" segments counting as the same route), and path
 * parameters agree with `params`. A {name} segment of the path that is not
 * declared under `params` is declared implicitly as a required string path
 * parameter (max_length 256) at the endpoint's position, so that simple
 * routes need no boilerplate; a declared one must say `in: path`.
 * Templates (paths, header values) are compiled and checked later by the
 * gateway, which reports at the backend's line and column.
 */
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATTERN 512            /* bytes of a param's regex */
#define MAX_PATTERN_COST 10000     /* product of nested {m,n} bounds */
#define MAX_SHAPE_LIMIT 1000000
#define MAX_PARAM_LENGTH 65536

static const char *const endpoint_keys[] = { "path", "method", "summary", "description", "operation_id", "deadline",
                                             "errors_field", "params", "backends", "passthrough", "response", "cache",
                                             "rate_limit", "cors", "auth", NULL };
static const char *const backend_keys[] = { "name", "upstream", "method", "path", "query", "headers", "shape",
                                            "as", "optional", "timeout", "cache", "forward_authorization", NULL };
static const char *const passthrough_keys[] = { "upstream", "path", "method", "query", "headers", "timeout",
                                                "forward_authorization", NULL };
static const char *const shape_keys[] = { "from", "select", "deny", "rename", "sort", "limit", NULL };
static const char *const param_keys[] = { "in", "type", "required", "pattern", "default", "description",
                                          "max_length", "visibility", "example", NULL };

/* Picks names[i] == n->str into *out; `list` spells the choices for the
 * message. */
static int pick(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *const *names, size_t count, const char *list,
                int *out)
{
    for (size_t i = 0; n->kind == MD_CFG_SCALAR && i < count; i++) {
        if (strcmp(n->str, names[i]) == 0) {
            *out = (int)i;
            return MD_OK;
        }
    }
    return md_cfg_fail(c, n->line, n->col, "'%s' must be one of %s", n->key, list);
}

/* Param and path-param names: what a template can refer to as {name}. */
static bool is_param_name(const char *s, size_t n)
{
    if (n == 0 || n > MD_CFG_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

/* ---- paths -------------------------------------------------------------- */

typedef struct path_params {
    md_str_t name[MD_CFG_MAX_PARAMS];
    size_t n;
} path_params_t;

/* Checks an endpoint path and collects its {name} segments. A parameter
 * must be a whole segment: routing matches segment by segment. */
static int check_endpoint_path(md_cfg_ctx_t *c, const md_cfg_node_t *n, path_params_t *pp)
{
    const char *p = n->str;
    if (p[0] != '/')
        return md_cfg_fail(c, n->line, n->col, "endpoint 'path' must start with '/'");
    if (strpbrk(p, "?# "))
        return md_cfg_fail(c, n->line, n->col, "endpoint 'path' must not contain '?', '#' or spaces");
    pp->n = 0;
    while (*p == '/') {
        const char *seg = p + 1;
        size_t len = strcspn(seg, "/");
        const char *brace = memchr(seg, '{', len), *close = memchr(seg, '}', len);
        if (len == 0 && seg[0] == '/')
            return md_cfg_fail(c, n->line, n->col, "endpoint 'path' must not contain an empty segment '//'");
        if (brace || close) {
            if (seg[0] != '{' || seg[len - 1] != '}' || !is_param_name(seg + 1, len - 2))
                return md_cfg_fail(c, n->line, n->col, "endpoint 'path': a parameter must be a whole segment "
                                                       "'/{name}' with name made of A-Z a-z 0-9 _ -");
            for (size_t i = 0; i < pp->n; i++)
                if (pp->name[i].len == len - 2 && memcmp(pp->name[i].ptr, seg + 1, len - 2) == 0)
                    return md_cfg_fail(c, n->line, n->col, "endpoint 'path' uses {%.*s} twice", (int)(len - 2),
                                       seg + 1);
            if (pp->n == MD_CFG_MAX_PARAMS)
                return md_cfg_fail(c, n->line, n->col, "too many params (max %d)", MD_CFG_MAX_PARAMS);
            pp->name[pp->n++] = (md_str_t){ seg + 1, len - 2 };
        }
        p = seg + len;
    }
    return MD_OK;
}

/* Same route: equal segment by segment, any two {params} matching. */
static bool same_route(const md_endpoint_conf_t *a, const md_endpoint_conf_t *b)
{
    if (strcmp(a->method, b->method) != 0)
        return false;
    const char *x = a->path, *y = b->path;
    while (*x && *y) {
        size_t lx = strcspn(x, "/"), ly = strcspn(y, "/");
        bool px = lx > 0 && x[0] == '{', py = ly > 0 && y[0] == '{';
        if (px != py || (!px && (lx != ly || memcmp(x, y, lx) != 0)))
            return false;
        x += lx;
        y += ly;
        if (*x != *y)
            return false;
        if (*x) {
            x++;
            y++;
        }
    }
    return *x == *y;
}

/* ---- params ------------------------------------------------------------- */

/* Rough size of the automaton glibc builds: counted repetitions multiply
 * what they repeat and '+' doubles it, so "(a{999}){999}" would take
 * gigabytes and "a+++...+" exponential time to compile. */
static bool pattern_too_costly(const char *s)
{
    double stack[MD_CFG_MAX_DEPTH + 1] = { 0 };
    int depth = 0;
    double atom = 0;
    for (; *s; s++) {
        if (*s == '{' && atom > 0) {
            char *end;
            unsigned long lo = strtoul(s + 1, &end, 10), hi = lo;
            if (*end == ',')
                hi = end[1] == '}' ? lo + 1 : strtoul(end + 1, &end, 10);
            if (lo > 255 || hi > 255)
                return true;
            atom *= (double)MD_MAX(hi, 1ul);
            s = strchr(s, '}') ? strchr(s, '}') : s + strlen(s) - 1;
            continue;
        }
        if (strchr("*+?", *s)) {
            atom *= *s == '+' ? 2 : 1; /* glibc compiles x+ as xx*, so "a++++..." doubles */
            continue;
        }
        stack[depth] += atom;
        atom = 0;
        if (*s == '(') {
            if (depth == MD_CFG_MAX_DEPTH)
                return true;
            stack[++depth] = 0;
        } else if (*s == ')' && depth > 0) {
            atom = stack[depth--];
        } else if (*s == '[') {
            const char *e = s + 1 + (s[1] == '^');
            e += *e == ']';
            e = strchr(e, ']');
            s = e ? e : s + strlen(s) - 1;
            atom = 1;
        } else {
            s += *s == '\\' && s[1];
            atom = 1;
        }
        if (stack[depth] + atom > MAX_PATTERN_COST)
            return true;
    }
    return stack[depth] + atom > MAX_PATTERN_COST;
}

static int parse_pattern(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_param_conf_t *p)
{
    if (md_cfg_line(c, n, false, MAX_PATTERN, &p->pattern) != MD_OK)
        return MD_EINVAL;
    if (pattern_too_costly(p->pattern))
        return md_cfg_fail(c, n->line, n->col, "'pattern' is too complex (repetition counts above 255, or "
                                               "nested ones multiplying past %d)", MAX_PATTERN_COST);
    regex_t re;
    int rc = regcomp(&re, p->pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char err[128];
        regerror(rc, &re, err, sizeof(err));
        return md_cfg_fail(c, n->line, n->col, "'pattern' is not a valid POSIX extended regex: %s", err);
    }
    regfree(&re);
    return MD_OK;
}

/* Digits at *s (at least one), moving *s past them. */
static bool digits(const char **s)
{
    size_t n = strspn(*s, "0123456789");
    *s += n;
    return n > 0;
}

/* The syntax the request-time validator accepts (docs/config.md): integers
 * are -?(0|[1-9][0-9]*) up to 18 digits, numbers are JSON numbers. */
static bool value_has_type(const char *s, md_param_type_t type)
{
    const char *p = s + (*s == '-');
    switch (type) {
    case MD_PARAM_INTEGER: {
        size_t n = strlen(p);
        return n >= 1 && n <= 18 && strspn(p, "0123456789") == n && (p[0] != '0' || n == 1);
    }
    case MD_PARAM_NUMBER:
        if (*p == '0')
            p++;
        else if (*p < '1' || *p > '9' || !digits(&p))
            return false;
        if (*p == '.') {
            p++;
            if (!digits(&p))
                return false;
        }
        if (*p == 'e' || *p == 'E') {
            p++;
            if (*p == '+' || *p == '-')
                p++;
            if (!digits(&p))
                return false;
        }
        return *p == '\0';
    case MD_PARAM_BOOLEAN:
        return strcmp(s, "true") == 0 || strcmp(s, "false") == 0;
    default:
        return true;
    }
}

/* Whether the whole of value matches the param's pattern, as the request
 * validator anchors it. */
static bool matches_pattern(const char *pattern, const char *value)
{
    md_buf_t b;
    md_buf_init(&b, 0);
    md_buf_printf(&b, "^(%s)$", pattern);
    regex_t re;
    bool ok = regcomp(&re, b.data, REG_EXTENDED | REG_NOSUB) == 0;
    md_buf_free(&b);
    if (!ok)
        return true; /* the gateway reports a pattern it cannot anchor */
    ok = regexec(&re, value, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* A value the param accepts: `default` and `example`. */
static int param_value(md_cfg_ctx_t *c, const md_cfg_node_t *n, const md_param_conf_t *p, char **out)
{
    static const char *const types[] = { "string", "integer", "number", "boolean" };
    if (md_cfg_line(c, n, true, p->max_length, out) != MD_OK)
        return MD_EINVAL;
    if (!value_has_type(*out, p->type))
        return md_cfg_fail(c, n->line, n->col, "'%s' must be a valid %s, like the param's type", n->key,
                           types[p->type]);
    return MD_OK;
}

/* The connector export's fields: visibility and example. */
static int parse_param_export(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_param_conf_t *p)
{
    static const char *const vis[] = { "important", "advanced", "internal" };
    const md_cfg_node_t *n;
    int v = 0;
    if ((n = md_cfg_get(map, "visibility"))) {
        if (pick(c, n, vis, 3, "important, advanced, internal", &v) != MD_OK)
            return MD_EINVAL;
        p->visibility = (md_param_visibility_t)(MD_VIS_IMPORTANT + v);
    }
    if ((n = md_cfg_get(map, "example"))) {
        if (param_value(c, n, p, &p->example) != MD_OK)
            return MD_EINVAL;
        if (p->pattern && !matches_pattern(p->pattern, p->example))
            return md_cfg_fail(c, n->line, n->col, "'example' must match the param's pattern");
    }
    return MD_OK;
}

static int parse_param_fields(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_param_conf_t *p, bool *said_optional)
{
    static const char *const ins[] = { "query", "path", "header" };
    static const char *const types[] = { "string", "integer", "number", "boolean" };
    const md_cfg_node_t *n;
    int v = 0;
    if ((n = md_cfg_get(map, "in"))) {
        if (pick(c, n, ins, 3, "query, path, header", &v) != MD_OK)
            return MD_EINVAL;
        p->in = (md_param_in_t)v;
    }
    if ((n = md_cfg_get(map, "type"))) {
        if (pick(c, n, types, 4, "string, integer, number, boolean", &v) != MD_OK)
            return MD_EINVAL;
        p->type = (md_param_type_t)v;
    }
    if ((n = md_cfg_get(map, "required")) && md_cfg_bool(c, n, &p->required) != MD_OK)
        return MD_EINVAL;
    *said_optional = n && !p->required;
    uint32_t maxlen = (uint32_t)p->max_length;
    if ((n = md_cfg_get(map, "max_length")) && md_cfg_uint(c, n, 1, MAX_PARAM_LENGTH, &maxlen) != MD_OK)
        return MD_EINVAL;
    p->max_length = maxlen;
    if ((n = md_cfg_get(map, "pattern")) && parse_pattern(c, n, p) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "description")) && md_cfg_text(c, n, &p->description) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "default")) && param_value(c, n, p, &p->default_value) != MD_OK)
        return MD_EINVAL;
    return parse_param_export(c, map, p);
}

static int parse_param(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_param_conf_t *p, const char *ep)
{
    char what[2 * MD_CFG_SHOW + 32], k[MD_CFG_SHOW];
    snprintf(what, sizeof(what), "param '%s' of %s", md_cfg_show(k, map->key), ep);
    p->line = map->key_line;
    p->col = map->key_col;
    p->max_length = 256;
    if (!is_param_name(map->key, strlen(map->key)))
        return md_cfg_fail(c, map->key_line, map->key_col, "param name '%s' must be 1-%d characters of "
                           "A-Z a-z 0-9 _ -", k, MD_CFG_MAX_NAME);
    p->name = md_strdup(map->key);
    if (map->null) /* `name:` alone: an optional query string */
        return MD_OK;
    if (md_cfg_check_keys(c, map, param_keys, what) != MD_OK)
        return MD_EINVAL;
    bool said_optional = false;
    if (parse_param_fields(c, map, p, &said_optional) != MD_OK)
        return MD_EINVAL;
    if (p->in == MD_PARAM_IN_PATH && said_optional)
        return md_cfg_fail(c, p->line, p->col, "%s: path params are always required", what);
    if (p->in == MD_PARAM_IN_PATH && p->default_value)
        return md_cfg_fail(c, p->line, p->col, "%s: a path param cannot have a default", what);
    /* A maker never sees an internal param, so it could never be given. */
    if (p->visibility == MD_VIS_INTERNAL && (p->required || p->in == MD_PARAM_IN_PATH))
        return md_cfg_fail(c, p->line, p->col, "%s: a required or path param cannot be 'visibility: internal'",
                           what);
    return MD_OK;
}

static int find_param(const md_endpoint_conf_t *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->nparams; i++)
        if (strlen(e->params[i].name) == len && memcmp(e->params[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* Reconciles `params` with the {name} segments of the path. */
static int check_path_params(md_cfg_ctx_t *c, md_endpoint_conf_t *e, const path_params_t *pp, const char *ep)
{
    for (size_t i = 0; i < pp->n; i++) {
        int k = find_param(e, pp->name[i].ptr, pp->name[i].len);
        if (k >= 0 && e->params[k].in != MD_PARAM_IN_PATH)
            return md_cfg_fail(c, e->params[k].line, e->params[k].col,
                               "param '%s' of %s is a {segment} of the path, so it needs 'in: path'",
                               e->params[k].name, ep);
        if (k >= 0)
            continue;
        if (e->nparams == MD_CFG_MAX_PARAMS)
            return md_cfg_fail(c, e->line, e->col, "too many params in %s (max %d, path params included)", ep,
                               MD_CFG_MAX_PARAMS);
        e->params = md_realloc(e->params, (e->nparams + 1) * sizeof(*e->params));
        e->params[e->nparams++] = (md_param_conf_t){
            .name = md_strndup(pp->name[i].ptr, pp->name[i].len),
            .in = MD_PARAM_IN_PATH,
            .type = MD_PARAM_STRING,
            .max_length = 256,
            .line = e->line,
            .col = e->col,
        };
    }
    for (size_t i = 0; i < e->nparams; i++) {
        md_param_conf_t *p = &e->params[i];
        if (p->in != MD_PARAM_IN_PATH)
            continue;
        p->required = true;
        bool found = false;
        for (size_t j = 0; j < pp->n && !found; j++)
            found = pp->name[j].len == strlen(p->name) && memcmp(pp->name[j].ptr, p->name, pp->name[j].len) == 0;
        if (!found)
            return md_cfg_fail(c, p->line, p->col, "param '%s' of %s has 'in: path' but the path has no {%s}",
                               p->name, ep, p->name);
    }
    return MD_OK;
}

static int parse_params(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e, const char *ep)
{
    if (md_cfg_check_map(c, map, MD_CFG_MAX_PARAMS, false, "params") != MD_OK)
        return MD_EINVAL;
    e->params = md_calloc(map->count ? map->count : 1, sizeof(md_param_conf_t));
    e->nparams = map->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = map->first; n; n = n->next, i++)
        if (parse_param(c, n, &e->params[i], ep) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}

/* ---- shapes ------------------------------------------------------------- */

static int string_list(md_cfg_ctx_t *c, const md_cfg_node_t *seq, char ***out, size_t *count)
{
    if (md_cfg_check_seq(c, seq, MD_CFG_MAX_SHAPE_FIELDS, seq->key) != MD_OK)
        return MD_EINVAL;
    *out = md_calloc(seq->count ? seq->count : 1, sizeof(char *));
    *count = seq->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = seq->first; n; n = n->next, i++) {
        bool ok = n->kind == MD_CFG_SCALAR && n->len > 0 && n->len <= MD_CFG_MAX_PATH;
        for (size_t j = 0; ok && j < n->len; j++)
            ok = (unsigned char)n->str[j] >= 0x20 && n->str[j] != 0x7f;
        if (!ok)
            return md_cfg_fail(c, n->line, n->col, "items of '%s' must be field names (non-empty, one line)",
                               seq->key);
        (*out)[i] = md_strdup(n->str);
    }
    return MD_OK;
}

static int parse_shape(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_shape_spec_t *s, const char *be)
{
    char what[2 * MD_CFG_SHOW + 64];
    snprintf(what, sizeof(what), "the shape of %s", be);
    if (md_cfg_check_keys(c, map, shape_keys, what) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "from")) && md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &s->from) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "select")) && string_list(c, n, &s->select, &s->nselect) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "deny")) && string_list(c, n, &s->deny, &s->ndeny) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "rename")) && md_cfg_kv(c, n, MD_CFG_KV_RENAME, &s->rename, &s->nrename) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "sort"))) {
        if (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &s->sort) != MD_OK)
            return MD_EINVAL;
        if (strcmp(s->sort, "-") == 0)
            return md_cfg_fail(c, n->line, n->col, "'sort' must name a field, with a leading '-' for descending");
    }
    uint32_t limit;
    if ((n = md_cfg_get(map, "limit"))) {
        if (md_cfg_uint(c, n, 0, MAX_SHAPE_LIMIT, &limit) != MD_OK)
            return MD_EINVAL;
        s->limit = (long)limit;
    }
    return MD_OK;
}

/* ---- backends ----------------------------------------------------------- */

/* `as`: a dotted key like "cards.vacation", no empty parts. */
static int parse_as(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **out)
{
    if (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, out) != MD_OK)
        return MD_EINVAL;
    const char *s = *out;
    if (s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, ".."))
        return md_cfg_fail(c, n->line, n->col, "'as' must be a dotted key like cards.vacation (no empty parts)");
    return MD_OK;
}

static int parse_upstream_ref(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_backend_conf_t *b)
{
    if (md_cfg_line(c, n, false, MD_CFG_MAX_NAME, &b->upstream) != MD_OK)
        return MD_EINVAL;
    b->up = md_config_upstream(c->cfg, b->upstream);
    if (b->up)
        return MD_OK;
    const md_config_t *cfg = c->cfg;
    const char *names[MD_CFG_MAX_UPSTREAMS];
    for (size_t i = 0; i < cfg->nupstreams; i++)
        names[i] = cfg->upstreams[i].name;
    const char *hint = md_cfg_suggest(b->upstream, names, cfg->nupstreams);
    char s[MD_CFG_SHOW];
    if (hint)
        return md_cfg_fail(c, n->line, n->col, "unknown upstream '%s' (did you mean '%s'?)",
                           md_cfg_show(s, b->upstream), hint);
    return md_cfg_fail(c, n->line, n->col, "unknown upstream '%s' (define it under 'upstreams')",
                       md_cfg_show(s, b->upstream));
}

/* The fields a backend shares with `passthrough:`. */
static int parse_call(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_backend_conf_t *b, const char *what)
{
    const md_cfg_node_t *n;
    if (md_cfg_require(c, map, "upstream", what, &n) != MD_OK || parse_upstream_ref(c, n, b) != MD_OK)
        return MD_EINVAL;
    if (md_cfg_require(c, map, "path", what, &n) != MD_OK ||
        md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &b->path) != MD_OK)
        return MD_EINVAL;
    if (b->path[0] != '/' || strchr(b->path, ' '))
        return md_cfg_fail(c, n->line, n->col, "backend 'path' must start with '/' and contain no spaces");
    if ((n = md_cfg_get(map, "method")) && md_cfg_method(c, n, &b->method) != MD_OK)
        return MD_EINVAL;
    if (!n)
        b->method = md_strdup("GET");
    if ((n = md_cfg_get(map, "query")) && md_cfg_kv(c, n, MD_CFG_KV_QUERY, &b->query, &b->nquery) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "headers")) && md_cfg_kv(c, n, MD_CFG_KV_HEADERS, &b->headers, &b->nheaders) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "timeout")) && md_cfg_duration(c, n, &b->timeout_ms) != MD_OK)
        return MD_EINVAL;
    return md_cfg_forward_authorization(c, map, b, what);
}

static int parse_backend(md_cfg_ctx_t *c, const md_cfg_node_t *map, const md_endpoint_conf_t *e,
                         md_backend_conf_t *b, const char *what)
{
    b->line = map->line;
    b->col = map->col;
    b->shape.limit = -1;
    if (md_cfg_check_keys(c, map, backend_keys, what) != MD_OK || parse_call(c, map, b, what) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "shape"))) {
        b->has_shape = true;
        if (parse_shape(c, n, &b->shape, what) != MD_OK)
            return MD_EINVAL;
    }
    if ((n = md_cfg_get(map, "as")) && parse_as(c, n, &b->as) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "optional")) && md_cfg_bool(c, n, &b->optional) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "cache")) && md_cfg_cache_policy(c, n, e, true, what, &b->cache) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "name")))
        return md_cfg_line(c, n, false, MD_CFG_MAX_NAME, &b->name);
    b->name = md_strdup(b->as ? b->as : b->upstream);
    return MD_OK;
}

static int parse_backends(md_cfg_ctx_t *c, const md_cfg_node_t *seq, md_endpoint_conf_t *e, const char *ep)
{
    if (md_cfg_check_seq(c, seq, MD_CFG_MAX_BACKENDS, "backends") != MD_OK)
        return MD_EINVAL;
    if (seq->count == 0)
        return md_cfg_fail(c, seq->line, seq->col, "'backends' of %s must not be empty", ep);
    e->backends = md_calloc(seq->count, sizeof(md_backend_conf_t));
    e->nbackends = seq->count;
    size_t i = 0;
    char what[2 * MD_CFG_SHOW + 32];
    for (const md_cfg_node_t *n = seq->first; n; n = n->next, i++) {
        snprintf(what, sizeof(what), "backend #%zu of %s", i + 1, ep);
        if (parse_backend(c, n, e, &e->backends[i], what) != MD_OK)
            return MD_EINVAL;
        for (size_t j = 0; j < i; j++) {
            char s[MD_CFG_SHOW];
            if (strcmp(e->backends[j].name, e->backends[i].name) == 0)
                return md_cfg_fail(c, n->line, n->col, "%s: duplicate backend name '%s' (also backend #%zu; set "
                                   "'name' to tell them apart)", what, md_cfg_show(s, e->backends[i].name), j + 1);
        }
    }
    return MD_OK;
}

static int parse_passthrough(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e, const char *ep)
{
    char what[MD_CFG_SHOW + 64];
    snprintf(what, sizeof(what), "the passthrough of %s", ep);
    e->passthrough = true;
    e->backends = md_calloc(1, sizeof(md_backend_conf_t));
    e->nbackends = 1;
    md_backend_conf_t *b = &e->backends[0];
    b->line = map->line;
    b->col = map->col;
    b->shape.limit = -1;
    if (md_cfg_check_keys(c, map, passthrough_keys, what) != MD_OK || parse_call(c, map, b, what) != MD_OK)
        return MD_EINVAL;
    b->name = md_strdup(b->upstream);
    return MD_OK;
}

/* ---- endpoints ---------------------------------------------------------- */

static int parse_endpoint_fields(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e)
{
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "method")) && md_cfg_method(c, n, &e->method) != MD_OK)
        return MD_EINVAL;
    if (!n)
        e->method = md_strdup("GET");
    if ((n = md_cfg_get(map, "summary")) && md_cfg_text(c, n, &e->summary) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "description")) && md_cfg_text(c, n, &e->description) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "operation_id"))) {
        if (md_cfg_line(c, n, false, MD_CFG_MAX_NAME, &e->operation_id) != MD_OK)
            return MD_EINVAL;
        if (!is_param_name(e->operation_id, strlen(e->operation_id)))
            return md_cfg_fail(c, n->line, n->col, "'operation_id' must be made of A-Z a-z 0-9 _ -");
    }
    if ((n = md_cfg_get(map, "deadline")) && md_cfg_duration(c, n, &e->deadline_ms) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "errors_field")) && md_cfg_line(c, n, false, MD_CFG_MAX_NAME, &e->errors_field) != MD_OK)
        return MD_EINVAL;
    return MD_OK;
}

static int parse_endpoint(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e, size_t index)
{
    char ep[MD_CFG_SHOW + 32], s[MD_CFG_SHOW];
    const md_cfg_node_t *path = md_cfg_get(map, "path");
    if (path && path->kind == MD_CFG_SCALAR)
        snprintf(ep, sizeof(ep), "endpoint '%s'", md_cfg_show(s, path->str));
    else
        snprintf(ep, sizeof(ep), "endpoint #%zu", index + 1);
    e->line = map->line;
    e->col = map->col;
    e->deadline_ms = 10000;
    if (md_cfg_check_keys(c, map, endpoint_keys, ep) != MD_OK ||
        md_cfg_require(c, map, "path", ep, &path) != MD_OK ||
        md_cfg_line(c, path, false, MD_CFG_MAX_PATH, &e->path) != MD_OK)
        return MD_EINVAL;
    path_params_t pp = { .n = 0 };
    if (check_endpoint_path(c, path, &pp) != MD_OK || parse_endpoint_fields(c, map, e) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *params = md_cfg_get(map, "params");
    if (params && parse_params(c, params, e, ep) != MD_OK)
        return MD_EINVAL;
    if (check_path_params(c, e, &pp, ep) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *cache = md_cfg_get(map, "cache");
    if (cache && md_cfg_cache_policy(c, cache, e, false, ep, &e->cache) != MD_OK)
        return MD_EINVAL;

    if (md_cfg_endpoint_guard(c, map, e, ep) != MD_OK)
        return MD_EINVAL;
    if (md_cfg_endpoint_auth(c, md_cfg_get(map, "auth"), e, ep) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *resp = md_cfg_get(map, "response");
    if (resp && md_cfg_response(c, resp, e, ep) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *be = md_cfg_get(map, "backends"), *pt = md_cfg_get(map, "passthrough");
    if (be && pt)
        return md_cfg_fail(c, pt->key_line, pt->key_col, "%s has both 'backends' and 'passthrough' (pick one)", ep);
    if (!be && !pt)
        return md_cfg_fail(c, e->line, e->col, "%s needs 'backends' or 'passthrough'", ep);
    if (pt && e->cache.on) /* a proxied answer is not composed: there is no view to cache */
        return md_cfg_fail(c, cache->key_line, cache->key_col, "%s: 'cache' needs 'backends' (a passthrough is "
                           "not cached)", ep);
    return be ? parse_backends(c, be, e, ep) : parse_passthrough(c, pt, e, ep);
}

int md_cfg_endpoints(md_cfg_ctx_t *c, const md_cfg_node_t *seq)
{
    md_config_t *cfg = c->cfg;
    if (md_cfg_check_seq(c, seq, MD_CFG_MAX_ENDPOINTS, "endpoints") != MD_OK)
        return MD_EINVAL;
    if (seq->count == 0)
        return md_cfg_fail(c, seq->line, seq->col, "'endpoints' must list at least one endpoint");
    cfg->endpoints = md_calloc(seq->count, sizeof(md_endpoint_conf_t));
    cfg->nendpoints = seq->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = seq->first; n; n = n->next, i++) {
        md_endpoint_conf_t *e = &cfg->endpoints[i];
        if (n->kind != MD_CFG_MAP)
            return md_cfg_fail(c, n->line, n->col, "endpoint #%zu must be a mapping (path, backends...)", i + 1);
        if (parse_endpoint(c, n, e, i) != MD_OK)
            return MD_EINVAL;
        /* Quadratic in the endpoint count, bounded by MD_CFG_MAX_ENDPOINTS. */
        for (size_t j = 0; j < i; j++) {
            char s[MD_CFG_SHOW];
            if (same_route(&cfg->endpoints[j], e))
                return md_cfg_fail(c, e->line, e->col, "duplicate endpoint %s %s (first at line %d)", e->method,
                                   md_cfg_show(s, e->path), cfg->endpoints[j].line);
        }
    }
    return MD_OK;
}
