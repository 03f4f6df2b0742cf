/*
 * Unit tests for cache/policy: Cache-Control parsing (RFC 9111 5.2, RFC
 * 5861) including hostile values, the shared-cache TTL, ETags and
 * If-None-Match (RFC 9110 13.1.2), the composed Cache-Control, and RFC 9211
 * Cache-Status members. Every expected string is written from the specs.
 */
#include "testutil.h"

#include "cache/policy.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"

#include <stdint.h>
#include <stdio.h>

#define TEN_YEARS 315360000 /* 10 * 365 * 86400 seconds */

static md_cc_t cc_of(const char *v)
{
    md_cc_t cc;
    md_cc_init(&cc);
    md_cc_parse(&cc, v, strlen(v));
    return cc;
}

static void assert_nothing_set(const md_cc_t *cc)
{
    assert_int_equal(cc->max_age, -1);
    assert_int_equal(cc->s_maxage, -1);
    assert_int_equal(cc->stale_while_revalidate, -1);
    assert_int_equal(cc->stale_if_error, -1);
    assert_false(cc->no_store);
    assert_false(cc->no_cache);
    assert_false(cc->private_);
    assert_false(cc->public_);
    assert_false(cc->must_revalidate);
}

/* ---- Cache-Control -------------------------------------------------------- */

static void cc_init_sets_everything_absent(void **state)
{
    (void)state;
    md_cc_t cc;
    memset(&cc, 0x5a, sizeof(cc));
    md_cc_init(&cc);
    assert_nothing_set(&cc);
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
}

static void cc_reads_every_directive(void **state)
{
    (void)state;
    md_cc_t cc = cc_of("public, max-age=600, s-maxage=300, stale-while-revalidate=30, stale-if-error=86400, "
                       "must-revalidate");
    assert_true(cc.public_);
    assert_int_equal(cc.max_age, 600);
    assert_int_equal(cc.s_maxage, 300);
    assert_int_equal(cc.stale_while_revalidate, 30);
    assert_int_equal(cc.stale_if_error, 86400);
    assert_true(cc.must_revalidate);
    assert_false(cc.no_store);
    assert_false(cc.no_cache);
    assert_false(cc.private_);

    cc = cc_of("no-store, no-cache, private");
    assert_true(cc.no_store);
    assert_true(cc.no_cache);
    assert_true(cc.private_);
    assert_int_equal(cc.max_age, -1);

    cc = cc_of("proxy-revalidate"); /* must-revalidate for shared caches */
    assert_true(cc.must_revalidate);
}

static void cc_ignores_case_and_whitespace(void **state)
{
    (void)state;
    md_cc_t cc = cc_of("  Max-Age = 60 ,\tS-MAXAGE=120\t, PUBLIC ,No-Store  ");
    assert_int_equal(cc.max_age, 60);
    assert_int_equal(cc.s_maxage, 120);
    assert_true(cc.public_);
    assert_true(cc.no_store);

    cc = cc_of(",, ,max-age=5,,"); /* empty list elements are allowed */
    assert_int_equal(cc.max_age, 5);
}

static void cc_accepts_quoted_values(void **state)
{
    (void)state;
    md_cc_t cc = cc_of("max-age=\"30\", stale-while-revalidate=\"15\"");
    assert_int_equal(cc.max_age, 30);
    assert_int_equal(cc.stale_while_revalidate, 15);

    /* Commas and directives inside an unknown quoted value are not split. */
    cc = cc_of("foo=\"a, max-age=5, no-store\", max-age=7");
    assert_int_equal(cc.max_age, 7);
    assert_false(cc.no_store);

    /* An escaped quote does not end the quoted-string. */
    cc = cc_of("ext=\"x\\\", max-age=1\", max-age=9");
    assert_int_equal(cc.max_age, 9);

    /* Unknown directives, with and without values, are skipped. */
    cc = cc_of("immutable, community=\"UCI\", x-ext=token, max-age=3");
    assert_int_equal(cc.max_age, 3);
    assert_false(cc.public_);
}

