/*
 * Tests for the server's on_reject hook (http/server.h): every request the
 * server refuses itself is reported exactly once, with the status sent, the
 * reason code, the method and path only when the request line was well
 * formed (never the query, never a header), the client and the timing; idle
 * connections and normal requests are not reported, and the in-flight 503
 * goes to on_reject instead of on_finish. A real server on 127.0.0.1 port 0
 * driven by blocking clients, as in test_server.c (which is at its size
 * limit, hence this file). Expected values come from the contract in
 * server.h, not from runs.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/loop.h"
#include "core/pool.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RECS 16

/* ---- what the hooks saw (written on the worker thread) ---- */

typedef struct rec {
    int status;
    char reason[32];
    char method[64];
    size_t path_len;
    char path[2048];
    char client[64];
    uint64_t body_bytes, start_us, end_us;
    bool on_test_thread;
} rec_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static rec_t g_recs[MAX_RECS];
static int g_nrecs;            /* under g_mu; may exceed MAX_RECS (then not stored) */
static atomic_int g_finished;  /* on_finish calls */
static atomic_int g_entered;   /* /delay handlers entered */
static pthread_t g_test_thread;

static void copy_str(char *out, size_t cap, md_str_t s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(out, s.ptr, n);
    out[n] = '\0';
}

static void on_reject(md_worker_t *w, const md_http_reject_t *r, void *app)
{
    (void)w;
    (void)app;
    pthread_mutex_lock(&g_mu);
    if (g_nrecs < MAX_RECS) {
        rec_t *k = &g_recs[g_nrecs];
        k->status = r->status;
        snprintf(k->reason, sizeof(k->reason), "%s", r->reason);
        copy_str(k->method, sizeof(k->method), r->method);
        k->path_len = r->path.len;
        copy_str(k->path, sizeof(k->path), r->path);
        snprintf(k->client, sizeof(k->client), "%s", r->client);
        k->body_bytes = r->body_bytes;
        k->start_us = r->start_us;
        k->end_us = r->end_us;
        k->on_test_thread = pthread_equal(pthread_self(), g_test_thread);
    }
    g_nrecs++;
    pthread_mutex_unlock(&g_mu);
}

static void on_finish(md_http_req_t *req, const md_http_done_t *done, void *app)
{
    (void)req;
    (void)done;
    (void)app;
    atomic_fetch_add(&g_finished, 1);
}

static int nrecs(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_nrecs;
    pthread_mutex_unlock(&g_mu);
    return n;
}

static rec_t rec_at(int i)
{
    pthread_mutex_lock(&g_mu);
    rec_t k = g_recs[i];
    pthread_mutex_unlock(&g_mu);
    return k;
}

/* ---- the application ---- */

typedef struct delay {
    md_timer_t timer;
    md_http_req_t *req;
} delay_t;

static void delay_fire(md_timer_t *t)
{
    delay_t *d = t->data;
    md_http_respond(d->req, 200, NULL, 0, "delayed", 7);
}

static void delay_release(void *arg)
{
    delay_t *d = arg;
    md_timer_stop(d->req->loop, &d->timer);
}

static bool path_is(const md_http_req_t *req, const char *p)
{
    return req->path.len == strlen(p) && memcmp(req->path.ptr, p, req->path.len) == 0;
}

static void handler(md_http_req_t *req, void *app)
{
    (void)app;
    if (path_is(req, "/delay")) {
        delay_t *d = md_pool_calloc(req->pool, sizeof(*d));
        d->req = req;
        md_timer_init(&d->timer, delay_fire, d);
        md_timer_start(req->loop, &d->timer, 300);
        md_pool_on_release(req->pool, delay_release, d);
        atomic_fetch_add(&g_entered, 1);
    } else if (path_is(req, "/echo-head")) {
        char out[128];
        int n = snprintf(out, sizeof(out), "%.*s %.*s %zu", (int)req->method.len, req->method.ptr,
                         (int)req->target.len, req->target.ptr, req->body_len);
        md_http_respond(req, 200, NULL, 0, out, (size_t)n);
    } else {
        md_http_respond(req, 200, NULL, 0, "ok", 2);
    }
}

/* ---- the server under test ---- */

typedef struct fixture {
    md_server_t *srv;
    pthread_t thread;
    uint16_t port;
} fixture_t;

