/*
 * fuzz_jwt.c - libFuzzer driver for auth/jwt, auth/jwks and auth/b64url.
 *
 * The first byte picks what the rest is (byte % 8):
 *   0-3  a compact token, verified as is against a fixed key set (RSA 2048
 *        "r1", EC P-256 "e1", EC P-384 "e3", generated at start-up) and a
 *        policy that allows every algorithm. Nobody here knows the private
 *        keys' bytes, so the property is absolute: it must NEVER verify;
 *   4-5  "HEADER\nPAYLOAD": both JSON texts (any bytes) are base64url-
 *        encoded and signed with the P-256 key as ES256, so the fuzzer
 *        reaches header, key and claim handling behind a good signature;
 *   6    the same, signed with the RSA key as RS256 (slower: RSA signing);
 *   7    a JWKS document for md_jwks_parse.
 *
 * Beyond "no crash, no sanitizer report, no leak" it checks, and aborts
 * when one breaks:
 *   - every result is MD_OK or one of MD_JWT_E*, the same on a second run,
 *     with a NUL-terminated message that is non-empty on failure;
 *   - an accepted token satisfies the policy by the claims handed out: iss
 *     is the issuer, aud holds the audience, exp/nbf/iat are in the
 *     window; every claim name and value is NUL-terminated at its length;
 *     no two claims share a name; and it stops verifying (MD_JWT_ESIGNATURE)
 *     once one character in the middle of its signature changes;
 *   - an accepted JWKS holds 1..MD_JWKS_MAX_KEYS keys, each with an OpenSSL
 *     key, a terminated kid of at most MD_JWKS_KID_MAX bytes and an alg
 *     that fits its kind.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_jwt.c src/auth/jwt.c src/auth/jwks.c src/auth/b64url.c \
 *        src/auth/json_strict.c src/json/scan.c src/core/ *.c -lcrypto -lm -pthread
 * Seeds: tests/fuzz/corpus/jwt/, dictionary: fuzz_jwt.dict.
 */
#include "../unit/auth/authtest.h"

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/common.h"
#include "core/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define NOW 1700000000LL
#define ISS "https://idp.example"
#define AUD "api://medley"
#define INPUT_CAP 12000

static EVP_PKEY *rsa, *ec, *ec384;
static md_jwks_t *keys;
static md_pool_t *pool;
static md_jwt_policy_t policy;
static const char *const auds[] = { AUD };
static char *tok; /* room for any token built from INPUT_CAP bytes */

static void init(void)
{
    rsa = t_rsa_key(2048);
    ec = t_ec_key("P-256");
    ec384 = t_ec_key("P-384");
    char a[4096], b[4096], c[4096], doc[13000], err[256];
    t_jwk(rsa, "r1", NULL, a, sizeof(a));
    t_jwk(ec, "e1", NULL, b, sizeof(b));
    t_jwk(ec384, "e3", NULL, c, sizeof(c));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", a, b, c);
    CHECK(md_jwks_parse(doc, strlen(doc), &keys, err, sizeof(err)) == MD_OK);
    md_jwt_policy_init(&policy, ISS, auds, 1);
    policy.algs = MD_JWA_ALL;
    pool = md_pool_new(0);
    tok = malloc(INPUT_CAP * 2 + 2048);
}

static bool known_result(int rc)
{
    return rc == MD_OK || (rc <= MD_JWT_EMALFORMED && rc >= MD_JWT_EPOLICY);
}

static bool terminated(md_str_t s)
{
    return s.ptr && s.ptr[s.len] == '\0';
}

/* The claims of an accepted token, checked against the policy. */
static void check_claims(const md_jwt_claims_t *c)
{
    const char *iss = md_jwt_claim_string(c, "iss");
    CHECK(iss && strcmp(iss, ISS) == 0);
    const md_jwt_claim_t *aud = md_jwt_claim(c, "aud");
    bool ours = false;
    for (uint32_t i = 0; aud && i < aud->n_values; i++)
        ours = ours ||
               (aud->values[i].len == strlen(AUD) && !memcmp(aud->values[i].ptr, AUD, strlen(AUD)));
    CHECK(ours);
    CHECK(c->exp + policy.leeway_s >= NOW); /* exp rounded down: >= */
    CHECK(c->nbf == INT64_MIN || c->nbf <= NOW + policy.leeway_s);
    CHECK(c->iat == INT64_MIN || c->iat <= NOW + policy.leeway_s);
    CHECK(c->alg && md_jwa_name(c->alg)[0] != '?');
    for (uint32_t i = 0; i < c->n_items; i++) {
        const md_jwt_claim_t *it = &c->items[i];
        CHECK(terminated(it->name));
        CHECK(it->is_array || it->n_values == 1);
        for (uint32_t j = 0; j < it->n_values; j++)
            CHECK(terminated(it->values[j]));
        for (uint32_t j = 0; j < i; j++)
            CHECK(it->name.len != c->items[j].name.len ||
                  memcmp(it->name.ptr, c->items[j].name.ptr, it->name.len) != 0);
    }
    (void)md_jwt_has_scope(c, "Employee.Read");
}

