/*
 * metrics.c - the Prometheus registry (contract in metrics.h).
 *
 * At startup the config becomes a few small tables: endpoint labels
 * (distinct configured paths, then "(none)"), request rows (label, method),
 * backend-call rows (label, backend name), backend-name labels and
 * upstream labels, each with its label values already escaped. A worker's
 * block is one flat array of counters laid out family by family:
 *
 *   requests     nrows x 5 status classes
 *   request hist nlabels x (14 buckets, +Inf, sum of microseconds)
 *   calls        ncallrows x 9 outcomes
 *   call hist    nnames x (14 buckets, +Inf, sum of microseconds)
 *   upstreams    nupstreams x (open, idle)     gauges, stored not added
 *   cache        ncallrows x 7 outcomes, then 4 Redis client values
 *   rate limits  nrlrows 429 counts (label, limit), then 2 Redis outcomes
 *
 * Process-wide values live outside the blocks, stored by whichever worker
 * publishes them: the cache store's gauges, and the counters of the
 * credentials fetched in the background (a jwks_url provider's fetches,
 * forced fetches and key count; an oauth2 upstream's token fetches and
 * forced fetches), whose families exist only when the config has one.
 *
 * Buckets are kept per bucket (one increment per observation) and made
 * cumulative when rendered. The rows of an endpoint's configured method and
 * the configured backends are always printed (0 until counted) so rate()
 * sees the first increment; HEAD-on-GET and "(none)" rows appear once
 * counted.
 */
#include "telemetry/metrics.h"

#include "core/alloc.h"
#include "telemetry/record.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MD_VERSION
#define MD_VERSION "0.0.0"
#endif

#define CACHE_LINE 64
#define NCLASSES 5                               /* 1xx .. 5xx */
#define HSLOTS (MD_METRICS_NBUCKETS + 2)         /* buckets, +Inf, sum (us) */
#define NOUT MD_TM_NOUTCOMES
#define NCACHE 7                                 /* md_cs_outcome_t values */
#define NREDIS 4                                 /* per worker: up, errors, timeouts, refused */
#define NPURGE 2                                 /* per worker: purge messages applied, ignored */
#define NJWKS 4                                  /* per jwks_url provider: ok, failed, forced, keys */
#define NOAUTH 3                                 /* per oauth2 upstream: ok, failed, forced */
/* One series' label pairs: config paths are at most 2 KiB, 4 KiB escaped. */
#define LABELS_MAX 4400

typedef atomic_uint_least64_t ctr_t;

static const uint64_t bounds_us[MD_METRICS_NBUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const bounds_text[MD_METRICS_NBUCKETS + 1] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
    "+Inf",
};
static const char *const classes[NCLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

/* Methods of requests that matched no endpoint; anything else is "other",
 * so a client cannot create series. */
static const char *const none_methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other" };
#define NNONE MD_ARRAY_LEN(none_methods)

typedef struct req_row {
    size_t label;
    const char *method;         /* from the config's fixed list or none_methods */
    bool primary;               /* an endpoint's configured method: always printed */
} req_row_t;

typedef struct call_row {
    size_t label;
    size_t name;
} call_row_t;

/* A (endpoint label, rate limit) pair: GET and POST of one path with the
 * same limit share a row. */
typedef struct rl_row {
    size_t label;
    size_t limit;               /* index into cfg->rate_limits */
} rl_row_t;

struct md_metrics {
    const md_config_t *cfg;
    int nworkers;
    size_t stride;              /* counters per block: whole cache lines */
    void *mem;
    ctr_t *blocks;
    size_t nlabels;             /* endpoint labels; the last one is "(none)" */
    char **labels;
    size_t *ep_label;           /* endpoint -> label */
    size_t nrows;               /* request rows; the first NNONE are "(none)" */
    req_row_t *rows;
    size_t *ep_row, *ep_head_row; /* endpoint -> row (SIZE_MAX: no HEAD row) */
    size_t nbackends;           /* all endpoints' backends; global = ep_first[e] + i */
    size_t *ep_first;
    size_t ncallrows;
    call_row_t *callrows;
    size_t *be_callrow;
    size_t nnames;              /* distinct backend names */
    char **names;
    size_t *be_name;
    size_t nupstreams;
    char **upstreams;
    size_t nrlrows;             /* at most 8 per endpoint */
    rl_row_t *rlrows;
    size_t *ep_rl_first;        /* endpoint -> its first entry in rl_row_of */
    size_t *rl_row_of;          /* (endpoint, i-th limit of it) -> row */
    char **rlnames;             /* cfg->rate_limits names, escaped */
    size_t off_req, off_req_h, off_call, off_call_h, off_up, off_cache, off_redis, off_purge, off_rl, off_rl_redis;
    bool cached;                /* some backend has a cache policy: print the cache families */
    bool redis;                 /* cache.store is redis */
    bool limited;               /* some endpoint has a rate limit: print medley_rate_limited_total */
    bool rl_redis;              /* some rate limit has store: redis */
    ctr_t store[3];             /* entries, bytes, evictions (md_metrics_cache_store) */
    size_t nproviders;          /* cfg->auth.nproviders */
    char **providers;           /* escaped names of jwks_url providers; NULL for the others */
    ctr_t *jwks;                /* nproviders x NJWKS (md_metrics_jwks) */
    char **oauth2_names;        /* upstreams[u] when it has oauth2, else NULL (borrowed) */
    ctr_t *oauth2;              /* nupstreams x NOAUTH (md_metrics_oauth2) */
    bool has_jwks;              /* some provider has jwks_url: print the medley_jwks_* families */
    bool has_oauth2;            /* some upstream has oauth2: print the medley_oauth2_* families */
};

/* ---- escaping ---- */

int md_prom_escape(md_buf_t *out, const char *s, size_t n)
{
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\"" : s[i] == '\n' ? "\\n" : NULL;
        int rc = esc ? md_buf_append(out, esc, 2) : md_buf_append_char(out, s[i]);
        if (rc != MD_OK) {
            out->len = start; /* all or nothing, like the JSON writer */
            if (out->data)
                out->data[start] = '\0';
            return rc;
        }
    }
    return MD_OK;
}

