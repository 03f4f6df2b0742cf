/*
 * swagger.c - builds the connector's Swagger 2.0 definition, see swagger.h.
 *
 * First every endpoint's operationId is settled and checked for
 * uniqueness (an error names both endpoints), then the document is written
 * top to bottom with the indented writer into a buffer capped at
 * MD_SWAGGER_MAX_BYTES. Response schemas come from schema.c, the security
 * shape from security.c.
 */
#include "connector/swagger.h"

#include "connector/pretty.h"
#include "connector/schema.h"
#include "connector/security.h"
#include "connector/text.h"
#include "core/alloc.h"
#include "core/common.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

typedef char opid_t[MD_CONNECTOR_MAX_OPID + 1];

typedef struct doc {
    const md_config_t *cfg;
    const md_swagger_opts_t *opts;
    md_diag_t *diag;
    opid_t *opids;              /* one per endpoint */
    md_conn_auth_t auth;        /* the connector's authentication */
    md_jw_t w;
} doc_t;

static int fail(doc_t *d, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(doc_t *d, int line, int col, const char *fmt, ...)
{
    snprintf(d->diag->file, sizeof(d->diag->file), "%s", d->cfg->file ? d->cfg->file : "<config>");
    d->diag->line = line;
    d->diag->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->diag->msg, sizeof(d->diag->msg), fmt, ap);
    va_end(ap);
    return MD_EINVAL;
}

int md_swagger_operation_id(const md_endpoint_conf_t *e, char *out, size_t outlen)
{
    if (e->operation_id) {
        if (strlen(e->operation_id) >= outlen)
            return MD_ETOOBIG;
        memcpy(out, e->operation_id, strlen(e->operation_id) + 1);
        return MD_OK;
    }
    return md_connector_operation_id(e->method, e->path, out, outlen);
}

static int settle_operation_ids(doc_t *d)
{
    const md_config_t *cfg = d->cfg;
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        const md_endpoint_conf_t *e = &cfg->endpoints[i];
        if (md_swagger_operation_id(e, d->opids[i], sizeof(d->opids[i])) != MD_OK)
            return fail(d, e->line, e->col, "the operationId derived from %s %.200s is longer than %d characters; "
                        "set 'operation_id'", e->method, e->path, MD_CONNECTOR_MAX_OPID);
        if (e->operation_id && !md_connector_is_pascal(e->operation_id) && d->opts->warn)
            fprintf(d->opts->warn, "%s: operation_id is not PascalCase (Power Platform expects e.g. GetHome)\n",
                    e->operation_id);
        for (size_t j = 0; j < i; j++) {
            const md_endpoint_conf_t *o = &cfg->endpoints[j];
            if (strcasecmp(d->opids[i], d->opids[j]) == 0)
                return fail(d, e->line, e->col, "operationId '%s' of %s %.200s is also the operationId of %s %.200s "
                            "(line %d); set 'operation_id' on one of them", d->opids[i], e->method, e->path,
                            o->method, o->path, o->line);
        }
    }
    return MD_OK;
}

/* ---- info and top level ------------------------------------------------ */

static void write_info(doc_t *d)
{
    const md_connector_conf_t *k = &d->cfg->connector;
    md_jw_t *w = &d->w;
    md_jw_object(w, "info");
    md_jw_string(w, "title", k->title);
    md_jw_string(w, "description", k->description);
    md_jw_string(w, "version", k->version ? k->version : "1.0.0");
    if (k->contact_name || k->contact_url || k->contact_email) {
        md_jw_object(w, "contact");
        md_jw_string(w, "name", k->contact_name);
        md_jw_string(w, "url", k->contact_url);
        md_jw_string(w, "email", k->contact_email);
        md_jw_end(w);
    }
    md_jw_end(w);
}

static void write_metadata_entry(md_jw_t *w, const char *name, const char *value)
{
    md_jw_object(w, NULL);
    md_jw_string(w, "propertyName", name);
    md_jw_string(w, "propertyValue", value);
    md_jw_end(w);
}

