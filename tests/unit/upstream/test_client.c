/*
 * Unit tests for upstream/client: the client runs on a real md_loop_t and
 * talks over loopback to small HTTP servers run by the test itself (a
 * thread per connection, plain blocking sockets, scripted responses), so
 * framing, keep-alive, retries, timeouts and resets are exercised for real.
 */
#include "testutil.h"

#include "clienttest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* ---- scripted server ---- */

typedef struct blob {
    const char *data;
    size_t len;
} blob_t;

#define BLOB(s) ((blob_t){ (s), sizeof(s) - 1 })
#define MAX_CONN_THREADS 32

typedef void (*srv_handler)(srv_t *s, int fd, int conn_index);

struct srv {
    int lfd;
    uint16_t port;
    pthread_t accept_thread;
    srv_handler handler;
    /* script for srv_generic */
    blob_t resp[8];
    int nresp;
    bool by_conn;         /* response chosen by connection index, not request index */
    int delay_ms;         /* before each response */
    bool close_after;     /* close after the first response... */
    int close_delay_ms;   /* ...this long after it */
    bool rst;             /* close with an RST (SO_LINGER 0) */
    bool no_answer;       /* read the request, never answer */
    void *data;           /* per-test handler data */
    atomic_int accepts, active, max_active, requests;
    atomic_bool stop;
    pthread_mutex_t lock;
    char last_req[8192];
    size_t last_req_len;
    pthread_t threads[MAX_CONN_THREADS];
    int nthreads;
};

typedef struct conn_arg {
    srv_t *s;
    int fd;
    int index;
} conn_arg_t;

/* Sleeps up to ms, returning early (false) when the server is stopping. */
static bool srv_wait(srv_t *s, int ms)
{
    for (int t = 0; t < ms; t += 5) {
        if (atomic_load(&s->stop))
            return false;
        ms_sleep(5);
    }
    return !atomic_load(&s->stop);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static size_t request_body_len(const char *buf, size_t head)
{
    ssize_t at = find(buf, head, "Content-Length: ");
    return at >= 0 ? (size_t)strtoul(buf + at + 16, NULL, 10) : 0;
}

/* Reads one request (head + Content-Length body). Its length, or -1 on
 * EOF, error or stop. */
static ssize_t srv_read_request(srv_t *s, int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t end = find(buf, len, "\r\n\r\n");
        if (end >= 0) {
            size_t head = (size_t)end + 4;
            size_t total = head + request_body_len(buf, head);
            if (len >= total) {
                pthread_mutex_lock(&s->lock);
                memcpy(s->last_req, buf, total < sizeof(s->last_req) ? total : sizeof(s->last_req));
                s->last_req_len = total;
                pthread_mutex_unlock(&s->lock);
                atomic_fetch_add(&s->requests, 1);
                return (ssize_t)total;
            }
        }
        if (len == cap)
            return -1;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, 20);
        if (atomic_load(&s->stop))
            return -1;
        if (r <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
    }
}

