/*
 * security.c - the connector's authentication shapes, see security.h.
 *
 * md_conn_auth_from_config() walks the endpoints once to find the single
 * provider they use (and, for jwt, the scopes they require); the writers
 * then emit fixed shapes from it. The texts of the connection parameters
 * (display names, tooltips, tab order) are the ones the maker portal
 * generates, so a re-imported package looks like one made in the portal.
 */
#include "connector/security.h"

#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Endpoints named in the "more than one provider" error; the rest are
 * counted. */
#define MAX_NAMED 4

/* Longest Entra tenant segment taken from an issuer (a GUID is 36). */
#define MAX_TENANT 64

/* Where Power Platform sends the OAuth 2.0 redirect for every connector
 * using the global redirect. */
#define REDIRECT_URL "https://global.consent.azure-apim.net/redirect"

static int fail(const md_config_t *cfg, md_diag_t *diag, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(const md_config_t *cfg, md_diag_t *diag, int line, int col, const char *fmt, ...)
{
    if (!diag)
        return MD_EINVAL;
    snprintf(diag->file, sizeof(diag->file), "%s", cfg->file ? cfg->file : "<config>");
    diag->line = line;
    diag->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
    va_end(ap);
    return MD_EINVAL;
}

static const char *kind_name(md_auth_kind_t t)
{
    return t == MD_AUTH_API_KEY ? "api_key" : t == MD_AUTH_BASIC ? "basic" : "jwt";
}

/* Where an endpoint's auth was decided: its `auth:`, else the endpoint. */
static void auth_pos(const md_endpoint_conf_t *e, int *line, int *col)
{
    *line = e->auth.line ? e->auth.line : e->line;
    *col = e->auth.line ? e->auth.col : e->col;
}

/* The error for endpoints using two providers: names the first endpoint
 * of the connector's provider and up to MAX_NAMED that differ. */
static int mixed_providers(const md_config_t *cfg, size_t first, md_diag_t *diag)
{
    const md_auth_conf_t *a = &cfg->auth;
    int chosen = cfg->endpoints[first].auth.provider;
    char list[320] = "";
    size_t used = 0, named = 0, more = 0, at = 0;
    for (size_t i = first + 1; i < cfg->nendpoints; i++) {
        const md_endpoint_conf_t *e = &cfg->endpoints[i];
        if (e->auth.provider < 0 || e->auth.provider == chosen)
            continue;
        if (named == 0)
            at = i;
        if (named++ >= MAX_NAMED) {
            more++;
            continue;
        }
        const md_auth_provider_conf_t *p = &a->providers[e->auth.provider];
        if (used < sizeof(list))
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s %.40s ('%s', %s)", used ? ", " : "",
                                     e->method, e->path, p->name, kind_name(p->type));
    }
    const md_endpoint_conf_t *f = &cfg->endpoints[first];
    const md_auth_provider_conf_t *fp = &a->providers[chosen];
    int line, col;
    auth_pos(&cfg->endpoints[at], &line, &col);
    char tail[48] = "";
    if (more)
        snprintf(tail, sizeof(tail), " and %zu more", more);
    return fail(cfg, diag, line, col, "a custom connector has exactly one connection authentication, but %s %.40s "
                "uses auth provider '%s' (%s) and %s%s do not; give the exported endpoints one provider (or "
                "auth: none)", f->method, f->path, fp->name, kind_name(fp->type), list, tail);
}

/* Adds e's scopes to a's distinct list. */
static int collect_scopes(const md_config_t *cfg, const md_endpoint_conf_t *e, md_conn_auth_t *a, md_diag_t *diag)
{
    for (size_t s = 0; s < e->auth.nscopes; s++) {
        bool seen = false;
        for (size_t k = 0; k < a->nscopes && !seen; k++)
            seen = strcmp(a->scopes[k], e->auth.scopes[s]) == 0;
        if (seen)
            continue;
        if (a->nscopes == MD_CONN_AUTH_MAX_SCOPES) {
            int line, col;
            auth_pos(e, &line, &col);
            return fail(cfg, diag, line, col, "the connector would request more than %d distinct scopes; a "
                        "connection asks for all of them at once", MD_CONN_AUTH_MAX_SCOPES);
        }
        a->scopes[a->nscopes++] = e->auth.scopes[s];
    }
    return MD_OK;
}

