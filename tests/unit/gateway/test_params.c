/*
 * Unit tests for gateway/params: types, required/default/absent, patterns
 * (whole-value), max_length, query/header/path sources, compile errors, and
 * concurrent use of one compiled set.
 */
#include "testutil.h"

#include "core/common.h"
#include "core/pool.h"
#include "gateway/params.h"

#include <pthread.h>
#include <stdio.h>

#define S(x) ((char *)(x))

static int setup(void **state)
{
    *state = md_pool_new(0);
    return 0;
}

static int teardown(void **state)
{
    md_pool_destroy(*state);
    return 0;
}

static md_param_conf_t qparam(const char *name, md_param_type_t type)
{
    return (md_param_conf_t){ .name = S(name), .in = MD_PARAM_IN_QUERY, .type = type, .max_length = 256 };
}

static md_params_t *compile_ok(const md_param_conf_t *c, size_t n)
{
    char err[256] = "";
    md_params_t *p = md_params_compile(c, n, err, sizeof(err));
    if (!p)
        fail_msg("compile failed: %s", err);
    return p;
}

static void expect_compile_error(const md_param_conf_t *c, size_t n, const char *msg)
{
    char err[256] = "";
    md_params_t *p = md_params_compile(c, n, err, sizeof(err));
    if (p) {
        md_params_free(p);
        fail_msg("compiled, expected: %s", msg);
    }
    assert_string_equal(err, msg);
}

/* Validates one query pair name=value against p (one declared param). */
static int check_query(md_params_t *p, md_pool_t *pool, const char *name, const char *value, md_str_t *out,
                       char *msg, size_t msglen)
{
    md_header_t q = { name, strlen(name), value, strlen(value) };
    size_t bad = 99;
    int rc = md_params_validate(p, pool, &q, 1, NULL, 0, NULL, out, &bad, msg, msglen);
    if (rc != MD_OK)
        assert_int_equal(bad, 0);
    return rc;
}

