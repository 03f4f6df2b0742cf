/*
 * Unit tests for connector/security: what the export writes for each kind
 * of inbound authentication, in both files of the package.
 *
 * Each config is exported with md_swagger_build and
 * md_connector_api_properties; the securityDefinitions, security and
 * connectionParameters members are compared, whitespace aside, with JSON
 * written here by hand from security.h, the Swagger 2.0 spec and the
 * shapes the Power Platform maker portal generates (Microsoft's
 * PowerPlatformConnectors schemas). ' stands for " in the expectations.
 * Then the error paths (two providers, too many scopes, bad `connector:`
 * keys), and a round trip: every exported kind passes md_connector_lint.
 */
#include "testutil.h"

#include "config/config.h"
#include "connector/lint.h"
#include "connector/package.h"
#include "connector/security.h"
#include "connector/swagger.h"
#include "core/common.h"
#include "json/scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD                                                                                   \
    "public_url: https://medley.contoso.example\n"                                             \
    "connector:\n"                                                                             \
    "  title: Contoso Home Feed\n"                                                             \
    "  description: One call for the home screen of the Contoso employee app.\n"               \
    "  contact: { name: Platform team, email: platform@example.com, url: \"https://example.com\" }\n" \
    "  website: https://example.com\n"                                                         \
    "  privacy_policy: https://example.com/privacy\n"                                          \
    "  categories: [Data]\n"                                                                   \
    "upstreams:\n"                                                                             \
    "  hr: { url: \"http://127.0.0.1:9002\" }\n"

#define KEYS "keys: { flow: \"0123456789abcdef0123\" }"
#define ISSUER "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"

/* An endpoint at `path` with the given extra line (e.g. an auth:). */
#define EP(path, extra)                                                                        \
    "  - path: " path "\n"                                                                     \
    "    summary: Get it\n"                                                                    \
    "    description: Returns what hr says about it.\n"                                        \
    extra                                                                                      \
    "    backends: [ { upstream: hr, path: /x } ]\n"

/* The two files of one export, scanned. */
typedef struct out {
    md_config_t *cfg;
    md_buf_t def, props;
    md_json_toks_t dt, pt;
    uint32_t droot, proot;
} out_t;

static md_config_t *load(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "s.yaml", &d);
    if (!cfg)
        fail_msg("config did not load: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

static void export(out_t *o, const char *yaml)
{
    memset(o, 0, sizeof(*o));
    o->cfg = load(yaml);
    md_diag_t diag;
    if (md_swagger_build(o->cfg, NULL, &o->def, &diag) != MD_OK)
        fail_msg("build failed: %d:%d: %s", diag.line, diag.col, diag.msg);
    assert_int_equal(md_connector_api_properties(o->cfg, &o->props), MD_OK);
    char err[128];
    md_json_toks_init(&o->dt, 0);
    md_json_toks_init(&o->pt, 0);
    assert_int_equal(md_json_scan(&o->dt, o->def.data, o->def.len, &o->droot, err, sizeof(err)), MD_OK);
    assert_int_equal(md_json_scan(&o->pt, o->props.data, o->props.len, &o->proot, err, sizeof(err)), MD_OK);
}

static void done(out_t *o)
{
    md_json_toks_free(&o->dt);
    md_json_toks_free(&o->pt);
    md_buf_free(&o->def);
    md_buf_free(&o->props);
    md_config_free(o->cfg);
}

/* The token at a path of keys (NULL-terminated) from root. */
static uint32_t vfind(const char *json, const md_json_toks_t *t, uint32_t root, va_list ap)
{
    uint32_t at = root;
    const char *k;
    while ((k = va_arg(ap, const char *)) && at != MD_JSON_NONE)
        at = md_json_member(json, t->v, at, k, strlen(k));
    return at;
}

static uint32_t find_def(const out_t *o, ...)
{
    va_list ap;
    va_start(ap, o);
    uint32_t t = vfind(o->def.data, &o->dt, o->droot, ap);
    va_end(ap);
    return t;
}

/* json[0..n) without whitespace outside strings. */
static char *compact(const char *json, size_t n)
{
    char *r = malloc(n + 1);
    assert_non_null(r);
    size_t k = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        char c = json[i];
        if (in && c == '\\' && i + 1 < n) {
            r[k++] = c;
            r[k++] = json[++i];
            continue;
        }
        if (c == '"')
            in = !in;
        if (in || !strchr(" \n\t\r", c))
            r[k++] = c;
    }
    r[k] = '\0';
    return r;
}

