/*
 * Unit tests for the telemetry keys of the config (config/telemetry.c):
 * the defaults (everything on), each key's accepted forms, and every
 * mistake reported at its line:column. Positions are counted by hand.
 */
#include "testutil.h"

#include "config/config.h"

#include <stdio.h>

#define BASE "upstreams:\n  hr: { url: \"http://127.0.0.1:9001\" }\nendpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

static md_config_t *load(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "t.yaml", &d);
    if (!cfg)
        fail_msg("%d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

static void expect_error(const char *yaml, int line, int col, const char *frag)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "t.yaml", &d);
    if (cfg) {
        md_config_free(cfg);
        fail_msg("loaded, but expected %d:%d: %s", line, col, frag);
    }
    if (d.line != line || d.col != col || !strstr(d.msg, frag))
        fail_msg("got %d:%d: %s\nwanted %d:%d: ...%s...", d.line, d.col, d.msg, line, col, frag);
}

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
    md_config_free(cfg);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