/* Asserts each value in ok[] passes and each in bad[] fails with msg. */
static void expect_type(md_pool_t *pool, md_param_type_t type, const char *const *ok, size_t nok,
                        const char *const *bad, size_t nbad, const char *msg)
{
    md_param_conf_t c = qparam("v", type);
    md_params_t *p = compile_ok(&c, 1);
    char m[256];
    md_str_t out;
    for (size_t i = 0; i < nok; i++) {
        if (check_query(p, pool, "v", ok[i], &out, m, sizeof(m)) != MD_OK)
            fail_msg("'%s' refused: %s", ok[i], m);
        assert_int_equal(out.len, strlen(ok[i]));
        assert_memory_equal(out.ptr, ok[i], out.len);
    }
    for (size_t i = 0; i < nbad; i++) {
        m[0] = '\0';
        if (check_query(p, pool, "v", bad[i], &out, m, sizeof(m)) != MD_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_string_equal(m, msg);
    }
    md_params_free(p);
}

static void integer_type(void **state)
{
    static const char *const ok[] = { "0", "-0", "7", "42", "-7", "100", "123456789012345678",
                                      "-999999999999999999" };
    static const char *const bad[] = { "", "+1", " 1", "1 ", "01", "-01", "00", "-", "--1", "1.0", "1e3",
                                       "0x10", "1234567890123456789", "\xD9\xA1" };
    expect_type(*state, MD_PARAM_INTEGER, ok, MD_ARRAY_LEN(ok), bad, MD_ARRAY_LEN(bad),
                "query parameter 'v' must be an integer");
}

static void number_type(void **state)
{
    static const char *const ok[] = { "0", "-0", "10", "1.5", "-0.25e-3", "1E+10", "2e5", "123.456", "0.0" };
    static const char *const bad[] = { "", "01", "1.", ".5", "+1", "1e", "1e+", "-", "NaN", "Infinity",
                                       "1.5.2", "0x1", " 1", "1,5", "-.5", "1e5.0" };
    expect_type(*state, MD_PARAM_NUMBER, ok, MD_ARRAY_LEN(ok), bad, MD_ARRAY_LEN(bad),
                "query parameter 'v' must be a number");
}

static void boolean_type(void **state)
{
    static const char *const ok[] = { "true", "false" };
    static const char *const bad[] = { "", "True", "FALSE", "1", "0", "yes", "truee", "fals", " true" };
    expect_type(*state, MD_PARAM_BOOLEAN, ok, MD_ARRAY_LEN(ok), bad, MD_ARRAY_LEN(bad),
                "query parameter 'v' must be true or false");
}

static void string_type(void **state)
{
    static const char *const ok[] = { "", "hello world", "../../etc/passwd", "\xC3\xA9", "a&b=c" };
    expect_type(*state, MD_PARAM_STRING, ok, MD_ARRAY_LEN(ok), NULL, 0, "");
}

static void required_default_and_absent(void **state)
{
    md_param_conf_t c[3] = { qparam("user", MD_PARAM_STRING), qparam("limit", MD_PARAM_INTEGER),
                             qparam("sort", MD_PARAM_STRING) };
    c[0].required = true;
    c[1].default_value = S("20");
    md_params_t *p = compile_ok(c, 3);
    assert_int_equal(md_params_count(p), 3);
    md_str_t v[3];
    char msg[256];
    size_t bad = 99;

    md_header_t q[] = { { "user", 4, "ann", 3 } };
    assert_int_equal(md_params_validate(p, *state, q, 1, NULL, 0, NULL, v, &bad, msg, sizeof(msg)), MD_OK);
    assert_int_equal(v[0].len, 3);
    assert_memory_equal(v[0].ptr, "ann", 3);
    assert_int_equal(v[1].len, 2);
    assert_memory_equal(v[1].ptr, "20", 2); /* default */
    assert_null(v[2].ptr);                  /* absent, no default */
    assert_int_equal(v[2].len, 0);

    assert_int_equal(md_params_validate(p, *state, NULL, 0, NULL, 0, NULL, v, &bad, msg, sizeof(msg)),
                     MD_EINVAL);
    assert_int_equal(bad, 0);
    assert_string_equal(msg, "query parameter 'user' is required");

    /* a present value replaces the default and is checked */
    md_header_t q2[] = { { "limit", 5, "x", 1 }, { "user", 4, "", 0 } };
    assert_int_equal(md_params_validate(p, *state, q2, 2, NULL, 0, NULL, v, &bad, msg, sizeof(msg)),
                     MD_EINVAL);
    assert_int_equal(bad, 1);
    assert_string_equal(msg, "query parameter 'limit' must be an integer");
    /* names match exactly */
    md_header_t q3[] = { { "User", 4, "ann", 3 } };
    assert_int_equal(md_params_validate(p, *state, q3, 1, NULL, 0, NULL, v, &bad, msg, sizeof(msg)),
                     MD_EINVAL);
    assert_string_equal(msg, "query parameter 'user' is required");
    md_params_free(p);
}

static void pattern_must_match_whole_value(void **state)
{
    md_param_conf_t c[2] = { qparam("id", MD_PARAM_STRING), qparam("k", MD_PARAM_STRING) };
    c[0].pattern = S("[0-9]+");
    c[1].pattern = S("a|b");
    md_params_t *p = compile_ok(c, 2);
    md_str_t v[2];
    char msg[256];
    size_t bad;
    static const char *const id_bad[] = { "12ab", "ab12", "1 2", "", "12\n" };
    for (size_t i = 0; i < MD_ARRAY_LEN(id_bad); i++) {
        md_header_t q[] = { { "id", 2, id_bad[i], strlen(id_bad[i]) }, { "k", 1, "a", 1 } };
        assert_int_equal(md_params_validate(p, *state, q, 2, NULL, 0, NULL, v, &bad, msg, sizeof(msg)),
                         MD_EINVAL);
        assert_int_equal(bad, 0);
        assert_string_equal(msg, "query parameter 'id' must match [0-9]+");
    }
    static const char *const k_bad[] = { "ab", "xa", "bx", "" };
    for (size_t i = 0; i < MD_ARRAY_LEN(k_bad); i++) {
        md_header_t q[] = { { "id", 2, "12", 2 }, { "k", 1, k_bad[i], strlen(k_bad[i]) } };
        assert_int_equal(md_params_validate(p, *state, q, 2, NULL, 0, NULL, v, &bad, msg, sizeof(msg)),
                         MD_EINVAL);
        assert_int_equal(bad, 1);
        assert_string_equal(msg, "query parameter 'k' must match a|b");
    }
    /* a value borrowed from a larger buffer is matched only over its length */
    const char *buf = "123abc";
    md_header_t q[] = { { "id", 2, buf, 3 }, { "k", 1, "b", 1 } };
    assert_int_equal(md_params_validate(p, *state, q, 2, NULL, 0, NULL, v, &bad, msg, sizeof(msg)), MD_OK);
    assert_int_equal(v[0].len, 3);
    assert_memory_equal(v[0].ptr, "123", 3);
    md_params_free(p);

    /* an already anchored pattern works the same */
    c[0].pattern = S("^[0-9]+$");
    p = compile_ok(c, 1);
    assert_int_equal(check_query(p, *state, "id", "42", v, msg, sizeof(msg)), MD_OK);
    assert_int_equal(check_query(p, *state, "id", "4x2", v, msg, sizeof(msg)), MD_EINVAL);
    assert_string_equal(msg, "query parameter 'id' must match ^[0-9]+$");
    md_params_free(p);
}

static void max_length(void **state)
{
    md_param_conf_t c = qparam("name", MD_PARAM_STRING);
    c.max_length = 8;
    md_params_t *p = compile_ok(&c, 1);
    md_str_t v;
    char msg[256];
    assert_int_equal(check_query(p, *state, "name", "12345678", &v, msg, sizeof(msg)), MD_OK);
    assert_int_equal(check_query(p, *state, "name", "123456789", &v, msg, sizeof(msg)), MD_EINVAL);
    assert_string_equal(msg, "query parameter 'name' is longer than 8 bytes");
    md_params_free(p);

    /* 0 means the default of 256, for every type */
    c.max_length = 0;
    c.type = MD_PARAM_NUMBER;
    p = compile_ok(&c, 1);
    char big[258];
    memset(big, '1', 257);
    big[257] = '\0';
    assert_int_equal(check_query(p, *state, "name", big, &v, msg, sizeof(msg)), MD_EINVAL);
    assert_string_equal(msg, "query parameter 'name' is longer than 256 bytes");
    big[256] = '\0';
    assert_int_equal(check_query(p, *state, "name", big, &v, msg, sizeof(msg)), MD_OK);
    md_params_free(p);
}

static void header_params(void **state)
{
    md_param_conf_t c = { .name = S("X-Tenant"), .in = MD_PARAM_IN_HEADER, .type = MD_PARAM_STRING,
                          .required = true, .pattern = S("[a-z]{2,8}"), .max_length = 16 };
    md_params_t *p = compile_ok(&c, 1);
    md_str_t v;
    char msg[256];
    size_t bad;
    md_header_t h[] = { { "Accept", 6, "*/*", 3 }, { "x-tenant", 8, "acme", 4 }, { "X-Tenant", 8, "zz9", 3 } };
    /* a query pair of that name does not count */
    md_header_t q[] = { { "X-Tenant", 8, "acme", 4 } };
    assert_int_equal(md_params_validate(p, *state, q, 1, h, 1, NULL, &v, &bad, msg, sizeof(msg)), MD_EINVAL);
    assert_string_equal(msg, "header parameter 'X-Tenant' is required");
    /* names are case-insensitive; the first one wins */
    assert_int_equal(md_params_validate(p, *state, NULL, 0, h, 3, NULL, &v, &bad, msg, sizeof(msg)), MD_OK);
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.ptr, "acme", 4);
    assert_int_equal(md_params_validate(p, *state, NULL, 0, h + 2, 1, NULL, &v, &bad, msg, sizeof(msg)),
                     MD_EINVAL);
    assert_string_equal(msg, "header parameter 'X-Tenant' must match [a-z]{2,8}");
    md_header_t nul[] = { { "X-Tenant", 8, "ab\0cd", 5 } };
    assert_int_equal(md_params_validate(p, *state, NULL, 0, nul, 1, NULL, &v, &bad, msg, sizeof(msg)),
                     MD_EINVAL);
    assert_string_equal(msg, "header parameter 'X-Tenant' must not contain a NUL byte");
    md_params_free(p);
}

