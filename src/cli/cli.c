/*
 * cli.c - the command line: `run`, `check`, `demo`, `--version`, `--help`
 * (`connector` is in connector.c, `explain` in explain.c).
 *
 * `run` and `demo` share serve(): compile the gateway, bind the server,
 * block the shutdown signals in every thread and leave them to one signal
 * thread (sigwait), which asks the server to drain. Exit codes: 0 success,
 * 1 runtime or config error, 2 usage error.
 */
#include "cli/cli.h"

#include "config/config.h"
#include "core/alloc.h"
#include "demo/config.h"
#include "demo/mock.h"
#include "gateway/gateway.h"
#include "http/server.h"
#include "telemetry/admin.h"
#include "telemetry/telemetry.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MD_VERSION
#define MD_VERSION "0.0.0"
#endif

/* The signal that tells the signal thread to exit (never sent from outside
 * in practice; it is blocked everywhere like the others). */
#define SIG_QUIT_THREAD SIGUSR2

typedef struct opts {
    const char *config;
    int port;     /* -1 = from config */
    int workers;  /* 0 = from config */
    int admin_port; /* -1 = from config */
} opts_t;

static void usage(FILE *f)
{
    fprintf(f,
            "medley %s - composite API endpoints from one YAML file\n\n"
            "usage:\n"
            "  medley run -c FILE [--port N] [--workers N] [--admin-port N]\n"
            "                                                serve the endpoints in FILE\n"
            "  medley check -c FILE                          validate FILE (errors as FILE:LINE:COL)\n"
            "  medley demo [--port N] [--admin-port N]       built-in demo with mock backends (port 8080)\n"
            "  medley connector export -c FILE --out DIR [--sample] [--force]\n"
            "                                                Power Platform connector package for FILE\n"
            "  medley connector lint DIR                     check a connector package offline\n"
            "  medley explain -c FILE [--header 'Name: value']... [--json] PATH\n"
            "                                                one GET through FILE: per backend time and bytes\n"
            "  medley --version | --help\n\n"
            "Admin: /metrics, /healthz, /readyz on 127.0.0.1:9090 (admin.listen; --admin-port N, 0 = any).\n"
            "Signals: SIGTERM/SIGINT drain in-flight requests, then exit 0.\n"
            "Docs: README.md, docs/config.md\n",
            MD_VERSION);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return MD_EINVAL;
    *out = (int)v;
    return MD_OK;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    o->config = NULL;
    o->port = -1;
    o->workers = 0;
    o->admin_port = -1;
    for (int i = 2; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && v) {
            o->config = v;
        } else if (!strcmp(a, "--port") && v) {
            if (parse_int(v, 0, 65535, &o->port) != MD_OK)
                return fprintf(stderr, "medley: --port must be 0..65535\n"), MD_EINVAL;
        } else if (!strcmp(a, "--admin-port") && v) {
            if (parse_int(v, 0, 65535, &o->admin_port) != MD_OK)
                return fprintf(stderr, "medley: --admin-port must be 0..65535\n"), MD_EINVAL;
        } else if (!strcmp(a, "--workers") && v) {
            if (parse_int(v, 1, 256, &o->workers) != MD_OK)
                return fprintf(stderr, "medley: --workers must be 1..256\n"), MD_EINVAL;
        } else {
            fprintf(stderr, "medley: unknown or incomplete option '%s'\n", a);
            return MD_EINVAL;
        }
    }
    return MD_OK;
}

static void print_diag(const md_diag_t *d)
{
    char line[1024];
    md_diag_format(d, line, sizeof(line));
    fprintf(stderr, "%s\n", line);
}

static void *signal_thread(void *arg)
{
    md_server_t *srv = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIG_QUIT_THREAD);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0 || sig == SIG_QUIT_THREAD)
            return NULL;
        fprintf(stderr, "medley: %s received, draining in-flight requests\n", strsignal(sig));
        md_server_shutdown(srv);
    }
}

static int resolve_workers(const md_config_t *cfg)
{
    if (cfg->workers > 0)
        return cfg->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)MD_MIN(n, 256) : 1;
}

