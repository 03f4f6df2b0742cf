/*
 * Unit tests for telemetry/otlp (the span queue and exporter) and for the
 * spans a finished request becomes (md_tm_finish), with otlp_protocol:
 * http/json: the exact OTLP/HTTP JSON of a span, written out by hand;
 * every field of a real request's spans parsed back with the project's
 * JSON scanner; the queue's bound and drop count; and the POST against a
 * small receiver thread that answers 200, 503, garbage or nothing (and
 * closes the connection after each answer, so a kept connection goes
 * stale), and a port where nothing listens. The protobuf encoding and
 * keep-alive are tested in test_otlp_pb.c.
 */
#include "testutil.h"

#include "otlptest.h"

#include "config/config.h"
#include "core/loop.h"
#include "core/pool.h"
#include "json/scan.h"
#include "telemetry/otlp.h"
#include "telemetry/telemetry.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- a receiver: a collector stand-in on a thread ---- */

#define RX_MAX 8

typedef struct rx {
    int lfd;
    uint16_t port;
    const char *reply;          /* sent after a whole request; NULL: say nothing until closed */
    pthread_t th;
    bool running;
    volatile bool stop;
    pthread_mutex_t mu;
    int n;                      /* requests received */
    char head[RX_MAX][1024];
    char *body[RX_MAX];
    size_t body_len[RX_MAX];
} rx_t;

static void rx_listen(rx_t *r)
{
    memset(r, 0, sizeof(*r));
    r->lfd = collector_listen(&r->port);
    pthread_mutex_init(&r->mu, NULL);
}

