/*
 * Unit tests for telemetry/trace (W3C Trace Context level 1) and for how a
 * request takes its place in a trace (md_tm_begin, md_tm_traceparent,
 * md_tm_trace_headers): every traceparent form the spec names, tracestate
 * grammar and bounds, id generation, and propagation: same trace id, a new
 * parent per backend call, the sampled flag followed, bad context dropped.
 * Expected values are written from the spec's examples, by hand.
 */
#include "testutil.h"

#include "config/config.h"
#include "core/pool.h"
#include "telemetry/telemetry.h"
#include "telemetry/trace.h"

#include <stdio.h>

#define TP_OK "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static const uint8_t tp_trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
static const uint8_t tp_span[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };

static int parse(const char *s, md_trace_parent_t *p)
{
    return md_traceparent_parse(s, strlen(s), p);
}

static void expect_invalid(const char *s)
{
    md_trace_parent_t p;
    memset(&p, 0x5a, sizeof(p));
    if (parse(s, &p) != MD_EINVAL)
        fail_msg("accepted: '%s'", s);
    assert_int_equal(p.flags, 0x5a); /* untouched */
}

/* ---- traceparent ---- */

static void traceparent_valid_version_00(void **state)
{
    (void)state;
    md_trace_parent_t p;
    assert_int_equal(parse(TP_OK, &p), MD_OK);
    assert_int_equal(p.version, 0);
    assert_memory_equal(p.trace_id, tp_trace, 16);
    assert_memory_equal(p.span_id, tp_span, 8);
    assert_int_equal(p.flags, 0x01);
    assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &p), MD_OK);
    assert_int_equal(p.flags, 0x00);
    /* Unknown flag bits are accepted on input (and not sent on). */
    assert_int_equal(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", &p), MD_OK);
    assert_int_equal(p.flags, 0x09);
    /* Only the ids' whole value must be non-zero. */
    assert_int_equal(parse("00-00000000000000000000000000000001-0000000000000001-01", &p), MD_OK);
}