/* Binds the admin listener (telemetry/admin.h) before the main server.
 * Failing to bind the default address only warns (Prometheus itself
 * defaults to 9090); an address the user chose must work. */
static int open_admin(const md_config_t *cfg, md_telemetry_t *tm, md_admin_t **out)
{
    const md_telemetry_conf_t *t = &cfg->telemetry;
    char err[256];
    *out = NULL;
    if (!t->admin_on)
        return MD_OK;
    *out = md_admin_new(t->admin_host, t->admin_port, tm, err, sizeof(err));
    if (!*out && t->admin_set) {
        fprintf(stderr, "medley: admin %s\n", err);
        return MD_ERR;
    }
    if (!*out)
        fprintf(stderr, "medley: admin listener not started (%s); set admin.listen or --admin-port\n", err);
    return MD_OK;
}

/* Starts the admin listener's thread before the main server serves. */
static int start_admin(const md_config_t *cfg, md_admin_t *a, md_server_t *srv)
{
    if (!a)
        return MD_OK;
    if (md_admin_start(a, srv) != MD_OK)
        return MD_ERR;
    const char *host = cfg->telemetry.admin_host;
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "medley: admin on http://%s%s%s:%u (/metrics, /healthz, /readyz, /cache/purge)\n", v6 ? "[" : "", host,
            v6 ? "]" : "", md_admin_port(a));
    return MD_OK;
}

static void apply_overrides(md_config_t *cfg, const opts_t *o)
{
    if (o->port >= 0)
        cfg->listen_port = (uint16_t)o->port;
    if (o->workers > 0)
        cfg->workers = o->workers;
    if (o->admin_port >= 0) {
        cfg->telemetry.admin_on = true;
        cfg->telemetry.admin_set = true;
        cfg->telemetry.admin_port = (uint16_t)o->admin_port;
    }
}

/* Frees what serve() made, in the reverse order (NULLs are ignored). */
static void teardown(md_admin_t *admin, md_server_t *srv, md_gateway_t *gw, md_telemetry_t *tm)
{
    md_admin_free(admin); /* stops after the main server: /readyz reported the drain */
    md_server_free(srv);
    md_gateway_free(gw);
    md_telemetry_free(tm); /* writes out the access log */
}

/* Compiles, binds and serves cfg until a shutdown signal has drained it. */
static int serve(md_config_t *cfg, const opts_t *o, void (*banner)(uint16_t port, void *arg), void *arg)
{
    md_diag_t diag = { 0 };
    char err[256];
    apply_overrides(cfg, o);
    int nworkers = resolve_workers(cfg);
    md_gateway_t *gw = md_gateway_new(cfg, nworkers, &diag);
    if (!gw) {
        print_diag(&diag);
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIG_QUIT_THREAD);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread, the log writer's too */
    signal(SIGPIPE, SIG_IGN);
    md_telemetry_t *tm = md_telemetry_new(cfg, nworkers, err, sizeof(err));
    if (!tm) {
        fprintf(stderr, "medley: %s\n", err);
        teardown(NULL, NULL, gw, NULL);
        return 1;
    }
    md_gateway_set_telemetry(gw, tm);
    md_admin_t *admin = NULL;
    if (open_admin(cfg, tm, &admin) != MD_OK) {
        teardown(NULL, NULL, gw, tm);
        return 1;
    }
    if (admin) {
        md_admin_route_t route;
        md_gateway_admin_route(gw, &route);
        md_admin_set_route(admin, &route);
    }
    md_server_hooks_t hooks = { 0 };
    md_gateway_hooks(gw, &hooks);
    md_server_t *srv = md_server_new(cfg->listen_host, cfg->listen_port, nworkers, &cfg->limits, &hooks, err,
                                     sizeof(err));
    if (!srv) {
        fprintf(stderr, "medley: %s\n", err);
        teardown(admin, NULL, gw, tm);
        return 1;
    }
    if (start_admin(cfg, admin, srv) != MD_OK) {
        teardown(admin, srv, gw, tm);
        return 1;
    }
    pthread_t sig;
    pthread_create(&sig, NULL, signal_thread, srv);
    fprintf(stderr, "medley %s: listening on http://%s:%u (%d workers, %zu endpoints)\n", MD_VERSION,
            cfg->listen_host, md_server_port(srv), nworkers, cfg->nendpoints);
    if (banner)
        banner(md_server_port(srv), arg);
    md_server_run(srv);
    pthread_kill(sig, SIG_QUIT_THREAD);
    pthread_join(sig, NULL);
    teardown(admin, srv, gw, tm);
    fprintf(stderr, "medley: stopped\n");
    return 0;
}

