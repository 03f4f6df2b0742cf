/*
 * telemetry.c - the configuration keys of medley's telemetry (config.h,
 * md_telemetry_conf_t): where the admin listener binds, where the access
 * log goes and what it keeps, and whether composite responses carry a
 * Server-Timing header.
 *
 *   admin:         { listen: 127.0.0.1:9090 }        # or `listen: off` / `admin: off`
 *   access_log:    { path: stdout, sample: 1.0, level: all }   # or `access_log: off`
 *   server_timing: true
 *   tracing:       { otlp_endpoint: http://127.0.0.1:4318/v1/traces, sample: 1.0,
 *                    service_name: medley, queue: 8192, batch: 512, interval: 1s,
 *                    timeout: 2s, otlp_protocol: http/protobuf }   # or `tracing: off`
 *
 * Everything is on by default (src/telemetry/ keeps the cost small), so a
 * file that says nothing about telemetry still gets metrics, a health
 * endpoint and an access log on stdout. Trace context is always propagated;
 * spans are exported only to an otlp_endpoint, so `tracing: off` (or no
 * `tracing:`) means no export.
 */
#include "config/internal.h"
#include "core/alloc.h"
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OTLP_DEFAULT_PORT 4318
#define OTLP_DEFAULT_PATH "/v1/traces"
#define OTLP_DEFAULT_BATCH 512
#define OTLP_QUEUE_MIN 16
#define OTLP_QUEUE_MAX 1000000
#define OTLP_TIMEOUT_MAX_MS 60000
#define SERVICE_NAME_MAX 256
#define HOST_MAX 253

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
    /* service_name stays NULL for "medley": only a configured one is
     * allocated, so a file without tracing owns no tracing strings. */
    t->otlp_port = OTLP_DEFAULT_PORT;
    t->trace_sample = 1.0;
    t->otlp_queue = 8192;
    t->otlp_batch = OTLP_DEFAULT_BATCH;
    t->otlp_interval_ms = 1000;
    t->otlp_timeout_ms = 2000;
    t->otlp_protocol = MD_OTLP_PROTOBUF; /* OTLP's own default for OTLP/HTTP */
}

bool md_cfg_is_telemetry_key(const char *key)
{
    return strcmp(key, "admin") == 0 || strcmp(key, "access_log") == 0 || strcmp(key, "server_timing") == 0 ||
           strcmp(key, "tracing") == 0;
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

/* ---- tracing ---- */

static int bad_endpoint(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *why)
{
    char shown[MD_CFG_SHOW];
    return md_cfg_fail(c, n->line, n->col, "'otlp_endpoint' %s: '%s' (expected http://host[:port][/path])", why,
                       md_cfg_show(shown, n->str));
}

static bool host_char(char ch, bool v6)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    return v6 ? ch == ':' || ch == '.' : ch == '-' || ch == '.';
}

/* host ("name", "1.2.3.4" or "[v6]") and optional ":port" of a[0..n). */
static int split_authority(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *a, size_t len,
                           md_telemetry_conf_t *t)
{
    bool v6 = len > 0 && a[0] == '[';
    const char *hend = v6 ? memchr(a, ']', len) : memchr(a, ':', len);
    size_t hlen = hend ? (size_t)(hend - a) : len;
    const char *host = a + (v6 ? 1 : 0);
    size_t host_len = hlen - (v6 ? 1 : 0);
    if (v6 && !hend)
        return bad_endpoint(c, n, "has an unclosed '['");
    if (host_len == 0 || host_len > HOST_MAX)
        return bad_endpoint(c, n, "needs a host");
    for (size_t i = 0; i < host_len; i++)
        if (!host_char(host[i], v6))
            return bad_endpoint(c, n, "has a host that is not a name or an IP address");
    const char *rest = a + hlen + (v6 ? 1 : 0), *end = a + len;
    if (rest < end) {
        unsigned port = 0;
        const char *p = rest + 1;
        if (*rest != ':' || p == end)
            return bad_endpoint(c, n, "has a malformed port");
        for (; p < end && *p >= '0' && *p <= '9' && port <= 65535; p++)
            port = port * 10 + (unsigned)(*p - '0');
        if (p != end || port == 0 || port > 65535)
            return bad_endpoint(c, n, "has a port that is not 1..65535");
        t->otlp_port = (uint16_t)port;
    }
    t->otlp_host = md_strndup(host, host_len);
    return MD_OK;
}

/* http://host[:port][/path], or "" for no export: no TLS (a collector or agent runs close by),
 * no user info (nothing secret in the config's URLs), a path of visible
 * ASCII; none or "/" means /v1/traces. */