static void cc_malformed_delta_seconds_are_absent(void **state)
{
    (void)state;
    const char *bad[] = { "max-age=abc", "max-age=-1", "max-age=1.5", "max-age=", "max-age", "max-age=5 6",
                          "max-age=\"5", "max-age=5junk", "max-age=\"\"", "max-age=\"5\\\"\"", "max-age=+5",
                          "max-age=5;x", "max-age==5", "max-age=\"5\"x" };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_cc_t cc = cc_of(bad[i]);
        if (cc.max_age != -1)
            fail_msg("'%s' gave max_age %lld", bad[i], (long long)cc.max_age);
        assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    }
    /* A malformed element does not spoil the next one. */
    md_cc_t cc = cc_of("=5, max-age=3");
    assert_int_equal(cc.max_age, 3);
    cc = cc_of("\"max-age=4\", max-age=8");
    assert_int_equal(cc.max_age, 8);
    cc = cc_of("max-age=x, s-maxage=11");
    assert_int_equal(cc.max_age, -1);
    assert_int_equal(cc.s_maxage, 11);
}

static void cc_caps_huge_values_at_ten_years(void **state)
{
    (void)state;
    assert_int_equal(cc_of("max-age=315359999").max_age, TEN_YEARS - 1);
    assert_int_equal(cc_of("max-age=315360000").max_age, TEN_YEARS);
    assert_int_equal(cc_of("max-age=315360001").max_age, TEN_YEARS);
    assert_int_equal(cc_of("max-age=9223372036854775807").max_age, TEN_YEARS);  /* INT64_MAX */
    assert_int_equal(cc_of("max-age=9223372036854775808").max_age, TEN_YEARS);  /* one past it */
    assert_int_equal(cc_of("s-maxage=99999999999999999999999999999999999999").s_maxage, TEN_YEARS);
    assert_int_equal(cc_of("stale-if-error=\"18446744073709551616\"").stale_if_error, TEN_YEARS);
    assert_int_equal(cc_of("max-age=000000000000000000000000000042").max_age, 42);
    md_cc_t cc = cc_of("max-age=99999999999999999999");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), (uint64_t)TEN_YEARS * 1000);
}

static void cc_first_value_wins_and_headers_accumulate(void **state)
{
    (void)state;
    assert_int_equal(cc_of("max-age=10, max-age=20").max_age, 10);
    assert_int_equal(cc_of("max-age=abc, max-age=20").max_age, 20);

    md_cc_t cc;
    md_cc_init(&cc);
    md_cc_parse(&cc, "max-age=10", 10);
    md_cc_parse(&cc, "no-store", 8);
    md_cc_parse(&cc, "max-age=99, stale-if-error=5", 28);
    assert_int_equal(cc.max_age, 10);
    assert_int_equal(cc.stale_if_error, 5);
    assert_true(cc.no_store);
}

static void cc_restrictions_fail_safe(void **state)
{
    (void)state;
    /* Directives that forbid storing count even in a malformed element... */
    md_cc_t cc = cc_of("no-store junk, max-age=60");
    assert_true(cc.no_store);
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    assert_true(cc_of("private junk").private_);
    assert_true(cc_of("no-cache=\"unterminated").no_cache);
    /* ...and their qualified forms count as unqualified. */
    cc = cc_of("no-cache=\"Set-Cookie\", max-age=60");
    assert_true(cc.no_cache);
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("private=\"X-User\", s-maxage=60");
    assert_true(cc.private_);
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    /* A malformed `public` allows nothing. */
    assert_false(cc_of("public junk").public_);
}

