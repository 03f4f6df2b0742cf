/*
 * swagger.h - the Swagger 2.0 (OpenAPI 2) definition of a medley config,
 * as a Power Platform custom connector reads it: the
 * apiDefinition.swagger.json of `medley connector export`, and the body of
 * GET /openapi.json.
 *
 * The document has: swagger "2.0"; info (title, description, version,
 * contact) from `connector:`; host, basePath and schemes [https] from
 * `public_url`; consumes/produces application/json; one operation per
 * endpoint (operationId, summary, description, parameters, responses: 200
 * with the shaped output's schema (schema.h), 400/404/502/504 referring to
 * medley's error schema in definitions.Error, `default` with a description
 * and no schema; `security: []` when the endpoint is open in a connector
 * that authenticates);
 * x-ms-connector-metadata (Website, Privacy policy, Categories); and the
 * security shape of security.h. Endpoints sharing a path share its path
 * item, in config order.
 *
 * The output is deterministic: the same config (and samples) always gives
 * the same bytes, so /openapi.json equals an export without --sample.
 */
#ifndef MD_CONNECTOR_SWAGGER_H
#define MD_CONNECTOR_SWAGGER_H

#include <stdio.h>

#include "config/config.h"
#include "core/buf.h"

/* Microsoft refuses connector definitions over 1 MB. */
#define MD_SWAGGER_MAX_BYTES (1024 * 1024)

/* One endpoint's sampled answer (body NULL: none). */
typedef struct md_swagger_sample {
    char *body;
    size_t len;
} md_swagger_sample_t;

typedef struct md_swagger_opts {
    const md_swagger_sample_t *samples; /* cfg->nendpoints entries, or NULL */
    FILE *warn;                         /* warnings (untyped properties...) or NULL */
} md_swagger_opts_t;

/* The operationId of endpoint e: its `operation_id`, else the one derived
 * from method and path (text.h). MD_OK or MD_ETOOBIG (derived id too
 * long); out holds MD_CONNECTOR_MAX_OPID + 1 bytes or more. */
int md_swagger_operation_id(const md_endpoint_conf_t *e, char *out, size_t outlen);

/* Builds the definition into *out, which this initializes (the caller
 * frees it with md_buf_free, also on error). opts may be NULL. Errors, as
 * FILE:LINE:COL in diag: no public_url; no connector title or
 * description; an operationId that is too long, or shared by two
 * endpoints (compared without case); endpoints guarded by two different
 * auth providers (security.h); a document over
 * MD_SWAGGER_MAX_BYTES. Returns MD_OK, MD_EINVAL or MD_ETOOBIG. */
int md_swagger_build(const md_config_t *cfg, const md_swagger_opts_t *opts, md_buf_t *out, md_diag_t *diag);

#endif
