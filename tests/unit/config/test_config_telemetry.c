/*
 * Unit tests for the telemetry keys of the config (config/telemetry.c):
 * the defaults (everything on, no span export), each key's accepted forms
 * (`tracing:` with its otlp_endpoint URL forms and otlp_protocol too), and
 * every mistake reported at its line:column. Positions are counted by hand.
 */
#include "testutil.h"

#include "cfgtest.h"

#include "config/config.h"

#include <stdio.h>

#define BASE "upstreams:\n  hr: { url: \"http://127.0.0.1:9001\" }\nendpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

static void defaults_turn_everything_on(void **state)
{
    (void)state;
    md_config_t *cfg = load(BASE);
    const md_telemetry_conf_t *t = &cfg->telemetry;
    assert_true(t->admin_on);
    assert_false(t->admin_set);
    assert_string_equal(t->admin_host, "127.0.0.1");
    assert_int_equal(t->admin_port, 9090);
    assert_int_equal(t->log_target, MD_LOG_STDOUT);
    assert_null(t->log_path);
    assert_true(t->log_sample == 1.0);
    assert_false(t->log_errors_only);
    assert_true(t->server_timing);
    assert_null(t->otlp_endpoint);
    assert_null(t->otlp_host);
    assert_null(t->otlp_path);
    assert_null(t->service_name); /* NULL means "medley" */
    assert_int_equal(t->otlp_port, 4318);
    assert_true(t->trace_sample == 1.0);
    assert_int_equal(t->otlp_queue, 8192);
    assert_int_equal(t->otlp_batch, 512);
    assert_int_equal(t->otlp_interval_ms, 1000);
    assert_int_equal(t->otlp_timeout_ms, 2000);
    assert_int_equal(t->otlp_protocol, MD_OTLP_PROTOBUF); /* OTLP/HTTP's default */
    md_config_free(cfg);
}

static void tracing_keys_are_read(void **state)
{
    (void)state;
    md_config_t *cfg = load("tracing:\n"
                            "  otlp_endpoint: http://collector.local:4319/v1/traces\n"
                            "  sample: 0.25\n"
                            "  service_name: api-gateway\n"
                            "  queue: 100\n"
                            "  batch: 50\n"
                            "  interval: 500ms\n"
                            "  timeout: 3s\n"
                            "  otlp_protocol: http/json\n" BASE);
    const md_telemetry_conf_t *t = &cfg->telemetry;
    assert_string_equal(t->otlp_endpoint, "http://collector.local:4319/v1/traces");
    assert_string_equal(t->otlp_host, "collector.local");
    assert_int_equal(t->otlp_port, 4319);
    assert_string_equal(t->otlp_path, "/v1/traces");
    assert_true(t->trace_sample == 0.25);
    assert_string_equal(t->service_name, "api-gateway");
    assert_int_equal(t->otlp_queue, 100);
    assert_int_equal(t->otlp_batch, 50);
    assert_int_equal(t->otlp_interval_ms, 500);
    assert_int_equal(t->otlp_timeout_ms, 3000);
    assert_int_equal(t->otlp_protocol, MD_OTLP_JSON);
    md_config_free(cfg);
    cfg = load("tracing: { otlp_protocol: http/protobuf }\n" BASE);
    assert_int_equal(cfg->telemetry.otlp_protocol, MD_OTLP_PROTOBUF);
    md_config_free(cfg);
}

static void otlp_endpoint_forms(void **state)
{
    (void)state;
    static const struct {
        const char *url, *host, *path;
        int port;
    } forms[] = {
        { "http://127.0.0.1", "127.0.0.1", "/v1/traces", 4318 },
        { "http://127.0.0.1/", "127.0.0.1", "/v1/traces", 4318 },
        { "http://otel:80", "otel", "/v1/traces", 80 },
        { "\"http://[::1]:5000/\"", "::1", "/v1/traces", 5000 },
        { "\"http://[fe80::1]/x\"", "fe80::1", "/x", 4318 },
        { "http://h:1/custom/path?tenant=a", "h", "/custom/path?tenant=a", 1 },
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "tracing: { otlp_endpoint: %s }\n" BASE, forms[i].url);
        md_config_t *cfg = load(yaml);
        assert_string_equal(cfg->telemetry.otlp_host, forms[i].host);
        assert_string_equal(cfg->telemetry.otlp_path, forms[i].path);
        assert_int_equal(cfg->telemetry.otlp_port, forms[i].port);
        md_config_free(cfg);
    }
    /* An unset batch follows a small queue down. */
    md_config_t *cfg = load("tracing: { queue: 100 }\n" BASE);
    assert_int_equal(cfg->telemetry.otlp_queue, 100);
    assert_int_equal(cfg->telemetry.otlp_batch, 100);
    assert_null(cfg->telemetry.otlp_endpoint);
    md_config_free(cfg);
    cfg = load("tracing: off\n" BASE);
    assert_null(cfg->telemetry.otlp_endpoint);
    md_config_free(cfg);
    /* An empty endpoint (an unset ${OTLP_ENDPOINT:-}) exports nothing. */
    cfg = load("tracing: { otlp_endpoint: \"\" }\n" BASE);
    assert_null(cfg->telemetry.otlp_endpoint);
    md_config_free(cfg);
    cfg = load("tracing: { sample: 0 }\n" BASE);
    assert_true(cfg->telemetry.trace_sample == 0.0);
    md_config_free(cfg);
}