/* Asserts the value at the path equals `want` (' for "), whitespace aside. */
static void vexpect(const char *json, const md_json_toks_t *t, uint32_t root, const char *want, va_list ap)
{
    uint32_t at = vfind(json, t, root, ap);
    char *w = strdup(want);
    assert_non_null(w);
    for (char *p = w; *p; p++)
        if (*p == '\'')
            *p = '"';
    if (at == MD_JSON_NONE)
        fail_msg("no value where %s was expected", w);
    char *got = compact(json + t->v[at].off, t->v[at].len);
    if (strcmp(got, w) != 0)
        fail_msg("expected\n  %s\ngot\n  %s", w, got);
    free(got);
    free(w);
}

static void expect_def(const out_t *o, const char *want, ...)
{
    va_list ap;
    va_start(ap, want);
    vexpect(o->def.data, &o->dt, o->droot, want, ap);
    va_end(ap);
}

static void expect_props(const out_t *o, const char *want, ...)
{
    va_list ap;
    va_start(ap, want);
    vexpect(o->props.data, &o->pt, o->proot, want, ap);
    va_end(ap);
}

#define OP(path) "paths", path, "get"

/* ---- one test per kind ---- */

static void no_auth_writes_empty_shapes(void **state)
{
    (void)state;
    out_t o;
    export(&o, HEAD "endpoints:\n" EP("/a", ""));
    expect_def(&o, "{}", "securityDefinitions", NULL);
    assert_int_equal(find_def(&o, "security", NULL), MD_JSON_NONE);
    assert_int_equal(find_def(&o, OP("/a"), "security", NULL), MD_JSON_NONE);
    expect_props(&o, "{}", "properties", "connectionParameters", NULL);
    done(&o);
}

static void api_key_in_a_header(void **state)
{
    (void)state;
    out_t o;
    export(&o, HEAD "auth:\n  default: apps\n  providers:\n    apps: { type: api_key, " KEYS " }\n"
                    "endpoints:\n" EP("/a", ""));
    expect_def(&o, "{'api_key':{'type':'apiKey','in':'header','name':'X-Api-Key'}}", "securityDefinitions", NULL);
    expect_def(&o, "[{'api_key':[]}]", "security", NULL);
    assert_int_equal(find_def(&o, OP("/a"), "security", NULL), MD_JSON_NONE); /* the top level applies */
    expect_props(&o,
                 "{'api_key':{'type':'securestring','uiDefinition':{'displayName':'API Key',"
                 "'description':'The API Key for this api','tooltip':'Provide your API Key',"
                 "'constraints':{'tabIndex':2,'clearText':false,'required':'true'}}}}",
                 "properties", "connectionParameters", NULL);
    done(&o);
}

static void api_key_in_a_named_header_or_the_query(void **state)
{
    (void)state;
    out_t o;
    export(&o, HEAD "auth:\n  providers:\n    apps: { type: api_key, header: X-Feed-Key, " KEYS " }\n"
                    "endpoints:\n" EP("/a", "    auth: apps\n"));
    expect_def(&o, "{'api_key':{'type':'apiKey','in':'header','name':'X-Feed-Key'}}", "securityDefinitions", NULL);
    done(&o);
    export(&o, HEAD "auth:\n  providers:\n    apps: { type: api_key, query: code, " KEYS " }\n"
                    "endpoints:\n" EP("/a", "    auth: apps\n"));
    expect_def(&o, "{'api_key':{'type':'apiKey','in':'query','name':'code'}}", "securityDefinitions", NULL);
    expect_def(&o, "[{'api_key':[]}]", "security", NULL);
    done(&o);
}

