/*
 * Unit tests for the authentication keys of the config (config/auth.c):
 * the top-level `auth:` block (api_key, basic and jwt providers, the
 * default) and an endpoint's `auth:` (a name, none, or a mapping with
 * scopes and roles). Every accepted form is checked field by field, every
 * refusal at its line:column, counted by hand from the YAML below, and no
 * message may show an api key's value.
 */
#include "testutil.h"

#include "cfgtest.h"

#include "auth/jwks.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>

/* Three fixed lines. */
#define UP                                                                                                   \
    "upstreams:\n"                                                                                           \
    "  hr: { url: \"http://127.0.0.1:9001\" }\n"
#define EP "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

/* A provider `p` in block style: its settings start on line 4, each at
 * column 7 ("      key: value"). */
#define PROV(body) "auth:\n  providers:\n    p:\n" body UP EP

/* Lines 1-4: a jwt provider "entra" and an api_key provider "apps". */
#define TWO                                                                                                  \
    "auth:\n"                                                                                                \
    "  providers:\n"                                                                                         \
    "    entra: { type: jwt, issuer: https://i, audience: a, jwks_file: /j }\n"                             \
    "    apps: { type: api_key, keys: { flow: \"0123456789abcdef\" } }\n"

#define KEY16 "0123456789abcdef"

/* ---- accepted forms -------------------------------------------------------- */

static void defaults_when_absent(void **state)
{
    (void)state;
    md_config_t *cfg = load(UP EP);
    assert_int_equal(cfg->auth.nproviders, 0);
    assert_int_equal(cfg->auth.default_provider, -1);
    assert_int_equal(cfg->auth.line, 0);
    assert_int_equal(cfg->endpoints[0].auth.provider, -1);
    assert_int_equal(cfg->endpoints[0].auth.nscopes, 0);
    assert_int_equal(cfg->endpoints[0].auth.line, 0);
    md_config_free(cfg);
}

static void every_provider_field(void **state)
{
    (void)state;
    setenv("MD_TEST_APPS_KEY", "apps-key-0123456789", 1);
    setenv("MD_TEST_TENANT", "t-42", 1);
    md_config_t *cfg = load("auth:\n"
                            "  default: entra\n"
                            "  providers:\n"
                            "    apps:  { type: api_key, header: X-App-Key, keys: { powerapps: \"${MD_TEST_APPS_KEY}\", "
                            "flow: \"" KEY16 "\" }, file: /etc/medley/keys }\n"
                            "    staff: { type: basic, file: /etc/medley/users, realm: \"Staff only\" }\n"
                            "    entra:\n"
                            "      type: jwt\n"
                            "      issuer: \"https://login.microsoftonline.com/${MD_TEST_TENANT}/v2.0\"\n"
                            "      audience: [ \"api://medley\", \"1234-abcd\" ]\n"
                            "      algs: [ RS256, ES384 ]\n"
                            "      jwks_file: /etc/medley/jwks.json\n"
                            "      leeway: 90s\n"
                            "      realm: corp\n" UP EP);
    const md_auth_conf_t *a = &cfg->auth;
    assert_int_equal(a->line, 1);
    assert_int_equal(a->col, 1);
    assert_int_equal(a->nproviders, 3);
    assert_int_equal(a->default_provider, 2);

    const md_auth_provider_conf_t *p = &a->providers[0];
    assert_string_equal(p->name, "apps");
    assert_int_equal(p->type, MD_AUTH_API_KEY);
    assert_string_equal(p->header, "X-App-Key");
    assert_null(p->query);
    assert_int_equal(p->nkeys, 2);
    assert_string_equal(p->keys[0].name, "powerapps");
    assert_string_equal(p->keys[0].value, "apps-key-0123456789");
    assert_string_equal(p->keys[1].name, "flow");
    assert_string_equal(p->keys[1].value, KEY16);
    assert_string_equal(p->file, "/etc/medley/keys");
    assert_int_equal(p->line, 4);
    assert_int_equal(p->col, 5);

    p = &a->providers[1];
    assert_string_equal(p->name, "staff");
    assert_int_equal(p->type, MD_AUTH_BASIC);
    assert_string_equal(p->file, "/etc/medley/users");
    assert_string_equal(p->realm, "Staff only");

    p = &a->providers[2];
    assert_string_equal(p->name, "entra");
    assert_int_equal(p->type, MD_AUTH_JWT);
    assert_string_equal(p->issuer, "https://login.microsoftonline.com/t-42/v2.0");
    assert_int_equal(p->naudiences, 2);
    assert_string_equal(p->audiences[0], "api://medley");
    assert_string_equal(p->audiences[1], "1234-abcd");
    assert_int_equal(p->algs, MD_JWA_RS256 | MD_JWA_ES384);
    assert_string_equal(p->jwks_file, "/etc/medley/jwks.json");
    assert_int_equal(p->leeway_s, 90);
    assert_string_equal(p->realm, "corp");

    /* The endpoint says nothing: the default applies. */
    assert_int_equal(cfg->endpoints[0].auth.provider, 2);
    assert_int_equal(cfg->endpoints[0].auth.line, 0);
    md_config_free(cfg);
    unsetenv("MD_TEST_APPS_KEY");
    unsetenv("MD_TEST_TENANT");
}

