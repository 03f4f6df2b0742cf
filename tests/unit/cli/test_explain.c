/*
 * Unit tests for cli/explain: md_explain_run against a raw-socket backend
 * whose answers are written out byte for byte here, so every bytes_in is
 * the length of a known response and every bytes_out the length of a
 * fragment shaped by hand (direct calls, a cache fill and a hit, a
 * passthrough, a refused connection, no endpoint, a 431); the report's
 * text and JSON for a hand-built record; refused requests and configs; the
 * command's exit codes and its stdout.
 */
#include "testutil.h"

#include "cache/policy.h"
#include "cli/cli.h"
#include "cli/explain.h"
#include "core/buf.h"
#include "gateway/gateway.h"
#include "http/server.h"
#include "json/scan.h"
#include "telemetry/telemetry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a backend that sends exactly these bytes ---- */

#define ITEMS_BODY "{\"items\":[1,2,3],\"junk\":\"0123456789\"}" /* 37 bytes */
#define CARD_BODY "{\"days\":12.5,\"policy\":\"standard\"}"     /* 33 bytes */
#define RAW_BODY "hello world!"                              /* 12 bytes */
#define HEAD(len) "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " len "\r\n\r\n"

static const char resp_items[] = HEAD("37") ITEMS_BODY;
static const char resp_card[] = HEAD("33") CARD_BODY;
static const char resp_raw[] = HEAD("12") RAW_BODY;

typedef struct backend {
    int fd;
    uint16_t port;
    pthread_t th;
    atomic_int stop;
    atomic_int served;          /* requests answered (counted before the answer is sent) */
} backend_t;

static const char *answer_for(const char *head)
{
    if (strncmp(head, "GET /items ", 11) == 0)
        return resp_items;
    if (strncmp(head, "GET /card ", 10) == 0)
        return resp_card;
    if (strncmp(head, "GET /raw ", 9) == 0)
        return resp_raw;
    return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
}

