/*
 * config.c - loads medley's YAML configuration into md_config_t (config.h):
 * the public entry points, the top level (listen, workers, limits) and the
 * upstreams, whose URLs are parsed and resolved here once at startup, and
 * whose TLS contexts (https://) are built here too, so that an unreadable
 * ca_file or a bad PEM is a config error at its line like any other.
 *
 * A load reads the file (bounded), builds a node tree in a pool (yaml.c),
 * then walks it, filling the heap-owned model. Arrays are sized from the
 * node counts and their lengths set before they are filled, so on any
 * error md_config_free() of the half-built model releases exactly what was
 * allocated. Endpoints are parsed in endpoint.c.
 */
#include "config/config.h"
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"
#include "core/pool.h"
#include "upstream/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HOST 253
#define MAX_WORKERS 256

void md_diag_format(const md_diag_t *d, char *out, size_t outlen)
{
    if (d->line <= 0)
        snprintf(out, outlen, "%s: %s", d->file, d->msg);
    else if (d->col <= 0)
        snprintf(out, outlen, "%s:%d: %s", d->file, d->line, d->msg);
    else
        snprintf(out, outlen, "%s:%d:%d: %s", d->file, d->line, d->col, d->msg);
}

/* ---- freeing ---------------------------------------------------------- */

static void free_kvs(md_kv_t *kv, size_t n)
{
    for (size_t i = 0; kv && i < n; i++) {
        md_free(kv[i].name);
        md_free(kv[i].value);
    }
    md_free(kv);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        md_free(v[i]);
    md_free(v);
}

static void free_backend(md_backend_conf_t *b)
{
    md_cfg_cache_policy_free(&b->cache);
    md_free(b->name);
    md_free(b->upstream);
    md_free(b->method);
    md_free(b->path);
    free_kvs(b->query, b->nquery);
    free_kvs(b->headers, b->nheaders);
    md_free(b->shape.from);
    free_strings(b->shape.select, b->shape.nselect);
    free_strings(b->shape.deny, b->shape.ndeny);
    free_kvs(b->shape.rename, b->shape.nrename);
    md_free(b->shape.sort);
    md_free(b->as);
}

static void free_response(md_response_conf_t *r)
{
    md_free(r->description);
    for (size_t i = 0; r->schema && i < r->nschema; i++) {
        md_free(r->schema[i].path);
        md_free(r->schema[i].title);
        md_free(r->schema[i].description);
        md_free(r->schema[i].format);
    }
    md_free(r->schema);
}

static void free_connector(md_connector_conf_t *k)
{
    md_free(k->title);
    md_free(k->description);
    md_free(k->version);
    md_free(k->contact_name);
    md_free(k->contact_url);
    md_free(k->contact_email);
    md_free(k->website);
    md_free(k->privacy_policy);
    free_strings(k->categories, k->ncategories);
    md_free(k->brand_color);
}

static void free_endpoint(md_endpoint_conf_t *e)
{
    md_free(e->path);
    md_free(e->method);
    md_free(e->summary);
    md_free(e->description);
    md_free(e->operation_id);
    md_free(e->errors_field);
    for (size_t i = 0; e->params && i < e->nparams; i++) {
        md_free(e->params[i].name);
        md_free(e->params[i].pattern);
        md_free(e->params[i].default_value);
        md_free(e->params[i].description);
        md_free(e->params[i].example);
    }
    md_free(e->params);
    free_response(&e->response);
    md_cfg_cache_policy_free(&e->cache);
    md_cfg_endpoint_auth_free(&e->auth);
    md_cfg_endpoint_guard_free(e);
    for (size_t i = 0; e->backends && i < e->nbackends; i++)
        free_backend(&e->backends[i]);
    md_free(e->backends);
}

void md_cfg_upstream_free(md_upstream_conf_t *u)
{
    md_cfg_oauth2_free(u->oauth2);
    md_free(u->name);
    md_free(u->url);
    md_free(u->host);
    md_free(u->base_path);
    md_free(u->host_header);
    free_kvs(u->headers, u->nheaders);
    md_tls_ctx_free(u->tls);
}