static void path_params(void **state)
{
    md_param_conf_t c[2] = { qparam("q", MD_PARAM_STRING),
                             { .name = S("id"), .in = MD_PARAM_IN_PATH, .type = MD_PARAM_STRING,
                               .max_length = 6 } };
    md_params_t *p = compile_ok(c, 2);
    md_str_t v[2];
    char msg[256];
    size_t bad;
    md_str_t pv[2] = { { "ignored", 7 }, { "caf%C3%A9", 9 } };
    assert_int_equal(md_params_validate(p, *state, NULL, 0, NULL, 0, pv, v, &bad, msg, sizeof(msg)), MD_OK);
    assert_null(v[0].ptr); /* query param: path_values[0] is ignored */
    assert_int_equal(v[1].len, 5);
    assert_memory_equal(v[1].ptr, "caf\xC3\xA9", 5);

    static const struct { const char *raw, *decoded; } cases[] = {
        { "a%2Fb", "a/b" }, { "a+b", "a+b" }, { "%2e%2e", ".." }, { "x", "x" },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        pv[1] = (md_str_t){ cases[i].raw, strlen(cases[i].raw) };
        assert_int_equal(md_params_validate(p, *state, NULL, 0, NULL, 0, pv, v, &bad, msg, sizeof(msg)), MD_OK);
        assert_int_equal(v[1].len, strlen(cases[i].decoded));
        assert_memory_equal(v[1].ptr, cases[i].decoded, v[1].len);
    }
    static const char *const broken[] = { "%zz", "a%2", "%00", "a%" };
    for (size_t i = 0; i < MD_ARRAY_LEN(broken); i++) {
        pv[1] = (md_str_t){ broken[i], strlen(broken[i]) };
        bad = 99;
        assert_int_equal(md_params_validate(p, *state, NULL, 0, NULL, 0, pv, v, &bad, msg, sizeof(msg)),
                         MD_EINVAL);
        assert_int_equal(bad, 1);
        assert_string_equal(msg, "path parameter 'id' is not validly percent-encoded");
    }
    /* length is checked after decoding: 8 raw bytes, 6 decoded */
    pv[1] = (md_str_t){ "%41BCDEF", 8 };
    assert_int_equal(md_params_validate(p, *state, NULL, 0, NULL, 0, pv, v, &bad, msg, sizeof(msg)), MD_OK);
    pv[1] = (md_str_t){ "ABCDEFG", 7 };
    assert_int_equal(md_params_validate(p, *state, NULL, 0, NULL, 0, pv, v, &bad, msg, sizeof(msg)), MD_EINVAL);
    assert_string_equal(msg, "path parameter 'id' is longer than 6 bytes");
    /* path params are always required */
    assert_int_equal(md_params_validate(p, *state, NULL, 0, NULL, 0, NULL, v, &bad, msg, sizeof(msg)), MD_EINVAL);
    assert_int_equal(bad, 1);
    assert_string_equal(msg, "path parameter 'id' is required");
    md_params_free(p);
}

