/*
 * Unit tests for the families of the credentials medley fetches in the
 * background (telemetry/metrics): medley_jwks_fetches_total{provider,
 * result}, medley_jwks_forced_fetches_total{provider}, medley_jwks_keys
 * {provider} for jwt providers with jwks_url, and
 * medley_oauth2_token_fetches_total{upstream,result},
 * medley_oauth2_forced_fetches_total{upstream} for upstreams with oauth2.
 * The values are process-wide copies (stored, not added); every such
 * credential is printed from the start, nothing else is, and the families
 * are absent when the config has no such credential. Also md_tm_set_jwks
 * and md_tm_set_oauth2 through a telemetry worker's refresh callback.
 */
#include "testutil.h"

#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/loop.h"
#include "telemetry/metrics.h"
#include "telemetry/telemetry.h"

#include <stdio.h>
#include <stdlib.h>

/* Providers: 0 keys (api_key), 1 idp (jwks_url), 2 local (jwks_file),
 * 3 b2c (jwks_url). Upstreams: 0 hr (oauth2), 1 pay (none), 2 crm (oauth2). */
#define PROVIDERS                                                                                            \
    "auth:\n  providers:\n"                                                                                  \
    "    keys: { type: api_key, keys: { app: \"0123456789abcdef0123\" } }\n"                                 \
    "    idp: { type: jwt, issuer: i, audience: a, jwks_url: \"http://127.0.0.1:9/keys\" }\n"                \
    "    local: { type: jwt, issuer: i, audience: a, jwks_file: /nonexistent/jwks.json }\n"                  \
    "    b2c: { type: jwt, issuer: j, audience: a, jwks_url: \"http://127.0.0.1:9/b2c\" }\n"
#define OAUTH(name)                                                                                          \
    "    oauth2: { token_url: \"http://127.0.0.1:9/" name "\", client_id: c, client_secret: s }\n"
#define UPSTREAMS                                                                                            \
    "upstreams:\n"                                                                                           \
    "  hr:\n    url: \"http://127.0.0.1:2\"\n" OAUTH("t1")                                                   \
    "  pay:\n    url: \"http://127.0.0.1:3\"\n"                                                              \
    "  crm:\n    url: \"http://127.0.0.1:4\"\n" OAUTH("t2")
#define PLAIN_UPSTREAM "upstreams:\n  hr: { url: \"http://127.0.0.1:2\" }\n"
#define EP "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

enum { P_KEYS, P_IDP, P_LOCAL, P_B2C };
enum { U_HR, U_PAY, U_CRM };

#define JWKS_HELP                                                                                            \
    "# HELP medley_jwks_fetches_total JWKS fetches of jwt providers with jwks_url (at start, scheduled and "  \
    "forced), by provider and result (ok: a new key set installed; failed: the previous one kept).\n"        \
    "# TYPE medley_jwks_fetches_total counter\n"
#define FORCED_HELP                                                                                          \
    "# HELP medley_jwks_forced_fetches_total Early JWKS fetches asked for by a token naming an unknown kid "  \
    "(at most one per 10 s per provider).\n"                                                                 \
    "# TYPE medley_jwks_forced_fetches_total counter\n"
#define KEYS_HELP                                                                                            \
    "# HELP medley_jwks_keys Keys in the provider's current JWKS (0: none fetched yet).\n"                    \
    "# TYPE medley_jwks_keys gauge\n"
#define TOKEN_HELP                                                                                           \
    "# HELP medley_oauth2_token_fetches_total OAuth2 client-credentials token fetches of upstreams with "    \
    "oauth2 (at start, scheduled and forced), by upstream and result (ok: a new token installed; failed: "   \
    "the previous one kept until it expires).\n"                                                             \
    "# TYPE medley_oauth2_token_fetches_total counter\n"
#define OFORCED_HELP                                                                                         \
    "# HELP medley_oauth2_forced_fetches_total Early token fetches asked for by a backend answering 401 to "  \
    "the current token (at most one per 10 s per upstream).\n"                                               \
    "# TYPE medley_oauth2_forced_fetches_total counter\n"

