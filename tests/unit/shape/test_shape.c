/*
 * Unit tests for shape/shape: each operation alone and combined, sorting
 * rules, limits, invalid input, output cap, spec errors, and concurrent
 * use from several threads. Expected outputs are written out from the
 * semantics documented in shape.h.
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/common.h"
#include "json/scan.h"
#include "shape/shape.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NARGS(...) (sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *))
#define SEL(...) .select = (char *[]){ __VA_ARGS__ }, .nselect = NARGS(__VA_ARGS__)
#define DENY(...) .deny = (char *[]){ __VA_ARGS__ }, .ndeny = NARGS(__VA_ARGS__)
#define REN(...)                                                                                   \
    .rename = (md_kv_t[]){ __VA_ARGS__ },                                                          \
    .nrename = sizeof((md_kv_t[]){ __VA_ARGS__ }) / sizeof(md_kv_t)
#define KV(a, b) { (char *)(a), (char *)(b) }

static const char DOC[] =
    "{\"items\":["
    "{\"id\":1,\"title\":\"A\",\"published\":\"2024-05-02\",\"author\":{\"name\":\"Ana\",\"email\":\"a@x\"},"
    "\"tags\":[\"x\"],\"body\":\"long\"},"
    "{\"id\":2,\"title\":\"B\",\"published\":\"2024-05-03\",\"author\":\"Bob\",\"body\":\"b\"},"
    "{\"id\":3,\"title\":\"C\",\"published\":\"2024-05-01\",\"author\":{\"name\":\"Cy\"},\"body\":\"c\"}"
    "],\"total\":3}";

/* Compiles spec, applies it to in, checks MD_OK and the exact output. */
static void expect_shape(md_shape_spec_t spec, const char *in, const char *want)
{
    char err[256];
    md_shape_t *s = md_shape_compile(&spec, err, sizeof(err));
    if (!s)
        fail_msg("compile: %s", err);
    md_buf_t out;
    md_buf_init(&out, 0);
    int rc = md_shape_apply(s, in, strlen(in), &out, err, sizeof(err));
    if (rc != MD_OK)
        fail_msg("apply: %d %s", rc, err);
    assert_string_equal(out.data ? out.data : "", want);
    md_buf_free(&out);
    md_shape_free(s);
}

/* Applies a compiled spec expecting failure: code, message, out untouched. */
static void expect_apply_error(md_shape_spec_t spec, const char *in, size_t len, int want_rc,
                               const char *want_err)
{
    char err[256];
    md_shape_t *s = md_shape_compile(&spec, err, sizeof(err));
    if (!s)
        fail_msg("compile: %s", err);
    md_buf_t out;
    md_buf_init(&out, 0);
    md_buf_append_str(&out, "prefix");
    int rc = md_shape_apply(s, in, len, &out, err, sizeof(err));
    assert_int_equal(rc, want_rc);
    assert_string_equal(err, want_err);
    assert_string_equal(out.data, "prefix");
    md_buf_free(&out);
    md_shape_free(s);
}

static void expect_compile_error(md_shape_spec_t spec, const char *want)
{
    char err[256] = "";
    md_shape_t *s = md_shape_compile(&spec, err, sizeof(err));
    assert_null(s);
    assert_string_equal(err, want);
}

static void null_shape_copies_verbatim(void **state)
{
    (void)state;
    const char in[] = " {\"a\": [1, 2]}\n";
    md_buf_t out;
    md_buf_init(&out, 0);
    char err[128];
    assert_int_equal(md_shape_apply(NULL, in, sizeof(in) - 1, &out, err, sizeof(err)), MD_OK);
    assert_string_equal(out.data, in);
    assert_int_equal(md_shape_apply(NULL, "{\"a\":}", 6, &out, err, sizeof(err)), MD_EINVAL);
    assert_string_equal(err, "invalid JSON at byte 5: unexpected character, expected a value");
    assert_string_equal(out.data, in); /* unchanged */
    md_buf_free(&out);
}

