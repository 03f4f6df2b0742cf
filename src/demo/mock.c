/*
 * mock.c - the demo's mock backends, see mock.h.
 *
 * One md_server_t with one worker, run by md_server_run() on a thread of our
 * own so md_demo_mocks_start() returns at once. The documents are built
 * before the thread starts and never written again, so the worker reads them
 * without locks; only vacation records are rendered per request (a few
 * hundred bytes into the request pool).
 *
 * A delayed answer waits on an md_timer_t carved from the request pool. If
 * the client goes away (or the server drains on shutdown) on_abort stops the
 * timer and answers at once, which satisfies the server's rule that every
 * request is finished exactly once and leaves no timer behind in the loop.
 */
#include "demo/mock.h"
#include "core/alloc.h"
#include "demo/page.h"
#include "http/query.h"
#include "http/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define JSON_TYPE "application/json"
#define NOT_FOUND_JSON "{\"error\":\"not found\"}"
#define BAD_METHOD_JSON "{\"error\":\"method not allowed\"}"
#define BAD_DELAY_JSON "{\"error\":\"delay_ms must be an integer from 0 to 5000\"}"
#define BAD_QUERY_JSON "{\"error\":\"malformed query string\"}"
#define INTERNAL_JSON "{\"error\":\"internal error\"}"

/* More query pairs than any demo call sends: the rest is hostile. */
#define MAX_QUERY_PAIRS 16
/* Digits of an employee id worth parsing; longer ids cannot exist. */
#define MAX_ID_DIGITS 9

#define EMPLOYEES_PREFIX "/employees/"
#define VACATION_SUFFIX "/vacation"

struct md_demo_mocks {
    md_demo_data_t data;
    md_limits_t limits;
    md_server_hooks_t hooks;
    md_server_t *srv;
    pthread_t thread;
};

/* ---- routing ------------------------------------------------------------- */

static bool str_is(md_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static void reply(md_demo_reply_t *out, int status, const char *type, const char *body, size_t len)
{
    out->status = status;
    out->content_type = type;
    out->body = body;
    out->body_len = len;
}

#define REPLY_LIT(out, status, lit) reply((out), (status), JSON_TYPE, (lit), sizeof(lit) - 1)

/* Decimal digits only, at most `max_digits` of them; no sign, no spaces. */
static int parse_uint(const char *s, size_t len, size_t max_digits, unsigned long *v)
{
    if (len == 0 || len > max_digits)
        return MD_EINVAL;
    unsigned long x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return MD_EINVAL;
        x = x * 10 + (unsigned long)(s[i] - '0');
    }
    *v = x;
    return MD_OK;
}

/* Reads ?delay_ms=N; absent means 0. MD_EINVAL for a bad N, MD_ERR for a
 * query that cannot be parsed at all. */
static int parse_delay(md_pool_t *pool, md_str_t query, uint32_t *delay_ms)
{
    md_header_t pairs[MAX_QUERY_PAIRS];
    size_t n = 0;
    unsigned long v;
    *delay_ms = 0;
    if (query.len == 0)
        return MD_OK;
    if (md_query_parse(pool, query.ptr, query.len, pairs, MAX_QUERY_PAIRS, &n) != MD_OK)
        return MD_ERR;
    const md_header_t *p = md_query_get(pairs, n, "delay_ms");
    if (!p)
        return MD_OK;
    if (parse_uint(p->value, p->value_len, 4, &v) != MD_OK || v > MD_DEMO_MAX_DELAY_MS)
        return MD_EINVAL;
    *delay_ms = (uint32_t)v;
    return MD_OK;
}

/* If path is /employees/{id}/vacation, sets *id_out to the id segment. */
static bool match_vacation(md_str_t path, md_str_t *id_out)
{
    size_t pre = sizeof(EMPLOYEES_PREFIX) - 1, suf = sizeof(VACATION_SUFFIX) - 1;
    if (path.len <= pre + suf || memcmp(path.ptr, EMPLOYEES_PREFIX, pre) != 0 ||
        memcmp(path.ptr + path.len - suf, VACATION_SUFFIX, suf) != 0)
        return false;
    id_out->ptr = path.ptr + pre;
    id_out->len = path.len - pre - suf;
    return memchr(id_out->ptr, '/', id_out->len) == NULL;
}

static void route_vacation(md_pool_t *pool, md_str_t id_str, md_demo_reply_t *out)
{
    unsigned long id;
    if (parse_uint(id_str.ptr, id_str.len, MAX_ID_DIGITS, &id) != MD_OK) {
        REPLY_LIT(out, 404, MD_DEMO_NO_EMPLOYEE_JSON);
        return;
    }
    md_buf_t b;
    md_buf_init(&b, MD_DEMO_VACATION_MAX_BYTES);
    int rc = md_demo_vacation((long)id, &b);
    if (rc == MD_OK)
        reply(out, 200, JSON_TYPE, md_pool_strndup(pool, b.data, b.len), b.len);
    else if (rc == MD_ENOTFOUND)
        REPLY_LIT(out, 404, MD_DEMO_NO_EMPLOYEE_JSON);
    else
        REPLY_LIT(out, 500, INTERNAL_JSON);
    md_buf_free(&b);
}

