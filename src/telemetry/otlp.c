/*
 * otlp.c - the span queue, its exporter thread, the OTLP/HTTP encodings
 * (protobuf, the wire primitives in protobuf.c, and JSON) and the one
 * blocking POST per batch on a kept-alive connection (contract in otlp.h).
 *
 * Locking: `mu` guards the ring's indexes (head, len), `stop` and the
 * wake-up; it is held only to copy records in, or to move the indexes.
 * The exporter reads a batch in place, outside the lock: its records stay
 * counted in `len` (so no worker writes over them) until it has encoded
 * them, then it releases them and sends. The exporter's own state (body
 * buffer, resolved address, kept connection) is touched by one thread at
 * a time: the exporter, or whoever calls md_otlp_flush when none runs.
 */
#include "telemetry/otlp.h"

#include "core/alloc.h"
#include "core/loop.h"
#include "http/parser.h"
#include "json/write.h"
#include "telemetry/protobuf.h"
#include "telemetry/record.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MD_VERSION
#define MD_VERSION "0.0.0"
#endif

/* Worst case of one encoded span: a 2 KiB route escaped (up to 6 bytes a
 * byte) twice, and every byte of path and host escaped as \u00XX. Real
 * spans take ~500 bytes. */
#define SPAN_JSON_MAX (32 * 1024)
/* The same in protobuf: the route twice as it is, path and host bytes
 * that are not UTF-8 tripled (U+FFFD), tags and lengths. Real spans take
 * ~200 bytes. */
#define SPAN_PB_MAX (8 * 1024)

#define OTLP_IDLE_MS 4000       /* a kept connection idle longer is not reused */
#define OTLP_BODY_MAX 65536     /* a longer answer body is not read: the connection closes */
#define OTLP_HEADERS_MAX 32     /* answer headers parsed to judge keep-alive */
#define OTLP_TAIL_MS 100        /* the answer's head and body after its status line */

/* A backend's span strings, prepared at startup for the protocol in use
 * (JSON-escaped without quotes, or valid UTF-8). */
typedef struct otlp_backend {
    md_str_t name, method, host;
    uint16_t port;
} otlp_backend_t;

struct md_otlp {
    const md_config_t *cfg;
    const md_telemetry_conf_t *tc;
    bool pb;                    /* otlp_protocol: http/protobuf (else http/json) */
    md_str_t service;           /* prepared once, like the tables below */
    md_str_t *route;            /* endpoint -> its path */
    size_t *ep_first;           /* endpoint -> global index of its first backend */
    otlp_backend_t *be;
    size_t nbackends;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* on CLOCK_MONOTONIC */
    md_span_t *ring;
    size_t cap, head, len;
    bool stop;
    bool started;
    pthread_t thread;
    atomic_uint_least64_t exported, dropped, failures;
    /* The exporter's own (one thread at a time). */
    md_buf_t body;
    md_buf_t req_head;          /* the POST head */
    struct sockaddr_storage addr;
    socklen_t addrlen;          /* 0: resolve before the next connect */
    int fd;                     /* the kept connection, -1 when none */
    uint64_t idle_since_us;     /* when its last answer was read */
};

/* ---- make / free ---- */

static void build_tables(md_otlp_t *x);
static void free_tables(md_otlp_t *x);

md_otlp_t *md_otlp_new(const md_config_t *cfg)
{
    const md_telemetry_conf_t *tc = &cfg->telemetry;
    if (!tc->otlp_endpoint || !tc->otlp_host || tc->otlp_queue == 0 || tc->otlp_batch == 0)
        return NULL;
    md_otlp_t *x = md_calloc(1, sizeof(*x));
    x->cfg = cfg;
    x->tc = tc;
    x->pb = tc->otlp_protocol == MD_OTLP_PROTOBUF;
    x->fd = -1;
    x->cap = tc->otlp_queue;
    /* calloc'd pages are not resident until spans reach them. */
    x->ring = md_calloc(x->cap, sizeof(*x->ring));
    build_tables(x);
    md_buf_init(&x->body, (size_t)tc->otlp_batch * (x->pb ? SPAN_PB_MAX : SPAN_JSON_MAX) + 4096);
    md_buf_init(&x->req_head, 4096 + MD_SPAN_HOST_MAX);
    pthread_mutex_init(&x->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&x->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&x->exported, 0);
    atomic_init(&x->dropped, 0);
    atomic_init(&x->failures, 0);
    return x;
}

static void *exporter_main(void *arg);
static void conn_close(md_otlp_t *x);

int md_otlp_start(md_otlp_t *x, char *err, size_t errlen)
{
    if (!x || x->started)
        return MD_OK;
    int rc = pthread_create(&x->thread, NULL, exporter_main, x);
    if (rc != 0) {
        md_seterr(err, errlen, "tracing: cannot start the exporter thread: %s", strerror(rc));
        return MD_ERR;
    }
    x->started = true;
    return MD_OK;
}

void md_otlp_free(md_otlp_t *x)
{
    if (!x)
        return;
    if (x->started) {
        pthread_mutex_lock(&x->mu);
        x->stop = true;
        pthread_cond_signal(&x->cv);
        pthread_mutex_unlock(&x->mu);
        pthread_join(x->thread, NULL);
    }
    atomic_fetch_add(&x->dropped, x->len);
    conn_close(x);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    md_buf_free(&x->body);
    md_buf_free(&x->req_head);
    md_free(x->ring);
    free_tables(x);
    md_free(x);
}

/* ---- the queue ---- */

/* Copies the fixed fields and only the used bytes of the strings: a
 * client span is a fifth of the record, and every byte is memory traffic
 * under the lock. */
