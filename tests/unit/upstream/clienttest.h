/*
 * clienttest.h - what the upstream client tests share: test_client.c
 * (plain HTTP servers) and test_client_tls.c (OpenSSL servers) both run
 * their scripted servers on a loopback listener, aim a client fixture at
 * it, drive a real md_loop_t under a guard timer, record what a buffered
 * call saw, and pause streams with the same callbacks. Each file defines
 * its own server (struct srv, srv_stop) and how a fixture starts (fx_init).
 * Include after testutil.h.
 */
#ifndef MD_CLIENTTEST_H
#define MD_CLIENTTEST_H

#include "core/alloc.h"
#include "core/buf.h"
#include "core/loop.h"
#include "upstream/client.h"
#include "upstream/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static inline void ms_sleep(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Offset of `needle` in buf[0..len), or -1. */
static inline ssize_t find(const char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return (ssize_t)i;
    return -1;
}

/* Byte i of the bodies the servers generate and the tests check. */
static inline char pattern_byte(size_t i)
{
    return (char)('a' + (i * 7 + i / 13) % 26);
}

/* gzip-compresses src at `level` into a malloc'd buffer. */
static inline char *gzip_bytes(const char *src, size_t n, int level, size_t *out_len)
{
    z_stream z = { 0 };
    assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n);
    char *out = malloc(cap);
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* The next connection for a server thread to serve; -1 once srv_stop
 * shut lfd down. Connections beyond max_threads (nthreads are running),
 * or arriving while the server stops, are closed unserved. */
static inline int accept_conn(int lfd, atomic_bool *stop, int nthreads, int max_threads)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (!atomic_load(stop) && nthreads < max_threads)
            return fd;
        close(fd);
    }
}

/* A socket listening on 127.0.0.1 at a port the kernel picks (*port). */
static inline int loopback_listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 64), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The including file's test server, and its stop: it joins the server's
 * threads and frees it. */
typedef struct srv srv_t;
static void srv_stop(srv_t *s);

/* A test's client side, aimed at its server. */
typedef struct fx {
    srv_t *srv;                       /* NULL: nothing listens (refused or hanging ports) */
    md_loop_t *loop;
    md_upstream_conf_t conf;
    char host_header[64];
    md_tls_ctx_t *tls;                /* https: the client context, owned; else NULL */
    md_upstream_t *up;
} fx_t;

/* f->conf for upstream `name` at 127.0.0.1:port, Host "host:port", with
 * the limits most tests want (3 s calls, 1 s connects, 4 connections, 16
 * queued, 1 MiB answers); a test changes what it exercises before
 * md_upstream_new. */
static inline void loopback_conf(fx_t *f, char *name, char *host, uint16_t port)
{
    md_upstream_conf_t *conf = &f->conf;
    memset(conf, 0, sizeof(*conf));
    struct sockaddr_in *a = (struct sockaddr_in *)&conf->addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conf->addrlen = sizeof(*a);
    snprintf(f->host_header, sizeof(f->host_header), "%s:%u", host, port);
    conf->name = name;
    conf->host = host;
    conf->port = port;
    conf->host_header = f->host_header;
    conf->base_path = "";
    conf->timeout_ms = 3000;
    conf->connect_timeout_ms = 1000;
    conf->max_connections = 4;
    conf->max_queue = 16;
    conf->max_response_bytes = 1 << 20;
}

static inline void fx_done(fx_t *f)
{
    md_upstream_free(f->up);
    if (f->srv)
        srv_stop(f->srv);
    md_loop_free(f->loop);
    md_tls_ctx_free(f->tls);
}

/* Set when run_loop's guard timer, not a callback, stopped the loop. */
static bool guard_fired;

static inline void on_guard(md_timer_t *t)
{
    guard_fired = true;
    md_loop_stop(t->data);
}

/* Runs the loop until a callback stops it or max_ms pass. */
static inline void run_loop(md_loop_t *loop, uint64_t max_ms)
{
    md_timer_t guard;
    md_timer_init(&guard, on_guard, loop);
    guard_fired = false;
    md_loop_update_time(loop);
    md_timer_start(loop, &guard, max_ms);
    md_loop_run(loop);
    md_timer_stop(loop, &guard);
}

