/*
 * cors.c - CORS policy compilation and the preflight / actual-request
 * decisions (contract in cors.h).
 *
 * Everything a response can need is computed once, at policy creation, into
 * strings owned by the policy's pool ("GET, PUT", "Origin, Access-Control-
 * Request-Headers", "600"), so answering a request is lookups and pointer
 * copies, with no allocation.
 */
#include "auth/cors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/pool.h"

#define ORIGIN_MAX 512

typedef struct {
    const char **items;
    size_t n;
    bool star;
    const char *joined; /* "a, b" or "*"; NULL when the list is empty */
} list_t;

struct md_cors_policy {
    md_pool_t *pool;
    list_t origins, methods, headers, expose;
    bool null_listed;
    bool credentials;
    const char *max_age;        /* decimal, NULL when not sent */
    const char *vary_actual;    /* NULL when the answer is origin-independent */
    const char *vary_preflight;
};

static const char H_ORIGIN[] = "Origin";
static const char H_REQ_METHOD[] = "Access-Control-Request-Method";
static const char H_REQ_HEADERS[] = "Access-Control-Request-Headers";

/* ---- tokens and origins ------------------------------------------------- */


static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static void lowercase(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

/* Length of the port digits at s if they are a valid port without leading
 * zero (1..65535), else 0; *port receives the value. */
static size_t parse_port(const char *s, unsigned *port)
{
    size_t n = 0;
    unsigned v = 0;
    while (s[n] >= '0' && s[n] <= '9' && n < 6)
        v = v * 10 + (unsigned)(s[n++] - '0');
    if (n == 0 || n > 5 || s[0] == '0' || v > 65535)
        return 0;
    *port = v;
    return n;
}

/* Length of the host at s: a bracketed IPv6 literal or a reg-name. */
static size_t host_len(const char *s)
{
    size_t h = 0;
    if (s[0] == '[') {
        h = 1;
        while (is_lower_alnum(s[h]) || s[h] == ':' || s[h] == '.')
            h++;
        return s[h] == ']' && h > 1 ? h + 1 : 0;
    }
    while (is_lower_alnum(s[h]) || s[h] == '-' || s[h] == '.' || s[h] == '_')
        h++;
    return h;
}

/* Lowercases and checks `scheme://host[:port]`, dropping a default port.
 * Returns the pool copy or NULL. */
static const char *normalize_origin(md_pool_t *pool, const char *in)
{
    size_t len = strlen(in);
    if (len == 0 || len > ORIGIN_MAX)
        return NULL;
    char *s = md_pool_strndup(pool, in, len);
    lowercase(s);
    size_t i = 0;
    if (!(s[0] >= 'a' && s[0] <= 'z'))
        return NULL;
    while (is_lower_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    size_t scheme_len = i;
    if (strncmp(s + i, "://", 3) != 0)
        return NULL;
    i += 3;
    size_t h = host_len(s + i);
    if (h == 0)
        return NULL;
    i += h;
    size_t port_at = i;
    unsigned port = 0;
    if (s[i] == ':') {
        size_t p = parse_port(s + i + 1, &port);
        if (p == 0)
            return NULL;
        i += 1 + p;
    }
    if (s[i] != '\0') /* a path, query, fragment or trailing slash */
        return NULL;
    bool secure = (scheme_len == 5 && strncmp(s, "https", 5) == 0) || (scheme_len == 3 && strncmp(s, "wss", 3) == 0);
    bool plain = (scheme_len == 4 && strncmp(s, "http", 4) == 0) || (scheme_len == 2 && strncmp(s, "ws", 2) == 0);
    if ((secure && port == 443) || (plain && port == 80))
        s[port_at] = '\0';
    return s;
}

/* ---- policy compilation ------------------------------------------------- */

static const char *join(md_pool_t *pool, const char **items, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(items[i]) + 2;
    char *out = md_pool_alloc(pool, total + 1), *p = out;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        if (i) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, items[i], l);
        p += l;
    }
    *p = '\0';
    return out;
}