static char *escaped(const char *s)
{
    md_buf_t b;
    md_buf_init(&b, 0);
    md_prom_escape(&b, s, strlen(s));
    if (b.len == 0) {
        md_buf_free(&b);
        return md_strdup("");
    }
    return md_buf_detach(&b, NULL);
}

/* ---- building the tables ---- */

static void build_labels(md_metrics_t *m)
{
    const md_config_t *cfg = m->cfg;
    const char **raw = md_calloc(cfg->nendpoints + 1, sizeof(*raw));
    m->labels = md_calloc(cfg->nendpoints + 1, sizeof(*m->labels));
    m->ep_label = md_calloc(cfg->nendpoints + 1, sizeof(*m->ep_label));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        const char *path = cfg->endpoints[e].path;
        size_t l = 0;
        while (l < m->nlabels && strcmp(raw[l], path) != 0)
            l++;
        if (l == m->nlabels) {
            raw[l] = path;
            m->labels[m->nlabels++] = escaped(path);
        }
        m->ep_label[e] = l;
    }
    m->labels[m->nlabels++] = md_strdup("(none)");
    md_free(raw);
}

static size_t find_row(md_metrics_t *m, size_t label, const char *method, bool primary)
{
    for (size_t r = NNONE; r < m->nrows; r++) {
        if (m->rows[r].label == label && strcmp(m->rows[r].method, method) == 0) {
            m->rows[r].primary |= primary;
            return r;
        }
    }
    m->rows[m->nrows] = (req_row_t){ label, method, primary };
    return m->nrows++;
}

static void build_rows(md_metrics_t *m)
{
    const md_config_t *cfg = m->cfg;
    m->rows = md_calloc(NNONE + 2 * cfg->nendpoints, sizeof(*m->rows));
    m->ep_row = md_calloc(cfg->nendpoints + 1, sizeof(*m->ep_row));
    m->ep_head_row = md_calloc(cfg->nendpoints + 1, sizeof(*m->ep_head_row));
    for (size_t k = 0; k < NNONE; k++)
        m->rows[m->nrows++] = (req_row_t){ m->nlabels - 1, none_methods[k], false };
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        const char *method = cfg->endpoints[e].method;
        m->ep_row[e] = find_row(m, m->ep_label[e], method, true);
        m->ep_head_row[e] = strcmp(method, "GET") == 0 ? find_row(m, m->ep_label[e], "HEAD", false) : SIZE_MAX;
    }
}

typedef struct named {
    const char *name;
    size_t backend;
} named_t;

static int by_name(const void *a, const void *b)
{
    const named_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->backend > y->backend) - (x->backend < y->backend);
}

/* Backend-name labels for the duration histogram: one per distinct name. */
static void build_names(md_metrics_t *m, const char **bname)
{
    named_t *v = md_calloc(m->nbackends + 1, sizeof(*v));
    for (size_t g = 0; g < m->nbackends; g++)
        v[g] = (named_t){ bname[g], g };
    qsort(v, m->nbackends, sizeof(*v), by_name);
    m->names = md_calloc(m->nbackends + 1, sizeof(*m->names));
    m->be_name = md_calloc(m->nbackends + 1, sizeof(*m->be_name));
    for (size_t k = 0; k < m->nbackends; k++) {
        if (k == 0 || strcmp(v[k].name, v[k - 1].name) != 0)
            m->names[m->nnames++] = escaped(v[k].name);
        m->be_name[v[k].backend] = m->nnames - 1;
    }
    md_free(v);
}

/* A backend of an endpoint whose label an earlier endpoint shares (GET and
 * POST of one path) reuses that endpoint's row for the same name. */
static size_t shared_callrow(const md_metrics_t *m, size_t e, const char *name)
{
    const md_config_t *cfg = m->cfg;
    for (size_t j = 0; j < e; j++) {
        if (m->ep_label[j] != m->ep_label[e])
            continue;
        for (size_t i = 0; i < cfg->endpoints[j].nbackends; i++)
            if (strcmp(cfg->endpoints[j].backends[i].name, name) == 0)
                return m->be_callrow[m->ep_first[j] + i];
    }
    return SIZE_MAX;
}

