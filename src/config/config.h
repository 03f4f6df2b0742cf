/*
 * config.h - medley's configuration model and its YAML loader.
 *
 * The loader (config.c) reads one YAML file with libyaml, expands ${VAR} and
 * ${VAR:-default} from the environment inside scalars, rejects unknown keys,
 * checks every value and cross-reference, and fills the structures below.
 * Every error is reported as "FILE:LINE:COL: what is wrong" (md_diag_t).
 *
 * The model is plain data: strings are heap-owned by the config and freed by
 * md_config_free(). Modules compile what they need from it at startup
 * (templates, shapes, routes); nothing here is touched per request.
 *
 * The connector fields (public_url, connector, params' visibility and
 * example, endpoints' response) only feed the Power Platform export
 * (src/connector/) and GET /openapi.json; serving ignores them.
 *
 * Durations are milliseconds, sizes bytes. In YAML, durations are written
 * "250ms", "2s", "1m" (bare integers are milliseconds) and sizes "512",
 * "64k", "1m" / "64KiB", "1MiB".
 */
#ifndef MD_CONFIG_H
#define MD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Where a config error was found and what it is. */
typedef struct md_diag {
    char file[256];
    int line;        /* 1-based, 0 if unknown */
    int col;         /* 1-based, 0 if unknown */
    char msg[512];
} md_diag_t;

/* Formats "FILE:LINE:COL: msg" into out. */
void md_diag_format(const md_diag_t *d, char *out, size_t outlen);

/* An owned name/value pair (headers, query parameters, renames). */
typedef struct md_kv {
    char *name;
    char *value;
} md_kv_t;

/* An upstream's `oauth2:` block (config/outbound.c); defined below. */
typedef struct md_oauth2_conf md_oauth2_conf_t;

typedef struct md_upstream_conf {
    char *name;
    char *url;                  /* as written (after ${} expansion) */
    char *host;                 /* host part of url, without port */
    uint16_t port;              /* default 80 (http), 443 (https) */
    char *base_path;            /* path part of url without trailing '/', "" if none */
    char *host_header;          /* "host" or "host:port" as sent in Host: */
    struct sockaddr_storage addr; /* resolved once at load time */
    socklen_t addrlen;
    uint32_t timeout_ms;        /* whole call: connect + request + response; default 5000 */
    uint32_t connect_timeout_ms;/* default min(timeout, 1000) */
    uint32_t max_connections;   /* per medley process, split across workers; default 64 */
    uint32_t max_queue;         /* calls waiting for a free connection; default 1024 */
    size_t max_response_bytes;  /* decoded body cap; default 8 MiB */
    md_kv_t *headers;           /* static headers sent on every call (values are templates) */
    size_t nheaders;
    md_oauth2_conf_t *oauth2;   /* OAuth 2.0 client credentials; NULL = none */
    struct md_tls_ctx *tls;     /* https:// only (else NULL): the `tls:` options built at load
                                   time, shared by every worker (upstream/tls.h); owned */
    int line, col;              /* where it was declared */
} md_upstream_conf_t;

/* `oauth2:` on an upstream: medley gets a token from token_url with the
 * client credentials grant (RFC 6749 4.4) and sends it as
 * "Authorization: Bearer <token>" on every call to the upstream. The
 * secret and the tokens are wiped on free and never logged. */
struct md_oauth2_conf {
    /* token_url parsed as an upstream (http or https, resolved once):
     * `token.base_path` is the token path, `token.timeout_ms` the token
     * call's timeout (`timeout`, default 5 s), `token.name` "UPSTREAM.oauth2". */
    md_upstream_conf_t token;
    char *client_id;
    char *client_secret;        /* secret */
    char *scope;                /* space-separated scope tokens; NULL = none */
    int line, col;              /* where the block starts */
};

typedef enum { MD_PARAM_STRING, MD_PARAM_INTEGER, MD_PARAM_NUMBER, MD_PARAM_BOOLEAN } md_param_type_t;
typedef enum { MD_PARAM_IN_QUERY, MD_PARAM_IN_PATH, MD_PARAM_IN_HEADER } md_param_in_t;

/* How a connector shows a parameter to makers (x-ms-visibility). DEFAULT
 * lets the exporter decide: important when required, advanced otherwise. */