static void copy_span(md_span_t *dst, const md_span_t *src)
{
    memcpy(dst, src, offsetof(md_span_t, method));
    memcpy(dst->method, src->method, MD_MIN(src->method_len, MD_SPAN_METHOD_MAX));
    memcpy(dst->host, src->host, MD_MIN(src->host_len, MD_SPAN_HOST_MAX));
    memcpy(dst->path, src->path, MD_MIN(src->path_len, MD_SPAN_PATH_MAX));
}

void md_otlp_push(md_otlp_t *x, const md_span_t *spans, size_t n)
{
    if (!x || n == 0)
        return;
    pthread_mutex_lock(&x->mu);
    size_t k = MD_MIN(n, x->cap - x->len);
    size_t tail = (x->head + x->len) % x->cap;
    for (size_t i = 0; i < k; i++, tail = tail + 1 == x->cap ? 0 : tail + 1)
        copy_span(&x->ring[tail], &spans[i]);
    bool crossed = x->len < x->tc->otlp_batch && x->len + k >= x->tc->otlp_batch;
    x->len += k;
    if (crossed)
        pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    if (k < n)
        atomic_fetch_add_explicit(&x->dropped, n - k, memory_order_relaxed);
}

/* The oldest records, up to a batch: ring[head .. head+k) (wrapping).
 * They stay queued until release(); mu held. */
static size_t peek(const md_otlp_t *x)
{
    return MD_MIN(x->len, (size_t)MD_MIN(x->tc->otlp_batch, x->tc->otlp_queue));
}

/* Frees the k oldest records for the workers. */
static void release(md_otlp_t *x, size_t k)
{
    pthread_mutex_lock(&x->mu);
    x->len -= k;
    /* Empty: start over at slot 0, so a big queue that keeps up only ever
     * touches (and keeps resident) its first pages. */
    x->head = x->len ? (x->head + k) % x->cap : 0;
    pthread_mutex_unlock(&x->mu);
}

size_t md_otlp_queued(md_otlp_t *x)
{
    if (!x)
        return 0;
    pthread_mutex_lock(&x->mu);
    size_t n = x->len;
    pthread_mutex_unlock(&x->mu);
    return n;
}

void md_otlp_get_stats(const md_otlp_t *x, md_otlp_stats_t *st)
{
    *st = (md_otlp_stats_t){ 0 };
    if (!x)
        return;
    st->exported = atomic_load_explicit(&x->exported, memory_order_relaxed);
    st->dropped = atomic_load_explicit(&x->dropped, memory_order_relaxed);
    st->failures = atomic_load_explicit(&x->failures, memory_order_relaxed);
}

/* ---- encoding ---- */

/* Both encodings write the same span model (span_view_t): what a span's
 * name, kind, attributes and status are is decided once, in
 * server_view/client_view, and only the wire format differs.
 *
 * Strings come in two kinds. Those from the config (routes, backend
 * names, methods, upstream hosts, service.name) are prepared once at
 * startup for the protocol in use: JSON-escaped, or made valid UTF-8 for
 * protobuf; they are copied as they are. The two a client sent (path,
 * Host) go through the JSON writer or md_pb_put_utf8 per span. */

/* Field numbers, from opentelemetry-proto: collector/trace/v1/
 * trace_service.proto, trace/v1/trace.proto, common/v1/common.proto,
 * resource/v1/resource.proto. */
enum {
    PB_REQ_RESOURCE_SPANS = 1,  /* ExportTraceServiceRequest.resource_spans */
    PB_RS_RESOURCE = 1,         /* ResourceSpans.resource */
    PB_RS_SCOPE_SPANS = 2,      /* ResourceSpans.scope_spans */
    PB_RESOURCE_ATTRIBUTES = 1, /* Resource.attributes */
    PB_SS_SCOPE = 1,            /* ScopeSpans.scope */
    PB_SS_SPANS = 2,            /* ScopeSpans.spans */
    PB_SCOPE_NAME = 1,          /* InstrumentationScope.name */
    PB_SCOPE_VERSION = 2,       /* InstrumentationScope.version */
    PB_SPAN_TRACE_ID = 1,       /* bytes */
    PB_SPAN_SPAN_ID = 2,        /* bytes */
    PB_SPAN_PARENT_SPAN_ID = 4, /* bytes */
    PB_SPAN_NAME = 5,           /* string */
    PB_SPAN_KIND = 6,           /* enum SpanKind */
    PB_SPAN_START = 7,          /* fixed64 start_time_unix_nano */
    PB_SPAN_END = 8,            /* fixed64 end_time_unix_nano */
    PB_SPAN_ATTRIBUTES = 9,     /* repeated KeyValue */
    PB_SPAN_STATUS = 15,        /* Status */
    PB_STATUS_CODE = 3,         /* enum StatusCode */
    PB_KV_KEY = 1,              /* KeyValue.key */
    PB_KV_VALUE = 2,            /* KeyValue.value (AnyValue) */
    PB_ANY_STRING = 1,          /* AnyValue.string_value */
    PB_ANY_INT = 3,             /* AnyValue.int_value (int64) */
};

#define STATUS_CODE_ERROR 2     /* Status.StatusCode STATUS_CODE_ERROR */
#define SPAN_ATTRS_MAX 8        /* a server span has at most 7 */

typedef enum {
    ATTR_READY,                 /* a config string, prepared for the protocol */
    ATTR_CLIENT,                /* bytes a client sent: escaped/cleaned per span */
    ATTR_INT,
} attr_kind_t;

typedef struct span_attr {
    md_str_t key;
    attr_kind_t kind;
    md_str_t s;                 /* ATTR_READY, ATTR_CLIENT */
    uint64_t i;                 /* ATTR_INT */
    size_t str_len, any_len, kv_len; /* protobuf: measured by attr_len */
} span_attr_t;

