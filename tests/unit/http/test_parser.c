/*
 * Unit tests for http/parser: request and response heads (valid forms,
 * incremental feeding, every rejection rule) and the chunked decoder
 * (split points, bad sizes, trailers, leftovers, limits).
 */
#include "testutil.h"

#include "core/common.h"
#include "http/parser.h"

#include <stdio.h>
#include <stdlib.h>

#define CAP 16

static md_header_t hdrs[CAP];

static md_http_request_head_t req_with_cap(size_t cap)
{
    md_http_request_head_t r;
    memset(&r, 0, sizeof(r));
    r.headers = hdrs;
    r.num_headers = cap;
    return r;
}

static md_http_response_head_t res_with_cap(size_t cap)
{
    md_http_response_head_t r;
    memset(&r, 0, sizeof(r));
    r.headers = hdrs;
    r.num_headers = cap;
    return r;
}

static int parse_req(const char *s, md_http_request_head_t *r)
{
    *r = req_with_cap(CAP);
    return md_http_parse_request(s, strlen(s), r);
}

static int parse_res(const char *s, md_http_response_head_t *r)
{
    *r = res_with_cap(CAP);
    return md_http_parse_response(s, strlen(s), r);
}

static int req_rc(const char *s)
{
    md_http_request_head_t r;
    return parse_req(s, &r);
}

static int res_rc(const char *s)
{
    md_http_response_head_t r;
    return parse_res(s, &r);
}

static void assert_str(md_str_t s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    if (s.len > 0)
        assert_memory_equal(s.ptr, want, s.len);
}

static void assert_header(const md_header_t *h, const char *name, const char *value)
{
    assert_int_equal(h->name_len, strlen(name));
    assert_memory_equal(h->name, name, h->name_len);
    assert_int_equal(h->value_len, strlen(value));
    if (h->value_len > 0)
        assert_memory_equal(h->value, value, h->value_len);
}

/* ---- requests: valid ---------------------------------------------------- */

static void request_get_with_query_and_headers(void **state)
{
    (void)state;
    const char *s = "GET /home?user=42&x=1 HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "User-Agent: test/1.0\r\n"
                    "Accept: */*\r\n"
                    "\r\n";
    md_http_request_head_t r;
    assert_int_equal(parse_req(s, &r), (int)strlen(s));
    assert_str(r.method, "GET");
    assert_str(r.target, "/home?user=42&x=1");
    assert_str(r.path, "/home");
    assert_str(r.query, "user=42&x=1");
    assert_int_equal(r.minor_version, 1);
    assert_int_equal(r.num_headers, 3);
    assert_ptr_equal(r.headers, hdrs);
    assert_header(&hdrs[0], "Host", "example.com");
    assert_header(&hdrs[1], "User-Agent", "test/1.0");
    assert_header(&hdrs[2], "Accept", "*/*");
    assert_int_equal(r.content_length, -1);
    assert_false(r.chunked);
    assert_true(r.keep_alive);
    assert_false(r.expect_continue);
    assert_str(r.host, "example.com");
}

static void request_without_query_and_with_empty_query(void **state)
{
    (void)state;
    md_http_request_head_t r;
    assert_true(parse_req("GET /a/b HTTP/1.1\r\nHost: h\r\n\r\n", &r) > 0);
    assert_str(r.path, "/a/b");
    assert_str(r.query, "");
    assert_true(parse_req("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n", &r) > 0);
    assert_str(r.path, "/a");
    assert_str(r.query, "");
    assert_true(parse_req("GET /?a?b HTTP/1.1\r\nHost: h\r\n\r\n", &r) > 0);
    assert_str(r.path, "/");
    assert_str(r.query, "a?b");
}

static void request_pipelined_returns_first_head_length(void **state)
{
    (void)state;
    const char *first = "POST /items HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
    char buf[256];
    snprintf(buf, sizeof(buf), "%shelloGET /next HTTP/1.1\r\nHost: h\r\n\r\n", first);
    md_http_request_head_t r = req_with_cap(CAP);
    int rc = md_http_parse_request(buf, strlen(buf), &r);
    assert_int_equal(rc, (int)strlen(first));
    assert_int_equal(r.content_length, 5);
    assert_memory_equal(buf + rc, "hello", 5);

    const char *second = buf + rc + 5;
    r = req_with_cap(CAP);
    assert_int_equal(md_http_parse_request(second, strlen(second), &r), (int)strlen(second));
    assert_str(r.method, "GET");
    assert_str(r.path, "/next");
}

static void request_trims_ows_and_accepts_obs_text(void **state)
{
    (void)state;
    md_http_request_head_t r;
    const char *s = "GET / HTTP/1.1\r\n"
                    "A:  spaced  value \t \r\n"
                    "B:\r\n"
                    "C: \t \r\n"
                    "D:x\r\n"
                    "E: caf\xc3\xa9\x80\xff\r\n"
                    "F: in\tside\r\n"
                    "\r\n";
    assert_int_equal(parse_req(s, &r), (int)strlen(s));
    assert_int_equal(r.num_headers, 6);
    assert_header(&hdrs[0], "A", "spaced  value");
    assert_header(&hdrs[1], "B", "");
    assert_header(&hdrs[2], "C", "");
    assert_header(&hdrs[3], "D", "x");
    assert_header(&hdrs[4], "E", "caf\xc3\xa9\x80\xff");
    assert_header(&hdrs[5], "F", "in\tside");
}

