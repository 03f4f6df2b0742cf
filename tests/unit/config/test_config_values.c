/*
 * Unit tests for the config loader's value syntax: durations, sizes,
 * listen addresses, workers, upstream URLs, endpoint paths and params,
 * and the checks that keep header injection and regex blow-ups out.
 */
#include "testutil.h"

#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#define UP "upstreams:\n  hr: { url: \"http://127.0.0.1:9001\" }\n"
#define EP "endpoints:\n  - { path: /a, backends: [ { upstream: hr, path: /x } ] }\n"

static md_config_t *load_ok(const char *yaml)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "v.yaml", &d);
    if (!cfg)
        fail_msg("%d:%d: %s\nin:\n%s", d.line, d.col, d.msg, yaml);
    return cfg;
}

static void expect_error(const char *yaml, int line, int col, const char *frag)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "v.yaml", &d);
    if (cfg) {
        md_config_free(cfg);
        fail_msg("loaded, but expected %d:%d: %s\nin:\n%s", line, col, frag, yaml);
    }
    if (d.line != line || d.col != col || !strstr(d.msg, frag))
        fail_msg("got %d:%d: %s\nwanted %d:%d: ...%s...", d.line, d.col, d.msg, line, col, frag);
}

/* "limits: { KEY: VALUE }" + UP + EP; VALUE starts at column 12 + len(KEY). */
static void limit_yaml(char *out, size_t n, const char *key, const char *value)
{
    snprintf(out, n, "limits: { %s: %s }\n" UP EP, key, value);
}

static void durations(void **state)
{
    (void)state;
    static const struct { const char *in; uint32_t ms; } good[] = {
        { "250ms", 250 }, { "2s", 2000 }, { "1m", 60000 }, { "1h", 3600000 }, { "5", 5 }, { "3600000", 3600000 },
        { "\"7s\"", 7000 }, { "1ms", 1 },
    };
    char y[512];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        limit_yaml(y, sizeof(y), "header_timeout", good[i].in);
        md_config_t *c = load_ok(y);
        assert_int_equal(c->limits.header_timeout_ms, good[i].ms);
        md_config_free(c);
    }
    static const char *const bad[] = { "2.5s", "-1s", "\"1 s\"", "s", "ms5", "2S", "1e3", "99999999999999" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        limit_yaml(y, sizeof(y), "header_timeout", bad[i]);
        expect_error(y, 1, 27, "'header_timeout' must be a duration like 250ms or 2s");
    }
    /* Days are a unit, but beyond this key's hour. */
    limit_yaml(y, sizeof(y), "header_timeout", "10d");
    expect_error(y, 1, 27, "'header_timeout' must be between 1ms and 1h");
    static const char *const out_of_range[] = { "0", "0ms", "2h", "3600001", "61m" };
    for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
        limit_yaml(y, sizeof(y), "idle_timeout", out_of_range[i]);
        expect_error(y, 1, 25, "'idle_timeout' must be between 1ms and 1h");
    }
}

static void sizes(void **state)
{
    (void)state;
    static const struct { const char *in; size_t bytes; } good[] = {
        { "512", 512 },          { "64k", 65536 },          { "64KiB", 65536 }, { "64kb", 65536 },
        { "1m", 1048576 },       { "1MiB", 1048576 },       { "1g", 1u << 30 }, { "7b", 7 },
        { "1024m", 1u << 30 },   { "\"16K\"", 16384 },
    };
    char y[512];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        limit_yaml(y, sizeof(y), "max_body_bytes", good[i].in);
        md_config_t *c = load_ok(y);
        assert_int_equal(c->limits.max_body_bytes, good[i].bytes);
        md_config_free(c);
    }
    static const char *const bad[] = { "1x", "k", "1.5m", "-1", "\"64 KiB\"", "1t", "0x10" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        limit_yaml(y, sizeof(y), "max_body_bytes", bad[i]);
        expect_error(y, 1, 27, "'max_body_bytes' must be a size like 512, 64k or 1m");
    }
    static const char *const out_of_range[] = { "0", "2g", "1025m", "999999999999" };
    for (size_t i = 0; i < sizeof(out_of_range) / sizeof(out_of_range[0]); i++) {
        limit_yaml(y, sizeof(y), "max_header_bytes", out_of_range[i]);
        expect_error(y, 1, 29, "'max_header_bytes' must be between 1 byte and 1GiB");
    }
}