static void write_metadata(doc_t *d)
{
    const md_connector_conf_t *k = &d->cfg->connector;
    if (!k->website && !k->privacy_policy && k->ncategories == 0)
        return;
    md_jw_t *w = &d->w;
    md_jw_array(w, "x-ms-connector-metadata");
    if (k->website)
        write_metadata_entry(w, "Website", k->website);
    if (k->privacy_policy)
        write_metadata_entry(w, "Privacy policy", k->privacy_policy);
    if (k->ncategories) {
        char cats[256] = "";
        for (size_t i = 0; i < k->ncategories; i++)
            snprintf(cats + strlen(cats), sizeof(cats) - strlen(cats), "%s%s", i ? ";" : "", k->categories[i]);
        write_metadata_entry(w, "Categories", cats);
    }
    md_jw_end(w);
}

static void write_string_list(md_jw_t *w, const char *key, const char *value)
{
    md_jw_array(w, key);
    md_jw_string(w, NULL, value);
    md_jw_end(w);
}

/* ---- operations -------------------------------------------------------- */

static const char *const param_in[] = { "query", "path", "header" };
static const char *const param_type[] = { "string", "integer", "number", "boolean" };
static const char *const visibility[] = { NULL, "important", "advanced", "internal" };

static void write_param(md_jw_t *w, const md_param_conf_t *p)
{
    char title[160], desc[256];
    md_jw_object(w, NULL);
    md_jw_string(w, "name", p->name);
    md_jw_string(w, "in", param_in[p->in]);
    md_jw_string(w, "type", param_type[p->type]);
    md_jw_bool(w, "required", p->required);
    md_connector_title(p->name, title, sizeof(title));
    md_jw_string(w, "x-ms-summary", title);
    snprintf(desc, sizeof(desc), "Value of the %s %s parameter.", p->name, param_in[p->in]);
    md_jw_string(w, "description", p->description ? p->description : desc);
    md_param_visibility_t vis = p->visibility;
    if (vis == MD_VIS_DEFAULT)
        vis = p->required ? MD_VIS_IMPORTANT : MD_VIS_ADVANCED;
    md_jw_string(w, "x-ms-visibility", visibility[vis]);
    if (p->default_value && p->type == MD_PARAM_STRING)
        md_jw_string(w, "default", p->default_value);
    else if (p->default_value) /* the loader checked it is a JSON number or boolean */
        md_jw_raw(w, "default", p->default_value);
    if (p->type == MD_PARAM_STRING)
        md_jw_int(w, "maxLength", (long long)p->max_length);
    if (p->example && p->type == MD_PARAM_STRING)
        md_jw_string(w, "x-ms-test-value", p->example);
    else if (p->example)
        md_jw_raw(w, "x-ms-test-value", p->example);
    md_jw_end(w);
}

/* medley's own error body, {"error":{"status","code","message",...}}, as
 * definitions.Error: written once, referred to by every error response. */
static void write_error_definition(md_jw_t *w)
{
    static const char *const fields[][4] = {
        { "status", "integer", "Status", "HTTP status of the error." },
        { "code", "string", "Code", "Machine-readable error code, such as invalid_param or backend_failed." },
        { "message", "string", "Message", "What went wrong, in words." },
        { "param", "string", "Parameter", "The parameter that failed its check (invalid_param only)." },
        { "backend", "string", "Backend", "The backend that failed (backend errors only)." },
        { "reason", "string", "Reason", "Why the backend failed, such as timeout or status." },
    };
    md_jw_object(w, "Error");
    md_jw_string(w, "type", "object");
    md_jw_object(w, "properties");
    md_jw_object(w, "error");
    md_jw_string(w, "type", "object");
    md_jw_string(w, "x-ms-summary", "Error");
    md_jw_string(w, "description", "The error medley reports.");
    md_jw_object(w, "properties");
    for (size_t i = 0; i < MD_ARRAY_LEN(fields); i++) {
        md_jw_object(w, fields[i][0]);
        md_jw_string(w, "type", fields[i][1]);
        md_jw_string(w, "x-ms-summary", fields[i][2]);
        md_jw_string(w, "description", fields[i][3]);
        md_jw_end(w);
    }
    md_jw_end(w);
    md_jw_end(w);
    md_jw_end(w);
    md_jw_end(w);
}