static int parse_otlp_endpoint(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_telemetry_conf_t *t)
{
    char *url = NULL;
    if (md_cfg_line(c, n, true, 2048, &url) != MD_OK)
        return MD_EINVAL;
    md_free(url);
    if (n->str[0] == '\0')
        return MD_OK; /* "" (e.g. an unset ${OTLP_ENDPOINT:-}): no export */
    if (strncmp(n->str, "https://", 8) == 0)
        return bad_endpoint(c, n, "must be http:// (export to a collector or agent nearby; TLS is not built in)");
    if (strncmp(n->str, "http://", 7) != 0)
        return bad_endpoint(c, n, "must start with http://");
    const char *a = n->str + 7, *slash = strchr(a, '/');
    size_t alen = slash ? (size_t)(slash - a) : strlen(a);
    if (memchr(a, '@', alen))
        return bad_endpoint(c, n, "must not hold user info");
    const char *path = slash && slash[1] ? slash : OTLP_DEFAULT_PATH;
    for (const char *p = path; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '#')
            return bad_endpoint(c, n, "has a path with a space, control character or '#'");
    md_free(t->otlp_host);
    t->otlp_host = NULL;
    t->otlp_port = OTLP_DEFAULT_PORT;
    if (split_authority(c, n, a, alen, t) != MD_OK)
        return MD_EINVAL;
    md_free(t->otlp_endpoint);
    md_free(t->otlp_path);
    t->otlp_endpoint = md_strdup(n->str);
    t->otlp_path = md_strdup(path);
    return MD_OK;
}

static int parse_interval_timeout(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_telemetry_conf_t *t)
{
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "interval")) && md_cfg_duration(c, n, &t->otlp_interval_ms) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "timeout"))) {
        if (md_cfg_duration(c, n, &t->otlp_timeout_ms) != MD_OK)
            return MD_EINVAL;
        if (t->otlp_timeout_ms > OTLP_TIMEOUT_MAX_MS)
            return md_cfg_fail(c, n->line, n->col, "'timeout' must be at most 60s (it also bounds the flush "
                                                   "at shutdown)");
    }
    return MD_OK;
}

/* The names OTEL_EXPORTER_OTLP_PROTOCOL uses; gRPC is not built in. */
static int parse_protocol(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_telemetry_conf_t *t)
{
    bool scalar = n->kind == MD_CFG_SCALAR;
    if (scalar && strcmp(n->str, "http/protobuf") == 0) {
        t->otlp_protocol = MD_OTLP_PROTOBUF;
        return MD_OK;
    }
    if (scalar && strcmp(n->str, "http/json") == 0) {
        t->otlp_protocol = MD_OTLP_JSON;
        return MD_OK;
    }
    if (scalar && strcmp(n->str, "grpc") == 0)
        return md_cfg_fail(c, n->line, n->col, "'otlp_protocol' grpc is not supported: use http/protobuf "
                                               "(a collector's OTLP/HTTP port, 4318)");
    return md_cfg_fail(c, n->line, n->col, "'otlp_protocol' must be http/protobuf or http/json");
}

static int parse_tracing(md_cfg_ctx_t *c, const md_cfg_node_t *map)
{
    static const char *const keys[] = { "otlp_endpoint", "otlp_protocol", "sample", "service_name", "queue",
                                        "batch", "interval", "timeout", NULL };
    md_telemetry_conf_t *t = &c->cfg->telemetry;
    if (is_off(map))
        return MD_OK;
    if (md_cfg_check_keys(c, map, keys, "tracing") != MD_OK)
        return MD_EINVAL;
    const md_cfg_node_t *n;
    if ((n = md_cfg_get(map, "otlp_endpoint")) && parse_otlp_endpoint(c, n, t) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "otlp_protocol")) && parse_protocol(c, n, t) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "sample")) && parse_sample(c, n, &t->trace_sample) != MD_OK)
        return MD_EINVAL;
    if ((n = md_cfg_get(map, "service_name"))) {
        char *name = NULL;
        if (md_cfg_line(c, n, false, SERVICE_NAME_MAX, &name) != MD_OK)
            return MD_EINVAL;
        md_free(t->service_name);
        t->service_name = name;
    }
    if ((n = md_cfg_get(map, "queue")) &&
        md_cfg_uint(c, n, OTLP_QUEUE_MIN, OTLP_QUEUE_MAX, &t->otlp_queue) != MD_OK)
        return MD_EINVAL;
    /* An unset batch follows a small queue down; a set one must fit in it. */
    t->otlp_batch = MD_MIN((uint32_t)OTLP_DEFAULT_BATCH, t->otlp_queue);
    if ((n = md_cfg_get(map, "batch")) && md_cfg_uint(c, n, 1, t->otlp_queue, &t->otlp_batch) != MD_OK)
        return MD_EINVAL;
    return parse_interval_timeout(c, map, t);
}

int md_cfg_telemetry(md_cfg_ctx_t *c, const md_cfg_node_t *n)
{
    if (strcmp(n->key, "admin") == 0)
        return parse_admin(c, n);
    if (strcmp(n->key, "access_log") == 0)
        return parse_access_log(c, n);
    if (strcmp(n->key, "tracing") == 0)
        return parse_tracing(c, n);
    return md_cfg_bool(c, n, &c->cfg->telemetry.server_timing);
}
