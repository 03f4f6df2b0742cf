/*
 * fuzz_config.c - libFuzzer driver for the configuration loader
 * (config/yaml.c, env.c, schema.c, config.c, endpoint.c).
 *
 * Beyond "no crash, no leak, no sanitizer report" it checks what the rest
 * of medley relies on and aborts when it breaks:
 *   - a failed load fills the diag (file label, message, sane position);
 *   - a loaded config has at least one endpoint, every backend points at
 *     one of the config's upstreams, a passthrough has exactly one backend,
 *     and every path param is required.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_config.c src/config/ *.c src/core/ *.c -lyaml -pthread
 * Seeds: tests/fuzz/corpus/config/.
 * Upstream host names are resolved for real (getaddrinfo), so a mutated
 * name can wait on DNS: run with -timeout=15 or more.
 */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void check_endpoint(const md_config_t *cfg, const md_endpoint_conf_t *e)
{
    CHECK(e->path && e->path[0] == '/' && e->method);
    CHECK(e->nbackends >= 1 && (!e->passthrough || e->nbackends == 1));
    for (size_t j = 0; j < e->nbackends; j++) {
        const md_backend_conf_t *b = &e->backends[j];
        CHECK(b->name && b->path && b->method && b->up);
        CHECK(b->up >= cfg->upstreams && b->up < cfg->upstreams + cfg->nupstreams);
    }
    for (size_t j = 0; j < e->nparams; j++)
        CHECK(e->params[j].in != MD_PARAM_IN_PATH || e->params[j].required);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string((const char *)data, size, "fuzz.yaml", &d);
    if (!cfg) {
        CHECK(strcmp(d.file, "fuzz.yaml") == 0);
        CHECK(d.msg[0] != '\0' && d.line >= 0 && d.col >= 0);
        return 0;
    }
    CHECK(cfg->nendpoints >= 1 && cfg->listen_host);
    for (size_t i = 0; i < cfg->nendpoints; i++)
        check_endpoint(cfg, &cfg->endpoints[i]);
    md_config_free(cfg);
    return 0;
}
