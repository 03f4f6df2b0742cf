/*
 * basic.h - HTTP Basic authentication (RFC 7617) against an htpasswd-style
 * users file of crypt(3) hashes.
 *
 * Users file: one `user:hash` per line, `#` comments, LF or CRLF. A user is
 * 1..64 bytes with no ':' and no control character; at most
 * MD_BASIC_MAX_USERS users; a line is at most 1,023 bytes. Only slow salted
 * crypt(3) hashes are accepted: yescrypt `$y$`, bcrypt `$2b$`/`$2y$`,
 * SHA-crypt `$6$`/`$5$` (e.g. `mkpasswd -m yescrypt`, `htpasswd -B`).
 * Plain text, `{SHA}`, `$apr1$`, `$1$` and the like are refused with a
 * `file:line:` message. Note bcrypt reads only the first 72 password bytes.
 *
 * Verification runs crypt_rn() into a caller-provided struct crypt_data
 * (one per thread; zero it once before first use) and compares the result
 * with the stored hash in constant time. For an unknown user it still runs
 * one crypt, over a dummy hash made with the settings (scheme, cost) of the
 * first user added, so the response time does not tell which users exist.
 *
 * Cost and the cache: yescrypt at its default cost takes ~80 ms of CPU here,
 * so a client sending Basic credentials on every request would cost a core
 * per ~12 requests/s. Successful verifications are therefore remembered in a
 * small cache shared by all threads (a mutex; default 1,024 entries, 4-way
 * set-associative, entries expire 60 s after the crypt that proved them).
 * It is keyed by SipHash-128 of (user, password) under a random per-store
 * key: no password is kept, but whoever can read the process memory can
 * test guesses for a cached user at SipHash speed instead of crypt speed.
 * That is the trade-off; set cache_entries to 0 to refuse it. Failures are
 * never cached (an attacker cannot fill the cache without valid
 * credentials). The store is immutable once loaded, so a cached entry can
 * outlive a password change only until the reload builds a new store.
 *
 * Even with the cache, a first (or failed) verification blocks its thread
 * for the crypt: callers on an event loop should hand verify() to a worker
 * thread or choose a cheaper cost for the hashes.
 *
 * Threads: build the store (new, add, load) in one thread, then share it:
 * verify is thread-safe.
 */
#ifndef MD_AUTH_BASIC_H
#define MD_AUTH_BASIC_H

#include <stddef.h>
#include <stdint.h>

#define MD_BASIC_MAX_USERS 10000
#define MD_BASIC_USER_MAX 64
#define MD_BASIC_DECODED_MAX 1024 /* user:password after base64 */
#define MD_BASIC_CACHE_DEFAULT 1024
#define MD_BASIC_CACHE_MAX 65536
#define MD_BASIC_CACHE_TTL_DEFAULT_MS 60000

struct crypt_data; /* <crypt.h> */

typedef struct md_basic_users md_basic_users_t;

/* Cache settings; md_basic_users_new(NULL, ...) takes the defaults. */
typedef struct md_basic_opts {
    size_t cache_entries;  /* 0 disables; rounded up to a power of two >= 4 */
    uint64_t cache_ttl_ms; /* 0 disables */
} md_basic_opts_t;

/* Credentials from an Authorization header: both strings point into the
 * caller's decode buffer and are NUL-terminated. */
typedef struct md_basic_cred {
    const char *user;
    size_t user_len;
    const char *password;
    size_t password_len;
} md_basic_cred_t;

/* Counters (for metrics and tests). */
typedef struct md_basic_stats {
    uint64_t crypt_calls; /* crypt runs against real users' hashes */
    uint64_t dummy_calls; /* crypt runs for unknown users */
    uint64_t cache_hits;  /* verifications answered without crypt */
} md_basic_stats_t;

/* Parses an Authorization header value: "Basic" (any case), spaces, strict
 * standard base64 with padding decoding to at most 1 KiB, split at the
 * FIRST ':'. buf (cap >= MD_BASIC_DECODED_MAX + 1) receives the decoded
 * bytes; wipe it when done. Returns MD_OK; MD_ENOTFOUND if the scheme is not
 * Basic (another scheme may apply); MD_EINVAL for malformed base64, no ':',
 * a NUL byte anywhere or a control character in the user; MD_ETOOBIG when
 * the credentials exceed 1 KiB or cap. */
int md_basic_parse(const char *value, size_t len, char *buf, size_t cap, md_basic_cred_t *cred);

/* Creates an empty store. MD_OK, MD_EINVAL (cache over MD_BASIC_CACHE_MAX)
 * or MD_ERR (no kernel randomness). */
int md_basic_users_new(const md_basic_opts_t *opts, md_basic_users_t **out);

/* Frees the store. NULL is ignored. */
void md_basic_users_free(md_basic_users_t *u);

/* Adds one user with a crypt(3) hash. MD_OK, MD_EINVAL (bad user, refused or
 * malformed hash, duplicate) or MD_ETOOBIG, with a message. The first user
 * added costs one crypt (making the unknown-user dummy). */
int md_basic_users_add(md_basic_users_t *u, const char *user, const char *hash, char *err, size_t errlen);

/* Adds every user of a users file, all or nothing; err is "path:line: what".
 * MD_OK, MD_ERR (cannot open/read), MD_EINVAL, MD_ETOOBIG. */
int md_basic_users_load_file(md_basic_users_t *u, const char *path, char *err, size_t errlen);

/* Number of users. */
size_t md_basic_users_count(const md_basic_users_t *u);

/* Verifies credentials at now_ms (monotonic; drives the cache's expiry).
 * MD_OK; MD_ENOTFOUND for an unknown user or a wrong password (one code on
 * purpose); MD_EINVAL if the strings are not NUL-terminated at their length
 * or contain NUL; MD_ERR if crypt itself failed. cd is the calling thread's
 * scratch space. */
int md_basic_verify(md_basic_users_t *u, const md_basic_cred_t *cred, uint64_t now_ms,
                    struct crypt_data *cd);

/* Current counters. */
void md_basic_stats(md_basic_users_t *u, md_basic_stats_t *st);

#endif
