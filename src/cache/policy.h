/*
 * policy.h - HTTP caching rules, free of any store: parsing an upstream's
 * Cache-Control, the ETag of a response and If-None-Match matching, the
 * Cache-Control medley sends for a composed response, and the RFC 9211
 * Cache-Status header that says what the cache did for each fragment.
 *
 * Everything here is a pure function over bytes, bounded by its inputs.
 */
#ifndef MD_CACHE_POLICY_H
#define MD_CACHE_POLICY_H

#include "core/buf.h"
#include "core/common.h"

#include <stdbool.h>
#include <stdint.h>

/* The directives of a response Cache-Control header that matter to a
 * shared cache (RFC 9111 section 5.2.2, RFC 5861). Seconds; -1 = absent. */
typedef struct md_cc {
    int64_t max_age;
    int64_t s_maxage;
    int64_t stale_while_revalidate;
    int64_t stale_if_error;
    bool no_store;
    bool no_cache;
    bool private_;
    bool public_;
    bool must_revalidate;
} md_cc_t;

/* Parses a Cache-Control value (directives are case-insensitive, comma
 * separated, with optional "=value" or "=\"value\""; unknown ones are
 * ignored; a malformed delta-seconds makes that directive absent, and a
 * value over 10 years, however many digits, is capped at 10 years as
 * RFC 9111 4.2.1 asks, rather than dropped). Never fails: garbage gives an
 * md_cc_t with nothing set. Several Cache-Control headers are parsed one
 * after another into the same struct (md_cc_init first).
 * Details: the first well-formed value of a repeated directive wins;
 * no-store, no-cache, private and must-revalidate (proxy-revalidate counts
 * as it) are honoured even in a malformed element, and their qualified
 * forms (no-cache="f") count as unqualified. */
void md_cc_init(md_cc_t *cc);
void md_cc_parse(md_cc_t *cc, const char *v, size_t len);

/* How long a shared cache may serve an answer with this Cache-Control, in
 * ms: 0 when it must not be stored (no-store, private, no-cache,
 * s-maxage=0/max-age=0 or nothing said), else s-maxage (preferred) or
 * max-age. Used for `ttl: upstream`. */
uint64_t md_cc_shared_ttl_ms(const md_cc_t *cc);

/* Writes the strong ETag for a body hash: "\"<16 hex>\"" (18 bytes, no NUL)
 * into out[18]. */
void md_etag_format(uint64_t hash, char out[18]);

/* True when an If-None-Match value matches the ETag (RFC 9110 13.1.2: "*",
 * or any listed entity-tag equal under the weak comparison, W/ ignored).
 * A malformed entry of the list matches nothing, the others are still
 * compared; "*" counts only as the whole value; an empty etag (no current
 * representation) matches nothing. */
bool md_etag_match(const char *if_none_match, size_t len, const char *etag, size_t etag_len);

/* The Cache-Control of a composed response. `all_cached`: every part came
 * from a cache policy; `min_ttl_s`: the least remaining freshness over the
 * parts (seconds, >= 0; capped at 10 years); `personal`: some part depends
 * on who is asking (a header or identity input). Appends to out:
 *   incomplete            -> "no-store"
 *   !all_cached           -> "no-cache" (+ ", private" when personal)
 *   otherwise             -> "public, max-age=N" or "private, max-age=N"
 * MD_OK, or MD_ETOOBIG with out unchanged. */
int md_cc_compose(bool incomplete, bool all_cached, uint64_t min_ttl_s, bool personal, md_buf_t *out);

/* What the cache did for one fragment (RFC 9211 parameters). */
typedef enum {
    MD_CS_HIT,                  /* fresh hit: "hit; ttl=N" */
    MD_CS_STALE,                /* stale hit, refresh started or running:
                                   "hit; ttl=-N; detail=stale-while-revalidate" */
    MD_CS_MISS,                 /* fetched: "fwd=miss" (+ "; stored" when stored) */
    MD_CS_COALESCED,            /* waited on another request's fetch: "fwd=miss; collapsed" */
    MD_CS_STALE_IF_ERROR,       /* fetch failed, stale served: "fwd=stale; fwd-status=S;
                                   ttl=-N; detail=stale-if-error" (RFC 9211 2.2: the cache
                                   had a response but it was stale, so not fwd=miss) */
    MD_CS_REDIS_HIT,            /* from the shared tier: "hit; ttl=N; detail=redis" */
    MD_CS_BYPASS,               /* not cacheable now (e.g. too big, store refused): "fwd=bypass" */
} md_cs_outcome_t;

/* Appends one Cache-Status list member: `name` (an sf-token made of
 * [A-Za-z0-9_.:/-], other bytes replaced by '_'; a name not starting with
 * a letter gets a leading 'x', an empty or NULL one reads "medley", and
 * only the first 128 bytes are used) followed by the outcome's parameters.
 * ttl_s is the remaining freshness (negative when stale; clamped to an
 * sf-integer's 15 digits); fwd_status the backend's status (0, or
 * anything outside 100..999: none, for stale-if-error after a connect
 * error or timeout, where it is left out; only MD_CS_STALE_IF_ERROR shows
 * it); stored applies to MD_CS_MISS. Adds ", " before the member when out
 * is not empty. MD_OK, MD_ETOOBIG (out unchanged) or MD_EINVAL for an
 * unknown outcome. */
int md_cache_status_append(md_buf_t *out, const char *name, md_cs_outcome_t outcome, int64_t ttl_s,
                           int fwd_status, bool stored);

/* Short outcome name for logs and metric labels: "hit", "stale", "miss",
 * "coalesced", "stale_if_error", "redis_hit", "bypass" ("unknown" for any
 * other value). */
const char *md_cs_outcome_name(md_cs_outcome_t outcome);

#endif