static void empty_spec_compacts(void **state)
{
    (void)state;
    expect_shape((md_shape_spec_t){ .limit = -1 }, " { \"a\" : [ 1 , \"x y\" ] ,\n \"b\":{} } ",
                 "{\"a\":[1,\"x y\"],\"b\":{}}");
    expect_shape((md_shape_spec_t){ .limit = -1 }, " 42 ", "42");
}

static void from_descends_object_members(void **state)
{
    (void)state;
    const char *in = "{\"data\":{\"results\":[1, 2],\"n\":2},\"list\":[{\"a\":1}]}";
    expect_shape((md_shape_spec_t){ .from = "data.results", .limit = -1 }, in, "[1,2]");
    expect_shape((md_shape_spec_t){ .from = "data", .limit = -1 }, in, "{\"results\":[1,2],\"n\":2}");
    expect_apply_error((md_shape_spec_t){ .from = "data.nope", .limit = -1 }, in, strlen(in),
                       MD_ENOTFOUND, "from: 'data.nope' not found");
    /* Through a non-object: arrays are not indexed. */
    expect_apply_error((md_shape_spec_t){ .from = "list.a", .limit = -1 }, in, strlen(in),
                       MD_ENOTFOUND, "from: 'list.a' not found");
    expect_apply_error((md_shape_spec_t){ .from = "data.n.x", .limit = -1 }, in, strlen(in),
                       MD_ENOTFOUND, "from: 'data.n.x' not found");
    expect_apply_error((md_shape_spec_t){ .from = "items", .limit = -1 }, "[1]", 3, MD_ENOTFOUND,
                       "from: 'items' not found");
}

static void select_keeps_listed_fields_in_list_order(void **state)
{
    (void)state;
    const char *obj = "{\"id\":1,\"title\":\"A\",\"body\":\"x\"}";
    expect_shape((md_shape_spec_t){ SEL("title", "id"), .limit = -1 }, obj,
                 "{\"title\":\"A\",\"id\":1}");
    expect_shape((md_shape_spec_t){ SEL("id", "nope"), .limit = -1 }, obj, "{\"id\":1}");
    expect_shape((md_shape_spec_t){ SEL("nope"), .limit = -1 }, obj, "{}");
    /* Array elements that are not objects are copied as they are. */
    expect_shape((md_shape_spec_t){ SEL("id"), .limit = -1 },
                 "[{\"id\":1,\"x\":2},3,\"s\",[{\"id\":9,\"x\":1}],null,{}]",
                 "[{\"id\":1},3,\"s\",[{\"id\":9,\"x\":1}],null,{}]");
    expect_shape((md_shape_spec_t){ SEL("id"), .limit = -1 }, "\"just a string\"",
                 "\"just a string\"");
}

static void select_nested_paths(void **state)
{
    (void)state;
    expect_shape((md_shape_spec_t){ .from = "items", SEL("id", "author.name"), .limit = -1 }, DOC,
                 "[{\"id\":1,\"author\":{\"name\":\"Ana\"}},{\"id\":2},"
                 "{\"id\":3,\"author\":{\"name\":\"Cy\"}}]");
    /* The parent exists as an object without the leaf: an empty object. */
    expect_shape((md_shape_spec_t){ SEL("author.name"), .limit = -1 },
                 "{\"author\":{\"email\":\"z\"}}", "{\"author\":{}}");
    /* Grouped under the first path naming the parent. */
    expect_shape((md_shape_spec_t){ SEL("author.name", "id", "author.email"), .limit = -1 },
                 "{\"id\":7,\"author\":{\"email\":\"e\",\"x\":0,\"name\":\"n\"}}",
                 "{\"author\":{\"name\":\"n\",\"email\":\"e\"},\"id\":7}");
    expect_shape((md_shape_spec_t){ SEL("a.b.c"), .limit = -1 },
                 "{\"a\":{\"b\":{\"c\":[1],\"d\":2},\"e\":3}}", "{\"a\":{\"b\":{\"c\":[1]}}}");
    /* A selected subtree is copied whole (compacted). */
    expect_shape((md_shape_spec_t){ SEL("author"), .limit = -1 },
                 "{\"author\":{ \"name\" : \"n\" },\"id\":1}", "{\"author\":{\"name\":\"n\"}}");
}

