/*
 * otlp_encode.c - micro-benchmark of the span exporter's encoding: one
 * batch of 512 spans (128 /home requests: a server span and three client
 * spans each, like bench/conf/medley-telemetry.yaml's traffic) encoded as
 * an ExportTraceServiceRequest in OTLP/HTTP JSON and in protobuf, with
 * md_otlp_encode. Prints bytes per batch and per span and nanoseconds per
 * span (the best of 9 rounds of 200 batches) for each protocol.
 *
 * Then the exporter's whole CPU per span: md_otlp_push and md_otlp_flush
 * of 200 such batches to a collector that is a forked child (its CPU is
 * not counted), one that keeps the connection and one that closes it
 * after every answer. Thread CPU time, best of 5. Not a unit test (the
 * Makefile only builds test_*.c).
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/otlp_encode.c \
 *      $(find src -name '*.c' ! -path src/main.c) \
 *      -lyaml -lz -lhiredis -lssl -lcrypto -lcrypt -lm -pthread -o /tmp/otlp_encode && /tmp/otlp_encode
 */
#include "config/config.h"
#include "core/buf.h"
#include "telemetry/otlp.h"
#include "telemetry/record.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 512
#define ROUNDS 9
#define REPEAT 200

static const char yaml_fmt[] =
    "admin: off\naccess_log: off\n"
    "tracing: { otlp_endpoint: \"http://127.0.0.1:%u/v1/traces\", otlp_protocol: %s, queue: 1024 }\n"
    "upstreams:\n"
    "  news:   { url: \"http://127.0.0.1:18091\" }\n"
    "  events: { url: \"http://127.0.0.1:18092\" }\n"
    "  hr:     { url: \"http://127.0.0.1:18093\" }\n"
    "endpoints:\n"
    "  - path: /home\n"
    "    backends:\n"
    "      - { upstream: news, path: /news, as: news }\n"
    "      - { upstream: events, path: /events, as: events }\n"
    "      - { name: vacation, upstream: hr, path: /employees/1/vacation, as: cards.vacation }\n";

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static md_config_t *load(const char *protocol, uint16_t port)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), yaml_fmt, (unsigned)port, protocol);
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "bench.yaml", &d);
    if (!cfg) {
        fprintf(stderr, "config: %d:%d: %s\n", d.line, d.col, d.msg);
        exit(1);
    }
    return cfg;
}

/* 128 requests' spans: random ids, times 2-5 ms apart, all 200s. */
static void make_spans(md_span_t *s)
{
    uint64_t rng = 42, t0 = 1764000000000000000ull;
    memset(s, 0, BATCH * sizeof(*s));
    for (size_t r = 0; r < BATCH / 4; r++) {
        md_span_t *sv = &s[4 * r];
        md_trace_random_id(sv->trace_id, MD_TRACE_ID_BYTES);
        md_trace_random_id(sv->span_id, MD_SPAN_ID_BYTES);
        sv->kind = MD_SPAN_SERVER;
        sv->status = 200;
        sv->endpoint = 0;
        sv->backend = -1;
        sv->start_ns = t0 + r * 250000 + md_xorshift32(&rng) % 1000;
        sv->end_ns = sv->start_ns + 2000000 + md_xorshift32(&rng) % 3000000;
        memcpy(sv->method, "GET", 3);
        sv->method_len = 3;
        memcpy(sv->path, "/home", 5);
        sv->path_len = 5;
        memcpy(sv->host, "127.0.0.1", 9);
        sv->host_len = 9;
        sv->port = 18094;
        for (int k = 0; k < 3; k++) {
            md_span_t *c = &s[4 * r + 1 + (size_t)k];
            memcpy(c->trace_id, sv->trace_id, MD_TRACE_ID_BYTES);
            md_trace_random_id(c->span_id, MD_SPAN_ID_BYTES);
            memcpy(c->parent_id, sv->span_id, MD_SPAN_ID_BYTES);
            c->has_parent = true;
            c->kind = MD_SPAN_CLIENT;
            c->outcome = MD_TM_OK;
            c->status = 200;
            c->endpoint = 0;
            c->backend = k;
            c->start_ns = sv->start_ns + 100000;
            c->end_ns = c->start_ns + 1000000 + md_xorshift32(&rng) % 1000000;
        }
    }
}