static int verify_checked(const char *t, size_t len, md_jwt_claims_t *c)
{
    char err[128];
    memset(err, 'x', sizeof(err));
    int rc = md_jwt_verify(&policy, keys, t, len, NOW, pool, c, err, sizeof(err));
    CHECK(known_result(rc));
    CHECK(memchr(err, '\0', sizeof(err)) != NULL);
    CHECK(rc == MD_OK || err[0] != '\0');
    md_jwt_claims_t again;
    CHECK(md_jwt_verify(&policy, keys, t, len, NOW, pool, &again, NULL, 0) == rc);
    return rc;
}

static void fuzz_raw(const char *in, size_t n)
{
    md_jwt_claims_t c;
    CHECK(verify_checked(in, n, &c) != MD_OK);
}

static void fuzz_signed(const char *in, size_t n, bool use_rsa)
{
    const char *nl = memchr(in, '\n', n);
    size_t hlen = nl ? (size_t)(nl - in) : n;
    const char *p = nl ? nl + 1 : "";
    size_t plen = nl ? n - hlen - 1 : 0;
    size_t len = t_b64url((const unsigned char *)in, hlen, tok);
    tok[len++] = '.';
    len += t_b64url((const unsigned char *)p, plen, tok + len);
    unsigned char sig[1100];
    size_t slen = t_sign(use_rsa ? rsa : ec, use_rsa ? "RS256" : "ES256", tok, len, sig);
    tok[len++] = '.';
    size_t sigoff = len;
    len += t_b64url(sig, slen, tok + len);
    /* An exact-size copy, so ASan sees any read past the end. */
    char *t = malloc(len);
    memcpy(t, tok, len);
    md_jwt_claims_t c;
    if (verify_checked(t, len, &c) == MD_OK) {
        check_claims(&c);
        size_t mid = sigoff + (len - sigoff) / 2;
        t[mid] = t[mid] == 'A' ? 'B' : 'A';
        CHECK(verify_checked(t, len, &c) == MD_JWT_ESIGNATURE);
    }
    free(t);
}

static void fuzz_jwks(const char *in, size_t n)
{
    md_jwks_t *ks = NULL;
    char err[256];
    int rc = md_jwks_parse(in, n, &ks, err, sizeof(err));
    CHECK(rc == MD_OK || rc == MD_EINVAL || rc == MD_ETOOBIG);
    CHECK((rc == MD_OK) == (ks != NULL));
    if (!ks)
        return;
    size_t count = md_jwks_count(ks);
    CHECK(count >= 1 && count <= MD_JWKS_MAX_KEYS);
    for (size_t i = 0; i < count; i++) {
        const md_jwk_t *k = md_jwks_key(ks, i);
        CHECK(k->pkey && k->kid_len <= MD_JWKS_KID_MAX && k->kid[k->kid_len] == '\0');
        CHECK(k->kind >= MD_JWK_RSA && k->kind <= MD_JWK_EC_P384);
        CHECK(k->alg == 0 || md_jwa_key_kind(k->alg) == k->kind);
    }
    md_jwks_release(ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys)
        init();
    if (size == 0)
        return 0;
    size_t n = MD_MIN(size - 1, (size_t)INPUT_CAP);
    char *in = malloc(n ? n : 1);
    memcpy(in, data + 1, n);
    switch (data[0] % 8) {
    case 4:
    case 5: fuzz_signed(in, n, false); break;
    case 6: fuzz_signed(in, n, true); break;
    case 7: fuzz_jwks(in, n); break;
    default: fuzz_raw(in, n); break;
    }
    md_pool_reset(pool);
    free(in);
    return 0;
}
