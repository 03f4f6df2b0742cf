/*
 * upstream_cpu.c - CPU cost per call of the upstream client (upstream/
 * client.c) against a real HTTP server, to compare with libcurl's 26-49 us
 * per transfer measured on this machine (../shared/MEASURED.md).
 *
 * One thread, one md_loop_t, one pool: keeps `concurrency` buffered GETs in
 * flight until `calls` have completed, checks every answer (status 200 and
 * the expected body length), then prints user+sys CPU from getrusage()
 * divided by the number of calls. The server runs in another process, so
 * only the client's side is counted.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/upstream_cpu.c \
 *      src/upstream/client.c src/http/parser.c src/core/[a-z]*.c -lz -pthread -o /tmp/upstream_cpu
 *   /tmp/upstream_cpu PORT PATH [calls=20000] [concurrency=64] [expect_len=-1]
 *
 * e.g. against nginx on 127.0.0.1:18085 serving news.json (25,849 bytes):
 *   /tmp/upstream_cpu 18085 /news.json 20000 64 25849
 */
#include "core/loop.h"
#include "upstream/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct bench {
    md_loop_t *loop;
    md_upstream_t *up;
    md_upstream_req_t req;
    long total, started, done, failed;
    long expect_len;
} bench_t;

static void start_one(bench_t *b);

static void on_result(md_upstream_result_t *res, void *arg)
{
    bench_t *b = arg;
    b->done++;
    if (res->error != MD_OK || res->status != 200 || (b->expect_len >= 0 && (long)res->body.len != b->expect_len)) {
        if (b->failed++ < 5)
            fprintf(stderr, "call failed: %s, status %d, %zu bytes\n", md_strerror(res->error), res->status,
                    res->body.len);
    }
    md_buf_free(&res->body);
    if (b->started < b->total)
        start_one(b);
    else if (b->done == b->total)
        md_loop_stop(b->loop);
}

static void start_one(bench_t *b)
{
    b->started++;
    if (!md_upstream_call(b->up, &b->req, on_result, b)) {
        fprintf(stderr, "call refused to start\n");
        exit(1);
    }
}

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double split_us(int self_user)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const struct timeval *tv = self_user ? &ru.ru_utime : &ru.ru_stime;
    return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT PATH [calls] [concurrency] [expect_len]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    long calls = argc > 3 ? atol(argv[3]) : 20000;
    long conc = argc > 4 ? atol(argv[4]) : 64;
    bench_t b = { .total = calls, .expect_len = argc > 5 ? atol(argv[5]) : -1 };

    md_upstream_conf_t conf = { 0 };
    struct sockaddr_in *sa = (struct sockaddr_in *)&conf.addr;
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa->sin_addr);
    conf.addrlen = sizeof(*sa);
    char host[32];
    snprintf(host, sizeof(host), "127.0.0.1:%d", port);
    conf.host = "127.0.0.1";
    conf.host_header = host;
    conf.base_path = "";
    conf.timeout_ms = 5000;
    conf.max_connections = (uint32_t)conc;
    conf.max_queue = 1024;
    conf.max_response_bytes = 8u << 20;

    b.loop = md_loop_new();
    b.up = md_upstream_new(b.loop, &conf, 1);
    b.req = (md_upstream_req_t){ .method = "GET", .path = argv[2], .path_len = strlen(argv[2]) };

    /* Warm-up: open the connections and the allocator outside the count. */
    long warm = conc * 4;
    b.total = warm;
    for (long i = 0; i < conc && b.started < b.total; i++)
        start_one(&b);
    md_loop_run(b.loop);

    b.total = calls;
    b.started = b.done = b.failed = 0;
    double u0 = split_us(1), s0 = split_us(0), c0 = cpu_us();
    uint64_t w0 = md_now_us();
    for (long i = 0; i < conc && b.started < b.total; i++)
        start_one(&b);
    md_loop_run(b.loop);
    double cpu = cpu_us() - c0, user = split_us(1) - u0, sys = split_us(0) - s0;
    double wall = (double)(md_now_us() - w0);

    md_upstream_stats_t st;
    md_upstream_get_stats(b.up, &st);
    printf("calls %ld  concurrency %ld  failed %ld  connects %llu (incl. warm-up)\n", calls, conc, b.failed,
           (unsigned long long)st.connects);
    printf("cpu %.1f us/call (user %.1f, sys %.1f)  wall %.1f us/call  %.0f calls/s\n", cpu / (double)calls,
           user / (double)calls, sys / (double)calls, wall / (double)calls, (double)calls * 1e6 / wall);
    md_upstream_free(b.up);
    md_loop_free(b.loop);
    return b.failed ? 1 : 0;
}