/* One span as both encodings see it; ids and times are read from the
 * md_span_t itself. */
typedef struct span_view {
    md_str_t name;
    md_str_t route;             /* ptr != NULL: the name is "<name> <route>" */
    uint8_t kind;
    bool error;                 /* status {code: ERROR} */
    size_t nattrs;
    span_attr_t attrs[SPAN_ATTRS_MAX];
    char code[8];               /* the digits of an error.type that is a status code */
    size_t name_len;            /* protobuf: measured by span_len */
} span_view_t;

#define TRY(x)                                                                                                 \
    do {                                                                                                       \
        int rc_ = (x);                                                                                         \
        if (rc_ != MD_OK)                                                                                      \
            return rc_;                                                                                        \
    } while (0)

/* JSON string content of s without the quotes (the caller adds them), in
 * a new allocation. */
static md_str_t escaped(const char *s)
{
    md_buf_t b;
    md_buf_init(&b, 0);
    md_json_write_string(&b, s, strlen(s));
    size_t len = 0;
    char *p = md_buf_detach(&b, &len);
    memmove(p, p + 1, len - 2);
    p[len - 2] = '\0';
    return (md_str_t){ p, len - 2 };
}

/* s as valid UTF-8 (what protobuf strings must be), in a new allocation.
 * The YAML loader already insists on UTF-8; this only makes sure. */
static md_str_t utf8_clean(const char *s)
{
    size_t n = strlen(s), len = md_pb_utf8_len(s, n);
    char *p = md_malloc(len + 1);
    *md_pb_put_utf8(p, s, n) = '\0';
    return (md_str_t){ p, len };
}

/* A config string prepared for the configured protocol. */
static md_str_t ready(const md_otlp_t *x, const char *s)
{
    return x->pb ? utf8_clean(s) : escaped(s);
}

static void build_tables(md_otlp_t *x)
{
    const md_config_t *cfg = x->cfg;
    x->service = ready(x, x->tc->service_name ? x->tc->service_name : "medley");
    x->ep_first = md_calloc(cfg->nendpoints + 1, sizeof(*x->ep_first));
    x->route = md_calloc(cfg->nendpoints + 1, sizeof(*x->route));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        x->ep_first[e] = x->nbackends;
        x->nbackends += cfg->endpoints[e].nbackends;
        x->route[e] = ready(x, cfg->endpoints[e].path);
    }
    x->be = md_calloc(x->nbackends + 1, sizeof(*x->be));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        for (size_t i = 0; i < cfg->endpoints[e].nbackends; i++) {
            const md_backend_conf_t *k = &cfg->endpoints[e].backends[i];
            otlp_backend_t *b = &x->be[x->ep_first[e] + i];
            b->name = ready(x, k->name ? k->name : "backend");
            b->method = ready(x, k->method ? k->method : "GET");
            b->host = ready(x, k->up && k->up->host ? k->up->host : "");
            b->port = k->up ? k->up->port : 0;
        }
    }
}

static void free_tables(md_otlp_t *x)
{
    md_free((char *)x->service.ptr);
    for (size_t e = 0; e < x->cfg->nendpoints; e++)
        md_free((char *)x->route[e].ptr);
    for (size_t g = 0; g < x->nbackends; g++) {
        md_free((char *)x->be[g].name.ptr);
        md_free((char *)x->be[g].method.ptr);
        md_free((char *)x->be[g].host.ptr);
    }
    md_free(x->route);
    md_free(x->be);
    md_free(x->ep_first);
}

/* The methods semantic conventions know; anything else is "_OTHER". */
static md_str_t known_method(const md_span_t *s)
{
    static const md_str_t methods[] = { MD_STR_LIT("GET"),     MD_STR_LIT("HEAD"),    MD_STR_LIT("POST"),
                                        MD_STR_LIT("PUT"),     MD_STR_LIT("DELETE"),  MD_STR_LIT("CONNECT"),
                                        MD_STR_LIT("OPTIONS"), MD_STR_LIT("TRACE"),   MD_STR_LIT("PATCH") };
    for (size_t i = 0; i < MD_ARRAY_LEN(methods); i++)
        if (methods[i].len == s->method_len && memcmp(methods[i].ptr, s->method, s->method_len) == 0)
            return methods[i];
    return MD_STR_LIT("_OTHER");
}

static const md_str_t *route_of(const md_otlp_t *x, const md_span_t *s)
{
    if (s->endpoint < 0 || (size_t)s->endpoint >= x->cfg->nendpoints)
        return NULL;
    return &x->route[s->endpoint];
}

static const otlp_backend_t *backend_of(const md_otlp_t *x, const md_span_t *s)
{
    if (!route_of(x, s) || s->backend < 0 || (size_t)s->backend >= x->cfg->endpoints[s->endpoint].nbackends)
        return NULL;
    return &x->be[x->ep_first[s->endpoint] + (size_t)s->backend];
}

/* Literal keys and values below are ASCII without anything to escape:
 * ready for either protocol as they are. A view holds at most 7; the
 * bound is checked all the same. */
static void add_str(span_view_t *v, md_str_t key, attr_kind_t kind, md_str_t val)
{
    if (v->nattrs < SPAN_ATTRS_MAX)
        v->attrs[v->nattrs++] = (span_attr_t){ .key = key, .kind = kind, .s = val };
}

static void add_int(span_view_t *v, md_str_t key, uint64_t val)
{
    if (v->nattrs < SPAN_ATTRS_MAX)
        v->attrs[v->nattrs++] = (span_attr_t){ .key = key, .kind = ATTR_INT, .i = val };
}