static void *run_server(void *arg)
{
    fixture_t *f = arg;
    md_server_run(f->srv);
    return NULL;
}

static fixture_t *start(const md_limits_t *limits)
{
    pthread_mutex_lock(&g_mu);
    g_nrecs = 0;
    memset(g_recs, 0, sizeof(g_recs));
    pthread_mutex_unlock(&g_mu);
    atomic_store(&g_finished, 0);
    atomic_store(&g_entered, 0);
    g_test_thread = pthread_self();
    md_server_hooks_t hooks = { .handler = handler, .on_finish = on_finish, .on_reject = on_reject };
    char err[256] = "";
    fixture_t *f = calloc(1, sizeof(*f));
    f->srv = md_server_new("127.0.0.1", 0, 1, limits, &hooks, err, sizeof(err));
    if (!f->srv)
        fail_msg("md_server_new: %s", err);
    f->port = md_server_port(f->srv);
    assert_int_equal(pthread_create(&f->thread, NULL, run_server, f), 0);
    return f;
}

/* Stops the server (every hook has run once this returns) and checks the
 * final number of reports. */
static void stop(fixture_t *f, int want_recs)
{
    md_server_shutdown(f->srv);
    pthread_join(f->thread, NULL);
    md_server_free(f->srv);
    free(f);
    assert_int_equal(nrecs(), want_recs);
}

/* ---- a blocking client ---- */

typedef struct resp {
    int status;
    size_t body_len;
    bool closed;     /* the server closed the connection after it */
} resp_t;

static int connect_port(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_bytes(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_bytes(fd, s, strlen(s));
}

/* One response with a Content-Length body (all the server's own errors
 * have one); with `to_eof`, then waits for the close. */
static resp_t read_resp(int fd, bool to_eof)
{
    char buf[8192];
    size_t len = 0;
    char *end = NULL;
    resp_t r = { 0 };
    while (!end) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        assert_true(n > 0);
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    assert_int_equal(sscanf(buf, "HTTP/1.1 %d ", &r.status), 1);
    const char *cl = strstr(buf, "Content-Length: ");
    assert_non_null(cl);
    size_t want = strtoul(cl + 16, NULL, 10), have = len - (size_t)(end + 4 - buf);
    while (have < want) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        assert_true(n > 0);
        have += (size_t)n;
    }
    r.body_len = want;
    if (to_eof) {
        char b;
        ssize_t n = recv(fd, &b, 1, 0);
        r.closed = n == 0 || (n < 0 && errno == ECONNRESET);
    }
    return r;
}

/* Sends a request on a fresh connection; returns the server's answer
 * after it closed the connection. */
static resp_t refused(uint16_t port, const char *req, size_t len)
{
    int fd = connect_port(port);
    send_bytes(fd, req, len);
    resp_t r = read_resp(fd, true);
    close(fd);
    assert_true(r.closed);
    return r;
}

/* Record i: the status, reason, method and path; the client and the
 * body size as the client saw them; sane timing. */
static void expect_rec(int i, const resp_t *r, int status, const char *reason, const char *method,
                       const char *path)
{
    assert_true(nrecs() > i);
    rec_t k = rec_at(i);
    assert_int_equal(r->status, status);
    assert_int_equal(k.status, status);
    assert_string_equal(k.reason, reason);
    assert_string_equal(k.method, method);
    assert_string_equal(k.path, path);
    assert_string_equal(k.client, "127.0.0.1");
    assert_int_equal(k.body_bytes, r->body_len);
    assert_true(k.end_us > 0 && k.end_us <= md_now_us());
    assert_true(k.start_us <= k.end_us);
    assert_false(k.on_test_thread);
}

static resp_t refused_str(uint16_t port, const char *req)
{
    return refused(port, req, strlen(req));
}

/* ---- tests ---- */

