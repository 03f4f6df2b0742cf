/*
 * jwks.c - JWKS parsing into immutable OpenSSL key sets, and the slot that
 * swaps sets under running verifiers (see jwks.h for the accepted input).
 *
 * Parsing is rare (start-up and background refresh), so it favours clear
 * error messages over speed. The slot is on every request's path, so its
 * acquire is lock-free; the comment above md_jwks_slot_acquire() explains
 * the protocol.
 */
#include "auth/jwks.h"

#include "auth/b64url.h"
#include "auth/json_strict.h"
#include "core/alloc.h"
#include "core/common.h"
#include "json/scan.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

struct md_jwks {
    atomic_uint refs;
    size_t n;
    md_jwk_t keys[]; /* room for every entry of the "keys" array */
};

/* ---- algorithm names ---- */

static const struct {
    const char *name;
    unsigned alg;
    md_jwk_kind_t kind;
} algs[] = {
    { "RS256", MD_JWA_RS256, MD_JWK_RSA },     { "RS384", MD_JWA_RS384, MD_JWK_RSA },
    { "RS512", MD_JWA_RS512, MD_JWK_RSA },     { "PS256", MD_JWA_PS256, MD_JWK_RSA },
    { "PS384", MD_JWA_PS384, MD_JWK_RSA },     { "PS512", MD_JWA_PS512, MD_JWK_RSA },
    { "ES256", MD_JWA_ES256, MD_JWK_EC_P256 }, { "ES384", MD_JWA_ES384, MD_JWK_EC_P384 },
};

unsigned md_jwa_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(algs); i++)
        if (len == 5 && memcmp(name, algs[i].name, 5) == 0)
            return algs[i].alg;
    return 0;
}

const char *md_jwa_name(unsigned alg)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(algs); i++)
        if (algs[i].alg == alg)
            return algs[i].name;
    return "?";
}

md_jwk_kind_t md_jwa_key_kind(unsigned alg)
{
    for (size_t i = 0; i < MD_ARRAY_LEN(algs); i++)
        if (algs[i].alg == alg)
            return algs[i].kind;
    return 0;
}

/* ---- parsing ---- */

/* Longest base64url text of a number member we read: an 8192-bit modulus
 * with a leading zero octet is 1025 bytes, 1367 characters. */
#define NUM_TEXT_MAX 1400
#define NUM_BYTES_MAX (MD_JWKS_RSA_MAX_BITS / 8 + 1)

typedef struct parse {
    const char *json;
    const md_json_tok_t *toks;
    uint32_t obj;   /* the JWK object being parsed */
    unsigned index; /* its position in "keys", for messages */
    char *err;
    size_t errlen;
} parse_t;

static int key_error(parse_t *p, const char *what, const char *name)
{
    md_seterr(p->err, p->errlen, "keys[%u]: %s%s", p->index, name ? name : "", what);
    return MD_EINVAL;
}

/* Decodes string member `name` into buf; *present says whether it exists.
 * MD_EINVAL not a string, MD_ETOOBIG longer than cap - 1 bytes; no
 * message (callers word it). */
static int member_raw(parse_t *p, const char *name, char *buf, size_t cap, size_t *len,
                      bool *present)
{
    uint32_t v = md_json_member(p->json, p->toks, p->obj, name, strlen(name));
    *present = v != MD_JSON_NONE;
    *len = 0;
    buf[0] = '\0';
    return *present ? md_auth_json_string(p->json, &p->toks[v], buf, cap, len) : MD_OK;
}

/* member_raw() with an error message. */
static int member_str(parse_t *p, const char *name, char *buf, size_t cap, size_t *len,
                      bool *present)
{
    int rc = member_raw(p, name, buf, cap, len, present);
    if (rc == MD_ETOOBIG)
        return key_error(p, " is too long", name);
    if (rc != MD_OK)
        return key_error(p, " must be a string", name);
    return MD_OK;
}

