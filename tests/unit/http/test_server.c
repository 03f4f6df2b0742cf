/*
 * Tests for http/server: a real md_server_t on 127.0.0.1 port 0, run by a
 * thread, driven over real sockets by blocking clients. The test handler
 * routes on the path; delayed answers use timers on the worker's loop, as a
 * gateway waiting for backends would. Expected bytes come from the spec
 * (RFC 9112 framing, the error-body format in server.h), not from runs.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/loop.h"
#include "core/pool.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BIG_TOTAL (4u << 20) /* /big streams this many bytes */
#define BIG_PIECE (16u << 10)

/* ---- what the application saw ---- */

static atomic_int g_entered;   /* /delay handlers entered */
static atomic_int g_finished;  /* /delay requests finished by the app */
static atomic_int g_aborts;    /* on_abort calls */
static atomic_int g_drains;    /* drain callbacks */
static atomic_int g_resets;    /* stream writes that returned MD_ERESET */
static atomic_int g_big_done;  /* /big streams ended normally */
static atomic_int g_inits, g_finis;
static atomic_int g_init_fail_index; /* worker_init fails for this index (-1: none) */
static atomic_int g_app_errors; /* checks failed on a worker thread */
static pthread_t g_test_thread;

/* cmocka's asserts must not run on a worker thread (they longjmp); the
 * application counts failures and stop() asserts there were none. */
#define APP_CHECK(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "app check failed: %s (line %d)\n", #cond, __LINE__); \
            atomic_fetch_add(&g_app_errors, 1);                                \
        }                                                                      \
    } while (0)
static atomic_bool g_init_on_other_thread;

static void reset_counters(void)
{
    atomic_store(&g_entered, 0);
    atomic_store(&g_finished, 0);
    atomic_store(&g_aborts, 0);
    atomic_store(&g_drains, 0);
    atomic_store(&g_resets, 0);
    atomic_store(&g_big_done, 0);
    atomic_store(&g_inits, 0);
    atomic_store(&g_finis, 0);
    atomic_store(&g_init_fail_index, -1);
    atomic_store(&g_init_on_other_thread, true);
    atomic_store(&g_app_errors, 0);
}

static bool path_is(const md_http_req_t *req, const char *p)
{
    return req->path.len == strlen(p) && memcmp(req->path.ptr, p, req->path.len) == 0;
}

static bool query_has(const md_http_req_t *req, const char *s)
{
    return req->query.len && memmem(req->query.ptr, req->query.len, s, strlen(s)) != NULL;
}

/* /delay?ms=N[&finish_in_abort]: answers "delayed" from a timer. */
typedef struct delay {
    md_timer_t timer;
    md_http_req_t *req;
    bool finish_in_abort;
} delay_t;

static void delay_fire(md_timer_t *t)
{
    delay_t *d = t->data;
    md_http_respond(d->req, 200, NULL, 0, "delayed", 7);
    atomic_fetch_add(&g_finished, 1);
}

static void delay_abort(md_http_req_t *req)
{
    delay_t *d = req->app_data;
    atomic_fetch_add(&g_aborts, 1);
    if (d->finish_in_abort) {
        md_timer_stop(req->loop, &d->timer);
        md_http_respond(req, 200, NULL, 0, "late", 4); /* discarded: client gone */
        atomic_fetch_add(&g_finished, 1);
    }
}

static void delay_release(void *arg)
{
    delay_t *d = arg;
    md_timer_stop(d->req->loop, &d->timer); /* pool memory is going away */
}

static void handle_delay(md_http_req_t *req)
{
    delay_t *d = md_pool_calloc(req->pool, sizeof(*d));
    d->req = req;
    d->finish_in_abort = query_has(req, "finish_in_abort");
    const char *ms = memmem(req->query.ptr, req->query.len, "ms=", 3);
    md_timer_init(&d->timer, delay_fire, d);
    md_timer_start(req->loop, &d->timer, ms ? strtoul(ms + 3, NULL, 10) : 100);
    md_pool_on_release(req->pool, delay_release, d);
    req->app_data = d;
    req->on_abort = delay_abort;
    atomic_fetch_add(&g_entered, 1);
}

/* /big: BIG_TOTAL bytes of 'a'..'z' streamed, obeying MD_AGAIN. */
static char g_pattern[BIG_PIECE + 26];

static void big_pump(md_http_req_t *req)
{
    size_t *sent = req->app_data;
    while (*sent < BIG_TOTAL) {
        size_t n = MD_MIN(BIG_PIECE, BIG_TOTAL - *sent);
        int rc = md_http_stream_write(req, g_pattern + *sent % 26, n);
        if (rc == MD_ERESET || rc == MD_EINVAL) {
            APP_CHECK(rc == MD_ERESET);
            atomic_fetch_add(&g_resets, 1);
            md_http_stream_abort(req);
            return;
        }
        *sent += n;
        if (rc == MD_AGAIN)
            return;
    }
    atomic_fetch_add(&g_big_done, 1);
    md_http_stream_end(req);
}

static void big_drain(md_http_req_t *req)
{
    atomic_fetch_add(&g_drains, 1);
    big_pump(req);
}

static void big_abort(md_http_req_t *req)
{
    atomic_fetch_add(&g_aborts, 1);
    md_http_stream_abort(req);
}

static void handle_big(md_http_req_t *req)
{
    size_t *sent = md_pool_calloc(req->pool, sizeof(*sent));
    req->app_data = sent;
    req->on_abort = big_abort;
    md_http_stream_on_drain(req, big_drain);
    APP_CHECK(md_http_stream_start(req, 200, NULL, 0, -1) == MD_OK);
    big_pump(req);
}

