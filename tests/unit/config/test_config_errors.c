/*
 * Unit tests for the config loader's error reports: every class of mistake
 * gives NULL and a diag naming the exact line:column and what is wrong.
 * Lines and columns below are counted by hand from the YAML text.
 */
#include "testutil.h"

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>

/* Two fixed lines each, so positions below them are easy to count. */
#define UP "upstreams:\n  hr: { url: \"http://127.0.0.1:9001\" }\n"
#define EP_HEAD "endpoints:\n  - path: /a\n"

/* Loads yaml, which must fail at line:col with `frag` in the message. */
static void expect_error(const char *yaml, int line, int col, const char *frag)
{
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "e.yaml", &d);
    if (cfg) {
        md_config_free(cfg);
        fail_msg("loaded, but expected %d:%d: %s", line, col, frag);
    }
    if (d.line != line || d.col != col || !strstr(d.msg, frag))
        fail_msg("got %d:%d: %s\nwanted %d:%d: ...%s...", d.line, d.col, d.msg, line, col, frag);
    assert_string_equal(d.file, "e.yaml");
}

static void unknown_keys_are_named_with_a_suggestion(void **state)
{
    (void)state;
    expect_error("upstreams:\n"
                 "  news: { url: \"http://127.0.0.1:9001\", timout: 2s }\n",
                 2, 41, "unknown key 'timout' in upstream 'news' (did you mean 'timeout'?)");
    expect_error("lisen: 0.0.0.0:80\n" UP, 1, 1, "unknown key 'lisen' in the top level (did you mean 'listen'?)");
    expect_error(UP EP_HEAD "    backends:\n"
                            "      - upstream: hr\n"
                            "        path: /x\n"
                            "        shap: {}\n",
                 8, 9, "unknown key 'shap' in backend #1 of endpoint '/a' (did you mean 'shape'?)");
    expect_error(UP EP_HEAD "    backends:\n"
                            "      - upstream: hr\n"
                            "        path: /x\n"
                            "        shape: { selct: [a] }\n",
                 8, 18, "unknown key 'selct' in the shape of backend #1 of endpoint '/a' (did you mean 'select'?)");
    expect_error(UP EP_HEAD "    params: { q: { typ: integer } }\n", 5, 20,
                 "unknown key 'typ' in param 'q' of endpoint '/a' (did you mean 'type'?)");
    expect_error(UP EP_HEAD "    methd: GET\n", 5, 5, "unknown key 'methd' in endpoint '/a' (did you mean 'method'?)");
}

static void unknown_keys_without_a_close_match(void **state)
{
    (void)state;
    md_diag_t d;
    const char *yaml = "limits: { bogus_thing: 1 }\n";
    assert_null(md_config_load_string(yaml, strlen(yaml), "e.yaml", &d));
    assert_int_equal(d.line, 1);
    assert_int_equal(d.col, 11);
    assert_string_equal(d.msg, "unknown key 'bogus_thing' in limits");
    expect_error(UP EP_HEAD "    passthrough: { upstream: hr, path: /x, as: y }\n", 5, 44,
                 "unknown key 'as' in the passthrough of endpoint '/a'");
}

static void wrong_types_say_what_is_expected(void **state)
{
    (void)state;
    expect_error("upstreams:\n  hr: { url: \"http://127.0.0.1:9001\", timeout: fast }\n", 2, 48,
                 "'timeout' must be a duration like 250ms or 2s");
    expect_error("workers: [1]\n", 1, 10, "'workers' must be auto or an integer between 1 and 256");
    expect_error("upstreams: [a]\n", 1, 12, "'upstreams' must be a mapping");
    expect_error(UP "endpoints: { a: 1 }\n", 3, 12, "'endpoints' must be a list");
    expect_error(UP "endpoints: [ 5 ]\n", 3, 14, "endpoint #1 must be a mapping");
    expect_error("limits: 5\n", 1, 9, "limits must be a mapping of settings");
    expect_error(UP EP_HEAD "    summary: [x]\n", 5, 14, "'summary' must be a string, not a list");
    expect_error(UP EP_HEAD "    backends: [ { upstream: hr, path: /x, optional: yes } ]\n", 5, 53,
                 "'optional' must be true or false");
    expect_error(UP EP_HEAD "    backends: [ { upstream: hr, path: /x, shape: { limit: -1 } } ]\n", 5, 59,
                 "'limit' must be an integer between 0 and 1000000");
    expect_error(UP EP_HEAD "    backends: [ 5 ]\n", 5, 17, "backend #1 of endpoint '/a' must be a mapping");
    expect_error(UP EP_HEAD "    backends: [ { upstream: hr, path: /x, shape: { select: id } } ]\n", 5, 60,
                 "'select' must be a list");
    expect_error(UP EP_HEAD "    backends: [ { upstream: hr, path: /x, shape: { select: [ [a] ] } } ]\n", 5, 62,
                 "items of 'select' must be field names");
    expect_error(UP EP_HEAD "    backends: [ { upstream: hr, path: /x, headers: [a] } ]\n", 5, 52,
                 "'headers' must be a mapping");
    expect_error(UP EP_HEAD "    method: get\n", 5, 13, "'method' must be one of GET, HEAD, POST, PUT, PATCH, DELETE");
}

