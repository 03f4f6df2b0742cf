/*
 * authtest.h - test-side JOSE helpers for the auth tests and the JWT fuzz
 * driver: key pairs generated at run time (no private key is ever
 * committed), JWK JSON built from their public parameters, and tokens
 * signed with OpenSSL's EVP_DigestSign.
 *
 * Everything here is written independently of src/auth (its own base64url
 * encoder, its own DER-to-r||s conversion) so that the tests check the
 * module against the RFCs, not against itself.
 */
#ifndef MD_TEST_AUTHTEST_H
#define MD_TEST_AUTHTEST_H

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 4648 section 5, no padding. out needs 4 * ceil(n / 3) + 1 bytes. */
static inline size_t t_b64url(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = abc[v >> 6 & 63];
        out[o++] = abc[v & 63];
    }
    if (n - i == 1) {
        out[o++] = abc[in[i] >> 2];
        out[o++] = abc[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        out[o++] = abc[in[i] >> 2];
        out[o++] = abc[(in[i] & 3) << 4 | in[i + 1] >> 4];
        out[o++] = abc[(in[i + 1] & 15) << 2];
    }
    out[o] = '\0';
    return o;
}

static inline size_t t_b64url_str(const char *s, char *out)
{
    return t_b64url((const unsigned char *)s, strlen(s), out);
}

static inline EVP_PKEY *t_rsa_key(unsigned bits)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

static inline EVP_PKEY *t_ec_key(const char *curve)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

/* base64url of BIGNUM parameter `name` of pk, left-padded to `pad` bytes
 * (0: minimal). */
static inline void t_param_b64(EVP_PKEY *pk, const char *name, int pad, char *out)
{
    BIGNUM *bn = NULL;
    unsigned char bin[1100];
    if (!EVP_PKEY_get_bn_param(pk, name, &bn))
        abort();
    int n = pad ? BN_bn2binpad(bn, bin, pad) : BN_bn2bin(bn, bin);
    BN_free(bn);
    t_b64url(bin, (size_t)n, out);
}

/* The JWK of pk's public half: {"kty":..,"kid":kid,<extra>,...}. `extra`
 * is raw JSON members ("\"alg\":\"RS256\"") or NULL. out: 4 KiB. */
static inline void t_jwk(EVP_PKEY *pk, const char *kid, const char *extra, char *out, size_t cap)
{
    char a[1500], b[1500];
    const char *sep = extra ? "," : "";
    extra = extra ? extra : "";
    if (EVP_PKEY_is_a(pk, "RSA")) {
        t_param_b64(pk, OSSL_PKEY_PARAM_RSA_N, 0, a);
        t_param_b64(pk, OSSL_PKEY_PARAM_RSA_E, 0, b);
        snprintf(out, cap, "{\"kty\":\"RSA\",\"kid\":\"%s\"%s%s,\"n\":\"%s\",\"e\":\"%s\"}", kid,
                 sep, extra, a, b);
        return;
    }
    int size = EVP_PKEY_get_bits(pk) == 256 ? 32 : 48;
    t_param_b64(pk, OSSL_PKEY_PARAM_EC_PUB_X, size, a);
    t_param_b64(pk, OSSL_PKEY_PARAM_EC_PUB_Y, size, b);
    snprintf(out, cap,
             "{\"kty\":\"EC\",\"kid\":\"%s\"%s%s,\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid,
             sep, extra, size == 32 ? "P-256" : "P-384", a, b);
}

/* Reads one DER INTEGER at *p into out[0..size) right-aligned. */
static inline bool t_der_int(const unsigned char **p, const unsigned char *end, unsigned char *out,
                             size_t size)
{
    if (end - *p < 2 || (*p)[0] != 0x02)
        return false;
    size_t len = (*p)[1];
    const unsigned char *v = *p + 2;
    if ((size_t)(end - v) < len)
        return false;
    *p = v + len;
    while (len > size && v[0] == 0)
        v++, len--;
    if (len > size)
        return false;
    memset(out, 0, size - len);
    memcpy(out + size - len, v, len);
    return true;
}

/* ECDSA-Sig-Value DER to JOSE r||s (size bytes each). */
static inline bool t_der_to_raw(const unsigned char *der, size_t n, size_t size, unsigned char *raw)
{
    const unsigned char *end = der + n, *p = der + 2;
    if (n < 2 || der[0] != 0x30 || der[1] != n - 2)
        return false;
    return t_der_int(&p, end, raw, size) && t_der_int(&p, end, raw + size, size) && p == end;
}

/* Signs data with pk the way JWS alg `alg` says; sig needs 1100 bytes. */
static inline size_t t_sign(EVP_PKEY *pk, const char *alg, const char *data, size_t n,
                            unsigned char *sig)
{
    const char *md = strstr(alg, "256") ? "SHA256" : strstr(alg, "384") ? "SHA384" : "SHA512";
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    unsigned char der[1100];
    size_t len = sizeof(der);
    if (EVP_DigestSignInit_ex(c, &pc, md, NULL, NULL, pk, NULL) != 1)
        abort();
    if (alg[0] == 'P' && (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
                          EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1))
        abort();
    if (EVP_DigestSign(c, der, &len, (const unsigned char *)data, n) != 1)
        abort();
    EVP_MD_CTX_free(c);
    if (alg[0] != 'E') {
        memcpy(sig, der, len);
        return len;
    }
    size_t size = EVP_PKEY_get_bits(pk) == 256 ? 32 : 48;
    if (!t_der_to_raw(der, len, size, sig))
        abort();
    return 2 * size;
}

/* header.payload.signature: the two JSON texts encoded, signed with pk
 * as `alg` (the caller's header says which alg it claims; they may
 * differ on purpose). pk NULL: empty signature. out: 16 KiB. */
static inline size_t t_token(EVP_PKEY *pk, const char *alg, const char *header, const char *payload,
                             char *out)
{
    size_t n = t_b64url_str(header, out);
    out[n++] = '.';
    n += t_b64url_str(payload, out + n);
    unsigned char sig[1100] = { 0 };
    size_t slen = pk ? t_sign(pk, alg, out, n, sig) : 0;
    out[n++] = '.';
    n += t_b64url(sig, slen, out + n);
    return n;
}

#endif