static void handle_echo(md_http_req_t *req)
{
    size_t cap = req->method.len + req->target.len + req->body_len + 32;
    char *out = md_pool_alloc(req->pool, cap);
    int n = snprintf(out, cap, "%.*s %.*s %zu:", (int)req->method.len, req->method.ptr,
                     (int)req->target.len, req->target.ptr, req->body_len);
    if (req->body_len)
        memcpy(out + n, req->body, req->body_len);
    md_http_respond(req, 200, NULL, 0, out, (size_t)n + req->body_len);
}

static void handle_streams(md_http_req_t *req)
{
    if (path_is(req, "/stream")) {
        md_header_t h = { "Content-Type", 12, "text/plain", 10 };
        APP_CHECK(md_http_stream_start(req, 200, &h, 1, -1) == MD_OK);
        APP_CHECK(md_http_stream_write(req, "abc", 3) == MD_OK);
        APP_CHECK(md_http_stream_write(req, "", 0) == MD_OK); /* no empty chunk */
        APP_CHECK(md_http_stream_write(req, "defg", 4) == MD_OK);
        md_http_stream_end(req);
    } else if (path_is(req, "/stream-len")) {
        APP_CHECK(md_http_stream_start(req, 200, NULL, 0, 7) == MD_OK);
        md_http_stream_write(req, "abc", 3);
        APP_CHECK(md_http_stream_write(req, "too long", 8) == MD_EINVAL);
        md_http_stream_write(req, "defg", 4);
        md_http_stream_end(req);
    } else if (path_is(req, "/stream-abort")) {
        APP_CHECK(md_http_stream_start(req, 200, NULL, 0, -1) == MD_OK);
        md_http_stream_write(req, "partial", 7);
        md_http_stream_abort(req);
    } else if (path_is(req, "/stream-inject")) {
        md_header_t h = { "X-Ok", 4, "a\nb", 3 };
        APP_CHECK(md_http_stream_start(req, 200, &h, 1, -1) == MD_EINVAL);
        APP_CHECK(md_http_stream_write(req, "x", 1) == MD_EINVAL);
        md_http_stream_end(req);
    }
}

static void handler(md_http_req_t *req, void *app)
{
    MD_UNUSED(app);
    if (path_is(req, "/hello")) {
        md_header_t h[] = { { "X-Test", 6, "yes", 3 }, { "Content-Length", 14, "999", 3 } };
        md_http_respond(req, 200, h, 2, "hello world", 11);
    } else if (path_is(req, "/echo")) {
        handle_echo(req);
    } else if (path_is(req, "/delay")) {
        handle_delay(req);
    } else if (path_is(req, "/big")) {
        handle_big(req);
    } else if (req->path.len >= 7 && memcmp(req->path.ptr, "/stream", 7) == 0) {
        handle_streams(req);
    } else if (path_is(req, "/inject")) {
        md_header_t h = { "X-Ok", 4, "a\r\nX-Evil: 1", 12 };
        md_http_respond(req, 200, &h, 1, "never", 5);
    } else if (path_is(req, "/inject-name")) {
        md_header_t h = { "X Evil", 6, "1", 1 };
        md_http_respond(req, 200, &h, 1, "never", 5);
    } else if (path_is(req, "/inject-nul")) {
        md_header_t h = { "X-Ok", 4, "a\0b", 3 };
        md_http_respond(req, 200, &h, 1, "never", 5);
    } else if (path_is(req, "/inject-del")) {
        md_header_t h = { "X-Ok", 4, "a\x7f", 2 };
        md_http_respond(req, 200, &h, 1, "never", 5);
    } else if (path_is(req, "/tab")) {
        md_header_t h = { "X-Tab", 5, "a\tb \xc3\xa9", 6 }; /* HTAB and obs-text are fine */
        md_http_respond(req, 200, &h, 1, "tab", 3);
    } else if (path_is(req, "/error")) {
        md_http_respond_error(req, 502, "backend_failed", "bad \"quote\"\n\x01 \xc3\xa9 \xff\\",
                              "\"backend\":\"hr\"");
    } else if (path_is(req, "/buf")) {
        md_buf_t b;
        md_buf_init(&b, 0);
        for (int i = 0; i < 100000; i++)
            md_buf_append_char(&b, (char)('0' + i % 10));
        md_http_respond_buf(req, 201, NULL, 0, &b);
        APP_CHECK(b.data == NULL); /* ownership taken */
    } else if (path_is(req, "/nocontent")) {
        md_http_respond(req, 204, NULL, 0, "ignored", 7);
    } else if (path_is(req, "/worker")) {
        char out[64];
        int *data = md_worker_data(req->worker);
        int n = snprintf(out, sizeof(out), "%d %d %d", md_worker_index(req->worker), *data,
                         md_worker_loop(req->worker) == req->loop);
        md_http_respond(req, 200, NULL, 0, out, (size_t)n);
    } else {
        md_http_respond_error(req, 404, "not_found", "no such path", NULL);
    }
}

static int worker_init(md_worker_t *w, void *app, void **data)
{
    MD_UNUSED(app);
    if (pthread_equal(pthread_self(), g_test_thread))
        atomic_store(&g_init_on_other_thread, false);
    if (md_worker_index(w) == atomic_load(&g_init_fail_index))
        return MD_ERR;
    int *d = md_malloc(sizeof(int));
    *d = md_worker_index(w);
    *data = d;
    atomic_fetch_add(&g_inits, 1);
    return MD_OK;
}

static void worker_fini(md_worker_t *w, void *app, void *data)
{
    MD_UNUSED(app);
    APP_CHECK(*(int *)data == md_worker_index(w));
    md_free(data);
    atomic_fetch_add(&g_finis, 1);
}

/* ---- the server under test ---- */

