/*
 * hash.c - md_hash64 (contract in hash.h).
 */
#include "core/hash.h"

#include <string.h>

#define K1 0x9e3779b97f4a7c15ull
#define K2 0xbf58476d1ce4e5b9ull
#define K3 0x94d049bb133111ebull

/* Avalanche: every input bit flips about half of the output bits. */
static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= K2;
    x ^= x >> 27;
    x *= K3;
    x ^= x >> 31;
    return x;
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t md_hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * K1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = (h ^ mix(load64(s + i) + K1)) * K2 + K3;
    uint64_t tail = 0;
    for (size_t j = n; j > i; j--)
        tail = (tail << 8) | s[j - 1];
    h ^= mix(tail ^ ((uint64_t)(n - i) << 56) ^ K3);
    return mix(h);
}
