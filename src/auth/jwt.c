/*
 * jwt.c - JWS compact token verification; jwt.h lists the rules in the
 * order they are checked, and this file follows that order.
 *
 * One verification allocates only the JSON token array (json/scan.h) and
 * OpenSSL's digest context; the decoded segments live in a stack buffer
 * sized for the largest token we accept. Claims are copied into the
 * caller's pool after everything has passed.
 */
#include "auth/jwt.h"

#include "auth/b64url.h"
#include "auth/json_strict.h"
#include "json/scan.h"

#include <math.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* All three segments decoded fit here: base64url turns 4 bytes into 3. */
#define DECODED_MAX (MD_JWT_MAX_TOKEN / 4 * 3 + 8)

/* NumericDates beyond +-2^53 s (285 million years) are refused: every
 * accepted value is then an exact integer-or-fraction double. */
#define DATE_LIMIT 9007199254740992.0

typedef struct verify {
    const md_jwt_policy_t *policy;
    char *err;
    size_t errlen;
    const char *seg[3]; /* header, payload, signature as sent */
    size_t seglen[3];
    const char *hjson, *pjson; /* decoded header and payload JSON */
    size_t hlen, plen;
    const unsigned char *sig;
    size_t siglen;
    md_json_toks_t toks; /* header's tokens, then the payload's */
    uint32_t hroot, proot;
    unsigned alg;
    const md_jwk_t *key;
    double exp, nbf, iat;
    bool has_nbf, has_iat;
    unsigned char buf[DECODED_MAX];
} verify_t;

