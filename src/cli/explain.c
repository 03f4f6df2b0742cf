/*
 * explain.c - `medley explain` (contract in explain.h): one GET through the
 * real gateway, served in this process, and a report of what each backend
 * sent and what of it reached the client.
 *
 * The record comes from the telemetry observer, which runs on the server's
 * one worker thread when the request is finished; it is copied into a
 * capture that this thread reads only after joining the server thread, so
 * the join is all the synchronisation needed. Exit codes of the command: 0
 * when an answer came (any status), 1 on a usage or config error, 2 when
 * no answer came.
 */
#include "cli/explain.h"

#include "cli/cli.h"

#include "cache/policy.h"
#include "core/alloc.h"
#include "gateway/gateway.h"
#include "http/server.h"
#include "json/write.h"
#include "telemetry/telemetry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the request ---- */

/* Headers explain owns: it sends a GET without a body and reads the answer
 * to the end of the connection. */
static bool reserved_header(const md_header_t *h)
{
    return md_header_name_is(h, "Connection") || md_header_name_is(h, "Content-Length") ||
           md_header_name_is(h, "Transfer-Encoding");
}

static int check_header(const md_header_t *h, char *err, size_t errlen)
{
    bool ok = h->name_len > 0;
    for (size_t i = 0; i < h->name_len && ok; i++)
        ok = md_is_tchar((unsigned char)h->name[i]);
    if (!ok) {
        md_seterr(err, errlen, "header name '%.*s' is not a token", (int)MD_MIN(h->name_len, 64), h->name);
        return MD_EINVAL;
    }
    for (size_t i = 0; i < h->value_len; i++) {
        unsigned char ch = (unsigned char)h->value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            md_seterr(err, errlen, "header '%.*s' has a control character in its value", (int)MD_MIN(h->name_len, 64),
                      h->name);
            return MD_EINVAL;
        }
    }
    if (reserved_header(h)) {
        md_seterr(err, errlen, "explain sets '%.*s' itself", (int)h->name_len, h->name);
        return MD_EINVAL;
    }
    return MD_OK;
}

/* A target that cannot break the request line: '/' first, no space, no
 * control byte. Anything else is the server's to judge. */
static int check_request(const char *target, const md_header_t *hs, size_t n, char *err, size_t errlen)
{
    if (!target || target[0] != '/') {
        md_seterr(err, errlen, "the path must start with '/' (e.g. '/home?user=42')");
        return MD_EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)target; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            md_seterr(err, errlen, "the path holds a space or a control character (percent-encode it)");
            return MD_EINVAL;
        }
    }
    if (n > MD_EXPLAIN_MAX_HEADERS) {
        md_seterr(err, errlen, "at most %d headers", MD_EXPLAIN_MAX_HEADERS);
        return MD_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++)
        if (check_header(&hs[i], err, errlen) != MD_OK)
            return MD_EINVAL;
    return MD_OK;
}

static int build_request(md_buf_t *b, const char *target, const md_header_t *hs, size_t n, uint16_t port)
{
    char host[48];
    int rc = md_buf_append_str(b, "GET ");
    if (rc == MD_OK)
        rc = md_buf_append_str(b, target);
    if (rc == MD_OK)
        rc = md_buf_append_str(b, " HTTP/1.1\r\n");
    if (rc == MD_OK && !md_header_find(hs, n, "Host")) {
        snprintf(host, sizeof(host), "Host: 127.0.0.1:%u\r\n", port);
        rc = md_buf_append_str(b, host);
    }
    for (size_t i = 0; i < n && rc == MD_OK; i++) {
        rc = md_buf_append(b, hs[i].name, hs[i].name_len);
        if (rc == MD_OK)
            rc = md_buf_append(b, ": ", 2);
        if (rc == MD_OK)
            rc = md_buf_append(b, hs[i].value, hs[i].value_len);
        if (rc == MD_OK)
            rc = md_buf_append(b, "\r\n", 2);
    }
    if (rc == MD_OK)
        rc = md_buf_append_str(b, "Connection: close\r\n\r\n");
    return rc;
}