typedef enum { MD_VIS_DEFAULT, MD_VIS_IMPORTANT, MD_VIS_ADVANCED, MD_VIS_INTERNAL } md_param_visibility_t;

typedef struct md_param_conf {
    char *name;
    md_param_in_t in;
    md_param_type_t type;
    bool required;              /* path params are always required */
    char *pattern;              /* POSIX extended regex, anchored by the loader's users; NULL if none */
    char *default_value;        /* used when absent and not required; NULL if none */
    char *description;          /* NULL if none */
    size_t max_length;          /* default 256 */
    md_param_visibility_t visibility; /* connector export only */
    char *example;              /* a valid value: connector docs and `--sample` calls; NULL if none */
    int line, col;              /* where it was declared */
} md_param_conf_t;

/* Shape spec as written; compiled by shape/shape.c. */
typedef struct md_shape_spec {
    char *from;                 /* dotted path to a sub-value; NULL = whole document */
    char **select;              /* dotted field paths to keep; NULL/0 = keep all */
    size_t nselect;
    char **deny;                /* dotted field paths to drop */
    size_t ndeny;
    md_kv_t *rename;            /* name: field path, value: new key name */
    size_t nrename;
    char *sort;                 /* field path, leading '-' for descending; NULL = keep order */
    long limit;                 /* -1 = no limit */
} md_shape_spec_t;

/* A `cache:` block on a backend (its shaped fragment) or on an endpoint
 * (the composed view). Absent = not cached (`on` false).
 *
 * The key of a cached backend fragment is always the fully rendered request
 * (method, upstream, path and query, every rendered header value), so every
 * input a backend's request uses is in its key: a fragment fetched for one
 * user can never answer another. The key of an endpoint's view is the
 * endpoint plus every backend's rendered request. `vary` adds inputs that
 * are not in the request (e.g. `header.Accept-Language`); their values also
 * become purge tags. */
typedef struct md_cache_conf {
    bool on;
    bool ttl_upstream;          /* `ttl: upstream`: from the answer's Cache-Control */
    uint32_t ttl_ms;            /* fresh for this long (the fallback when ttl_upstream
                                   and the answer says nothing: 0 = do not store) */
    uint32_t swr_ms;            /* stale_while_revalidate window after ttl; 0 = off */
    uint32_t sie_ms;            /* stale_if_error window after ttl; 0 = off */
    char **vary;                /* extra key inputs as written: "name" (a param),
                                   "query.x", "header.X-Y" */
    size_t nvary;
    int line, col;              /* where the block starts */
} md_cache_conf_t;

typedef struct md_backend_conf {
    char *name;                 /* for errors/metrics; default: `as`, else the upstream's name */
    char *upstream;             /* name, resolved into `up` */
    md_upstream_conf_t *up;
    char *method;               /* default "GET" */
    char *path;                 /* template, may hold "?a={x}" query part */
    md_kv_t *query;             /* extra query parameters (values are templates) */
    size_t nquery;
    md_kv_t *headers;           /* extra headers (values are templates) */
    size_t nheaders;
    bool has_shape;
    md_shape_spec_t shape;
    char *as;                   /* dotted key in the merged response; NULL = merge at root */
    bool optional;
    uint32_t timeout_ms;        /* 0 = the upstream's */
    /* `forward_authorization: true`: the caller's Authorization header is
     * sent on as is (after inbound auth accepted the request), and is part
     * of the fragment's cache key. Not with an oauth2 upstream, nor with an
     * Authorization in `headers`. */
    bool forward_authorization;
    md_cache_conf_t cache;      /* the fragment's cache policy */
    int line, col;              /* where it was declared */
} md_backend_conf_t;

/* JSON types a response schema override may give a property. */
typedef enum {
    MD_SCHEMA_NONE,             /* not given: keep what the exporter found */
    MD_SCHEMA_STRING,
    MD_SCHEMA_INTEGER,
    MD_SCHEMA_NUMBER,
    MD_SCHEMA_BOOLEAN,
    MD_SCHEMA_OBJECT,
    MD_SCHEMA_ARRAY,
} md_schema_type_t;

/* One `response.schema` entry: what the connector export says about one
 * property of the endpoint's output. */