void md_demo_mock_route(const md_demo_data_t *data, md_pool_t *pool, md_str_t method, md_str_t path,
                        md_str_t query, md_demo_reply_t *out)
{
    md_str_t id = { NULL, 0 };
    /* HEAD too: the server drops the body itself. */
    bool get = str_is(method, "GET") || str_is(method, "HEAD");
    memset(out, 0, sizeof *out);
    bool known = str_is(path, "/news") || str_is(path, "/events") || str_is(path, "/demo") ||
                 match_vacation(path, &id);
    if (!known) {
        REPLY_LIT(out, 404, NOT_FOUND_JSON);
        return;
    }
    if (!get) {
        REPLY_LIT(out, 405, BAD_METHOD_JSON);
        return;
    }
    int rc = parse_delay(pool, query, &out->delay_ms);
    if (rc == MD_EINVAL) {
        REPLY_LIT(out, 400, BAD_DELAY_JSON);
        return;
    }
    if (rc != MD_OK) {
        REPLY_LIT(out, 400, BAD_QUERY_JSON);
        return;
    }
    if (str_is(path, "/news")) {
        reply(out, 200, JSON_TYPE, data->news.data, data->news.len);
    } else if (str_is(path, "/events")) {
        reply(out, 200, JSON_TYPE, data->events.data, data->events.len);
    } else if (str_is(path, "/demo")) {
        size_t len;
        const char *html = md_demo_page(&len);
        reply(out, 200, MD_DEMO_PAGE_CONTENT_TYPE, html, len);
    } else {
        route_vacation(pool, id, out);
    }
}

/* ---- server glue --------------------------------------------------------- */

typedef struct delayed {
    md_timer_t timer;
    md_http_req_t *req;
    md_demo_reply_t reply;
} delayed_t;

static void send_reply(md_http_req_t *req, const md_demo_reply_t *r)
{
    md_header_t h = { "Content-Type", 12, r->content_type, strlen(r->content_type) };
    md_http_respond(req, r->status, &h, 1, r->body, r->body_len);
}

static void on_delay_done(md_timer_t *t)
{
    delayed_t *d = t->data;
    send_reply(d->req, &d->reply);
}

static void on_delay_abort(md_http_req_t *req)
{
    delayed_t *d = req->app_data;
    md_timer_stop(req->loop, &d->timer);
    send_reply(req, &d->reply);
}

static void handle(md_http_req_t *req, void *app)
{
    md_demo_mocks_t *m = app;
    md_demo_reply_t r;
    md_demo_mock_route(&m->data, req->pool, req->method, req->path, req->query, &r);
    if (r.delay_ms == 0) {
        send_reply(req, &r);
        return;
    }
    delayed_t *d = md_pool_alloc(req->pool, sizeof *d);
    d->req = req;
    d->reply = r;
    md_timer_init(&d->timer, on_delay_done, d);
    req->app_data = d;
    req->on_abort = on_delay_abort;
    md_timer_start(req->loop, &d->timer, r.delay_ms);
}

/* Small: the mocks serve one local gateway. The drain on shutdown is short
 * because on_abort answers delayed requests at once anyway. */
static void mock_limits(md_limits_t *l)
{
    l->max_header_bytes = 8 * 1024;
    l->max_headers = 32;
    l->max_body_bytes = 16 * 1024;
    l->header_timeout_ms = 5000;
    l->body_timeout_ms = 5000;
    l->idle_timeout_ms = 30000;
    l->max_connections = 512;
    l->max_inflight = 512;
    l->shutdown_timeout_ms = 500;
    l->max_pipelined = 16;
}

static void *run_server(void *arg)
{
    md_demo_mocks_t *m = arg;
    md_server_run(m->srv);
    return NULL;
}

/* Starts the server thread with every signal blocked; the worker threads it
 * creates inherit the mask, so process signals go to the caller's threads. */
static int start_thread(md_demo_mocks_t *m)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&m->thread, NULL, run_server, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? MD_OK : MD_ERR;
}

int md_demo_mocks_start(const char *host, uint16_t base_port, md_demo_mocks_t **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    md_demo_mocks_t *m = md_calloc(1, sizeof *m);
    int rc = md_demo_data_init(&m->data);
    if (rc != MD_OK) {
        snprintf(err, errlen, "demo data: %s", md_strerror(rc));
        md_free(m);
        return rc;
    }
    mock_limits(&m->limits);
    m->hooks.handler = handle;
    m->hooks.app = m;
    m->srv = md_server_new(host ? host : "127.0.0.1", base_port, 1, &m->limits, &m->hooks, err,
                           errlen);
    if (!m->srv) {
        rc = MD_ERR;
    } else if (start_thread(m) != MD_OK) {
        snprintf(err, errlen, "cannot start the mock server thread");
        md_server_free(m->srv);
        rc = MD_ERR;
    }
    if (rc != MD_OK) {
        md_demo_data_free(&m->data);
        md_free(m);
        return rc;
    }
    *out = m;
    return MD_OK;
}

uint16_t md_demo_mocks_port(const md_demo_mocks_t *m)
{
    return md_server_port(m->srv);
}

void md_demo_mocks_stop(md_demo_mocks_t *m)
{
    if (!m)
        return;
    md_server_shutdown(m->srv);
    pthread_join(m->thread, NULL);
    md_server_free(m->srv);
    md_demo_data_free(&m->data);
    md_free(m);
}