static void cc_survives_hostile_values(void **state)
{
    (void)state;
    /* 1000 commas before the directive. */
    size_t n = 1000 + 9;
    char *v = md_malloc(n + 1);
    memset(v, ',', 1000);
    memcpy(v + 1000, "max-age=5", 9);
    md_cc_t cc;
    md_cc_init(&cc);
    md_cc_parse(&cc, v, n);
    assert_int_equal(cc.max_age, 5);
    md_free(v);

    /* A megabyte of digits saturates instead of overflowing. */
    n = 8 + (1u << 20);
    v = md_malloc(n);
    memcpy(v, "max-age=", 8);
    memset(v + 8, '9', n - 8);
    md_cc_init(&cc);
    md_cc_parse(&cc, v, n);
    assert_int_equal(cc.max_age, TEN_YEARS);

    /* An unterminated quote running to the end of a long value. */
    memcpy(v, "foo=\"   ", 8);
    md_cc_init(&cc);
    md_cc_parse(&cc, v, n);
    assert_nothing_set(&cc);

    /* Backslashes, quotes and commas in every arrangement. */
    for (size_t i = 0; i < n; i++)
        v[i] = "\\\",= a"[i % 6];
    md_cc_init(&cc);
    md_cc_parse(&cc, v, n);
    assert_nothing_set(&cc);
    md_free(v);

    /* NUL bytes are data: "max-age=5\0" is malformed, no-store still counts. */
    md_cc_init(&cc);
    md_cc_parse(&cc, "max-age=5\0, no-store", 20);
    assert_int_equal(cc.max_age, -1);
    assert_true(cc.no_store);

    /* The length is respected: nothing after it is read. */
    md_cc_init(&cc);
    md_cc_parse(&cc, "max-age=12345", 9);
    assert_int_equal(cc.max_age, 1);

    md_cc_init(&cc);
    md_cc_parse(&cc, NULL, 0);
    md_cc_parse(&cc, "", 0);
    md_cc_parse(&cc, "\xff\xfe garbage \x01", 12);
    assert_nothing_set(&cc);
}

static void shared_ttl_follows_rfc9111(void **state)
{
    (void)state;
    md_cc_t cc = cc_of("max-age=60");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 60000);
    cc = cc_of("max-age=60, s-maxage=5"); /* s-maxage wins for a shared cache */
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 5000);
    cc = cc_of("s-maxage=0, max-age=60");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("max-age=0");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("public"); /* nothing said about freshness */
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("stale-while-revalidate=30");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("no-store, max-age=60");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("private, max-age=60");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("no-cache, max-age=60");
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 0);
    cc = cc_of("must-revalidate, max-age=60"); /* may be stored; only stale use is limited */
    assert_int_equal(md_cc_shared_ttl_ms(&cc), 60000);
}

/* ---- ETags ---------------------------------------------------------------- */

static void etag_is_sixteen_lowercase_hex_digits_in_quotes(void **state)
{
    (void)state;
    char out[19];
    out[18] = '#';
    md_etag_format(0, out);
    assert_memory_equal(out, "\"0000000000000000\"", 18);
    assert_int_equal(out[18], '#'); /* exactly 18 bytes, no NUL */
    md_etag_format(0x0123456789abcdefULL, out);
    assert_memory_equal(out, "\"0123456789abcdef\"", 18);
    md_etag_format(UINT64_MAX, out);
    assert_memory_equal(out, "\"ffffffffffffffff\"", 18);
    md_etag_format(0xA, out);
    assert_memory_equal(out, "\"000000000000000a\"", 18);
}

#define TAG "\"0123456789abcdef\""

static bool inm(const char *v)
{
    return md_etag_match(v, strlen(v), TAG, 18);
}

