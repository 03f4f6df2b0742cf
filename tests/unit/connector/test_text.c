/*
 * Unit tests for connector/text: operationIds derived from method and
 * path, summary sanitizing (Power Platform's summary rules), summaries
 * from paths, and Title Case display names. Expected strings are written
 * from the rules in text.h.
 */
#include "testutil.h"

#include "connector/text.h"
#include "core/common.h"

#include <stdio.h>

static void expect_opid(const char *method, const char *path, const char *want)
{
    char out[MD_CONNECTOR_MAX_OPID + 1];
    assert_int_equal(md_connector_operation_id(method, path, out, sizeof(out)), MD_OK);
    assert_string_equal(out, want);
}

static void operation_ids_from_method_and_path(void **state)
{
    (void)state;
    expect_opid("GET", "/home", "GetHome");
    expect_opid("GET", "/users/{id}/orders", "GetUsersOrdersById");
    expect_opid("GET", "/", "GetRoot");
    expect_opid("GET", "/{id}", "GetById");
    expect_opid("DELETE", "/a/{x}/b/{y}", "DeleteABByXAndY");
    expect_opid("POST", "/news-raw", "PostNewsRaw");
    expect_opid("PATCH", "/user_profiles/{user-id}", "PatchUserProfilesByUserId");
    expect_opid("GET", "/v2/newsFeed", "GetV2NewsFeed");
    /* Bytes that cannot be in an identifier disappear. */
    expect_opid("GET", "/caf\xc3\xa9s/~list", "GetCafSList");
    expect_opid("HEAD", "/x", "HeadX");
}

static void operation_ids_are_bounded(void **state)
{
    (void)state;
    char path[300], out[MD_CONNECTOR_MAX_OPID + 1];
    memset(path, 'a', sizeof(path));
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(md_connector_operation_id("GET", path, out, sizeof(out)), MD_ETOOBIG);
    assert_true(strlen(out) <= MD_CONNECTOR_MAX_OPID);
    /* A small caller buffer is respected too. */
    char tiny[6];
    assert_int_equal(md_connector_operation_id("GET", "/home", tiny, sizeof(tiny)), MD_ETOOBIG);
    assert_string_equal(tiny, "GetHo");
    /* 64 bytes exactly fits. */
    memset(path, 'a', 62);
    path[0] = '/';
    path[62] = '\0';
    assert_int_equal(md_connector_operation_id("GET", path, out, sizeof(out)), MD_OK);
    assert_int_equal(strlen(out), 64);
}

static void pascal_case_check(void **state)
{
    (void)state;
    assert_true(md_connector_is_pascal("GetHome"));
    assert_true(md_connector_is_pascal("G2"));
    assert_false(md_connector_is_pascal("getHome"));
    assert_false(md_connector_is_pascal("Get_Home"));
    assert_false(md_connector_is_pascal("Get-Home"));
    assert_false(md_connector_is_pascal(""));
    assert_false(md_connector_is_pascal("2Get"));
}

