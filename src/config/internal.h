/*
 * internal.h - private to src/config/: the pieces the loader is built from.
 *
 * Loading runs in three steps, one file each:
 *   yaml.c    libyaml events -> a small tree of nodes (md_cfg_node_t) carved
 *             from a pool, every node keeping its line/column, ${VAR}
 *             already expanded (env.c) in value scalars;
 *   schema.c  helpers that check a node against what a field expects (a
 *             mapping with known keys, a duration, a size...) and report the
 *             first problem as FILE:LINE:COL into the caller's md_diag_t;
 *   config.c  top level, limits, upstreams; endpoint.c endpoints, params,
 *             backends, shapes; connector.c public_url, connector and
 *             response (the connector export's keys); telemetry.c admin,
 *             access_log, server_timing; cache.c the top-level `cache:`
 *             block and the `cache:` of backends and endpoints; auth.c
 *             `auth:` and an endpoint's `auth:`;
 *             limits_cors.c `cors:`, `rate_limits:` and an endpoint's
 *             `rate_limit:` and `cors:`; outbound.c an upstream's
 *             `oauth2:` and a backend's `forward_authorization`. All copy
 *             values into the heap-owned model.
 * The tree and its pool live only for the duration of one load.
 */
#ifndef MD_CONFIG_INTERNAL_H
#define MD_CONFIG_INTERNAL_H

#include "config/config.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hard limits on the input; every one is reported as an error, never
 * truncated. */
#define MD_CFG_MAX_FILE_BYTES (1024 * 1024)      /* the YAML text */
#define MD_CFG_MAX_DEPTH 32                      /* nested mappings/lists */
#define MD_CFG_MAX_NODES 100000                  /* scalars + collections */
#define MD_CFG_MAX_KEY_BYTES 256                 /* one mapping key */
#define MD_CFG_MAX_SCALAR_BYTES (64 * 1024)      /* one value after ${} expansion */
#define MD_CFG_MAX_EXPANDED_BYTES (4 * 1024 * 1024) /* all values together */
#define MD_CFG_MAX_VAR_NAME 128                  /* NAME in ${NAME} */

#define MD_CFG_MAX_UPSTREAMS 256
#define MD_CFG_MAX_ENDPOINTS 1024
#define MD_CFG_MAX_BACKENDS 32                   /* per endpoint */
#define MD_CFG_MAX_PARAMS 64                     /* per endpoint, path params included */
#define MD_CFG_MAX_HEADERS 64                    /* per upstream or backend */
#define MD_CFG_MAX_QUERY 64                      /* per backend */
#define MD_CFG_MAX_SHAPE_FIELDS 256              /* select, deny, rename entries */
#define MD_CFG_MAX_NAME 64                       /* upstream/param/backend names */
#define MD_CFG_MAX_PATH 2048                     /* endpoint and backend paths, urls */
#define MD_CFG_MAX_VALUE 8192                    /* a header, query or rename value (tokens can be long) */

typedef enum { MD_CFG_SCALAR, MD_CFG_MAP, MD_CFG_SEQ } md_cfg_kind_t;

/* One YAML node. Children of a mapping carry their key; children of a list
 * have key == NULL. Strings are NUL-terminated (NUL bytes inside values are
 * rejected while building) and owned by the load's pool. */
typedef struct md_cfg_node md_cfg_node_t;
struct md_cfg_node {
    md_cfg_kind_t kind;
    int line, col;              /* 1-based start of the node */
    const char *key;            /* mapping key, NULL in a list or at the root */
    int key_line, key_col;
    const char *str;            /* scalar text, after ${} expansion */
    size_t len;
    bool null;                  /* plain "", "~" or "null": treated as absent */
    md_cfg_node_t *first, *last, *next;
    size_t count;               /* number of children */
};

/* Parses YAML text into a node tree allocated from `pool`. *root is NULL
 * for an empty stream. On error fills diag (line, col, msg; not file) and
 * returns MD_EINVAL / MD_ETOOBIG / MD_ENOTFOUND. */
int md_cfg_yaml_parse(const char *text, size_t len, md_pool_t *pool, md_diag_t *diag, md_cfg_node_t **root);

/* Appends `in` to `out` with ${NAME}, ${NAME:-default} and $$ expanded from
 * the environment. A '$' not followed by '{' or '$' is kept as is (regex
 * patterns end in '$'). The default is literal text up to the first '}'
 * (no nesting); it is used when NAME is unset or empty, like sh. Returns
 * MD_OK, MD_ENOTFOUND (NAME unset, no default), MD_EINVAL (malformed
 * reference) or MD_ETOOBIG (out's cap), with a message in err. */
int md_cfg_env_expand(const char *in, size_t len, md_buf_t *out, char *err, size_t errlen);

/* State of one load: where errors go and the model being filled. */
typedef struct md_cfg_ctx {
    md_diag_t *diag;
    md_config_t *cfg;
    bool failed;
} md_cfg_ctx_t;

