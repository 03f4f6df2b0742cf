/*
 * apikey.h - API-key authentication: a set of named keys and a lookup that
 * does not leak, through its timing, how close a guess came.
 *
 * Keys come from the configuration (name/value pairs, the values usually
 * read from environment variables) and/or a keys file:
 *
 *     # comment
 *     mobile-app:3f9c2a...        one `name:key` per line, LF or CRLF
 *
 * Limits: at most MD_APIKEY_MAX_KEYS keys; a name is [A-Za-z0-9_.-]{1,64};
 * a key is 16..256 bytes of visible ASCII (0x21-0x7e: a space at either end
 * could never be presented through a header, so spaces are refused
 * everywhere); a line is at most 1,023 bytes. A duplicate name or a
 * duplicate key value is refused, naming both lines.
 *
 * The set never keeps a key itself: each key is stored as a 32-byte digest,
 * two SipHash-2-4-128 outputs under two random per-set keys. A lookup hashes
 * the presented key the same way and compares its digest with EVERY stored
 * digest by a branch-free equality, remembering the matching index with a
 * mask instead of returning at the match. The work therefore depends only on
 * the number of keys, never on which key (if any) matched or on how many
 * leading bytes of a guess were right. Lengths outside 16..256 are refused
 * before hashing: they can never match and say nothing about stored keys.
 *
 * A lookup returns the key's NAME, the only thing to put in logs, rate-limit
 * buckets and the access log.
 *
 * Threads: build the set (new, add, load) in one thread, then share it: a
 * lookup only reads.
 */
#ifndef MD_AUTH_APIKEY_H
#define MD_AUTH_APIKEY_H

#include <stddef.h>

#define MD_APIKEY_MAX_KEYS 10000
#define MD_APIKEY_NAME_MAX 64
#define MD_APIKEY_KEY_MIN 16
#define MD_APIKEY_KEY_MAX 256

typedef struct md_apikey_set md_apikey_set_t;

/* One configured key; value NULL means "not set" (an unset environment
 * variable) and is reported as an error. */
typedef struct md_apikey_pair {
    const char *name;
    const char *value;
} md_apikey_pair_t;

/* Creates an empty set with fresh random digest keys. MD_OK, or MD_ERR if
 * the kernel gives no randomness (*out is then NULL). */
int md_apikey_set_new(md_apikey_set_t **out);

/* Frees the set (digests are wiped first). NULL is ignored. */
void md_apikey_set_free(md_apikey_set_t *set);

/* Adds one key. MD_OK; MD_EINVAL (bad name or key, duplicate) or MD_ETOOBIG
 * (set full), with a message in err. */
int md_apikey_add(md_apikey_set_t *set, const char *name, const char *key, size_t key_len, char *err,
                  size_t errlen);

/* Adds n configured pairs, all or nothing: on error the set is as before and
 * err names the pair ("api key 'NAME': ..."). */
int md_apikey_add_pairs(md_apikey_set_t *set, const md_apikey_pair_t *pairs, size_t n, char *err,
                        size_t errlen);

/* Adds every key of a keys file, all or nothing; err is "path:line: what".
 * MD_OK, MD_ERR (cannot open/read), MD_EINVAL (syntax, duplicate),
 * MD_ETOOBIG (line too long, too many keys). */
int md_apikey_load_file(md_apikey_set_t *set, const char *path, char *err, size_t errlen);

/* Number of keys in the set. */
size_t md_apikey_count(const md_apikey_set_t *set);

/* Looks up a presented key. MD_OK with *name set to the key's name (owned by
 * the set), MD_ENOTFOUND for an unknown key, MD_EINVAL for a length outside
 * 16..256 (both: answer 401). *name is NULL unless MD_OK. */
int md_apikey_lookup(const md_apikey_set_t *set, const char *key, size_t key_len, const char **name);

/* md_apikey_lookup that also reports, in *compared, how many full digest
 * comparisons ran: md_apikey_count() for a hit and for a miss alike, 0 for a
 * refused length. For tests and benchmarks; same code path. */
int md_apikey_lookup_counted(const md_apikey_set_t *set, const char *key, size_t key_len,
                             const char **name, size_t *compared);

#endif
