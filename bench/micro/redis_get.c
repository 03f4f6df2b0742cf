/*
 * redis_get.c - throughput and CPU per GET of the Redis cache tier client
 * (cache/redis.c) pipelined on one connection from one md_loop_t.
 *
 * Stores one value of `value_bytes` under the client's prefix, then keeps
 * `depth` GETs of it in flight until `gets` have completed, checks every
 * answer (MD_OK and the expected length), and prints gets per second and
 * user+sys CPU from getrusage() per GET. Redis runs in another process, so
 * only the client's side is counted.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/redis_get.c \
 *      src/cache/redis.c src/core/[a-z]*.c -lhiredis -pthread -o /tmp/redis_get
 *   redis-server --port 16399 --bind 127.0.0.1 --save "" --appendonly no &
 *   /tmp/redis_get 16399 [gets=100000] [depth=256] [value_bytes=2048]
 */
#include "cache/redis.h"
#include "core/loop.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct bench {
    md_loop_t *loop;
    md_redis_t *r;
    long total, started, done, failed;
    size_t expect_len;
} bench_t;

static void start_one(bench_t *b);

static void on_get(void *arg, int status, const char *val, size_t len)
{
    bench_t *b = arg;
    (void)val;
    b->done++;
    if (status != MD_OK || len != b->expect_len) {
        if (b->failed++ < 5)
            fprintf(stderr, "get failed: %s, %zu bytes\n", md_strerror(status), len);
    }
    if (b->started < b->total)
        start_one(b);
    else if (b->done == b->total)
        md_loop_stop(b->loop);
}

static void start_one(bench_t *b)
{
    b->started++;
    if (!md_redis_get(b->r, "bench:value", 11, on_get, b)) {
        fprintf(stderr, "get refused to start\n");
        exit(1);
    }
}

static void on_wait(md_timer_t *t)
{
    bench_t *b = t->data;
    if (md_redis_up(b->r))
        md_loop_stop(b->loop);
    else
        md_timer_start(b->loop, t, 5);
}

static void run_batch(bench_t *b, long total, long depth)
{
    b->total = total;
    b->started = b->done = 0;
    for (long i = 0; i < depth && b->started < b->total; i++)
        start_one(b);
    md_loop_run(b->loop);
}

static double usage_us(int user)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const struct timeval *tv = user ? &ru.ru_utime : &ru.ru_stime;
    return (double)tv->tv_sec * 1e6 + (double)tv->tv_usec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [gets] [depth] [value_bytes]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    long gets = argc > 2 ? atol(argv[2]) : 100000;
    long depth = argc > 3 ? atol(argv[3]) : 256;
    size_t vlen = argc > 4 ? (size_t)atol(argv[4]) : 2048;

    md_cache_global_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    conf.redis_host = "127.0.0.1";
    conf.redis_port = (uint16_t)atoi(argv[1]);
    conf.redis_timeout_ms = 2000;
    conf.redis_prefix = "medley:";

    bench_t b = { .expect_len = vlen };
    b.loop = md_loop_new();
    b.r = md_redis_new(b.loop, &conf);
    md_timer_t wait;
    md_timer_init(&wait, on_wait, &b);
    md_timer_start(b.loop, &wait, 0);
    md_loop_run(b.loop);

    char *val = malloc(vlen);
    memset(val, 'v', vlen);
    if (md_redis_set(b.r, "bench:value", 11, val, vlen, 600000) != MD_OK) {
        fprintf(stderr, "set refused\n");
        return 1;
    }
    free(val);
    run_batch(&b, depth * 4, depth);  /* warm-up: allocator, op slabs */

    b.failed = 0;
    double u0 = usage_us(1), s0 = usage_us(0);
    uint64_t w0 = md_now_us();
    run_batch(&b, gets, depth);
    double user = usage_us(1) - u0, sys = usage_us(0) - s0;
    double wall = (double)(md_now_us() - w0);

    md_redis_stats_t st;
    md_redis_get_stats(b.r, &st);
    printf("gets %ld  depth %ld  value %zu B  failed %ld  errors %llu  timeouts %llu\n", gets, depth, vlen,
           b.failed, (unsigned long long)st.errors, (unsigned long long)st.timeouts);
    printf("cpu %.2f us/get (user %.2f, sys %.2f)  wall %.2f us/get  %.0f gets/s\n", (user + sys) / (double)gets,
           user / (double)gets, sys / (double)gets, wall / (double)gets, (double)gets * 1e6 / wall);
    md_redis_free(b.r);
    md_loop_free(b.loop);
    return b.failed ? 1 : 0;
}
