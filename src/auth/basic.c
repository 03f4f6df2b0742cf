/*
 * basic.c - Basic credentials: header parsing (strict base64), the users
 * store with its hash checks, crypt verification with an unknown-user dummy,
 * and the verified-credentials cache (contract and trade-offs in basic.h).
 */
#include "auth/basic.h"

#include <crypt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth/authfile.h"
#include "auth/secret.h"
#include "core/alloc.h"
#include "core/common.h"
#include "core/hash.h"

#define HASH_MAX_LEN 200 /* the longest accepted hash is ~125 bytes */
#define ENCODED_MAX (((MD_BASIC_DECODED_MAX + 2) / 3) * 4)
#define CACHE_WAYS 4
#define NO_USER UINT32_MAX

typedef struct {
    char *name;
    char *hash;
    unsigned line; /* in a users file, 0 if added directly */
} user_t;

typedef struct {
    uint8_t tag[16];     /* SipHash-128 of (user, password) */
    uint64_t expires_ms; /* 0: empty */
} cache_entry_t;

struct md_basic_users {
    user_t *users;
    size_t count, cap;
    uint32_t *index; /* open addressing by name, NO_USER when empty */
    size_t index_cap;
    char *dummy; /* hash for unknown users, from the first user's settings */
    uint8_t cache_key[MD_SIPHASH_KEY_LEN];
    pthread_mutex_t mu; /* guards cache[] */
    cache_entry_t *cache;
    size_t cache_sets; /* power of two; 0 when disabled */
    uint64_t ttl_ms;
    atomic_uint_fast64_t crypt_calls, dummy_calls, cache_hits;
};

/* ---- base64 and the header ---------------------------------------------- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict RFC 4648 section 4: length a multiple of 4, '=' only as the last one
 * or two characters, and the unused bits before padding zero (so each value
 * has exactly one encoding). Returns the decoded length or -1. */
static long b64_decode(const char *in, size_t len, unsigned char *out)
{
    if (len == 0 || len % 4 != 0)
        return -1;
    size_t pad = in[len - 1] == '=' ? (in[len - 2] == '=' ? 2 : 1) : 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        size_t real = last ? 4 - pad : 4;
        uint32_t acc = 0;
        for (size_t j = 0; j < 4; j++) {
            int v = j < real ? b64_value((unsigned char)in[i + j]) : 0;
            if (v < 0)
                return -1;
            acc = (acc << 6) | (uint32_t)v;
        }
        if ((real == 2 && (acc & 0xffff)) || (real == 3 && (acc & 0xff)))
            return -1;
        out[o++] = (unsigned char)(acc >> 16);
        if (real > 2)
            out[o++] = (unsigned char)(acc >> 8);
        if (real > 3)
            out[o++] = (unsigned char)acc;
    }
    return (long)o;
}

static bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }


int md_basic_parse(const char *v, size_t len, char *buf, size_t cap, md_basic_cred_t *cred)
{
    memset(cred, 0, sizeof(*cred));
    if (len < 5 || strncasecmp(v, "Basic", 5) != 0 || (len > 5 && md_is_tchar((unsigned char)v[5])))
        return MD_ENOTFOUND;
    size_t i = 5;
    if (i == len || v[i] != ' ')
        return MD_EINVAL;
    while (i < len && v[i] == ' ')
        i++;
    size_t end = len;
    while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t'))
        end--;
    size_t n = end - i;
    if (n > ENCODED_MAX)
        return MD_ETOOBIG;
    if (n == 0 || n % 4 != 0)
        return MD_EINVAL;
    /* The exact decoded size, checked before the decoder writes anything. */
    size_t dlen = n / 4 * 3 - (v[end - 1] == '=') - (v[end - 2] == '=');
    if (dlen > MD_BASIC_DECODED_MAX || dlen + 1 > cap)
        return MD_ETOOBIG;
    if (b64_decode(v + i, n, (unsigned char *)buf) != (long)dlen)
        return MD_EINVAL;
    if (memchr(buf, '\0', dlen))
        return MD_EINVAL;
    char *colon = memchr(buf, ':', dlen);
    if (!colon)
        return MD_EINVAL;
    for (char *p = buf; p < colon; p++)
        if (is_ctl((unsigned char)*p))
            return MD_EINVAL;
    *colon = '\0';
    buf[dlen] = '\0';
    cred->user = buf;
    cred->user_len = (size_t)(colon - buf);
    cred->password = colon + 1;
    cred->password_len = dlen - cred->user_len - 1;
    return MD_OK;
}