/* Decodes required base64url member `name` into out (cap bytes). */
static int member_b64(parse_t *p, const char *name, unsigned char *out, size_t cap, size_t *len)
{
    char text[NUM_TEXT_MAX + 1];
    size_t tlen;
    bool present;
    int rc = member_str(p, name, text, sizeof(text), &tlen, &present);
    if (rc != MD_OK)
        return rc;
    if (!present)
        return key_error(p, " is missing", name);
    rc = md_b64url_decode(text, tlen, out, cap, len);
    if (rc == MD_ETOOBIG)
        return key_error(p, " is too long", name);
    if (rc != MD_OK || *len == 0)
        return key_error(p, " is not strict base64url", name);
    return MD_OK;
}

/* Builds a public key from parameters. `check` runs OpenSSL's public key
 * check, which for EC confirms the point is on the curve and not at
 * infinity (cheap: about 0.1 ms). RSA keys skip it: it is SP 800-56B's
 * Miller-Rabin test that n is composite, 7 ms at 2048 bits and seconds at
 * 8192, so a JWKS of 64 large keys would stall a refresh for minutes. It
 * buys nothing here: whoever can put a bad modulus into the issuer's JWKS
 * can as well put in a key of their own. */
static EVP_PKEY *pkey_from_params(const char *type, const OSSL_PARAM *params, bool check)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) <= 0)
            pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    if (pkey && check) {
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!ctx || EVP_PKEY_public_check(ctx) <= 0) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        EVP_PKEY_CTX_free(ctx);
    }
    ERR_clear_error();
    return pkey;
}

static size_t skip_zeros(const unsigned char **b, size_t len)
{
    while (len > 0 && (*b)[0] == 0)
        (*b)++, len--;
    return len;
}

static unsigned bit_length(const unsigned char *b, size_t len)
{
    if (len == 0)
        return 0;
    unsigned bits = (unsigned)(len - 1) * 8;
    for (unsigned c = b[0]; c; c >>= 1)
        bits++;
    return bits;
}

