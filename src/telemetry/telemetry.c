/*
 * telemetry.c - the per-request record's life (contract in telemetry.h):
 * start, Server-Timing, and the finish that feeds the metrics and the
 * access log; plus the strings both need, made once at startup (endpoint
 * paths and backend names as JSON literals, backend names as Server-Timing
 * tokens) so that nothing is escaped per request.
 *
 * Tracing: md_tm_begin places the request in a trace (the caller's, from a
 * valid traceparent, or a new one sampled by `tracing.sample`) and gives it
 * a server span id; each backend call gets a client span id when its
 * traceparent is made. Only a sampled request with an exporter reads the
 * wall clock and keeps call times, and md_tm_finish then turns the record
 * into spans for the exporter's queue (otlp.h).
 */
#include "telemetry/telemetry.h"

#include "cache/policy.h"

#include "core/alloc.h"
#include "core/pool.h"
#include "json/write.h"

#include <string.h>
#include <time.h>

#define SPAN_CHUNK 16           /* spans built on the stack per push */

struct md_telemetry {
    const md_config_t *cfg;
    int nworkers;
    md_metrics_t *metrics;      /* NULL: admin listener off */
    md_accesslog_t *log;        /* NULL: access log off */
    md_otlp_t *otlp;            /* NULL: no span export */
    bool sample_all;            /* new traces: all sampled */
    uint64_t sample_below;      /* else sampled when a 64-bit draw is below this */
    bool server_timing;
    size_t nbackends;
    size_t *ep_first;           /* endpoint -> global index of its first backend */
    md_str_t *ep_json;          /* endpoint -> "\"/home\"" */
    md_str_t *be_json;          /* backend -> "\"news\"" */
    md_str_t *be_token;         /* backend -> Server-Timing metric name */
    md_tm_observer_fn observer; /* NULL: none (md_telemetry_set_observer) */
    void *observer_arg;
};

struct md_tm_worker {
    md_telemetry_t *tm;
    int index;
    md_loop_t *loop;
    md_timer_t tick;
    int64_t wall_offset_us;     /* CLOCK_REALTIME - CLOCK_MONOTONIC, refreshed every tick */
    md_tm_refresh_cb refresh;
    void *arg;
};

/* ---- outcomes ---- */

static const char *const outcome_names[] = {
    [MD_TM_OK] = "ok",
    [MD_TM_TIMEOUT] = "timeout",
    [MD_TM_CONNECT] = "connect",
    [MD_TM_RESET] = "reset",
    [MD_TM_STATUS] = "status",
    [MD_TM_INVALID_JSON] = "invalid_json",
    [MD_TM_TOO_BIG] = "too_big",
    [MD_TM_OVERLOADED] = "overloaded",
    [MD_TM_SHAPE] = "shape",
    [MD_TM_TLS] = "tls",
    [MD_TM_CANCELLED] = "cancelled",
    [MD_TM_PENDING] = "cancelled",
    [MD_TM_NOT_STARTED] = "not_started",
};

const char *md_tm_outcome_name(md_tm_outcome_t outcome)
{
    if ((size_t)outcome < MD_ARRAY_LEN(outcome_names))
        return outcome_names[outcome];
    return "reset";
}

md_tm_outcome_t md_tm_outcome_of_kind(const char *kind)
{
    if (!kind)
        return MD_TM_OK;
    for (int o = MD_TM_TIMEOUT; o < MD_TM_NOUTCOMES; o++)
        if (strcmp(kind, outcome_names[o]) == 0)
            return (md_tm_outcome_t)o;
    /* compose.c's name for a malformed HTTP answer: the body was unusable. */
    if (strcmp(kind, "invalid_response") == 0)
        return MD_TM_INVALID_JSON;
    return MD_TM_RESET;
}

md_tm_outcome_t md_tm_outcome_of_error(int error)
{
    switch (error) {
    case MD_OK: return MD_TM_OK;
    case MD_ETIMEDOUT: return MD_TM_TIMEOUT;
    case MD_ECONNECT: return MD_TM_CONNECT;
    case MD_ETLS: return MD_TM_TLS;
    case MD_ETOOBIG: return MD_TM_TOO_BIG;
    case MD_EINVAL: return MD_TM_INVALID_JSON;
    case MD_AGAIN: return MD_TM_OVERLOADED;
    case MD_ECANCELED: return MD_TM_CANCELLED;
    default: return MD_TM_RESET;
    }
}

