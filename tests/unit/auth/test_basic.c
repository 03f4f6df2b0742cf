/*
 * Unit tests for auth/basic: the Authorization header parser (strict base64,
 * first-colon split, limits), hashes generated here with crypt_gensalt_rn +
 * crypt_rn ($y$, $2b$, $6$, $5$) verified with good and bad passwords, the
 * unknown-user dummy crypt, the credentials cache (hits, expiry, bound,
 * threads) and users-file errors with line numbers.
 */
#include "testutil.h"

#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth/basic.h"
#include "core/common.h"

/* ---- helpers ------------------------------------------------------------ */

static struct crypt_data cd; /* the test thread's scratch space */

/* A crypt(3) hash of pw made the way an operator's tool would. Cheap costs
 * keep the tests (and valgrind) fast. Returns a malloc'd string. */
static char *make_hash(const char *prefix, unsigned long count, const char *pw)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, setting, sizeof(setting)));
    static struct crypt_data scratch;
    const char *h = crypt_rn(pw, setting, &scratch, sizeof(scratch));
    assert_non_null(h);
    return strdup(h);
}

/* An independent base64 encoder (the code under test only decodes). */
static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

static char hdr[2000];
static char decoded[MD_BASIC_DECODED_MAX + 1];

/* Parses "Basic " + base64(raw[0..n)). */
static int parse_raw(const char *raw, size_t n, md_basic_cred_t *c)
{
    strcpy(hdr, "Basic ");
    b64((const unsigned char *)raw, n, hdr + 6);
    return md_basic_parse(hdr, strlen(hdr), decoded, sizeof(decoded), c);
}

static int parse(const char *value, md_basic_cred_t *c)
{
    return md_basic_parse(value, strlen(value), decoded, sizeof(decoded), c);
}

static md_basic_cred_t cred(const char *user, const char *pw)
{
    return (md_basic_cred_t){ user, strlen(user), pw, strlen(pw) };
}

static md_basic_stats_t stats(md_basic_users_t *u)
{
    md_basic_stats_t st;
    md_basic_stats(u, &st);
    return st;
}

static md_basic_users_t *store(size_t cache_entries)
{
    md_basic_opts_t o = { cache_entries, 60000 };
    md_basic_users_t *u = NULL;
    assert_int_equal(md_basic_users_new(&o, &u), MD_OK);
    return u;
}

static void add(md_basic_users_t *u, const char *user, const char *hash)
{
    char err[256] = "";
    int rc = md_basic_users_add(u, user, hash, err, sizeof(err));
    if (rc != MD_OK)
        fprintf(stderr, "add: %s\n", err);
    assert_int_equal(rc, MD_OK);
}

static char tmp_path[64];

static const char *write_file(const char *data, size_t n)
{
    strcpy(tmp_path, "/tmp/md_basic_XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return tmp_path;
}

/* ---- header parsing ----------------------------------------------------- */

static void parses_user_and_password(void **state)
{
    (void)state;
    md_basic_cred_t c;
    assert_int_equal(parse("Basic dXNlcjpwYXNz", &c), MD_OK); /* user:pass */
    assert_string_equal(c.user, "user");
    assert_int_equal(c.user_len, 4);
    assert_string_equal(c.password, "pass");
    assert_int_equal(c.password_len, 4);
    /* Scheme in any case, several spaces, trailing blanks. */
    assert_int_equal(parse("bAsIc   dXNlcjpwYXNz \t", &c), MD_OK);
    assert_string_equal(c.password, "pass");
    /* RFC 7617's example: Aladdin:open sesame. */
    assert_int_equal(parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &c), MD_OK);
    assert_string_equal(c.user, "Aladdin");
    assert_string_equal(c.password, "open sesame");
}

static void splits_at_the_first_colon(void **state)
{
    (void)state;
    md_basic_cred_t c;
    assert_int_equal(parse_raw("bob:pa:ss:", 10, &c), MD_OK);
    assert_string_equal(c.user, "bob");
    assert_string_equal(c.password, "pa:ss:");
    assert_int_equal(parse_raw("bob:", 4, &c), MD_OK); /* empty password */
    assert_int_equal(c.password_len, 0);
    assert_string_equal(c.password, "");
    assert_int_equal(parse_raw(":pw", 3, &c), MD_OK); /* empty user parses */
    assert_int_equal(c.user_len, 0);
}