static void if_none_match_uses_weak_comparison(void **state)
{
    (void)state;
    assert_true(inm(TAG));
    assert_true(inm("W/" TAG));
    assert_true(inm("\"x\", " TAG));
    assert_true(inm("\"x\"," TAG ",\"y\""));
    assert_true(inm("  \t" TAG "\t "));
    assert_false(inm("\"x\", \"y\""));
    assert_false(inm("\"0123456789abcde\""));   /* a prefix */
    assert_false(inm("\"0123456789ABCDEF\""));  /* opaque-tags compare exactly */
    assert_false(inm(""));
    assert_false(inm("   "));
    /* Our own weak tag matches its strong twin. */
    assert_true(md_etag_match("\"abc\"", 5, "W/\"abc\"", 7));
    assert_true(md_etag_match("W/\"abc\"", 7, "W/\"abc\"", 7));
    /* A comma is a valid etagc. */
    assert_true(md_etag_match("\"x\", \"a,b\"", 10, "\"a,b\"", 5));
}

static void if_none_match_star(void **state)
{
    (void)state;
    assert_true(inm("*"));
    assert_true(inm("  *\t"));
    assert_false(inm("*, \"x\""));   /* "*" is only valid alone */
    assert_false(inm("**"));
    assert_false(md_etag_match("*", 1, "", 0)); /* no current representation */
    assert_false(md_etag_match("*", 1, NULL, 0));
    assert_false(md_etag_match(NULL, 0, TAG, 18));
}

static void if_none_match_malformed_entries_match_nothing(void **state)
{
    (void)state;
    assert_false(inm("0123456789abcdef"));               /* unquoted */
    assert_false(inm("\"0123456789abcdef"));             /* unterminated */
    assert_false(inm(TAG "junk"));
    assert_false(inm("w/" TAG));                          /* the weak prefix is case-sensitive */
    assert_false(inm("W/ " TAG));
    assert_false(inm("\"0123456789 abcdef\""));           /* space is not an etagc */
    /* ...but the well-formed entries of the list are still compared. */
    assert_true(inm("abc, " TAG));
    assert_true(inm("\"a b\", " TAG));
    assert_true(inm("W/, *, " TAG));
    assert_true(inm("\"x\"y, " TAG));
    /* The length is respected. */
    assert_false(md_etag_match(TAG, 17, TAG, 18));
}

static void if_none_match_survives_hostile_lists(void **state)
{
    (void)state;
    size_t n = 100000;
    char *v = md_malloc(n + 19);
    memset(v, ',', n);
    memcpy(v + n, TAG, 18);
    v[n + 18] = '\0';
    assert_true(inm(v));
    /* A thousand entries, none of them ours. */
    md_buf_t b;
    md_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(md_buf_printf(&b, "%s\"%016x\"", i ? ", " : "", i), MD_OK);
    assert_false(inm(b.data));
    md_buf_free(&b);
    for (size_t i = 0; i < n; i++)
        v[i] = "W/\",* "[i % 6];
    assert_false(md_etag_match(v, n, TAG, 18));
    md_free(v);
}

/* ---- composed Cache-Control ----------------------------------------------- */

static void expect_compose(bool incomplete, bool all_cached, uint64_t ttl, bool personal, const char *want)
{
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_cc_compose(incomplete, all_cached, ttl, personal, &b), MD_OK);
    assert_string_equal(b.data, want);
    md_buf_free(&b);
}

static void compose_states_what_may_be_reused(void **state)
{
    (void)state;
    expect_compose(true, true, 30, false, "no-store");
    expect_compose(true, false, 30, true, "no-store");
    expect_compose(false, false, 30, false, "no-cache");
    expect_compose(false, false, 30, true, "no-cache, private");
    expect_compose(false, true, 30, false, "public, max-age=30");
    expect_compose(false, true, 30, true, "private, max-age=30");
    expect_compose(false, true, 0, false, "public, max-age=0");
    expect_compose(false, true, UINT64_MAX, false, "public, max-age=315360000");
}

static void compose_appends_and_respects_the_cap(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 12);
    assert_int_equal(md_buf_append_str(&b, "x="), MD_OK);
    assert_int_equal(md_cc_compose(true, false, 0, false, &b), MD_OK);
    assert_string_equal(b.data, "x=no-store");
    assert_int_equal(md_cc_compose(false, true, 5, false, &b), MD_ETOOBIG);
    assert_string_equal(b.data, "x=no-store");
    md_buf_free(&b);
}