typedef struct md_schema_prop_conf {
    char *path;                 /* dotted output path; lists are stepped through ("news.title") */
    md_schema_type_t type;
    char *title;                /* x-ms-summary; NULL = derived from the key */
    char *description;          /* NULL = generated */
    char *format;               /* e.g. "date-time"; NULL if none */
    int line, col;              /* where it was declared */
} md_schema_prop_conf_t;

/* An endpoint's `response:` block (connector export only). */
typedef struct md_response_conf {
    char *description;          /* of the 200 response; NULL = generated */
    md_schema_prop_conf_t *schema;
    size_t nschema;
} md_response_conf_t;

/* What a rate limit counts by: each distinct value has its own bucket.
 * Every kind but CLIENT falls back to the client address when the request
 * has no value for it (so leaving a header out never escapes the limit). */
typedef enum {
    MD_RL_KEY_CLIENT,           /* `client`: the client's IP address */
    MD_RL_KEY_HEADER,           /* `header.NAME`: a request header's value */
    MD_RL_KEY_AUTH,             /* `auth`: the authenticated identity */
    MD_RL_KEY_JWT,              /* `jwt.CLAIM`: a claim of the verified JWT */
} md_rl_key_t;

/* One named limit under the top-level `rate_limits:`. */
typedef struct md_rate_limit_conf {
    char *name;
    uint32_t count;             /* tokens per period */
    uint32_t period_ms;
    uint32_t burst;             /* bucket size; default count */
    md_rl_key_t key;
    char *key_name;             /* HEADER: the header, JWT: the claim; else NULL */
    uint32_t max_keys;          /* buckets held at once; default 100000 */
    bool redis;                 /* `store: redis`: buckets shared in cache.redis; default memory */
    int line, col;              /* where it was declared */
} md_rate_limit_conf_t;

/* The top-level `cors:` block. Absent: off (no CORS header is ever sent). */
typedef struct md_cors_conf {
    bool on;
    char **origins;             /* exact scheme://host[:port], or one "*" */
    size_t norigins;
    char **methods;             /* default none (GET, HEAD, POST need no listing) */
    size_t nmethods;
    char **headers;             /* allowed request headers */
    size_t nheaders;
    char **expose;              /* response headers scripts may read */
    size_t nexpose;
    bool credentials;
    long max_age_s;             /* -1: not sent */
    int line, col;              /* where the block starts */
} md_cors_conf_t;

/* Inbound authentication (config/auth.c; enforced by gateway/auth.c). */
typedef enum { MD_AUTH_API_KEY = 1, MD_AUTH_BASIC, MD_AUTH_JWT } md_auth_kind_t;

/* One entry of `auth.providers`. Secrets (key values) are wiped on free
 * and never appear in a message. */
typedef struct md_auth_provider_conf {
    char *name;                 /* [A-Za-z0-9_.-]{1,64}, not "none" */
    md_auth_kind_t type;
    char *realm;                /* WWW-Authenticate realm; default "medley" */
    char *header;               /* api_key: header carrying the key; default X-Api-Key */
    char *query;                /* api_key: query parameter instead of a header; NULL if none */
    md_kv_t *keys;              /* api_key: name -> key value (secret) */
    size_t nkeys;
    char *file;                 /* api_key keys file, basic users file; NULL if none */
    char *issuer;               /* jwt: exact "iss" */
    char **audiences;           /* jwt: accepted "aud" values, 1..16 */
    size_t naudiences;
    unsigned algs;              /* jwt: MD_JWA_* bits (auth/jwks.h); default RS256|PS256|ES256 */
    char *jwks_file;            /* jwt: the issuer's JWKS document; NULL with jwks_url */
    /* jwt `jwks_url` parsed as an upstream (md_cfg_http_url, like an oauth2
     * token_url): base_path is the document's path, timeout_ms
     * `jwks_timeout` (default 5 s), name "PROVIDER.jwks". NULL: jwks_file. */
    md_upstream_conf_t *jwks;
    uint32_t jwks_refresh_ms;   /* jwt with jwks_url: scheduled re-fetch; default 1 h */
    uint32_t leeway_s;          /* jwt: clock skew tolerated; default 60 */
    char *connector_client_id;  /* jwt `connector.client_id`: the connector's Entra app; NULL = placeholder */
    char *connector_resource;   /* jwt `connector.resource`: token resource; NULL = first audience */
    int line, col;              /* where it was declared */
} md_auth_provider_conf_t;

