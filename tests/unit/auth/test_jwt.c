/*
 * Unit tests for auth/jwt: token verification against keys generated at
 * run time (RSA 2048, EC P-256 and P-384) and a fixed policy. Expected
 * results come from RFC 7515/7518/7519 and jwt.h, never from the code.
 */
#include "testutil.h"

#include "authtest.h"

#include "auth/b64url.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/common.h"
#include "core/pool.h"

#include <openssl/x509.h>

#define NOW 1700000000LL
#define ISS "https://login.example.com/tenant-1/v2.0"
#define AUD "api://medley"
#define TOK_MAX 16384

static EVP_PKEY *rsa, *rsa_other, *ec, *ec384;
static md_jwks_t *keys;
static md_pool_t *pool;
static const char *const auds[] = { "api://other", AUD };
static md_jwt_policy_t policy;
static char tok[TOK_MAX], err[256];

static int setup(void **state)
{
    (void)state;
    rsa = t_rsa_key(2048);
    rsa_other = t_rsa_key(2048);
    ec = t_ec_key("P-256");
    ec384 = t_ec_key("P-384");
    char a[4096], b[4096], c[4096], d[4096], doc[17000];
    t_jwk(rsa, "rsa1", NULL, a, sizeof(a));
    t_jwk(ec, "ec1", NULL, b, sizeof(b));
    t_jwk(ec384, "ec384", NULL, c, sizeof(c));
    t_jwk(rsa, "rsa-rs256-only", "\"alg\":\"RS256\",\"use\":\"sig\"", d, sizeof(d));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s,%s]}", a, b, c, d);
    if (md_jwks_parse(doc, strlen(doc), &keys, err, sizeof(err)) != MD_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    pool = md_pool_new(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    md_jwks_release(keys);
    md_pool_destroy(pool);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_other);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ec384);
    return 0;
}

/* Each test starts from the default policy over both audiences. */
static int reset(void **state)
{
    (void)state;
    md_jwt_policy_init(&policy, ISS, auds, 2);
    md_pool_reset(pool);
    err[0] = '\0';
    return 0;
}

/* A payload with iss/aud/exp around NOW plus `extra` members. */
static const char *payload(long long exp_delta, const char *extra)
{
    static char p[8192];
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld%s%s}", ISS, AUD,
             NOW + exp_delta, extra ? "," : "", extra ? extra : "");
    return p;
}

static const char *header(const char *alg, const char *kid)
{
    static char h[512];
    snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    return h;
}

static int verify_claims(const char *t, size_t len, md_jwt_claims_t *c)
{
    return md_jwt_verify(&policy, keys, t, len, NOW, pool, c, err, sizeof(err));
}

static int verify(const char *t)
{
    md_jwt_claims_t c;
    return verify_claims(t, strlen(t), &c);
}

/* Signs header/payload with pk as alg and verifies the result. */
static int sign_verify(EVP_PKEY *pk, const char *alg, const char *h, const char *p)
{
    t_token(pk, alg, h, p, tok);
    return verify(tok);
}

/* ---- valid tokens ---- */

static void valid_rs256_ps256_es256(void **state)
{
    (void)state;
    md_jwt_claims_t c;
    size_t n =
        t_token(rsa, "RS256", header("RS256", "rsa1"), payload(3600, "\"sub\":\"alice\""), tok);
    assert_int_equal(verify_claims(tok, n, &c), MD_OK);
    assert_int_equal(c.alg, MD_JWA_RS256);
    assert_int_equal(c.exp, NOW + 3600);
    assert_true(c.nbf == INT64_MIN && c.iat == INT64_MIN);
    assert_string_equal(md_jwt_claim_string(&c, "sub"), "alice");
    assert_int_equal(sign_verify(rsa, "PS256", header("PS256", "rsa1"), payload(3600, NULL)),
                     MD_OK);
    assert_int_equal(sign_verify(ec, "ES256", header("ES256", "ec1"), payload(3600, NULL)), MD_OK);
}

static void valid_other_algs_when_allowed(void **state)
{
    (void)state;
    static const struct {
        const char *alg, *kid;
        unsigned bit;
    } cases[] = { { "RS384", "rsa1", MD_JWA_RS384 },
                  { "RS512", "rsa1", MD_JWA_RS512 },
                  { "PS384", "rsa1", MD_JWA_PS384 },
                  { "PS512", "rsa1", MD_JWA_PS512 },
                  { "ES384", "ec384", MD_JWA_ES384 } };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        EVP_PKEY *pk = cases[i].alg[0] == 'E' ? ec384 : rsa;
        policy.algs = MD_JWA_RS256 | MD_JWA_PS256 | MD_JWA_ES256;
        assert_int_equal(
            sign_verify(pk, cases[i].alg, header(cases[i].alg, cases[i].kid), payload(60, NULL)),
            MD_JWT_EALG); /* not in the default set */
        policy.algs = cases[i].bit;
        assert_int_equal(verify(tok), MD_OK);
    }
}