/* ---- hash acceptance ---------------------------------------------------- */

static bool is_crypt64(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/';
}

/* Length of the run of crypt64 characters at p. */
static size_t crypt64_run(const char *p)
{
    size_t n = 0;
    while (is_crypt64(p[n]))
        n++;
    return n;
}

/* $y$<params>$<salt>$<43> */
static bool yescrypt_ok(const char *p)
{
    for (int field = 0; field < 2; field++) {
        size_t n = crypt64_run(p);
        if (n == 0 || p[n] != '$')
            return false;
        p += n + 1;
    }
    return crypt64_run(p) == 43 && p[43] == '\0';
}

/* $2b$NN$<22 salt><31 hash>, cost 04..31 */
static bool bcrypt_ok(const char *p)
{
    if (p[0] < '0' || p[0] > '3' || p[1] < '0' || p[1] > '9' || p[2] != '$')
        return false;
    int cost = (p[0] - '0') * 10 + (p[1] - '0');
    return cost >= 4 && cost <= 31 && crypt64_run(p + 3) == 53 && p[56] == '\0';
}

/* $6$[rounds=N$]<salt 0..16>$<86> (or 43 for $5$) */
static bool shacrypt_ok(const char *p, size_t hash_len)
{
    if (strncmp(p, "rounds=", 7) == 0) {
        size_t d = strspn(p + 7, "0123456789");
        if (d == 0 || d > 9 || p[7 + d] != '$')
            return false;
        p += 7 + d + 1;
    }
    size_t salt = crypt64_run(p);
    if (salt > 16 || p[salt] != '$')
        return false;
    p += salt + 1;
    return crypt64_run(p) == hash_len && p[hash_len] == '\0';
}

#define USE_INSTEAD "; use yescrypt ($y$), bcrypt ($2b$, $2y$) or SHA-crypt ($6$, $5$)"

/* NULL if the hash is acceptable, else why not. */
static const char *hash_problem(const char *h)
{
    if (strncmp(h, "{SHA}", 5) == 0)
        return "{SHA} (unsalted SHA-1) hashes are not accepted" USE_INSTEAD;
    if (strncmp(h, "$apr1$", 6) == 0)
        return "$apr1$ (Apache MD5) hashes are not accepted" USE_INSTEAD;
    if (strncmp(h, "$1$", 3) == 0)
        return "$1$ (MD5-crypt) hashes are not accepted" USE_INSTEAD;
    if (h[0] != '$')
        return "not a crypt(3) hash (plain-text passwords are not accepted)" USE_INSTEAD;
    if (strlen(h) > HASH_MAX_LEN)
        return "hash longer than 200 bytes";
    bool ok;
    if (strncmp(h, "$y$", 3) == 0)
        ok = yescrypt_ok(h + 3);
    else if (strncmp(h, "$2b$", 4) == 0 || strncmp(h, "$2y$", 4) == 0)
        ok = bcrypt_ok(h + 4);
    else if (strncmp(h, "$6$", 3) == 0)
        ok = shacrypt_ok(h + 3, 86);
    else if (strncmp(h, "$5$", 3) == 0)
        ok = shacrypt_ok(h + 3, 43);
    else
        return "unsupported hash scheme" USE_INSTEAD;
    if (!ok || crypt_checksalt(h) == CRYPT_SALT_INVALID)
        return "malformed hash";
    return NULL;
}

/* ---- the store ---------------------------------------------------------- */

