/*
 * auth.c - inbound authentication: the gateway's side of api_key, basic
 * and jwt providers (the deciding is in src/auth/; the model in config.h).
 *
 * md_gateway_new builds every provider once (gw_auth_init): the API key
 * set (configured keys and the keys file), the Basic users store, the JWT
 * policy and the slot holding the issuer's key set, read from jwks_file.
 * A file that cannot be read or parsed fails the start. A jwks_url
 * provider's slot lives in outbound.c, whose thread fetches it; until its
 * first set arrives, its endpoints answer 503 auth_unavailable (the
 * server's fault, not the caller's: not 401).
 *
 * Per request, handle() (gateway.c) calls gw_auth_check() after params
 * validation and before anything reaches a backend or the cache:
 *   - api_key: exactly one key (header or query parameter), looked up in
 *     constant time; the key's NAME becomes the identity;
 *   - jwt: exactly one "Authorization: Bearer" token, verified against the
 *     current key set; a token naming an unknown kid makes one worker
 *     re-read jwks_file (at most once per JWKS_RELOAD_MS for the provider,
 *     a small local file, so it is read on the loop) and verify again.
 *     With jwks_url, it asks the outbound thread for a fetch instead
 *     (refresh.h: one in flight, at most one forced per 10 s, at most 1024
 *     requests waiting, else 401 at once) and the request waits off the
 *     loop for that fetch to end, then verifies once more on its own loop
 *     (md_loop_post), exactly like a Basic verification resumes.
 *     Then the endpoint's scopes and roles, and every {jwt.NAME} its
 *     templates use must be a string claim of the token (else 403: a
 *     backend path never gets an empty segment for a missing claim);
 *   - basic: crypt(3) costs ~80 ms for a first verification, far too long
 *     for an event loop, so verification runs on a small thread pool
 *     (POOL_THREADS threads, at most POOL_MAX_PENDING jobs queued or
 *     running, 503 beyond) and the request resumes on its own loop via
 *     md_loop_post. Cache hits of md_basic_verify take the same path: the
 *     hop costs microseconds and keeps one code path.
 *
 * Answers: 401 with WWW-Authenticate (RFC 9110 11.6.1; for Bearer RFC 6750
 * 3: no error code when no token came, error="invalid_token" otherwise) and
 * 403 for a verified caller missing a scope, role or claim. The only detail
 * a refused token gets is "expired" versus "invalid" in error_description
 * (RFC 6750 allows it; a client holding the token can read exp anyway, and
 * it tells a legitimate client to refresh). Bad signature, issuer,
 * audience, kid and alg all read "the token is invalid".
 *
 * Identity: in->identity (rate limits, {auth.name}), in->claim/in->auth
 * (the verified claims: {jwt.NAME}, rate limits by claim), and the access
 * log's "auth" field "PROVIDER:NAME" (a key's name, a user, a token's sub;
 * never a key, a password or a token).
 */
#include "gateway/internal.h"

#include "auth/apikey.h"
#include "auth/basic.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "core/alloc.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POOL_THREADS 2
#define POOL_MAX_PENDING 64        /* Basic verifications queued or running */
#define JWKS_RELOAD_MS 10000       /* at most one re-read per provider per 10 s */
#define MAX_IDENTITY 128           /* bytes of a sub or user shown in the access log */
#define CHALLENGE_MAX 2560         /* realm + 16 scopes of 128 bytes + framing */

typedef struct provider {
    const md_auth_provider_conf_t *conf;
    size_t index;                  /* in cfg->auth.providers */
    md_apikey_set_t *keys;         /* api_key */
    md_basic_users_t *users;       /* basic */
    md_jwt_policy_t policy;        /* jwt */
    md_jwks_slot_t *slot;          /* jwt with jwks_file: the current key set (jwks_url: outbound.c) */
    _Atomic uint64_t last_reload_ms; /* jwt: monotonic time of the last re-read; 0: never */
} provider_t;

typedef struct job job_t;
typedef struct kid_wait kid_wait_t;
typedef struct gw_auth gw_auth_t;
typedef struct gw_auth_worker gw_auth_worker_t;

struct gw_auth {
    provider_t *providers;
    size_t nproviders;
    bool pool_on;                  /* threads started (a basic provider exists) */
    pthread_mutex_t mu;
    pthread_cond_t work;           /* a job was queued, or stop */
    pthread_cond_t idle;           /* a job left the pool */
    job_t *head, *tail;            /* queued jobs */
    size_t pending;                /* queued + running */
    bool stop;
    pthread_t threads[POOL_THREADS];
    size_t nthreads;
};