static void header_without_typ_and_with_at_jwt(void **state)
{
    (void)state;
    assert_int_equal(
        sign_verify(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", payload(60, NULL)),
        MD_OK);
    const char *ok_typs[] = { "at+jwt", "jwt", "application/JWT", "Application/At+JWT" };
    for (size_t i = 0; i < MD_ARRAY_LEN(ok_typs); i++) {
        char h[128];
        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":\"%s\"}", ok_typs[i]);
        assert_int_equal(sign_verify(ec, "ES256", h, payload(60, NULL)), MD_OK);
    }
    assert_int_equal(sign_verify(ec, "ES256",
                                 "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":\"JOSE\"}",
                                 payload(60, NULL)),
                     MD_JWT_EMALFORMED);
    assert_int_equal(sign_verify(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":1}",
                                 payload(60, NULL)),
                     MD_JWT_EMALFORMED);
    assert_int_equal(sign_verify(ec, "ES256",
                                 "{\"alg\":\"ES256\",\"kid\":\"ec1\",\"typ\":\"JWT\\u0000x\"}",
                                 payload(60, NULL)),
                     MD_JWT_EMALFORMED);
}

/* ---- time ---- */

static void expiry_and_leeway(void **state)
{
    (void)state;
    /* Default leeway 60 s: valid while now < exp + 60. */
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), payload(-59, NULL)), MD_OK);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), payload(-60, NULL)),
                     MD_JWT_EEXPIRED);
    assert_non_null(strstr(err, "60 s in the past"));
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), payload(-3600, NULL)),
                     MD_JWT_EEXPIRED);
    policy.leeway_s = 0;
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), payload(0, NULL)),
                     MD_JWT_EEXPIRED);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), payload(1, NULL)), MD_OK);
    /* A fractional NumericDate: 0.5 s left is still valid. */
    char p[256];
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld.5}", ISS, AUD, NOW);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_OK);
}

static void not_before_and_issued_at(void **state)
{
    (void)state;
    char extra[64];
    snprintf(extra, sizeof(extra), "\"nbf\":%lld", NOW + 61);
    assert_int_equal(sign_verify(ec, "ES256", header("ES256", "ec1"), payload(3600, extra)),
                     MD_JWT_ENOTYET);
    snprintf(extra, sizeof(extra), "\"nbf\":%lld", NOW + 60); /* within leeway */
    assert_int_equal(sign_verify(ec, "ES256", header("ES256", "ec1"), payload(3600, extra)), MD_OK);
    snprintf(extra, sizeof(extra), "\"iat\":%lld", NOW + 120);
    assert_int_equal(sign_verify(ec, "ES256", header("ES256", "ec1"), payload(3600, extra)),
                     MD_JWT_ENOTYET);
    snprintf(extra, sizeof(extra), "\"iat\":%lld,\"nbf\":%lld", NOW - 10, NOW - 10);
    md_jwt_claims_t c;
    size_t n = t_token(ec, "ES256", header("ES256", "ec1"), payload(3600, extra), tok);
    assert_int_equal(verify_claims(tok, n, &c), MD_OK);
    assert_int_equal(c.iat, NOW - 10);
    assert_int_equal(c.nbf, NOW - 10);
}

static void bad_time_claims_are_malformed(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\"}", ISS, AUD);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EMALFORMED);
    assert_non_null(strstr(err, "exp is missing"));
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":\"%lld\"}", ISS, AUD, NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EMALFORMED);
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":1e400}", ISS, AUD);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EMALFORMED);
    assert_int_equal(
        sign_verify(rsa, "RS256", header("RS256", "rsa1"), payload(100, "\"nbf\":null")),
        MD_JWT_EMALFORMED);
}

/* ---- issuer and audience ---- */

static void issuer_must_match_exactly(void **state)
{
    (void)state;
    const char *bad[] = { "https://evil.example.com/tenant-1/v2.0", ISS "/",
                          "https://login.example.com/tenant-1" };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        char p[512];
        snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld}", bad[i], AUD,
                 NOW + 100);
        assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EISSUER);
    }
    char p[512];
    snprintf(p, sizeof(p), "{\"aud\":\"%s\",\"exp\":%lld}", AUD, NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EISSUER);
    /* JSON escapes are decoded before comparing: "\/" is "/". */
    snprintf(
        p, sizeof(p),
        "{\"iss\":\"https:\\/\\/login.example.com\\/tenant-1\\/v2.0\",\"aud\":\"%s\",\"exp\":%lld}",
        AUD, NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_OK);
}

