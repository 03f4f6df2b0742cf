/*
 * apikey.c - the named key set and its constant-time lookup (contract and
 * design in apikey.h).
 *
 * Storage is split for the lookup's sake: the digests sit in one contiguous
 * array (32 bytes per key, 1,000 keys = 32 KiB, one pass through L1/L2),
 * the names in another that is touched once, after the scan. Two
 * open-addressing indexes (by name, by digest) serve only the loaders'
 * duplicate checks; a lookup never uses them, since probing a hash table
 * would make its time depend on the stored keys.
 */
#include "auth/apikey.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth/authfile.h"
#include "auth/secret.h"
#include "core/alloc.h"
#include "core/common.h"
#include "core/hash.h"

#define DIGEST_WORDS 4
#define NO_ENTRY UINT32_MAX

typedef struct {
    uint64_t w[DIGEST_WORDS];
} digest_t;

struct md_apikey_set {
    uint8_t key_a[MD_SIPHASH_KEY_LEN]; /* the two digest keys */
    uint8_t key_b[MD_SIPHASH_KEY_LEN];
    digest_t *digests;
    char (*names)[MD_APIKEY_NAME_MAX + 1];
    unsigned *lines; /* line of origin in a keys file, 0 for a pair */
    size_t count, cap;
    uint32_t *by_name;   /* duplicate-check indexes, NO_ENTRY when empty */
    uint32_t *by_digest;
    size_t index_cap;    /* power of two, > 2 * count */
};

int md_apikey_set_new(md_apikey_set_t **out)
{
    md_apikey_set_t *s = md_calloc(1, sizeof(*s));
    if (md_random_bytes(s->key_a, sizeof(s->key_a)) != MD_OK ||
        md_random_bytes(s->key_b, sizeof(s->key_b)) != MD_OK) {
        md_free(s);
        *out = NULL;
        return MD_ERR;
    }
    *out = s;
    return MD_OK;
}

void md_apikey_set_free(md_apikey_set_t *s)
{
    if (!s)
        return;
    if (s->digests)
        explicit_bzero(s->digests, s->cap * sizeof(digest_t));
    explicit_bzero(s->key_a, sizeof(s->key_a));
    explicit_bzero(s->key_b, sizeof(s->key_b));
    md_free(s->digests);
    md_free(s->names);
    md_free(s->lines);
    md_free(s->by_name);
    md_free(s->by_digest);
    md_free(s);
}

size_t md_apikey_count(const md_apikey_set_t *s) { return s->count; }

static void digest_of(const md_apikey_set_t *s, const char *key, size_t len, digest_t *d)
{
    uint8_t raw[32];
    md_siphash128(s->key_a, key, len, raw);
    md_siphash128(s->key_b, key, len, raw + 16);
    memcpy(d->w, raw, sizeof(raw));
    explicit_bzero(raw, sizeof(raw));
}

/* ---- loader-only indexes ------------------------------------------------ */

static uint64_t name_hash(const char *name) { return md_hash64(name, strlen(name), 0x61706b6579ull); }

/* Slot holding `name`, or the empty slot where it would go. */
static uint32_t *name_slot(const md_apikey_set_t *s, const char *name)
{
    size_t mask = s->index_cap - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        uint32_t e = s->by_name[i];
        if (e == NO_ENTRY || strcmp(s->names[e], name) == 0)
            return &s->by_name[i];
    }
}

static uint32_t *digest_slot(const md_apikey_set_t *s, const digest_t *d)
{
    size_t mask = s->index_cap - 1;
    for (size_t i = d->w[0] & mask;; i = (i + 1) & mask) {
        uint32_t e = s->by_digest[i];
        if (e == NO_ENTRY || memcmp(&s->digests[e], d, sizeof(*d)) == 0)
            return &s->by_digest[i];
    }
}

/* Rebuilds both indexes for the first s->count entries with room for
 * `want` entries at a load factor under one half. */
