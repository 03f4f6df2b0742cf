/*
 * Unit tests for connector/lint: a connector package written here by hand
 * from Power Platform's rules passes with no finding; then each rule fires
 * on a copy broken in exactly one way, with the exact path, rule name and
 * severity, and nothing else fires. Hostile files (invalid JSON, too big,
 * a FIFO, a missing directory) give findings, never a crash or a hang.
 *
 * The JSON below is written with ' for " to stay readable; write_package()
 * turns every ' into ". Each case edits the valid package by replacing one
 * exact snippet (asserted to occur exactly once).
 */
#include "testutil.h"

#include "connector/lint.h"
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the valid package ---- */

#define SECURITY_DEF "'securityDefinitions': {'api_key': {'type': 'apiKey', 'in': 'header', 'name': 'X-Api-Key'}}"
#define API_KEY_SEC SECURITY_DEF ",\n 'security': [{'api_key': []}]"

static const char SWAGGER[] =
    "{\n"
    " 'swagger': '2.0',\n"
    " 'info': {\n"
    "  'title': 'Home Feed',\n"
    "  'description': 'The latest news, the next events and the vacation balance of one employee, in one call.',\n"
    "  'version': '1.0.0',\n"
    "  'contact': {'name': 'Platform team', 'email': 'platform@example.com', 'url': 'https://example.com/support'}\n"
    " },\n"
    " 'host': 'feed.example.com',\n"
    " 'basePath': '/',\n"
    " 'schemes': ['https'],\n"
    " 'produces': ['application/json'],\n"
    " 'paths': {\n"
    "  '/home': {\n"
    "   'get': {\n"
    "    'operationId': 'GetHome',\n"
    "    'summary': 'Get the home feed',\n"
    "    'description': 'Returns the latest news, the next events and the vacation balance.',\n"
    "    'parameters': [{'name': 'user', 'in': 'query', 'required': true, 'type': 'integer', "
    "'x-ms-summary': 'User', 'description': 'Employee id', 'x-ms-visibility': 'important'}],\n"
    "    'responses': {\n"
    "     '200': {'description': 'The home feed', 'schema': {'type': 'object', 'properties': {\n"
    "      'news': {'type': 'array', 'x-ms-summary': 'News', 'description': 'Latest news', "
    "'items': {'type': 'object', 'properties': {\n"
    "       'id': {'type': 'integer', 'x-ms-summary': 'ID', 'description': 'News id'},\n"
    "       'title': {'type': 'string', 'x-ms-summary': 'Title', 'description': 'Headline'}}}},\n"
    "      'cards': {'$ref': '#/definitions/Cards'}}}},\n"
    "     '400': {'description': 'A parameter is invalid'},\n"
    "     'default': {'description': 'An error'}\n"
    "    }\n"
    "   }\n"
    "  }\n"
    " },\n"
    " 'definitions': {\n"
    "  'Cards': {'type': 'object', 'title': 'Cards', 'description': 'Side cards', 'properties': {\n"
    "   'vacation': {'type': 'number', 'x-ms-summary': 'Vacation', 'description': 'Days left'}}}\n"
    " },\n"
    " " API_KEY_SEC ",\n"
    " 'x-ms-connector-metadata': [\n"
    "  {'propertyName': 'Website', 'propertyValue': 'https://example.com'},\n"
    "  {'propertyName': 'Privacy policy', 'propertyValue': 'https://example.com/privacy'},\n"
    "  {'propertyName': 'Categories', 'propertyValue': 'Data;Productivity'}\n"
    " ]\n"
    "}\n";

#define API_KEY_CP                                                                           \
    "{'api_key': {'type': 'securestring', 'uiDefinition': {'displayName': 'API key', "      \
    "'description': 'The key for this connection', 'tooltip': 'Provide your key', "          \
    "'constraints': {'tabIndex': 2, 'clearText': false, 'required': 'true'}}}}"

static const char PROPS[] =
    "{'properties': {'iconBrandColor': '#007ee5', 'capabilities': [], "
    "'connectionParameters': " API_KEY_CP "}}\n";

#define BASIC_SEC "'securityDefinitions': {'basic_auth': {'type': 'basic'}},\n 'security': [{'basic_auth': []}]"
#define OAUTH_DEF                                                                              \
    "'securityDefinitions': {'oauth2_auth': {'type': 'oauth2', 'flow': 'accessCode', "         \
    "'authorizationUrl': 'https://login.microsoftonline.com/common/oauth2/authorize', "        \
    "'tokenUrl': 'https://login.windows.net/common/oauth2/authorize', 'scopes': {}}}"
#define OAUTH_CP                                                                               \
    "{'token': {'type': 'oauthSetting', 'oAuthSettings': {'identityProvider': 'aad', "         \
    "'clientId': 'client', 'scopes': [], 'redirectMode': 'Global', "                           \
    "'redirectUrl': 'https://global.consent.azure-apim.net/redirect', "                         \
    "'properties': {'IsFirstParty': 'False'}, 'customParameters': {'resourceUri': {'value': 'api://medley'}}}}}"
#define OAUTH_SEC OAUTH_DEF ",\n 'security': [{'oauth2_auth': []}]"
/* An aad oauthSetting as the exporter writes it for a jwt provider
 * without connector.client_id; CLIENT and RESOURCE vary per case. */