static void traceparent_invalid_forms(void **state)
{
    (void)state;
    expect_invalid("");
    expect_invalid("00");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0");   /* 54 chars */
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"); /* v00 is exactly 55 */
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x");
    expect_invalid(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ");
    /* uppercase hex anywhere */
    expect_invalid("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A");
    expect_invalid("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /* not hex, wrong separators */
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01");
    expect_invalid("0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    expect_invalid("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01");
    /* all-zero ids */
    expect_invalid("00-00000000000000000000000000000000-00f067aa0ba902b7-01");
    expect_invalid("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01");
    /* version ff is invalid whatever follows */
    expect_invalid("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    md_trace_parent_t p;
    assert_int_equal(md_traceparent_parse(NULL, 0, &p), MD_EINVAL);
}

static void traceparent_future_version(void **state)
{
    (void)state;
    md_trace_parent_t p;
    /* A later version: its first 55 characters, then '-' or the end. */
    assert_int_equal(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &p), MD_OK);
    assert_int_equal(p.version, 1);
    assert_memory_equal(p.trace_id, tp_trace, 16);
    assert_int_equal(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", &p),
                     MD_OK);
    assert_int_equal(p.version, 0xcc);
    assert_memory_equal(p.span_id, tp_span, 8);
    assert_int_equal(p.flags, 1);
    expect_invalid("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what");
    expect_invalid("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0");
    expect_invalid("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
    expect_invalid("cc-00000000000000000000000000000000-00f067aa0ba902b7-01-x");
    expect_invalid("CC-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

static void traceparent_format(void **state)
{
    (void)state;
    char out[MD_TRACEPARENT_LEN + 1];
    memset(out, 'x', sizeof(out));
    md_traceparent_format(out, tp_trace, tp_span, 0x01);
    assert_string_equal(out, TP_OK);
    md_traceparent_format(out, tp_trace, tp_span, 0xff); /* level 1: other bits go out as zero */
    assert_string_equal(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    md_traceparent_format(out, tp_trace, tp_span, 0x02);
    assert_string_equal(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    /* What we write, we read back. */
    uint8_t t[16], s[8];
    md_trace_random_id(t, 16);
    md_trace_random_id(s, 8);
    md_traceparent_format(out, t, s, 1);
    md_trace_parent_t p;
    assert_int_equal(parse(out, &p), MD_OK);
    assert_memory_equal(p.trace_id, t, 16);
    assert_memory_equal(p.span_id, s, 8);
    char hex[8];
    const uint8_t id[3] = { 0x00, 0xab, 0xf0 };
    assert_ptr_equal(md_trace_hex(hex, id, 3), hex + 6);
    assert_memory_equal(hex, "00abf0", 6);
}

/* ---- tracestate ---- */

static bool ts_ok(const char *s)
{
    return md_tracestate_valid(s, strlen(s));
}

static void tracestate_valid_lists(void **state)
{
    (void)state;
    assert_true(ts_ok("congo=t61rcWkgMzE"));
    assert_true(ts_ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    assert_true(ts_ok("rojo=1 , congo=2"));
    assert_true(ts_ok(" rojo=1,\tcongo=2 "));
    assert_true(ts_ok("a=1,,b=2,"));          /* empty members: joined headers */
    assert_true(ts_ok("a_b-c*d/e9=1"));
    assert_true(ts_ok("tenant@vendor=x"));
    assert_true(ts_ok("0tenant@v=1"));        /* a tenant may start with a digit */
    assert_true(ts_ok("a=hello world"));      /* spaces inside a value */
    assert_true(ts_ok("a=!\"#$%&'()*+-./09:;<>?@AZ[\\]^_`az{|}~"));
}

static void tracestate_invalid_lists(void **state)
{
    (void)state;
    assert_false(ts_ok(""));
    assert_false(ts_ok(" , "));               /* nothing to forward */
    assert_false(ts_ok("=x"));
    assert_false(ts_ok("a"));
    assert_false(ts_ok("a="));
    assert_false(ts_ok("a=1=2"));
    assert_false(ts_ok("A=1"));
    assert_false(ts_ok("1a=1"));
    assert_false(ts_ok("a.b=1"));
    assert_false(ts_ok("a=1,a=2"));           /* a key twice */
    assert_false(ts_ok("a@=1"));
    assert_false(ts_ok("@v=1"));
    assert_false(ts_ok("t@V=1"));
    assert_false(ts_ok("t@1v=1"));
    assert_false(ts_ok("t@v@w=1"));
    assert_false(ts_ok("t@abcdefghijklmno=1")); /* system id of 15 */
    assert_true(ts_ok("t@abcdefghijklmn=1"));   /* 14 */
    assert_false(ts_ok("a=x\ty"));
    assert_false(ts_ok("a=x\x7f"));
    assert_false(ts_ok("a=\xc3\xa9"));
    assert_false(ts_ok("a=1;b=2"));
    assert_false(md_tracestate_valid(NULL, 0));
}

static void tracestate_bounds(void **state)
{
    (void)state;
    char s[1200];
    /* 256-character simple key is the most; 257 is too many. */
    memset(s, 'k', 256);
    memcpy(s + 256, "=v", 3);
    assert_true(ts_ok(s));
    memset(s, 'k', 257);
    memcpy(s + 257, "=v", 3);
    assert_false(ts_ok(s));
    /* tenant up to 241 characters */
    memset(s, 't', 241);
    memcpy(s + 241, "@v=1", 5);
    assert_true(ts_ok(s));
    memset(s, 't', 242);
    memcpy(s + 242, "@v=1", 5);
    assert_false(ts_ok(s));
    /* values up to 256 characters */
    memcpy(s, "a=", 2);
    memset(s + 2, 'v', 256);
    s[258] = '\0';
    assert_true(ts_ok(s));
    memset(s + 2, 'v', 257);
    s[259] = '\0';
    assert_false(ts_ok(s));
    /* 32 members are the most */
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, "%sk%d=v", i ? "," : "", i);
    assert_true(ts_ok(s));
    snprintf(s + n, sizeof(s) - n, ",k32=v");
    assert_false(ts_ok(s));
    /* 512 bytes are the most */
    memcpy(s, "a=", 2);
    memset(s + 2, 'v', 200);
    memcpy(s + 202, ",b=", 3);
    memset(s + 205, 'v', 200);
    memcpy(s + 405, ",c=", 3);
    memset(s + 408, 'v', 104); /* 512 in all */
    assert_true(md_tracestate_valid(s, 512));
    s[512] = 'v';
    assert_false(md_tracestate_valid(s, 513));
}

/* ---- ids ---- */

static void ids_are_random_and_never_zero(void **state)
{
    (void)state;
    uint8_t ids[2000][8];
    for (int i = 0; i < 2000; i++) {
        md_trace_random_id(ids[i], 8);
        assert_false(md_trace_id_is_zero(ids[i], 8));
    }
    for (int i = 0; i < 2000; i++)
        for (int j = i + 1; j < 2000; j++)
            if (memcmp(ids[i], ids[j], 8) == 0)
                fail_msg("span ids %d and %d are equal", i, j);
    uint8_t a[16], b[16];
    md_trace_random_id(a, 16);
    md_trace_random_id(b, 16);
    assert_memory_not_equal(a, b, 16);
    /* every bit position gets both values over a few draws */
    uint64_t ones = 0, zeros = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t r = md_trace_random();
        ones |= r;
        zeros |= ~r;
    }
    assert_true(ones == UINT64_MAX && zeros == UINT64_MAX);
    const uint8_t zero[8] = { 0 }, one[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
    assert_true(md_trace_id_is_zero(zero, 8));
    assert_false(md_trace_id_is_zero(one, 8));
}

/* ---- a request's trace context ---- */

static md_config_t *load(const char *tracing)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "admin: off\naccess_log: off\nserver_timing: false\n%s"
             "upstreams:\n  hr: { url: \"http://127.0.0.1:9\" }\n"
             "endpoints:\n  - path: /a\n    backends:\n"
             "      - { upstream: hr, path: /x, as: x }\n"
             "      - { upstream: hr, path: /y, as: y }\n",
             tracing);
    md_diag_t d;
    md_config_t *cfg = md_config_load_string(yaml, strlen(yaml), "t.yaml", &d);
    if (!cfg)
        fail_msg("config: %d:%d: %s", d.line, d.col, d.msg);
    return cfg;
}

typedef struct fixture {
    md_config_t *cfg;
    md_telemetry_t *tm;
    md_http_req_t req;
    md_header_t hs[8];
} fixture_t;

static void fx_init(fixture_t *f, const char *tracing)
{
    char err[256];
    memset(f, 0, sizeof(*f));
    f->cfg = load(tracing);
    f->tm = md_telemetry_new(f->cfg, 1, err, sizeof(err));
    assert_non_null(f->tm);
    assert_true(md_telemetry_active(f->tm)); /* even with everything else off */
    f->req.pool = md_pool_new(0);
    f->req.headers = f->hs;
}

static void fx_header(fixture_t *f, const char *name, const char *value)
{
    f->hs[f->req.num_headers++] = (md_header_t){ name, strlen(name), value, strlen(value) };
}

static void fx_free(fixture_t *f)
{
    md_pool_destroy(f->req.pool);
    md_telemetry_free(f->tm);
    md_config_free(f->cfg);
}

static md_trace_parent_t sent_parent(md_tm_req_t *t, size_t i)
{
    char tp[MD_TRACEPARENT_LEN + 1];
    assert_int_equal(md_tm_traceparent(t, i, tp), MD_TRACEPARENT_LEN);
    assert_int_equal(strlen(tp), MD_TRACEPARENT_LEN);
    md_trace_parent_t p;
    assert_int_equal(md_traceparent_parse(tp, strlen(tp), &p), MD_OK);
    assert_int_equal(p.version, 0);
    return p;
}

static void incoming_context_is_continued(void **state)
{
    (void)state;
    fixture_t f;
    fx_init(&f, "");
    fx_header(&f, "Host", "x");
    fx_header(&f, "TraceParent", TP_OK);
    fx_header(&f, "tracestate", "rojo=00f067aa0ba902b7");
    fx_header(&f, "Tracestate", "congo=t61rcWkgMzE");
    md_tm_req_t *t = md_tm_begin(f.tm, &f.req, 0);
    assert_true(t->trace.has_parent);
    assert_memory_equal(t->trace.trace_id, tp_trace, 16);
    assert_memory_equal(t->trace.parent_id, tp_span, 8);
    assert_true(t->trace.sampled);
    assert_false(t->trace.exported); /* no otlp_endpoint */
    assert_memory_not_equal(t->trace.span_id, tp_span, 8);
    md_trace_parent_t p0 = sent_parent(t, 0), p1 = sent_parent(t, 1);
    assert_memory_equal(p0.trace_id, tp_trace, 16);
    assert_memory_equal(p1.trace_id, tp_trace, 16);
    assert_int_equal(p0.flags, 1);
    /* Each call is its own span: neither the caller's nor the server's. */
    assert_memory_not_equal(p0.span_id, tp_span, 8);
    assert_memory_not_equal(p0.span_id, t->trace.span_id, 8);
    assert_memory_not_equal(p0.span_id, p1.span_id, 8);
    assert_memory_equal(p0.span_id, t->calls[0].span_id, 8);
    md_trace_parent_t again = sent_parent(t, 0); /* stable once made */
    assert_memory_equal(again.span_id, p0.span_id, 8);
    md_str_t ts = md_tm_tracestate(t);
    assert_int_equal(ts.len, strlen("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    assert_memory_equal(ts.ptr, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", ts.len);
    char tp[MD_TRACEPARENT_LEN + 1];
    assert_int_equal(md_tm_traceparent(t, 2, tp), 0); /* no such call */
    assert_int_equal(md_tm_traceparent(NULL, 0, tp), 0);
    assert_int_equal(md_tm_tracestate(NULL).len, 0);
    fx_free(&f);
}

static void unsampled_caller_is_followed(void **state)
{
    (void)state;
    fixture_t f;
    fx_init(&f, "tracing: { sample: 1 }\n");
    fx_header(&f, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    md_tm_req_t *t = md_tm_begin(f.tm, &f.req, 0);
    assert_false(t->trace.sampled);
    assert_int_equal(sent_parent(t, 0).flags, 0);
    assert_int_equal(md_tm_tracestate(t).len, 0);
    fx_free(&f);
}

static void bad_context_starts_a_new_trace(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "garbage",
    };
    for (size_t k = 0; k < MD_ARRAY_LEN(bad); k++) {
        fixture_t f;
        fx_init(&f, "tracing: { sample: 0 }\n");
        fx_header(&f, "traceparent", bad[k]);
        fx_header(&f, "tracestate", "rojo=1"); /* never without its traceparent */
        md_tm_req_t *t = md_tm_begin(f.tm, &f.req, 0);
        assert_false(t->trace.has_parent);
        assert_memory_not_equal(t->trace.trace_id, tp_trace, 16);
        assert_false(md_trace_id_is_zero(t->trace.trace_id, 16));
        assert_false(t->trace.sampled); /* sample 0 decides a new trace */
        md_trace_parent_t p = sent_parent(t, 0);
        assert_memory_equal(p.trace_id, t->trace.trace_id, 16);
        assert_int_equal(p.flags, 0);
        assert_int_equal(md_tm_tracestate(t).len, 0);
        fx_free(&f);
    }
    /* Two traceparent headers cannot be told apart: a new trace. */
    fixture_t f;
    fx_init(&f, "");
    fx_header(&f, "traceparent", TP_OK);
    fx_header(&f, "traceparent", TP_OK);
    md_tm_req_t *t = md_tm_begin(f.tm, &f.req, 0);
    assert_false(t->trace.has_parent);
    assert_true(t->trace.sampled); /* sample defaults to 1 */
    fx_free(&f);
}

static void bad_tracestate_is_dropped(void **state)
{
    (void)state;
    fixture_t f;
    fx_init(&f, "");
    fx_header(&f, "traceparent", TP_OK);
    fx_header(&f, "tracestate", "rojo=1");
    fx_header(&f, "tracestate", "Bad=2");
    md_tm_req_t *t = md_tm_begin(f.tm, &f.req, 0);
    assert_true(t->trace.has_parent); /* the traceparent still counts */
    assert_int_equal(md_tm_tracestate(t).len, 0);
    fx_free(&f);
    /* joined, the headers pass the 512-byte bound */
    fx_init(&f, "");
    char big[259]; /* "a=" and the longest value: 258 bytes */
    memset(big, 'v', sizeof(big) - 1);
    big[0] = 'a';
    big[1] = '=';
    big[sizeof(big) - 1] = '\0';
    char big2[259];
    memcpy(big2, big, sizeof(big2));
    big2[0] = 'b';
    fx_header(&f, "traceparent", TP_OK);
    fx_header(&f, "tracestate", big);
    assert_int_equal(md_tm_tracestate(md_tm_begin(f.tm, &f.req, 0)).len, 258);
    fx_header(&f, "tracestate", big2);
    assert_int_equal(md_tm_tracestate(md_tm_begin(f.tm, &f.req, 0)).len, 0);
    fx_free(&f);
}

static void new_traces_follow_the_sample_rate(void **state)
{
    (void)state;
    fixture_t f;
    fx_init(&f, "tracing: { sample: 0.25 }\n");
    int sampled = 0;
    uint8_t first[16];
    for (int i = 0; i < 4000; i++) {
        md_tm_req_t *t = md_tm_begin(f.tm, &f.req, -1);
        sampled += t->trace.sampled;
        if (i == 0)
            memcpy(first, t->trace.trace_id, 16);
        else
            assert_memory_not_equal(first, t->trace.trace_id, 16);
    }
    /* 1000 expected; 6 standard deviations (27) either way */
    if (sampled < 840 || sampled > 1160)
        fail_msg("%d of 4000 sampled at 0.25", sampled);
    fx_free(&f);
}

static void trace_headers_for_a_backend(void **state)
{
    (void)state;
    fixture_t f;
    fx_init(&f, "");
    fx_header(&f, "traceparent", TP_OK);
    fx_header(&f, "tracestate", "rojo=1");
    md_tm_req_t *t = md_tm_begin(f.tm, &f.req, 0);
    md_header_t out[MD_TM_TRACE_HEADERS];
    md_header_t conf[1] = { { "X-Other", 7, "1", 1 } };
    assert_int_equal(md_tm_trace_headers(t, 1, f.req.pool, out, conf, 1), 2);
    assert_int_equal(out[0].name_len, 11);
    assert_memory_equal(out[0].name, "traceparent", 11);
    assert_int_equal(out[0].value_len, MD_TRACEPARENT_LEN);
    char want[MD_TRACEPARENT_LEN + 1];
    md_traceparent_format(want, tp_trace, t->calls[1].span_id, 1);
    assert_memory_equal(out[0].value, want, MD_TRACEPARENT_LEN);
    assert_memory_equal(out[1].name, "tracestate", 10);
    assert_int_equal(out[1].value_len, 6);
    assert_memory_equal(out[1].value, "rojo=1", 6);
    /* a configured tracestate keeps its place; a configured traceparent
     * owns the whole context */
    md_header_t own_state[1] = { { "TraceState", 10, "mine=1", 6 } };
    assert_int_equal(md_tm_trace_headers(t, 0, f.req.pool, out, own_state, 1), 1);
    assert_memory_equal(out[0].name, "traceparent", 11);
    md_header_t own_parent[1] = { { "traceparent", 11, "x", 1 } };
    assert_int_equal(md_tm_trace_headers(t, 0, f.req.pool, out, own_parent, 1), 0);
    assert_int_equal(md_tm_trace_headers(NULL, 0, f.req.pool, out, NULL, 0), 0);
    assert_int_equal(md_tm_trace_headers(t, 5, f.req.pool, out, NULL, 0), 0);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_valid_version_00),
        cmocka_unit_test(traceparent_invalid_forms),
        cmocka_unit_test(traceparent_future_version),
        cmocka_unit_test(traceparent_format),
        cmocka_unit_test(tracestate_valid_lists),
        cmocka_unit_test(tracestate_invalid_lists),
        cmocka_unit_test(tracestate_bounds),
        cmocka_unit_test(ids_are_random_and_never_zero),
        cmocka_unit_test(incoming_context_is_continued),
        cmocka_unit_test(unsampled_caller_is_followed),
        cmocka_unit_test(bad_context_starts_a_new_trace),
        cmocka_unit_test(bad_tracestate_is_dropped),
        cmocka_unit_test(new_traces_follow_the_sample_rate),
        cmocka_unit_test(trace_headers_for_a_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
