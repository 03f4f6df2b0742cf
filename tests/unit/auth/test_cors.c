/*
 * Unit tests for auth/cors: policy checks (credentials with "*", origin
 * syntax and normalization, limits), preflights allowed and refused by
 * origin, method and header, actual-request headers, "null" origins,
 * wildcard echoes, case-insensitive header names and hostile values.
 */
#include "testutil.h"

#include <stdio.h>

#include "auth/cors.h"
#include "core/common.h"

#define HDR(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static md_cors_policy_t *app_policy(void)
{
    static const char *const origins[] = { "https://App.Example.com", "http://localhost:8080" };
    static const char *const methods[] = { "PUT", "DELETE" };
    static const char *const headers[] = { "Content-Type", "X-Request-Id" };
    static const char *const expose[] = { "X-Total", "ETag" };
    md_cors_opts_t o = { origins, 2, methods, 2, headers, 2, expose, 2, true, 600 };
    md_cors_policy_t *p = NULL;
    char err[256] = "";
    assert_int_equal(md_cors_policy_new(&o, &p, err, sizeof(err)), MD_OK);
    assert_non_null(p);
    return p;
}

/* The value of output header `name`, as a NUL-terminated copy, or NULL. */
static const char *out_value(const md_cors_result_t *r, const char *name)
{
    static char buf[8][512];
    static int next;
    for (size_t i = 0; i < r->n; i++)
        if (strlen(name) == r->headers[i].name_len && memcmp(name, r->headers[i].name, r->headers[i].name_len) == 0) {
            char *b = buf[next++ % 8];
            snprintf(b, 512, "%.*s", (int)r->headers[i].value_len, r->headers[i].value);
            return b;
        }
    return NULL;
}

static int new_policy(const char *const *origins, size_t no, const char *const *methods, size_t nm,
                      const char *const *headers, size_t nh, bool creds, long max_age, md_cors_policy_t **p,
                      char *err, size_t errlen)
{
    md_cors_opts_t o = { origins, no, methods, nm, headers, nh, NULL, 0, creds, max_age };
    return md_cors_policy_new(&o, p, err, errlen);
}

