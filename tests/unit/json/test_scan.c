/*
 * Unit tests for json/scan: what the strict tokenizer accepts and rejects
 * (with the byte offset it reports), the token layout, limits, and the
 * helpers that read tokens (member lookup, decoded string comparison,
 * numbers, the per-thread scratch).
 */
#include "testutil.h"

#include "core/common.h"
#include "json/scan.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Scans s[0..len) into a fresh array; returns the code, message in err. */
static int scan_n(const char *s, size_t len, char *err, size_t errlen)
{
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    err[0] = '\0';
    int rc = md_json_scan(&t, s, len, NULL, err, errlen);
    md_json_toks_free(&t);
    return rc;
}

static int scan_s(const char *s, char *err, size_t errlen)
{
    return scan_n(s, strlen(s), err, errlen);
}

static void accepts_valid_documents(void **state)
{
    (void)state;
    static const char *ok[] = {
        "0", "-0", "12", "-12.5E-3", "1e+2", "1E2", "0.5", "\"\"", "true", "false", "null",
        "[]", "{}", " [ 1 , 2 ] \n", "\t{\"a\" : {\"b\":[1,{\"c\":null}]}}\r\n",
        "\"\\u00e9\\n\\\"\\\\\\/\\b\\f\\r\\t\"", "\"\\ud83d\\ude00\"", "\"\\uD83D\\uDE00\"",
        "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"", "[[],[[]],{}]",
        "{\"a\":1,\"a\":2}", "\"\x7f\"",
    };
    char err[128];
    for (size_t i = 0; i < MD_ARRAY_LEN(ok); i++) {
        if (scan_s(ok[i], err, sizeof(err)) != MD_OK)
            fail_msg("rejected %s: %s", ok[i], err);
    }
}

typedef struct bad_case {
    const char *doc;
    size_t len; /* 0: strlen */
    const char *msg;
} bad_case_t;

