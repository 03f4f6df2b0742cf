/*
 * jwt.h - verification of signed JSON Web Tokens (RFC 7519, JWS compact
 * serialization RFC 7515) against a key set (auth/jwks.h) and a policy:
 * the bearer-token check in front of an endpoint.
 *
 * A token is accepted only when ALL of this holds, checked in this order
 * (the first failure decides the error code):
 *   1. shape: at most MD_JWT_MAX_TOKEN bytes, exactly three '.'-separated
 *      segments, each strict base64url (auth/b64url.h: no padding);
 *   2. header: a strict JSON object (json/scan.h) with no repeated member
 *      name; "alg" one of MD_JWA_* AND in the policy's set ("none" and
 *      every HMAC alg are never accepted: medley holds no shared secrets,
 *      so a public key can never be misused as an HMAC key); no "crit"
 *      (we implement no extension, RFC 7515 4.1.11 says refuse); "typ", if
 *      present, "JWT" or "at+jwt", optionally "application/"-prefixed,
 *      case-insensitive; "kid", if present, a string. Keys embedded in or
 *      referenced by the token (jwk, jku, x5c, x5u) are ignored: keys come
 *      only from the configured set;
 *   3. key: "kid" selects the keys with that kid (no kid: the set must hold
 *      exactly one key); among them the first whose type fits the alg
 *      (RS and PS: RSA; ES256: EC P-256; ES384: EC P-384) and whose own
 *      "alg", if it has one, equals the header's;
 *   4. signature: exactly the key's size (RSA: modulus bytes; ES: the
 *      JOSE r||s form, 64 or 96 bytes), verified by OpenSSL over the
 *      first two segments as sent;
 *   5. payload (only now parsed, so unauthenticated JSON never reaches
 *      the claim checks): a strict JSON object without repeated names;
 *      exp a number (REQUIRED), nbf and iat numbers if present;
 *   6. claims: iss equals the policy's issuer exactly; aud (a string or an
 *      array of strings) holds one of the policy's audiences;
 *      now < exp + leeway; nbf - leeway <= now; iat <= now + leeway.
 *
 * Issuer and audience are compared with plain memcmp, not in constant
 * time: they are public values (printed in every token and in the IdP's
 * metadata), so timing reveals nothing secret. Signature checks are
 * OpenSSL's.
 *
 * Thread safety: md_jwt_verify() reads its arguments only; many threads
 * may verify with one policy and one key set at once (see md_jwks_slot_t
 * for swapping the set underneath them).
 */
#ifndef MD_AUTH_JWT_H
#define MD_AUTH_JWT_H

#include "auth/jwks.h"
#include "core/common.h"
#include "core/pool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a token was refused. Distinct so the caller can react: refresh the
 * key set on MD_JWT_EKID, say "expired" to the client, count by reason. */
enum {
    MD_JWT_EMALFORMED = -200, /* not a well-formed signed JWT (steps 1, 2, 5) */
    MD_JWT_EALG = -201,       /* alg none/HMAC/unknown/not in the policy, or
                                 not fitting the selected key */
    MD_JWT_EKID = -202,       /* no key with the token's kid (refresh the set) */
    MD_JWT_ESIGNATURE = -203, /* signature does not verify */
    MD_JWT_EEXPIRED = -204,   /* now >= exp + leeway */
    MD_JWT_ENOTYET = -205,    /* nbf or iat later than now + leeway */
    MD_JWT_EISSUER = -206,    /* iss missing or not the policy's issuer */
    MD_JWT_EAUDIENCE = -207,  /* aud missing or none of the policy's audiences */
    MD_JWT_EPOLICY = -208,    /* the policy or the arguments are unusable */
};

/* Limits. */
#define MD_JWT_MAX_TOKEN 8192    /* bytes of a whole compact token */
#define MD_JWT_MAX_AUDIENCES 16  /* audiences one policy may accept */
#define MD_JWT_DEFAULT_LEEWAY 60 /* seconds of clock skew tolerated */
#define MD_JWT_MAX_LEEWAY 3600

