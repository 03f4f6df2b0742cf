/*
 * Unit tests for shape/merge: the precomputed fast path, missing
 * fragments, root merges, the conflict rule (objects merge, otherwise the
 * later declaration wins), the extra member, and the error paths.
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/common.h"
#include "json/scan.h"
#include "shape/merge.h"

#include <stdlib.h>

#define FRAG(s) { (s), sizeof(s) - 1 }
#define MISSING { NULL, 0 }

static md_merge_t *compile(const char *const *paths, size_t n)
{
    char err[128];
    md_merge_t *m = md_merge_compile(paths, n, err, sizeof(err));
    if (!m)
        fail_msg("compile: %s", err);
    return m;
}

static void expect_merge(const char *const *paths, size_t n, const md_fragment_t *frags,
                         int fast, const char *want)
{
    md_merge_t *m = compile(paths, n);
    assert_int_equal(md_merge_is_fast(m), fast);
    md_buf_t out;
    md_buf_init(&out, 0);
    size_t bad = 0;
    char err[128];
    int rc = md_merge_write_ex(m, frags, NULL, NULL, 0, &out, &bad, err, sizeof(err));
    if (rc != MD_OK)
        fail_msg("merge: %d %s", rc, err);
    assert_int_equal(bad, (size_t)-1);
    assert_string_equal(out.data, want);
    md_buf_free(&out);
    md_merge_free(m);
}

static void fast_path_splices_fragments(void **state)
{
    (void)state;
    const char *paths[] = { "news", "events", "cards.vacation" };
    md_fragment_t f[] = { FRAG("[1,2]"), FRAG("[{\"id\":\"e\"}]"), FRAG("{\"balance_days\":17.5}") };
    expect_merge(paths, 3, f, 1,
                 "{\"news\":[1,2],\"events\":[{\"id\":\"e\"}],\"cards\":{\"vacation\":{\"balance_days\":17.5}}}");
    /* Keys come in first-appearance order, nested ones grouped. */
    const char *p2[] = { "cards.a", "news", "cards.b", "x.y.z" };
    md_fragment_t f2[] = { FRAG("1"), FRAG("2"), FRAG("3"), FRAG("\"s\"") };
    expect_merge(p2, 4, f2, 1, "{\"cards\":{\"a\":1,\"b\":3},\"news\":2,\"x\":{\"y\":{\"z\":\"s\"}}}");
    /* Keys are written escaped. */
    const char *p3[] = { "a\"b" };
    md_fragment_t f3[] = { FRAG("true") };
    expect_merge(p3, 1, f3, 1, "{\"a\\\"b\":true}");
}

static void missing_fragments_are_left_out(void **state)
{
    (void)state;
    const char *paths[] = { "news", "events", "cards.vacation" };
    md_fragment_t f1[] = { FRAG("[1]"), MISSING, FRAG("{\"d\":1}") };
    expect_merge(paths, 3, f1, 1, "{\"news\":[1],\"cards\":{\"vacation\":{\"d\":1}}}");
    md_fragment_t f2[] = { FRAG("[1]"), FRAG("[2]"), MISSING };
    expect_merge(paths, 3, f2, 1, "{\"news\":[1],\"events\":[2]}");
    md_fragment_t f3[] = { MISSING, FRAG("[2]"), MISSING };
    expect_merge(paths, 3, f3, 1, "{\"events\":[2]}");
    md_fragment_t f4[] = { MISSING, MISSING, MISSING };
    expect_merge(paths, 3, f4, 1, "{}");
    /* Same rule on the general path. */
    const char *p5[] = { NULL, "cards.vacation", "cards.birthday" };
    md_fragment_t f5[] = { FRAG("{\"a\":1}"), MISSING, MISSING };
    expect_merge(p5, 3, f5, 0, "{\"a\":1}");
    md_fragment_t f6[] = { MISSING, MISSING, FRAG("[3]") };
    expect_merge(p5, 3, f6, 0, "{\"cards\":{\"birthday\":[3]}}");
}