static void preflight_allowed(void **state)
{
    (void)state;
    md_cors_policy_t *p = app_policy();
    md_header_t req[] = {
        HDR("Host", "api.example.com"),
        HDR("Origin", "https://app.example.com"),
        HDR("Access-Control-Request-Method", "PUT"),
        HDR("Access-Control-Request-Headers", "content-type,x-request-id"),
    };
    assert_true(md_cors_is_preflight("OPTIONS", 7, req, 4));
    md_cors_result_t r;
    assert_int_equal(md_cors_preflight(p, req, 4, &r), MD_OK);
    assert_null(r.refusal);
    assert_int_equal(r.n, 6);
    assert_string_equal(out_value(&r, "Vary"), "Origin");
    assert_string_equal(out_value(&r, "Access-Control-Allow-Origin"), "https://app.example.com");
    assert_string_equal(out_value(&r, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(out_value(&r, "Access-Control-Allow-Methods"), "PUT, DELETE");
    assert_string_equal(out_value(&r, "Access-Control-Allow-Headers"), "content-type, x-request-id");
    assert_string_equal(out_value(&r, "Access-Control-Max-Age"), "600");
    md_cors_policy_free(p);
}

static void preflight_safelisted_method_and_no_headers(void **state)
{
    (void)state;
    md_cors_policy_t *p = app_policy();
    md_header_t req[] = { HDR("Origin", "http://localhost:8080"), HDR("Access-Control-Request-Method", "POST") };
    md_cors_result_t r;
    assert_int_equal(md_cors_preflight(p, req, 2, &r), MD_OK); /* POST needs no listing */
    assert_string_equal(out_value(&r, "Access-Control-Allow-Origin"), "http://localhost:8080");
    md_cors_policy_free(p);
}

/* Runs a preflight expected to be refused; checks only Vary is output. */
static void expect_refused(md_cors_policy_t *p, md_header_t *req, size_t n, int rc, const char *why)
{
    md_cors_result_t r;
    assert_int_equal(md_cors_preflight(p, req, n, &r), rc);
    assert_non_null(r.refusal);
    assert_string_equal(r.refusal, why);
    assert_int_equal(r.n, 1);
    assert_string_equal(out_value(&r, "Vary"), "Origin");
    assert_null(out_value(&r, "Access-Control-Allow-Origin"));
}

static void preflight_refusals(void **state)
{
    (void)state;
    md_cors_policy_t *p = app_policy();
    md_header_t evil[] = { HDR("Origin", "https://evil.example"), HDR("Access-Control-Request-Method", "PUT") };
    expect_refused(p, evil, 2, MD_EINVAL, "origin not allowed");
    /* Almost the right origin: other scheme, port, case, trailing slash. */
    md_header_t near1[] = { HDR("Origin", "http://app.example.com"), HDR("Access-Control-Request-Method", "PUT") };
    expect_refused(p, near1, 2, MD_EINVAL, "origin not allowed");
    md_header_t near2[] = { HDR("Origin", "http://localhost:8081"), HDR("Access-Control-Request-Method", "PUT") };
    expect_refused(p, near2, 2, MD_EINVAL, "origin not allowed");
    md_header_t near3[] = { HDR("Origin", "https://APP.example.com"), HDR("Access-Control-Request-Method", "PUT") };
    expect_refused(p, near3, 2, MD_EINVAL, "origin not allowed");
    md_header_t near4[] = { HDR("Origin", "https://app.example.com/"), HDR("Access-Control-Request-Method", "PUT") };
    expect_refused(p, near4, 2, MD_EINVAL, "origin not allowed");
    md_header_t patch[] = { HDR("Origin", "https://app.example.com"), HDR("Access-Control-Request-Method", "PATCH") };
    expect_refused(p, patch, 2, MD_EINVAL, "method not allowed");
    md_header_t lower[] = { HDR("Origin", "https://app.example.com"), HDR("Access-Control-Request-Method", "put") };
    expect_refused(p, lower, 2, MD_EINVAL, "method not allowed"); /* methods are case-sensitive */
    md_header_t hdr[] = {
        HDR("Origin", "https://app.example.com"),
        HDR("Access-Control-Request-Method", "PUT"),
        HDR("Access-Control-Request-Headers", "content-type, x-secret"),
    };
    expect_refused(p, hdr, 3, MD_EINVAL, "request header not allowed");
    md_header_t no_method[] = { HDR("Origin", "https://app.example.com") };
    expect_refused(p, no_method, 1, MD_EINVAL, "missing or malformed Access-Control-Request-Method");
    md_header_t no_origin[] = { HDR("Access-Control-Request-Method", "PUT") };
    expect_refused(p, no_origin, 1, MD_EINVAL, "no Origin");
    md_header_t twice[] = {
        HDR("Origin", "https://app.example.com"),
        HDR("origin", "https://evil.example"),
        HDR("Access-Control-Request-Method", "PUT"),
    };
    expect_refused(p, twice, 3, MD_EINVAL, "repeated CORS request header");
    md_header_t null_origin[] = { HDR("Origin", "null"), HDR("Access-Control-Request-Method", "PUT") };
    expect_refused(p, null_origin, 2, MD_EINVAL, "origin not allowed");
    md_cors_policy_free(p);
}

static void header_names_and_lists_are_case_insensitive(void **state)
{
    (void)state;
    md_cors_policy_t *p = app_policy();
    md_header_t req[] = {
        HDR("ORIGIN", "https://app.example.com"),
        HDR("access-control-request-method", "DELETE"),
        HDR("Access-Control-REQUEST-Headers", " X-REQUEST-ID ,, Content-Type ,"),
    };
    assert_true(md_cors_is_preflight("OPTIONS", 7, req, 3));
    assert_false(md_cors_is_preflight("GET", 3, req, 3));
    assert_false(md_cors_is_preflight("options", 7, req, 3));
    assert_false(md_cors_is_preflight("OPTIONS", 7, req, 1)); /* no request method */
    md_cors_result_t r;
    assert_int_equal(md_cors_preflight(p, req, 3, &r), MD_OK);
    assert_string_equal(out_value(&r, "Access-Control-Allow-Methods"), "PUT, DELETE");
    md_cors_policy_free(p);
}

static void actual_request_headers(void **state)
{
    (void)state;
    md_cors_policy_t *p = app_policy();
    md_header_t ok[] = { HDR("origin", "https://app.example.com"), HDR("Accept", "*/*") };
    md_cors_result_t r;
    assert_int_equal(md_cors_actual(p, ok, 2, &r), MD_OK);
    assert_int_equal(r.n, 4);
    assert_string_equal(out_value(&r, "Access-Control-Allow-Origin"), "https://app.example.com");
    assert_string_equal(out_value(&r, "Access-Control-Allow-Credentials"), "true");
    assert_string_equal(out_value(&r, "Access-Control-Expose-Headers"), "X-Total, ETag");
    assert_string_equal(out_value(&r, "Vary"), "Origin");

    md_header_t bad[] = { HDR("Origin", "https://evil.example") };
    assert_int_equal(md_cors_actual(p, bad, 1, &r), MD_EINVAL);
    assert_string_equal(r.refusal, "origin not allowed");
    assert_int_equal(r.n, 1);
    assert_string_equal(out_value(&r, "Vary"), "Origin");

    md_header_t none[] = { HDR("Accept", "*/*") };
    assert_int_equal(md_cors_actual(p, none, 1, &r), MD_OK); /* not a CORS request */
    assert_null(r.refusal);
    assert_int_equal(r.n, 1);
    assert_string_equal(out_value(&r, "Vary"), "Origin");
    md_cors_policy_free(p);
}

static void credentials_with_star_are_refused(void **state)
{
    (void)state;
    static const char *const star[] = { "*" };
    static const char *const one[] = { "https://a.example" };
    static const char *const star_and_more[] = { "*", "https://a.example" };
    md_cors_policy_t *p = (md_cors_policy_t *)1;
    char err[256];
    assert_int_equal(new_policy(star, 1, NULL, 0, NULL, 0, true, -1, &p, err, sizeof(err)), MD_EINVAL);
    assert_null(p);
    assert_string_equal(err, "cors: origins \"*\" cannot be combined with credentials (browsers refuse it)");
    assert_int_equal(new_policy(one, 1, star, 1, NULL, 0, true, -1, &p, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "methods \"*\""));
    assert_int_equal(new_policy(one, 1, NULL, 0, star, 1, true, -1, &p, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "headers \"*\""));
    assert_int_equal(new_policy(star_and_more, 2, NULL, 0, NULL, 0, false, -1, &p, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "must be the only entry in origins"));
    /* Without credentials, "*" is fine. */
    assert_int_equal(new_policy(star, 1, NULL, 0, NULL, 0, false, -1, &p, err, sizeof(err)), MD_OK);
    md_cors_policy_free(p);
    md_cors_policy_free(NULL);
}

static void star_policy_echoes_validated_requests(void **state)
{
    (void)state;
    static const char *const star[] = { "*" };
    md_cors_policy_t *p = NULL;
    char err[256];
    assert_int_equal(new_policy(star, 1, star, 1, star, 1, false, -1, &p, err, sizeof(err)), MD_OK);
    md_header_t req[] = {
        HDR("Origin", "https://anyone.example"),
        HDR("Access-Control-Request-Method", "PATCH"),
        HDR("Access-Control-Request-Headers", " authorization, x-thing "),
    };
    md_cors_result_t r;
    assert_int_equal(md_cors_preflight(p, req, 3, &r), MD_OK);
    assert_string_equal(out_value(&r, "Access-Control-Allow-Origin"), "*");
    assert_string_equal(out_value(&r, "Access-Control-Allow-Methods"), "PATCH");
    assert_string_equal(out_value(&r, "Access-Control-Allow-Headers"), "authorization, x-thing");
    assert_string_equal(out_value(&r, "Vary"), "Access-Control-Request-Method, Access-Control-Request-Headers");
    assert_null(out_value(&r, "Access-Control-Allow-Credentials"));
    assert_null(out_value(&r, "Access-Control-Max-Age"));
    /* Hostile values are refused, never echoed. */
    md_header_t crlf[] = {
        HDR("Origin", "https://anyone.example"),
        HDR("Access-Control-Request-Method", "PUT"),
        HDR("Access-Control-Request-Headers", "x\r\nSet-Cookie: a=b"),
    };
    assert_int_equal(md_cors_preflight(p, crlf, 3, &r), MD_EINVAL);
    assert_string_equal(r.refusal, "malformed Access-Control-Request-Headers");
    md_header_t bad_method[] = { HDR("Origin", "https://anyone.example"),
                                 HDR("Access-Control-Request-Method", "PUT\r\nX: y") };
    assert_int_equal(md_cors_preflight(p, bad_method, 2, &r), MD_EINVAL);
    /* Actual requests: "*", no Vary; a "null" origin is still refused. */
    md_header_t actual[] = { HDR("Origin", "https://anyone.example") };
    assert_int_equal(md_cors_actual(p, actual, 1, &r), MD_OK);
    assert_int_equal(r.n, 1);
    assert_string_equal(out_value(&r, "Access-Control-Allow-Origin"), "*");
    md_header_t null_origin[] = { HDR("Origin", "null") };
    assert_int_equal(md_cors_actual(p, null_origin, 1, &r), MD_EINVAL);
    assert_int_equal(r.n, 0);
    md_cors_policy_free(p);
}

static void null_origin_allowed_when_listed(void **state)
{
    (void)state;
    static const char *const origins[] = { "null", "https://a.example" };
    md_cors_policy_t *p = NULL;
    char err[256];
    assert_int_equal(new_policy(origins, 2, NULL, 0, NULL, 0, false, 0, &p, err, sizeof(err)), MD_OK);
    md_header_t req[] = { HDR("Origin", "null") };
    md_cors_result_t r;
    assert_int_equal(md_cors_actual(p, req, 1, &r), MD_OK);
    assert_string_equal(out_value(&r, "Access-Control-Allow-Origin"), "null");
    md_header_t pre[] = { HDR("Origin", "null"), HDR("Access-Control-Request-Method", "GET") };
    assert_int_equal(md_cors_preflight(p, pre, 2, &r), MD_OK);
    assert_string_equal(out_value(&r, "Access-Control-Max-Age"), "0");
    assert_null(out_value(&r, "Access-Control-Allow-Methods")); /* none configured */
    assert_null(out_value(&r, "Access-Control-Allow-Headers"));
    md_cors_policy_free(p);
}

static void configured_origins_are_normalized(void **state)
{
    (void)state;
    static const char *const origins[] = { "HTTPS://API.Example.COM:443", "http://x.example:80", "http://y.example:8080",
                                           "https://[::1]:8443" };
    md_cors_policy_t *p = NULL;
    char err[256];
    assert_int_equal(new_policy(origins, 4, NULL, 0, NULL, 0, false, -1, &p, err, sizeof(err)), MD_OK);
    md_cors_result_t r;
    md_header_t a[] = { HDR("Origin", "https://api.example.com") };
    assert_int_equal(md_cors_actual(p, a, 1, &r), MD_OK);
    assert_string_equal(out_value(&r, "Access-Control-Allow-Origin"), "https://api.example.com");
    md_header_t b[] = { HDR("Origin", "http://x.example") };
    assert_int_equal(md_cors_actual(p, b, 1, &r), MD_OK);
    md_header_t c[] = { HDR("Origin", "http://y.example:8080") };
    assert_int_equal(md_cors_actual(p, c, 1, &r), MD_OK);
    md_header_t d[] = { HDR("Origin", "https://[::1]:8443") };
    assert_int_equal(md_cors_actual(p, d, 1, &r), MD_OK);
    md_header_t e[] = { HDR("Origin", "https://api.example.com:443") }; /* browsers never send this */
    assert_int_equal(md_cors_actual(p, e, 1, &r), MD_EINVAL);
    md_cors_policy_free(p);
}

static void malformed_origins_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "https://a.example/", "a.example", "https://", "https://a.example:0", "https://a.example:65536",
        "https://a.example:08080", "https://user@a.example", "https://a.example?x", "://a.example",
        "https://a example", "1http://a.example", "", "https://[]",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_cors_policy_t *p = (md_cors_policy_t *)1;
        char err[256] = "";
        const char *one[] = { bad[i] };
        assert_int_equal(new_policy(one, 1, NULL, 0, NULL, 0, false, -1, &p, err, sizeof(err)), MD_EINVAL);
        assert_null(p);
        assert_non_null(strstr(err, "is not scheme://host[:port]"));
    }
    md_cors_policy_t *p = NULL;
    char err[256];
    assert_int_equal(new_policy(NULL, 0, NULL, 0, NULL, 0, false, -1, &p, err, sizeof(err)), MD_EINVAL);
    assert_string_equal(err, "cors: no allowed origins");
}

