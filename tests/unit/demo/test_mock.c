/*
 * Unit tests for demo/mock: the routing decisions (pure, no sockets), then
 * the mock server itself on an ephemeral port, spoken to over real TCP.
 */
#include "testutil.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/loop.h"
#include "core/pool.h"
#include "demo/data.h"
#include "demo/mock.h"
#include "demo/page.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define NOT_FOUND "{\"error\":\"not found\"}"
#define NO_EMPLOYEE "{\"error\":\"no such employee\"}"

/* ---- routing ------------------------------------------------------------- */

typedef struct fixture {
    md_demo_data_t data;
    md_pool_t *pool;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = md_calloc(1, sizeof *f);
    if (md_demo_data_init(&f->data) != MD_OK)
        return -1;
    f->pool = md_pool_new(0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    md_pool_destroy(f->pool);
    md_demo_data_free(&f->data);
    md_free(f);
    return 0;
}

static md_str_t S(const char *s)
{
    return (md_str_t){ s, strlen(s) };
}

static md_demo_reply_t route(fixture_t *f, const char *method, const char *path, const char *query)
{
    md_demo_reply_t r;
    md_demo_mock_route(&f->data, f->pool, S(method), S(path), S(query), &r);
    return r;
}

static void assert_body(const md_demo_reply_t *r, const char *want)
{
    assert_int_equal(r->body_len, strlen(want));
    assert_memory_equal(r->body, want, r->body_len);
}

static void route_serves_the_documents(void **state)
{
    fixture_t *f = *state;
    md_demo_reply_t r = route(f, "GET", "/news", "");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_ptr_equal(r.body, f->data.news.data);
    assert_int_equal(r.body_len, f->data.news.len);
    assert_int_equal(r.delay_ms, 0);

    r = route(f, "GET", "/events", "");
    assert_int_equal(r.status, 200);
    assert_ptr_equal(r.body, f->data.events.data);
    assert_int_equal(r.body_len, f->data.events.len);

    size_t len;
    const char *html = md_demo_page(&len);
    r = route(f, "GET", "/demo", "");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_ptr_equal(r.body, html);
    assert_int_equal(r.body_len, len);
}

static void route_renders_vacation_records(void **state)
{
    fixture_t *f = *state;
    md_buf_t want;
    md_buf_init(&want, 0);
    assert_int_equal(md_demo_vacation(42, &want), MD_OK);
    md_demo_reply_t r = route(f, "GET", "/employees/42/vacation", "");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_body(&r, want.data);
    md_buf_free(&want);

    r = route(f, "GET", "/employees/1000/vacation", "");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"balance_days\":25.5"));
}

static void route_rejects_unknown_employees(void **state)
{
    fixture_t *f = *state;
    static const char *paths[] = {
        "/employees/1001/vacation", "/employees/0/vacation", "/employees/abc/vacation",
        "/employees/-1/vacation", "/employees/4%32/vacation", "/employees/1234567890/vacation",
        "/employees/99999999999999999999999/vacation", "/employees/ 42/vacation",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(paths); i++) {
        md_demo_reply_t r = route(f, "GET", paths[i], "");
        assert_int_equal(r.status, 404);
        assert_body(&r, NO_EMPLOYEE);
    }
}

static void route_answers_404_and_405(void **state)
{
    fixture_t *f = *state;
    static const char *paths[] = {
        "/nope", "/", "", "/news/", "/NEWS", "/newsx", "/employees//vacation",
        "/employees/42/vacation/x", "/employees/4/2/vacation", "/employees/42", "/employees/vacation",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(paths); i++) {
        md_demo_reply_t r = route(f, "GET", paths[i], "");
        assert_int_equal(r.status, 404);
        assert_string_equal(r.content_type, "application/json");
        assert_body(&r, NOT_FOUND);
    }
    md_demo_reply_t r = route(f, "POST", "/news", "");
    assert_int_equal(r.status, 405);
    assert_body(&r, "{\"error\":\"method not allowed\"}");
    r = route(f, "HEAD", "/news", "");
    assert_int_equal(r.status, 200);
    r = route(f, "get", "/employees/42/vacation", "");
    assert_int_equal(r.status, 405);
    r = route(f, "DELETE", "/nope", "");
    assert_int_equal(r.status, 404);
}