/* What one protected endpoint (or issuer) accepts. */
typedef struct md_jwt_policy {
    const char *issuer;           /* must equal "iss" exactly */
    const char *const *audiences; /* "aud" must contain one of these */
    size_t n_audiences;           /* 1..MD_JWT_MAX_AUDIENCES */
    unsigned algs;                /* set of MD_JWA_* bits, not empty */
    int64_t leeway_s;             /* 0..MD_JWT_MAX_LEEWAY */
} md_jwt_policy_t;

/* Fills a policy with the defaults: algs RS256 | PS256 | ES256, leeway
 * MD_JWT_DEFAULT_LEEWAY. The strings are borrowed, not copied, and must
 * outlive the policy. */
void md_jwt_policy_init(md_jwt_policy_t *p, const char *issuer, const char *const *audiences,
                        size_t n_audiences);

/* MD_OK, or MD_JWT_EPOLICY with the reason in err (no issuer, no or too
 * many audiences, an empty or unknown alg set, leeway out of range). For
 * configuration time; md_jwt_verify() refuses such a policy too. */
int md_jwt_policy_check(const md_jwt_policy_t *p, char *err, size_t errlen);

/* A top-level claim whose value is a string or an array of strings. */
typedef struct md_jwt_claim {
    md_str_t name;     /* decoded; NUL-terminated */
    md_str_t *values;  /* decoded, each NUL-terminated; may hold NUL bytes */
    uint32_t n_values; /* 1 for a string claim; 0.. for an array */
    bool is_array;
} md_jwt_claim_t;

/* What a verified token says. All memory belongs to the pool given to
 * md_jwt_verify(), none points into the token or the key set. */
typedef struct md_jwt_claims {
    unsigned alg;                /* the MD_JWA_* bit that verified */
    int64_t exp;                 /* NumericDates, rounded down */
    int64_t nbf, iat;            /* INT64_MIN when absent */
    const md_jwt_claim_t *items; /* every string / string-array claim, in
                                    document order (other types are left out) */
    uint32_t n_items;
} md_jwt_claims_t;

/* Verifies token[0..len) as described at the top of this file, at time
 * now_s (seconds since the epoch). On MD_OK, when out is not NULL, the
 * claims are copied into pool (required with out; at most about twice the
 * token's size). Returns MD_OK (err "") or one of MD_JWT_E*, with a
 * short reason in err ("exp is 30 s in the past"); the reason never
 * repeats token bytes, so it is safe to log. keys may be NULL (then
 * MD_JWT_EKID). */
int md_jwt_verify(const md_jwt_policy_t *policy, const md_jwks_t *keys, const char *token,
                  size_t len, int64_t now_s, md_pool_t *pool, md_jwt_claims_t *out, char *err,
                  size_t errlen);

/* The claim named `name`, or NULL. */
const md_jwt_claim_t *md_jwt_claim(const md_jwt_claims_t *c, const char *name);

/* The value of string claim `name` ("sub", "oid", "email", ...), or NULL
 * when it is absent, an array, or holds a NUL byte (which a C-string user
 * would silently truncate: "admin\u0000x" must not read as "admin"). */
const char *md_jwt_claim_string(const md_jwt_claims_t *c, const char *name);

/* Whether the token grants `scope`: one of the space-separated words of
 * a string "scp" or "scope" claim (RFC 8693 4.2; Azure AD uses "scp"), an
 * element of an array "scp"/"scope" claim, or an element of "roles" (or
 * "roles" itself when it is a single string). Exact, case-sensitive. */
bool md_jwt_has_scope(const md_jwt_claims_t *c, const char *scope);

/* Human name of an MD_JWT_E* code ("expired", "bad signature", ...);
 * other codes go to md_strerror(). Never NULL. */
const char *md_jwt_strerror(int code);

#endif