static void write_error_response(md_jw_t *w, const char *status, const char *desc, bool schema)
{
    md_jw_object(w, status);
    md_jw_string(w, "description", desc);
    if (schema) {
        md_jw_object(w, "schema");
        md_jw_string(w, "$ref", "#/definitions/Error");
        md_jw_end(w);
    }
    md_jw_end(w);
}

static void write_responses(doc_t *d, size_t i)
{
    const md_endpoint_conf_t *e = &d->cfg->endpoints[i];
    md_jw_t *w = &d->w;
    const md_swagger_sample_t *s = d->opts->samples ? &d->opts->samples[i] : NULL;
    md_jw_object(w, "responses");
    md_jw_object(w, "200");
    md_jw_string(w, "description", e->response.description ? e->response.description
                                   : e->passthrough ? "The upstream's answer, unchanged."
                                                    : "The shaped and merged answer of the backends.");
    bool written;
    md_connector_response_schema(w, e, d->opids[i], s ? s->body : NULL, s ? s->len : 0, d->opts->warn, &written);
    md_jw_end(w);
    write_error_response(w, "400", "A parameter is missing or invalid, or the request is malformed.", true);
    write_error_response(w, "404", e->passthrough ? "Not found: medley's own error, or the upstream's 404 passed "
                                                    "through." : "No endpoint matches the path.", !e->passthrough);
    write_error_response(w, "502", "A required backend failed.", true);
    write_error_response(w, "504", "A required backend timed out.", true);
    md_jw_object(w, "default");
    md_jw_string(w, "description", "An unexpected error.");
    md_jw_end(w);
    md_jw_end(w);
}

/* A sentence: trimmed, ending in '.', '!' or '?'. */
static void sentence(const char *text, char *out, size_t outlen)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    bool ends = n > 0 && strchr(".!?", text[n - 1]);
    snprintf(out, outlen, "%.*s%s", (int)MD_MIN(n, outlen - 2), text, ends ? "" : ".");
}

static void generated_description(const md_endpoint_conf_t *e, char *out, size_t len)
{
    if (e->passthrough) {
        snprintf(out, len, "Returns the answer of the %s upstream unchanged.", e->backends[0].upstream);
        return;
    }
    if (e->nbackends == 1) {
        snprintf(out, len, "Calls the %s backend and returns its shaped answer.", e->backends[0].name);
        return;
    }
    if (e->nbackends > 6) {
        snprintf(out, len, "Calls %zu backends at once and returns their answers in one JSON document.",
                 e->nbackends);
        return;
    }
    size_t used = (size_t)snprintf(out, len, "Calls the ");
    for (size_t i = 0; i < e->nbackends && used < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == e->nbackends ? " and " : ", ";
        used += (size_t)snprintf(out + used, len - used, "%s%s", sep, e->backends[i].name);
    }
    if (used < len)
        snprintf(out + used, len - used, " backends at once and returns their answers in one JSON document.");
}

/* Whether a and b are the same words, ignoring case and a final '.'. */
static bool same_text(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    la -= la && a[la - 1] == '.';
    lb -= lb && b[lb - 1] == '.';
    return la == lb && strncasecmp(a, b, la) == 0;
}

static void write_operation(doc_t *d, size_t i)
{
    const md_endpoint_conf_t *e = &d->cfg->endpoints[i];
    md_jw_t *w = &d->w;
    char method[8], summary[MD_CONNECTOR_SUMMARY_BUF], desc[1024];
    size_t m = 0;
    for (; e->method[m] && m + 1 < sizeof(method); m++)
        method[m] = (char)tolower((unsigned char)e->method[m]);
    method[m] = '\0';
    if (!e->summary || md_connector_summary(e->summary, summary, sizeof(summary)) == 0)
        md_connector_path_summary(e->method, e->path, summary, sizeof(summary));
    if (e->description)
        sentence(e->description, desc, sizeof(desc));
    if (!e->description || !desc[0] || desc[0] == '.' || same_text(desc, summary))
        generated_description(e, desc, sizeof(desc));

    md_jw_object(w, method);
    md_jw_string(w, "operationId", d->opids[i]);
    md_jw_string(w, "summary", summary);
    md_jw_string(w, "description", desc);
    if (e->nparams) {
        md_jw_array(w, "parameters");
        for (size_t p = 0; p < e->nparams; p++)
            write_param(w, &e->params[p]);
        md_jw_end(w);
    }
    md_conn_auth_write_operation(&d->auth, e, w);
    write_responses(d, i);
    md_jw_end(w);
}