/* ---- startup strings ---- */

static md_str_t json_literal(const char *s)
{
    md_buf_t b;
    md_buf_init(&b, 0);
    md_json_write_string(&b, s, strlen(s));
    size_t len = 0;
    char *p = md_buf_detach(&b, &len);
    return (md_str_t){ p, len };
}


/* A Server-Timing metric name is a token: anything else becomes '_'. */
static md_str_t token_of(const char *s)
{
    size_t n = strlen(s);
    char *p = md_malloc(n + 8);
    if (n == 0) {
        memcpy(p, "backend", 8);
        return (md_str_t){ p, 7 };
    }
    for (size_t i = 0; i < n; i++)
        p[i] = md_is_tchar((unsigned char)s[i]) ? s[i] : '_';
    p[n] = '\0';
    return (md_str_t){ p, n };
}

static void build_strings(md_telemetry_t *tm)
{
    const md_config_t *cfg = tm->cfg;
    tm->ep_first = md_calloc(cfg->nendpoints + 1, sizeof(*tm->ep_first));
    tm->ep_json = md_calloc(cfg->nendpoints + 1, sizeof(*tm->ep_json));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        tm->ep_first[e] = tm->nbackends;
        tm->nbackends += cfg->endpoints[e].nbackends;
        tm->ep_json[e] = json_literal(cfg->endpoints[e].path);
    }
    tm->be_json = md_calloc(tm->nbackends + 1, sizeof(*tm->be_json));
    tm->be_token = md_calloc(tm->nbackends + 1, sizeof(*tm->be_token));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        for (size_t i = 0; i < cfg->endpoints[e].nbackends; i++) {
            const char *name = cfg->endpoints[e].backends[i].name;
            tm->be_json[tm->ep_first[e] + i] = json_literal(name ? name : "");
            tm->be_token[tm->ep_first[e] + i] = token_of(name ? name : "");
        }
    }
}

/* ---- the telemetry object ---- */

static void set_trace_sampling(md_telemetry_t *tm, double sample)
{
    tm->sample_all = sample >= 1.0;
    double v = sample > 0 ? sample * 18446744073709551616.0 : 0; /* 2^64 */
    tm->sample_below = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
}

md_telemetry_t *md_telemetry_new(const md_config_t *cfg, int nworkers, char *err, size_t errlen)
{
    const md_telemetry_conf_t *tc = &cfg->telemetry;
    md_telemetry_t *tm = md_calloc(1, sizeof(*tm));
    tm->cfg = cfg;
    tm->nworkers = nworkers > 0 ? nworkers : 1;
    tm->server_timing = tc->server_timing;
    if (tc->log_target != MD_LOG_OFF && tc->log_sample > 0) {
        tm->log = md_accesslog_open(tc, tm->nworkers, err, errlen);
        if (!tm->log) {
            md_free(tm);
            return NULL;
        }
    }
    if (tc->admin_on)
        tm->metrics = md_metrics_new(cfg, tm->nworkers);
    build_strings(tm);
    set_trace_sampling(tm, tc->trace_sample);
    tm->otlp = md_otlp_new(cfg);
    if (tm->otlp && md_otlp_start(tm->otlp, err, errlen) != MD_OK) {
        md_telemetry_free(tm);
        return NULL;
    }
    return tm;
}

static void free_strs(md_str_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        md_free((char *)v[i].ptr);
    md_free(v);
}

void md_telemetry_free(md_telemetry_t *tm)
{
    if (!tm)
        return;
    md_otlp_free(tm->otlp); /* its last flush first: bounded by otlp_timeout_ms */
    md_accesslog_close(tm->log);
    md_metrics_free(tm->metrics);
    free_strs(tm->ep_json, tm->cfg->nendpoints);
    free_strs(tm->be_json, tm->nbackends);
    free_strs(tm->be_token, tm->nbackends);
    md_free(tm->ep_first);
    md_free(tm);
}