static void tracing_mistakes_have_positions(void **state)
{
    (void)state;
    expect_error("tracing:\n  otlp_endpoint: https://otel:4318/v1/traces\n" BASE, 2, 18, "must be http://");
    expect_error("tracing:\n  otlp_endpoint: otel:4318\n" BASE, 2, 18, "must start with http://");
    expect_error("tracing:\n  otlp_endpoint: http://u:p@otel/\n" BASE, 2, 18, "must not hold user info");
    expect_error("tracing:\n  otlp_endpoint: http://otel:70000\n" BASE, 2, 18, "port that is not 1..65535");
    expect_error("tracing:\n  otlp_endpoint: http://otel:0\n" BASE, 2, 18, "port that is not 1..65535");
    expect_error("tracing:\n  otlp_endpoint: http://otel:x1\n" BASE, 2, 18, "port that is not 1..65535");
    expect_error("tracing:\n  otlp_endpoint: \"http://otel:\"\n" BASE, 2, 18, "malformed port");
    expect_error("tracing:\n  otlp_endpoint: http://:4318\n" BASE, 2, 18, "needs a host");
    expect_error("tracing:\n  otlp_endpoint: http://\n" BASE, 2, 18, "needs a host");
    expect_error("tracing:\n  otlp_endpoint: \"http://[::1\"\n" BASE, 2, 18, "unclosed '['");
    expect_error("tracing:\n  otlp_endpoint: http://a_b/\n" BASE, 2, 18, "not a name or an IP address");
    expect_error("tracing:\n  otlp_endpoint: \"http://h/a b\"\n" BASE, 2, 18, "path with a space");
    expect_error("tracing:\n  otlp_endpoint: http://h/a#b\n" BASE, 2, 18, "path with a space");
    expect_error("tracing:\n  sample: 2\n" BASE, 2, 11, "'sample' must be a number between 0 and 1");
    expect_error("tracing:\n  queue: 15\n" BASE, 2, 10, "'queue' must be an integer between 16 and 1000000");
    expect_error("tracing:\n  queue: 1000001\n" BASE, 2, 10, "between 16 and 1000000");
    expect_error("tracing:\n  queue: 100\n  batch: 101\n" BASE, 3, 10, "'batch' must be an integer between 1 and 100");
    expect_error("tracing:\n  batch: 0\n" BASE, 2, 10, "'batch' must be an integer between 1 and 8192");
    expect_error("tracing:\n  interval: fast\n" BASE, 2, 13, "'interval' must be a duration");
    expect_error("tracing:\n  timeout: 61s\n" BASE, 2, 12, "'timeout' must be at most 60s");
    expect_error("tracing:\n  service_name: \"\"\n" BASE, 2, 17, "'service_name' must not be empty");
    expect_error("tracing:\n  smaple: 1\n" BASE, 2, 3, "unknown key 'smaple' in tracing (did you mean 'sample'?)");
    expect_error("tracing: 5\n" BASE, 1, 10, "tracing must be a mapping");
    expect_error("tracing:\n  otlp_protocol: grpc\n" BASE, 2, 18, "'otlp_protocol' grpc is not supported");
    expect_error("tracing:\n  otlp_protocol: http/JSON\n" BASE, 2, 18,
                 "'otlp_protocol' must be http/protobuf or http/json");
    expect_error("tracing:\n  otlp_protocol: [http/json]\n" BASE, 2, 18,
                 "'otlp_protocol' must be http/protobuf or http/json");
    expect_error("tracing: { otlp_protocol: \"\" }\n" BASE, 1, 27, "'otlp_protocol' must be http/protobuf");
    expect_error("tracing:\n  otlp_protocl: http/json\n" BASE, 2, 3,
                 "unknown key 'otlp_protocl' in tracing (did you mean 'otlp_protocol'?)");
    expect_error("tracing: off\ntracing: off\n" BASE, 2, 1, "duplicate key 'tracing'");
}