static void provider_defaults(void **state)
{
    (void)state;
    md_config_t *cfg = load("auth:\n"
                            "  providers:\n"
                            "    k: { type: api_key, file: /k }\n"
                            "    q: { type: api_key, query: api_key, keys: { a: \"" KEY16 "\" } }\n"
                            "    b: { type: basic, file: /u }\n"
                            "    j: { type: jwt, issuer: https://i, audience: only-one, jwks_file: /j }\n"
                            "    z: { type: jwt, issuer: https://i, audience: a, jwks_file: /j, leeway: 0, algs: PS256 }\n"
                            UP EP);
    const md_auth_provider_conf_t *p = cfg->auth.providers;
    assert_int_equal(cfg->auth.default_provider, -1);
    assert_string_equal(p[0].header, "X-Api-Key");
    assert_null(p[0].query);
    assert_int_equal(p[0].nkeys, 0);
    assert_string_equal(p[0].file, "/k");
    assert_null(p[1].header);
    assert_string_equal(p[1].query, "api_key");
    assert_null(p[1].file);
    assert_string_equal(p[2].realm, "medley");
    assert_int_equal(p[3].naudiences, 1);
    assert_string_equal(p[3].audiences[0], "only-one");
    assert_int_equal(p[3].algs, MD_JWA_RS256 | MD_JWA_PS256 | MD_JWA_ES256);
    assert_int_equal(p[3].leeway_s, 60);
    assert_string_equal(p[3].realm, "medley");
    assert_int_equal(p[4].leeway_s, 0);
    assert_int_equal(p[4].algs, MD_JWA_PS256);
    assert_int_equal(cfg->endpoints[0].auth.provider, -1);
    md_config_free(cfg);
}

static void endpoint_forms(void **state)
{
    (void)state;
    md_config_t *cfg = load(TWO
                            "  default: apps\n" UP
                            "endpoints:\n"
                            "  - { path: /a, auth: entra, backends: [ { upstream: hr, path: /x } ] }\n"
                            "  - { path: /b, auth: none, backends: [ { upstream: hr, path: /x } ] }\n"
                            "  - { path: /c, backends: [ { upstream: hr, path: /x } ] }\n"
                            "  - path: /d\n"
                            "    auth: { provider: entra, scopes: [Feed.Read, \"api://x/y\"], roles: [Admin] }\n"
                            "    passthrough: { upstream: hr, path: /x }\n"
                            "  - { path: /e, auth: { provider: apps }, backends: [ { upstream: hr, path: /x } ] }\n");
    const md_endpoint_conf_t *e = cfg->endpoints;
    assert_int_equal(cfg->auth.default_provider, 1);
    assert_int_equal(e[0].auth.provider, 0);
    assert_int_equal(e[0].auth.line, 9);
    assert_int_equal(e[0].auth.col, 17);
    assert_int_equal(e[1].auth.provider, -1);
    assert_int_equal(e[2].auth.provider, 1);
    assert_int_equal(e[3].auth.provider, 0);
    assert_int_equal(e[3].auth.nscopes, 2);
    assert_string_equal(e[3].auth.scopes[0], "Feed.Read");
    assert_string_equal(e[3].auth.scopes[1], "api://x/y");
    assert_int_equal(e[3].auth.nroles, 1);
    assert_string_equal(e[3].auth.roles[0], "Admin");
    assert_int_equal(e[4].auth.provider, 1);
    assert_int_equal(e[4].auth.nscopes, 0);
    md_config_free(cfg);
}