static void basic_users(void **state)
{
    (void)state;
    out_t o;
    export(&o, HEAD "auth:\n  providers:\n    staff: { type: basic, file: /etc/medley/users }\n"
                    "endpoints:\n" EP("/a", "    auth: staff\n"));
    expect_def(&o, "{'basic_auth':{'type':'basic'}}", "securityDefinitions", NULL);
    expect_def(&o, "[{'basic_auth':[]}]", "security", NULL);
    expect_props(&o,
                 "{'username':{'type':'securestring','uiDefinition':{'displayName':'username',"
                 "'description':'The username for this api','tooltip':'Provide the username',"
                 "'constraints':{'tabIndex':2,'clearText':true,'required':'true'}}},"
                 "'password':{'type':'securestring','uiDefinition':{'displayName':'password',"
                 "'description':'The password for this api','tooltip':'Provide the password',"
                 "'constraints':{'tabIndex':3,'clearText':false,'required':'true'}}}}",
                 "properties", "connectionParameters", NULL);
    done(&o);
}

#define OAUTH_DEF                                                                              \
    "{'oauth2_auth':{'type':'oauth2','flow':'accessCode',"                                     \
    "'authorizationUrl':'https://login.microsoftonline.com/common/oauth2/authorize',"          \
    "'tokenUrl':'https://login.windows.net/common/oauth2/authorize','scopes':{}}}"

static void jwt_as_entra_id_with_placeholder_client(void **state)
{
    (void)state;
    out_t o;
    export(&o, HEAD "auth:\n  default: entra\n  providers:\n"
                    "    entra: { type: jwt, issuer: \"" ISSUER "\", audience: [ \"api://medley\", \"other\" ], "
                    "jwks_file: /etc/jwks.json }\n"
                    "endpoints:\n"
                    EP("/a", "    auth: { provider: entra, scopes: [ Feed.Read ] }\n")
                    EP("/b", "    auth: { provider: entra, scopes: [ Feed.Read, Feed.Write ], roles: [ Admin ] }\n")
                    EP("/c", ""));
    expect_def(&o, OAUTH_DEF, "securityDefinitions", NULL);
    expect_def(&o, "[{'oauth2_auth':[]}]", "security", NULL);
    /* Scopes once each, qualified by the resource (the first audience);
     * roles are not requested; the tenant comes from the issuer. */
    expect_props(&o,
                 "{'token':{'type':'oauthSetting','oAuthSettings':{'identityProvider':'aad',"
                 "'clientId':'[[REPLACE with your app client id]]',"
                 "'scopes':['api://medley/Feed.Read','api://medley/Feed.Write'],"
                 "'redirectMode':'Global','redirectUrl':'https://global.consent.azure-apim.net/redirect',"
                 "'properties':{'IsFirstParty':'False','AzureActiveDirectoryResourceId':'api://medley'},"
                 "'customParameters':{'loginUri':{'value':'https://login.windows.net'},"
                 "'tenantId':{'value':'72f988bf-86f1-41af-91ab-2d7cd011db47'},"
                 "'resourceUri':{'value':'api://medley'}}}}}",
                 "properties", "connectionParameters", NULL);
    done(&o);
}

static void jwt_connector_knob_sets_client_and_resource(void **state)
{
    (void)state;
    out_t o;
    export(&o, HEAD "auth:\n  providers:\n"
                    "    entra:\n      type: jwt\n      issuer: https://issuer.example/v2.0\n"
                    "      audience: 0f1e2d3c-aaaa-bbbb-cccc-123456789abc\n      jwks_file: /etc/jwks.json\n"
                    "      connector: { client_id: 11112222-3333-4444-5555-666677778888, resource: \"https://feed.example/\" }\n"
                    "endpoints:\n"
                    EP("/a", "    auth: { provider: entra, scopes: [ Feed.Read, \"https://other.example/All\" ] }\n"));
    expect_props(&o, "'11112222-3333-4444-5555-666677778888'",
                 "properties", "connectionParameters", "token", "oAuthSettings", "clientId", NULL);
    expect_props(&o, "['https://feed.example/Feed.Read','https://other.example/All']",
                 "properties", "connectionParameters", "token", "oAuthSettings", "scopes", NULL);
    expect_props(&o, "{'IsFirstParty':'False','AzureActiveDirectoryResourceId':'https://feed.example/'}",
                 "properties", "connectionParameters", "token", "oAuthSettings", "properties", NULL);
    /* Not a Microsoft issuer: any tenant. */
    expect_props(&o, "{'value':'common'}",
                 "properties", "connectionParameters", "token", "oAuthSettings", "customParameters", "tenantId", NULL);
    done(&o);
}

