/*
 * auth.c - the configuration of inbound authentication (config.h): the
 * top-level `auth:` block, which names the providers, and the `auth:` key
 * of an endpoint, which says which provider guards it.
 *
 *   auth:
 *     default: none                  # provider applied to endpoints without `auth:`
 *     providers:
 *       apps:  { type: api_key, header: X-Api-Key, keys: { flow: "${FLOW_KEY}" }, file: /etc/medley/keys }
 *       staff: { type: basic, file: /etc/medley/users, realm: medley }
 *       entra: { type: jwt, issuer: "https://...", audience: [api://medley], algs: [RS256],
 *                jwks_file: /etc/medley/jwks.json, leeway: 60s,
 *                connector: { client_id: ..., resource: api://medley } }   # connector export only
 *       idp:   { type: jwt, ..., jwks_url: "http://idp/keys", jwks_refresh: 1h, jwks_timeout: 5s }
 *   endpoints[].auth: entra | none | { provider: entra, scopes: [Feed.Read], roles: [Admin] }
 *
 * Only the shape of each value is checked here; files (keys, users, JWKS)
 * are read by the gateway when it builds the providers (gateway/auth.c),
 * so a load of the model stays free of I/O (a jwks_url is parsed and
 * resolved like an oauth2 token_url, through md_cfg_http_url; the gateway
 * fetches it). API key values are secrets:
 * no message ever shows one (nor its length), and they are wiped on free.
 */
#include "auth/jwks.h"
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_PROVIDERS 32
#define MAX_KEYS 10000            /* md_apikey's MD_APIKEY_MAX_KEYS */
#define KEY_MIN 16                /* md_apikey's key length bounds */
#define KEY_MAX 256
#define MAX_AUDIENCES 16          /* md_jwt's MD_JWT_MAX_AUDIENCES */
#define MAX_LEEWAY_MS 3600000u    /* md_jwt's MD_JWT_MAX_LEEWAY */
#define MAX_REALM 64
#define MAX_QUERY_NAME 64
#define MAX_SCOPES 16             /* scopes, and roles, per endpoint */
#define MAX_SCOPE_LEN 128
#define DEFAULT_ALGS (MD_JWA_RS256 | MD_JWA_PS256 | MD_JWA_ES256)
#define JWKS_REFRESH_DEFAULT_MS 3600000u  /* jwks_url re-fetched hourly */
#define JWKS_REFRESH_MIN_MS 60000u
#define JWKS_REFRESH_MAX_MS 86400000u
#define JWKS_TIMEOUT_DEFAULT_MS 5000u
#define JWKS_TIMEOUT_MIN_MS 100u
#define JWKS_TIMEOUT_MAX_MS 60000u

static const char *const auth_keys[] = { "default", "providers", NULL };
/* Every provider key; which ones a type takes is in type_keys. jwks_uri
 * (OpenID discovery's spelling) is listed to be refused with a useful
 * message. */
static const char *const provider_keys[] = { "type",     "realm",        "header",       "query",    "keys",
                                             "file",     "issuer",       "audience",     "algs",     "jwks_file",
                                             "jwks_url", "jwks_refresh", "jwks_timeout", "leeway",   "jwks_uri",
                                             "connector", NULL };
static const char *const jwt_connector_keys[] = { "client_id", "resource", NULL };
static const char *const endpoint_keys[] = { "provider", "scopes", "roles", NULL };

static const struct {
    const char *name;
    md_auth_kind_t kind;
    const char *keys;             /* the keys it takes, space-separated with spaces around */
    const char *list;             /* the same for messages */
} types[] = {
    { "api_key", MD_AUTH_API_KEY, " type header query keys file ", "header, query, keys, file" },
    { "basic", MD_AUTH_BASIC, " type file realm ", "file, realm" },
    { "jwt", MD_AUTH_JWT,
      " type realm issuer audience algs jwks_file jwks_url jwks_refresh jwks_timeout leeway connector ",
      "issuer, audience, algs, jwks_file, jwks_url, jwks_refresh, jwks_timeout, leeway, realm, connector" },
};