void md_config_free(md_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; cfg->upstreams && i < cfg->nupstreams; i++)
        md_cfg_upstream_free(&cfg->upstreams[i]);
    md_free(cfg->upstreams);
    for (size_t i = 0; cfg->endpoints && i < cfg->nendpoints; i++)
        free_endpoint(&cfg->endpoints[i]);
    md_free(cfg->endpoints);
    md_free(cfg->listen_host);
    md_free(cfg->telemetry.admin_host);
    md_free(cfg->telemetry.log_path);
    md_free(cfg->telemetry.otlp_endpoint);
    md_free(cfg->telemetry.otlp_host);
    md_free(cfg->telemetry.otlp_path);
    md_free(cfg->telemetry.service_name);
    md_cfg_cache_global_free(&cfg->cache);
    md_cfg_auth_free(&cfg->auth);
    md_cfg_guard_free(cfg);
    md_free(cfg->public_url);
    md_free(cfg->public_host);
    md_free(cfg->public_base_path);
    free_connector(&cfg->connector);
    md_free(cfg->file);
    md_free(cfg);
}

md_upstream_conf_t *md_config_upstream(const md_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nupstreams; i++)
        if (cfg->upstreams[i].name && strcmp(cfg->upstreams[i].name, name) == 0)
            return &cfg->upstreams[i];
    return NULL;
}

/* ---- listen, workers, limits ------------------------------------------ */