static md_config_t *load(const char *file)
{
    md_diag_t diag = { 0 };
    md_config_t *cfg = md_config_load_file(file, &diag);
    if (!cfg)
        print_diag(&diag);
    return cfg;
}

static int cmd_run(const opts_t *o)
{
    if (!o->config)
        return fprintf(stderr, "medley run: -c FILE is required\n"), 2;
    md_config_t *cfg = load(o->config);
    if (!cfg)
        return 1;
    int rc = serve(cfg, o, NULL, NULL);
    md_config_free(cfg);
    return rc;
}

static int cmd_check(const opts_t *o)
{
    if (!o->config)
        return fprintf(stderr, "medley check: -c FILE is required\n"), 2;
    md_config_t *cfg = load(o->config);
    if (!cfg)
        return 1;
    md_diag_t diag = { 0 };
    md_gateway_t *gw = md_gateway_new(cfg, 1, &diag);
    int rc = 0;
    if (!gw) {
        print_diag(&diag);
        rc = 1;
    } else {
        printf("%s: ok (%zu upstreams, %zu endpoints)\n", o->config, cfg->nupstreams, cfg->nendpoints);
    }
    md_gateway_free(gw);
    md_config_free(cfg);
    return rc;
}

static void demo_banner(uint16_t port, void *arg)
{
    uint16_t mock_port = *(uint16_t *)arg;
    fprintf(stderr,
            "\nmedley demo is up. Mock backends (news, events, hr) on http://127.0.0.1:%u\n"
            "  open  http://127.0.0.1:%u/                  the demo page\n"
            "  try   curl 'http://127.0.0.1:%u/home?user=42'   news + events + vacation card, one call\n"
            "        curl 'http://127.0.0.1:%u/news-raw'       the news upstream, proxied unchanged\n"
            "        curl 'http://127.0.0.1:%u/home?user=abc'  a 400 naming the bad parameter\n"
            "Stop with Ctrl-C.\n\n",
            mock_port, port, port, port, port);
}

static int cmd_demo(opts_t *o)
{
    char err[256];
    md_demo_mocks_t *mocks = NULL;
    if (o->port < 0)
        o->port = 8080;
    if (md_demo_mocks_start("127.0.0.1", 0, &mocks, err, sizeof(err)) != MD_OK) {
        fprintf(stderr, "medley demo: mock backends: %s\n", err);
        return 1;
    }
    uint16_t mock_port = md_demo_mocks_port(mocks);
    char *yaml = md_demo_config(mock_port, (uint16_t)o->port);
    md_diag_t diag = { 0 };
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "<demo>", &diag);
    int rc = 1;
    if (!cfg)
        print_diag(&diag);
    else
        rc = serve(cfg, o, demo_banner, &mock_port);
    md_config_free(cfg);
    md_free(yaml);
    md_demo_mocks_stop(mocks);
    return rc;
}

int md_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("medley %s\n", MD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "connector"))
        return md_cli_connector(argc, argv);
    if (!strcmp(cmd, "explain"))
        return md_cli_explain(argc, argv);
    opts_t o;
    if (strcmp(cmd, "run") && strcmp(cmd, "check") && strcmp(cmd, "demo")) {
        fprintf(stderr, "medley: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return 2;
    }
    if (parse_opts(argc, argv, &o) != MD_OK)
        return 2;
    if (!strcmp(cmd, "run"))
        return cmd_run(&o);
    if (!strcmp(cmd, "check"))
        return cmd_check(&o);
    return cmd_demo(&o);
}