static int fail(verify_t *v, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(verify_t *v, int rc, const char *fmt, ...)
{
    if (v->err && v->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->err, v->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- policy ---- */

void md_jwt_policy_init(md_jwt_policy_t *p, const char *issuer, const char *const *audiences,
                        size_t n_audiences)
{
    memset(p, 0, sizeof(*p));
    p->issuer = issuer;
    p->audiences = audiences;
    p->n_audiences = n_audiences;
    p->algs = MD_JWA_RS256 | MD_JWA_PS256 | MD_JWA_ES256;
    p->leeway_s = MD_JWT_DEFAULT_LEEWAY;
}

int md_jwt_policy_check(const md_jwt_policy_t *p, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!p || !p->issuer || !p->issuer[0])
        why = "an issuer is required";
    else if (!p->audiences || p->n_audiences == 0 || p->n_audiences > MD_JWT_MAX_AUDIENCES)
        why = "1 to 16 audiences are required";
    else if (p->algs == 0 || (p->algs & ~(unsigned)MD_JWA_ALL))
        why = "the algorithm set is empty or holds an unknown algorithm";
    else if (p->leeway_s < 0 || p->leeway_s > MD_JWT_MAX_LEEWAY)
        why = "leeway must be 0..3600 seconds";
    for (size_t i = 0; !why && i < p->n_audiences; i++)
        if (!p->audiences[i] || !p->audiences[i][0])
            why = "an audience is empty";
    if (!why)
        return MD_OK;
    md_seterr(err, errlen, "JWT policy: %s", why);
    return MD_JWT_EPOLICY;
}

/* ---- step 1: shape ---- */

static int split(verify_t *v, const char *token, size_t len)
{
    if (len > MD_JWT_MAX_TOKEN)
        return fail(v, MD_JWT_EMALFORMED, "token is %zu bytes, at most %d allowed", len,
                    MD_JWT_MAX_TOKEN);
    const char *p = token, *end = token + len;
    for (int i = 0; i < 3; i++) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        if ((i < 2) != (dot != NULL))
            return fail(v, MD_JWT_EMALFORMED, "token does not have exactly three segments");
        v->seg[i] = p;
        v->seglen[i] = (size_t)((dot ? dot : end) - p);
        p = dot ? dot + 1 : end;
    }
    if (v->seglen[0] == 0 || v->seglen[1] == 0)
        return fail(v, MD_JWT_EMALFORMED, "token has an empty header or payload");
    return MD_OK;
}

/* Decodes segment i into v->buf at *used. */
static int decode_segment(verify_t *v, int i, size_t *used, const unsigned char **out,
                          size_t *outlen)
{
    static const char *const names[] = { "header", "payload", "signature" };
    int rc =
        md_b64url_decode(v->seg[i], v->seglen[i], v->buf + *used, sizeof(v->buf) - *used, outlen);
    if (rc != MD_OK)
        return fail(v, MD_JWT_EMALFORMED, "%s is not strict base64url", names[i]);
    *out = v->buf + *used;
    *used += *outlen;
    return MD_OK;
}

static int decode_all(verify_t *v)
{
    size_t used = 0;
    const unsigned char *h = NULL, *p = NULL;
    int rc = decode_segment(v, 0, &used, &h, &v->hlen);
    if (rc == MD_OK)
        rc = decode_segment(v, 1, &used, &p, &v->plen);
    if (rc == MD_OK)
        rc = decode_segment(v, 2, &used, &v->sig, &v->siglen);
    v->hjson = (const char *)h;
    v->pjson = (const char *)p;
    return rc;
}

/* Scans json as a strict object without repeated names; *root gets it. */
static int scan_object(verify_t *v, const char *what, const char *json, size_t len, uint32_t *root)
{
    char why[96];
    if (md_json_scan(&v->toks, json, len, root, why, sizeof(why)) != MD_OK)
        return fail(v, MD_JWT_EMALFORMED, "%s: %s", what, why);
    int rc = md_auth_json_unique(json, v->toks.v, *root);
    if (rc == MD_OK)
        return MD_OK;
    if (v->toks.v[*root].type != MD_JSON_OBJECT)
        return fail(v, MD_JWT_EMALFORMED, "%s is not a JSON object", what);
    return fail(v, MD_JWT_EMALFORMED, "%s %s", what,
                rc == MD_ETOOBIG ? "has too many members" : "repeats a member name");
}

/* ---- step 2: header ---- */

static uint32_t header_member(const verify_t *v, const char *name)
{
    return md_json_member(v->hjson, v->toks.v, v->hroot, name, strlen(name));
}

static int check_alg(verify_t *v)
{
    uint32_t t = header_member(v, "alg");
    if (t == MD_JSON_NONE || v->toks.v[t].type != MD_JSON_STRING)
        return fail(v, MD_JWT_EMALFORMED, "header has no alg string");
    char name[16];
    size_t len;
    if (md_auth_json_string(v->hjson, &v->toks.v[t], name, sizeof(name), &len) != MD_OK)
        return fail(v, MD_JWT_EALG, "alg is not supported");
    v->alg = md_jwa_from_name(name, len);
    if (strcmp(name, "none") == 0)
        return fail(v, MD_JWT_EALG, "alg none (unsigned token) is never accepted");
    if (name[0] == 'H' && name[1] == 'S')
        return fail(v, MD_JWT_EALG, "HMAC algs are never accepted");
    if (!v->alg)
        return fail(v, MD_JWT_EALG, "alg is not supported");
    if (!(v->alg & v->policy->algs))
        return fail(v, MD_JWT_EALG, "alg %s is not allowed by the policy", md_jwa_name(v->alg));
    return MD_OK;
}

static int check_typ(verify_t *v)
{
    uint32_t t = header_member(v, "typ");
    if (t == MD_JSON_NONE)
        return MD_OK;
    char typ[32];
    size_t len;
    if (md_auth_json_string(v->hjson, &v->toks.v[t], typ, sizeof(typ), &len) == MD_OK &&
        strlen(typ) == len) {
        /* RFC 7515 4.1.9: "application/" may be left out. */
        const char *s = strncasecmp(typ, "application/", 12) == 0 ? typ + 12 : typ;
        if (strcasecmp(s, "JWT") == 0 || strcasecmp(s, "at+jwt") == 0)
            return MD_OK;
    }
    return fail(v, MD_JWT_EMALFORMED, "typ is neither JWT nor at+jwt");
}

static int parse_header(verify_t *v)
{
    int rc = scan_object(v, "header", v->hjson, v->hlen, &v->hroot);
    if (rc == MD_OK)
        rc = check_alg(v);
    if (rc == MD_OK && header_member(v, "crit") != MD_JSON_NONE)
        rc = fail(v, MD_JWT_EMALFORMED, "header has crit: no extension is supported");
    if (rc == MD_OK)
        rc = check_typ(v);
    return rc;
}

/* ---- step 3: key ---- */

static bool key_fits(const verify_t *v, const md_jwk_t *k)
{
    return md_jwa_key_kind(v->alg) == k->kind && (k->alg == 0 || k->alg == v->alg);
}

static int select_key(verify_t *v, const md_jwks_t *keys)
{
    size_t n = keys ? md_jwks_count(keys) : 0;
    uint32_t kid = header_member(v, "kid");
    if (kid == MD_JSON_NONE) {
        if (n != 1)
            return fail(v, MD_JWT_EKID, "token has no kid and the key set has %zu keys", n);
        v->key = md_jwks_key(keys, 0);
        return key_fits(v, v->key)
                   ? MD_OK
                   : fail(v, MD_JWT_EALG, "alg %s does not fit the key", md_jwa_name(v->alg));
    }
    const md_json_tok_t *t = &v->toks.v[kid];
    if (t->type != MD_JSON_STRING)
        return fail(v, MD_JWT_EMALFORMED, "kid is not a string");
    bool seen = false;
    for (size_t i = 0; i < n; i++) {
        const md_jwk_t *k = md_jwks_key(keys, i);
        if (!k->has_kid || !md_json_str_equal(v->hjson, t, k->kid, k->kid_len))
            continue;
        seen = true;
        if (key_fits(v, k)) {
            v->key = k;
            return MD_OK;
        }
    }
    if (!seen)
        return fail(v, MD_JWT_EKID, "no key has the token's kid");
    return fail(v, MD_JWT_EALG, "alg %s does not fit the key with the token's kid",
                md_jwa_name(v->alg));
}

/* ---- step 4: signature ---- */

static const char *const digest_names[] = { "SHA256", "SHA384", "SHA512" };
static EVP_MD *mds[3];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;

/* Fetching a digest by name costs a locked lookup; do it once. */
static void mds_fetch(void)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(mds); i++)
        mds[i] = EVP_MD_fetch(NULL, digest_names[i], NULL);
    ERR_clear_error();
}