static void other_schemes_are_not_found(void **state)
{
    (void)state;
    md_basic_cred_t c;
    assert_int_equal(parse("Bearer abc.def.ghi", &c), MD_ENOTFOUND);
    assert_int_equal(parse("BasicAuth dXNlcjpwYXNz", &c), MD_ENOTFOUND);
    assert_int_equal(parse("Bas", &c), MD_ENOTFOUND);
    assert_int_equal(parse("", &c), MD_ENOTFOUND);
}

static void malformed_headers_are_refused(void **state)
{
    (void)state;
    md_basic_cred_t c;
    assert_int_equal(parse("Basic", &c), MD_EINVAL);              /* no credentials */
    assert_int_equal(parse("Basic ", &c), MD_EINVAL);
    assert_int_equal(parse("Basic\tdXNlcjpwYXNz", &c), MD_EINVAL); /* tab, not space */
    assert_int_equal(parse("Basic dXNlcjpwYXN", &c), MD_EINVAL);   /* length not 4k */
    assert_int_equal(parse("Basic dXNlcjpwYXNz=", &c), MD_EINVAL);
    assert_int_equal(parse("Basic dXNl cjpwYXNz", &c), MD_EINVAL); /* inner space */
    assert_int_equal(parse("Basic dXNlcjpw!XNz", &c), MD_EINVAL);  /* alphabet */
    assert_int_equal(parse("Basic dXNlcjpw-XNz", &c), MD_EINVAL);  /* base64url is not base64 */
    assert_int_equal(parse("Basic YTpi====", &c), MD_EINVAL);      /* a:b then padding quartet */
    assert_int_equal(parse("Basic YQ==YTpi", &c), MD_EINVAL);      /* padding in the middle */
    assert_int_equal(parse("Basic YTpiYw=", &c), MD_EINVAL);
    /* "a:b" is YTpi; "a:" is YTo=; a non-zero bit hidden by padding: */
    assert_int_equal(parse("Basic YTo=", &c), MD_OK);
    assert_int_equal(parse("Basic YTp=", &c), MD_EINVAL);
    assert_int_equal(parse("Basic dXNlcg==", &c), MD_EINVAL); /* "user": no colon */
    assert_int_equal(parse_raw("us\0er:pw", 8, &c), MD_EINVAL);
    assert_int_equal(parse_raw("user:p\0w", 8, &c), MD_EINVAL); /* would cut crypt's input */
    assert_int_equal(parse_raw("us\x01r:pw", 7, &c), MD_EINVAL);
    assert_int_equal(parse_raw("us\x7fr:pw", 7, &c), MD_EINVAL);
    assert_int_equal(parse_raw("user:p\x01w", 8, &c), MD_OK); /* password: any byte but NUL */
}

static void credentials_over_one_kib_are_too_big(void **state)
{
    (void)state;
    char raw[1100];
    memset(raw, 'p', sizeof(raw));
    memcpy(raw, "user:", 5);
    md_basic_cred_t c;
    assert_int_equal(parse_raw(raw, 1024, &c), MD_OK);
    assert_int_equal(c.password_len, 1019);
    assert_int_equal(parse_raw(raw, 1025, &c), MD_ETOOBIG);
    assert_int_equal(parse_raw(raw, 1099, &c), MD_ETOOBIG);
    /* A buffer smaller than the credentials is refused, not overrun. */
    strcpy(hdr, "Basic dXNlcjpwYXNz");
    char small[9];
    assert_int_equal(md_basic_parse(hdr, strlen(hdr), small, sizeof(small), &c), MD_ETOOBIG);
    char exact[10];
    assert_int_equal(md_basic_parse(hdr, strlen(hdr), exact, sizeof(exact), &c), MD_OK);
    assert_string_equal(c.password, "pass");
}

/* ---- verification ------------------------------------------------------- */