static void every_key_is_read(void **state)
{
    (void)state;
    md_config_t *cfg = load("admin: { listen: \"[::1]:0\" }\n"
                            "access_log: { path: /var/log/medley/access.log, sample: 0.25, level: errors }\n"
                            "server_timing: false\n" BASE);
    const md_telemetry_conf_t *t = &cfg->telemetry;
    assert_true(t->admin_on);
    assert_true(t->admin_set);
    assert_string_equal(t->admin_host, "::1");
    assert_int_equal(t->admin_port, 0);
    assert_int_equal(t->log_target, MD_LOG_FILE);
    assert_string_equal(t->log_path, "/var/log/medley/access.log");
    assert_true(t->log_sample == 0.25);
    assert_true(t->log_errors_only);
    assert_false(t->server_timing);
    md_config_free(cfg);

    cfg = load("admin: { listen: 9191 }\naccess_log: { path: stderr, sample: 1, level: all }\n" BASE);
    assert_string_equal(cfg->telemetry.admin_host, "127.0.0.1"); /* a bare port keeps the host */
    assert_int_equal(cfg->telemetry.admin_port, 9191);
    assert_int_equal(cfg->telemetry.log_target, MD_LOG_STDERR);
    assert_true(cfg->telemetry.log_sample == 1.0);
    md_config_free(cfg);

    cfg = load("access_log: { path: stdout, sample: .5 }\n" BASE);
    assert_int_equal(cfg->telemetry.log_target, MD_LOG_STDOUT);
    assert_true(cfg->telemetry.log_sample == 0.5);
    md_config_free(cfg);
}

static void off_switches(void **state)
{
    (void)state;
    md_config_t *cfg = load("admin: { listen: off }\naccess_log: { path: off }\n" BASE);
    assert_false(cfg->telemetry.admin_on);
    assert_true(cfg->telemetry.admin_set);
    assert_int_equal(cfg->telemetry.log_target, MD_LOG_OFF);
    md_config_free(cfg);
    cfg = load("admin: off\naccess_log: off\n" BASE);
    assert_false(cfg->telemetry.admin_on);
    assert_int_equal(cfg->telemetry.log_target, MD_LOG_OFF);
    md_config_free(cfg);
    /* A file path is kept as written. */
    cfg = load("access_log: { path: /tmp/a.log }\n" BASE);
    assert_string_equal(cfg->telemetry.log_path, "/tmp/a.log");
    md_config_free(cfg);
}

static void mistakes_have_positions(void **state)
{
    (void)state;
    expect_error("admin: { listn: 1 }\n" BASE, 1, 10, "unknown key 'listn' in admin (did you mean 'listen'?)");
    expect_error("admin: { listen: nowhere:99999 }\n" BASE, 1, 18, "'listen' must be host:port");
    expect_error("admin: 9090\n" BASE, 1, 8, "admin must be a mapping");
    expect_error("access_log: { path: stdout, sampl: 1 }\n" BASE, 1, 29,
                 "unknown key 'sampl' in access_log (did you mean 'sample'?)");
    expect_error("access_log: { sample: 1.5 }\n" BASE, 1, 23, "'sample' must be a number between 0 and 1");
    expect_error("access_log: { sample: -0.1 }\n" BASE, 1, 23, "'sample' must be a number between 0 and 1");
    expect_error("access_log: { sample: 1e-1 }\n" BASE, 1, 23, "'sample' must be a number between 0 and 1");
    expect_error("access_log: { sample: 0.1.2 }\n" BASE, 1, 23, "'sample' must be a number between 0 and 1");
    expect_error("access_log: { sample: [1] }\n" BASE, 1, 23, "'sample' must be a number between 0 and 1");
    expect_error("access_log: { level: debug }\n" BASE, 1, 22, "'level' must be all or errors");
    expect_error("access_log: { path: \"\" }\n" BASE, 1, 21, "'path' must not be empty");
    expect_error("access_log: stdout\n" BASE, 1, 13, "access_log must be a mapping");
    expect_error("server_timing: yes\n" BASE, 1, 16, "'server_timing' must be true or false");
    expect_error("admin: { listen: off }\nadmin: { listen: off }\n" BASE, 2, 1, "duplicate key 'admin'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_turn_everything_on),
        cmocka_unit_test(every_key_is_read),
        cmocka_unit_test(off_switches),
        cmocka_unit_test(mistakes_have_positions),
        cmocka_unit_test(tracing_keys_are_read),
        cmocka_unit_test(otlp_endpoint_forms),
        cmocka_unit_test(tracing_mistakes_have_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