/* One request per connection: read the head, answer, close. */
static void serve_one(backend_t *b, int c)
{
    char head[8192];
    size_t have = 0;
    while (have < sizeof(head) - 1) {
        ssize_t n = read(c, head + have, sizeof(head) - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        head[have] = '\0';
        if (strstr(head, "\r\n\r\n"))
            break;
    }
    head[have] = '\0';
    const char *a = answer_for(head);
    atomic_fetch_add(&b->served, 1);
    if (write(c, a, strlen(a)) < 0)
        return;
}

static void *backend_main(void *arg)
{
    backend_t *b = arg;
    while (!atomic_load(&b->stop)) {
        int c = accept(b->fd, NULL, NULL);
        if (c < 0)
            break;
        serve_one(b, c);
        close(c);
    }
    return NULL;
}

static void backend_start(backend_t *b)
{
    memset(b, 0, sizeof(*b));
    b->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    assert_int_equal(bind(b->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(b->fd, 16), 0);
    getsockname(b->fd, (struct sockaddr *)&a, &len);
    b->port = ntohs(a.sin_port);
    pthread_create(&b->th, NULL, backend_main, b);
}

static void backend_stop(backend_t *b)
{
    atomic_store(&b->stop, 1);
    shutdown(b->fd, SHUT_RDWR); /* wakes accept() */
    pthread_join(b->th, NULL);
    close(b->fd);
}

static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- config ---- */

static const char yaml_fmt[] =
    "listen: 127.0.0.1:0\n"
    "access_log: { path: stdout }\n"
    "upstreams:\n"
    "  be: { url: \"http://127.0.0.1:%u\", timeout: 2s }\n"
    "  gone: { url: \"http://127.0.0.1:%u\", timeout: 1s }\n"
    "endpoints:\n"
    "  - path: /x\n"
    "    backends:\n"
    "      - { name: items, upstream: be, path: /items, shape: { from: items }, as: items }\n"
    "      - { name: card, upstream: be, path: /card, shape: { select: [days] }, as: card }\n"
    "      - { name: missing, upstream: gone, path: /m, as: m, optional: true }\n"
    "  - path: /c\n"
    "    backends:\n"
    "      - { name: items, upstream: be, path: /items, shape: { from: items }, as: items, cache: 30s }\n"
    "  - path: /p\n"
    "    passthrough: { upstream: be, path: /raw }\n";

static md_config_t *load_for(uint16_t port)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), yaml_fmt, port, closed_port());
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "t.yaml", &d);
    if (!cfg)
        fail_msg("config: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

typedef struct fixture {
    backend_t be;
    md_config_t *cfg;
    md_explain_t x;
    md_diag_t diag;
    char err[256];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    backend_start(&f->be);
    f->cfg = load_for(f->be.port);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    md_explain_free(&f->x);
    md_config_free(f->cfg);
    backend_stop(&f->be);
    free(f);
    return 0;
}

static int run(fixture_t *f, const char *target)
{
    return md_explain_run(f->cfg, target, NULL, 0, &f->x, &f->diag, f->err, sizeof(f->err));
}

/* ---- runs ---- */

static void each_backend_reports_what_it_sent_and_what_was_kept(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(strlen(ITEMS_BODY), 37); /* the Content-Lengths written above */
    assert_int_equal(strlen(CARD_BODY), 33);
    assert_int_equal(run(f, "/x"), MD_OK);
    const md_explain_t *x = &f->x;
    assert_true(x->recorded);
    assert_int_equal(x->status, 200);
    assert_int_equal(x->endpoint, 0);
    assert_true(x->incomplete); /* missing is optional and refused */
    /* {"items":[1,2,3],"card":{"days":12.5}} */
    assert_int_equal(x->body_bytes, 38);
    assert_int_equal(x->ncalls, 3);
    assert_int_equal(x->calls[0].status, 200);
    assert_int_equal(x->calls[0].outcome, MD_TM_OK);
    assert_int_equal(x->calls[0].bytes_in, sizeof(resp_items) - 1);
    assert_int_equal(x->calls[0].bytes_out, 7); /* [1,2,3] */
    assert_int_equal(x->calls[0].cache, 0);
    assert_int_equal(x->calls[1].bytes_in, sizeof(resp_card) - 1);
    assert_int_equal(x->calls[1].bytes_out, 13); /* {"days":12.5} */
    assert_int_equal(x->calls[2].outcome, MD_TM_CONNECT);
    assert_int_equal(x->calls[2].status, 0);
    assert_int_equal(x->calls[2].bytes_in, 0);
    assert_int_equal(x->calls[2].bytes_out, 0);
    assert_true(x->duration_us >= x->calls[0].duration_us);
}

static void a_cache_fill_counts_the_backend_answer(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(run(f, "/c"), MD_OK);
    const md_explain_t *x = &f->x;
    assert_int_equal(x->status, 200);
    assert_int_equal(x->body_bytes, 17); /* {"items":[1,2,3]} */
    assert_int_equal(x->ncalls, 1);
    assert_int_equal(x->calls[0].cache, 1 + MD_CS_MISS);
    assert_int_equal(x->calls[0].outcome, MD_TM_OK);
    assert_int_equal(x->calls[0].bytes_in, sizeof(resp_items) - 1);
    assert_int_equal(x->calls[0].bytes_out, 7);
}

static void a_passthrough_sends_what_it_read(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(run(f, "/p"), MD_OK);
    const md_explain_t *x = &f->x;
    assert_int_equal(x->status, 200);
    assert_int_equal(x->body_bytes, 12);
    assert_int_equal(x->ncalls, 1);
    assert_int_equal(x->calls[0].bytes_in, 12);
    assert_int_equal(x->calls[0].bytes_out, 12);
}

static void no_endpoint_is_an_answer_without_calls(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(run(f, "/nowhere?a=1"), MD_OK);
    assert_true(f->x.recorded);
    assert_int_equal(f->x.status, 404);
    assert_int_equal(f->x.endpoint, -1);
    assert_int_equal(f->x.ncalls, 0);
    assert_true(f->x.body_bytes > 0);
}

/* A head over the server's 16 KiB default: the server answers 431 itself,
 * which is still an answer. */
static void a_request_the_server_refuses_is_an_answer(void **state)
{
    fixture_t *f = *state;
    static char big[20000];
    memset(big, 'a', sizeof(big));
    md_header_t h = { "X-Big", 5, big, sizeof(big) };
    assert_int_equal(md_explain_run(f->cfg, "/x", &h, 1, &f->x, &f->diag, f->err, sizeof(f->err)), MD_OK);
    assert_int_equal(f->x.status, 431);
    assert_int_equal(f->x.ncalls, 0);
    assert_true(f->x.body_bytes > 0);
    assert_int_equal(atomic_load(&f->be.served), 0);
}

static void requests_that_cannot_be_sent_are_refused(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(run(f, "x"), MD_ERR);
    assert_non_null(strstr(f->err, "must start with '/'"));
    assert_int_equal(run(f, "/a b"), MD_ERR);
    assert_int_equal(run(f, "/a\r\nX: y"), MD_ERR);
    assert_int_equal(run(f, ""), MD_ERR);
    md_header_t hs[MD_EXPLAIN_MAX_HEADERS + 1];
    for (size_t i = 0; i < MD_ARRAY_LEN(hs); i++)
        hs[i] = (md_header_t){ "X-A", 3, "1", 1 };
    assert_int_equal(md_explain_run(f->cfg, "/x", hs, MD_ARRAY_LEN(hs), &f->x, &f->diag, f->err, sizeof(f->err)),
                     MD_ERR);
    md_header_t bad[] = { { "Bad Name", 8, "v", 1 }, { "X-V", 3, "a\nb", 3 }, { "connection", 10, "keep-alive", 10 },
                          { "", 0, "v", 1 } };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        assert_int_equal(md_explain_run(f->cfg, "/x", &bad[i], 1, &f->x, &f->diag, f->err, sizeof(f->err)), MD_ERR);
    assert_int_equal(f->x.ncalls, 0);
}

static void a_config_the_gateway_refuses_gives_a_position(void **state)
{
    (void)state;
    static const char yaml[] = "listen: 127.0.0.1:0\n"
                               "upstreams:\n"
                               "  be: { url: \"http://127.0.0.1:1\" }\n"
                               "endpoints:\n"
                               "  - path: /x\n"
                               "    backends:\n"
                               "      - { upstream: be, path: \"/e/{nope}\", as: a }\n";
    md_diag_t d = { 0 };
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "g.yaml", &d);
    assert_non_null(cfg);
    md_explain_t x;
    char err[128];
    assert_int_equal(md_explain_run(cfg, "/x", NULL, 0, &x, &d, err, sizeof(err)), MD_EINVAL);
    assert_int_equal(d.line, 7);
    assert_non_null(strstr(d.msg, "{nope}"));
    md_explain_free(&x);
    md_config_free(cfg);
}