/* A decimal port; 0 only where allow_zero (listen: an ephemeral port). */
bool md_cfg_parse_port(const char *s, uint16_t *port, bool allow_zero)
{
    unsigned v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9' && i < 6; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    if (i == 0 || s[i] || v < (allow_zero ? 0u : 1u) || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool is_host_name(const char *s, size_t n)
{
    if (n == 0 || n > MAX_HOST)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  ch == '-' || ch == '.' || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* Splits "host:port", "[v6]:port" or ":port" (host left empty). For
 * brackets, *host excludes them and *v6 is set. Returns false if malformed. */
bool md_cfg_split_host_port(const char *s, const char **host, size_t *hlen, const char **port, bool *v6)
{
    *v6 = s[0] == '[';
    if (*v6) {
        const char *close = strchr(s, ']');
        if (!close)
            return false;
        *host = s + 1;
        *hlen = (size_t)(close - s - 1);
        char tmp[INET6_ADDRSTRLEN + 1];
        unsigned char bin[sizeof(struct in6_addr)];
        if (*hlen == 0 || *hlen >= sizeof(tmp))
            return false;
        memcpy(tmp, *host, *hlen);
        tmp[*hlen] = '\0';
        if (inet_pton(AF_INET6, tmp, bin) != 1)
            return false;
        *port = close[1] == ':' ? close + 2 : (close[1] ? NULL : close + 1);
        return *port != NULL;
    }
    const char *colon = strchr(s, ':');
    *host = s;
    *hlen = colon ? (size_t)(colon - s) : strlen(s);
    *port = colon ? colon + 1 : s + strlen(s);
    return (*hlen == 0 || is_host_name(s, *hlen)) && (!colon || !strchr(colon + 1, ':'));
}

int md_cfg_listen_addr(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **host_out, uint16_t *port_out)
{
    const char *host = "", *port = NULL;
    size_t hlen = 0;
    bool v6 = false, ok = n->kind == MD_CFG_SCALAR;
    if (ok && strchr(n->str, ':') == NULL && n->str[0] != '[')
        port = n->str;
    else if (ok)
        ok = md_cfg_split_host_port(n->str, &host, &hlen, &port, &v6);
    if (!ok || !port || !md_cfg_parse_port(port, port_out, true))
        return md_cfg_fail(c, n->line, n->col, "'%s' must be host:port with a port 0-65535 (0: any free port), like 0.0.0.0:8080 "
                                               "or [::1]:8080", n->key ? n->key : "listen");
    if (hlen) {
        md_free(*host_out);
        *host_out = md_strndup(host, hlen);
    }
    return MD_OK;
}

/* listen: "host:port", "[::1]:port", ":port" or a bare port. */
static int parse_listen(md_cfg_ctx_t *c, const md_cfg_node_t *n)
{
    return md_cfg_listen_addr(c, n, &c->cfg->listen_host, &c->cfg->listen_port);
}

static int parse_workers(md_cfg_ctx_t *c, const md_cfg_node_t *n)
{
    if (n->kind == MD_CFG_SCALAR && strcmp(n->str, "auto") == 0) {
        c->cfg->workers = 0;
        return MD_OK;
    }
    bool digits = n->kind == MD_CFG_SCALAR && n->len > 0 && n->len <= 3 && strspn(n->str, "0123456789") == n->len;
    int v = digits ? atoi(n->str) : 0;
    if (v < 1 || v > MAX_WORKERS)
        return md_cfg_fail(c, n->line, n->col, "'workers' must be auto or an integer between 1 and %d",
                           MAX_WORKERS);
    c->cfg->workers = v;
    return MD_OK;
}

enum { F_SIZE, F_DURATION, F_COUNT };

static const struct limit_field {
    const char *key;
    int kind;
    size_t off;
    uint32_t min, max;          /* F_COUNT only */
} limit_fields[] = {
    { "max_header_bytes", F_SIZE, offsetof(md_limits_t, max_header_bytes), 0, 0 },
    { "max_headers", F_COUNT, offsetof(md_limits_t, max_headers), 1, 1024 },
    { "max_body_bytes", F_SIZE, offsetof(md_limits_t, max_body_bytes), 0, 0 },
    { "header_timeout", F_DURATION, offsetof(md_limits_t, header_timeout_ms), 0, 0 },
    { "body_timeout", F_DURATION, offsetof(md_limits_t, body_timeout_ms), 0, 0 },
    { "idle_timeout", F_DURATION, offsetof(md_limits_t, idle_timeout_ms), 0, 0 },
    { "max_connections", F_COUNT, offsetof(md_limits_t, max_connections), 1, 1000000 },
    { "max_inflight", F_COUNT, offsetof(md_limits_t, max_inflight), 1, 1000000 },
    { "shutdown_timeout", F_DURATION, offsetof(md_limits_t, shutdown_timeout_ms), 0, 0 },
    { "max_pipelined", F_COUNT, offsetof(md_limits_t, max_pipelined), 1, 1024 },
};

static int parse_limits(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    static const char *const keys[] = { "max_header_bytes", "max_headers", "max_body_bytes", "header_timeout",
                                        "body_timeout", "idle_timeout", "max_connections", "max_inflight",
                                        "shutdown_timeout", "max_pipelined", NULL };
    if (md_cfg_check_keys(c, map, keys, "limits") != MD_OK)
        return MD_EINVAL;
    char *base = (char *)&c->cfg->limits;
    for (size_t i = 0; i < MD_ARRAY_LEN(limit_fields); i++) {
        const struct limit_field *f = &limit_fields[i];
        const md_cfg_node_t *n = md_cfg_get(map, f->key);
        if (!n)
            continue;
        int rc = f->kind == F_SIZE       ? md_cfg_size(c, n, (size_t *)(base + f->off))
                 : f->kind == F_DURATION ? md_cfg_duration(c, n, (uint32_t *)(base + f->off))
                                         : md_cfg_uint(c, n, f->min, f->max, (uint32_t *)(base + f->off));
        if (rc != MD_OK)
            return rc;
    }
    return MD_OK;
}

/* ---- upstreams ----------------------------------------------------------- */

/* Resolves host once, preferring IPv4 (what most backends listen on). */
static int resolve(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_upstream_conf_t *u)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char port[8], h[MD_CFG_SHOW];
    snprintf(port, sizeof(port), "%u", (unsigned)u->port);
    int rc = getaddrinfo(u->host, port, &hints, &res);
    if (rc != 0 || !res)
        return md_cfg_fail(c, n->line, n->col, "cannot resolve upstream host '%s': %s", md_cfg_show(h, u->host),
                           rc ? gai_strerror(rc) : "no address");
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    }
    memcpy(&u->addr, pick->ai_addr, pick->ai_addrlen);
    u->addrlen = pick->ai_addrlen;
    freeaddrinfo(res);
    return MD_OK;
}

static int bad_url(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *what, const char *why)
{
    char s[MD_CFG_SHOW];
    return md_cfg_fail(c, n->line, n->col, "%s '%s' %s", what, md_cfg_show(s, n->str), why);
}

static bool url_is_https(const md_upstream_conf_t *u)
{
    return strncasecmp(u->url, "https://", 8) == 0;
}