static void add_status_code(span_view_t *v, const md_span_t *s)
{
    char *e = md_put_u64(v->code, s->status);
    add_str(v, MD_STR_LIT("error.type"), ATTR_READY, (md_str_t){ v->code, (size_t)(e - v->code) });
}

/* Server span: "GET /home" (method and route; "HTTP" for an unknown
 * method, no route when none matched: names stay few). */
static void server_view(const md_otlp_t *x, const md_span_t *s, span_view_t *v)
{
    const md_str_t *route = route_of(x, s);
    md_str_t method = known_method(s);
    v->name = method.ptr[0] == '_' ? MD_STR_LIT("HTTP") : method;
    v->route = route ? *route : (md_str_t){ NULL, 0 };
    v->kind = MD_SPAN_SERVER;
    add_str(v, MD_STR_LIT("http.request.method"), ATTR_READY, method);
    md_str_t path = { s->path, MD_MIN(s->path_len, MD_SPAN_PATH_MAX) };
    md_str_t host = { s->host, MD_MIN(s->host_len, MD_SPAN_HOST_MAX) };
    add_str(v, MD_STR_LIT("url.path"), ATTR_CLIENT, path);
    if (route)
        add_str(v, MD_STR_LIT("http.route"), ATTR_READY, *route);
    if (s->status)
        add_int(v, MD_STR_LIT("http.response.status_code"), s->status);
    if (s->host_len)
        add_str(v, MD_STR_LIT("server.address"), ATTR_CLIENT, host);
    if (s->port)
        add_int(v, MD_STR_LIT("server.port"), s->port);
    v->error = s->status >= 500;
    if (v->error)
        add_status_code(v, s);
}

/* Client span: named for the backend, as in Server-Timing and the log;
 * everything but ids, times and status comes from the config. */
static void client_view(const md_otlp_t *x, const md_span_t *s, span_view_t *v)
{
    static const otlp_backend_t unknown = { MD_STR_LIT("backend"), MD_STR_LIT("GET"), { NULL, 0 }, 0 };
    const otlp_backend_t *k = backend_of(x, s);
    k = k ? k : &unknown;
    v->name = k->name;
    v->route = (md_str_t){ NULL, 0 };
    v->kind = MD_SPAN_CLIENT;
    add_str(v, MD_STR_LIT("http.request.method"), ATTR_READY, k->method);
    if (k->host.len) {
        add_str(v, MD_STR_LIT("server.address"), ATTR_READY, k->host);
        add_int(v, MD_STR_LIT("server.port"), k->port);
    }
    if (s->status)
        add_int(v, MD_STR_LIT("http.response.status_code"), s->status);
    v->error = s->outcome != MD_TM_OK || s->status >= 400;
    if (s->outcome != MD_TM_OK) {
        const char *o = md_tm_outcome_name((md_tm_outcome_t)s->outcome);
        add_str(v, MD_STR_LIT("error.type"), ATTR_READY, (md_str_t){ o, strlen(o) });
    } else if (v->error) {
        add_status_code(v, s);
    }
}

static void span_view(const md_otlp_t *x, const md_span_t *s, span_view_t *v)
{
    v->nattrs = 0;
    if (s->kind == MD_SPAN_CLIENT)
        client_view(x, s, v);
    else
        server_view(x, s, v);
}

/* A clock step never makes a negative duration. */
static uint64_t end_of(const md_span_t *s)
{
    return s->end_ns >= s->start_ns ? s->end_ns : s->start_ns;
}

/* ---- JSON ---- */

/* Encoding writes into space reserved in the body buffer. RAW_SLACK
 * bounds every raw stretch beyond the strings it copies: keys, hex ids,
 * numbers and punctuation. The longest is a client span's: ids 107, name
 * and kind 35, five attributes 56 + 52 + 51 + 65 + 60 (20-digit numbers
 * counted), tail 106: 532 bytes. Twice that leaves room to grow. */
#define RAW_SLACK 1024

#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static char *put_str(char *p, md_str_t s)
{
    if (s.len)
        memcpy(p, s.ptr, s.len);
    return p + s.len;
}

/* Reserves room for a raw stretch of at most n bytes; NULL when the
 * buffer's cap is reached. */
static char *raw_begin(md_buf_t *b, size_t n)
{
    return md_buf_reserve(b, n) == MD_OK ? md_buf_tail(b) : NULL;
}

static void raw_end(md_buf_t *b, const char *p)
{
    md_buf_commit(b, (size_t)(p - md_buf_tail(b)));
}

static char *put_quoted_u64(char *p, uint64_t v)
{
    *p++ = '"';
    p = md_put_u64(p, v);
    *p++ = '"';
    return p;
}

/* {"key":"K","value":{"stringValue": or {"intValue": (',' first unless
 * first). The caller writes the value and closes with "}}". */
static char *attr_open(char *p, bool first, md_str_t key, bool is_int)
{
    p = first ? PUT(p, "{\"key\":\"") : PUT(p, ",{\"key\":\"");
    p = put_str(p, key);
    return is_int ? PUT(p, "\",\"value\":{\"intValue\":") : PUT(p, "\",\"value\":{\"stringValue\":");
}

static char *put_ids(char *p, const md_span_t *s)
{
    p = PUT(p, "{\"traceId\":\"");
    p = md_trace_hex(p, s->trace_id, MD_TRACE_ID_BYTES);
    p = PUT(p, "\",\"spanId\":\"");
    p = md_trace_hex(p, s->span_id, MD_SPAN_ID_BYTES);
    *p++ = '"';
    if (s->has_parent) {
        p = PUT(p, ",\"parentSpanId\":\"");
        p = md_trace_hex(p, s->parent_id, MD_SPAN_ID_BYTES);
        *p++ = '"';
    }
    return p;
}