static void set_rst_on_close(int fd)
{
    struct linger l = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* Serves the script in the srv_t fields. */
static void srv_generic(srv_t *s, int fd, int index)
{
    char req[8192];
    for (int k = 0; srv_read_request(s, fd, req, sizeof(req)) > 0; k++) {
        if (s->no_answer) {
            srv_wait(s, 60000);
            return;
        }
        if (s->delay_ms && !srv_wait(s, s->delay_ms))
            return;
        int i = s->by_conn ? index : k;
        blob_t r = s->resp[i < s->nresp ? i : s->nresp - 1];
        send_all(fd, r.data, r.len);
        if (s->close_after) {
            srv_wait(s, s->close_delay_ms);
            break;
        }
    }
    if (s->rst)
        set_rst_on_close(fd);
}

static void *conn_thread(void *p)
{
    conn_arg_t *a = p;
    srv_t *s = a->s;
    int now = atomic_fetch_add(&s->active, 1) + 1;
    int seen = atomic_load(&s->max_active);
    while (now > seen && !atomic_compare_exchange_weak(&s->max_active, &seen, now))
        ;
    s->handler(s, a->fd, a->index);
    atomic_fetch_sub(&s->active, 1);
    close(a->fd);
    free(a);
    return NULL;
}

static void *accept_thread(void *p)
{
    srv_t *s = p;
    int fd;
    while ((fd = accept_conn(s->lfd, &s->stop, s->nthreads, MAX_CONN_THREADS)) >= 0) {
        conn_arg_t *a = malloc(sizeof(*a));
        a->s = s;
        a->fd = fd;
        a->index = atomic_fetch_add(&s->accepts, 1);
        pthread_create(&s->threads[s->nthreads++], NULL, conn_thread, a);
    }
    return NULL; /* shutdown() by srv_stop */
}

static srv_t *srv_new(srv_handler h)
{
    srv_t *s = calloc(1, sizeof(*s));
    s->handler = h ? h : srv_generic;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void srv_start(srv_t *s)
{
    s->lfd = loopback_listener(&s->port);
    pthread_create(&s->accept_thread, NULL, accept_thread, s);
}

static void srv_stop(srv_t *s)
{
    atomic_store(&s->stop, true);
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->accept_thread, NULL);
    for (int i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool last_request_is(srv_t *s, const char *expect)
{
    pthread_mutex_lock(&s->lock);
    bool same = s->last_req_len == strlen(expect) && memcmp(s->last_req, expect, s->last_req_len) == 0;
    if (!same)
        fprintf(stderr, "last request was:\n%.*s\n", (int)s->last_req_len, s->last_req);
    pthread_mutex_unlock(&s->lock);
    return same;
}

/* ---- client side fixture ---- */

static void fx_conf(fx_t *f, uint16_t port)
{
    loopback_conf(f, "test", "127.0.0.1", port);
}

/* Starts the server (already scripted) and prepares a client conf for it. */
static void fx_init(fx_t *f, srv_t *s)
{
    memset(f, 0, sizeof(*f));
    f->srv = s;
    srv_start(s);
    f->loop = md_loop_new();
    assert_non_null(f->loop);
    fx_conf(f, s->port);
}

static void fx_up(fx_t *f)
{
    f->up = md_upstream_new(f->loop, &f->conf, 1);
    assert_non_null(f->up);
}

/* ---- tests ---- */

static void content_length_response_and_exact_request(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"a\":\"bc\"}");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    md_kv_t statics[] = { { "X-Static", "one" } };
    f.conf.headers = statics;
    f.conf.nheaders = 1;
    f.conf.base_path = "/api";
    fx_up(&f);

    md_header_t hs[] = { { "X-Req", 5, "two", 3 } };
    md_upstream_req_t req = get_req("/items?id=7");
    req.headers = hs;
    req.nheaders = 1;
    got_t g = { 0 };
    call_once(&f, &req, &g);

    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, 10);
    assert_memory_equal(g.body, "{\"a\":\"bc\"}", 10);
    assert_string_equal(g.ctype, "application/json");
    assert_int_equal(g.wire, s->resp[0].len);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "GET /api/items?id=7 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: keep-alive\r\n"
             "X-Static: one\r\nX-Req: two\r\nAccept-Encoding: gzip\r\n\r\n",
             s->port);
    assert_true(last_request_is(s, expect));
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.calls, 1);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.idle, 1);
    md_free(g.body);
    fx_done(&f);
}

static void post_body_carries_content_length(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = { .method = "POST", .path = "/p", .path_len = 2, .body = "{\"x\":1}", .body_len = 7 };
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.status, 201);
    assert_int_equal(g.len, 0);
    char expect[512];
    snprintf(expect, sizeof(expect),
             "POST /p HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: keep-alive\r\n"
             "Accept-Encoding: gzip\r\nContent-Length: 7\r\n\r\n{\"x\":1}",
             s->port);
    assert_true(last_request_is(s, expect));
    md_free(g.body);
    fx_done(&f);
}

static void h_chunked_split(srv_t *s, int fd, int index)
{
    (void)index;
    static const char *parts[] = { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                                   "lo\r\n6\r\n world\r", "\n0\r\n", "\r\n" };
    char req[4096];
    while (srv_read_request(s, fd, req, sizeof(req)) > 0) {
        for (size_t i = 0; i < MD_ARRAY_LEN(parts); i++) {
            send_all(fd, parts[i], strlen(parts[i]));
            srv_wait(s, 15);
        }
    }
}

static void chunked_split_over_writes(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_new(h_chunked_split));
    fx_up(&f);
    md_upstream_req_t req = get_req("/c");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, 11);
    assert_memory_equal(g.body, "hello world", 11);
    assert_int_equal(stats(&f).idle, 1); /* chunked end seen: connection kept */
    md_free(g.body);
    fx_done(&f);
}

/* Builds "head + Content-Length: n + body" into a malloc'd response. */
static blob_t gzip_response(const char *plain, size_t n)
{
    size_t zlen;
    char *z = gzip_bytes(plain, n, 9, &zlen);
    char head[256];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     zlen);
    char *r = malloc((size_t)h + zlen);
    memcpy(r, head, (size_t)h);
    memcpy(r + h, z, zlen);
    free(z);
    return (blob_t){ r, (size_t)h + zlen };
}