static void extra_member_comes_last(void **state)
{
    (void)state;
    const char *paths[] = { "news", "hr" };
    md_merge_t *m = compile(paths, 2);
    md_fragment_t f[] = { FRAG("[1]"), MISSING };
    md_buf_t out;
    md_buf_init(&out, 0);
    const char extra[] = "[{\"backend\":\"hr\",\"error\":\"timeout\"}]";
    assert_int_equal(md_merge_write(m, f, "_errors", extra, sizeof(extra) - 1, &out), MD_OK);
    assert_string_equal(out.data, "{\"news\":[1],\"_errors\":[{\"backend\":\"hr\",\"error\":\"timeout\"}]}");
    md_buf_reset(&out);
    md_fragment_t none[] = { MISSING, MISSING };
    assert_int_equal(md_merge_write(m, none, "_errors", "[]", 2, &out), MD_OK);
    assert_string_equal(out.data, "{\"_errors\":[]}");
    /* An extra member without a value would be invalid JSON. */
    md_buf_reset(&out);
    assert_int_equal(md_merge_write(m, f, "_errors", NULL, 0, &out), MD_EINVAL);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    md_merge_free(m);

    /* General path too. */
    const char *p2[] = { NULL };
    m = compile(p2, 1);
    md_buf_init(&out, 0);
    md_fragment_t f2[] = { FRAG("{\"a\":1}") };
    assert_int_equal(md_merge_write(m, f2, "x", "null", 4, &out), MD_OK);
    assert_string_equal(out.data, "{\"a\":1,\"x\":null}");
    md_buf_free(&out);
    md_merge_free(m);
}

static void root_merge(void **state)
{
    (void)state;
    const char *paths[] = { NULL, "x" };
    md_fragment_t f[] = { FRAG("{ \"a\" : 1, \"b\" : { \"c\" : [ 1 ] } }"), FRAG("5") };
    expect_merge(paths, 2, f, 0, "{\"a\":1,\"b\":{\"c\":[1]},\"x\":5}");
    /* Duplicate keys of an expanded object: the later wins. */
    const char *p2[] = { NULL };
    md_fragment_t f2[] = { FRAG("{\"a\":1,\"b\":0,\"a\":2}") };
    expect_merge(p2, 1, f2, 0, "{\"a\":2,\"b\":0}");
}