static void open_endpoints_get_an_empty_requirement(void **state)
{
    (void)state;
    out_t o;
    /* Default authenticated, one endpoint opted out. */
    export(&o, HEAD "auth:\n  default: apps\n  providers:\n    apps: { type: api_key, " KEYS " }\n"
                    "endpoints:\n" EP("/a", "") EP("/health", "    auth: none\n"));
    expect_def(&o, "[{'api_key':[]}]", "security", NULL);
    assert_int_equal(find_def(&o, OP("/a"), "security", NULL), MD_JSON_NONE);
    expect_def(&o, "[]", OP("/health"), "security", NULL);
    done(&o);
    /* Default open, one endpoint protected: the connector still has one
     * authentication, and the open ones say so. */
    export(&o, HEAD "auth:\n  providers:\n    apps: { type: api_key, " KEYS " }\n"
                    "endpoints:\n" EP("/a", "") EP("/b", "    auth: apps\n"));
    expect_def(&o, "[{'api_key':[]}]", "security", NULL);
    expect_def(&o, "[]", OP("/a"), "security", NULL);
    assert_int_equal(find_def(&o, OP("/b"), "security", NULL), MD_JSON_NONE);
    done(&o);
}

static void an_unused_default_is_no_authentication(void **state)
{
    (void)state;
    out_t o;
    export(&o, HEAD "auth:\n  default: apps\n  providers:\n    apps: { type: api_key, " KEYS " }\n"
                    "endpoints:\n" EP("/a", "    auth: none\n"));
    expect_def(&o, "{}", "securityDefinitions", NULL);
    assert_int_equal(find_def(&o, "security", NULL), MD_JSON_NONE);
    assert_int_equal(find_def(&o, OP("/a"), "security", NULL), MD_JSON_NONE);
    expect_props(&o, "{}", "properties", "connectionParameters", NULL);
    done(&o);
}

/* ---- errors ---- */

static void build_fails(const char *yaml, md_diag_t *diag)
{
    md_config_t *cfg = load(yaml);
    md_buf_t b, p;
    assert_int_equal(md_swagger_build(cfg, NULL, &b, diag), MD_EINVAL);
    assert_int_equal(md_connector_api_properties(cfg, &p), MD_EINVAL);
    md_conn_auth_t a;
    assert_int_equal(md_conn_auth_from_config(cfg, &a, NULL), MD_EINVAL); /* NULL diag is fine */
    assert_int_equal(a.kind, MD_CONN_AUTH_NONE);
    md_buf_free(&b);
    md_buf_free(&p);
    md_config_free(cfg);
}

#define TWO_PROVIDERS                                                                          \
    HEAD "auth:\n  providers:\n    apps: { type: api_key, " KEYS " }\n"                         \
    "    staff: { type: basic, file: /etc/medley/users }\n"

static void two_providers_are_refused_naming_the_endpoints(void **state)
{
    (void)state;
    md_diag_t d;
    build_fails(TWO_PROVIDERS "endpoints:\n" EP("/a", "    auth: apps\n") EP("/open", "")
                              EP("/b", "    auth: staff\n"), &d);
    assert_string_equal(d.file, "s.yaml");
    assert_int_equal(d.line, 28); /* the `auth:` of /b */
    assert_int_equal(d.col, 5);
    assert_non_null(strstr(d.msg, "exactly one connection authentication"));
    assert_non_null(strstr(d.msg, "GET /a uses auth provider 'apps' (api_key)"));
    assert_non_null(strstr(d.msg, "GET /b ('staff', basic)"));
    assert_null(strstr(d.msg, "/open"));
}