static const EVP_MD *digest_for(unsigned alg)
{
    pthread_once(&mds_once, mds_fetch);
    if (alg & (MD_JWA_RS256 | MD_JWA_PS256 | MD_JWA_ES256))
        return mds[0];
    if (alg & (MD_JWA_RS384 | MD_JWA_PS384 | MD_JWA_ES384))
        return mds[1];
    return mds[2];
}

/* Appends big-endian unsigned x[0..n) as a DER INTEGER; returns bytes. */
static size_t der_integer(unsigned char *out, const unsigned char *x, size_t n)
{
    while (n > 1 && x[0] == 0)
        x++, n--;
    size_t pad = x[0] & 0x80 ? 1 : 0; /* keep it positive */
    out[0] = 0x02;
    out[1] = (unsigned char)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, x, n);
    return 2 + pad + n;
}

/* JOSE's r||s (RFC 7518 3.4) as the DER ECDSA-Sig-Value OpenSSL wants.
 * For P-384 the body is at most 2 * 51 bytes: short-form lengths do. */
static size_t ecdsa_der(unsigned char *out, const unsigned char *rs, size_t len)
{
    size_t half = len / 2;
    size_t body = der_integer(out + 2, rs, half);
    body += der_integer(out + 2 + body, rs + half, half);
    out[0] = 0x30;
    out[1] = (unsigned char)body;
    return 2 + body;
}

static size_t expected_sig_len(const md_jwk_t *k)
{
    if (k->kind == MD_JWK_RSA)
        return (size_t)EVP_PKEY_get_size(k->pkey);
    return k->kind == MD_JWK_EC_P256 ? 64 : 96;
}

