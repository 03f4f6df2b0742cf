/*
 * Unit tests for json/write: string escaping (quotes, backslashes, control
 * characters, invalid UTF-8), keys, compact value copies, and the
 * all-or-nothing behaviour at the buffer's cap.
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/common.h"
#include "json/scan.h"
#include "json/write.h"

static void escapes_quotes_backslashes_and_controls(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    const char in[] = "say \"hi\"\\ \b\f\n\r\t\x01\x1f\x7f/";
    assert_int_equal(md_json_write_string(&b, in, sizeof(in) - 1), MD_OK);
    assert_string_equal(b.data, "\"say \\\"hi\\\"\\\\ \\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\"");
    md_buf_reset(&b);
    /* An embedded NUL is data, not the end. */
    assert_int_equal(md_json_write_string(&b, "a\0b", 3), MD_OK);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    md_buf_reset(&b);
    assert_int_equal(md_json_write_string(&b, NULL, 0), MD_OK);
    assert_string_equal(b.data, "\"\"");
    md_buf_free(&b);
}

static void keeps_valid_utf8_and_replaces_invalid(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    const char ok[] = "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80";
    assert_int_equal(md_json_write_string(&b, ok, sizeof(ok) - 1), MD_OK);
    assert_string_equal(b.data, "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
    md_buf_reset(&b);
    /* Stray continuation, truncated sequence, overlong '/', surrogate. */
    const char bad[] = "a\x80" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80";
    assert_int_equal(md_json_write_string(&b, bad, sizeof(bad) - 1), MD_OK);
    assert_string_equal(b.data, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
                                "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* Whatever went in, the result scans as valid JSON. */
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    char err[128];
    assert_int_equal(md_json_scan(&t, b.data, b.len, NULL, err, sizeof(err)), MD_OK);
    md_json_toks_free(&t);
    md_buf_free(&b);
}

static void writes_keys(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_json_write_key(&b, "balance_days", 12), MD_OK);
    assert_int_equal(md_json_write_key(&b, "a\"b", 3), MD_OK);
    assert_string_equal(b.data, "\"balance_days\":\"a\\\"b\":");
    md_buf_free(&b);
}

static void all_or_nothing_at_the_cap(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 10);
    assert_int_equal(md_buf_append_str(&b, "[1,"), MD_OK);
    /* "abcdef" needs 8 bytes: 3 + 8 > 10. */
    assert_int_equal(md_json_write_string(&b, "abcdef", 6), MD_ETOOBIG);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "[1,");
    /* The escape is what pushes it over: "abcd\n" with quotes is 8 bytes. */
    assert_int_equal(md_json_write_string(&b, "abcd\n", 5), MD_ETOOBIG);
    assert_int_equal(b.len, 3);
    assert_int_equal(md_json_write_key(&b, "abcde", 5), MD_ETOOBIG); /* "abcde": is 8 */
    assert_int_equal(md_json_write_string(&b, "abcde", 5), MD_OK); /* exactly 10 */
    assert_string_equal(b.data, "[1,\"abcde\"");
    md_buf_free(&b);
}

static void values_are_copied_compactly(void **state)
{
    (void)state;
    const char *doc = "{ \"a\" : [ 1 ,\n\t2 ] , \"s\" : \"keep  \\\" inner { spaces }\" ,"
                      "\"c\":[1,2], \"e\":\"\\u00e9\" }";
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    char err[128];
    assert_int_equal(md_json_scan(&t, doc, strlen(doc), NULL, err, sizeof(err)), MD_OK);
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_json_write_value(&b, doc, &t.v[0]), MD_OK);
    assert_string_equal(b.data,
                        "{\"a\":[1,2],\"s\":\"keep  \\\" inner { spaces }\",\"c\":[1,2],\"e\":\"\\u00e9\"}");
    md_buf_reset(&b);
    assert_int_equal(md_json_write_value(&b, doc, &t.v[2]), MD_OK); /* [ 1 ,\n\t2 ] */
    assert_string_equal(b.data, "[1,2]");
    md_buf_free(&b);

    /* The compact form is what has to fit, not the spaced input. */
    md_buf_init(&b, 5);
    assert_int_equal(md_json_write_value(&b, doc, &t.v[2]), MD_OK);
    assert_string_equal(b.data, "[1,2]");
    assert_int_equal(md_json_write_value(&b, doc, &t.v[2]), MD_ETOOBIG);
    assert_int_equal(b.len, 5);
    md_buf_free(&b);
    md_json_toks_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_quotes_backslashes_and_controls),
        cmocka_unit_test(keeps_valid_utf8_and_replaces_invalid),
        cmocka_unit_test(writes_keys),
        cmocka_unit_test(all_or_nothing_at_the_cap),
        cmocka_unit_test(values_are_copied_compactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