static void verifies_each_hash_kind(void **state)
{
    (void)state;
    md_basic_users_t *u = store(0); /* no cache: every verify crypts */
    char *hy = make_hash("$y$", 1, "yes-pass");
    char *h2b = make_hash("$2b$", 4, "bcrypt-pass");
    char *h6 = make_hash("$6$", 1000, "sha512-pass");
    char *h5 = make_hash("$5$", 1000, "sha256-pass");
    char *h2y = make_hash("$2y$", 4, "2y-pass");
    add(u, "yana", hy);
    add(u, "bert", h2b);
    add(u, "sasha", h6);
    add(u, "fifi", h5);
    add(u, "yves", h2y);
    assert_int_equal(md_basic_users_count(u), 5);
    md_basic_cred_t c = cred("yana", "yes-pass");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    c = cred("bert", "bcrypt-pass");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    c = cred("sasha", "sha512-pass");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    c = cred("fifi", "sha256-pass");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    c = cred("yves", "2y-pass");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    /* Wrong passwords, including another user's and a prefix. */
    c = cred("yana", "bcrypt-pass");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    c = cred("bert", "bcrypt-pas");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    c = cred("sasha", "");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    md_basic_stats_t st = stats(u);
    assert_int_equal(st.crypt_calls, 8);
    assert_int_equal(st.dummy_calls, 0);
    assert_int_equal(st.cache_hits, 0);
    free(hy);
    free(h2b);
    free(h6);
    free(h5);
    free(h2y);
    md_basic_users_free(u);
}

static void unknown_user_still_runs_one_crypt(void **state)
{
    (void)state;
    md_basic_users_t *u = store(MD_BASIC_CACHE_DEFAULT);
    char *h = make_hash("$y$", 1, "right");
    add(u, "alice", h);
    md_basic_cred_t c = cred("mallory", "right");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    c = cred("alic", "right");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    char long_user[100];
    memset(long_user, 'u', 99);
    long_user[99] = '\0';
    c = cred(long_user, "right");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    md_basic_stats_t st = stats(u);
    assert_int_equal(st.dummy_calls, 3);
    assert_int_equal(st.crypt_calls, 0);
    /* Same answer code for a known user with a wrong password. */
    c = cred("alice", "wrong");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    assert_int_equal(stats(u).crypt_calls, 1);
    free(h);
    md_basic_users_free(u);

    /* An empty store has nothing to hide: no crypt at all. */
    u = store(0);
    c = cred("anyone", "x");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_ENOTFOUND);
    assert_int_equal(stats(u).dummy_calls, 0);
    md_basic_users_free(u);
}

static void malformed_credentials_are_refused(void **state)
{
    (void)state;
    md_basic_users_t *u = store(0);
    char *h = make_hash("$6$", 1000, "pw");
    add(u, "alice", h);
    char buf[] = "alice\0pwX";
    md_basic_cred_t c = { buf, 5, buf + 6, 2 }; /* "pw" not NUL-terminated */
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_EINVAL);
    buf[8] = '\0';
    c = (md_basic_cred_t){ buf, 5, buf + 6, 3 }; /* "pw\0": a NUL inside */
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_EINVAL);
    c = (md_basic_cred_t){ buf, 5, buf + 6, 2 };
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    assert_int_equal(stats(u).crypt_calls, 1);
    free(h);
    md_basic_users_free(u);
}

static void cache_skips_crypt_until_expiry(void **state)
{
    (void)state;
    md_basic_users_t *u = store(MD_BASIC_CACHE_DEFAULT);
    char *h = make_hash("$y$", 1, "s3cret");
    add(u, "alice", h);
    md_basic_cred_t good = cred("alice", "s3cret"), bad = cred("alice", "s3cre");
    assert_int_equal(md_basic_verify(u, &good, 1000, &cd), MD_OK);
    assert_int_equal(md_basic_verify(u, &good, 1001, &cd), MD_OK);
    assert_int_equal(md_basic_verify(u, &good, 60999, &cd), MD_OK); /* ttl 60 s */
    md_basic_stats_t st = stats(u);
    assert_int_equal(st.crypt_calls, 1);
    assert_int_equal(st.cache_hits, 2);
    /* A wrong password is never answered from the cache, nor cached. */
    assert_int_equal(md_basic_verify(u, &bad, 2000, &cd), MD_ENOTFOUND);
    assert_int_equal(md_basic_verify(u, &bad, 2001, &cd), MD_ENOTFOUND);
    assert_int_equal(stats(u).crypt_calls, 3);
    /* At 61000 the entry made at 1000 has expired: crypt again. */
    assert_int_equal(md_basic_verify(u, &good, 61000, &cd), MD_OK);
    st = stats(u);
    assert_int_equal(st.crypt_calls, 4);
    assert_int_equal(st.cache_hits, 2);
    assert_int_equal(md_basic_verify(u, &good, 61001, &cd), MD_OK);
    assert_int_equal(stats(u).cache_hits, 3);
    free(h);
    md_basic_users_free(u);
}