static const struct {
    const char *name;
    unsigned bit;
} algs[] = {
    { "RS256", MD_JWA_RS256 }, { "RS384", MD_JWA_RS384 }, { "RS512", MD_JWA_RS512 }, { "PS256", MD_JWA_PS256 },
    { "PS384", MD_JWA_PS384 }, { "PS512", MD_JWA_PS512 }, { "ES256", MD_JWA_ES256 }, { "ES384", MD_JWA_ES384 },
};

/* ---- defaults and freeing ------------------------------------------------ */

void md_cfg_auth_defaults(md_config_t *cfg)
{
    cfg->auth.default_provider = -1;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        md_free(v[i]);
    md_free(v);
}

static void free_provider(md_auth_provider_conf_t *p)
{
    md_free(p->name);
    md_free(p->realm);
    md_free(p->header);
    md_free(p->query);
    for (size_t i = 0; p->keys && i < p->nkeys; i++) {
        md_free(p->keys[i].name);
        if (p->keys[i].value)
            explicit_bzero(p->keys[i].value, strlen(p->keys[i].value));
        md_free(p->keys[i].value);
    }
    md_free(p->keys);
    md_free(p->file);
    md_free(p->issuer);
    free_strings(p->audiences, p->naudiences);
    md_free(p->jwks_file);
    if (p->jwks)
        md_cfg_upstream_free(p->jwks);
    md_free(p->jwks);
    md_free(p->connector_client_id);
    md_free(p->connector_resource);
}

void md_cfg_auth_free(md_auth_conf_t *a)
{
    for (size_t i = 0; a->providers && i < a->nproviders; i++)
        free_provider(&a->providers[i]);
    md_free(a->providers);
}

void md_cfg_endpoint_auth_free(md_endpoint_auth_conf_t *a)
{
    free_strings(a->scopes, a->nscopes);
    free_strings(a->roles, a->nroles);
}

/* ---- small checks ------------------------------------------------------- */

static bool is_scalar(const md_cfg_node_t *n, const char *s)
{
    return n->kind == MD_CFG_SCALAR && strcmp(n->str, s) == 0;
}

/* Every byte alphanumeric or in `extra`, 1..max bytes. */
static bool chars_ok(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (!alnum && !strchr(extra, ch))
            return false;
    }
    return true;
}

/* Printable ASCII except '"' and '\': what fits in a quoted-string of
 * WWW-Authenticate without escaping (a realm, a scope). Space only when
 * `space`. */
static bool quotable(const char *s, size_t max, bool space)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || (ch == ' ' && !space))
            return false;
    }
    return true;
}

/* The provider named s, or -1. */
static int find_provider(const md_auth_conf_t *a, const char *s)
{
    for (size_t i = 0; i < a->nproviders; i++)
        if (a->providers[i].name && strcmp(a->providers[i].name, s) == 0)
            return (int)i;
    return -1;
}

/* Resolves a provider reference ("none" is -1) or reports it. */
static int provider_ref(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *key, int *out)
{
    const md_auth_conf_t *a = &c->cfg->auth;
    if (n->kind != MD_CFG_SCALAR || n->len == 0)
        return md_cfg_fail(c, n->line, n->col, "'%s' must be the name of an auth provider, or none", key);
    if (strcmp(n->str, "none") == 0) {
        *out = -1;
        return MD_OK;
    }
    *out = find_provider(a, n->str);
    if (*out >= 0)
        return MD_OK;
    const char *names[MAX_PROVIDERS];
    size_t count = MD_MIN(a->nproviders, (size_t)MAX_PROVIDERS);
    for (size_t i = 0; i < count; i++)
        names[i] = a->providers[i].name;
    char s[MD_CFG_SHOW];
    const char *hint = md_cfg_suggest(n->str, names, count);
    if (hint)
        return md_cfg_fail(c, n->line, n->col, "unknown auth provider '%s' (did you mean '%s'?)",
                           md_cfg_show(s, n->str), hint);
    return md_cfg_fail(c, n->line, n->col, "unknown auth provider '%s' (define it under auth.providers, or "
                       "write none)", md_cfg_show(s, n->str));
}

