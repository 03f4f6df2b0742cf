/*
 * Unit tests for auth/jwks: JWKS parsing rules and limits (jwks.h), the
 * key set's reference counting, and the slot swapped under verifiers.
 * Keys are generated at run time; documents are built from their public
 * parameters.
 */
#include "testutil.h"

#include "authtest.h"

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define NOW 1700000000LL

static EVP_PKEY *rsa, *ec;
static char rsa_jwk[4096], ec_jwk[4096], err[256];

static int setup(void **state)
{
    (void)state;
    rsa = t_rsa_key(2048);
    ec = t_ec_key("P-256");
    t_jwk(rsa, "r1", NULL, rsa_jwk, sizeof(rsa_jwk));
    t_jwk(ec, "e1", NULL, ec_jwk, sizeof(ec_jwk));
    return rsa && ec ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    return 0;
}

static int parse(const char *doc, md_jwks_t **ks)
{
    err[0] = '\0';
    *ks = NULL;
    return md_jwks_parse(doc, strlen(doc), ks, err, sizeof(err));
}

/* {"keys":[a,b]} (b may be NULL). */
static const char *doc2(const char *a, const char *b)
{
    static char d[20000];
    snprintf(d, sizeof(d), "{\"keys\":[%s%s%s]}", a, b ? "," : "", b ? b : "");
    return d;
}

/* rsa_jwk with a member replaced: the text after "name":" up to the next
 * quote becomes `value`. */
static const char *with_member(const char *jwk, const char *name, const char *value)
{
    static char out[8192];
    char key[32];
    snprintf(key, sizeof(key), "\"%s\":\"", name);
    const char *p = strstr(jwk, key);
    if (!p)
        abort();
    p += strlen(key);
    const char *q = strchr(p, '"');
    snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - jwk), jwk, value, q);
    return out;
}

static void parses_rsa_and_ec_keys(void **state)
{
    (void)state;
    md_jwks_t *ks;
    char withalg[4096];
    t_jwk(ec, "e2", "\"alg\":\"ES256\",\"use\":\"sig\",\"key_ops\":[\"verify\"],\"x5t\":\"abc\"",
          withalg, sizeof(withalg));
    char doc[20000];
    snprintf(doc, sizeof(doc), " {\"keys\" : [%s,%s,%s], \"other\":1}\n", rsa_jwk, ec_jwk, withalg);
    assert_int_equal(parse(doc, &ks), MD_OK);
    assert_int_equal(md_jwks_count(ks), 3);
    const md_jwk_t *k = md_jwks_key(ks, 0);
    assert_int_equal(k->kind, MD_JWK_RSA);
    assert_int_equal(k->bits, 2048);
    assert_true(k->has_kid);
    assert_string_equal(k->kid, "r1");
    assert_int_equal(k->alg, 0);
    assert_non_null(k->pkey);
    k = md_jwks_key(ks, 1);
    assert_int_equal(k->kind, MD_JWK_EC_P256);
    assert_int_equal(k->bits, 256);
    assert_string_equal(k->kid, "e1");
    assert_int_equal(md_jwks_key(ks, 2)->alg, MD_JWA_ES256);
    assert_null(md_jwks_key(ks, 3));
    md_jwks_release(ks);
}

static void p384_keys_and_keys_without_kid(void **state)
{
    (void)state;
    EVP_PKEY *p384 = t_ec_key("P-384");
    char jwk[4096];
    t_jwk(p384, "x", NULL, jwk, sizeof(jwk));
    /* Drop the kid member entirely. */
    const char *member = "\"kid\":\"x\",";
    char *kid = strstr(jwk, member);
    memmove(kid, kid + strlen(member), strlen(kid + strlen(member)) + 1);
    md_jwks_t *ks;
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_OK);
    assert_int_equal(md_jwks_key(ks, 0)->kind, MD_JWK_EC_P384);
    assert_false(md_jwks_key(ks, 0)->has_kid);
    assert_int_equal(md_jwks_key(ks, 0)->kid_len, 0);
    md_jwks_release(ks);
    EVP_PKEY_free(p384);
}