/* No socket can be made: the server cannot start, so no answer. */
static void no_answer_is_a_connect_error(void **state)
{
    fixture_t *f = *state;
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    int probe = open("/dev/null", O_RDONLY);
    assert_true(probe >= 0);
    close(probe);
    low = old;
    low.rlim_cur = (rlim_t)probe; /* every descriptor from here on is refused */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int rc = run(f, "/x");
    setrlimit(RLIMIT_NOFILE, &old);
    assert_int_equal(rc, MD_ECONNECT);
    assert_true(f->err[0] != '\0');
}

/* A hit reads nothing from the backend and sends the stored fragment: two
 * requests through the gateway, the record of each seen by the observer. */
typedef struct seen2 {
    size_t n;
    md_tm_call_t calls[2];
    int status[2];
} seen2_t;

static void observe2(void *arg, const md_http_req_t *req, const md_http_done_t *done, const md_tm_req_t *t,
                     uint64_t duration_us)
{
    (void)req;
    (void)duration_us;
    seen2_t *s = arg;
    if (s->n < 2 && t && t->ncalls == 1) {
        s->status[s->n] = done->status;
        s->calls[s->n++] = t->calls[0];
    }
}

static void *serve_main(void *arg)
{
    md_server_run(arg);
    return NULL;
}