/* A worker's outstanding Basic jobs and JWKS waits (its thread only, but
 * in_pool is guarded by the pool's mutex). */
struct gw_auth_worker {
    job_t *jobs;                   /* submitted, their job_done not yet run */
    size_t in_pool;                /* queued or running in the pool */
    kid_wait_t *waits;             /* queued for a JWKS fetch, their kid_done not yet run */
};

/* A request whose token names a kid the jwks_url set lacks, waiting for
 * the fetch it asked for (or joined). Heap-owned like a Basic job: it may
 * outlive its request (the client leaves) or its worker (forced
 * shutdown). Everything but node is touched on the worker's loop only. */
struct kid_wait {
    gw_refresh_waiter_t node;      /* loop, kid_done, self; queued in outbound.c */
    kid_wait_t *wprev, *wnext;     /* the worker's list */
    gw_worker_t *w;
    provider_t *p;
    gw_inputs_t *in;               /* the request's; untouched once aborted */
    md_str_t token;                /* in the request's headers */
    bool aborted;                  /* the client left: kid_done only frees */
    bool orphaned;                 /* its worker is gone: kid_done only frees */
};

/* One Basic verification. Heap-owned: it may outlive its request (the
 * client leaves) or even its worker (forced shutdown). */
struct job {
    job_t *next;                   /* the pool's queue */
    job_t *wprev, *wnext;          /* the worker's list */
    gw_auth_worker_t *aw;
    gw_worker_t *w;
    md_loop_t *loop;
    provider_t *p;
    gw_inputs_t *in;               /* the request's; untouched once aborted */
    md_str_t user;                 /* copied into the request pool */
    md_basic_cred_t cred;          /* points into buf */
    char buf[MD_BASIC_DECODED_MAX + 1];
    int rc;
    bool posted;                   /* the pool handed it to the loop (mutex) */
    bool cancelled;                /* removed from the queue by worker fini (mutex) */
    bool orphaned;                 /* its worker is gone: job_done only frees it */
    _Atomic bool aborted;          /* the client left: the request is finished */
};

/* ---- building providers ---------------------------------------------------- */

static int init_fail(md_diag_t *diag, const md_config_t *cfg, const provider_t *p, const char *what,
                     const char *why)
{
    snprintf(diag->file, sizeof(diag->file), "%s", cfg->file);
    diag->line = p->conf->line;
    diag->col = p->conf->col;
    snprintf(diag->msg, sizeof(diag->msg), "auth provider '%.64s': %.40s%.380s", p->conf->name, what, why);
    return MD_EINVAL;
}

