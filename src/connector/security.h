/*
 * security.h - how a connector authenticates to medley: the one place that
 * turns medley's inbound authentication into the connector's
 * `securityDefinitions` (apiDefinition.swagger.json) and
 * `connectionParameters` (apiProperties.json), so both files always agree.
 *
 * medley has no inbound authentication yet, so the only kind is NONE:
 * an empty securityDefinitions, no `security` requirement and no
 * connection parameters. When it gains some (API key in a header or the
 * query, basic, OAuth 2.0 with Entra ID), md_conn_auth_from_config() maps
 * the config to a kind and the two writers emit its shape; nothing else in
 * the exporter changes.
 */
#ifndef MD_CONNECTOR_SECURITY_H
#define MD_CONNECTOR_SECURITY_H

#include "config/config.h"
#include "connector/pretty.h"

typedef enum {
    MD_CONN_AUTH_NONE,          /* anonymous: medley does not check callers */
} md_conn_auth_kind_t;

typedef struct md_conn_auth {
    md_conn_auth_kind_t kind;
} md_conn_auth_t;

/* What the connector must send, from the config. */
void md_conn_auth_from_config(const md_config_t *cfg, md_conn_auth_t *out);

/* Writes "securityDefinitions" (and "security" when callers must
 * authenticate) as members of w's current object. */
void md_conn_auth_write_definitions(const md_conn_auth_t *a, md_jw_t *w);

/* Writes "connectionParameters" as a member of w's current object. */
void md_conn_auth_write_parameters(const md_conn_auth_t *a, md_jw_t *w);

#endif
