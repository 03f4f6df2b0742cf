/*
 * jwt_verify.c - micro-benchmark of auth/jwt: microseconds per
 * md_jwt_verify() of an Azure AD-like access token (about 1.3 KB, 20
 * claims, claims copied into a pool) for RS256 and PS256 (RSA 2048),
 * ES256 (P-256) and ES384 (P-384), next to OpenSSL's EVP_DigestVerify of
 * the same bytes alone, so the difference is medley's own share (base64url,
 * two strict JSON scans, claim checks and copies). Also: a malformed token
 * (refused before any cryptography) and parsing a two-key JWKS.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc -Itests/unit/auth bench/micro/jwt_verify.c \
 *      src/auth/jwt.c src/auth/jwks.c src/auth/b64url.c src/auth/json_strict.c \
 *      src/json/scan.c src/core/[a-z]*.c -lcrypto -lm -pthread -o /tmp/jwt_verify
 *   /tmp/jwt_verify
 *
 * Keys are generated at start; prints the best of 5 rounds.
 */
#include "authtest.h"

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/common.h"
#include "core/pool.h"

#include <time.h>

#define NOW 1700000000LL

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *payload =
    "{\"aud\":\"api://medley\",\"iss\":\"https://login.microsoftonline.com/"
    "72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0\",\"iat\":1699999000,\"nbf\":1699999000,"
    "\"exp\":1700003600,\"aio\":\"ATQAy/8VAAAAo2nFqM0r0e6dCX0y2tG3rS8fMsQW8xmEiDEnWHTN1yBnJ3R\","
    "\"azp\":\"0a4d5c8e-1f3b-4d2a-9c6e-7b8f9a0b1c2d\",\"azpacr\":\"0\",\"name\":\"Zo\\u00eb "
    "Example\","
    "\"oid\":\"3f2a1b4c-5d6e-7f80-91a2-b3c4d5e6f708\",\"preferred_username\":\"zoe@example.com\","
    "\"rh\":\"0.AQEAv4j5cvGGr0GRqy180BHbR1wNTQpvH_9Kh3GKXRo3w6wBAAA.\",\"roles\":[\"Employee."
    "Read\","
    "\"Reports.View\"],\"scp\":\"User.Read Employee.Read Calendars.Read\",\"sub\":"
    "\"kX3v9Q2mPz8rLw5tYb1nHc7dFg4jKs6aUe0iOp2qRxW\",\"tid\":\"72f988bf-86f1-41af-91ab-"
    "2d7cd011db47\","
    "\"uti\":\"AbCdEfGhIjKlMnOpQrStUv\",\"ver\":\"2.0\",\"email\":\"zoe@example.com\","
    "\"upn\":\"zoe@example.com\",\"wids\":[\"b79fbf4d-3ef9-4689-8143-76b194e85509\"]}";

static md_jwt_policy_t policy;
static const char *const auds[] = { "api://medley" };

static double bench_verify(md_jwks_t *keys, const char *tok, int iters, int want)
{
    md_pool_t *pool = md_pool_new(0);
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
        double t0 = now_s();
        for (int i = 0; i < iters; i++) {
            md_jwt_claims_t c;
            if (md_jwt_verify(&policy, keys, tok, strlen(tok), NOW, pool, &c, NULL, 0) != want)
                abort();
            md_pool_reset(pool);
        }
        best = MD_MIN(best, (now_s() - t0) / iters * 1e6);
    }
    md_pool_destroy(pool);
    return best;
}

/* EVP_DigestVerify of the token's signing input alone, for comparison. */
static double bench_openssl(EVP_PKEY *pk, const char *alg, const char *tok, int iters)
{
    const char *dot = strrchr(tok, '.');
    unsigned char der[1100];
    size_t len = sizeof(der);
    const char *md = strstr(alg, "256") ? "SHA256" : "SHA384";
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc;
    EVP_DigestSignInit_ex(c, &pc, md, NULL, NULL, pk, NULL);
    if (alg[0] == 'P') {
        EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST);
    }
    EVP_DigestSign(c, der, &len, (const unsigned char *)tok, (size_t)(dot - tok));
    EVP_MD_CTX_free(c);
    double best = 1e9;
    for (int round = 0; round < 5; round++) {
        double t0 = now_s();
        for (int i = 0; i < iters; i++) {
            c = EVP_MD_CTX_new();
            EVP_DigestVerifyInit_ex(c, &pc, md, NULL, NULL, pk, NULL);
            if (alg[0] == 'P') {
                EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING);
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST);
            }
            if (EVP_DigestVerify(c, der, len, (const unsigned char *)tok, (size_t)(dot - tok)) != 1)
                abort();
            EVP_MD_CTX_free(c);
        }
        best = MD_MIN(best, (now_s() - t0) / iters * 1e6);
    }
    return best;
}

int main(void)
{
    EVP_PKEY *rsa = t_rsa_key(2048), *ec = t_ec_key("P-256"), *ec384 = t_ec_key("P-384");
    char a[4096], b[4096], c[4096], doc[13000];
    t_jwk(rsa, "r1", NULL, a, sizeof(a));
    t_jwk(ec, "e1", NULL, b, sizeof(b));
    t_jwk(ec384, "e3", NULL, c, sizeof(c));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", a, b, c);
    md_jwks_t *keys;
    char err[256];
    if (md_jwks_parse(doc, strlen(doc), &keys, err, sizeof(err)) != MD_OK)
        return fprintf(stderr, "%s\n", err), 1;
    md_jwt_policy_init(
        &policy, "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
        auds, 1);
    policy.algs = MD_JWA_ALL;
    static const struct {
        const char *alg, *kid;
        int iters;
    } cases[] = { { "RS256", "r1", 2000 },
                  { "PS256", "r1", 2000 },
                  { "ES256", "e1", 1000 },
                  { "ES384", "e3", 300 } };
    static char tok[8192];
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        EVP_PKEY *pk = cases[i].alg[0] == 'E' ? (cases[i].kid[1] == '3' ? ec384 : ec) : rsa;
        char h[128];
        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", cases[i].alg,
                 cases[i].kid);
        size_t n = t_token(pk, cases[i].alg, h, payload, tok);
        printf("%s  md_jwt_verify %7.1f us   EVP_DigestVerify alone %7.1f us   (token %zu bytes)\n",
               cases[i].alg, bench_verify(keys, tok, cases[i].iters, MD_OK),
               bench_openssl(pk, cases[i].alg, tok, cases[i].iters), n);
    }
    printf("malformed (bad base64url in the header)  %5.2f us\n",
           bench_verify(keys, "eyJhbGciOiJSUzI1NiJ9=.e30.AAAA", 100000, MD_JWT_EMALFORMED));
    double t0 = now_s();
    for (int i = 0; i < 200; i++) {
        md_jwks_t *ks;
        md_jwks_parse(doc, strlen(doc), &ks, err, sizeof(err));
        md_jwks_release(ks);
    }
    printf("md_jwks_parse of a 3-key JWKS (RSA 2048, P-256, P-384)  %6.1f us\n",
           (now_s() - t0) / 200 * 1e6);
    md_jwks_release(keys);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ec384);
    return 0;
}
