/*
 * bench_parser.c - micro-benchmark for http/parser: ns per typical request
 * head (a ~300-byte wrk/browser-like GET), per response head, and chunked
 * decoding throughput, best of 7 rounds. Not a unit test (the Makefile only builds test_*.c).
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/bench_parser.c \
 *      src/http/parser.c src/core/common.c -o /tmp/bench_parser && /tmp/bench_parser
 */
#include "http/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char request[] =
    "GET /api/v1/users/42?fields=name,email&include=orders HTTP/1.1\r\n"
    "Host: gateway.example.com:8080\r\n"
    "User-Agent: wrk/4.2.0 (Linux x86_64)\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Connection: keep-alive\r\n"
    "X-Request-Id: 7f3c9a2e-1b4d-4e8f-9a6c-2d5e8b1f0c3a\r\n"
    "\r\n";

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 1234\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Server: backend/1.0\r\n"
    "Cache-Control: no-cache\r\n"
    "\r\n";

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the box is shared */
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile int sink;

static double bench_request(long iters)
{
    md_header_t hs[32];
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        md_http_request_head_t r = { .headers = hs, .num_headers = 32 };
        sink += md_http_parse_request(request, sizeof(request) - 1, &r);
    }
    return (now_ns() - t0) / (double)iters;
}

static double bench_response(long iters)
{
    md_header_t hs[32];
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        md_http_response_head_t r = { .headers = hs, .num_headers = 32 };
        sink += md_http_parse_response(response, sizeof(response) - 1, &r);
    }
    return (now_ns() - t0) / (double)iters;
}

/* A 64 KiB body in 4 KiB chunks, decoded in place again and again. */
static double bench_chunked_mb_s(int iters)
{
    enum { CHUNK = 4096, NCHUNKS = 16 };
    static char raw[NCHUNKS * (CHUNK + 16) + 16], work[sizeof(raw)];
    size_t n = 0;
    for (int c = 0; c < NCHUNKS; c++) {
        n += (size_t)sprintf(raw + n, "%x\r\n", CHUNK);
        memset(raw + n, 'a' + c, CHUNK);
        n += CHUNK;
        n += (size_t)sprintf(raw + n, "\r\n");
    }
    n += (size_t)sprintf(raw + n, "0\r\n\r\n");
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) {
        md_chunked_decoder_t dec = { 0 };
        memcpy(work, raw, n);
        size_t len = n;
        sink += (int)md_chunked_decode(&dec, work, &len);
        if (!dec.done || len != NCHUNKS * CHUNK)
            abort();
    }
    double ns = now_ns() - t0;
    return (double)iters * NCHUNKS * CHUNK / ns * 1e3; /* bytes/ns -> MB/s */
}

/* Best of several rounds: the minimum is the least disturbed by other
 * processes sharing the machine. */
int main(void)
{
    long iters = 1000000;
    double req = 1e9, res = 1e9, chunked = 0;
    for (int round = 0; round < 7; round++) {
        req = MD_MIN(req, bench_request(iters));
        res = MD_MIN(res, bench_response(iters));
        chunked = MD_MAX(chunked, bench_chunked_mb_s(4000));
    }
    printf("request head  %zu bytes: %.1f ns (%.2f ns/byte)\n", sizeof(request) - 1, req,
           req / (double)(sizeof(request) - 1));
    printf("response head %zu bytes: %.1f ns\n", sizeof(response) - 1, res);
    printf("chunked decode (4 KiB chunks, incl. memcpy of input): %.0f MB/s\n", chunked);
    return 0;
}