static void deny_drops_paths(void **state)
{
    (void)state;
    expect_shape((md_shape_spec_t){ .from = "items", DENY("body", "author.email"), .limit = -1 }, DOC,
                 "[{\"id\":1,\"title\":\"A\",\"published\":\"2024-05-02\",\"author\":{\"name\":\"Ana\"},"
                 "\"tags\":[\"x\"]},"
                 "{\"id\":2,\"title\":\"B\",\"published\":\"2024-05-03\",\"author\":\"Bob\"},"
                 "{\"id\":3,\"title\":\"C\",\"published\":\"2024-05-01\",\"author\":{\"name\":\"Cy\"}}]");
    expect_shape((md_shape_spec_t){ DENY("a", "b"), .limit = -1 }, "{\"a\":1,\"b\":2}", "{}");
    expect_shape((md_shape_spec_t){ DENY("zz"), .limit = -1 }, "{\"a\":1}", "{\"a\":1}");
}

static void rename_fields(void **state)
{
    (void)state;
    /* Alone: everything kept, the key renamed in place. */
    expect_shape((md_shape_spec_t){ REN(KV("published", "date")), .limit = -1 },
                 "{\"id\":1,\"published\":\"x\",\"b\":2}", "{\"id\":1,\"date\":\"x\",\"b\":2}");
    /* Nested: the leaf key is renamed at its own level. */
    expect_shape((md_shape_spec_t){ REN(KV("author.name", "author_name")), .limit = -1 },
                 "{\"author\":{\"name\":\"Ana\",\"email\":\"e\"},\"x\":1}",
                 "{\"author\":{\"author_name\":\"Ana\",\"email\":\"e\"},\"x\":1}");
    /* With select, nested too. */
    expect_shape((md_shape_spec_t){ .from = "items", SEL("id", "published", "author.name"),
                                    REN(KV("published", "date"), KV("author.name", "who")),
                                    .limit = 1 },
                 DOC, "[{\"id\":1,\"date\":\"2024-05-02\",\"author\":{\"who\":\"Ana\"}}]");
    /* Inside a selected subtree; a string author is copied as is. */
    expect_shape((md_shape_spec_t){ .from = "items", SEL("author"), REN(KV("author.name", "n")),
                                    .limit = 2 },
                 DOC, "[{\"author\":{\"n\":\"Ana\",\"email\":\"a@x\"}},{\"author\":\"Bob\"}]");
    /* An intermediate object renamed. */
    expect_shape((md_shape_spec_t){ SEL("author.name"), REN(KV("author", "writer")), .limit = -1 },
                 "{\"author\":{\"name\":\"Ana\",\"email\":\"e\"}}", "{\"writer\":{\"name\":\"Ana\"}}");
    /* With deny. */
    expect_shape((md_shape_spec_t){ DENY("author.email"), REN(KV("author", "writer")), .limit = -1 },
                 "{\"author\":{\"name\":\"Ana\",\"email\":\"e\"}}", "{\"writer\":{\"name\":\"Ana\"}}");
    /* New names are escaped. */
    expect_shape((md_shape_spec_t){ REN(KV("a", "say \"x\"")), .limit = -1 }, "{\"a\":1}",
                 "{\"say \\\"x\\\"\":1}");
}

static void sort_numbers(void **state)
{
    (void)state;
    const char *in = "[{\"n\":10},{\"n\":-2.5},{\"n\":1e1},{\"n\":3},{\"n\":9}]";
    expect_shape((md_shape_spec_t){ .sort = "n", .limit = -1 }, in,
                 "[{\"n\":-2.5},{\"n\":3},{\"n\":9},{\"n\":10},{\"n\":1e1}]");
    /* Descending keeps equal keys (10 and 1e1) in document order too. */
    expect_shape((md_shape_spec_t){ .sort = "-n", .limit = -1 }, in,
                 "[{\"n\":10},{\"n\":1e1},{\"n\":9},{\"n\":3},{\"n\":-2.5}]");
}