static void request_accepts_bare_lf_line_ends(void **state)
{
    (void)state;
    md_http_request_head_t r;
    const char *s = "GET /x HTTP/1.0\nHost: a\r\nX: y\n\n";
    assert_int_equal(parse_req(s, &r), (int)strlen(s));
    assert_int_equal(r.minor_version, 0);
    assert_int_equal(r.num_headers, 2);
    assert_header(&hdrs[1], "X", "y");
}

static void request_skips_a_few_leading_empty_lines(void **state)
{
    (void)state;
    md_http_request_head_t r;
    const char *ok = "\r\n\n\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_req(ok, &r), (int)strlen(ok));
    assert_str(r.method, "GET");
    assert_int_equal(req_rc("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("\r\n"), MD_AGAIN);
    assert_int_equal(req_rc("\r"), MD_AGAIN);
    assert_int_equal(req_rc("\rX"), MD_EINVAL);
}

static void request_options_star_only(void **state)
{
    (void)state;
    md_http_request_head_t r;
    assert_true(parse_req("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &r) > 0);
    assert_str(r.target, "*");
    assert_str(r.path, "*");
    assert_str(r.query, "");
    assert_int_equal(req_rc("GET * HTTP/1.1\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("OPTIONS *x HTTP/1.1\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("OPTIONS / HTTP/1.1\r\n\r\n"), (int)strlen("OPTIONS / HTTP/1.1\r\n\r\n"));
}

static void request_every_prefix_is_again(void **state)
{
    (void)state;
    static const char *const good[] = {
        "GET /home?user=42 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        "POST /x HTTP/1.0\nContent-Length: 12\nConnection: keep-alive\n\n",
        "\r\n\r\nPUT /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: h\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nE: caf\xc3\xa9\r\nX:\r\n\r\n",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(good); i++) {
        size_t len = strlen(good[i]);
        for (size_t n = 0; n < len; n++) {
            md_http_request_head_t r = req_with_cap(CAP);
            int rc = md_http_parse_request(good[i], n, &r);
            if (rc != MD_AGAIN)
                fail_msg("request %zu prefix %zu: rc %d", i, n, rc);
            assert_int_equal(r.num_headers, CAP); /* capacity survives */
        }
        md_http_request_head_t r = req_with_cap(CAP);
        assert_int_equal(md_http_parse_request(good[i], len, &r), (int)len);
    }
}

static void request_keep_alive_rules(void **state)
{
    (void)state;
    md_http_request_head_t r;
    assert_true(parse_req("GET / HTTP/1.1\r\n\r\n", &r) > 0);
    assert_true(r.keep_alive);
    assert_true(parse_req("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_true(parse_req("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_true(parse_req("GET / HTTP/1.1\r\nConnection: upgrade\r\nConnection: CLOSE\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_true(parse_req("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", &r) > 0);
    assert_true(r.keep_alive); /* "closed" is not the token "close" */
    assert_true(parse_req("GET / HTTP/1.0\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_true(parse_req("GET / HTTP/1.0\r\nConnection: Upgrade , Keep-Alive\r\n\r\n", &r) > 0);
    assert_true(r.keep_alive);
    assert_true(parse_req("GET / HTTP/1.0\r\nConnection: keep-alive,close\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_true(parse_req("GET / HTTP/1.1\r\nX-Connection: close\r\n\r\n", &r) > 0);
    assert_true(r.keep_alive);
}

static void request_expect_continue_only_in_1_1(void **state)
{
    (void)state;
    md_http_request_head_t r;
    assert_true(parse_req("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", &r) > 0);
    assert_true(r.expect_continue);
    assert_true(parse_req("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &r) > 0);
    assert_false(r.expect_continue);
    assert_true(parse_req("PUT / HTTP/1.1\r\nExpect: something\r\n\r\n", &r) > 0);
    assert_false(r.expect_continue);
}

static void request_host_rules(void **state)
{
    (void)state;
    md_http_request_head_t r;
    assert_true(parse_req("GET / HTTP/1.1\r\nhOsT:  a.b:8080 \r\n\r\n", &r) > 0);
    assert_str(r.host, "a.b:8080");
    assert_true(parse_req("GET / HTTP/1.1\r\n\r\n", &r) > 0);
    assert_int_equal(r.host.len, 0);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), MD_EINVAL);
}

static void request_long_clean_lines(void **state)
{
    (void)state;
    md_http_request_head_t r;
    const char *s = "GET /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nA: vvvvvvvvvvvvvvvvvvvvvvvv\r\n\r\n";
    assert_int_equal(parse_req(s, &r), (int)strlen(s));
    assert_int_equal(r.target.len, 25);
    assert_header(&hdrs[0], "A", "vvvvvvvvvvvvvvvvvvvvvvvv");
}

/* ---- requests: rejections ----------------------------------------------- */

static void request_rejects_bad_request_lines(void **state)
{
    (void)state;
    assert_int_equal(req_rc(" / HTTP/1.1\r\n\r\n"), MD_EINVAL);          /* no method */
    assert_int_equal(req_rc("G(T / HTTP/1.1\r\n\r\n"), MD_EINVAL);       /* not a token */
    assert_int_equal(req_rc("GET\t/ HTTP/1.1\r\n\r\n"), MD_EINVAL);      /* HTAB as SP */
    assert_int_equal(req_rc("GET  / HTTP/1.1\r\n\r\n"), MD_EINVAL);      /* empty target */
    assert_int_equal(req_rc("GET /  HTTP/1.1\r\n\r\n"), MD_EINVAL);      /* two spaces */
    assert_int_equal(req_rc("GET / HTTP/1.1 \r\n\r\n"), MD_EINVAL);      /* trailing SP */
    assert_int_equal(req_rc("GET a/b HTTP/1.1\r\n\r\n"), MD_EINVAL);     /* not origin-form */
    assert_int_equal(req_rc("GET http://h/x HTTP/1.1\r\n\r\n"), MD_EINVAL); /* absolute-form */
    assert_int_equal(req_rc("CONNECT h:443 HTTP/1.1\r\n\r\n"), MD_EINVAL); /* authority-form */
    assert_int_equal(req_rc("GET /a\x01 HTTP/1.1\r\n\r\n"), MD_EINVAL);  /* CTL in target */
    assert_int_equal(req_rc("GET /a\x7f HTTP/1.1\r\n\r\n"), MD_EINVAL);  /* DEL in target */
    assert_int_equal(req_rc("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"), MD_EINVAL); /* raw non-ASCII */
    assert_int_equal(req_rc("GET /a\tb HTTP/1.1\r\n\r\n"), MD_EINVAL);
    /* the same inside the 8-byte fast scan window, at every offset */
    static const char bad_bytes[] = { 0x7f, (char)0x80, (char)0xff, 0x01, '\t' };
    for (size_t b = 0; b < sizeof(bad_bytes); b++) {
        for (size_t off = 1; off < 24; off++) {
            static const char post[] = " HTTP/1.1\r\n\r\n";
            char line[64];
            line[0] = '/';
            memset(line + 1, 'a', 24);
            line[off] = bad_bytes[b];
            memcpy(line + 25, post, sizeof(post) - 1);
            char req[80];
            memcpy(req, "GET ", 4);
            memcpy(req + 4, line, 25 + sizeof(post) - 1);
            md_http_request_head_t hr = req_with_cap(CAP);
            if (md_http_parse_request(req, 4 + 25 + sizeof(post) - 1, &hr) != MD_EINVAL)
                fail_msg("target byte 0x%02x at %zu accepted", (uint8_t)bad_bytes[b], off);
        }
    }
    assert_int_equal(req_rc("GET / HTTP/1.1\rX\r\n\r\n"), MD_EINVAL);    /* bare CR */
    assert_int_equal(req_rc("GET / HTTP/1.1\r\r\n\r\n"), MD_EINVAL);
    const char nul[] = "GET /\0 HTTP/1.1\r\n\r\n";
    md_http_request_head_t r = req_with_cap(CAP);
    assert_int_equal(md_http_parse_request(nul, sizeof(nul) - 1, &r), MD_EINVAL);
}

static void request_rejects_bad_versions(void **state)
{
    (void)state;
    assert_int_equal(req_rc("GET / HTTP/1.2\r\n\r\n"), MD_HTTP_EVERSION);
    assert_int_equal(req_rc("GET / HTTP/2.0\r\n\r\n"), MD_HTTP_EVERSION);
    assert_int_equal(req_rc("GET / HTTP/0.9\r\n\r\n"), MD_HTTP_EVERSION);
    assert_int_equal(req_rc("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), MD_HTTP_EVERSION);
    assert_int_equal(req_rc("GET /\r\n"), MD_EINVAL); /* no version: malformed (400), not 505 */
    assert_int_equal(req_rc("GET / http/1.1\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1x\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/11.1\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/a.1\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / XTTP/1.1\r\n\r\n"), MD_EINVAL);
    /* garbage is reported before the line is complete */
    assert_int_equal(req_rc("GET / HTX"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1."), MD_AGAIN);
}

static void request_rejects_bad_header_lines(void **state)
{
    (void)state;
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nHost\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\n: a\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA(b: a\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"), MD_EINVAL); /* obs-fold */
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"), MD_EINVAL); /* bare CR */
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA: b\r\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA: b\r\n\rX"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"), MD_EINVAL);
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n"), MD_EINVAL);
    /* CTLs inside the 8-byte fast scan window, at every offset (the same
     * line with only 'v' bytes is accepted: see request_long_clean_lines) */
    static const char bad_bytes[] = { 0x7f, 0x00, 0x01, 0x1b, 0x1f, '\r' };
    for (size_t b = 0; b < sizeof(bad_bytes); b++) {
        for (size_t off = 0; off < 24; off++) {
            static const char pre[] = "GET / HTTP/1.1\r\nA: ";
            char line[64];
            size_t n = sizeof(pre) - 1;
            memcpy(line, pre, n);
            memset(line + n, 'v', 24);
            line[n + off] = bad_bytes[b];
            memcpy(line + n + 24, "\r\n\r\n", 4);
            md_http_request_head_t hr = req_with_cap(CAP);
            if (md_http_parse_request(line, n + 28, &hr) != MD_EINVAL)
                fail_msg("value byte 0x%02x at %zu accepted", (uint8_t)bad_bytes[b], off);
        }
    }
    const char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
    md_http_request_head_t r = req_with_cap(CAP);
    assert_int_equal(md_http_parse_request(nul, sizeof(nul) - 1, &r), MD_EINVAL);
    /* reported before the head is complete */
    assert_int_equal(req_rc("GET / HTTP/1.1\r\nBad Header: x\r\n"), MD_EINVAL);
}

static void request_too_many_headers(void **state)
{
    (void)state;
    const char *s = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    md_http_request_head_t r = req_with_cap(2);
    assert_int_equal(md_http_parse_request(s, strlen(s), &r), MD_HTTP_ETOO_MANY_HEADERS);
    assert_int_equal(r.num_headers, 2);
    r = req_with_cap(3);
    assert_int_equal(md_http_parse_request(s, strlen(s), &r), (int)strlen(s));
    assert_int_equal(r.num_headers, 3);
    assert_header(&hdrs[2], "C", "3");
    const char *none = "GET / HTTP/1.1\r\n\r\n";
    r = req_with_cap(0);
    r.headers = NULL;
    assert_int_equal(md_http_parse_request(none, strlen(none), &r), (int)strlen(none));
    assert_int_equal(r.num_headers, 0);
}

static void request_content_length(void **state)
{
    (void)state;
    md_http_request_head_t r;
    assert_true(parse_req("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 10);
    assert_true(parse_req("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 0);
    assert_true(parse_req("POST / HTTP/1.1\r\ncontent-length: 007\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 7);
    assert_true(parse_req("POST / HTTP/1.1\r\nContent-Length: 5, 5,5\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 5);
    assert_true(parse_req("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, 5);
    assert_true(parse_req("POST / HTTP/1.1\r\nContent-Length: 9007199254740992\r\n\r\n", &r) > 0);
    assert_int_equal(r.content_length, INT64_C(9007199254740992));
}

static void request_rejects_bad_content_length(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "5, 6", "+5", "-1", "5a", "0x10", "", "1 2", "5,", ",5", "5,,5",
        "9007199254740993", "99999999999999999999999999999",
    };
    char buf[256];
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", bad[i]);
        if (req_rc(buf) != MD_HTTP_ELENGTH)
            fail_msg("Content-Length \"%s\" accepted or wrong code", bad[i]);
    }
    assert_int_equal(req_rc("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
                     MD_HTTP_ELENGTH);
}

static void request_transfer_encoding(void **state)
{
    (void)state;
    md_http_request_head_t r;
    assert_true(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r) > 0);
    assert_true(r.chunked);
    assert_int_equal(r.content_length, -1);
    assert_true(r.keep_alive);
    assert_true(parse_req("POST / HTTP/1.1\r\ntransfer-encoding:  CHUNKED \r\n\r\n", &r) > 0);
    assert_true(r.chunked);
    assert_true(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: , chunked\r\n\r\n", &r) > 0);
    assert_true(r.chunked);
}

static void request_rejects_bad_transfer_encoding(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        if (req_rc(bad[i]) != MD_HTTP_ELENGTH)
            fail_msg("case %zu not rejected with ELENGTH: %s", i, bad[i]);
}

static void request_failure_leaves_head_untouched(void **state)
{
    (void)state;
    md_http_request_head_t r = req_with_cap(CAP);
    r.content_length = 1234;
    const char *part = "GET /x HTTP/1.1\r\nA: b\r\nC: d\r\n";
    assert_int_equal(md_http_parse_request(part, strlen(part), &r), MD_AGAIN);
    assert_int_equal(r.num_headers, CAP);
    assert_int_equal(r.content_length, 1234);
    assert_int_equal(req_rc(""), MD_AGAIN);
    const char *bad = "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
    assert_int_equal(md_http_parse_request(bad, strlen(bad), &r), MD_HTTP_ELENGTH);
    assert_int_equal(r.num_headers, CAP);
    assert_null(r.method.ptr);
}

/* ---- responses ---------------------------------------------------------- */

static void response_basic(void **state)
{
    (void)state;
    const char *s = "HTTP/1.1 200 OK\r\n"
                    "Content-Type: application/json; charset=utf-8\r\n"
                    "Content-Length: 11\r\n"
                    "\r\n"
                    "{\"ok\":true}";
    md_http_response_head_t r;
    int want = (int)(strstr(s, "\r\n\r\n") - s) + 4;
    assert_int_equal(parse_res(s, &r), want);
    assert_int_equal(r.status, 200);
    assert_str(r.reason, "OK");
    assert_int_equal(r.minor_version, 1);
    assert_int_equal(r.num_headers, 2);
    assert_int_equal(r.content_length, 11);
    assert_false(r.chunked);
    assert_true(r.keep_alive);
    assert_false(r.gzip);
    assert_false(r.unknown_encoding);
    assert_str(r.content_type, "application/json; charset=utf-8");
}

static void response_chunked_and_gzip(void **state)
{
    (void)state;
    md_http_response_head_t r;
    assert_true(parse_res("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                          "Content-Encoding: gzip\r\n\r\n", &r) > 0);
    assert_true(r.chunked);
    assert_true(r.gzip);
    assert_false(r.unknown_encoding);
    assert_int_equal(r.content_length, -1);
    assert_true(r.keep_alive);
    assert_int_equal(r.content_type.len, 0);
    /* a repeated Content-Type: the first one is reported */
    assert_true(parse_res("HTTP/1.1 200 OK\r\ncontent-type: a/b\r\nContent-Type: c/d\r\n\r\n", &r) > 0);
    assert_str(r.content_type, "a/b");
}

static void response_content_encodings(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        bool gzip, unknown;
    } cases[] = {
        { "gzip", true, false },      { "X-GZIP", true, false },
        { "identity", false, false }, { "identity, gzip", true, false },
        { "br", false, true },        { "deflate", false, true },
        { "gzip, br", false, true },  { "gzip, gzip", false, true },
        { "", false, false },
    };
    char buf[256];
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_http_response_head_t r;
        snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\n\r\n",
                 cases[i].value);
        assert_true(parse_res(buf, &r) > 0);
        if (r.gzip != cases[i].gzip || r.unknown_encoding != cases[i].unknown)
            fail_msg("Content-Encoding \"%s\": gzip %d unknown %d", cases[i].value, r.gzip,
                     r.unknown_encoding);
    }
    md_http_response_head_t r;
    assert_true(parse_res("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                          "Content-Encoding: br\r\n\r\n", &r) > 0);
    assert_false(r.gzip);
    assert_true(r.unknown_encoding);
}

static void response_chunked_wins_over_content_length(void **state)
{
    (void)state;
    md_http_response_head_t r;
    assert_true(parse_res("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n", &r) > 0);
    assert_true(r.chunked);
    assert_int_equal(r.content_length, -1);
    assert_false(r.keep_alive);
    /* an unparseable length is irrelevant once chunked decides */
    assert_true(parse_res("HTTP/1.1 200 OK\r\nContent-Length: zz\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n", &r) > 0);
    assert_true(r.chunked);
}

static void response_reason_forms(void **state)
{
    (void)state;
    md_http_response_head_t r;
    assert_true(parse_res("HTTP/1.1 404 Not Found\r\n\r\n", &r) > 0);
    assert_int_equal(r.status, 404);
    assert_str(r.reason, "Not Found");
    assert_true(parse_res("HTTP/1.1 204 \r\n\r\n", &r) > 0);
    assert_int_equal(r.status, 204);
    assert_str(r.reason, "");
    assert_true(parse_res("HTTP/1.1 204\r\n\r\n", &r) > 0);
    assert_int_equal(r.status, 204);
    assert_str(r.reason, "");
    assert_true(parse_res("HTTP/1.0 999 Odd \xe9t\xe9\r\n\r\n", &r) > 0);
    assert_int_equal(r.status, 999);
    assert_str(r.reason, "Odd \xe9t\xe9");
    assert_true(parse_res("HTTP/1.1 100 Continue\n\n", &r) > 0);
    assert_int_equal(r.status, 100);
}

static void response_keep_alive_rules(void **state)
{
    (void)state;
    md_http_response_head_t r;
    assert_true(parse_res("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_true(parse_res("HTTP/1.0 200 OK\r\n\r\n", &r) > 0);
    assert_false(r.keep_alive);
    assert_int_equal(r.minor_version, 0);
    assert_true(parse_res("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", &r) > 0);
    assert_true(r.keep_alive);
}

static void response_rejections(void **state)
{
    (void)state;
    assert_int_equal(res_rc("HTTP/1.1 99 Low\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1 099 Low\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1 2000 OK\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1 20a OK\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1  200 OK\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1 200 O\x01K\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1 200 OK\rX\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("\r\nHTTP/1.1 200 OK\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("http/1.1 200 OK\r\n\r\n"), MD_EINVAL);
    assert_int_equal(res_rc("HTTP/2.0 200 OK\r\n\r\n"), MD_HTTP_EVERSION);
    assert_int_equal(res_rc("HTTP/1.2 200 OK\r\n\r\n"), MD_HTTP_EVERSION);
    assert_int_equal(res_rc("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
                     MD_HTTP_ELENGTH);
    assert_int_equal(res_rc("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), MD_HTTP_ELENGTH);
    assert_int_equal(res_rc("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
                     MD_HTTP_ELENGTH);
    assert_int_equal(res_rc("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), MD_HTTP_ELENGTH);
    assert_int_equal(res_rc("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     MD_HTTP_ELENGTH);
    const char *s = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
    md_http_response_head_t r = res_with_cap(1);
    assert_int_equal(md_http_parse_response(s, strlen(s), &r), MD_HTTP_ETOO_MANY_HEADERS);
    assert_int_equal(r.num_headers, 1);
}

static void response_every_prefix_is_again(void **state)
{
    (void)state;
    static const char *const good[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n",
        "HTTP/1.1 204\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.0 503 Service Unavailable\nX: y\n\n",
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(good); i++) {
        size_t len = strlen(good[i]);
        for (size_t n = 0; n < len; n++) {
            md_http_response_head_t r = res_with_cap(CAP);
            int rc = md_http_parse_response(good[i], n, &r);
            if (rc != MD_AGAIN)
                fail_msg("response %zu prefix %zu: rc %d", i, n, rc);
            assert_int_equal(r.num_headers, CAP);
        }
        md_http_response_head_t r = res_with_cap(CAP);
        assert_int_equal(md_http_parse_response(good[i], len, &r), (int)len);
    }
}

/* ---- chunked decoder ---------------------------------------------------- */

typedef struct feed_result {
    ssize_t rc;        /* MD_EINVAL, or total raw bytes consumed */
    bool done;
    size_t out_len;
    char out[4096];
} feed_result_t;

/* Feeds `raw` in pieces whose sizes come from `split` (cycled; 0 = all at
 * once) and collects the payload, as a connection reading into a buffer
 * would. Stops at the end of the body or the first error. */
static void feed(const char *raw, size_t len, const size_t *split, size_t nsplit,
                 feed_result_t *res)
{
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    memset(res, 0, sizeof(*res));
    size_t pos = 0;
    for (size_t i = 0; pos < len && !dec.done; i++) {
        size_t n = nsplit ? MD_MIN(split[i % nsplit], len - pos) : len - pos;
        static char piece[32768];
        assert_true(n <= sizeof(piece));
        memcpy(piece, raw + pos, n);
        size_t plen = n;
        ssize_t rc = md_chunked_decode(&dec, piece, &plen);
        if (rc < 0) {
            res->rc = rc;
            return;
        }
        assert_true((size_t)rc <= n);
        assert_true(plen <= (size_t)rc);
        if (!dec.done)
            assert_int_equal(rc, n); /* everything is consumed until the end */
        /* leftovers must be the untouched input bytes */
        assert_memory_equal(piece + rc, raw + pos + (size_t)rc, n - (size_t)rc);
        assert_true(res->out_len + plen <= sizeof(res->out));
        memcpy(res->out + res->out_len, piece, plen);
        res->out_len += plen;
        pos += (size_t)rc;
    }
    res->rc = (ssize_t)pos;
    res->done = dec.done;
}

static void assert_decodes(const char *raw, size_t consumed, const char *payload)
{
    static feed_result_t whole, part;
    size_t len = strlen(raw);
    feed(raw, len, NULL, 0, &whole);
    assert_int_equal(whole.rc, (ssize_t)consumed);
    assert_true(whole.done);
    assert_int_equal(whole.out_len, strlen(payload));
    assert_memory_equal(whole.out, payload, whole.out_len);

    static const size_t one = 1;
    feed(raw, len, &one, 1, &part);
    assert_int_equal(part.rc, whole.rc);
    assert_true(part.done);
    assert_int_equal(part.out_len, whole.out_len);
    assert_memory_equal(part.out, whole.out, whole.out_len);

    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        size_t split[8];
        for (size_t i = 0; i < 8; i++)
            split[i] = 1 + (size_t)(rand_r(&seed) % 13);
        feed(raw, len, split, 8, &part);
        assert_int_equal(part.rc, whole.rc);
        assert_true(part.done);
        assert_int_equal(part.out_len, whole.out_len);
        assert_memory_equal(part.out, whole.out, whole.out_len);
    }
}

/* Malformed bodies fail however they are split. */
static void assert_rejected(const char *raw)
{
    static feed_result_t res;
    size_t len = strlen(raw);
    static const size_t one = 1, three = 3;
    feed(raw, len, NULL, 0, &res);
    if (res.rc != MD_EINVAL)
        fail_msg("accepted whole: \"%s\"", raw);
    feed(raw, len, &one, 1, &res);
    assert_int_equal(res.rc, MD_EINVAL);
    feed(raw, len, &three, 1, &res);
    assert_int_equal(res.rc, MD_EINVAL);
}

static void chunked_simple_bodies(void **state)
{
    (void)state;
    const char *a = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    assert_decodes(a, strlen(a), "hello world");
    const char *b = "0\r\n\r\n";
    assert_decodes(b, strlen(b), "");
    const char *c = "000A\r\n0123456789\r\n1\r\n\n\r\n0000\r\n\r\n";
    assert_decodes(c, strlen(c), "0123456789\n");
    const char *d = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
    assert_decodes(d, strlen(d), "abcdefghijklmnopqrstuvwxyz");
    static const char e[] = "3\r\n\r\n\0\r\n0\r\n\r\n"; /* payload is opaque */
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    char buf[32];
    memcpy(buf, e, sizeof(e) - 1);
    size_t len = sizeof(e) - 1;
    assert_int_equal(md_chunked_decode(&dec, buf, &len), 13);
    assert_true(dec.done);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "\r\n\0", 3);
}

static void chunked_extensions_ows_and_bare_lf(void **state)
{
    (void)state;
    const char *a = "5;name=value;x=\"q s\"\r\nhello\r\n0;last\r\n\r\n";
    assert_decodes(a, strlen(a), "hello");
    const char *b = "5 \t;ext\r\nhello\r\n2  \r\nhi\r\n0\r\n\r\n";
    assert_decodes(b, strlen(b), "hellohi");
    const char *c = "5\nhello\r\n0\n\n";
    assert_decodes(c, strlen(c), "hello");
    const char *d = "5;x\nhello\r\n0;y\nT: 1\n\n";
    assert_decodes(d, strlen(d), "hello");
}

static void chunked_trailers_are_consumed(void **state)
{
    (void)state;
    const char *a = "3\r\nabc\r\n0\r\nX-Sum: 123\r\nY:\r\nZ: a\tb\n\r\n";
    assert_decodes(a, strlen(a), "abc");
}

static void chunked_leaves_bytes_after_the_end(void **state)
{
    (void)state;
    const char *body = "4\r\nwiki\r\n0\r\nT: v\r\n\r\n";
    char raw[128];
    snprintf(raw, sizeof(raw), "%sGET /next HTTP/1.1\r\n", body);
    assert_decodes(raw, strlen(body), "wiki");

    /* a call after the end consumes nothing */
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    char buf[128];
    size_t len = strlen(raw);
    memcpy(buf, raw, len);
    assert_int_equal(md_chunked_decode(&dec, buf, &len), (ssize_t)strlen(body));
    assert_true(dec.done);
    assert_int_equal(len, 4);
    len = 5;
    assert_int_equal(md_chunked_decode(&dec, buf, &len), 0);
    assert_int_equal(len, 0);
    assert_true(dec.done);
}

static void chunked_not_done_until_final_line(void **state)
{
    (void)state;
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    char buf[] = "5\r\nhello\r\n0\r\n";
    size_t len = strlen(buf);
    assert_int_equal(md_chunked_decode(&dec, buf, &len), (ssize_t)strlen("5\r\nhello\r\n0\r\n"));
    assert_false(dec.done);
    assert_int_equal(len, 5);
    char end[] = "\r";
    len = 1;
    assert_int_equal(md_chunked_decode(&dec, end, &len), 1);
    assert_false(dec.done);
    char lf[] = "\nX";
    len = 2;
    assert_int_equal(md_chunked_decode(&dec, lf, &len), 1);
    assert_true(dec.done);
    assert_int_equal(len, 0);
}

static void chunked_rejects_bad_sizes(void **state)
{
    (void)state;
    assert_rejected("\r\nhello\r\n0\r\n\r\n");           /* empty size */
    assert_rejected("g\r\n");                             /* not hex */
    assert_rejected("-5\r\nhello\r\n");
    assert_rejected("+5\r\nhello\r\n");
    assert_rejected("0x5\r\nhello\r\n");
    assert_rejected(" 5\r\nhello\r\n");                   /* leading OWS */
    assert_rejected(";x\r\n");                            /* extension without size */
    assert_rejected("5 5\r\nhello\r\n");
    assert_rejected("20000000000001\r\n");                /* 2^53 + 1 */
    assert_rejected("FFFFFFFFFFFFFFFFFFFFFFFF\r\n");      /* would wrap 64 bits */
    assert_rejected("10000000000000000\r\n");             /* 2^64 exactly */
    assert_rejected("5\rhello\r\n");                      /* bare CR */
    assert_rejected("5;a\x01\r\nhello\r\n");              /* CTL in extension */
    assert_rejected("5;a\rb\r\nhello\r\n");

    /* 2^53 itself is a legal (if absurd) size: the decoder waits for data */
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    char buf[] = "20000000000000\r\nab";
    size_t len = strlen(buf);
    assert_int_equal(md_chunked_decode(&dec, buf, &len), (ssize_t)strlen(buf));
    assert_int_equal(len, 2);
    assert_false(dec.done);
    assert_true(dec.remaining == ((uint64_t)1 << 53) - 2);
}

static void chunked_rejects_bad_data_ends(void **state)
{
    (void)state;
    assert_rejected("5\r\nhelloX\r\n0\r\n\r\n");
    assert_rejected("5\r\nhello\n0\r\n\r\n");             /* LF alone after data */
    assert_rejected("5\r\nhello\rX0\r\n\r\n");
    assert_rejected("3\r\nhello\r\n0\r\n\r\n");           /* size too small */
}

static void chunked_rejects_bad_trailers(void **state)
{
    (void)state;
    assert_rejected("0\r\nNo colon\r\n\r\n");
    assert_rejected("0\r\n: v\r\n\r\n");
    assert_rejected("0\r\nA: b\r\n folded\r\n\r\n");
    assert_rejected("0\r\nA: b\x01\r\n\r\n");
    assert_rejected("0\r\nA: b\rc\r\n\r\n");
    assert_rejected("0\r\n\rX");
}

static void chunked_limits_line_and_trailer_length(void **state)
{
    (void)state;
    static char raw[MD_CHUNK_TRAILER_MAX + 8192];
    static feed_result_t res;
    /* size line of exactly MD_CHUNK_LINE_MAX bytes including CRLF: accepted */
    size_t n = (size_t)snprintf(raw, sizeof(raw), "1;");
    memset(raw + n, 'e', MD_CHUNK_LINE_MAX - n - 2);
    n = MD_CHUNK_LINE_MAX - 2;
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\r\nx\r\n0\r\n\r\n");
    feed(raw, n, NULL, 0, &res);
    assert_int_equal(res.rc, (ssize_t)n);
    assert_true(res.done);
    assert_int_equal(res.out_len, 1);

    /* one byte more: rejected */
    n = (size_t)snprintf(raw, sizeof(raw), "1;");
    memset(raw + n, 'e', MD_CHUNK_LINE_MAX - n - 1);
    n = MD_CHUNK_LINE_MAX - 1;
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\r\nx\r\n0\r\n\r\n");
    feed(raw, n, NULL, 0, &res);
    assert_int_equal(res.rc, MD_EINVAL);

    /* endless leading zeros are a long line, not an endless loop */
    memset(raw, '0', 5000);
    feed(raw, 5000, NULL, 0, &res);
    assert_int_equal(res.rc, MD_EINVAL);

    /* many small trailer lines add up to more than the trailer limit */
    n = (size_t)snprintf(raw, sizeof(raw), "0\r\n");
    while (n < MD_CHUNK_TRAILER_MAX + 100)
        n += (size_t)snprintf(raw + n, sizeof(raw) - n, "X-Pad: 0123456789abcdef\r\n");
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\r\n");
    feed(raw, n, NULL, 0, &res);
    assert_int_equal(res.rc, MD_EINVAL);

    /* one trailer line longer than a line */
    n = (size_t)snprintf(raw, sizeof(raw), "0\r\nX: ");
    memset(raw + n, 'v', MD_CHUNK_LINE_MAX);
    n += MD_CHUNK_LINE_MAX;
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\r\n\r\n");
    feed(raw, n, NULL, 0, &res);
    assert_int_equal(res.rc, MD_EINVAL);
}

static void chunked_error_is_sticky(void **state)
{
    (void)state;
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    char bad[] = "zz";
    size_t len = 2;
    assert_int_equal(md_chunked_decode(&dec, bad, &len), MD_EINVAL);
    assert_int_equal(len, 0);
    char good[] = "0\r\n\r\n";
    len = strlen(good);
    assert_int_equal(md_chunked_decode(&dec, good, &len), MD_EINVAL);
    assert_false(dec.done);
}

static void chunked_empty_input_is_a_no_op(void **state)
{
    (void)state;
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    char buf[1] = { 'x' };
    size_t len = 0;
    assert_int_equal(md_chunked_decode(&dec, buf, &len), 0);
    assert_int_equal(len, 0);
    assert_false(dec.done);
}

/* ---- reason phrases ----------------------------------------------------- */

static void reason_phrases(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *text;
    } want[] = {
        { 200, "OK" }, { 201, "Created" }, { 204, "No Content" },
        { 301, "Moved Permanently" }, { 302, "Found" }, { 304, "Not Modified" },
        { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
        { 404, "Not Found" }, { 405, "Method Not Allowed" }, { 408, "Request Timeout" },
        { 413, "Content Too Large" }, { 414, "URI Too Long" },
        { 415, "Unsupported Media Type" }, { 429, "Too Many Requests" },
        { 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
        { 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
        { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
        { 100, "Continue" }, { 202, "Accepted" }, { 307, "Temporary Redirect" },
        { 308, "Permanent Redirect" }, { 409, "Conflict" }, { 411, "Length Required" },
        { 417, "Expectation Failed" },
        { 0, "Unknown" }, { 299, "Unknown" }, { -1, "Unknown" }, { 1000, "Unknown" },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(want); i++)
        assert_string_equal(md_http_reason(want[i].code), want[i].text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_get_with_query_and_headers),
        cmocka_unit_test(request_without_query_and_with_empty_query),
        cmocka_unit_test(request_pipelined_returns_first_head_length),
        cmocka_unit_test(request_trims_ows_and_accepts_obs_text),
        cmocka_unit_test(request_accepts_bare_lf_line_ends),
        cmocka_unit_test(request_skips_a_few_leading_empty_lines),
        cmocka_unit_test(request_options_star_only),
        cmocka_unit_test(request_every_prefix_is_again),
        cmocka_unit_test(request_keep_alive_rules),
        cmocka_unit_test(request_expect_continue_only_in_1_1),
        cmocka_unit_test(request_host_rules),
        cmocka_unit_test(request_long_clean_lines),
        cmocka_unit_test(request_rejects_bad_request_lines),
        cmocka_unit_test(request_rejects_bad_versions),
        cmocka_unit_test(request_rejects_bad_header_lines),
        cmocka_unit_test(request_too_many_headers),
        cmocka_unit_test(request_content_length),
        cmocka_unit_test(request_rejects_bad_content_length),
        cmocka_unit_test(request_transfer_encoding),
        cmocka_unit_test(request_rejects_bad_transfer_encoding),
        cmocka_unit_test(request_failure_leaves_head_untouched),
        cmocka_unit_test(response_basic),
        cmocka_unit_test(response_chunked_and_gzip),
        cmocka_unit_test(response_content_encodings),
        cmocka_unit_test(response_chunked_wins_over_content_length),
        cmocka_unit_test(response_reason_forms),
        cmocka_unit_test(response_keep_alive_rules),
        cmocka_unit_test(response_rejections),
        cmocka_unit_test(response_every_prefix_is_again),
        cmocka_unit_test(chunked_simple_bodies),
        cmocka_unit_test(chunked_extensions_ows_and_bare_lf),
        cmocka_unit_test(chunked_trailers_are_consumed),
        cmocka_unit_test(chunked_leaves_bytes_after_the_end),
        cmocka_unit_test(chunked_not_done_until_final_line),
        cmocka_unit_test(chunked_rejects_bad_sizes),
        cmocka_unit_test(chunked_rejects_bad_data_ends),
        cmocka_unit_test(chunked_rejects_bad_trailers),
        cmocka_unit_test(chunked_limits_line_and_trailer_length),
        cmocka_unit_test(chunked_error_is_sticky),
        cmocka_unit_test(chunked_empty_input_is_a_no_op),
        cmocka_unit_test(reason_phrases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
