/*
 * gateway.c - compiles the config into routes and backend plans, routes
 * each request, validates its parameters and hands it to compose.c or
 * passthrough.c. Also the per-worker hooks (upstream pools).
 */
#include "gateway/internal.h"

#include "connector/swagger.h"
#include "core/alloc.h"
#include "http/query.h"
#include "json/write.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- compile ---- */

static int fail(md_diag_t *diag, const char *file, int line, int col, const char *fmt, const char *a,
                const char *b)
{
    snprintf(diag->file, sizeof(diag->file), "%s", file);
    diag->line = line;
    diag->col = col;
    snprintf(diag->msg, sizeof(diag->msg), fmt, a, b);
    return MD_EINVAL;
}

static int find_param(const md_endpoint_conf_t *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->nparams; i++)
        if (strlen(e->params[i].name) == len && memcmp(e->params[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static int compile_segments(gw_endpoint_t *ep, const char *file, md_diag_t *diag)
{
    const md_endpoint_conf_t *e = ep->conf;
    const char *p = e->path + 1; /* the loader checked the leading '/' */
    ep->nsegs = 0;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (ep->nsegs == GW_MAX_SEGMENTS)
            return fail(diag, file, e->line, e->col, "endpoint path '%s' has more than 32 segments%s",
                        e->path, "");
        gw_segment_t *s = &ep->segs[ep->nsegs++];
        s->literal = (md_str_t){ p, len };
        s->param = -1;
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
            s->param = find_param(e, p + 1, len - 2);
            if (s->param < 0 || e->params[s->param].in != MD_PARAM_IN_PATH) {
                char seg[128];
                snprintf(seg, sizeof(seg), "%.*s", (int)MD_MIN(len, 120), p);
                return fail(diag, file, e->line, e->col,
                            "endpoint path '%s': segment %s must be declared in params with 'in: path'",
                            e->path, seg);
            }
        }
        p += len;
        if (*p == '/')
            p++;
    }
    return MD_OK;
}

/* True if s is non-empty and every byte is alphanumeric or in `extra`. */
static bool all_in(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(extra, *s) && !((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
                                     (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

#define is_unreserved(s) all_in((s), "-._~")       /* RFC 3986 */

/* The target template source: path plus the `query:` map appended. */
static char *target_source(const md_backend_conf_t *b, const char *file, md_diag_t *diag)
{
    md_buf_t src;
    md_buf_init(&src, 64 * 1024);
    md_buf_append_str(&src, b->path);
    char sep = strchr(b->path, '?') ? '&' : '?';
    for (size_t i = 0; i < b->nquery; i++) {
        if (!is_unreserved(b->query[i].name)) {
            fail(diag, file, b->line, b->col, "backend query parameter name '%s' must use only A-Z a-z 0-9 - . _ ~%s",
                 b->query[i].name, "");
            md_buf_free(&src);
            return NULL;
        }
        if (md_buf_printf(&src, "%c%s=%s", sep, b->query[i].name, b->query[i].value) != MD_OK) {
            md_buf_free(&src);
            fail(diag, file, b->line, b->col, "backend target is too long%s%s", "", "");
            return NULL;
        }
        sep = '&';
    }
    return md_buf_detach(&src, NULL);
}

/* Every variable a template uses must be known: a declared param, a
 * query./header. input, or a jwt./auth. input the endpoint's auth provider
 * supplies. */
static int check_vars(const md_template_t *t, const md_endpoint_conf_t *e, const md_backend_conf_t *b,
                      const md_config_t *cfg, md_diag_t *diag)
{
    const char *file = cfg->file;
    for (size_t i = 0; i < md_template_nvars(t); i++) {
        md_str_t ns, name;
        md_template_var(t, i, &ns, &name);
        char nm[128], full[260];
        snprintf(nm, sizeof(nm), "%.*s", (int)MD_MIN(name.len, 120), name.ptr);
        snprintf(full, sizeof(full), "%.*s%s%s", (int)MD_MIN(ns.len, 120), ns.ptr, ns.len ? "." : "", nm);
        if (ns.len == 0 && find_param(e, name.ptr, name.len) < 0)
            return fail(diag, file, b->line, b->col,
                        "template variable {%s} is not a declared parameter of endpoint '%s' "
                        "(declare it under params, or use {query.NAME} / {header.NAME})",
                        nm, e->path);
        bool authns = (ns.len == 3 && memcmp(ns.ptr, "jwt", 3) == 0) || (ns.len == 4 && memcmp(ns.ptr, "auth", 4) == 0);
        const char *why = authns ? gw_auth_var_problem(cfg, e, ns, name) : NULL;
        if (why)
            return fail(diag, file, b->line, b->col, "template variable {%s} %s", full, why);
        if (ns.len && !authns && !(ns.len == 5 && memcmp(ns.ptr, "query", 5) == 0) &&
            !(ns.len == 6 && memcmp(ns.ptr, "header", 6) == 0))
            return fail(diag, file, b->line, b->col, "template variable {%s}: unknown source %s",
                        full, "(use {NAME}, {query.NAME}, {header.NAME}, {jwt.NAME} or {auth.name})");
    }
    return MD_OK;
}

static int compile_backend(gw_backend_t *gb, const md_config_t *cfg, const md_endpoint_conf_t *e,
                           const md_backend_conf_t *b, md_diag_t *diag)
{
    char err[256];
    gb->conf = b;
    gb->upstream = (size_t)(b->up - cfg->upstreams);
    char *src = target_source(b, cfg->file, diag);
    if (!src)
        return MD_EINVAL;
    gb->target = md_template_compile(src, MD_TPL_TARGET, err, sizeof(err));
    md_free(src);
    if (!gb->target)
        return fail(diag, cfg->file, b->line, b->col, "backend path: %s%s", err, "");
    if (check_vars(gb->target, e, b, cfg, diag) != MD_OK)
        return MD_EINVAL;
    gb->headers = md_calloc(b->nheaders, sizeof(*gb->headers));
    gb->nheaders = b->nheaders;
    for (size_t i = 0; i < b->nheaders; i++) {
        gb->headers[i].name = b->headers[i].name;
        if (!md_is_token(b->headers[i].name, strlen(b->headers[i].name)))
            return fail(diag, cfg->file, b->line, b->col, "backend header name '%s' is not a valid token%s",
                        b->headers[i].name, "");
        gb->headers[i].value = md_template_compile(b->headers[i].value, MD_TPL_HEADER_VALUE, err, sizeof(err));
        if (!gb->headers[i].value)
            return fail(diag, cfg->file, b->line, b->col, "backend header '%s': %s", b->headers[i].name, err);
        if (check_vars(gb->headers[i].value, e, b, cfg, diag) != MD_OK)
            return MD_EINVAL;
    }
    if (b->has_shape) {
        gb->shape = md_shape_compile(&b->shape, err, sizeof(err));
        if (!gb->shape)
            return fail(diag, cfg->file, b->line, b->col, "backend shape: %s%s", err, "");
    }
    return gw_cache_plan_backend(gb, e, cfg->file, diag);
}

static int compile_endpoint(gw_endpoint_t *ep, const md_config_t *cfg, const md_endpoint_conf_t *e,
                            md_diag_t *diag)
{
    char err[256];
    ep->conf = e;
    if (compile_segments(ep, cfg->file, diag) != MD_OK)
        return MD_EINVAL;
    ep->params = md_params_compile(e->params, e->nparams, err, sizeof(err));
    if (!ep->params)
        return fail(diag, cfg->file, e->line, e->col, "endpoint '%s': %s", e->path, err);
    ep->backends = md_calloc(e->nbackends, sizeof(*ep->backends));
    ep->nbackends = e->nbackends;
    for (size_t i = 0; i < e->nbackends; i++)
        if (compile_backend(&ep->backends[i], cfg, e, &e->backends[i], diag) != MD_OK)
            return MD_EINVAL;
    if (e->passthrough)
        return MD_OK;
    if (gw_cache_plan_endpoint(ep, cfg->file, diag) != MD_OK)
        return MD_EINVAL;
    /* An answer given to an authenticated caller must not be stored by a
     * shared cache in front of medley for someone else. */
    ep->cache.personal |= e->auth.provider >= 0;
    const char **paths = md_calloc(e->nbackends, sizeof(*paths));
    for (size_t i = 0; i < e->nbackends; i++)
        paths[i] = e->backends[i].as;
    ep->merge = md_merge_compile(paths, e->nbackends, err, sizeof(err));
    md_free(paths);
    if (!ep->merge)
        return fail(diag, cfg->file, e->line, e->col, "endpoint '%s': %s", e->path, err);
    return MD_OK;
}

md_gateway_t *md_gateway_new(const md_config_t *cfg, int nworkers, md_diag_t *diag)
{
    md_gateway_t *gw = md_calloc(1, sizeof(*gw));
    gw->cfg = cfg;
    gw->nworkers = nworkers > 0 ? nworkers : 1;
    gw->endpoints = md_calloc(cfg->nendpoints, sizeof(*gw->endpoints));
    gw->nendpoints = cfg->nendpoints;
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        if (compile_endpoint(&gw->endpoints[i], cfg, &cfg->endpoints[i], diag) != MD_OK) {
            md_gateway_free(gw);
            return NULL;
        }
    }
    gw_cache_init(gw);
    if (gw_guard_init(gw, diag) != MD_OK || gw_auth_init(gw, diag) != MD_OK ||
        gw_outbound_init(gw, diag) != MD_OK) {
        md_gateway_free(gw);
        return NULL;
    }
    /* Built once here so a config that cannot be exported fails at start,
     * not on the first GET /openapi.json. */
    if (cfg->public_url && md_swagger_build(cfg, NULL, &gw->openapi, diag) != MD_OK) {
        md_gateway_free(gw);
        return NULL;
    }
    return gw;
}

static void free_endpoint(gw_endpoint_t *ep)
{
    for (size_t j = 0; j < ep->nbackends; j++) {
        gw_backend_t *b = &ep->backends[j];
        md_template_free(b->target);
        for (size_t k = 0; k < b->nheaders; k++)
            md_template_free(b->headers[k].value);
        md_free(b->headers);
        md_shape_free(b->shape);
        gw_cache_plan_free(&b->cache);
    }
    gw_cache_plan_free(&ep->cache);
    md_free(ep->backends);
    md_params_free(ep->params);
    md_merge_free(ep->merge);
}

void md_gateway_free(md_gateway_t *gw)
{
    if (!gw)
        return;
    for (size_t i = 0; i < gw->nendpoints; i++)
        free_endpoint(&gw->endpoints[i]);
    md_free(gw->endpoints);
    md_buf_free(&gw->openapi);
    gw_cache_fini(gw);
    gw_guard_fini(gw);
    gw_auth_fini(gw);
    gw_outbound_fini(gw);
    md_free(gw);
}

/* ---- routing ---- */

/* Matches the raw request path against an endpoint's segments; fills the
 * raw values of path params. */
bool gw_match_path(const gw_endpoint_t *ep, md_str_t path, md_str_t *pvals)
{
    const char *p = path.ptr, *end = path.ptr + path.len;
    if (p == end || *p != '/')
        return false;
    p++;
    size_t i = 0;
    while (p < end || i < ep->nsegs) {
        if (i == ep->nsegs)
            return false;
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
        const gw_segment_t *s = &ep->segs[i];
        if (s->param >= 0) {
            if (len == 0)
                return false;
            pvals[s->param] = (md_str_t){ p, len };
        } else if (s->literal.len != len || memcmp(s->literal.ptr, p, len) != 0) {
            return false;
        }
        i++;
        p += len;
        if (p < end) {
            p++; /* the '/' */
            if (p == end && i == ep->nsegs)
                return false; /* trailing slash: a different path */
        }
    }
    return true;
}

static bool method_matches(const char *want, md_str_t got)
{
    size_t n = strlen(want);
    if (got.len == n && memcmp(want, got.ptr, n) == 0)
        return true;
    return got.len == 4 && memcmp(got.ptr, "HEAD", 4) == 0 && strcmp(want, "GET") == 0;
}

/* Finds the endpoint for a request; on a path match with the wrong method,
 * fills `allow` with the methods that would match. */
static const gw_endpoint_t *route(const md_gateway_t *gw, md_http_req_t *req, md_str_t *pvals,
                                  char *allow, size_t allowlen)
{
    size_t used = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < gw->nendpoints; i++) {
        const gw_endpoint_t *ep = &gw->endpoints[i];
        if (!gw_match_path(ep, req->path, pvals))
            continue;
        if (method_matches(ep->conf->method, req->method))
            return ep;
        int n = snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", ep->conf->method);
        if (n > 0 && (size_t)n < allowlen - used)
            used += (size_t)n;
    }
    return NULL;
}

/* ---- request inputs ---- */

int gw_lookup(void *ctx, md_str_t ns, md_str_t name, md_str_t *value)
{
    gw_inputs_t *in = ctx;
    const md_header_t *h = NULL;
    if (ns.len && (ns.ptr[0] == 'j' || ns.ptr[0] == 'a')) /* jwt., auth. */
        return gw_auth_lookup(in, ns, name, value);
    if (ns.len == 0) {
        int i = find_param(in->ep->conf, name.ptr, name.len);
        if (i < 0 || !in->values[i].ptr)
            return MD_ENOTFOUND;
        *value = in->values[i];
        return MD_OK;
    }
    const md_header_t *list = ns.ptr[0] == 'q' ? in->query : in->req->headers;
    size_t n = ns.ptr[0] == 'q' ? in->nquery : in->req->num_headers;
    for (size_t i = 0; i < n && !h; i++)
        if (list[i].name_len == name.len &&
            (ns.ptr[0] == 'q' ? memcmp(list[i].name, name.ptr, name.len) == 0
                              : strncasecmp(list[i].name, name.ptr, name.len) == 0))
            h = &list[i];
    if (!h)
        return MD_ENOTFOUND;
    *value = (md_str_t){ h->value, h->value_len };
    return MD_OK;
}

int gw_render_backend(const gw_backend_t *b, gw_inputs_t *in, md_upstream_req_t *out, char *msg,
                      size_t msglen)
{
    md_pool_t *pool = in->req->pool;
    md_buf_t buf;
    md_buf_init(&buf, 16 * 1024);
    int rc = md_template_render(b->target, gw_lookup, in, &buf);
    if (rc != MD_OK) {
        snprintf(msg, msglen, "a request value cannot be used in backend '%s' path", b->conf->name);
        goto out;
    }
    out->method = b->conf->method;
    out->path = md_pool_strndup(pool, buf.data, buf.len);
    out->path_len = buf.len;
    out->body = NULL;
    out->body_len = 0;
    out->timeout_ms = b->conf->timeout_ms;
    md_tm_req_t *t = in->req->telemetry;
    size_t room = b->nheaders + 1 + (t ? MD_TM_TRACE_HEADERS : 0);
    md_header_t *hs = md_pool_alloc(pool, room * sizeof(*hs));
    for (size_t i = 0; i < b->nheaders; i++) {
        md_buf_reset(&buf);
        rc = md_template_render(b->headers[i].value, gw_lookup, in, &buf);
        if (rc != MD_OK) {
            snprintf(msg, msglen, "a request value cannot be used in backend '%s' header", b->conf->name);
            goto out;
        }
        hs[i].name = b->headers[i].name;
        hs[i].name_len = strlen(b->headers[i].name);
        hs[i].value = md_pool_strndup(pool, buf.data, buf.len);
        hs[i].value_len = buf.len;
    }
    /* Then the credential (the loader allows one at most), then trace
     * context: hs[0..b->nheaders) stay the configured headers, the ones a
     * cache key holds (cache.c adds the forwarded one's digest itself). */
    size_t n = b->nheaders;
    md_str_t fwd;
    if (b->conf->forward_authorization && gw_forwarded_authorization(in, &fwd))
        hs[n++] = (md_header_t){ "Authorization", 13, fwd.ptr, fwd.len };
    const gw_worker_t *w = md_worker_data(in->req->worker);
    int bearer = gw_outbound_bearer(w->gw, b->upstream, pool, &hs[n]);
    n += bearer == 1;
    out->nheaders = n + md_tm_trace_headers(t, (size_t)(b - in->ep->backends), pool, hs + n, hs, n);
    out->headers = hs;
    if (bearer == MD_ERR) {
        snprintf(msg, msglen, "no OAuth2 access token for upstream '%s' (its token endpoint failed; see the log)",
                 b->conf->up->name);
        rc = MD_ENOTFOUND;
    }
out:
    md_buf_free(&buf);
    return rc;
}

const char *gw_error_kind(int error)
{
    switch (error) {
    case MD_ETIMEDOUT: return "timeout";
    case MD_ECONNECT: return "connect";
    case MD_ETLS: return "tls";
    case MD_ERESET: return "reset";
    case MD_ETOOBIG: return "too_big";
    case MD_AGAIN: return "overloaded";
    case MD_EINVAL: return "invalid_response";
    default: return "error";
    }
}

/* ---- the request handler ---- */

/* GET /openapi.json answers the connector definition when no endpoint
 * claims the path (the router found none). True if it answered. */
static bool serve_openapi(const md_gateway_t *gw, md_http_req_t *req)
{
    static const char path[] = "/openapi.json";
    if (!gw->openapi.len || req->path.len != sizeof(path) - 1 || memcmp(req->path.ptr, path, sizeof(path) - 1) != 0)
        return false;
    bool get = req->method.len == 3 && memcmp(req->method.ptr, "GET", 3) == 0;
    bool head = req->method.len == 4 && memcmp(req->method.ptr, "HEAD", 4) == 0;
    if (!get && !head) {
        md_header_t allow = { "Allow", 5, "GET, HEAD", 9 };
        md_http_respond_error_h(req, 405, "method_not_allowed", "method not allowed on this path", NULL, &allow, 1);
        return true;
    }
    md_header_t ctype = { "Content-Type", 12, "application/json", 16 };
    md_http_respond(req, 200, &ctype, 1, gw->openapi.data, gw->openapi.len);
    return true;
}

/* After the client-keyed limits: the query and params, then
 * authentication, then gw_run. */
static void validate(gw_worker_t *w, gw_inputs_t *in, const md_str_t *pvals)
{
    md_http_req_t *req = in->req;
    const gw_endpoint_t *ep = in->ep;
    char msg[256];
    if (md_query_parse(req->pool, req->query.ptr, req->query.len, in->query, GW_MAX_QUERY_PAIRS,
                       &in->nquery) != MD_OK) {
        md_http_respond_error(req, 400, "bad_query", "the query string is malformed or has too many parameters",
                              NULL);
        return;
    }
    size_t np = ep->conf->nparams, bad = 0;
    in->values = np ? md_pool_calloc(req->pool, np * sizeof(*in->values)) : NULL;
    if (md_params_validate(ep->params, req->pool, in->query, in->nquery, req->headers, req->num_headers, pvals,
                           in->values, &bad, msg, sizeof(msg)) != MD_OK) {
        md_buf_t extra;
        md_buf_init(&extra, 1024);
        md_buf_append_str(&extra, "\"param\":");
        md_json_write_string(&extra, ep->conf->params[bad].name, strlen(ep->conf->params[bad].name));
        md_http_respond_error(req, 400, "invalid_param", msg, extra.data);
        md_buf_free(&extra);
        return;
    }
    if (gw_auth_check(w, in) == MD_OK) /* else answered, or gw_run comes later */
        gw_run(w, in);
}

static void handle(md_http_req_t *req, void *app)
{
    md_gateway_t *gw = app;
    gw_worker_t *w = md_worker_data(req->worker);
    md_str_t pvals[MD_PARAMS_MAX] = { { 0 } }; /* indexed by declared param */
    char allow[128];
    const gw_endpoint_t *ep = route(gw, req, pvals, allow, sizeof(allow));
    md_tm_begin(gw->tm, req, ep ? (int)(ep - gw->endpoints) : -1);
    if (!ep && allow[0] && gw_guard_preflight(gw, req))
        return;
    gw_guard_req_t *guard = gw_guard_begin(gw, ep, req);
    if (!ep) {
        if (!allow[0] && serve_openapi(gw, req))
            return;
        if (allow[0]) {
            md_header_t h = { "Allow", 5, allow, strlen(allow) };
            md_http_respond_error_h(req, 405, "method_not_allowed", "method not allowed on this path", NULL, &h, 1);
        } else {
            md_http_respond_error(req, 404, "not_found", "no endpoint matches this path", NULL);
        }
        return;
    }
    gw_inputs_t *in = md_pool_calloc(req->pool, sizeof(*in));
    in->ep = ep;
    in->req = req;
    in->guard = guard;
    if (gw_guard_limit(w, in, false))
        return;
    validate(w, in, pvals);
}

static void run_backends(gw_worker_t *w, gw_inputs_t *in)
{
    if (in->ep->conf->passthrough)
        gw_passthrough(w, in->ep, in);
    else
        gw_compose(w, in->ep, in);
}

void gw_run(gw_worker_t *w, gw_inputs_t *in)
{
    if (gw_guard_limit(w, in, true))
        return;
    run_backends(w, in);
}

void gw_limits_passed(gw_worker_t *w, gw_inputs_t *in, bool authenticated)
{
    if (authenticated) {
        run_backends(w, in);
        return;
    }
    /* The path values routing found lived on handle()'s stack: the same
     * match finds them again. */
    md_str_t pvals[MD_PARAMS_MAX] = { { 0 } };
    gw_match_path(in->ep, in->req->path, pvals);
    validate(w, in, pvals);
}

/* ---- workers ---- */

static int worker_init(md_worker_t *mw, void *app, void **data)
{
    md_gateway_t *gw = app;
    if (gw_outbound_start(gw) != MD_OK) /* the first requests find their OAuth2 tokens */
        return MD_ERR;
    gw_worker_t *w = md_calloc(1, sizeof(*w));
    w->gw = gw;
    w->loop = md_worker_loop(mw);
    w->index = md_worker_index(mw);
    w->upstreams = md_calloc(gw->cfg->nupstreams, sizeof(*w->upstreams));
    for (size_t i = 0; i < gw->cfg->nupstreams; i++) {
        w->upstreams[i] = md_upstream_new(w->loop, &gw->cfg->upstreams[i], gw->nworkers);
        if (!w->upstreams[i]) {
            fprintf(stderr, "medley: upstream '%s' cannot be used (invalid header or path bytes)\n",
                    gw->cfg->upstreams[i].name);
            /* A failed init gets no worker_fini: undo what was made. */
            while (i-- > 0)
                md_upstream_free(w->upstreams[i]);
            md_free(w->upstreams);
            md_free(w);
            return MD_ERR;
        }
    }
    gw_tm_worker_init(w, mw);
    gw_cache_worker_init(w);
    gw_guard_worker_init(w);
    gw_auth_worker_init(w);
    *data = w;
    return MD_OK;
}

static void worker_fini(md_worker_t *mw, void *app, void *data)
{
    MD_UNUSED(mw);
    md_gateway_t *gw = app;
    gw_worker_t *w = data;
    gw_auth_worker_fini(w);
    gw_guard_worker_fini(w);
    gw_cache_worker_fini(w);
    gw_tm_worker_fini(w);
    for (size_t i = 0; i < gw->cfg->nupstreams; i++)
        md_upstream_free(w->upstreams[i]);
    md_free(w->upstreams);
    md_free(w);
}

void md_gateway_hooks(md_gateway_t *gw, md_server_hooks_t *hooks)
{
    hooks->handler = handle;
    hooks->app = gw;
    hooks->worker_init = worker_init;
    hooks->worker_fini = worker_fini;
    gw_tm_hooks(gw, hooks);
}