static md_config_t *load(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "m.yaml", &d);
    if (!cfg)
        fail_msg("config: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

static char *render(const md_metrics_t *m)
{
    md_buf_t b;
    md_buf_init(&b, MD_METRICS_MAX_BYTES);
    assert_int_equal(md_metrics_render(m, NULL, &b), MD_OK);
    return md_buf_detach(&b, NULL);
}

/* The credential families come last: the text must end with `tail`. */
static void ends_with(const char *text, const char *tail)
{
    size_t n = strlen(text), k = strlen(tail);
    if (n < k || strcmp(text + n - k, tail) != 0)
        fail_msg("expected the exposition to end with:\n%s\ngot:\n%s", tail, n > k + 400 ? text + n - k - 400 : text);
}

static md_metrics_fetches_t fetches(uint64_t ok, uint64_t failed, uint64_t forced)
{
    return (md_metrics_fetches_t){ ok, failed, forced };
}

static void every_credential_starts_at_zero(void **state)
{
    (void)state;
    md_config_t *cfg = load(PROVIDERS UPSTREAMS EP);
    md_metrics_t *m = md_metrics_new(cfg, 2);
    char *text = render(m);
    ends_with(text, JWKS_HELP
              "medley_jwks_fetches_total{provider=\"idp\",result=\"ok\"} 0\n"
              "medley_jwks_fetches_total{provider=\"idp\",result=\"failed\"} 0\n"
              "medley_jwks_fetches_total{provider=\"b2c\",result=\"ok\"} 0\n"
              "medley_jwks_fetches_total{provider=\"b2c\",result=\"failed\"} 0\n" FORCED_HELP
              "medley_jwks_forced_fetches_total{provider=\"idp\"} 0\n"
              "medley_jwks_forced_fetches_total{provider=\"b2c\"} 0\n" KEYS_HELP
              "medley_jwks_keys{provider=\"idp\"} 0\n"
              "medley_jwks_keys{provider=\"b2c\"} 0\n" TOKEN_HELP
              "medley_oauth2_token_fetches_total{upstream=\"hr\",result=\"ok\"} 0\n"
              "medley_oauth2_token_fetches_total{upstream=\"hr\",result=\"failed\"} 0\n"
              "medley_oauth2_token_fetches_total{upstream=\"crm\",result=\"ok\"} 0\n"
              "medley_oauth2_token_fetches_total{upstream=\"crm\",result=\"failed\"} 0\n" OFORCED_HELP
              "medley_oauth2_forced_fetches_total{upstream=\"hr\"} 0\n"
              "medley_oauth2_forced_fetches_total{upstream=\"crm\"} 0\n");
    /* Neither the api_key nor the jwks_file provider, nor the plain upstream. */
    assert_null(strstr(text, "provider=\"keys\""));
    assert_null(strstr(text, "provider=\"local\""));
    assert_null(strstr(text, "medley_oauth2_token_fetches_total{upstream=\"pay\""));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void values_are_stored_per_credential(void **state)
{
    (void)state;
    md_config_t *cfg = load(PROVIDERS UPSTREAMS EP);
    md_metrics_t *m = md_metrics_new(cfg, 3);
    md_metrics_fetches_t f = fetches(3, 1, 1);
    md_metrics_jwks(m, P_IDP, &f, 2);
    f = fetches(5, 1, 2); /* a later copy replaces the earlier one */
    md_metrics_jwks(m, P_IDP, &f, 3);
    f = fetches(0, 4, 0);
    md_metrics_jwks(m, P_B2C, &f, 0);
    f = fetches(7, 0, 1);
    md_metrics_oauth2(m, U_HR, &f);
    f = fetches(1, 2, 0);
    md_metrics_oauth2(m, U_CRM, &f);
    f = fetches(UINT64_MAX, 9, 8);
    md_metrics_oauth2(m, U_CRM, &f);
    char *text = render(m);
    ends_with(text, JWKS_HELP
              "medley_jwks_fetches_total{provider=\"idp\",result=\"ok\"} 5\n"
              "medley_jwks_fetches_total{provider=\"idp\",result=\"failed\"} 1\n"
              "medley_jwks_fetches_total{provider=\"b2c\",result=\"ok\"} 0\n"
              "medley_jwks_fetches_total{provider=\"b2c\",result=\"failed\"} 4\n" FORCED_HELP
              "medley_jwks_forced_fetches_total{provider=\"idp\"} 2\n"
              "medley_jwks_forced_fetches_total{provider=\"b2c\"} 0\n" KEYS_HELP
              "medley_jwks_keys{provider=\"idp\"} 3\n"
              "medley_jwks_keys{provider=\"b2c\"} 0\n" TOKEN_HELP
              "medley_oauth2_token_fetches_total{upstream=\"hr\",result=\"ok\"} 7\n"
              "medley_oauth2_token_fetches_total{upstream=\"hr\",result=\"failed\"} 0\n"
              "medley_oauth2_token_fetches_total{upstream=\"crm\",result=\"ok\"} 18446744073709551615\n"
              "medley_oauth2_token_fetches_total{upstream=\"crm\",result=\"failed\"} 9\n" OFORCED_HELP
              "medley_oauth2_forced_fetches_total{upstream=\"hr\"} 1\n"
              "medley_oauth2_forced_fetches_total{upstream=\"crm\"} 8\n");
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void other_credentials_are_ignored(void **state)
{
    (void)state;
    md_config_t *cfg = load(PROVIDERS UPSTREAMS EP);
    md_metrics_t *m = md_metrics_new(cfg, 1);
    md_metrics_fetches_t f = fetches(11, 12, 13);
    md_metrics_jwks(m, P_KEYS, &f, 14);   /* api_key */
    md_metrics_jwks(m, P_LOCAL, &f, 14);  /* jwks_file */
    md_metrics_jwks(m, 4, &f, 14);        /* no such provider */
    md_metrics_jwks(m, SIZE_MAX, &f, 14);
    md_metrics_jwks(m, P_IDP, NULL, 14);
    md_metrics_jwks(NULL, P_IDP, &f, 14);
    md_metrics_oauth2(m, U_PAY, &f);      /* no oauth2 */
    md_metrics_oauth2(m, 3, &f);
    md_metrics_oauth2(m, SIZE_MAX, &f);
    md_metrics_oauth2(m, U_HR, NULL);
    md_metrics_oauth2(NULL, U_HR, &f);
    char *text = render(m);
    assert_null(strstr(text, " 11\n"));
    assert_null(strstr(text, " 12\n"));
    assert_null(strstr(text, " 13\n"));
    assert_null(strstr(text, " 14\n"));
    assert_non_null(strstr(text, "\nmedley_jwks_keys{provider=\"idp\"} 0\n"));
    assert_non_null(strstr(text, "\nmedley_oauth2_forced_fetches_total{upstream=\"hr\"} 0\n"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

static void families_only_when_configured(void **state)
{
    (void)state;
    /* Neither: no family, not even HELP. */
    md_config_t *cfg = load(PLAIN_UPSTREAM EP);
    md_metrics_t *m = md_metrics_new(cfg, 1);
    md_metrics_fetches_t f = fetches(1, 1, 1);
    md_metrics_jwks(m, 0, &f, 1);
    md_metrics_oauth2(m, 0, &f);
    char *text = render(m);
    assert_null(strstr(text, "medley_jwks"));
    assert_null(strstr(text, "medley_oauth2"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);

    /* A jwt provider with jwks_file only, and an api_key: still none. */
    cfg = load("auth:\n  providers:\n"
               "    local: { type: jwt, issuer: i, audience: a, jwks_file: /nonexistent/jwks.json }\n"
               "    keys: { type: api_key, keys: { app: \"0123456789abcdef0123\" } }\n" PLAIN_UPSTREAM EP);
    m = md_metrics_new(cfg, 1);
    text = render(m);
    assert_null(strstr(text, "medley_jwks"));
    assert_null(strstr(text, "medley_oauth2"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);

    /* jwks_url only: the JWKS families, no OAuth2 ones. */
    cfg = load("auth:\n  providers:\n"
               "    idp: { type: jwt, issuer: i, audience: a, jwks_url: \"http://127.0.0.1:9/keys\" }\n"
               PLAIN_UPSTREAM EP);
    m = md_metrics_new(cfg, 1);
    f = fetches(1, 0, 0);
    md_metrics_jwks(m, 0, &f, 4);
    text = render(m);
    ends_with(text, JWKS_HELP
              "medley_jwks_fetches_total{provider=\"idp\",result=\"ok\"} 1\n"
              "medley_jwks_fetches_total{provider=\"idp\",result=\"failed\"} 0\n" FORCED_HELP
              "medley_jwks_forced_fetches_total{provider=\"idp\"} 0\n" KEYS_HELP
              "medley_jwks_keys{provider=\"idp\"} 4\n");
    assert_null(strstr(text, "medley_oauth2"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);

    /* oauth2 only: the OAuth2 families, no JWKS ones. */
    cfg = load("upstreams:\n  hr:\n    url: \"http://127.0.0.1:2\"\n" OAUTH("t") EP);
    m = md_metrics_new(cfg, 1);
    text = render(m);
    ends_with(text, TOKEN_HELP
              "medley_oauth2_token_fetches_total{upstream=\"hr\",result=\"ok\"} 0\n"
              "medley_oauth2_token_fetches_total{upstream=\"hr\",result=\"failed\"} 0\n" OFORCED_HELP
              "medley_oauth2_forced_fetches_total{upstream=\"hr\"} 0\n");
    assert_null(strstr(text, "medley_jwks"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

/* The config allows no quote in a name; the registry escapes anyway, as
 * it does every label value. */
static void label_values_are_escaped(void **state)
{
    (void)state;
    md_config_t *cfg = load(PROVIDERS UPSTREAMS EP);
    md_free(cfg->auth.providers[P_IDP].name);
    cfg->auth.providers[P_IDP].name = md_strdup("a\"b\\c\nd");
    md_free(cfg->upstreams[U_HR].name);
    cfg->upstreams[U_HR].name = md_strdup("h\"r");
    md_metrics_t *m = md_metrics_new(cfg, 1);
    char *text = render(m);
    assert_non_null(strstr(text, "\nmedley_jwks_keys{provider=\"a\\\"b\\\\c\\nd\"} 0\n"));
    assert_non_null(strstr(text, "\nmedley_jwks_fetches_total{provider=\"a\\\"b\\\\c\\nd\",result=\"failed\"} 0\n"));
    assert_non_null(strstr(text, "\nmedley_oauth2_forced_fetches_total{upstream=\"h\\\"r\"} 0\n"));
    free(text);
    md_metrics_free(m);
    md_config_free(cfg);
}

/* A cap that leaves no room for the last line: MD_ETOOBIG and nothing
 * appended, as for any family. */
static void too_small_output_appends_nothing(void **state)
{
    (void)state;
    md_config_t *cfg = load(PROVIDERS UPSTREAMS EP);
    md_metrics_t *m = md_metrics_new(cfg, 1);
    char *text = render(m);
    size_t full = strlen(text);
    free(text);
    md_buf_t b;
    md_buf_init(&b, full - 1);
    assert_int_equal(md_metrics_render(m, NULL, &b), MD_ETOOBIG);
    assert_int_equal(b.len, 0);
    md_buf_free(&b);
    md_buf_init(&b, full + 1); /* a terminating NUL may need the extra byte */
    assert_int_equal(md_metrics_render(m, NULL, &b), MD_OK);
    assert_int_equal(b.len, full);
    md_buf_free(&b);
    md_metrics_free(m);
    md_config_free(cfg);
}

/* What the gateway's tick does on the first worker. */
static void publish_creds(md_tm_worker_t *tw, void *arg)
{
    (void)arg;
    md_metrics_fetches_t f = fetches(2, 3, 1);
    md_tm_set_jwks(tw, P_B2C, &f, 6);
    f = fetches(4, 0, 5);
    md_tm_set_oauth2(tw, U_CRM, &f);
}

static void telemetry_worker_publishes(void **state)
{
    (void)state;
    md_config_t *cfg = load(PROVIDERS UPSTREAMS EP "access_log: { path: off }\n");
    char err[256] = "";
    md_telemetry_t *tm = md_telemetry_new(cfg, 2, err, sizeof(err));
    assert_non_null(tm);
    md_loop_t *loop = md_loop_new();
    assert_non_null(loop);
    /* The refresh runs once when the worker starts, then on every tick. */
    md_tm_worker_t *tw = md_tm_worker_new(tm, 1, loop, publish_creds, NULL);
    assert_non_null(tw);
    char *text = render(md_telemetry_metrics(tm));
    assert_non_null(strstr(text, "\nmedley_jwks_fetches_total{provider=\"b2c\",result=\"ok\"} 2\n"));
    assert_non_null(strstr(text, "\nmedley_jwks_fetches_total{provider=\"b2c\",result=\"failed\"} 3\n"));
    assert_non_null(strstr(text, "\nmedley_jwks_forced_fetches_total{provider=\"b2c\"} 1\n"));
    assert_non_null(strstr(text, "\nmedley_jwks_keys{provider=\"b2c\"} 6\n"));
    assert_non_null(strstr(text, "\nmedley_oauth2_token_fetches_total{upstream=\"crm\",result=\"ok\"} 4\n"));
    assert_non_null(strstr(text, "\nmedley_oauth2_forced_fetches_total{upstream=\"crm\"} 5\n"));
    assert_non_null(strstr(text, "\nmedley_jwks_keys{provider=\"idp\"} 0\n"));
    free(text);
    md_metrics_fetches_t f = fetches(1, 1, 1);
    md_tm_set_jwks(NULL, P_IDP, &f, 1); /* a worker without telemetry */
    md_tm_set_oauth2(NULL, U_HR, &f);
    md_tm_worker_free(tw);
    md_loop_free(loop);
    md_telemetry_free(tm);
    md_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_credential_starts_at_zero),
        cmocka_unit_test(values_are_stored_per_credential),
        cmocka_unit_test(other_credentials_are_ignored),
        cmocka_unit_test(families_only_when_configured),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(too_small_output_appends_nothing),
        cmocka_unit_test(telemetry_worker_publishes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