bool md_telemetry_active(const md_telemetry_t *tm)
{
    return tm != NULL; /* trace context is always propagated */
}

md_metrics_t *md_telemetry_metrics(const md_telemetry_t *tm)
{
    return tm ? tm->metrics : NULL;
}

md_accesslog_t *md_telemetry_log(const md_telemetry_t *tm)
{
    return tm ? tm->log : NULL;
}

md_otlp_t *md_telemetry_otlp(const md_telemetry_t *tm)
{
    return tm ? tm->otlp : NULL;
}

void md_telemetry_set_observer(md_telemetry_t *tm, md_tm_observer_fn fn, void *arg)
{
    if (!tm)
        return;
    tm->observer = fn;
    tm->observer_arg = arg;
}

/* ---- workers ---- */

static int64_t wall_offset(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    return wall - (int64_t)md_now_us();
}

static void on_tick(md_timer_t *t)
{
    md_tm_worker_t *tw = t->data;
    tw->wall_offset_us = wall_offset();
    if (tw->refresh && tw->tm->metrics)
        tw->refresh(tw, tw->arg);
    md_accesslog_flush(tw->tm->log, tw->index);
    md_timer_start(tw->loop, &tw->tick, MD_TM_TICK_MS);
}

md_tm_worker_t *md_tm_worker_new(md_telemetry_t *tm, int index, md_loop_t *loop, md_tm_refresh_cb refresh,
                                 void *arg)
{
    if (!tm || index < 0 || index >= tm->nworkers)
        return NULL;
    md_tm_worker_t *tw = md_calloc(1, sizeof(*tw));
    tw->tm = tm;
    tw->index = index;
    tw->loop = loop;
    tw->refresh = refresh;
    tw->arg = arg;
    tw->wall_offset_us = wall_offset();
    if (refresh && tm->metrics)
        refresh(tw, arg);
    md_timer_init(&tw->tick, on_tick, tw);
    md_timer_start(loop, &tw->tick, MD_TM_TICK_MS);
    return tw;
}

void md_tm_worker_free(md_tm_worker_t *tw)
{
    if (!tw)
        return;
    md_timer_stop(tw->loop, &tw->tick);
    md_accesslog_flush(tw->tm->log, tw->index);
    md_free(tw);
}

void md_tm_set_upstream(md_tm_worker_t *tw, size_t upstream, uint32_t open, uint32_t idle, uint64_t calls)
{
    if (tw)
        md_metrics_upstream(tw->tm->metrics, tw->index, upstream, open, idle, calls);
}

void md_tm_set_cache_store(md_tm_worker_t *tw, const md_metrics_store_t *st)
{
    if (tw)
        md_metrics_cache_store(tw->tm->metrics, st);
}

void md_tm_set_redis(md_tm_worker_t *tw, bool up, uint64_t errors, uint64_t timeouts, uint64_t refused)
{
    if (tw)
        md_metrics_redis(tw->tm->metrics, tw->index, up, errors, timeouts, refused);
}

void md_tm_set_purge_messages(md_tm_worker_t *tw, uint64_t applied, uint64_t ignored)
{
    if (tw)
        md_metrics_purge_messages(tw->tm->metrics, tw->index, applied, ignored);
}

void md_tm_set_jwks(md_tm_worker_t *tw, size_t provider, const md_metrics_fetches_t *f, uint64_t keys)
{
    if (tw)
        md_metrics_jwks(tw->tm->metrics, provider, f, keys);
}

void md_tm_set_oauth2(md_tm_worker_t *tw, size_t upstream, const md_metrics_fetches_t *f)
{
    if (tw)
        md_metrics_oauth2(tw->tm->metrics, upstream, f);
}

/* ---- trace context ---- */

/* The caller's traceparent: exactly one header, and valid. Two of them
 * cannot be told apart, so the spec treats that as none. */