static void compile_errors(void **state)
{
    (void)state;
    md_param_conf_t c = qparam("id", MD_PARAM_STRING);
    char err[256];

    c.pattern = S("([0-9]");
    assert_null(md_params_compile(&c, 1, err, sizeof(err)));
    const char *prefix = "parameter 'id': pattern '([0-9]' ";
    assert_memory_equal(err, prefix, strlen(prefix));
    assert_true(strlen(err) > strlen(prefix)); /* the regerror text follows */

    c.pattern = S("a)|(b)");
    expect_compile_error(&c, 1, "parameter 'id': pattern 'a)|(b)' has an unmatched ')'");
    c.pattern = S("x)");
    expect_compile_error(&c, 1, "parameter 'id': pattern 'x)' has an unmatched ')'");
    c.pattern = S("");
    expect_compile_error(&c, 1, "parameter 'id': pattern '' is empty");

    /* ')' inside brackets or escaped is a literal, not a group end */
    static const char *const fine[] = { "[)]+", "\\)", "[[:digit:])]+", "[]a)]", "(a|b)(c)", "[^)]" };
    for (size_t i = 0; i < MD_ARRAY_LEN(fine); i++) {
        c.pattern = S(fine[i]);
        md_params_free(compile_ok(&c, 1));
    }

    c = qparam("limit", MD_PARAM_INTEGER);
    c.default_value = S("ten");
    expect_compile_error(&c, 1, "parameter 'limit': default value 'ten' must be an integer");
    c = qparam("flag", MD_PARAM_BOOLEAN);
    c.default_value = S("yes");
    expect_compile_error(&c, 1, "parameter 'flag': default value 'yes' must be true or false");
    c = qparam("sort", MD_PARAM_STRING);
    c.pattern = S("asc|desc");
    c.default_value = S("up");
    expect_compile_error(&c, 1, "parameter 'sort': default value 'up' must match asc|desc");
    c.default_value = S("desc");
    md_params_free(compile_ok(&c, 1));
    c = qparam("s", MD_PARAM_STRING);
    c.max_length = 2;
    c.default_value = S("abc");
    expect_compile_error(&c, 1, "parameter 's': default value 'abc' is longer than 2 bytes");

    md_param_conf_t two[2] = { qparam("a", MD_PARAM_STRING), qparam(NULL, MD_PARAM_STRING) };
    expect_compile_error(two, 2, "parameter #2 has no name");
    two[1].name = S("");
    expect_compile_error(two, 2, "parameter #2 has no name");

    md_param_conf_t many[MD_PARAMS_MAX + 1];
    for (size_t i = 0; i < MD_ARRAY_LEN(many); i++)
        many[i] = qparam("p", MD_PARAM_STRING);
    expect_compile_error(many, MD_PARAMS_MAX + 1, "too many parameters (65, at most 64)");
    md_params_t *p = compile_ok(many, MD_PARAMS_MAX);
    assert_int_equal(md_params_count(p), 64);
    md_params_free(p);

    p = compile_ok(NULL, 0);
    assert_int_equal(md_params_count(p), 0);
    size_t bad = 0;
    char msg[8];
    assert_int_equal(md_params_validate(p, NULL, NULL, 0, NULL, 0, NULL, NULL, &bad, msg, sizeof(msg)), MD_OK);
    md_params_free(p);
    md_params_free(NULL);
}

