/*
 * Unit tests for the config loader: a full config read back field by field,
 * the documented defaults, ${VAR} expansion and loading from a file.
 */
#include "testutil.h"

#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static md_config_t *load(const char *yaml, md_diag_t *d)
{
    return md_config_load_string(yaml, strlen(yaml), "t.yaml", d);
}

/* Loads yaml that must fail; returns the diag for the caller to check. */
static md_diag_t load_fail(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = load(yaml, &d);
    if (cfg) {
        md_config_free(cfg);
        fail_msg("config unexpectedly loaded:\n%s", yaml);
    }
    return d;
}

static const char full_yaml[] =
    "listen: 127.0.0.1:9090\n"                                                  /* 1 */
    "workers: 3\n"                                                              /* 2 */
    "limits: { max_header_bytes: 8k, max_headers: 32, max_body_bytes: 2m, header_timeout: 5s,\n"
    "          body_timeout: 20s, idle_timeout: 1m, max_connections: 100, max_inflight: 50,\n"
    "          shutdown_timeout: 3s, max_pipelined: 4 }\n"                      /* 5 */
    "upstreams:\n"                                                              /* 6 */
    "  news: { url: \"http://127.0.0.1:18081\", timeout: 2s, connect_timeout: 500ms, max_connections: 16,\n"
    "          max_queue: 10, max_response_bytes: 64KiB, headers: { X-Api-Key: abc, X-Two: \"2\" } }\n"
    "  hr:\n"                                                                   /* 9 */
    "    url: http://127.0.0.1/api/v1/\n"                                       /* 10 */
    "endpoints:\n"                                                              /* 11 */
    "  - path: /home/{user}\n"                                                  /* 12 */
    "    method: POST\n"
    "    summary: Home feed\n"
    "    description: |\n"
    "      Two lines\n"
    "      of text\n"
    "    operation_id: GetHome\n"
    "    deadline: 3s\n"
    "    errors_field: _errors\n"                                               /* 20 */
    "    params:\n"
    "      user: { in: path, type: integer, pattern: \"^[0-9]+$\", max_length: 12 }\n"
    "      lang: { type: string, default: en, description: Language }\n"       /* 23 */
    "      X-Trace: { in: header, required: true }\n"                           /* 24 */
    "    backends:\n"                                                           /* 25 */
    "      - name: vacation\n"                                                  /* 26 */
    "        upstream: hr\n"
    "        method: PUT\n"
    "        path: /employees/{user}/vacation\n"
    "        query: { lang: \"{query.lang}\", empty: \"\" }\n"                  /* 30 */
    "        headers: { X-User: \"{user}\" }\n"
    "        shape: { from: items, select: [id, title], deny: [body], rename: { published: date, a.b: c },\n"
    "                 sort: -published, limit: 5 }\n"
    "        as: cards.vacation\n"
    "        optional: true\n"                                                  /* 35 */
    "        timeout: 1s\n"
    "      - upstream: news\n"                                                  /* 37 */
    "        path: /news\n"
    "  - path: /news-raw\n"                                                     /* 39 */
    "    passthrough: { upstream: news, path: /raw, method: DELETE, query: { q: x }, headers: { A: b },\n"
    "                   timeout: 700ms }\n";

static void check_full_top(const md_config_t *c)
{
    assert_string_equal(c->file, "t.yaml");
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 9090);
    assert_int_equal(c->workers, 3);
    assert_int_equal(c->limits.max_header_bytes, 8192);
    assert_int_equal(c->limits.max_headers, 32);
    assert_int_equal(c->limits.max_body_bytes, 2 * 1048576);
    assert_int_equal(c->limits.header_timeout_ms, 5000);
    assert_int_equal(c->limits.body_timeout_ms, 20000);
    assert_int_equal(c->limits.idle_timeout_ms, 60000);
    assert_int_equal(c->limits.max_connections, 100);
    assert_int_equal(c->limits.max_inflight, 50);
    assert_int_equal(c->limits.shutdown_timeout_ms, 3000);
    assert_int_equal(c->limits.max_pipelined, 4);
}

