/*
 * Unit tests for a jwt provider's key source in the config
 * (config/auth.c): `jwks_url` parsed into an upstream like an oauth2
 * token_url (host, port, path, the JWKS caps), its `jwks_refresh` and
 * `jwks_timeout`, and the refusals: both or neither of jwks_file and
 * jwks_url, out-of-range durations, the url-only keys with a file, bad
 * URLs. Positions are counted by hand from the YAML below.
 */
#include "testutil.h"

#include "cfgtest.h"

#include "auth/jwks.h"
#include "config/config.h"

#define UP                                                                                                   \
    "upstreams:\n"                                                                                           \
    "  hr: { url: \"http://127.0.0.1:9001\" }\n"
#define EP "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

/* A jwt provider `p`: lines 4-6 are type, issuer and audience; the body's
 * lines start at line 7, column 7. */
#define JWT(body) "auth:\n  providers:\n    p:\n      type: jwt\n      issuer: i\n      audience: a\n" body UP EP

static const md_auth_provider_conf_t *provider(const md_config_t *cfg)
{
    assert_int_equal(cfg->auth.nproviders, 1);
    return &cfg->auth.providers[0];
}

static void jwks_url_becomes_an_upstream_with_jwks_caps(void **state)
{
    (void)state;
    md_config_t *cfg = load(JWT("      jwks_url: \"http://127.0.0.1:8081/tenant-1/discovery/v2.0/keys/\"\n"));
    const md_auth_provider_conf_t *p = provider(cfg);
    assert_null(p->jwks_file);
    assert_non_null(p->jwks);
    const md_upstream_conf_t *u = p->jwks;
    assert_string_equal(u->url, "http://127.0.0.1:8081/tenant-1/discovery/v2.0/keys/");
    assert_string_equal(u->host, "127.0.0.1");
    assert_int_equal(u->port, 8081);
    assert_string_equal(u->base_path, "/tenant-1/discovery/v2.0/keys"); /* trailing '/' dropped */
    assert_string_equal(u->host_header, "127.0.0.1:8081");
    assert_string_equal(u->name, "p.jwks");
    assert_int_equal(u->timeout_ms, 5000);
    assert_int_equal(u->connect_timeout_ms, 1000);
    assert_int_equal(u->max_connections, 1);
    assert_int_equal(u->max_queue, 1);
    assert_int_equal(u->max_response_bytes, MD_JWKS_MAX_BYTES);
    assert_int_equal(u->nheaders, 0);
    assert_null(u->oauth2);
    assert_int_equal(u->line, 7);
    assert_int_equal(u->col, 17);
    assert_int_equal(p->jwks_refresh_ms, 3600000);
    md_config_free(cfg);
}

