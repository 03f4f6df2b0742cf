/*
 * sample.h - `medley connector export --sample`: one real answer per
 * endpoint, so the exported schema can type the fields it returns.
 *
 * The answers come from medley itself: the config is compiled into a
 * gateway served by a one-worker server on 127.0.0.1 (an ephemeral port,
 * in this process), and each GET endpoint is called once over HTTP with
 * its params' `example` values (path segments and query values
 * percent-encoded, header params as headers). The sample is therefore
 * exactly what a client gets: backends called through medley's upstream
 * client, shaped, merged. Only GET endpoints are called (others could
 * change data); an endpoint with a required param that has no example, or
 * that does not answer 200, is skipped with a warning.
 */
#ifndef MD_CONNECTOR_SAMPLE_H
#define MD_CONNECTOR_SAMPLE_H

#include <stdio.h>

#include "config/config.h"
#include "connector/swagger.h"

/* Largest sampled answer kept. */
#define MD_SAMPLE_MAX_BYTES (8u * 1024 * 1024)

/* Samples every endpoint of cfg; *out gets cfg->nendpoints entries (body
 * NULL where there is no sample), freed with md_connector_samples_free.
 * Warnings name the endpoint and go to `warn` (may be NULL). MD_OK, or
 * MD_ERR with a message in err when medley itself cannot be started (a
 * config the gateway refuses, no loopback socket). */
int md_connector_sample(const md_config_t *cfg, md_swagger_sample_t **out, FILE *warn, char *err, size_t errlen);

/* Frees what md_connector_sample returned (n entries). NULL is ignored. */
void md_connector_samples_free(md_swagger_sample_t *samples, size_t n);

#endif