static void counts(void **state)
{
    (void)state;
    char y[512];
    limit_yaml(y, sizeof(y), "max_pipelined", "1024");
    md_config_t *c = load_ok(y);
    assert_int_equal(c->limits.max_pipelined, 1024);
    md_config_free(c);
    limit_yaml(y, sizeof(y), "max_pipelined", "1025");
    expect_error(y, 1, 26, "'max_pipelined' must be an integer between 1 and 1024");
    limit_yaml(y, sizeof(y), "max_headers", "0");
    expect_error(y, 1, 24, "'max_headers' must be an integer between 1 and 1024");
    limit_yaml(y, sizeof(y), "max_connections", "+5");
    expect_error(y, 1, 28, "'max_connections' must be an integer");
}

static void listen_forms(void **state)
{
    (void)state;
    static const struct { const char *in; const char *host; unsigned port; } good[] = {
        { "0.0.0.0:8080", "0.0.0.0", 8080 }, { "\"[::1]:9000\"", "::1", 9000 }, { "localhost:1", "localhost", 1 },
        { "\":7000\"", "0.0.0.0", 7000 },    { "65535", "0.0.0.0", 65535 },     { "\"[::]:80\"", "::", 80 },
    };
    char y[512];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(y, sizeof(y), "listen: %s\n" UP EP, good[i].in);
        md_config_t *c = load_ok(y);
        assert_string_equal(c->listen_host, good[i].host);
        assert_int_equal(c->listen_port, good[i].port);
        md_config_free(c);
    }
}

static void workers_values(void **state)
{
    (void)state;
    md_config_t *c = load_ok("workers: 256\n" UP EP);
    assert_int_equal(c->workers, 256);
    md_config_free(c);
    c = load_ok("workers: auto\n" UP EP);
    assert_int_equal(c->workers, 0);
    md_config_free(c);
    expect_error("workers: 0\n", 1, 10, "'workers' must be auto or an integer between 1 and 256");
    expect_error("workers: 257\n", 1, 10, "'workers' must be auto");
    expect_error("workers: many\n", 1, 10, "'workers' must be auto");
    expect_error("workers: -1\n", 1, 10, "'workers' must be auto");
}

/* "upstreams:\n  u: { url: \"URL\" }" -> the value starts at 2:13. */
static md_config_t *load_url(const char *url)
{
    char y[1024];
    snprintf(y, sizeof(y), "upstreams:\n  u: { url: \"%s\" }\n" EP, url);
    /* EP refers to "hr": rename it to the tested upstream. */
    char *hr = strstr(y, "upstream: hr");
    memcpy(hr + 10, "u ", 2);
    return load_ok(y);
}

static void expect_url_error(const char *url, const char *frag)
{
    char y[1024];
    snprintf(y, sizeof(y), "upstreams:\n  u: { url: \"%s\" }\n", url);
    expect_error(y, 2, 13, frag);
}

static void upstream_urls_parse(void **state)
{
    (void)state;
    md_config_t *c = load_url("http://127.0.0.1");
    md_upstream_conf_t *u = &c->upstreams[0];
    assert_string_equal(u->host, "127.0.0.1");
    assert_int_equal(u->port, 80);
    assert_string_equal(u->base_path, "");
    assert_string_equal(u->host_header, "127.0.0.1");
    md_config_free(c);

    c = load_url("HTTP://localhost:8081/base//");
    u = &c->upstreams[0];
    assert_string_equal(u->host, "localhost");
    assert_int_equal(u->port, 8081);
    assert_string_equal(u->base_path, "/base");
    assert_string_equal(u->host_header, "localhost:8081");
    /* A name (not a literal) is resolved at load time. */
    assert_int_equal(((struct sockaddr *)&u->addr)->sa_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&u->addr)->sin_port), 8081);
    md_config_free(c);

    c = load_url("http://[::1]:9000/");
    u = &c->upstreams[0];
    assert_string_equal(u->host, "::1");
    assert_int_equal(u->port, 9000);
    assert_string_equal(u->base_path, "");
    assert_string_equal(u->host_header, "[::1]:9000");
    assert_int_equal(u->addrlen, sizeof(struct sockaddr_in6));
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&u->addr;
    assert_int_equal(s6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(s6->sin6_port), 9000);
    assert_true(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
    md_config_free(c);

    c = load_url("http://[::1]");
    assert_string_equal(c->upstreams[0].host_header, "[::1]");
    md_config_free(c);
}