static void gzip_body_is_inflated(void **state)
{
    (void)state;
    md_buf_t plain;
    md_buf_init(&plain, 0);
    for (int i = 0; i < 400; i++)
        md_buf_printf(&plain, "{\"id\":%d,\"title\":\"item number %d\"},", i, i);
    srv_t *s = srv_new(NULL);
    s->resp[0] = gzip_response(plain.data, plain.len);
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/z");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.len, plain.len);
    assert_memory_equal(g.body, plain.data, plain.len);
    assert_true(g.wire < plain.len);
    /* the connection is reused for a second gzip response (inflate reset) */
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.len, plain.len);
    assert_memory_equal(g.body, plain.data, plain.len);
    assert_int_equal(stats(&f).reuses, 1);
    md_free(g.body);
    md_buf_free(&plain);
    const char *owned = s->resp[0].data;
    fx_done(&f); /* the server threads are gone: now its script can go */
    free((void *)owned);
}

static void gzip_bomb_stops_at_cap(void **state)
{
    (void)state;
    size_t big = 8u << 20;
    char *zeros = calloc(1, big);
    srv_t *s = srv_new(NULL);
    s->resp[0] = gzip_response(zeros, big);
    s->resp[1] = gzip_response(zeros, 65536); /* exactly the cap: accepted */
    s->nresp = 2;
    s->by_conn = true;
    free(zeros);
    assert_true(s->resp[0].len < 65536); /* small on the wire, huge inflated */
    fx_t f;
    fx_init(&f, s);
    f.conf.max_response_bytes = 65536;
    fx_up(&f);
    md_upstream_req_t req = get_req("/bomb");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_ETOOBIG);
    assert_int_equal(g.len, 0);
    assert_int_equal(stats(&f).open, 0); /* closed: the rest is unread */
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.len, 65536);
    md_free(g.body);
    const char *owned[2] = { s->resp[0].data, s->resp[1].data };
    fx_done(&f);
    free((void *)owned[0]);
    free((void *)owned[1]);
}

static void keep_alive_reuses_one_connection(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/k");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_memory_equal(g.body, "ok", 2);
    assert_int_equal(atomic_load(&s->accepts), 1);
    assert_int_equal(atomic_load(&s->requests), 2);
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.calls, 2);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.reuses, 1);
    assert_int_equal(st.open, 1);
    assert_int_equal(st.idle, 1);
    md_free(g.body);
    fx_done(&f);
}

static void concurrency_is_bounded_and_queued(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    s->nresp = 1;
    s->delay_ms = 30;
    fx_t f;
    fx_init(&f, s);
    f.conf.max_connections = 2;
    fx_up(&f);
    md_upstream_req_t req = get_req("/q");
    got_t g[5];
    int pending = 5;
    memset(g, 0, sizeof(g));
    md_loop_update_time(f.loop);
    for (int i = 0; i < 5; i++) {
        g[i].loop = f.loop;
        g[i].pending = &pending;
        assert_non_null(md_upstream_call(f.up, &req, on_result, &g[i]));
    }
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.queued, 3);
    run_loop(f.loop, 5000);
    assert_false(guard_fired);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(g[i].called, 1);
        assert_int_equal(g[i].error, MD_OK);
        assert_memory_equal(g[i].body, "abc", 3);
        md_free(g[i].body);
    }
    assert_true(atomic_load(&s->max_active) <= 2);
    assert_int_equal(atomic_load(&s->accepts), 2);
    st = stats(&f);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.reuses, 3);
    assert_int_equal(st.queued, 0);
    fx_done(&f);
}

static void full_queue_refuses_to_start(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    s->nresp = 1;
    s->delay_ms = 20;
    fx_t f;
    fx_init(&f, s);
    f.conf.max_connections = 1;
    f.conf.max_queue = 1;
    fx_up(&f);
    md_upstream_req_t req = get_req("/f");
    got_t g[3];
    int pending = 2;
    memset(g, 0, sizeof(g));
    for (int i = 0; i < 3; i++) {
        g[i].loop = f.loop;
        g[i].pending = &pending;
    }
    assert_non_null(md_upstream_call(f.up, &req, on_result, &g[0]));
    assert_non_null(md_upstream_call(f.up, &req, on_result, &g[1]));
    assert_null(md_upstream_call(f.up, &req, on_result, &g[2]));
    run_loop(f.loop, 5000);
    assert_int_equal(g[0].error, MD_OK);
    assert_int_equal(g[1].error, MD_OK);
    assert_int_equal(g[2].called, 0);
    assert_int_equal(stats(&f).calls, 2);
    md_free(g[0].body);
    md_free(g[1].body);
    fx_done(&f);
}