#define AAD_CP(client, resource)                                                               \
    "{'token': {'type': 'oauthSetting', 'oAuthSettings': {'identityProvider': 'aad', "         \
    client "'scopes': ['api://medley/Feed.Read'], 'redirectMode': 'Global', "                   \
    "'redirectUrl': 'https://global.consent.azure-apim.net/redirect', "                         \
    "'properties': {'IsFirstParty': 'False'" resource "}}}}"
#define AAD_RESOURCE ", 'AzureActiveDirectoryResourceId': 'api://medley'"

/* A 32x32 PNG: signature and IHDR are all the lint reads. */
static const unsigned char PNG_32[] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
    0, 0, 0, 32, 0, 0, 0, 32, 8, 6, 0, 0, 0, 0x73, 0x7a, 0x7a, 0xf4,
};

enum icon { ICON_OK, ICON_NONE, ICON_GIF, ICON_WIDE };

/* ---- helpers ---- */

/* s with the one occurrence of `from` replaced by `to` (' -> " later). */
static char *subst(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    assert_null(strstr(at + 1, from)); /* exactly one: the edit is unambiguous */
    size_t n = strlen(s) - strlen(from) + strlen(to);
    char *r = malloc(n + 1);
    assert_non_null(r);
    size_t head = (size_t)(at - s);
    memcpy(r, s, head);
    strcpy(r + head, to);
    strcat(r, at + strlen(from));
    return r;
}

static void write_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_json(const char *dir, const char *name, const char *text)
{
    char *j = strdup(text);
    assert_non_null(j);
    for (char *p = j; *p; p++)
        if (*p == '\'')
            *p = '"';
    write_file(dir, name, j, strlen(j));
    free(j);
}

static void write_icon(const char *dir, enum icon icon)
{
    unsigned char png[sizeof(PNG_32)];
    memcpy(png, PNG_32, sizeof(png));
    if (icon == ICON_NONE)
        return;
    if (icon == ICON_GIF)
        memcpy(png, "GIF89a\x20\x00", 8);
    if (icon == ICON_WIDE)
        png[19] = 64; /* width 64, height 32 */
    write_file(dir, "icon.png", png, sizeof(png));
}