static void normal_requests_are_not_reported(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    int fd = connect_port(f->port);
    send_str(fd, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_resp(fd, false).status, 200);
    send_str(fd, "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    assert_int_equal(read_resp(fd, false).status, 200);
    send_str(fd, "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    assert_int_equal(read_resp(fd, false).status, 200);
    /* a head in two pieces is still a normal request */
    send_str(fd, "GET /d HTTP/1.1\r\n");
    usleep(30000);
    send_str(fd, "Host: t\r\n\r\n");
    assert_int_equal(read_resp(fd, false).status, 200);
    close(fd);
    assert_int_equal(nrecs(), 0);
    stop(f, 0);
    assert_int_equal(atomic_load(&g_finished), 4);
}

/* The start of a head that came in pieces belongs to that request only:
 * the next one on the connection, refused as it arrived in one read, has
 * no known start. */
static void start_is_not_carried_to_the_next_request(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    int fd = connect_port(f->port);
    send_str(fd, "GET /a HTTP/1.1\r\n");
    usleep(30000);
    send_str(fd, "Host: t\r\n\r\n");
    assert_int_equal(read_resp(fd, false).status, 200);
    send_str(fd, "GET /b HTTP/1.1\r\nX-Bad: \x01\r\n\r\n");
    resp_t r = read_resp(fd, true);
    close(fd);
    expect_rec(0, &r, 400, "bad_request", "GET", "/b");
    assert_int_equal(rec_at(0).start_us, 0);
    stop(f, 1);
    assert_int_equal(atomic_load(&g_finished), 1);
}

static void malformed_request_lines_have_no_method_or_path(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    static const char *const lines[] = {
        "GE T /x HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET  /x HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET /x\r\nHost: t\r\n\r\n",
        "GET /x HTTP/1.1 x\r\nHost: t\r\n\r\n",
        "GET /a\x01z HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET x HTTP/1.1\r\nHost: t\r\n\r\n",
        "G\"T /x HTTP/1.1\r\nHost: t\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(lines); i++) {
        uint64_t t0 = md_now_us();
        resp_t r = refused_str(f->port, lines[i]);
        assert_int_equal(nrecs(), (int)i + 1); /* once, before the answer */
        expect_rec((int)i, &r, 400, "bad_request", "", "");
        rec_t k = rec_at((int)i);
        assert_true(k.end_us >= t0);
        assert_int_equal(k.start_us, 0); /* came in one read */
    }
    stop(f, (int)MD_ARRAY_LEN(lines));
    assert_int_equal(atomic_load(&g_finished), 0);
}

static void bad_header_reports_line_without_query_or_headers(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    resp_t r = refused_str(f->port, "GET /hello?token=SECRET456 HTTP/1.1\r\nHost: t\r\n"
                                    "Authorization: Bearer SECRET123\r\nX-Bad: a\x01z\r\n\r\n");
    expect_rec(0, &r, 400, "bad_request", "GET", "/hello");
    /* bare LF line ends and the asterisk form count as well formed */
    r = refused_str(f->port, "DELETE /x/y HTTP/1.0\nX-Bad: \x01\n\n");
    expect_rec(1, &r, 400, "bad_request", "DELETE", "/x/y");
    r = refused_str(f->port, "OPTIONS * HTTP/1.1\r\nX-Bad: \x01\r\n\r\n");
    expect_rec(2, &r, 400, "bad_request", "OPTIONS", "*");
    stop(f, 3);
}

static void long_method_and_path_are_capped(void **state)
{
    (void)state;
    fixture_t *f = start(NULL);
    size_t n = 2000;
    char *req = malloc(n + 256);
    int k = sprintf(req, "GET /");
    memset(req + k, 'a', n);
    strcpy(req + k + n, "?q=1 HTTP/1.1\r\nX-Bad: \x01\r\n\r\n");
    resp_t r = refused_str(f->port, req);
    assert_int_equal(r.status, 400);
    rec_t rec = rec_at(0);
    assert_int_equal(rec.path_len, MD_HTTP_REJECT_PATH_MAX);
    assert_int_equal(strspn(rec.path + 1, "a"), MD_HTTP_REJECT_PATH_MAX - 1);
    assert_string_equal(rec.method, "GET");
    /* a method token longer than the cap: left out, not cut */
    memset(req, 'M', 40);
    strcpy(req + 40, " /m HTTP/1.1\r\nX-Bad: \x01\r\n\r\n");
    r = refused_str(f->port, req);
    expect_rec(1, &r, 400, "bad_request", "", "");
    /* the same from a parsed head (a body error) */
    strcpy(req + 40, " /m HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    r = refused_str(f->port, req);
    expect_rec(2, &r, 400, "bad_chunked", "", "/m");
    free(req);
    stop(f, 3);
}

static void head_limits_report_their_reason(void **state)
{
    (void)state;
    md_limits_t l = { .max_headers = 4, .max_header_bytes = 4096 };
    fixture_t *f = start(&l);
    /* too large, arriving in two pieces: the start is the first byte */
    int fd = connect_port(f->port);
    uint64_t t0 = md_now_us();
    send_str(fd, "GET /big?x=1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer SECRET123\r\n");
    usleep(60000);
    char big[5000];
    memset(big, 'b', sizeof(big));
    memcpy(big, "X-Big: ", 7);
    send_bytes(fd, big, sizeof(big));
    resp_t r = read_resp(fd, true);
    close(fd);
    expect_rec(0, &r, 431, "header_too_large", "GET", "/big");
    rec_t k = rec_at(0);
    assert_true(k.start_us >= t0 && k.start_us < t0 + 50000);
    assert_true(k.end_us - k.start_us >= 50000);

    r = refused_str(f->port, "GET /many HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n");
    expect_rec(1, &r, 431, "too_many_headers", "GET", "/many");
    r = refused_str(f->port, "GET /v HTTP/2.0\r\nHost: t\r\n\r\n");
    expect_rec(2, &r, 505, "version", "GET", "/v");
    r = refused_str(f->port, "POST /te HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n");
    expect_rec(3, &r, 501, "transfer_encoding", "POST", "/te");
    r = refused_str(f->port, "POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    expect_rec(4, &r, 400, "bad_framing", "POST", "/cl");
    stop(f, 5);
    assert_int_equal(atomic_load(&g_finished), 0);
}

static void body_errors_report_their_reason(void **state)
{
    (void)state;
    md_limits_t l = { .max_body_bytes = 1024 };
    fixture_t *f = start(&l);
    resp_t r = refused_str(f->port, "POST /up?k=v HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n");
    expect_rec(0, &r, 413, "body_too_large", "POST", "/up");
    /* chunked, over the limit while decoding: the parsed head reports */
    char req[2048];
    int k = sprintf(req, "PUT /chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "258\r\n");
    memset(req + k, 'x', 600);
    k += 600;
    k += sprintf(req + k, "\r\n258\r\n");
    memset(req + k, 'x', 600);
    k += 600;
    k += sprintf(req + k, "\r\n");
    r = refused(f->port, req, (size_t)k);
    expect_rec(1, &r, 413, "body_too_large", "PUT", "/chunks");
    r = refused_str(f->port, "POST /zz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    expect_rec(2, &r, 400, "bad_chunked", "POST", "/zz");
    assert_int_equal(rec_at(2).start_us, 0);
    stop(f, 3);
    assert_int_equal(atomic_load(&g_finished), 0);
}

static void timeouts_report_header_or_body_timeout(void **state)
{
    (void)state;
    md_limits_t l = { .header_timeout_ms = 200, .body_timeout_ms = 200 };
    fixture_t *f = start(&l);
    /* slowloris: the request line is complete, the head never is */
    int fd = connect_port(f->port);
    uint64_t t0 = md_now_us();
    send_str(fd, "GET /slow?token=SECRET456 HTTP/1.1\r\nHost: t\r\n");
    usleep(50000);
    send_str(fd, "X-Slow: 1\r\n");
    resp_t r = read_resp(fd, true);
    close(fd);
    expect_rec(0, &r, 408, "header_timeout", "GET", "/slow");
    rec_t k = rec_at(0);
    assert_true(k.start_us >= t0 && k.end_us - k.start_us >= 150000);
    /* not even the request line */
    fd = connect_port(f->port);
    send_str(fd, "GET /sl");
    r = read_resp(fd, true);
    close(fd);
    expect_rec(1, &r, 408, "header_timeout", "", "");
    assert_true(rec_at(1).start_us > 0);
    /* the body never comes */
    fd = connect_port(f->port);
    send_str(fd, "POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    r = read_resp(fd, true);
    close(fd);
    expect_rec(2, &r, 408, "body_timeout", "POST", "/body");
    stop(f, 3);
    assert_int_equal(atomic_load(&g_finished), 0);
}

/* A body arriving in pieces makes the read buffer grow (move): the head
 * the handler and a report see must still be the request's (under ASan a
 * stale head is a use-after-free). */
static void head_survives_a_growing_body(void **state)
{
    (void)state;
    md_limits_t l = { .body_timeout_ms = 200 };
    fixture_t *f = start(&l);
    size_t n = 100000;
    char *body = malloc(n);
    memset(body, 'y', n);
    int fd = connect_port(f->port);
    send_str(fd, "POST /echo-head?q=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    usleep(20000);
    send_bytes(fd, body, n);
    char buf[512] = "";
    size_t len = 0;
    while (!strstr(buf, "POST /echo-head?q=1 100000")) {
        ssize_t k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        assert_true(k > 0);
        len += (size_t)k;
        buf[len] = '\0';
    }
    close(fd);
    /* chunked: the buffer grows chunk by chunk */
    fd = connect_port(f->port);
    send_str(fd, "PUT /echo-head HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        send_str(fd, "4e20\r\n"); /* 20000 */
        send_bytes(fd, body, 20000);
        send_str(fd, "\r\n");
        usleep(5000);
    }
    send_str(fd, "0\r\n\r\n");
    len = 0;
    buf[0] = '\0';
    while (!strstr(buf, "PUT /echo-head 100000")) {
        ssize_t k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        assert_true(k > 0);
        len += (size_t)k;
        buf[len] = '\0';
    }
    close(fd);
    /* refused after the buffer moved: the report has the parsed head */
    fd = connect_port(f->port);
    send_str(fd, "POST /moved?q=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    send_bytes(fd, body, 50000);
    resp_t r = read_resp(fd, true);
    close(fd);
    expect_rec(0, &r, 408, "body_timeout", "POST", "/moved");
    free(body);
    stop(f, 1);
    assert_int_equal(atomic_load(&g_finished), 2);
}

static void idle_connections_are_not_reported(void **state)
{
    (void)state;
    md_limits_t l = { .header_timeout_ms = 150, .idle_timeout_ms = 150 };
    fixture_t *f = start(&l);
    /* keep-alive connection idle after a request */
    int fd = connect_port(f->port);
    send_str(fd, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_resp(fd, false).status, 200);
    char b;
    assert_int_equal(recv(fd, &b, 1, 0), 0); /* closed silently */
    close(fd);
    /* a new connection that never sends a byte */
    fd = connect_port(f->port);
    assert_int_equal(recv(fd, &b, 1, 0), 0);
    close(fd);
    /* a client that leaves in the middle of a head: nobody to answer */
    fd = connect_port(f->port);
    send_str(fd, "GET /gone HTTP/1.1\r\n");
    close(fd);
    usleep(300000);
    stop(f, 0);
    assert_int_equal(atomic_load(&g_finished), 1);
}

static void overload_is_reported_not_finished(void **state)
{
    (void)state;
    md_limits_t l = { .max_connections = 2, .max_inflight = 1 };
    fixture_t *f = start(&l);
    int a = connect_port(f->port);
    send_str(a, "GET /delay HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 1000 && atomic_load(&g_entered) < 1; i++)
        usleep(5000);
    assert_int_equal(atomic_load(&g_entered), 1);
    /* over max_inflight: answered by the server, the connection kept */
    int b = connect_port(f->port);
    send_str(b, "GET /hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    resp_t r = read_resp(b, false);
    expect_rec(0, &r, 503, "overloaded", "GET", "/hello");
    assert_int_equal(atomic_load(&g_finished), 0);
    /* over max_connections: no request was read */
    int c = connect_port(f->port);
    r = read_resp(c, true);
    close(c);
    expect_rec(1, &r, 503, "too_many_connections", "", "");
    assert_int_equal(read_resp(a, false).status, 200);
    send_str(b, "GET /again HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_resp(b, false).status, 200);
    close(a);
    close(b);
    stop(f, 2);
    assert_int_equal(atomic_load(&g_finished), 2); /* /delay and /again, not the 503 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normal_requests_are_not_reported),
        cmocka_unit_test(start_is_not_carried_to_the_next_request),
        cmocka_unit_test(malformed_request_lines_have_no_method_or_path),
        cmocka_unit_test(bad_header_reports_line_without_query_or_headers),
        cmocka_unit_test(long_method_and_path_are_capped),
        cmocka_unit_test(head_limits_report_their_reason),
        cmocka_unit_test(body_errors_report_their_reason),
        cmocka_unit_test(timeouts_report_header_or_body_timeout),
        cmocka_unit_test(head_survives_a_growing_body),
        cmocka_unit_test(idle_connections_are_not_reported),
        cmocka_unit_test(overload_is_reported_not_finished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