/* ---- refusals ---------------------------------------------------------------- */

static void block_refusals(void **state)
{
    (void)state;
    expect_error("auth:\n  provider: {}\n" UP EP, 2, 3, "did you mean 'providers'?");
    expect_error("auth: [a]\n" UP EP, 1, 7, "auth must be a mapping");
    expect_error("auth:\n  providers: [a]\n" UP EP, 2, 14, "'providers' must be a mapping");
    expect_error(TWO "  default: entr\n" UP EP, 5, 12, "unknown auth provider 'entr' (did you mean 'entra'?)");
    expect_error("auth:\n  default: x\n" UP EP, 2, 12, "unknown auth provider 'x' (define it under auth.providers");
    expect_error("auth:\n  default: [a]\n" UP EP, 2, 12, "'default' must be the name of an auth provider, or none");
    expect_error("auth:\n  providers:\n    none: { type: basic, file: /u }\n" UP EP, 3, 5,
                 "auth provider name 'none' must be");
    expect_error("auth:\n  providers:\n    \"a b\": { type: basic, file: /u }\n" UP EP, 3, 5,
                 "auth provider name 'a b' must be");
    expect_error("auth:\n  providers:\n    p:\n" UP EP, 3, 5, "missing required key 'type' in auth provider 'p'");
    expect_error("auth:\n  providers:\n    p: { file: /u }\n" UP EP, 3, 5,
                 "missing required key 'type' in auth provider 'p'");
}

static void provider_refusals(void **state)
{
    (void)state;
    expect_error(PROV("      type: oauth\n"), 4, 13, "'type' of auth provider 'p' must be api_key, basic or jwt");
    expect_error(PROV("      type: jwt\n      isuer: x\n"), 5, 7, "unknown key 'isuer' in auth provider 'p' (did you mean 'issuer'?)");
    expect_error(PROV("      type: basic\n      file: /u\n      issuer: x\n"), 6, 7,
                 "'issuer' does not apply to auth provider 'p' (a basic provider takes file, realm)");
    expect_error(PROV("      type: basic\n      file: /u\n      jwks_url: http://x\n"), 6, 7,
                 "'jwks_url' does not apply to auth provider 'p' (a basic provider takes file, realm)");
    expect_error(PROV("      type: jwt\n      jwks_uri: https://x\n"), 5, 7, "set 'jwks_file'");
    expect_error(PROV("      type: basic\n      file: /u\n      realm: 'a\"b'\n"), 6, 14, "'realm' must be 1-64 printable");
    expect_error(PROV("      type: basic\n      file: /u\n      file: /v\n"), 6, 7, "duplicate key 'file'");
    /* basic */
    expect_error(PROV("      type: basic\n"), 3, 5, "missing required key 'file' in auth provider 'p'");
    expect_error(PROV("      type: basic\n      file: \"\"\n"), 5, 13, "'file' must not be empty");
    /* api_key */
    expect_error(PROV("      type: api_key\n"), 3, 5, "auth provider 'p' needs 'keys' or 'file'");
    expect_error(PROV("      type: api_key\n      header: X-K\n      query: k\n      file: /k\n"), 6, 7,
                 "has both 'header' and 'query'");
    expect_error(PROV("      type: api_key\n      header: \"X K\"\n      file: /k\n"), 5, 15, "'header' must be an HTTP header name");
    expect_error(PROV("      type: api_key\n      query: \"a&b\"\n      file: /k\n"), 5, 14, "'query' must be a parameter name");
    expect_error(PROV("      type: api_key\n      keys: [a]\n"), 5, 13, "'keys' must be a mapping");
    expect_error(PROV("      type: api_key\n      keys: { \"a b\": " KEY16 " }\n"), 5, 15, "api key name 'a b'");
    expect_error(PROV("      type: api_key\n      keys: { a: [x] }\n"), 5, 18, "api key 'a' must be a string");
    /* jwt */
    expect_error(PROV("      type: jwt\n      audience: a\n      jwks_file: /j\n"), 3, 5,
                 "missing required key 'issuer' in auth provider 'p'");
    expect_error(PROV("      type: jwt\n      issuer: i\n      jwks_file: /j\n"), 3, 5, "missing required key 'audience'");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: a\n"), 3, 5, "missing required key 'jwks_file'");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: []\n      jwks_file: /j\n"), 6, 17,
                 "'audience' must list at least one value");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q]\n"
                      "      jwks_file: /j\n"), 6, 50, "too many audiences (max 16)");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: a\n      algs: [RS256, none]\n"), 7, 21,
                 "alg 'none' is never accepted");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: a\n      algs: HS256\n"), 7, 13,
                 "alg 'HS256' is never accepted: medley verifies with public keys only");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: a\n      algs: [RS1]\n"), 7, 14,
                 "'algs' entries must be RS256");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: a\n      algs: []\n"), 7, 13,
                 "'algs' must list at least one algorithm");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: a\n      jwks_file: /j\n      leeway: 2h\n"), 8,
                 15, "'leeway' must be");
    expect_error(PROV("      type: jwt\n      issuer: i\n      audience: a\n      jwks_file: /j\n      leeway: soon\n"), 8,
                 15, "'leeway'");
}