/* ---- api_key ------------------------------------------------------------- */

/* One configured key. Never shows the value. */
static int api_key_value(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *what, md_kv_t *kv)
{
    char s[MD_CFG_SHOW];
    if (!chars_ok(n->key, MD_CFG_MAX_NAME, "_.-"))
        return md_cfg_fail(c, n->key_line, n->key_col, "api key name '%s' in %s must be 1-%d characters of "
                           "A-Z a-z 0-9 _ . -", md_cfg_show(s, n->key), what, MD_CFG_MAX_NAME);
    kv->name = md_strdup(n->key);
    if (n->kind != MD_CFG_SCALAR)
        return md_cfg_fail(c, n->line, n->col, "api key '%s' must be a string", kv->name);
    if (n->len == 0)
        return md_cfg_fail(c, n->line, n->col, "api key '%s' is empty (is its environment variable set?)",
                           kv->name);
    bool ok = n->len >= KEY_MIN && n->len <= KEY_MAX;
    for (size_t i = 0; ok && i < n->len; i++)
        ok = (unsigned char)n->str[i] > 0x20 && (unsigned char)n->str[i] < 0x7f;
    if (!ok)
        return md_cfg_fail(c, n->line, n->col, "api key '%s' must be %d-%d visible ASCII characters without "
                           "spaces (e.g. from `openssl rand -hex 32`)", kv->name, KEY_MIN, KEY_MAX);
    kv->value = md_strdup(n->str);
    return MD_OK;
}

static int api_keys(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_auth_provider_conf_t *p, const char *what)
{
    if (md_cfg_check_map(c, map, MAX_KEYS, false, "api keys") != MD_OK)
        return MD_EINVAL;
    p->keys = md_calloc(map->count ? map->count : 1, sizeof(md_kv_t));
    p->nkeys = map->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = map->first; n; n = n->next, i++)
        if (api_key_value(c, n, what, &p->keys[i]) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}

static int parse_api_key(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_auth_provider_conf_t *p, const char *what)
{
    const md_cfg_node_t *n, *h = md_cfg_get(map, "header"), *q = md_cfg_get(map, "query");
    if (h && q)
        return md_cfg_fail(c, q->key_line, q->key_col, "%s has both 'header' and 'query' (pick one)", what);
    if (h && (md_cfg_line(c, h, false, MD_CFG_MAX_NAME, &p->header) != MD_OK ||
              !chars_ok(p->header, MD_CFG_MAX_NAME, "!#$%&'*+-.^_`|~")))
        return md_cfg_fail(c, h->line, h->col, "'header' must be an HTTP header name (a token)");
    if (q && (md_cfg_line(c, q, false, MAX_QUERY_NAME, &p->query) != MD_OK ||
              !chars_ok(p->query, MAX_QUERY_NAME, "-._~")))
        return md_cfg_fail(c, q->line, q->col, "'query' must be a parameter name of A-Z a-z 0-9 - . _ ~");
    if (!h && !q)
        p->header = md_strdup("X-Api-Key");
    if ((n = md_cfg_get(map, "keys")) && api_keys(c, n, p, what) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "file")) && md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &p->file) != MD_OK)
        return MD_EINVAL;
    if (!p->file && p->nkeys == 0)
        return md_cfg_fail(c, p->line, p->col, "%s needs 'keys' or 'file' (or both)", what);
    return MD_OK;
}

/* ---- basic ---------------------------------------------------------------- */