static EVP_PKEY *rsa_pkey(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    if (bld && bn && be && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        pkey = pkey_from_params("RSA", params, false);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static int parse_rsa(parse_t *p, md_jwk_t *k)
{
    unsigned char nbuf[NUM_BYTES_MAX], ebuf[8];
    const unsigned char *n = nbuf, *e = ebuf;
    size_t nlen, elen;
    int rc = member_b64(p, "n", nbuf, sizeof(nbuf), &nlen);
    if (rc != MD_OK)
        return rc;
    if ((rc = member_b64(p, "e", ebuf, sizeof(ebuf), &elen)) != MD_OK)
        return rc;
    nlen = skip_zeros(&n, nlen);
    elen = skip_zeros(&e, elen);
    k->bits = bit_length(n, nlen);
    if (k->bits < MD_JWKS_RSA_MIN_BITS || k->bits > MD_JWKS_RSA_MAX_BITS) {
        md_seterr(p->err, p->errlen, "keys[%u]: RSA modulus is %u bits, %u..%u required", p->index,
                  k->bits, MD_JWKS_RSA_MIN_BITS, MD_JWKS_RSA_MAX_BITS);
        return MD_EINVAL;
    }
    if (!(n[nlen - 1] & 1))
        return key_error(p, "RSA modulus is even", NULL);
    /* A huge exponent makes every verification slow: keep to 32 bits. */
    if (elen == 0 || elen > 4 || !(e[elen - 1] & 1) || (elen == 1 && e[0] < 3))
        return key_error(p, "RSA exponent must be odd, 3..2^32-1", NULL);
    k->kind = MD_JWK_RSA;
    k->pkey = rsa_pkey(n, nlen, e, elen);
    return k->pkey ? MD_OK : key_error(p, "OpenSSL refused the RSA key", NULL);
}

static int parse_ec(parse_t *p, md_jwk_t *k, const char *crv, bool *skip)
{
    size_t size;
    const char *group;
    if (strcmp(crv, "P-256") == 0) {
        k->kind = MD_JWK_EC_P256, size = 32, group = "prime256v1";
    } else if (strcmp(crv, "P-384") == 0) {
        k->kind = MD_JWK_EC_P384, size = 48, group = "secp384r1";
    } else {
        *skip = true; /* P-521, secp256k1, ...: not ours */
        return MD_OK;
    }
    /* The uncompressed point: 0x04 || x || y. */
    unsigned char point[1 + 2 * 48], xy[49];
    size_t len;
    point[0] = 4;
    for (int i = 0; i < 2; i++) {
        int rc = member_b64(p, i ? "y" : "x", xy, sizeof(xy), &len);
        if (rc != MD_OK)
            return rc;
        if (len != size)
            return key_error(p, " has the wrong size for the curve", i ? "y" : "x");
        memcpy(point + 1 + (size_t)i * size, xy, size);
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size),
        OSSL_PARAM_construct_end(),
    };
    k->bits = (unsigned)size * 8;
    k->pkey = pkey_from_params("EC", params, true);
    return k->pkey ? MD_OK : key_error(p, "EC point is not on the curve", NULL);
}

/* Whether key_ops (absent, or an array of strings) allows "verify". */
static int key_ops_allow_verify(parse_t *p, bool *allow)
{
    uint32_t v = md_json_member(p->json, p->toks, p->obj, "key_ops", 7);
    *allow = v == MD_JSON_NONE;
    if (*allow)
        return MD_OK;
    if (p->toks[v].type != MD_JSON_ARRAY)
        return key_error(p, "key_ops must be an array of strings", NULL);
    uint32_t e = v + 1;
    for (uint32_t i = 0; i < p->toks[v].count; i++, e = p->toks[e].next) {
        if (p->toks[e].type != MD_JSON_STRING)
            return key_error(p, "key_ops must be an array of strings", NULL);
        if (md_json_str_equal(p->json, &p->toks[e], "verify", 6))
            *allow = true;
    }
    return MD_OK;
}

/* Reads a member whose value is one of a few short names (kty, crv, use,
 * alg). A string too long for buf, or holding a NUL, cannot be one of
 * them, so it reads as "" (unknown) rather than as an error: the key is
 * skipped, not the document refused. */
static int member_name(parse_t *p, const char *name, char *buf, size_t cap, bool *present)
{
    size_t len;
    int rc = member_raw(p, name, buf, cap, &len, present);
    if (rc == MD_EINVAL)
        return key_error(p, " must be a string", name);
    if (rc == MD_ETOOBIG || strlen(buf) != len)
        buf[0] = '\0';
    return MD_OK;
}

/* The members that decide whether the key is for us at all. */
static int parse_usage(parse_t *p, md_jwk_t *k, bool *skip)
{
    char buf[16];
    bool present, allow;
    int rc = member_name(p, "use", buf, sizeof(buf), &present);
    if (rc != MD_OK)
        return rc;
    if (present && strcmp(buf, "sig") != 0)
        *skip = true;
    if ((rc = key_ops_allow_verify(p, &allow)) != MD_OK)
        return rc;
    if (!allow)
        *skip = true;
    if ((rc = member_name(p, "alg", buf, sizeof(buf), &present)) != MD_OK)
        return rc;
    k->alg = present ? md_jwa_from_name(buf, strlen(buf)) : 0;
    if (present && !k->alg)
        *skip = true; /* RSA-OAEP, HS256, EdDSA, ...: not a verification we do */
    return member_str(p, "kid", k->kid, sizeof(k->kid), &k->kid_len, &k->has_kid);
}

/* Fills k from JWK object p->obj, or sets *skip for a key not for us. */
static int parse_key(parse_t *p, md_jwk_t *k, bool *skip)
{
    if (p->toks[p->obj].type != MD_JSON_OBJECT)
        return key_error(p, "not an object", NULL);
    int rc = md_auth_json_unique(p->json, p->toks, p->obj);
    if (rc != MD_OK)
        return key_error(p, rc == MD_ETOOBIG ? "too many members" : "repeats a member name", NULL);
    char kty[16], crv[16];
    bool present;
    if ((rc = member_name(p, "kty", kty, sizeof(kty), &present)) != MD_OK)
        return rc;
    if (!present)
        return key_error(p, "kty is missing", NULL);
    if ((rc = parse_usage(p, k, skip)) != MD_OK || *skip)
        return rc;
    if (strcmp(kty, "RSA") == 0) {
        rc = parse_rsa(p, k);
    } else if (strcmp(kty, "EC") == 0) {
        if ((rc = member_name(p, "crv", crv, sizeof(crv), &present)) != MD_OK)
            return rc;
        if (!present)
            return key_error(p, "crv is missing", NULL);
        rc = parse_ec(p, k, crv, skip);
    } else {
        *skip = true; /* oct, OKP, ... */
        return MD_OK;
    }
    if (rc == MD_OK && !*skip && k->alg && md_jwa_key_kind(k->alg) != k->kind)
        rc = key_error(p, "alg does not fit the key type", NULL);
    return rc;
}

static void jwks_free(md_jwks_t *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    md_free(ks);
}

/* The "keys" array of the document's root object, or an error. */
static int find_keys(const char *json, const md_json_tok_t *toks, uint32_t root, uint32_t *keys,
                     char *err, size_t errlen)
{
    if (toks[root].type != MD_JSON_OBJECT) {
        md_seterr(err, errlen, "JWKS is not a JSON object");
        return MD_EINVAL;
    }
    int rc = md_auth_json_unique(json, toks, root);
    if (rc != MD_OK) {
        md_seterr(err, errlen, "JWKS object %s",
                  rc == MD_ETOOBIG ? "has too many members" : "repeats a member name");
        return MD_EINVAL;
    }
    *keys = md_json_member(json, toks, root, "keys", 4);
    if (*keys == MD_JSON_NONE || toks[*keys].type != MD_JSON_ARRAY) {
        md_seterr(err, errlen, "JWKS has no \"keys\" array");
        return MD_EINVAL;
    }
    if (toks[*keys].count > MD_JWKS_MAX_KEYS) {
        md_seterr(err, errlen, "JWKS has %u keys, at most %u allowed", toks[*keys].count,
                  MD_JWKS_MAX_KEYS);
        return MD_ETOOBIG;
    }
    return MD_OK;
}

/* Parses every entry of the keys array into ks, keeping the usable ones. */
static int parse_keys(md_jwks_t *ks, parse_t *p, uint32_t keys)
{
    uint32_t e = keys + 1;
    for (uint32_t i = 0; i < p->toks[keys].count; i++, e = p->toks[e].next) {
        md_jwk_t *k = &ks->keys[ks->n];
        bool skip = false;
        memset(k, 0, sizeof(*k));
        p->obj = e;
        p->index = i;
        int rc = parse_key(p, k, &skip);
        if (rc != MD_OK || skip) {
            EVP_PKEY_free(k->pkey);
            k->pkey = NULL;
            if (rc != MD_OK)
                return rc;
            continue;
        }
        ks->n++;
    }
    return MD_OK;
}

int md_jwks_parse(const char *json, size_t len, md_jwks_t **out, char *err, size_t errlen)
{
    if (len > MD_JWKS_MAX_BYTES) {
        md_seterr(err, errlen, "JWKS is %zu bytes, at most %u allowed", len, MD_JWKS_MAX_BYTES);
        return MD_ETOOBIG;
    }
    md_json_toks_t toks;
    md_json_toks_init(&toks, 0);
    uint32_t root, keys;
    md_jwks_t *ks = NULL;
    int rc = md_json_scan(&toks, json, len, &root, err, errlen);
    if (rc != MD_OK)
        goto out;
    if ((rc = find_keys(json, toks.v, root, &keys, err, errlen)) != MD_OK)
        goto out;
    ks = md_calloc(1, sizeof(*ks) + toks.v[keys].count * sizeof(ks->keys[0]));
    atomic_init(&ks->refs, 1);
    parse_t p = { .json = json, .toks = toks.v, .err = err, .errlen = errlen };
    if ((rc = parse_keys(ks, &p, keys)) != MD_OK)
        goto out;
    if (ks->n == 0) {
        md_seterr(err, errlen, "JWKS has no usable signature key (RSA, EC P-256/P-384)");
        rc = MD_EINVAL;
        goto out;
    }
    *out = ks;
    ks = NULL;
out:
    if (ks)
        jwks_free(ks);
    md_json_toks_free(&toks);
    return rc;
}

md_jwks_t *md_jwks_retain(md_jwks_t *ks)
{
    if (ks)
        atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
    return ks;
}

void md_jwks_release(md_jwks_t *ks)
{
    /* acq_rel: every use of the set by this holder happens before the
     * free that the last holder performs. */
    if (ks && atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) == 1)
        jwks_free(ks);
}