static void build_backends(md_metrics_t *m)
{
    const md_config_t *cfg = m->cfg;
    m->ep_first = md_calloc(cfg->nendpoints + 1, sizeof(*m->ep_first));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        m->ep_first[e] = m->nbackends;
        m->nbackends += cfg->endpoints[e].nbackends;
    }
    m->ep_first[cfg->nendpoints] = m->nbackends;
    const char **bname = md_calloc(m->nbackends + 1, sizeof(*bname));
    for (size_t e = 0; e < cfg->nendpoints; e++)
        for (size_t i = 0; i < cfg->endpoints[e].nbackends; i++)
            bname[m->ep_first[e] + i] = cfg->endpoints[e].backends[i].name;
    build_names(m, bname);
    m->callrows = md_calloc(m->nbackends + 1, sizeof(*m->callrows));
    m->be_callrow = md_calloc(m->nbackends + 1, sizeof(*m->be_callrow));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        for (size_t i = 0; i < cfg->endpoints[e].nbackends; i++) {
            size_t g = m->ep_first[e] + i;
            size_t r = shared_callrow(m, e, bname[g]);
            if (r == SIZE_MAX) {
                r = m->ncallrows++;
                m->callrows[r] = (call_row_t){ m->ep_label[e], m->be_name[g] };
            }
            m->be_callrow[g] = r;
        }
    }
    md_free(bname);
}

static void build_limits(md_metrics_t *m)
{
    const md_config_t *cfg = m->cfg;
    m->ep_rl_first = md_calloc(cfg->nendpoints + 1, sizeof(*m->ep_rl_first));
    size_t n = 0;
    for (size_t e = 0; e < cfg->nendpoints; e++)
        n += cfg->endpoints[e].nrate_limits;
    m->rlrows = md_calloc(n + 1, sizeof(*m->rlrows));
    m->rl_row_of = md_calloc(n + 1, sizeof(*m->rl_row_of));
    size_t k = 0;
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        m->ep_rl_first[e] = k;
        for (size_t i = 0; i < cfg->endpoints[e].nrate_limits; i++, k++) {
            rl_row_t want = { m->ep_label[e], cfg->endpoints[e].rate_limits[i] };
            size_t r = 0;
            while (r < m->nrlrows && (m->rlrows[r].label != want.label || m->rlrows[r].limit != want.limit))
                r++;
            if (r == m->nrlrows)
                m->rlrows[m->nrlrows++] = want;
            m->rl_row_of[k] = r;
        }
    }
    m->rlnames = md_calloc(cfg->nrate_limits + 1, sizeof(*m->rlnames));
    for (size_t l = 0; l < cfg->nrate_limits; l++) {
        m->rlnames[l] = escaped(cfg->rate_limits[l].name);
        m->rl_redis |= cfg->rate_limits[l].redis;
    }
    m->limited = m->nrlrows > 0;
}

/* The background credentials' slots: one per provider and per upstream,
 * so the config's indices are the slots' (unused ones stay 0, unprinted). */
static void build_creds(md_metrics_t *m)
{
    const md_config_t *cfg = m->cfg;
    m->nproviders = cfg->auth.nproviders;
    m->providers = md_calloc(m->nproviders + 1, sizeof(*m->providers));
    for (size_t p = 0; p < m->nproviders; p++) {
        if (cfg->auth.providers[p].type == MD_AUTH_JWT && cfg->auth.providers[p].jwks) {
            m->providers[p] = escaped(cfg->auth.providers[p].name);
            m->has_jwks = true;
        }
    }
    m->oauth2_names = md_calloc(m->nupstreams + 1, sizeof(*m->oauth2_names));
    for (size_t u = 0; u < m->nupstreams; u++) {
        if (cfg->upstreams[u].oauth2) {
            m->oauth2_names[u] = m->upstreams[u];
            m->has_oauth2 = true;
        }
    }
    /* Zeroed memory is a valid zero for these lock-free atomics. */
    m->jwks = md_calloc(m->nproviders * NJWKS + 1, sizeof(*m->jwks));
    m->oauth2 = md_calloc(m->nupstreams * NOAUTH + 1, sizeof(*m->oauth2));
}

static void build_blocks(md_metrics_t *m)
{
    size_t per_line = CACHE_LINE / sizeof(ctr_t);
    m->off_req = 0;
    m->off_req_h = m->off_req + m->nrows * NCLASSES;
    m->off_call = m->off_req_h + m->nlabels * HSLOTS;
    m->off_call_h = m->off_call + m->ncallrows * NOUT;
    m->off_up = m->off_call_h + m->nnames * HSLOTS;
    m->off_cache = m->off_up + m->nupstreams * 3;
    m->off_redis = m->off_cache + m->ncallrows * NCACHE;
    m->off_purge = m->off_redis + NREDIS;
    m->off_rl = m->off_purge + NPURGE;
    m->off_rl_redis = m->off_rl + m->nrlrows;
    size_t n = m->off_rl_redis + 2;
    m->stride = (n + per_line - 1) / per_line * per_line;
    /* Zeroed memory is a valid zero for these lock-free atomics. */
    m->mem = md_calloc((size_t)m->nworkers * m->stride * sizeof(ctr_t) + CACHE_LINE, 1);
    uintptr_t p = ((uintptr_t)m->mem + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1);
    m->blocks = (ctr_t *)p;
}

