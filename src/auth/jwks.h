/*
 * jwks.h - JSON Web Key Sets (RFC 7517) of public signature keys, and the
 * JWS algorithm names (RFC 7518) medley verifies with them.
 *
 * A key set is parsed once from the issuer's JWKS document, then shared
 * read-only by every worker that verifies tokens (auth/jwt.h). It is
 * immutable and reference counted: md_jwks_slot_t holds the current set,
 * a background refresh installs a new one with md_jwks_slot_replace(),
 * and a worker that acquired the old set keeps using it safely until it
 * releases it; the last release frees it.
 *
 * What a document may hold (anything else is an error, so a broken JWKS
 * fetch keeps the previous set instead of installing garbage):
 *   - at most MD_JWKS_MAX_BYTES bytes of strict JSON (json/scan.h): an
 *     object with a "keys" array of at most MD_JWKS_MAX_KEYS objects; no
 *     object may repeat a member name;
 *   - kty "RSA" keys with n, e: the modulus odd, 2048..8192 bits (smaller
 *     keys are refused: they are forgeable or soon will be), e odd,
 *     3..2^32-1 (a larger e only slows verification); a leading zero
 *     octet in n or e is tolerated;
 *   - kty "EC" keys with crv "P-256" or "P-384" and x, y of exactly the
 *     curve's size (RFC 7518 6.2.1.2), a point on the curve;
 *   - optional "kid" (at most MD_JWKS_KID_MAX bytes), "alg" (which must fit
 *     the key type), "use", "key_ops"; other members (x5c, x5t, ...) are
 *     ignored.
 * Keys are SKIPPED, not refused, when they are not for us: unknown kty
 * (oct, OKP, ...), other curves, use other than "sig", key_ops without
 * "verify", an alg we do not verify (RSA-OAEP, HS256, ...). A document
 * left without any usable key is refused.
 *
 * Number members are base64url (auth/b64url.h, strict). Keys become
 * OpenSSL EVP_PKEYs built from their parameters (EVP_PKEY_fromdata); EC
 * keys must pass EVP_PKEY_public_check() (see jwks.c for why RSA keys
 * do not). Parsing costs about 0.1 ms per key.
 */
#ifndef MD_AUTH_JWKS_H
#define MD_AUTH_JWKS_H

#include <stdbool.h>
#include <stddef.h>

/* Limits of one JWKS document. */
#define MD_JWKS_MAX_BYTES (64u * 1024)
#define MD_JWKS_MAX_KEYS 64
#define MD_JWKS_KID_MAX 255
#define MD_JWKS_RSA_MIN_BITS 2048
#define MD_JWKS_RSA_MAX_BITS 8192

/* JWS algorithms medley verifies, one bit each so a policy holds a set.
 * There is deliberately no "none" and no HMAC (HS256...): a gateway that
 * only ever verifies with public keys cannot be tricked into using a
 * public key as an HMAC secret. */
enum {
    MD_JWA_RS256 = 1u << 0, /* RSASSA-PKCS1-v1_5 with SHA-256 */
    MD_JWA_RS384 = 1u << 1,
    MD_JWA_RS512 = 1u << 2,
    MD_JWA_PS256 = 1u << 3, /* RSASSA-PSS, MGF1 and salt of the hash's size */
    MD_JWA_PS384 = 1u << 4,
    MD_JWA_PS512 = 1u << 5,
    MD_JWA_ES256 = 1u << 6, /* ECDSA P-256 with SHA-256 */
    MD_JWA_ES384 = 1u << 7, /* ECDSA P-384 with SHA-384 */
    MD_JWA_ALL = (1u << 8) - 1,
};

/* The kind of key an algorithm needs. */
typedef enum md_jwk_kind {
    MD_JWK_RSA = 1,
    MD_JWK_EC_P256,
    MD_JWK_EC_P384,
} md_jwk_kind_t;

/* The MD_JWA_* bit named name[0..len) ("RS256"; case-sensitive as in RFC
 * 7515), or 0 for any other name, "none" and "HS256" included. */
unsigned md_jwa_from_name(const char *name, size_t len);

/* The name of one MD_JWA_* bit, or "?" if alg is not exactly one. */
const char *md_jwa_name(unsigned alg);

/* The key kind that MD_JWA_* bit `alg` verifies with (0 if not one). */
md_jwk_kind_t md_jwa_key_kind(unsigned alg);

/* One usable key of a set. Read-only for users. */
typedef struct md_jwk {
    char kid[MD_JWKS_KID_MAX + 1]; /* decoded, NUL-terminated ("" if none) */
    size_t kid_len;
    bool has_kid;
    md_jwk_kind_t kind;
    unsigned alg;             /* the JWK's "alg" as an MD_JWA_* bit; 0: any */
    unsigned bits;            /* RSA modulus or curve size in bits */
    struct evp_pkey_st *pkey; /* OpenSSL EVP_PKEY, owned by the set */
} md_jwk_t;

/* An immutable, reference-counted key set. */
typedef struct md_jwks md_jwks_t;

/* Parses a JWKS document into a new set with one reference, stored in
 * *out. MD_OK; MD_ETOOBIG over MD_JWKS_MAX_BYTES or MD_JWKS_MAX_KEYS;
 * MD_EINVAL anything else that is wrong (an object of more than 256
 * members included), with "keys[3]: RSA modulus is 1024 bits,
 * 2048..8192 required"-style text in err. *out is untouched on error. */
int md_jwks_parse(const char *json, size_t len, md_jwks_t **out, char *err, size_t errlen);

/* Adds a reference to ks and returns it (ks may be NULL). */
md_jwks_t *md_jwks_retain(md_jwks_t *ks);

/* Drops a reference; the last one frees the set. NULL is ignored. */
void md_jwks_release(md_jwks_t *ks);

/* Number of usable keys, and key i (i < count), in document order. */
size_t md_jwks_count(const md_jwks_t *ks);
const md_jwk_t *md_jwks_key(const md_jwks_t *ks, size_t i);

/* The place that holds "the current key set" of one issuer. Workers call
 * md_jwks_slot_acquire() (lock-free, a few atomic operations) and
 * md_jwks_release() when done; a refresher calls md_jwks_slot_replace().
 * See jwks.c for why acquiring is safe against a concurrent replace. */
typedef struct md_jwks_slot md_jwks_slot_t;

/* Creates a slot holding `initial` (may be NULL; the slot takes over the
 * caller's reference). */
md_jwks_slot_t *md_jwks_slot_new(md_jwks_t *initial);

/* Releases the slot's set and frees the slot. No acquire or replace may
 * run concurrently; sets acquired earlier stay valid. NULL is ignored. */
void md_jwks_slot_free(md_jwks_slot_t *slot);

/* A new reference to the current set (release it with md_jwks_release),
 * or NULL if the slot holds none. Safe from any thread at any time. */
md_jwks_t *md_jwks_slot_acquire(md_jwks_slot_t *slot);

/* Installs ks (taking over the caller's reference; NULL empties the slot)
 * and releases the previous set once no acquire can still be reading it.
 * Callers may replace concurrently (they are serialized). It waits only
 * for acquires already in flight, which take a few instructions. */
void md_jwks_slot_replace(md_jwks_slot_t *slot, md_jwks_t *ks);

#endif