static void get_c(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    static const char req[] = "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    char buf[4096];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
}

static void a_cache_hit_reads_nothing_and_sends_the_entry(void **state)
{
    fixture_t *f = *state;
    md_diag_t d;
    char err[256];
    md_gateway_t *gw = md_gateway_new(f->cfg, 1, &d);
    assert_non_null(gw);
    f->cfg->telemetry.log_target = MD_LOG_OFF;
    f->cfg->telemetry.admin_on = false;
    md_telemetry_t *tm = md_telemetry_new(f->cfg, 1, err, sizeof(err));
    assert_non_null(tm);
    seen2_t seen = { 0 };
    md_telemetry_set_observer(tm, observe2, &seen);
    md_gateway_set_telemetry(gw, tm);
    md_server_hooks_t hooks = { 0 };
    md_gateway_hooks(gw, &hooks);
    md_server_t *srv = md_server_new("127.0.0.1", 0, 1, &f->cfg->limits, &hooks, err, sizeof(err));
    assert_non_null(srv);
    pthread_t th;
    pthread_create(&th, NULL, serve_main, srv);
    get_c(md_server_port(srv));
    get_c(md_server_port(srv));
    md_server_shutdown(srv);
    pthread_join(th, NULL);
    md_server_free(srv);
    md_gateway_free(gw);
    md_telemetry_free(tm);
    assert_int_equal(atomic_load(&f->be.served), 1);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.status[0], 200);
    assert_int_equal(seen.calls[0].cache, 1 + MD_CS_MISS);
    assert_int_equal(seen.calls[0].bytes_in, sizeof(resp_items) - 1);
    assert_int_equal(seen.calls[0].bytes_out, 7);
    assert_int_equal(seen.status[1], 200);
    assert_int_equal(seen.calls[1].cache, 1 + MD_CS_HIT);
    assert_int_equal(seen.calls[1].outcome, MD_TM_NOT_STARTED); /* no call of its own */
    assert_int_equal(seen.calls[1].bytes_in, 0);
    assert_int_equal(seen.calls[1].bytes_out, 7);
}

/* ---- the report ---- */

static md_tm_call_t call(int status, int outcome, int cache, uint32_t us, uint64_t in, uint64_t out)
{
    md_tm_call_t k = { .duration_us = us, .status = (uint16_t)status, .outcome = (uint8_t)outcome };
    k.cache = (uint8_t)cache;
    k.bytes_in = in;
    k.bytes_out = out;
    return k;
}

static md_explain_t sample_report(md_tm_call_t *calls)
{
    calls[0] = call(200, MD_TM_OK, 0, 3149, 24614, 566);
    calls[1] = call(0, MD_TM_NOT_STARTED, 1 + MD_CS_HIT, 0, 0, 497);
    calls[2] = call(0, MD_TM_CONNECT, 0, 120, 0, 0);
    return (md_explain_t){ .recorded = true, .status = 200, .body_bytes = 1105, .duration_us = 4012,
                           .endpoint = 0, .incomplete = true, .ncalls = 3, .calls = calls };
}

static void text_report_is_a_table_and_a_summary(void **state)
{
    fixture_t *f = *state;
    md_tm_call_t calls[3];
    md_explain_t x = sample_report(calls);
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_explain_text(&x, f->cfg, "/x?u=1", &b), MD_OK);
    assert_string_equal(b.data, "GET /x?u=1 -> 200, 1,105 B (endpoint GET /x)\n"
                                "\n"
                                "backend  status  outcome  cache  time ms  bytes in  bytes out\n"
                                "items       200  ok       -          3.1    24,614        566\n"
                                "card          -  ok       hit          -         0        497\n"
                                "missing       -  connect  -          0.1         0          0\n"
                                "\n"
                                "incomplete: an optional backend failed (X-Medley-Incomplete)\n"
                                "shaped 24,614 B from 1 backend into 1,105 B: 22.3x smaller\n"
                                "total time 4.0 ms\n");
    md_buf_free(&b);
}