/* http[s]://host[:port][/base] into u, without TLS options. */
static int parse_url(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *what, md_upstream_conf_t *u)
{
    if (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &u->url) != MD_OK)
        return MD_EINVAL;
    const char *s = u->url;
    bool tls = url_is_https(u);
    if (!tls && strncasecmp(s, "http://", 7) != 0)
        return bad_url(c, n, what, "must start with http:// or https://");
    s += tls ? 8 : 7;
    if (strpbrk(s, "?#"))
        return bad_url(c, n, what, "must not have a query or fragment");
    size_t alen = strcspn(s, "/");
    if (memchr(s, '@', alen))
        return bad_url(c, n, what, "must not contain user info (user@)");
    if (strchr(s, ' '))
        return bad_url(c, n, what, "must not contain spaces");

    char authority[MAX_HOST + 16];
    if (alen >= sizeof(authority))
        return bad_url(c, n, what, "has a host that is too long");
    memcpy(authority, s, alen);
    authority[alen] = '\0';
    const char *host, *port;
    size_t hlen;
    bool v6;
    if (!md_cfg_split_host_port(authority, &host, &hlen, &port, &v6) || hlen == 0)
        return bad_url(c, n, what, tls ? "must be https://host[:port][/path]" : "must be http://host[:port][/path]");
    uint16_t default_port = tls ? 443 : 80;
    u->port = default_port;
    if (*port && !md_cfg_parse_port(port, &u->port, false))
        return bad_url(c, n, what, "has a bad port (1-65535)");
    u->host = md_strndup(host, hlen);

    char hh[MAX_HOST + 16];
    snprintf(hh, sizeof(hh), v6 ? "[%s]" : "%s", u->host);
    if (u->port != default_port)
        snprintf(hh + strlen(hh), sizeof(hh) - strlen(hh), ":%u", (unsigned)u->port);
    u->host_header = md_strdup(hh);

    const char *path = s + alen;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    u->base_path = md_strndup(path, plen);
    return resolve(c, n, u);
}

/* ---- TLS (https:// upstreams) ---------------------------------------------- */

static const char *const tls_keys[] = { "ca_file", "server_name", "verify", "min_version", "cert_file", "key_file",
                                        NULL };

/* The `tls:` block's values, read before anything is built. */
typedef struct tls_fields {
    const md_cfg_node_t *ca, *sn, *verify, *minv, *cert, *key;
    md_tls_opts_t opts;
} tls_fields_t;

static bool is_server_name(const char *s)
{
    unsigned char bin[sizeof(struct in6_addr)];
    return is_host_name(s, strlen(s)) || inet_pton(AF_INET6, s, bin) == 1;
}

static int tls_read_fields(md_cfg_ctx_t *c, const md_cfg_node_t *map, const char *what, tls_fields_t *f)
{
    if (md_cfg_check_keys(c, map, tls_keys, what) != MD_OK)
        return MD_EINVAL;
    f->ca = md_cfg_get(map, "ca_file");
    f->cert = md_cfg_get(map, "cert_file");
    f->key = md_cfg_get(map, "key_file");
    if ((f->sn = md_cfg_get(map, "server_name"))) {
        if (f->sn->kind != MD_CFG_SCALAR || !is_server_name(f->sn->str))
            return md_cfg_fail(c, f->sn->line, f->sn->col, "%s: 'server_name' must be a host name or an IP "
                               "address", what);
        f->opts.server_name = f->sn->str;
    }
    if ((f->verify = md_cfg_get(map, "verify")) && md_cfg_bool(c, f->verify, &f->opts.verify) != MD_OK)
        return MD_EINVAL;
    if ((f->minv = md_cfg_get(map, "min_version"))) {
        bool v12 = f->minv->kind == MD_CFG_SCALAR && strcmp(f->minv->str, "1.2") == 0;
        bool v13 = f->minv->kind == MD_CFG_SCALAR && strcmp(f->minv->str, "1.3") == 0;
        if (!v12 && !v13)
            return md_cfg_fail(c, f->minv->line, f->minv->col, "%s: 'min_version' must be 1.2 or 1.3", what);
        f->opts.min_version = v13 ? MD_TLS_1_3 : MD_TLS_1_2;
    }
    if (!f->opts.verify && f->ca)
        return md_cfg_fail(c, f->ca->line, f->ca->col, "%s: 'ca_file' is unused with 'verify: false' (drop one)",
                           what);
    if ((f->cert != NULL) != (f->key != NULL)) {
        const md_cfg_node_t *n = f->cert ? f->cert : f->key;
        return md_cfg_fail(c, n->line, n->col, "%s has '%s' without '%s' (a client certificate needs both)",
                           what, f->cert ? "cert_file" : "key_file", f->cert ? "key_file" : "cert_file");
    }
    /* md_cfg_line checks each path is a one-line scalar; the node's own
     * string is what the loaders get. */
    const md_cfg_node_t *files[] = { f->ca, f->cert, f->key };
    for (size_t i = 0; i < MD_ARRAY_LEN(files); i++) {
        char *tmp = NULL;
        if (files[i] && md_cfg_line(c, files[i], false, MD_CFG_MAX_PATH, &tmp) != MD_OK)
            return MD_EINVAL;
        md_free(tmp);
    }
    return MD_OK;
}