static void run(const char *protocol, const md_span_t *spans)
{
    md_config_t *cfg = load(protocol, 4318);
    md_otlp_t *x = md_otlp_new(cfg);
    md_buf_t b;
    md_buf_init(&b, 64u << 20);
    double best = 1e30;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        for (int i = 0; i < REPEAT; i++) {
            md_buf_reset(&b);
            if (md_otlp_encode(x, spans, BATCH, &b) != MD_OK) {
                fprintf(stderr, "encode failed\n");
                exit(1);
            }
        }
        double ns = (now_ns() - t0) / REPEAT / BATCH;
        best = ns < best ? ns : best;
    }
    printf("%-14s %8zu bytes/batch %6.1f bytes/span %7.1f ns/span\n", protocol, b.len, (double)b.len / BATCH, best);
    md_buf_free(&b);
    md_otlp_free(x);
    md_config_free(cfg);
}

/* The collector: reads each request whole, answers 200, keeps the
 * connection unless close_each. Runs until killed. */
static void sink(int lfd, bool close_each)
{
    static char buf[1 << 20];
    const char *ok = close_each ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        for (bool open = fd >= 0; open;) {
            size_t len = 0, need = SIZE_MAX;
            while (len < need) {
                ssize_t k = recv(fd, buf + len % sizeof(buf), sizeof(buf) - len % sizeof(buf), 0);
                if (k <= 0) {
                    open = false;
                    break;
                }
                len += (size_t)k;
                char *e = need == SIZE_MAX ? memmem(buf, MD_MIN(len, sizeof(buf)), "\r\n\r\n", 4) : NULL;
                if (e) {
                    char *cl = memmem(buf, (size_t)(e - buf), "Content-Length: ", 16);
                    need = (size_t)(e - buf) + 4 + (cl ? strtoul(cl + 16, NULL, 10) : 0);
                }
            }
            if (open)
                send(fd, ok, strlen(ok), MSG_NOSIGNAL);
            open = open && !close_each;
        }
        if (fd >= 0)
            close(fd);
    }
}

static void run_export(const char *protocol, bool close_each, const md_span_t *spans)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 64) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) != 0) {
        perror("sink");
        exit(1);
    }
    pid_t child = fork();
    if (child == 0)
        sink(lfd, close_each);
    close(lfd);
    md_config_t *cfg = load(protocol, ntohs(a.sin_port));
    md_otlp_t *x = md_otlp_new(cfg);
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = thread_cpu_ns();
        for (int i = 0; i < REPEAT; i++) {
            md_otlp_push(x, spans, BATCH);
            if (md_otlp_flush(x, 2000) != BATCH) {
                fprintf(stderr, "export failed\n");
                exit(1);
            }
        }
        double ns = (thread_cpu_ns() - t0) / REPEAT / BATCH;
        best = ns < best ? ns : best;
    }
    printf("%-14s %-24s %7.1f ns/span (push, encode, POST)\n", protocol,
           close_each ? "new connection each POST" : "kept connection", best);
    md_otlp_free(x);
    md_config_free(cfg);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

int main(void)
{
    md_span_t *spans = calloc(BATCH, sizeof(*spans));
    make_spans(spans);
    printf("%d spans (%d requests x 1 server + 3 client spans), best of %d rounds x %d batches\n", BATCH,
           BATCH / 4, ROUNDS, REPEAT);
    run("http/json", spans);
    run("http/protobuf", spans);
    printf("exporting them (exporter thread CPU, collector not counted), best of 5 x %d batches\n", REPEAT);
    run_export("http/json", true, spans);
    run_export("http/json", false, spans);
    run_export("http/protobuf", true, spans);
    run_export("http/protobuf", false, spans);
    free(spans);
    return 0;
}
