/*
 * cfgtest.h - what the config tests share: load a YAML string that must
 * load, or one that must fail at a given FILE:LINE:COL with a given
 * message fragment (optionally without showing a secret). Include after
 * testutil.h. The file name in diagnostics is "c.yaml".
 */
#ifndef MD_CFGTEST_H
#define MD_CFGTEST_H

#include "config/config.h"

#include <string.h>

/* Loads yaml, which must load; fails the test with the diagnostic. */
static inline md_config_t *load(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "c.yaml", &d);
    if (!cfg)
        fail_msg("%d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

/* Loads yaml, which must fail at line:col with `frag` in the message. */
static inline void expect_error(const char *yaml, int line, int col, const char *frag)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "c.yaml", &d);
    if (cfg) {
        md_config_free(cfg);
        fail_msg("loaded, but expected %d:%d: %s", line, col, frag);
    }
    if (d.line != line || d.col != col || !strstr(d.msg, frag))
        fail_msg("got %d:%d: %s\nwanted %d:%d: ...%s...", d.line, d.col, d.msg, line, col, frag);
    assert_string_equal(d.file, "c.yaml");
}

/* Like expect_error, and the whole message must not reveal `secret`. */
static inline void expect_secret_error(const char *yaml, int line, int col, const char *frag, const char *secret)
{
    expect_error(yaml, line, col, frag);
    md_diag_t d;
    assert_null(md_config_load_string(yaml, strlen(yaml), "c.yaml", &d));
    char full[1024];
    md_diag_format(&d, full, sizeof(full));
    if (strstr(full, secret))
        fail_msg("the message shows the secret: %s", full);
}

#endif