/* ("ab", "c") and ("a", "bc") concatenate alike; the cache tells them apart. */
static void cache_key_separates_user_and_password(void **state)
{
    (void)state;
    md_basic_users_t *u = store(MD_BASIC_CACHE_DEFAULT);
    char *hab = make_hash("$6$", 1000, "c");
    char *ha = make_hash("$6$", 1000, "other");
    add(u, "ab", hab);
    add(u, "a", ha);
    md_basic_cred_t c1 = cred("ab", "c"), c2 = cred("a", "bc");
    assert_int_equal(md_basic_verify(u, &c1, 0, &cd), MD_OK);
    assert_int_equal(md_basic_verify(u, &c2, 0, &cd), MD_ENOTFOUND);
    md_basic_stats_t st = stats(u);
    assert_int_equal(st.crypt_calls, 2);
    assert_int_equal(st.cache_hits, 0);
    free(hab);
    free(ha);
    md_basic_users_free(u);
}

/* Four entries (one set of four ways): the fifth user evicts the oldest. */
static void cache_is_bounded(void **state)
{
    (void)state;
    md_basic_users_t *u = store(4);
    char *h = make_hash("$6$", 1000, "pw");
    const char *names[] = { "u1", "u2", "u3", "u4", "u5" };
    for (int i = 0; i < 5; i++)
        add(u, names[i], h);
    for (int i = 0; i < 5; i++) {
        md_basic_cred_t c = cred(names[i], "pw");
        assert_int_equal(md_basic_verify(u, &c, (uint64_t)i, &cd), MD_OK);
    }
    assert_int_equal(stats(u).crypt_calls, 5);
    md_basic_cred_t c5 = cred("u5", "pw"), c2 = cred("u2", "pw"), c1 = cred("u1", "pw");
    assert_int_equal(md_basic_verify(u, &c5, 10, &cd), MD_OK);
    assert_int_equal(md_basic_verify(u, &c2, 10, &cd), MD_OK);
    assert_int_equal(stats(u).cache_hits, 2);
    assert_int_equal(md_basic_verify(u, &c1, 10, &cd), MD_OK); /* evicted */
    assert_int_equal(stats(u).crypt_calls, 6);
    free(h);
    md_basic_users_free(u);
}

static void cache_can_be_disabled(void **state)
{
    (void)state;
    md_basic_users_t *u = store(0);
    char *h = make_hash("$6$", 1000, "pw");
    add(u, "alice", h);
    md_basic_cred_t c = cred("alice", "pw");
    for (int i = 0; i < 3; i++)
        assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    assert_int_equal(stats(u).crypt_calls, 3);
    assert_int_equal(stats(u).cache_hits, 0);
    free(h);
    md_basic_users_free(u);
    md_basic_opts_t huge = { MD_BASIC_CACHE_MAX + 1, 1000 };
    assert_int_equal(md_basic_users_new(&huge, &u), MD_EINVAL);
    assert_null(u);
    assert_int_equal(md_basic_users_new(NULL, &u), MD_OK); /* defaults */
    md_basic_users_free(u);
    md_basic_users_free(NULL);
}

typedef struct {
    md_basic_users_t *u;
    int ok;
} verifier_t;

static void *verify_many(void *arg)
{
    verifier_t *v = arg;
    struct crypt_data *mine = calloc(1, sizeof(*mine));
    md_basic_cred_t c = cred("alice", "pw");
    for (int i = 0; i < 200; i++)
        v->ok += md_basic_verify(v->u, &c, (uint64_t)i, mine) == MD_OK;
    free(mine);
    return NULL;
}