/* ---- Cache-Status ---------------------------------------------------------- */

static void expect_status(const char *name, md_cs_outcome_t o, int64_t ttl, int fwd, bool stored, const char *want)
{
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_cache_status_append(&b, name, o, ttl, fwd, stored), MD_OK);
    assert_string_equal(b.data, want);
    md_buf_free(&b);
}

static void cache_status_members_per_outcome(void **state)
{
    (void)state;
    expect_status("news", MD_CS_HIT, 30, 0, false, "news; hit; ttl=30");
    expect_status("news", MD_CS_HIT, 30, 200, true, "news; hit; ttl=30"); /* fwd/stored do not apply */
    expect_status("news", MD_CS_STALE, -12, 0, false, "news; hit; ttl=-12; detail=stale-while-revalidate");
    expect_status("news", MD_CS_MISS, 0, 200, true, "news; fwd=miss; stored");
    expect_status("news", MD_CS_MISS, 0, 200, false, "news; fwd=miss");
    expect_status("news", MD_CS_COALESCED, 9, 0, false, "news; fwd=miss; collapsed");
    expect_status("news", MD_CS_STALE_IF_ERROR, -40, 503, false,
                  "news; fwd=stale; fwd-status=503; ttl=-40; detail=stale-if-error");
    expect_status("news", MD_CS_STALE_IF_ERROR, -40, 0, false, "news; fwd=stale; ttl=-40; detail=stale-if-error");
    expect_status("news", MD_CS_STALE_IF_ERROR, -1, 42, false, "news; fwd=stale; ttl=-1; detail=stale-if-error");
    expect_status("news", MD_CS_STALE_IF_ERROR, 0, 1000, false, "news; fwd=stale; ttl=0; detail=stale-if-error");
    expect_status("news", MD_CS_REDIS_HIT, 5, 0, true, "news; hit; ttl=5; detail=redis");
    expect_status("news", MD_CS_BYPASS, 5, 200, true, "news; fwd=bypass");
}

static void cache_status_builds_a_list(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_cache_status_append(&b, "medley.news", MD_CS_HIT, 30, 0, false), MD_OK);
    assert_int_equal(md_cache_status_append(&b, "medley.hr", MD_CS_MISS, 0, 200, true), MD_OK);
    assert_int_equal(md_cache_status_append(&b, "medley.cards", MD_CS_BYPASS, 0, 0, false), MD_OK);
    assert_string_equal(b.data, "medley.news; hit; ttl=30, medley.hr; fwd=miss; stored, medley.cards; fwd=bypass");
    md_buf_free(&b);
}

static void cache_status_names_are_sf_tokens(void **state)
{
    (void)state;
    expect_status("my cache!", MD_CS_BYPASS, 0, 0, false, "my_cache_; fwd=bypass");
    expect_status("Az09_.:/-", MD_CS_BYPASS, 0, 0, false, "Az09_.:/-; fwd=bypass");
    expect_status("a,b;c=d\"e", MD_CS_BYPASS, 0, 0, false, "a_b_c_d_e; fwd=bypass");
    expect_status("caf\xc3\xa9", MD_CS_BYPASS, 0, 0, false, "caf__; fwd=bypass");
    expect_status("1st", MD_CS_BYPASS, 0, 0, false, "x1st; fwd=bypass");
    expect_status("_x", MD_CS_BYPASS, 0, 0, false, "x_x; fwd=bypass");
    expect_status("", MD_CS_BYPASS, 0, 0, false, "medley; fwd=bypass");
    expect_status(NULL, MD_CS_BYPASS, 0, 0, false, "medley; fwd=bypass");

    char longname[301], want[160];
    memset(longname, 'a', 300);
    longname[300] = '\0';
    memset(want, 'a', 128);
    strcpy(want + 128, "; fwd=bypass");
    expect_status(longname, MD_CS_BYPASS, 0, 0, false, want);
}

