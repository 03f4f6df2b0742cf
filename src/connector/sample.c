/*
 * sample.c - one answer per GET endpoint from medley itself, see sample.h.
 *
 * The server runs md_server_run() on its own thread; this thread is the
 * client, with plain blocking sockets. Requests are HTTP/1.0 so that every
 * answer, streamed passthrough included, ends with the connection and
 * needs no chunked decoding. Reads and writes time out after the
 * endpoint's deadline plus a margin, and an answer larger than
 * MD_SAMPLE_MAX_BYTES is dropped, so a misbehaving backend cannot hang
 * or bloat the export.
 */
#include "connector/sample.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "gateway/gateway.h"
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REQUEST_BYTES (64 * 1024)
#define TIMEOUT_MARGIN_MS 2000

static const md_param_conf_t *find_param(const md_endpoint_conf_t *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->nparams; i++)
        if (strlen(e->params[i].name) == len && memcmp(e->params[i].name, name, len) == 0)
            return &e->params[i];
    return NULL;
}

static int put_encoded(md_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = MD_OK;
    for (; *s && rc == MD_OK; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     strchr("-._~", ch);
        rc = plain ? md_buf_append_char(b, (char)ch) : md_buf_printf(b, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
    }
    return rc;
}

/* The request line and headers for e with its examples; MD_ENOTFOUND
 * names (in *missing) a required param without an example. */
static int build_request(const md_endpoint_conf_t *e, md_buf_t *req, const char **missing)
{
    for (size_t i = 0; i < e->nparams; i++) {
        if (e->params[i].required && !e->params[i].example) {
            *missing = e->params[i].name;
            return MD_ENOTFOUND;
        }
    }
    int rc = md_buf_append_str(req, "GET ");
    for (const char *p = e->path; *p && rc == MD_OK;) {
        size_t n = strcspn(p + 1, "/") + 1; /* "/segment" */
        bool is_param = n > 3 && p[1] == '{' && p[n - 1] == '}';
        const md_param_conf_t *pp = is_param ? find_param(e, p + 2, n - 3) : NULL;
        if (pp)
            rc = md_buf_append_char(req, '/') == MD_OK ? put_encoded(req, pp->example) : MD_ETOOBIG;
        else
            rc = md_buf_append(req, p, n);
        p += n;
    }
    char sep = '?';
    for (size_t i = 0; i < e->nparams && rc == MD_OK; i++) {
        const md_param_conf_t *p = &e->params[i];
        if (p->in != MD_PARAM_IN_QUERY || !p->example)
            continue;
        rc = md_buf_printf(req, "%c%s=", sep, p->name);
        if (rc == MD_OK)
            rc = put_encoded(req, p->example);
        sep = '&';
    }
    if (rc == MD_OK)
        rc = md_buf_append_str(req, " HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: medley-connector-sample\r\n");
    for (size_t i = 0; i < e->nparams && rc == MD_OK; i++) {
        const md_param_conf_t *p = &e->params[i];
        if (p->in == MD_PARAM_IN_HEADER && p->example)
            rc = md_buf_printf(req, "%s: %s\r\n", p->name, p->example);
    }
    if (rc == MD_OK)
        rc = md_buf_append_str(req, "\r\n");
    return rc;
}

static void set_timeouts(int fd, uint32_t ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Sends req to 127.0.0.1:port and reads the whole answer into resp. */
static int exchange(uint16_t port, const md_buf_t *req, uint32_t timeout_ms, md_buf_t *resp, char *why,
                    size_t whylen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        md_seterr(why, whylen, "cannot connect to the sampling server: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return MD_ERR;
    }
    set_timeouts(fd, timeout_ms);
    int rc = MD_OK;
    for (size_t sent = 0; sent < req->len && rc == MD_OK;) {
        ssize_t n = send(fd, req->data + sent, req->len - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = MD_ERR;
        else
            sent += (size_t)n;
    }
    char chunk[16384];
    while (rc == MD_OK) {
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        rc = n < 0 ? MD_ERR : md_buf_append(resp, chunk, (size_t)n);
    }
    if (rc != MD_OK)
        md_seterr(why, whylen, "%s", rc == MD_ETOOBIG ? "the answer is larger than 8 MiB"
                                     : errno == EAGAIN ? "no answer in time" : strerror(errno));
    close(fd);
    return rc;
}

/* Splits an HTTP/1.x answer: status, and the body's offset. */
static int parse_answer(const md_buf_t *resp, int *status, size_t *body)
{
    const char *end = resp->len ? memmem(resp->data, resp->len, "\r\n\r\n", 4) : NULL;
    if (!end || resp->len < 12 || memcmp(resp->data, "HTTP/1.", 7) != 0 || resp->data[8] != ' ')
        return MD_EINVAL;
    *status = atoi(resp->data + 9);
    *body = (size_t)(end - resp->data) + 4;
    return MD_OK;
}

static void sample_endpoint(const md_endpoint_conf_t *e, uint16_t port, md_swagger_sample_t *out, FILE *warn)
{
    md_buf_t req, resp;
    md_buf_init(&req, MAX_REQUEST_BYTES);
    md_buf_init(&resp, MD_SAMPLE_MAX_BYTES + 64 * 1024);
    const char *missing = NULL;
    char why[256];
    int status = 0;
    size_t body = 0;
    int rc = build_request(e, &req, &missing);
    if (rc == MD_ENOTFOUND)
        md_seterr(why, sizeof(why), "the required param '%s' has no example", missing);
    else if (rc != MD_OK)
        md_seterr(why, sizeof(why), "the request with the examples is too long");
    else if ((rc = exchange(port, &req, e->deadline_ms + TIMEOUT_MARGIN_MS, &resp, why, sizeof(why))) == MD_OK &&
             (rc = parse_answer(&resp, &status, &body)) != MD_OK)
        md_seterr(why, sizeof(why), "the answer is not HTTP");
    if (rc == MD_OK && status != 200) {
        md_seterr(why, sizeof(why), "it answered %d: %.120s", status, resp.data + body);
        rc = MD_ERR;
    }
    if (rc == MD_OK) {
        out->len = resp.len - body;
        out->body = md_malloc(out->len + 1);
        memcpy(out->body, resp.data + body, out->len);
        out->body[out->len] = '\0';
    } else if (warn) {
        fprintf(warn, "%s %s: not sampled: %s\n", e->method, e->path, why);
    }
    md_buf_free(&req);
    md_buf_free(&resp);
}

static void *serve_thread(void *arg)
{
    md_server_run(arg);
    return NULL;
}

int md_connector_sample(const md_config_t *cfg, md_swagger_sample_t **out, FILE *warn, char *err, size_t errlen)
{
    *out = md_calloc(cfg->nendpoints ? cfg->nendpoints : 1, sizeof(**out));
    md_diag_t diag;
    md_gateway_t *gw = md_gateway_new(cfg, 1, &diag);
    if (!gw) {
        char line[1024];
        md_diag_format(&diag, line, sizeof(line));
        md_seterr(err, errlen, "%s", line);
        return MD_ERR;
    }
    md_server_hooks_t hooks = { 0 };
    md_gateway_hooks(gw, &hooks);
    md_server_t *srv = md_server_new("127.0.0.1", 0, 1, &cfg->limits, &hooks, err, errlen);
    if (!srv) {
        md_gateway_free(gw);
        return MD_ERR;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, serve_thread, srv) != 0) {
        md_seterr(err, errlen, "cannot start the sampling server thread");
        md_server_free(srv);
        md_gateway_free(gw);
        return MD_ERR;
    }
    uint16_t port = md_server_port(srv);
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        const md_endpoint_conf_t *e = &cfg->endpoints[i];
        if (strcmp(e->method, "GET") == 0)
            sample_endpoint(e, port, &(*out)[i], warn);
        else if (warn)
            fprintf(warn, "%s %s: not sampled: --sample only calls GET endpoints\n", e->method, e->path);
    }
    md_server_shutdown(srv);
    pthread_join(th, NULL);
    md_server_free(srv);
    md_gateway_free(gw);
    return MD_OK;
}

void md_connector_samples_free(md_swagger_sample_t *samples, size_t n)
{
    for (size_t i = 0; samples && i < n; i++)
        md_free(samples[i].body);
    md_free(samples);
}