static void sort_strings(void **state)
{
    (void)state;
    /* Bytewise on decoded content: "B" < "a" < "ab" < "b" < "é"; "\u0061"
     * equals "a" and keeps its place after it. */
    const char *in = "[{\"s\":\"b\"},{\"s\":\"a\"},{\"s\":\"\\u00e9\"},{\"s\":\"B\"},{\"s\":\"\\u0061\"},"
                     "{\"s\":\"ab\"},{\"s\":\"\xc3\xa8\"}]";
    expect_shape((md_shape_spec_t){ .sort = "s", .limit = -1 }, in,
                 "[{\"s\":\"B\"},{\"s\":\"a\"},{\"s\":\"\\u0061\"},{\"s\":\"ab\"},{\"s\":\"b\"},"
                 "{\"s\":\"\xc3\xa8\"},{\"s\":\"\\u00e9\"}]");
    expect_shape((md_shape_spec_t){ .sort = "-s", .limit = -1 }, in,
                 "[{\"s\":\"\\u00e9\"},{\"s\":\"\xc3\xa8\"},{\"s\":\"b\"},{\"s\":\"ab\"},{\"s\":\"a\"},"
                 "{\"s\":\"\\u0061\"},{\"s\":\"B\"}]");
}

static void sort_booleans_and_nested_field(void **state)
{
    (void)state;
    expect_shape((md_shape_spec_t){ .sort = "b", .limit = -1 },
                 "[{\"b\":true,\"i\":0},{\"b\":false,\"i\":1},{\"b\":true,\"i\":2},{\"b\":false,\"i\":3}]",
                 "[{\"b\":false,\"i\":1},{\"b\":false,\"i\":3},{\"b\":true,\"i\":0},{\"b\":true,\"i\":2}]");
    expect_shape((md_shape_spec_t){ .from = "items", SEL("id"), .sort = "author.name", .limit = -1 },
                 DOC, "[{\"id\":1},{\"id\":3},{\"id\":2}]");
    expect_shape((md_shape_spec_t){ .from = "items", SEL("id"), .sort = "-author.name", .limit = -1 },
                 DOC, "[{\"id\":3},{\"id\":1},{\"id\":2}]");
}

static void sort_puts_missing_and_mixed_last(void **state)
{
    (void)state;
    /* The first typed element (a string) decides; numbers, null, missing,
     * non-objects and booleans go last in document order. */
    const char *in = "[{\"k\":\"x\"},{\"k\":1},{\"k\":\"a\"},{},{\"k\":null},5,{\"k\":true},"
                     "{\"k\":[\"a\"]},{\"k\":\"m\"}]";
    expect_shape((md_shape_spec_t){ .sort = "k", .limit = -1 }, in,
                 "[{\"k\":\"a\"},{\"k\":\"m\"},{\"k\":\"x\"},{\"k\":1},{},{\"k\":null},5,{\"k\":true},"
                 "{\"k\":[\"a\"]}]");
    expect_shape((md_shape_spec_t){ .sort = "-k", .limit = -1 }, in,
                 "[{\"k\":\"x\"},{\"k\":\"m\"},{\"k\":\"a\"},{\"k\":1},{},{\"k\":null},5,{\"k\":true},"
                 "{\"k\":[\"a\"]}]");
    /* Nothing sortable at all: document order. */
    expect_shape((md_shape_spec_t){ .sort = "k", .limit = -1 }, "[{},3,{\"k\":null}]",
                 "[{},3,{\"k\":null}]");
    expect_shape((md_shape_spec_t){ .sort = "k", .limit = -1 }, "[]", "[]");
}