static bool incoming_parent(const md_http_req_t *req, md_trace_parent_t *out)
{
    const md_header_t *h = NULL;
    for (size_t i = 0; i < req->num_headers; i++) {
        if (!md_header_name_is(&req->headers[i], "traceparent"))
            continue;
        if (h)
            return false;
        h = &req->headers[i];
    }
    return h && md_traceparent_parse(h->value, h->value_len, out) == MD_OK;
}

/* The caller's tracestate headers joined with ',' (as HTTP joins repeated
 * fields) into the request pool; empty when absent, too long or invalid. */
static md_str_t incoming_state(const md_http_req_t *req)
{
    char joined[MD_TRACESTATE_MAX];
    size_t len = 0, n = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const md_header_t *h = &req->headers[i];
        if (!md_header_name_is(h, "tracestate"))
            continue;
        if (len + (n > 0) + h->value_len > sizeof(joined))
            return (md_str_t){ NULL, 0 };
        if (n++ > 0)
            joined[len++] = ',';
        memcpy(joined + len, h->value, h->value_len);
        len += h->value_len;
    }
    if (n == 0 || !md_tracestate_valid(joined, len))
        return (md_str_t){ NULL, 0 };
    return (md_str_t){ md_pool_strndup(req->pool, joined, len), len };
}

static void trace_begin(const md_telemetry_t *tm, md_tm_trace_t *tr, md_http_req_t *req)
{
    md_trace_parent_t in;
    memset(tr, 0, sizeof(*tr));
    if (incoming_parent(req, &in)) {
        memcpy(tr->trace_id, in.trace_id, sizeof(tr->trace_id));
        memcpy(tr->parent_id, in.span_id, sizeof(tr->parent_id));
        tr->has_parent = true;
        tr->sampled = (in.flags & MD_TRACE_FLAG_SAMPLED) != 0; /* the caller decided */
        tr->tracestate = incoming_state(req);
    } else {
        md_trace_random_id(tr->trace_id, sizeof(tr->trace_id));
        tr->sampled = tm->sample_all || md_trace_random() < tm->sample_below;
    }
    md_trace_random_id(tr->span_id, sizeof(tr->span_id));
    tr->exported = tr->sampled && tm->otlp;
    if (tr->exported) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wall_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
        tr->wall_base_ns = wall_ns - (int64_t)md_now_us() * 1000;
    }
}

void md_tm_call_open(md_tm_req_t *t, size_t i)
{
    if (!t || i >= t->ncalls || t->calls[i].has_span)
        return;
    md_trace_random_id(t->calls[i].span_id, MD_SPAN_ID_BYTES);
    t->calls[i].has_span = true;
    if (t->trace.exported)
        t->calls[i].start_us = md_now_us();
}

size_t md_tm_traceparent(md_tm_req_t *t, size_t i, char out[MD_TRACEPARENT_LEN + 1])
{
    if (!t || i >= t->ncalls)
        return 0;
    md_tm_call_open(t, i);
    md_traceparent_format(out, t->trace.trace_id, t->calls[i].span_id,
                          t->trace.sampled ? MD_TRACE_FLAG_SAMPLED : 0);
    return MD_TRACEPARENT_LEN;
}

md_str_t md_tm_tracestate(const md_tm_req_t *t)
{
    return t ? t->trace.tracestate : (md_str_t){ NULL, 0 };
}

size_t md_tm_trace_headers(md_tm_req_t *t, size_t i, md_pool_t *pool, md_header_t *out,
                           const md_header_t *configured, size_t nconfigured)
{
    char tp[MD_TRACEPARENT_LEN + 1];
    size_t n = 0;
    /* A backend configured to send its own traceparent owns the context. */
    if (!t || i >= t->ncalls || md_header_find(configured, nconfigured, "traceparent"))
        return 0;
    if (md_tm_traceparent(t, i, tp))
        out[n++] = (md_header_t){ "traceparent", 11, md_pool_strndup(pool, tp, MD_TRACEPARENT_LEN),
                                  MD_TRACEPARENT_LEN };
    md_str_t ts = t->trace.tracestate;
    if (ts.len && !md_header_find(configured, nconfigured, "tracestate"))
        out[n++] = (md_header_t){ "tracestate", 10, ts.ptr, ts.len };
    return n;
}