static void cache_status_ttl_fits_an_sf_integer(void **state)
{
    (void)state;
    expect_status("m", MD_CS_HIT, INT64_MAX, 0, false, "m; hit; ttl=999999999999999");
    expect_status("m", MD_CS_HIT, INT64_MIN, 0, false, "m; hit; ttl=-999999999999999");
    expect_status("m", MD_CS_HIT, 999999999999999LL, 0, false, "m; hit; ttl=999999999999999");
    expect_status("m", MD_CS_HIT, 0, 0, false, "m; hit; ttl=0");
}

static void cache_status_errors_leave_out_unchanged(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 24);
    assert_int_equal(md_cache_status_append(&b, "a", MD_CS_HIT, 1, 0, false), MD_OK);
    assert_string_equal(b.data, "a; hit; ttl=1");
    assert_int_equal(md_cache_status_append(&b, "b", MD_CS_STALE, -1, 0, false), MD_ETOOBIG);
    assert_string_equal(b.data, "a; hit; ttl=1");
    assert_int_equal(md_cache_status_append(&b, "c", (md_cs_outcome_t)99, 1, 0, false), MD_EINVAL);
    assert_int_equal(md_cache_status_append(&b, "c", (md_cs_outcome_t)-1, 1, 0, false), MD_EINVAL);
    assert_string_equal(b.data, "a; hit; ttl=1");
    md_buf_free(&b);
}

static void outcome_names(void **state)
{
    (void)state;
    assert_string_equal(md_cs_outcome_name(MD_CS_HIT), "hit");
    assert_string_equal(md_cs_outcome_name(MD_CS_STALE), "stale");
    assert_string_equal(md_cs_outcome_name(MD_CS_MISS), "miss");
    assert_string_equal(md_cs_outcome_name(MD_CS_COALESCED), "coalesced");
    assert_string_equal(md_cs_outcome_name(MD_CS_STALE_IF_ERROR), "stale_if_error");
    assert_string_equal(md_cs_outcome_name(MD_CS_REDIS_HIT), "redis_hit");
    assert_string_equal(md_cs_outcome_name(MD_CS_BYPASS), "bypass");
    assert_string_equal(md_cs_outcome_name((md_cs_outcome_t)42), "unknown");
    assert_string_equal(md_cs_outcome_name((md_cs_outcome_t)-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cc_init_sets_everything_absent),
        cmocka_unit_test(cc_reads_every_directive),
        cmocka_unit_test(cc_ignores_case_and_whitespace),
        cmocka_unit_test(cc_accepts_quoted_values),
        cmocka_unit_test(cc_malformed_delta_seconds_are_absent),
        cmocka_unit_test(cc_caps_huge_values_at_ten_years),
        cmocka_unit_test(cc_first_value_wins_and_headers_accumulate),
        cmocka_unit_test(cc_restrictions_fail_safe),
        cmocka_unit_test(cc_survives_hostile_values),
        cmocka_unit_test(shared_ttl_follows_rfc9111),
        cmocka_unit_test(etag_is_sixteen_lowercase_hex_digits_in_quotes),
        cmocka_unit_test(if_none_match_uses_weak_comparison),
        cmocka_unit_test(if_none_match_star),
        cmocka_unit_test(if_none_match_malformed_entries_match_nothing),
        cmocka_unit_test(if_none_match_survives_hostile_lists),
        cmocka_unit_test(compose_states_what_may_be_reused),
        cmocka_unit_test(compose_appends_and_respects_the_cap),
        cmocka_unit_test(cache_status_members_per_outcome),
        cmocka_unit_test(cache_status_builds_a_list),
        cmocka_unit_test(cache_status_names_are_sf_tokens),
        cmocka_unit_test(cache_status_ttl_fits_an_sf_integer),
        cmocka_unit_test(cache_status_errors_leave_out_unchanged),
        cmocka_unit_test(outcome_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