static void duplicate_keys_point_at_the_second(void **state)
{
    (void)state;
    expect_error("workers: 1\nworkers: 2\n", 2, 1, "duplicate key 'workers' in the top level (first at line 1)");
    expect_error("upstreams:\n"
                 "  hr:\n"
                 "    url: http://127.0.0.1:9001\n"
                 "    timeout: 1s\n"
                 "    timeout: 2s\n",
                 5, 5, "duplicate key 'timeout' in upstream 'hr' (first at line 4)");
    expect_error("upstreams:\n"
                 "  hr: { url: \"http://127.0.0.1:9001\" }\n"
                 "  hr: { url: \"http://127.0.0.1:9002\" }\n",
                 3, 3, "duplicate key 'hr' in upstreams (first at line 2)");
    /* Header names compare without case, as HTTP does. */
    expect_error("upstreams:\n"
                 "  hr: { url: \"http://127.0.0.1:9001\", headers: { X-A: 1, x-a: 2 } }\n",
                 2, 58, "duplicate key 'x-a' in headers (first at line 2)");
    expect_error(UP EP_HEAD "    params: { q: {}, q: {} }\n", 5, 22, "duplicate key 'q' in params");
}

static void missing_required_keys(void **state)
{
    (void)state;
    expect_error("upstreams:\n  hr: { timeout: 1s }\n", 2, 3, "missing required key 'url' in upstream 'hr'");
    expect_error("upstreams:\n  hr:\n", 2, 3, "missing required key 'url' in upstream 'hr'");
    expect_error(UP, 1, 1, "missing required key 'endpoints' in the top level");
    expect_error(UP "endpoints:\n  - backends: []\n", 4, 5, "missing required key 'path' in endpoint #1");
    expect_error(UP EP_HEAD "    backends:\n"
                            "      - path: /x\n",
                 6, 9, "missing required key 'upstream' in backend #1 of endpoint '/a'");
    expect_error(UP EP_HEAD "    backends:\n"
                            "      - upstream: hr\n",
                 6, 9, "missing required key 'path' in backend #1 of endpoint '/a'");
    expect_error(UP EP_HEAD "    passthrough: { path: /x }\n", 5, 5,
                 "missing required key 'upstream' in the passthrough of endpoint '/a'");
}

static void unknown_upstream_references(void **state)
{
    (void)state;
    expect_error(UP EP_HEAD "    backends:\n"
                            "      - upstream: hrr\n"
                            "        path: /x\n",
                 6, 19, "unknown upstream 'hrr' (did you mean 'hr'?)");
    expect_error(UP EP_HEAD "    passthrough: { upstream: zzzz, path: /x }\n", 5, 30,
                 "unknown upstream 'zzzz' (define it under 'upstreams')");
}

static void duplicate_endpoints(void **state)
{
    (void)state;
    expect_error(UP "endpoints:\n"
                    "  - path: /a\n"
                    "    backends: [ { upstream: hr, path: /x } ]\n"
                    "  - path: /a\n"
                    "    backends: [ { upstream: hr, path: /y } ]\n",
                 6, 5, "duplicate endpoint GET /a (first at line 4)");
    /* Differently named params still make the same route. */
    expect_error(UP "endpoints:\n"
                    "  - path: /u/{id}/x\n"
                    "    method: PUT\n"
                    "    backends: [ { upstream: hr, path: /x } ]\n"
                    "  - path: /u/{name}/x\n"
                    "    method: PUT\n"
                    "    backends: [ { upstream: hr, path: /y } ]\n",
                 7, 5, "duplicate endpoint PUT /u/{name}/x (first at line 4)");
}