/* 100 elements {"k":i%3,"i":i}: sorting by k must keep i ascending within
 * each k (stable), in both directions, on the heap-allocated path. */
static void sort_is_stable_for_many_elements(void **state)
{
    (void)state;
    md_buf_t in, want_asc, want_desc;
    md_buf_init(&in, 0);
    md_buf_init(&want_asc, 0);
    md_buf_init(&want_desc, 0);
    md_buf_append_char(&in, '[');
    for (int i = 0; i < 100; i++)
        md_buf_printf(&in, "%s{\"k\":%d,\"i\":%d}", i ? "," : "", i % 3, i);
    md_buf_append_char(&in, ']');
    md_buf_append_char(&want_asc, '[');
    md_buf_append_char(&want_desc, '[');
    for (int k = 0; k < 3; k++) {
        for (int i = k; i < 100; i += 3)
            md_buf_printf(&want_asc, "%s{\"k\":%d,\"i\":%d}", want_asc.len > 1 ? "," : "", k, i);
        for (int i = 2 - k; i < 100; i += 3)
            md_buf_printf(&want_desc, "%s{\"k\":%d,\"i\":%d}", want_desc.len > 1 ? "," : "", 2 - k, i);
    }
    md_buf_append_char(&want_asc, ']');
    md_buf_append_char(&want_desc, ']');
    expect_shape((md_shape_spec_t){ .sort = "k", .limit = -1 }, in.data, want_asc.data);
    expect_shape((md_shape_spec_t){ .sort = "-k", .limit = -1 }, in.data, want_desc.data);
    /* Small arrays (insertion sort) are stable as well. */
    expect_shape((md_shape_spec_t){ .sort = "k", .limit = -1 },
                 "[{\"k\":2,\"i\":0},{\"k\":1,\"i\":1},{\"k\":2,\"i\":2},{\"k\":1,\"i\":3}]",
                 "[{\"k\":1,\"i\":1},{\"k\":1,\"i\":3},{\"k\":2,\"i\":0},{\"k\":2,\"i\":2}]");
    md_buf_free(&in);
    md_buf_free(&want_asc);
    md_buf_free(&want_desc);
}

static void limit_keeps_first_n(void **state)
{
    (void)state;
    const char *in = "[{\"n\":3},{\"n\":1},{\"n\":2}]";
    expect_shape((md_shape_spec_t){ .limit = 0 }, in, "[]");
    expect_shape((md_shape_spec_t){ .limit = 2 }, in, "[{\"n\":3},{\"n\":1}]");
    expect_shape((md_shape_spec_t){ .limit = 10 }, in, "[{\"n\":3},{\"n\":1},{\"n\":2}]");
    expect_shape((md_shape_spec_t){ .sort = "n", .limit = 2 }, in, "[{\"n\":1},{\"n\":2}]");
    expect_shape((md_shape_spec_t){ .sort = "n", .limit = 0 }, in, "[]");
    expect_shape((md_shape_spec_t){ .limit = 3 }, "[]", "[]");
}

static void sort_or_limit_on_non_array_is_an_error(void **state)
{
    (void)state;
    expect_apply_error((md_shape_spec_t){ .limit = 5 }, "{\"a\":1}", 7, MD_EINVAL,
                       "shape: sort/limit need an array, the value is an object");
    expect_apply_error((md_shape_spec_t){ .sort = "a", .limit = -1 }, "{\"a\":1}", 7, MD_EINVAL,
                       "shape: sort/limit need an array, the value is an object");
    expect_apply_error((md_shape_spec_t){ .from = "a", .limit = 1 }, "{\"a\":1}", 7, MD_EINVAL,
                       "shape: sort/limit need an array, the value is a scalar");
}

