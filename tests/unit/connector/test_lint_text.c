/*
 * Unit tests for connector/lint_text: the lint's text predicates, each on
 * the cases Power Platform's rules draw the line at.
 */
#include "testutil.h"

#include "connector/lint_text.h"
#include "core/buf.h"
#include "core/common.h"
#include "json/scan.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* Scans a JSON string literal and decodes it. */
static void decodes_to(const char *json, const char *want, size_t wantlen)
{
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    uint32_t root;
    assert_int_equal(md_json_scan(&t, json, strlen(json), &root, NULL, 0), MD_OK);
    md_buf_t out;
    md_buf_init(&out, 1024);
    assert_true(md_lint_decode(json, &t.v[root], &out));
    assert_non_null(out.data);
    assert_int_equal(out.len, wantlen);
    assert_memory_equal(out.data, want, wantlen);
    md_buf_free(&out);
    md_json_toks_free(&t);
}

static void decode_resolves_escapes(void **state)
{
    (void)state;
    decodes_to("\"plain\"", S("plain"));
    decodes_to("\"\"", S(""));
    decodes_to("\"a\\\"b\\\\c\\/d\"", S("a\"b\\c/d"));
    decodes_to("\"\\b\\f\\n\\r\\t\"", S("\b\f\n\r\t"));
    decodes_to("\"caf\\u00e9\"", S("caf\xc3\xa9"));
    decodes_to("\"\\u20ac\"", S("\xe2\x82\xac"));
    decodes_to("\"\\ud83d\\ude00!\"", S("\xf0\x9f\x98\x80!")); /* a surrogate pair is one character */
    decodes_to("\"a\\u0000b\"", S("a\0b"));
}

static void decode_refuses_non_strings(void **state)
{
    (void)state;
    const char *json = "[1]";
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    uint32_t root;
    assert_int_equal(md_json_scan(&t, json, 3, &root, NULL, 0), MD_OK);
    md_buf_t out;
    md_buf_init(&out, 64);
    assert_false(md_lint_decode(json, &t.v[root], &out));
    assert_false(md_lint_decode(json, &t.v[root + 1], &out));
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    md_json_toks_free(&t);
}

static void chars_count_code_points(void **state)
{
    (void)state;
    assert_int_equal(md_lint_chars(S("")), 0);
    assert_int_equal(md_lint_chars(S("Home Feed")), 9);
    assert_int_equal(md_lint_chars(S("caf\xc3\xa9")), 4);
    assert_int_equal(md_lint_chars(S("\xf0\x9f\x98\x80")), 1);
}

static void words_are_whole_and_caseless(void **state)
{
    (void)state;
    static const char *const words[] = { "API", "Power Apps" };
    assert_string_equal(md_lint_find_word(S("Feed API"), words, 2), "API");
    assert_string_equal(md_lint_find_word(S("the api feed"), words, 2), "API");
    assert_string_equal(md_lint_find_word(S("API"), words, 2), "API");
    assert_string_equal(md_lint_find_word(S("for power apps."), words, 2), "Power Apps");
    assert_null(md_lint_find_word(S("Rapid feed"), words, 2));
    assert_null(md_lint_find_word(S("APIary"), words, 2));
    assert_null(md_lint_find_word(S("Power Appsuite"), words, 2));
    assert_null(md_lint_find_word(S(""), words, 2));
}

static void hosts_are_bare(void **state)
{
    (void)state;
    assert_null(md_lint_host_problem(S("feed.example.com")));
    assert_null(md_lint_host_problem(S("feed.example.com:8443")));
    assert_null(md_lint_host_problem(S("localhost:1")));
    assert_non_null(md_lint_host_problem(S("https://feed.example.com")));
    assert_non_null(md_lint_host_problem(S("feed.example.com/api")));
    assert_non_null(md_lint_host_problem(S("feed.example.com:0")));
    assert_non_null(md_lint_host_problem(S("feed.example.com:65536")));
    assert_non_null(md_lint_host_problem(S("feed.example.com:")));
    assert_non_null(md_lint_host_problem(S("feed.example.com:80a")));
    assert_non_null(md_lint_host_problem(S(":443")));
    assert_non_null(md_lint_host_problem(S("user@feed.example.com")));
    assert_non_null(md_lint_host_problem(S("{host}")));
    assert_non_null(md_lint_host_problem(S("feed example")));
    assert_non_null(md_lint_host_problem(S("feed\0.example.com")));
}