static void silent_server_times_out(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->no_answer = true;
    fx_t f;
    fx_init(&f, s);
    f.conf.timeout_ms = 200;
    fx_up(&f);
    md_upstream_req_t req = get_req("/slow");
    got_t g = { 0 };
    uint64_t t0 = md_now_us();
    call_once(&f, &req, &g);
    uint64_t took = md_now_us() - t0;
    assert_int_equal(g.error, MD_ETIMEDOUT);
    assert_int_equal(g.status, 0);
    assert_true(took >= 190000 && took < 1000000);
    assert_true(g.duration_us >= 190000 && g.duration_us < 1000000);
    assert_int_equal(stats(&f).open, 0);
    assert_int_equal(stats(&f).errors, 1);
    /* a per-request timeout overrides the upstream's */
    req.timeout_ms = 60;
    t0 = md_now_us();
    call_once(&f, &req, &g);
    took = md_now_us() - t0;
    assert_int_equal(g.error, MD_ETIMEDOUT);
    assert_true(took >= 50000 && took < 190000);
    md_free(g.body);
    fx_done(&f);
}

static void refused_connection_reports_econnect(void **state)
{
    (void)state;
    /* A port nobody listens on: bind one, read its number, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    fx_t f;
    memset(&f, 0, sizeof(f));
    f.loop = md_loop_new();
    fx_conf(&f, ntohs(a.sin_port));
    fx_up(&f);
    md_upstream_req_t req = get_req("/r");
    got_t g = { .loop = f.loop };
    assert_non_null(md_upstream_call(f.up, &req, on_result, &g));
    assert_int_equal(g.called, 0); /* never from inside md_upstream_call */
    run_loop(f.loop, 3000);
    assert_false(guard_fired);
    assert_int_equal(g.called, 1);
    assert_int_equal(g.error, MD_ECONNECT);
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.open, 0);
    assert_int_equal(st.errors, 1);
    md_free(g.body);
    fx_done(&f);
}

static void reset_mid_body_reports_ereset(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    s->nresp = 1;
    s->close_after = true;
    s->close_delay_ms = 20;
    s->rst = true;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/rst");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_ERESET);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, 0); /* a partial body is never handed out */
    assert_int_equal(stats(&f).retries, 0);
    md_free(g.body);
    fx_done(&f);
}

static void eof_mid_chunked_body_reports_ereset(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    s->nresp = 1;
    s->close_after = true;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/eof");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_ERESET);
    md_free(g.body);
    fx_done(&f);
}

static void oversized_bodies_report_etoobig(void **state)
{
    (void)state;
    static char big[1200];
    memcpy(big, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 41);
    memset(big + 41, 'a', 1000);
    srv_t *s = srv_new(NULL);
    s->resp[0] = (blob_t){ big, 1041 };
    /* no length announced: the cap must stop it while it streams in */
    s->resp[1] = BLOB("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n"
                      "40\r\n0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n");
    s->resp[2] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
                      "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789");
    s->nresp = 3;
    s->by_conn = true;
    fx_t f;
    fx_init(&f, s);
    f.conf.max_response_bytes = 100;
    fx_up(&f);
    md_upstream_req_t req = get_req("/big");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_ETOOBIG);
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_ETOOBIG);
    assert_int_equal(stats(&f).open, 0);
    call_once(&f, &req, &g); /* exactly at the cap is fine */
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.len, 100);
    md_free(g.body);
    fx_done(&f);
}