static void small_and_odd_rsa_keys_are_refused(void **state)
{
    (void)state;
    md_jwks_t *ks;
    EVP_PKEY *small = t_rsa_key(1024);
    char jwk[4096];
    t_jwk(small, "small", NULL, jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(ec_jwk, jwk), &ks), MD_EINVAL);
    assert_null(ks);
    assert_non_null(strstr(err, "keys[1]"));
    assert_non_null(strstr(err, "1024 bits"));
    EVP_PKEY_free(small);
    /* 2047 bits: the modulus with its top bit cleared (and so not a real
     * key, but refused for its size before anything else). */
    const char *n = strstr(rsa_jwk, "\"n\":\"") + 5;
    char mod[1500];
    snprintf(mod, sizeof(mod), "%.*s", (int)(strchr(n, '"') - n), n);
    char first = mod[0];
    mod[0] = 'T'; /* 010011: top bit 0, next 1 -> 2047 bits */
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "n", mod), NULL), &ks), MD_EINVAL);
    assert_non_null(strstr(err, "2047 bits"));
    mod[0] = first;
    /* Over 8192 bits: 1100 bytes of modulus. */
    unsigned char big[1100];
    char bigtext[1500];
    memset(big, 0xab, sizeof(big));
    t_b64url(big, sizeof(big), bigtext);
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "n", bigtext), NULL), &ks), MD_EINVAL);
    /* An even modulus. */
    BIGNUM *bn = NULL;
    unsigned char nbytes[256];
    assert_true(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &bn));
    assert_int_equal(BN_bn2bin(bn, nbytes), 256);
    BN_free(bn);
    nbytes[255] &= 0xfe;
    t_b64url(nbytes, sizeof(nbytes), bigtext);
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "n", bigtext), NULL), &ks), MD_EINVAL);
    assert_non_null(strstr(err, "even"));
    /* Exponents: even, 1, over 32 bits. */
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", "AQAA"), NULL), &ks),
                     MD_EINVAL); /* 65536 */
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", "AQ"), NULL), &ks), MD_EINVAL); /* 1 */
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", "AQAAAAE"), NULL), &ks), MD_EINVAL);
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", "Aw"), NULL), &ks), MD_OK); /* 3 */
    md_jwks_release(ks);
    /* A leading zero octet is tolerated: "AAEAAQ" is 00 01 00 01. */
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", "AAEAAQ"), NULL), &ks), MD_OK);
    md_jwks_release(ks);
}

static void bad_numbers_are_refused(void **state)
{
    (void)state;
    md_jwks_t *ks;
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", "AQAB="), NULL), &ks), MD_EINVAL);
    assert_non_null(strstr(err, "base64url"));
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", "AQ+B"), NULL), &ks), MD_EINVAL);
    assert_int_equal(parse(doc2(with_member(rsa_jwk, "e", ""), NULL), &ks), MD_EINVAL);
    assert_int_equal(parse(doc2(with_member(ec_jwk, "x", "AAAA"), NULL), &ks), MD_EINVAL);
    assert_non_null(strstr(err, "wrong size"));
    /* y of another point: (x, y') is not on the curve. */
    const char *y = strstr(ec_jwk, "\"y\":\"") + 5;
    char ytext[64];
    snprintf(ytext, sizeof(ytext), "%.*s", (int)(strchr(y, '"') - y), y);
    ytext[10] = ytext[10] == 'A' ? 'B' : 'A';
    assert_int_equal(parse(doc2(with_member(ec_jwk, "y", ytext), NULL), &ks), MD_EINVAL);
    assert_non_null(strstr(err, "not on the curve"));
    /* Missing members. */
    assert_int_equal(parse("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}", &ks), MD_EINVAL);
    assert_non_null(strstr(err, "n is missing"));
    assert_int_equal(parse("{\"keys\":[{\"kty\":\"EC\",\"x\":\"AQAB\",\"y\":\"AQAB\"}]}", &ks),
                     MD_EINVAL);
    assert_int_equal(parse("{\"keys\":[{\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", &ks), MD_EINVAL);
    assert_non_null(strstr(err, "kty is missing"));
    assert_int_equal(parse("{\"keys\":[{\"kty\":\"RSA\",\"n\":7,\"e\":\"AQAB\"}]}", &ks),
                     MD_EINVAL);
}