static void many_differing_endpoints_are_counted(void **state)
{
    (void)state;
    md_diag_t d;
    build_fails(TWO_PROVIDERS "endpoints:\n" EP("/a", "    auth: apps\n") EP("/b1", "    auth: staff\n")
                    EP("/b2", "    auth: staff\n") EP("/b3", "    auth: staff\n") EP("/b4", "    auth: staff\n")
                    EP("/b5", "    auth: staff\n") EP("/b6", "    auth: staff\n"), &d);
    assert_non_null(strstr(d.msg, "GET /b4 ('staff', basic)"));
    assert_null(strstr(d.msg, "/b5"));
    assert_non_null(strstr(d.msg, " and 2 more"));
}

static void two_providers_of_one_type_are_two(void **state)
{
    (void)state;
    md_diag_t d;
    build_fails(HEAD "auth:\n  providers:\n    apps: { type: api_key, " KEYS " }\n"
                "    more: { type: api_key, keys: { x: \"abcdefabcdefabcdefab\" } }\n"
                "endpoints:\n" EP("/a", "    auth: apps\n") EP("/b", "    auth: more\n"), &d);
    assert_non_null(strstr(d.msg, "GET /b ('more', api_key)"));
}

static void too_many_scopes_are_refused(void **state)
{
    (void)state;
    char yaml[8192];
    size_t n = (size_t)snprintf(yaml, sizeof(yaml), "%s", HEAD "auth:\n  providers:\n    entra: { type: jwt, "
                                "issuer: \"" ISSUER "\", audience: api://m, jwks_file: /j }\nendpoints:\n");
    for (int i = 0; i < 3; i++) /* 3 x 16 = 48 distinct scopes > 32 */
        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "  - path: /e%d\n    auth: { provider: entra, scopes: "
                              "[ a%d, b%d, c%d, d%d, e%d, f%d, g%d, h%d, i%d, j%d, k%d, l%d, m%d, n%d, o%d, p%d ] }\n"
                              "    backends: [ { upstream: hr, path: /x } ]\n",
                              i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i, i);
    assert_true(n < sizeof(yaml));
    md_diag_t d;
    build_fails(yaml, &d);
    assert_non_null(strstr(d.msg, "more than 32 distinct scopes"));
}

static void repeated_scopes_count_once(void **state)
{
    (void)state;
    char yaml[16384];
    size_t n = (size_t)snprintf(yaml, sizeof(yaml), "%s", HEAD "auth:\n  providers:\n    entra: { type: jwt, "
                                "issuer: \"" ISSUER "\", audience: api://m, jwks_file: /j }\nendpoints:\n");
    for (int i = 0; i < 40; i++) /* 40 endpoints x the same 2 scopes */
        n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "  - path: /e%d\n    auth: { provider: entra, scopes: "
                              "[ Feed.Read, Feed.Write ] }\n    backends: [ { upstream: hr, path: /x } ]\n", i);
    assert_true(n < sizeof(yaml));
    out_t o;
    export(&o, yaml);
    expect_props(&o, "['api://m/Feed.Read','api://m/Feed.Write']",
                 "properties", "connectionParameters", "token", "oAuthSettings", "scopes", NULL);
    done(&o);
}

static void load_fails(const char *yaml, const char *msg)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "s.yaml", &d);
    assert_null(cfg);
    if (!strstr(d.msg, msg))
        fail_msg("expected \"%s\" in \"%s\"", msg, d.msg);
}

#define JWT_WITH(connector)                                                                    \
    HEAD "auth:\n  providers:\n    entra: { type: jwt, issuer: \"" ISSUER "\", audience: api://m, "  \
    "jwks_file: /j, connector: " connector " }\nendpoints:\n" EP("/a", "    auth: entra\n")