static void check_full_upstreams(const md_config_t *c)
{
    assert_int_equal(c->nupstreams, 2);
    const md_upstream_conf_t *u = &c->upstreams[0];
    assert_string_equal(u->name, "news");
    assert_string_equal(u->url, "http://127.0.0.1:18081");
    assert_string_equal(u->host, "127.0.0.1");
    assert_int_equal(u->port, 18081);
    assert_string_equal(u->base_path, "");
    assert_string_equal(u->host_header, "127.0.0.1:18081");
    assert_int_equal(u->timeout_ms, 2000);
    assert_int_equal(u->connect_timeout_ms, 500);
    assert_int_equal(u->max_connections, 16);
    assert_int_equal(u->max_queue, 10);
    assert_int_equal(u->max_response_bytes, 65536);
    assert_int_equal(u->nheaders, 2);
    assert_string_equal(u->headers[0].name, "X-Api-Key");
    assert_string_equal(u->headers[0].value, "abc");
    assert_string_equal(u->headers[1].name, "X-Two");
    assert_string_equal(u->headers[1].value, "2");
    assert_int_equal(u->line, 7);
    assert_int_equal(u->col, 3);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&u->addr;
    assert_int_equal(u->addrlen, sizeof(struct sockaddr_in));
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 18081);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);

    const md_upstream_conf_t *hr = &c->upstreams[1];
    assert_string_equal(hr->name, "hr");
    assert_string_equal(hr->host, "127.0.0.1");
    assert_int_equal(hr->port, 80);
    assert_string_equal(hr->base_path, "/api/v1");
    assert_string_equal(hr->host_header, "127.0.0.1");
    assert_int_equal(hr->line, 9);
    assert_ptr_equal(md_config_upstream(c, "hr"), hr);
    assert_null(md_config_upstream(c, "nope"));
}

static void check_full_params(const md_endpoint_conf_t *e)
{
    assert_int_equal(e->nparams, 3);
    const md_param_conf_t *p = &e->params[0];
    assert_string_equal(p->name, "user");
    assert_int_equal(p->in, MD_PARAM_IN_PATH);
    assert_int_equal(p->type, MD_PARAM_INTEGER);
    assert_true(p->required); /* forced for path params */
    assert_string_equal(p->pattern, "^[0-9]+$");
    assert_null(p->default_value);
    assert_int_equal(p->max_length, 12);
    assert_int_equal(p->line, 22);
    assert_int_equal(p->col, 7);
    p = &e->params[1];
    assert_string_equal(p->name, "lang");
    assert_int_equal(p->in, MD_PARAM_IN_QUERY);
    assert_int_equal(p->type, MD_PARAM_STRING);
    assert_false(p->required);
    assert_null(p->pattern);
    assert_string_equal(p->default_value, "en");
    assert_string_equal(p->description, "Language");
    assert_int_equal(p->max_length, 256);
    p = &e->params[2];
    assert_string_equal(p->name, "X-Trace");
    assert_int_equal(p->in, MD_PARAM_IN_HEADER);
    assert_true(p->required);
}

static void check_full_backends(const md_config_t *c, const md_endpoint_conf_t *e)
{
    assert_false(e->passthrough);
    assert_int_equal(e->nbackends, 2);
    const md_backend_conf_t *b = &e->backends[0];
    assert_string_equal(b->name, "vacation");
    assert_string_equal(b->upstream, "hr");
    assert_ptr_equal(b->up, &c->upstreams[1]);
    assert_string_equal(b->method, "PUT");
    assert_string_equal(b->path, "/employees/{user}/vacation");
    assert_int_equal(b->nquery, 2);
    assert_string_equal(b->query[0].name, "lang");
    assert_string_equal(b->query[0].value, "{query.lang}");
    assert_string_equal(b->query[1].name, "empty");
    assert_string_equal(b->query[1].value, "");
    assert_int_equal(b->nheaders, 1);
    assert_string_equal(b->headers[0].name, "X-User");
    assert_string_equal(b->headers[0].value, "{user}");
    assert_true(b->has_shape);
    assert_string_equal(b->shape.from, "items");
    assert_int_equal(b->shape.nselect, 2);
    assert_string_equal(b->shape.select[0], "id");
    assert_string_equal(b->shape.select[1], "title");
    assert_int_equal(b->shape.ndeny, 1);
    assert_string_equal(b->shape.deny[0], "body");
    assert_int_equal(b->shape.nrename, 2);
    assert_string_equal(b->shape.rename[0].name, "published");
    assert_string_equal(b->shape.rename[0].value, "date");
    assert_string_equal(b->shape.rename[1].name, "a.b");
    assert_string_equal(b->shape.rename[1].value, "c");
    assert_string_equal(b->shape.sort, "-published");
    assert_int_equal(b->shape.limit, 5);
    assert_string_equal(b->as, "cards.vacation");
    assert_true(b->optional);
    assert_int_equal(b->timeout_ms, 1000);
    assert_int_equal(b->line, 26);
    assert_int_equal(b->col, 9);

    b = &e->backends[1]; /* everything defaulted */
    assert_string_equal(b->name, "news");
    assert_ptr_equal(b->up, &c->upstreams[0]);
    assert_string_equal(b->method, "GET");
    assert_int_equal(b->nquery, 0);
    assert_int_equal(b->nheaders, 0);
    assert_false(b->has_shape);
    assert_int_equal(b->shape.limit, -1);
    assert_null(b->as);
    assert_false(b->optional);
    assert_int_equal(b->timeout_ms, 0);
    assert_int_equal(b->line, 37);
}