static void audience_string_or_array(void **state)
{
    (void)state;
    char p[512];
    const char *fmt = "{\"iss\":\"" ISS "\",\"aud\":%s,\"exp\":%lld}";
    snprintf(p, sizeof(p), fmt, "\"api://nope\"", NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EAUDIENCE);
    snprintf(p, sizeof(p), fmt, "[\"api://a\",\"" AUD "\"]", NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_OK);
    snprintf(p, sizeof(p), fmt, "[\"api://other\"]", NOW + 100); /* the policy's other audience */
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_OK);
    snprintf(p, sizeof(p), fmt, "[\"api://a\",\"api://b\"]", NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EAUDIENCE);
    snprintf(p, sizeof(p), fmt, "[]", NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EAUDIENCE);
    snprintf(p, sizeof(p), fmt, "[\"" AUD "\",7]", NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EMALFORMED);
    snprintf(p, sizeof(p), fmt, "{\"a\":\"" AUD "\"}", NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EMALFORMED);
    snprintf(p, sizeof(p), "{\"iss\":\"" ISS "\",\"exp\":%lld}", NOW + 100);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EAUDIENCE);
}

/* ---- signatures ---- */

static void flipped_signature_and_payload_fail(void **state)
{
    (void)state;
    static const struct {
        const char *alg, *kid;
    } cases[] = { { "RS256", "rsa1" }, { "PS256", "rsa1" }, { "ES256", "ec1" } };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        EVP_PKEY *pk = cases[i].alg[0] == 'E' ? ec : rsa;
        size_t n = t_token(pk, cases[i].alg, header(cases[i].alg, cases[i].kid),
                           payload(100, "\"sub\":\"bob\""), tok);
        assert_int_equal(verify(tok), MD_OK);
        /* A middle character of the signature changes whole bytes. */
        char *sig = strrchr(tok, '.') + 1;
        size_t mid = (size_t)(tok + n - sig) / 2;
        char saved = sig[mid];
        sig[mid] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
        sig[mid] = saved;
        /* Same header and signature, another payload ("bob" -> "eve"). */
        char other[TOK_MAX], p2[64];
        t_token(pk, cases[i].alg, header(cases[i].alg, cases[i].kid),
                payload(100, "\"sub\":\"eve\""), other);
        char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');
        char *odot1 = strchr(other, '.'), *odot2 = strchr(odot1 + 1, '.');
        assert_true(dot2 - dot1 == odot2 - odot1);
        memcpy(dot1, odot1, (size_t)(dot2 - dot1));
        assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
        (void)p2;
    }
}

static void wrong_key_and_wrong_padding_fail(void **state)
{
    (void)state;
    /* Signed by another RSA key, claiming ours. */
    assert_int_equal(sign_verify(rsa_other, "RS256", header("RS256", "rsa1"), payload(100, NULL)),
                     MD_JWT_ESIGNATURE);
    /* PKCS#1 v1.5 signature presented as PSS and the reverse. */
    t_token(rsa, "RS256", header("PS256", "rsa1"), payload(100, NULL), tok);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    t_token(rsa, "PS256", header("RS256", "rsa1"), payload(100, NULL), tok);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    /* Signatures of 63 and 65 bytes for a P-256 key (r||s is 64). */
    t_token(ec, "ES256", header("ES256", "ec1"), payload(100, NULL), tok);
    char *sig = strrchr(tok, '.') + 1;
    unsigned char bytes[65];
    memset(bytes, 0x11, sizeof(bytes));
    t_b64url(bytes, 63, sig);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    assert_non_null(strstr(err, "length"));
    t_b64url(bytes, 65, sig);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    /* The zero signature r = s = 0, and r = s = n - 1 for no key. */
    memset(bytes, 0, sizeof(bytes));
    t_b64url(bytes, 64, sig);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    memset(bytes, 0xff, sizeof(bytes));
    t_b64url(bytes, 64, sig);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    /* RSA: one byte short of the modulus size. */
    t_token(rsa, "RS256", header("RS256", "rsa1"), payload(100, NULL), tok);
    sig = strrchr(tok, '.') + 1;
    unsigned char rbytes[256];
    memset(rbytes, 0x22, sizeof(rbytes));
    t_b64url(rbytes, 255, sig);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    assert_non_null(strstr(err, "length"));
    t_b64url(rbytes, 256, sig);
    assert_int_equal(verify(tok), MD_JWT_ESIGNATURE);
    assert_non_null(strstr(err, "does not verify"));
}