/* Checks one configured list. Origins are normalized, headers lowercased
 * (`lower`); a "*" must stand alone and never with credentials. */
static int compile_list(md_cors_policy_t *p, const char *const *in, size_t n, const char *what, bool is_origins,
                        bool lower, list_t *out, char *err, size_t errlen)
{
    if (n > MD_CORS_LIST_MAX) {
        md_seterr(err, errlen, "cors: more than %d %s", MD_CORS_LIST_MAX, what);
        return MD_ETOOBIG;
    }
    out->items = md_pool_calloc(p->pool, (n ? n : 1) * sizeof(char *));
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = in[i] ? in[i] : "";
        if (strcmp(s, "*") == 0) {
            if (n != 1) {
                md_seterr(err, errlen, "cors: \"*\" must be the only entry in %s", what);
                return MD_EINVAL;
            }
            if (p->credentials) {
                md_seterr(err, errlen, "cors: %s \"*\" cannot be combined with credentials (browsers refuse it)",
                          what);
                return MD_EINVAL;
            }
            out->star = true;
            out->joined = "*";
            return MD_OK;
        }
        const char *item = NULL;
        if (is_origins && strcmp(s, "null") == 0) {
            p->null_listed = true;
            item = "null";
        } else if (is_origins) {
            item = normalize_origin(p->pool, s);
        } else if (md_is_token(s, strlen(s))) {
            char *copy = md_pool_strndup(p->pool, s, strlen(s));
            if (lower)
                lowercase(copy);
            item = copy;
        }
        if (!item) {
            md_seterr(err, errlen, "cors: %s entry \"%.80s\" is not %s", what, s,
                      is_origins ? "scheme://host[:port]" : "a valid token");
            return MD_EINVAL;
        }
        total += strlen(item) + 2;
        out->items[out->n++] = item;
    }
    if (total > MD_CORS_VALUE_MAX) {
        md_seterr(err, errlen, "cors: %s longer than %d bytes in all", what, MD_CORS_VALUE_MAX);
        return MD_ETOOBIG;
    }
    out->joined = out->n ? join(p->pool, out->items, out->n) : NULL;
    return MD_OK;
}

static void compile_vary(md_cors_policy_t *p)
{
    const char *parts[3];
    size_t n = 0;
    if (!p->origins.star) {
        parts[n++] = H_ORIGIN;
        p->vary_actual = H_ORIGIN;
    }
    if (p->methods.star)
        parts[n++] = H_REQ_METHOD;
    if (p->headers.star)
        parts[n++] = H_REQ_HEADERS;
    p->vary_preflight = n ? join(p->pool, parts, n) : NULL;
}

static int compile(md_cors_policy_t *p, const md_cors_opts_t *o, char *err, size_t errlen)
{
    int rc = compile_list(p, o->origins, o->n_origins, "origins", true, false, &p->origins, err, errlen);
    if (rc == MD_OK)
        rc = compile_list(p, o->methods, o->n_methods, "methods", false, false, &p->methods, err, errlen);
    if (rc == MD_OK)
        rc = compile_list(p, o->headers, o->n_headers, "headers", false, true, &p->headers, err, errlen);
    if (rc == MD_OK)
        rc = compile_list(p, o->expose, o->n_expose, "exposed headers", false, false, &p->expose, err, errlen);
    if (rc != MD_OK)
        return rc;
    if (p->origins.n == 0 && !p->origins.star) {
        md_seterr(err, errlen, "cors: no allowed origins");
        return MD_EINVAL;
    }
    if (o->max_age > MD_CORS_MAX_AGE_MAX) {
        md_seterr(err, errlen, "cors: max_age over %d seconds", MD_CORS_MAX_AGE_MAX);
        return MD_EINVAL;
    }
    if (o->max_age >= 0) {
        char *s = md_pool_alloc(p->pool, 24);
        snprintf(s, 24, "%ld", o->max_age);
        p->max_age = s;
    }
    compile_vary(p);
    return MD_OK;
}