typedef struct fixture {
    md_server_t *srv;
    pthread_t thread;
    uint16_t port;
    int run_rc;
    bool joined;
} fixture_t;

static void *run_server(void *arg)
{
    fixture_t *f = arg;
    f->run_rc = md_server_run(f->srv);
    return NULL;
}

static fixture_t *start_on(const char *host, const md_limits_t *limits, int workers)
{
    reset_counters();
    g_test_thread = pthread_self();
    md_server_hooks_t hooks = { .handler = handler, .worker_init = worker_init, .worker_fini = worker_fini };
    char err[256] = "";
    fixture_t *f = calloc(1, sizeof(*f));
    f->srv = md_server_new(host, 0, workers, limits, &hooks, err, sizeof(err));
    if (!f->srv)
        fail_msg("md_server_new: %s", err);
    f->port = md_server_port(f->srv);
    assert_true(f->port != 0);
    assert_int_equal(pthread_create(&f->thread, NULL, run_server, f), 0);
    return f;
}

static fixture_t *start(const md_limits_t *limits)
{
    return start_on("127.0.0.1", limits, 1);
}

static void join_server(fixture_t *f)
{
    if (!f->joined)
        pthread_join(f->thread, NULL);
    f->joined = true;
}

static void stop(fixture_t *f)
{
    md_server_shutdown(f->srv);
    join_server(f);
    assert_int_equal(f->run_rc, MD_OK);
    md_server_free(f->srv);
    free(f);
    assert_int_equal(atomic_load(&g_app_errors), 0);
}