static int parse_basic(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_auth_provider_conf_t *p, const char *what)
{
    const md_cfg_node_t *n;
    if (md_cfg_require(c, map, "file", what, &n) != MD_OK)
        return MD_EINVAL;
    return md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &p->file);
}

/* ---- jwt ------------------------------------------------------------------ */

static int parse_audience(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_auth_provider_conf_t *p)
{
    if (n->kind == MD_CFG_SCALAR) {
        p->audiences = md_calloc(1, sizeof(char *));
        p->naudiences = 1;
        return md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &p->audiences[0]);
    }
    if (md_cfg_check_seq(c, n, MAX_AUDIENCES, "audiences") != MD_OK)
        return MD_EINVAL;
    if (n->count == 0)
        return md_cfg_fail(c, n->line, n->col, "'audience' must list at least one value");
    p->audiences = md_calloc(n->count, sizeof(char *));
    p->naudiences = n->count;
    size_t i = 0;
    for (const md_cfg_node_t *e = n->first; e; e = e->next, i++)
        if (md_cfg_line(c, e, false, MD_CFG_MAX_PATH, &p->audiences[i]) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}

static int parse_alg(md_cfg_ctx_t *c, const md_cfg_node_t *n, unsigned *set)
{
    char s[MD_CFG_SHOW];
    for (size_t i = 0; n->kind == MD_CFG_SCALAR && i < MD_ARRAY_LEN(algs); i++) {
        if (strcmp(n->str, algs[i].name) == 0) {
            *set |= algs[i].bit;
            return MD_OK;
        }
    }
    if (n->kind == MD_CFG_SCALAR && (strcasecmp(n->str, "none") == 0 || strncasecmp(n->str, "HS", 2) == 0))
        return md_cfg_fail(c, n->line, n->col, "alg '%s' is never accepted: medley verifies with public keys "
                           "only (none and HMAC tokens could be forged)", md_cfg_show(s, n->str));
    return md_cfg_fail(c, n->line, n->col, "'algs' entries must be RS256, RS384, RS512, PS256, PS384, PS512, "
                       "ES256 or ES384");
}

static int parse_algs(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_auth_provider_conf_t *p)
{
    p->algs = 0;
    if (n->kind == MD_CFG_SCALAR)
        return parse_alg(c, n, &p->algs);
    if (md_cfg_check_seq(c, n, MD_ARRAY_LEN(algs), "algs") != MD_OK)
        return MD_EINVAL;
    if (n->count == 0)
        return md_cfg_fail(c, n->line, n->col, "'algs' must list at least one algorithm");
    for (const md_cfg_node_t *e = n->first; e; e = e->next)
        if (parse_alg(c, e, &p->algs) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}

/* `connector:` of a jwt provider: what the Power Platform connector export
 * writes into its oAuthSettings (src/connector/security.c); serving
 * ignores it. */
static int parse_jwt_connector(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_auth_provider_conf_t *p,
                               const char *what)
{
    char w[MD_CFG_SHOW + 48];
    snprintf(w, sizeof(w), "'connector' of %s", what);
    if (md_cfg_check_keys(c, map, jwt_connector_keys, w) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "client_id")) &&
        (md_cfg_line(c, n, false, MAX_SCOPE_LEN, &p->connector_client_id) != MD_OK ||
         !chars_ok(p->connector_client_id, MAX_SCOPE_LEN, "-._~")))
        return md_cfg_fail(c, n->line, n->col, "'client_id' must be an application (client) id: 1-%d characters "
                           "of A-Z a-z 0-9 - . _ ~", MAX_SCOPE_LEN);
    if ((n = md_cfg_get(map, "resource")) &&
        (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &p->connector_resource) != MD_OK ||
         !quotable(p->connector_resource, MD_CFG_MAX_PATH, false)))
        return md_cfg_fail(c, n->line, n->col, "'resource' must be an application id URI or client id "
                           "(printable ASCII, no spaces, '\"' or '\\')");
    return MD_OK;
}

