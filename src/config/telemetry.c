/*
 * telemetry.c - the configuration keys of medley's telemetry (config.h,
 * md_telemetry_conf_t): where the admin listener binds, where the access
 * log goes and what it keeps, and whether composite responses carry a
 * Server-Timing header.
 *
 *   admin:         { listen: 127.0.0.1:9090 }        # or `listen: off` / `admin: off`
 *   access_log:    { path: stdout, sample: 1.0, level: all }   # or `access_log: off`
 *   server_timing: true
 *
 * Everything is on by default (src/telemetry/ keeps the cost small), so a
 * file that says nothing about telemetry still gets metrics, a health
 * endpoint and an access log on stdout.
 */
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void md_cfg_telemetry_defaults(md_config_t *cfg)
{
    md_telemetry_conf_t *t = &cfg->telemetry;
    t->admin_on = true;
    t->admin_host = md_strdup("127.0.0.1");
    t->admin_port = 9090;
    t->admin_set = false;
    t->log_target = MD_LOG_STDOUT;
    t->log_path = NULL;
    t->log_sample = 1.0;
    t->log_errors_only = false;
    t->server_timing = true;
}

bool md_cfg_is_telemetry_key(const char *key)
{
    return strcmp(key, "admin") == 0 || strcmp(key, "access_log") == 0 || strcmp(key, "server_timing") == 0;
}

static bool is_off(const md_cfg_node_t *n)
{
    return n->kind == MD_CFG_SCALAR && strcmp(n->str, "off") == 0;
}

static int parse_admin(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    static const char *const keys[] = { "listen", NULL };
    md_telemetry_conf_t *t = &c->cfg->telemetry;
    if (is_off(map)) {
        t->admin_on = false;
        t->admin_set = true;
        return MD_OK;
    }
    if (md_cfg_check_keys(c, map, keys, "admin") != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n = md_cfg_get(map, "listen");
    if (!n)
        return MD_OK;
    t->admin_set = true;
    if (is_off(n)) {
        t->admin_on = false;
        return MD_OK;
    }
    t->admin_on = true;
    return md_cfg_listen_addr(c, n, &t->admin_host, &t->admin_port);
}

/* A fraction written like 1, 1.0, 0.25 or .5; no exponent, no sign. */
static int parse_sample(md_cfg_ctx_t *c, const md_cfg_node_t *n, double *out)
{
    bool ok = n->kind == MD_CFG_SCALAR && n->len > 0 && n->len <= 16 &&
              strspn(n->str, "0123456789.") == n->len && strchr(n->str, '.') == strrchr(n->str, '.');
    char *end = NULL;
    double v = ok ? strtod(n->str, &end) : -1;
    if (!ok || end != n->str + n->len || !isfinite(v) || v < 0 || v > 1)
        return md_cfg_fail(c, n->line, n->col, "'sample' must be a number between 0 and 1, like 0.1");
    *out = v;
    return MD_OK;
}

static int parse_log_path(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_telemetry_conf_t *t)
{
    char *path = NULL;
    if (md_cfg_line(c, n, false, MD_CFG_MAX_PATH, &path) != MD_OK)
        return MD_EINVAL;
    md_free(t->log_path);
    t->log_path = NULL;
    if (strcmp(path, "stdout") == 0)
        t->log_target = MD_LOG_STDOUT;
    else if (strcmp(path, "stderr") == 0)
        t->log_target = MD_LOG_STDERR;
    else if (strcmp(path, "off") == 0)
        t->log_target = MD_LOG_OFF;
    else
        t->log_target = MD_LOG_FILE;
    if (t->log_target == MD_LOG_FILE)
        t->log_path = path;
    else
        md_free(path);
    return MD_OK;
}

static int parse_access_log(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    static const char *const keys[] = { "path", "sample", "level", NULL };
    md_telemetry_conf_t *t = &c->cfg->telemetry;
    if (is_off(map)) {
        t->log_target = MD_LOG_OFF;
        return MD_OK;
    }
    if (md_cfg_check_keys(c, map, keys, "access_log") != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "path")) && parse_log_path(c, n, t) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "sample")) && parse_sample(c, n, &t->log_sample) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "level"))) {
        bool errors = n->kind == MD_CFG_SCALAR && strcmp(n->str, "errors") == 0;
        if (!errors && !(n->kind == MD_CFG_SCALAR && strcmp(n->str, "all") == 0))
            return md_cfg_fail(c, n->line, n->col, "'level' must be all or errors");
        t->log_errors_only = errors;
    }
    return MD_OK;
}

int md_cfg_telemetry(md_cfg_ctx_t *c, const md_cfg_node_t *n)
{
    if (strcmp(n->key, "admin") == 0)
        return parse_admin(c, n);
    if (strcmp(n->key, "access_log") == 0)
        return parse_access_log(c, n);
    return md_cfg_bool(c, n, &c->cfg->telemetry.server_timing);
}