static void backends_and_passthrough_are_exclusive(void **state)
{
    (void)state;
    expect_error(UP EP_HEAD "    backends: [ { upstream: hr, path: /x } ]\n"
                            "    passthrough: { upstream: hr, path: /x }\n",
                 6, 5, "endpoint '/a' has both 'backends' and 'passthrough'");
    expect_error(UP EP_HEAD "    summary: nothing to call\n", 4, 5, "endpoint '/a' needs 'backends' or 'passthrough'");
    expect_error(UP EP_HEAD "    backends: []\n", 5, 15, "'backends' of endpoint '/a' must not be empty");
    expect_error(UP "endpoints: []\n", 3, 12, "'endpoints' must list at least one endpoint");
}

static void duplicate_backend_names(void **state)
{
    (void)state;
    expect_error(UP EP_HEAD "    backends:\n"
                            "      - { upstream: hr, path: /x }\n"
                            "      - { upstream: hr, path: /y }\n",
                 7, 9, "backend #2 of endpoint '/a': duplicate backend name 'hr' (also backend #1");
    expect_error(UP EP_HEAD "    backends:\n"
                            "      - { upstream: hr, path: /x, as: a }\n"
                            "      - { upstream: hr, path: /y, name: a }\n",
                 7, 9, "duplicate backend name 'a'");
}

static void https_and_other_bad_urls(void **state)
{
    (void)state;
    md_diag_t d;
    const char *yaml = "upstreams:\n  s: { url: \"http://127.0.0.1\", tls: { verify: false } }\n";
    assert_null(md_config_load_string(yaml, strlen(yaml), "e.yaml", &d));
    char out[700];
    md_diag_format(&d, out, sizeof(out));
    assert_string_equal(out, "e.yaml:2:33: 'tls' of upstream 's' needs an https:// url (it is 'http://127.0.0.1')");
    expect_error("upstreams:\n  s: { url: \"HTTPS://127.0.0.1:0\" }\n", 2, 13, "has a bad port");
}

static void bad_listen(void **state)
{
    (void)state;
    expect_error("listen: 0.0.0.0:http\n", 1, 9, "'listen' must be host:port");
    expect_error("listen: \"0.0.0.0:\"\n", 1, 9, "'listen' must be host:port");
    expect_error("listen: 0.0.0.0:99999\n", 1, 9, "'listen' must be host:port with a port 0-65535");
    expect_error("listen: 0.0.0.0:65536\n", 1, 9, "'listen' must be host:port");
    expect_error("listen: \"[::1\"\n", 1, 9, "'listen' must be host:port");
    expect_error("listen: \"[zz]:80\"\n", 1, 9, "'listen' must be host:port");
    expect_error("listen: \"::1:80\"\n", 1, 9, "'listen' must be host:port");
    expect_error("listen: \"a b:80\"\n", 1, 9, "'listen' must be host:port");
    expect_error("listen: { port: 80 }\n", 1, 9, "'listen' must be host:port");
}

static void yaml_syntax_errors_have_positions(void **state)
{
    (void)state;
    expect_error("listen: a: b\n", 1, 10, "YAML syntax error: mapping values are not allowed");
    expect_error("limits: { max_headers: 1\n", 2, 1, "YAML syntax error: did not find expected ',' or '}'");
    expect_error("limits:\n\tmax_headers: 1\n", 2, 1, "YAML syntax error: found character that cannot start any token");
    expect_error("listen: \"abc\n", 2, 1, "YAML syntax error: found unexpected end of stream");
    /* Invalid UTF-8 is reported at its byte, on its line. */
    expect_error("workers: 1\nlisten: \"\xff\"\n", 2, 10, "YAML syntax error: invalid leading UTF-8 octet");
}

static void empty_files(void **state)
{
    (void)state;
    expect_error("", 1, 1, "the configuration is empty");
    expect_error("# only a comment\n\n", 1, 1, "the configuration is empty");
    expect_error("---\n", 1, 1, "the configuration is empty");
    expect_error("- a\n- b\n", 1, 1, "the top level must be a mapping");
    expect_error("just text\n", 1, 1, "the top level must be a mapping");
}