md_metrics_t *md_metrics_new(const md_config_t *cfg, int nworkers)
{
    md_metrics_t *m = md_calloc(1, sizeof(*m));
    m->cfg = cfg;
    m->nworkers = nworkers > 0 ? nworkers : 1;
    build_labels(m);
    build_rows(m);
    build_backends(m);
    m->nupstreams = cfg->nupstreams;
    m->upstreams = md_calloc(cfg->nupstreams + 1, sizeof(*m->upstreams));
    for (size_t u = 0; u < cfg->nupstreams; u++)
        m->upstreams[u] = escaped(cfg->upstreams[u].name);
    build_limits(m);
    build_creds(m);
    build_blocks(m);
    for (size_t e = 0; e < cfg->nendpoints; e++)
        for (size_t i = 0; i < cfg->endpoints[e].nbackends; i++)
            m->cached |= cfg->endpoints[e].backends[i].cache.on;
    m->redis = m->cached && cfg->cache.store == MD_CACHE_STORE_REDIS;
    return m;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        md_free(v[i]);
    md_free(v);
}

void md_metrics_free(md_metrics_t *m)
{
    if (!m)
        return;
    free_strings(m->labels, m->nlabels);
    free_strings(m->names, m->nnames);
    free_strings(m->upstreams, m->nupstreams);
    free_strings(m->rlnames, m->cfg->nrate_limits);
    md_free(m->rlrows);
    md_free(m->ep_rl_first);
    md_free(m->rl_row_of);
    free_strings(m->providers, m->nproviders);
    md_free(m->jwks);
    md_free(m->oauth2);
    md_free(m->oauth2_names);
    md_free(m->ep_label);
    md_free(m->rows);
    md_free(m->ep_row);
    md_free(m->ep_head_row);
    md_free(m->ep_first);
    md_free(m->callrows);
    md_free(m->be_callrow);
    md_free(m->be_name);
    md_free(m->mem);
    md_free(m);
}

/* ---- the hot path ---- */

static inline ctr_t *block_of(const md_metrics_t *m, int worker)
{
    return m->blocks + (size_t)worker * m->stride;
}