/* Reads one request (head, then Content-Length bytes). */
static void rx_read(rx_t *r, int fd)
{
    char buf[1 << 16];
    size_t len = 0, need = SIZE_MAX;
    char *end = NULL;
    while (len < sizeof(buf) && len < need) {
        ssize_t k = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (k <= 0)
            return;
        len += (size_t)k;
        if (!end && (end = memmem(buf, len, "\r\n\r\n", 4)) != NULL) {
            size_t hl = (size_t)(end - buf) + 4;
            const char *cl = memmem(buf, hl, "Content-Length: ", 16);
            need = hl + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        }
    }
    if (!end)
        return;
    size_t hl = (size_t)(end - buf) + 4;
    pthread_mutex_lock(&r->mu);
    if (r->n < RX_MAX) {
        snprintf(r->head[r->n], sizeof(r->head[r->n]), "%.*s", (int)hl, buf);
        r->body_len[r->n] = len - hl;
        r->body[r->n] = malloc(len - hl + 1);
        memcpy(r->body[r->n], buf + hl, len - hl);
        r->body[r->n][len - hl] = '\0';
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
}

static void *rx_main(void *arg)
{
    rx_t *r = arg;
    while (!r->stop) {
        struct pollfd p = { .fd = r->lfd, .events = POLLIN };
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        struct timeval tv = { 2, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        rx_read(r, fd);
        if (r->reply) {
            send(fd, r->reply, strlen(r->reply), MSG_NOSIGNAL);
        } else {
            char c;
            while (!r->stop && recv(fd, &c, 1, 0) != 0) /* until the client gives up */
                ;
        }
        close(fd);
    }
    return NULL;
}

static void rx_start(rx_t *r, const char *reply)
{
    rx_listen(r);
    r->reply = reply;
    pthread_create(&r->th, NULL, rx_main, r);
    r->running = true;
}

static int rx_count(rx_t *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void rx_stop(rx_t *r)
{
    r->stop = true;
    if (r->running)
        pthread_join(r->th, NULL);
    close(r->lfd);
    for (int i = 0; i < r->n; i++)
        free(r->body[i]);
    pthread_mutex_destroy(&r->mu);
}

/* A port with nothing listening. */
static uint16_t closed_port(void)
{
    rx_t r;
    rx_listen(&r);
    uint16_t port = r.port;
    rx_stop(&r);
    return port;
}

/* ---- config ---- */

/* otlp_config with otlp_protocol: http/json. */
static md_config_t *load_cfg(uint16_t port, const char *extra)
{
    return otlp_config(port, "http/json", extra, "");
}

/* ---- encoding ---- */

static void encodes_one_span_exactly(void **state)
{
    (void)state;
    md_config_t *cfg = load_cfg(4318, "");
    md_otlp_t *x = md_otlp_new(cfg);
    assert_non_null(x);
    md_span_t s = server_span();
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_otlp_encode(x, &s, 1, &b), MD_OK);
    const char *want =
        "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
        "\"svc\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"medley\",\"version\":\"" MD_VERSION "\"},\"spans\":["
        "{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\":\"1122334455667788\","
        "\"parentSpanId\":\"00f067aa0ba902b7\",\"name\":\"GET /home\",\"kind\":2,\"attributes\":["
        "{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}},"
        "{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/home\"}},"
        "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/home\"}},"
        "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"200\"}},"
        "{\"key\":\"server.address\",\"value\":{\"stringValue\":\"api.example\"}},"
        "{\"key\":\"server.port\",\"value\":{\"intValue\":\"8080\"}}],"
        "\"startTimeUnixNano\":\"1700000000123456789\",\"endTimeUnixNano\":\"1700000000127456789\"}"
        "]}]}]}";
    assert_string_equal(b.data, want);
    /* A cap too small leaves the buffer as it was. */
    md_buf_t small;
    md_buf_init(&small, 100);
    md_buf_append_str(&small, "keep");
    assert_int_equal(md_otlp_encode(x, &s, 1, &small), MD_ETOOBIG);
    assert_string_equal(small.data, "keep");
    md_buf_free(&small);
    md_buf_free(&b);
    md_otlp_free(x);
    md_config_free(cfg);
}

/* The value of attribute `key` of span token sp, as its JSON text. */
static md_str_t attr(const char *j, const md_json_tok_t *t, uint32_t sp, const char *key)
{
    uint32_t a = md_json_member(j, t, sp, "attributes", 10);
    assert_int_not_equal(a, MD_JSON_NONE);
    for (uint32_t i = a + 1, k = 0; k < t[a].count; k++, i = t[i].next) {
        uint32_t kt = md_json_member(j, t, i, "key", 3);
        if (!md_json_str_equal(j, &t[kt], key, strlen(key)))
            continue;
        uint32_t v = md_json_member(j, t, i, "value", 5);
        uint32_t inner = v + 2; /* {"stringValue": X} or {"intValue": X} */
        return (md_str_t){ j + t[inner].off, t[inner].len };
    }
    return (md_str_t){ NULL, 0 };
}

static void expect_attr(const char *j, const md_json_tok_t *t, uint32_t sp, const char *key, const char *want)
{
    md_str_t v = attr(j, t, sp, key);
    if (!want) {
        if (v.ptr)
            fail_msg("%s is %.*s, expected none", key, (int)v.len, v.ptr);
        return;
    }
    if (!v.ptr || v.len != strlen(want) || memcmp(v.ptr, want, v.len) != 0)
        fail_msg("%s is %.*s, expected %s", key, (int)v.len, v.ptr ? v.ptr : "", want);
}

static void expect_str(const char *j, const md_json_tok_t *t, uint32_t obj, const char *key, const char *want)
{
    uint32_t v = md_json_member(j, t, obj, key, strlen(key));
    if (!want) {
        assert_int_equal(v, MD_JSON_NONE);
        return;
    }
    assert_int_not_equal(v, MD_JSON_NONE);
    if (t[v].len != strlen(want) || memcmp(j + t[v].off, want, t[v].len) != 0)
        fail_msg("%s is %.*s, expected %s", key, (int)t[v].len, j + t[v].off, want);
}

/* The spans array of an export request, checked down to it. */
static uint32_t spans_of(const char *j, md_json_toks_t *toks, size_t len)
{
    char err[128];
    uint32_t root;
    if (md_json_scan(toks, j, len, &root, err, sizeof(err)) != MD_OK)
        fail_msg("not JSON (%s): %s", err, j);
    const md_json_tok_t *t = toks->v;
    uint32_t rs = md_json_member(j, t, root, "resourceSpans", 13);
    assert_int_equal(t[rs].count, 1);
    uint32_t res = md_json_member(j, t, rs + 1, "resource", 8);
    expect_attr(j, t, res, "service.name", "\"svc\"");
    uint32_t ss = md_json_member(j, t, rs + 1, "scopeSpans", 10);
    assert_int_equal(t[ss].count, 1);
    uint32_t scope = md_json_member(j, t, ss + 1, "scope", 5);
    expect_str(j, t, scope, "name", "\"medley\"");
    return md_json_member(j, t, ss + 1, "spans", 5);
}

static void encodes_failures_and_odd_values(void **state)
{
    (void)state;
    md_config_t *cfg = load_cfg(4318, "");
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s[4];
    odd_spans(s, "/a\"b\x01", 5);
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_otlp_encode(x, s, 4, &b), MD_OK);
    md_json_toks_t toks;
    md_json_toks_init(&toks, 0);
    const char *j = b.data;
    uint32_t arr = spans_of(j, &toks, b.len);
    const md_json_tok_t *t = toks.v;
    assert_int_equal(t[arr].count, 4);
    uint32_t sp0 = arr + 1, sp1 = t[sp0].next, sp2 = t[sp1].next, sp3 = t[sp2].next;
    /* server span: 502 is an error, an unknown method is _OTHER, no route */
    expect_str(j, t, sp0, "parentSpanId", NULL);
    expect_str(j, t, sp0, "name", "\"HTTP\"");
    expect_str(j, t, sp0, "kind", "2");
    expect_attr(j, t, sp0, "http.request.method", "\"_OTHER\"");
    expect_attr(j, t, sp0, "url.path", "\"/a\\\"b\\u0001\"");
    expect_attr(j, t, sp0, "http.route", NULL);
    expect_attr(j, t, sp0, "server.address", NULL);
    expect_attr(j, t, sp0, "server.port", NULL);
    expect_attr(j, t, sp0, "error.type", "\"502\"");
    uint32_t st = md_json_member(j, t, sp0, "status", 6);
    expect_str(j, t, st, "code", "2");
    /* client span, timed out: named for the backend, the upstream's address */
    expect_str(j, t, sp1, "name", "\"vacation\"");
    expect_str(j, t, sp1, "kind", "3");
    expect_str(j, t, sp1, "parentSpanId", "\"00f067aa0ba902b7\"");
    expect_attr(j, t, sp1, "http.request.method", "\"POST\"");
    expect_attr(j, t, sp1, "server.address", "\"::1\"");
    expect_attr(j, t, sp1, "server.port", "\"9002\"");
    expect_attr(j, t, sp1, "http.response.status_code", NULL);
    expect_attr(j, t, sp1, "error.type", "\"timeout\"");
    /* client span answered 404: an error by its status */
    expect_str(j, t, sp2, "name", "\"news\"");
    expect_attr(j, t, sp2, "http.response.status_code", "\"404\"");
    expect_attr(j, t, sp2, "error.type", "\"404\"");
    assert_int_not_equal(md_json_member(j, t, sp2, "status", 6), MD_JSON_NONE);
    /* a fine one: no error, no status */
    expect_attr(j, t, sp3, "error.type", NULL);
    assert_int_equal(md_json_member(j, t, sp3, "status", 6), MD_JSON_NONE);
    expect_str(j, t, sp3, "endTimeUnixNano", "\"1700000000123456789\"");
    md_json_toks_free(&toks);
    md_buf_free(&b);
    md_otlp_free(x);
    md_config_free(cfg);
}

static void encodes_the_longest_strings(void **state)
{
    (void)state;
    /* a 2,000-byte route of backslashes (escaped 2 for 1), a 256-byte path
     * and a 128-byte Host escaped 6 for 1: the raw stretches and
     * reservations must hold them all */
    char route[2002];
    md_config_t *cfg = long_route_config(route, '\\', ", service_name: svc, otlp_protocol: http/json");
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s[2];
    longest_spans(s, 0x01, MD_SPAN_PATH_MAX, 0x02);
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_otlp_encode(x, s, 2, &b), MD_OK);
    md_json_toks_t toks;
    md_json_toks_init(&toks, 0);
    uint32_t arr = spans_of(b.data, &toks, b.len);
    const md_json_tok_t *t = toks.v;
    uint32_t sp0 = arr + 1, sp1 = t[sp0].next;
    md_str_t r = attr(b.data, t, sp0, "http.route");
    assert_int_equal(r.len, 2 + 1 + 4000); /* quotes, '/', 2,000 escaped backslashes */
    assert_memory_equal(r.ptr, "\"/\\\\\\\\", 6);
    md_str_t path = attr(b.data, t, sp0, "url.path");
    assert_int_equal(path.len, 2 + 6 * MD_SPAN_PATH_MAX);
    assert_memory_equal(path.ptr, "\"\\u0001", 7);
    expect_attr(b.data, t, sp0, "http.request.method", "\"_OTHER\"");
    expect_attr(b.data, t, sp1, "error.type", "\"too_big\"");
    expect_attr(b.data, t, sp1, "http.response.status_code", "\"65535\"");
    expect_str(b.data, t, sp1, "startTimeUnixNano", "\"18446744073709551615\"");
    md_json_toks_free(&toks);
    md_buf_free(&b);
    md_otlp_free(x);
    md_config_free(cfg);
}

