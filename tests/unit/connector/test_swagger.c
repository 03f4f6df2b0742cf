/*
 * Unit tests for connector/swagger and connector/schema: the Swagger 2.0
 * document built from a config, read back with medley's own JSON scanner.
 * Covers the top level, operations and parameters, the 200 schema for
 * each form a shape can take (list, object, nested select, rename, `as`
 * nesting, root merge, no shape, deny, errors_field), samples, overrides,
 * passthrough endpoints, the warnings, and every error (duplicate
 * operationIds, missing keys, the size cap). Expected values come from
 * swagger.h / schema.h and Power Platform's rules, not from the output.
 */
#include "testutil.h"

#include "config/config.h"
#include "connector/swagger.h"
#include "core/common.h"
#include "json/scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define HEAD                                                                                     \
    "public_url: https://medley.contoso.example:8443/feed/\n"                                    \
    "connector:\n"                                                                               \
    "  title: Contoso Home Feed\n"                                                               \
    "  description: One call for the home screen of the Contoso employee app.\n"                 \
    "upstreams:\n"                                                                               \
    "  news: { url: \"http://127.0.0.1:9001\" }\n"                                               \
    "  hr: { url: \"http://127.0.0.1:9002\" }\n"                                                 \
    "endpoints:\n"

/* A built document and its tokens. */
typedef struct doc {
    md_config_t *cfg;
    md_buf_t buf;
    md_json_toks_t toks;
    uint32_t root;
    char *warnings;
    size_t warnings_len;
} doc_t;