static void root_fragment_must_be_an_object(void **state)
{
    (void)state;
    const char *paths[] = { "x", NULL };
    md_merge_t *m = compile(paths, 2);
    md_fragment_t f[] = { FRAG("1"), FRAG("[1,2]") };
    md_buf_t out;
    md_buf_init(&out, 0);
    md_buf_append_str(&out, "keep");
    size_t bad = 0;
    char err[128];
    assert_int_equal(md_merge_write_ex(m, f, NULL, NULL, 0, &out, &bad, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(bad, 1);
    assert_string_equal(err, "fragment 1: merged at the root but not an object");
    assert_string_equal(out.data, "keep");
    /* Dropping it, as a caller may, makes the merge succeed. */
    f[1] = (md_fragment_t)MISSING;
    assert_int_equal(md_merge_write_ex(m, f, NULL, NULL, 0, &out, &bad, err, sizeof(err)), MD_OK);
    assert_string_equal(out.data, "keep{\"x\":1}");
    md_buf_free(&out);
    md_merge_free(m);
}

static void later_fragment_wins_conflicts(void **state)
{
    (void)state;
    const char *paths[] = { NULL, NULL };
    md_fragment_t f1[] = { FRAG("{\"a\":1,\"b\":2}"), FRAG("{\"a\":3}") };
    expect_merge(paths, 2, f1, 0, "{\"a\":3,\"b\":2}");
    md_fragment_t f2[] = { FRAG("{\"o\":{\"x\":1}}"), FRAG("{\"o\":[1]}") };
    expect_merge(paths, 2, f2, 0, "{\"o\":[1]}");
    md_fragment_t f3[] = { FRAG("{\"o\":5}"), FRAG("{\"o\":{\"x\":1}}") };
    expect_merge(paths, 2, f3, 0, "{\"o\":{\"x\":1}}");
    /* Equal paths: non-objects, later wins; objects merge. */
    const char *p2[] = { "a", "a" };
    md_fragment_t f4[] = { FRAG("1"), FRAG("2") };
    expect_merge(p2, 2, f4, 0, "{\"a\":2}");
    md_fragment_t f5[] = { FRAG("{\"x\":1}"), FRAG("{\"y\":2}") };
    expect_merge(p2, 2, f5, 0, "{\"a\":{\"x\":1,\"y\":2}}");
    /* An object replaced by a scalar and then by another object starts
     * empty: nothing of the first object comes back. */
    const char *p3[] = { NULL, NULL, NULL, NULL, NULL };
    md_fragment_t f6[] = { FRAG("{\"o\":{\"x\":1}}"), FRAG("{\"o\":{\"z\":0}}"), FRAG("{\"o\":5}"),
                           FRAG("{\"o\":{\"y\":2}}"), FRAG("{\"o\":{\"x\":3}}") };
    expect_merge(p3, 5, f6, 0, "{\"o\":{\"y\":2,\"x\":3}}");
}

static void objects_merge_recursively(void **state)
{
    (void)state;
    const char *paths[] = { NULL, NULL };
    md_fragment_t f[] = { FRAG("{\"o\":{\"x\":1,\"y\":{\"p\":1}}}"), FRAG("{\"o\":{\"y\":{\"q\":2},\"z\":3}}") };
    expect_merge(paths, 2, f, 0, "{\"o\":{\"x\":1,\"y\":{\"p\":1,\"q\":2},\"z\":3}}");
    /* Keys match by decoded name; the first spelling is kept. */
    md_fragment_t f2[] = { FRAG("{\"\\u0061\":{\"b\":1}}"), FRAG("{\"a\":{\"c\":2}}") };
    expect_merge(paths, 2, f2, 0, "{\"\\u0061\":{\"b\":1,\"c\":2}}");
}

static void overlapping_paths(void **state)
{
    (void)state;
    const char *paths[] = { "cards", "cards.vacation" };
    md_fragment_t f1[] = { FRAG("{\"birthday\":{\"d\":1},\"vacation\":{\"old\":true}}"),
                           FRAG("{\"balance_days\":17.5}") };
    expect_merge(paths, 2, f1, 0,
                 "{\"cards\":{\"birthday\":{\"d\":1},\"vacation\":{\"old\":true,\"balance_days\":17.5}}}");
    /* A non-object on the way is replaced by the later, longer path. */
    md_fragment_t f2[] = { FRAG("7"), FRAG("{\"d\":1}") };
    expect_merge(paths, 2, f2, 0, "{\"cards\":{\"vacation\":{\"d\":1}}}");
    md_fragment_t f3[] = { FRAG("7"), MISSING };
    expect_merge(paths, 2, f3, 0, "{\"cards\":7}");
    /* Declared the other way round, the shorter path comes later and wins
     * where it is not an object. */
    const char *rev[] = { "cards.vacation", "cards" };
    md_fragment_t f4[] = { FRAG("{\"balance_days\":17.5}"), FRAG("{\"vacation\":5,\"x\":1}") };
    expect_merge(rev, 2, f4, 0, "{\"cards\":{\"vacation\":5,\"x\":1}}");
    md_fragment_t f5[] = { FRAG("{\"balance_days\":17.5}"), FRAG("[1]") };
    expect_merge(rev, 2, f5, 0, "{\"cards\":[1]}");
}

static void invalid_fragment_on_general_path(void **state)
{
    (void)state;
    const char *paths[] = { NULL, "x" };
    md_merge_t *m = compile(paths, 2);
    md_fragment_t f[] = { FRAG("{\"a\":1}"), FRAG("[1,") };
    md_buf_t out;
    md_buf_init(&out, 0);
    size_t bad = 0;
    char err[128];
    assert_int_equal(md_merge_write_ex(m, f, NULL, NULL, 0, &out, &bad, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(bad, 1);
    assert_string_equal(err, "fragment 1: invalid JSON at byte 3: unexpected end, expected a value");
    assert_int_equal(out.len, 0);
    assert_int_equal(md_merge_write(m, f, NULL, NULL, 0, &out), MD_EINVAL);
    md_buf_free(&out);
    md_merge_free(m);
}

static void empty_fragment_on_fast_path(void **state)
{
    (void)state;
    const char *paths[] = { "a", "b" };
    md_merge_t *m = compile(paths, 2);
    md_fragment_t f[] = { FRAG("1"), { "", 0 } };
    md_buf_t out;
    md_buf_init(&out, 0);
    size_t bad = 0;
    char err[128];
    assert_int_equal(md_merge_write_ex(m, f, NULL, NULL, 0, &out, &bad, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(bad, 1);
    assert_string_equal(err, "fragment 1: empty");
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    md_merge_free(m);
}

static void output_cap(void **state)
{
    (void)state;
    const char *fast[] = { "news", "events" };
    const char *general[] = { NULL, "events" };
    md_fragment_t f[] = { FRAG("{\"n\":[1,2,3]}"), FRAG("[4,5,6]") };
    char err[128];
    md_buf_t out;
    for (int i = 0; i < 2; i++) {
        md_merge_t *m = compile(i ? general : fast, 2);
        md_buf_init(&out, 12);
        size_t bad = 0;
        assert_int_equal(md_merge_write_ex(m, f, NULL, NULL, 0, &out, &bad, err, sizeof(err)),
                         MD_ETOOBIG);
        assert_string_equal(err, "merge: output larger than 12 bytes");
        assert_int_equal(bad, (size_t)-1);
        assert_int_equal(out.len, 0);
        md_buf_free(&out);
        md_merge_free(m);
    }
}

static void node_cap(void **state)
{
    (void)state;
    md_buf_t doc;
    md_buf_init(&doc, 0);
    md_buf_append_char(&doc, '{');
    for (int i = 0; i < MD_MERGE_MAX_NODES; i++)
        md_buf_printf(&doc, "%s\"k%d\":%d", i ? "," : "", i, i);
    md_buf_append_char(&doc, '}');
    const char *paths[] = { NULL };
    md_merge_t *m = compile(paths, 1);
    md_fragment_t f[] = { { doc.data, doc.len } };
    md_buf_t out;
    md_buf_init(&out, 0);
    char err[128];
    /* 4096 keys + the root node do not fit. */
    assert_int_equal(md_merge_write_ex(m, f, NULL, NULL, 0, &out, NULL, err, sizeof(err)), MD_ETOOBIG);
    assert_string_equal(err, "merge: more than 4096 keys");
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
    md_merge_free(m);
    md_buf_free(&doc);
}

static void zero_fragments(void **state)
{
    (void)state;
    md_merge_t *m = compile(NULL, 0);
    md_buf_t out;
    md_buf_init(&out, 0);
    assert_int_equal(md_merge_write(m, NULL, NULL, NULL, 0, &out), MD_OK);
    assert_string_equal(out.data, "{}");
    md_buf_free(&out);
    md_merge_free(m);
}

static void invalid_paths_are_refused(void **state)
{
    (void)state;
    char err[128];
    const char *p1[] = { "news", "a..b" };
    assert_null(md_merge_compile(p1, 2, err, sizeof(err)));
    assert_string_equal(err, "as: empty segment in path 'a..b'");
    const char *p2[] = { ".x" };
    assert_null(md_merge_compile(p2, 1, err, sizeof(err)));
    assert_string_equal(err, "as: empty segment in path '.x'");
    const char *p3[] = { "" };
    assert_null(md_merge_compile(p3, 1, err, sizeof(err)));
    assert_string_equal(err, "as: empty segment in path ''");
    const char *p4[] = { "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q" };
    assert_null(md_merge_compile(p4, 1, err, sizeof(err)));
    assert_string_equal(err, "as: path 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q' deeper than 16");
    const char *many[MD_MERGE_MAX_FRAGMENTS + 1] = { 0 };
    assert_null(md_merge_compile(many, MD_MERGE_MAX_FRAGMENTS + 1, err, sizeof(err)));
    assert_string_equal(err, "merge: 65 fragments (at most 64)");
}

static int teardown(void **state)
{
    (void)state;
    md_json_scratch_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fast_path_splices_fragments),
        cmocka_unit_test(missing_fragments_are_left_out),
        cmocka_unit_test(extra_member_comes_last),
        cmocka_unit_test(root_merge),
        cmocka_unit_test(root_fragment_must_be_an_object),
        cmocka_unit_test(later_fragment_wins_conflicts),
        cmocka_unit_test(objects_merge_recursively),
        cmocka_unit_test(overlapping_paths),
        cmocka_unit_test(invalid_fragment_on_general_path),
        cmocka_unit_test(empty_fragment_on_fast_path),
        cmocka_unit_test(output_cap),
        cmocka_unit_test(node_cap),
        cmocka_unit_test(zero_fragments),
        cmocka_unit_test(invalid_paths_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
