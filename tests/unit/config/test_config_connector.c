/*
 * Unit tests for the config keys of the connector export: public_url,
 * the connector block, params' visibility and example, and an endpoint's
 * response block; read back field by field, and every rule's error with
 * its line:column (counted by hand from the YAML text).
 */
#include "testutil.h"

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>

#define UP "upstreams:\n  hr: { url: \"http://127.0.0.1:9001\" }\n"
#define EP "endpoints:\n  - { path: /a, backends: [ { upstream: hr, path: /x } ] }\n"
#define EP_HEAD "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

static md_config_t *load(const char *yaml, md_diag_t *d)
{
    return md_config_load_string(yaml, strlen(yaml), "c.yaml", d);
}

static void expect_error(const char *yaml, int line, int col, const char *frag)
{
    md_diag_t d;
    md_config_t *cfg = load(yaml, &d);
    if (cfg) {
        md_config_free(cfg);
        fail_msg("loaded, but expected %d:%d: %s", line, col, frag);
    }
    if (d.line != line || d.col != col || !strstr(d.msg, frag))
        fail_msg("got %d:%d: %s\nwanted %d:%d: ...%s...", d.line, d.col, d.msg, line, col, frag);
}

static md_config_t *load_ok(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = load(yaml, &d);
    if (!cfg)
        fail_msg("did not load: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

static const char full_yaml[] =
    UP                                                                              /* 1-2 */
    "public_url: https://api.contoso.example:8443/medley/v1/\n"                     /* 3 */
    "connector:\n"                                                                  /* 4 */
    "  title: Contoso Home Feed\n"
    "  description: One call for the home screen of the Contoso employee app.\n"
    "  version: 2.1.0\n"
    "  contact: { name: Contoso IT, url: https://contoso.example/help, email: it@contoso.example }\n"
    "  website: https://contoso.example\n"
    "  privacy_policy: https://contoso.example/privacy\n"                           /* 10 */
    "  categories: [Productivity, Human Resources]\n"
    "  brand_color: \"#1F6F8B\"\n"
    "endpoints:\n"                                                                  /* 13 */
    "  - path: /home/{id}\n"
    "    params:\n"
    "      user: { type: integer, required: true, example: \"42\", visibility: advanced }\n"
    "      lang: { default: en, visibility: internal, example: fr }\n"
    "    backends: [ { upstream: hr, path: /x } ]\n"
    "    response:\n"
    "      description: The feed.\n"                                                /* 20 */
    "      schema:\n"
    "        news.title: { type: string, title: Headline, description: The headline., format: html }\n"
    "        cards: { type: object }\n";

static void full_connector_config_reads_back(void **state)
{
    (void)state;
    md_config_t *c = load_ok(full_yaml);
    assert_string_equal(c->public_url, "https://api.contoso.example:8443/medley/v1/");
    assert_string_equal(c->public_host, "api.contoso.example:8443");
    assert_string_equal(c->public_base_path, "/medley/v1");
    assert_int_equal(c->public_url_line, 3);
    const md_connector_conf_t *k = &c->connector;
    assert_string_equal(k->title, "Contoso Home Feed");
    assert_string_equal(k->description, "One call for the home screen of the Contoso employee app.");
    assert_string_equal(k->version, "2.1.0");
    assert_string_equal(k->contact_name, "Contoso IT");
    assert_string_equal(k->contact_url, "https://contoso.example/help");
    assert_string_equal(k->contact_email, "it@contoso.example");
    assert_string_equal(k->website, "https://contoso.example");
    assert_string_equal(k->privacy_policy, "https://contoso.example/privacy");
    assert_int_equal(k->ncategories, 2);
    assert_string_equal(k->categories[0], "Productivity");
    assert_string_equal(k->categories[1], "Human Resources");
    assert_string_equal(k->brand_color, "#1f6f8b"); /* normalized to lower case */
    assert_int_equal(k->line, 4);

    const md_endpoint_conf_t *e = &c->endpoints[0];
    assert_int_equal(e->nparams, 3); /* user, lang, then the implicit {id} */
    assert_string_equal(e->params[0].example, "42");
    assert_int_equal(e->params[0].visibility, MD_VIS_ADVANCED);
    assert_int_equal(e->params[1].visibility, MD_VIS_INTERNAL);
    assert_string_equal(e->params[1].example, "fr");
    assert_int_equal(e->params[2].visibility, MD_VIS_DEFAULT);
    assert_null(e->params[2].example);
    assert_string_equal(e->response.description, "The feed.");
    assert_int_equal(e->response.nschema, 2);
    const md_schema_prop_conf_t *p = &e->response.schema[0];
    assert_string_equal(p->path, "news.title");
    assert_int_equal(p->type, MD_SCHEMA_STRING);
    assert_string_equal(p->title, "Headline");
    assert_string_equal(p->description, "The headline.");
    assert_string_equal(p->format, "html");
    assert_int_equal(p->line, 22);
    assert_int_equal(e->response.schema[1].type, MD_SCHEMA_OBJECT);
    assert_null(e->response.schema[1].title);
    md_config_free(c);
}

static void connector_keys_are_optional(void **state)
{
    (void)state;
    md_config_t *c = load_ok(UP EP);
    assert_null(c->public_url);
    assert_null(c->public_host);
    assert_null(c->connector.title);
    assert_int_equal(c->connector.ncategories, 0);
    assert_int_equal(c->connector.line, 0);
    assert_null(c->endpoints[0].response.description);
    assert_int_equal(c->endpoints[0].response.nschema, 0);
    md_config_free(c);

    c = load_ok(UP EP "public_url: https://medley.example\n");
    assert_string_equal(c->public_host, "medley.example");
    assert_string_equal(c->public_base_path, "/");
    md_config_free(c);
}

static void bad_public_urls(void **state)
{
    (void)state;
    expect_error(UP EP "public_url: http://medley.example\n", 5, 13, "must start with https://");
    expect_error(UP EP "public_url: https://medley.example/a?x=1\n", 5, 13, "must not have a query");
    expect_error(UP EP "public_url: https://me@medley.example\n", 5, 13, "must not contain user info");
    expect_error(UP EP "public_url: \"https://[::1]:8443\"\n", 5, 13, "not an IPv6 literal");
    expect_error(UP EP "public_url: https://medley.example:0\n", 5, 13, "bad port");
    expect_error(UP EP "public_url: https://medley.example:99999\n", 5, 13, "bad port");
    expect_error(UP EP "public_url: https://\n", 5, 13, "must be https://host[:port][/base-path]");
    expect_error(UP EP "public_url: https://-bad.example\n", 5, 13, "must be https://host");
    expect_error(UP EP "public_url: https://medley.example/a//b\n", 5, 13, "base path");
    expect_error(UP EP "public_url: https://medley.example/a/../b\n", 5, 13, "base path");
    expect_error(UP EP "public_url: \"https://medley.example/{x}\"\n", 5, 13, "base path");
    expect_error(UP EP "public_url: [a]\n", 5, 13, "'public_url' must be a string");
}

static void title_rules(void **state)
{
    (void)state;
    expect_error(UP EP "connector: { title: Contoso Home Feed For All Employees }\n", 5, 21,
                 "'title' must be at most 30 characters (it has 35)");
    expect_error(UP EP "connector: { title: Contoso API }\n", 5, 21, "must not contain the words 'API' or 'Connector'");
    expect_error(UP EP "connector: { title: Contoso connector }\n", 5, 21, "'API' or 'Connector'");
    expect_error(UP EP "connector: { title: Contoso for Power Apps }\n", 5, 21, "product name ('Power Apps')");
    expect_error(UP EP "connector: { title: Contoso Feed. }\n", 5, 21, "must end with a letter or digit");
    expect_error(UP EP "connector: { title: \"\" }\n", 5, 21, "'title' must not be empty");
    /* Whole words only: "Rapid" holds "api" but is not the word. */
    md_config_t *c = load_ok(UP EP "connector: { title: Rapid (Independent Publisher) }\n");
    assert_string_equal(c->connector.title, "Rapid (Independent Publisher)");
    md_config_free(c);
    /* 30 characters exactly, counted as characters, not bytes. */
    c = load_ok(UP EP "connector: { title: \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9 Caf\xc3\xa9 Home Feed Service\" }\n");
    md_config_free(c);
}

static void description_rules(void **state)
{
    (void)state;
    expect_error(UP EP "connector: { description: Too short to say much }\n", 5, 27,
                 "'description' must be 30-500 characters (it has 21)");
    char yaml[1024];
    char longtext[520];
    memset(longtext, 'a', 501);
    longtext[501] = '\0';
    snprintf(yaml, sizeof(yaml), UP EP "connector: { description: %s }\n", longtext);
    expect_error(yaml, 5, 27, "(it has 501)");
    expect_error(UP EP "connector:\n  description: Use this from Power Automate flows and canvas apps.\n", 6, 16,
                 "product name ('Power Automate')");
}

static void contact_and_urls(void **state)
{
    (void)state;
    expect_error(UP EP "connector: { contact: { name: IT, phone: 1 } }\n", 5, 35,
                 "unknown key 'phone' in connector 'contact'");
    expect_error(UP EP "connector: { contact: { email: nobody } }\n", 5, 32, "'email' must be an address");
    expect_error(UP EP "connector: { contact: { email: a@b@c.d } }\n", 5, 32, "'email' must be an address");
    expect_error(UP EP "connector: { contact: { url: ftp://x.example } }\n", 5, 30, "'url' must be an http");
    expect_error(UP EP "connector: { website: contoso.example }\n", 5, 23, "'website' must be an http");
    expect_error(UP EP "connector: { privacy_policy: \"https:///x\" }\n", 5, 30, "'privacy_policy' must be an http");
    expect_error(UP EP "connector: { titl: X }\n", 5, 14, "unknown key 'titl' in 'connector' (did you mean 'title'?)");
}

static void categories_and_colour(void **state)
{
    (void)state;
    expect_error(UP EP "connector: { categories: [Productivty] }\n", 5, 27,
                 "unknown category 'Productivty' (did you mean 'Productivity'?)");
    expect_error(UP EP "connector: { categories: [Data, Data] }\n", 5, 33, "category 'Data' is listed twice");
    expect_error(UP EP "connector: { categories: [AI, Data, Finance] }\n", 5, 37, "too many categories (max 2)");
    expect_error(UP EP "connector: { brand_color: red }\n", 5, 27, "'brand_color' must be a colour");
    expect_error(UP EP "connector: { brand_color: \"#12345\" }\n", 5, 27, "'brand_color' must be a colour");
    expect_error(UP EP "connector: { brand_color: \"#FFFFFF\" }\n", 5, 27, "must not be white");
    expect_error(UP EP "connector: { brand_color: \"#007ee5\" }\n", 5, 27, "default #007ee5");
}

static void param_visibility_and_example(void **state)
{
    (void)state;
    expect_error(UP EP_HEAD "    params: { q: { visibility: hidden } }\n", 6, 32,
                 "'visibility' must be one of important, advanced, internal");
    expect_error(UP EP_HEAD "    params: { q: { type: integer, example: abc } }\n", 6, 44,
                 "'example' must be a valid integer");
    expect_error(UP EP_HEAD "    params: { q: { max_length: 3, example: abcd } }\n", 6, 44,
                 "'example' is longer than 3 bytes");
    expect_error(UP EP_HEAD "    params: { q: { pattern: \"[a-z]+\", example: abc1 } }\n", 6, 48,
                 "'example' must match the param's pattern");
    expect_error(UP EP_HEAD "    params: { q: { required: true, visibility: internal } }\n", 6, 15,
                 "a required or path param cannot be 'visibility: internal'");
    expect_error("upstreams:\n  hr: { url: \"http://127.0.0.1:9001\" }\n"
                 "endpoints:\n  - path: /a/{id}\n    backends: [ { upstream: hr, path: /x } ]\n"
                 "    params: { id: { in: path, visibility: internal } }\n",
                 6, 15, "a required or path param cannot be 'visibility: internal'");
    /* An optional internal param is fine: it keeps its default. */
    md_config_t *c = load_ok(UP EP_HEAD "    params: { q: { default: x, visibility: internal } }\n");
    assert_int_equal(c->endpoints[0].params[0].visibility, MD_VIS_INTERNAL);
    md_config_free(c);
}

static void response_schema_errors(void **state)
{
    (void)state;
    expect_error(UP EP_HEAD "    response: { summary: x }\n", 6, 17, "unknown key 'summary' in the response of endpoint '/a'");
    expect_error(UP EP_HEAD "    response: { schema: [a] }\n", 6, 25, "'schema' must be a mapping");
    expect_error(UP EP_HEAD "    response: { schema: { a..b: { type: string } } }\n", 6, 27,
                 "response schema path 'a..b' must be a dotted path");
    expect_error(UP EP_HEAD "    response: { schema: { .a: { type: string } } }\n", 6, 27, "must be a dotted path");
    expect_error(UP EP_HEAD "    response: { schema: { a: { type: date } } }\n", 6, 38,
                 "'type' must be one of string, integer, number, boolean, object, array");
    expect_error(UP EP_HEAD "    response: { schema: { a: string } }\n", 6, 27, "must be a mapping with type");
    expect_error(UP EP_HEAD "    response: { schema: { a: {} } }\n", 6, 27, "must be a mapping with type");
    expect_error(UP EP_HEAD "    response: { schema: { a: { type: string, size: 3 } } }\n", 6, 46,
                 "unknown key 'size' in response schema 'a'");
    expect_error(UP EP_HEAD "    response: { schema: { a: { type: string }, a: { type: integer } } }\n", 6, 48,
                 "duplicate key 'a' in response schema entries");
    char yaml[1024], path[200] = "a";
    for (int i = 1; i < 33; i++)
        strcat(path, ".a");
    snprintf(yaml, sizeof(yaml), UP EP_HEAD "    response: { schema: { %s: { type: string } } }\n", path);
    expect_error(yaml, 6, 27, "deeper than 32 levels");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_connector_config_reads_back),
        cmocka_unit_test(connector_keys_are_optional),
        cmocka_unit_test(bad_public_urls),
        cmocka_unit_test(title_rules),
        cmocka_unit_test(description_rules),
        cmocka_unit_test(contact_and_urls),
        cmocka_unit_test(categories_and_colour),
        cmocka_unit_test(param_visibility_and_example),
        cmocka_unit_test(response_schema_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