static void alg_none_and_hmac_are_refused(void **state)
{
    (void)state;
    policy.algs = MD_JWA_ALL;
    /* alg none, empty signature. */
    t_token(NULL, "none", "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload(100, NULL), tok);
    assert_int_equal(verify(tok), MD_JWT_EALG);
    t_token(NULL, "none", "{\"alg\":\"none\",\"kid\":\"rsa1\"}", payload(100, NULL), tok);
    assert_int_equal(verify(tok), MD_JWT_EALG);
    /* The key-confusion attack: HS256 keyed with the RSA public key's
     * DER (SubjectPublicKeyInfo) bytes, which an attacker can get. */
    unsigned char *der = NULL;
    int dlen = i2d_PUBKEY(rsa, &der);
    assert_true(dlen > 0);
    char data[TOK_MAX];
    size_t n = t_b64url_str("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}", data);
    data[n++] = '.';
    n += t_b64url_str(payload(100, NULL), data + n);
    unsigned char mac[64];
    size_t maclen = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, der, (size_t)dlen,
                              (unsigned char *)data, n, mac, sizeof(mac), &maclen));
    OPENSSL_free(der);
    data[n++] = '.';
    t_b64url(mac, maclen, data + n);
    assert_int_equal(verify(data), MD_JWT_EALG);
    /* Other spellings of unsupported algs. */
    const char *algs[] = { "HS512", "None", "NONE", "rs256", "EdDSA", "ES512", "RS256 " };
    for (size_t i = 0; i < MD_ARRAY_LEN(algs); i++) {
        char h[128];
        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"rsa1\"}", algs[i]);
        assert_int_equal(sign_verify(rsa, "RS256", h, payload(100, NULL)), MD_JWT_EALG);
    }
    assert_int_equal(sign_verify(rsa, "RS256", "{\"kid\":\"rsa1\"}", payload(100, NULL)),
                     MD_JWT_EMALFORMED);
    assert_int_equal(
        sign_verify(rsa, "RS256", "{\"alg\":256,\"kid\":\"rsa1\"}", payload(100, NULL)),
        MD_JWT_EMALFORMED);
}

static void alg_must_fit_the_key(void **state)
{
    (void)state;
    /* ES256 header naming the RSA key (signed with the EC key). */
    assert_int_equal(sign_verify(ec, "ES256", header("ES256", "rsa1"), payload(100, NULL)),
                     MD_JWT_EALG);
    /* RS256 header naming the EC key. */
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "ec1"), payload(100, NULL)),
                     MD_JWT_EALG);
    /* ES384 on the P-256 key. */
    policy.algs = MD_JWA_ALL;
    assert_int_equal(sign_verify(ec384, "ES384", header("ES384", "ec1"), payload(100, NULL)),
                     MD_JWT_EALG);
    /* A JWK pinned to RS256 refuses PS256 even with the right key. */
    assert_int_equal(
        sign_verify(rsa, "PS256", header("PS256", "rsa-rs256-only"), payload(100, NULL)),
        MD_JWT_EALG);
    assert_int_equal(
        sign_verify(rsa, "RS256", header("RS256", "rsa-rs256-only"), payload(100, NULL)), MD_OK);
    /* The policy narrows what the keys allow. */
    policy.algs = MD_JWA_ES256;
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), payload(100, NULL)),
                     MD_JWT_EALG);
}

static void kid_selects_the_key(void **state)
{
    (void)state;
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "nope"), payload(100, NULL)),
                     MD_JWT_EKID);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa"), payload(100, NULL)),
                     MD_JWT_EKID);
    /* No kid with a multi-key set. */
    assert_int_equal(sign_verify(rsa, "RS256", "{\"alg\":\"RS256\"}", payload(100, NULL)),
                     MD_JWT_EKID);
    /* kid escaped in JSON still matches. */
    assert_int_equal(sign_verify(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rs\\u0061\\u0031\"}",
                                 payload(100, NULL)),
                     MD_OK);
    assert_int_equal(sign_verify(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":1}", payload(100, NULL)),
                     MD_JWT_EMALFORMED);
    /* No key set at all. */
    md_jwt_claims_t c;
    t_token(rsa, "RS256", header("RS256", "rsa1"), payload(100, NULL), tok);
    assert_int_equal(
        md_jwt_verify(&policy, NULL, tok, strlen(tok), NOW, pool, &c, err, sizeof(err)),
        MD_JWT_EKID);
}