static md_config_t *load(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "s.yaml", &d);
    if (!cfg)
        fail_msg("config did not load: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

/* Builds yaml's document (with samples when given) and scans it. */
static void build(doc_t *d, const char *yaml, const md_swagger_sample_t *samples)
{
    memset(d, 0, sizeof(*d));
    d->cfg = load(yaml);
    FILE *warn = open_memstream(&d->warnings, &d->warnings_len);
    md_swagger_opts_t opts = { samples, warn };
    md_diag_t diag;
    int rc = md_swagger_build(d->cfg, &opts, &d->buf, &diag);
    fclose(warn);
    if (rc != MD_OK)
        fail_msg("build failed: %d:%d: %s", diag.line, diag.col, diag.msg);
    char err[128];
    md_json_toks_init(&d->toks, 0);
    assert_int_equal(md_json_scan(&d->toks, d->buf.data, d->buf.len, &d->root, err, sizeof(err)), MD_OK);
}

static void done(doc_t *d)
{
    md_json_toks_free(&d->toks);
    md_buf_free(&d->buf);
    md_config_free(d->cfg);
    free(d->warnings);
}

/* The token at a path of keys (NULL-terminated); "#N" indexes an array.
 * MD_JSON_NONE if absent. */
static uint32_t vget(const doc_t *d, va_list ap)
{
    uint32_t t = d->root;
    const char *k;
    while ((k = va_arg(ap, const char *)) && t != MD_JSON_NONE) {
        if (k[0] == '#') {
            const md_json_tok_t *a = &d->toks.v[t];
            long idx = atol(k + 1);
            if (a->type != MD_JSON_ARRAY || idx >= (long)a->count)
                return MD_JSON_NONE;
            t++;
            for (long i = 0; i < idx; i++)
                t = d->toks.v[t].next;
        } else {
            t = md_json_member(d->buf.data, d->toks.v, t, k, strlen(k));
        }
    }
    return t;
}

static uint32_t get(const doc_t *d, ...)
{
    va_list ap;
    va_start(ap, d);
    uint32_t t = vget(d, ap);
    va_end(ap);
    return t;
}

/* Asserts the string at the path equals want. */
static void expect_str(const doc_t *d, const char *want, ...)
{
    va_list ap;
    va_start(ap, want);
    uint32_t t = vget(d, ap);
    va_end(ap);
    if (t == MD_JSON_NONE)
        fail_msg("no value where \"%s\" was expected", want);
    const md_json_tok_t *tok = &d->toks.v[t];
    if (tok->type != MD_JSON_STRING || !md_json_str_equal(d->buf.data, tok, want, strlen(want)))
        fail_msg("expected \"%s\", got %.*s", want, (int)tok->len, d->buf.data + tok->off);
}

/* Asserts the raw JSON text at the path (numbers, true, {}...). */
static void expect_raw(const doc_t *d, const char *want, ...)
{
    va_list ap;
    va_start(ap, want);
    uint32_t t = vget(d, ap);
    va_end(ap);
    if (t == MD_JSON_NONE)
        fail_msg("no value where %s was expected", want);
    const md_json_tok_t *tok = &d->toks.v[t];
    if (tok->len != strlen(want) || memcmp(d->buf.data + tok->off, want, tok->len) != 0)
        fail_msg("expected %s, got %.*s", want, (int)tok->len, d->buf.data + tok->off);
}

#define SCHEMA(...) "paths", "/home", "get", "responses", "200", "schema", __VA_ARGS__
#define PROP "properties"

static const char home_yaml[] =
    HEAD
    "  - path: /home\n"
    "    summary: Home Feed For One Employee\n"
    "    description: Home feed for one employee.\n"
    "    errors_field: _errors\n"
    "    params:\n"
    "      user: { type: integer, required: true, example: \"42\" }\n"
    "      lang: { default: en, max_length: 8, description: Language of the texts. }\n"
    "      limit: { type: integer, default: \"5\", visibility: internal }\n"
    "      X-Trace: { in: header, visibility: important }\n"
    "    backends:\n"
    "      - upstream: news\n"
    "        path: /news\n"
    "        shape: { from: items, sort: -published, limit: 5, select: [id, title, url, author.name],\n"
    "                 rename: { url: link } }\n"
    "        as: news\n"
    "      - name: vacation\n"
    "        upstream: hr\n"
    "        path: /v/{user}\n"
    "        shape: { select: [balance_days] }\n"
    "        as: cards.vacation\n"
    "        optional: true\n";

static void top_level_fields(void **state)
{
    (void)state;
    doc_t d;
    build(&d, home_yaml, NULL);
    expect_str(&d, "2.0", "swagger", NULL);
    expect_str(&d, "Contoso Home Feed", "info", "title", NULL);
    expect_str(&d, "One call for the home screen of the Contoso employee app.", "info", "description", NULL);
    expect_str(&d, "1.0.0", "info", "version", NULL);
    assert_int_equal(get(&d, "info", "contact", NULL), MD_JSON_NONE); /* none configured */
    expect_str(&d, "medley.contoso.example:8443", "host", NULL);    /* bare host:port, no scheme */
    expect_str(&d, "/feed", "basePath", NULL);
    expect_raw(&d, "[\n    \"https\"\n  ]", "schemes", NULL);
    expect_str(&d, "application/json", "consumes", "#0", NULL);
    expect_str(&d, "application/json", "produces", "#0", NULL);
    expect_raw(&d, "{}", "securityDefinitions", NULL);
    assert_int_equal(get(&d, "security", NULL), MD_JSON_NONE);
    assert_int_equal(get(&d, "x-ms-connector-metadata", NULL), MD_JSON_NONE); /* nothing configured */
    expect_str(&d, "object", "definitions", "Error", "type", NULL);
    expect_str(&d, "integer", "definitions", "Error", PROP, "error", PROP, "status", "type", NULL);
    assert_true(d.buf.data[d.buf.len - 1] == '\n');
    done(&d);
}

static void connector_metadata_and_contact(void **state)
{
    (void)state;
    doc_t d;
    build(&d,
          "public_url: https://m.example\n"
          "connector:\n"
          "  title: Feed\n"
          "  description: A feed of everything a Contoso employee needs.\n"
          "  version: 2.0.1\n"
          "  contact: { name: IT, email: it@contoso.example }\n"
          "  website: https://contoso.example\n"
          "  privacy_policy: https://contoso.example/privacy\n"
          "  categories: [Data, AI]\n"
          "upstreams: { news: { url: \"http://127.0.0.1:9001\" } }\n"
          "endpoints: [ { path: /n, backends: [ { upstream: news, path: /n } ] } ]\n",
          NULL);
    expect_str(&d, "2.0.1", "info", "version", NULL);
    expect_str(&d, "IT", "info", "contact", "name", NULL);
    expect_str(&d, "it@contoso.example", "info", "contact", "email", NULL);
    assert_int_equal(get(&d, "info", "contact", "url", NULL), MD_JSON_NONE);
    expect_str(&d, "/", "basePath", NULL);
    expect_str(&d, "m.example", "host", NULL);
    expect_str(&d, "Website", "x-ms-connector-metadata", "#0", "propertyName", NULL);
    expect_str(&d, "https://contoso.example", "x-ms-connector-metadata", "#0", "propertyValue", NULL);
    expect_str(&d, "Privacy policy", "x-ms-connector-metadata", "#1", "propertyName", NULL);
    expect_str(&d, "Categories", "x-ms-connector-metadata", "#2", "propertyName", NULL);
    expect_str(&d, "Data;AI", "x-ms-connector-metadata", "#2", "propertyValue", NULL);
    done(&d);
}

static void operation_and_parameters(void **state)
{
    (void)state;
    doc_t d;
    build(&d, home_yaml, NULL);
#define OP(...) "paths", "/home", "get", __VA_ARGS__
    expect_str(&d, "GetHome", OP("operationId", NULL));
    expect_str(&d, "Home feed for one employee", OP("summary", NULL));
    /* The description equals the summary, so a generated one is used. */
    expect_str(&d, "Calls the news and vacation backends at once and returns their answers in one JSON document.",
               OP("description", NULL));
    expect_str(&d, "user", OP("parameters", "#0", "name", NULL));
    expect_str(&d, "query", OP("parameters", "#0", "in", NULL));
    expect_str(&d, "integer", OP("parameters", "#0", "type", NULL));
    expect_raw(&d, "true", OP("parameters", "#0", "required", NULL));
    expect_str(&d, "User", OP("parameters", "#0", "x-ms-summary", NULL));
    expect_str(&d, "Value of the user query parameter.", OP("parameters", "#0", "description", NULL));
    expect_str(&d, "important", OP("parameters", "#0", "x-ms-visibility", NULL));
    expect_raw(&d, "42", OP("parameters", "#0", "x-ms-test-value", NULL));
    assert_int_equal(get(&d, OP("parameters", "#0", "maxLength", NULL)), MD_JSON_NONE);

    expect_raw(&d, "false", OP("parameters", "#1", "required", NULL));
    expect_str(&d, "advanced", OP("parameters", "#1", "x-ms-visibility", NULL));
    expect_str(&d, "Language of the texts.", OP("parameters", "#1", "description", NULL));
    expect_str(&d, "en", OP("parameters", "#1", "default", NULL));
    expect_raw(&d, "8", OP("parameters", "#1", "maxLength", NULL));

    expect_str(&d, "internal", OP("parameters", "#2", "x-ms-visibility", NULL));
    expect_raw(&d, "5", OP("parameters", "#2", "default", NULL)); /* typed, not "5" */

    expect_str(&d, "header", OP("parameters", "#3", "in", NULL));
    expect_str(&d, "X Trace", OP("parameters", "#3", "x-ms-summary", NULL));
    expect_str(&d, "important", OP("parameters", "#3", "x-ms-visibility", NULL));

    /* Error responses refer to the error schema; default has none. */
    const char *codes[] = { "400", "404", "502", "504" };
    for (size_t i = 0; i < 4; i++) {
        expect_str(&d, "#/definitions/Error", OP("responses", codes[i], "schema", "$ref", NULL));
        assert_int_not_equal(get(&d, OP("responses", codes[i], "description", NULL)), MD_JSON_NONE);
    }
    expect_str(&d, "An unexpected error.", OP("responses", "default", "description", NULL));
    assert_int_equal(get(&d, OP("responses", "default", "schema", NULL)), MD_JSON_NONE);
#undef OP
    done(&d);
}

static void path_params_are_required_and_important(void **state)
{
    (void)state;
    doc_t d;
    build(&d, HEAD "  - { path: \"/users/{id}/orders\", backends: [ { upstream: hr, path: /o } ] }\n", NULL);
#define OP(...) "paths", "/users/{id}/orders", "get", __VA_ARGS__
    expect_str(&d, "GetUsersOrdersById", OP("operationId", NULL));
    expect_str(&d, "Get users orders by id", OP("summary", NULL));
    expect_str(&d, "Calls the hr backend and returns its shaped answer.", OP("description", NULL));
    expect_str(&d, "path", OP("parameters", "#0", "in", NULL));
    expect_raw(&d, "true", OP("parameters", "#0", "required", NULL));
    expect_str(&d, "important", OP("parameters", "#0", "x-ms-visibility", NULL));
    expect_str(&d, "ID", OP("parameters", "#0", "x-ms-summary", NULL));
#undef OP
    done(&d);
}

static void schema_of_a_shaped_list_and_nested_object(void **state)
{
    (void)state;
    doc_t d;
    build(&d, home_yaml, NULL);
    expect_str(&d, "object", SCHEMA("type", NULL));
    expect_str(&d, "array", SCHEMA(PROP, "news", "type", NULL));
    expect_str(&d, "News", SCHEMA(PROP, "news", "x-ms-summary", NULL));
    expect_str(&d, "Result of the news backend.", SCHEMA(PROP, "news", "description", NULL));
    expect_str(&d, "object", SCHEMA(PROP, "news", "items", "type", NULL));
    /* Every selected field, in select order, renamed where asked. */
    const md_json_tok_t *props = &d.toks.v[get(&d, SCHEMA(PROP, "news", "items", PROP, NULL))];
    assert_int_equal(props->count, 4);
    expect_str(&d, "string", SCHEMA(PROP, "news", "items", PROP, "title", "type", NULL));
    expect_str(&d, "Title", SCHEMA(PROP, "news", "items", PROP, "title", "x-ms-summary", NULL));
    expect_str(&d, "Title from the news backend.", SCHEMA(PROP, "news", "items", PROP, "title", "description", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "news", "items", PROP, "link", "type", NULL));
    assert_int_equal(get(&d, SCHEMA(PROP, "news", "items", PROP, "url", NULL)), MD_JSON_NONE);
    expect_str(&d, "object", SCHEMA(PROP, "news", "items", PROP, "author", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "news", "items", PROP, "author", PROP, "name", "type", NULL));
    /* `as: cards.vacation` nests objects; a select without sort/limit is an object. */
    expect_str(&d, "object", SCHEMA(PROP, "cards", "type", NULL));
    expect_str(&d, "Results grouped under cards.", SCHEMA(PROP, "cards", "description", NULL));
    expect_str(&d, "object", SCHEMA(PROP, "cards", PROP, "vacation", "type", NULL));
    expect_str(&d, "Balance days from the vacation backend.",
               SCHEMA(PROP, "cards", PROP, "vacation", PROP, "balance_days", "description", NULL));
    expect_str(&d, "Balance Days", SCHEMA(PROP, "cards", PROP, "vacation", PROP, "balance_days", "x-ms-summary", NULL));
    /* errors_field: an object of {error, message} per failed backend. */
    expect_str(&d, "object", SCHEMA(PROP, "_errors", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "_errors", "additionalProperties", PROP, "message", "type", NULL));
    /* Unsampled leaves are strings, each named in a warning. */
    assert_non_null(strstr(d.warnings, "GetHome: property 'news[].title' has no known type; typed string"));
    assert_non_null(strstr(d.warnings, "'news[].author.name' has no known type"));
    assert_non_null(strstr(d.warnings, "'cards.vacation.balance_days' has no known type"));
    assert_null(strstr(d.warnings, "'_errors'"));
    done(&d);
}

static void schema_of_root_merges_and_unshaped_backends(void **state)
{
    (void)state;
    doc_t d;
    build(&d,
          HEAD "  - path: /home\n"
               "    backends:\n"
               "      - { upstream: news, path: /a, shape: { select: [x, y] } }\n"          /* root merge */
               "      - { name: b, upstream: news, path: /b, shape: { select: [y, z] } }\n" /* y: later wins */
               "      - { name: raw, upstream: hr, path: /c, as: raw }\n"                  /* no shape */
               "      - { name: d, upstream: hr, path: /d, shape: { deny: [secret] }, as: denied }\n"
               "      - { name: l, upstream: hr, path: /e, shape: { limit: 3 }, as: list }\n"
               "      - { name: g1, upstream: hr, path: /f, shape: { select: [p] }, as: g.one }\n"
               "      - { name: g2, upstream: hr, path: /g, shape: { select: [q] }, as: g }\n",
          NULL);
    expect_str(&d, "string", SCHEMA(PROP, "x", "type", NULL));
    expect_str(&d, "X from the news backend.", SCHEMA(PROP, "x", "description", NULL));
    expect_str(&d, "Y from the b backend.", SCHEMA(PROP, "y", "description", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "z", "type", NULL));
    /* Unknown members: an object without properties, and a warning. */
    expect_str(&d, "object", SCHEMA(PROP, "raw", "type", NULL));
    assert_int_equal(get(&d, SCHEMA(PROP, "raw", PROP, NULL)), MD_JSON_NONE);
    expect_str(&d, "object", SCHEMA(PROP, "denied", "type", NULL));
    assert_non_null(strstr(d.warnings, "property 'raw' has no known properties"));
    assert_non_null(strstr(d.warnings, "property 'denied' has no known properties"));
    /* limit without select: a list of unknown items. */
    expect_str(&d, "array", SCHEMA(PROP, "list", "type", NULL));
    expect_str(&d, "object", SCHEMA(PROP, "list", "items", "type", NULL));
    /* Two objects meeting at g merge member by member. */
    expect_str(&d, "object", SCHEMA(PROP, "g", PROP, "one", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "g", PROP, "one", PROP, "p", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "g", PROP, "q", "type", NULL));
    done(&d);
}

static void later_non_object_replaces(void **state)
{
    (void)state;
    doc_t d;
    build(&d,
          HEAD "  - path: /home\n"
               "    backends:\n"
               "      - { name: a, upstream: hr, path: /a, shape: { select: [p] }, as: k }\n"
               "      - { name: b, upstream: hr, path: /b, shape: { sort: x, select: [q] }, as: k }\n",
          NULL);
    expect_str(&d, "array", SCHEMA(PROP, "k", "type", NULL));
    expect_str(&d, "Result of the b backend.", SCHEMA(PROP, "k", "description", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "k", "items", PROP, "q", "type", NULL));
    assert_int_equal(get(&d, SCHEMA(PROP, "k", "items", PROP, "p", NULL)), MD_JSON_NONE);
    done(&d);
}

static const char sample_home[] =
    "{\"news\":[{\"id\":101,\"title\":\"A\",\"link\":\"https://x\",\"author\":{\"name\":\"N\"}},"
    "{\"id\":102,\"title\":\"B\",\"link\":null}],"
    "\"cards\":{\"vacation\":{\"balance_days\":17.5}},"
    "\"_errors\":{\"vacation\":{\"error\":\"timeout\",\"message\":\"m\"}}}";

static void sample_types_the_fields(void **state)
{
    (void)state;
    md_swagger_sample_t samples[1] = { { (char *)sample_home, sizeof(sample_home) - 1 } };
    doc_t d;
    build(&d, home_yaml, samples);
    expect_str(&d, "integer", SCHEMA(PROP, "news", "items", PROP, "id", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "news", "items", PROP, "title", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "news", "items", PROP, "link", "type", NULL));
    expect_str(&d, "number", SCHEMA(PROP, "cards", PROP, "vacation", PROP, "balance_days", "type", NULL));
    /* _errors keeps its own schema: the sample's backend names are not properties. */
    assert_int_equal(get(&d, SCHEMA(PROP, "_errors", PROP, NULL)), MD_JSON_NONE);
    assert_null(strstr(d.warnings, "news[].title"));
    assert_null(strstr(d.warnings, "balance_days"));
    done(&d);
}

static void sample_settles_forms_and_adds_members(void **state)
{
    (void)state;
    static const char yaml[] =
        HEAD "  - path: /home\n"
             "    backends:\n"
             "      - { name: a, upstream: hr, path: /a, shape: { select: [id, when] }, as: maybe }\n"
             "      - { name: b, upstream: hr, path: /b, shape: { deny: [secret] }, as: denied }\n"
             "      - { name: c, upstream: hr, path: /c, as: mixed }\n";
    static const char sample[] =
        "{\"maybe\":[{\"id\":1,\"when\":\"2024-03-12T07:13:05Z\"},{\"id\":2.5,\"when\":\"2024-03-13T08:00:00+01:00\"}],"
        "\"denied\":{\"ok\":true,\"n\":null,\"deep\":{\"k\":[\"s\"]},\"\\u0061\":1},"
        "\"mixed\":{\"v\":[1,\"x\"],\"day\":\"2024-03-12\",\"stamps\":[\"soon\",\"2024-03-12T07:13:05Z\"]}}";
    md_swagger_sample_t samples[1] = { { (char *)sample, sizeof(sample) - 1 } };
    doc_t d;
    build(&d, yaml, samples);
    /* The guessed object is a list in reality: its select becomes the items'. */
    expect_str(&d, "array", SCHEMA(PROP, "maybe", "type", NULL));
    expect_str(&d, "number", SCHEMA(PROP, "maybe", "items", PROP, "id", "type", NULL)); /* 1 and 2.5 */
    expect_str(&d, "date-time", SCHEMA(PROP, "maybe", "items", PROP, "when", "format", NULL));
    /* deny: the members come from the sample. */
    expect_str(&d, "boolean", SCHEMA(PROP, "denied", PROP, "ok", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "denied", PROP, "n", "type", NULL)); /* only null seen */
    expect_str(&d, "array", SCHEMA(PROP, "denied", PROP, "deep", PROP, "k", "type", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "denied", PROP, "deep", PROP, "k", "items", "type", NULL));
    expect_str(&d, "Ok from the b backend.", SCHEMA(PROP, "denied", PROP, "ok", "description", NULL));
    assert_int_equal(get(&d, SCHEMA(PROP, "denied", PROP, "a", NULL)), MD_JSON_NONE);
    assert_non_null(strstr(d.warnings, "a sampled key with escapes"));
    assert_non_null(strstr(d.warnings, "property 'denied.n' has no known type"));
    /* Mixed types: the first one is kept, with a warning; a date alone is no date-time. */
    expect_str(&d, "integer", SCHEMA(PROP, "mixed", PROP, "v", "items", "type", NULL));
    assert_non_null(strstr(d.warnings, "property 'mixed.v[]' has values of different types"));
    assert_int_equal(get(&d, SCHEMA(PROP, "mixed", PROP, "day", "format", NULL)), MD_JSON_NONE);
    /* date-time only when every sampled value is one, in any order. */
    assert_int_equal(get(&d, SCHEMA(PROP, "mixed", PROP, "stamps", "items", "format", NULL)), MD_JSON_NONE);
    done(&d);
}

static void bad_sample_is_ignored(void **state)
{
    (void)state;
    static const char bad[] = "<html>oops</html>";
    md_swagger_sample_t samples[1] = { { (char *)bad, sizeof(bad) - 1 } };
    doc_t d;
    build(&d, home_yaml, samples);
    assert_non_null(strstr(d.warnings, "GetHome: the sampled answer is not JSON"));
    expect_str(&d, "string", SCHEMA(PROP, "news", "items", PROP, "title", "type", NULL));
    done(&d);
}

static void overrides_win(void **state)
{
    (void)state;
    static const char yaml[] =
        HEAD "  - path: /home\n"
             "    backends:\n"
             "      - { upstream: news, path: /n, shape: { sort: id, select: [id, title] }, as: news }\n"
             "      - { name: raw, upstream: hr, path: /r, as: raw }\n"
             "    response:\n"
             "      description: The home feed.\n"
             "      schema:\n"
             "        news.id: { type: integer, title: Story Number, description: The story's number. }\n"
             "        news.title: { format: html }\n"
             "        raw: { type: array }\n"
             "        raw.count: { type: integer }\n"
             "        extra.deep.flag: { type: boolean }\n";
    static const char sample[] = "{\"news\":[{\"id\":\"7\",\"title\":\"t\"}],\"raw\":{\"x\":1}}";
    md_swagger_sample_t samples[1] = { { (char *)sample, sizeof(sample) - 1 } };
    doc_t d;
    build(&d, yaml, samples);
    expect_str(&d, "The home feed.", "paths", "/home", "get", "responses", "200", "description", NULL);
    expect_str(&d, "integer", SCHEMA(PROP, "news", "items", PROP, "id", "type", NULL)); /* sample said string */
    expect_str(&d, "Story Number", SCHEMA(PROP, "news", "items", PROP, "id", "x-ms-summary", NULL));
    expect_str(&d, "The story's number.", SCHEMA(PROP, "news", "items", PROP, "id", "description", NULL));
    expect_str(&d, "html", SCHEMA(PROP, "news", "items", PROP, "title", "format", NULL));
    expect_str(&d, "string", SCHEMA(PROP, "news", "items", PROP, "title", "type", NULL));
    /* An object turned into a list keeps its members as the items'. */
    expect_str(&d, "array", SCHEMA(PROP, "raw", "type", NULL));
    expect_str(&d, "integer", SCHEMA(PROP, "raw", "items", PROP, "x", "type", NULL));
    expect_str(&d, "integer", SCHEMA(PROP, "raw", "items", PROP, "count", "type", NULL));
    /* A path the tree lacks is added, objects on the way. */
    expect_str(&d, "object", SCHEMA(PROP, "extra", "type", NULL));
    expect_str(&d, "boolean", SCHEMA(PROP, "extra", PROP, "deep", PROP, "flag", "type", NULL));
    done(&d);
}

static void passthrough_schema_only_when_known(void **state)
{
    (void)state;
    static const char yaml[] = HEAD "  - { path: /raw, passthrough: { upstream: news, path: /n } }\n"
                                    "  - path: /typed\n"
                                    "    passthrough: { upstream: news, path: /n }\n"
                                    "    response: { schema: { total: { type: integer } } }\n";
    doc_t d;
    build(&d, yaml, NULL);
    expect_str(&d, "The upstream's answer, unchanged.", "paths", "/raw", "get", "responses", "200", "description", NULL);
    assert_int_equal(get(&d, "paths", "/raw", "get", "responses", "200", "schema", NULL), MD_JSON_NONE);
    expect_str(&d, "Returns the answer of the news upstream unchanged.", "paths", "/raw", "get", "description", NULL);
    expect_str(&d, "integer", "paths", "/typed", "get", "responses", "200", "schema", PROP, "total", "type", NULL);
    assert_non_null(strstr(d.warnings, "GetRaw: the passthrough answer is unknown, so its 200 response has no schema"));
    assert_null(strstr(d.warnings, "GetTyped: the passthrough"));
    /* The upstream's own 404 passes through: no medley error schema on it. */
    assert_int_equal(get(&d, "paths", "/raw", "get", "responses", "404", "schema", NULL), MD_JSON_NONE);
    done(&d);

    static const char sample[] = "[{\"id\":1}]";
    md_swagger_sample_t samples[2] = { { (char *)sample, sizeof(sample) - 1 }, { NULL, 0 } };
    build(&d, yaml, samples);
    expect_str(&d, "array", "paths", "/raw", "get", "responses", "200", "schema", "type", NULL);
    expect_str(&d, "integer", "paths", "/raw", "get", "responses", "200", "schema", "items", PROP, "id", "type", NULL);
    expect_str(&d, "ID from the news backend.", "paths", "/raw", "get", "responses", "200", "schema", "items", PROP,
               "id", "description", NULL);
    done(&d);
}

static void methods_share_a_path_item(void **state)
{
    (void)state;
    doc_t d;
    build(&d,
          HEAD "  - { path: /a, backends: [ { upstream: hr, path: /x } ] }\n"
               "  - { path: /b, backends: [ { upstream: hr, path: /x } ] }\n"
               "  - { path: /a, method: DELETE, summary: Remove it, description: Removes it for good,\n"
               "      backends: [ { upstream: hr, path: /x } ] }\n",
          NULL);
    const md_json_tok_t *paths = &d.toks.v[get(&d, "paths", NULL)];
    assert_int_equal(paths->count, 2);
    expect_str(&d, "GetA", "paths", "/a", "get", "operationId", NULL);
    expect_str(&d, "DeleteA", "paths", "/a", "delete", "operationId", NULL);
    expect_str(&d, "Remove it", "paths", "/a", "delete", "summary", NULL);
    expect_str(&d, "Removes it for good.", "paths", "/a", "delete", "description", NULL);
    done(&d);
}

static void expect_build_error(const char *yaml, int line, const char *frag)
{
    md_config_t *cfg = load(yaml);
    md_buf_t out;
    md_diag_t diag;
    int rc = md_swagger_build(cfg, NULL, &out, &diag);
    md_buf_free(&out);
    md_config_free(cfg);
    if (rc == MD_OK)
        fail_msg("built, but expected an error: %s", frag);
    if (diag.line != line || !strstr(diag.msg, frag))
        fail_msg("got %d: %s\nwanted %d: ...%s...", diag.line, diag.msg, line, frag);
    assert_string_equal(diag.file, "s.yaml");
}

static void duplicate_operation_ids_are_errors(void **state)
{
    (void)state;
    /* HEAD is 8 lines; the endpoints start on line 9. */
    expect_build_error(HEAD "  - { path: /a-b, backends: [ { upstream: hr, path: /x } ] }\n"
                            "  - { path: /a_b, backends: [ { upstream: hr, path: /x } ] }\n",
                       10, "operationId 'GetAB' of GET /a_b is also the operationId of GET /a-b (line 9)");
    /* Compared without case, explicit ones too. */
    expect_build_error(HEAD "  - { path: /a, operation_id: ReadIt, backends: [ { upstream: hr, path: /x } ] }\n"
                            "  - { path: /b, operation_id: readit, backends: [ { upstream: hr, path: /x } ] }\n",
                       10, "operationId 'readit'");
    expect_build_error(HEAD "  - { path: /a, operation_id: GetB, backends: [ { upstream: hr, path: /x } ] }\n"
                            "  - { path: /b, backends: [ { upstream: hr, path: /x } ] }\n",
                       10, "set 'operation_id' on one of them");
    /* An explicit id resolves the clash. */
    doc_t d;
    build(&d, HEAD "  - { path: /a-b, backends: [ { upstream: hr, path: /x } ] }\n"
                   "  - { path: /a_b, operation_id: GetAUnderscoreB, backends: [ { upstream: hr, path: /x } ] }\n",
          NULL);
    expect_str(&d, "GetAUnderscoreB", "paths", "/a_b", "get", "operationId", NULL);
    done(&d);
    /* A non-PascalCase explicit id is kept, with a warning. */
    build(&d, HEAD "  - { path: /a, operation_id: get_a, backends: [ { upstream: hr, path: /x } ] }\n", NULL);
    expect_str(&d, "get_a", "paths", "/a", "get", "operationId", NULL);
    assert_non_null(strstr(d.warnings, "get_a: operation_id is not PascalCase"));
    done(&d);
}

static void missing_keys_and_long_ids(void **state)
{
    (void)state;
    expect_build_error("upstreams: { hr: { url: \"http://127.0.0.1:9\" } }\n"
                       "endpoints: [ { path: /a, backends: [ { upstream: hr, path: /x } ] } ]\n",
                       0, "'public_url' is required to export a connector");
    expect_build_error("public_url: https://m.example\n"
                       "upstreams: { hr: { url: \"http://127.0.0.1:9\" } }\n"
                       "endpoints: [ { path: /a, backends: [ { upstream: hr, path: /x } ] } ]\n",
                       1, "'connector.title' is required");
    expect_build_error("public_url: https://m.example\n"
                       "upstreams: { hr: { url: \"http://127.0.0.1:9\" } }\n"
                       "connector: { title: Feed }\n"
                       "endpoints: [ { path: /a, backends: [ { upstream: hr, path: /x } ] } ]\n",
                       3, "'connector.description' is required");
    char yaml[2048], seg[200];
    memset(seg, 'a', 100);
    seg[100] = '\0';
    snprintf(yaml, sizeof(yaml), HEAD "  - { path: /%s, backends: [ { upstream: hr, path: /x } ] }\n", seg);
    expect_build_error(yaml, 9, "is longer than 64 characters; set 'operation_id'");
}

static void document_over_a_megabyte_is_refused(void **state)
{
    (void)state;
    md_buf_t y;
    md_buf_init(&y, 0);
    md_buf_append_str(&y, HEAD);
    for (int i = 0; i < 1000; i++)
        md_buf_printf(&y, "  - { path: /endpoint%d, backends: [ { upstream: hr, path: /x, shape: { sort: a, "
                          "select: [alpha, bravo, charlie, delta, echo, foxtrot] }, as: items } ] }\n", i);
    md_config_t *cfg = load(y.data);
    md_buf_t out;
    md_diag_t diag;
    assert_int_equal(md_swagger_build(cfg, NULL, &out, &diag), MD_ETOOBIG);
    assert_non_null(strstr(diag.msg, "larger than 1024 KiB"));
    assert_true(out.len <= MD_SWAGGER_MAX_BYTES);
    md_buf_free(&out);
    md_config_free(cfg);
    md_buf_free(&y);
}

static void output_is_deterministic(void **state)
{
    (void)state;
    doc_t a, b;
    build(&a, home_yaml, NULL);
    build(&b, home_yaml, NULL);
    assert_int_equal(a.buf.len, b.buf.len);
    assert_memory_equal(a.buf.data, b.buf.data, a.buf.len);
    done(&a);
    done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(top_level_fields),
        cmocka_unit_test(connector_metadata_and_contact),
        cmocka_unit_test(operation_and_parameters),
        cmocka_unit_test(path_params_are_required_and_important),
        cmocka_unit_test(schema_of_a_shaped_list_and_nested_object),
        cmocka_unit_test(schema_of_root_merges_and_unshaped_backends),
        cmocka_unit_test(later_non_object_replaces),
        cmocka_unit_test(sample_types_the_fields),
        cmocka_unit_test(sample_settles_forms_and_adds_members),
        cmocka_unit_test(bad_sample_is_ignored),
        cmocka_unit_test(overrides_win),
        cmocka_unit_test(passthrough_schema_only_when_known),
        cmocka_unit_test(methods_share_a_path_item),
        cmocka_unit_test(duplicate_operation_ids_are_errors),
        cmocka_unit_test(missing_keys_and_long_ids),
        cmocka_unit_test(document_over_a_megabyte_is_refused),
        cmocka_unit_test(output_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