/* Records the first error at line:col (later ones are ignored so the
 * report names the root cause). Always returns MD_EINVAL. */
int md_cfg_fail(md_cfg_ctx_t *c, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Copies s for use inside an error message: at most ~64 bytes, control
 * bytes replaced by '?', "..." when cut. Returns out. */
#define MD_CFG_SHOW 80
const char *md_cfg_show(char out[MD_CFG_SHOW], const char *s);

/* The candidate closest to `word` by edit distance, or NULL when none is
 * close enough to be a plausible typo. */
const char *md_cfg_suggest(const char *word, const char *const *cands, size_t ncands);

/* Checks that `map` is a mapping whose keys all appear in the
 * NULL-terminated `keys`, none twice. `what` names it ("upstream 'news'"). */
int md_cfg_check_keys(md_cfg_ctx_t *c, const md_cfg_node_t *map, const char *const *keys, const char *what);

/* Checks that `map` is a mapping of at most `max` entries with distinct
 * keys (compared without case when `nocase`). `what` names the entries
 * ("upstreams", "headers"). */
int md_cfg_check_map(md_cfg_ctx_t *c, const md_cfg_node_t *map, size_t max, bool nocase, const char *what);

/* Checks that `seq` is a list of at most `max` items. */
int md_cfg_check_seq(md_cfg_ctx_t *c, const md_cfg_node_t *seq, size_t max, const char *what);

/* The value under `key`, or NULL when absent or null. */
const md_cfg_node_t *md_cfg_get(const md_cfg_node_t *map, const char *key);

/* Like md_cfg_get, but a missing key is an error reported at the mapping's
 * own key (or start) and *out is NULL. */
int md_cfg_require(md_cfg_ctx_t *c, const md_cfg_node_t *map, const char *key, const char *what,
                   const md_cfg_node_t **out);

/* Scalar readers. Each reports "'KEY' must be ..." at the value on error
 * and leaves *out untouched. */
int md_cfg_text(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **out);   /* any text, may span lines */
int md_cfg_line(md_cfg_ctx_t *c, const md_cfg_node_t *n, bool allow_empty, size_t max, char **out);
int md_cfg_bool(md_cfg_ctx_t *c, const md_cfg_node_t *n, bool *out);
int md_cfg_uint(md_cfg_ctx_t *c, const md_cfg_node_t *n, uint32_t min, uint32_t max, uint32_t *out);
/* Reads a duration scalar ("250ms", "2s", "1m", "1h", "1d"; a bare integer
 * is milliseconds) into *ms without a range check or message. MD_OK or
 * MD_EINVAL. */
int md_cfg_duration_ms(const md_cfg_node_t *n, uint64_t *ms);

/* A name the config gives things (upstreams, rate limits): 1..MD_CFG_MAX_NAME
 * bytes of [A-Za-z0-9_.-]. */
bool md_cfg_is_name(const char *s);

/* An RFC 9110 token of 1..max bytes (header names, claim names). */
static inline bool md_cfg_is_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n <= max && md_is_token(s, n);
}
int md_cfg_duration(md_cfg_ctx_t *c, const md_cfg_node_t *n, uint32_t *out_ms);
int md_cfg_size(md_cfg_ctx_t *c, const md_cfg_node_t *n, size_t *out);
int md_cfg_method(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **out);

/* What a md_cfg_kv() map holds decides how its names and values are checked. */
typedef enum {
    MD_CFG_KV_HEADERS,  /* names are HTTP tokens (case-insensitive), values one line */
    MD_CFG_KV_QUERY,    /* names non-empty, values one line, may be empty */
    MD_CFG_KV_RENAME,   /* field path -> new name, both non-empty */
} md_cfg_kv_kind_t;

/* Copies a name -> string mapping into a new md_kv_t array. */
int md_cfg_kv(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_cfg_kv_kind_t kind, md_kv_t **out, size_t *n);

/* Parses every endpoint under `endpoints` (endpoint.c); upstreams must
 * already be in c->cfg. */
int md_cfg_endpoints(md_cfg_ctx_t *c, const md_cfg_node_t *seq);

/* connector.c: the top-level `public_url` (https://host[:port][/base],
 * split into public_host and public_base_path) and `connector:` block. */
int md_cfg_public_url(md_cfg_ctx_t *c, const md_cfg_node_t *n);
int md_cfg_connector(md_cfg_ctx_t *c, const md_cfg_node_t *map);

/* connector.c: an endpoint's `response:` block into e->response; `ep`
 * names the endpoint in messages. */
int md_cfg_response(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e, const char *ep);

/* config.c: an address "host:port", "[::1]:port", ":port" or "port" (0 =
 * any free port); *host is replaced only when the value names one. */
int md_cfg_listen_addr(md_cfg_ctx_t *c, const md_cfg_node_t *n, char **host, uint16_t *port);