static void full_config_round_trips(void **state)
{
    (void)state;
    md_diag_t d;
    md_config_t *c = load(full_yaml, &d);
    if (!c)
        fail_msg("load failed: %d:%d: %s", d.line, d.col, d.msg);
    check_full_top(c);
    check_full_upstreams(c);
    assert_int_equal(c->nendpoints, 2);
    const md_endpoint_conf_t *e = &c->endpoints[0];
    assert_string_equal(e->path, "/home/{user}");
    assert_string_equal(e->method, "POST");
    assert_string_equal(e->summary, "Home feed");
    assert_string_equal(e->description, "Two lines\nof text\n");
    assert_string_equal(e->operation_id, "GetHome");
    assert_int_equal(e->deadline_ms, 3000);
    assert_string_equal(e->errors_field, "_errors");
    assert_int_equal(e->line, 12);
    assert_int_equal(e->col, 5);
    check_full_params(e);
    check_full_backends(c, e);

    e = &c->endpoints[1];
    assert_string_equal(e->path, "/news-raw");
    assert_string_equal(e->method, "GET");
    assert_null(e->summary);
    assert_null(e->operation_id);
    assert_null(e->errors_field);
    assert_int_equal(e->deadline_ms, 10000);
    assert_int_equal(e->nparams, 0);
    assert_true(e->passthrough);
    assert_int_equal(e->nbackends, 1);
    const md_backend_conf_t *b = &e->backends[0];
    assert_string_equal(b->name, "news");
    assert_ptr_equal(b->up, &c->upstreams[0]);
    assert_string_equal(b->path, "/raw");
    assert_string_equal(b->method, "DELETE");
    assert_int_equal(b->nquery, 1);
    assert_string_equal(b->query[0].value, "x");
    assert_int_equal(b->nheaders, 1);
    assert_int_equal(b->timeout_ms, 700);
    assert_int_equal(b->line, 40);
    assert_int_equal(b->col, 18);
    md_config_free(c);
}

static const char minimal_yaml[] = "upstreams:\n"
                                   "  up: { url: \"http://127.0.0.1:9000\" }\n"
                                   "endpoints:\n"
                                   "  - path: /a\n"
                                   "    backends:\n"
                                   "      - { upstream: up, path: /x }\n";

static void defaults_match_the_header(void **state)
{
    (void)state;
    md_diag_t d;
    md_config_t *c = load(minimal_yaml, &d);
    assert_non_null(c);
    assert_string_equal(c->listen_host, "0.0.0.0");
    assert_int_equal(c->listen_port, 8080);
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->limits.max_header_bytes, 16384);
    assert_int_equal(c->limits.max_headers, 64);
    assert_int_equal(c->limits.max_body_bytes, 1048576);
    assert_int_equal(c->limits.header_timeout_ms, 10000);
    assert_int_equal(c->limits.body_timeout_ms, 30000);
    assert_int_equal(c->limits.idle_timeout_ms, 60000);
    assert_int_equal(c->limits.max_connections, 4096);
    assert_int_equal(c->limits.max_inflight, 1024);
    assert_int_equal(c->limits.shutdown_timeout_ms, 10000);
    assert_int_equal(c->limits.max_pipelined, 16);
    const md_upstream_conf_t *u = &c->upstreams[0];
    assert_int_equal(u->timeout_ms, 5000);
    assert_int_equal(u->connect_timeout_ms, 1000);
    assert_int_equal(u->max_connections, 64);
    assert_int_equal(u->max_queue, 1024);
    assert_int_equal(u->max_response_bytes, 8 * 1048576);
    assert_int_equal(u->nheaders, 0);
    assert_int_equal(c->endpoints[0].deadline_ms, 10000);
    assert_string_equal(c->endpoints[0].method, "GET");
    assert_string_equal(c->endpoints[0].backends[0].name, "up");
    md_config_free(c);
}