/* Reads a JWKS file (bounded) into a new key set. */
static int load_jwks(const char *path, md_jwks_t **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return MD_ERR;
    }
    char *text = md_malloc(MD_JWKS_MAX_BYTES + 1);
    size_t len = 0;
    ssize_t r = 0;
    while (len < MD_JWKS_MAX_BYTES + 1 && (r = read(fd, text + len, MD_JWKS_MAX_BYTES + 1 - len)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    int rc = MD_ERR;
    if (r < 0)
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    else if (len > MD_JWKS_MAX_BYTES)
        snprintf(err, errlen, "%s is larger than %u bytes", path, (unsigned)MD_JWKS_MAX_BYTES);
    else {
        char why[256];
        rc = md_jwks_parse(text, len, out, why, sizeof(why));
        if (rc != MD_OK)
            snprintf(err, errlen, "%s: %s", path, why);
    }
    md_free(text);
    return rc;
}

static int build_api_key(provider_t *p, const md_config_t *cfg, md_diag_t *diag)
{
    char err[512];
    const md_auth_provider_conf_t *c = p->conf;
    if (md_apikey_set_new(&p->keys) != MD_OK)
        return init_fail(diag, cfg, p, "no kernel randomness", "");
    md_apikey_pair_t *pairs = md_calloc(c->nkeys ? c->nkeys : 1, sizeof(*pairs));
    for (size_t i = 0; i < c->nkeys; i++)
        pairs[i] = (md_apikey_pair_t){ c->keys[i].name, c->keys[i].value };
    int rc = md_apikey_add_pairs(p->keys, pairs, c->nkeys, err, sizeof(err));
    md_free(pairs);
    if (rc == MD_OK && c->file)
        rc = md_apikey_load_file(p->keys, c->file, err, sizeof(err));
    return rc == MD_OK ? MD_OK : init_fail(diag, cfg, p, "", err);
}

static int build_basic(provider_t *p, const md_config_t *cfg, md_diag_t *diag)
{
    char err[512];
    if (md_basic_users_new(NULL, &p->users) != MD_OK)
        return init_fail(diag, cfg, p, "no kernel randomness", "");
    if (md_basic_users_load_file(p->users, p->conf->file, err, sizeof(err)) != MD_OK)
        return init_fail(diag, cfg, p, "", err);
    if (md_basic_users_count(p->users) == 0)
        return init_fail(diag, cfg, p, p->conf->file, " holds no user");
    return MD_OK;
}

static int build_jwt(provider_t *p, const md_config_t *cfg, md_diag_t *diag)
{
    char err[512];
    const md_auth_provider_conf_t *c = p->conf;
    md_jwt_policy_init(&p->policy, c->issuer, (const char *const *)c->audiences, c->naudiences);
    p->policy.algs = c->algs;
    p->policy.leeway_s = c->leeway_s;
    if (md_jwt_policy_check(&p->policy, err, sizeof(err)) != MD_OK)
        return init_fail(diag, cfg, p, "", err);
    if (c->jwks) /* fetched by outbound.c once serving starts */
        return MD_OK;
    md_jwks_t *ks = NULL;
    if (load_jwks(c->jwks_file, &ks, err, sizeof(err)) != MD_OK)
        return init_fail(diag, cfg, p, "jwks_file ", err);
    p->slot = md_jwks_slot_new(ks);
    return MD_OK;
}

static void *pool_main(void *arg);

static void pool_start(gw_auth_t *a)
{
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->work, NULL);
    pthread_cond_init(&a->idle, NULL);
    a->pool_on = true;
    /* The threads take no signal: SIGTERM and SIGINT must reach the
     * thread that runs the shutdown, whenever the gateway is built. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (size_t i = 0; i < POOL_THREADS; i++)
        if (pthread_create(&a->threads[a->nthreads], NULL, pool_main, a) == 0)
            a->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int gw_auth_init(md_gateway_t *gw, md_diag_t *diag)
{
    const md_config_t *cfg = gw->cfg;
    gw_auth_t *a = md_calloc(1, sizeof(*a));
    gw->auth = a;
    a->providers = md_calloc(cfg->auth.nproviders ? cfg->auth.nproviders : 1, sizeof(provider_t));
    a->nproviders = cfg->auth.nproviders;
    bool basic = false;
    for (size_t i = 0; i < a->nproviders; i++) {
        provider_t *p = &a->providers[i];
        p->conf = &cfg->auth.providers[i];
        p->index = i;
        int rc = p->conf->type == MD_AUTH_API_KEY ? build_api_key(p, cfg, diag)
                 : p->conf->type == MD_AUTH_BASIC ? build_basic(p, cfg, diag)
                                                  : build_jwt(p, cfg, diag);
        if (rc != MD_OK)
            return rc;
        basic |= p->conf->type == MD_AUTH_BASIC;
    }
    if (basic)
        pool_start(a);
    if (basic && a->nthreads == 0) {
        snprintf(diag->file, sizeof(diag->file), "%s", cfg->file);
        snprintf(diag->msg, sizeof(diag->msg), "cannot start the Basic verification threads");
        return MD_ERR;
    }
    return MD_OK;
}

void gw_auth_fini(md_gateway_t *gw)
{
    gw_auth_t *a = gw->auth;
    if (!a)
        return;
    if (a->pool_on) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        pthread_cond_broadcast(&a->work);
        pthread_mutex_unlock(&a->mu);
        for (size_t i = 0; i < a->nthreads; i++)
            pthread_join(a->threads[i], NULL);
        pthread_mutex_destroy(&a->mu);
        pthread_cond_destroy(&a->work);
        pthread_cond_destroy(&a->idle);
    }
    for (size_t i = 0; i < a->nproviders; i++) {
        md_apikey_set_free(a->providers[i].keys);
        md_basic_users_free(a->providers[i].users);
        md_jwks_slot_free(a->providers[i].slot);
    }
    md_free(a->providers);
    md_free(a);
    gw->auth = NULL;
}

/* ---- template inputs --------------------------------------------------------- */

static bool ns_is(md_str_t ns, const char *s)
{
    return ns.len == strlen(s) && memcmp(ns.ptr, s, ns.len) == 0;
}

const char *gw_auth_var_problem(const md_config_t *cfg, const md_endpoint_conf_t *e, md_str_t ns, md_str_t name)
{
    int k = e->auth.provider;
    md_auth_kind_t kind = k >= 0 ? cfg->auth.providers[k].type : (md_auth_kind_t)0;
    if (ns_is(ns, "jwt"))
        return kind == MD_AUTH_JWT ? NULL : "needs an endpoint whose auth provider is of type jwt";
    if (!(name.len == 4 && memcmp(name.ptr, "name", 4) == 0))
        return "unknown: the auth source has only {auth.name}";
    return kind == MD_AUTH_API_KEY || kind == MD_AUTH_BASIC ? NULL
                                                              : "needs an endpoint whose auth provider is of type "
                                                                "api_key or basic";
}

/* A string claim named name[0..len), as md_jwt_claim_string sees one:
 * not an array, no NUL byte inside. */
static int claim_value(const md_jwt_claims_t *c, const char *name, size_t len, md_str_t *value)
{
    for (uint32_t i = 0; c && i < c->n_items; i++) {
        const md_jwt_claim_t *cl = &c->items[i];
        if (cl->name.len != len || memcmp(cl->name.ptr, name, len) != 0)
            continue;
        if (cl->is_array || cl->n_values != 1 || memchr(cl->values[0].ptr, '\0', cl->values[0].len))
            return MD_ENOTFOUND;
        *value = cl->values[0];
        return MD_OK;
    }
    return MD_ENOTFOUND;
}

int gw_auth_lookup(const gw_inputs_t *in, md_str_t ns, md_str_t name, md_str_t *value)
{
    if (ns_is(ns, "jwt"))
        return claim_value(in->auth, name.ptr, name.len, value);
    if (!in->identity.len)
        return MD_ENOTFOUND;
    *value = in->identity;
    return MD_OK;
}

/* in->claim for rate limits keyed by a claim. */
static int claim_of(const gw_inputs_t *in, const char *name, md_str_t *value)
{
    return claim_value(in->auth, name, strlen(name), value);
}

/* ---- answers ------------------------------------------------------------------ */

static void set_identity(gw_inputs_t *in, const provider_t *p, const char *id, size_t len)
{
    md_http_req_t *req = in->req;
    len = MD_MIN(len, (size_t)MAX_IDENTITY);
    in->identity = (md_str_t){ md_pool_strndup(req->pool, id, len), len };
    md_tm_req_t *t = req->telemetry;
    if (t) {
        size_t n = strlen(p->conf->name) + 1 + len;
        char *s = md_pool_alloc(req->pool, n + 1);
        snprintf(s, n + 1, "%s:%.*s", p->conf->name, (int)len, id);
        t->auth = (md_str_t){ s, n };
    }
}

/* 401 with the provider's challenge; `error` (jwt only) adds RFC 6750's
 * error attributes. */
static void deny(md_http_req_t *req, const provider_t *p, const char *error, const char *message)
{
    char ch[CHALLENGE_MAX];
    const char *realm = p->conf->realm;
    switch (p->conf->type) {
    case MD_AUTH_API_KEY:
        snprintf(ch, sizeof(ch), "ApiKey realm=\"%s\"", realm);
        break;
    case MD_AUTH_BASIC:
        snprintf(ch, sizeof(ch), "Basic realm=\"%s\", charset=\"UTF-8\"", realm);
        break;
    default:
        if (error)
            snprintf(ch, sizeof(ch), "Bearer realm=\"%s\", error=\"%s\", error_description=\"%s\"", realm, error,
                     message);
        else
            snprintf(ch, sizeof(ch), "Bearer realm=\"%s\"", realm);
    }
    md_header_t h = { "WWW-Authenticate", 16, ch, strlen(ch) };
    md_http_respond_error_h(req, 401, "unauthorized", message, NULL, &h, 1);
}

/* 403 insufficient_scope, naming the scopes and roles the endpoint needs. */
static void deny_scope(md_http_req_t *req, const provider_t *p, const md_endpoint_auth_conf_t *ea)
{
    char ch[CHALLENGE_MAX];
    int n = snprintf(ch, sizeof(ch), "Bearer realm=\"%s\", error=\"insufficient_scope\", scope=\"", p->conf->realm);
    for (size_t i = 0; i < ea->nscopes + ea->nroles && n > 0 && (size_t)n < sizeof(ch); i++) {
        const char *s = i < ea->nscopes ? ea->scopes[i] : ea->roles[i - ea->nscopes];
        n += snprintf(ch + n, sizeof(ch) - (size_t)n, "%s%s", i ? " " : "", s);
    }
    if (n > 0 && (size_t)n < sizeof(ch) - 1)
        snprintf(ch + n, sizeof(ch) - (size_t)n, "\"");
    md_header_t h = { "WWW-Authenticate", 16, ch, strlen(ch) };
    md_http_respond_error_h(req, 403, "forbidden", "the caller lacks a scope or role this endpoint requires", NULL,
                            &h, 1);
}

/* The single value of header `name`: MD_OK, MD_ENOTFOUND (absent) or
 * MD_EINVAL (sent more than once: ambiguous, refused). */
static int one_header(const md_http_req_t *req, const char *name, md_str_t *value)
{
    size_t len = strlen(name), found = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const md_header_t *h = &req->headers[i];
        if (h->name_len == len && strncasecmp(h->name, name, len) == 0) {
            *value = (md_str_t){ h->value, h->value_len };
            found++;
        }
    }
    return found == 0 ? MD_ENOTFOUND : found == 1 ? MD_OK : MD_EINVAL;
}