static void combined_home_news_shape(void **state)
{
    (void)state;
    expect_shape((md_shape_spec_t){ .from = "items", SEL("id", "title", "published"),
                                    REN(KV("published", "date")), .sort = "-published", .limit = 2 },
                 DOC,
                 "[{\"id\":2,\"title\":\"B\",\"date\":\"2024-05-03\"},"
                 "{\"id\":1,\"title\":\"A\",\"date\":\"2024-05-02\"}]");
    /* The same with pretty-printed input gives the same bytes. */
    expect_shape((md_shape_spec_t){ .from = "items", SEL("id", "tags"), .sort = "-published",
                                    .limit = 1 },
                 "{\n  \"items\": [\n    {\"id\": 1, \"published\": \"a\", \"tags\": [ \"x\" , \"y\" ]},\n"
                 "    {\"id\": 2, \"published\": \"b\", \"tags\": [ ]}\n  ]\n}\n",
                 "[{\"id\":2,\"tags\":[]}]");
}

static void unicode_escapes_and_keys(void **state)
{
    (void)state;
    /* Values pass through exactly as written. */
    expect_shape((md_shape_spec_t){ SEL("t"), .limit = -1 },
                 "[{\"t\":\"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9\\/\",\"x\":1}]",
                 "[{\"t\":\"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9\\/\"}]");
    /* An escaped key matches by its decoded name; select writes the spec's
     * name, keep mode copies the document's key. */
    expect_shape((md_shape_spec_t){ SEL("id"), .limit = -1 }, "{\"\\u0069d\":1,\"x\":2}", "{\"id\":1}");
    expect_shape((md_shape_spec_t){ DENY("x"), .limit = -1 }, "{\"\\u0069d\":1,\"x\":2}",
                 "{\"\\u0069d\":1}");
    expect_shape((md_shape_spec_t){ DENY("\xc3\xa9t\xc3\xa9"), .limit = -1 },
                 "{\"\\u00e9t\\u00e9\":1,\"x\":2}", "{\"x\":2}");
}

static void duplicate_keys(void **state)
{
    (void)state;
    expect_shape((md_shape_spec_t){ SEL("a"), .limit = -1 }, "{\"a\":1,\"b\":0,\"a\":2}", "{\"a\":2}");
    expect_shape((md_shape_spec_t){ DENY("b"), .limit = -1 }, "{\"a\":1,\"b\":0,\"a\":2}",
                 "{\"a\":1,\"a\":2}");
    expect_shape((md_shape_spec_t){ .from = "d", .limit = -1 }, "{\"d\":1,\"d\":[2]}", "[2]");
}

static void invalid_json_is_rejected(void **state)
{
    (void)state;
    md_shape_spec_t spec = { .from = "items", SEL("id"), .limit = -1 };
    static const struct {
        const char *in;
        const char *err;
    } cases[] = {
        { "{\"items\":[{\"id\":1}", "invalid JSON at byte 18: unexpected end, expected ',' or ']'" },
        { "{\"items\":[{\"id\":1},]}", "invalid JSON at byte 19: unexpected character, expected a value" },
        { "{\"items\":[{\"id\":tru}]}", "invalid JSON at byte 16: invalid literal" },
        { "{\"items\":[{\"id\":01}]}", "invalid JSON at byte 17: leading zero in number" },
        { "{\"items\":[{\"id\":\"\\udead\"}]}", "invalid JSON at byte 17: lone low surrogate escape" },
        { "{\"items\":[{\"id\":\"a\tb\"}]}", "invalid JSON at byte 18: control character in string" },
        { "<html><body>Bad Gateway</body></html>",
          "invalid JSON at byte 0: unexpected character, expected a value" },
        { "", "invalid JSON at byte 0: empty document" },
        { "{\"items\":[]} x", "invalid JSON at byte 13: unexpected data after the document" },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++)
        expect_apply_error(spec, cases[i].in, strlen(cases[i].in), MD_EINVAL, cases[i].err);
    char bomb[100000];
    memset(bomb, '[', sizeof(bomb));
    expect_apply_error(spec, bomb, sizeof(bomb), MD_EINVAL, "invalid JSON at byte 64: nesting too deep");
    expect_apply_error(spec, NULL, 0, MD_EINVAL, "invalid JSON at byte 0: empty document");
}