static void index_rebuild(md_apikey_set_t *s, size_t want)
{
    size_t cap = 16;
    while (cap <= 2 * want)
        cap *= 2;
    md_free(s->by_name);
    md_free(s->by_digest);
    s->index_cap = cap;
    s->by_name = md_malloc(cap * sizeof(uint32_t));
    s->by_digest = md_malloc(cap * sizeof(uint32_t));
    memset(s->by_name, 0xff, cap * sizeof(uint32_t));
    memset(s->by_digest, 0xff, cap * sizeof(uint32_t));
    for (size_t i = 0; i < s->count; i++) {
        *name_slot(s, s->names[i]) = (uint32_t)i;
        *digest_slot(s, &s->digests[i]) = (uint32_t)i;
    }
}

static void grow(md_apikey_set_t *s)
{
    if (s->count < s->cap)
        return;
    size_t cap = s->cap ? s->cap * 2 : 16;
    if (cap > MD_APIKEY_MAX_KEYS)
        cap = MD_APIKEY_MAX_KEYS;
    digest_t *d = md_malloc(cap * sizeof(digest_t));
    if (s->digests) {
        memcpy(d, s->digests, s->count * sizeof(digest_t));
        explicit_bzero(s->digests, s->cap * sizeof(digest_t));
        md_free(s->digests);
    }
    s->digests = d;
    s->names = md_realloc(s->names, cap * sizeof(*s->names));
    s->lines = md_realloc(s->lines, cap * sizeof(*s->lines));
    s->cap = cap;
}

/* Forgets the entries added since `count` (a failed all-or-nothing load). */
static void truncate_to(md_apikey_set_t *s, size_t count)
{
    if (s->count == count)
        return;
    explicit_bzero(s->digests + count, (s->count - count) * sizeof(digest_t));
    s->count = count;
    index_rebuild(s, count);
}

/* ---- validation and insertion ------------------------------------------- */

static const char *name_problem(const char *name, size_t len)
{
    if (len == 0)
        return "empty key name";
    if (len > MD_APIKEY_NAME_MAX)
        return "key name longer than 64 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return "key name may only contain A-Z a-z 0-9 _ . -";
    }
    return NULL;
}

static const char *key_problem(const char *key, size_t len)
{
    if (len < MD_APIKEY_KEY_MIN)
        return "key shorter than 16 bytes";
    if (len > MD_APIKEY_KEY_MAX)
        return "key longer than 256 bytes";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            return "key may only contain visible ASCII (no spaces or control characters)";
    return NULL;
}

/* Where an existing entry came from, for duplicate messages. */
static void describe_origin(const md_apikey_set_t *s, uint32_t e, char *out, size_t outlen)
{
    if (s->lines[e])
        snprintf(out, outlen, "'%s' on line %u", s->names[e], s->lines[e]);
    else
        snprintf(out, outlen, "configured key '%s'", s->names[e]);
}

/* Validates and appends; `where` prefixes messages ("path:7" or
 * "api key 'x'"). */
static int add_entry(md_apikey_set_t *s, const char *name, size_t name_len, const char *key,
                     size_t key_len, unsigned line, const char *where, char *err, size_t errlen)
{
    const char *why = name_problem(name, name_len);
    if (!why)
        why = key_problem(key, key_len);
    if (why) {
        md_seterr(err, errlen, "%s: %s", where, why);
        return MD_EINVAL;
    }
    if (s->count >= MD_APIKEY_MAX_KEYS) {
        md_seterr(err, errlen, "%s: more than %d keys", where, MD_APIKEY_MAX_KEYS);
        return MD_ETOOBIG;
    }
    grow(s);
    if (s->index_cap <= 2 * (s->count + 1))
        index_rebuild(s, s->count + 1);
    size_t i = s->count;
    memcpy(s->names[i], name, name_len);
    s->names[i][name_len] = '\0';
    digest_of(s, key, key_len, &s->digests[i]);
    s->lines[i] = line;
    uint32_t *ns = name_slot(s, s->names[i]);
    uint32_t *ds = digest_slot(s, &s->digests[i]);
    if (*ns != NO_ENTRY || *ds != NO_ENTRY) {
        char first[128];
        describe_origin(s, *ns != NO_ENTRY ? *ns : *ds, first, sizeof(first));
        if (*ns != NO_ENTRY)
            md_seterr(err, errlen, "%s: duplicate key name (first: %s)", where, first);
        else
            md_seterr(err, errlen, "%s: same key value as %s", where, first);
        explicit_bzero(&s->digests[i], sizeof(digest_t));
        return MD_EINVAL;
    }
    *ns = (uint32_t)i;
    *ds = (uint32_t)i;
    s->count++;
    return MD_OK;
}