static void keys_not_for_us_are_skipped(void **state)
{
    (void)state;
    md_jwks_t *ks;
    char enc[4096], ops[4096], oaep[4096], nuluse[4096], p521[256];
    t_jwk(rsa, "enc", "\"use\":\"enc\"", enc, sizeof(enc));
    t_jwk(rsa, "ops", "\"key_ops\":[\"encrypt\",\"wrapKey\"]", ops, sizeof(ops));
    t_jwk(rsa, "oaep", "\"alg\":\"RSA-OAEP-256\"", oaep, sizeof(oaep));
    t_jwk(rsa, "nul", "\"use\":\"sig\\u0000enc\"", nuluse, sizeof(nuluse)); /* not "sig" */
    snprintf(p521, sizeof(p521), "{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}");
    const char *others =
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"},"
        "{\"kty\":\"a-kty-name-longer-than-any-we-know\"},{\"kty\":\"RSA\",\"use\":\"sig-long-"
        "value-x\"}";
    char doc[30000];
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s,%s,%s,%s,%s]}", enc, ops, oaep, nuluse, p521,
             others, ec_jwk);
    assert_int_equal(parse(doc, &ks), MD_OK);
    assert_int_equal(md_jwks_count(ks), 1);
    assert_string_equal(md_jwks_key(ks, 0)->kid, "e1");
    md_jwks_release(ks);
    /* Nothing usable left: refused. */
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", enc, others);
    assert_int_equal(parse(doc, &ks), MD_EINVAL);
    assert_non_null(strstr(err, "no usable"));
    assert_int_equal(parse("{\"keys\":[]}", &ks), MD_EINVAL);
}

static void inconsistent_keys_are_refused(void **state)
{
    (void)state;
    md_jwks_t *ks;
    char jwk[4096];
    t_jwk(rsa, "r", "\"alg\":\"ES256\"", jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_EINVAL);
    assert_non_null(strstr(err, "alg does not fit"));
    t_jwk(ec, "e", "\"alg\":\"ES384\"", jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_EINVAL);
    t_jwk(rsa, "r", "\"use\":1", jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_EINVAL);
    t_jwk(rsa, "r", "\"key_ops\":\"verify\"", jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_EINVAL);
    /* kid over MD_JWKS_KID_MAX bytes. */
    char kid[MD_JWKS_KID_MAX + 2];
    memset(kid, 'k', sizeof(kid) - 1);
    kid[sizeof(kid) - 1] = '\0';
    t_jwk(rsa, kid, NULL, jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_EINVAL);
    kid[MD_JWKS_KID_MAX] = '\0'; /* exactly the limit */
    t_jwk(rsa, kid, NULL, jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_OK);
    assert_int_equal(md_jwks_key(ks, 0)->kid_len, MD_JWKS_KID_MAX);
    md_jwks_release(ks);
    /* A repeated member inside a JWK. */
    t_jwk(rsa, "r", "\"kty\":\"RSA\"", jwk, sizeof(jwk));
    assert_int_equal(parse(doc2(jwk, NULL), &ks), MD_EINVAL);
    assert_non_null(strstr(err, "repeats"));
}

static void garbage_documents_are_refused(void **state)
{
    (void)state;
    md_jwks_t *ks;
    const char *bad[] = {
        "",
        "nope",
        "[]",
        "{}",
        "{\"keys\":{}}",
        "{\"keys\":[1]}",
        "{\"keys\":[[]]}",
        "{\"keys\":[{\"kty\":\"RSA\"}]",
        "{\"keys\":[]} x",
        "{\"keys\":[],\"keys\":[]}",
        "\"keys\"",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        assert_int_equal(parse(bad[i], &ks), MD_EINVAL);
        assert_null(ks);
        assert_true(err[0] != '\0');
    }
    /* A NUL byte inside the stated length. */
    char doc[20000];
    snprintf(doc, sizeof(doc), "%s", doc2(ec_jwk, NULL));
    size_t len = strlen(doc);
    doc[len - 1] = '\0';
    assert_int_equal(md_jwks_parse(doc, len, &ks, err, sizeof(err)), MD_EINVAL);
}

/* A document of n copies of the EC key, kids k0..k(n-1). */
static char *many_keys(int n)
{
    md_buf_t b;
    md_buf_init(&b, 0);
    md_buf_append_str(&b, "{\"keys\":[");
    for (int i = 0; i < n; i++) {
        char kid[16];
        snprintf(kid, sizeof(kid), "k%d", i);
        md_buf_printf(&b, "%s%s", i ? "," : "", with_member(ec_jwk, "kid", kid));
    }
    md_buf_append_str(&b, "]}");
    return md_buf_detach(&b, NULL);
}