static void single_key_set_needs_no_kid(void **state)
{
    (void)state;
    char jwk[4096], doc[5000];
    md_jwks_t *one;
    t_jwk(ec, "only", NULL, jwk, sizeof(jwk));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk);
    assert_int_equal(md_jwks_parse(doc, strlen(doc), &one, err, sizeof(err)), MD_OK);
    t_token(ec, "ES256", "{\"alg\":\"ES256\"}", payload(100, NULL), tok);
    assert_int_equal(
        md_jwt_verify(&policy, one, tok, strlen(tok), NOW, NULL, NULL, err, sizeof(err)), MD_OK);
    t_token(rsa, "RS256", "{\"alg\":\"RS256\"}", payload(100, NULL), tok);
    assert_int_equal(
        md_jwt_verify(&policy, one, tok, strlen(tok), NOW, NULL, NULL, err, sizeof(err)),
        MD_JWT_EALG);
    md_jwks_release(one);
}

static void crit_is_refused(void **state)
{
    (void)state;
    assert_int_equal(
        sign_verify(rsa, "RS256",
                    "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"],\"exp\":1}",
                    payload(100, NULL)),
        MD_JWT_EMALFORMED);
    assert_non_null(strstr(err, "crit"));
    assert_int_equal(sign_verify(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[]}",
                                 payload(100, NULL)),
                     MD_JWT_EMALFORMED);
}

/* ---- malformed tokens ---- */

static void wrong_segment_counts(void **state)
{
    (void)state;
    size_t n = t_token(rsa, "RS256", header("RS256", "rsa1"), payload(100, NULL), tok);
    char buf[TOK_MAX + 16];
    /* header.payload (two segments) */
    memcpy(buf, tok, n + 1);
    *strrchr(buf, '.') = '\0';
    assert_int_equal(verify(buf), MD_JWT_EMALFORMED);
    /* four segments */
    snprintf(buf, sizeof(buf), "%s.AAAA", tok);
    assert_int_equal(verify(buf), MD_JWT_EMALFORMED);
    snprintf(buf, sizeof(buf), "%s.", tok);
    assert_int_equal(verify(buf), MD_JWT_EMALFORMED);
    assert_int_equal(verify(""), MD_JWT_EMALFORMED);
    assert_int_equal(verify(".."), MD_JWT_EMALFORMED);
    assert_int_equal(verify("abc"), MD_JWT_EMALFORMED);
    /* A NUL inside: the length counts, not strlen. */
    md_jwt_claims_t c;
    memcpy(buf, tok, n + 1);
    buf[5] = '\0';
    assert_int_equal(verify_claims(buf, n, &c), MD_JWT_EMALFORMED);
    assert_int_equal(verify_claims(tok, n, &c), MD_OK);
}

static void base64url_must_be_strict(void **state)
{
    (void)state;
    size_t n = t_token(rsa, "RS256", header("RS256", "rsa1"), payload(100, NULL), tok);
    char buf[TOK_MAX];
    const char bad[] = { '+', '/', '=', ' ', '\n', (char)0xc3, '*' };
    for (size_t i = 0; i < sizeof(bad); i++) {
        for (int seg = 0; seg < 3; seg++) {
            memcpy(buf, tok, n + 1);
            char *p = buf;
            for (int s = 0; s < seg; s++)
                p = strchr(p, '.') + 1;
            p[2] = bad[i];
            assert_int_equal(verify(buf), MD_JWT_EMALFORMED);
        }
    }
    /* Padding appended to the header. */
    char *dot = strchr(tok, '.');
    size_t hlen = (size_t)(dot - tok);
    memcpy(buf, tok, hlen);
    memcpy(buf + hlen, "==", 2);
    memcpy(buf + hlen + 2, dot, strlen(dot) + 1);
    assert_int_equal(verify(buf), MD_JWT_EMALFORMED);
}

static void header_and_payload_must_be_objects(void **state)
{
    (void)state;
    char h[64], buf[TOK_MAX];
    t_b64url_str("{\"alg\":\"RS256\",", h); /* not JSON */
    snprintf(buf, sizeof(buf), "%s.e30.AAAA", h);
    assert_int_equal(verify(buf), MD_JWT_EMALFORMED);
    assert_int_equal(sign_verify(rsa, "RS256", "[\"RS256\"]", payload(100, NULL)),
                     MD_JWT_EMALFORMED);
    assert_int_equal(
        sign_verify(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",}", payload(100, NULL)),
        MD_JWT_EMALFORMED);
    /* Signed payloads that are not objects. */
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), "[{\"exp\":1}]"),
                     MD_JWT_EMALFORMED);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), "\"claims\""),
                     MD_JWT_EMALFORMED);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), "{\"exp\":01}"),
                     MD_JWT_EMALFORMED);
}