static void rejects_invalid_documents_with_offset(void **state)
{
    (void)state;
    static const bad_case_t bad[] = {
        { "", 0, "invalid JSON at byte 0: empty document" },
        { "  \n", 0, "invalid JSON at byte 3: empty document" },
        { "[1,2", 0, "invalid JSON at byte 4: unexpected end, expected ',' or ']'" },
        { "{\"a\":1", 0, "invalid JSON at byte 6: unexpected end, expected ',' or '}'" },
        { "[1,2,]", 0, "invalid JSON at byte 5: unexpected character, expected a value" },
        { "{\"a\":1,}", 0, "invalid JSON at byte 7: expected a string key" },
        { "{\"a\":", 0, "invalid JSON at byte 5: unexpected end, expected a value" },
        { "{\"a\",", 0, "invalid JSON at byte 4: expected ':' after key" },
        { "{\"a\" 1}", 0, "invalid JSON at byte 5: expected ':' after key" },
        { "{1:2}", 0, "invalid JSON at byte 1: expected a string key" },
        { "{", 0, "invalid JSON at byte 1: unexpected end, expected a key" },
        { "[1 2]", 0, "invalid JSON at byte 3: expected ',' or ']'" },
        { "{\"a\":1 \"b\":2}", 0, "invalid JSON at byte 7: expected ',' or '}'" },
        { "[1}", 0, "invalid JSON at byte 2: expected ',' or ']'" },
        { "[1]]", 0, "invalid JSON at byte 3: unexpected data after the document" },
        { "tru", 0, "invalid JSON at byte 0: invalid literal" },
        { "[nul]", 0, "invalid JSON at byte 1: invalid literal" },
        { "True", 0, "invalid JSON at byte 0: unexpected character, expected a value" },
        { "truex", 0, "invalid JSON at byte 4: unexpected data after the document" },
        { "01", 0, "invalid JSON at byte 1: leading zero in number" },
        { "[-01]", 0, "invalid JSON at byte 3: leading zero in number" },
        { "-", 0, "invalid JSON at byte 1: invalid number" },
        { "-a", 0, "invalid JSON at byte 1: invalid number" },
        { "1.", 0, "invalid JSON at byte 2: digit expected after '.'" },
        { "1.e5", 0, "invalid JSON at byte 2: digit expected after '.'" },
        { "1e", 0, "invalid JSON at byte 2: digit expected in exponent" },
        { "1e+", 0, "invalid JSON at byte 3: digit expected in exponent" },
        { "+1", 0, "invalid JSON at byte 0: unexpected character, expected a value" },
        { ".5", 0, "invalid JSON at byte 0: unexpected character, expected a value" },
        { "0x10", 0, "invalid JSON at byte 1: unexpected data after the document" },
        { "NaN", 0, "invalid JSON at byte 0: unexpected character, expected a value" },
        { "<html><body>502</body></html>", 0,
          "invalid JSON at byte 0: unexpected character, expected a value" },
        { "\"abc", 0, "invalid JSON at byte 0: unterminated string" },
        { "[\"abc\\", 0, "invalid JSON at byte 5: unterminated string" },
        { "\"a\x01z\"", 0, "invalid JSON at byte 2: control character in string" },
        { "\"a\nb\"", 0, "invalid JSON at byte 2: control character in string" },
        { "\"a\0b\"", 5, "invalid JSON at byte 2: control character in string" },
        { "[1]\0", 4, "invalid JSON at byte 3: unexpected data after the document" },
        { "\"\\x\"", 0, "invalid JSON at byte 1: invalid escape in string" },
        { "\"\\U0041\"", 0, "invalid JSON at byte 1: invalid escape in string" },
        { "\"\\u12G4\"", 0, "invalid JSON at byte 1: invalid \\u escape" },
        { "\"\\u12\"", 0, "invalid JSON at byte 1: invalid \\u escape" },
        { "\"\\ud800\"", 0, "invalid JSON at byte 1: unpaired high surrogate escape" },
        { "\"\\ud800\\u0041\"", 0, "invalid JSON at byte 1: unpaired high surrogate escape" },
        { "\"\\ud800\\ud800\"", 0, "invalid JSON at byte 1: unpaired high surrogate escape" },
        { "\"\\udc00\"", 0, "invalid JSON at byte 1: lone low surrogate escape" },
        { "\"\xc3\"", 0, "invalid JSON at byte 1: invalid UTF-8 in string" },
        { "\"\xc0\xaf\"", 0, "invalid JSON at byte 1: invalid UTF-8 in string" },
        { "\"\xe0\x80\xaf\"", 0, "invalid JSON at byte 1: invalid UTF-8 in string" },
        { "\"\xed\xa0\x80\"", 0, "invalid JSON at byte 1: invalid UTF-8 in string" },
        { "\"\xf4\x90\x80\x80\"", 0, "invalid JSON at byte 1: invalid UTF-8 in string" },
        { "\"ok\x80\"", 0, "invalid JSON at byte 3: invalid UTF-8 in string" },
        { "\"\xff\"", 0, "invalid JSON at byte 1: invalid UTF-8 in string" },
        { "\"\xe6\x97\"", 0, "invalid JSON at byte 1: invalid UTF-8 in string" },
        { "\xef\xbb\xbf{}", 0, "invalid JSON at byte 0: unexpected character, expected a value" },
    };
    char err[128];
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].doc);
        int rc = scan_n(bad[i].doc, len, err, sizeof(err));
        if (rc != MD_EINVAL || strcmp(err, bad[i].msg) != 0)
            fail_msg("case %zu: rc %d, err '%s', want '%s'", i, rc, err, bad[i].msg);
    }
}

static void depth_limit_stops_bombs(void **state)
{
    (void)state;
    char err[128];
    char *deep = malloc(200001);
    /* Exactly MD_JSON_MAX_DEPTH levels pass. */
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    assert_int_equal(scan_n(deep, 128, err, sizeof(err)), MD_OK);
    /* One more does not, and the error is at the 65th bracket. */
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    assert_int_equal(scan_n(deep, 130, err, sizeof(err)), MD_EINVAL);
    assert_string_equal(err, "invalid JSON at byte 64: nesting too deep");
    /* A 100 000-level bomb fails just as fast, without recursion. */
    memset(deep, '[', 100000);
    assert_int_equal(scan_n(deep, 100000, err, sizeof(err)), MD_EINVAL);
    assert_string_equal(err, "invalid JSON at byte 64: nesting too deep");
    for (int i = 0; i < 100000; i++)
        memcpy(deep + 2 * i, "{\"", 2); /* {"{"{"... : keys, not values */
    assert_int_equal(scan_n(deep, 200000, err, sizeof(err)), MD_EINVAL);
    free(deep);
}