int md_conn_auth_from_config(const md_config_t *cfg, md_conn_auth_t *out, md_diag_t *diag)
{
    memset(out, 0, sizeof(*out));
    out->index = -1;
    size_t first = 0;
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        const md_endpoint_conf_t *e = &cfg->endpoints[i];
        int p = e->auth.provider;
        if (p < 0 || (size_t)p >= cfg->auth.nproviders)
            continue; /* open */
        if (out->index < 0) {
            out->index = p;
            first = i;
        } else if (p != out->index) {
            memset(out, 0, sizeof(*out));
            out->index = -1;
            return mixed_providers(cfg, first, diag);
        }
        if (collect_scopes(cfg, e, out, diag) != MD_OK) {
            memset(out, 0, sizeof(*out));
            out->index = -1;
            return MD_EINVAL;
        }
    }
    if (out->index < 0)
        return MD_OK;
    out->provider = &cfg->auth.providers[out->index];
    switch (out->provider->type) {
    case MD_AUTH_API_KEY: out->kind = MD_CONN_AUTH_API_KEY; break;
    case MD_AUTH_BASIC: out->kind = MD_CONN_AUTH_BASIC; break;
    case MD_AUTH_JWT: out->kind = MD_CONN_AUTH_OAUTH2; break;
    }
    return MD_OK;
}

/* ---- apiDefinition.swagger.json ------------------------------------------ */

static const char *scheme_name(md_conn_auth_kind_t k)
{
    return k == MD_CONN_AUTH_API_KEY ? "api_key" : k == MD_CONN_AUTH_BASIC ? "basic_auth" : "oauth2_auth";
}

void md_conn_auth_write_definitions(const md_conn_auth_t *a, md_jw_t *w)
{
    /* NONE: an empty object and no `security`; the portal then offers "No
     * authentication". */
    md_jw_object(w, "securityDefinitions");
    if (a->kind != MD_CONN_AUTH_NONE) {
        md_jw_object(w, scheme_name(a->kind));
        switch (a->kind) {
        case MD_CONN_AUTH_API_KEY:
            md_jw_string(w, "type", "apiKey");
            md_jw_string(w, "in", a->provider->query ? "query" : "header");
            md_jw_string(w, "name", a->provider->query ? a->provider->query : a->provider->header);
            break;
        case MD_CONN_AUTH_BASIC:
            md_jw_string(w, "type", "basic");
            break;
        default:
            /* What the portal writes for "OAuth 2.0 / Azure Active
             * Directory": the actual sign-in uses the oAuthSettings of
             * apiProperties.json (tenant, resource), not these URLs. */
            md_jw_string(w, "type", "oauth2");
            md_jw_string(w, "flow", "accessCode");
            md_jw_string(w, "authorizationUrl", "https://login.microsoftonline.com/common/oauth2/authorize");
            md_jw_string(w, "tokenUrl", "https://login.windows.net/common/oauth2/authorize");
            md_jw_object(w, "scopes");
            md_jw_end(w);
            break;
        }
        md_jw_end(w);
    }
    md_jw_end(w);
    if (a->kind == MD_CONN_AUTH_NONE)
        return;
    md_jw_array(w, "security");
    md_jw_object(w, NULL);
    md_jw_array(w, scheme_name(a->kind));
    md_jw_end(w);
    md_jw_end(w);
    md_jw_end(w);
}

void md_conn_auth_write_operation(const md_conn_auth_t *a, const md_endpoint_conf_t *e, md_jw_t *w)
{
    /* Swagger 2.0: an empty list overrides the top-level requirement. */
    if (a->kind != MD_CONN_AUTH_NONE && e->auth.provider < 0) {
        md_jw_array(w, "security");
        md_jw_end(w);
    }
}

/* ---- apiProperties.json ---------------------------------------------------- */

/* A securestring parameter with the portal's uiDefinition. */
static void write_secure(md_jw_t *w, const char *key, const char *name, const char *desc, const char *tip, int tab,
                         bool clear)
{
    md_jw_object(w, key);
    md_jw_string(w, "type", "securestring");
    md_jw_object(w, "uiDefinition");
    md_jw_string(w, "displayName", name);
    md_jw_string(w, "description", desc);
    md_jw_string(w, "tooltip", tip);
    md_jw_object(w, "constraints");
    md_jw_int(w, "tabIndex", tab);
    md_jw_bool(w, "clearText", clear);
    md_jw_string(w, "required", "true");
    md_jw_end(w);
    md_jw_end(w);
    md_jw_end(w);
}