static void yaml_features_we_refuse(void **state)
{
    (void)state;
    expect_error("x: &a 1\ny: *a\n", 2, 4, "YAML aliases (*a) are not supported");
    expect_error("workers: 1\n---\nworkers: 2\n", 2, 1, "only one YAML document is allowed");
    expect_error("? [a]\n: 1\n", 1, 3, "mapping keys must be plain strings");
    expect_error("listen: \"a\\0b\"\n", 1, 9, "NUL bytes are not allowed in values");

    char deep[128] = "x: ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    /* The root mapping is level 1, x's list level 2... the 33rd opens at col 35. */
    expect_error(deep, 1, 35, "nesting is deeper than 32 levels");

    char key[300];
    memset(key, 'k', 257);
    strcpy(key + 257, ": 1\n");
    expect_error(key, 1, 1, "mapping key is longer than 256 bytes");
}

/* Builds "head" + n copies of fmt(i) + "tail" into a malloc'd string. */
static char *repeat(const char *head, const char *fmt, int n, const char *tail)
{
    size_t cap = strlen(head) + strlen(tail) + (size_t)n * (strlen(fmt) + 16) + 1;
    char *s = malloc(cap);
    size_t len = (size_t)snprintf(s, cap, "%s", head);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, fmt, i);
    snprintf(s + len, cap - len, "%s", tail);
    return s;
}

static void too_many_items(void **state)
{
    (void)state;
    char *s = repeat("upstreams:\n", "  u%d: { url: \"http://127.0.0.1:9001\" }\n", 257, "");
    expect_error(s, 258, 3, "too many upstreams (max 256)");
    free(s);

    s = repeat(UP "endpoints:\n", "  - { path: /e%d, backends: [ { upstream: hr, path: /x } ] }\n", 1025, "");
    expect_error(s, 1028, 5, "too many endpoints (max 1024)");
    free(s);

    s = repeat(UP EP_HEAD "    backends:\n", "      - { upstream: hr, path: /x, name: b%d }\n", 33, "");
    expect_error(s, 38, 9, "too many backends (max 32)");
    free(s);

    s = repeat(UP EP_HEAD "    params:\n", "      p%d: {}\n", 65, "");
    expect_error(s, 70, 7, "too many params (max 64)");
    free(s);

    s = repeat("upstreams:\n  hr:\n    url: http://127.0.0.1:9001\n    headers:\n", "      X-H%d: v\n", 65, "");
    expect_error(s, 69, 7, "too many headers (max 64)");
    free(s);

    s = repeat(UP EP_HEAD "    backends:\n      - upstream: hr\n        path: /x\n        query:\n",
               "          q%d: v\n", 65, "");
    expect_error(s, 73, 11, "too many query parameters (max 64)");
    free(s);

    /* Whatever the schema, the tree itself is bounded: the root mapping and
     * the list are nodes 1 and 2, so item 99999 (line 100000, after "- ") is node 100001. */
    s = repeat("x:\n", "- %d\n", 100000, "");
    expect_error(s, 100000, 3, "too many YAML nodes (max 100000)");
    free(s);

    s = repeat(UP EP_HEAD "    backends:\n      - upstream: hr\n        path: /x\n        shape:\n          select:\n",
               "            - f%d\n", 257, "");
    expect_error(s, 266, 15, "too many select (max 256)");
    free(s);
}

static void failed_loads_leave_diag_file_only_once(void **state)
{
    (void)state;
    /* The first error wins: later problems do not overwrite it. */
    expect_error("workers: 0\nlisten: nope:nope\n", 1, 10, "'workers' must be auto or an integer");
    /* A NULL diag is allowed. */
    assert_null(md_config_load_string("workers: 0\n", 11, "x", NULL));
    /* A very long label is cut to fit, not overflowed. */
    char name[400];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    md_diag_t d;
    assert_null(md_config_load_string("", 0, name, &d));
    assert_int_equal(strlen(d.file), sizeof(d.file) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_keys_are_named_with_a_suggestion),
        cmocka_unit_test(unknown_keys_without_a_close_match),
        cmocka_unit_test(wrong_types_say_what_is_expected),
        cmocka_unit_test(duplicate_keys_point_at_the_second),
        cmocka_unit_test(missing_required_keys),
        cmocka_unit_test(unknown_upstream_references),
        cmocka_unit_test(duplicate_endpoints),
        cmocka_unit_test(backends_and_passthrough_are_exclusive),
        cmocka_unit_test(duplicate_backend_names),
        cmocka_unit_test(https_and_other_bad_urls),
        cmocka_unit_test(bad_listen),
        cmocka_unit_test(yaml_syntax_errors_have_positions),
        cmocka_unit_test(empty_files),
        cmocka_unit_test(yaml_features_we_refuse),
        cmocka_unit_test(too_many_items),
        cmocka_unit_test(failed_loads_leave_diag_file_only_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