/* ---- api_key --------------------------------------------------------------------- */

static int check_api_key(gw_inputs_t *in, const provider_t *p)
{
    const md_auth_provider_conf_t *c = p->conf;
    md_str_t key = { NULL, 0 };
    int rc = MD_ENOTFOUND;
    if (c->header) {
        rc = one_header(in->req, c->header, &key);
    } else {
        for (size_t i = 0; i < in->nquery; i++) {
            if (strcmp(in->query[i].name, c->query) != 0)
                continue;
            rc = rc == MD_ENOTFOUND ? MD_OK : MD_EINVAL;
            key = (md_str_t){ in->query[i].value, in->query[i].value_len };
        }
    }
    const char *name = NULL;
    if (rc == MD_ENOTFOUND) {
        deny(in->req, p, NULL, "an API key is required");
        return MD_EINVAL;
    }
    if (rc != MD_OK || md_apikey_lookup(p->keys, key.ptr, key.len, &name) != MD_OK) {
        deny(in->req, p, NULL, "the API key is not valid");
        return MD_EINVAL;
    }
    set_identity(in, p, name, strlen(name));
    return MD_OK;
}

/* ---- jwt ------------------------------------------------------------------------------ */

/* The token of "Authorization: Bearer TOKEN". MD_ENOTFOUND when there is
 * no Bearer credential, MD_EINVAL when it is malformed or repeated. */
