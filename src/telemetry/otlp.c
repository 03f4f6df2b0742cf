/*
 * otlp.c - the span queue, its exporter thread, the OTLP/HTTP JSON encoding
 * and the one blocking POST per batch (contract in otlp.h).
 *
 * Locking: `mu` guards the ring's indexes (head, len), `stop` and the
 * wake-up; it is held only to copy records in, or to move the indexes.
 * The exporter reads a batch in place, outside the lock: its records stay
 * counted in `len` (so no worker writes over them) until it has encoded
 * them, then it releases them and sends. The exporter's own state (body
 * buffer, resolved address) is touched by one thread at a time: the
 * exporter, or whoever calls md_otlp_flush when none runs.
 */
#include "telemetry/otlp.h"

#include "core/alloc.h"
#include "core/loop.h"
#include "json/write.h"
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

/* A backend's span strings, JSON-escaped (without quotes) at startup. */
typedef struct otlp_backend {
    md_str_t name, method, host;
    uint16_t port;
} otlp_backend_t;

struct md_otlp {
    const md_config_t *cfg;
    const md_telemetry_conf_t *tc;
    md_str_t service;           /* escaped once, like the tables below */
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
    md_buf_t req_head;           /* the POST head */
    struct sockaddr_storage addr;
    socklen_t addrlen;          /* 0: resolve before the next connect */
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
    x->cap = tc->otlp_queue;
    /* calloc'd pages are not resident until spans reach them. */
    x->ring = md_calloc(x->cap, sizeof(*x->ring));
    build_tables(x);
    md_buf_init(&x->body, (size_t)tc->otlp_batch * SPAN_JSON_MAX + 4096);
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

#define TRY(x)                                                                                                 \
    do {                                                                                                       \
        int rc_ = (x);                                                                                         \
        if (rc_ != MD_OK)                                                                                      \
            return rc_;                                                                                        \
    } while (0)

/* ---- encoding ---- */

/* Encoding writes into space reserved in the body buffer and copies
 * strings from the config escaped once at startup; only the two strings a
 * client sent (path, Host) go through the JSON writer per span. RAW_SLACK
 * bounds every raw stretch beyond the config strings it copies: keys, hex
 * ids, numbers and punctuation. The longest is a client span's: ids 107,
 * name and kind 35, five attributes 56 + 52 + 51 + 65 + 60 (20-digit
 * numbers counted), tail 106: 532 bytes. Twice that leaves room to grow. */
#define RAW_SLACK 1024

#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static char *put_str(char *p, md_str_t s)
{
    memcpy(p, s.ptr, s.len);
    return p + s.len;
}

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

static void build_tables(md_otlp_t *x)
{
    const md_config_t *cfg = x->cfg;
    x->service = escaped(x->tc->service_name ? x->tc->service_name : "medley");
    x->ep_first = md_calloc(cfg->nendpoints + 1, sizeof(*x->ep_first));
    x->route = md_calloc(cfg->nendpoints + 1, sizeof(*x->route));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        x->ep_first[e] = x->nbackends;
        x->nbackends += cfg->endpoints[e].nbackends;
        x->route[e] = escaped(cfg->endpoints[e].path);
    }
    x->be = md_calloc(x->nbackends + 1, sizeof(*x->be));
    for (size_t e = 0; e < cfg->nendpoints; e++) {
        for (size_t i = 0; i < cfg->endpoints[e].nbackends; i++) {
            const md_backend_conf_t *k = &cfg->endpoints[e].backends[i];
            otlp_backend_t *b = &x->be[x->ep_first[e] + i];
            b->name = escaped(k->name ? k->name : "backend");
            b->method = escaped(k->method ? k->method : "GET");
            b->host = escaped(k->up && k->up->host ? k->up->host : "");
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

/* ,{"key":"K","value":{"intValue":"V"}} (no comma when first). Inline:
 * GCC's -O2 UBSan build warns falsely on a cloned copy. */
static inline char *attr_int(char *p, bool first, const char *key, size_t klen, uint64_t v)
{
    p = first ? PUT(p, "{\"key\":\"") : PUT(p, ",{\"key\":\"");
    memcpy(p, key, klen);
    p = PUT(p + klen, "\",\"value\":{\"intValue\":");
    p = put_quoted_u64(p, v);
    return PUT(p, "}}");
}
#define ATTR_INT(p, first, key, v) attr_int((p), (first), (key), sizeof(key) - 1, (v))

/* ,{"key":"K","value":{"stringValue":" — the caller writes the string and
 * closes with "\"}}" (or lets the JSON writer write it, quotes and all). */
static char *attr_str_open(char *p, bool first, const char *key, size_t klen, bool quote)
{
    p = first ? PUT(p, "{\"key\":\"") : PUT(p, ",{\"key\":\"");
    memcpy(p, key, klen);
    p = PUT(p + klen, "\",\"value\":{\"stringValue\":");
    if (quote)
        *p++ = '"';
    return p;
}
#define ATTR_STR(p, first, key, v)                                                                             \
    PUT(put_str(attr_str_open((p), (first), (key), sizeof(key) - 1, true), (v)), "\"}}")

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
    p = put_quoted_u64(p, s->end_ns >= s->start_ns ? s->end_ns : s->start_ns);
    if (error)
        p = PUT(p, ",\"status\":{\"code\":2}");
    *p++ = '}';
    return p;
}

static char *put_status_code(char *p, const md_span_t *s)
{
    char code[8];
    char *e = md_put_u64(code, s->status);
    return ATTR_STR(p, false, "error.type", ((md_str_t){ code, (size_t)(e - code) }));
}

/* Server span: "GET /home" (method and route; "HTTP" for an unknown
 * method, no route when none matched: names stay few). The path and the
 * Host header came from the client: the JSON writer escapes them. */
static int server_span_json(const md_otlp_t *x, const md_span_t *s, md_buf_t *b)
{
    const md_str_t *route = route_of(x, s);
    md_str_t method = known_method(s);
    size_t rlen = route ? route->len : 0;
    char *p = raw_begin(b, RAW_SLACK + rlen);
    if (!p)
        return MD_ETOOBIG;
    p = put_ids(p, s);
    p = PUT(p, ",\"name\":\"");
    p = method.ptr[0] == '_' ? PUT(p, "HTTP") : put_str(p, method);
    if (route) {
        *p++ = ' ';
        p = put_str(p, *route);
    }
    p = PUT(p, "\",\"kind\":2,\"attributes\":[");
    p = ATTR_STR(p, true, "http.request.method", method);
    p = attr_str_open(p, false, "url.path", 8, false);
    raw_end(b, p);
    TRY(md_json_write_string(b, s->path, MD_MIN(s->path_len, MD_SPAN_PATH_MAX)));
    if (!(p = raw_begin(b, RAW_SLACK + rlen)))
        return MD_ETOOBIG;
    p = PUT(p, "}}");
    if (route)
        p = ATTR_STR(p, false, "http.route", *route);
    if (s->status)
        p = ATTR_INT(p, false, "http.response.status_code", s->status);
    if (s->host_len) {
        p = attr_str_open(p, false, "server.address", 14, false);
        raw_end(b, p);
        TRY(md_json_write_string(b, s->host, MD_MIN(s->host_len, MD_SPAN_HOST_MAX)));
        if (!(p = raw_begin(b, RAW_SLACK)))
            return MD_ETOOBIG;
        p = PUT(p, "}}");
    }
    if (s->port)
        p = ATTR_INT(p, false, "server.port", s->port);
    bool error = s->status >= 500;
    if (error)
        p = put_status_code(p, s);
    p = put_tail(p, s, error);
    raw_end(b, p);
    return MD_OK;
}

/* Client span: named for the backend, as in Server-Timing and the log;
 * everything but ids, times and status comes from the config. */
static int client_span_json(const md_otlp_t *x, const md_span_t *s, md_buf_t *b)
{
    static const otlp_backend_t unknown = { MD_STR_LIT("backend"), MD_STR_LIT("GET"), { NULL, 0 }, 0 };
    const otlp_backend_t *k = backend_of(x, s);
    k = k ? k : &unknown;
    char *p = raw_begin(b, RAW_SLACK + k->name.len + k->method.len + k->host.len);
    if (!p)
        return MD_ETOOBIG;
    p = put_ids(p, s);
    p = PUT(p, ",\"name\":\"");
    p = put_str(p, k->name);
    p = PUT(p, "\",\"kind\":3,\"attributes\":[");
    p = ATTR_STR(p, true, "http.request.method", k->method);
    if (k->host.len) {
        p = ATTR_STR(p, false, "server.address", k->host);
        p = ATTR_INT(p, false, "server.port", k->port);
    }
    if (s->status)
        p = ATTR_INT(p, false, "http.response.status_code", s->status);
    bool error = s->outcome != MD_TM_OK || s->status >= 400;
    if (s->outcome != MD_TM_OK) {
        const char *o = md_tm_outcome_name((md_tm_outcome_t)s->outcome);
        p = ATTR_STR(p, false, "error.type", ((md_str_t){ o, strlen(o) }));
    } else if (error) {
        p = put_status_code(p, s);
    }
    p = put_tail(p, s, error);
    raw_end(b, p);
    return MD_OK;
}

/* spans[0..n) then more[0..nmore): a batch that wraps around the ring. */
static int encode_all(const md_otlp_t *x, const md_span_t *spans, size_t n, const md_span_t *more,
                      size_t nmore, md_buf_t *out)
{
    char *p = raw_begin(out, RAW_SLACK + x->service.len);
    if (!p)
        return MD_ETOOBIG;
    p = PUT(p, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    p = ATTR_STR(p, true, "service.name", x->service);
    p = PUT(p, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"medley\",\"version\":\"" MD_VERSION "\"},\"spans\":[");
    raw_end(out, p);
    for (size_t i = 0; i < n + nmore; i++) {
        const md_span_t *s = i < n ? &spans[i] : &more[i - n];
        if (i)
            TRY(md_buf_append_char(out, ','));
        TRY(s->kind == MD_SPAN_CLIENT ? client_span_json(x, s, out) : server_span_json(x, s, out));
    }
    return md_buf_append(out, "]}]}]}", 6);
}

int md_otlp_encode(const md_otlp_t *x, const md_span_t *spans, size_t n, md_buf_t *out)
{
    size_t start = out->len;
    int rc = encode_all(x, spans, n, NULL, 0, out);
    if (rc != MD_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
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

static int read_status(int fd, uint64_t deadline_us, int *status)
{
    char buf[MD_OTLP_HEAD_MAX];
    size_t len = 0;
    while (len < sizeof(buf) && !memchr(buf, '\n', len)) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n > 0) {
            len += (size_t)n;
        } else if (n == 0) {
            break; /* closed: what came may still be a whole status line */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            TRY(wait_fd(fd, POLLIN, deadline_us));
        } else if (errno != EINTR) {
            return MD_ERESET;
        }
    }
    if (len == 0)
        return MD_ERESET;
    return parse_status(buf, len, status);
}

static int build_head(md_otlp_t *x, size_t body_len)
{
    const md_telemetry_conf_t *tc = x->tc;
    bool v6 = strchr(tc->otlp_host, ':') != NULL;
    md_buf_reset(&x->req_head);
    return md_buf_printf(&x->req_head,
                         "POST %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUser-Agent: medley/%s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         tc->otlp_path ? tc->otlp_path : "/v1/traces", v6 ? "[" : "", tc->otlp_host,
                         v6 ? "]" : "", (unsigned)tc->otlp_port, MD_VERSION, body_len);
}

int md_otlp_post(md_otlp_t *x, const char *body, size_t len, uint32_t timeout_ms, int *status)
{
    uint64_t deadline = md_now_us() + (uint64_t)timeout_ms * 1000;
    TRY(build_head(x, len));
    int fd = -1;
    TRY(connect_to(x, deadline, &fd));
    struct iovec iov[2] = { { x->req_head.data, x->req_head.len }, { (void *)body, len } };
    int rc = send_all(fd, iov, len ? 2 : 1, deadline);
    if (rc == MD_OK)
        rc = read_status(fd, deadline, status);
    close(fd);
    return rc;
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