static void urls_and_emails(void **state)
{
    (void)state;
    assert_true(md_lint_is_url(S("https://example.com")));
    assert_true(md_lint_is_url(S("http://example.com/privacy?x=1")));
    assert_false(md_lint_is_url(S("example.com")));
    assert_false(md_lint_is_url(S("https://")));
    assert_false(md_lint_is_url(S("https:///path")));
    assert_false(md_lint_is_url(S("https://exa mple.com")));
    assert_false(md_lint_is_url(S("ftp://example.com")));
    assert_true(md_lint_is_email(S("platform@example.com")));
    assert_false(md_lint_is_email(S("platform")));
    assert_false(md_lint_is_email(S("@example.com")));
    assert_false(md_lint_is_email(S("a@b@example.com")));
    assert_false(md_lint_is_email(S("a@example")));
    assert_false(md_lint_is_email(S("a@.com")));
    assert_false(md_lint_is_email(S("a@example.")));
    assert_false(md_lint_is_email(S("a b@example.com")));
}

static void operation_ids_and_texts(void **state)
{
    (void)state;
    assert_true(md_lint_is_pascal_case(S("GetHome")));
    assert_true(md_lint_is_pascal_case(S("G")));
    assert_true(md_lint_is_pascal_case(S("GetV2Items")));
    assert_false(md_lint_is_pascal_case(S("getHome")));
    assert_false(md_lint_is_pascal_case(S("Get_Home")));
    assert_false(md_lint_is_pascal_case(S("Get Home")));
    assert_false(md_lint_is_pascal_case(S("")));
    assert_true(md_lint_same_text(S("Get the feed"), S("get the feed.")));
    assert_true(md_lint_same_text(S("Get the feed. "), S("Get the feed")));
    assert_false(md_lint_same_text(S("Get the feed"), S("Get the feeds")));
    assert_true(md_lint_ends_well('a'));
    assert_true(md_lint_ends_well('7'));
    assert_true(md_lint_ends_well(0xa9)); /* last byte of "é" */
    assert_false(md_lint_ends_well('.'));
    assert_false(md_lint_ends_well(' '));
    assert_true(md_lint_ends_well(')')); /* a closing parenthesis is not punctuation */
    assert_true(md_lint_is_blank(S(" \t\r\n")));
    assert_true(md_lint_is_blank(S("")));
    assert_false(md_lint_is_blank(S(" x ")));
}

static void colours_and_codes(void **state)
{
    (void)state;
    assert_true(md_lint_is_hex_colour(S("#007ee5")));
    assert_true(md_lint_is_hex_colour(S("#ABCDEF")));
    assert_false(md_lint_is_hex_colour(S("#007ee")));
    assert_false(md_lint_is_hex_colour(S("007ee5a")));
    assert_false(md_lint_is_hex_colour(S("#00g0e5")));
    assert_false(md_lint_is_hex_colour(S("#12345\0")));
    assert_true(md_lint_is_success_code(S("200")));
    assert_true(md_lint_is_success_code(S("204")));
    assert_true(md_lint_is_success_code(S("2XX")));
    assert_true(md_lint_is_success_code(S("2xx")));
    assert_false(md_lint_is_success_code(S("300")));
    assert_false(md_lint_is_success_code(S("20")));
    assert_false(md_lint_is_success_code(S("2000")));
    assert_false(md_lint_is_success_code(S("2x0")));
    assert_false(md_lint_is_success_code(S("default")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_resolves_escapes),
        cmocka_unit_test(decode_refuses_non_strings),
        cmocka_unit_test(chars_count_code_points),
        cmocka_unit_test(words_are_whole_and_caseless),
        cmocka_unit_test(hosts_are_bare),
        cmocka_unit_test(urls_and_emails),
        cmocka_unit_test(operation_ids_and_texts),
        cmocka_unit_test(colours_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