static void malformed_responses_report_einval(void **state)
{
    (void)state;
    static char huge_head[20000];
    size_t n = (size_t)snprintf(huge_head, sizeof(huge_head), "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(huge_head + n, 'x', 18000);
    memcpy(huge_head + n + 18000, "\r\n\r\n", 4);
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok");
    s->resp[1] = BLOB("garbage\r\n\r\n");
    s->resp[2] = BLOB("HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nok");
    s->resp[3] = (blob_t){ huge_head, n + 18004 };
    s->resp[4] = BLOB("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    s->resp[5] = BLOB("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n");
    s->resp[6] = BLOB("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nnotgz");
    s->nresp = 7;
    s->by_conn = true;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/bad");
    got_t g = { 0 };
    for (int i = 0; i < 7; i++) {
        call_once(&f, &req, &g);
        assert_int_equal(g.error, MD_EINVAL);
        assert_int_equal(g.len, 0);
    }
    assert_int_equal(stats(&f).open, 0);
    assert_int_equal(atomic_load(&s->accepts), 7);
    md_free(g.body);
    fx_done(&f);
}

static void interim_responses_are_skipped(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/i");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.status, 200);
    assert_memory_equal(g.body, "hi", 2);
    md_free(g.body);
    fx_done(&f);
}

static void head_and_204_have_no_body(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n");
    s->resp[1] = BLOB("HTTP/1.1 204 No Content\r\n\r\n");
    s->resp[2] = BLOB("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n");
    s->resp[3] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    s->nresp = 4;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t head = { .method = "HEAD", .path = "/h", .path_len = 2 };
    md_upstream_req_t req = get_req("/g");
    got_t g = { 0 };
    call_once(&f, &head, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.len, 0);
    call_once(&f, &req, &g);
    assert_int_equal(g.status, 204);
    call_once(&f, &req, &g);
    assert_int_equal(g.status, 304);
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_memory_equal(g.body, "ok", 2);
    /* the framing stayed in step: all four on one connection */
    assert_int_equal(atomic_load(&s->accepts), 1);
    md_free(g.body);
    fx_done(&f);
}

static void close_delimited_body_reads_to_eof(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
    s->nresp = 1;
    s->close_after = true;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/c");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.len, 11);
    assert_memory_equal(g.body, "until close", 11);
    assert_string_equal(g.ctype, "text/plain");
    assert_int_equal(stats(&f).open, 0);
    md_free(g.body);
    fx_done(&f);
}

/* Connection 0 answers once then closes 30 ms later; others stay up. */
static void h_close_idle(srv_t *s, int fd, int index)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char req[4096];
    while (srv_read_request(s, fd, req, sizeof(req)) > 0) {
        send_all(fd, resp, sizeof(resp) - 1);
        if (index == 0) {
            srv_wait(s, 30);
            return;
        }
    }
}

static void stale_keep_alive_is_retried(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_new(h_close_idle));
    fx_up(&f);
    md_upstream_req_t req = get_req("/s");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    ms_sleep(120); /* the server closes meanwhile; the loop is not running to see it */
    assert_int_equal(stats(&f).idle, 1);
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_memory_equal(g.body, "ok", 2);
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.reuses, 1);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.connects, 2);
    assert_int_equal(st.errors, 0);
    assert_int_equal(atomic_load(&f.srv->accepts), 2);
    md_free(g.body);
    fx_done(&f);
}

static void stale_keep_alive_post_is_not_retried(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_new(h_close_idle));
    fx_up(&f);
    md_upstream_req_t req = get_req("/s");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    ms_sleep(120);
    md_upstream_req_t post = { .method = "POST", .path = "/s", .path_len = 2, .body = "x", .body_len = 1 };
    call_once(&f, &post, &g);
    assert_int_equal(g.error, MD_ERESET);
    assert_int_equal(stats(&f).retries, 0);
    md_free(g.body);
    fx_done(&f);
}

static void idle_connection_closed_by_server_is_dropped(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_new(h_close_idle));
    fx_up(&f);
    md_upstream_req_t req = get_req("/s");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    run_loop(f.loop, 150); /* the loop sees the EOF on the idle connection */
    assert_true(guard_fired);
    md_upstream_stats_t st = stats(&f);
    assert_int_equal(st.open, 0);
    assert_int_equal(st.idle, 0);
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    st = stats(&f);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.reuses, 0);
    md_free(g.body);
    fx_done(&f);
}

static void idle_timeout_closes_unused_connections(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_set_idle_timeout(f.up, 40);
    md_upstream_req_t req = get_req("/t");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(stats(&f).idle, 1);
    run_loop(f.loop, 20);
    assert_int_equal(stats(&f).idle, 1); /* not yet */
    run_loop(f.loop, 100);
    assert_int_equal(stats(&f).idle, 0);
    assert_int_equal(stats(&f).open, 0);
    md_free(g.body);
    fx_done(&f);
}

static void extra_bytes_after_response_forbid_reuse(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/e");
    got_t g = { 0 };
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(g.len, 2);
    assert_memory_equal(g.body, "ok", 2);
    assert_int_equal(stats(&f).open, 0); /* out of step: closed, not pooled */
    md_free(g.body);
    fx_done(&f);
}