static void duplicate_names_are_refused(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"iss\":\"%s\"}",
             "https://evil", AUD, NOW + 100, ISS);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EMALFORMED);
    assert_non_null(strstr(err, "repeats"));
    /* The same name spelled with an escape. */
    snprintf(p, sizeof(p), "{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%lld,\"\\u0065xp\":%lld}", ISS,
             AUD, NOW + 100, NOW + 99999);
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"), p), MD_JWT_EMALFORMED);
    /* In the header. */
    assert_int_equal(sign_verify(rsa, "RS256",
                                 "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"alg\":\"RS256\"}",
                                 payload(100, NULL)),
                     MD_JWT_EMALFORMED);
    /* Same names in nested objects are a different matter: allowed. */
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "rsa1"),
                                 payload(100, "\"a\":{\"x\":1},\"b\":{\"x\":1}")),
                     MD_OK);
}

static void huge_token_is_refused(void **state)
{
    (void)state;
    char pad[7000];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    char extra[7100];
    snprintf(extra, sizeof(extra), "\"pad\":\"%s\"", pad);
    size_t n = t_token(rsa, "RS256", header("RS256", "rsa1"), payload(100, extra), tok);
    assert_true(n > MD_JWT_MAX_TOKEN);
    assert_int_equal(verify(tok), MD_JWT_EMALFORMED);
    /* Just below the cap is fine. */
    extra[strlen(extra) - 1 - (n - MD_JWT_MAX_TOKEN) * 3 / 4 - 8] = '\0';
    strcat(extra, "\"");
    n = t_token(rsa, "RS256", header("RS256", "rsa1"), payload(100, extra), tok);
    assert_true(n <= MD_JWT_MAX_TOKEN && n > MD_JWT_MAX_TOKEN - 16);
    assert_int_equal(verify(tok), MD_OK);
}

static void member_count_is_bounded(void **state)
{
    (void)state;
    /* iss, aud, exp plus n more: at most MD_AUTH_JSON_MAX_MEMBERS (256). */
    static char extra[4096];
    for (int total = 256; total <= 257; total++) {
        size_t o = 0;
        for (int i = 0; i < total - 3; i++)
            o += (size_t)snprintf(extra + o, sizeof(extra) - o, "%s\"c%d\":%d", i ? "," : "", i, i);
        int want = total == 256 ? MD_OK : MD_JWT_EMALFORMED;
        assert_int_equal(sign_verify(ec, "ES256", header("ES256", "ec1"), payload(100, extra)),
                         want);
    }
    assert_non_null(strstr(err, "too many members"));
}

/* ---- claims ---- */

static void claims_are_copied_and_decoded(void **state)
{
    (void)state;
    md_jwt_claims_t c;
    const char *extra = "\"sub\":\"s-1\",\"oid\":\"o-2\",\"upn\":\"a@b.c\",\"tid\":\"t-3\","
                        "\"preferred_username\":\"Zo\\u00eb\",\"email\":\"zoe@example.com\","
                        "\"scp\":\"User.Read Employee.Read\",\"roles\":[\"Admin\",\"Ops\"],"
                        "\"n\":5,\"b\":true,\"obj\":{\"sub\":\"inner\"},\"mixed\":[\"a\",1],"
                        "\"nul\":\"ad\\u0000min\",\"empty\":[],\"emoji\":\"\\ud83d\\ude00\"";
    size_t n = t_token(ec, "ES256", header("ES256", "ec1"), payload(100, extra), tok);
    char copy[TOK_MAX];
    memcpy(copy, tok, n + 1);
    assert_int_equal(verify_claims(copy, n, &c), MD_OK);
    memset(copy, 0, sizeof(copy)); /* nothing may point into the token */
    assert_string_equal(md_jwt_claim_string(&c, "sub"), "s-1");
    assert_string_equal(md_jwt_claim_string(&c, "oid"), "o-2");
    assert_string_equal(md_jwt_claim_string(&c, "upn"), "a@b.c");
    assert_string_equal(md_jwt_claim_string(&c, "tid"), "t-3");
    assert_string_equal(md_jwt_claim_string(&c, "preferred_username"), "Zo\xc3\xab");
    assert_string_equal(md_jwt_claim_string(&c, "email"), "zoe@example.com");
    assert_string_equal(md_jwt_claim_string(&c, "iss"), ISS);
    assert_string_equal(md_jwt_claim_string(&c, "emoji"), "\xf0\x9f\x98\x80");
    /* Not strings: absent from the list. */
    assert_null(md_jwt_claim(&c, "n"));
    assert_null(md_jwt_claim(&c, "b"));
    assert_null(md_jwt_claim(&c, "obj"));
    assert_null(md_jwt_claim(&c, "mixed"));
    assert_null(md_jwt_claim(&c, "exp"));
    assert_null(md_jwt_claim_string(&c, "missing"));
    /* A NUL inside: the bytes are there, the C string is not offered. */
    const md_jwt_claim_t *nul = md_jwt_claim(&c, "nul");
    assert_non_null(nul);
    assert_int_equal(nul->values[0].len, 6);
    assert_memory_equal(nul->values[0].ptr, "ad\0min", 7); /* and the NUL after */
    assert_null(md_jwt_claim_string(&c, "nul"));
    const md_jwt_claim_t *roles = md_jwt_claim(&c, "roles");
    assert_true(roles && roles->is_array && roles->n_values == 2);
    assert_string_equal(roles->values[1].ptr, "Ops");
    assert_null(md_jwt_claim_string(&c, "roles"));
    const md_jwt_claim_t *empty = md_jwt_claim(&c, "empty");
    assert_true(empty && empty->is_array && empty->n_values == 0);
    /* iss, aud, sub, oid, upn, tid, preferred_username, email, scp, roles,
     * nul, empty, emoji. */
    assert_int_equal(c.n_items, 13);
}