static int bearer_token(const md_http_req_t *req, md_str_t *token)
{
    md_str_t v;
    int rc = one_header(req, "Authorization", &v);
    if (rc != MD_OK)
        return rc;
    if (v.len < 7 || strncasecmp(v.ptr, "Bearer ", 7) != 0)
        return MD_ENOTFOUND;
    size_t i = 7;
    while (i < v.len && v.ptr[i] == ' ')
        i++;
    if (i == v.len)
        return MD_EINVAL;
    *token = (md_str_t){ v.ptr + i, v.len - i };
    return MD_OK;
}

/* Re-reads jwks_file when the provider's last re-read is old enough;
 * exactly one caller wins the right to do it. True if a new set is in. */
static bool reload_jwks(provider_t *p, uint64_t now_ms)
{
    uint64_t last = atomic_load(&p->last_reload_ms);
    if (last && now_ms - last < JWKS_RELOAD_MS)
        return false;
    if (!atomic_compare_exchange_strong(&p->last_reload_ms, &last, now_ms ? now_ms : 1))
        return false;
    char err[512];
    md_jwks_t *ks = NULL;
    if (load_jwks(p->conf->jwks_file, &ks, err, sizeof(err)) != MD_OK) {
        fprintf(stderr, "medley: auth provider '%s': jwks_file not re-read, keeping the old keys: %s\n",
                p->conf->name, err);
        return false;
    }
    md_jwks_slot_replace(p->slot, ks);
    return true;
}

/* Verifies token against ks and releases ks. */
static int verify_with(const provider_t *p, md_jwks_t *ks, md_http_req_t *req, md_str_t token,
                       md_jwt_claims_t *claims)
{
    char err[128];
    int rc = md_jwt_verify(&p->policy, ks, token.ptr, token.len, (int64_t)time(NULL), req->pool, claims, err,
                           sizeof(err));
    md_jwks_release(ks);
    return rc;
}

/* jwks_file: verifies, and once more after a re-read for an unknown kid. */
static int verify_token(provider_t *p, md_http_req_t *req, md_str_t token, md_jwt_claims_t *claims)
{
    int rc = verify_with(p, md_jwks_slot_acquire(p->slot), req, token, claims);
    if (rc != MD_JWT_EKID || !reload_jwks(p, md_loop_now_ms(req->loop)))
        return rc;
    return verify_with(p, md_jwks_slot_acquire(p->slot), req, token, claims);
}

