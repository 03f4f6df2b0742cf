/*
 * fuzz_http_parser.c - libFuzzer driver for http/parser.
 *
 * Every input goes to the request parser, the response parser and the
 * chunked decoder. Beyond "no crash, no sanitizer report" it checks the
 * properties callers rely on, and aborts when one breaks:
 *   - a parsed head's length is within the input and every returned string
 *     lies inside the head; the counts and flags are in range;
 *   - the same head cut one byte short (or shorter) is MD_AGAIN, and the
 *     exact head alone parses to the same length (pipelining);
 *   - the chunked decoder gives the same result fed whole or in pieces.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_http_parser.c src/http/parser.c src/core/ *.c -pthread
 * Seeds: tests/fuzz/corpus/http_parser/, dictionary: fuzz_http_parser.dict.
 */
#include "http/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

#define MAX_HEADERS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static bool inside(const char *base, size_t len, const char *p, size_t n)
{
    if (n == 0)
        return true; /* empty strings may point anywhere (or be NULL) */
    return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

static bool is_parse_error(int rc)
{
    return rc == MD_EINVAL || rc == MD_HTTP_ETOO_MANY_HEADERS || rc == MD_HTTP_EVERSION ||
           rc == MD_HTTP_ELENGTH;
}

static void check_headers(const char *buf, size_t head, const md_header_t *hs, size_t n)
{
    CHECK(n <= MAX_HEADERS);
    for (size_t i = 0; i < n; i++) {
        CHECK(hs[i].name_len > 0);
        CHECK(inside(buf, head, hs[i].name, hs[i].name_len));
        CHECK(inside(buf, head, hs[i].value, hs[i].value_len));
    }
}

static void fuzz_request(const char *buf, size_t len)
{
    md_header_t hs[MAX_HEADERS];
    md_http_request_head_t r = { .headers = hs, .num_headers = MAX_HEADERS };
    int rc = md_http_parse_request(buf, len, &r);
    if (rc <= 0) {
        CHECK(rc == MD_AGAIN || is_parse_error(rc));
        CHECK(r.num_headers == MAX_HEADERS);
        return;
    }
    size_t head = (size_t)rc;
    CHECK(head <= len);
    CHECK(r.minor_version == 0 || r.minor_version == 1);
    CHECK(r.method.len > 0 && inside(buf, head, r.method.ptr, r.method.len));
    CHECK(r.target.len > 0 && inside(buf, head, r.target.ptr, r.target.len));
    CHECK(inside(r.target.ptr, r.target.len, r.path.ptr, r.path.len));
    CHECK(inside(r.target.ptr, r.target.len, r.query.ptr, r.query.len));
    CHECK(inside(buf, head, r.host.ptr, r.host.len));
    CHECK(r.content_length >= -1 && r.content_length <= (INT64_C(1) << 53));
    CHECK(!(r.chunked && r.content_length >= 0));
    check_headers(buf, head, hs, r.num_headers);

    md_header_t hs2[MAX_HEADERS];
    md_http_request_head_t again = { .headers = hs2, .num_headers = MAX_HEADERS };
    CHECK(md_http_parse_request(buf, head, &again) == rc);
    CHECK(again.num_headers == r.num_headers && again.keep_alive == r.keep_alive);
    for (size_t cut = 1; cut <= head && cut <= 64; cut++) {
        again = (md_http_request_head_t){ .headers = hs2, .num_headers = MAX_HEADERS };
        CHECK(md_http_parse_request(buf, head - cut, &again) == MD_AGAIN);
    }
}

static void fuzz_response(const char *buf, size_t len)
{
    md_header_t hs[MAX_HEADERS];
    md_http_response_head_t r = { .headers = hs, .num_headers = MAX_HEADERS };
    int rc = md_http_parse_response(buf, len, &r);
    if (rc <= 0) {
        CHECK(rc == MD_AGAIN || is_parse_error(rc));
        CHECK(r.num_headers == MAX_HEADERS);
        return;
    }
    size_t head = (size_t)rc;
    CHECK(head <= len);
    CHECK(r.status >= 100 && r.status <= 999);
    CHECK(r.minor_version == 0 || r.minor_version == 1);
    CHECK(inside(buf, head, r.reason.ptr, r.reason.len));
    CHECK(inside(buf, head, r.content_type.ptr, r.content_type.len));
    CHECK(!(r.gzip && r.unknown_encoding));
    CHECK(!(r.chunked && r.content_length >= 0));
    CHECK(r.content_length >= -1 && r.content_length <= (INT64_C(1) << 53));
    check_headers(buf, head, hs, r.num_headers);

    md_header_t hs2[MAX_HEADERS];
    md_http_response_head_t again = { .headers = hs2, .num_headers = MAX_HEADERS };
    CHECK(md_http_parse_response(buf, head, &again) == rc);
    for (size_t cut = 1; cut <= head && cut <= 64; cut++) {
        again = (md_http_response_head_t){ .headers = hs2, .num_headers = MAX_HEADERS };
        CHECK(md_http_parse_response(buf, head - cut, &again) == MD_AGAIN);
    }
}

typedef struct chunk_run {
    ssize_t rc;  /* total consumed, or MD_EINVAL */
    bool done;
    char *out;
    size_t out_len;
} chunk_run_t;

/* Decodes `data` in pieces of the sizes drawn from `seed` (0: all at once),
 * each piece in its own exact-size heap copy so ASan sees any overrun. */
static void run_chunked(const uint8_t *data, size_t size, uint32_t seed, chunk_run_t *run)
{
    md_chunked_decoder_t dec;
    memset(&dec, 0, sizeof(dec));
    memset(run, 0, sizeof(*run));
    run->out = malloc(size + 1);
    size_t pos = 0;
    while (pos < size && !dec.done) {
        size_t n = size - pos;
        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            n = MD_MIN(n, 1 + (seed >> 16) % 17);
        }
        char *piece = malloc(n);
        memcpy(piece, data + pos, n);
        size_t plen = n;
        ssize_t rc = md_chunked_decode(&dec, piece, &plen);
        if (rc < 0) {
            CHECK(rc == MD_EINVAL && plen == 0);
            free(piece);
            run->rc = rc;
            return;
        }
        CHECK((size_t)rc <= n && plen <= (size_t)rc);
        CHECK(dec.done || (size_t)rc == n);
        CHECK(memcmp(piece + rc, data + pos + (size_t)rc, n - (size_t)rc) == 0);
        memcpy(run->out + run->out_len, piece, plen);
        run->out_len += plen;
        pos += (size_t)rc;
        free(piece);
    }
    run->rc = (ssize_t)pos;
    run->done = dec.done;
}

static void fuzz_chunked(const uint8_t *data, size_t size)
{
    chunk_run_t whole, split;
    uint32_t seed = 1;
    for (size_t i = 0; i < size && i < 16; i++)
        seed = seed * 31 + data[i];
    run_chunked(data, size, 0, &whole);
    run_chunked(data, size, seed | 1, &split);
    CHECK(whole.rc == split.rc);
    if (whole.rc >= 0) { /* after an error the payload so far is moot */
        CHECK(whole.done == split.done);
        CHECK(whole.out_len == split.out_len);
        CHECK(memcmp(whole.out, split.out, whole.out_len) == 0);
        CHECK(whole.out_len <= size);
    }
    free(whole.out);
    free(split.out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request((const char *)data, size);
    fuzz_response((const char *)data, size);
    fuzz_chunked(data, size);
    return 0;
}
