/*
 * Unit tests for upstream/template: compile errors (with columns), variable
 * introspection, and rendering with hostile request values, which must come
 * out percent-encoded so they cannot change the host, add a path segment,
 * a parameter or a header.
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/common.h"
#include "upstream/template.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- a fake request: (ns, name) -> value ---- */

typedef struct input {
    const char *ns;
    const char *name;
    const char *value;
    size_t len; /* 0: strlen(value) */
} input_t;

typedef struct inputs {
    const input_t *v;
    size_t n;
    int fail_rc; /* returned for every lookup when non-zero */
} inputs_t;

static bool str_is(md_str_t s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

static int lookup(void *ctx, md_str_t ns, md_str_t name, md_str_t *value)
{
    const inputs_t *in = ctx;
    if (in->fail_rc)
        return in->fail_rc;
    for (size_t i = 0; i < in->n; i++) {
        if (str_is(ns, in->v[i].ns) && str_is(name, in->v[i].name)) {
            value->ptr = in->v[i].value;
            value->len = in->v[i].len ? in->v[i].len : strlen(in->v[i].value);
            return MD_OK;
        }
    }
    return MD_ENOTFOUND;
}

/* Compiles src, renders it with one param "x" = value, returns the code and
 * leaves the output in out (initialized with cap `max`). */
static int render_x(const char *src, md_tpl_kind_t kind, const char *value, size_t vlen, md_buf_t *out,
                    size_t max)
{
    char err[128];
    md_template_t *t = md_template_compile(src, kind, err, sizeof(err));
    assert_non_null(t);
    input_t v = { "", "x", value, vlen };
    inputs_t in = { &v, value ? 1 : 0, 0 };
    md_buf_init(out, max);
    int rc = md_template_render(t, lookup, &in, out);
    md_template_free(t);
    return rc;
}

/* Renders and asserts success and the exact output. */
static void expect_render(const char *src, md_tpl_kind_t kind, const char *value, const char *expected)
{
    md_buf_t out;
    int rc = render_x(src, kind, value, 0, &out, 0);
    if (rc != MD_OK)
        fail_msg("render of %s with '%s' failed: %d", src, value ? value : "(absent)", rc);
    assert_int_equal(out.len, strlen(expected));
    assert_string_equal(out.data, expected);
    md_buf_free(&out);
}

static void expect_render_fails(const char *src, const char *value, int want)
{
    md_buf_t out;
    assert_int_equal(render_x(src, MD_TPL_TARGET, value, 0, &out, 0), want);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
}

static void expect_compile_error(const char *src, md_tpl_kind_t kind, const char *msg)
{
    char err[160] = "";
    md_template_t *t = md_template_compile(src, kind, err, sizeof(err));
    if (t) {
        md_template_free(t);
        fail_msg("'%s' compiled, expected: %s", src, msg);
    }
    assert_string_equal(err, msg);
}

/* ---- compile errors ---- */

static void compile_rejects_bad_braces_and_names(void **state)
{
    (void)state;
    expect_compile_error("/a/{x", MD_TPL_TARGET, "column 4: unbalanced '{' (no closing '}')");
    expect_compile_error("/a/x}/b", MD_TPL_TARGET, "column 5: unbalanced '}'");
    expect_compile_error("/a/{x}}", MD_TPL_TARGET, "column 7: unbalanced '}'");
    expect_compile_error("/a/{{x}}", MD_TPL_TARGET, "column 4: unbalanced '{' (a '{' opens again at column 5)");
    expect_compile_error("/a/{}", MD_TPL_TARGET, "column 4: empty variable name");
    expect_compile_error("/a/{query.}", MD_TPL_TARGET, "column 4: empty variable name after 'query.'");
    expect_compile_error("/a/{us er}", MD_TPL_TARGET,
                         "column 7: bad character in variable name (allowed: A-Z a-z 0-9 _ . -)");
    expect_compile_error("/a/{x/y}", MD_TPL_TARGET,
                         "column 6: bad character in variable name (allowed: A-Z a-z 0-9 _ . -)");
    expect_compile_error("/a/{x~}", MD_TPL_TARGET,
                         "column 6: bad character in variable name (allowed: A-Z a-z 0-9 _ . -)");
    expect_compile_error("x={a:b}", MD_TPL_QUERY_VALUE,
                         "column 5: bad character in variable name (allowed: A-Z a-z 0-9 _ . -)");
    expect_compile_error("v {", MD_TPL_HEADER_VALUE, "column 3: unbalanced '{' (no closing '}')");
}

static void compile_rejects_bad_targets(void **state)
{
    (void)state;
    expect_compile_error("", MD_TPL_TARGET, "column 1: a backend target must start with '/'");
    expect_compile_error("a/{x}", MD_TPL_TARGET, "column 1: a backend target must start with '/'");
    expect_compile_error("{x}/a", MD_TPL_TARGET, "column 1: a backend target must start with '/'");
    expect_compile_error("//evil.com/{x}", MD_TPL_TARGET,
                         "column 1: a backend target must not start with \"//\" (it would be read as a host)");
    expect_compile_error("/a#frag", MD_TPL_TARGET,
                         "column 3: '#' is not allowed (a fragment is never sent to a backend)");
    expect_compile_error("/a?x=1#f", MD_TPL_TARGET,
                         "column 7: '#' is not allowed (a fragment is never sent to a backend)");
    expect_compile_error("/a b", MD_TPL_TARGET,
                         "column 3: byte 0x20 (space, control or non-ASCII) must be percent-encoded");
    expect_compile_error("/a/{x}\r\nHost: evil", MD_TPL_TARGET,
                         "column 7: byte 0x0D (space, control or non-ASCII) must be percent-encoded");
    expect_compile_error("/a\tb", MD_TPL_TARGET,
                         "column 3: byte 0x09 (space, control or non-ASCII) must be percent-encoded");
    expect_compile_error("/a\x7f", MD_TPL_TARGET,
                         "column 3: byte 0x7F (space, control or non-ASCII) must be percent-encoded");
    expect_compile_error("/caf\xC3\xA9", MD_TPL_TARGET,
                         "column 5: byte 0xC3 (space, control or non-ASCII) must be percent-encoded");
}

static void compile_rejects_literal_dot_segments(void **state)
{
    (void)state;
    const char *msg4 = "column 4: a '.' or '..' path segment is not allowed";
    expect_compile_error("/a/../b", MD_TPL_TARGET, msg4);
    expect_compile_error("/a/./b", MD_TPL_TARGET, msg4);
    expect_compile_error("/a/..", MD_TPL_TARGET, msg4);
    expect_compile_error("/a/%2e%2E/{x}", MD_TPL_TARGET, msg4);
    expect_compile_error("/a/.?q=1", MD_TPL_TARGET, msg4);
    expect_compile_error("/..", MD_TPL_TARGET, "column 2: a '.' or '..' path segment is not allowed");
    /* not dot segments: longer, mixed, or in the query part */
    static const char *const fine[] = { "/a/.../b", "/a/.x", "/a/x.", "/a/{x}..", "/a?p=..", "/a/?../.." };
    for (size_t i = 0; i < MD_ARRAY_LEN(fine); i++) {
        char err[160];
        md_template_t *t = md_template_compile(fine[i], MD_TPL_TARGET, err, sizeof(err));
        if (!t)
            fail_msg("'%s' refused: %s", fine[i], err);
        md_template_free(t);
    }
}

static void compile_rejects_bad_value_literals(void **state)
{
    (void)state;
    expect_compile_error("a&b={x}", MD_TPL_QUERY_VALUE,
                         "column 2: '&' is not allowed in a query value (it would start another parameter)");
    expect_compile_error("{x}#", MD_TPL_QUERY_VALUE,
                         "column 4: '#' is not allowed (a fragment is never sent to a backend)");
    expect_compile_error("a b", MD_TPL_QUERY_VALUE,
                         "column 2: byte 0x20 (space, control or non-ASCII) must be percent-encoded");
    expect_compile_error("Bearer\r\n{x}", MD_TPL_HEADER_VALUE, "column 7: control character 0x0D in a header value");
    expect_compile_error("a\nb", MD_TPL_HEADER_VALUE, "column 2: control character 0x0A in a header value");
    expect_compile_error("a\x7f", MD_TPL_HEADER_VALUE, "column 2: control character 0x7F in a header value");
    /* a header literal may hold spaces, HTAB, '#', '&' and '%' as written */
    char err[160];
    md_template_t *t = md_template_compile("a b\t#&%/{x}", MD_TPL_HEADER_VALUE, err, sizeof(err));
    assert_non_null(t);
    md_template_free(t);
}

static void compile_enforces_limits(void **state)
{
    (void)state;
    char err[160];
    char *src = malloc(MD_TPL_MAX_SOURCE + 2);
    src[0] = '/';
    memset(src + 1, 'a', MD_TPL_MAX_SOURCE);
    src[MD_TPL_MAX_SOURCE + 1] = '\0';
    expect_compile_error(src, MD_TPL_TARGET, "column 8193: template is longer than 8192 bytes");
    src[MD_TPL_MAX_SOURCE] = '\0'; /* exactly the limit */
    md_template_t *t = md_template_compile(src, MD_TPL_TARGET, err, sizeof(err));
    assert_non_null(t);
    md_template_free(t);
    free(src);

    md_buf_t b;
    md_buf_init(&b, 0);
    for (int i = 0; i < MD_TPL_MAX_VARS; i++)
        assert_int_equal(md_buf_printf(&b, "/{v%d}", i), MD_OK);
    t = md_template_compile(b.data, MD_TPL_TARGET, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(md_template_nvars(t), 64);
    md_template_free(t);
    size_t col = b.len + 2; /* the '{' of the 65th variable */
    assert_int_equal(md_buf_append_str(&b, "/{v64}"), MD_OK);
    char want[80];
    snprintf(want, sizeof(want), "column %zu: too many variables (at most 64)", col);
    expect_compile_error(b.data, MD_TPL_TARGET, want);
    md_buf_free(&b);

    assert_null(md_template_compile(NULL, MD_TPL_TARGET, err, sizeof(err)));
    assert_string_equal(err, "column 1: no template given");
    /* a tiny or absent error buffer is never overrun */
    char tiny[8];
    assert_null(md_template_compile("/a/{", MD_TPL_TARGET, tiny, sizeof(tiny)));
    assert_string_equal(tiny, "column ");
    assert_null(md_template_compile("/a/{", MD_TPL_TARGET, NULL, 0));
}

/* ---- introspection ---- */

static void expect_var(const md_template_t *t, size_t i, const char *ns, const char *name)
{
    md_str_t n, v;
    md_template_var(t, i, &n, &v);
    assert_true(str_is(n, ns));
    assert_true(str_is(v, name));
}

static void variables_and_namespaces(void **state)
{
    (void)state;
    char err[160];
    md_template_t *t = md_template_compile(
        "/u/{user}/o?q={query.q}&t={header.X-Trace}&s={jwt.sub}&d={a.b}&again={user}", MD_TPL_TARGET, err,
        sizeof(err));
    assert_non_null(t);
    assert_int_equal(md_template_nvars(t), 6);
    assert_false(md_template_is_static(t));
    expect_var(t, 0, "", "user");
    expect_var(t, 1, "query", "q");
    expect_var(t, 2, "header", "X-Trace");
    expect_var(t, 3, "jwt", "sub");
    expect_var(t, 4, "", "a.b");
    expect_var(t, 5, "", "user");
    md_template_free(t);

    t = md_template_compile("{query.a.b}", MD_TPL_HEADER_VALUE, err, sizeof(err));
    assert_non_null(t);
    expect_var(t, 0, "query", "a.b");
    md_template_free(t);
}

static void static_templates(void **state)
{
    (void)state;
    char err[160];
    md_template_t *t = md_template_compile("/v1/health?full=1", MD_TPL_TARGET, err, sizeof(err));
    assert_non_null(t);
    assert_true(md_template_is_static(t));
    assert_int_equal(md_template_nvars(t), 0);
    inputs_t none = { NULL, 0, 0 };
    md_buf_t out;
    md_buf_init(&out, 0);
    assert_int_equal(md_template_render(t, lookup, &none, &out), MD_OK);
    assert_string_equal(out.data, "/v1/health?full=1");
    md_buf_free(&out);
    md_template_free(t);

    t = md_template_compile("", MD_TPL_HEADER_VALUE, err, sizeof(err));
    assert_non_null(t);
    assert_true(md_template_is_static(t));
    md_buf_init(&out, 0);
    assert_int_equal(md_template_render(t, lookup, &none, &out), MD_OK);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    md_template_free(t);
}

/* ---- rendering ---- */

static void renders_path_and_query(void **state)
{
    (void)state;
    char err[160];
    md_template_t *t = md_template_compile("/users/{user}/orders?limit={query.limit}&k=v&t={header.X-Trace}",
                                           MD_TPL_TARGET, err, sizeof(err));
    assert_non_null(t);
    const input_t v[] = { { "", "user", "42", 0 }, { "query", "limit", "10", 0 } };
    inputs_t in = { v, 2, 0 };
    md_buf_t out;
    md_buf_init(&out, 0);
    assert_int_equal(md_buf_append_str(&out, "GET "), MD_OK);
    assert_int_equal(md_template_render(t, lookup, &in, &out), MD_OK);
    /* appended; the absent header renders as "" */
    assert_string_equal(out.data, "GET /users/42/orders?limit=10&k=v&t=");
    md_buf_free(&out);
    md_template_free(t);
}

static void hostile_values_in_a_path_segment(void **state)
{
    (void)state;
    const char *src = "/users/{x}/profile";
    expect_render(src, MD_TPL_TARGET, "../../admin", "/users/..%2F..%2Fadmin/profile");
    expect_render(src, MD_TPL_TARGET, "a/b", "/users/a%2Fb/profile");
    expect_render(src, MD_TPL_TARGET, "x?y=1", "/users/x%3Fy%3D1/profile");
    expect_render(src, MD_TPL_TARGET, "a#b", "/users/a%23b/profile");
    expect_render(src, MD_TPL_TARGET, "%2e%2e", "/users/%252e%252e/profile");
    expect_render(src, MD_TPL_TARGET, "\r\nX-Injected: 1", "/users/%0D%0AX-Injected%3A%201/profile");
    expect_render(src, MD_TPL_TARGET, "@evil.com", "/users/%40evil.com/profile");
    expect_render(src, MD_TPL_TARGET, "user:pw@evil.com:80", "/users/user%3Apw%40evil.com%3A80/profile");
    expect_render(src, MD_TPL_TARGET, "\xC3\xA9\xE2\x82\xAC", "/users/%C3%A9%E2%82%AC/profile");
    expect_render(src, MD_TPL_TARGET, "a+b c&d=e;f,g", "/users/a%2Bb%20c%26d%3De%3Bf%2Cg/profile");
    expect_render(src, MD_TPL_TARGET, "\\..\\", "/users/%5C..%5C/profile");
    expect_render(src, MD_TPL_TARGET, "A-Z_a.z~09", "/users/A-Z_a.z~09/profile");
    expect_render(src, MD_TPL_TARGET, "...", "/users/.../profile");
    expect_render(src, MD_TPL_TARGET, NULL, "/users//profile");
    /* a NUL byte inside a value */
    md_buf_t out;
    assert_int_equal(render_x(src, MD_TPL_TARGET, "a\0b", 3, &out, 0), MD_OK);
    assert_string_equal(out.data, "/users/a%00b/profile");
    md_buf_free(&out);
}

static void dot_segments_are_refused(void **state)
{
    (void)state;
    expect_render_fails("/users/{x}/profile", ".", MD_EINVAL);
    expect_render_fails("/users/{x}/profile", "..", MD_EINVAL);
    expect_render_fails("/users/{x}", "..", MD_EINVAL);
    expect_render_fails("/users/{x}?a=1", "..", MD_EINVAL);
    expect_render_fails("/users/.{x}/p", ".", MD_EINVAL);
    expect_render_fails("/users/{x}./p", ".", MD_EINVAL);
    expect_render_fails("/users/%2e{x}", ".", MD_EINVAL);
    expect_render_fails("/{x}", "..", MD_EINVAL);

    char err[160];
    md_template_t *t = md_template_compile("/a/{x}{y}/b", MD_TPL_TARGET, err, sizeof(err));
    const input_t v[] = { { "", "x", ".", 0 }, { "", "y", ".", 0 } };
    inputs_t in = { v, 2, 0 };
    md_buf_t out;
    md_buf_init(&out, 0);
    assert_int_equal(md_buf_append_str(&out, "keep"), MD_OK);
    assert_int_equal(md_template_render(t, lookup, &in, &out), MD_EINVAL);
    assert_int_equal(out.len, 4); /* output left as it was */
    assert_string_equal(out.data, "keep");
    md_buf_free(&out);
    md_template_free(t);

    /* dots are harmless where they do not form a whole segment */
    expect_render("/a/{x}.json", MD_TPL_TARGET, ".", "/a/..json");
    expect_render("/a/v{x}", MD_TPL_TARGET, "..", "/a/v..");
    expect_render("/a?x={x}", MD_TPL_TARGET, "..", "/a?x=..");
    expect_render("/a?p=/{x}/", MD_TPL_TARGET, "..", "/a?p=/../");
}

static void empty_value_cannot_make_an_authority(void **state)
{
    (void)state;
    expect_render_fails("/{x}/b", NULL, MD_EINVAL); /* would be "//b" */
    expect_render_fails("/{x}/b", "", MD_EINVAL);
    expect_render("/{x}", MD_TPL_TARGET, NULL, "/");
    expect_render("/{x}?a=1", MD_TPL_TARGET, NULL, "/?a=1");
    expect_render("/a/{x}/b", MD_TPL_TARGET, NULL, "/a//b");
    expect_render("/{x}/b", MD_TPL_TARGET, "evil.com", "/evil.com/b");
}

static void hostile_values_in_the_query_part(void **state)
{
    (void)state;
    const char *src = "/search?q={x}&page=1";
    expect_render(src, MD_TPL_TARGET, "a&admin=1", "/search?q=a%26admin%3D1&page=1");
    expect_render(src, MD_TPL_TARGET, "x y+z", "/search?q=x%20y%2Bz&page=1");
    expect_render(src, MD_TPL_TARGET, "a#b", "/search?q=a%23b&page=1");
    expect_render(src, MD_TPL_TARGET, "/etc/passwd?", "/search?q=%2Fetc%2Fpasswd%3F&page=1");
    expect_render(src, MD_TPL_TARGET, "\r\nX-Injected: 1", "/search?q=%0D%0AX-Injected%3A%201&page=1");
    expect_render(src, MD_TPL_TARGET, "100%", "/search?q=100%25&page=1");
    expect_render("{x}", MD_TPL_QUERY_VALUE, "a&b=c", "a%26b%3Dc");
    expect_render("id-{x}", MD_TPL_QUERY_VALUE, "../\xFF", "id-..%2F%FF");
}

static void hostile_values_in_a_header(void **state)
{
    (void)state;
    const char *src = "trace-{x}";
    expect_render(src, MD_TPL_HEADER_VALUE, "\r\nX-Injected: 1", "trace-%0D%0AX-Injected: 1");
    expect_render(src, MD_TPL_HEADER_VALUE, "a\nb\rc", "trace-a%0Ab%0Dc");
    expect_render(src, MD_TPL_HEADER_VALUE, "50% off", "trace-50%25 off");
    expect_render(src, MD_TPL_HEADER_VALUE, "tab\there", "trace-tab%09here");
    expect_render(src, MD_TPL_HEADER_VALUE, "del\x7f", "trace-del%7F");
    expect_render(src, MD_TPL_HEADER_VALUE, "\xC3\xA9", "trace-%C3%A9");
    expect_render(src, MD_TPL_HEADER_VALUE, "a:b;c=d/e?f#g@h,\"i\"", "trace-a:b;c=d/e?f#g@h,\"i\"");
    md_buf_t out;
    assert_int_equal(render_x(src, MD_TPL_HEADER_VALUE, "\0\r", 2, &out, 0), MD_OK);
    assert_string_equal(out.data, "trace-%00%0D");
    md_buf_free(&out);
}

/* Every byte value, checked against the rule as the spec states it. */
static void every_byte_follows_the_tables(void **state)
{
    (void)state;
    const char *unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    for (int c = 0; c < 256; c++) {
        char v = (char)c, want[8];
        md_buf_t out;
        assert_int_equal(render_x("{x}", MD_TPL_QUERY_VALUE, &v, 1, &out, 0), MD_OK);
        if (c != 0 && strchr(unreserved, c))
            snprintf(want, sizeof(want), "%c", c);
        else
            snprintf(want, sizeof(want), "%%%02X", c);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
        md_buf_free(&out);

        assert_int_equal(render_x("{x}", MD_TPL_HEADER_VALUE, &v, 1, &out, 0), MD_OK);
        if (c == ' ' || (c >= 0x21 && c <= 0x7E && c != '%'))
            snprintf(want, sizeof(want), "%c", c);
        else
            snprintf(want, sizeof(want), "%%%02X", c);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
        md_buf_free(&out);
    }
}

static void output_cap_is_enforced_exactly(void **state)
{
    (void)state;
    md_buf_t out;
    char big[20001];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    /* 20000 bytes cannot fit a 16 KiB cap */
    assert_int_equal(render_x("/p/{x}", MD_TPL_TARGET, big, 0, &out, 16384), MD_ETOOBIG);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    /* "/p/" + 20 'a' is 23 bytes: fits a cap of 23 even though the worst
     * case (3 bytes each) would not; 22 is one short */
    big[20] = '\0';
    assert_int_equal(render_x("/p/{x}", MD_TPL_TARGET, big, 0, &out, 23), MD_OK);
    assert_int_equal(out.len, 23);
    md_buf_free(&out);
    assert_int_equal(render_x("/p/{x}", MD_TPL_TARGET, big, 0, &out, 22), MD_ETOOBIG);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    /* "/p/" + "%2F%2F" is 9 bytes */
    assert_int_equal(render_x("/p/{x}", MD_TPL_TARGET, "//", 0, &out, 9), MD_OK);
    assert_string_equal(out.data, "/p/%2F%2F");
    md_buf_free(&out);
    assert_int_equal(render_x("/p/{x}", MD_TPL_TARGET, "//", 0, &out, 8), MD_ETOOBIG);
    md_buf_free(&out);
    /* a literal that does not fit */
    assert_int_equal(render_x("/long/literal/{x}", MD_TPL_TARGET, "a", 0, &out, 5), MD_ETOOBIG);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
}

static void lookup_errors_propagate(void **state)
{
    (void)state;
    char err[160];
    md_template_t *t = md_template_compile("/a/{x}", MD_TPL_TARGET, err, sizeof(err));
    inputs_t in = { NULL, 0, MD_ERR };
    md_buf_t out;
    md_buf_init(&out, 0);
    assert_int_equal(md_template_render(t, lookup, &in, &out), MD_ERR);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    md_template_free(t);
    md_template_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compile_rejects_bad_braces_and_names),
        cmocka_unit_test(compile_rejects_bad_targets),
        cmocka_unit_test(compile_rejects_literal_dot_segments),
        cmocka_unit_test(compile_rejects_bad_value_literals),
        cmocka_unit_test(compile_enforces_limits),
        cmocka_unit_test(variables_and_namespaces),
        cmocka_unit_test(static_templates),
        cmocka_unit_test(renders_path_and_query),
        cmocka_unit_test(hostile_values_in_a_path_segment),
        cmocka_unit_test(dot_segments_are_refused),
        cmocka_unit_test(empty_value_cannot_make_an_authority),
        cmocka_unit_test(hostile_values_in_the_query_part),
        cmocka_unit_test(hostile_values_in_a_header),
        cmocka_unit_test(every_byte_follows_the_tables),
        cmocka_unit_test(output_cap_is_enforced_exactly),
        cmocka_unit_test(lookup_errors_propagate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