int md_cors_policy_new(const md_cors_opts_t *o, md_cors_policy_t **out, char *err, size_t errlen)
{
    md_pool_t *pool = md_pool_new(0);
    md_cors_policy_t *p = md_pool_calloc(pool, sizeof(*p));
    p->pool = pool;
    p->credentials = o->credentials;
    int rc = compile(p, o, err, errlen);
    if (rc != MD_OK) {
        md_pool_destroy(pool);
        p = NULL;
    }
    *out = p;
    return rc;
}

void md_cors_policy_free(md_cors_policy_t *p)
{
    if (p)
        md_pool_destroy(p->pool);
}

/* ---- answering requests ------------------------------------------------- */

static void reset(md_cors_result_t *out)
{
    out->n = 0;
    out->refusal = NULL;
}

static void put(md_cors_result_t *out, const char *name, const char *value, size_t value_len)
{
    md_header_t *h = &out->headers[out->n++];
    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = value_len;
}

static void put_str(md_cors_result_t *out, const char *name, const char *value)
{
    if (value)
        put(out, name, value, strlen(value));
}

static int refuse(md_cors_result_t *out, int rc, const char *why)
{
    out->refusal = why;
    return rc;
}

/* The only header named `name`, NULL if absent. MD_EINVAL if repeated: a
 * browser sends each CORS header once, so two are not a browser talking. */
static int find_one(const md_header_t *hs, size_t n, const char *name, const md_header_t **found)
{
    *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!md_header_name_is(&hs[i], name))
            continue;
        if (*found)
            return MD_EINVAL;
        *found = &hs[i];
    }
    return MD_OK;
}

/* The configured string to send back as Access-Control-Allow-Origin. */
static const char *match_origin(const md_cors_policy_t *p, const md_header_t *origin)
{
    const char *v = origin->value;
    size_t len = origin->value_len;
    if (len == 4 && memcmp(v, "null", 4) == 0)
        return p->null_listed ? "null" : NULL;
    if (p->origins.star)
        return "*";
    for (size_t i = 0; i < p->origins.n; i++) {
        const char *o = p->origins.items[i];
        if (strlen(o) == len && memcmp(o, v, len) == 0)
            return o;
    }
    return NULL;
}

static bool method_allowed(const md_cors_policy_t *p, const char *m, size_t len)
{
    static const char *const safelisted[] = { "GET", "HEAD", "POST" };
    if (p->methods.star)
        return true;
    for (size_t i = 0; i < MD_ARRAY_LEN(safelisted); i++)
        if (strlen(safelisted[i]) == len && memcmp(safelisted[i], m, len) == 0)
            return true;
    for (size_t i = 0; i < p->methods.n; i++)
        if (strlen(p->methods.items[i]) == len && memcmp(p->methods.items[i], m, len) == 0)
            return true;
    return false;
}

static bool header_allowed(const md_cors_policy_t *p, const char *name, size_t len)
{
    if (p->headers.star)
        return true;
    for (size_t i = 0; i < p->headers.n; i++)
        if (strlen(p->headers.items[i]) == len && strncasecmp(p->headers.items[i], name, len) == 0)
            return true;
    return false;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* Walks a requested header list: "a, B ,,c". Sets *why on refusal. */
static int check_request_headers(const md_cors_policy_t *p, const char *v, size_t len, const char **why)
{
    if (len > MD_CORS_VALUE_MAX) {
        *why = "Access-Control-Request-Headers over 4 KiB";
        return MD_ETOOBIG;
    }
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && v[end] != ',')
            end++;
        size_t a = i, b = end;
        while (a < b && is_ows(v[a]))
            a++;
        while (b > a && is_ows(v[b - 1]))
            b--;
        i = end + 1;
        if (a == b)
            continue; /* empty list element */
        if (++count > MD_CORS_LIST_MAX) {
            *why = "more than 64 names in Access-Control-Request-Headers";
            return MD_ETOOBIG;
        }
        if (!md_is_token(v + a, b - a)) {
            *why = "malformed Access-Control-Request-Headers";
            return MD_EINVAL;
        }
        if (!header_allowed(p, v + a, b - a)) {
            *why = "request header not allowed";
            return MD_EINVAL;
        }
    }
    return MD_OK;
}

