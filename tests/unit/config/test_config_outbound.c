/*
 * Unit tests for the outbound credential keys of the config
 * (config/outbound.c): an upstream's `oauth2:` block and a backend's
 * `forward_authorization`. Accepted forms are checked field by field,
 * refusals at their line:column (counted by hand from the YAML below), and
 * no message may show the client secret.
 */
#include "testutil.h"

#include "cfgtest.h"

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>

/* Lines 1-3; `oauth2:` is then line 4, column 5, and its settings start
 * on line 5, each at column 7 ("      key: value"). */
#define HEAD "upstreams:\n  hr:\n    url: \"http://127.0.0.1:9001\"\n"
#define EPS "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"
#define OAUTH(body) HEAD "    oauth2:\n" body EPS

#define TOKEN_URL "      token_url: http://127.0.0.1:9100/oauth2/token\n"
#define CLIENT_ID "      client_id: medley\n"
#define SECRET_LINE "      client_secret: \"${MD_TEST_SECRET}\"\n"
#define SECRET "s3cr3t-Value_42"

/* Loads yaml, which must fail at line:col with `frag` in the message that
 * must not show the secret. */
static int setup(void **state)
{
    (void)state;
    setenv("MD_TEST_SECRET", SECRET, 1);
    unsetenv("MD_TEST_UNSET_SECRET");
    return 0;
}

/* ---- oauth2 ---------------------------------------------------------------- */

static void oauth2_every_field(void **state)
{
    (void)state;
    md_config_t *cfg = load(OAUTH(TOKEN_URL CLIENT_ID SECRET_LINE "      scope: \"api://hr/.default openid\"\n"
                                        "      timeout: 2s\n"));
    const md_upstream_conf_t *u = &cfg->upstreams[0];
    assert_non_null(u->oauth2);
    assert_int_equal(u->nheaders, 0);
    const md_oauth2_conf_t *o = u->oauth2;
    assert_int_equal(o->line, 4);
    assert_int_equal(o->col, 5);
    assert_string_equal(o->client_id, "medley");
    assert_string_equal(o->client_secret, SECRET);
    assert_string_equal(o->scope, "api://hr/.default openid");
    const md_upstream_conf_t *t = &o->token;
    assert_string_equal(t->name, "hr.oauth2");
    assert_string_equal(t->url, "http://127.0.0.1:9100/oauth2/token");
    assert_string_equal(t->host, "127.0.0.1");
    assert_int_equal(t->port, 9100);
    assert_string_equal(t->base_path, "/oauth2/token");
    assert_string_equal(t->host_header, "127.0.0.1:9100");
    assert_int_equal(t->timeout_ms, 2000);
    assert_int_equal(t->connect_timeout_ms, 1000);
    assert_int_equal(t->max_connections, 1);
    assert_int_equal(t->max_response_bytes, 64 * 1024);
    assert_int_equal(t->nheaders, 0);
    assert_null(t->oauth2);
    md_config_free(cfg);
}

static void oauth2_defaults(void **state)
{
    (void)state;
    md_config_t *cfg = load(OAUTH("      token_url: http://localhost\n" CLIENT_ID SECRET_LINE));
    const md_oauth2_conf_t *o = cfg->upstreams[0].oauth2;
    assert_null(o->scope);
    assert_int_equal(o->token.port, 80);
    assert_string_equal(o->token.base_path, "");
    assert_string_equal(o->token.host_header, "localhost");
    assert_int_equal(o->token.timeout_ms, 5000);
    assert_int_equal(o->token.connect_timeout_ms, 1000);
    md_config_free(cfg);

    cfg = load(OAUTH(TOKEN_URL CLIENT_ID SECRET_LINE "      timeout: 300ms\n"));
    assert_int_equal(cfg->upstreams[0].oauth2->token.timeout_ms, 300);
    assert_int_equal(cfg->upstreams[0].oauth2->token.connect_timeout_ms, 300);
    md_config_free(cfg);

    /* Without the block: none. */
    cfg = load(HEAD EPS);
    assert_null(cfg->upstreams[0].oauth2);
    md_config_free(cfg);
}

static void oauth2_refusals(void **state)
{
    (void)state;
    expect_error(OAUTH("      token_url: \"https://127.0.0.1:0/token\"\n" CLIENT_ID SECRET_LINE), 5, 18,
                 "oauth2 token_url 'https://127.0.0.1:0/token' has a bad port");
    expect_error(OAUTH("      token_url: \"http://127.0.0.1:9100/t?x=1\"\n" CLIENT_ID SECRET_LINE), 5, 18,
                 "oauth2 token_url 'http://127.0.0.1:9100/t?x=1' must not have a query");
    expect_error(OAUTH("      token_url: ftp://idp/token\n" CLIENT_ID SECRET_LINE), 5, 18, "must start with http://");
    expect_error(OAUTH(CLIENT_ID SECRET_LINE), 4, 5, "missing required key 'token_url'");
    expect_error(OAUTH(TOKEN_URL SECRET_LINE), 4, 5, "missing required key 'client_id'");
    expect_error(OAUTH(TOKEN_URL CLIENT_ID), 4, 5, "missing required key 'client_secret'");
    expect_error(OAUTH(TOKEN_URL CLIENT_ID "      client_secrt: x\n"), 7, 7,
                 "unknown key 'client_secrt' in 'oauth2' of upstream 'hr' (did you mean 'client_secret'?)");
    expect_error(OAUTH(TOKEN_URL CLIENT_ID "      client_secret: \"\"\n"), 7, 22, "'client_secret' must not be empty");
    expect_error(OAUTH(TOKEN_URL CLIENT_ID SECRET_LINE "      scope: \"a  b\"\n"), 8, 14, "'scope'");
    expect_error(OAUTH(TOKEN_URL CLIENT_ID SECRET_LINE "      scope: \" a\"\n"), 8, 14, "'scope'");
    expect_error(OAUTH(TOKEN_URL CLIENT_ID SECRET_LINE "      scope: 'a\"b'\n"), 8, 14, "'scope'");
    expect_error(OAUTH(TOKEN_URL CLIENT_ID SECRET_LINE "      timeout: 0\n"), 8, 16, "'timeout' must be between 1ms");
    expect_error(HEAD "    oauth2: yes\n" EPS, 4, 13, "'oauth2' of upstream 'hr' must be a mapping");
    /* Two Authorization headers would reach the backend. */
    expect_error(HEAD "    headers: { authorization: \"Basic abc\" }\n    oauth2:\n" TOKEN_URL CLIENT_ID
                      SECRET_LINE EPS, 5, 5, "upstream 'hr' has both 'oauth2' and an Authorization header");
}