static void limits_on_keys_and_size(void **state)
{
    (void)state;
    md_jwks_t *ks;
    char *doc = many_keys(MD_JWKS_MAX_KEYS);
    assert_true(strlen(doc) <= MD_JWKS_MAX_BYTES);
    assert_int_equal(parse(doc, &ks), MD_OK);
    assert_int_equal(md_jwks_count(ks), MD_JWKS_MAX_KEYS);
    assert_string_equal(md_jwks_key(ks, 63)->kid, "k63");
    md_jwks_release(ks);
    md_free(doc);
    doc = many_keys(MD_JWKS_MAX_KEYS + 1);
    assert_int_equal(parse(doc, &ks), MD_ETOOBIG);
    assert_non_null(strstr(err, "65 keys"));
    md_free(doc);
    /* A root object of 300 members. */
    md_buf_t b;
    md_buf_init(&b, 0);
    md_buf_printf(&b, "{\"keys\":[%s]", ec_jwk);
    for (int i = 0; i < 299; i++)
        md_buf_printf(&b, ",\"m%d\":0", i);
    md_buf_append_str(&b, "}");
    assert_int_equal(parse(b.data, &ks), MD_EINVAL);
    assert_non_null(strstr(err, "too many members"));
    md_buf_free(&b);
    /* Over 64 KiB, even if the padding is just whitespace. */
    size_t big = MD_JWKS_MAX_BYTES + 1;
    doc = md_malloc(big + 1);
    const char *one = doc2(ec_jwk, NULL);
    memset(doc, ' ', big);
    memcpy(doc, one, strlen(one));
    doc[big] = '\0';
    assert_int_equal(parse(doc, &ks), MD_ETOOBIG);
    doc[big - 1] = '\0'; /* exactly the limit */
    assert_int_equal(parse(doc, &ks), MD_OK);
    md_jwks_release(ks);
    md_free(doc);
}

static void jwa_names(void **state)
{
    (void)state;
    assert_int_equal(md_jwa_from_name("RS256", 5), MD_JWA_RS256);
    assert_int_equal(md_jwa_from_name("ES384", 5), MD_JWA_ES384);
    assert_int_equal(md_jwa_from_name("PS512", 5), MD_JWA_PS512);
    assert_int_equal(md_jwa_from_name("RS256x", 5), MD_JWA_RS256); /* length counts */
    assert_int_equal(md_jwa_from_name("none", 4), 0);
    assert_int_equal(md_jwa_from_name("HS256", 5), 0);
    assert_int_equal(md_jwa_from_name("rs256", 5), 0);
    assert_int_equal(md_jwa_from_name("RS25", 4), 0);
    assert_string_equal(md_jwa_name(MD_JWA_PS256), "PS256");
    assert_string_equal(md_jwa_name(MD_JWA_RS256 | MD_JWA_PS256), "?");
    assert_int_equal(md_jwa_key_kind(MD_JWA_PS384), MD_JWK_RSA);
    assert_int_equal(md_jwa_key_kind(MD_JWA_ES256), MD_JWK_EC_P256);
    assert_int_equal(md_jwa_key_kind(MD_JWA_ES384), MD_JWK_EC_P384);
    assert_int_equal(md_jwa_key_kind(0), 0);
}

/* ---- reference counting and the slot ---- */

static void sets_outlive_replacement(void **state)
{
    (void)state;
    md_jwks_t *a, *b;
    assert_int_equal(parse(doc2(rsa_jwk, NULL), &a), MD_OK);
    assert_int_equal(parse(doc2(ec_jwk, NULL), &b), MD_OK);
    md_jwks_slot_t *slot = md_jwks_slot_new(a);
    md_jwks_t *held = md_jwks_slot_acquire(slot);
    assert_ptr_equal(held, a);
    md_jwks_slot_replace(slot, b);
    md_jwks_t *now = md_jwks_slot_acquire(slot);
    assert_ptr_equal(now, b);
    /* The old set is still whole for its holder (ASan/valgrind would
     * report a use after free here). */
    assert_int_equal(md_jwks_count(held), 1);
    assert_int_equal(md_jwks_key(held, 0)->kind, MD_JWK_RSA);
    md_jwks_release(held);
    md_jwks_release(now);
    md_jwks_slot_replace(slot, NULL);
    assert_null(md_jwks_slot_acquire(slot));
    md_jwks_slot_free(slot);
    assert_ptr_equal(md_jwks_retain(NULL), NULL);
    md_jwks_release(NULL);
    md_jwks_slot_free(NULL);
}