int md_basic_users_new(const md_basic_opts_t *opts, md_basic_users_t **out)
{
    md_basic_opts_t def = { MD_BASIC_CACHE_DEFAULT, MD_BASIC_CACHE_TTL_DEFAULT_MS };
    if (!opts)
        opts = &def;
    *out = NULL;
    if (opts->cache_entries > MD_BASIC_CACHE_MAX)
        return MD_EINVAL;
    md_basic_users_t *u = md_calloc(1, sizeof(*u));
    if (md_random_bytes(u->cache_key, sizeof(u->cache_key)) != MD_OK) {
        md_free(u);
        return MD_ERR;
    }
    if (opts->cache_entries > 0 && opts->cache_ttl_ms > 0) {
        size_t entries = CACHE_WAYS;
        while (entries < opts->cache_entries)
            entries *= 2;
        u->cache_sets = entries / CACHE_WAYS;
        u->cache = md_calloc(entries, sizeof(cache_entry_t));
        u->ttl_ms = opts->cache_ttl_ms;
    }
    pthread_mutex_init(&u->mu, NULL);
    *out = u;
    return MD_OK;
}

static void free_user(user_t *usr)
{
    md_free(usr->name);
    explicit_bzero(usr->hash, strlen(usr->hash));
    md_free(usr->hash);
}

void md_basic_users_free(md_basic_users_t *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->count; i++)
        free_user(&u->users[i]);
    md_free(u->users);
    md_free(u->index);
    md_free(u->dummy);
    if (u->cache)
        explicit_bzero(u->cache, u->cache_sets * CACHE_WAYS * sizeof(cache_entry_t));
    md_free(u->cache);
    explicit_bzero(u->cache_key, sizeof(u->cache_key));
    pthread_mutex_destroy(&u->mu);
    md_free(u);
}

size_t md_basic_users_count(const md_basic_users_t *u) { return u->count; }

/* Slot holding user `name` (len bytes), or the empty slot where it would go. */
static uint32_t *user_slot(const md_basic_users_t *u, const char *name, size_t len)
{
    size_t mask = u->index_cap - 1;
    for (size_t i = md_hash64(name, len, 0x75736572ull) & mask;; i = (i + 1) & mask) {
        uint32_t e = u->index[i];
        if (e == NO_USER || (strlen(u->users[e].name) == len && memcmp(u->users[e].name, name, len) == 0))
            return &u->index[i];
    }
}

static void index_rebuild(md_basic_users_t *u, size_t want)
{
    size_t cap = 16;
    while (cap <= 2 * want)
        cap *= 2;
    md_free(u->index);
    u->index_cap = cap;
    u->index = md_malloc(cap * sizeof(uint32_t));
    memset(u->index, 0xff, cap * sizeof(uint32_t));
    for (size_t i = 0; i < u->count; i++)
        *user_slot(u, u->users[i].name, strlen(u->users[i].name)) = (uint32_t)i;
}

/* The unknown-user hash: a random password crypted with the settings (and
 * so the cost) of `hash`. Nobody knows its password; it is never compared
 * for a decision. */
static int make_dummy(md_basic_users_t *u, const char *hash)
{
    uint8_t rnd[16];
    char pw[33];
    if (md_random_bytes(rnd, sizeof(rnd)) != MD_OK)
        return MD_ERR;
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
    struct crypt_data *cd = md_calloc(1, sizeof(*cd));
    const char *out = crypt_rn(pw, hash, cd, (int)sizeof(*cd));
    if (out)
        u->dummy = md_strdup(out);
    explicit_bzero(cd, sizeof(*cd));
    md_free(cd);
    explicit_bzero(pw, sizeof(pw));
    return out ? MD_OK : MD_ERR;
}

static void truncate_to(md_basic_users_t *u, size_t count)
{
    if (u->count == count)
        return;
    for (size_t i = count; i < u->count; i++)
        free_user(&u->users[i]);
    u->count = count;
    index_rebuild(u, count);
    if (count == 0) {
        md_free(u->dummy);
        u->dummy = NULL;
    }
}

static const char *user_problem(const char *name, size_t len)
{
    if (len == 0)
        return "empty user name";
    if (len > MD_BASIC_USER_MAX)
        return "user name longer than 64 bytes";
    for (size_t i = 0; i < len; i++)
        if (is_ctl((unsigned char)name[i]) || name[i] == ':')
            return "user name contains ':' or a control character";
    return NULL;
}