static void scopes_from_scp_scope_and_roles(void **state)
{
    (void)state;
    md_jwt_claims_t c;
    size_t n = t_token(
        ec, "ES256", header("ES256", "ec1"),
        payload(100, "\"scp\":\"User.Read  Employee.Read\",\"roles\":[\"Admin\",\"Ops Team\"]"),
        tok);
    assert_int_equal(verify_claims(tok, n, &c), MD_OK);
    assert_true(md_jwt_has_scope(&c, "Employee.Read"));
    assert_true(md_jwt_has_scope(&c, "User.Read"));
    assert_true(md_jwt_has_scope(&c, "Admin"));
    assert_true(md_jwt_has_scope(&c, "Ops Team"));
    assert_false(md_jwt_has_scope(&c, "Ops"));
    assert_false(md_jwt_has_scope(&c, "Employee"));
    assert_false(md_jwt_has_scope(&c, "employee.read"));
    assert_false(md_jwt_has_scope(&c, "User.Read Employee.Read"));
    assert_false(md_jwt_has_scope(&c, ""));
    assert_false(md_jwt_has_scope(&c, NULL));
    n = t_token(ec, "ES256", header("ES256", "ec1"),
                payload(100, "\"scope\":\"read write\",\"scp\":[\"x y\"]"), tok);
    assert_int_equal(verify_claims(tok, n, &c), MD_OK);
    assert_true(md_jwt_has_scope(&c, "write"));
    assert_true(md_jwt_has_scope(&c, "x y"));
    assert_false(md_jwt_has_scope(&c, "x"));
    assert_false(md_jwt_has_scope(&c, "Admin"));
    n = t_token(ec, "ES256", header("ES256", "ec1"), payload(100, NULL), tok);
    assert_int_equal(verify_claims(tok, n, &c), MD_OK);
    assert_false(md_jwt_has_scope(&c, "read"));
}

/* ---- policy and arguments ---- */

static void unusable_policies_are_refused(void **state)
{
    (void)state;
    t_token(rsa, "RS256", header("RS256", "rsa1"), payload(100, NULL), tok);
    md_jwt_policy_t p = policy;
    p.issuer = NULL;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    assert_int_equal(md_jwt_verify(&p, keys, tok, strlen(tok), NOW, NULL, NULL, err, sizeof(err)),
                     MD_JWT_EPOLICY);
    p = policy;
    p.n_audiences = 0;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    p = policy;
    p.n_audiences = MD_JWT_MAX_AUDIENCES + 1;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    const char *const empty[] = { "" };
    p = policy;
    p.audiences = empty;
    p.n_audiences = 1;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    p = policy;
    p.algs = 0;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    p.algs = 1u << 20;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    p = policy;
    p.leeway_s = -1;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    p.leeway_s = MD_JWT_MAX_LEEWAY + 1;
    assert_int_equal(md_jwt_policy_check(&p, err, sizeof(err)), MD_JWT_EPOLICY);
    assert_int_equal(md_jwt_policy_check(&policy, err, sizeof(err)), MD_OK);
    /* Claims without a pool; a NULL token with a length. */
    md_jwt_claims_t c;
    assert_int_equal(
        md_jwt_verify(&policy, keys, tok, strlen(tok), NOW, NULL, &c, err, sizeof(err)),
        MD_JWT_EPOLICY);
    assert_int_equal(md_jwt_verify(&policy, keys, NULL, 5, NOW, pool, &c, err, sizeof(err)),
                     MD_JWT_EPOLICY);
    assert_int_equal(md_jwt_verify(&policy, keys, NULL, 0, NOW, pool, &c, NULL, 0),
                     MD_JWT_EMALFORMED);
}