static void cache_is_shared_by_threads(void **state)
{
    (void)state;
    md_basic_users_t *u = store(MD_BASIC_CACHE_DEFAULT);
    char *h = make_hash("$6$", 1000, "pw");
    add(u, "alice", h);
    pthread_t th[4];
    verifier_t v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = (verifier_t){ u, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, verify_many, &v[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(v[i].ok, 200);
    }
    md_basic_stats_t st = stats(u);
    /* At most one crypt per thread (each may miss before the first insert). */
    assert_true(st.crypt_calls >= 1 && st.crypt_calls <= 4);
    assert_int_equal(st.crypt_calls + st.cache_hits, 800);
    free(h);
    md_basic_users_free(u);
}

/* ---- users store and file ----------------------------------------------- */

static void add_refuses_weak_and_malformed_hashes(void **state)
{
    (void)state;
    md_basic_users_t *u = store(0);
    char err[256];
    assert_int_equal(md_basic_users_add(u, "bob", "secret", err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "plain-text passwords are not accepted"));
    assert_int_equal(md_basic_users_add(u, "bob", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", err, sizeof(err)),
                     MD_EINVAL);
    assert_non_null(strstr(err, "{SHA}"));
    assert_int_equal(md_basic_users_add(u, "bob", "$apr1$abcdefgh$0123456789012345678901", err, sizeof(err)),
                     MD_EINVAL);
    assert_non_null(strstr(err, "$apr1$"));
    assert_int_equal(md_basic_users_add(u, "bob", "$1$abcdefgh$0123456789012345678901", err, sizeof(err)),
                     MD_EINVAL);
    assert_int_equal(md_basic_users_add(u, "bob", "$2a$05$abcdefghijklmnopqrstuv0123456789012345678901234567890",
                                        err, sizeof(err)),
                     MD_EINVAL);
    assert_non_null(strstr(err, "unsupported"));
    char *h6 = make_hash("$6$", 1000, "pw");
    char cut[200];
    snprintf(cut, sizeof(cut), "%.*s", (int)strlen(h6) - 1, h6); /* one char short */
    assert_int_equal(md_basic_users_add(u, "bob", cut, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "malformed hash"));
    snprintf(cut, sizeof(cut), "%s ", h6); /* trailing space */
    assert_int_equal(md_basic_users_add(u, "bob", cut, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_basic_users_add(u, "bob", "$y$", err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_basic_users_add(u, "b:b", h6, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_basic_users_add(u, "b\tb", h6, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_basic_users_add(u, "", h6, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(md_basic_users_count(u), 0);
    add(u, "bob", h6);
    assert_int_equal(md_basic_users_add(u, "bob", h6, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, "duplicate user 'bob'"));
    free(h6);
    md_basic_users_free(u);
}

static void file_loads_users(void **state)
{
    (void)state;
    char *hy = make_hash("$y$", 1, "one");
    char *h2 = make_hash("$2b$", 4, "two");
    char text[1024];
    int n = snprintf(text, sizeof(text), "# users\n\nalice smith:%s\r\n  # x\nbob:%s", hy, h2);
    const char *path = write_file(text, (size_t)n);
    md_basic_users_t *u = store(0);
    char err[256] = "";
    assert_int_equal(md_basic_users_load_file(u, path, err, sizeof(err)), MD_OK);
    assert_int_equal(md_basic_users_count(u), 2);
    md_basic_cred_t c = cred("alice smith", "one");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    c = cred("bob", "two");
    assert_int_equal(md_basic_verify(u, &c, 0, &cd), MD_OK);
    unlink(path);
    free(hy);
    free(h2);
    md_basic_users_free(u);
}

/* Loads text into an empty store; checks all-or-nothing on failure. */
static int load_text(const char *text, char *err, size_t errlen)
{
    const char *path = write_file(text, strlen(text));
    md_basic_users_t *u = store(0);
    err[0] = '\0';
    int rc = md_basic_users_load_file(u, path, err, errlen);
    if (rc != MD_OK)
        assert_int_equal(md_basic_users_count(u), 0);
    unlink(path);
    md_basic_users_free(u);
    return rc;
}

static void file_errors_name_the_line(void **state)
{
    (void)state;
    char *h = make_hash("$6$", 1000, "pw");
    char text[2048], err[512], expect[512];

    snprintf(text, sizeof(text), "a:%s\n# comment\nbob:hunter2\n", h);
    assert_int_equal(load_text(text, err, sizeof(err)), MD_EINVAL);
    snprintf(expect, sizeof(expect),
             "%s:3: user 'bob': not a crypt(3) hash (plain-text passwords are not accepted); use yescrypt "
             "($y$), bcrypt ($2b$, $2y$) or SHA-crypt ($6$, $5$)",
             tmp_path);
    assert_string_equal(err, expect);

    snprintf(text, sizeof(text), "a:%s\nb:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", h);
    assert_int_equal(load_text(text, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":2: user 'b': {SHA} (unsalted SHA-1) hashes are not accepted"));

    snprintf(text, sizeof(text), "\n\nc:$apr1$x1y2z3$abcdefghijklmnopqrstuv\n");
    assert_int_equal(load_text(text, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":3: user 'c': $apr1$ (Apache MD5) hashes are not accepted"));

    snprintf(text, sizeof(text), "a:%s\nb:%s\na:%s\n", h, h, h);
    assert_int_equal(load_text(text, err, sizeof(err)), MD_EINVAL);
    snprintf(expect, sizeof(expect), "%s:3: duplicate user 'a' (first on line 1)", tmp_path);
    assert_string_equal(err, expect);

    snprintf(text, sizeof(text), "a:%s\nno-colon-here\n", h);
    assert_int_equal(load_text(text, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":2: expected user:hash"));

    snprintf(text, sizeof(text), "%s:%s\n", "u2345678901234567890123456789012345678901234567890123456789012345", h);
    assert_int_equal(load_text(text, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":1: user name longer than 64 bytes"));

    snprintf(text, sizeof(text), "a:%s\n:%s\n", h, h);
    assert_int_equal(load_text(text, err, sizeof(err)), MD_EINVAL);
    assert_non_null(strstr(err, ":2: empty user name"));

    char big[1100];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(load_text(big, err, sizeof(err)), MD_ETOOBIG);
    assert_non_null(strstr(err, ":1: line longer than 1023 bytes"));
    free(h);

    md_basic_users_t *u = store(0);
    assert_int_equal(md_basic_users_load_file(u, "/nonexistent/users", err, sizeof(err)), MD_ERR);
    assert_non_null(strstr(err, "/nonexistent/users: cannot open"));
    md_basic_users_free(u);
}

static void file_user_limit(void **state)
{
    (void)state;
    char *h = make_hash("$6$", 1000, "pw");
    size_t per = strlen(h) + 16, cap = 10001 * per;
    char *text = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < 10001; i++)
        len += (size_t)snprintf(text + len, cap - len, "user%d:%s\n", i, h);
    char err[512];
    assert_int_equal(load_text(text, err, sizeof(err)), MD_ETOOBIG);
    assert_non_null(strstr(err, ":10001: more than 10000 users"));
    free(text);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_user_and_password),
        cmocka_unit_test(splits_at_the_first_colon),
        cmocka_unit_test(other_schemes_are_not_found),
        cmocka_unit_test(malformed_headers_are_refused),
        cmocka_unit_test(credentials_over_one_kib_are_too_big),
        cmocka_unit_test(verifies_each_hash_kind),
        cmocka_unit_test(unknown_user_still_runs_one_crypt),
        cmocka_unit_test(malformed_credentials_are_refused),
        cmocka_unit_test(cache_skips_crypt_until_expiry),
        cmocka_unit_test(cache_key_separates_user_and_password),
        cmocka_unit_test(cache_is_bounded),
        cmocka_unit_test(cache_can_be_disabled),
        cmocka_unit_test(cache_is_shared_by_threads),
        cmocka_unit_test(add_refuses_weak_and_malformed_hashes),
        cmocka_unit_test(file_loads_users),
        cmocka_unit_test(file_errors_name_the_line),
        cmocka_unit_test(file_user_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