/* Single writer per block: load + store, no locked read-modify-write. */
static inline void bump(ctr_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void observe(ctr_t *h, uint64_t us)
{
    size_t b = 0;
    while (b < MD_METRICS_NBUCKETS && us > bounds_us[b])
        b++;
    bump(&h[b], 1);
    bump(&h[MD_METRICS_NBUCKETS + 1], us);
}

static bool str_is(md_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static size_t row_of(const md_metrics_t *m, int ep, md_str_t method)
{
    if (ep >= 0 && (size_t)ep < m->cfg->nendpoints) {
        if (str_is(method, m->rows[m->ep_row[ep]].method))
            return m->ep_row[ep];
        if (m->ep_head_row[ep] != SIZE_MAX && str_is(method, "HEAD"))
            return m->ep_head_row[ep];
    }
    for (size_t k = 0; k < NNONE - 1; k++)
        if (str_is(method, none_methods[k]))
            return k;
    return NNONE - 1;
}

void md_metrics_request(md_metrics_t *m, int worker, int endpoint, md_str_t method, int status,
                        uint64_t duration_us)
{
    if (!m || worker < 0 || worker >= m->nworkers)
        return;
    bool matched = endpoint >= 0 && (size_t)endpoint < m->cfg->nendpoints;
    size_t row = row_of(m, matched ? endpoint : -1, method);
    int cls = status / 100 - 1;
    cls = cls < 0 ? 0 : cls >= NCLASSES ? NCLASSES - 1 : cls;
    ctr_t *b = block_of(m, worker);
    bump(&b[m->off_req + row * NCLASSES + (size_t)cls], 1);
    /* A request whose method only the "(none)" rows know keeps its timing
     * with its rows' label. */
    size_t label = m->rows[row].label;
    observe(b + m->off_req_h + label * HSLOTS, duration_us);
}

void md_metrics_call(md_metrics_t *m, int worker, int endpoint, size_t backend, int outcome,
                     uint64_t duration_us)
{
    if (!m || worker < 0 || worker >= m->nworkers || endpoint < 0 || (size_t)endpoint >= m->cfg->nendpoints)
        return;
    if (outcome < 0 || outcome >= NOUT || backend >= m->cfg->endpoints[endpoint].nbackends)
        return;
    size_t g = m->ep_first[endpoint] + backend;
    ctr_t *b = block_of(m, worker);
    bump(&b[m->off_call + m->be_callrow[g] * NOUT + (size_t)outcome], 1);
    observe(b + m->off_call_h + m->be_name[g] * HSLOTS, duration_us);
}

void md_metrics_upstream(md_metrics_t *m, int worker, size_t upstream, uint32_t open, uint32_t idle,
                         uint64_t calls)
{
    if (!m || worker < 0 || worker >= m->nworkers || upstream >= m->nupstreams)
        return;
    ctr_t *g = block_of(m, worker) + m->off_up + upstream * 3;
    atomic_store_explicit(&g[0], open, memory_order_relaxed);
    atomic_store_explicit(&g[1], idle, memory_order_relaxed);
    atomic_store_explicit(&g[2], calls, memory_order_relaxed);
}

void md_metrics_cache(md_metrics_t *m, int worker, int endpoint, size_t backend, int outcome)
{
    if (!m || worker < 0 || worker >= m->nworkers || endpoint < 0 || (size_t)endpoint >= m->cfg->nendpoints)
        return;
    if (outcome < 0 || outcome >= NCACHE || backend >= m->cfg->endpoints[endpoint].nbackends)
        return;
    size_t g = m->ep_first[endpoint] + backend;
    bump(&block_of(m, worker)[m->off_cache + m->be_callrow[g] * NCACHE + (size_t)outcome], 1);
}

void md_metrics_cache_store(md_metrics_t *m, const md_metrics_store_t *st)
{
    if (!m)
        return;
    atomic_store_explicit(&m->store[0], st->entries, memory_order_relaxed);
    atomic_store_explicit(&m->store[1], st->bytes, memory_order_relaxed);
    atomic_store_explicit(&m->store[2], st->evictions, memory_order_relaxed);
}

void md_metrics_redis(md_metrics_t *m, int worker, bool up, uint64_t errors, uint64_t timeouts, uint64_t refused)
{
    if (!m || worker < 0 || worker >= m->nworkers)
        return;
    ctr_t *r = block_of(m, worker) + m->off_redis;
    atomic_store_explicit(&r[0], up ? 1 : 0, memory_order_relaxed);
    atomic_store_explicit(&r[1], errors, memory_order_relaxed);
    atomic_store_explicit(&r[2], timeouts, memory_order_relaxed);
    atomic_store_explicit(&r[3], refused, memory_order_relaxed);
}

void md_metrics_purge_messages(md_metrics_t *m, int worker, uint64_t applied, uint64_t ignored)
{
    if (!m || worker < 0 || worker >= m->nworkers)
        return;
    ctr_t *r = block_of(m, worker) + m->off_purge;
    atomic_store_explicit(&r[0], applied, memory_order_relaxed);
    atomic_store_explicit(&r[1], ignored, memory_order_relaxed);
}

void md_metrics_rate_limited(md_metrics_t *m, int worker, int endpoint, size_t limit)
{
    if (!m || worker < 0 || worker >= m->nworkers || endpoint < 0 || (size_t)endpoint >= m->cfg->nendpoints)
        return;
    const md_endpoint_conf_t *e = &m->cfg->endpoints[endpoint];
    for (size_t i = 0; i < e->nrate_limits; i++) {
        if (e->rate_limits[i] == limit) {
            bump(&block_of(m, worker)[m->off_rl + m->rl_row_of[m->ep_rl_first[endpoint] + i]], 1);
            return;
        }
    }
}

void md_metrics_rate_limit_redis(md_metrics_t *m, int worker, bool fallback)
{
    if (!m || worker < 0 || worker >= m->nworkers)
        return;
    bump(&block_of(m, worker)[m->off_rl_redis + (fallback ? 1 : 0)], 1);
}

static void store_fetches(ctr_t *c, const md_metrics_fetches_t *f)
{
    atomic_store_explicit(&c[0], f->ok, memory_order_relaxed);
    atomic_store_explicit(&c[1], f->failed, memory_order_relaxed);
    atomic_store_explicit(&c[2], f->forced, memory_order_relaxed);
}

void md_metrics_jwks(md_metrics_t *m, size_t provider, const md_metrics_fetches_t *f, uint64_t keys)
{
    if (!m || !f || provider >= m->nproviders || !m->providers[provider])
        return;
    ctr_t *c = m->jwks + provider * NJWKS;
    store_fetches(c, f);
    atomic_store_explicit(&c[3], keys, memory_order_relaxed);
}

void md_metrics_oauth2(md_metrics_t *m, size_t upstream, const md_metrics_fetches_t *f)
{
    if (!m || !f || upstream >= m->nupstreams || !m->oauth2_names[upstream])
        return;
    store_fetches(m->oauth2 + upstream * NOAUTH, f);
}

/* ---- rendering ---- */

#define TRY(x)                                                                                                 \
    do {                                                                                                       \
        int rc_ = (x);                                                                                         \
        if (rc_ != MD_OK)                                                                                      \
            return rc_;                                                                                        \
    } while (0)

static uint64_t total(const md_metrics_t *m, size_t off)
{
    uint64_t s = 0;
    for (int w = 0; w < m->nworkers; w++)
        s += atomic_load_explicit(&block_of(m, w)[off], memory_order_relaxed);
    return s;
}

static int family(md_buf_t *out, const char *name, const char *type, const char *help)
{
    return md_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram series: buckets made cumulative, then _sum and _count.
 * `labels` is the series' label pairs without braces. */
static int histogram(md_buf_t *out, const char *name, const char *labels, uint64_t counts[HSLOTS])
{
    uint64_t cum = 0;
    for (size_t b = 0; b <= MD_METRICS_NBUCKETS; b++) {
        cum += counts[b];
        TRY(md_buf_printf(out, "%s_bucket{%s,le=\"%s\"} %llu\n", name, labels, bounds_text[b],
                          (unsigned long long)cum));
    }
    uint64_t sum = counts[MD_METRICS_NBUCKETS + 1];
    TRY(md_buf_printf(out, "%s_sum{%s} %llu.%06llu\n", name, labels, (unsigned long long)(sum / 1000000),
                      (unsigned long long)(sum % 1000000)));
    return md_buf_printf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
}

/* Sums one histogram slot range; returns the observation count. */
static uint64_t sum_hist(const md_metrics_t *m, size_t off, uint64_t counts[HSLOTS])
{
    uint64_t n = 0;
    for (size_t s = 0; s < HSLOTS; s++) {
        counts[s] = total(m, off + s);
        n += s <= MD_METRICS_NBUCKETS ? counts[s] : 0;
    }
    return n;
}

static int render_requests(const md_metrics_t *m, md_buf_t *out)
{
    TRY(family(out, "medley_requests_total", "counter",
               "Requests answered, by endpoint (the configured path; (none) when no endpoint matched), method "
               "and status class."));
    for (size_t i = 0; i < m->nrows; i++) {
        size_t r = (i + NNONE) % m->nrows; /* the configured rows first, "(none)" last */
        const req_row_t *row = &m->rows[r];
        for (size_t k = 0; k < NCLASSES; k++) {
            uint64_t v = total(m, m->off_req + r * NCLASSES + k);
            if (v || row->primary)
                TRY(md_buf_printf(out,
                                  "medley_requests_total{endpoint=\"%s\",method=\"%s\",status_class=\"%s\"} %llu\n",
                                  m->labels[row->label], row->method, classes[k], (unsigned long long)v));
        }
    }
    TRY(family(out, "medley_request_duration_seconds", "histogram",
               "Time from a complete request head to the finished response, by endpoint."));
    char labels[LABELS_MAX];
    uint64_t counts[HSLOTS];
    for (size_t l = 0; l < m->nlabels; l++) {
        uint64_t n = sum_hist(m, m->off_req_h + l * HSLOTS, counts);
        if (n == 0 && l == m->nlabels - 1)
            continue; /* "(none)" only once counted */
        int len = snprintf(labels, sizeof(labels), "endpoint=\"%s\"", m->labels[l]);
        if (len < 0 || (size_t)len >= sizeof(labels))
            return MD_ETOOBIG;
        TRY(histogram(out, "medley_request_duration_seconds", labels, counts));
    }
    return MD_OK;
}

static int render_calls(const md_metrics_t *m, md_buf_t *out)
{
    TRY(family(out, "medley_backend_calls_total", "counter",
               "Backend calls that ended, by endpoint, backend and outcome (ok or the failure kind)."));
    for (size_t r = 0; r < m->ncallrows; r++) {
        const call_row_t *row = &m->callrows[r];
        for (int o = 0; o < NOUT; o++) {
            uint64_t v = total(m, m->off_call + r * NOUT + (size_t)o);
            TRY(md_buf_printf(out, "medley_backend_calls_total{endpoint=\"%s\",backend=\"%s\",outcome=\"%s\"} %llu\n",
                              m->labels[row->label], m->names[row->name], md_tm_outcome_name((md_tm_outcome_t)o),
                              (unsigned long long)v));
        }
    }
    TRY(family(out, "medley_backend_duration_seconds", "histogram",
               "Backend call durations (successful or not), by backend name."));
    char labels[LABELS_MAX];
    uint64_t counts[HSLOTS];
    for (size_t k = 0; k < m->nnames; k++) {
        sum_hist(m, m->off_call_h + k * HSLOTS, counts);
        int len = snprintf(labels, sizeof(labels), "backend=\"%s\"", m->names[k]);
        if (len < 0 || (size_t)len >= sizeof(labels))
            return MD_ETOOBIG;
        TRY(histogram(out, "medley_backend_duration_seconds", labels, counts));
    }
    return MD_OK;
}

/* Only with an exporter configured, like the access log's family: a
 * series that can only ever be 0 would just be noise. */
static int render_trace(const md_metrics_gauges_t *g, md_buf_t *out)
{
    TRY(family(out, "medley_trace_spans_exported_total", "counter", "Spans the OTLP collector accepted."));
    TRY(md_buf_printf(out, "medley_trace_spans_exported_total %llu\n", (unsigned long long)g->trace_spans_exported));
    TRY(family(out, "medley_trace_spans_dropped_total", "counter",
               "Spans never exported: the queue was full, their export failed, or they were left at shutdown."));
    TRY(md_buf_printf(out, "medley_trace_spans_dropped_total %llu\n", (unsigned long long)g->trace_spans_dropped));
    TRY(family(out, "medley_trace_export_failures_total", "counter",
               "OTLP export requests that failed (refused, timed out, or answered without a 2xx)."));
    return md_buf_printf(out, "medley_trace_export_failures_total %llu\n",
                         (unsigned long long)g->trace_export_failures);
}

static int render_gauges(const md_metrics_t *m, const md_metrics_gauges_t *g, md_buf_t *out)
{
    TRY(family(out, "medley_requests_in_flight", "gauge", "Requests being served."));
    TRY(md_buf_printf(out, "medley_requests_in_flight %llu\n", (unsigned long long)g->requests_in_flight));
    TRY(family(out, "medley_connections_open", "gauge", "Open client connections."));
    TRY(md_buf_printf(out, "medley_connections_open %llu\n", (unsigned long long)g->connections_open));
    TRY(family(out, "medley_upstream_connections", "gauge",
               "Upstream keep-alive pool connections by upstream and state (open counts idle ones too)."));
    for (size_t u = 0; u < m->nupstreams; u++) {
        uint64_t open = total(m, m->off_up + u * 3), idle = total(m, m->off_up + u * 3 + 1);
        TRY(md_buf_printf(out, "medley_upstream_connections{upstream=\"%s\",state=\"open\"} %llu\n",
                          m->upstreams[u], (unsigned long long)open));
        TRY(md_buf_printf(out, "medley_upstream_connections{upstream=\"%s\",state=\"idle\"} %llu\n",
                          m->upstreams[u], (unsigned long long)idle));
    }
    TRY(family(out, "medley_upstream_requests_total", "counter",
               "Requests sent to each upstream (all endpoints, cache fills included; refreshed every second)."));
    for (size_t u = 0; u < m->nupstreams; u++)
        TRY(md_buf_printf(out, "medley_upstream_requests_total{upstream=\"%s\"} %llu\n", m->upstreams[u],
                          (unsigned long long)total(m, m->off_up + u * 3 + 2)));
    if (g->has_access_log) {
        TRY(family(out, "medley_access_log_dropped_total", "counter",
                   "Access log lines dropped because the log buffer was full or the write failed."));
        TRY(md_buf_printf(out, "medley_access_log_dropped_total %llu\n", (unsigned long long)g->access_log_dropped));
    }
    if (g->has_trace_export)
        TRY(render_trace(g, out));
    return MD_OK;
}

static const char *const cache_outcomes[NCACHE] = { "hit",       "stale",          "miss",  "coalesced",
                                                    "stale_if_error", "redis_hit", "bypass" };

static int render_redis(const md_metrics_t *m, md_buf_t *out)
{
    static const char *const fam[NREDIS][3] = {
        { "medley_cache_redis_connected", "gauge", "Worker connections to Redis that are up." },
        { "medley_cache_redis_errors_total", "counter", "Redis commands answered with an error or broken off." },
        { "medley_cache_redis_timeouts_total", "counter", "Redis connections closed because a command was late." },
        { "medley_cache_redis_refused_total", "counter",
          "Cache operations that skipped Redis because it was down (the request went on without it)." },
    };
    for (size_t k = 0; k < NREDIS; k++) {
        TRY(family(out, fam[k][0], fam[k][1], fam[k][2]));
        TRY(md_buf_printf(out, "%s %llu\n", fam[k][0], (unsigned long long)total(m, m->off_redis + k)));
    }
    TRY(family(out, "medley_cache_purge_messages_total", "counter",
               "Purges announced by other instances through Redis: applied to this process's store, or ignored "
               "(malformed or too long)."));
    TRY(md_buf_printf(out, "medley_cache_purge_messages_total{result=\"applied\"} %llu\n",
                      (unsigned long long)total(m, m->off_purge)));
    return md_buf_printf(out, "medley_cache_purge_messages_total{result=\"ignored\"} %llu\n",
                         (unsigned long long)total(m, m->off_purge + 1));
}

/* Only when some backend is cached. */
static int render_cache(const md_metrics_t *m, md_buf_t *out)
{
    TRY(family(out, "medley_cache_lookups_total", "counter",
               "What the cache did for each cached backend call, by endpoint, backend and outcome."));
    for (size_t r = 0; r < m->ncallrows; r++) {
        const call_row_t *row = &m->callrows[r];
        for (size_t o = 0; o < NCACHE; o++) {
            uint64_t v = total(m, m->off_cache + r * NCACHE + o);
            if (v)
                TRY(md_buf_printf(out,
                                  "medley_cache_lookups_total{endpoint=\"%s\",backend=\"%s\",outcome=\"%s\"} %llu\n",
                                  m->labels[row->label], m->names[row->name], cache_outcomes[o],
                                  (unsigned long long)v));
        }
    }
    static const char *const fam[3][3] = {
        { "medley_cache_entries", "gauge", "Entries in the in-process store." },
        { "medley_cache_bytes", "gauge", "Bytes the in-process store's entries account for." },
        { "medley_cache_evictions_total", "counter", "Entries evicted to stay within max_memory." },
    };
    for (size_t k = 0; k < 3; k++) {
        TRY(family(out, fam[k][0], fam[k][1], fam[k][2]));
        TRY(md_buf_printf(out, "%s %llu\n", fam[k][0],
                          (unsigned long long)atomic_load_explicit(&m->store[k], memory_order_relaxed)));
    }
    return m->redis ? render_redis(m, out) : MD_OK;
}

/* Every (endpoint, limit) row from the start, like the backend calls, so
 * that rate() sees the first 429. */
static int render_limits(const md_metrics_t *m, md_buf_t *out)
{
    TRY(family(out, "medley_rate_limited_total", "counter",
               "Requests answered 429 because a rate limit was used up, by endpoint and limit."));
    for (size_t r = 0; r < m->nrlrows; r++)
        TRY(md_buf_printf(out, "medley_rate_limited_total{endpoint=\"%s\",limit=\"%s\"} %llu\n",
                          m->labels[m->rlrows[r].label], m->rlnames[m->rlrows[r].limit],
                          (unsigned long long)total(m, m->off_rl + r)));
    if (!m->rl_redis)
        return MD_OK;
    TRY(family(out, "medley_rate_limit_redis_total", "counter",
               "Decisions of limits with store: redis: made by Redis (ok), or by this process's own bucket "
               "because Redis was down, late or answered nonsense (fallback)."));
    TRY(md_buf_printf(out, "medley_rate_limit_redis_total{outcome=\"ok\"} %llu\n",
                      (unsigned long long)total(m, m->off_rl_redis)));
    return md_buf_printf(out, "medley_rate_limit_redis_total{outcome=\"fallback\"} %llu\n",
                         (unsigned long long)total(m, m->off_rl_redis + 1));
}

/* One family over the credentials of one kind: `key` names the label,
 * names[i] (NULL: no such credential) its value, and slot `slot` of
 * vals[i * stride ..] the value; with `results`, the series
 * result="ok" (slot) and result="failed" (slot + 1). */
typedef struct cred_family {
    const char *name, *type, *help, *key;
    char *const *names;
    size_t n;
    const ctr_t *vals;
    size_t stride, slot;
    bool results;
} cred_family_t;

static int render_cred_family(md_buf_t *out, const cred_family_t *f)
{
    static const char *const results[2] = { "ok", "failed" };
    TRY(family(out, f->name, f->type, f->help));
    for (size_t i = 0; i < f->n; i++) {
        if (!f->names[i])
            continue;
        const ctr_t *c = f->vals + i * f->stride + f->slot;
        if (!f->results) {
            TRY(md_buf_printf(out, "%s{%s=\"%s\"} %llu\n", f->name, f->key, f->names[i],
                              (unsigned long long)atomic_load_explicit(c, memory_order_relaxed)));
            continue;
        }
        for (size_t r = 0; r < MD_ARRAY_LEN(results); r++)
            TRY(md_buf_printf(out, "%s{%s=\"%s\",result=\"%s\"} %llu\n", f->name, f->key, f->names[i], results[r],
                              (unsigned long long)atomic_load_explicit(&c[r], memory_order_relaxed)));
    }
    return MD_OK;
}

/* Only the kinds the config has; every such credential from the start. */
static int render_creds(const md_metrics_t *m, md_buf_t *out)
{
    const cred_family_t fams[] = {
        { "medley_jwks_fetches_total", "counter",
          "JWKS fetches of jwt providers with jwks_url (at start, scheduled and forced), by provider and result "
          "(ok: a new key set installed; failed: the previous one kept).",
          "provider", m->providers, m->nproviders, m->jwks, NJWKS, 0, true },
        { "medley_jwks_forced_fetches_total", "counter",
          "Early JWKS fetches asked for by a token naming an unknown kid (at most one per 10 s per provider).",
          "provider", m->providers, m->nproviders, m->jwks, NJWKS, 2, false },
        { "medley_jwks_keys", "gauge", "Keys in the provider's current JWKS (0: none fetched yet).", "provider",
          m->providers, m->nproviders, m->jwks, NJWKS, 3, false },
    };
    const cred_family_t ofams[] = {
        { "medley_oauth2_token_fetches_total", "counter",
          "OAuth2 client-credentials token fetches of upstreams with oauth2 (at start, scheduled and forced), by "
          "upstream and result (ok: a new token installed; failed: the previous one kept until it expires).",
          "upstream", m->oauth2_names, m->nupstreams, m->oauth2, NOAUTH, 0, true },
        { "medley_oauth2_forced_fetches_total", "counter",
          "Early token fetches asked for by a backend answering 401 to the current token (at most one per 10 s "
          "per upstream).",
          "upstream", m->oauth2_names, m->nupstreams, m->oauth2, NOAUTH, 2, false },
    };
    for (size_t k = 0; m->has_jwks && k < MD_ARRAY_LEN(fams); k++)
        TRY(render_cred_family(out, &fams[k]));
    for (size_t k = 0; m->has_oauth2 && k < MD_ARRAY_LEN(ofams); k++)
        TRY(render_cred_family(out, &ofams[k]));
    return MD_OK;
}

int md_metrics_render(const md_metrics_t *m, const md_metrics_gauges_t *g, md_buf_t *out)
{
    size_t start = out->len;
    md_metrics_gauges_t none = { 0 };
    int rc = family(out, "medley_build_info", "gauge", "medley's version; the value is always 1.");
    if (rc == MD_OK) {
        rc = md_buf_append_str(out, "medley_build_info{version=\"");
        if (rc == MD_OK)
            rc = md_prom_escape(out, MD_VERSION, strlen(MD_VERSION));
        if (rc == MD_OK)
            rc = md_buf_append_str(out, "\"} 1\n");
    }
    if (rc == MD_OK)
        rc = render_requests(m, out);
    if (rc == MD_OK)
        rc = render_calls(m, out);
    if (rc == MD_OK)
        rc = render_gauges(m, g ? g : &none, out);
    if (rc == MD_OK && m->limited)
        rc = render_limits(m, out);
    if (rc == MD_OK && m->cached)
        rc = render_cache(m, out);
    if (rc == MD_OK && (m->has_jwks || m->has_oauth2))
        rc = render_creds(m, out);
    if (rc != MD_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}
