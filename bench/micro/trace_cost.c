/*
 * trace_cost.c - micro-benchmark for tracing's per-request CPU cost: one
 * request's telemetry life (md_tm_begin, three backend calls with their
 * trace headers, start and end, md_tm_finish) in a loop, with tracing in
 * each state from "no trace headers" to "sampled and exported". The
 * collector is a forked child that answers 200 (its CPU is not counted);
 * "process" CPU includes the exporter thread (encoding, POSTs, the last
 * flush). Flat out, the loop outruns any collector and the default queue
 * drops most spans (as designed); the paced rows run at ~50,000 requests a
 * second. Not a unit test (the Makefile only builds test_*.c).
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/trace_cost.c \
 *      $(find src/core src/config src/json src/http src/telemetry -name '*.c') \
 *      -lyaml -lz -lm -pthread -o /tmp/trace_cost && /tmp/trace_cost [requests] [queue]
 */
#include "config/config.h"
#include "core/loop.h"
#include "core/pool.h"
#include "telemetry/telemetry.h"

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

static double cpu_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sink(int lfd)
{
    static char buf[1 << 20];
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        size_t len = 0, need = (size_t)-1;
        while (len < need) {
            ssize_t k = recv(fd, buf + (len % sizeof(buf)), sizeof(buf) - (len % sizeof(buf)), 0);
            if (k <= 0)
                break;
            len += (size_t)k;
            char *e = need == (size_t)-1 ? memmem(buf, len < sizeof(buf) ? len : sizeof(buf), "\r\n\r\n", 4) : NULL;
            if (e) {
                char *cl = memmem(buf, (size_t)(e - buf), "Content-Length: ", 16);
                need = (size_t)(e - buf) + 4 + (cl ? strtoul(cl + 16, NULL, 10) : 0);
            }
        }
        const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        send(fd, r, strlen(r), MSG_NOSIGNAL);
        close(fd);
    }
}

static void run(const char *label, const char *tracing, bool headers, int n, bool paced)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "admin: off\naccess_log: off\nserver_timing: false\n%s"
             "upstreams:\n  hr: { url: \"http://127.0.0.1:9\" }\n"
             "endpoints:\n  - path: /home\n    backends:\n"
             "      - { upstream: hr, path: /x, as: x }\n      - { upstream: hr, path: /y, as: y }\n"
             "      - { upstream: hr, path: /z, as: z }\n",
             tracing);
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "b.yaml", &d);
    if (!cfg) {
        fprintf(stderr, "%d:%d %s\n", d.line, d.col, d.msg);
        exit(1);
    }
    char err[256];
    md_telemetry_t *tm = md_telemetry_new(cfg, 1, err, sizeof(err));
    md_loop_t *loop = md_loop_new();
    md_tm_worker_t *tw = md_tm_worker_new(tm, 0, loop, NULL, NULL);
    md_header_t hs[2] = { { "Host", 4, "api.example", 11 },
                          { "traceparent", 11, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 55 } };
    md_http_req_t req = { .pool = md_pool_new(0), .headers = hs, .num_headers = 1 };
    req.method = MD_STR_LIT("GET");
    req.path = MD_STR_LIT("/home");
    md_http_done_t done = { .status = 200, .body_bytes = 100 };
    double p0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID), t0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    for (int k = 0; k < n; k++) {
        md_pool_reset(req.pool);
        req.start_us = md_now_us();
        md_tm_req_t *t = md_tm_begin(tm, &req, 0);
        for (size_t i = 0; i < 3; i++) {
            md_header_t out[MD_TM_TRACE_HEADERS];
            if (headers)
                md_tm_trace_headers(t, i, req.pool, out, NULL, 0);
            md_tm_call_start(t, i);
            md_tm_call_end(t, i, 200, MD_TM_OK, 100);
        }
        md_tm_finish(tw, &req, &done);
        if (paced && k % 100 == 99)
            usleep(2000); /* about 50,000 requests a second */
    }
    double t1 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    md_otlp_stats_t st;
    md_otlp_get_stats(md_telemetry_otlp(tm), &st);
    md_tm_worker_free(tw);
    md_loop_free(loop);
    md_pool_destroy(req.pool);
    md_telemetry_free(tm); /* joins the exporter after its last flush */
    double p1 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    printf("%-44s worker %6.0f ns/req   process (incl. exporter) %6.0f ns/req  (dropped %llu)\n", label,
           (t1 - t0) * 1e9 / n, (p1 - p0) * 1e9 / n, (unsigned long long)st.dropped);
    md_config_free(cfg);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500000;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(lfd, (struct sockaddr *)&a, sizeof(a));
    listen(lfd, 128);
    socklen_t al = sizeof(a);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    pid_t child = fork();
    if (child == 0) {
        sink(lfd);
        _exit(0);
    }
    close(lfd);
    char tr[512];
    snprintf(tr, sizeof(tr), "tracing: { otlp_endpoint: \"http://127.0.0.1:%u/v1/traces\", queue: %s }\n",
             ntohs(a.sin_port), argc > 2 ? argv[2] : "8192");
    char tr0[512];
    snprintf(tr0, sizeof(tr0),
             "tracing: { otlp_endpoint: \"http://127.0.0.1:%u/v1/traces\", queue: %s, sample: 0 }\n",
             ntohs(a.sin_port), argc > 2 ? argv[2] : "8192");
    for (int rep = 0; rep < 2; rep++) {
        run("records only (no trace headers rendered)", "tracing: { sample: 0 }\n", false, n, false);
        run("propagation: 3 traceparents, not sampled", "tracing: { sample: 0 }\n", true, n, false);
        run("propagation, sampled, no exporter", "", true, n, false);
        run("exporter configured, not sampled", tr0, true, n, false);
        run("sampled + export (4 spans/req), flat out", tr, true, n, false);
    }
    run("paced 50k/s: records only", "tracing: { sample: 0 }\n", false, n / 3, true);
    run("paced 50k/s: propagation, not sampled", "tracing: { sample: 0 }\n", true, n / 3, true);
    run("paced 50k/s: sampled + export", tr, true, n / 3, true);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
