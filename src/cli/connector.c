/*
 * connector.c - `medley connector export` and `medley connector lint`,
 * the command line of the Power Platform connector (src/connector/).
 *
 * export: load and compile the config (the same checks as `check`), call
 * each GET endpoint once when --sample, build the Swagger definition and
 * write the package folder. Warnings (untyped properties, endpoints not
 * sampled) go to stderr, one per line, prefixed "warning: ". lint: the
 * offline check of a package folder (connector/lint.h). Exit codes: 0
 * success, 1 an error (or lint errors), 2 a usage error.
 */
#include "cli/cli.h"

#include "config/config.h"
#include "connector/lint.h"
#include "connector/package.h"
#include "connector/sample.h"
#include "connector/swagger.h"
#include "core/common.h"
#include "gateway/gateway.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct export_opts {
    const char *config;
    const char *out;
    bool sample;
    bool force;
} export_opts_t;

static void connector_usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  medley connector export -c FILE --out DIR [--sample] [--force]\n"
               "      write a Power Platform custom connector package for FILE into DIR:\n"
               "      apiDefinition.swagger.json, apiProperties.json, icon.png.\n"
               "      --sample  call each GET endpoint once with its params' examples and type\n"
               "                the response schemas from the answers\n"
               "      --force   overwrite the package files in a DIR that is not empty\n"
               "  medley connector lint DIR\n"
               "      check a package offline; findings as PATH: RULE: SEVERITY: MESSAGE,\n"
               "      exit 1 when there are errors\n"
               "Docs: docs/connector.md, docs/config.md (Connector)\n");
}

/* 0 to go on, else the exit code (help printed: 0 via *done). */
static int parse_export(int argc, char **argv, export_opts_t *o, bool *done)
{
    memset(o, 0, sizeof(*o));
    *done = false;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && v) {
            o->config = v;
            i++;
        } else if (!strcmp(a, "--out") && v) {
            o->out = v;
            i++;
        } else if (!strcmp(a, "--sample")) {
            o->sample = true;
        } else if (!strcmp(a, "--force")) {
            o->force = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            connector_usage(stdout);
            *done = true;
            return 0;
        } else {
            fprintf(stderr, "medley connector export: unknown or incomplete option '%s'\n", a);
            return 2;
        }
    }
    if (!o->config || !o->out) {
        fprintf(stderr, "medley connector export: -c FILE and --out DIR are required\n");
        return 2;
    }
    return 0;
}

static void print_diag(const md_diag_t *d)
{
    char line[1024];
    md_diag_format(d, line, sizeof(line));
    fprintf(stderr, "%s\n", line);
}

/* Prints collected warning lines to stderr, each prefixed. */
static void flush_warnings(char *text, size_t len)
{
    for (char *line = text; line && line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        fprintf(stderr, "warning: %.*s\n", (int)n, line);
        line += n + 1;
    }
}

/* Compiles cfg as `run` would, so export refuses what `run` refuses. */
static int validate(const md_config_t *cfg)
{
    md_diag_t diag = { 0 };
    md_gateway_t *gw = md_gateway_new(cfg, 1, &diag);
    if (!gw) {
        print_diag(&diag);
        return 1;
    }
    md_gateway_free(gw);
    return 0;
}

static int build_and_write(const md_config_t *cfg, const export_opts_t *o, FILE *warn)
{
    md_swagger_sample_t *samples = NULL;
    char err[512];
    if (o->sample && md_connector_sample(cfg, &samples, warn, err, sizeof(err)) != MD_OK) {
        fprintf(stderr, "medley connector export: cannot sample: %s\n", err);
        md_connector_samples_free(samples, cfg->nendpoints);
        return 1;
    }
    md_swagger_opts_t opts = { samples, warn };
    md_diag_t diag = { 0 };
    md_buf_t def;
    int rc = 0;
    if (md_swagger_build(cfg, &opts, &def, &diag) != MD_OK) {
        print_diag(&diag);
        rc = 1;
    } else if (md_connector_package(o->out, cfg, &def, o->force, err, sizeof(err)) != MD_OK) {
        fprintf(stderr, "medley connector export: %s\n", err);
        rc = 1;
    } else {
        printf("%s: wrote apiDefinition.swagger.json (%zu operations), apiProperties.json, icon.png\n", o->out,
               cfg->nendpoints);
    }
    md_buf_free(&def);
    md_connector_samples_free(samples, cfg->nendpoints);
    return rc;
}

static int cmd_export(int argc, char **argv)
{
    export_opts_t o;
    bool done;
    int rc = parse_export(argc, argv, &o, &done);
    if (rc || done)
        return rc;
    signal(SIGPIPE, SIG_IGN); /* --sample talks to sockets */
    md_diag_t diag = { 0 };
    md_config_t *cfg = md_config_load_file(o.config, &diag);
    if (!cfg) {
        print_diag(&diag);
        return 1;
    }
    rc = validate(cfg);
    if (rc == 0) {
        char *text = NULL;
        size_t len = 0;
        FILE *warn = open_memstream(&text, &len);
        rc = build_and_write(cfg, &o, warn ? warn : stderr);
        if (warn) {
            fclose(warn);
            flush_warnings(text, len);
        }
        free(text);
    }
    md_config_free(cfg);
    return rc;
}

static int cmd_lint(int argc, char **argv)
{
    if (argc != 4 || argv[3][0] == '-') {
        if (argc == 4 && (!strcmp(argv[3], "--help") || !strcmp(argv[3], "-h"))) {
            connector_usage(stdout);
            return 0;
        }
        fprintf(stderr, "medley connector lint: exactly one package directory is expected\n");
        return 2;
    }
    md_lint_counts_t counts = { 0, 0 };
    int errors = md_connector_lint_ex(argv[3], stdout, &counts);
    if (errors < 0)
        return 2;
    fflush(stdout);
    fprintf(stderr, "%s: %u errors, %u warnings\n", argv[3], counts.errors, counts.warnings);
    return errors > 0 ? 1 : 0;
}

int md_cli_connector(int argc, char **argv)
{
    const char *sub = argc > 2 ? argv[2] : NULL;
    if (sub && !strcmp(sub, "export"))
        return cmd_export(argc, argv);
    if (sub && !strcmp(sub, "lint"))
        return cmd_lint(argc, argv);
    if (sub && (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help"))) {
        connector_usage(stdout);
        return 0;
    }
    if (sub)
        fprintf(stderr, "medley connector: unknown command '%s'\n\n", sub);
    connector_usage(stderr);
    return 2;
}