static char *make_dir(void)
{
    char *dir = strdup("/tmp/md-lint-XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir)
{
    static const char *const names[] = { "apiDefinition.swagger.json", "apiProperties.json", "icon.png" };
    char path[512];
    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

/* Output of one lint run. */
typedef struct run {
    int rc;
    md_lint_counts_t counts;
    char *out;
    unsigned lines;
} run_t;

static run_t lint_dir(const char *dir)
{
    run_t r;
    size_t len = 0;
    FILE *f = open_memstream(&r.out, &len);
    assert_non_null(f);
    r.rc = md_connector_lint_ex(dir, f, &r.counts);
    assert_int_equal(fclose(f), 0);
    r.lines = 0;
    for (const char *p = r.out; *p; p++)
        r.lines += *p == '\n';
    return r;
}

/* Whether some output line starts with `prefix`. */
static bool has_line(const run_t *r, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = r->out; *p;) {
        if (strncmp(p, prefix, n) == 0)
            return true;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return false;
}

/* ---- one broken package per case ---- */

typedef struct lint_case {
    const char *name;
    const char *sw_from, *sw_to;   /* edit of apiDefinition.swagger.json */
    const char *sw2_from, *sw2_to; /* a second edit, when one is not enough */
    const char *pr_from, *pr_to;   /* edit of apiProperties.json */
    enum icon icon;
    const char *expect; /* "PATH: RULE: SEVERITY:" that must be printed */
    unsigned errors, warnings;
} lint_case_t;

#define SW(f, t) .sw_from = (f), .sw_to = (t)
#define SW2(f, t) .sw2_from = (f), .sw2_to = (t)
#define PR(f, t) .pr_from = (f), .pr_to = (t)

static const lint_case_t cases[] = {
    /* info */
    { "title_with_api", SW("'Home Feed'", "'Home Feed API'"), .expect = "info.title: info-title-word: error:", .errors = 1 },
    { "title_with_connector", SW("'Home Feed'", "'Home Feed Connector'"), .expect = "info.title: info-title-word: error:", .errors = 1 },
    { "title_with_product_name", SW("'Home Feed'", "'Home Feed for Power Apps'"), .expect = "info.title: info-title-word: error:", .errors = 1 },
    { "title_word_needs_whole_word", SW("'Home Feed'", "'Rapid Feed'"), .errors = 0 },
    { "title_31_characters", SW("'Home Feed'", "'Company Home Feed And Calendars'"), .expect = "info.title: info-title-length: error:", .errors = 1 },
    { "title_30_characters_pass", SW("'Home Feed'", "'Company Home Feed And Calendar'"), .errors = 0 },
    { "title_counts_characters_not_bytes", SW("'Home Feed'", "'ÉéÉéÉéÉéÉéÉéÉéÉéÉéÉéÉéÉéÉéÉéÉé'"), .errors = 0 },
    { "title_independent_publisher_passes", SW("'Home Feed'", "'Feed (Independent Publisher)'"), .errors = 0 },
    { "title_trailing_punctuation", SW("'Home Feed'", "'Home Feed.'"), .expect = "info.title: info-title-end: error:", .errors = 1 },
    { "title_missing", SW("'title': 'Home Feed',", ""), .expect = "info.title: info-title: error:", .errors = 1 },
    { "description_too_short", SW("'The latest news, the next events and the vacation balance of one employee, in one call.'", "'Too short.'"),
      .expect = "info.description: info-description-length: error:", .errors = 1 },
    { "description_says_api", SW("balance of one employee", "balance of one employee through an API"),
      .expect = "info.description: info-description-word: error:", .errors = 1 },
    { "version_missing", SW("'version': '1.0.0',", ""), .expect = "info.version: info-version: error:", .errors = 1 },
    { "contact_missing", SW("'contact'", "'x-contact'"), .expect = "info.contact: info-contact: error:", .errors = 1 },
    { "contact_partial_warns", SW(", 'email': 'platform@example.com', 'url': 'https://example.com/support'", ""),
      .expect = "info.contact: info-contact: warning:", .warnings = 2 },
    { "contact_email_malformed", SW("'platform@example.com'", "'platform'"),
      .expect = "info.contact.email: info-contact: error:", .errors = 1 },
    { "contact_url_malformed", SW("'https://example.com/support'", "'example.com/support'"),
      .expect = "info.contact.url: info-contact: error:", .errors = 1 },
    /* top level */
    { "swagger_version", SW("'2.0'", "'3.0'"), .expect = "swagger: swagger-version: error:", .errors = 1 },
    { "host_with_scheme", SW("'feed.example.com'", "'https://feed.example.com'"), .expect = "host: host: error:", .errors = 1 },
    { "host_with_path", SW("'feed.example.com'", "'feed.example.com/api'"), .expect = "host: host: error:", .errors = 1 },
    { "host_with_port_passes", SW("'feed.example.com'", "'feed.example.com:8443'"), .errors = 0 },
    { "host_with_bad_port", SW("'feed.example.com'", "'feed.example.com:99999'"), .expect = "host: host: error:", .errors = 1 },
    { "host_missing", SW("'host': 'feed.example.com',", ""), .expect = "host: host: error:", .errors = 1 },
    { "base_path_without_slash", SW("'basePath': '/'", "'basePath': 'api'"), .expect = "basePath: base-path: error:", .errors = 1 },
    { "schemes_with_http", SW("['https']", "['http', 'https']"), .expect = "schemes: schemes: error:", .errors = 1 },
    { "metadata_without_categories", SW(",\n  {'propertyName': 'Categories', 'propertyValue': 'Data;Productivity'}", ""),
      .expect = "x-ms-connector-metadata: connector-metadata: error:", .errors = 1 },
    { "metadata_website_not_url", SW("'propertyValue': 'https://example.com'}", "'propertyValue': 'example.com'}"),
      .expect = "x-ms-connector-metadata: connector-metadata: error:", .errors = 1 },
    { "metadata_unknown_category_warns", SW("'Data;Productivity'", "'Data;Gadgets'"),
      .expect = "x-ms-connector-metadata: connector-metadata: warning:", .warnings = 1 },
    { "paths_key_without_slash", SW("'/home': {", "'home': {"), .expect = "paths.home: paths: error:", .errors = 2 },
    /* operations */
    { "summary_81_characters", SW("'Get the home feed'", "'Get the home feed with the latest news, the next events and the vacation balances'"),
      .expect = "paths./home.get.summary: summary-length: error:", .errors = 1 },
    { "summary_80_characters_pass", SW("'Get the home feed'", "'Get the home feed with the latest news, the next events and the vacation balance'"), .errors = 0 },
    { "summary_with_question_mark", SW("'Get the home feed'", "'Is the home feed ready? Yes'"),
      .expect = "paths./home.get.summary: summary-chars: error:", .errors = 1 },
    { "summary_with_slash", SW("'Get the home feed'", "'Get news/events'"), .expect = "paths./home.get.summary: summary-chars: error:", .errors = 1 },
    { "summary_trailing_period", SW("'Get the home feed'", "'Get the home feed.'"), .expect = "paths./home.get.summary: summary-end: error:", .errors = 1 },
    { "summary_lower_case", SW("'Get the home feed'", "'get the home feed'"), .expect = "paths./home.get.summary: summary-case: error:", .errors = 1 },
    { "summary_title_case_warns", SW("'Get the home feed'", "'Get Home Feed Today'"),
      .expect = "paths./home.get.summary: summary-case: warning:", .warnings = 1 },
    { "summary_missing", SW("'summary': 'Get the home feed',", ""), .expect = "paths./home.get.summary: summary: error:", .errors = 1 },
    { "description_equals_summary", SW("'Returns the latest news, the next events and the vacation balance.'", "'Get the home feed.'"),
      .expect = "paths./home.get.description: description-same-as-summary: error:", .errors = 1 },
    { "operation_description_missing", SW("'description': 'Returns the latest news, the next events and the vacation balance.',", ""),
      .expect = "paths./home.get.description: description: error:", .errors = 1 },
    { "operation_id_camel_case", SW("'GetHome'", "'getHome'"), .expect = "paths./home.get.operationId: operation-id-case: error:", .errors = 1 },
    { "operation_id_underscore", SW("'GetHome'", "'Get_Home'"), .expect = "paths./home.get.operationId: operation-id-case: error:", .errors = 1 },
    { "operation_id_missing", SW("'operationId': 'GetHome',", ""), .expect = "paths./home.get.operationId: operation-id: error:", .errors = 1 },
    { "operation_id_duplicate",
      SW("'paths': {", "'paths': {'/news': {'get': {'operationId': 'GetHome', 'summary': 'Get the news', "
                       "'description': 'The latest company news.', 'responses': {'204': {'description': 'Done'}, "
                       "'default': {'description': 'An error'}}}},"),
      .expect = "paths./home.get.operationId: operation-id-unique: error:", .errors = 1 },
    /* parameters */
    { "param_without_x_ms_summary", SW("'x-ms-summary': 'User', ", ""),
      .expect = "paths./home.get.parameters[0].x-ms-summary: param-summary: error:", .errors = 1 },
    { "param_without_description", SW("'description': 'Employee id', ", ""),
      .expect = "paths./home.get.parameters[0].description: param-description: error:", .errors = 1 },
    { "param_bad_visibility", SW("'important'", "'hidden'"),
      .expect = "paths./home.get.parameters[0].x-ms-visibility: param-visibility: error:", .errors = 1 },
    { "param_without_type", SW("'type': 'integer', 'x-ms-summary': 'User'", "'x-ms-summary': 'User'"),
      .expect = "paths./home.get.parameters[0]: param-type: error:", .errors = 1 },
    { "param_ref_unresolved", SW("[{'name': 'user'", "[{'$ref': '#/parameters/user'}, {'name': 'user'"),
      .expect = "paths./home.get.parameters[0]: param-ref: error:", .errors = 1 },
    { "param_ref_resolved_passes", SW("[{'name': 'user'", "[{'$ref': '#/parameters/limit'}, {'name': 'user'"),
      SW2(" 'definitions': {", " 'parameters': {'limit': {'name': 'limit', 'in': 'query', 'type': 'integer', "
                                "'x-ms-summary': 'Limit', 'description': 'At most this many'}},\n 'definitions': {"),
      .errors = 0 },
    /* responses */
    { "default_response_with_schema", SW("'default': {'description': 'An error'}", "'default': {'description': 'An error', 'schema': {'type': 'object'}}"),
      .expect = "paths./home.get.responses.default.schema: response-default-schema: error:", .errors = 1 },
    { "default_response_missing_warns", SW("'default': {'description': 'An error'}", "'404': {'description': 'Not found'}"),
      .expect = "paths./home.get.responses: response-default: warning:", .warnings = 1 },
    { "no_success_response", SW("'200': {", "'300': {"), .expect = "paths./home.get.responses: response-success: error:", .errors = 1 },
    { "success_response_without_schema", SW("'The home feed', 'schema'", "'The home feed', 'x-schema'"),
      .expect = "paths./home.get.responses.200.schema: response-schema: error:", .errors = 1 },
    { "response_without_description", SW("'400': {'description': 'A parameter is invalid'}", "'400': {}"),
      .expect = "paths./home.get.responses.400: response-description: error:", .errors = 1 },
    /* response schemas */
    { "property_without_type", SW("'id': {'type': 'integer', ", "'id': {"),
      .expect = "paths./home.get.responses.200.schema.properties.news.items.properties.id: schema-type: error:", .errors = 1 },
    { "property_without_x_ms_summary", SW("'x-ms-summary': 'ID', ", ""),
      .expect = "paths./home.get.responses.200.schema.properties.news.items.properties.id: schema-summary: error:", .errors = 1 },
    { "property_title_counts_as_summary", SW("'x-ms-summary': 'ID'", "'title': 'ID'"), .errors = 0 },
    { "property_without_description", SW("'description': 'News id'", "'x-description': 'News id'"),
      .expect = "paths./home.get.responses.200.schema.properties.news.items.properties.id: schema-description: error:", .errors = 1 },
    { "array_without_items", SW("'items':", "'x-items':"),
      .expect = "paths./home.get.responses.200.schema.properties.news.items: schema-type: error:", .errors = 1 },
    { "definition_checked_once_at_its_path", SW("'x-ms-summary': 'Vacation', ", ""),
      SW2("'cards': {'$ref': '#/definitions/Cards'}", "'cards': {'$ref': '#/definitions/Cards'}, 'more': {'$ref': '#/definitions/Cards'}"),
      .expect = "definitions.Cards.properties.vacation: schema-summary: error:", .errors = 1 },
    { "ref_to_missing_definition", SW("'#/definitions/Cards'", "'#/definitions/Nope'"),
      .expect = "paths./home.get.responses.200.schema.properties.cards: schema-ref: error:", .errors = 1 },
    { "ref_cycle_ends", SW("'vacation': {", "'self': {'$ref': '#/definitions/Cards'}, 'vacation': {"), .errors = 0 },
    /* security against apiProperties.json */
    { "api_key_without_securestring", PR(API_KEY_CP, "{}"),
      .expect = "apiProperties.json#properties.connectionParameters: security-match: error:", .errors = 1 },
    { "no_security_on_both_sides_passes", SW(API_KEY_SEC ",", ""), PR(API_KEY_CP, "{}"), .errors = 0 },
    { "no_security_but_connection_parameters", SW(API_KEY_SEC ",", ""),
      .expect = "apiProperties.json#properties.connectionParameters: security-match: error:", .errors = 1 },
    { "basic_with_username_password_passes", SW(API_KEY_SEC, BASIC_SEC),
      PR(API_KEY_CP, "{'username': {'type': 'securestring'}, 'password': {'type': 'securestring'}}"), .errors = 0 },
    { "basic_without_password", SW(API_KEY_SEC, BASIC_SEC),
      PR(API_KEY_CP, "{'username': {'type': 'string'}}"),
      .expect = "apiProperties.json#properties.connectionParameters: security-match: error:", .errors = 1 },
    { "oauth2_with_aad_passes", SW(API_KEY_SEC, OAUTH_SEC), PR(API_KEY_CP, OAUTH_CP), .errors = 0 },
    { "oauth2_not_aad", SW(API_KEY_SEC, OAUTH_SEC), PR(API_KEY_CP, "{'token': {'type': 'oauthSetting', 'oAuthSettings': {'identityProvider': 'oauth2'}}}"),
      .expect = "apiProperties.json#properties.connectionParameters: security-match: error:", .errors = 1 },
    { "oauth2_implicit_flow", SW(API_KEY_SEC, OAUTH_SEC), SW2("'accessCode'", "'implicit'"), PR(API_KEY_CP, OAUTH_CP),
      .expect = "securityDefinitions.oauth2_auth: security-definition: error:", .errors = 1 },
    { "two_security_definitions", SW("'X-Api-Key'}}", "'X-Api-Key'}, 'basic_auth': {'type': 'basic'}}"),
      .expect = "securityDefinitions: security-definition: error:", .errors = 1 },
    { "api_key_in_cookie", SW("'in': 'header'", "'in': 'cookie'"),
      .expect = "securityDefinitions.api_key: security-definition: error:", .errors = 1 },
    { "api_key_without_in", SW("'in': 'header', ", ""),
      .expect = "securityDefinitions.api_key: security-definition: error:", .errors = 1 },
    { "api_key_without_name", SW(", 'name': 'X-Api-Key'", ""),
      .expect = "securityDefinitions.api_key: security-definition: error:", .errors = 1 },
    { "api_key_in_query_passes", SW("'in': 'header', 'name': 'X-Api-Key'", "'in': 'query', 'name': 'api_key'"), .errors = 0 },
    { "security_type_unknown", SW("'type': 'apiKey'", "'type': 'mutualTLS'"),
      .expect = "securityDefinitions.api_key: security-definition: error:", .errors = 1 },
    { "oauth2_without_flow", SW(API_KEY_SEC, OAUTH_SEC), SW2("'flow': 'accessCode', ", ""), PR(API_KEY_CP, OAUTH_CP),
      .expect = "securityDefinitions.oauth2_auth: security-definition: error:", .errors = 1 },
    { "oauth2_without_token_url", SW(API_KEY_SEC, OAUTH_SEC),
      SW2(", 'tokenUrl': 'https://login.windows.net/common/oauth2/authorize'", ""), PR(API_KEY_CP, OAUTH_CP),
      .expect = "securityDefinitions.oauth2_auth: security-definition: error:", .errors = 1 },
    { "oauth2_without_authorization_url", SW(API_KEY_SEC, OAUTH_SEC),
      SW2("'authorizationUrl': 'https://login.microsoftonline.com/common/oauth2/authorize', ", ""), PR(API_KEY_CP, OAUTH_CP),
      .expect = "securityDefinitions.oauth2_auth: security-definition: error:", .errors = 1 },
    { "api_key_parameter_misnamed", PR("{'api_key': {", "{'key': {"),
      .expect = "apiProperties.json#properties.connectionParameters: security-match: error:", .errors = 1 },
    { "api_key_with_oauth_parameter", PR(API_KEY_CP, "{'api_key': {'type': 'securestring'}, 'token': {'type': 'oauthSetting', 'oAuthSettings': {'identityProvider': 'aad'}}}"),
      .expect = "apiProperties.json#properties.connectionParameters: security-match: error:", .errors = 1 },
    { "aad_with_resource_id_passes", SW(API_KEY_SEC, OAUTH_SEC), PR(API_KEY_CP, AAD_CP("'clientId': '0f1e2d3c-aaaa-bbbb-cccc-123456789abc', ", AAD_RESOURCE)),
      .errors = 0 },
    { "aad_without_resource", SW(API_KEY_SEC, OAUTH_SEC), PR(API_KEY_CP, AAD_CP("'clientId': 'client', ", "")),
      .expect = "apiProperties.json#properties.connectionParameters.token.oAuthSettings: security-oauth: error:", .errors = 1 },
    { "aad_client_id_placeholder_warns", SW(API_KEY_SEC, OAUTH_SEC),
      PR(API_KEY_CP, AAD_CP("'clientId': '[[REPLACE with your app client id]]', ", AAD_RESOURCE)),
      .expect = "apiProperties.json#properties.connectionParameters.token.oAuthSettings.clientId: security-client-id: warning:",
      .warnings = 1 },
    { "aad_without_client_id_warns", SW(API_KEY_SEC, OAUTH_SEC), PR(API_KEY_CP, AAD_CP("", AAD_RESOURCE)),
      .expect = "apiProperties.json#properties.connectionParameters.token.oAuthSettings.clientId: security-client-id: warning:",
      .warnings = 1 },
    { "requirement_names_undefined_scheme", SW("[{'api_key': []}]", "[{'apikey': []}]"),
      .expect = "security[0]: security-requirement: error:", .errors = 1 },
    { "requirement_not_a_list", SW("'security': [{'api_key': []}]", "'security': {'api_key': []}"),
      .expect = "security: security-requirement: error:", .errors = 1 },
    { "requirement_scopes_not_a_list", SW("[{'api_key': []}]", "[{'api_key': 'all'}]"),
      .expect = "security[0]: security-requirement: error:", .errors = 1 },
    { "requirement_entry_not_an_object", SW("[{'api_key': []}]", "['api_key']"),
      .expect = "security[0]: security-requirement: error:", .errors = 1 },
    { "open_operation_passes", SW("'operationId': 'GetHome',", "'operationId': 'GetHome', 'security': [],"), .errors = 0 },
    { "operation_requires_undefined_scheme", SW("'operationId': 'GetHome',", "'operationId': 'GetHome', 'security': [{'basic_auth': []}],"),
      .expect = "paths./home.get.security[0]: security-requirement: error:", .errors = 1 },
    /* apiProperties.json */
    { "brand_colour_name", PR("'#007ee5'", "'blue'"), .expect = "apiProperties.json#properties.iconBrandColor: icon-brand-color: error:", .errors = 1 },
    { "brand_colour_short", PR("'#007ee5'", "'#007ee'"), .expect = "apiProperties.json#properties.iconBrandColor: icon-brand-color: error:", .errors = 1 },
    { "brand_colour_white_warns", PR("'#007ee5'", "'#FFFFFF'"),
      .expect = "apiProperties.json#properties.iconBrandColor: icon-brand-color: warning:", .warnings = 1 },
    { "properties_missing", PR("{'properties'", "{'x-properties'"), .expect = "apiProperties.json#properties: properties: error:", .errors = 1 },
    { "connection_parameter_bad_type", PR("'securestring'", "'password'"),
      .expect = "apiProperties.json#properties.connectionParameters.api_key: connection-parameter: error:", .errors = 2 },
    /* files */
    { "swagger_invalid_json", SW("'swagger': '2.0',", "'swagger': '2.0',,"),
      .expect = "apiDefinition.swagger.json: json-invalid: error: invalid JSON at byte", .errors = 1 },
    { "properties_invalid_json", PR("{'properties'", "{properties"), .expect = "apiProperties.json: json-invalid: error:", .errors = 1 },
    { "swagger_not_an_object", SW(NULL, "[1, 2]"), .expect = "apiDefinition.swagger.json: json-not-object: error:", .errors = 1 },
    { "swagger_empty_file", SW(NULL, ""), .expect = "apiDefinition.swagger.json: json-invalid: error:", .errors = 1 },
    { "icon_missing", .icon = ICON_NONE, .expect = "icon.png: file-missing: error:", .errors = 1 },
    { "icon_not_png", .icon = ICON_GIF, .expect = "icon.png: icon-png: error:", .errors = 1 },
    { "icon_not_square_warns", .icon = ICON_WIDE, .expect = "icon.png: icon-square: warning:", .warnings = 1 },
    /* hostile text stays on one line */
    { "control_bytes_print_as_question_marks", SW("'/home': {", "'/ho\\nme': {"), SW2("'Get the home feed'", "'get the home feed'"),
      .expect = "paths./ho?me.get.summary: summary-case: error:", .errors = 1 },
};

static void run_case(void **state)
{
    const lint_case_t *c = *state;
    char *dir = make_dir();
    char *sw = c->sw_from ? subst(SWAGGER, c->sw_from, c->sw_to) : strdup(c->sw_to ? c->sw_to : SWAGGER);
    if (c->sw2_from) {
        char *t = subst(sw, c->sw2_from, c->sw2_to);
        free(sw);
        sw = t;
    }
    char *pr = c->pr_from ? subst(PROPS, c->pr_from, c->pr_to) : strdup(PROPS);
    write_json(dir, "apiDefinition.swagger.json", sw);
    write_json(dir, "apiProperties.json", pr);
    write_icon(dir, c->icon);

    run_t r = lint_dir(dir);
    if (c->expect && !has_line(&r, c->expect))
        fail_msg("%s: no line starting with \"%s\" in:\n%s", c->name, c->expect, r.out);
    if (r.counts.errors != c->errors || r.counts.warnings != c->warnings)
        fail_msg("%s: %u errors, %u warnings (expected %u, %u):\n%s", c->name, r.counts.errors,
                 r.counts.warnings, c->errors, c->warnings, r.out);
    assert_int_equal(r.rc, c->errors);
    assert_int_equal(r.lines, c->errors + c->warnings); /* one line per finding */

    free(r.out);
    free(sw);
    free(pr);
    remove_dir(dir);
}

/* ---- whole-package and hostile-input tests ---- */

static void valid_package_has_no_findings(void **state)
{
    (void)state;
    char *dir = make_dir();
    write_json(dir, "apiDefinition.swagger.json", SWAGGER);
    write_json(dir, "apiProperties.json", PROPS);
    write_icon(dir, ICON_OK);
    run_t r = lint_dir(dir);
    assert_string_equal(r.out, "");
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.counts.errors, 0);
    assert_int_equal(r.counts.warnings, 0);
    assert_int_equal(md_connector_lint(dir, stderr), 0);
    free(r.out);
    remove_dir(dir);
}

static void missing_directory_reports_each_file(void **state)
{
    (void)state;
    run_t r = lint_dir("/nonexistent/medley-lint-test");
    assert_int_equal(r.rc, 3);
    assert_int_equal(r.lines, 3);
    assert_true(has_line(&r, "apiDefinition.swagger.json: file-missing: error: cannot open"));
    assert_true(has_line(&r, "apiProperties.json: file-missing: error: cannot open"));
    assert_true(has_line(&r, "icon.png: file-missing: error: cannot open"));
    free(r.out);
}

static void null_arguments_are_einval(void **state)
{
    (void)state;
    assert_int_equal(md_connector_lint(NULL, stdout), MD_EINVAL);
    assert_int_equal(md_connector_lint("/tmp", NULL), MD_EINVAL);
}

/* A FIFO under a package name would block a plain open() forever. */
static void fifo_is_refused_without_hanging(void **state)
{
    (void)state;
    char *dir = make_dir();
    write_json(dir, "apiDefinition.swagger.json", SWAGGER);
    write_icon(dir, ICON_OK);
    char path[512];
    snprintf(path, sizeof(path), "%s/apiProperties.json", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    run_t r = lint_dir(dir);
    assert_true(has_line(&r, "apiProperties.json: file-missing: error:"));
    assert_non_null(strstr(r.out, "not a regular file"));
    assert_int_equal(r.rc, 1); /* security is not compared without the file */
    free(r.out);
    remove_dir(dir);
}

static void oversized_file_is_refused(void **state)
{
    (void)state;
    char *dir = make_dir();
    size_t n = MD_LINT_MAX_FILE_BYTES + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    write_file(dir, "apiDefinition.swagger.json", big, n);
    write_json(dir, "apiProperties.json", PROPS);
    write_icon(dir, ICON_OK);
    run_t r = lint_dir(dir);
    assert_true(has_line(&r, "apiDefinition.swagger.json: file-too-big: error:"));
    assert_int_equal(r.rc, 1);
    free(r.out);
    free(big);
    remove_dir(dir);
}

static void too_many_values_are_refused(void **state)
{
    (void)state;
    char *dir = make_dir();
    size_t count = MD_LINT_MAX_TOKENS + 10, n = 2 * count + 1;
    char *doc = malloc(n + 1);
    assert_non_null(doc);
    for (size_t i = 0; i < count; i++)
        memcpy(doc + 2 * i, i ? ",0" : "[0", 2);
    strcpy(doc + 2 * count, "]");
    write_file(dir, "apiDefinition.swagger.json", doc, n);
    write_json(dir, "apiProperties.json", PROPS);
    write_icon(dir, ICON_OK);
    run_t r = lint_dir(dir);
    assert_true(has_line(&r, "apiDefinition.swagger.json: file-too-big: error: more than"));
    assert_int_equal(r.rc, 1);
    free(r.out);
    free(doc);
    remove_dir(dir);
}

/* Array items nested past MD_LINT_MAX_SCHEMA_DEPTH: the walk stops. */
static void deep_schema_stops(void **state)
{
    (void)state;
    enum { LEVELS = MD_LINT_MAX_SCHEMA_DEPTH + 5 };
    static const char open[] = "{'type': 'array', 'items': ";
    char to[LEVELS * sizeof(open) + 64] = "'schema': ";
    for (int i = 0; i < LEVELS; i++)
        strcat(to, open);
    strcat(to, "{'type': 'string'}");
    for (int i = 0; i <= LEVELS; i++)
        strcat(to, "}");
    const char *from = "'schema': {'type': 'object', 'properties': {\n"
                       "      'news': {'type': 'array', 'x-ms-summary': 'News', 'description': 'Latest news', "
                       "'items': {'type': 'object', 'properties': {\n"
                       "       'id': {'type': 'integer', 'x-ms-summary': 'ID', 'description': 'News id'},\n"
                       "       'title': {'type': 'string', 'x-ms-summary': 'Title', 'description': 'Headline'}}}},\n"
                       "      'cards': {'$ref': '#/definitions/Cards'}}}}";
    char *sw = subst(SWAGGER, from, to);
    char *dir = make_dir();
    write_json(dir, "apiDefinition.swagger.json", sw);
    write_json(dir, "apiProperties.json", PROPS);
    write_icon(dir, ICON_OK);
    run_t r = lint_dir(dir);
    assert_non_null(strstr(r.out, ": schema-depth: error:"));
    assert_int_equal(r.rc, 1);
    free(r.out);
    free(sw);
    remove_dir(dir);
}

/* A chain of definitions longer than MD_LINT_MAX_SCHEMA_DEPTH, each
 * pointing at the next and the last at the first: each is walked once at
 * its own depth, so the chain is neither too deep nor endless. */
static void long_ref_chain_is_fine(void **state)
{
    (void)state;
    enum { N = MD_LINT_MAX_SCHEMA_DEPTH * 2 };
    char *defs = malloc((size_t)N * 256 + 64);
    assert_non_null(defs);
    size_t len = (size_t)sprintf(defs, " 'definitions': {");
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(defs + len,
                               "%s'D%d': {'type': 'object', 'title': 'D', 'description': 'A link', 'properties': {"
                               "'next': {'$ref': '#/definitions/D%d'}}}",
                               i ? ", " : "", i, (i + 1) % N);
    strcpy(defs + len, "},\n 'unused': {");
    char *sw = subst(SWAGGER, " 'definitions': {", defs);
    char *sw2 = subst(sw, "'#/definitions/Cards'", "'#/definitions/D0'");
    char *dir = make_dir();
    write_json(dir, "apiDefinition.swagger.json", sw2);
    write_json(dir, "apiProperties.json", PROPS);
    write_icon(dir, ICON_OK);
    run_t r = lint_dir(dir);
    assert_string_equal(r.out, "");
    assert_int_equal(r.rc, 0);
    free(r.out);
    free(sw2);
    free(sw);
    free(defs);
    remove_dir(dir);
}

/* Thousands of $refs into a huge #/definitions: each lookup walks every
 * definition, so without the work budget this would run for minutes. */
static void quadratic_refs_are_cut_short(void **state)
{
    (void)state;
    enum { N = 60000 };
    size_t cap = (size_t)N * 64 + 1024, len = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    len += (size_t)snprintf(doc + len, cap - len, "{\"definitions\": {");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s\"d%d\": {}", i ? "," : "", i);
    len += (size_t)snprintf(doc + len, cap - len, "}, \"paths\": {\"/x\": {\"get\": {\"responses\": {\"200\": "
                                                  "{\"description\": \"ok\", \"schema\": {\"type\": \"object\", \"properties\": {");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s\"p%d\": {\"$ref\": \"#/definitions/d%d\"}", i ? "," : "", i,
                                N - 1);
    len += (size_t)snprintf(doc + len, cap - len, "}}}}}}}}");
    assert_true(len < MD_LINT_MAX_FILE_BYTES);
    char *dir = make_dir();
    write_file(dir, "apiDefinition.swagger.json", doc, len);
    write_json(dir, "apiProperties.json", PROPS);
    write_icon(dir, ICON_OK);
    run_t r = lint_dir(dir);
    assert_true(has_line(&r, "apiDefinition.swagger.json: file-too-big: error: too complex to check"));
    assert_true(r.rc >= 1);
    free(r.out);
    free(doc);
    remove_dir(dir);
}

/* 1100 operations missing everything: the operation cap and the output
 * cap both hold, and every error is still counted. */
static void findings_and_operations_are_capped(void **state)
{
    (void)state;
    enum { OPS = MD_LINT_MAX_OPERATIONS + 76 };
    size_t cap = (size_t)OPS * 40 + 256, len = 0;
    char *paths = malloc(cap);
    assert_non_null(paths);
    len += (size_t)snprintf(paths, cap, "'paths': {");
    for (int i = 0; i < OPS; i++)
        len += (size_t)snprintf(paths + len, cap - len, "%s'/p%d': {'get': {}}", i ? ", " : "", i);
    snprintf(paths + len, cap - len, "}, 'x-old-paths': {");
    char *sw = subst(SWAGGER, "'paths': {", paths);
    char *dir = make_dir();
    write_json(dir, "apiDefinition.swagger.json", sw);
    write_json(dir, "apiProperties.json", PROPS);
    write_icon(dir, ICON_OK);
    run_t r = lint_dir(dir);
    /* per checked operation: operationId, summary, description, responses */
    unsigned expected = MD_LINT_MAX_OPERATIONS * 4 + (OPS - MD_LINT_MAX_OPERATIONS);
    assert_int_equal(r.counts.errors, expected);
    assert_int_equal(r.rc, expected);
    assert_int_equal(r.lines, MD_LINT_MAX_FINDINGS + 1);
    char note[128];
    snprintf(note, sizeof(note), ": findings-limit: note: %u more findings not shown\n",
             expected + r.counts.warnings - MD_LINT_MAX_FINDINGS);
    assert_non_null(strstr(r.out, note));
    free(r.out);
    free(sw);
    free(paths);
    remove_dir(dir);
}

int main(void)
{
    static struct CMUnitTest tests[MD_ARRAY_LEN(cases) + 10] = {
        cmocka_unit_test(valid_package_has_no_findings),
        cmocka_unit_test(missing_directory_reports_each_file),
        cmocka_unit_test(null_arguments_are_einval),
        cmocka_unit_test(fifo_is_refused_without_hanging),
        cmocka_unit_test(oversized_file_is_refused),
        cmocka_unit_test(too_many_values_are_refused),
        cmocka_unit_test(deep_schema_stops),
        cmocka_unit_test(findings_and_operations_are_capped),
        cmocka_unit_test(quadratic_refs_are_cut_short),
        cmocka_unit_test(long_ref_chain_is_fine),
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++)
        tests[10 + i] = (struct CMUnitTest){ cases[i].name, run_case, NULL, NULL, (void *)&cases[i] };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