static void output_cap_is_too_big(void **state)
{
    (void)state;
    md_shape_spec_t spec = { .from = "items", SEL("id"), .limit = -1 };
    char err[256];
    md_shape_t *s = md_shape_compile(&spec, err, sizeof(err));
    assert_non_null(s);
    md_buf_t out;
    md_buf_init(&out, 20); /* [{"id":1},{"id":2},{"id":3}] is 28 */
    md_buf_append_str(&out, "ab");
    assert_int_equal(md_shape_apply(s, DOC, strlen(DOC), &out, err, sizeof(err)), MD_ETOOBIG);
    assert_string_equal(err, "shape: output larger than 20 bytes");
    assert_string_equal(out.data, "ab");
    md_buf_free(&out);
    md_buf_init(&out, 28);
    assert_int_equal(md_shape_apply(s, DOC, strlen(DOC), &out, err, sizeof(err)), MD_OK);
    assert_string_equal(out.data, "[{\"id\":1},{\"id\":2},{\"id\":3}]");
    md_buf_free(&out);
    md_shape_free(s);
    /* Verbatim copies hit the cap too. */
    md_buf_init(&out, 4);
    assert_int_equal(md_shape_apply(NULL, "[1,2]", 5, &out, err, sizeof(err)), MD_ETOOBIG);
    assert_int_equal(out.len, 0);
    md_buf_free(&out);
}

static void invalid_specs_are_refused(void **state)
{
    (void)state;
    expect_compile_error((md_shape_spec_t){ SEL("a"), DENY("b"), .limit = -1 },
                         "shape: select and deny are exclusive");
    expect_compile_error((md_shape_spec_t){ .limit = -2 }, "shape: limit -2 is below -1");
    expect_compile_error((md_shape_spec_t){ SEL("a..b"), .limit = -1 },
                         "select: empty segment in path 'a..b'");
    expect_compile_error((md_shape_spec_t){ SEL(".a"), .limit = -1 },
                         "select: empty segment in path '.a'");
    expect_compile_error((md_shape_spec_t){ DENY("a."), .limit = -1 },
                         "deny: empty segment in path 'a.'");
    expect_compile_error((md_shape_spec_t){ SEL(""), .limit = -1 }, "select: empty segment in path ''");
    expect_compile_error((md_shape_spec_t){ .from = "data..x", .limit = -1 },
                         "from: empty segment in path 'data..x'");
    expect_compile_error((md_shape_spec_t){ .sort = "-", .limit = -1 }, "sort: empty segment in path ''");
    expect_compile_error((md_shape_spec_t){ .sort = "", .limit = -1 }, "sort: empty segment in path ''");
    expect_compile_error((md_shape_spec_t){ SEL("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q"), .limit = -1 },
                         "select: path 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q' deeper than 16");
    expect_compile_error((md_shape_spec_t){ SEL("id", "id"), .limit = -1 }, "select: duplicate path 'id'");
    expect_compile_error((md_shape_spec_t){ SEL("author", "author.name"), .limit = -1 },
                         "select: 'author.name' overlaps a shorter select path");
    expect_compile_error((md_shape_spec_t){ DENY("author.name", "author"), .limit = -1 },
                         "deny: 'author' overlaps a longer deny path");
    expect_compile_error((md_shape_spec_t){ SEL("id"), REN(KV("title", "t")), .limit = -1 },
                         "rename: 'title' is not selected");
    expect_compile_error((md_shape_spec_t){ SEL("a.b"), REN(KV("a.c", "t")), .limit = -1 },
                         "rename: 'a.c' is not selected");
    expect_compile_error((md_shape_spec_t){ DENY("a"), REN(KV("a", "t")), .limit = -1 },
                         "rename: 'a' is denied");
    expect_compile_error((md_shape_spec_t){ DENY("a"), REN(KV("a.b", "t")), .limit = -1 },
                         "rename: 'a.b' is denied");
    expect_compile_error((md_shape_spec_t){ REN(KV("a", "x"), KV("a", "y")), .limit = -1 },
                         "rename: 'a' renamed twice");
    expect_compile_error((md_shape_spec_t){ REN(KV("a", "")), .limit = -1 },
                         "rename: empty new name for 'a'");
    expect_compile_error((md_shape_spec_t){ SEL("a", "b"), REN(KV("a", "b")), .limit = -1 },
                         "rename: two fields would be emitted as 'b'");
    expect_compile_error((md_shape_spec_t){ REN(KV("a", "c"), KV("b", "c")), .limit = -1 },
                         "rename: two fields would be emitted as 'c'");
    char err[64] = "";
    assert_null(md_shape_compile(NULL, err, sizeof(err)));
    assert_string_equal(err, "shape: no spec");
}