/* What a buffered callback saw. `pending` (NULL: just this call) is
 * shared by concurrent calls: the loop stops when it reaches zero. */
typedef struct got {
    int called;
    int error;
    int status;
    char *body;
    size_t len;
    char ctype[128];
    size_t wire;
    uint64_t duration_us;
    md_loop_t *loop;
    int *pending;
} got_t;

static inline void on_result(md_upstream_result_t *res, void *arg)
{
    got_t *g = arg;
    g->called++;
    g->error = res->error;
    g->status = res->status;
    md_free(g->body);
    g->body = md_buf_detach(&res->body, &g->len);
    memcpy(g->ctype, res->content_type, sizeof(g->ctype));
    g->wire = res->wire_bytes;
    g->duration_us = res->duration_us;
    if (!g->pending || --*g->pending == 0)
        md_loop_stop(g->loop);
}

static inline md_upstream_req_t get_req(const char *path)
{
    md_upstream_req_t r = { .method = "GET", .path = path, .path_len = strlen(path) };
    return r;
}

/* One buffered call, run to completion (5 s at most). */
static inline void call_once(fx_t *f, const md_upstream_req_t *req, got_t *g)
{
    md_free(g->body);
    memset(g, 0, sizeof(*g));
    g->loop = f->loop;
    md_loop_update_time(f->loop);
    assert_non_null(md_upstream_call(f->up, req, on_result, g));
    run_loop(f->loop, 5000);
    assert_false(guard_fired);
    assert_int_equal(g->called, 1);
}

static inline md_upstream_stats_t stats(fx_t *f)
{
    md_upstream_stats_t st;
    md_upstream_get_stats(f->up, &st);
    return st;
}

/* ---- streaming ---- */

/* A streamed call that pauses after every piece of data (on_data returns
 * MD_AGAIN) and resumes pause_ms later, so that no data may arrive while
 * paused. Each file has its own on_head, which fills the head fields. */
typedef struct sctx {
    md_loop_t *loop;
    md_upstream_call_t *call;
    md_timer_t resume;
    uint32_t pause_ms;
    md_buf_t data;
    int heads, ends, error, status, pauses;
    bool paused;                      /* between returning MD_AGAIN and resuming */
    int data_while_paused;
    int64_t expect;                   /* test_client_tls: the Content-Length on_head wants */
    int64_t content_length;
    bool hop_seen, custom_seen, encoding_seen; /* test_client: which headers on_head saw */
    bool cancel_on_data;              /* cancel at the first data instead of pausing */
} sctx_t;

static inline void s_on_resume(md_timer_t *t)
{
    sctx_t *c = t->data;
    c->paused = false;
    md_upstream_resume(c->call);
}

static inline int s_on_data(void *arg, const char *data, size_t len)
{
    sctx_t *c = arg;
    assert_int_equal(md_buf_append(&c->data, data, len), MD_OK);
    if (c->paused)
        c->data_while_paused++;
    if (c->cancel_on_data) {
        md_upstream_cancel(c->call);
        md_loop_stop(c->loop);
        return MD_OK;
    }
    c->pauses++;
    c->paused = true;
    md_timer_start(c->loop, &c->resume, c->pause_ms);
    return MD_AGAIN;
}

static inline void s_on_end(void *arg, int error)
{
    sctx_t *c = arg;
    c->ends++;
    c->error = error;
    md_timer_stop(c->loop, &c->resume);
    md_loop_stop(c->loop);
}

/* Starts a streamed GET of path through f's client into c (loop and the
 * options already set); the test runs the loop and frees c->data. */
static inline void stream_get(fx_t *f, sctx_t *c, const char *path, const md_upstream_stream_cbs_t *cbs)
{
    md_buf_init(&c->data, 0);
    md_timer_init(&c->resume, s_on_resume, c);
    md_upstream_req_t req = get_req(path);
    md_loop_update_time(f->loop);
    c->call = md_upstream_stream(f->up, &req, cbs, c);
}

#endif