static void connect_timeout_reports_etimedout(void **state)
{
    (void)state;
    /* A listener whose accept queue is full drops further SYNs, so a
     * connect to it hangs: backlog 0 admits one, two more fill it. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    socklen_t len = sizeof(a);
    getsockname(lfd, (struct sockaddr *)&a, &len);
    int fill[2];
    for (int i = 0; i < 2; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    ms_sleep(20);
    fx_t f;
    memset(&f, 0, sizeof(f));
    f.loop = md_loop_new();
    fx_conf(&f, ntohs(a.sin_port));
    f.conf.connect_timeout_ms = 100;
    f.conf.timeout_ms = 2000;
    fx_up(&f);
    md_upstream_req_t req = get_req("/ct");
    got_t g = { 0 };
    uint64_t t0 = md_now_us();
    call_once(&f, &req, &g);
    uint64_t took = md_now_us() - t0;
    assert_int_equal(g.error, MD_ETIMEDOUT);
    assert_true(took >= 90000 && took < 1000000);
    assert_int_equal(stats(&f).open, 0);
    md_free(g.body);
    fx_done(&f);
    close(fill[0]);
    close(fill[1]);
    close(lfd);
}

static void cancel_never_runs_the_callback(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    s->nresp = 1;
    s->delay_ms = 40;
    fx_t f;
    fx_init(&f, s);
    f.conf.max_connections = 1;
    fx_up(&f);
    md_upstream_req_t req = get_req("/x");
    got_t a = { .loop = f.loop }, b = { .loop = f.loop }, c = { .loop = f.loop };
    md_loop_update_time(f.loop);
    /* cancelled before anything ran */
    md_upstream_call_t *ca = md_upstream_call(f.up, &req, on_result, &a);
    assert_non_null(ca);
    md_upstream_cancel(ca);
    assert_int_equal(stats(&f).open, 0);
    /* b in flight, c queued behind it; cancel c while queued */
    assert_non_null(md_upstream_call(f.up, &req, on_result, &b));
    md_upstream_call_t *cc = md_upstream_call(f.up, &req, on_result, &c);
    assert_int_equal(stats(&f).queued, 1);
    md_upstream_cancel(cc);
    assert_int_equal(stats(&f).queued, 0);
    run_loop(f.loop, 3000);
    assert_int_equal(b.called, 1);
    assert_int_equal(b.error, MD_OK);
    /* cancelled after the request went out: the connection is closed */
    md_upstream_call_t *cb2 = md_upstream_call(f.up, &req, on_result, &c);
    run_loop(f.loop, 10);
    assert_true(guard_fired);
    md_upstream_cancel(cb2);
    assert_int_equal(stats(&f).open, 0);
    run_loop(f.loop, 100);
    assert_true(guard_fired);
    assert_int_equal(a.called, 0);
    assert_int_equal(c.called, 0);
    md_free(b.body);
    fx_done(&f);
}

static md_upstream_call_t *self_call;

static void on_result_cancel_self(md_upstream_result_t *res, void *arg)
{
    md_upstream_cancel(self_call); /* too late: must be a harmless no-op */
    on_result(res, arg);
}

static void cancel_from_own_callback_is_ignored(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    md_upstream_req_t req = get_req("/self");
    got_t g = { .loop = f.loop };
    self_call = md_upstream_call(f.up, &req, on_result_cancel_self, &g);
    assert_non_null(self_call);
    run_loop(f.loop, 3000);
    assert_int_equal(g.called, 1);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(stats(&f).idle, 1); /* the pooled connection survived */
    call_once(&f, &req, &g);
    assert_int_equal(g.error, MD_OK);
    assert_int_equal(stats(&f).reuses, 1);
    md_free(g.body);
    fx_done(&f);
}

static void free_with_pending_calls_runs_no_callback(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->no_answer = true;
    fx_t f;
    fx_init(&f, s);
    f.conf.max_connections = 1;
    fx_up(&f);
    md_upstream_req_t req = get_req("/p");
    got_t g[3] = { { .loop = f.loop }, { .loop = f.loop }, { .loop = f.loop } };
    for (int i = 0; i < 3; i++)
        assert_non_null(md_upstream_call(f.up, &req, on_result, &g[i]));
    run_loop(f.loop, 30);
    md_upstream_free(f.up);
    f.up = NULL;
    run_loop(f.loop, 30);
    for (int i = 0; i < 3; i++)
        assert_int_equal(g[i].called, 0);
    fx_done(&f);
}