static bool has_role(const md_jwt_claims_t *c, const char *role)
{
    const md_jwt_claim_t *cl = md_jwt_claim(c, "roles");
    size_t len = strlen(role);
    for (uint32_t i = 0; cl && i < cl->n_values; i++)
        if (cl->values[i].len == len && memcmp(cl->values[i].ptr, role, len) == 0)
            return true;
    return false;
}

/* Every {jwt.NAME} the endpoint's templates use is a string claim. */
static bool has_template_claims(const gw_endpoint_t *ep, const md_jwt_claims_t *c)
{
    for (size_t i = 0; i < ep->nbackends; i++) {
        const gw_backend_t *b = &ep->backends[i];
        for (size_t h = 0; h <= b->nheaders; h++) {
            const md_template_t *t = h < b->nheaders ? b->headers[h].value : b->target;
            for (size_t v = 0; v < md_template_nvars(t); v++) {
                md_str_t ns, name, value;
                md_template_var(t, v, &ns, &name);
                if (ns_is(ns, "jwt") && claim_value(c, name.ptr, name.len, &value) != MD_OK)
                    return false;
            }
        }
    }
    return true;
}

/* What the verification's outcome rc means for the request: 401 for a
 * refused token, 403 for a missing scope, role or claim; MD_OK (identity
 * set) to go on. */
static int jwt_verdict(gw_inputs_t *in, provider_t *p, int rc, md_jwt_claims_t *claims)
{
    md_http_req_t *req = in->req;
    if (rc != MD_OK) {
        deny(req, p, "invalid_token", rc == MD_JWT_EEXPIRED ? "the token has expired" : "the token is invalid");
        return MD_EINVAL;
    }
    const md_endpoint_auth_conf_t *ea = &in->ep->conf->auth;
    bool ok = true;
    for (size_t i = 0; i < ea->nscopes && ok; i++)
        ok = md_jwt_has_scope(claims, ea->scopes[i]);
    for (size_t i = 0; i < ea->nroles && ok; i++)
        ok = has_role(claims, ea->roles[i]);
    if (!ok) {
        deny_scope(req, p, ea);
        return MD_EINVAL;
    }
    if (!has_template_claims(in->ep, claims)) {
        md_http_respond_error(req, 403, "forbidden", "the token lacks a claim this endpoint needs", NULL);
        return MD_EINVAL;
    }
    in->auth = claims;
    in->claim = claim_of;
    md_str_t sub = { "", 0 };
    claim_value(claims, "sub", 3, &sub);
    set_identity(in, p, sub.ptr, sub.len);
    return MD_OK;
}

static void unlink_wait(kid_wait_t *kw)
{
    if (kw->wprev)
        kw->wprev->wnext = kw->wnext;
    else
        kw->w->auth->waits = kw->wnext;
    if (kw->wnext)
        kw->wnext->wprev = kw->wprev;
    kw->wprev = kw->wnext = NULL;
}

/* Back on the request's loop: the fetch ended (whichever way); verify
 * once more against whatever set is current now. */
static void kid_done(void *arg)
{
    kid_wait_t *kw = arg;
    if (kw->orphaned) {
        md_free(kw);
        return;
    }
    unlink_wait(kw);
    gw_inputs_t *in = kw->in;
    gw_worker_t *w = kw->w;
    provider_t *p = kw->p;
    md_str_t token = kw->token;
    bool aborted = kw->aborted; /* answered by kid_abort already */
    md_free(kw);
    if (aborted)
        return;
    in->req->on_abort = NULL;
    md_jwt_claims_t *claims = md_pool_calloc(in->req->pool, sizeof(*claims));
    md_jwks_t *ks = gw_jwks_acquire(w->gw, p->index);
    int rc = ks ? verify_with(p, ks, in->req, token, claims) : MD_JWT_EKID;
    if (jwt_verdict(in, p, rc, claims) == MD_OK)
        gw_run(w, in);
}

static void kid_abort(md_http_req_t *req)
{
    kid_wait_t *kw = req->app_data;
    if (gw_jwks_cancel(kw->w->gw, kw->p->index, &kw->node)) {
        unlink_wait(kw);
        md_free(kw);
    } else {
        kw->aborted = true; /* its kid_done is posted and frees it */
    }
    md_http_respond(req, 499, NULL, 0, NULL, 0);
}

/* An unknown kid with jwks_url: wait for a fetch (MD_AGAIN), or 401 now
 * when none may start (one was forced less than 10 s ago, 1024 requests
 * already wait, or the outbound thread is not running). */