static void connect_timeout_defaults_to_a_short_timeout(void **state)
{
    (void)state;
    md_diag_t d;
    md_config_t *c = load("upstreams:\n"
                          "  up: { url: \"http://127.0.0.1:9000\", timeout: 300ms }\n"
                          "endpoints:\n"
                          "  - { path: /a, backends: [ { upstream: up, path: /x } ] }\n",
                          &d);
    assert_non_null(c);
    assert_int_equal(c->upstreams[0].connect_timeout_ms, 300);
    md_config_free(c);
}

static void null_values_read_as_absent(void **state)
{
    (void)state;
    md_diag_t d;
    md_config_t *c = load("listen:\n"
                          "limits: ~\n"
                          "upstreams:\n"
                          "  up: { url: \"http://127.0.0.1:9000\", timeout: null, headers: { X-Empty: } }\n"
                          "endpoints:\n"
                          "  - path: /a/{id}\n"
                          "    params:\n"
                          "      q:\n"
                          "    backends: [ { upstream: up, path: /x, shape: } ]\n",
                          &d);
    if (!c)
        fail_msg("%d:%d: %s", d.line, d.col, d.msg);
    assert_int_equal(c->listen_port, 8080);
    assert_int_equal(c->upstreams[0].timeout_ms, 5000);
    assert_string_equal(c->upstreams[0].headers[0].value, "");
    const md_endpoint_conf_t *e = &c->endpoints[0];
    assert_int_equal(e->nparams, 2);
    assert_string_equal(e->params[0].name, "q");
    assert_int_equal(e->params[0].in, MD_PARAM_IN_QUERY);
    assert_false(e->params[0].required);
    assert_false(e->backends[0].has_shape);
    md_config_free(c);
}

static void path_params_are_declared_implicitly(void **state)
{
    (void)state;
    md_diag_t d;
    md_config_t *c = load("upstreams: { up: { url: \"http://127.0.0.1:9000\" } }\n"
                          "endpoints:\n"
                          "  - path: /users/{id}/posts/{post_id}\n"
                          "    params: { post_id: { in: path, type: integer } }\n"
                          "    backends: [ { upstream: up, path: /x } ]\n",
                          &d);
    assert_non_null(c);
    const md_endpoint_conf_t *e = &c->endpoints[0];
    assert_int_equal(e->nparams, 2);
    assert_string_equal(e->params[0].name, "post_id");
    assert_int_equal(e->params[0].type, MD_PARAM_INTEGER);
    assert_string_equal(e->params[1].name, "id");
    assert_int_equal(e->params[1].in, MD_PARAM_IN_PATH);
    assert_int_equal(e->params[1].type, MD_PARAM_STRING);
    assert_true(e->params[1].required);
    assert_int_equal(e->params[1].max_length, 256);
    assert_int_equal(e->params[1].line, 3);
    assert_int_equal(e->params[1].col, 5);
    md_config_free(c);
}

static void backend_name_defaults_to_as_then_upstream(void **state)
{
    (void)state;
    md_diag_t d;
    md_config_t *c = load("upstreams: { up: { url: \"http://127.0.0.1:9000\" } }\n"
                          "endpoints:\n"
                          "  - path: /a\n"
                          "    backends:\n"
                          "      - { upstream: up, path: /x, as: left }\n"
                          "      - { upstream: up, path: /y, as: right.side }\n"
                          "      - { upstream: up, path: /z }\n",
                          &d);
    assert_non_null(c);
    assert_string_equal(c->endpoints[0].backends[0].name, "left");
    assert_string_equal(c->endpoints[0].backends[1].name, "right.side");
    assert_string_equal(c->endpoints[0].backends[2].name, "up");
    md_config_free(c);
}