/* ---- the queue ---- */

static void queue_is_bounded_and_counts_drops(void **state)
{
    (void)state;
    md_config_t *cfg = load_cfg(closed_port(), ", queue: 16, batch: 4");
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s[5];
    for (int i = 0; i < 5; i++)
        s[i] = server_span();
    size_t pushed = 0;
    for (int round = 0; round < 20; round++) {
        md_otlp_push(x, s, 1 + (size_t)round % 5);
        pushed += 1 + (size_t)round % 5;
        assert_true(md_otlp_queued(x) <= 16);
    }
    md_otlp_stats_t st;
    md_otlp_get_stats(x, &st);
    assert_int_equal(md_otlp_queued(x), 16);
    assert_int_equal(st.dropped, pushed - 16);
    assert_int_equal(st.exported, 0);
    assert_int_equal(st.failures, 0);
    md_otlp_push(x, s, 0);
    md_otlp_push(NULL, s, 1);
    /* Freed without a thread: what is queued counts as dropped too. */
    md_otlp_free(x);
    md_otlp_get_stats(NULL, &st);
    assert_int_equal(st.dropped, 0);
    md_config_free(cfg);
    /* No endpoint, no exporter. */
    const char *yaml = "upstreams: { hr: { url: \"http://127.0.0.1:9\" } }\n"
                       "endpoints: [ { path: /a, backends: [ { upstream: hr, path: /x } ] } ]\n";
    md_diag_t d;
    cfg = md_config_load_string(yaml, strlen(yaml), "t.yaml", &d);
    assert_non_null(cfg);
    assert_null(md_otlp_new(cfg));
    md_config_free(cfg);
}