static int wait_for_keys(gw_worker_t *w, gw_inputs_t *in, provider_t *p, md_str_t token)
{
    kid_wait_t *kw = md_calloc(1, sizeof(*kw));
    kw->node.loop = w->loop;
    kw->node.fn = kid_done;
    kw->node.arg = kw;
    kw->w = w;
    kw->p = p;
    kw->in = in;
    kw->token = token;
    int rc = gw_jwks_force(w->gw, p->index, &kw->node);
    if (rc != GW_REFRESH_STARTED && rc != GW_REFRESH_JOINED) {
        md_free(kw);
        return jwt_verdict(in, p, MD_JWT_EKID, NULL);
    }
    kw->wnext = w->auth->waits;
    if (kw->wnext)
        kw->wnext->wprev = kw;
    w->auth->waits = kw;
    in->req->app_data = kw;
    in->req->on_abort = kid_abort;
    return MD_AGAIN;
}

static int check_jwt(gw_worker_t *w, gw_inputs_t *in, provider_t *p)
{
    md_http_req_t *req = in->req;
    md_str_t token;
    int rc = bearer_token(req, &token);
    if (rc == MD_ENOTFOUND) {
        deny(req, p, NULL, "a bearer token is required");
        return MD_EINVAL;
    }
    md_jwt_claims_t *claims = md_pool_calloc(req->pool, sizeof(*claims));
    if (rc != MD_OK || !p->conf->jwks)
        return jwt_verdict(in, p, rc == MD_OK ? verify_token(p, req, token, claims) : rc, claims);
    md_jwks_t *ks = gw_jwks_acquire(w->gw, p->index);
    if (!ks) {
        md_http_respond_error(req, 503, "auth_unavailable", "the token issuer's keys are not available yet",
                              NULL);
        return MD_EINVAL;
    }
    rc = verify_with(p, ks, req, token, claims);
    return rc == MD_JWT_EKID ? wait_for_keys(w, in, p, token) : jwt_verdict(in, p, rc, claims);
}

/* ---- basic: the verification pool ------------------------------------------------- */

static void job_free(job_t *j)
{
    explicit_bzero(j->buf, sizeof(j->buf));
    md_free(j);
}

static void job_done(void *arg);

static void *pool_main(void *arg)
{
    gw_auth_t *a = arg;
    struct crypt_data *cd = md_calloc(1, sizeof(*cd));
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->head && !a->stop)
            pthread_cond_wait(&a->work, &a->mu);
        if (!a->head)
            break;
        job_t *j = a->head;
        a->head = j->next;
        if (!a->head)
            a->tail = NULL;
        pthread_mutex_unlock(&a->mu);
        /* A client that left needs no answer: skip the crypt. */
        j->rc = atomic_load(&j->aborted) ? MD_ENOTFOUND
                                         : md_basic_verify(j->p->users, &j->cred, md_now_us() / 1000, cd);
        explicit_bzero(j->buf, sizeof(j->buf));
        pthread_mutex_lock(&a->mu);
        /* Posting under the mutex: worker fini waits on it, so the loop
         * is still alive here. */
        j->posted = true;
        j->aw->in_pool--;
        a->pending--;
        md_loop_post(j->loop, job_done, j);
        pthread_cond_broadcast(&a->idle);
    }
    pthread_mutex_unlock(&a->mu);
    explicit_bzero(cd, sizeof(*cd));
    md_free(cd);
    return NULL;
}

static void unlink_job(job_t *j)
{
    if (j->wprev)
        j->wprev->wnext = j->wnext;
    else
        j->aw->jobs = j->wnext;
    if (j->wnext)
        j->wnext->wprev = j->wprev;
    j->wprev = j->wnext = NULL;
}

/* Back on the request's loop with the verdict. */
static void job_done(void *arg)
{
    job_t *j = arg;
    if (j->orphaned) {
        job_free(j);
        return;
    }
    unlink_job(j);
    if (atomic_load(&j->aborted)) { /* answered by on_abort already */
        job_free(j);
        return;
    }
    gw_inputs_t *in = j->in;
    gw_worker_t *w = j->w;
    in->req->on_abort = NULL;
    int rc = j->rc;
    if (rc == MD_OK) {
        set_identity(in, j->p, j->user.ptr, j->user.len);
        job_free(j);
        gw_run(w, in);
        return;
    }
    if (rc == MD_ERR)
        md_http_respond_error(in->req, 503, "auth_unavailable", "credentials cannot be verified now", NULL);
    else
        deny(in->req, j->p, NULL, "the user name or password is not valid");
    job_free(j);
}