/* The 8-byte string fast path must find a special byte at any position. */
static void string_fast_path_finds_every_position(void **state)
{
    (void)state;
    char doc[64], err[128], want[128];
    for (size_t at = 0; at < 40; at++) {
        size_t len = 0;
        doc[len++] = '"';
        memset(doc + len, 'a', at);
        len += at;
        size_t bad_at = len;
        doc[len++] = 0x1f;
        memset(doc + len, 'b', 12);
        len += 12;
        doc[len++] = '"';
        assert_int_equal(scan_n(doc, len, err, sizeof(err)), MD_EINVAL);
        snprintf(want, sizeof(want), "invalid JSON at byte %zu: control character in string", bad_at);
        assert_string_equal(err, want);
        /* A quote at the same place ends the string early instead. */
        doc[bad_at] = '"';
        doc[bad_at + 1] = '\0';
        assert_int_equal(scan_n(doc, bad_at + 1, err, sizeof(err)), MD_OK);
        /* An escaped quote there does not end it. */
        doc[bad_at] = '\\';
        doc[bad_at + 1] = '"';
        memset(doc + bad_at + 2, 'c', 9);
        doc[bad_at + 11] = '"';
        assert_int_equal(scan_n(doc, bad_at + 12, err, sizeof(err)), MD_OK);
        /* And a 2-byte UTF-8 letter there is accepted. */
        doc[bad_at] = '\xc3';
        doc[bad_at + 1] = '\xa9';
        assert_int_equal(scan_n(doc, bad_at + 12, err, sizeof(err)), MD_OK);
        /* Unterminated: no closing quote anywhere. */
        assert_int_equal(scan_n(doc, bad_at + 11, err, sizeof(err)), MD_EINVAL);
        assert_string_equal(err, "invalid JSON at byte 0: unterminated string");
    }
}

static void expect_tok(const md_json_tok_t *t, uint8_t type, uint32_t off, uint32_t len,
                       uint32_t next, uint32_t count)
{
    assert_int_equal(t->type, type);
    assert_int_equal(t->off, off);
    assert_int_equal(t->len, len);
    assert_int_equal(t->next, next);
    assert_int_equal(t->count, count);
}