/* The secret's own problems are named without its value. */
static void oauth2_secret_never_shown(void **state)
{
    (void)state;
    expect_error(OAUTH(TOKEN_URL CLIENT_ID "      client_secret: \"" SECRET "\\t\"\n"), 7, 22,
                 "'client_secret' must be one line without control characters");
    /* An unset variable fails the load and is named (it holds no value). */
    const char *yaml = OAUTH(TOKEN_URL CLIENT_ID "      client_secret: \"${MD_TEST_UNSET_SECRET}\"\n");
    md_diag_t d;
    assert_null(md_config_load_string(yaml, strlen(yaml), "c.yaml", &d));
    assert_int_equal(d.line, 7);
    assert_non_null(strstr(d.msg, "MD_TEST_UNSET_SECRET"));
}

/* ---- forward_authorization ------------------------------------------------- */

#define UP_PLAIN "upstreams:\n  hr: { url: \"http://127.0.0.1:9001\" }\n"
#define UP_OAUTH                                                                                              \
    "upstreams:\n  hr: { url: \"http://127.0.0.1:9001\", oauth2: { token_url: \"http://127.0.0.1:9100/t\", "   \
    "client_id: c, client_secret: \"${MD_TEST_SECRET}\" } }\n"
/* The backend is on line 6, its mapping at column 9. */
#define BACKEND(up, be) up "endpoints:\n  - path: /a\n    backends:\n      - " be "\n"

static void forward_authorization_forms(void **state)
{
    (void)state;
    md_config_t *cfg = load(BACKEND(UP_PLAIN, "{ upstream: hr, path: /x, forward_authorization: true }"));
    assert_true(cfg->endpoints[0].backends[0].forward_authorization);
    md_config_free(cfg);

    cfg = load(BACKEND(UP_PLAIN, "{ upstream: hr, path: /x, forward_authorization: false, "
                                 "headers: { Authorization: x } }"));
    assert_false(cfg->endpoints[0].backends[0].forward_authorization);
    md_config_free(cfg);

    cfg = load(BACKEND(UP_PLAIN, "{ upstream: hr, path: /x }"));
    assert_false(cfg->endpoints[0].backends[0].forward_authorization);
    md_config_free(cfg);

    cfg = load(UP_PLAIN "endpoints:\n  - path: /p\n"
                        "    passthrough: { upstream: hr, path: /x, forward_authorization: true }\n");
    assert_true(cfg->endpoints[0].passthrough);
    assert_true(cfg->endpoints[0].backends[0].forward_authorization);
    md_config_free(cfg);

    /* An oauth2 upstream with a backend that sends no Authorization of its own. */
    cfg = load(BACKEND(UP_OAUTH, "{ upstream: hr, path: /x }"));
    assert_non_null(cfg->endpoints[0].backends[0].up->oauth2);
    md_config_free(cfg);
}

static void forward_authorization_refusals(void **state)
{
    (void)state;
    expect_error(BACKEND(UP_PLAIN, "{ upstream: hr, path: /x, forward_authorization: maybe }"), 6, 58,
                 "'forward_authorization' must be true or false");
    expect_error(BACKEND(UP_PLAIN, "{ upstream: hr, path: /x, headers: { authorization: x }, "
                                   "forward_authorization: true }"),
                 6, 89, "has both 'forward_authorization' and an Authorization header");
    expect_error(BACKEND(UP_OAUTH, "{ upstream: hr, path: /x, forward_authorization: true }"), 6, 58,
                 "sends the caller's Authorization to upstream 'hr', which has 'oauth2'");
    expect_error(BACKEND(UP_OAUTH, "{ upstream: hr, path: /x, headers: { Authorization: x } }"), 6, 9,
                 "sends an Authorization header to upstream 'hr', which has 'oauth2'");
    expect_error(UP_PLAIN "endpoints:\n  - path: /p\n"
                          "    passthrough: { upstream: hr, path: /x, forward_authorization: 1 }\n",
                 5, 67, "'forward_authorization' must be true or false");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oauth2_every_field),
        cmocka_unit_test(oauth2_defaults),
        cmocka_unit_test(oauth2_refusals),
        cmocka_unit_test(oauth2_secret_never_shown),
        cmocka_unit_test(forward_authorization_forms),
        cmocka_unit_test(forward_authorization_refusals),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