/* Validates and appends; `where` prefixes messages ("path:7"). */
static int add_user(md_basic_users_t *u, const char *name, size_t name_len, const char *hash, unsigned line,
                    const char *where, char *err, size_t errlen)
{
    const char *why = user_problem(name, name_len);
    if (why) {
        md_seterr(err, errlen, "%s: %s", where, why);
        return MD_EINVAL;
    }
    why = hash_problem(hash);
    if (why) {
        md_seterr(err, errlen, "%s: user '%.*s': %s", where, (int)name_len, name, why);
        return MD_EINVAL;
    }
    if (u->count >= MD_BASIC_MAX_USERS) {
        md_seterr(err, errlen, "%s: more than %d users", where, MD_BASIC_MAX_USERS);
        return MD_ETOOBIG;
    }
    if (u->index_cap <= 2 * (u->count + 1))
        index_rebuild(u, u->count + 1);
    uint32_t *slot = user_slot(u, name, name_len);
    if (*slot != NO_USER) {
        const user_t *first = &u->users[*slot];
        if (first->line)
            md_seterr(err, errlen, "%s: duplicate user '%s' (first on line %u)", where, first->name, first->line);
        else
            md_seterr(err, errlen, "%s: duplicate user '%s'", where, first->name);
        return MD_EINVAL;
    }
    if (!u->dummy && make_dummy(u, hash) != MD_OK) {
        md_seterr(err, errlen, "%s: user '%.*s': hash refused by crypt(3)", where, (int)name_len, name);
        return MD_EINVAL;
    }
    if (u->count == u->cap) {
        u->cap = u->cap ? MD_MIN(u->cap * 2, MD_BASIC_MAX_USERS) : 16;
        u->users = md_realloc(u->users, u->cap * sizeof(user_t));
    }
    user_t *usr = &u->users[u->count];
    usr->name = md_strndup(name, name_len);
    usr->hash = md_strdup(hash);
    usr->line = line;
    *slot = (uint32_t)u->count++;
    return MD_OK;
}

int md_basic_users_add(md_basic_users_t *u, const char *user, const char *hash, char *err, size_t errlen)
{
    if (!user || !hash) {
        md_seterr(err, errlen, "basic user: missing %s", user ? "hash" : "name");
        return MD_EINVAL;
    }
    char where[96];
    snprintf(where, sizeof(where), "basic user '%.64s'", user);
    return add_user(u, user, strlen(user), hash, 0, where, err, errlen);
}

static int file_entry(void *arg, const char *user, size_t user_len, const char *hash, size_t hash_len,
                      unsigned lineno, const char *where, char *err, size_t errlen)
{
    (void)hash_len; /* NUL-terminated: crypt(3) takes a string */
    return add_user(arg, user, user_len, hash, lineno, where, err, errlen);
}

int md_basic_users_load_file(md_basic_users_t *u, const char *path, char *err, size_t errlen)
{
    size_t before = u->count;
    int rc = md_authfile_load(path, "user:hash", file_entry, u, err, errlen);
    if (rc != MD_OK)
        truncate_to(u, before);
    return rc;
}

/* ---- the verified-credentials cache ------------------------------------- */

static void cache_tag(const md_basic_users_t *u, const md_basic_cred_t *c, uint8_t tag[16])
{
    /* The user's length first, so ("ab", "c") and ("a", "bc") differ. */
    unsigned char buf[1 + MD_BASIC_USER_MAX + MD_BASIC_DECODED_MAX];
    size_t n = 1 + c->user_len + c->password_len;
    buf[0] = (unsigned char)c->user_len;
    memcpy(buf + 1, c->user, c->user_len);
    memcpy(buf + 1 + c->user_len, c->password, c->password_len);
    md_siphash128(u->cache_key, buf, n, tag);
    explicit_bzero(buf, n);
}

static cache_entry_t *cache_set(md_basic_users_t *u, const uint8_t tag[16])
{
    size_t set = (tag[0] | (size_t)tag[1] << 8 | (size_t)tag[2] << 16) & (u->cache_sets - 1);
    return &u->cache[set * CACHE_WAYS];
}