/* Builds u->tls from the `tls:` block (map may be NULL: all defaults). */
static int tls_build(md_cfg_ctx_t *c, const md_cfg_node_t *map, const md_cfg_node_t *url, md_upstream_conf_t *u,
                     const char *what)
{
    tls_fields_t f = { .opts = { .name = u->name, .server_name = u->host, .verify = true,
                                 .min_version = MD_TLS_1_2 } };
    if (map && tls_read_fields(c, map, what, &f) != MD_OK)
        return MD_EINVAL;
    char err[400];
    const md_cfg_node_t *at = map ? map : url;
    u->tls = md_tls_ctx_new(&f.opts, err, sizeof(err));
    if (!u->tls)
        return md_cfg_fail(c, at->line, at->col, "%s: %s", what, err);
    if (f.opts.verify && md_tls_ctx_trust(u->tls, f.ca ? f.ca->str : NULL, err, sizeof(err)) != MD_OK) {
        at = f.ca ? f.ca : at;
        return md_cfg_fail(c, at->line, at->col, "%s: %s", what, err);
    }
    bool bad_key = false;
    if (f.cert && md_tls_ctx_client_cert(u->tls, f.cert->str, f.key->str, &bad_key, err, sizeof(err)) != MD_OK) {
        at = bad_key ? f.key : f.cert;
        return md_cfg_fail(c, at->line, at->col, "%s: %s", what, err);
    }
    return MD_OK;
}

/* An upstream's url and its `tls:` block (tls may be NULL). */
static int parse_url_tls(md_cfg_ctx_t *c, const md_cfg_node_t *url, const md_cfg_node_t *tls, md_upstream_conf_t *u,
                         const char *what)
{
    if (parse_url(c, url, "upstream url", u) != MD_OK)
        return MD_EINVAL;
    char s[MD_CFG_SHOW];
    if (tls && !url_is_https(u))
        return md_cfg_fail(c, tls->key_line, tls->key_col, "'tls' of %s needs an https:// url (it is '%s')", what,
                           md_cfg_show(s, u->url));
    if (!url_is_https(u))
        return MD_OK;
    char label[MD_CFG_SHOW + 32];
    snprintf(label, sizeof(label), "'tls' of %s", what);
    return tls_build(c, tls, url, u, label);
}

/* http[s]://host[:port][/base]; `what` names it in messages ("upstream
 * url"). An https URL gets a TLS context with the defaults: the system
 * trust store, the URL's host as server name, TLS 1.2 or newer. */
int md_cfg_http_url(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *what, md_upstream_conf_t *u)
{
    if (parse_url(c, n, what, u) != MD_OK)
        return MD_EINVAL;
    if (!url_is_https(u))
        return MD_OK;
    char label[MD_CFG_SHOW + 64], s[MD_CFG_SHOW];
    snprintf(label, sizeof(label), "%s '%s'", what, md_cfg_show(s, u->url));
    return tls_build(c, NULL, n, u, label);
}

bool md_cfg_is_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MD_CFG_MAX_NAME)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