/* A duration key of a jwks_url provider within [min, max] ms, with its
 * range in words for the message. */
static int jwks_duration(md_cfg_ctx_t *c, const md_cfg_node_t *n, uint32_t min, uint32_t max, const char *range,
                         uint32_t *out)
{
    uint64_t ms = 0;
    if (md_cfg_duration_ms(n, &ms) != MD_OK || ms < min || ms > max)
        return md_cfg_fail(c, n->line, n->col, "'%s' must be a duration between %s", n->key, range);
    *out = (uint32_t)ms;
    return MD_OK;
}

/* jwks_url: the issuer's JWKS fetched by the gateway, an upstream of its
 * own with the caps of a JWKS document (one connection, one call, at most
 * MD_JWKS_MAX_BYTES). */
static int parse_jwks_url(md_cfg_ctx_t *c, const md_cfg_node_t *map, const md_cfg_node_t *url,
                          md_auth_provider_conf_t *p)
{
    md_upstream_conf_t *u = md_calloc(1, sizeof(*u));
    p->jwks = u;
    md_cfg_side_upstream(u, p->name, "jwks", JWKS_TIMEOUT_DEFAULT_MS, MD_JWKS_MAX_BYTES, url);
    p->jwks_refresh_ms = JWKS_REFRESH_DEFAULT_MS;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "jwks_refresh")) &&
        jwks_duration(c, n, JWKS_REFRESH_MIN_MS, JWKS_REFRESH_MAX_MS, "1m and 24h", &p->jwks_refresh_ms) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "jwks_timeout")) &&
        jwks_duration(c, n, JWKS_TIMEOUT_MIN_MS, JWKS_TIMEOUT_MAX_MS, "100ms and 1m", &u->timeout_ms) != MD_OK)
        return MD_EINVAL;
    u->connect_timeout_ms = MD_MIN(u->timeout_ms, 1000u);
    return md_cfg_http_url(c, url, "jwt jwks_url", u);
}

/* Exactly one of jwks_file and jwks_url; jwks_refresh and jwks_timeout
 * only with jwks_url. */
static int parse_jwks_source(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_auth_provider_conf_t *p,
                             const char *what)
{
    const md_cfg_node_t *file = md_cfg_get(map, "jwks_file"), *url = md_cfg_get(map, "jwks_url");
    if (file && url) {
        const md_cfg_node_t *second = url->line > file->line || (url->line == file->line && url->col > file->col)
                                          ? url : file;
        return md_cfg_fail(c, second->key_line, second->key_col, "%s has both 'jwks_file' and 'jwks_url' (pick "
                           "one)", what);
    }
    if (!file && !url)
        return md_cfg_fail(c, map->key_line, map->key_col, "missing required key 'jwks_file' or 'jwks_url' in %s",
                           what);
    if (url)
        return parse_jwks_url(c, map, url, p);
    const md_cfg_node_t *n = md_cfg_get(map, "jwks_refresh");
    if (n || (n = md_cfg_get(map, "jwks_timeout")))
        return md_cfg_fail(c, n->key_line, n->key_col, "'%s' of %s needs 'jwks_url' (a jwks_file is re-read "
                           "when a token names an unknown kid)", n->key, what);
    return md_cfg_line(c, file, false, MD_CFG_MAX_PATH, &p->jwks_file);
}