static void upstream_urls_rejected(void **state)
{
    (void)state;
    expect_url_error("https://user@127.0.0.1", "must not contain user info");
    expect_url_error("ftp://127.0.0.1", "must start with http://");
    expect_url_error("127.0.0.1:80", "must start with http://");
    expect_url_error("http://user:pw@127.0.0.1", "must not contain user info");
    expect_url_error("http://127.0.0.1/a?b=1", "must not have a query or fragment");
    expect_url_error("http://127.0.0.1/a#top", "must not have a query or fragment");
    expect_url_error("http://127.0.0.1:0", "bad port");
    expect_url_error("http://127.0.0.1:65536", "bad port");
    expect_url_error("http://127.0.0.1:8x", "bad port");
    expect_url_error("http://", "must be http://host[:port][/path]");
    expect_url_error("http://:80/", "must be http://host[:port][/path]");
    expect_url_error("http://[::1/", "must be http://host[:port][/path]");
    expect_url_error("http://a b/", "must not contain spaces");
    expect_url_error("http://nonexistent-host.invalid:80", "cannot resolve upstream host 'nonexistent-host.invalid'");
    expect_error("upstreams:\n  u: { url: \"http://h\\r\\n\" }\n", 2, 13, "'url' must be one line");
    expect_error("upstreams:\n  u: { url: \"\" }\n", 2, 13, "'url' must not be empty");
}

static void upstream_names_and_timeouts(void **state)
{
    (void)state;
    expect_error("upstreams:\n  \"bad name\": { url: \"http://127.0.0.1\" }\n", 2, 3,
                 "upstream name 'bad name' must be 1-64 characters of A-Z a-z 0-9 _ . -");
    expect_error("upstreams:\n  u: { url: \"http://127.0.0.1\", timeout: 1s, connect_timeout: 2s }\n", 2, 63,
                 "'connect_timeout' of upstream 'u' must not exceed its 'timeout'");
    expect_error("upstreams:\n  u: { url: \"http://127.0.0.1\", max_connections: 0 }\n", 2, 50,
                 "'max_connections' must be an integer between 1 and 65536");
    expect_error("upstreams:\n  u: { url: \"http://127.0.0.1\", max_response_bytes: lots }\n", 2, 53,
                 "'max_response_bytes' must be a size");
}

static void header_names_and_values_are_checked(void **state)
{
    (void)state;
    /* A CR/LF in a header value would let the config inject headers. */
    expect_error("upstreams:\n  u: { url: \"http://127.0.0.1\", headers: { X-A: \"a\\r\\nEvil: 1\" } }\n", 2, 49,
                 "'X-A' must be one line without control characters");
    expect_error("upstreams:\n  u: { url: \"http://127.0.0.1\", headers: { \"Bad Name\": x } }\n", 2, 44,
                 "'Bad Name' is not a valid header name");
    expect_error("upstreams:\n  u: { url: \"http://127.0.0.1\", headers: { \"X:Y\": x } }\n", 2, 44,
                 "'X:Y' is not a valid header name");
    /* Values are bounded at 8 KiB: a long token fits, a longer one fails. */
    static char y[9000];
    int n = snprintf(y, sizeof(y), "upstreams:\n  u:\n    url: http://127.0.0.1\n    headers:\n      X-A: ");
    memset(y + n, 't', 8193);
    strcpy(y + n + 8193, "\n");
    expect_error(y, 5, 12, "'X-A' is longer than 8192 bytes");
    y[n + 8192] = '\n';
    y[n + 8193] = '\0';
    /* 8192 bytes are accepted: the load then stops at the missing endpoints. */
    md_diag_t d;
    assert_null(md_config_load_string(y, strlen(y), "v.yaml", &d));
    assert_non_null(strstr(d.msg, "missing required key 'endpoints'"));
}

/* UP + "endpoints:\n  - path: PATH\n    backends: [...]" : PATH starts at 4:11. */
static void expect_path_error(const char *path, const char *frag)
{
    char y[1024];
    snprintf(y, sizeof(y), UP "endpoints:\n  - path: \"%s\"\n    backends: [ { upstream: hr, path: /x } ]\n", path);
    expect_error(y, 4, 11, frag);
}