static void expect_summary(const char *in, const char *want)
{
    char out[MD_CONNECTOR_SUMMARY_BUF];
    size_t n = md_connector_summary(in, out, sizeof(out));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void summaries_follow_the_rules(void **state)
{
    (void)state;
    expect_summary("Home feed for one employee", "Home feed for one employee");
    expect_summary("home feed", "Home feed");
    /* Title Case becomes sentence case; capitals-only words stay. */
    expect_summary("Home Feed For One Employee", "Home feed for one employee");
    expect_summary("Get HR Data For A User", "Get HR data for a user");
    /* Forbidden characters become spaces, trailing punctuation goes. */
    expect_summary("Get news / events & more?", "Get news events more");
    expect_summary("Read <b>*all*</b> 100% of it.", "Read b all b 100 of it");
    expect_summary("Back\\slash", "Back slash");
    expect_summary("Employee's vacation balance!", "Employees vacation balance");
    expect_summary("  lots   of\tspace\n\n ", "Lots of space");
    /* Parentheses are allowed, a dangling '(' is not. */
    expect_summary("List items (paged)", "List items (paged)");
    expect_summary("List items (", "List items");
    /* Non-ASCII letters stay; malformed UTF-8 does not. */
    expect_summary("Caf\xc3\xa9 menu", "Caf\xc3\xa9 menu");
    expect_summary("bad \xff byte", "Bad byte");
    /* Nothing usable. */
    expect_summary("?!/&", "");
    expect_summary("", "");
}

static void summaries_are_cut_at_a_word(void **state)
{
    (void)state;
    /* 9 words of 9 letters + spaces: 89 characters. */
    char in[200] = "", want[200] = "";
    for (int i = 0; i < 9; i++)
        strcat(in, i ? " abcdefghi" : "abcdefghi");
    for (int i = 0; i < 8; i++)
        strcat(want, i ? " abcdefghi" : "Abcdefghi");
    expect_summary(in, want); /* 79 characters: the 9th word would pass 80 */
    /* One long word is cut at 80 characters. */
    char word[120];
    memset(word, 'x', 100);
    word[100] = '\0';
    char out[MD_CONNECTOR_SUMMARY_BUF];
    md_connector_summary(word, out, sizeof(out));
    assert_int_equal(strlen(out), MD_CONNECTOR_MAX_SUMMARY);
    /* Characters, not bytes: 80 two-byte letters fit. */
    char wide[400] = "";
    for (int i = 0; i < 90; i++)
        strcat(wide, "\xc3\xa9");
    md_connector_summary(wide, out, sizeof(out));
    assert_int_equal(strlen(out), 2 * MD_CONNECTOR_MAX_SUMMARY);
    /* A caller buffer smaller than a summary is cut at a character. */
    char small[6];
    md_connector_summary("\xc3\xa9\xc3\xa9\xc3\xa9", small, sizeof(small));
    assert_string_equal(small, "\xc3\xa9\xc3\xa9");
}

static void summaries_from_paths(void **state)
{
    (void)state;
    char out[MD_CONNECTOR_SUMMARY_BUF];
    md_connector_path_summary("GET", "/users/{id}/orders", out, sizeof(out));
    assert_string_equal(out, "Get users orders by id");
    md_connector_path_summary("GET", "/", out, sizeof(out));
    assert_string_equal(out, "Get root");
    md_connector_path_summary("DELETE", "/a/{x}/b/{y}", out, sizeof(out));
    assert_string_equal(out, "Delete a b by x and y");
    md_connector_path_summary("GET", "/news-raw", out, sizeof(out));
    assert_string_equal(out, "Get news raw");
    md_connector_path_summary("GET", "/{id}", out, sizeof(out));
    assert_string_equal(out, "Get by id");
}

static void expect_title(const char *in, const char *want)
{
    char out[64];
    md_connector_title(in, out, sizeof(out));
    assert_string_equal(out, want);
}

static void display_names(void **state)
{
    (void)state;
    expect_title("balance_days", "Balance Days");
    expect_title("publishedAt", "Published At");
    expect_title("HTTPServer", "HTTP Server");
    expect_title("id", "ID");
    expect_title("user-url", "User URL");
    expect_title("_errors", "Errors");
    expect_title("a.b", "A B");
    expect_title("v2", "V2");
    expect_title("___", "Value");
    expect_title("caf\xc3\xa9", "Caf\xc3\xa9");
    char small[5];
    md_connector_title("caf\xc3\xa9", small, sizeof(small)); /* "Caf" + half of the e-acute */
    assert_string_equal(small, "Caf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operation_ids_from_method_and_path),
        cmocka_unit_test(operation_ids_are_bounded),
        cmocka_unit_test(pascal_case_check),
        cmocka_unit_test(summaries_follow_the_rules),
        cmocka_unit_test(summaries_are_cut_at_a_word),
        cmocka_unit_test(summaries_from_paths),
        cmocka_unit_test(display_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