/* The Entra tenant of an issuer such as
 * https://login.microsoftonline.com/TENANT/v2.0 or
 * https://sts.windows.net/TENANT/, else "common" (any tenant). */
static void tenant_of(const char *issuer, char *out, size_t outlen)
{
    static const char *const hosts[] = { "https://login.microsoftonline.com/", "https://sts.windows.net/",
                                         "https://login.windows.net/" };
    snprintf(out, outlen, "common");
    for (size_t i = 0; issuer && i < MD_ARRAY_LEN(hosts); i++) {
        size_t hl = strlen(hosts[i]);
        if (strncmp(issuer, hosts[i], hl) != 0)
            continue;
        const char *t = issuer + hl;
        size_t n = strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
        if (n > 0 && n <= MAX_TENANT && n < outlen && (t[n] == '/' || t[n] == '\0'))
            snprintf(out, outlen, "%.*s", (int)n, t);
    }
}

/* A scope as Entra wants it requested: qualified by the resource
 * ("api://medley/Feed.Read"), unless it already is a URI. */
static void write_scope(md_jw_t *w, const char *resource, const char *scope)
{
    if (strstr(scope, "://") || !resource) {
        md_jw_string(w, NULL, scope);
        return;
    }
    char q[2 * 1024 + 256];
    size_t rl = strlen(resource);
    bool slash = rl > 0 && resource[rl - 1] == '/';
    snprintf(q, sizeof(q), "%s%s%s", resource, slash ? "" : "/", scope);
    md_jw_string(w, NULL, q);
}

static void write_custom(md_jw_t *w, const char *key, const char *value)
{
    md_jw_object(w, key);
    md_jw_string(w, "value", value);
    md_jw_end(w);
}

static void write_oauth(const md_conn_auth_t *a, md_jw_t *w)
{
    const md_auth_provider_conf_t *p = a->provider;
    const char *resource = p->connector_resource ? p->connector_resource
                         : p->naudiences ? p->audiences[0] : NULL;
    char tenant[MAX_TENANT + 1];
    tenant_of(p->issuer, tenant, sizeof(tenant));
    md_jw_object(w, "token");
    md_jw_string(w, "type", "oauthSetting");
    md_jw_object(w, "oAuthSettings");
    md_jw_string(w, "identityProvider", "aad");
    md_jw_string(w, "clientId", p->connector_client_id ? p->connector_client_id : MD_CONN_CLIENT_ID_PLACEHOLDER);
    md_jw_array(w, "scopes");
    for (size_t i = 0; i < a->nscopes; i++)
        write_scope(w, resource, a->scopes[i]);
    md_jw_end(w);
    md_jw_string(w, "redirectMode", "Global");
    md_jw_string(w, "redirectUrl", REDIRECT_URL);
    md_jw_object(w, "properties");
    md_jw_string(w, "IsFirstParty", "False");
    md_jw_string(w, "AzureActiveDirectoryResourceId", resource);
    md_jw_end(w);
    md_jw_object(w, "customParameters");
    write_custom(w, "loginUri", "https://login.windows.net");
    write_custom(w, "tenantId", tenant);
    write_custom(w, "resourceUri", resource);
    md_jw_end(w);
    md_jw_end(w);
    md_jw_end(w);
}

void md_conn_auth_write_parameters(const md_conn_auth_t *a, md_jw_t *w)
{
    md_jw_object(w, "connectionParameters");
    switch (a->kind) {
    case MD_CONN_AUTH_NONE:
        break;
    case MD_CONN_AUTH_API_KEY:
        write_secure(w, "api_key", "API Key", "The API Key for this api", "Provide your API Key", 2, false);
        break;
    case MD_CONN_AUTH_BASIC:
        write_secure(w, "username", "username", "The username for this api", "Provide the username", 2, true);
        write_secure(w, "password", "password", "The password for this api", "Provide the password", 3, false);
        break;
    case MD_CONN_AUTH_OAUTH2:
        write_oauth(a, w);
        break;
    }
    md_jw_end(w);
}
