/*
 * Unit tests for https:// upstreams in the config (config/config.c): URL
 * defaults (port 443, Host without :443), the `tls:` block and its
 * refusals at their line:column (counted by hand from the YAML below),
 * and an https oauth2 token_url. The certificate files the block names are
 * made at setup with the openssl command line in a mkdtemp directory.
 */
#include "testutil.h"

#include "cfgtest.h"

#include "config/config.h"
#include "upstream/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

/* Lines 1-3; `tls:` is line 4 column 5 and its settings start on line 5,
 * each at column 7 ("      key: value"): values of ca_file at column 16,
 * server_name and min_version 20, verify 15, cert_file 18, key_file 17. */
#define HEAD "upstreams:\n  u:\n    url: \"https://127.0.0.1:8443/api/\"\n"
#define HEAD_HTTP "upstreams:\n  u:\n    url: \"http://127.0.0.1\"\n"
#define EPS "endpoints:\n  - path: /a\n    backends: [ { upstream: u, path: /x } ]\n"

static char pki[64];

static int make_pki(void **state)
{
    (void)state;
    snprintf(pki, sizeof(pki), "/tmp/md-cfg-tls-XXXXXX");
    if (!mkdtemp(pki))
        return -1;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "(cd %s && K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes' && "
             "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=cfg-test-ca && "
             "openssl req -x509 $K -keyout cli.key -out cli.pem -days 2 -subj /CN=cfg-client && "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key && "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:x -out enc.key && "
             "echo 'not a certificate' > junk.pem) >/dev/null 2>&1",
             pki);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_pki(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
    return system(cmd) == 0 ? 0 : -1;
}

/* Copies text into out with every '@' replaced by the PKI directory. */
static const char *at_pki(char *out, size_t cap, const char *text)
{
    size_t n = 0, plen = strlen(pki);
    for (; *text && n + plen + 1 < cap; text++) {
        if (*text == '@') {
            memcpy(out + n, pki, plen);
            n += plen;
        } else {
            out[n++] = *text;
        }
    }
    out[n] = '\0';
    return out;
}

static md_config_t *load_tls(const char *head, const char *body)
{
    char y[4096], b[2048];
    snprintf(y, sizeof(y), "%s    tls:\n%s" EPS, head, at_pki(b, sizeof(b), body));
    return load(y);
}

static void expect_tls_error(const char *head, const char *body, int line, int col, const char *frag)
{
    char y[4096], b[2048], f[512];
    snprintf(y, sizeof(y), "%s    tls:\n%s" EPS, head, at_pki(b, sizeof(b), body));
    expect_error(y, line, col, at_pki(f, sizeof(f), frag));
}

static md_upstream_conf_t *only_upstream(md_config_t *c)
{
    assert_int_equal(c->nupstreams, 1);
    return &c->upstreams[0];
}

static md_tls_opts_t opts_of(const md_upstream_conf_t *u)
{
    assert_non_null(u->tls);
    md_tls_opts_t o;
    md_tls_ctx_opts(u->tls, &o);
    return o;
}

static md_config_t *load_url(const char *url)
{
    char y[1024];
    snprintf(y, sizeof(y), "upstreams:\n  u: { url: \"%s\" }\n" EPS, url);
    return load(y);
}

static void https_urls_default_to_port_443(void **state)
{
    (void)state;
    md_config_t *c = load_url("https://127.0.0.1");
    md_upstream_conf_t *u = only_upstream(c);
    assert_int_equal(u->port, 443);
    assert_string_equal(u->host_header, "127.0.0.1"); /* no :443 */
    assert_string_equal(u->base_path, "");
    assert_int_equal(ntohs(((struct sockaddr_in *)&u->addr)->sin_port), 443);
    md_tls_opts_t o = opts_of(u);
    assert_string_equal(o.server_name, "127.0.0.1");
    assert_string_equal(o.name, "u");
    assert_true(o.verify);
    assert_int_equal(o.min_version, MD_TLS_1_2);
    md_config_free(c);

    c = load_url("https://localhost:8443/api/");
    u = only_upstream(c);
    assert_int_equal(u->port, 8443);
    assert_string_equal(u->host_header, "localhost:8443");
    assert_string_equal(u->base_path, "/api");
    assert_string_equal(opts_of(u).server_name, "localhost");
    md_config_free(c);

    c = load_url("HTTPS://[::1]:443");
    u = only_upstream(c);
    assert_string_equal(u->host_header, "[::1]");
    assert_string_equal(opts_of(u).server_name, "::1");
    md_config_free(c);

    /* 443 is not special for http, and http has no TLS context. */
    c = load_url("http://127.0.0.1:443");
    u = only_upstream(c);
    assert_string_equal(u->host_header, "127.0.0.1:443");
    assert_null(u->tls);
    md_config_free(c);
}

