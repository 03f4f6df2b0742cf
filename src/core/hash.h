/*
 * hash.h - a fast non-cryptographic 64-bit hash for cache keys, shard
 * selection and ETags.
 *
 * Eight bytes per step with a multiply-xorshift mix (our own, in the
 * family of the well-known 64-bit finalizers), so a 2 KB body hashes in
 * well under a microsecond. Not for secrets: never use it where an
 * attacker gains from a collision except as a hint (the cache compares
 * full keys; an ETag collision needs 2^32 versions of one resource).
 */
#ifndef MD_HASH_H
#define MD_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Hash of n bytes at p. Equal inputs and seeds give equal hashes on every
 * platform (bytes are read little-endian). */
uint64_t md_hash64(const void *p, size_t n, uint64_t seed);

#endif