static bool openssl_verify(const verify_t *v, const unsigned char *sig, size_t siglen)
{
    const EVP_MD *md = digest_for(v->alg);
    EVP_MD_CTX *mctx = md ? EVP_MD_CTX_new() : NULL;
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = mctx && EVP_DigestVerifyInit(mctx, &pctx, md, NULL, v->key->pkey) == 1;
    if (ok && (v->alg & (MD_JWA_PS256 | MD_JWA_PS384 | MD_JWA_PS512)))
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    /* The signing input is the first two segments exactly as sent. */
    size_t tbslen = v->seglen[0] + 1 + v->seglen[1];
    ok = ok && EVP_DigestVerify(mctx, sig, siglen, (const unsigned char *)v->seg[0], tbslen) == 1;
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok;
}

static int check_signature(verify_t *v)
{
    if (v->siglen != expected_sig_len(v->key))
        return fail(v, MD_JWT_ESIGNATURE, "signature has the wrong length for the key");
    const unsigned char *sig = v->sig;
    size_t siglen = v->siglen;
    unsigned char der[2 + 2 * (3 + 48)];
    if (v->key->kind != MD_JWK_RSA) {
        siglen = ecdsa_der(der, v->sig, v->siglen);
        sig = der;
    }
    return openssl_verify(v, sig, siglen) ? MD_OK
                                          : fail(v, MD_JWT_ESIGNATURE, "signature does not verify");
}

/* ---- steps 5 and 6: payload and claims ---- */

static uint32_t claim_tok(const verify_t *v, const char *name)
{
    return md_json_member(v->pjson, v->toks.v, v->proot, name, strlen(name));
}

static int numeric_date(verify_t *v, const char *name, double *out, bool *present)
{
    uint32_t t = claim_tok(v, name);
    *present = t != MD_JSON_NONE;
    if (!*present)
        return MD_OK;
    if (v->toks.v[t].type != MD_JSON_NUMBER)
        return fail(v, MD_JWT_EMALFORMED, "%s is not a number", name);
    *out = md_json_number(v->pjson, &v->toks.v[t]);
    if (!(*out >= -DATE_LIMIT && *out <= DATE_LIMIT))
        return fail(v, MD_JWT_EMALFORMED, "%s is out of range", name);
    return MD_OK;
}

static int parse_payload(verify_t *v)
{
    bool has_exp;
    int rc = scan_object(v, "payload", v->pjson, v->plen, &v->proot);
    if (rc == MD_OK)
        rc = numeric_date(v, "exp", &v->exp, &has_exp);
    if (rc == MD_OK && !has_exp)
        rc = fail(v, MD_JWT_EMALFORMED, "exp is missing");
    if (rc == MD_OK)
        rc = numeric_date(v, "nbf", &v->nbf, &v->has_nbf);
    if (rc == MD_OK)
        rc = numeric_date(v, "iat", &v->iat, &v->has_iat);
    return rc;
}

static bool is_our_audience(const verify_t *v, const md_json_tok_t *t)
{
    for (size_t i = 0; i < v->policy->n_audiences; i++) {
        const char *a = v->policy->audiences[i];
        if (md_json_str_equal(v->pjson, t, a, strlen(a)))
            return true;
    }
    return false;
}

static int check_audience(verify_t *v)
{
    uint32_t t = claim_tok(v, "aud");
    const md_json_tok_t *toks = v->toks.v;
    if (t == MD_JSON_NONE)
        return fail(v, MD_JWT_EAUDIENCE, "aud is missing");
    if (toks[t].type == MD_JSON_STRING)
        return is_our_audience(v, &toks[t]) ? MD_OK : fail(v, MD_JWT_EAUDIENCE, "aud is not ours");
    if (toks[t].type != MD_JSON_ARRAY)
        return fail(v, MD_JWT_EMALFORMED, "aud is neither a string nor an array");
    bool ours = false;
    uint32_t e = t + 1;
    for (uint32_t i = 0; i < toks[t].count; i++, e = toks[e].next) {
        if (toks[e].type != MD_JSON_STRING)
            return fail(v, MD_JWT_EMALFORMED, "aud holds a non-string");
        ours = ours || is_our_audience(v, &toks[e]);
    }
    return ours ? MD_OK : fail(v, MD_JWT_EAUDIENCE, "aud holds none of our audiences");
}

