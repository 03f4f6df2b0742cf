/*
 * Unit tests for core/buf (bounded growth) and core/pool (region allocator).
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"

static void buf_appends_and_stays_terminated(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_buf_append_str(&b, "hello"), MD_OK);
    assert_int_equal(md_buf_printf(&b, " %d-%s", 42, "x"), MD_OK);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "hello 42-x");
    md_buf_consume(&b, 6);
    assert_string_equal(b.data, "42-x");
    md_buf_free(&b);
}

static void buf_refuses_to_pass_its_cap(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 8);
    assert_int_equal(md_buf_append(&b, "12345678", 8), MD_OK);
    assert_int_equal(md_buf_append(&b, "9", 1), MD_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_int_equal(md_buf_printf(&b, "%s", "x"), MD_ETOOBIG);
    assert_memory_equal(b.data, "12345678", 8);
    md_buf_free(&b);
}

static int cleaned;
static void count_cleanup(void *arg) { cleaned += *(int *)arg; }

static void pool_allocations_are_aligned_and_distinct(void **state)
{
    (void)state;
    md_pool_t *p = md_pool_new(256);
    char *a = md_pool_alloc(p, 3);
    char *b = md_pool_alloc(p, 40);      /* same chunk as a */
    char *c = md_pool_alloc(p, 100);     /* over a quarter chunk: its own block */
    char *big = md_pool_alloc(p, 10000); /* larger than a chunk */
    memset(big, 'x', 10000);
    memset(c, 'y', 100);
    memset(b, 'z', 40);
    memset(a, 'w', 3);
    assert_int_equal((uintptr_t)a % 16, 0);
    assert_int_equal((uintptr_t)b % 16, 0);
    assert_int_equal((uintptr_t)c % 16, 0);
    assert_true(b >= a + 3);           /* bump allocation within a chunk */
    assert_int_equal(c[99], 'y');      /* writes did not overlap */
    assert_int_equal(big[0], 'x');
    char *s = md_pool_strndup(p, "abcdef", 3);
    assert_string_equal(s, "abc");
    assert_true(md_pool_used(p) >= 10000);
    md_pool_destroy(p);
}

static void pool_runs_cleanups_on_reset_in_reverse(void **state)
{
    (void)state;
    md_pool_t *p = md_pool_new(0);
    int one = 1, ten = 10;
    cleaned = 0;
    md_pool_on_release(p, count_cleanup, &one);
    md_pool_on_release(p, count_cleanup, &ten);
    md_pool_reset(p);
    assert_int_equal(cleaned, 11);
    assert_int_equal(md_pool_used(p), 0);
    md_pool_reset(p); /* cleanups ran once only */
    assert_int_equal(cleaned, 11);
    md_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_appends_and_stays_terminated),
        cmocka_unit_test(buf_refuses_to_pass_its_cap),
        cmocka_unit_test(pool_allocations_are_aligned_and_distinct),
        cmocka_unit_test(pool_runs_cleanups_on_reset_in_reverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