bool md_cors_is_preflight(const char *method, size_t method_len, const md_header_t *hs, size_t n)
{
    return method_len == 7 && memcmp(method, "OPTIONS", 7) == 0 && md_header_find(hs, n, H_ORIGIN) &&
           md_header_find(hs, n, H_REQ_METHOD);
}

/* The allowed request headers to announce: the configured list, or for a
 * "*" policy the validated request list itself, trimmed. */
static void put_allow_headers(const md_cors_policy_t *p, const md_header_t *acrh, md_cors_result_t *out)
{
    if (!p->headers.star) {
        put_str(out, "Access-Control-Allow-Headers", p->headers.joined);
        return;
    }
    if (!acrh)
        return;
    const char *v = acrh->value;
    size_t a = 0, b = acrh->value_len;
    while (a < b && (is_ows(v[a]) || v[a] == ','))
        a++;
    while (b > a && (is_ows(v[b - 1]) || v[b - 1] == ','))
        b--;
    if (a < b)
        put(out, "Access-Control-Allow-Headers", v + a, b - a);
}

int md_cors_preflight(const md_cors_policy_t *p, const md_header_t *hs, size_t n, md_cors_result_t *out)
{
    reset(out);
    put_str(out, "Vary", p->vary_preflight);
    const md_header_t *origin, *acrm, *acrh;
    if (find_one(hs, n, H_ORIGIN, &origin) != MD_OK || find_one(hs, n, H_REQ_METHOD, &acrm) != MD_OK ||
        find_one(hs, n, H_REQ_HEADERS, &acrh) != MD_OK)
        return refuse(out, MD_EINVAL, "repeated CORS request header");
    if (!origin)
        return refuse(out, MD_EINVAL, "no Origin");
    const char *allow_origin = match_origin(p, origin);
    if (!allow_origin)
        return refuse(out, MD_EINVAL, "origin not allowed");
    if (!acrm || !md_is_token(acrm->value, acrm->value_len))
        return refuse(out, MD_EINVAL, "missing or malformed Access-Control-Request-Method");
    if (!method_allowed(p, acrm->value, acrm->value_len))
        return refuse(out, MD_EINVAL, "method not allowed");
    if (acrh) {
        const char *why = NULL;
        int rc = check_request_headers(p, acrh->value, acrh->value_len, &why);
        if (rc != MD_OK)
            return refuse(out, rc, why);
    }
    put_str(out, "Access-Control-Allow-Origin", allow_origin);
    if (p->credentials)
        put_str(out, "Access-Control-Allow-Credentials", "true");
    if (p->methods.star)
        put(out, "Access-Control-Allow-Methods", acrm->value, acrm->value_len);
    else
        put_str(out, "Access-Control-Allow-Methods", p->methods.joined);
    put_allow_headers(p, acrh, out);
    put_str(out, "Access-Control-Max-Age", p->max_age);
    return MD_OK;
}

int md_cors_actual(const md_cors_policy_t *p, const md_header_t *hs, size_t n, md_cors_result_t *out)
{
    reset(out);
    put_str(out, "Vary", p->vary_actual);
    const md_header_t *origin;
    if (find_one(hs, n, H_ORIGIN, &origin) != MD_OK)
        return refuse(out, MD_EINVAL, "repeated Origin");
    if (!origin)
        return MD_OK;
    const char *allow_origin = match_origin(p, origin);
    if (!allow_origin)
        return refuse(out, MD_EINVAL, "origin not allowed");
    put_str(out, "Access-Control-Allow-Origin", allow_origin);
    if (p->credentials)
        put_str(out, "Access-Control-Allow-Credentials", "true");
    put_str(out, "Access-Control-Expose-Headers", p->expose.joined);
    return MD_OK;
}