static int check_claims(verify_t *v, int64_t now_s)
{
    uint32_t iss = claim_tok(v, "iss");
    const char *want = v->policy->issuer;
    if (iss == MD_JSON_NONE || !md_json_str_equal(v->pjson, &v->toks.v[iss], want, strlen(want)))
        return fail(v, MD_JWT_EISSUER, "iss is %s", iss == MD_JSON_NONE ? "missing" : "not ours");
    int rc = check_audience(v);
    if (rc != MD_OK)
        return rc;
    double now = (double)now_s, leeway = (double)v->policy->leeway_s;
    if (now >= v->exp + leeway)
        return fail(v, MD_JWT_EEXPIRED, "exp is %.0f s in the past", now - v->exp);
    if (v->has_nbf && now + leeway < v->nbf)
        return fail(v, MD_JWT_ENOTYET, "nbf is %.0f s in the future", v->nbf - now);
    if (v->has_iat && v->iat > now + leeway)
        return fail(v, MD_JWT_ENOTYET, "iat is %.0f s in the future", v->iat - now);
    return MD_OK;
}

/* ---- claims out ---- */

/* Decoded copy of string token t in the pool (never longer than t). */
static md_str_t pool_string(md_pool_t *pool, const char *json, const md_json_tok_t *t)
{
    char *s = md_pool_alloc(pool, t->len - 1);
    size_t len = 0;
    if (md_auth_json_string(json, t, s, t->len - 1, &len) != MD_OK)
        s[0] = '\0'; /* cannot happen: the scanner validated t */
    return (md_str_t){ s, len };
}

static bool copyable(const md_json_tok_t *toks, uint32_t t)
{
    if (toks[t].type == MD_JSON_STRING)
        return true;
    if (toks[t].type != MD_JSON_ARRAY)
        return false;
    uint32_t e = t + 1;
    for (uint32_t i = 0; i < toks[t].count; i++, e = toks[e].next)
        if (toks[e].type != MD_JSON_STRING)
            return false;
    return true;
}

static void copy_claim(md_pool_t *pool, const char *json, const md_json_tok_t *toks, uint32_t key,
                       md_jwt_claim_t *c)
{
    uint32_t val = key + 1;
    c->name = pool_string(pool, json, &toks[key]);
    c->is_array = toks[val].type == MD_JSON_ARRAY;
    c->n_values = c->is_array ? toks[val].count : 1;
    c->values = md_pool_alloc(pool, (c->n_values ? c->n_values : 1) * sizeof(md_str_t));
    uint32_t e = c->is_array ? val + 1 : val;
    for (uint32_t i = 0; i < c->n_values; i++, e = toks[e].next)
        c->values[i] = pool_string(pool, json, &toks[e]);
}

static void copy_claims(const verify_t *v, md_pool_t *pool, md_jwt_claims_t *out)
{
    const md_json_tok_t *toks = v->toks.v;
    uint32_t n = toks[v->proot].count, k = v->proot + 1, used = 0;
    md_jwt_claim_t *items = md_pool_alloc(pool, (n ? n : 1) * sizeof(*items));
    for (uint32_t i = 0; i < n; i++, k = toks[k + 1].next)
        if (copyable(toks, k + 1))
            copy_claim(pool, v->pjson, toks, k, &items[used++]);
    out->alg = v->alg;
    out->exp = (int64_t)floor(v->exp);
    out->nbf = v->has_nbf ? (int64_t)floor(v->nbf) : INT64_MIN;
    out->iat = v->has_iat ? (int64_t)floor(v->iat) : INT64_MIN;
    out->items = items;
    out->n_items = used;
}