static int parse_upstream_fields(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_upstream_conf_t *u,
                                 const char *what)
{
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "timeout")) && md_cfg_duration(c, n, &u->timeout_ms) != MD_OK)
        return MD_EINVAL;
    u->connect_timeout_ms = MD_MIN(u->timeout_ms, 1000u);
    if ((n = md_cfg_get(map, "connect_timeout"))) {
        if (md_cfg_duration(c, n, &u->connect_timeout_ms) != MD_OK)
            return MD_EINVAL;
        if (u->connect_timeout_ms > u->timeout_ms)
            return md_cfg_fail(c, n->line, n->col, "'connect_timeout' of %s must not exceed its 'timeout'", what);
    }
    if ((n = md_cfg_get(map, "max_connections")) && md_cfg_uint(c, n, 1, 65536, &u->max_connections) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "max_queue")) && md_cfg_uint(c, n, 0, 1000000, &u->max_queue) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "max_response_bytes")) && md_cfg_size(c, n, &u->max_response_bytes) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "headers")) && md_cfg_kv(c, n, MD_CFG_KV_HEADERS, &u->headers, &u->nheaders) != MD_OK)
        return MD_EINVAL;
    if (md_cfg_require(c, map, "url", what, &n) != MD_OK ||
        parse_url_tls(c, n, md_cfg_get(map, "tls"), u, what) != MD_OK)
        return MD_EINVAL;
    return (n = md_cfg_get(map, "oauth2")) ? md_cfg_oauth2(c, n, u) : MD_OK;
}

static int parse_upstream(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_upstream_conf_t *u)
{
    static const char *const keys[] = { "url", "timeout", "connect_timeout", "max_connections", "max_queue",
                                        "max_response_bytes", "headers", "oauth2", "tls", NULL };
    char what[MD_CFG_SHOW + 16], k[MD_CFG_SHOW];
    snprintf(what, sizeof(what), "upstream '%s'", md_cfg_show(k, map->key));
    u->line = map->key_line;
    u->col = map->key_col;
    u->timeout_ms = 5000;
    u->max_connections = 64;
    u->max_queue = 1024;
    u->max_response_bytes = (size_t)8 << 20;
    if (!md_cfg_is_name(map->key))
        return md_cfg_fail(c, map->key_line, map->key_col,
                           "upstream name '%s' must be 1-%d characters of A-Z a-z 0-9 _ . -", k, MD_CFG_MAX_NAME);
    u->name = md_strdup(map->key);
    if (map->null)
        return md_cfg_fail(c, map->key_line, map->key_col, "missing required key 'url' in %s", what);
    if (md_cfg_check_keys(c, map, keys, what) != MD_OK)
        return MD_EINVAL;
    return parse_upstream_fields(c, map, u, what);
}

static int parse_upstreams(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    md_config_t *cfg = c->cfg;
    if (md_cfg_check_map(c, map, MD_CFG_MAX_UPSTREAMS, false, "upstreams") != MD_OK)
        return MD_EINVAL;
    cfg->upstreams = md_calloc(map->count ? map->count : 1, sizeof(md_upstream_conf_t));
    cfg->nupstreams = map->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = map->first; n; n = n->next, i++)
        if (parse_upstream(c, n, &cfg->upstreams[i]) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}

/* ---- top level ----------------------------------------------------------- */

static void set_defaults(md_config_t *cfg)
{
    cfg->listen_host = md_strdup("0.0.0.0");
    cfg->listen_port = 8080;
    cfg->workers = 0;
    md_cfg_telemetry_defaults(cfg);
    md_cfg_cache_defaults(cfg);
    md_cfg_auth_defaults(cfg);
    cfg->limits = (md_limits_t){
        .max_header_bytes = 16 * 1024,
        .max_headers = 64,
        .max_body_bytes = 1024 * 1024,
        .header_timeout_ms = 10000,
        .body_timeout_ms = 30000,
        .idle_timeout_ms = 60000,
        .max_connections = 4096,
        .max_inflight = 1024,
        .shutdown_timeout_ms = 10000,
        .max_pipelined = 16,
    };
}

