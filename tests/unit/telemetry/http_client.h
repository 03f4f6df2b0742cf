/*
 * http_client.h - a blocking HTTP/1.1 client for the telemetry tests:
 * send exact bytes, read one Content-Length response. Static inline functions
 * only; cmocka asserts run on the test thread.
 */
#ifndef MD_TEST_TELEMETRY_HTTP_CLIENT_H
#define MD_TEST_TELEMETRY_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct tc_resp {
    int status;
    char head[4096];
    char *body;      /* malloc'd, NUL-terminated */
    size_t body_len;
} tc_resp_t;

static inline int tc_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline void tc_send(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads one response; status 0 if the connection ended first. A HEAD
 * response has no body whatever its Content-Length says. */
static inline tc_resp_t tc_read(int fd, int head_request)
{
    tc_resp_t r = { 0 };
    size_t have = 0;
    char *end = NULL;
    while (!end && have < sizeof(r.head) - 1) {
        ssize_t n = read(fd, r.head + have, 1); /* byte by byte: the body must stay in the socket */
        if (n <= 0)
            return r;
        have += (size_t)n;
        r.head[have] = '\0';
        end = strstr(r.head, "\r\n\r\n");
    }
    if (!end)
        return r;
    r.status = atoi(r.head + 9);
    const char *cl = strcasestr(r.head, "\r\nContent-Length:");
    size_t len = cl && !head_request ? strtoul(cl + 17, NULL, 10) : 0;
    r.body = calloc(1, len + 1);
    while (r.body_len < len) {
        ssize_t n = read(fd, r.body + r.body_len, len - r.body_len);
        if (n <= 0)
            break;
        r.body_len += (size_t)n;
    }
    return r;
}

/* One request on a fresh connection. */
static inline tc_resp_t tc_request(uint16_t port, const char *raw)
{
    tc_resp_t r = { 0 };
    int fd = tc_connect(port);
    if (fd < 0)
        return r;
    tc_send(fd, raw);
    r = tc_read(fd, strncmp(raw, "HEAD ", 5) == 0);
    close(fd);
    return r;
}

/* The value of header `name` (case-insensitive) in r.head, copied into out. */
static inline const char *tc_header(const tc_resp_t *r, const char *name, char *out, size_t outlen)
{
    char key[128];
    snprintf(key, sizeof(key), "\r\n%s:", name);
    const char *p = strcasestr(r->head, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r");
    snprintf(out, outlen, "%.*s", (int)n, p);
    return out;
}

#endif