static void token_layout(void **state)
{
    (void)state;
    const char *doc = "{\"a\":[1,\"x\"],\"b\":{}}";
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    uint32_t root = 99;
    char err[128];
    assert_int_equal(md_json_scan(&t, doc, strlen(doc), &root, err, sizeof(err)), MD_OK);
    assert_int_equal(root, 0);
    assert_int_equal(t.n, 7);
    expect_tok(&t.v[0], MD_JSON_OBJECT, 0, 20, 7, 2);
    expect_tok(&t.v[1], MD_JSON_STRING, 1, 3, 2, 0);
    expect_tok(&t.v[2], MD_JSON_ARRAY, 5, 7, 5, 2);
    expect_tok(&t.v[3], MD_JSON_NUMBER, 6, 1, 4, 0);
    expect_tok(&t.v[4], MD_JSON_STRING, 8, 3, 5, 0);
    expect_tok(&t.v[5], MD_JSON_STRING, 13, 3, 6, 0);
    expect_tok(&t.v[6], MD_JSON_OBJECT, 17, 2, 7, 0);
    for (uint32_t i = 0; i < 7; i++)
        assert_int_equal(t.v[i].flags, 0);

    /* A second document is appended; its root follows the first's tokens. */
    assert_int_equal(md_json_scan(&t, " [true,false,null, -1.5e3] ", 27, &root, err, sizeof(err)),
                     MD_OK);
    assert_int_equal(root, 7);
    assert_int_equal(t.n, 12);
    expect_tok(&t.v[7], MD_JSON_ARRAY, 1, 25, 12, 4);
    expect_tok(&t.v[8], MD_JSON_TRUE, 2, 4, 9, 0);
    expect_tok(&t.v[9], MD_JSON_FALSE, 7, 5, 10, 0);
    expect_tok(&t.v[10], MD_JSON_NULL, 13, 4, 11, 0);
    expect_tok(&t.v[11], MD_JSON_NUMBER, 19, 6, 12, 0);
    assert_int_equal(t.v[7].flags, MD_JSON_F_SPACED);

    /* A failed scan leaves the earlier tokens alone. */
    assert_int_equal(md_json_scan(&t, "[1,", 3, &root, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(t.n, 12);
    assert_int_equal(root, 7);
    md_json_toks_free(&t);
}

static void flags_mark_escapes_and_whitespace(void **state)
{
    (void)state;
    const char *doc = "{\"k\\n\":[1,2], \"s\":{\"t\": 1},\"u\":\"x\"}";
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    char err[128];
    assert_int_equal(md_json_scan(&t, doc, strlen(doc), NULL, err, sizeof(err)), MD_OK);
    assert_int_equal(t.v[0].flags, MD_JSON_F_SPACED);  /* root: space before "s" */
    assert_int_equal(t.v[1].flags, MD_JSON_F_ESCAPED); /* "k\n" */
    assert_int_equal(t.v[2].flags, 0);                 /* [1,2] is compact */
    assert_int_equal(t.v[6].type, MD_JSON_OBJECT);
    assert_int_equal(t.v[6].flags, MD_JSON_F_SPACED); /* {"t": 1} */
    assert_int_equal(t.v[10].flags, 0);               /* "x" */
    md_json_toks_free(&t);
}

static void token_cap_is_too_big(void **state)
{
    (void)state;
    md_json_toks_t t;
    md_json_toks_init(&t, 3);
    char err[128];
    assert_int_equal(md_json_scan(&t, "[1,2]", 5, NULL, err, sizeof(err)), MD_OK);
    t.n = 0;
    assert_int_equal(md_json_scan(&t, "[1,2,3]", 7, NULL, err, sizeof(err)), MD_ETOOBIG);
    assert_string_equal(err, "too big JSON at byte 5: too many tokens");
    assert_int_equal(t.n, 0);
    t.n = 0;
    assert_int_equal(md_json_scan(&t, "{\"a\":1,\"b\":2}", 13, NULL, err, sizeof(err)),
                     MD_ETOOBIG);
    md_json_toks_free(&t);

    /* Growth past the first allocation keeps earlier tokens intact. */
    md_json_toks_init(&t, 0);
    char big[4001];
    big[0] = '[';
    for (int i = 0; i < 1000; i++)
        memcpy(big + 1 + 4 * i, "\"a\",", 4);
    big[4000] = ']';
    assert_int_equal(md_json_scan(&t, big, 4001, NULL, err, sizeof(err)), MD_OK);
    assert_int_equal(t.n, 1001);
    assert_int_equal(t.v[0].count, 1000);
    assert_int_equal(t.v[0].next, 1001);
    assert_int_equal(t.v[1000].off, 3997);
    md_json_toks_free(&t);
}

/* Scans doc into t and returns the root. */
static uint32_t must_scan(md_json_toks_t *t, const char *doc)
{
    char err[128];
    uint32_t root;
    md_json_toks_init(t, 0);
    if (md_json_scan(t, doc, strlen(doc), &root, err, sizeof(err)) != MD_OK)
        fail_msg("scan %s: %s", doc, err);
    return root;
}

static void member_lookup(void **state)
{
    (void)state;
    md_json_toks_t t;
    const char *doc = "{\"a\":1,\"\\u0069d\":\"x\",\"a\":[2],\"n\":{\"a\":3}}";
    must_scan(&t, doc);
    /* Tokens: 0 obj, 1 "a", 2 1, 3 "\u0069d", 4 "x", 5 "a", 6 [ 7 2, 8 "n", 9 { 10 "a" 11 3 */
    assert_int_equal(md_json_member(doc, t.v, 0, "a", 1), 6); /* the last "a" */
    assert_int_equal(md_json_member(doc, t.v, 0, "id", 2), 4);
    assert_int_equal(md_json_member(doc, t.v, 0, "i", 1), MD_JSON_NONE);
    assert_int_equal(md_json_member(doc, t.v, 0, "zz", 2), MD_JSON_NONE);
    assert_int_equal(md_json_member(doc, t.v, 9, "a", 1), 11);
    assert_int_equal(md_json_member(doc, t.v, 6, "a", 1), MD_JSON_NONE); /* not an object */
    md_json_toks_free(&t);
}

static void string_equality_and_order_use_decoded_bytes(void **state)
{
    (void)state;
    md_json_toks_t t;
    const char *doc = "[\"abc\",\"abd\",\"ab\",\"\\u0061bc\",\"\\u00e9\",\"z\",\"a\\/b\","
                      "\"\\ud83d\\ude00\",\"\\\"\\\\\\b\\f\\n\\r\\t\"]";
    must_scan(&t, doc);
    const md_json_tok_t *v = t.v;
    assert_true(md_json_str_compare(doc, &v[1], doc, &v[2]) < 0);  /* abc < abd */
    assert_true(md_json_str_compare(doc, &v[2], doc, &v[1]) > 0);
    assert_true(md_json_str_compare(doc, &v[3], doc, &v[1]) < 0);  /* ab < abc */
    assert_int_equal(md_json_str_compare(doc, &v[4], doc, &v[1]), 0); /* \u0061bc == abc */
    assert_int_equal(md_json_str_compare(doc, &v[1], doc, &v[4]), 0);
    assert_true(md_json_str_compare(doc, &v[5], doc, &v[6]) > 0);  /* C3 A9 > 'z' */
    assert_true(md_json_str_compare(doc, &v[6], doc, &v[5]) < 0);
    assert_true(md_json_str_equal(doc, &v[4], "abc", 3));
    assert_false(md_json_str_equal(doc, &v[4], "ab", 2));
    assert_false(md_json_str_equal(doc, &v[4], "abcd", 4));
    assert_true(md_json_str_equal(doc, &v[5], "\xc3\xa9", 2));
    assert_true(md_json_str_equal(doc, &v[7], "a/b", 3));
    assert_true(md_json_str_equal(doc, &v[8], "\xf0\x9f\x98\x80", 4));
    assert_true(md_json_str_equal(doc, &v[9], "\"\\\b\f\n\r\t", 7));
    assert_false(md_json_str_equal(doc, &v[0], "", 0)); /* the array is no string */
    md_json_toks_free(&t);
}

static void hashes_agree_on_decoded_names(void **state)
{
    (void)state;
    md_json_toks_t t;
    const char *doc = "[\"id\",\"\\u0069d\",\"\\u00e9\",\"ie\"]";
    must_scan(&t, doc);
    uint64_t plain = md_json_hash_bytes("id", 2, 42);
    assert_true(md_json_str_hash(doc, &t.v[1], 42) == plain);
    assert_true(md_json_str_hash(doc, &t.v[2], 42) == plain);
    assert_true(md_json_str_hash(doc, &t.v[3], 42) == md_json_hash_bytes("\xc3\xa9", 2, 42));
    /* Different names and different seeds give different hashes (for
     * these inputs; a 64-bit hash makes a clash here vanishingly rare). */
    assert_true(md_json_str_hash(doc, &t.v[4], 42) != plain);
    assert_true(md_json_hash_bytes("id", 2, 43) != plain);
    md_json_toks_free(&t);
}

static void numbers_convert(void **state)
{
    (void)state;
    md_json_toks_t t;
    char doc[300] = "[-12.5e1,0,1e400,17.5,";
    size_t n = strlen(doc);
    doc[n++] = '1';
    memset(doc + n, '0', 100); /* 1e100 written out: longer than the stack copy */
    n += 100;
    doc[n++] = ']';
    doc[n] = '\0';
    must_scan(&t, doc);
    assert_true(md_json_number(doc, &t.v[1]) == -125.0);
    assert_true(md_json_number(doc, &t.v[2]) == 0.0);
    assert_true(isinf(md_json_number(doc, &t.v[3])));
    assert_true(md_json_number(doc, &t.v[4]) == 17.5);
    assert_true(md_json_number(doc, &t.v[5]) == 1e100);
    md_json_toks_free(&t);
}

static void utf8_sequence_lengths(void **state)
{
    (void)state;
    assert_int_equal(md_json_utf8_seq("a", 1), 1);
    assert_int_equal(md_json_utf8_seq("\xc3\xa9", 2), 2);
    assert_int_equal(md_json_utf8_seq("\xe6\x97\xa5", 3), 3);
    assert_int_equal(md_json_utf8_seq("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(md_json_utf8_seq("\xf0\x9f\x98", 3), 0);    /* truncated */
    assert_int_equal(md_json_utf8_seq("\xc1\xbf", 2), 0);        /* overlong */
    assert_int_equal(md_json_utf8_seq("\xf0\x8f\xbf\xbf", 4), 0); /* overlong */
    assert_int_equal(md_json_utf8_seq("\xed\xbf\xbf", 3), 0);    /* surrogate */
    assert_int_equal(md_json_utf8_seq("\xee\x80\x80", 3), 3);    /* U+E000 */
    assert_int_equal(md_json_utf8_seq("\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(md_json_utf8_seq("\xbf", 1), 0);
    assert_int_equal(md_json_utf8_seq("", 0), 0);
}

static void *thread_scratch(void *arg)
{
    md_json_toks_t **out = arg;
    md_json_toks_t *t = md_json_scratch();
    t->n = 0;
    char err[64];
    if (md_json_scan(t, "[1,2,3]", 7, NULL, err, sizeof(err)) != MD_OK)
        return NULL;
    *out = t; /* freed by the thread-exit destructor (valgrind checks) */
    return t;
}

static void scratch_is_per_thread(void **state)
{
    (void)state;
    md_json_toks_t *mine = md_json_scratch();
    assert_ptr_equal(md_json_scratch(), mine);
    assert_int_equal(mine->max, MD_JSON_MAX_TOKENS);
    md_json_toks_t *other = NULL;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thread_scratch, &other), 0);
    void *ret;
    pthread_join(th, &ret);
    assert_non_null(ret);
    assert_ptr_not_equal(other, mine);

    /* Trimming keeps a normal-sized array and drops a huge one. */
    char err[64];
    mine->n = 0;
    assert_int_equal(md_json_scan(mine, "[1]", 3, NULL, err, sizeof(err)), MD_OK);
    md_json_scratch_trim();
    assert_non_null(mine->v);
    mine->n = 0;
    size_t k = MD_JSON_SCRATCH_KEEP, big = 2 * k + 3; /* [0,0,...,0]: k + 2 tokens */
    char *doc = malloc(big);
    doc[0] = '[';
    for (size_t i = 0; i < k; i++)
        memcpy(doc + 1 + 2 * i, "0,", 2);
    doc[1 + 2 * k] = '0';
    doc[2 + 2 * k] = ']';
    assert_int_equal(md_json_scan(mine, doc, big, NULL, err, sizeof(err)), MD_OK);
    assert_true(mine->cap > MD_JSON_SCRATCH_KEEP);
    md_json_scratch_trim();
    assert_null(mine->v);
    assert_int_equal(mine->cap, 0);
    free(doc);
    md_json_scratch_release();
    md_json_scratch_release(); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_valid_documents),
        cmocka_unit_test(rejects_invalid_documents_with_offset),
        cmocka_unit_test(depth_limit_stops_bombs),
        cmocka_unit_test(string_fast_path_finds_every_position),
        cmocka_unit_test(token_layout),
        cmocka_unit_test(flags_mark_escapes_and_whitespace),
        cmocka_unit_test(token_cap_is_too_big),
        cmocka_unit_test(member_lookup),
        cmocka_unit_test(string_equality_and_order_use_decoded_bytes),
        cmocka_unit_test(hashes_agree_on_decoded_names),
        cmocka_unit_test(numbers_convert),
        cmocka_unit_test(utf8_sequence_lengths),
        cmocka_unit_test(scratch_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