static void policy_limits(void **state)
{
    (void)state;
    static const char *const one[] = { "https://a.example" };
    const char *many[65];
    char names[65][16];
    for (int i = 0; i < 65; i++) {
        snprintf(names[i], sizeof(names[i]), "x-h%d", i);
        many[i] = names[i];
    }
    md_cors_policy_t *p = NULL;
    char err[256];
    assert_int_equal(new_policy(one, 1, NULL, 0, many, 65, false, -1, &p, err, sizeof(err)), MD_ETOOBIG);
    assert_string_equal(err, "cors: more than 64 headers");
    assert_int_equal(new_policy(one, 1, NULL, 0, many, 64, false, -1, &p, err, sizeof(err)), MD_OK);
    md_cors_policy_free(p);
    static const char *const bad_header[] = { "x header" };
    assert_int_equal(new_policy(one, 1, NULL, 0, bad_header, 1, false, -1, &p, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "is not a valid token"));
    static const char *const bad_method[] = { "GET\r\n" };
    assert_int_equal(new_policy(one, 1, bad_method, 1, NULL, 0, false, -1, &p, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(new_policy(one, 1, NULL, 0, NULL, 0, false, 86401, &p, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "max_age"));
    /* 40 headers of 120 bytes: each fine, 4.8 KiB joined. */
    static char longnames[40][121];
    const char *longs[40];
    for (int i = 0; i < 40; i++) {
        memset(longnames[i], 'h', 120);
        longnames[i][0] = (char)('a' + i % 26);
        longnames[i][1] = (char)('a' + i / 26);
        longs[i] = longnames[i];
    }
    assert_int_equal(new_policy(one, 1, NULL, 0, longs, 40, false, -1, &p, err, sizeof(err)), MD_ETOOBIG);
    assert_non_null(strstr(err, "longer than 4096 bytes"));
}

static void request_header_list_limits(void **state)
{
    (void)state;
    static const char *const star[] = { "*" };
    md_cors_policy_t *p = NULL;
    char err[256];
    assert_int_equal(new_policy(star, 1, NULL, 0, star, 1, false, -1, &p, err, sizeof(err)), MD_OK);
    char list[6000];
    size_t len = 0;
    for (int i = 0; i < 64; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%sx-h%d", i ? "," : "", i);
    md_header_t req[] = {
        HDR("Origin", "https://a.example"),
        HDR("Access-Control-Request-Method", "GET"),
        { "Access-Control-Request-Headers", 30, list, len },
    };
    md_cors_result_t r;
    assert_int_equal(md_cors_preflight(p, req, 3, &r), MD_OK); /* 64 names */
    len += (size_t)snprintf(list + len, sizeof(list) - len, ",x-h64");
    req[2].value_len = len;
    assert_int_equal(md_cors_preflight(p, req, 3, &r), MD_ETOOBIG); /* 65 names */
    assert_string_equal(r.refusal, "more than 64 names in Access-Control-Request-Headers");
    memset(list, ' ', 4097); /* blanks only, but over 4 KiB */
    req[2].value_len = 4097;
    assert_int_equal(md_cors_preflight(p, req, 3, &r), MD_ETOOBIG);
    req[2].value_len = 4096; /* 4 KiB of blanks: an empty list, allowed */
    assert_int_equal(md_cors_preflight(p, req, 3, &r), MD_OK);
    assert_null(out_value(&r, "Access-Control-Allow-Headers"));
    md_header_t semi[] = {
        HDR("Origin", "https://a.example"),
        HDR("Access-Control-Request-Method", "GET"),
        HDR("Access-Control-Request-Headers", "content-type;x"),
    };
    assert_int_equal(md_cors_preflight(p, semi, 3, &r), MD_EINVAL);
    md_cors_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(preflight_allowed),
        cmocka_unit_test(preflight_safelisted_method_and_no_headers),
        cmocka_unit_test(preflight_refusals),
        cmocka_unit_test(header_names_and_lists_are_case_insensitive),
        cmocka_unit_test(actual_request_headers),
        cmocka_unit_test(credentials_with_star_are_refused),
        cmocka_unit_test(star_policy_echoes_validated_requests),
        cmocka_unit_test(null_origin_allowed_when_listed),
        cmocka_unit_test(configured_origins_are_normalized),
        cmocka_unit_test(malformed_origins_are_refused),
        cmocka_unit_test(policy_limits),
        cmocka_unit_test(request_header_list_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