static void endpoint_paths(void **state)
{
    (void)state;
    expect_path_error("home", "endpoint 'path' must start with '/'");
    expect_path_error("/a?b", "must not contain '?', '#' or spaces");
    expect_path_error("/a b", "must not contain '?', '#' or spaces");
    expect_path_error("/a//b", "must not contain an empty segment");
    expect_path_error("/a/x{id}", "a parameter must be a whole segment");
    expect_path_error("/a/{id", "a parameter must be a whole segment");
    expect_path_error("/a/{}", "a parameter must be a whole segment");
    expect_path_error("/a/{i.d}", "a parameter must be a whole segment");
    expect_path_error("/a/id}", "a parameter must be a whole segment");
    expect_path_error("/{id}/x/{id}", "uses {id} twice");
    md_config_t *c = load_ok(UP "endpoints:\n  - { path: /, backends: [ { upstream: hr, path: / } ] }\n"
                                "  - { path: /a/, backends: [ { upstream: hr, path: / } ] }\n");
    assert_string_equal(c->endpoints[0].path, "/");
    assert_string_equal(c->endpoints[1].path, "/a/");
    md_config_free(c);
}

#define EPP UP "endpoints:\n  - path: \"/u/{id}\"\n    backends: [ { upstream: hr, path: /x } ]\n    params:\n"

static void path_params_must_agree(void **state)
{
    (void)state;
    expect_error(EPP "      id: { in: query }\n", 7, 7,
                 "param 'id' of endpoint '/u/{id}' is a {segment} of the path, so it needs 'in: path'");
    expect_error(EPP "      other: { in: path }\n", 7, 7,
                 "param 'other' of endpoint '/u/{id}' has 'in: path' but the path has no {other}");
    expect_error(EPP "      id: { in: path, required: false }\n", 7, 7, "path params are always required");
    expect_error(EPP "      id: { in: path, default: x }\n", 7, 7, "a path param cannot have a default");
    expect_error(EPP "      id: { in: body }\n", 7, 17, "'in' must be one of query, path, header");
    expect_error(EPP "      id: { in: path, type: float }\n", 7, 29,
                 "'type' must be one of string, integer, number, boolean");
    expect_error(EPP "      \"a.b\": {}\n", 7, 7, "param name 'a.b' must be 1-64 characters");
    expect_error(EPP "      q: { max_length: 0 }\n", 7, 24, "'max_length' must be an integer between 1 and 65536");
}

static void param_patterns_and_defaults(void **state)
{
    (void)state;
    expect_error(EPP "      q: { pattern: \"([a-z\" }\n", 7, 21, "'pattern' is not a valid POSIX extended regex");
    /* Counted repetitions that would make regcomp take gigabytes. */
    expect_error(EPP "      q: { pattern: \"(a{1,32767}){1,32767}\" }\n", 7, 21, "'pattern' is too complex");
    expect_error(EPP "      q: { pattern: \"((a{100}){101})\" }\n", 7, 21, "'pattern' is too complex");
    expect_error(EPP "      q: { pattern: \"^[0-9]{1,3}++++++++++++++++++++\" }\n", 7, 21, "'pattern' is too complex");
    expect_error(EPP "      q: { type: integer, default: abc }\n", 7, 36, "'default' must be a valid integer");
    expect_error(EPP "      q: { type: number, default: \"1.5x\" }\n", 7, 35, "'default' must be a valid number");
    expect_error(EPP "      q: { type: number, default: nan }\n", 7, 35, "'default' must be a valid number");
    expect_error(EPP "      q: { type: number, default: .5 }\n", 7, 35, "'default' must be a valid number");
    expect_error(EPP "      q: { type: number, default: \"1.\" }\n", 7, 35, "'default' must be a valid number");
    expect_error(EPP "      q: { type: number, default: 1e }\n", 7, 35, "'default' must be a valid number");
    expect_error(EPP "      q: { type: number, default: \"01\" }\n", 7, 35, "'default' must be a valid number");
    expect_error(EPP "      q: { type: integer, default: \"007\" }\n", 7, 36, "'default' must be a valid integer");
    expect_error(EPP "      q: { type: integer, default: \"-\" }\n", 7, 36, "'default' must be a valid integer");
    expect_error(EPP "      q: { type: integer, default: 1234567890123456789 }\n", 7, 36,
                 "'default' must be a valid integer");
    expect_error(EPP "      q: { type: boolean, default: yes }\n", 7, 36, "'default' must be a valid boolean");
    expect_error(EPP "      q: { max_length: 2, default: abc }\n", 7, 36, "'default' is longer than 2 bytes");
    md_config_t *c = load_ok(EPP "      q: { type: number, default: \"-1.5e3\", pattern: \"^[-0-9.e]{1,20}$\" }\n"
                                 "      n: { type: integer, default: \"-42\" }\n"
                                 "      z: { type: number, default: \"-0.25E+2\" }\n"
                                 "      o: { type: integer, default: \"0\" }\n"
                                 "      b: { type: boolean, default: \"false\" }\n");
    assert_string_equal(c->endpoints[0].params[0].default_value, "-1.5e3");
    assert_string_equal(c->endpoints[0].params[0].pattern, "^[-0-9.e]{1,20}$");
    assert_string_equal(c->endpoints[0].params[1].default_value, "-42");
    assert_string_equal(c->endpoints[0].params[2].default_value, "-0.25E+2");
    assert_string_equal(c->endpoints[0].params[3].default_value, "0");
    assert_int_equal(c->endpoints[0].params[4].type, MD_PARAM_BOOLEAN);
    md_config_free(c);
}