#define SWAPS 1000

typedef struct race {
    md_jwks_slot_t *slot;
    const char *tokens[2]; /* RS256 and ES256, both valid in every set */
    atomic_int done;
    atomic_long verified;
    atomic_long set_changes; /* times a verifier saw a different set */
    atomic_int failures;
} race_t;

static void *verifier(void *arg)
{
    race_t *r = arg;
    static const char *const auds[] = { "api://medley" };
    md_jwt_policy_t policy;
    md_jwt_policy_init(&policy, "https://idp", auds, 1);
    md_pool_t *pool = md_pool_new(0);
    char e[256];
    uintptr_t last = 0;
    for (unsigned i = 0; !atomic_load(&r->done) || i < 4; i++) {
        md_jwks_t *ks = md_jwks_slot_acquire(r->slot);
        if ((uintptr_t)ks != last)
            atomic_fetch_add(&r->set_changes, 1);
        last = (uintptr_t)ks;
        const char *t = r->tokens[i & 1];
        md_jwt_claims_t c;
        int rc = md_jwt_verify(&policy, ks, t, strlen(t), NOW, pool, &c, e, sizeof(e));
        if (rc != MD_OK || strcmp(md_jwt_claim_string(&c, "sub"), "racer") != 0)
            atomic_fetch_add(&r->failures, 1);
        md_jwks_release(ks);
        md_pool_reset(pool);
        atomic_fetch_add(&r->verified, 1);
    }
    md_pool_destroy(pool);
    return NULL;
}

static void verifiers_race_a_replacing_thread(void **state)
{
    (void)state;
    char docs[2][10000], toks[2][2048];
    /* Two documents with the same keys in different order and kids. */
    snprintf(docs[0], sizeof(docs[0]), "{\"keys\":[%s,%s]}", rsa_jwk, ec_jwk);
    snprintf(docs[1], sizeof(docs[1]), "{\"keys\":[%s,%s]}", ec_jwk, rsa_jwk);
    const char *payload =
        "{\"iss\":\"https://idp\",\"aud\":\"api://medley\",\"exp\":1700003600,\"sub\":\"racer\"}";
    t_token(rsa, "RS256", "{\"alg\":\"RS256\",\"kid\":\"r1\"}", payload, toks[0]);
    t_token(ec, "ES256", "{\"alg\":\"ES256\",\"kid\":\"e1\"}", payload, toks[1]);
    md_jwks_t *first;
    assert_int_equal(parse(docs[0], &first), MD_OK);
    race_t r = { .slot = md_jwks_slot_new(first), .tokens = { toks[0], toks[1] } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, verifier, &r), 0);
    while (atomic_load(&r.verified) < 2) /* make sure the race is on */
        sched_yield();
    for (int i = 0; i < SWAPS; i++) {
        md_jwks_t *ks;
        assert_int_equal(md_jwks_parse(docs[i & 1], strlen(docs[i & 1]), &ks, err, sizeof(err)),
                         MD_OK);
        md_jwks_slot_replace(r.slot, ks);
    }
    atomic_store(&r.done, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.failures), 0);
    assert_true(atomic_load(&r.verified) >= 8);
    assert_true(atomic_load(&r.set_changes) >= 4); /* verifiers ran across swaps */
    if (getenv("MD_TEST_VERBOSE"))
        fprintf(stderr, "race: %ld verifications, %ld set changes seen, %d swaps\n",
                atomic_load(&r.verified), atomic_load(&r.set_changes), SWAPS);
    md_jwks_slot_free(r.slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_rsa_and_ec_keys),
        cmocka_unit_test(p384_keys_and_keys_without_kid),
        cmocka_unit_test(small_and_odd_rsa_keys_are_refused),
        cmocka_unit_test(bad_numbers_are_refused),
        cmocka_unit_test(keys_not_for_us_are_skipped),
        cmocka_unit_test(inconsistent_keys_are_refused),
        cmocka_unit_test(garbage_documents_are_refused),
        cmocka_unit_test(limits_on_keys_and_size),
        cmocka_unit_test(jwa_names),
        cmocka_unit_test(sets_outlive_replacement),
        cmocka_unit_test(verifiers_race_a_replacing_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