static void wait_for(atomic_int *v, int target, int ms)
{
    for (int i = 0; i < ms / 5 && atomic_load(v) < target; i++)
        usleep(5000);
    assert_true(atomic_load(v) >= target);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- a blocking test client ---- */

typedef struct client {
    int fd;
    char *buf;
    size_t len, cap;
} client_t;

typedef struct response {
    int status;
    char *head; /* status line + headers, NUL-terminated */
    char *body;
    size_t body_len;
} response_t;

static int connect_to(int family, uint16_t port, int rcvbuf)
{
    int fd = socket(family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    int rc;
    if (family == AF_INET6) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
        inet_pton(AF_INET6, "::1", &a.sin6_addr);
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    }
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static client_t *client_new(uint16_t port)
{
    client_t *c = calloc(1, sizeof(*c));
    c->fd = connect_to(AF_INET, port, 0);
    assert_true(c->fd >= 0);
    return c;
}

static void client_free(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

static void send_all(client_t *c, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(client_t *c, const char *s)
{
    send_all(c, s, strlen(s));
}

static bool fill(client_t *c)
{
    if (c->cap - c->len < 4096) {
        c->cap = c->cap ? c->cap * 2 : 65536;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n <= 0)
        return false;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return true;
}

static void consume(client_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* True when the server closed (FIN or reset) with nothing more to read;
 * false if bytes arrive or the receive timeout passes. */
static bool at_eof(client_t *c)
{
    if (c->len)
        return false;
    char b;
    ssize_t n = recv(c->fd, &b, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Reads everything up to EOF into c->buf. */
static void read_to_eof(client_t *c)
{
    while (fill(c))
        ;
}

static const char *header(const response_t *r, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            size_t len = (size_t)(strstr(v, "\r\n") - v);
            snprintf(out, outlen, "%.*s", (int)len, v);
            return out;
        }
    }
    return NULL;
}

static void body_append(response_t *r, const char *p, size_t n)
{
    r->body = realloc(r->body, r->body_len + n + 1);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static int read_chunked(client_t *c, response_t *r)
{
    for (;;) {
        char *eol;
        while (!(eol = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL))
            if (!fill(c))
                return -1;
        size_t size = strtoul(c->buf, NULL, 16);
        consume(c, (size_t)(eol - c->buf) + 2);
        while (c->len < size + 2)
            if (!fill(c))
                return -1;
        if (memcmp(c->buf + size, "\r\n", 2) != 0)
            return -1;
        body_append(r, c->buf, size);
        consume(c, size + 2);
        if (size == 0)
            return 0;
    }
}

/* One response; `no_body` for answers to HEAD. 0 or -1 (EOF, timeout). */
static int read_response(client_t *c, response_t *r, bool no_body)
{
    memset(r, 0, sizeof(*r));
    body_append(r, "", 0);
    char *end;
    while (!(end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL))
        if (!fill(c))
            return -1;
    size_t hlen = (size_t)(end - c->buf) + 4;
    r->head = strndup(c->buf, hlen);
    if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
        return -1;
    consume(c, hlen);
    char v[64];
    if (no_body || r->status == 204 || r->status == 304 || r->status / 100 == 1)
        return 0;
    if (header(r, "Transfer-Encoding", v, sizeof(v)))
        return strcmp(v, "chunked") == 0 ? read_chunked(c, r) : -1;
    if (header(r, "Content-Length", v, sizeof(v))) {
        size_t n = strtoul(v, NULL, 10);
        while (c->len < n)
            if (!fill(c))
                return -1;
        body_append(r, c->buf, n);
        consume(c, n);
        return 0;
    }
    read_to_eof(c);
    body_append(r, c->buf, c->len);
    consume(c, c->len);
    return 0;
}

static void response_free(response_t *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* One request on a fresh connection; asserts status and body. */
static void expect_exchange(uint16_t port, const char *request, int status, const char *body)
{
    client_t *c = client_new(port);
    send_str(c, request);
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, status);
    assert_string_equal(r.body, body);
    response_free(&r);
    client_free(c);
}

/* A server-generated error: status, JSON body, Connection: close, EOF. */
static void expect_error_and_close(client_t *c, int status, const char *code)
{
    response_t r;
    char v[128], want[128];
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, status);
    assert_non_null(header(&r, "Connection", v, sizeof(v)));
    assert_string_equal(v, "close");
    assert_non_null(header(&r, "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "application/json");
    snprintf(want, sizeof(want), "{\"error\":{\"status\":%d,\"code\":\"%s\",\"message\":\"", status,
             code);
    assert_true(strncmp(r.body, want, strlen(want)) == 0);
    assert_true(r.body_len > 2 && strcmp(r.body + r.body_len - 3, "\"}}") == 0);
    response_free(&r);
    assert_true(at_eof(c));
}

static void expect_request_error(uint16_t port, const char *request, int status, const char *code)
{
    client_t *c = client_new(port);
    send_str(c, request);
    expect_error_and_close(c, status, code);
    client_free(c);
}

/* ---- basic exchanges ---- */

static void get_returns_body_and_headers(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_true(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_string_equal(header(&r, "Server", v, sizeof(v)), "medley");
    assert_string_equal(header(&r, "X-Test", v, sizeof(v)), "yes");
    /* the caller's own Content-Length is dropped: exactly one, and right */
    assert_string_equal(header(&r, "Content-Length", v, sizeof(v)), "11");
    assert_null(strstr(r.head, "999"));
    assert_non_null(header(&r, "Date", v, sizeof(v)));
    assert_int_equal(strlen(v), 29);
    assert_string_equal(v + 25, " GMT");
    assert_null(header(&r, "Connection", v, sizeof(v)));
    assert_string_equal(r.body, "hello world");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void keep_alive_serves_three_requests(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    for (int i = 1; i <= 3; i++) {
        char req[128], want[64];
        snprintf(req, sizeof(req), "GET /echo?n=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        snprintf(want, sizeof(want), "GET /echo?n=%d 0:", i);
        send_str(c, req);
        response_t r;
        assert_int_equal(read_response(c, &r, false), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want);
        response_free(&r);
    }
    client_free(c);
    stop(f);
}

static void pipelined_requests_answered_in_order(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /echo?n=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                "POST /echo?n=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                "GET /echo?n=3 HTTP/1.1\r\nHost: t\r\n\r\n");
    const char *want[] = { "GET /echo?n=1 0:", "POST /echo?n=2 3:abc", "GET /echo?n=3 0:" };
    for (int i = 0; i < 3; i++) {
        response_t r;
        assert_int_equal(read_response(c, &r, false), 0);
        assert_string_equal(r.body, want[i]);
        response_free(&r);
    }
    client_free(c);
    stop(f);
}

/* max_pipelined = 2 with 40 requests in one write: the server must pause
 * and resume parsing without losing or reordering any. */
static void pipelining_is_bounded_but_complete(void **state)
{
    (void)state;
    md_limits_t l = { .max_pipelined = 2 };
    fixture_t *f = start(&l);
    client_t *c = client_new(f->port);
    char all[40 * 64] = "";
    for (int i = 0; i < 40; i++) {
        char one[64];
        snprintf(one, sizeof(one), "GET /echo?i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
        strcat(all, one);
    }
    send_str(c, all);
    for (int i = 0; i < 40; i++) {
        char want[64];
        snprintf(want, sizeof(want), "GET /echo?i=%d 0:", i);
        response_t r;
        assert_int_equal(read_response(c, &r, false), 0);
        assert_string_equal(r.body, want);
        response_free(&r);
    }
    client_free(c);
    stop(f);
}

static void head_sends_headers_without_body(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(c, &r, true), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "Content-Length", v, sizeof(v)), "11");
    response_free(&r);
    /* had a body been sent, it would now be read as the next status line */
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void no_content_has_no_length_or_body(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, 204);
    assert_null(header(&r, "Content-Length", v, sizeof(v)));
    response_free(&r);
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "hello world");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void http10_closes_unless_keep_alive(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /hello HTTP/1.0\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(header(&r, "Connection", v, sizeof(v)), "close");
    response_free(&r);
    assert_true(at_eof(c));
    client_free(c);

    c = client_new(f->port);
    send_str(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(header(&r, "Connection", v, sizeof(v)), "keep-alive");
    response_free(&r);
    send_str(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "GET /echo 0:");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void connection_close_request_gets_close(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(header(&r, "Connection", v, sizeof(v)), "close");
    response_free(&r);
    assert_true(at_eof(c)); /* the pipelined second request is not answered */
    client_free(c);
    stop(f);
}

/* ---- request bodies ---- */

static void post_content_length_body_reaches_handler(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    expect_exchange(f->port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", 200,
                    "POST /echo 5:hello");
    /* body arriving in pieces, after the head */
    client_t *c = client_new(f->port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234");
    usleep(50000);
    send_str(c, "56789");
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "POST /echo 10:0123456789");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void post_chunked_body_reaches_handler(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    /* a chunked body followed by a pipelined request in the same write */
    send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
                "GET /echo?after HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "POST /echo 11:hello world");
    response_free(&r);
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "GET /echo?after 0:");
    response_free(&r);
    /* the same body trickling in, split inside the framing */
    const char *parts[] = { "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5",
                            "\r\nhel", "lo\r", "\n6\r\n world\r\n0\r", "\n\r\n" };
    for (size_t i = 0; i < MD_ARRAY_LEN(parts); i++) {
        send_str(c, parts[i]);
        usleep(20000);
    }
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "POST /echo 11:hello world");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void expect_100_continue_before_body(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
    while (c->len < strlen(cont))
        assert_true(fill(c));
    assert_memory_equal(c->buf, cont, strlen(cont));
    consume(c, strlen(cont));
    send_str(c, "data");
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "POST /echo 4:data");
    response_free(&r);
    client_free(c);
    stop(f);
}

/* ---- protocol errors ---- */

static void oversized_head_gets_431(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    size_t n = 20 * 1024;
    char *req = malloc(n + 128);
    int k = sprintf(req, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + k, 'a', n);
    strcpy(req + k + n, "\r\n\r\n");
    client_t *c = client_new(f->port);
    send_str(c, req);
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, 431);
    assert_string_equal(r.body, "{\"error\":{\"status\":431,\"code\":\"headers_too_large\","
                                "\"message\":\"request head too large\"}}");
    response_free(&r);
    assert_true(at_eof(c));
    client_free(c);
    free(req);
    stop(f);
}

static void too_many_headers_gets_431(void **state)
{
    (void)state;
    md_limits_t l = { .max_headers = 10 };
    fixture_t *f = start(&l);
    char req[2048] = "GET /hello HTTP/1.1\r\n";
    for (int i = 0; i < 11; i++)
        sprintf(req + strlen(req), "X-H%d: v\r\n", i);
    strcat(req, "\r\n");
    expect_request_error(f->port, req, 431, "headers_too_large");
    /* exactly at the limit is fine */
    strcpy(req, "GET /hello HTTP/1.1\r\n");
    for (int i = 0; i < 10; i++)
        sprintf(req + strlen(req), "X-H%d: v\r\n", i);
    strcat(req, "\r\n");
    expect_exchange(f->port, req, 200, "hello world");
    stop(f);
}

static void oversized_body_gets_413(void **state)
{
    (void)state;
    md_limits_t l = { .max_body_bytes = 1024 };
    fixture_t *f = start(&l);
    /* announced too large: refused before any body byte is read */
    expect_request_error(f->port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n",
                         413, "body_too_large");
    /* chunked, found too large while decoding */
    client_t *c = client_new(f->port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 2; i++) {
        send_str(c, "258\r\n"); /* 0x258 = 600 */
        send_all(c, chunk, sizeof(chunk));
        send_str(c, "\r\n");
    }
    expect_error_and_close(c, 413, "body_too_large");
    client_free(c);
    /* exactly the limit is accepted */
    char *req = malloc(2048);
    int k = sprintf(req, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n");
    memset(req + k, 'y', 1024);
    req[k + 1024] = '\0';
    c = client_new(f->port);
    send_str(c, req);
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, strlen("POST /echo 1024:") + 1024);
    response_free(&r);
    client_free(c);
    free(req);
    stop(f);
}

/* The client keeps sending a body the server refused: without the
 * lingering close, close() with unread input resets the connection and the
 * client would lose the 413 it has not read yet. */
static void error_reaches_client_that_keeps_sending(void **state)
{
    (void)state;
    md_limits_t l = { .max_body_bytes = 1024 };
    fixture_t *f = start(&l);
    size_t n = 200 * 1024;
    char *req = malloc(n + 128);
    int k = sprintf(req, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", n);
    memset(req + k, 'z', n);
    client_t *c = client_new(f->port);
    send_all(c, req, (size_t)k + n / 2);
    usleep(100000); /* the server has answered and sent its FIN by now */
    send_all(c, req + k + n / 2, n / 2); /* a reset here would fail the send */
    usleep(100000);
    expect_error_and_close(c, 413, "body_too_large");
    client_free(c);
    free(req);
    stop(f);
}

static void framing_errors_get_400(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    expect_request_error(f->port,
                         "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                         400, "bad_request");
    expect_request_error(f->port, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Bad: a\x01z\r\n\r\n", 400,
                         "bad_request");
    expect_request_error(f->port, "GET /hello HTTP/1.1\rHost: t\r\n\r\n", 400, "bad_request");
    expect_request_error(f->port, "GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 1, 2\r\n\r\n",
                         400, "bad_request");
    expect_request_error(f->port, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400,
                         "bad_request");
    expect_request_error(f->port,
                         "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "zz\r\n",
                         400, "bad_request");
    stop(f);
}

static void unsupported_version_gets_505(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    expect_request_error(f->port, "GET /hello HTTP/2.0\r\nHost: t\r\n\r\n", 505,
                         "version_not_supported");
    expect_request_error(f->port, "GET /hello HTTP/1.2\r\nHost: t\r\n\r\n", 505,
                         "version_not_supported");
    stop(f);
}

static void unknown_transfer_encoding_gets_501(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    expect_request_error(f->port, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
                         501, "not_implemented");
    expect_request_error(f->port,
                         "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                         501, "not_implemented");
    stop(f);
}

/* ---- timeouts ---- */

static void idle_keep_alive_connection_times_out(void **state)
{
    (void)state;
    md_limits_t l = { .idle_timeout_ms = 200 };
    fixture_t *f = start(&l);
    client_t *c = client_new(f->port);
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    response_free(&r);
    uint64_t t0 = now_ms();
    assert_true(at_eof(c)); /* closed silently: no bytes before EOF */
    uint64_t dt = now_ms() - t0;
    assert_true(dt >= 150 && dt < 5000);
    client_free(c);
    stop(f);
}

static void slow_head_gets_408(void **state)
{
    (void)state;
    md_limits_t l = { .header_timeout_ms = 200 };
    fixture_t *f = start(&l);
    client_t *c = client_new(f->port);
    uint64_t t0 = now_ms();
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n");
    usleep(50000);
    send_str(c, "X-Slow: 1\r\n"); /* slowloris: dribbling does not extend it */
    expect_error_and_close(c, 408, "request_timeout");
    uint64_t dt = now_ms() - t0;
    assert_true(dt >= 150 && dt < 5000);
    client_free(c);
    stop(f);
}

static void slow_body_gets_408(void **state)
{
    (void)state;
    md_limits_t l = { .body_timeout_ms = 200 };
    fixture_t *f = start(&l);
    client_t *c = client_new(f->port);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    expect_error_and_close(c, 408, "request_timeout");
    client_free(c);
    stop(f);
}

/* ---- the request lifetime ---- */

static void disconnect_during_delayed_response_calls_on_abort(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    /* the app keeps the request and finishes it later from its timer */
    client_t *c = client_new(f->port);
    send_str(c, "GET /delay?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(&g_entered, 1, 5000);
    client_free(c);
    wait_for(&g_finished, 1, 5000);
    assert_int_equal(atomic_load(&g_aborts), 1);
    /* the app finishes inside on_abort itself */
    c = client_new(f->port);
    send_str(c, "GET /delay?ms=60000&finish_in_abort HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(&g_entered, 2, 5000);
    client_free(c);
    wait_for(&g_finished, 2, 5000);
    assert_int_equal(atomic_load(&g_aborts), 2);
    /* the worker is still healthy */
    expect_exchange(f->port, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, "hello world");
    stop(f);
}

static void delayed_response_is_delivered(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    /* a pipelined request waits behind the delayed one */
    send_str(c, "GET /delay?ms=100 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "delayed");
    response_free(&r);
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(r.body, "hello world");
    response_free(&r);
    assert_int_equal(atomic_load(&g_aborts), 0);
    client_free(c);
    stop(f);
}

/* ---- responses ---- */

static void header_injection_is_refused(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    const char *paths[] = { "/inject", "/inject-name", "/inject-nul", "/inject-del" };
    for (size_t i = 0; i < MD_ARRAY_LEN(paths); i++) {
        client_t *c = client_new(f->port);
        char req[128];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", paths[i]);
        send_str(c, req);
        response_t r;
        assert_int_equal(read_response(c, &r, false), 0);
        assert_int_equal(r.status, 500);
        assert_null(strstr(r.head, "Evil"));
        assert_null(strstr(r.head, "X-Ok"));
        assert_string_equal(r.body, "{\"error\":{\"status\":500,\"code\":\"internal_error\","
                                    "\"message\":\"invalid response header\"}}");
        response_free(&r);
        client_free(c);
    }
    client_t *c = client_new(f->port);
    send_str(c, "GET /tab HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "\r\nX-Tab: a\tb \xc3\xa9\r\n"));
    response_free(&r);
    client_free(c);
    expect_exchange(f->port, "GET /stream-inject HTTP/1.1\r\nHost: t\r\n\r\n", 500,
                    "{\"error\":{\"status\":500,\"code\":\"internal_error\","
                    "\"message\":\"invalid response header\"}}");
    stop(f);
}

static void error_body_is_escaped_json(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    expect_exchange(f->port, "GET /error HTTP/1.1\r\nHost: t\r\n\r\n", 502,
                    "{\"error\":{\"status\":502,\"code\":\"backend_failed\","
                    "\"message\":\"bad \\\"quote\\\"\\n\\u0001 \xc3\xa9 \xef\xbf\xbd\\\\\","
                    "\"backend\":\"hr\"}}");
    expect_exchange(f->port, "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 404,
                    "{\"error\":{\"status\":404,\"code\":\"not_found\","
                    "\"message\":\"no such path\"}}");
    stop(f);
}

static void respond_buf_sends_large_owned_body(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /buf HTTP/1.1\r\nHost: t\r\n\r\nGET /buf HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int k = 0; k < 2; k++) {
        response_t r;
        assert_int_equal(read_response(c, &r, false), 0);
        assert_int_equal(r.status, 201);
        assert_int_equal(r.body_len, 100000);
        for (size_t i = 0; i < r.body_len; i++)
            if (r.body[i] != (char)('0' + i % 10))
                fail_msg("byte %zu is wrong", i);
        response_free(&r);
    }
    client_free(c);
    stop(f);
}

static void stream_uses_chunked_encoding(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    const char *wire = "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    char *end;
    while (!(end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL))
        assert_true(fill(c));
    assert_non_null(strstr(c->buf, "\r\nTransfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(c->buf, "\r\nContent-Type: text/plain\r\n"));
    assert_null(strstr(c->buf, "Content-Length"));
    consume(c, (size_t)(end - c->buf) + 4);
    while (c->len < strlen(wire))
        assert_true(fill(c));
    assert_memory_equal(c->buf, wire, strlen(wire));
    consume(c, strlen(wire));
    /* the connection stays usable */
    send_str(c, "GET /stream-len HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(c, &r, false), 0);
    assert_string_equal(header(&r, "Content-Length", v, sizeof(v)), "7");
    assert_string_equal(r.body, "abcdefg");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void stream_to_http10_is_close_delimited(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(c, &r, false), 0);
    assert_null(header(&r, "Transfer-Encoding", v, sizeof(v)));
    assert_string_equal(header(&r, "Connection", v, sizeof(v)), "close");
    assert_string_equal(r.body, "abcdefg");
    response_free(&r);
    client_free(c);
    stop(f);
}

static void stream_abort_truncates(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    client_t *c = client_new(f->port);
    send_str(c, "GET /stream-abort HTTP/1.1\r\nHost: t\r\n\r\n");
    read_to_eof(c);
    assert_non_null(c->buf);
    assert_non_null(strstr(c->buf, "\r\n\r\n7\r\npartial\r\n"));
    assert_null(strstr(c->buf, "0\r\n\r\n")); /* never the terminating chunk */
    client_free(c);
    stop(f);
}

/* 4 MiB to a client that starts reading late through a small window: the
 * stream must hit MD_AGAIN, resume from the drain callback and deliver every
 * byte in order. */
static void stream_backpressure_delivers_everything(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(g_pattern); i++)
        g_pattern[i] = (char)('a' + i % 26);
    fixture_t *f = start(NULL);
    client_t *c = calloc(1, sizeof(*c));
    c->fd = connect_to(AF_INET, f->port, 16384);
    assert_true(c->fd >= 0);
    send_str(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(300000);
    response_t r;
    assert_int_equal(read_response(c, &r, false), 0);
    assert_int_equal(r.body_len, BIG_TOTAL);
    for (size_t i = 0; i < r.body_len; i++)
        if (r.body[i] != (char)('a' + i % 26))
            fail_msg("byte %zu is wrong", i);
    response_free(&r);
    assert_true(atomic_load(&g_drains) >= 1);
    assert_int_equal(atomic_load(&g_aborts), 0);
    assert_int_equal(atomic_load(&g_resets), 0);
    assert_int_equal(atomic_load(&g_big_done), 1);
    client_free(c);
    stop(f);
}

static void client_leaving_mid_stream_aborts_it(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(g_pattern); i++)
        g_pattern[i] = (char)('a' + i % 26);
    fixture_t *f = start(NULL);
    client_t *c = calloc(1, sizeof(*c));
    c->fd = connect_to(AF_INET, f->port, 16384);
    send_str(c, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(fill(c)); /* the stream has started */
    client_free(c);
    /* The app learns it one way or the other: MD_ERESET from its own write
     * (it then finishes the request itself), or on_abort while it waits for
     * a drain. Never both, never neither. */
    for (int i = 0; i < 1000 && atomic_load(&g_aborts) + atomic_load(&g_resets) == 0; i++)
        usleep(5000);
    usleep(50000);
    assert_int_equal(atomic_load(&g_aborts) + atomic_load(&g_resets), 1);
    assert_int_equal(atomic_load(&g_big_done), 0);
    expect_exchange(f->port, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n", 200, "hello world");
    stop(f);
}

/* ---- overload ---- */

static void over_max_connections_gets_503(void **state)
{
    (void)state;
    md_limits_t l = { .max_connections = 1 };
    fixture_t *f = start(&l);
    client_t *a = client_new(f->port);
    send_str(a, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    assert_int_equal(read_response(a, &r, false), 0);
    response_free(&r);
    client_t *b = client_new(f->port);
    expect_error_and_close(b, 503, "overloaded");
    client_free(b);
    /* the first connection is unaffected */
    send_str(a, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(a, &r, false), 0);
    assert_string_equal(r.body, "hello world");
    response_free(&r);
    client_free(a);
    stop(f);
}

static void over_max_inflight_gets_503_on_that_request(void **state)
{
    (void)state;
    md_limits_t l = { .max_inflight = 1 };
    fixture_t *f = start(&l);
    client_t *a = client_new(f->port);
    send_str(a, "GET /delay?ms=500 HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(&g_entered, 1, 5000);
    client_t *b = client_new(f->port);
    send_str(b, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(b, &r, false), 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"error\":{\"status\":503,\"code\":\"overloaded\","
                                "\"message\":\"too many requests in flight\"}}");
    assert_null(header(&r, "Connection", v, sizeof(v))); /* framing intact: kept */
    response_free(&r);
    assert_int_equal(read_response(a, &r, false), 0);
    assert_string_equal(r.body, "delayed");
    response_free(&r);
    send_str(b, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_response(b, &r, false), 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
    client_free(a);
    client_free(b);
    stop(f);
}

/* ---- lifecycle ---- */

static void graceful_shutdown_finishes_in_flight_request(void **state)
{
    (void)state;
    md_limits_t l = { .shutdown_timeout_ms = 10000 };
    fixture_t *f = start(&l);
    client_t *idle = client_new(f->port);
    send_str(idle, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response_t r;
    char v[64];
    assert_int_equal(read_response(idle, &r, false), 0);
    response_free(&r);
    client_t *a = client_new(f->port);
    send_str(a, "GET /delay?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(&g_entered, 1, 5000);

    md_server_shutdown(f->srv);
    assert_true(at_eof(idle)); /* idle keep-alive connection closed */
    int fd = -1;
    for (int i = 0; i < 200; i++) {
        fd = connect_to(AF_INET, f->port, 0);
        if (fd < 0)
            break;
        close(fd);
        usleep(5000);
    }
    assert_int_equal(fd, -1); /* new connections refused ... */
    assert_int_equal(atomic_load(&g_finished), 0); /* ... while A is in flight */

    assert_int_equal(read_response(a, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "delayed");
    assert_string_equal(header(&r, "Connection", v, sizeof(v)), "close");
    response_free(&r);
    assert_true(at_eof(a));
    assert_int_equal(atomic_load(&g_aborts), 0);
    join_server(f);
    assert_int_equal(f->run_rc, MD_OK);
    assert_int_equal(atomic_load(&g_finis), 1);
    client_free(idle);
    client_free(a);
    stop(f);
}

static void shutdown_force_closes_after_timeout(void **state)
{
    (void)state;
    md_limits_t l = { .shutdown_timeout_ms = 200 };
    fixture_t *f = start(&l);
    client_t *a = client_new(f->port);
    client_t *b = client_new(f->port);
    send_str(a, "GET /delay?ms=60000&finish_in_abort HTTP/1.1\r\nHost: t\r\n\r\n");
    send_str(b, "GET /delay?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n"); /* never finishes */
    wait_for(&g_entered, 2, 5000);
    uint64_t t0 = now_ms();
    md_server_shutdown(f->srv);
    assert_true(at_eof(a)); /* no response: the request was cut */
    assert_true(at_eof(b));
    join_server(f);
    uint64_t dt = now_ms() - t0;
    assert_true(dt >= 150 && dt < 8000);
    assert_int_equal(atomic_load(&g_aborts), 2);
    assert_int_equal(atomic_load(&g_finished), 1);
    client_free(a);
    client_free(b);
    stop(f);
}

static void busy_port_fails_in_new(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    md_server_hooks_t hooks = { .handler = handler };
    char err[256], want[256];
    md_server_t *other = md_server_new("127.0.0.1", f->port, 2, NULL, &hooks, err, sizeof(err));
    assert_null(other);
    snprintf(want, sizeof(want), "listen 127.0.0.1:%u: Address already in use", f->port);
    assert_string_equal(err, want);
    assert_null(md_server_new("no.such.host.invalid", 0, 1, NULL, &hooks, err, sizeof(err)));
    hooks.handler = NULL;
    assert_null(md_server_new("127.0.0.1", 0, 1, NULL, &hooks, err, sizeof(err)));
    stop(f);
}

static void ipv6_host_strings_work(void **state)
{
    (void)state;
    const char *hosts[] = { "::1", "[::1]" };
    for (size_t i = 0; i < MD_ARRAY_LEN(hosts); i++) {
        fixture_t *f = start_on(hosts[i], NULL, 1);
        client_t *c = calloc(1, sizeof(*c));
        c->fd = connect_to(AF_INET6, f->port, 0);
        assert_true(c->fd >= 0);
        send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
        response_t r;
        assert_int_equal(read_response(c, &r, false), 0);
        assert_string_equal(r.body, "hello world");
        response_free(&r);
        client_free(c);
        stop(f);
    }
}

static void worker_hooks_run_on_worker_threads(void **state)
{
    (void)state;
    fixture_t *f = start_on("127.0.0.1", NULL, 2);
    wait_for(&g_inits, 2, 5000);
    assert_true(atomic_load(&g_init_on_other_thread));
    for (int i = 0; i < 8; i++) {
        client_t *c = client_new(f->port);
        send_str(c, "GET /worker HTTP/1.1\r\nHost: t\r\n\r\n");
        response_t r;
        int idx = -1, data = -2, same_loop = 0;
        assert_int_equal(read_response(c, &r, false), 0);
        assert_int_equal(sscanf(r.body, "%d %d %d", &idx, &data, &same_loop), 3);
        assert_true(idx == 0 || idx == 1);
        assert_int_equal(idx, data);
        assert_int_equal(same_loop, 1);
        response_free(&r);
        client_free(c);
    }
    stop(f);
    assert_int_equal(atomic_load(&g_finis), 2);
}

static void failed_worker_init_makes_run_fail(void **state)
{
    (void)state;
    reset_counters();
    atomic_store(&g_init_fail_index, 1);
    md_server_hooks_t hooks = { .handler = handler, .worker_init = worker_init, .worker_fini = worker_fini };
    char err[256];
    md_server_t *srv = md_server_new("127.0.0.1", 0, 2, NULL, &hooks, err, sizeof(err));
    assert_non_null(srv);
    assert_int_equal(md_server_run(srv), MD_ERR); /* returns without a shutdown call */
    assert_int_equal(atomic_load(&g_inits), 1);
    assert_int_equal(atomic_load(&g_finis), 1); /* only the worker that started */
    md_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_returns_body_and_headers),
        cmocka_unit_test(keep_alive_serves_three_requests),
        cmocka_unit_test(pipelined_requests_answered_in_order),
        cmocka_unit_test(pipelining_is_bounded_but_complete),
        cmocka_unit_test(head_sends_headers_without_body),
        cmocka_unit_test(no_content_has_no_length_or_body),
        cmocka_unit_test(http10_closes_unless_keep_alive),
        cmocka_unit_test(connection_close_request_gets_close),
        cmocka_unit_test(post_content_length_body_reaches_handler),
        cmocka_unit_test(post_chunked_body_reaches_handler),
        cmocka_unit_test(expect_100_continue_before_body),
        cmocka_unit_test(oversized_head_gets_431),
        cmocka_unit_test(too_many_headers_gets_431),
        cmocka_unit_test(oversized_body_gets_413),
        cmocka_unit_test(error_reaches_client_that_keeps_sending),
        cmocka_unit_test(framing_errors_get_400),
        cmocka_unit_test(unsupported_version_gets_505),
        cmocka_unit_test(unknown_transfer_encoding_gets_501),
        cmocka_unit_test(idle_keep_alive_connection_times_out),
        cmocka_unit_test(slow_head_gets_408),
        cmocka_unit_test(slow_body_gets_408),
        cmocka_unit_test(disconnect_during_delayed_response_calls_on_abort),
        cmocka_unit_test(delayed_response_is_delivered),
        cmocka_unit_test(header_injection_is_refused),
        cmocka_unit_test(error_body_is_escaped_json),
        cmocka_unit_test(respond_buf_sends_large_owned_body),
        cmocka_unit_test(stream_uses_chunked_encoding),
        cmocka_unit_test(stream_to_http10_is_close_delimited),
        cmocka_unit_test(stream_abort_truncates),
        cmocka_unit_test(stream_backpressure_delivers_everything),
        cmocka_unit_test(client_leaving_mid_stream_aborts_it),
        cmocka_unit_test(over_max_connections_gets_503),
        cmocka_unit_test(over_max_inflight_gets_503_on_that_request),
        cmocka_unit_test(graceful_shutdown_finishes_in_flight_request),
        cmocka_unit_test(shutdown_force_closes_after_timeout),
        cmocka_unit_test(busy_port_fails_in_new),
        cmocka_unit_test(ipv6_host_strings_work),
        cmocka_unit_test(worker_hooks_run_on_worker_threads),
        cmocka_unit_test(failed_worker_init_makes_run_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