#define EPB UP "endpoints:\n  - path: /a\n    backends:\n      - upstream: hr\n"

static void backend_fields(void **state)
{
    (void)state;
    expect_error(EPB "        path: x/y\n", 7, 15, "backend 'path' must start with '/'");
    expect_error(EPB "        path: /x\n        as: .a\n", 8, 13, "'as' must be a dotted key");
    expect_error(EPB "        path: /x\n        as: a..b\n", 8, 13, "'as' must be a dotted key");
    expect_error(EPB "        path: /x\n        shape: { sort: \"-\" }\n", 8, 24, "'sort' must name a field");
    expect_error(EPB "        path: /x\n        shape: { rename: { a: \"\" } }\n", 8, 31, "'a' must not be empty");
    expect_error(EPB "        path: /x\n        timeout: 0\n", 8, 18, "'timeout' must be between 1ms and 1h");
    expect_error(EPB "        path: /x\n        name: \"\"\n", 8, 15, "'name' must not be empty");
    expect_error(EPB "        path: /x\n        query: { \"\": v }\n", 8, 18, "names in 'query' must not be empty");
    md_config_t *c = load_ok(EPB "        path: \"/x?fixed=1\"\n        shape: {}\n");
    const md_backend_conf_t *b = &c->endpoints[0].backends[0];
    assert_string_equal(b->path, "/x?fixed=1");
    assert_true(b->has_shape);
    assert_null(b->shape.from);
    assert_int_equal(b->shape.nselect, 0);
    assert_null(b->shape.sort);
    assert_int_equal(b->shape.limit, -1);
    md_config_free(c);
}

#define EPE UP "endpoints:\n  - path: /a\n    backends: [ { upstream: hr, path: /x } ]\n"

static void endpoint_fields(void **state)
{
    (void)state;
    expect_error(EPE "    operation_id: \"get home\"\n", 6, 19, "'operation_id' must be made of");
    expect_error(EPE "    errors_field: \"\"\n", 6, 19, "'errors_field' must not be empty");
    expect_error(EPE "    summary: \"a\\x01b\"\n", 6, 14, "'summary' must not contain control characters");
    expect_error(EPE "    deadline: soon\n", 6, 15, "'deadline' must be a duration");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations),
        cmocka_unit_test(sizes),
        cmocka_unit_test(counts),
        cmocka_unit_test(listen_forms),
        cmocka_unit_test(workers_values),
        cmocka_unit_test(upstream_urls_parse),
        cmocka_unit_test(upstream_urls_rejected),
        cmocka_unit_test(upstream_names_and_timeouts),
        cmocka_unit_test(header_names_and_values_are_checked),
        cmocka_unit_test(endpoint_paths),
        cmocka_unit_test(path_params_must_agree),
        cmocka_unit_test(param_patterns_and_defaults),
        cmocka_unit_test(backend_fields),
        cmocka_unit_test(endpoint_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