static void route_reads_delay(void **state)
{
    fixture_t *f = *state;
    md_demo_reply_t r = route(f, "GET", "/news", "delay_ms=250");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.delay_ms, 250);
    r = route(f, "GET", "/employees/7/vacation", "a=1&delay_ms=5000&b");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.delay_ms, 5000);
    r = route(f, "GET", "/events", "delay_ms=0");
    assert_int_equal(r.delay_ms, 0);
    r = route(f, "GET", "/events", "delay_ms=%31%32"); /* the query is percent-decoded */
    assert_int_equal(r.delay_ms, 12);
    r = route(f, "GET", "/events", "other=9");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.delay_ms, 0);
    /* the delay applies to error answers of known routes too */
    r = route(f, "GET", "/employees/5000/vacation", "delay_ms=10");
    assert_int_equal(r.status, 404);
    assert_int_equal(r.delay_ms, 10);
}

static void route_rejects_bad_delay(void **state)
{
    fixture_t *f = *state;
    static const char *queries[] = {
        "delay_ms=5001", "delay_ms=-1", "delay_ms=abc", "delay_ms=", "delay_ms",
        "delay_ms=10000000000000000000000", "delay_ms=1e3", "delay_ms=+5",
        "delay_ms= 5",
    };
    static const char *malformed[] = {
        "delay_ms=%zz", "delay_ms=12%00", "x=%4",
        "a=1&a=2&a=3&a=4&a=5&a=6&a=7&a=8&a=9&a=10&a=11&a=12&a=13&a=14&a=15&a=16&a=17",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(queries); i++) {
        md_demo_reply_t r = route(f, "GET", "/news", queries[i]);
        assert_int_equal(r.status, 400);
        assert_int_equal(r.delay_ms, 0);
        assert_body(&r, "{\"error\":\"delay_ms must be an integer from 0 to 5000\"}");
    }
    for (size_t i = 0; i < MD_ARRAY_LEN(malformed); i++) {
        md_demo_reply_t r = route(f, "GET", "/events", malformed[i]);
        assert_int_equal(r.status, 400);
        assert_int_equal(r.delay_ms, 0);
        assert_body(&r, "{\"error\":\"malformed query string\"}");
    }
}

/* ---- the real server ----------------------------------------------------- */

typedef struct response {
    int status;
    char content_type[64];
    md_buf_t body;
} response_t;

static int connect_to(uint16_t port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_get(int fd, const char *target)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: mock\r\nConnection: close\r\n\r\n",
                     target);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* Reads until EOF (Connection: close), at most 1 MiB and 10 s. */
static void read_all(int fd, md_buf_t *raw)
{
    md_buf_init(raw, 1024 * 1024);
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 10000), 1);
        assert_int_equal(md_buf_reserve(raw, 4096), MD_OK);
        ssize_t n = recv(fd, md_buf_tail(raw), raw->cap - raw->len, 0);
        assert_true(n >= 0);
        if (n == 0)
            return;
        md_buf_commit(raw, (size_t)n);
    }
}

/* Splits a raw HTTP/1.1 response; checks Content-Length against the body. */
static void parse_response(md_buf_t *raw, response_t *out)
{
    assert_int_equal(sscanf(raw->data, "HTTP/1.1 %d ", &out->status), 1);
    char *end = strstr(raw->data, "\r\n\r\n");
    assert_non_null(end);
    *end = '\0';
    const char *ct = strcasestr(raw->data, "\r\nContent-Type: ");
    assert_non_null(ct);
    assert_int_equal(sscanf(ct + 16, "%63[^\r]", out->content_type), 1);
    const char *cl = strcasestr(raw->data, "\r\nContent-Length: ");
    assert_non_null(cl);
    size_t body_len = raw->len - (size_t)(end + 4 - raw->data);
    assert_int_equal(strtoul(cl + 18, NULL, 10), body_len);
    md_buf_init(&out->body, 0);
    assert_int_equal(md_buf_append(&out->body, end + 4, body_len), MD_OK);
}

static void http_get(uint16_t port, const char *target, response_t *out)
{
    md_buf_t raw;
    int fd = connect_to(port);
    send_get(fd, target);
    read_all(fd, &raw);
    close(fd);
    parse_response(&raw, out);
    md_buf_free(&raw);
}

static void assert_response(const response_t *r, int status, const char *type, const char *body,
                            size_t len)
{
    assert_int_equal(r->status, status);
    assert_string_equal(r->content_type, type);
    assert_int_equal(r->body.len, len);
    assert_memory_equal(r->body.data, body, len);
}

static md_demo_mocks_t *start_mocks(void)
{
    char err[256] = "";
    md_demo_mocks_t *m = NULL;
    assert_int_equal(md_demo_mocks_start("127.0.0.1", 0, &m, err, sizeof err), MD_OK);
    assert_non_null(m);
    assert_true(md_demo_mocks_port(m) != 0);
    return m;
}