/* ---- the POST ---- */

static void flush_exports_to_a_collector(void **state)
{
    (void)state;
    rx_t r;
    rx_start(&r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, ", queue: 16, batch: 4");
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s[10];
    for (int i = 0; i < 10; i++) {
        s[i] = server_span();
        s[i].span_id[7] = (uint8_t)i;
    }
    md_otlp_push(x, s, 10);
    assert_int_equal(md_otlp_flush(x, 2000), 10);
    assert_int_equal(md_otlp_queued(x), 0);
    md_otlp_stats_t st;
    md_otlp_get_stats(x, &st);
    assert_int_equal(st.exported, 10);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.failures, 0);
    /* batches of 4, 4 and 2, in order */
    assert_int_equal(rx_count(&r), 3);
    size_t counts[3] = { 4, 4, 2 };
    int seen = 0;
    for (int k = 0; k < 3; k++) {
        assert_non_null(strstr(r.head[k], "POST /v1/traces HTTP/1.1\r\n"));
        assert_non_null(strstr(r.head[k], "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(r.head[k], "\r\nHost: 127.0.0.1:"));
        assert_null(strstr(r.head[k], "\r\nConnection:")); /* HTTP/1.1: may be kept */
        md_json_toks_t toks;
        md_json_toks_init(&toks, 0);
        uint32_t arr = spans_of(r.body[k], &toks, r.body_len[k]);
        assert_int_equal(toks.v[arr].count, counts[k]);
        for (uint32_t i = arr + 1, n = 0; n < toks.v[arr].count; n++, i = toks.v[i].next) {
            char want[32];
            snprintf(want, sizeof(want), "\"11223344556677%02x\"", seen++);
            expect_str(r.body[k], toks.v, i, "spanId", want);
        }
        md_json_toks_free(&toks);
    }
    md_otlp_free(x);
    md_config_free(cfg);
    rx_stop(&r);
}

/* One export against a collector answering `reply`: a failure. */
static void fail_with(const char *reply)
{
    rx_t r;
    rx_start(&r, reply);
    md_config_t *cfg = load_cfg(r.port, ", queue: 16, batch: 4");
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s[10];
    for (int i = 0; i < 10; i++)
        s[i] = server_span();
    md_otlp_push(x, s, 10);
    /* one attempt, then the rest is dropped: no retry */
    assert_int_equal(md_otlp_flush(x, 2000), 0);
    md_otlp_stats_t st;
    md_otlp_get_stats(x, &st);
    assert_int_equal(st.exported, 0);
    assert_int_equal(st.failures, 1);
    assert_int_equal(st.dropped, 10);
    assert_int_equal(rx_count(&r), 1);
    assert_int_equal(md_otlp_queued(x), 0);
    md_otlp_free(x);
    md_config_free(cfg);
    rx_stop(&r);
}

static void failed_export_drops_the_batch(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(replies); i++)
        fail_with(replies[i]);
}