/* ---- one compiled set shared by worker threads ---- */

typedef struct shared {
    md_params_t *p;
    int failures;
} shared_t;

static void *worker(void *arg)
{
    shared_t *s = arg;
    md_pool_t *pool = md_pool_new(0);
    char msg[256], val[16];
    for (int i = 0; i < 2000; i++) {
        bool good = i % 3 != 0;
        snprintf(val, sizeof(val), good ? "%d" : "%dx", i);
        md_header_t q = { "id", 2, val, strlen(val) };
        md_str_t v;
        size_t bad;
        int rc = md_params_validate(s->p, pool, &q, 1, NULL, 0, NULL, &v, &bad, msg, sizeof(msg));
        if ((rc == MD_OK) != good)
            __atomic_add_fetch(&s->failures, 1, __ATOMIC_RELAXED);
        md_pool_reset(pool);
    }
    md_pool_destroy(pool);
    return NULL;
}

static void shared_across_threads(void **state)
{
    (void)state;
    md_param_conf_t c = qparam("id", MD_PARAM_STRING);
    c.pattern = S("[0-9]{1,6}");
    shared_t s = { compile_ok(&c, 1), 0 };
    pthread_t t[4];
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &s), 0);
    for (size_t i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(s.failures, 0);
    md_params_free(s.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(integer_type, setup, teardown),
        cmocka_unit_test_setup_teardown(number_type, setup, teardown),
        cmocka_unit_test_setup_teardown(boolean_type, setup, teardown),
        cmocka_unit_test_setup_teardown(string_type, setup, teardown),
        cmocka_unit_test_setup_teardown(required_default_and_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(pattern_must_match_whole_value, setup, teardown),
        cmocka_unit_test_setup_teardown(max_length, setup, teardown),
        cmocka_unit_test_setup_teardown(header_params, setup, teardown),
        cmocka_unit_test_setup_teardown(path_params, setup, teardown),
        cmocka_unit_test(compile_errors),
        cmocka_unit_test(shared_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