static int parse_jwt(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_auth_provider_conf_t *p, const char *what)
{
    const md_cfg_node_t *n;
    p->algs = DEFAULT_ALGS;
    p->leeway_s = 60;
    if (md_cfg_require(c, map, "issuer", what, &n) != MD_OK ||
        md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &p->issuer) != MD_OK)
        return MD_EINVAL;
    if (md_cfg_require(c, map, "audience", what, &n) != MD_OK || parse_audience(c, n, p) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "algs")) && parse_algs(c, n, p) != MD_OK)
        return MD_EINVAL;
    if (parse_jwks_source(c, map, p, what) != MD_OK)
        return MD_EINVAL;
    uint32_t ms = 0;
    if ((n = md_cfg_get(map, "leeway"))) {
        bool zero = is_scalar(n, "0") || is_scalar(n, "0s");
        if (!zero && md_cfg_duration(c, n, &ms) != MD_OK)
            return MD_EINVAL;
        if (ms > MAX_LEEWAY_MS)
            return md_cfg_fail(c, n->line, n->col, "'leeway' must be between 0s and 1h");
        p->leeway_s = ms / 1000;
    }
    if ((n = md_cfg_get(map, "connector")))
        return parse_jwt_connector(c, n, p, what);
    return MD_OK;
}

/* ---- providers ------------------------------------------------------------ */

/* Every key must belong to the provider's type. */
static int check_type_keys(md_cfg_ctx_t *c, const md_cfg_node_t *map, size_t t, const char *what)
{
    for (const md_cfg_node_t *n = map->first; n; n = n->next) {
        char word[MD_CFG_MAX_KEY_BYTES + 3];
        if (strcmp(n->key, "jwks_uri") == 0)
            return md_cfg_fail(c, n->key_line, n->key_col, "unknown key 'jwks_uri' in %s: write 'jwks_url' (the "
                               "issuer's JWKS over http) or set 'jwks_file'", what);
        snprintf(word, sizeof(word), " %s ", n->key);
        if (!strstr(types[t].keys, word))
            return md_cfg_fail(c, n->key_line, n->key_col, "'%s' does not apply to %s (a %s provider takes %s)",
                               n->key, what, types[t].name, types[t].list);
    }
    return MD_OK;
}

static int parse_type(md_cfg_ctx_t *c, const md_cfg_node_t *map, const char *what, size_t *t)
{
    const md_cfg_node_t *n;
    if (md_cfg_require(c, map, "type", what, &n) != MD_OK)
        return MD_EINVAL;
    for (size_t i = 0; i < MD_ARRAY_LEN(types); i++) {
        if (is_scalar(n, types[i].name)) {
            *t = i;
            return MD_OK;
        }
    }
    return md_cfg_fail(c, n->line, n->col, "'type' of %s must be api_key, basic or jwt", what);
}

static int parse_provider(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_auth_provider_conf_t *p)
{
    char what[MD_CFG_SHOW + 32], k[MD_CFG_SHOW];
    snprintf(what, sizeof(what), "auth provider '%s'", md_cfg_show(k, map->key));
    p->line = map->key_line;
    p->col = map->key_col;
    if (!chars_ok(map->key, MD_CFG_MAX_NAME, "_.-") || strcmp(map->key, "none") == 0)
        return md_cfg_fail(c, map->key_line, map->key_col, "auth provider name '%s' must be 1-%d characters of "
                           "A-Z a-z 0-9 _ . - (and not none)", k, MD_CFG_MAX_NAME);
    p->name = md_strdup(map->key);
    if (map->null)
        return md_cfg_fail(c, map->key_line, map->key_col, "missing required key 'type' in %s", what);
    size_t t = 0;
    if (md_cfg_check_keys(c, map, provider_keys, what) != MD_OK || parse_type(c, map, what, &t) != MD_OK ||
        check_type_keys(c, map, t, what) != MD_OK)
        return MD_EINVAL;
    p->type = types[t].kind;
    const md_cfg_node_t *n = md_cfg_get(map, "realm");
    if (n && (md_cfg_line(c, n, false, MAX_REALM, &p->realm) != MD_OK || !quotable(p->realm, MAX_REALM, true)))
        return md_cfg_fail(c, n->line, n->col, "'realm' must be 1-%d printable ASCII characters without '\"' "
                           "or '\\'", MAX_REALM);
    if (!p->realm)
        p->realm = md_strdup("medley");
    switch (p->type) {
    case MD_AUTH_API_KEY: return parse_api_key(c, map, p, what);
    case MD_AUTH_BASIC: return parse_basic(c, map, p, what);
    default: return parse_jwt(c, map, p, what);
    }
}