static void field_limits_are_enforced(void **state)
{
    (void)state;
    char *names[MD_SHAPE_MAX_FIELDS + 1];
    char store[MD_SHAPE_MAX_FIELDS + 1][16];
    for (int i = 0; i <= MD_SHAPE_MAX_FIELDS; i++) {
        snprintf(store[i], sizeof(store[i]), "f%d", i);
        names[i] = store[i];
    }
    md_shape_spec_t spec = { .select = names, .nselect = MD_SHAPE_MAX_FIELDS, .limit = -1 };
    char err[128];
    md_shape_t *s = md_shape_compile(&spec, err, sizeof(err));
    assert_non_null(s);
    md_shape_free(s);
    spec.nselect = MD_SHAPE_MAX_FIELDS + 1;
    expect_compile_error(spec, "shape: more than 64 fields in one object");
}

typedef struct job {
    const md_shape_t *s;
    int ok;
} job_t;

static void *apply_many(void *arg)
{
    job_t *j = arg;
    md_buf_t out;
    md_buf_init(&out, 0);
    char err[128];
    for (int i = 0; i < 500; i++) {
        md_buf_reset(&out);
        if (md_shape_apply(j->s, DOC, strlen(DOC), &out, err, sizeof(err)) != MD_OK ||
            strcmp(out.data, "[{\"id\":2},{\"id\":1},{\"id\":3}]") != 0)
            return NULL;
    }
    j->ok = 1;
    md_buf_free(&out);
    return NULL;
}

static void concurrent_apply_from_threads(void **state)
{
    (void)state;
    md_shape_spec_t spec = { .from = "items", SEL("id"), .sort = "-published", .limit = -1 };
    char err[128];
    md_shape_t *s = md_shape_compile(&spec, err, sizeof(err));
    assert_non_null(s);
    job_t jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job_t){ s, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, apply_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].ok, 1);
    }
    md_shape_free(s);
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
        cmocka_unit_test(null_shape_copies_verbatim),
        cmocka_unit_test(empty_spec_compacts),
        cmocka_unit_test(from_descends_object_members),
        cmocka_unit_test(select_keeps_listed_fields_in_list_order),
        cmocka_unit_test(select_nested_paths),
        cmocka_unit_test(deny_drops_paths),
        cmocka_unit_test(rename_fields),
        cmocka_unit_test(sort_numbers),
        cmocka_unit_test(sort_strings),
        cmocka_unit_test(sort_booleans_and_nested_field),
        cmocka_unit_test(sort_puts_missing_and_mixed_last),
        cmocka_unit_test(sort_is_stable_for_many_elements),
        cmocka_unit_test(limit_keeps_first_n),
        cmocka_unit_test(sort_or_limit_on_non_array_is_an_error),
        cmocka_unit_test(combined_home_news_shape),
        cmocka_unit_test(unicode_escapes_and_keys),
        cmocka_unit_test(duplicate_keys),
        cmocka_unit_test(invalid_json_is_rejected),
        cmocka_unit_test(output_cap_is_too_big),
        cmocka_unit_test(invalid_specs_are_refused),
        cmocka_unit_test(field_limits_are_enforced),
        cmocka_unit_test(concurrent_apply_from_threads),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