static int parse_top(md_cfg_ctx_t *c, const md_cfg_node_t *root)
{
    static const char *const keys[] = { "listen",    "workers", "limits",     "upstreams",     "endpoints",
                                        "public_url", "connector", "admin", "access_log", "server_timing",
                                        "tracing",   "cache",   "cors",       "rate_limits",   "auth",
                                        NULL };
    if (!root || (root->kind == MD_CFG_SCALAR && root->null))
        return md_cfg_fail(c, 1, 1, "the configuration is empty (expected listen, upstreams, endpoints)");
    if (root->kind != MD_CFG_MAP)
        return md_cfg_fail(c, root->line, root->col, "the top level must be a mapping (listen, upstreams, "
                                                     "endpoints...)");
    if (md_cfg_check_keys(c, root, keys, "the top level") != MD_OK)
        return MD_EINVAL;
    /* File order, so the first mistake in the file is the one reported;
     * endpoints last because they refer to upstreams. */
    for (const md_cfg_node_t *n = root->first; n; n = n->next) {
        int rc = MD_OK;
        if (n->null)
            continue;
        if (strcmp(n->key, "listen") == 0)
            rc = parse_listen(c, n);
        else if (strcmp(n->key, "workers") == 0)
            rc = parse_workers(c, n);
        else if (strcmp(n->key, "limits") == 0)
            rc = parse_limits(c, n);
        else if (strcmp(n->key, "upstreams") == 0)
            rc = parse_upstreams(c, n);
        else if (strcmp(n->key, "public_url") == 0)
            rc = md_cfg_public_url(c, n);
        else if (strcmp(n->key, "connector") == 0)
            rc = md_cfg_connector(c, n);
        else if (md_cfg_is_telemetry_key(n->key))
            rc = md_cfg_telemetry(c, n);
        else if (strcmp(n->key, "cache") == 0)
            rc = md_cfg_cache_global(c, n);
        else if (strcmp(n->key, "auth") == 0)
            rc = md_cfg_auth(c, n);
        else if (strcmp(n->key, "cors") == 0)
            rc = md_cfg_cors(c, n);
        else if (strcmp(n->key, "rate_limits") == 0)
            rc = md_cfg_rate_limits(c, n);
        if (rc != MD_OK)
            return rc;
    }
    const md_cfg_node_t *eps;
    if (md_cfg_require(c, root, "endpoints", "the top level", &eps) != MD_OK)
        return MD_EINVAL;
    return md_cfg_endpoints(c, eps);
}

static void diag_start(md_diag_t *d, const char *name)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->file, sizeof(d->file), "%s", name);
}

md_config_t *md_config_load_string(const char *yaml, size_t len, const char *name, md_diag_t *diag)
{
    md_diag_t local;
    if (!diag)
        diag = &local;
    if (!name)
        name = "<string>";
    diag_start(diag, name);
    if (len > MD_CFG_MAX_FILE_BYTES) {
        snprintf(diag->msg, sizeof(diag->msg), "the configuration is larger than %d KiB",
                 MD_CFG_MAX_FILE_BYTES / 1024);
        return NULL;
    }
    md_config_t *cfg = md_calloc(1, sizeof(*cfg));
    cfg->file = md_strdup(name);
    set_defaults(cfg);
    md_cfg_ctx_t ctx = { .diag = diag, .cfg = cfg };
    md_pool_t *pool = md_pool_new(64 * 1024);
    md_cfg_node_t *root = NULL;
    int rc = md_cfg_yaml_parse(yaml ? yaml : "", yaml ? len : 0, pool, diag, &root);
    if (rc == MD_OK)
        rc = parse_top(&ctx, root);
    md_pool_destroy(pool);
    if (rc != MD_OK) {
        md_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Reads at most MD_CFG_MAX_FILE_BYTES + 1 bytes so that an oversized (or
 * growing, or endless like /dev/zero) file is refused without reading it all. */
static char *read_bounded(int fd, size_t *len)
{
    size_t cap = MD_CFG_MAX_FILE_BYTES + 1, n = 0;
    char *buf = md_malloc(cap);
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            md_free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

md_config_t *md_config_load_file(const char *path, md_diag_t *diag)
{
    md_diag_t local;
    if (!diag)
        diag = &local;
    diag_start(diag, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        const char *why = fd >= 0 && S_ISDIR(st.st_mode) ? "it is a directory" : strerror(errno);
        snprintf(diag->msg, sizeof(diag->msg), "cannot read the configuration: %s", why);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    size_t len = 0;
    int err = 0;
    char *text = read_bounded(fd, &len);
    if (!text)
        err = errno;
    close(fd);
    if (!text) {
        snprintf(diag->msg, sizeof(diag->msg), "cannot read the configuration: %s", strerror(err));
        return NULL;
    }
    md_config_t *cfg = md_config_load_string(text, len, path, diag);
    md_free(text);
    return cfg;
}