static void same_path_with_other_method_is_fine(void **state)
{
    (void)state;
    md_diag_t d;
    md_config_t *c = load("upstreams: { up: { url: \"http://127.0.0.1:9000\" } }\n"
                          "endpoints:\n"
                          "  - { path: \"/a/{id}\", backends: [ { upstream: up, path: /x } ] }\n"
                          "  - { path: \"/a/{id}\", method: DELETE, backends: [ { upstream: up, path: /x } ] }\n"
                          "  - { path: /a/b, backends: [ { upstream: up, path: /x } ] }\n",
                          &d);
    if (!c)
        fail_msg("%d:%d: %s", d.line, d.col, d.msg);
    assert_int_equal(c->nendpoints, 3);
    md_config_free(c);
}

/* ---- ${VAR} expansion ---------------------------------------------------- */

static const char env_yaml[] = "listen: \"${MDT_HOST:-127.0.0.1}:${MDT_PORT}\"\n"
                               "upstreams:\n"
                               "  up:\n"
                               "    url: http://${MDT_UP_HOST}:9000\n"
                               "    headers: { X-Key: \"${MDT_KEY:-}\", X-Cost: \"$$5 and $${MDT_PORT}\",\n"
                               "               X-Re: \"^a$\", X-D: \"$$$\" }\n"
                               "endpoints:\n"
                               "  - path: /a\n"
                               "    backends: [ { upstream: up, path: /x, query: { \"${MDT_PORT}\": v } } ]\n";

static void env_vars_expand_in_values(void **state)
{
    (void)state;
    setenv("MDT_PORT", "7070", 1);
    setenv("MDT_UP_HOST", "127.0.0.1", 1);
    unsetenv("MDT_HOST");
    setenv("MDT_KEY", "secret", 1);
    md_diag_t d;
    md_config_t *c = load(env_yaml, &d);
    if (!c)
        fail_msg("%d:%d: %s", d.line, d.col, d.msg);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 7070);
    const md_upstream_conf_t *u = &c->upstreams[0];
    assert_string_equal(u->url, "http://127.0.0.1:9000");
    assert_string_equal(u->headers[0].value, "secret");
    assert_string_equal(u->headers[1].value, "$5 and ${MDT_PORT}");
    assert_string_equal(u->headers[2].value, "^a$");
    assert_string_equal(u->headers[3].value, "$$");
    /* keys are not expanded */
    assert_string_equal(c->endpoints[0].backends[0].query[0].name, "${MDT_PORT}");
    md_config_free(c);
}

static void env_default_covers_unset_and_empty(void **state)
{
    (void)state;
    setenv("MDT_PORT", "7070", 1);
    setenv("MDT_UP_HOST", "127.0.0.1", 1);
    setenv("MDT_HOST", "", 1);
    unsetenv("MDT_KEY");
    md_diag_t d;
    md_config_t *c = load(env_yaml, &d);
    assert_non_null(c);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_string_equal(c->upstreams[0].headers[0].value, "");
    md_config_free(c);
    unsetenv("MDT_HOST");
}

static void env_missing_var_is_named_at_its_value(void **state)
{
    (void)state;
    setenv("MDT_PORT", "7070", 1);
    unsetenv("MDT_UP_HOST");
    md_diag_t d = load_fail(env_yaml);
    assert_int_equal(d.line, 4);
    assert_int_equal(d.col, 10);
    assert_string_equal(d.file, "t.yaml");
    assert_non_null(strstr(d.msg, "environment variable 'MDT_UP_HOST' is not set"));
}

static void env_malformed_references_fail(void **state)
{
    (void)state;
    md_diag_t d = load_fail("listen: \"${1BAD}\"\n");
    assert_int_equal(d.line, 1);
    assert_int_equal(d.col, 9);
    assert_non_null(strstr(d.msg, "bad variable reference"));
    d = load_fail("workers: ab${MDT_PORT\n");
    assert_int_equal(d.line, 1);
    assert_int_equal(d.col, 10);
    assert_non_null(strstr(d.msg, "unterminated ${"));
    d = load_fail("workers: ${MDT_PORT:-abc\n");
    assert_non_null(strstr(d.msg, "unterminated ${"));
    d = load_fail("workers: ${}\n");
    assert_non_null(strstr(d.msg, "bad variable reference"));
    d = load_fail("workers: ${A-B}\n");
    assert_non_null(strstr(d.msg, "bad variable reference"));
}

