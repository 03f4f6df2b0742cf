/*
 * otlptest.h - what the span export tests share: test_otlp.c (the JSON
 * encoding, the queue and the exporter thread) and test_otlp_pb.c (the
 * protobuf encoding and keep-alive). Both load the same small tracing
 * config, encode the same hand-made spans (a traceparent's ids, a server
 * span for GET /home, the odd and the longest values), and run their
 * collector stand-ins on a loopback listener. Each file keeps its own
 * collector: one answers and closes, the other keeps connections.
 * Configs load with cfgtest.h's load. Include after testutil.h.
 */
#ifndef MD_OTLPTEST_H
#define MD_OTLPTEST_H

#include "config/cfgtest.h"
#include "config/config.h"
#include "telemetry/otlp.h"
#include "telemetry/record.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifndef MD_VERSION
#define MD_VERSION "0.0.0"
#endif

/* The ids of the traceparent the spans continue, and the server span's own. */
static const uint8_t tp_trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
static const uint8_t tp_span[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };
static const uint8_t my_span[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };

/* Tracing to 127.0.0.1:port as service "svc" with otlp_protocol
 * `protocol` (NULL: the default) and `extra` tracing keys (", batch: 4");
 * endpoint 0 is /home with backends news (upstream news, 127.0.0.1:9001)
 * and vacation (POST to upstream hr, [::1]:9002); `endpoints` follow it. */
static inline md_config_t *otlp_config(uint16_t port, const char *protocol, const char *extra, const char *endpoints)
{
    char yaml[2048], proto[64] = "";
    if (protocol)
        snprintf(proto, sizeof(proto), ", otlp_protocol: %s", protocol);
    snprintf(yaml, sizeof(yaml),
             "admin: off\naccess_log: off\nserver_timing: false\n"
             "tracing: { otlp_endpoint: \"http://127.0.0.1:%u/v1/traces\"%s, service_name: svc%s }\n"
             "upstreams:\n  news: { url: \"http://127.0.0.1:9001\" }\n  hr: { url: \"http://[::1]:9002\" }\n"
             "endpoints:\n"
             "  - path: /home\n    backends:\n"
             "      - { upstream: news, path: /n, as: news }\n"
             "      - { name: vacation, upstream: hr, method: POST, path: /v, as: v }\n%s",
             (unsigned)port, proto, extra, endpoints);
    return load(yaml);
}

/* The one endpoint, at the longest route a config takes: '/' and 2,000
 * `fill` bytes, written into route (2,002 bytes); `tracing` adds keys. */
static inline md_config_t *long_route_config(char *route, char fill, const char *tracing)
{
    char yaml[4096];
    route[0] = '/';
    memset(route + 1, fill, 2000);
    route[2001] = '\0';
    snprintf(yaml, sizeof(yaml),
             "tracing: { otlp_endpoint: \"http://127.0.0.1:1/v1/traces\"%s }\n"
             "upstreams:\n  news: { url: \"http://127.0.0.1:9001\" }\n"
             "endpoints:\n  - path: %s\n    backends:\n      - { upstream: news, path: /n, as: news }\n",
             tracing, route);
    return load(yaml);
}

/* GET /home on api.example:8080 answered 200 in 4 ms, a child of tp_*. */
static inline md_span_t server_span(void)
{
    md_span_t s;
    memset(&s, 0, sizeof(s));
    memcpy(s.trace_id, tp_trace, 16);
    memcpy(s.span_id, my_span, 8);
    memcpy(s.parent_id, tp_span, 8);
    s.has_parent = true;
    s.kind = MD_SPAN_SERVER;
    s.status = 200;
    s.endpoint = 0;
    s.backend = -1;
    s.start_ns = 1700000000123456789ull;
    s.end_ns = 1700000000127456789ull;
    memcpy(s.method, "GET", 3);
    s.method_len = 3;
    memcpy(s.path, "/home", 5);
    s.path_len = 5;
    memcpy(s.host, "api.example", 11);
    s.host_len = 11;
    s.port = 8080;
    return s;
}

/* A call made for server_span's request: to backend `backend` of endpoint
 * 0, ended with outcome and (0: no) status. */
static inline md_span_t client_span(int32_t backend, uint8_t outcome, uint16_t status)
{
    md_span_t s = server_span();
    s.kind = MD_SPAN_CLIENT;
    s.backend = backend;
    s.outcome = outcome;
    s.status = status;
    return s;
}

/* Four spans with failures and odd values: 0 a root server span answered
 * 502, with an unknown method, path[0..path_len) and no route, host or
 * port; 1 the call to vacation, timed out; 2 the call to news, answered
 * 404; 3 the same answered 200, ending before it started. */
static inline void odd_spans(md_span_t s[4], const char *path, uint16_t path_len)
{
    s[0] = server_span();
    s[0].status = 502;
    s[0].has_parent = false;
    memcpy(s[0].method, "BREW", 4); /* not a method conventions know */
    s[0].method_len = 4;
    memcpy(s[0].path, path, path_len);
    s[0].path_len = path_len;
    s[0].endpoint = -1;
    s[0].host_len = 0;
    s[0].port = 0;
    s[1] = client_span(1, MD_TM_TIMEOUT, 0);
    s[2] = s[1];
    s[2].backend = 0;
    s[2].outcome = MD_TM_OK;
    s[2].status = 404;
    s[3] = s[2];
    s[3].status = 200;
    s[3].end_ns = s[3].start_ns - 5; /* a clock step: never a negative duration */
}

/* Two spans at the longest: 0 a server span answered 503 with a 16-byte
 * method, path_len bytes of path_byte and a whole host of host_byte; 1
 * the call to news, cut off as too big, status and times at their maximum. */
static inline void longest_spans(md_span_t s[2], char path_byte, uint16_t path_len, char host_byte)
{
    s[0] = server_span();
    s[0].status = 503;
    memset(s[0].path, path_byte, MD_SPAN_PATH_MAX);
    s[0].path_len = path_len;
    memset(s[0].host, host_byte, MD_SPAN_HOST_MAX);
    s[0].host_len = MD_SPAN_HOST_MAX;
    memcpy(s[0].method, "VERYLONGMETHODXX", 16);
    s[0].method_len = 16;
    s[1] = client_span(0, MD_TM_TOO_BIG, 65535);
    s[1].start_ns = s[1].end_ns = UINT64_MAX;
}

/* A collector's socket: listening on 127.0.0.1 at a port the kernel
 * picks (*port). */
static inline int collector_listen(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t al = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

#endif