int md_jwt_verify(const md_jwt_policy_t *policy, const md_jwks_t *keys, const char *token,
                  size_t len, int64_t now_s, md_pool_t *pool, md_jwt_claims_t *out, char *err,
                  size_t errlen)
{
    md_seterr(err, errlen, "%s", "");
    int rc = md_jwt_policy_check(policy, err, errlen);
    if (rc != MD_OK)
        return rc;
    if ((out && !pool) || (!token && len)) {
        md_seterr(err, errlen, "JWT: claims need a pool, a length needs a token");
        return MD_JWT_EPOLICY;
    }
    verify_t v;
    v.policy = policy;
    v.err = err;
    v.errlen = errlen;
    v.key = NULL;
    md_json_toks_init(&v.toks, MD_JWT_MAX_TOKEN);
    if ((rc = split(&v, token ? token : "", len)) == MD_OK && (rc = decode_all(&v)) == MD_OK &&
        (rc = parse_header(&v)) == MD_OK && (rc = select_key(&v, keys)) == MD_OK &&
        (rc = check_signature(&v)) == MD_OK && (rc = parse_payload(&v)) == MD_OK &&
        (rc = check_claims(&v, now_s)) == MD_OK && out)
        copy_claims(&v, pool, out);
    md_json_toks_free(&v.toks);
    return rc;
}

/* ---- lookups ---- */

const md_jwt_claim_t *md_jwt_claim(const md_jwt_claims_t *c, const char *name)
{
    size_t len = strlen(name);
    for (uint32_t i = 0; c && i < c->n_items; i++)
        if (c->items[i].name.len == len && memcmp(c->items[i].name.ptr, name, len) == 0)
            return &c->items[i];
    return NULL;
}

const char *md_jwt_claim_string(const md_jwt_claims_t *c, const char *name)
{
    const md_jwt_claim_t *cl = md_jwt_claim(c, name);
    if (!cl || cl->is_array || memchr(cl->values[0].ptr, '\0', cl->values[0].len))
        return NULL;
    return cl->values[0].ptr;
}

/* Whether space-separated list s holds the word w[0..wl). */
static bool has_word(md_str_t s, const char *w, size_t wl)
{
    size_t i = 0;
    while (i < s.len) {
        const char *sp = memchr(s.ptr + i, ' ', s.len - i);
        size_t end = sp ? (size_t)(sp - s.ptr) : s.len;
        if (end - i == wl && memcmp(s.ptr + i, w, wl) == 0)
            return true;
        i = end + 1;
    }
    return false;
}

static bool claim_grants(const md_jwt_claim_t *cl, const char *scope, size_t len, bool split_words)
{
    if (!cl)
        return false;
    if (!cl->is_array && split_words)
        return has_word(cl->values[0], scope, len);
    for (uint32_t i = 0; i < cl->n_values; i++)
        if (cl->values[i].len == len && memcmp(cl->values[i].ptr, scope, len) == 0)
            return true;
    return false;
}

bool md_jwt_has_scope(const md_jwt_claims_t *c, const char *scope)
{
    size_t len = scope ? strlen(scope) : 0;
    if (len == 0)
        return false;
    return claim_grants(md_jwt_claim(c, "scp"), scope, len, true) ||
           claim_grants(md_jwt_claim(c, "scope"), scope, len, true) ||
           claim_grants(md_jwt_claim(c, "roles"), scope, len, false);
}

const char *md_jwt_strerror(int code)
{
    switch (code) {
    case MD_JWT_EMALFORMED: return "malformed token";
    case MD_JWT_EALG: return "algorithm not allowed";
    case MD_JWT_EKID: return "unknown key id";
    case MD_JWT_ESIGNATURE: return "bad signature";
    case MD_JWT_EEXPIRED: return "token expired";
    case MD_JWT_ENOTYET: return "token not yet valid";
    case MD_JWT_EISSUER: return "wrong issuer";
    case MD_JWT_EAUDIENCE: return "wrong audience";
    case MD_JWT_EPOLICY: return "unusable policy";
    default: return md_strerror(code);
    }
}