/* config.c: splits "host:port", "[v6]:port" or ":port" (host left empty;
 * *port is "" when there is none). For brackets, *host excludes them and
 * *v6 is set. False if malformed. */
bool md_cfg_split_host_port(const char *s, const char **host, size_t *hlen, const char **port, bool *v6);

/* config.c: a decimal port 1-65535 (0 too when allow_zero). */
bool md_cfg_parse_port(const char *s, uint16_t *port, bool allow_zero);

/* telemetry.c: the defaults of cfg->telemetry, and the top-level keys
 * `admin`, `access_log` and `server_timing` (n is the key's value). */
void md_cfg_telemetry_defaults(md_config_t *cfg);
bool md_cfg_is_telemetry_key(const char *key);
int md_cfg_telemetry(md_cfg_ctx_t *c, const md_cfg_node_t *n);

/* cache.c: the defaults of cfg->cache and the top-level `cache:` block
 * (where entries live: memory or redis, sizes, the purge token). */
void md_cfg_cache_defaults(md_config_t *cfg);
int md_cfg_cache_global(md_cfg_ctx_t *c, const md_cfg_node_t *map);

/* cache.c: the `cache:` key of a backend (backend true: stale windows and
 * `ttl: upstream` allowed) or of an endpoint, into *cc. `e` is the
 * endpoint, whose params a `vary` entry may name (they must be parsed
 * already); `what` names the owner in messages ("backend #1 of ..."). */
int md_cfg_cache_policy(md_cfg_ctx_t *c, const md_cfg_node_t *n, const md_endpoint_conf_t *e, bool backend,
                        const char *what, md_cache_conf_t *cc);

/* cache.c: free what the two blocks own (secrets are wiped first). */
void md_cfg_cache_policy_free(md_cache_conf_t *cc);
void md_cfg_cache_global_free(md_cache_global_conf_t *g);

/* auth.c: the defaults of cfg->auth, the top-level `auth:` block
 * (providers, default), an endpoint's `auth:` key (n NULL: the default
 * applies; providers must be parsed already; `ep` names the endpoint), and
 * freeing what they own (api key values are wiped first). */
void md_cfg_auth_defaults(md_config_t *cfg);
int md_cfg_auth(md_cfg_ctx_t *c, const md_cfg_node_t *map);
int md_cfg_endpoint_auth(md_cfg_ctx_t *c, const md_cfg_node_t *n, md_endpoint_conf_t *e, const char *ep);
void md_cfg_auth_free(md_auth_conf_t *a);
void md_cfg_endpoint_auth_free(md_endpoint_auth_conf_t *a);

/* limits_cors.c: the top-level `cors:` block (n is the key's value) and
 * `rate_limits:` map; an endpoint's `rate_limit:` and `cors:` keys (limits
 * must be parsed already; `ep` names the endpoint in messages); freeing
 * what they own. */
int md_cfg_cors(md_cfg_ctx_t *c, const md_cfg_node_t *n);
int md_cfg_rate_limits(md_cfg_ctx_t *c, const md_cfg_node_t *map);
int md_cfg_endpoint_guard(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_endpoint_conf_t *e, const char *ep);
void md_cfg_endpoint_guard_free(md_endpoint_conf_t *e);
void md_cfg_guard_free(md_config_t *cfg);

/* config.c: an http[s]://host[:port][/path] URL into u's url, host, port,
 * host_header, base_path and addr (resolved now); `what` names it in
 * messages ("upstream url"). And freeing what an upstream owns. */
int md_cfg_http_url(md_cfg_ctx_t *c, const md_cfg_node_t *n, const char *what, md_upstream_conf_t *u);
void md_cfg_upstream_free(md_upstream_conf_t *u);

/* outbound.c: an upstream's `oauth2:` block into u->oauth2 (its static
 * headers must be parsed already); a backend's `forward_authorization`
 * key, checked against its headers and upstream (`what` names the
 * backend); freeing an oauth2 block (the secret is wiped; NULL is fine). */
int md_cfg_oauth2(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_upstream_conf_t *u);
int md_cfg_forward_authorization(md_cfg_ctx_t *c, const md_cfg_node_t *map, md_backend_conf_t *b,
                                 const char *what);
void md_cfg_oauth2_free(md_oauth2_conf_t *o);

/* outbound.c: the fixed part of an upstream the gateway itself calls to
 * fetch a credential for `owner` (an upstream's oauth2 token_url, a jwt
 * provider's jwks_url): named "OWNER.suffix" (suffix of at most 7
 * characters), one connection and one queued call, answers capped at
 * max_response_bytes, timeout_ms until the caller parses its own timeout
 * key, and `at`'s line/col for messages. The URL is the caller's to parse
 * (md_cfg_http_url), and connect_timeout_ms to set once timeout_ms is final. */
void md_cfg_side_upstream(md_upstream_conf_t *u, const char *owner, const char *suffix, uint32_t timeout_ms,
                          size_t max_response_bytes, const md_cfg_node_t *at);

#endif
