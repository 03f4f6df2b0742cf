/*
 * outbound.c - the config of the credentials medley sends to backends:
 * an upstream's `oauth2:` block (client credentials, enforced by
 * gateway/outbound.c) and a backend's `forward_authorization` flag.
 *
 * Both put an Authorization header on a backend call, so the checks here
 * make sure at most one thing does: an oauth2 upstream takes no static
 * Authorization header and no forwarded one, and a backend that forwards
 * the caller's header configures none of its own. The client secret is
 * copied once, wiped when the config is freed, and never appears in a
 * message. md_cfg_side_upstream, the upstream a credential is fetched
 * from, is here too: auth.c's jwks_url is built the same way.
 */
#include "config/config.h"
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define OAUTH2_DEFAULT_TIMEOUT_MS 5000
#define OAUTH2_MAX_RESPONSE (64u * 1024) /* a token answer is well under 16 KiB */
#define OAUTH2_MAX_ID 1024
#define OAUTH2_MAX_SCOPE 2048

static const char *const oauth2_keys[] = { "token_url", "client_id", "client_secret", "scope", "timeout", NULL };

static bool has_authorization(const md_kv_t *kv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(kv[i].name, "Authorization") == 0)
            return true;
    return false;
}

/* RFC 6749 3.3: scope-tokens of %x21 / %x23-5B / %x5D-7E, one space apart. */
static bool is_scope(const char *s)
{
    bool token = false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == ' ') {
            if (!token || !s[1])
                return false;
            token = false;
            continue;
        }
        if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\')
            return false;
        token = true;
    }
    return token;
}

void md_cfg_side_upstream(md_upstream_conf_t *u, const char *owner, const char *suffix, uint32_t timeout_ms,
                          size_t max_response_bytes, const md_cfg_node_t *at)
{
    char name[MD_CFG_MAX_NAME + 8];
    snprintf(name, sizeof(name), "%s.%s", owner, suffix);
    u->name = md_strdup(name);
    u->timeout_ms = timeout_ms;
    /* The gateway fetches each credential one at a time (gateway/refresh.h),
     * so one connection and no queue beyond that call are all it needs. */
    u->max_connections = 1;
    u->max_queue = 1;
    u->max_response_bytes = max_response_bytes;
    u->line = at->line;
    u->col = at->col;
}

static int parse_token_url(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_upstream_conf_t *u, const char *what)
{
    md_upstream_conf_t *t = &u->oauth2->token;
    const md_cfg_node_t *n;
    md_cfg_side_upstream(t, u->name, "oauth2", OAUTH2_DEFAULT_TIMEOUT_MS, OAUTH2_MAX_RESPONSE, map);
    if ((n = md_cfg_get(map, "timeout")) && md_cfg_duration(c, n, &t->timeout_ms) != MD_OK)
        return MD_EINVAL;
    t->connect_timeout_ms = MD_MIN(t->timeout_ms, 1000u);
    if (md_cfg_require(c, map, "token_url", what, &n) != MD_OK)
        return MD_EINVAL;
    return md_cfg_http_url(c, n, "oauth2 token_url", t);
}

int md_cfg_oauth2(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_upstream_conf_t *u)
{
    char what[MD_CFG_SHOW + 32], k[MD_CFG_SHOW];
    snprintf(what, sizeof(what), "'oauth2' of upstream '%s'", md_cfg_show(k, u->name));
    if (md_cfg_check_keys(c, map, oauth2_keys, what) != MD_OK)
        return MD_EINVAL;
    if (has_authorization(u->headers, u->nheaders))
        return md_cfg_fail(c, map->key_line, map->key_col,
                           "upstream '%s' has both 'oauth2' and an Authorization header (drop one)", k);
    md_oauth2_conf_t *o = md_calloc(1, sizeof(*o));
    u->oauth2 = o;
    o->line = map->key_line;
    o->col = map->key_col;
    if (parse_token_url(c, map, u, what) != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if (md_cfg_require(c, map, "client_id", what, &n) != MD_OK ||
        md_cfg_line(c, n, false, OAUTH2_MAX_ID, &o->client_id) != MD_OK)
        return MD_EINVAL;
    if (md_cfg_require(c, map, "client_secret", what, &n) != MD_OK ||
        md_cfg_line(c, n, false, MD_CFG_MAX_VALUE, &o->client_secret) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "scope"))) {
        if (md_cfg_line(c, n, false, OAUTH2_MAX_SCOPE, &o->scope) != MD_OK)
            return MD_EINVAL;
        if (!is_scope(o->scope))
            return md_cfg_fail(c, n->line, n->col, "'scope' of %s must be scope tokens separated by one space "
                               "(printable ASCII without '\"' and '\\')", what);
    }
    return MD_OK;
}

int md_cfg_forward_authorization(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_backend_conf_t *b,
                                 const char *what)
{
    const md_cfg_node_t *n = md_cfg_get(map, "forward_authorization");
    if (n && md_cfg_bool(c, n, &b->forward_authorization) != MD_OK)
        return MD_EINVAL;
    bool own = has_authorization(b->headers, b->nheaders);
    char s[MD_CFG_SHOW];
    if (b->forward_authorization && own)
        return md_cfg_fail(c, n->line, n->col, "%s has both 'forward_authorization' and an Authorization header "
                           "(drop one)", what);
    if ((b->forward_authorization || own) && b->up->oauth2) {
        const md_cfg_node_t *at = n ? n : map;
        return md_cfg_fail(c, at->line, at->col, "%s sends %s to upstream '%s', which has 'oauth2' (its token "
                           "is the Authorization header)", what,
                           own ? "an Authorization header" : "the caller's Authorization",
                           md_cfg_show(s, b->up->name));
    }
    return MD_OK;
}

static void wipe_free(char *s)
{
    if (s)
        explicit_bzero(s, strlen(s));
    md_free(s);
}

void md_cfg_oauth2_free(md_oauth2_conf_t *o)
{
    if (!o)
        return;
    md_cfg_upstream_free(&o->token);
    md_free(o->client_id);
    wipe_free(o->client_secret);
    md_free(o->scope);
    md_free(o);
}