static void refresh_and_timeout_are_read(void **state)
{
    (void)state;
    md_config_t *cfg = load(JWT("      jwks_url: http://localhost/keys\n      jwks_refresh: 10m\n"
                                "      jwks_timeout: 2s\n"));
    const md_auth_provider_conf_t *p = provider(cfg);
    assert_int_equal(p->jwks_refresh_ms, 600000);
    assert_int_equal(p->jwks->timeout_ms, 2000);
    assert_int_equal(p->jwks->connect_timeout_ms, 1000);
    assert_int_equal(p->jwks->port, 80);
    assert_string_equal(p->jwks->base_path, "/keys");
    md_config_free(cfg);
    /* The bounds themselves are accepted; a short timeout caps connect. */
    cfg = load(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_refresh: 1m\n      jwks_timeout: 100ms\n"));
    assert_int_equal(provider(cfg)->jwks_refresh_ms, 60000);
    assert_int_equal(provider(cfg)->jwks->timeout_ms, 100);
    assert_int_equal(provider(cfg)->jwks->connect_timeout_ms, 100);
    md_config_free(cfg);
    cfg = load(JWT("      jwks_url: http://127.0.0.1\n      jwks_refresh: 24h\n      jwks_timeout: 1m\n"));
    assert_int_equal(provider(cfg)->jwks_refresh_ms, 86400000);
    assert_int_equal(provider(cfg)->jwks->timeout_ms, 60000);
    assert_string_equal(provider(cfg)->jwks->base_path, "");
    md_config_free(cfg);
}

static void jwks_file_alone_is_unchanged(void **state)
{
    (void)state;
    md_config_t *cfg = load(JWT("      jwks_file: /etc/medley/jwks.json\n"));
    assert_string_equal(provider(cfg)->jwks_file, "/etc/medley/jwks.json");
    assert_null(provider(cfg)->jwks);
    md_config_free(cfg);
}

static void exactly_one_source(void **state)
{
    (void)state;
    expect_error(JWT("      jwks_file: /j\n      jwks_url: http://127.0.0.1/k\n"), 8, 7,
                 "auth provider 'p' has both 'jwks_file' and 'jwks_url' (pick one)");
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_file: /j\n"), 8, 7,
                 "has both 'jwks_file' and 'jwks_url'");
    expect_error(JWT(""), 3, 5, "missing required key 'jwks_file' or 'jwks_url' in auth provider 'p'");
    expect_error(JWT("      jwks_file: /j\n      jwks_refresh: 1h\n"), 8, 7,
                 "'jwks_refresh' of auth provider 'p' needs 'jwks_url'");
    expect_error(JWT("      jwks_timeout: 1s\n      jwks_file: /j\n"), 7, 7, "'jwks_timeout' of auth provider 'p' "
                 "needs 'jwks_url'");
    expect_error(JWT("      jwks_uri: http://127.0.0.1/k\n"), 7, 7,
                 "unknown key 'jwks_uri' in auth provider 'p': write 'jwks_url'");
}

static void duration_bounds(void **state)
{
    (void)state;
    const char *refresh = "'jwks_refresh' must be a duration between 1m and 24h";
    const char *timeout = "'jwks_timeout' must be a duration between 100ms and 1m";
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_refresh: 59s\n"), 8, 21, refresh);
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_refresh: 25h\n"), 8, 21, refresh);
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_refresh: hourly\n"), 8, 21, refresh);
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_refresh: [1h]\n"), 8, 21, refresh);
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_timeout: 99ms\n"), 8, 21, timeout);
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_timeout: 61s\n"), 8, 21, timeout);
    expect_error(JWT("      jwks_url: http://127.0.0.1/k\n      jwks_timeout: 0\n"), 8, 21, timeout);
}

static void bad_urls(void **state)
{
    (void)state;
    expect_error(JWT("      jwks_url: ftp://127.0.0.1/k\n"), 7, 17, "jwt jwks_url 'ftp://127.0.0.1/k' must start with");
    expect_error(JWT("      jwks_url: \"http://127.0.0.1/k?x=1\"\n"), 7, 17, "must not have a query or fragment");
    expect_error(JWT("      jwks_url: \"http://u@127.0.0.1/k\"\n"), 7, 17, "must not contain user info");
    expect_error(JWT("      jwks_url: \"http://127.0.0.1:0/k\"\n"), 7, 17, "has a bad port");
    expect_error(JWT("      jwks_url: \"\"\n"), 7, 17, "'jwks_url' must not be empty");
    expect_error(JWT("      jwks_url: [a]\n"), 7, 17, "'jwks_url'");
    /* A jwks_url on another type is refused like any foreign key. */
    expect_error("auth:\n  providers:\n    p:\n      type: basic\n      file: /u\n      jwks_url: http://x\n" UP EP, 6,
                 7, "'jwks_url' does not apply to auth provider 'p'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwks_url_becomes_an_upstream_with_jwks_caps),
        cmocka_unit_test(refresh_and_timeout_are_read),
        cmocka_unit_test(jwks_file_alone_is_unchanged),
        cmocka_unit_test(exactly_one_source),
        cmocka_unit_test(duration_bounds),
        cmocka_unit_test(bad_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