/* ---- the exchange ---- */

/* What the client side saw. */
typedef struct answer {
    int status;
    uint64_t body_bytes;
    uint64_t duration_us;
} answer_t;

static int send_all(int fd, const md_buf_t *req)
{
    for (size_t sent = 0; sent < req->len;) {
        ssize_t n = send(fd, req->data + sent, req->len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return MD_ERR;
        sent += (size_t)n;
    }
    return MD_OK;
}

/* Keeps the head (bounded), counts the body. MD_OK, or MD_ETOOBIG for a
 * head over MD_EXPLAIN_MAX_HEAD. */
static int take(md_buf_t *head, size_t *head_len, answer_t *a, const char *p, size_t n)
{
    if (*head_len) {
        a->body_bytes += n;
        return MD_OK;
    }
    size_t before = head->len;
    if (md_buf_append(head, p, n) != MD_OK)
        return MD_ETOOBIG;
    const char *from = head->data + (before > 3 ? before - 3 : 0);
    const char *end = memmem(from, (size_t)(head->data + head->len - from), "\r\n\r\n", 4);
    if (end) {
        *head_len = (size_t)(end - head->data) + 4;
        a->body_bytes = head->len - *head_len;
    }
    return MD_OK;
}

/* Reads to the end of the connection within deadline_us (monotonic). */
static int read_answer(int fd, uint64_t deadline_us, answer_t *a, char *err, size_t errlen)
{
    md_buf_t head;
    md_buf_init(&head, MD_EXPLAIN_MAX_HEAD);
    size_t head_len = 0;
    char chunk[16384];
    int rc = MD_OK;
    for (;;) {
        uint64_t now = md_now_us();
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int ready = now < deadline_us ? poll(&pfd, 1, (int)((deadline_us - now + 999) / 1000)) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        ssize_t n = ready > 0 ? recv(fd, chunk, sizeof(chunk), 0) : -1;
        if (n < 0 && ready > 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0) {
            md_seterr(err, errlen, "%s", ready == 0 ? "no complete answer in time" : strerror(errno));
            rc = MD_ECONNECT;
            break;
        }
        if (take(&head, &head_len, a, chunk, (size_t)n) != MD_OK) {
            md_seterr(err, errlen, "the answer's head is larger than %d bytes", MD_EXPLAIN_MAX_HEAD);
            rc = MD_ECONNECT;
            break;
        }
    }
    if (rc == MD_OK && (!head_len || head.len < 12 || memcmp(head.data, "HTTP/1.", 7) != 0)) {
        md_seterr(err, errlen, "%s", head.len ? "the answer is not HTTP" : "the connection closed without an answer");
        rc = MD_ECONNECT;
    }
    if (rc == MD_OK)
        a->status = atoi(head.data + 9);
    md_buf_free(&head);
    return rc;
}

static int exchange(uint16_t port, const md_buf_t *req, uint32_t timeout_ms, answer_t *a, char *err, size_t errlen)
{
    uint64_t start = md_now_us();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        md_seterr(err, errlen, "cannot connect to 127.0.0.1:%u: %s", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return MD_ECONNECT;
    }
    int rc = send_all(fd, req);
    if (rc != MD_OK)
        md_seterr(err, errlen, "cannot send the request: %s", strerror(errno));
    else
        rc = read_answer(fd, start + (uint64_t)timeout_ms * 1000, a, err, errlen);
    a->duration_us = md_now_us() - start;
    close(fd);
    return rc == MD_OK ? MD_OK : MD_ECONNECT;
}

/* ---- the run ---- */

/* Filled on the worker thread by observe(), read after the join. */
typedef struct capture {
    bool seen;
    md_explain_t x;
} capture_t;

static void observe(void *arg, const md_http_req_t *req, const md_http_done_t *done, const md_tm_req_t *t,
                    uint64_t duration_us)
{
    capture_t *cap = arg;
    MD_UNUSED(req);
    if (cap->seen)
        return; /* explain sends one request; anything after it is not ours */
    cap->seen = true;
    md_explain_t *x = &cap->x;
    x->recorded = true;
    x->status = done->status;
    x->body_bytes = done->body_bytes;
    x->duration_us = duration_us;
    x->endpoint = t ? t->endpoint : -1;
    x->incomplete = t && t->incomplete;
    x->ncalls = t && t->endpoint >= 0 ? t->ncalls : 0;
    if (x->ncalls) {
        x->calls = md_malloc(x->ncalls * sizeof(*x->calls));
        memcpy(x->calls, t->calls, x->ncalls * sizeof(*x->calls));
    }
}

/* What explain must not do to the outside: write log lines, open the
 * admin port, export spans. */
static void quiet_telemetry(md_config_t *cfg)
{
    cfg->telemetry.log_target = MD_LOG_OFF;
    cfg->telemetry.admin_on = false;
    md_free(cfg->telemetry.otlp_endpoint);
    cfg->telemetry.otlp_endpoint = NULL;
}

/* Long enough for the slowest endpoint to answer (with a timeout, if so). */
static uint32_t answer_timeout_ms(const md_config_t *cfg)
{
    uint32_t ms = 0;
    for (size_t i = 0; i < cfg->nendpoints; i++)
        ms = MD_MAX(ms, cfg->endpoints[i].deadline_ms);
    return ms + MD_EXPLAIN_MARGIN_MS;
}

static void *serve_thread(void *arg)
{
    md_server_run(arg);
    return NULL;
}

/* Runs the server on its own thread for the one exchange. */
static int serve_and_ask(md_server_t *srv, const md_config_t *cfg, const md_buf_t *req, answer_t *a, char *err,
                         size_t errlen)
{
    pthread_t th;
    if (pthread_create(&th, NULL, serve_thread, srv) != 0) {
        md_seterr(err, errlen, "cannot start the server thread");
        return MD_ECONNECT;
    }
    int rc = exchange(md_server_port(srv), req, answer_timeout_ms(cfg), a, err, errlen);
    md_server_shutdown(srv);
    pthread_join(th, NULL);
    return rc;
}

static int run_server(md_config_t *cfg, md_gateway_t *gw, md_telemetry_t *tm, const char *target,
                      const md_header_t *headers, size_t nheaders, capture_t *cap, answer_t *a, char *err,
                      size_t errlen)
{
    md_telemetry_set_observer(tm, observe, cap);
    md_gateway_set_telemetry(gw, tm);
    md_server_hooks_t hooks = { 0 }; /* hooks the gateway does not set stay off */
    md_gateway_hooks(gw, &hooks);
    md_server_t *srv = md_server_new("127.0.0.1", 0, 1, &cfg->limits, &hooks, err, errlen);
    if (!srv)
        return MD_ECONNECT;
    md_buf_t req;
    md_buf_init(&req, MD_EXPLAIN_MAX_REQUEST);
    int rc = build_request(&req, target, headers, nheaders, md_server_port(srv));
    if (rc != MD_OK)
        md_seterr(err, errlen, "the request is larger than %d bytes", MD_EXPLAIN_MAX_REQUEST);
    else
        rc = serve_and_ask(srv, cfg, &req, a, err, errlen);
    md_buf_free(&req);
    md_server_free(srv);
    return rc == MD_OK || rc == MD_ECONNECT ? rc : MD_ERR;
}

int md_explain_run(md_config_t *cfg, const char *target, const md_header_t *headers, size_t nheaders,
                   md_explain_t *out, md_diag_t *diag, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->endpoint = -1;
    if (check_request(target, headers, nheaders, err, errlen) != MD_OK)
        return MD_ERR;
    quiet_telemetry(cfg);
    md_gateway_t *gw = md_gateway_new(cfg, 1, diag);
    if (!gw)
        return MD_EINVAL;
    md_telemetry_t *tm = md_telemetry_new(cfg, 1, err, errlen);
    if (!tm) {
        md_gateway_free(gw);
        return MD_ERR;
    }
    capture_t cap = { .seen = false };
    answer_t a = { 0 };
    int rc = run_server(cfg, gw, tm, target, headers, nheaders, &cap, &a, err, errlen);
    md_gateway_free(gw);
    md_telemetry_free(tm);
    if (rc == MD_OK && cap.seen) {
        *out = cap.x;
        return MD_OK;
    }
    md_free(cap.x.calls);
    if (rc == MD_OK) { /* refused by the server before dispatch: no record */
        out->status = a.status;
        out->body_bytes = a.body_bytes;
        out->duration_us = a.duration_us;
    }
    return rc;
}

void md_explain_free(md_explain_t *x)
{
    if (!x)
        return;
    md_free(x->calls);
    x->calls = NULL;
    x->ncalls = 0;
}

/* ---- the report ---- */

/* 31702 -> "31,702". */
static const char *grouped(uint64_t v, char out[32])
{
    char digits[24];
    int n = (int)(md_put_u64(digits, v) - digits), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

/* Microseconds as milliseconds with one decimal, rounded. */
static const char *tenths(uint64_t us, char out[32])
{
    uint64_t t = (us + 50) / 100;
    snprintf(out, 32, "%llu.%llu", (unsigned long long)(t / 10), (unsigned long long)(t % 10));
    return out;
}

/* The outcome as the access log names it: a part the cache answered alone
 * has no call of its own and is "ok". */
static const char *outcome_of(const md_tm_call_t *k)
{
    if (k->outcome == MD_TM_NOT_STARTED && k->cache)
        return "ok";
    return md_tm_outcome_name((md_tm_outcome_t)k->outcome);
}

static const char *cache_of(const md_tm_call_t *k)
{
    return k->cache ? md_cs_outcome_name((md_cs_outcome_t)(k->cache - 1)) : NULL;
}

/* Sums over the backends. */
typedef struct totals {
    uint64_t in, out;
    size_t fetched;             /* backends that sent anything */
} totals_t;

static totals_t totals_of(const md_explain_t *x)
{
    totals_t s = { 0, 0, 0 };
    for (size_t i = 0; i < x->ncalls; i++) {
        s.in += x->calls[i].bytes_in;
        s.out += x->calls[i].bytes_out;
        s.fetched += x->calls[i].bytes_in > 0;
    }
    return s;
}

static const md_endpoint_conf_t *endpoint_of(const md_explain_t *x, const md_config_t *cfg)
{
    return x->endpoint >= 0 && (size_t)x->endpoint < cfg->nendpoints ? &cfg->endpoints[x->endpoint] : NULL;
}

static const char *backend_name(const md_endpoint_conf_t *e, size_t i)
{
    return e && i < e->nbackends && e->backends[i].name ? e->backends[i].name : "?";
}

/* One table row's cells, formatted once so the widths can be measured. */
typedef struct row {
    const char *name, *outcome, *cache;
    char status[8], time[32], in[32], out[32];
} row_t;

static void make_row(const md_explain_t *x, const md_endpoint_conf_t *e, size_t i, row_t *r)
{
    const md_tm_call_t *k = &x->calls[i];
    r->name = backend_name(e, i);
    r->outcome = outcome_of(k);
    r->cache = cache_of(k) ? cache_of(k) : "-";
    if (k->status)
        snprintf(r->status, sizeof(r->status), "%u", k->status);
    else
        snprintf(r->status, sizeof(r->status), "-");
    if (k->outcome < MD_TM_NOUTCOMES)
        tenths(k->duration_us, r->time);
    else
        snprintf(r->time, sizeof(r->time), "-"); /* no call of its own, or cut short */
    grouped(k->bytes_in, r->in);
    grouped(k->bytes_out, r->out);
}

/* Column widths: the widest cell, names capped (a longer one just pushes
 * its row's columns right). */
typedef struct widths {
    int name, status, outcome, cache, time, in, out;
} widths_t;

static int wider(int w, const char *s)
{
    return MD_MAX(w, (int)MD_MIN(strlen(s), (size_t)48));
}

static int put_row(md_buf_t *out, const widths_t *w, const row_t *r)
{
    return md_buf_printf(out, "%-*s  %*s  %-*s  %-*s  %*s  %*s  %*s\n", w->name, r->name, w->status, r->status,
                         w->outcome, r->outcome, w->cache, r->cache, w->time, r->time, w->in, r->in, w->out, r->out);
}

static int put_table(md_buf_t *out, const md_explain_t *x, const md_endpoint_conf_t *e)
{
    size_t n = x->ncalls;
    row_t *rows = md_calloc(n + 1, sizeof(*rows));
    rows[0] = (row_t){ "backend", "outcome", "cache", "status", "time ms", "bytes in", "bytes out" };
    widths_t w = { 0, 0, 0, 0, 0, 0, 0 };
    for (size_t i = 0; i <= n; i++) {
        if (i)
            make_row(x, e, i - 1, &rows[i]);
        w = (widths_t){ wider(w.name, rows[i].name),       wider(w.status, rows[i].status),
                        wider(w.outcome, rows[i].outcome), wider(w.cache, rows[i].cache),
                        wider(w.time, rows[i].time),       wider(w.in, rows[i].in),
                        wider(w.out, rows[i].out) };
    }
    int rc = MD_OK;
    for (size_t i = 0; i <= n && rc == MD_OK; i++)
        rc = put_row(out, &w, &rows[i]);
    md_free(rows);
    return rc;
}

/* "26.7x smaller" for in bytes against out bytes. */
static void ratio_text(uint64_t in, uint64_t out, char *buf, size_t len)
{
    if (in == out)
        snprintf(buf, len, "the same size");
    else if (in > out)
        snprintf(buf, len, "%.1fx smaller", (double)in / (double)out);
    else
        snprintf(buf, len, "%.1fx larger", (double)out / (double)in);
}

static int put_summary(md_buf_t *out, const md_explain_t *x, const md_endpoint_conf_t *e)
{
    totals_t s = totals_of(x);
    char a[32], b[32], ratio[48];
    int rc = MD_OK;
    if (x->incomplete)
        rc = md_buf_append_str(out, "incomplete: an optional backend failed (X-Medley-Incomplete)\n");
    if (rc != MD_OK)
        return rc;
    if (s.fetched == 0)
        return md_buf_printf(out, "nothing fetched from backends; %s B sent to the client\n", grouped(x->body_bytes, b));
    if (e && e->passthrough)
        return md_buf_printf(out, "passed %s B from 1 backend through unchanged (passthrough)\n", grouped(s.in, a));
    rc = md_buf_printf(out, "shaped %s B from %zu backend%s into %s B", grouped(s.in, a), s.fetched,
                       s.fetched == 1 ? "" : "s", grouped(x->body_bytes, b));
    if (rc == MD_OK && x->body_bytes) {
        ratio_text(s.in, x->body_bytes, ratio, sizeof(ratio));
        rc = md_buf_printf(out, ": %s", ratio);
    }
    return rc == MD_OK ? md_buf_append_char(out, '\n') : rc;
}

int md_explain_text(const md_explain_t *x, const md_config_t *cfg, const char *target, md_buf_t *out)
{
    const md_endpoint_conf_t *e = endpoint_of(x, cfg);
    char b[32], t[32];
    int rc = md_buf_printf(out, "GET %s -> %d, %s B", target, x->status, grouped(x->body_bytes, b));
    if (rc == MD_OK && !x->recorded)
        rc = md_buf_append_str(out, " (refused by the server before any endpoint ran)\n");
    else if (rc == MD_OK && !e)
        rc = md_buf_append_str(out, " (no endpoint matched)\n");
    else if (rc == MD_OK)
        rc = md_buf_printf(out, " (endpoint %s %s)\n\n", e->method, e->path);
    if (rc == MD_OK && e)
        rc = put_table(out, x, e);
    if (rc == MD_OK && e)
        rc = md_buf_append_char(out, '\n');
    if (rc == MD_OK)
        rc = put_summary(out, x, e);
    if (rc == MD_OK)
        rc = md_buf_printf(out, "total time %s ms\n", tenths(x->duration_us, t));
    return rc;
}

/* ---- JSON ---- */

static int put_ms(md_buf_t *out, uint64_t us)
{
    return md_buf_printf(out, "%llu.%03llu", (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
}

static int put_string_or_null(md_buf_t *out, const char *s)
{
    return s ? md_json_write_string(out, s, strlen(s)) : md_buf_append_str(out, "null");
}

static int put_json_call(md_buf_t *out, const md_explain_t *x, const md_endpoint_conf_t *e, size_t i)
{
    const md_tm_call_t *k = &x->calls[i];
    const char *name = backend_name(e, i);
    int rc = md_buf_append_str(out, i ? ",{\"name\":" : "{\"name\":");
    if (rc == MD_OK)
        rc = md_json_write_string(out, name, strlen(name));
    if (rc == MD_OK)
        rc = k->status ? md_buf_printf(out, ",\"status\":%u", k->status) : md_buf_append_str(out, ",\"status\":null");
    if (rc == MD_OK)
        rc = md_buf_printf(out, ",\"outcome\":\"%s\",\"cache\":", outcome_of(k));
    if (rc == MD_OK)
        rc = put_string_or_null(out, cache_of(k));
    if (rc == MD_OK)
        rc = md_buf_append_str(out, ",\"duration_ms\":");
    if (rc == MD_OK)
        rc = k->outcome < MD_TM_NOUTCOMES ? put_ms(out, k->duration_us) : md_buf_append_str(out, "null");
    if (rc == MD_OK)
        rc = md_buf_printf(out, ",\"bytes_in\":%llu,\"bytes_out\":%llu}", (unsigned long long)k->bytes_in,
                           (unsigned long long)k->bytes_out);
    return rc;
}

static int put_json_totals(md_buf_t *out, const md_explain_t *x)
{
    totals_t s = totals_of(x);
    int rc = md_buf_printf(out, "],\"bytes_in\":%llu,\"bytes_out\":%llu,\"backends_fetched\":%zu,\"ratio\":",
                           (unsigned long long)s.in, (unsigned long long)s.out, s.fetched);
    if (rc == MD_OK)
        rc = s.in && x->body_bytes ? md_buf_printf(out, "%.2f", (double)s.in / (double)x->body_bytes)
                                   : md_buf_append_str(out, "null");
    return rc == MD_OK ? md_buf_append_str(out, "}\n") : rc;
}

int md_explain_json(const md_explain_t *x, const md_config_t *cfg, const char *target, md_buf_t *out)
{
    const md_endpoint_conf_t *e = endpoint_of(x, cfg);
    int rc = md_buf_append_str(out, "{\"method\":\"GET\",\"target\":");
    if (rc == MD_OK)
        rc = md_json_write_string(out, target, strlen(target));
    if (rc == MD_OK)
        rc = md_buf_append_str(out, ",\"endpoint\":");
    if (rc == MD_OK)
        rc = put_string_or_null(out, e ? e->path : NULL);
    if (rc == MD_OK)
        rc = md_buf_printf(out, ",\"status\":%d,\"bytes\":%llu,\"duration_ms\":", x->status,
                           (unsigned long long)x->body_bytes);
    if (rc == MD_OK)
        rc = put_ms(out, x->duration_us);
    if (rc == MD_OK)
        rc = md_buf_printf(out, ",\"incomplete\":%s,\"backends\":[", x->incomplete ? "true" : "false");
    for (size_t i = 0; i < x->ncalls && rc == MD_OK; i++)
        rc = put_json_call(out, x, e, i);
    return rc == MD_OK ? put_json_totals(out, x) : rc;
}

/* ---- the command ---- */

typedef struct explain_opts {
    const char *config;
    const char *target;
    bool json;
    md_header_t headers[MD_EXPLAIN_MAX_HEADERS];
    size_t nheaders;
} explain_opts_t;

static void explain_usage(FILE *f)
{
    fprintf(f, "usage: medley explain -c FILE [--header 'Name: value']... [--json] PATH_AND_QUERY\n"
               "  e.g. medley explain -c medley.yaml '/home?user=42'\n"
               "Sends one GET through FILE's endpoints (served in this process) and shows, per backend,\n"
               "status, outcome, cache, time, bytes read and bytes of its shaped part in the answer.\n"
               "Exit: 0 answered (any status), 1 usage or config error, 2 no answer.\n");
}

/* "Name: value" -> a header borrowing arg; the value is trimmed. */
static int parse_header(const char *arg, md_header_t *h)
{
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg)
        return MD_EINVAL;
    const char *v = colon + 1, *end = v + strlen(v);
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *h = (md_header_t){ arg, (size_t)(colon - arg), v, (size_t)(end - v) };
    return MD_OK;
}

static int parse_explain_opts(int argc, char **argv, explain_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && v) {
            o->config = argv[++i];
        } else if ((!strcmp(a, "-H") || !strcmp(a, "--header")) && v) {
            if (o->nheaders == MD_EXPLAIN_MAX_HEADERS)
                return fprintf(stderr, "medley explain: at most %d headers\n", MD_EXPLAIN_MAX_HEADERS), MD_EINVAL;
            if (parse_header(v, &o->headers[o->nheaders++]) != MD_OK)
                return fprintf(stderr, "medley explain: --header wants 'Name: value', got '%s'\n", v), MD_EINVAL;
            i++;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (a[0] == '/' && !o->target) {
            o->target = a;
        } else {
            fprintf(stderr, "medley explain: unexpected '%s'\n", a);
            return MD_EINVAL;
        }
    }
    if (!o->config || !o->target) {
        fprintf(stderr, "medley explain: %s is required\n", !o->config ? "-c FILE" : "a path (e.g. '/home?user=42')");
        return MD_EINVAL;
    }
    return MD_OK;
}

static void print_diag(const md_diag_t *d)
{
    char line[1024];
    md_diag_format(d, line, sizeof(line));
    fprintf(stderr, "%s\n", line);
}

static int report(const md_explain_t *x, const md_config_t *cfg, const explain_opts_t *o)
{
    md_buf_t out;
    md_buf_init(&out, 0);
    int rc = o->json ? md_explain_json(x, cfg, o->target, &out) : md_explain_text(x, cfg, o->target, &out);
    if (rc == MD_OK)
        fwrite(out.data, 1, out.len, stdout);
    md_buf_free(&out);
    return fflush(stdout) == 0 && rc == MD_OK ? 0 : 1;
}

int md_cli_explain(int argc, char **argv)
{
    explain_opts_t o;
    if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        explain_usage(stdout);
        return 0;
    }
    if (parse_explain_opts(argc, argv, &o) != MD_OK) {
        explain_usage(stderr);
        return 1;
    }
    md_diag_t diag = { 0 };
    md_config_t *cfg = md_config_load_file(o.config, &diag);
    if (!cfg) {
        print_diag(&diag);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    md_explain_t x;
    char err[256] = "";
    int rc = md_explain_run(cfg, o.target, o.headers, o.nheaders, &x, &diag, err, sizeof(err));
    int code = 0;
    if (rc == MD_EINVAL)
        print_diag(&diag);
    else if (rc != MD_OK)
        fprintf(stderr, "medley explain: %s\n", err);
    if (rc == MD_OK)
        code = report(&x, cfg, &o);
    else
        code = rc == MD_ECONNECT ? 2 : 1;
    md_explain_free(&x);
    md_config_free(cfg);
    return code;
}