static void bad_requests_never_reach_the_wire(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    fx_up(&f);
    got_t g = { .loop = f.loop };
    md_header_t bad_value = { "X-A", 3, "a\r\nX-Evil: 1", 12 };
    md_header_t bad_name = { "X A", 3, "v", 1 };
    md_header_t colon_name = { "X:A", 3, "v", 1 };
    md_header_t nul_value = { "X-A", 3, "a\0b", 3 };
    md_header_t host = { "Host", 4, "evil", 4 };
    md_header_t length = { "content-length", 14, "5", 1 };
    md_header_t accept = { "Accept-Encoding", 15, "br", 2 };
    const md_header_t *bad[] = { &bad_value, &bad_name, &colon_name, &nul_value, &host, &length, &accept };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        md_upstream_req_t req = get_req("/ok");
        req.headers = bad[i];
        req.nheaders = 1;
        assert_null(md_upstream_call(f.up, &req, on_result, &g));
    }
    const char *paths[] = { "/a b", "/a\r\nX: y", "nobase", "/a\tb" };
    for (size_t i = 0; i < MD_ARRAY_LEN(paths); i++) {
        md_upstream_req_t req = get_req(paths[i]);
        assert_null(md_upstream_call(f.up, &req, on_result, &g));
    }
    md_upstream_req_t nul_path = { .method = "GET", .path = "/a\0b", .path_len = 4 };
    assert_null(md_upstream_call(f.up, &nul_path, on_result, &g));
    md_upstream_req_t bad_method = get_req("/ok");
    bad_method.method = "GE T";
    assert_null(md_upstream_call(f.up, &bad_method, on_result, &g));
    run_loop(f.loop, 30);
    assert_int_equal(g.called, 0);
    assert_int_equal(stats(&f).calls, 0);
    assert_int_equal(atomic_load(&s->accepts), 0);

    /* a bad static header or Host makes the whole upstream unusable */
    md_kv_t evil[] = { { "X-S", "v\r\nX-Evil: 1" } };
    md_upstream_conf_t c2 = f.conf;
    c2.headers = evil;
    c2.nheaders = 1;
    assert_null(md_upstream_new(f.loop, &c2, 1));
    c2 = f.conf;
    c2.host_header = "h\nx";
    assert_null(md_upstream_new(f.loop, &c2, 1));
    c2 = f.conf;
    c2.base_path = "/a b";
    assert_null(md_upstream_new(f.loop, &c2, 1));
    fx_done(&f);
}

/* ---- streaming ---- */

#define STREAM_BYTES 70000

static void h_stream(srv_t *s, int fd, int index)
{
    (void)index;
    char req[4096];
    if (srv_read_request(s, fd, req, sizeof(req)) <= 0)
        return;
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Hop\r\n"
                       "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nProxy-Thing: 2\r\nX-Custom: yes\r\n"
                       "Content-Encoding: br\r\n\r\n";
    send_all(fd, head, strlen(head));
    static const size_t sizes[] = { 1, 4000, 17, 9000, 333 };
    char *chunk = malloc(9000 + 32);
    size_t sent = 0;
    for (int k = 0; sent < STREAM_BYTES; k++) {
        size_t n = sizes[k % 5];
        if (n > STREAM_BYTES - sent)
            n = STREAM_BYTES - sent;
        int h = sprintf(chunk, "%zx\r\n", n);
        for (size_t i = 0; i < n; i++)
            chunk[h + (int)i] = pattern_byte(sent + i);
        memcpy(chunk + h + n, "\r\n", 2);
        send_all(fd, chunk, (size_t)h + n + 2);
        sent += n;
    }
    free(chunk);
    send_all(fd, "0\r\n\r\n", 5);
    srv_read_request(s, fd, req, sizeof(req)); /* until the client closes */
}

static void s_on_head(void *arg, int status, const md_header_t *hs, size_t n, int64_t content_length)
{
    sctx_t *c = arg;
    c->heads++;
    c->status = status;
    c->content_length = content_length;
    for (size_t i = 0; i < n; i++) {
        if (md_header_name_is(&hs[i], "Transfer-Encoding") || md_header_name_is(&hs[i], "Connection") ||
            md_header_name_is(&hs[i], "Keep-Alive") || md_header_name_is(&hs[i], "X-Hop") ||
            md_header_name_is(&hs[i], "Proxy-Thing"))
            c->hop_seen = true;
        if (md_header_name_is(&hs[i], "X-Custom") && hs[i].value_len == 3 && !memcmp(hs[i].value, "yes", 3))
            c->custom_seen = true;
        if (md_header_name_is(&hs[i], "Content-Encoding") && hs[i].value_len == 2 && !memcmp(hs[i].value, "br", 2))
            c->encoding_seen = true;
    }
}

static const md_upstream_stream_cbs_t s_cbs = { s_on_head, s_on_data, s_on_end };