/* ],"startTimeUnixNano":"..","endTimeUnixNano":"..",["status":{"code":2}]} */
static char *put_tail(char *p, const md_span_t *s, bool error)
{
    p = PUT(p, "],\"startTimeUnixNano\":");
    p = put_quoted_u64(p, s->start_ns);
    p = PUT(p, ",\"endTimeUnixNano\":");
    p = put_quoted_u64(p, end_of(s));
    if (error)
        p = PUT(p, ",\"status\":{\"code\":2}");
    *p++ = '}';
    return p;
}

static int span_json(const span_view_t *v, const md_span_t *s, md_buf_t *b)
{
    size_t need = RAW_SLACK + v->name.len + v->route.len;
    for (size_t i = 0; i < v->nattrs; i++)
        need += v->attrs[i].kind == ATTR_READY ? v->attrs[i].s.len : 0;
    char *p = raw_begin(b, need);
    if (!p)
        return MD_ETOOBIG;
    p = put_ids(p, s);
    p = PUT(p, ",\"name\":\"");
    p = put_str(p, v->name);
    if (v->route.ptr) {
        *p++ = ' ';
        p = put_str(p, v->route);
    }
    p = v->kind == MD_SPAN_CLIENT ? PUT(p, "\",\"kind\":3,\"attributes\":[") : PUT(p, "\",\"kind\":2,\"attributes\":[");
    for (size_t i = 0; i < v->nattrs; i++) {
        const span_attr_t *a = &v->attrs[i];
        p = attr_open(p, i == 0, a->key, a->kind == ATTR_INT);
        if (a->kind == ATTR_INT) {
            p = put_quoted_u64(p, a->i);
        } else if (a->kind == ATTR_READY) {
            *p++ = '"';
            p = put_str(p, a->s);
            *p++ = '"';
        } else {
            raw_end(b, p);
            TRY(md_json_write_string(b, a->s.ptr, a->s.len));
            if (!(p = raw_begin(b, need)))
                return MD_ETOOBIG;
        }
        p = PUT(p, "}}");
    }
    p = put_tail(p, s, v->error);
    raw_end(b, p);
    return MD_OK;
}