static void messages_do_not_echo_the_token(void **state)
{
    (void)state;
    assert_int_equal(
        sign_verify(rsa, "RS256", "{\"alg\":\"<script>\",\"kid\":\"rsa1\"}", payload(100, NULL)),
        MD_JWT_EALG);
    assert_null(strstr(err, "script"));
    assert_int_equal(sign_verify(rsa, "RS256", header("RS256", "<kid-secret>"), payload(100, NULL)),
                     MD_JWT_EKID);
    assert_null(strstr(err, "kid-secret"));
    assert_string_equal(md_jwt_strerror(MD_JWT_EKID), "unknown key id");
    assert_string_equal(md_jwt_strerror(MD_JWT_EEXPIRED), "token expired");
    assert_string_equal(md_jwt_strerror(MD_EINVAL), "invalid");
}

/* ---- b64url (the decoder jwt relies on) ---- */

static void b64url_decoding_rules(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 99;
    assert_int_equal(md_b64url_decode("", 0, out, sizeof(out), &n), MD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(md_b64url_decode("Zm9vYmFy", 8, out, sizeof(out), &n),
                     MD_OK); /* RFC 4648 10 */
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(md_b64url_decode("Zm9vYg", 6, out, sizeof(out), &n), MD_OK);
    assert_memory_equal(out, "foob", 4);
    assert_int_equal(n, 4);
    assert_int_equal(md_b64url_decode("Zm9vYmE", 7, out, sizeof(out), &n), MD_OK);
    assert_int_equal(n, 5);
    assert_int_equal(md_b64url_decode("-_-_", 4, out, sizeof(out), &n), MD_OK);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    assert_int_equal(md_b64url_decode("Zm9vYg==", 8, out, sizeof(out), &n), MD_EINVAL);
    assert_int_equal(md_b64url_decode("+/+/", 4, out, sizeof(out), &n), MD_EINVAL);
    assert_int_equal(md_b64url_decode("Zm9vY", 5, out, sizeof(out), &n), MD_EINVAL); /* 4k+1 */
    assert_int_equal(md_b64url_decode("Zm9vYh", 6, out, sizeof(out), &n),
                     MD_EINVAL); /* trailing bits */
    assert_int_equal(md_b64url_decode("Zm9vYmF", 7, out, sizeof(out), &n), MD_EINVAL);
    assert_int_equal(md_b64url_decode("Zm9\0Ym", 6, out, sizeof(out), &n), MD_EINVAL);
    assert_int_equal(md_b64url_decode("Zm9vYmFy", 8, out, 5, &n), MD_ETOOBIG);
    assert_int_equal(md_b64url_decode("Zm9vYmFy", 8, out, 6, &n), MD_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(valid_rs256_ps256_es256, reset),
        cmocka_unit_test_setup(valid_other_algs_when_allowed, reset),
        cmocka_unit_test_setup(header_without_typ_and_with_at_jwt, reset),
        cmocka_unit_test_setup(expiry_and_leeway, reset),
        cmocka_unit_test_setup(not_before_and_issued_at, reset),
        cmocka_unit_test_setup(bad_time_claims_are_malformed, reset),
        cmocka_unit_test_setup(issuer_must_match_exactly, reset),
        cmocka_unit_test_setup(audience_string_or_array, reset),
        cmocka_unit_test_setup(flipped_signature_and_payload_fail, reset),
        cmocka_unit_test_setup(wrong_key_and_wrong_padding_fail, reset),
        cmocka_unit_test_setup(alg_none_and_hmac_are_refused, reset),
        cmocka_unit_test_setup(alg_must_fit_the_key, reset),
        cmocka_unit_test_setup(kid_selects_the_key, reset),
        cmocka_unit_test_setup(single_key_set_needs_no_kid, reset),
        cmocka_unit_test_setup(crit_is_refused, reset),
        cmocka_unit_test_setup(wrong_segment_counts, reset),
        cmocka_unit_test_setup(base64url_must_be_strict, reset),
        cmocka_unit_test_setup(header_and_payload_must_be_objects, reset),
        cmocka_unit_test_setup(duplicate_names_are_refused, reset),
        cmocka_unit_test_setup(huge_token_is_refused, reset),
        cmocka_unit_test_setup(member_count_is_bounded, reset),
        cmocka_unit_test_setup(claims_are_copied_and_decoded, reset),
        cmocka_unit_test_setup(scopes_from_scp_scope_and_roles, reset),
        cmocka_unit_test_setup(unusable_policies_are_refused, reset),
        cmocka_unit_test_setup(messages_do_not_echo_the_token, reset),
        cmocka_unit_test(b64url_decoding_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