static void connector_knob_errors(void **state)
{
    (void)state;
    load_fails(JWT_WITH("{ client_id: \"has space\" }"), "'client_id' must be an application (client) id");
    load_fails(JWT_WITH("{ resource: \"a\\\"b\" }"), "'resource' must be an application id URI");
    load_fails(JWT_WITH("{ tenant: common }"), "unknown key 'tenant' in 'connector' of auth provider 'entra'");
    load_fails(JWT_WITH("[ x ]"), "must be a mapping");
    load_fails(HEAD "auth:\n  providers:\n    apps: { type: api_key, " KEYS ", connector: { client_id: x } }\n",
               "'connector' does not apply to auth provider 'apps'");
}

/* ---- round trip through the lint ---- */

static unsigned lint_export(const char *yaml, md_lint_counts_t *counts, char **out)
{
    md_config_t *cfg = load(yaml);
    md_buf_t def;
    md_diag_t d;
    assert_int_equal(md_swagger_build(cfg, NULL, &def, &d), MD_OK);
    char dir[] = "/tmp/md-sec-XXXXXX", err[256];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(md_connector_package(dir, cfg, &def, false, err, sizeof(err)), MD_OK);
    size_t len;
    FILE *f = open_memstream(out, &len);
    int rc = md_connector_lint_ex(dir, f, counts);
    fclose(f);
    static const char *const names[] = { "apiDefinition.swagger.json", "apiProperties.json", "icon.png" };
    char path[512];
    for (size_t i = 0; i < MD_ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    md_buf_free(&def);
    md_config_free(cfg);
    return (unsigned)rc;
}

static void every_kind_passes_the_lint(void **state)
{
    (void)state;
    static const char *const configs[] = {
        HEAD "endpoints:\n" EP("/a", ""),
        HEAD "auth:\n  default: apps\n  providers:\n    apps: { type: api_key, " KEYS " }\n"
             "endpoints:\n" EP("/a", "") EP("/b", "    auth: none\n"),
        HEAD "auth:\n  providers:\n    apps: { type: api_key, query: code, " KEYS " }\n"
             "endpoints:\n" EP("/a", "    auth: apps\n"),
        HEAD "auth:\n  providers:\n    staff: { type: basic, file: /u }\nendpoints:\n" EP("/a", "    auth: staff\n"),
        JWT_WITH("{ client_id: 11112222-3333-4444-5555-666677778888 }"),
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(configs); i++) {
        md_lint_counts_t c;
        char *out = NULL;
        unsigned errors = lint_export(configs[i], &c, &out);
        if (errors || c.warnings)
            fail_msg("config %zu: %u errors, %u warnings:\n%s", i, c.errors, c.warnings, out);
        free(out);
    }
}

static void placeholder_client_id_is_the_only_warning(void **state)
{
    (void)state;
    md_lint_counts_t c;
    char *out = NULL;
    assert_int_equal(lint_export(JWT_WITH("{ resource: api://medley }"), &c, &out), 0);
    assert_int_equal(c.warnings, 1);
    assert_non_null(strstr(out, "apiProperties.json#properties.connectionParameters.token.oAuthSettings.clientId: "
                                "security-client-id: warning:"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_auth_writes_empty_shapes),
        cmocka_unit_test(api_key_in_a_header),
        cmocka_unit_test(api_key_in_a_named_header_or_the_query),
        cmocka_unit_test(basic_users),
        cmocka_unit_test(jwt_as_entra_id_with_placeholder_client),
        cmocka_unit_test(jwt_connector_knob_sets_client_and_resource),
        cmocka_unit_test(open_endpoints_get_an_empty_requirement),
        cmocka_unit_test(an_unused_default_is_no_authentication),
        cmocka_unit_test(two_providers_are_refused_naming_the_endpoints),
        cmocka_unit_test(many_differing_endpoints_are_counted),
        cmocka_unit_test(two_providers_of_one_type_are_two),
        cmocka_unit_test(too_many_scopes_are_refused),
        cmocka_unit_test(repeated_scopes_count_once),
        cmocka_unit_test(connector_knob_errors),
        cmocka_unit_test(every_kind_passes_the_lint),
        cmocka_unit_test(placeholder_client_id_is_the_only_warning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