/* spans[0..n) then more[0..nmore): a batch that wraps around the ring. */
static int encode_json(const md_otlp_t *x, const md_span_t *spans, size_t n, const md_span_t *more, size_t nmore,
                       md_buf_t *out)
{
    char *p = raw_begin(out, RAW_SLACK + x->service.len);
    if (!p)
        return MD_ETOOBIG;
    p = PUT(p, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    p = attr_open(p, true, MD_STR_LIT("service.name"), false);
    *p++ = '"';
    p = put_str(p, x->service);
    p = PUT(p, "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"medley\",\"version\":\"" MD_VERSION "\"},\"spans\":[");
    raw_end(out, p);
    span_view_t v;
    for (size_t i = 0; i < n + nmore; i++) {
        const md_span_t *s = i < n ? &spans[i] : &more[i - n];
        if (i)
            TRY(md_buf_append_char(out, ','));
        span_view(x, s, &v);
        TRY(span_json(&v, s, out));
    }
    return md_buf_append(out, "]}]}]}", 6);
}

/* ---- protobuf ---- */

/* A span is measured first (span_len), then written in one reserved
 * stretch: no nested message is moved and no field checks the buffer.
 * Every field number here is under 16, so each tag is one byte. */
#define TAG(field, wt) ((char)((field) << 3 | (wt)))
_Static_assert(PB_SPAN_STATUS < 16, "one-byte tags");

/* Bytes of a length-delimited field with n content bytes. */
static size_t len_field(size_t n)
{
    return 1 + md_pb_varint_len(n) + n;
}

static char *put_len(char *p, char tag, size_t n)
{
    *p++ = tag;
    return md_pb_put_varint(p, n);
}

static char *put_bytes(char *p, char tag, const void *s, size_t n)
{
    p = put_len(p, tag, n);
    if (n)
        memcpy(p, s, n);
    return p + n;
}

/* KeyValue content bytes of a, noting the parts' sizes in it. */
static size_t attr_len(span_attr_t *a)
{
    if (a->kind == ATTR_INT) {
        a->any_len = 1 + md_pb_varint_len(a->i);
    } else {
        a->str_len = a->kind == ATTR_CLIENT ? md_pb_utf8_len(a->s.ptr, a->s.len) : a->s.len;
        a->any_len = len_field(a->str_len);
    }
    return a->kv_len = len_field(a->key.len) + len_field(a->any_len);
}

/* The KeyValue a (measured by attr_len) as a field with this tag. */
static char *put_attr(char *p, char tag, const span_attr_t *a)
{
    p = put_len(p, tag, a->kv_len);
    p = put_bytes(p, TAG(PB_KV_KEY, MD_PB_LEN), a->key.ptr, a->key.len);
    p = put_len(p, TAG(PB_KV_VALUE, MD_PB_LEN), a->any_len);
    if (a->kind == ATTR_INT) {
        *p++ = TAG(PB_ANY_INT, MD_PB_VARINT);
        return md_pb_put_varint(p, a->i);
    }
    if (a->kind == ATTR_CLIENT)
        return md_pb_put_utf8(put_len(p, TAG(PB_ANY_STRING, MD_PB_LEN), a->str_len), a->s.ptr, a->s.len);
    return put_bytes(p, TAG(PB_ANY_STRING, MD_PB_LEN), a->s.ptr, a->s.len);
}

/* Span content bytes; notes the sizes of its parts in v. */
static size_t span_len(span_view_t *v, const md_span_t *s)
{
    size_t n = len_field(MD_TRACE_ID_BYTES) + len_field(MD_SPAN_ID_BYTES) * (s->has_parent ? 2 : 1);
    v->name_len = v->name.len + (v->route.ptr ? 1 + v->route.len : 0);
    n += len_field(v->name_len) + 2 + 2 * 9; /* name, kind, start and end */
    for (size_t i = 0; i < v->nattrs; i++)
        n += len_field(attr_len(&v->attrs[i]));
    return n + (v->error ? 4 : 0); /* status { code } */
}

/* One ScopeSpans.spans entry. Fields in field-number order, as protobuf
 * serializers write them; proto3 defaults (no parent, no status) are left
 * out, as the JSON leaves them out. */
static int span_pb(span_view_t *v, const md_span_t *s, md_buf_t *b)
{
    size_t len = span_len(v, s), total = len_field(len);
    /* The config's limits keep a span well under SPAN_PB_MAX; checked so
     * that no span can make a batch outgrow the body's bound. */
    if (len > SPAN_PB_MAX || md_buf_reserve(b, total) != MD_OK)
        return MD_ETOOBIG;
    char *p = md_buf_tail(b);
    p = put_len(p, TAG(PB_SS_SPANS, MD_PB_LEN), len);
    p = put_bytes(p, TAG(PB_SPAN_TRACE_ID, MD_PB_LEN), s->trace_id, MD_TRACE_ID_BYTES);
    p = put_bytes(p, TAG(PB_SPAN_SPAN_ID, MD_PB_LEN), s->span_id, MD_SPAN_ID_BYTES);
    if (s->has_parent)
        p = put_bytes(p, TAG(PB_SPAN_PARENT_SPAN_ID, MD_PB_LEN), s->parent_id, MD_SPAN_ID_BYTES);
    p = put_str(put_len(p, TAG(PB_SPAN_NAME, MD_PB_LEN), v->name_len), v->name);
    if (v->route.ptr) {
        *p++ = ' ';
        p = put_str(p, v->route);
    }
    *p++ = TAG(PB_SPAN_KIND, MD_PB_VARINT);
    *p++ = (char)v->kind;
    *p++ = TAG(PB_SPAN_START, MD_PB_I64);
    p = md_pb_put_fixed64(p, s->start_ns);
    *p++ = TAG(PB_SPAN_END, MD_PB_I64);
    p = md_pb_put_fixed64(p, end_of(s));
    for (size_t i = 0; i < v->nattrs; i++)
        p = put_attr(p, TAG(PB_SPAN_ATTRIBUTES, MD_PB_LEN), &v->attrs[i]);
    if (v->error) {
        *p++ = TAG(PB_SPAN_STATUS, MD_PB_LEN);
        *p++ = 2;
        *p++ = TAG(PB_STATUS_CODE, MD_PB_VARINT);
        *p++ = STATUS_CODE_ERROR;
    }
    raw_end(b, p);
    return MD_OK;
}

/* resource_spans { resource { service.name }, scope_spans { scope, spans... } }:
 * one ResourceSpans and one ScopeSpans, as in the JSON. The two outer
 * lengths are known only at the end: md_pb_close moves the batch up to
 * fit them (twice per batch, a few microseconds). */
static int encode_pb(const md_otlp_t *x, const md_span_t *spans, size_t n, const md_span_t *more, size_t nmore,
                     md_buf_t *out)
{
    size_t rs, res, ss, scope;
    TRY(md_pb_open(out, PB_REQ_RESOURCE_SPANS, &rs));
    TRY(md_pb_open(out, PB_RS_RESOURCE, &res));
    span_attr_t service = { .key = MD_STR_LIT("service.name"), .kind = ATTR_READY, .s = x->service };
    size_t kv = len_field(attr_len(&service));
    TRY(md_buf_reserve(out, kv));
    raw_end(out, put_attr(md_buf_tail(out), TAG(PB_RESOURCE_ATTRIBUTES, MD_PB_LEN), &service));
    TRY(md_pb_close(out, res));
    TRY(md_pb_open(out, PB_RS_SCOPE_SPANS, &ss));
    TRY(md_pb_open(out, PB_SS_SCOPE, &scope));
    TRY(md_pb_bytes(out, PB_SCOPE_NAME, "medley", 6));
    TRY(md_pb_bytes(out, PB_SCOPE_VERSION, MD_VERSION, sizeof(MD_VERSION) - 1));
    TRY(md_pb_close(out, scope));
    span_view_t v;
    for (size_t i = 0; i < n + nmore; i++) {
        const md_span_t *s = i < n ? &spans[i] : &more[i - n];
        span_view(x, s, &v);
        TRY(span_pb(&v, s, out));
    }
    TRY(md_pb_close(out, ss));
    return md_pb_close(out, rs);
}

/* The whole request in the configured protocol; out is cut back to where
 * it was on failure. */
static int encode_all(const md_otlp_t *x, const md_span_t *spans, size_t n, const md_span_t *more, size_t nmore,
                      md_buf_t *out)
{
    size_t start = out->len;
    int rc = x->pb ? encode_pb(x, spans, n, more, nmore, out) : encode_json(x, spans, n, more, nmore, out);
    if (rc != MD_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

int md_otlp_encode(const md_otlp_t *x, const md_span_t *spans, size_t n, md_buf_t *out)
{
    return encode_all(x, spans, n, NULL, 0, out);
}

/* ---- one POST ---- */

/* Milliseconds left before deadline_us, rounded up; 0 once it passed. */
static int left_ms(uint64_t deadline_us)
{
    uint64_t now = md_now_us();
    return now >= deadline_us ? 0 : (int)MD_MIN((deadline_us - now + 999) / 1000, (uint64_t)INT32_MAX);
}

static int wait_fd(int fd, short events, uint64_t deadline_us)
{
    for (;;) {
        int ms = left_ms(deadline_us);
        if (ms == 0)
            return MD_ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, ms);
        if (r > 0)
            return MD_OK; /* readiness or an error: the next call says which */
        if (r < 0 && errno != EINTR)
            return MD_ERESET;
    }
}

/* Resolves the collector once; a failed connect resolves it again. The
 * lookup itself is not under the deadline (getaddrinfo has none); a
 * numeric address never waits. */
static int resolve(md_otlp_t *x)
{
    if (x->addrlen)
        return MD_OK;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)x->tc->otlp_port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
    if (getaddrinfo(x->tc->otlp_host, port, &hints, &res) != 0 || !res)
        return MD_ECONNECT;
    if (res->ai_addrlen <= sizeof(x->addr)) {
        memcpy(&x->addr, res->ai_addr, res->ai_addrlen);
        x->addrlen = res->ai_addrlen;
    }
    freeaddrinfo(res);
    return x->addrlen ? MD_OK : MD_ECONNECT;
}

static int connect_to(md_otlp_t *x, uint64_t deadline_us, int *out)
{
    TRY(resolve(x));
    int fd = socket(x->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return MD_ECONNECT;
    int rc = MD_OK;
    if (connect(fd, (const struct sockaddr *)&x->addr, x->addrlen) != 0) {
        rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline_us) : MD_ECONNECT;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (rc == MD_OK && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0))
            rc = MD_ECONNECT;
    }
    if (rc != MD_OK) {
        close(fd);
        if (rc == MD_ECONNECT)
            x->addrlen = 0;
        return rc;
    }
    *out = fd;
    return MD_OK;
}