static void write_paths(doc_t *d)
{
    const md_config_t *cfg = d->cfg;
    md_jw_object(&d->w, "paths");
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        bool seen = false; /* quadratic, bounded by MD_CFG_MAX_ENDPOINTS */
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(cfg->endpoints[j].path, cfg->endpoints[i].path) == 0;
        if (seen)
            continue;
        md_jw_object(&d->w, cfg->endpoints[i].path);
        for (size_t j = i; j < cfg->nendpoints; j++)
            if (strcmp(cfg->endpoints[j].path, cfg->endpoints[i].path) == 0)
                write_operation(d, j);
        md_jw_end(&d->w);
    }
    md_jw_end(&d->w);
}

static void write_document(doc_t *d)
{
    const md_config_t *cfg = d->cfg;
    md_jw_t *w = &d->w;
    md_jw_object(w, NULL);
    md_jw_string(w, "swagger", "2.0");
    write_info(d);
    md_jw_string(w, "host", cfg->public_host);
    md_jw_string(w, "basePath", cfg->public_base_path);
    write_string_list(w, "schemes", "https");
    write_string_list(w, "consumes", "application/json");
    write_string_list(w, "produces", "application/json");
    write_paths(d);
    md_jw_object(w, "definitions");
    write_error_definition(w);
    md_jw_end(w);
    md_jw_object(w, "parameters");
    md_jw_end(w);
    md_jw_object(w, "responses");
    md_jw_end(w);
    md_conn_auth_write_definitions(&d->auth, w);
    write_metadata(d);
    md_jw_end(w);
}

static int check_required(doc_t *d)
{
    const md_config_t *cfg = d->cfg;
    const md_connector_conf_t *k = &cfg->connector;
    if (!cfg->public_url)
        return fail(d, 0, 0, "'public_url' is required to export a connector (https://host[:port][/base])");
    int line = k->line ? k->line : cfg->public_url_line, col = k->line ? k->col : cfg->public_url_col;
    if (!k->title)
        return fail(d, line, col, "'connector.title' is required to export a connector");
    if (!k->description)
        return fail(d, line, col, "'connector.description' is required to export a connector");
    return MD_OK;
}

int md_swagger_build(const md_config_t *cfg, const md_swagger_opts_t *opts, md_buf_t *out, md_diag_t *diag)
{
    static const md_swagger_opts_t none = { NULL, NULL };
    md_diag_t local;
    doc_t d = { .cfg = cfg, .opts = opts ? opts : &none, .diag = diag ? diag : &local };
    memset(d.diag, 0, sizeof(*d.diag));
    md_buf_init(out, MD_SWAGGER_MAX_BYTES);
    if (check_required(&d) != MD_OK)
        return MD_EINVAL;
    d.opids = md_calloc(cfg->nendpoints ? cfg->nendpoints : 1, sizeof(opid_t));
    int rc = settle_operation_ids(&d);
    if (rc == MD_OK)
        rc = md_conn_auth_from_config(cfg, &d.auth, d.diag);
    if (rc == MD_OK) {
        md_jw_init(&d.w, out);
        write_document(&d);
        if (md_jw_finish(&d.w) != MD_OK) {
            fail(&d, 0, 0, "the connector definition is larger than %d KiB (Microsoft's limit is 1 MB)",
                 MD_SWAGGER_MAX_BYTES / 1024);
            rc = MD_ETOOBIG;
        }
    }
    md_free(d.opids);
    return rc;
}