static void streaming_with_pause_delivers_exact_bytes(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_new(h_stream));
    fx_up(&f);
    sctx_t c = { .loop = f.loop, .pause_ms = 1 };
    stream_get(&f, &c, "/stream", &s_cbs);
    assert_non_null(c.call);
    run_loop(f.loop, 5000);
    assert_false(guard_fired);
    assert_int_equal(c.heads, 1);
    assert_int_equal(c.ends, 1);
    assert_int_equal(c.error, MD_OK);
    assert_int_equal(c.status, 200);
    assert_true(c.content_length == -1);
    assert_false(c.hop_seen);
    assert_true(c.custom_seen);
    assert_true(c.encoding_seen);
    assert_true(c.pauses > 1);
    assert_int_equal(c.data_while_paused, 0);
    assert_int_equal(c.data.len, STREAM_BYTES);
    for (size_t i = 0; i < STREAM_BYTES; i++)
        if (c.data.data[i] != pattern_byte(i))
            fail_msg("byte %zu differs", i);
    char expect[256];
    snprintf(expect, sizeof(expect), "GET /stream HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: keep-alive\r\n\r\n",
             f.srv->port);
    assert_true(last_request_is(f.srv, expect)); /* no Accept-Encoding */
    assert_int_equal(stats(&f).idle, 1);
    md_buf_free(&c.data);
    fx_done(&f);
}

static void streaming_cancel_inside_on_data(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f, srv_new(h_stream));
    fx_up(&f);
    sctx_t c = { .loop = f.loop, .pause_ms = 1, .cancel_on_data = true };
    stream_get(&f, &c, "/stream", &s_cbs);
    run_loop(f.loop, 5000);
    assert_false(guard_fired);
    run_loop(f.loop, 30); /* nothing more arrives */
    assert_int_equal(c.heads, 1);
    assert_int_equal(c.ends, 0);
    assert_true(c.data.len > 0);
    assert_int_equal(stats(&f).open, 0);
    md_buf_free(&c.data);
    fx_done(&f);
}

static void streaming_error_before_head_runs_on_end_only(void **state)
{
    (void)state;
    srv_t *s = srv_new(NULL);
    s->resp[0] = BLOB("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");
    s->nresp = 1;
    fx_t f;
    fx_init(&f, s);
    f.conf.max_response_bytes = 1000;
    fx_up(&f);
    sctx_t c = { .loop = f.loop, .pause_ms = 1 };
    stream_get(&f, &c, "/s", &s_cbs);
    run_loop(f.loop, 3000);
    assert_int_equal(c.heads, 0);
    assert_int_equal(c.ends, 1);
    assert_int_equal(c.error, MD_ETOOBIG);
    md_buf_free(&c.data);
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length_response_and_exact_request),
        cmocka_unit_test(post_body_carries_content_length),
        cmocka_unit_test(chunked_split_over_writes),
        cmocka_unit_test(gzip_body_is_inflated),
        cmocka_unit_test(gzip_bomb_stops_at_cap),
        cmocka_unit_test(keep_alive_reuses_one_connection),
        cmocka_unit_test(concurrency_is_bounded_and_queued),
        cmocka_unit_test(full_queue_refuses_to_start),
        cmocka_unit_test(silent_server_times_out),
        cmocka_unit_test(refused_connection_reports_econnect),
        cmocka_unit_test(reset_mid_body_reports_ereset),
        cmocka_unit_test(eof_mid_chunked_body_reports_ereset),
        cmocka_unit_test(oversized_bodies_report_etoobig),
        cmocka_unit_test(malformed_responses_report_einval),
        cmocka_unit_test(interim_responses_are_skipped),
        cmocka_unit_test(head_and_204_have_no_body),
        cmocka_unit_test(close_delimited_body_reads_to_eof),
        cmocka_unit_test(stale_keep_alive_is_retried),
        cmocka_unit_test(stale_keep_alive_post_is_not_retried),
        cmocka_unit_test(idle_connection_closed_by_server_is_dropped),
        cmocka_unit_test(idle_timeout_closes_unused_connections),
        cmocka_unit_test(extra_bytes_after_response_forbid_reuse),
        cmocka_unit_test(connect_timeout_reports_etimedout),
        cmocka_unit_test(cancel_never_runs_the_callback),
        cmocka_unit_test(cancel_from_own_callback_is_ignored),
        cmocka_unit_test(free_with_pending_calls_runs_no_callback),
        cmocka_unit_test(bad_requests_never_reach_the_wire),
        cmocka_unit_test(streaming_with_pause_delivers_exact_bytes),
        cmocka_unit_test(streaming_cancel_inside_on_data),
        cmocka_unit_test(streaming_error_before_head_runs_on_end_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