static void on_abort(md_http_req_t *req)
{
    job_t *j = req->app_data;
    atomic_store(&j->aborted, true);
    md_http_respond(req, 499, NULL, 0, NULL, 0);
}

static int submit(gw_worker_t *w, job_t *j)
{
    gw_auth_t *a = w->gw->auth;
    pthread_mutex_lock(&a->mu);
    bool full = a->pending >= POOL_MAX_PENDING;
    if (!full) {
        a->pending++;
        w->auth->in_pool++;
        if (a->tail)
            a->tail->next = j;
        else
            a->head = j;
        a->tail = j;
        pthread_cond_signal(&a->work);
    }
    pthread_mutex_unlock(&a->mu);
    return full ? MD_AGAIN : MD_OK;
}

static int check_basic(gw_worker_t *w, gw_inputs_t *in, provider_t *p)
{
    md_http_req_t *req = in->req;
    md_str_t v;
    job_t *j = md_calloc(1, sizeof(*j));
    int rc = one_header(req, "Authorization", &v);
    if (rc == MD_OK)
        rc = md_basic_parse(v.ptr, v.len, j->buf, sizeof(j->buf), &j->cred);
    if (rc != MD_OK) {
        job_free(j);
        deny(req, p, NULL, rc == MD_ENOTFOUND ? "credentials are required" : "the credentials are malformed");
        return MD_EINVAL;
    }
    j->aw = w->auth;
    j->w = w;
    j->loop = w->loop;
    j->p = p;
    j->in = in;
    j->user = (md_str_t){ md_pool_strndup(req->pool, j->cred.user, j->cred.user_len), j->cred.user_len };
    if (submit(w, j) != MD_OK) {
        job_free(j);
        md_header_t h = { "Retry-After", 11, "1", 1 };
        md_http_respond_error_h(req, 503, "auth_busy", "too many credential checks in progress", NULL, &h, 1);
        return MD_EINVAL;
    }
    j->wnext = w->auth->jobs;
    if (j->wnext)
        j->wnext->wprev = j;
    w->auth->jobs = j;
    req->app_data = j;
    req->on_abort = on_abort;
    return MD_AGAIN;
}

/* ---- the check ------------------------------------------------------------------------- */

int gw_auth_check(gw_worker_t *w, gw_inputs_t *in)
{
    int k = in->ep->conf->auth.provider;
    if (k < 0)
        return MD_OK;
    provider_t *p = &w->gw->auth->providers[k];
    switch (p->conf->type) {
    case MD_AUTH_API_KEY: return check_api_key(in, p);
    case MD_AUTH_JWT: return check_jwt(w, in, p);
    default: return check_basic(w, in, p);
    }
}

/* ---- workers -------------------------------------------------------------------------- */

void gw_auth_worker_init(gw_worker_t *w)
{
    w->auth = md_calloc(1, sizeof(*w->auth));
}

/* Forced shutdown may leave jobs behind: queued ones are taken back,
 * running ones are waited for (one crypt at most), and those already
 * posted are orphaned so that job_done, which md_loop_free still runs,
 * only frees them. JWKS waits alike: withdrawn, or orphaned if posted. */
void gw_auth_worker_fini(gw_worker_t *w)
{
    gw_auth_t *a = w->gw->auth;
    gw_auth_worker_t *aw = w->auth;
    if (!aw)
        return;
    if (a->pool_on) {
        pthread_mutex_lock(&a->mu);
        job_t **pp = &a->head, *last = NULL;
        while (*pp) {
            job_t *j = *pp;
            if (j->aw == aw) {
                *pp = j->next;
                j->cancelled = true;
                aw->in_pool--;
                a->pending--;
            } else {
                last = j;
                pp = &j->next;
            }
        }
        a->tail = last;
        while (aw->in_pool > 0)
            pthread_cond_wait(&a->idle, &a->mu);
        pthread_mutex_unlock(&a->mu);
    }
    job_t *next;
    for (job_t *j = aw->jobs; j; j = next) {
        next = j->wnext;
        if (j->cancelled)
            job_free(j);
        else
            j->orphaned = true;
    }
    kid_wait_t *wnext;
    for (kid_wait_t *kw = aw->waits; kw; kw = wnext) {
        wnext = kw->wnext;
        if (gw_jwks_cancel(w->gw, kw->p->index, &kw->node))
            md_free(kw);
        else
            kw->orphaned = true;
    }
    md_free(aw);
    w->auth = NULL;
}
