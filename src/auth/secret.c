/*
 * secret.c - SipHash-2-4, constant-time equality and kernel randomness
 * (contract in secret.h).
 */
#include "auth/secret.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "core/common.h"

typedef struct {
    uint64_t v0, v1, v2, v3;
} sip_state_t;

static inline uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

/* Little-endian load, so digests are the same on every platform; one
 * unaligned load where the CPU is little-endian already. */
static inline uint64_t load_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
#endif
}

static inline void sip_round(sip_state_t *s)
{
    s->v0 += s->v1;
    s->v1 = rotl64(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl64(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl64(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl64(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl64(s->v2, 32);
}

static inline void sip_compress(sip_state_t *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

/* Initialization and every message block, the last one carrying the length
 * in its top byte (the paper's padding). `wide` selects the 128-bit mode. */
static void sip_absorb(sip_state_t *s, const uint8_t key[16], const uint8_t *p, size_t n, bool wide)
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    s->v0 = k0 ^ 0x736f6d6570736575ull;
    s->v1 = k1 ^ 0x646f72616e646f6dull;
    s->v2 = k0 ^ 0x6c7967656e657261ull;
    s->v3 = k1 ^ 0x7465646279746573ull;
    if (wide)
        s->v1 ^= 0xee;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        sip_compress(s, load_le64(p + i));
    uint64_t last = (uint64_t)n << 56;
    for (size_t j = n - i; j > 0; j--)
        last |= (uint64_t)p[i + j - 1] << (8 * (j - 1));
    sip_compress(s, last);
}

static uint64_t sip_finish(sip_state_t *s)
{
    for (int r = 0; r < 4; r++)
        sip_round(s);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t md_siphash64(const uint8_t key[MD_SIPHASH_KEY_LEN], const void *data, size_t n)
{
    sip_state_t s;
    sip_absorb(&s, key, data, n, false);
    s.v2 ^= 0xff;
    return sip_finish(&s);
}

void md_siphash128(const uint8_t key[MD_SIPHASH_KEY_LEN], const void *data, size_t n, uint8_t out[16])
{
    sip_state_t s;
    sip_absorb(&s, key, data, n, true);
    s.v2 ^= 0xee;
    store_le64(out, sip_finish(&s));
    s.v1 ^= 0xdd;
    store_le64(out + 8, sip_finish(&s));
}

bool md_ct_equal(const void *a, const void *b, size_t n)
{
    /* volatile keeps the compiler from turning the OR-accumulation into an
     * early exit once diff becomes non-zero. */
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

int md_random_bytes(void *p, size_t n)
{
    uint8_t *o = p;
    while (n > 0) {
        ssize_t got = getrandom(o, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return MD_ERR;
        }
        o += got;
        n -= (size_t)got;
    }
    return MD_OK;
}