static void text_report_without_endpoint_or_fetches(void **state)
{
    fixture_t *f = *state;
    md_explain_t x = { .recorded = true, .status = 404, .body_bytes = 85, .duration_us = 149, .endpoint = -1 };
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_explain_text(&x, f->cfg, "/nope", &b), MD_OK);
    assert_string_equal(b.data, "GET /nope -> 404, 85 B (no endpoint matched)\n"
                                "nothing fetched from backends; 85 B sent to the client\n"
                                "total time 0.1 ms\n");
    md_buf_reset(&b);
    x = (md_explain_t){ .status = 431, .body_bytes = 86, .duration_us = 1000, .endpoint = -1 };
    assert_int_equal(md_explain_text(&x, f->cfg, "/x", &b), MD_OK);
    assert_non_null(strstr(b.data, "GET /x -> 431, 86 B (refused by the server before any endpoint ran)\n"));
    md_buf_reset(&b);
    /* passthrough: nothing shaped */
    md_tm_call_t k = call(200, MD_TM_OK, 0, 2000, 1234567, 1234567);
    x = (md_explain_t){ .recorded = true, .status = 200, .body_bytes = 1234567, .endpoint = 2, .ncalls = 1,
                        .calls = &k };
    assert_int_equal(md_explain_text(&x, f->cfg, "/p", &b), MD_OK);
    assert_non_null(strstr(b.data, "  1,234,567  1,234,567\n"));
    assert_non_null(strstr(b.data, "passed 1,234,567 B from 1 backend through unchanged (passthrough)\n"));
    md_buf_free(&b);
}

static void json_report_is_one_object(void **state)
{
    fixture_t *f = *state;
    md_tm_call_t calls[3];
    md_explain_t x = sample_report(calls);
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_explain_json(&x, f->cfg, "/x?u=\"1\"", &b), MD_OK);
    assert_string_equal(b.data,
                        "{\"method\":\"GET\",\"target\":\"/x?u=\\\"1\\\"\",\"endpoint\":\"/x\",\"status\":200,"
                        "\"bytes\":1105,\"duration_ms\":4.012,\"incomplete\":true,\"backends\":["
                        "{\"name\":\"items\",\"status\":200,\"outcome\":\"ok\",\"cache\":null,\"duration_ms\":3.149,"
                        "\"bytes_in\":24614,\"bytes_out\":566},"
                        "{\"name\":\"card\",\"status\":null,\"outcome\":\"ok\",\"cache\":\"hit\",\"duration_ms\":null,"
                        "\"bytes_in\":0,\"bytes_out\":497},"
                        "{\"name\":\"missing\",\"status\":null,\"outcome\":\"connect\",\"cache\":null,"
                        "\"duration_ms\":0.120,\"bytes_in\":0,\"bytes_out\":0}],"
                        "\"bytes_in\":24614,\"bytes_out\":1063,\"backends_fetched\":1,\"ratio\":22.28}\n");
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    char err[128];
    assert_int_equal(md_json_scan(&t, b.data, b.len - 1, NULL, err, sizeof(err)), MD_OK);
    md_json_toks_free(&t);
    md_buf_reset(&b);
    md_explain_t none = { .status = 404, .body_bytes = 0, .endpoint = -1 };
    assert_int_equal(md_explain_json(&none, f->cfg, "/n", &b), MD_OK);
    assert_non_null(strstr(b.data, "\"endpoint\":null,"));
    assert_non_null(strstr(b.data, "\"backends\":[],\"bytes_in\":0,\"bytes_out\":0,\"backends_fetched\":0,"
                                   "\"ratio\":null}\n"));
    md_buf_free(&b);
}

/* ---- the command ---- */

static int cli(int argc, const char **argv)
{
    return md_cli_explain(argc, (char **)argv);
}

/* Runs the command with stdout and stderr in files; returns the exit code
 * and what it printed (malloc'd). */
