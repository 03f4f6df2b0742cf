/*
 * secret.h - small primitives for handling secrets, shared by the api-key,
 * basic-auth and rate-limit modules.
 *
 * - SipHash-2-4 (Aumasson and Bernstein), written here from the paper: a
 *   keyed pseudo-random function. With a random per-process key, equal
 *   digests mean equal inputs, and an attacker who does not know the key
 *   cannot steer inputs into one hash-table chain. 64- and 128-bit outputs.
 * - a constant-time equality whose running time depends only on the length.
 * - kernel randomness (getrandom) for those keys.
 *
 * None of this is a general cryptographic library: SipHash is a MAC/PRF, not
 * a password hash. It is used here to avoid keeping plain API keys in memory
 * and to compare fixed-length digests instead of variable-length secrets.
 */
#ifndef MD_AUTH_SECRET_H
#define MD_AUTH_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a SipHash key. */
#define MD_SIPHASH_KEY_LEN 16

/* SipHash-2-4 with a 64-bit output; key is 16 bytes (little-endian words,
 * as in the reference). Any n, including 0. */
uint64_t md_siphash64(const uint8_t key[MD_SIPHASH_KEY_LEN], const void *data, size_t n);

/* SipHash-2-4 with a 128-bit output, written to out[0..16) in the byte order
 * of the reference implementation. */
void md_siphash128(const uint8_t key[MD_SIPHASH_KEY_LEN], const void *data, size_t n, uint8_t out[16]);

/* True when a[0..n) == b[0..n). Reads every byte whatever the contents, with
 * no data-dependent branch, so the time reveals n and nothing else. */
bool md_ct_equal(const void *a, const void *b, size_t n);

/* Fills p[0..n) from the kernel's CSPRNG (getrandom). MD_OK or MD_ERR
 * (only if the kernel refuses, e.g. a seccomp filter). */
int md_random_bytes(void *p, size_t n);

#endif
