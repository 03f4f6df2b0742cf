#include "testutil.h"

#include "core/hash.h"

#include <stdio.h>
#include <string.h>

/* Same input, same hash; any one-byte change, or a length change, gives
 * another hash. */
static void test_hash_deterministic_and_sensitive(void **state)
{
    (void)state;
    char a[64];
    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = (char)('a' + i % 26);
    for (size_t n = 0; n <= sizeof(a); n++) {
        uint64_t h = md_hash64(a, n, 0);
        assert_true(h == md_hash64(a, n, 0));
        if (n > 0)
            assert_true(h != md_hash64(a, n - 1, 0));
        for (size_t i = 0; i < n; i++) {
            a[i] ^= 1;
            assert_true(h != md_hash64(a, n, 0));
            a[i] ^= 1;
        }
    }
}

static void test_hash_seed_changes_result(void **state)
{
    (void)state;
    assert_true(md_hash64("key", 3, 1) != md_hash64("key", 3, 2));
    assert_true(md_hash64("", 0, 1) != md_hash64("", 0, 2));
}

/* Trailing zero bytes are not lost: "a" and "a\0" differ. */
static void test_hash_zero_bytes_count(void **state)
{
    (void)state;
    assert_true(md_hash64("a", 1, 0) != md_hash64("a\0", 2, 0));
    assert_true(md_hash64("\0\0\0\0\0\0\0\0", 8, 0) != md_hash64("\0\0\0\0\0\0\0\0\0", 9, 0));
}

/* Low bits spread: 4096 short keys land in 64 buckets within 2x of even. */
static void test_hash_spreads_low_bits(void **state)
{
    (void)state;
    unsigned counts[64] = { 0 };
    char k[32];
    for (int i = 0; i < 4096; i++) {
        int n = snprintf(k, sizeof(k), "user=%d", i);
        counts[md_hash64(k, (size_t)n, 0) & 63]++;
    }
    for (int b = 0; b < 64; b++) {
        assert_true(counts[b] > 32);
        assert_true(counts[b] < 128);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_deterministic_and_sensitive),
        cmocka_unit_test(test_hash_seed_changes_result),
        cmocka_unit_test(test_hash_zero_bytes_count),
        cmocka_unit_test(test_hash_spreads_low_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
