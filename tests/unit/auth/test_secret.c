/*
 * Unit tests for auth/secret: SipHash-2-4 against the reference vectors of
 * the SipHash paper (key 00..0f, message 00..(n-1)), constant-time equality
 * and kernel randomness.
 */
#include "testutil.h"

#include "auth/secret.h"
#include "core/common.h"

static const uint8_t key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t msg[15] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 };

static void siphash64_reference_vectors(void **state)
{
    (void)state;
    assert_true(md_siphash64(key, msg, 0) == 0x726fdb47dd0e0e31ull);
    /* The paper's worked example (appendix A): 15 bytes. */
    assert_true(md_siphash64(key, msg, 15) == 0xa129ca6149be45e5ull);
}

static void siphash128_reference_vectors(void **state)
{
    (void)state;
    static const uint8_t empty[16] = { 0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                       0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93 };
    static const uint8_t fifteen[16] = { 0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11,
                                         0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9 };
    uint8_t out[16];
    md_siphash128(key, msg, 0, out);
    assert_memory_equal(out, empty, 16);
    md_siphash128(key, msg, 15, out);
    assert_memory_equal(out, fifteen, 16);
}

static void siphash_depends_on_key_and_length(void **state)
{
    (void)state;
    uint8_t other[16];
    memcpy(other, key, 16);
    other[15] ^= 1;
    assert_true(md_siphash64(key, msg, 8) != md_siphash64(other, msg, 8));
    assert_true(md_siphash64(key, msg, 8) != md_siphash64(key, msg, 9));
}

static void ct_equal_compares_all_bytes(void **state)
{
    (void)state;
    assert_true(md_ct_equal("abcdef", "abcdef", 6));
    assert_false(md_ct_equal("abcdef", "abcdeg", 6));
    assert_false(md_ct_equal("xbcdef", "abcdef", 6));
    assert_true(md_ct_equal("a", "b", 0));
}

static void random_bytes_fill_the_buffer(void **state)
{
    (void)state;
    uint8_t a[64] = { 0 }, b[64] = { 0 }, zero[64] = { 0 };
    assert_int_equal(md_random_bytes(a, sizeof(a)), MD_OK);
    assert_int_equal(md_random_bytes(b, sizeof(b)), MD_OK);
    /* 2^-512 odds of a false failure. */
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(siphash64_reference_vectors),
        cmocka_unit_test(siphash128_reference_vectors),
        cmocka_unit_test(siphash_depends_on_key_and_length),
        cmocka_unit_test(ct_equal_compares_all_bytes),
        cmocka_unit_test(random_bytes_fill_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