size_t md_jwks_count(const md_jwks_t *ks)
{
    return ks->n;
}

const md_jwk_t *md_jwks_key(const md_jwks_t *ks, size_t i)
{
    return i < ks->n ? &ks->keys[i] : NULL;
}

/* ---- the slot ----
 *
 * The hazard: a reader loads the current pointer, and before it adds its
 * reference a replace drops the slot's reference and frees the set. So a
 * replace must not release the old set while a reader may sit between its
 * load and its retain. Readers announce themselves in one of two counters,
 * chosen by the slot's epoch (a two-phase scheme, as in userspace RCU):
 *
 *   acquire:  e = epoch; readers[e]++; if epoch != e: undo, retry;
 *             ks = current; retain(ks); readers[e]--
 *   replace:  old = exchange(current, new); flip epoch;
 *             wait until readers[old epoch] == 0; release(old)
 *
 * A reader that loaded `old` did so before the exchange, so it had
 * already counted itself in the epoch it validated, which is the epoch
 * the replace flips away from and then waits on (replaces are serialized,
 * and one that ran between the validation and the exchange waited for
 * this reader to finish altogether). Readers arriving after the flip count
 * in the other counter, so the wait only covers readers already in flight
 * and cannot be starved by new ones. All operations are seq_cst: the
 * argument needs one total order of the loads and stores involved. */