static int post(uint16_t port, uint32_t timeout_ms, int *status)
{
    md_config_t *cfg = load_cfg(port, "");
    md_otlp_t *x = md_otlp_new(cfg);
    int rc = md_otlp_post(x, "{}", 2, timeout_ms, status);
    md_otlp_free(x);
    md_config_free(cfg);
    return rc;
}

static void post_answers_and_errors(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        int rc, status;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\n\r\n", MD_OK, 200 },
        { "HTTP/1.0 204 No Content\r\n\r\n", MD_OK, 204 },
        { "HTTP/1.1 400\r\n\r\n", MD_OK, 400 },
        { "HTTP/1.1 200", MD_OK, 200 },            /* closed right after the code */
        { "HELLO THERE\r\n", MD_EINVAL, 0 },
        { "HTTP/1.1 2x0 OK\r\n", MD_EINVAL, 0 },
        { "HTTP/1.1 2000 OK\r\n", MD_EINVAL, 0 },
        { "", MD_ERESET, 0 },                       /* closed without a word */
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        rx_t r;
        rx_start(&r, cases[i].reply);
        int status = 0;
        int rc = post(r.port, 2000, &status);
        if (rc != cases[i].rc || status != cases[i].status)
            fail_msg("reply %zu: rc %d status %d", i, rc, status);
        assert_int_equal(rx_count(&r), 1);
        assert_string_equal(r.body[0], "{}");
        rx_stop(&r);
    }
    int status = 0;
    assert_int_equal(post(closed_port(), 2000, &status), MD_ECONNECT);
}

static void post_is_bounded_by_its_timeout(void **state)
{
    (void)state;
    /* Accepts (the kernel does, from the backlog) but never answers. */
    rx_t r;
    rx_listen(&r);
    int status = 0;
    uint64_t t0 = md_now_us();
    assert_int_equal(post(r.port, 150, &status), MD_ETIMEDOUT);
    uint64_t took = md_now_us() - t0;
    assert_true(took >= 140000);
    assert_true(took < 2000000);
    rx_stop(&r);
    /* A receiver that reads the request and then says nothing. */
    rx_start(&r, NULL);
    t0 = md_now_us();
    assert_int_equal(post(r.port, 150, &status), MD_ETIMEDOUT);
    assert_true(md_now_us() - t0 < 2000000);
    rx_stop(&r);
}

/* ---- the thread ---- */

static void thread_exports_each_interval_and_at_stop(void **state)
{
    (void)state;
    rx_t r;
    rx_start(&r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, ", queue: 64, batch: 8, interval: 50ms");
    md_otlp_t *x = md_otlp_new(cfg);
    char err[128];
    assert_int_equal(md_otlp_start(x, err, sizeof(err)), MD_OK);
    md_span_t s[3];
    for (int i = 0; i < 3; i++)
        s[i] = server_span();
    md_otlp_push(x, s, 3); /* less than a batch: goes out on the interval */
    for (int i = 0; i < 200 && rx_count(&r) < 1; i++)
        usleep(10000);
    assert_int_equal(rx_count(&r), 1);
    md_otlp_stats_t st;
    for (int i = 0; i < 200; i++) {
        md_otlp_get_stats(x, &st);
        if (st.exported == 3)
            break;
        usleep(10000);
    }
    assert_int_equal(st.exported, 3);
    md_otlp_free(x);
    md_config_free(cfg);

    /* A long interval: only the flush at stop sends them. */
    cfg = load_cfg(r.port, ", queue: 64, batch: 8, interval: 1h");
    x = md_otlp_new(cfg);
    assert_int_equal(md_otlp_start(x, err, sizeof(err)), MD_OK);
    md_otlp_push(x, s, 2);
    usleep(50000);
    assert_int_equal(rx_count(&r), 1);
    md_otlp_free(x);
    assert_int_equal(rx_count(&r), 2);
    md_config_free(cfg);
    rx_stop(&r);
}

