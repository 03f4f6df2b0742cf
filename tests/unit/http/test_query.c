/*
 * Unit tests for http/query: percent-decoding and query-string splitting.
 */
#include "testutil.h"

#include "core/common.h"
#include "core/pool.h"
#include "http/query.h"

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

/* Parses a NUL-terminated query; returns the code. */
static int parse(md_pool_t *pool, const char *q, md_header_t *out, size_t max, size_t *n)
{
    return md_query_parse(pool, q, strlen(q), out, max, n);
}

static void assert_pair(const md_header_t *h, const char *name, const char *value)
{
    assert_int_equal(h->name_len, strlen(name));
    assert_memory_equal(h->name, name, h->name_len);
    assert_int_equal(h->value_len, strlen(value));
    assert_memory_equal(h->value, value, h->value_len);
    /* copies are NUL-terminated C strings */
    assert_string_equal(h->name, name);
    assert_string_equal(h->value, value);
}

static void splits_and_decodes(void **state)
{
    md_header_t q[8];
    size_t n = 99;
    assert_int_equal(parse(*state, "user=42&q=hello+world&path=%2Fa%2fb&e=%E2%82%ac&sp=a%20b%2Bc", q, 8, &n),
                     MD_OK);
    assert_int_equal(n, 5);
    assert_pair(&q[0], "user", "42");
    assert_pair(&q[1], "q", "hello world");
    assert_pair(&q[2], "path", "/a/b");
    assert_pair(&q[3], "e", "\xE2\x82\xAC");
    assert_pair(&q[4], "sp", "a b+c");
}

static void names_are_decoded_too(void **state)
{
    md_header_t q[4];
    size_t n;
    assert_int_equal(parse(*state, "first+name=Ann&a%5Bb%5D=1", q, 4, &n), MD_OK);
    assert_int_equal(n, 2);
    assert_pair(&q[0], "first name", "Ann");
    assert_pair(&q[1], "a[b]", "1");
}

static void missing_equals_and_empty_pieces(void **state)
{
    md_header_t q[8];
    size_t n;
    assert_int_equal(parse(*state, "&flag&&a=&=x&k=b=c&", q, 8, &n), MD_OK);
    assert_int_equal(n, 4);
    assert_pair(&q[0], "flag", "");
    assert_pair(&q[1], "a", "");
    assert_pair(&q[2], "", "x");
    assert_pair(&q[3], "k", "b=c");
}

static void empty_query_has_no_pairs(void **state)
{
    md_header_t q[2];
    size_t n = 7;
    assert_int_equal(md_query_parse(*state, NULL, 0, q, 2, &n), MD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(parse(*state, "&&&", q, 2, &n), MD_OK);
    assert_int_equal(n, 0);
}

static void invalid_escapes_are_rejected(void **state)
{
    static const char *const bad[] = {
        "a=%", "a=%2", "a=%zz", "a=%g0", "a=%0g", "a=1&b=50%", "x%4=1", "a=%%41", "a=%-1",
    };
    md_header_t q[8];
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        size_t n = 99;
        assert_int_equal(parse(*state, bad[i], q, 8, &n), MD_EINVAL);
        assert_int_equal(n, 0);
    }
}

static void nul_bytes_are_rejected(void **state)
{
    md_header_t q[4];
    size_t n = 99;
    assert_int_equal(parse(*state, "a=x%00y", q, 4, &n), MD_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(parse(*state, "a%00=1", q, 4, &n), MD_EINVAL);
    /* a raw NUL inside the given length, too */
    assert_int_equal(md_query_parse(*state, "a=x\0y", 5, q, 4, &n), MD_EINVAL);
}

static void too_many_pairs(void **state)
{
    md_header_t q[3];
    size_t n = 99;
    assert_int_equal(parse(*state, "a=1&b=2&c=3", q, 2, &n), MD_ETOOBIG);
    assert_int_equal(n, 0);
    /* exactly max is fine, and skipped empty pieces do not count */
    assert_int_equal(parse(*state, "a=1&&&b=2&", q, 2, &n), MD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(parse(*state, "a", q, 0, &n), MD_ETOOBIG);
}

static void percent_decode_directly(void **state)
{
    (void)state;
    char out[32];
    size_t len = 0;
    assert_int_equal(md_percent_decode("a+b%2B%41%6a", 12, false, out, &len), MD_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "a+b+Aj", 6);
    assert_int_equal(md_percent_decode("a+b", 3, true, out, &len), MD_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "a b", 3);
    assert_int_equal(md_percent_decode("%2", 2, false, out, &len), MD_EINVAL);
    assert_int_equal(md_percent_decode("%00", 3, false, out, &len), MD_EINVAL);
    assert_int_equal(md_percent_decode("", 0, false, out, &len), MD_OK);
    assert_int_equal(len, 0);
    /* in place */
    char buf[] = "%2e%2E%2f";
    assert_int_equal(md_percent_decode(buf, 9, false, buf, &len), MD_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "../", 3);
}

static void get_returns_first_exact_match(void **state)
{
    md_header_t q[4];
    size_t n;
    assert_int_equal(parse(*state, "id=1&ID=2&id=3", q, 4, &n), MD_OK);
    const md_header_t *h = md_query_get(q, n, "id");
    assert_non_null(h);
    assert_string_equal(h->value, "1");
    h = md_query_get(q, n, "ID");
    assert_non_null(h);
    assert_string_equal(h->value, "2");
    assert_null(md_query_get(q, n, "i"));
    assert_null(md_query_get(q, n, "idx"));
    assert_null(md_query_get(q, 0, "id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(splits_and_decodes, setup, teardown),
        cmocka_unit_test_setup_teardown(names_are_decoded_too, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_equals_and_empty_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(empty_query_has_no_pairs, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_escapes_are_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(nul_bytes_are_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(too_many_pairs, setup, teardown),
        cmocka_unit_test(percent_decode_directly),
        cmocka_unit_test_setup_teardown(get_returns_first_exact_match, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