static int send_all(int fd, struct iovec *iov, int niov, uint64_t deadline_us)
{
    while (niov > 0) {
        struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return MD_ERESET;
            TRY(wait_fd(fd, POLLOUT, deadline_us));
            continue;
        }
        size_t left = (size_t)n;
        while (niov > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            niov--;
        }
        if (niov > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return MD_OK;
}

/* "HTTP/1.x NNN" at the start of what the collector sent. */
static int parse_status(const char *p, size_t n, int *status)
{
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ')
        return MD_EINVAL;
    int v = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return MD_EINVAL;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 100 || (n > 12 && p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
        return MD_EINVAL;
    *status = v;
    return MD_OK;
}

/* Reads and drops the rest of a Content-Length body of which `have`
 * bytes came with the head. False when anything is off: more bytes than
 * the body (nothing else should come), an early close, an error, the
 * deadline. */
static bool drain_body(int fd, size_t have, size_t body_len, uint64_t deadline_us)
{
    char sink[4096];
    if (have > body_len)
        return false;
    for (size_t left = body_len - have; left > 0;) {
        ssize_t n = recv(fd, sink, MD_MIN(left, sizeof(sink)), 0);
        if (n > 0)
            left -= (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return false;
        else if (errno != EINTR && wait_fd(fd, POLLIN, deadline_us) != MD_OK)
            return false;
    }
    return true;
}

/* Reads the collector's answer. The status comes from the status line
 * (all a failed export needs). *keep says whether the connection may carry
 * the next POST: only after a whole HTTP/1.1 2xx head that parses, framed
 * by a Content-Length of at most OTLP_BODY_MAX, without Connection: close,
 * whose body was read to its end with nothing after it. Once the status
 * line is in, the rest only decides reuse, so it is waited for at most
 * OTLP_TAIL_MS. *got counts the bytes that came at all. */
static int read_response(int fd, uint64_t deadline_us, int *status, bool *keep, size_t *got)
{
    char buf[MD_OTLP_HEAD_MAX];
    md_header_t hs[OTLP_HEADERS_MAX];
    md_http_response_head_t res = { .headers = hs, .num_headers = OTLP_HEADERS_MAX };
    size_t len = 0;
    int head = MD_AGAIN;
    bool line = false;          /* the status line is complete */
    *keep = false;
    while (len < sizeof(buf) && head == MD_AGAIN) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        int rc = MD_OK;
        if (n > 0) {
            len += (size_t)n;
            head = md_http_parse_response(buf, len, &res);
            if (!line && memchr(buf, '\n', len)) {
                line = true;
                deadline_us = MD_MIN(deadline_us, md_now_us() + OTLP_TAIL_MS * 1000ull);
            }
        } else if (n == 0) {
            break; /* closed: what came may still be a whole status line */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            rc = wait_fd(fd, POLLIN, deadline_us);
        } else if (errno != EINTR) {
            rc = MD_ERESET;
        }
        if (rc != MD_OK && !line) {
            *got = len;
            return rc;
        }
        if (rc != MD_OK)
            break;
    }
    *got = len;
    if (len == 0)
        return MD_ERESET;
    TRY(parse_status(buf, len, status));
    if (head > 0 && res.minor_version == 1 && res.keep_alive && !res.chunked && res.status >= 200 &&
        res.status < 300 && res.content_length >= 0 && res.content_length <= OTLP_BODY_MAX)
        *keep = drain_body(fd, len - (size_t)head, (size_t)res.content_length, deadline_us);
    return MD_OK;
}

static int build_head(md_otlp_t *x, size_t body_len)
{
    const md_telemetry_conf_t *tc = x->tc;
    bool v6 = strchr(tc->otlp_host, ':') != NULL;
    md_buf_reset(&x->req_head);
    return md_buf_printf(&x->req_head,
                         "POST %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUser-Agent: medley/%s\r\n"
                         "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                         tc->otlp_path ? tc->otlp_path : "/v1/traces", v6 ? "[" : "", tc->otlp_host,
                         v6 ? "]" : "", (unsigned)tc->otlp_port, MD_VERSION,
                         x->pb ? "application/x-protobuf" : "application/json", body_len);
}

static void conn_close(md_otlp_t *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
}

/* The kept connection may carry the next POST when it has been idle
 * briefly (collectors close idle ones: Node's default is 5 s) and has
 * nothing to read: a FIN or stray bytes mean the collector is done with
 * it. */
static bool conn_reusable(const md_otlp_t *x)
{
    if (x->fd < 0 || md_now_us() - x->idle_since_us > OTLP_IDLE_MS * 1000ull)
        return false;
    struct pollfd p = { .fd = x->fd, .events = POLLIN };
    return poll(&p, 1, 0) == 0;
}

int md_otlp_post(md_otlp_t *x, const char *body, size_t len, uint32_t timeout_ms, int *status)
{
    uint64_t deadline = md_now_us() + (uint64_t)timeout_ms * 1000;
    TRY(build_head(x, len));
    bool reused = conn_reusable(x);
    if (!reused)
        conn_close(x);
    for (;;) {
        if (x->fd < 0)
            TRY(connect_to(x, deadline, &x->fd));
        struct iovec iov[2] = { { x->req_head.data, x->req_head.len }, { (void *)body, len } };
        bool keep = false;
        size_t got = 0;
        int rc = send_all(x->fd, iov, len ? 2 : 1, deadline);
        if (rc == MD_OK)
            rc = read_response(x->fd, deadline, status, &keep, &got);
        if (rc == MD_OK && keep) {
            x->idle_since_us = md_now_us();
            return MD_OK;
        }
        conn_close(x);
        /* A kept connection that fails before a single byte of answer was
         * closed by the collector while idle, the request unread: send it
         * once more on a new connection. */
        if (rc == MD_ERESET && reused && got == 0) {
            reused = false;
            continue;
        }
        return rc;
    }
}

/* ---- exporting ---- */

/* Encodes the n oldest records in place, releases them, posts the body;
 * counts the outcome. Encoding needs no lock: the workers write only past
 * the queued records, and these stay queued until release(). */
static bool export_batch(md_otlp_t *x, size_t n, uint32_t timeout_ms)
{
    size_t head = x->head; /* moved only by this thread */
    size_t first = MD_MIN(n, x->cap - head);
    md_buf_reset(&x->body);
    bool encoded = encode_all(x, &x->ring[head], first, x->ring, n - first, &x->body) == MD_OK;
    release(x, n);
    int status = 0;
    bool ok = encoded && timeout_ms > 0 &&
              md_otlp_post(x, x->body.data, x->body.len, timeout_ms, &status) == MD_OK && status >= 200 &&
              status < 300;
    if (ok) {
        atomic_fetch_add_explicit(&x->exported, n, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&x->failures, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&x->dropped, n, memory_order_relaxed);
    }
    /* One big batch must not pin its buffer: keep at most 1 MiB. */
    if (x->body.cap > (1u << 20))
        md_buf_free(&x->body);
    return ok;
}

size_t md_otlp_flush(md_otlp_t *x, uint32_t timeout_ms)
{
    if (!x)
        return 0;
    uint64_t deadline = md_now_us() + (uint64_t)timeout_ms * 1000;
    size_t done = 0;
    bool failed = false;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        size_t n = peek(x);
        pthread_mutex_unlock(&x->mu);
        if (n == 0)
            return done;
        int ms = left_ms(deadline);
        if (failed || ms == 0) {
            release(x, n);
            atomic_fetch_add_explicit(&x->dropped, n, memory_order_relaxed);
            continue;
        }
        if (export_batch(x, n, (uint32_t)ms))
            done += n;
        else
            failed = true;
    }
}

static uint64_t now_ms(void)
{
    return md_now_us() / 1000;
}

static void wait_until(md_otlp_t *x, uint64_t when_ms)
{
    struct timespec ts = { .tv_sec = (time_t)(when_ms / 1000), .tv_nsec = (long)(when_ms % 1000) * 1000000 };
    /* md_now_us() reads CLOCK_MONOTONIC, the clock cv waits on. */
    pthread_cond_timedwait(&x->cv, &x->mu, &ts);
}

/* Sends a full batch at once and whatever is queued each interval; after
 * a failure nothing is sent before the next interval. */
static void *exporter_main(void *arg)
{
    md_otlp_t *x = arg;
    uint32_t interval = x->tc->otlp_interval_ms ? x->tc->otlp_interval_ms : 1000;
    uint64_t next = now_ms() + interval, hold = 0;
    pthread_mutex_lock(&x->mu);
    while (!x->stop) {
        uint64_t now = now_ms();
        bool full = x->len >= MD_MIN(x->tc->otlp_batch, x->tc->otlp_queue);
        if (x->len > 0 && now >= hold && (full || now >= next)) {
            if (now >= next)
                next = now + interval;
            size_t n = peek(x);
            pthread_mutex_unlock(&x->mu);
            bool ok = export_batch(x, n, x->tc->otlp_timeout_ms);
            pthread_mutex_lock(&x->mu);
            if (!ok)
                hold = now_ms() + interval;
            continue;
        }
        if (now >= next)
            next = now + interval;
        wait_until(x, MD_MAX(next, hold));
    }
    pthread_mutex_unlock(&x->mu);
    md_otlp_flush(x, x->tc->otlp_timeout_ms);
    return NULL;
}