static void thread_sends_a_full_batch_at_once(void **state)
{
    (void)state;
    rx_t r;
    rx_start(&r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, ", queue: 64, batch: 4, interval: 1h");
    md_otlp_t *x = md_otlp_new(cfg);
    char err[128];
    assert_int_equal(md_otlp_start(x, err, sizeof(err)), MD_OK);
    md_span_t s[4];
    for (int i = 0; i < 4; i++)
        s[i] = server_span();
    md_otlp_push(x, s, 3);
    usleep(30000);
    assert_int_equal(rx_count(&r), 0); /* not a batch yet, and the interval is long */
    md_otlp_push(x, s, 1);
    for (int i = 0; i < 300 && rx_count(&r) < 1; i++)
        usleep(10000);
    assert_int_equal(rx_count(&r), 1);
    md_otlp_free(x);
    md_config_free(cfg);
    rx_stop(&r);
}

static void thread_against_a_dead_collector(void **state)
{
    (void)state;
    md_config_t *cfg = load_cfg(closed_port(), ", queue: 16, batch: 4, interval: 20ms");
    md_otlp_t *x = md_otlp_new(cfg);
    char err[128];
    assert_int_equal(md_otlp_start(x, err, sizeof(err)), MD_OK);
    md_span_t s[4];
    for (int i = 0; i < 4; i++)
        s[i] = server_span();
    for (int i = 0; i < 50; i++) {
        md_otlp_push(x, s, 4);
        assert_true(md_otlp_queued(x) <= 16);
        usleep(2000);
    }
    usleep(60000);
    md_otlp_stats_t st;
    md_otlp_get_stats(x, &st);
    assert_true(st.failures >= 1);
    assert_true(st.dropped >= 200 - 16 - 4); /* all but what the queue and one batch hold */
    assert_int_equal(st.exported, 0);
    md_otlp_free(x); /* stops promptly: refused at once */
    md_config_free(cfg);
}

/* ---- a request's spans (md_tm_finish) ---- */

static void hex_of(char *out, const uint8_t *id, size_t n)
{
    out[0] = '"';
    *md_trace_hex(out + 1, id, n) = '"';
    out[2 * n + 2] = '\0';
}

static uint64_t num_attr(const char *j, const md_json_tok_t *t, uint32_t sp, const char *key)
{
    uint32_t v = md_json_member(j, t, sp, key, strlen(key));
    assert_int_not_equal(v, MD_JSON_NONE);
    return strtoull(j + t[v].off + 1, NULL, 10); /* "123" */
}