static void mocks_serve_over_a_real_socket(void **state)
{
    fixture_t *f = *state;
    md_demo_mocks_t *m = start_mocks();
    uint16_t port = md_demo_mocks_port(m);
    response_t r;

    http_get(port, "/news", &r);
    assert_response(&r, 200, "application/json", f->data.news.data, f->data.news.len);
    md_buf_free(&r.body);

    md_buf_t want;
    md_buf_init(&want, 0);
    assert_int_equal(md_demo_vacation(42, &want), MD_OK);
    http_get(port, "/employees/42/vacation", &r);
    assert_response(&r, 200, "application/json", want.data, want.len);
    md_buf_free(&r.body);
    md_buf_free(&want);

    http_get(port, "/nope", &r);
    assert_response(&r, 404, "application/json", NOT_FOUND, strlen(NOT_FOUND));
    md_buf_free(&r.body);

    http_get(port, "/employees/1001/vacation", &r);
    assert_response(&r, 404, "application/json", NO_EMPLOYEE, strlen(NO_EMPLOYEE));
    md_buf_free(&r.body);

    size_t len;
    const char *html = md_demo_page(&len);
    http_get(port, "/demo", &r);
    assert_response(&r, 200, "text/html; charset=utf-8", html, len);
    md_buf_free(&r.body);

    md_demo_mocks_stop(m);
}

/* Two delayed requests on two connections finish together: the delay waits
 * on a timer, not by blocking the single worker. */
static void mocks_delay_without_blocking(void **state)
{
    fixture_t *f = *state;
    md_demo_mocks_t *m = start_mocks();
    uint16_t port = md_demo_mocks_port(m);
    md_buf_t raw1, raw2;
    response_t r;

    uint64_t t0 = md_now_us();
    int a = connect_to(port), b = connect_to(port);
    send_get(a, "/events?delay_ms=400");
    send_get(b, "/events?delay_ms=400");
    read_all(a, &raw1);
    read_all(b, &raw2);
    uint64_t ms = (md_now_us() - t0) / 1000;
    close(a);
    close(b);
    assert_in_range(ms, 400, 780);

    parse_response(&raw1, &r);
    assert_response(&r, 200, "application/json", f->data.events.data, f->data.events.len);
    md_buf_free(&r.body);
    parse_response(&raw2, &r);
    assert_int_equal(r.status, 200);
    md_buf_free(&r.body);
    md_buf_free(&raw1);
    md_buf_free(&raw2);

    http_get(port, "/news?delay_ms=9999", &r);
    assert_int_equal(r.status, 400);
    md_buf_free(&r.body);
    md_demo_mocks_stop(m);
}

/* Stopping with a 5 s delayed answer pending returns promptly, and the
 * client sees either the answer or EOF, never a hang. */
static void mocks_stop_with_a_delayed_answer_pending(void **state)
{
    (void)state;
    md_demo_mocks_t *m = start_mocks();
    int fd = connect_to(md_demo_mocks_port(m));
    send_get(fd, "/news?delay_ms=5000");
    usleep(100 * 1000); /* let the worker read the request and arm the timer */
    uint64_t t0 = md_now_us();
    md_demo_mocks_stop(m);
    uint64_t ms = (md_now_us() - t0) / 1000;
    assert_true(ms < 3000);
    md_buf_t raw;
    read_all(fd, &raw);
    close(fd);
    assert_true(raw.len == 0 || strncmp(raw.data, "HTTP/1.1 ", 9) == 0);
    md_buf_free(&raw);
}

static void mocks_report_a_busy_port_and_a_bad_host(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);

    char err[256] = "";
    md_demo_mocks_t *m = (md_demo_mocks_t *)&err; /* must be reset to NULL */
    assert_true(md_demo_mocks_start("127.0.0.1", ntohs(a.sin_port), &m, err, sizeof err) < 0);
    assert_null(m);
    assert_true(strlen(err) > 0);
    close(fd);

    err[0] = '\0';
    m = (md_demo_mocks_t *)&err;
    assert_true(md_demo_mocks_start("256.0.0.1", 0, &m, err, sizeof err) < 0);
    assert_null(m);
    assert_true(strlen(err) > 0);
    md_demo_mocks_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(route_serves_the_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(route_renders_vacation_records, setup, teardown),
        cmocka_unit_test_setup_teardown(route_rejects_unknown_employees, setup, teardown),
        cmocka_unit_test_setup_teardown(route_answers_404_and_405, setup, teardown),
        cmocka_unit_test_setup_teardown(route_reads_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(route_rejects_bad_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(mocks_serve_over_a_real_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(mocks_delay_without_blocking, setup, teardown),
        cmocka_unit_test_setup_teardown(mocks_stop_with_a_delayed_answer_pending, setup, teardown),
        cmocka_unit_test(mocks_report_a_busy_port_and_a_bad_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