static bool cache_lookup(md_basic_users_t *u, const uint8_t tag[16], uint64_t now_ms)
{
    bool hit = false;
    pthread_mutex_lock(&u->mu);
    cache_entry_t *set = cache_set(u, tag);
    for (int w = 0; w < CACHE_WAYS; w++)
        hit |= now_ms < set[w].expires_ms && md_ct_equal(set[w].tag, tag, 16);
    pthread_mutex_unlock(&u->mu);
    return hit;
}

/* Replaces the way that expires first (empty and expired ways first). */
static void cache_insert(md_basic_users_t *u, const uint8_t tag[16], uint64_t now_ms)
{
    pthread_mutex_lock(&u->mu);
    cache_entry_t *set = cache_set(u, tag), *victim = &set[0];
    for (int w = 0; w < CACHE_WAYS; w++) {
        if (md_ct_equal(set[w].tag, tag, 16)) {
            victim = &set[w];
            break;
        }
        if (set[w].expires_ms < victim->expires_ms)
            victim = &set[w];
    }
    memcpy(victim->tag, tag, 16);
    victim->expires_ms = now_ms + u->ttl_ms;
    pthread_mutex_unlock(&u->mu);
}

/* ---- verification ------------------------------------------------------- */

static const user_t *find_user(const md_basic_users_t *u, const char *name, size_t len)
{
    if (u->count == 0 || len == 0 || len > MD_BASIC_USER_MAX)
        return NULL;
    uint32_t e = *user_slot(u, name, len);
    return e == NO_USER ? NULL : &u->users[e];
}

static bool cred_well_formed(const md_basic_cred_t *c)
{
    return c->user && c->password && c->password_len <= MD_BASIC_DECODED_MAX &&
           c->user[c->user_len] == '\0' && c->password[c->password_len] == '\0' &&
           !memchr(c->user, '\0', c->user_len) && !memchr(c->password, '\0', c->password_len);
}

/* Runs crypt for an unknown user so that the answer takes as long as for a
 * known one; the result is discarded. */
static void burn_dummy(md_basic_users_t *u, const char *password, struct crypt_data *cd)
{
    if (!u->dummy)
        return; /* no users at all: nothing to hide */
    atomic_fetch_add_explicit(&u->dummy_calls, 1, memory_order_relaxed);
    const char *out = crypt_rn(password, u->dummy, cd, (int)sizeof(*cd));
    if (out)
        (void)md_ct_equal(out, u->dummy, MD_MIN(strlen(out), strlen(u->dummy)));
}

int md_basic_verify(md_basic_users_t *u, const md_basic_cred_t *cred, uint64_t now_ms, struct crypt_data *cd)
{
    if (!cred_well_formed(cred))
        return MD_EINVAL;
    const user_t *usr = find_user(u, cred->user, cred->user_len);
    if (!usr) {
        burn_dummy(u, cred->password, cd);
        return MD_ENOTFOUND;
    }
    uint8_t tag[16];
    if (u->cache) {
        cache_tag(u, cred, tag);
        if (cache_lookup(u, tag, now_ms)) {
            atomic_fetch_add_explicit(&u->cache_hits, 1, memory_order_relaxed);
            explicit_bzero(tag, sizeof(tag));
            return MD_OK;
        }
    }
    atomic_fetch_add_explicit(&u->crypt_calls, 1, memory_order_relaxed);
    const char *out = crypt_rn(cred->password, usr->hash, cd, (int)sizeof(*cd));
    int rc = MD_ERR;
    if (out) {
        size_t n = strlen(usr->hash);
        rc = strlen(out) == n && md_ct_equal(out, usr->hash, n) ? MD_OK : MD_ENOTFOUND;
    }
    if (rc == MD_OK && u->cache)
        cache_insert(u, tag, now_ms);
    explicit_bzero(tag, sizeof(tag));
    explicit_bzero(cd->output, sizeof(cd->output));
    return rc;
}

void md_basic_stats(md_basic_users_t *u, md_basic_stats_t *st)
{
    st->crypt_calls = atomic_load_explicit(&u->crypt_calls, memory_order_relaxed);
    st->dummy_calls = atomic_load_explicit(&u->dummy_calls, memory_order_relaxed);
    st->cache_hits = atomic_load_explicit(&u->cache_hits, memory_order_relaxed);
}