/* ---- per request ---- */

md_tm_req_t *md_tm_begin(const md_telemetry_t *tm, md_http_req_t *req, int endpoint)
{
    if (!tm)
        return NULL;
    bool known = endpoint >= 0 && (size_t)endpoint < tm->cfg->nendpoints;
    size_t n = known ? tm->cfg->endpoints[endpoint].nbackends : 0;
    md_tm_req_t *t = md_pool_alloc(req->pool, sizeof(*t) + n * sizeof(md_tm_call_t));
    t->tm = tm;
    t->endpoint = known ? endpoint : -1;
    t->incomplete = false;
    t->auth = (md_str_t){ NULL, 0 };
    t->end_us = 0;
    t->ncalls = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        t->calls[i] = (md_tm_call_t){ .outcome = MD_TM_NOT_STARTED };
    trace_begin(tm, &t->trace, req);
    req->telemetry = t;
    return t;
}

/* Milliseconds with one decimal, rounded: 3149 us -> "3.1". */
static char *put_tenths(char *p, uint64_t us)
{
    uint64_t tenths = (us + 50) / 100;
    char tmp[24];
    int n = 0;
    uint64_t whole = tenths / 10;
    do
        tmp[n++] = (char)('0' + whole % 10);
    while ((whole /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    *p++ = '.';
    *p++ = (char)('0' + tenths % 10);
    return p;
}

char *md_tm_server_timing(md_tm_req_t *t, md_http_req_t *req, size_t *len)
{
    if (!t || !t->tm->server_timing)
        return NULL;
    const md_telemetry_t *tm = t->tm;
    t->end_us = md_now_us();
    size_t first = t->ncalls ? tm->ep_first[t->endpoint] : 0, cap = 48;
    for (size_t i = 0; i < t->ncalls; i++)
        cap += tm->be_token[first + i].len + 40;
    char *s = md_pool_alloc(req->pool, cap), *p = s;
    for (size_t i = 0; i < t->ncalls; i++) {
        if (t->calls[i].outcome >= MD_TM_NOUTCOMES)
            continue; /* not started, or cut short: no duration of its own */
        const md_str_t *name = &tm->be_token[first + i];
        memcpy(p, name->ptr, name->len);
        p += name->len;
        memcpy(p, ";dur=", 5);
        p = put_tenths(p + 5, t->calls[i].duration_us);
        memcpy(p, ", ", 2);
        p += 2;
    }
    memcpy(p, "total;dur=", 10);
    p = put_tenths(p + 10, t->end_us > req->start_us ? t->end_us - req->start_us : 0);
    *p = '\0';
    *len = (size_t)(p - s);
    return s;
}

static void log_request(md_tm_worker_t *tw, md_http_req_t *req, const md_http_done_t *done, const md_tm_req_t *t,
                        uint64_t end_us, uint64_t duration_us)
{
    const md_telemetry_t *tm = tw->tm;
    md_log_call_t calls[MD_TM_MAX_CALLS];
    size_t n = 0, first = t && t->ncalls ? tm->ep_first[t->endpoint] : 0;
    for (size_t i = 0; t && i < t->ncalls && n < MD_TM_MAX_CALLS; i++) {
        const md_tm_call_t *k = &t->calls[i];
        if (k->outcome == MD_TM_NOT_STARTED && !k->cache)
            continue;
        /* A part the cache answered alone has no call of its own: "ok". */
        const char *outcome = k->outcome == MD_TM_NOT_STARTED ? "ok" : md_tm_outcome_name((md_tm_outcome_t)k->outcome);
        calls[n++] = (md_log_call_t){ tm->be_json[first + i], k->status, outcome, k->duration_us,
                                      k->cache ? md_cs_outcome_name((md_cs_outcome_t)(k->cache - 1)) : NULL,
                                      k->bytes_in, k->bytes_out };
    }
    char client[64], trace_id[2 * MD_TRACE_ID_BYTES + 1], span_id[2 * MD_SPAN_ID_BYTES + 1];
    md_http_client_addr(req, client, sizeof(client));
    if (t) {
        *md_trace_hex(trace_id, t->trace.trace_id, MD_TRACE_ID_BYTES) = '\0';
        *md_trace_hex(span_id, t->trace.span_id, MD_SPAN_ID_BYTES) = '\0';
    }
    int64_t wall = (int64_t)end_us + tw->wall_offset_us;
    md_log_entry_t e = {
        .wall_us = wall > 0 ? (uint64_t)wall : 0,
        .method = req->method,
        .path = req->path,
        .status = done->status,
        .bytes = done->body_bytes,
        .duration_us = duration_us,
        .client = client,
        .trace_id = t ? trace_id : NULL,
        .span_id = t ? span_id : NULL,
        .endpoint_json = t && t->endpoint >= 0 ? tm->ep_json[t->endpoint] : (md_str_t){ NULL, 0 },
        .calls = calls,
        .ncalls = n,
        .incomplete = t && t->incomplete,
        .auth = t ? t->auth : (md_str_t){ NULL, 0 },
    };
    md_accesslog_write(tm->log, tw->index, &e);
}

/* ---- spans ---- */

static uint64_t wall_ns(const md_tm_trace_t *tr, uint64_t mono_us)
{
    int64_t ns = tr->wall_base_ns + (int64_t)mono_us * 1000;
    return ns > 0 ? (uint64_t)ns : 0;
}

/* server.address and server.port from the Host header ("h", "h:p",
 * "[v6]:p"); left empty when there is none. */
static void span_host(md_span_t *s, const md_http_req_t *req)
{
    const md_header_t *h = md_header_find(req->headers, req->num_headers, "Host");
    if (!h || h->value_len == 0)
        return;
    const char *v = h->value, *end = v + h->value_len, *colon = NULL;
    if (v[0] == '[') {
        const char *close = memchr(v, ']', h->value_len);
        if (!close)
            return;
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        v++;
        end = close;
    } else {
        colon = memrchr(v, ':', h->value_len);
        end = colon ? colon : end;
    }
    unsigned port = 0;
    const char *p = colon ? colon + 1 : NULL;
    for (; p && p < h->value + h->value_len && *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (unsigned)(*p - '0');
    if (p && p == h->value + h->value_len && port > 0 && port <= 65535)
        s->port = (uint16_t)port;
    s->host_len = (uint8_t)MD_MIN((size_t)(end - v), (size_t)MD_SPAN_HOST_MAX);
    memcpy(s->host, v, s->host_len);
}

static void server_span(md_span_t *s, const md_http_req_t *req, const md_http_done_t *done, const md_tm_req_t *t,
                        uint64_t end_us)
{
    const md_tm_trace_t *tr = &t->trace;
    memset(s, 0, offsetof(md_span_t, method));
    memcpy(s->trace_id, tr->trace_id, MD_TRACE_ID_BYTES);
    memcpy(s->span_id, tr->span_id, MD_SPAN_ID_BYTES);
    memcpy(s->parent_id, tr->parent_id, MD_SPAN_ID_BYTES);
    s->has_parent = tr->has_parent;
    s->kind = MD_SPAN_SERVER;
    s->status = done->status > 0 && done->status < 1000 ? (uint16_t)done->status : 0;
    s->endpoint = t->endpoint;
    s->backend = -1;
    s->start_ns = wall_ns(tr, req->start_us);
    s->end_ns = wall_ns(tr, end_us);
    if (req->method.len <= MD_SPAN_METHOD_MAX) {
        s->method_len = (uint8_t)req->method.len;
        memcpy(s->method, req->method.ptr, req->method.len);
    }
    s->path_len = (uint16_t)MD_MIN(req->path.len, (size_t)MD_SPAN_PATH_MAX);
    memcpy(s->path, req->path.ptr, s->path_len);
    span_host(s, req);
}

static void client_span(md_span_t *s, const md_http_req_t *req, const md_tm_req_t *t, size_t i, uint64_t end_us)
{
    const md_tm_call_t *k = &t->calls[i];
    memset(s, 0, offsetof(md_span_t, method));
    memcpy(s->trace_id, t->trace.trace_id, MD_TRACE_ID_BYTES);
    memcpy(s->span_id, k->span_id, MD_SPAN_ID_BYTES);
    memcpy(s->parent_id, t->trace.span_id, MD_SPAN_ID_BYTES);
    s->has_parent = true;
    s->kind = MD_SPAN_CLIENT;
    s->outcome = k->outcome == MD_TM_PENDING ? MD_TM_CANCELLED : k->outcome;
    s->status = k->status;
    s->endpoint = t->endpoint;
    s->backend = (int32_t)i;
    s->start_ns = wall_ns(&t->trace, k->start_us ? k->start_us : req->start_us);
    s->end_ns = wall_ns(&t->trace, k->end_us ? k->end_us : end_us); /* cut short: ends with the request */
}

/* The server span and one client span per call that was made, queued in
 * chunks so the stack stays small whatever the number of backends. */
static void export_spans(const md_telemetry_t *tm, const md_http_req_t *req, const md_http_done_t *done,
                         const md_tm_req_t *t, uint64_t end_us)
{
    md_span_t spans[SPAN_CHUNK];
    size_t n = 0;
    server_span(&spans[n++], req, done, t, end_us);
    for (size_t i = 0; i < t->ncalls; i++) {
        if (t->calls[i].outcome == MD_TM_NOT_STARTED || !t->calls[i].has_span)
            continue;
        if (n == SPAN_CHUNK) {
            md_otlp_push(tm->otlp, spans, n);
            n = 0;
        }
        client_span(&spans[n++], req, t, i, end_us);
    }
    md_otlp_push(tm->otlp, spans, n);
}

void md_tm_finish(md_tm_worker_t *tw, md_http_req_t *req, const md_http_done_t *done)
{
    if (!tw)
        return;
    const md_telemetry_t *tm = tw->tm;
    const md_tm_req_t *t = req->telemetry;
    int ep = t ? t->endpoint : -1;
    uint64_t end = t && t->end_us ? t->end_us : md_now_us();
    uint64_t dur = end > req->start_us ? end - req->start_us : 0;
    if (tm->metrics) {
        md_metrics_request(tm->metrics, tw->index, ep, req->method, done->status, dur);
        for (size_t i = 0; t && i < t->ncalls; i++) {
            if (t->calls[i].outcome < MD_TM_NOUTCOMES)
                md_metrics_call(tm->metrics, tw->index, ep, i, t->calls[i].outcome, t->calls[i].duration_us);
            if (t->calls[i].cache)
                md_metrics_cache(tm->metrics, tw->index, ep, i, t->calls[i].cache - 1);
        }
    }
    if (tm->log && md_accesslog_wants(tm->log, tw->index, done->status))
        log_request(tw, req, done, t, end, dur);
    if (t && t->trace.exported)
        export_spans(tm, req, done, t, end);
    if (tm->observer)
        tm->observer(tm->observer_arg, req, done, t, dur);
}

/* ---- requests the server refused ---- */

void md_tm_reject(md_tm_worker_t *tw, const md_http_reject_t *r)
{
    if (!tw || !r)
        return;
    const md_telemetry_t *tm = tw->tm;
    uint64_t dur = r->start_us && r->end_us > r->start_us ? r->end_us - r->start_us : 0;
    /* Never parsed is "" here and "other" in the metrics, never NULL. */
    md_str_t method = r->method.len ? r->method : MD_STR_LIT("");
    md_str_t path = r->path.len ? r->path : MD_STR_LIT("");
    if (tm->metrics)
        md_metrics_request(tm->metrics, tw->index, -1, method, r->status, dur);
    if (!tm->log || !md_accesslog_wants(tm->log, tw->index, r->status))
        return;
    int64_t wall = (int64_t)r->end_us + tw->wall_offset_us;
    md_log_entry_t e = {
        .wall_us = wall > 0 ? (uint64_t)wall : 0,
        .method = method,
        .path = path,
        .status = r->status,
        .bytes = r->body_bytes,
        .duration_us = dur,
        .client = r->client ? r->client : "",
        .reject = r->reason ? r->reason : "refused",
    };
    md_accesslog_write(tm->log, tw->index, &e);
}