static void tls_block_sets_every_option(void **state)
{
    (void)state;
    md_config_t *c = load_tls(HEAD, "      ca_file: @/ca.pem\n"
                                    "      server_name: api.example.com\n"
                                    "      min_version: 1.3\n"
                                    "      cert_file: @/cli.pem\n"
                                    "      key_file: @/cli.key\n");
    md_tls_opts_t o = opts_of(only_upstream(c));
    assert_string_equal(o.server_name, "api.example.com");
    assert_int_equal(o.min_version, MD_TLS_1_3);
    assert_true(o.verify);
    md_config_free(c);

    c = load_tls(HEAD, "      verify: false\n      min_version: \"1.2\"\n      server_name: \"::1\"\n");
    o = opts_of(only_upstream(c));
    assert_false(o.verify);
    assert_int_equal(o.min_version, MD_TLS_1_2);
    assert_string_equal(o.server_name, "::1");
    md_config_free(c);

    /* An empty block is the defaults. */
    c = load_tls(HEAD, "");
    o = opts_of(only_upstream(c));
    assert_string_equal(o.server_name, "127.0.0.1");
    assert_true(o.verify);
    md_config_free(c);
}

static void tls_refusals_point_at_the_value(void **state)
{
    (void)state;
    expect_tls_error(HEAD_HTTP, "      verify: false\n", 4, 5,
                     "'tls' of upstream 'u' needs an https:// url (it is 'http://127.0.0.1')");
    expect_tls_error(HEAD, "      ca_bundle: @/ca.pem\n", 5, 7, "ca_bundle");
    expect_tls_error(HEAD, "      server_name: \"bad name\"\n", 5, 20,
                     "'tls' of upstream 'u': 'server_name' must be a host name or an IP address");
    expect_tls_error(HEAD, "      min_version: 1.1\n", 5, 20, "'min_version' must be 1.2 or 1.3");
    expect_tls_error(HEAD, "      min_version: 3\n", 5, 20, "'min_version' must be 1.2 or 1.3");
    expect_tls_error(HEAD, "      verify: maybe\n", 5, 15, "'verify' must be true or false");
    expect_tls_error(HEAD, "      ca_file: @/missing.pem\n", 5, 16,
                     "'tls' of upstream 'u': cannot read ca_file '@/missing.pem': No such file or directory");
    expect_tls_error(HEAD, "      ca_file: @/junk.pem\n", 5, 16,
                     "ca_file '@/junk.pem' holds no usable PEM certificate");
    expect_tls_error(HEAD, "      ca_file: @\n", 5, 16, "is not a regular file");
    expect_tls_error(HEAD, "      ca_file: \"\"\n", 5, 16, "must not be empty");
    expect_tls_error(HEAD, "      ca_file: @/ca.pem\n      verify: false\n", 5, 16,
                     "'ca_file' is unused with 'verify: false'");
    expect_tls_error(HEAD, "      cert_file: @/cli.pem\n", 5, 18, "has 'cert_file' without 'key_file'");
    expect_tls_error(HEAD, "      key_file: @/cli.key\n", 5, 17, "has 'key_file' without 'cert_file'");
    expect_tls_error(HEAD, "      cert_file: @/junk.pem\n      key_file: @/cli.key\n", 5, 18,
                     "cert_file '@/junk.pem' holds no usable PEM certificate");
    expect_tls_error(HEAD, "      cert_file: @/cli.pem\n      key_file: @/other.key\n", 6, 17,
                     "key_file '@/other.key' does not match the certificate");
    expect_tls_error(HEAD, "      cert_file: @/cli.pem\n      key_file: @/enc.key\n", 6, 17,
                     "key_file '@/enc.key' is not an unencrypted PEM private key");
    expect_tls_error(HEAD, "      cert_file: @/cli.pem\n      key_file: @/missing.key\n", 6, 17,
                     "cannot read key_file");
    /* Not a mapping. */
    expect_error(HEAD "    tls: true\n" EPS, 4, 10, "'tls' of upstream 'u' must be a mapping");
}

static void oauth2_token_url_may_be_https(void **state)
{
    (void)state;
    md_config_t *c = load(HEAD_HTTP "    oauth2:\n      token_url: https://127.0.0.1/oauth2/token\n"
                                    "      client_id: medley\n      client_secret: s\n" EPS);
    md_upstream_conf_t *u = only_upstream(c);
    assert_null(u->tls);
    md_upstream_conf_t *t = &u->oauth2->token;
    assert_int_equal(t->port, 443);
    assert_string_equal(t->host_header, "127.0.0.1");
    assert_string_equal(t->base_path, "/oauth2/token");
    md_tls_opts_t o = opts_of(t);
    assert_string_equal(o.server_name, "127.0.0.1");
    assert_string_equal(o.name, "u.oauth2");
    assert_true(o.verify);
    md_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(https_urls_default_to_port_443),
        cmocka_unit_test(tls_block_sets_every_option),
        cmocka_unit_test(tls_refusals_point_at_the_value),
        cmocka_unit_test(oauth2_token_url_may_be_https),
    };
    return cmocka_run_group_tests(tests, make_pki, remove_pki);
}