struct md_jwks_slot {
    _Atomic(md_jwks_t *) current;
    atomic_uint epoch;
    atomic_uint readers[2];
    pthread_mutex_t replace_lock;
};

md_jwks_slot_t *md_jwks_slot_new(md_jwks_t *initial)
{
    md_jwks_slot_t *s = md_calloc(1, sizeof(*s));
    atomic_init(&s->current, initial);
    atomic_init(&s->epoch, 0);
    atomic_init(&s->readers[0], 0);
    atomic_init(&s->readers[1], 0);
    pthread_mutex_init(&s->replace_lock, NULL);
    return s;
}

void md_jwks_slot_free(md_jwks_slot_t *s)
{
    if (!s)
        return;
    md_jwks_release(atomic_load(&s->current));
    pthread_mutex_destroy(&s->replace_lock);
    md_free(s);
}

md_jwks_t *md_jwks_slot_acquire(md_jwks_slot_t *s)
{
    unsigned e;
    for (;;) {
        e = atomic_load(&s->epoch) & 1;
        atomic_fetch_add(&s->readers[e], 1);
        if ((atomic_load(&s->epoch) & 1) == e)
            break;
        atomic_fetch_sub(&s->readers[e], 1);
    }
    md_jwks_t *ks = md_jwks_retain(atomic_load(&s->current));
    atomic_fetch_sub(&s->readers[e], 1);
    return ks;
}

void md_jwks_slot_replace(md_jwks_slot_t *s, md_jwks_t *ks)
{
    pthread_mutex_lock(&s->replace_lock);
    md_jwks_t *old = atomic_exchange(&s->current, ks);
    unsigned e = atomic_fetch_add(&s->epoch, 1) & 1;
    while (atomic_load(&s->readers[e]) != 0)
        sched_yield();
    pthread_mutex_unlock(&s->replace_lock);
    md_jwks_release(old);
}