/* The top-level `auth:` block. */
typedef struct md_auth_conf {
    md_auth_provider_conf_t *providers;
    size_t nproviders;
    int default_provider;       /* index applied to endpoints without `auth:`; -1 = none (open) */
    int line, col;              /* where the block starts, 0 if absent */
} md_auth_conf_t;

/* An endpoint's `auth:` (or the default). */
typedef struct md_endpoint_auth_conf {
    int provider;               /* index into cfg->auth.providers; -1 = open */
    char **scopes;              /* jwt only: every one required (md_jwt_has_scope) */
    size_t nscopes;
    char **roles;               /* jwt only: every one required in "roles" */
    size_t nroles;
    int line, col;              /* where `auth:` was written, 0 if the default applies */
} md_endpoint_auth_conf_t;

typedef struct md_endpoint_conf {
    char *path;                 /* may hold {name} segments (path params) */
    char *method;               /* default "GET" */
    char *summary;
    char *description;
    char *operation_id;         /* NULL = derived by the connector exporter */
    md_param_conf_t *params;
    size_t nparams;
    md_backend_conf_t *backends;
    size_t nbackends;
    bool passthrough;           /* when true, backends[0] is proxied unchanged */
    uint32_t deadline_ms;       /* whole request; default 10000 */
    char *errors_field;         /* e.g. "_errors": report failed optional backends; NULL = off */
    md_response_conf_t response;
    md_cache_conf_t cache;      /* the composed view's cache policy (ttl and vary only) */
    md_endpoint_auth_conf_t auth; /* who may call it */
    size_t *rate_limits;        /* `rate_limit:` indexes into cfg->rate_limits */
    size_t nrate_limits;
    bool cors_off;              /* `cors: off`: no CORS headers, no preflight */
    int line, col;              /* where it was declared */
} md_endpoint_conf_t;

typedef struct md_limits {
    size_t max_header_bytes;    /* request line + headers; default 16 KiB -> 431 */
    uint32_t max_headers;       /* default 64 -> 431 */
    size_t max_body_bytes;      /* default 1 MiB -> 413 */
    uint32_t header_timeout_ms; /* default 10 s -> 408 */
    uint32_t body_timeout_ms;   /* default 30 s -> 408 */
    uint32_t idle_timeout_ms;   /* keep-alive idle; default 60 s -> close */
    uint32_t max_connections;   /* per worker; default 4096 -> 503 + close */
    uint32_t max_inflight;      /* requests in flight per worker; default 1024 -> 503 */
    uint32_t shutdown_timeout_ms; /* graceful drain on SIGTERM; default 10 s */
    uint32_t max_pipelined;     /* requests parsed ahead on one connection; default 16 */
} md_limits_t;

/* The `connector:` block: what the Power Platform connector export says
 * about the service. Every field is NULL / 0 when absent. */
typedef struct md_connector_conf {
    char *title;                /* info.title: 1-30 characters */
    char *description;          /* info.description: 30-500 characters */
    char *version;              /* info.version; NULL = "1.0.0" */
    char *contact_name;
    char *contact_url;
    char *contact_email;
    char *website;              /* x-ms-connector-metadata "Website" */
    char *privacy_policy;       /* x-ms-connector-metadata "Privacy policy" */
    char **categories;          /* at most 2, from Microsoft's list */
    size_t ncategories;
    char *brand_color;          /* "#rrggbb"; NULL = the exporter's default */
    int line, col;              /* where the block starts, 0 if absent */
} md_connector_conf_t;

/* Where the access log goes. */
typedef enum { MD_LOG_STDOUT, MD_LOG_STDERR, MD_LOG_OFF, MD_LOG_FILE } md_log_target_t;