static void env_expansion_is_bounded(void **state)
{
    (void)state;
    size_t n = 70 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    setenv("MDT_BIG", big, 1);
    free(big);
    md_diag_t d = load_fail("listen: 1\n"
                            "workers: \"${MDT_BIG}\"\n");
    assert_int_equal(d.line, 2);
    assert_int_equal(d.col, 10);
    assert_non_null(strstr(d.msg, "longer than 64 KiB"));

    /* 40 KiB each is fine alone, but 120 of them pass the 4 MiB total. */
    big = malloc(40 * 1024 + 1);
    memset(big, 'y', 40 * 1024);
    big[40 * 1024] = '\0';
    setenv("MDT_BIG", big, 1);
    free(big);
    char yaml[8192] = "x:\n";
    for (int i = 0; i < 120; i++)
        strcat(yaml, "  - ${MDT_BIG}\n");
    d = load_fail(yaml);
    assert_non_null(strstr(d.msg, "more than 4 MiB"));
    assert_true(d.line > 100);
    unsetenv("MDT_BIG");
}

/* ---- files --------------------------------------------------------------- */

static void loads_from_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/md_cfg_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, minimal_yaml, strlen(minimal_yaml)), (ssize_t)strlen(minimal_yaml));
    close(fd);
    md_diag_t d;
    md_config_t *c = md_config_load_file(path, &d);
    assert_non_null(c);
    assert_string_equal(c->file, path);
    assert_int_equal(c->nendpoints, 1);
    md_config_free(c);
    unlink(path);
}

static void missing_and_huge_files_fail(void **state)
{
    (void)state;
    md_diag_t d;
    assert_null(md_config_load_file("/nonexistent/medley.yaml", &d));
    assert_string_equal(d.file, "/nonexistent/medley.yaml");
    assert_int_equal(d.line, 0);
    assert_non_null(strstr(d.msg, "No such file"));
    char out[1024];
    md_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "/nonexistent/medley.yaml: cannot read the configuration: No such file or directory");

    /* An endless file is refused after 1 MiB, not read forever. */
    assert_null(md_config_load_file("/dev/zero", &d));
    assert_non_null(strstr(d.msg, "larger than 1024 KiB"));

    size_t n = 1024 * 1024 + 1;
    char *text = malloc(n);
    memset(text, '#', n);
    assert_null(md_config_load_string(text, n, "big", &d));
    assert_non_null(strstr(d.msg, "larger than 1024 KiB"));
    free(text);
    /* Exactly at the limit is accepted by the size check (then fails as empty). */
    assert_null(md_config_load_string("#", 1, "small", NULL));
}

static void diag_formats_file_line_col(void **state)
{
    (void)state;
    md_diag_t d = { .file = "a.yaml", .line = 3, .col = 7, .msg = "bad" };
    char out[64];
    md_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "a.yaml:3:7: bad");
    d.col = 0;
    md_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "a.yaml:3: bad");
    d.line = 0;
    md_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "a.yaml: bad");
    char tiny[5];
    d.line = 3;
    d.col = 7;
    md_diag_format(&d, tiny, sizeof(tiny));
    assert_string_equal(tiny, "a.ya");
    md_config_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_config_round_trips),
        cmocka_unit_test(defaults_match_the_header),
        cmocka_unit_test(connect_timeout_defaults_to_a_short_timeout),
        cmocka_unit_test(null_values_read_as_absent),
        cmocka_unit_test(path_params_are_declared_implicitly),
        cmocka_unit_test(backend_name_defaults_to_as_then_upstream),
        cmocka_unit_test(same_path_with_other_method_is_fine),
        cmocka_unit_test(env_vars_expand_in_values),
        cmocka_unit_test(env_default_covers_unset_and_empty),
        cmocka_unit_test(env_missing_var_is_named_at_its_value),
        cmocka_unit_test(env_malformed_references_fail),
        cmocka_unit_test(env_expansion_is_bounded),
        cmocka_unit_test(loads_from_a_file),
        cmocka_unit_test(missing_and_huge_files_fail),
        cmocka_unit_test(diag_formats_file_line_col),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