static void key_refusals_hide_the_value(void **state)
{
    (void)state;
    expect_secret_error(PROV("      type: api_key\n      keys: { app: short-secret-9 }\n"), 5, 20,
                        "api key 'app' must be 16-256 visible ASCII characters", "short-secret-9");
    expect_secret_error(PROV("      type: api_key\n      keys: { app: \"has a space 0123456789\" }\n"), 5, 20,
                        "api key 'app' must be 16-256", "has a space");
    setenv("MD_TEST_EMPTY_KEY", "", 1);
    expect_error(PROV("      type: api_key\n      keys: { app: \"${MD_TEST_EMPTY_KEY}\" }\n"), 5, 20,
                 "api key 'app' is empty (is its environment variable set?)");
    unsetenv("MD_TEST_EMPTY_KEY");
    /* 257 bytes: too long, never echoed. */
    char yaml[2048], key[258];
    memset(key, 'k', 257);
    key[257] = '\0';
    snprintf(yaml, sizeof(yaml), PROV("      type: api_key\n      keys: { app: %s }\n"), key);
    expect_secret_error(yaml, 5, 20, "api key 'app' must be 16-256", "kkkkkkkkkkkkkkkk");
}

static void endpoint_refusals(void **state)
{
    (void)state;
#define E1(x) TWO UP "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n" x
    expect_error(E1("    auth: entraa\n"), 10, 11, "unknown auth provider 'entraa' (did you mean 'entra'?)");
    expect_error(E1("    auth: [entra]\n"), 10, 11, "'auth' of endpoint '/a' must be a provider name, none, or a mapping");
    expect_error(E1("    auth: { scopes: [a] }\n"), 10, 5, "missing required key 'provider' in the auth of endpoint '/a'");
    expect_error(E1("    auth: { provider: entra, scope: [a] }\n"), 10, 30, "did you mean 'scopes'?");
    expect_error(E1("    auth: { provider: apps, scopes: [a] }\n"), 10, 29, "'scopes' needs a jwt provider");
    expect_error(E1("    auth: { provider: none, roles: [a] }\n"), 10, 29, "'roles' needs a jwt provider");
    expect_error(E1("    auth: { provider: entra, scopes: [\"a b\"] }\n"), 10, 39, "items of 'scopes' must be");
    expect_error(E1("    auth: { provider: entra, roles: [\"a\\\"b\"] }\n"), 10, 38, "items of 'roles' must be");
    expect_error(E1("    auth: { provider: entra, roles: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q] }\n"), 10, 70, "too many roles (max 16)");
    /* No auth block at all. */
    expect_error(UP "endpoints:\n  - path: /a\n    auth: entra\n    backends: [ { upstream: hr, path: /x } ]\n", 5, 11,
                 "unknown auth provider 'entra' (define it under auth.providers, or write none)");
#undef E1
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_when_absent),
        cmocka_unit_test(every_provider_field),
        cmocka_unit_test(provider_defaults),
        cmocka_unit_test(endpoint_forms),
        cmocka_unit_test(block_refusals),
        cmocka_unit_test(provider_refusals),
        cmocka_unit_test(key_refusals_hide_the_value),
        cmocka_unit_test(endpoint_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