/* The telemetry keys: `admin`, `access_log`, `server_timing`. */
typedef struct md_telemetry_conf {
    bool admin_on;              /* default true; `admin: { listen: off }` turns it off */
    char *admin_host;           /* default "127.0.0.1" */
    uint16_t admin_port;        /* default 9090; 0 = any free port */
    bool admin_set;             /* `admin.listen` was written: failing to bind it is fatal */
    md_log_target_t log_target; /* default MD_LOG_STDOUT */
    char *log_path;             /* MD_LOG_FILE only */
    double log_sample;          /* fraction of requests logged, 0..1; default 1 */
    bool log_errors_only;       /* `level: errors`: only status >= 400 */
    bool server_timing;         /* Server-Timing on composite responses; default true */
    /* `tracing:` W3C trace context is always accepted and propagated; spans
     * are exported only when otlp_endpoint is set. */
    char *otlp_endpoint;        /* http://host[:port]/path as written; NULL = no export */
    char *otlp_host;            /* parsed from otlp_endpoint */
    uint16_t otlp_port;         /* default 4318 */
    char *otlp_path;            /* default "/v1/traces" */
    double trace_sample;        /* fraction of new traces sampled, 0..1; default 1 */
    char *service_name;         /* resource service.name; NULL = "medley" */
    uint32_t otlp_queue;        /* spans held for export; more are dropped and counted; default 8192 */
    uint32_t otlp_batch;        /* spans per export request; default 512 */
    uint32_t otlp_interval_ms;  /* export at least this often; default 1000 */
    uint32_t otlp_timeout_ms;   /* one export request; default 2000 */
    enum { MD_OTLP_PROTOBUF, MD_OTLP_JSON } otlp_protocol; /* otlp_protocol: http/protobuf (default), http/json */
} md_telemetry_conf_t;

/* The top-level `cache:` block: where cached entries live. */
typedef enum { MD_CACHE_STORE_MEMORY, MD_CACHE_STORE_REDIS } md_cache_store_kind_t;

typedef struct md_cache_global_conf {
    md_cache_store_kind_t store; /* default memory */
    size_t max_memory;          /* in-process store bound; default 64 MiB */
    uint32_t max_waiters;       /* requests waiting on one key's fetch; default 4096 */
    char *redis_url;            /* redis://[:password@]host[:port][/db]; NULL without a `redis:` block
                                   (needed by store: redis and by rate limits with store: redis) */
    char *redis_host;           /* parsed from redis_url */
    uint16_t redis_port;        /* default 6379 */
    char *redis_password;       /* NULL if none; never logged */
    int redis_db;               /* default 0 */
    uint32_t redis_timeout_ms;  /* per command; default 50 ms: slower counts as down */
    char *redis_prefix;         /* key prefix; default "medley:" */
    char *purge_token;          /* admin POST /cache/purge bearer token; NULL = purge off */
    int line, col;              /* where the block starts, 0 if absent */
} md_cache_global_conf_t;

typedef struct md_config {
    char *file;                 /* path it was loaded from, or a label */
    char *listen_host;          /* default "0.0.0.0" */
    uint16_t listen_port;       /* default 8080 */
    int workers;                /* 0 = auto (online CPUs) */
    md_limits_t limits;
    md_telemetry_conf_t telemetry;
    md_cache_global_conf_t cache;
    md_auth_conf_t auth;
    md_upstream_conf_t *upstreams;
    size_t nupstreams;
    md_endpoint_conf_t *endpoints;
    size_t nendpoints;
    /* Where makers reach medley: https://host[:port][/base]. NULL = no
     * connector export and no /openapi.json. */
    char *public_url;
    char *public_host;          /* "host" or "host:port", as Swagger's `host` */
    char *public_base_path;     /* "/" or "/base" without a trailing '/', as `basePath` */
    int public_url_line, public_url_col;
    md_connector_conf_t connector;
    md_cors_conf_t cors;
    md_rate_limit_conf_t *rate_limits;
    size_t nrate_limits;
} md_config_t;

/* Loads and validates a config file. On failure returns NULL and fills diag. */
md_config_t *md_config_load_file(const char *path, md_diag_t *diag);

/* Same from memory; `name` is used as FILE in diagnostics. */
md_config_t *md_config_load_string(const char *yaml, size_t len, const char *name, md_diag_t *diag);

/* Frees everything the config owns. NULL is ignored. */
void md_config_free(md_config_t *cfg);

/* Finds an upstream by name or NULL. */
md_upstream_conf_t *md_config_upstream(const md_config_t *cfg, const char *name);

#endif