static int cli_captured(int argc, const char **argv, char **out)
{
    char path[] = "/tmp/medley-explain-XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(fd, 1);
    dup2(null, 2);
    int rc = cli(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(null);
    off_t n = lseek(fd, 0, SEEK_END);
    *out = calloc(1, (size_t)n + 1);
    assert_int_equal(pread(fd, *out, (size_t)n, 0), n);
    close(fd);
    unlink(path);
    return rc;
}

static void command_exit_codes_and_output(void **state)
{
    fixture_t *f = *state;
    char path[] = "/tmp/medley-explain-cfg-XXXXXX";
    int fd = mkstemp(path);
    char yaml[4096];
    int n = snprintf(yaml, sizeof(yaml), yaml_fmt, f->be.port, closed_port());
    assert_int_equal(write(fd, yaml, (size_t)n), n);
    close(fd);
    char *out = NULL;
    const char *ok[] = { "medley", "explain", "-c", path, "--json", "-H", "X-Trace: 1", "/x" };
    assert_int_equal(cli_captured(MD_ARRAY_LEN(ok), ok, &out), 0);
    /* only the report: the config's access log to stdout was turned off */
    static const char head[] = "{\"method\":\"GET\",\"target\":\"/x\",\"endpoint\":\"/x\",\"status\":200,\"bytes\":38,";
    assert_int_equal(strncmp(out, head, sizeof(head) - 1), 0);
    assert_non_null(strstr(out, "\"backends_fetched\":2,"));
    assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1);
    free(out);
    const char *text[] = { "medley", "explain", "/c", "--config", path };
    assert_int_equal(cli_captured(MD_ARRAY_LEN(text), text, &out), 0);
    assert_non_null(strstr(out, "items       200  ok       miss"));
    free(out);

    const char *usage[][6] = {
        { "medley", "explain" },                                 /* nothing */
        { "medley", "explain", "/x" },                           /* no -c */
        { "medley", "explain", "-c", path },                     /* no path */
        { "medley", "explain", "-c", path, "/x", "/y" },         /* two paths */
        { "medley", "explain", "-c", path, "--frobnicate", "/x" }, /* unknown option */
        { "medley", "explain", "-c", path, "-H", "NoColon" },    /* bad header */
    };
    int argcs[] = { 2, 3, 4, 6, 6, 6 };
    for (size_t i = 0; i < MD_ARRAY_LEN(usage); i++) {
        assert_int_equal(cli_captured(argcs[i], usage[i], &out), 1);
        assert_string_equal(out, ""); /* usage goes to stderr */
        free(out);
    }
    const char *bad_header[] = { "medley", "explain", "-c", path, "-H", "Content-Length: 5", "/x" };
    assert_int_equal(cli_captured(MD_ARRAY_LEN(bad_header), bad_header, &out), 1);
    free(out);
    const char *missing[] = { "medley", "explain", "-c", "/nonexistent/medley.yaml", "/x" };
    assert_int_equal(cli_captured(MD_ARRAY_LEN(missing), missing, &out), 1);
    free(out);
    const char *help[] = { "medley", "explain", "--help" };
    assert_int_equal(cli_captured(MD_ARRAY_LEN(help), help, &out), 0);
    assert_non_null(strstr(out, "usage: medley explain -c FILE"));
    free(out);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(each_backend_reports_what_it_sent_and_what_was_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(a_cache_fill_counts_the_backend_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(a_cache_hit_reads_nothing_and_sends_the_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(a_passthrough_sends_what_it_read, setup, teardown),
        cmocka_unit_test_setup_teardown(no_endpoint_is_an_answer_without_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(a_request_the_server_refuses_is_an_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(requests_that_cannot_be_sent_are_refused, setup, teardown),
        cmocka_unit_test(a_config_the_gateway_refuses_gives_a_position),
        cmocka_unit_test_setup_teardown(no_answer_is_a_connect_error, setup, teardown),
        cmocka_unit_test_setup_teardown(text_report_is_a_table_and_a_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(text_report_without_endpoint_or_fetches, setup, teardown),
        cmocka_unit_test_setup_teardown(json_report_is_one_object, setup, teardown),
        cmocka_unit_test_setup_teardown(command_exit_codes_and_output, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