static void finished_request_becomes_spans(void **state)
{
    (void)state;
    rx_t r;
    rx_start(&r, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, ", interval: 1h");
    char err[256];
    md_telemetry_t *tm = md_telemetry_new(cfg, 1, err, sizeof(err));
    assert_non_null(tm);
    md_loop_t *loop = md_loop_new();
    md_tm_worker_t *tw = md_tm_worker_new(tm, 0, loop, NULL, NULL);
    md_header_t hs[2] = { { "Host", 4, "api.example:8443", 16 },
                          { "traceparent", 11, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 55 } };
    md_http_req_t req = { .pool = md_pool_new(0), .headers = hs, .num_headers = 2 };
    req.method = MD_STR_LIT("GET");
    req.path = MD_STR_LIT("/home");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    req.start_us = md_now_us() - 2000;
    md_tm_req_t *t = md_tm_begin(tm, &req, 0);
    assert_true(t->trace.exported);
    char tp[MD_TRACEPARENT_LEN + 1];
    md_tm_traceparent(t, 0, tp);
    md_tm_traceparent(t, 1, tp);
    md_tm_call_start(t, 0);
    md_tm_call_start(t, 1);
    usleep(1000);
    md_tm_call_end(t, 0, 200, MD_TM_OK, 900);
    md_tm_call_end(t, 1, 0, MD_TM_TIMEOUT, 900);
    char server[19], call0[19], call1[19];
    hex_of(server, t->trace.span_id, 8);
    hex_of(call0, t->calls[0].span_id, 8);
    hex_of(call1, t->calls[1].span_id, 8);
    md_http_done_t done = { .status = 200, .body_bytes = 10 };
    md_tm_finish(tw, &req, &done);
    assert_int_equal(md_otlp_queued(md_telemetry_otlp(tm)), 3);

    /* Not sampled by the caller: nothing is kept. */
    hs[1].value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    t = md_tm_begin(tm, &req, 0);
    assert_false(t->trace.exported);
    md_tm_call_start(t, 0);
    md_tm_call_end(t, 0, 200, MD_TM_OK, 5);
    assert_int_equal(t->calls[0].end_us, 0);
    md_tm_finish(tw, &req, &done);
    assert_int_equal(md_otlp_queued(md_telemetry_otlp(tm)), 3);

    md_pool_destroy(req.pool);
    md_tm_worker_free(tw);
    md_loop_free(loop);
    md_telemetry_free(tm); /* the last flush sends them */
    md_config_free(cfg);

    assert_int_equal(rx_count(&r), 1);
    md_json_toks_t toks;
    md_json_toks_init(&toks, 0);
    const char *j = r.body[0];
    uint32_t arr = spans_of(j, &toks, r.body_len[0]);
    const md_json_tok_t *tk = toks.v;
    assert_int_equal(tk[arr].count, 3);
    uint32_t sv = arr + 1, c0 = tk[sv].next, c1 = tk[c0].next;
    for (uint32_t sp = sv, k = 0; k < 3; k++, sp = tk[sp].next)
        expect_str(j, tk, sp, "traceId", "\"4bf92f3577b34da6a3ce929d0e0e4736\"");
    expect_str(j, tk, sv, "spanId", server);
    expect_str(j, tk, sv, "parentSpanId", "\"00f067aa0ba902b7\"");
    expect_str(j, tk, sv, "name", "\"GET /home\"");
    expect_attr(j, tk, sv, "url.path", "\"/home\"");
    expect_attr(j, tk, sv, "http.route", "\"/home\"");
    expect_attr(j, tk, sv, "http.response.status_code", "\"200\"");
    expect_attr(j, tk, sv, "server.address", "\"api.example\"");
    expect_attr(j, tk, sv, "server.port", "\"8443\"");
    expect_str(j, tk, c0, "spanId", call0);
    expect_str(j, tk, c0, "parentSpanId", server);
    expect_str(j, tk, c0, "name", "\"news\"");
    expect_attr(j, tk, c0, "server.port", "\"9001\"");
    expect_attr(j, tk, c0, "http.response.status_code", "\"200\"");
    expect_str(j, tk, c1, "spanId", call1);
    expect_str(j, tk, c1, "parentSpanId", server);
    expect_attr(j, tk, c1, "error.type", "\"timeout\"");
    /* Times: Unix ns near now; the calls inside the request. */
    uint64_t s0 = num_attr(j, tk, sv, "startTimeUnixNano"), s1 = num_attr(j, tk, sv, "endTimeUnixNano");
    uint64_t k0 = num_attr(j, tk, c0, "startTimeUnixNano"), k1 = num_attr(j, tk, c0, "endTimeUnixNano");
    assert_true(s0 + 60000000000ull > now_ns && s0 < now_ns + 60000000000ull);
    assert_true(s0 <= k0 && k0 < k1 && k1 <= s1);
    assert_true(s1 - s0 >= 2000000); /* the request started 2 ms before it began */
    md_json_toks_free(&toks);
    rx_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encodes_one_span_exactly),
        cmocka_unit_test(encodes_failures_and_odd_values),
        cmocka_unit_test(encodes_the_longest_strings),
        cmocka_unit_test(queue_is_bounded_and_counts_drops),
        cmocka_unit_test(flush_exports_to_a_collector),
        cmocka_unit_test(failed_export_drops_the_batch),
        cmocka_unit_test(post_answers_and_errors),
        cmocka_unit_test(post_is_bounded_by_its_timeout),
        cmocka_unit_test(thread_exports_each_interval_and_at_stop),
        cmocka_unit_test(thread_sends_a_full_batch_at_once),
        cmocka_unit_test(thread_against_a_dead_collector),
        cmocka_unit_test(finished_request_becomes_spans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
