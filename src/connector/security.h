/*
 * security.h - how a connector authenticates to medley: the one place that
 * turns medley's inbound authentication (the `auth:` providers, see
 * docs/security.md) into the connector's `securityDefinitions` and
 * `security` (apiDefinition.swagger.json) and `connectionParameters`
 * (apiProperties.json), so both files always agree.
 *
 * A custom connector has exactly one kind of connection authentication,
 * so the connector's provider is the one provider its protected endpoints
 * use; a config whose endpoints use two providers cannot be exported (the
 * error names them). Endpoints with `auth: none` in a connector that
 * authenticates get `security: []` on their operation.
 *
 *   provider   securityDefinitions                   connectionParameters
 *   none       {}                                    {}
 *   api_key    api_key: apiKey, in header|query      api_key: securestring
 *   basic      basic_auth: basic                     username, password: securestring
 *   jwt        oauth2_auth: oauth2 accessCode        token: oauthSetting, identityProvider aad
 *              (Microsoft Entra ID)                  (clientId, resource, tenant, scopes)
 *
 * The shapes are those the maker portal itself writes for each kind (and
 * Microsoft's PowerPlatformConnectors schemas accept).
 */
#ifndef MD_CONNECTOR_SECURITY_H
#define MD_CONNECTOR_SECURITY_H

#include <stddef.h>

#include "config/config.h"
#include "connector/pretty.h"

/* Distinct endpoint scopes a jwt connector requests; more is an error. */
#define MD_CONN_AUTH_MAX_SCOPES 32

/* The oAuthSettings clientId written when the jwt provider has no
 * `connector.client_id`: the maker replaces it (lint warns until then). */
#define MD_CONN_CLIENT_ID_PLACEHOLDER "[[REPLACE with your app client id]]"

typedef enum {
    MD_CONN_AUTH_NONE,          /* anonymous: medley does not check callers */
    MD_CONN_AUTH_API_KEY,       /* an api_key provider */
    MD_CONN_AUTH_BASIC,         /* a basic provider */
    MD_CONN_AUTH_OAUTH2,        /* a jwt provider, as OAuth 2.0 with Microsoft Entra ID */
} md_conn_auth_kind_t;

/* The connector's authentication. Points into the config it came from. */
typedef struct md_conn_auth {
    md_conn_auth_kind_t kind;
    const md_auth_provider_conf_t *provider; /* NULL for NONE */
    int index;                               /* provider's index in cfg->auth.providers; -1 for NONE */
    const char *scopes[MD_CONN_AUTH_MAX_SCOPES]; /* OAUTH2: distinct endpoint scopes, config order */
    size_t nscopes;
} md_conn_auth_t;

/* Settles the connector's authentication from the config. MD_OK, or
 * MD_EINVAL with FILE:LINE:COL in diag (may be NULL) when endpoints use
 * more than one provider, or a jwt connector needs more than
 * MD_CONN_AUTH_MAX_SCOPES scopes. *out is NONE on error. */
int md_conn_auth_from_config(const md_config_t *cfg, md_conn_auth_t *out, md_diag_t *diag);

/* Writes "securityDefinitions" and, when callers must authenticate,
 * "security" as members of w's current object (the document). */
void md_conn_auth_write_definitions(const md_conn_auth_t *a, md_jw_t *w);

/* Writes "security": [] as a member of w's current object (endpoint e's
 * operation) when e is open in a connector that authenticates; else
 * nothing. */
void md_conn_auth_write_operation(const md_conn_auth_t *a, const md_endpoint_conf_t *e, md_jw_t *w);

/* Writes "connectionParameters" as a member of w's current object. */
void md_conn_auth_write_parameters(const md_conn_auth_t *a, md_jw_t *w);

#endif