static int parse_providers(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    md_auth_conf_t *a = &c->cfg->auth;
    if (md_cfg_check_map(c, map, MAX_PROVIDERS, false, "auth providers") != MD_OK)
        return MD_EINVAL;
    a->providers = md_calloc(map->count ? map->count : 1, sizeof(md_auth_provider_conf_t));
    a->nproviders = map->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = map->first; n; n = n->next, i++)
        if (parse_provider(c, n, &a->providers[i]) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}

int md_cfg_auth(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    md_auth_conf_t *a = &c->cfg->auth;
    a->line = map->key_line;
    a->col = map->key_col;
    if (md_cfg_check_keys(c, map, auth_keys, "auth") != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "providers")) && parse_providers(c, n) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "default")))
        return provider_ref(c, n, "default", &a->default_provider);
    return MD_OK;
}

/* ---- an endpoint's auth ----------------------------------------------------- */

/* `scopes` or `roles`: RFC 6749 scope-tokens (no space, '"' or '\'). */
static int scope_list(md_cfg_ctx_t *c, const md_cfg_node_t *seq, char ***out, size_t *count)
{
    if (md_cfg_check_seq(c, seq, MAX_SCOPES, seq->key) != MD_OK)
        return MD_EINVAL;
    *out = md_calloc(seq->count ? seq->count : 1, sizeof(char *));
    *count = seq->count;
    size_t i = 0;
    for (const md_cfg_node_t *n = seq->first; n; n = n->next, i++) {
        if (n->kind != MD_CFG_SCALAR || !quotable(n->str, MAX_SCOPE_LEN, false))
            return md_cfg_fail(c, n->line, n->col, "items of '%s' must be 1-%d printable ASCII characters without "
                               "spaces, '\"' or '\\'", seq->key, MAX_SCOPE_LEN);
        (*out)[i] = md_strdup(n->str);
    }
    return MD_OK;
}

static int endpoint_auth_map(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_auth_conf_t *a,
                             const char *ep)
{
    char what[MD_CFG_SHOW + 48];
    snprintf(what, sizeof(what), "the auth of %s", ep);
    const md_cfg_node_t *n;
    if (md_cfg_check_keys(c, map, endpoint_keys, what) != MD_OK ||
        md_cfg_require(c, map, "provider", what, &n) != MD_OK || provider_ref(c, n, "provider", &a->provider) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *sc = md_cfg_get(map, "scopes"), *ro = md_cfg_get(map, "roles");
    const md_cfg_node_t *extra = sc ? sc : ro;
    bool jwt = a->provider >= 0 && c->cfg->auth.providers[a->provider].type == MD_AUTH_JWT;
    if (extra && !jwt)
        return md_cfg_fail(c, extra->key_line, extra->key_col, "'%s' needs a jwt provider (only tokens carry "
                           "scopes and roles)", extra->key);
    if (sc && scope_list(c, sc, &a->scopes, &a->nscopes) != MD_OK)
        return MD_EINVAL;
    if (ro && scope_list(c, ro, &a->roles, &a->nroles) != MD_OK)
        return MD_EINVAL;
    return MD_OK;
}

int md_cfg_endpoint_auth(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_endpoint_conf_t *e, const char *ep)
{
    md_endpoint_auth_conf_t *a = &e->auth;
    a->provider = c->cfg->auth.default_provider;
    if (!n)
        return MD_OK;
    a->line = n->key_line;
    a->col = n->key_col;
    if (n->kind == MD_CFG_MAP)
        return endpoint_auth_map(c, n, a, ep);
    if (n->kind != MD_CFG_SCALAR)
        return md_cfg_fail(c, n->line, n->col, "'auth' of %s must be a provider name, none, or a mapping with "
                           "'provider'", ep);
    return provider_ref(c, n, "auth", &a->provider);
}