int md_apikey_add(md_apikey_set_t *s, const char *name, const char *key, size_t key_len, char *err,
                  size_t errlen)
{
    char where[96];
    snprintf(where, sizeof(where), "api key '%.64s'", name ? name : "");
    if (!name || !key) {
        md_seterr(err, errlen, "%s: no %s", where, name ? "value (environment variable unset?)" : "name");
        return MD_EINVAL;
    }
    return add_entry(s, name, strlen(name), key, key_len, 0, where, err, errlen);
}

int md_apikey_add_pairs(md_apikey_set_t *s, const md_apikey_pair_t *pairs, size_t n, char *err,
                        size_t errlen)
{
    size_t before = s->count;
    for (size_t i = 0; i < n; i++) {
        const char *v = pairs[i].value;
        int rc = md_apikey_add(s, pairs[i].name, v, v ? strlen(v) : 0, err, errlen);
        if (rc != MD_OK) {
            truncate_to(s, before);
            return rc;
        }
    }
    return MD_OK;
}

/* ---- keys file ---------------------------------------------------------- */

static int file_entry(void *arg, const char *name, size_t name_len, const char *key, size_t key_len,
                      unsigned lineno, const char *where, char *err, size_t errlen)
{
    return add_entry(arg, name, name_len, key, key_len, lineno, where, err, errlen);
}

int md_apikey_load_file(md_apikey_set_t *s, const char *path, char *err, size_t errlen)
{
    size_t before = s->count;
    int rc = md_authfile_load(path, "name:key", file_entry, s, err, errlen);
    if (rc != MD_OK)
        truncate_to(s, before);
    return rc;
}

/* ---- lookup ------------------------------------------------------------- */

int md_apikey_lookup_counted(const md_apikey_set_t *s, const char *key, size_t key_len,
                             const char **name, size_t *compared)
{
    *name = NULL;
    if (compared)
        *compared = 0;
    if (key_len < MD_APIKEY_KEY_MIN || key_len > MD_APIKEY_KEY_MAX)
        return MD_EINVAL;
    digest_t d;
    digest_of(s, key, key_len, &d);
    /* Load refuses duplicate keys, so at most one digest matches and the
     * matching index can be OR-ed in: no data-dependent branch or select. */
    uint64_t hit = 0, at = 0;
    size_t n = 0;
    for (size_t i = 0; i < s->count; i++) {
        const uint64_t *w = s->digests[i].w;
        uint64_t diff = (w[0] ^ d.w[0]) | (w[1] ^ d.w[1]) | (w[2] ^ d.w[2]) | (w[3] ^ d.w[3]);
        /* Hide diff's value from the optimizer so it cannot branch on it. */
        __asm__("" : "+r"(diff));
        uint64_t mask = ((diff | (0 - diff)) >> 63) - 1; /* all ones iff diff == 0 */
        at |= (uint64_t)i & mask;
        hit |= mask;
        n++;
    }
    explicit_bzero(&d, sizeof(d));
    if (compared)
        *compared = n;
    if (!hit)
        return MD_ENOTFOUND;
    *name = s->names[at];
    return MD_OK;
}

int md_apikey_lookup(const md_apikey_set_t *s, const char *key, size_t key_len, const char **name)
{
    return md_apikey_lookup_counted(s, key, key_len, name, NULL);
}
