/*
 * Unit tests for the protobuf side of span export: the wire primitives of
 * telemetry/protobuf (varints at their boundaries, tags, fixed64, strings
 * made UTF-8, nested lengths, the buffer's cap), the ExportTraceServiceRequest
 * otlp.c writes (the default otlp_protocol), and keep-alive to the
 * collector.
 *
 * Expected bytes are written out by hand from the protobuf encoding rules
 * and the opentelemetry-proto field numbers. Encoded requests are read
 * back with a small wire-format decoder of this file (not the encoder's
 * code), which also insists on minimal varints and known fields with the
 * right wire types; and the same spans encoded as JSON are compared with
 * the protobuf field by field.
 */
#include "testutil.h"

#include "otlptest.h"

#include "config/config.h"
#include "json/scan.h"
#include "telemetry/otlp.h"
#include "telemetry/protobuf.h"
#include "telemetry/record.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void expect_bytes(const md_buf_t *b, const char *want, size_t n)
{
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        char got[256] = "";
        for (size_t i = 0, k = 0; i < b->len && k + 4 < sizeof(got); i++)
            k += (size_t)snprintf(got + k, sizeof(got) - k, "%02x ", (unsigned char)b->data[i]);
        fail_msg("got %zu bytes (%s), expected %zu", b->len, got, n);
    }
}

/* ---- an independent wire-format decoder ---- */

typedef struct field {
    uint32_t num;
    int wt;
    uint64_t v;                 /* wire types 0 and 1 */
    const uint8_t *p;           /* wire type 2 */
    size_t n;
} field_t;

/* At most 10 bytes, the tenth 0 or 1, and minimal: no trailing 0x00
 * group (the encoder promises minimal lengths). */
static bool get_varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 10 && *pos < len; i++) {
        uint8_t c = b[(*pos)++];
        if (i == 9 && c > 1)
            return false;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (i > 0 && c == 0)
                return false;
            *out = v;
            return true;
        }
    }
    return false;
}

/* The fields of one message; fails the test on anything malformed. */
static size_t split(const uint8_t *b, size_t len, field_t *f, size_t max)
{
    size_t pos = 0, n = 0;
    while (pos < len) {
        uint64_t tag = 0, l = 0;
        if (!get_varint(b, len, &pos, &tag))
            fail_msg("bad tag varint at byte %zu", pos);
        if (n == max)
            fail_msg("more than %zu fields", max);
        field_t *x = &f[n++];
        *x = (field_t){ .num = (uint32_t)(tag >> 3), .wt = (int)(tag & 7) };
        if (x->num == 0)
            fail_msg("field number 0 at byte %zu", pos);
        switch (x->wt) {
        case 0:
            if (!get_varint(b, len, &pos, &x->v))
                fail_msg("bad varint at byte %zu", pos);
            break;
        case 1:
            if (len - pos < 8)
                fail_msg("fixed64 past the end");
            for (int i = 7; i >= 0; i--)
                x->v = x->v << 8 | b[pos + (size_t)i];
            pos += 8;
            break;
        case 2:
            if (!get_varint(b, len, &pos, &l) || l > len - pos)
                fail_msg("bad length at byte %zu", pos);
            x->p = b + pos;
            x->n = (size_t)l;
            pos += (size_t)l;
            break;
        default:
            fail_msg("wire type %d at byte %zu", x->wt, pos);
        }
    }
    return n;
}

static void need(const field_t *f, int wt, const char *what)
{
    if (f->wt != wt)
        fail_msg("%s (field %u) has wire type %d, expected %d", what, f->num, f->wt, wt);
}

#define D_STR 4200
#define D_ATTRS 16
#define D_SPANS 16

typedef struct dattr {
    char key[64];
    bool is_int;
    uint64_t i;
    char s[D_STR];
    size_t slen;
} dattr_t;

typedef struct dspan {
    uint8_t trace_id[16], span_id[8], parent[8];
    bool has_parent, has_status;
    char name[D_STR];
    size_t name_len;
    uint64_t kind, start, end, status_code;
    size_t nattrs;
    dattr_t attrs[D_ATTRS];
    size_t wire_len;            /* the Span message's bytes */
} dspan_t;

typedef struct dreq {
    dattr_t service;
    char scope_name[64], scope_version[64];
    size_t nspans;
    dspan_t spans[D_SPANS];
} dreq_t;

static void copy_str(char *dst, size_t cap, size_t *len, const field_t *f)
{
    if (f->n >= cap)
        fail_msg("a %zu-byte string", f->n);
    memcpy(dst, f->p, f->n);
    dst[f->n] = '\0';
    if (len)
        *len = f->n;
}

/* KeyValue { key = 1; AnyValue value = 2 { string_value = 1 | int_value = 3 } } */
static void decode_kv(const field_t *kv, dattr_t *a)
{
    field_t f[4], v[2];
    need(kv, 2, "KeyValue");
    size_t n = split(kv->p, kv->n, f, 4);
    assert_int_equal(n, 2);
    assert_int_equal(f[0].num, 1);
    need(&f[0], 2, "KeyValue.key");
    copy_str(a->key, sizeof(a->key), NULL, &f[0]);
    assert_int_equal(f[1].num, 2);
    need(&f[1], 2, "KeyValue.value");
    assert_int_equal(split(f[1].p, f[1].n, v, 2), 1);
    if (v[0].num == 1) {
        need(&v[0], 2, "AnyValue.string_value");
        a->is_int = false;
        copy_str(a->s, sizeof(a->s), &a->slen, &v[0]);
    } else if (v[0].num == 3) {
        need(&v[0], 0, "AnyValue.int_value");
        a->is_int = true;
        a->i = v[0].v;
    } else {
        fail_msg("AnyValue field %u", v[0].num);
    }
}

static void decode_id(uint8_t *dst, size_t n, const field_t *f, const char *what)
{
    need(f, 2, what);
    if (f->n != n)
        fail_msg("%s is %zu bytes, expected %zu", what, f->n, n);
    memcpy(dst, f->p, n);
}

/* Span: the fields medley writes, each with its wire type, in field order. */
static void decode_span(const field_t *sf, dspan_t *d)
{
    field_t f[32];
    need(sf, 2, "Span");
    d->wire_len = sf->n;
    size_t n = split(sf->p, sf->n, f, 32);
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && f[i].num < f[i - 1].num)
            fail_msg("span field %u after %u", f[i].num, f[i - 1].num);
        if (f[i].num != 9 && (seen & (1u << f[i].num)))
            fail_msg("span field %u twice", f[i].num);
        seen |= 1u << (f[i].num & 31);
        switch (f[i].num) {
        case 1: decode_id(d->trace_id, 16, &f[i], "trace_id"); break;
        case 2: decode_id(d->span_id, 8, &f[i], "span_id"); break;
        case 4: decode_id(d->parent, 8, &f[i], "parent_span_id"); d->has_parent = true; break;
        case 5: need(&f[i], 2, "name"); copy_str(d->name, sizeof(d->name), &d->name_len, &f[i]); break;
        case 6: need(&f[i], 0, "kind"); d->kind = f[i].v; break;
        case 7: need(&f[i], 1, "start_time_unix_nano"); d->start = f[i].v; break;
        case 8: need(&f[i], 1, "end_time_unix_nano"); d->end = f[i].v; break;
        case 9:
            assert_true(d->nattrs < D_ATTRS);
            decode_kv(&f[i], &d->attrs[d->nattrs++]);
            break;
        case 15: {
            field_t st[2];
            need(&f[i], 2, "status");
            assert_int_equal(split(f[i].p, f[i].n, st, 2), 1);
            assert_int_equal(st[0].num, 3); /* Status.code; 1 is reserved, 2 the message */
            need(&st[0], 0, "Status.code");
            d->has_status = true;
            d->status_code = st[0].v;
            break;
        }
        default: fail_msg("unexpected span field %u", f[i].num);
        }
    }
    unsigned required = 1u << 1 | 1u << 2 | 1u << 5 | 1u << 6 | 1u << 7 | 1u << 8;
    if ((seen & required) != required)
        fail_msg("span fields seen %#x, required %#x", seen, required);
}

/* ExportTraceServiceRequest { resource_spans = 1 { resource = 1 { attributes = 1 },
 * scope_spans = 2 { scope = 1 { name = 1, version = 2 }, spans = 2 ... } } } */
static void decode_request(const char *body, size_t len, dreq_t *r)
{
    field_t top[2], rs[4], res[2], ss[D_SPANS + 2], sc[4];
    memset(r, 0, sizeof(*r));
    assert_int_equal(split((const uint8_t *)body, len, top, 2), 1);
    assert_int_equal(top[0].num, 1);
    need(&top[0], 2, "resource_spans");
    assert_int_equal(split(top[0].p, top[0].n, rs, 4), 2);
    assert_int_equal(rs[0].num, 1);
    need(&rs[0], 2, "resource");
    assert_int_equal(rs[1].num, 2);
    need(&rs[1], 2, "scope_spans");
    assert_int_equal(split(rs[0].p, rs[0].n, res, 2), 1);
    assert_int_equal(res[0].num, 1);
    decode_kv(&res[0], &r->service);
    size_t n = split(rs[1].p, rs[1].n, ss, D_SPANS + 2);
    assert_true(n >= 1);
    assert_int_equal(ss[0].num, 1);
    need(&ss[0], 2, "scope");
    assert_int_equal(split(ss[0].p, ss[0].n, sc, 4), 2);
    assert_int_equal(sc[0].num, 1);
    copy_str(r->scope_name, sizeof(r->scope_name), NULL, &sc[0]);
    assert_int_equal(sc[1].num, 2);
    copy_str(r->scope_version, sizeof(r->scope_version), NULL, &sc[1]);
    for (size_t i = 1; i < n; i++) {
        assert_int_equal(ss[i].num, 2);
        decode_span(&ss[i], &r->spans[r->nspans++]);
    }
}

static const dattr_t *find_attr(const dspan_t *d, const char *key)
{
    for (size_t i = 0; i < d->nattrs; i++)
        if (strcmp(d->attrs[i].key, key) == 0)
            return &d->attrs[i];
    return NULL;
}

static void expect_sattr(const dspan_t *d, const char *key, const char *want)
{
    const dattr_t *a = find_attr(d, key);
    if (!want) {
        if (a)
            fail_msg("%s is set, expected none", key);
        return;
    }
    if (!a || a->is_int || a->slen != strlen(want) || memcmp(a->s, want, a->slen) != 0)
        fail_msg("%s is %s, expected \"%s\"", key, a ? (a->is_int ? "an int" : a->s) : "absent", want);
}

static void expect_iattr(const dspan_t *d, const char *key, uint64_t want)
{
    const dattr_t *a = find_attr(d, key);
    if (!a || !a->is_int || a->i != want)
        fail_msg("%s: expected the int %llu", key, (unsigned long long)want);
}

/* ---- wire primitives ---- */

static void varint_boundaries(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *bytes;
        size_t n;
    } cases[] = {
        { 0, "\x00", 1 },
        { 1, "\x01", 1 },
        { 127, "\x7f", 1 },
        { 128, "\x80\x01", 2 },
        { 300, "\xac\x02", 2 },
        { 16383, "\xff\x7f", 2 },
        { 16384, "\x80\x80\x01", 3 },
        { 0xffffffffull, "\xff\xff\xff\xff\x0f", 5 },
        { 0x100000000ull, "\x80\x80\x80\x80\x10", 5 },
        { 1ull << 63, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 10 },
        { UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10 },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_buf_t b;
        md_buf_init(&b, 0);
        assert_int_equal(md_pb_varint_len(cases[i].v), cases[i].n);
        assert_int_equal(md_pb_varint(&b, cases[i].v), MD_OK);
        expect_bytes(&b, cases[i].bytes, cases[i].n);
        size_t pos = 0;
        uint64_t back = 0;
        assert_true(get_varint((const uint8_t *)b.data, b.len, &pos, &back));
        assert_true(back == cases[i].v);
        char raw[MD_PB_VARINT_MAX + 1];
        memset(raw, 0x55, sizeof(raw));
        assert_ptr_equal(md_pb_put_varint(raw, cases[i].v), raw + cases[i].n);
        assert_memory_equal(raw, cases[i].bytes, cases[i].n);
        assert_int_equal((unsigned char)raw[cases[i].n], 0x55); /* nothing past it */
        md_buf_free(&b);
    }
}

static void tags_fixed64_and_bytes(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_pb_tag(&b, 1, MD_PB_LEN), MD_OK);                    /* 1 << 3 | 2 */
    assert_int_equal(md_pb_tag(&b, 15, MD_PB_LEN), MD_OK);                   /* 15 << 3 | 2 */
    assert_int_equal(md_pb_tag(&b, 16, MD_PB_VARINT), MD_OK);                /* 128: two bytes */
    assert_int_equal(md_pb_tag(&b, (1u << 29) - 1, MD_PB_I32), MD_OK);       /* 0xfffffffd */
    expect_bytes(&b, "\x0a\x7a\x80\x01\xfd\xff\xff\xff\x0f", 9);
    md_buf_reset(&b);
    assert_int_equal(md_pb_uint(&b, 6, 2), MD_OK);
    assert_int_equal(md_pb_uint(&b, 3, 65535), MD_OK);
    assert_int_equal(md_pb_fixed64(&b, 7, 0x0102030405060708ull), MD_OK);
    assert_int_equal(md_pb_fixed64(&b, 8, UINT64_MAX), MD_OK);
    assert_int_equal(md_pb_bytes(&b, 2, "abc", 3), MD_OK);
    assert_int_equal(md_pb_bytes(&b, 1, NULL, 0), MD_OK);
    expect_bytes(&b,
                 "\x30\x02"
                 "\x18\xff\xff\x03"
                 "\x39\x08\x07\x06\x05\x04\x03\x02\x01"
                 "\x41\xff\xff\xff\xff\xff\xff\xff\xff"
                 "\x12\x03"
                 "abc"
                 "\x0a\x00",
                 2 + 4 + 9 + 9 + 5 + 2);
    /* Field numbers no decoder accepts: refused, nothing written. */
    size_t len = b.len;
    assert_int_equal(md_pb_tag(&b, 0, MD_PB_VARINT), MD_EINVAL);
    assert_int_equal(md_pb_uint(&b, 1u << 29, 1), MD_EINVAL);
    assert_int_equal(md_pb_fixed64(&b, 0, 1), MD_EINVAL);
    assert_int_equal(md_pb_bytes(&b, UINT32_MAX, "x", 1), MD_EINVAL);
    assert_int_equal(md_pb_string(&b, 0, "x", 1), MD_EINVAL);
    size_t mark;
    assert_int_equal(md_pb_open(&b, 0, &mark), MD_EINVAL);
    assert_int_equal(b.len, len);
    md_buf_free(&b);
}

static void strings_are_made_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        size_t in_len, out_len;
    } cases[] = {
        { "plain", "plain", 5, 5 },
        { "caf\xc3\xa9 \xe6\x9d\xb1", "caf\xc3\xa9 \xe6\x9d\xb1", 9, 9 },    /* valid: kept */
        { "a\xff" "b", "a\xef\xbf\xbd" "b", 3, 5 },                        /* invalid byte */
        { "\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd", 2, 6 },                   /* cut sequence */
        { "\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd", 2, 6 },                   /* overlong NUL */
        { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3, 9 },   /* a surrogate */
        { "x\x00y", "x\x00y", 3, 3 },                                      /* NUL is UTF-8 */
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_buf_t b;
        md_buf_init(&b, 0);
        assert_int_equal(md_pb_utf8_len(cases[i].in, cases[i].in_len), cases[i].out_len);
        assert_int_equal(md_pb_string(&b, 1, cases[i].in, cases[i].in_len), MD_OK);
        assert_int_equal(b.len, 2 + cases[i].out_len);
        assert_int_equal((unsigned char)b.data[0], 0x0a);
        assert_int_equal((unsigned char)b.data[1], cases[i].out_len);
        assert_memory_equal(b.data + 2, cases[i].out, cases[i].out_len);
        md_buf_free(&b);
    }
}

/* A message of n content bytes has a length of md_pb_varint_len(n) bytes,
 * and its content is where it should be. */
static void nested_lengths_are_minimal(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 127, 128, 300, 16383, 16384, 70000 };
    for (size_t k = 0; k < MD_ARRAY_LEN(sizes); k++) {
        size_t n = sizes[k];
        md_buf_t b;
        md_buf_init(&b, 0);
        assert_int_equal(md_buf_append(&b, "P", 1), MD_OK); /* something before it */
        size_t mark;
        assert_int_equal(md_pb_open(&b, 2, &mark), MD_OK);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(md_buf_append_char(&b, (char)(i % 251)), MD_OK);
        assert_int_equal(md_pb_close(&b, mark), MD_OK);
        size_t hl = n < 128 ? 1 : n < 16384 ? 2 : 3;
        assert_int_equal(b.len, 1 + 1 + hl + n);
        assert_int_equal(b.data[0], 'P');
        assert_int_equal((unsigned char)b.data[1], 0x12);
        size_t pos = 2;
        uint64_t got = 0;
        assert_true(get_varint((const uint8_t *)b.data, b.len, &pos, &got));
        assert_int_equal(pos, 2 + hl);
        assert_int_equal(got, n);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)b.data[pos + i] != i % 251)
                fail_msg("size %zu: byte %zu moved wrong", n, i);
        md_buf_free(&b);
    }
    /* Nested: 1 { 2 { 3: 200 bytes } }; inner 3 + 200 = 203, middle
     * 1 + 2 + 203 = 206, outer 1 + 2 + 206. */
    md_buf_t b;
    md_buf_init(&b, 0);
    size_t outer, inner;
    char blob[200];
    memset(blob, 'z', sizeof(blob));
    assert_int_equal(md_pb_open(&b, 1, &outer), MD_OK);
    assert_int_equal(md_pb_open(&b, 2, &inner), MD_OK);
    assert_int_equal(md_pb_bytes(&b, 3, blob, sizeof(blob)), MD_OK);
    assert_int_equal(md_pb_close(&b, inner), MD_OK);
    assert_int_equal(md_pb_close(&b, outer), MD_OK);
    assert_int_equal(b.len, 3 + 206);
    assert_memory_equal(b.data, "\x0a\xce\x01\x12\xcb\x01\x1a\xc8\x01zzz", 12);
    field_t f[2];
    assert_int_equal(split((const uint8_t *)b.data, b.len, f, 2), 1);
    assert_int_equal(split(f[0].p, f[0].n, f, 2), 1);
    assert_int_equal(f[0].num, 2);
    assert_int_equal(split(f[0].p, f[0].n, f, 2), 1);
    assert_int_equal(f[0].num, 3);
    assert_int_equal(f[0].n, 200);
    md_buf_free(&b);
}

static void primitives_stop_at_the_cap(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 6);
    assert_int_equal(md_pb_bytes(&b, 1, "abcd", 4), MD_OK); /* 6 bytes: exactly the cap */
    assert_int_equal(md_pb_varint(&b, 0), MD_ETOOBIG);
    assert_int_equal(md_pb_tag(&b, 1, MD_PB_LEN), MD_ETOOBIG);
    assert_int_equal(b.len, 6);
    md_buf_reset(&b);
    assert_int_equal(md_pb_varint(&b, UINT64_MAX), MD_ETOOBIG); /* 10 bytes */
    assert_int_equal(md_pb_fixed64(&b, 1, 0), MD_ETOOBIG);      /* 9 bytes */
    assert_int_equal(md_pb_bytes(&b, 1, "abcde", 5), MD_ETOOBIG);
    assert_int_equal(md_pb_string(&b, 1, "a\xff\xff", 3), MD_ETOOBIG); /* 2 + 7 */
    assert_int_equal(md_pb_uint(&b, 1, 1ull << 40), MD_ETOOBIG);
    assert_int_equal(b.len, 0);
    assert_int_equal(md_pb_uint(&b, 1, 1ull << 28), MD_OK); /* 1 + 5 */
    assert_int_equal(b.len, 6);
    md_buf_free(&b);
    /* close needs a second length byte that the cap has no room for */
    md_buf_init(&b, 2 + 128);
    size_t mark;
    assert_int_equal(md_pb_open(&b, 1, &mark), MD_OK);
    char blob[128];
    memset(blob, 'q', sizeof(blob));
    assert_int_equal(md_buf_append(&b, blob, sizeof(blob)), MD_OK);
    assert_int_equal(md_pb_close(&b, mark), MD_ETOOBIG);
    md_buf_free(&b);
    md_buf_init(&b, 3 + 128);
    assert_int_equal(md_pb_open(&b, 1, &mark), MD_OK);
    assert_int_equal(md_buf_append(&b, blob, sizeof(blob)), MD_OK);
    assert_int_equal(md_pb_close(&b, mark), MD_OK);
    assert_int_equal(b.len, 131);
    assert_memory_equal(b.data, "\x0a\x80\x01qq", 5);
    md_buf_free(&b);
}

/* ---- the export request ---- */

/* otlp_config with the default protocol and a second endpoint, whose
 * route and backend name are not ASCII. */
static md_config_t *load_cfg(uint16_t port, const char *extra)
{
    return otlp_config(port, NULL, extra,
                       "  - path: \"/caf\xc3\xa9/{id}\"\n    backends:\n"
                       "      - { name: caf\xc3\xa9, upstream: news, path: /c, as: c }\n");
}

static void encodes_one_span(void **state)
{
    (void)state;
    md_config_t *cfg = load_cfg(4318, ""); /* protobuf by default */
    assert_int_equal(cfg->telemetry.otlp_protocol, MD_OTLP_PROTOBUF);
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s = server_span();
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_otlp_encode(x, &s, 1, &b), MD_OK);
    /* The resource, byte for byte: resource_spans (0a, 2-byte length),
     * resource (0a 17), its one KeyValue (0a 15: key 0a 0c, value 12 05
     * holding string_value 0a 03 "svc"), then scope_spans (12). */
    assert_int_equal((unsigned char)b.data[0], 0x0a);
    assert_true((unsigned char)b.data[1] & 0x80);
    assert_memory_equal(b.data + 3, "\x0a\x17\x0a\x15\x0a\x0cservice.name\x12\x05\x0a\x03svc\x12", 26);
    dreq_t *r = calloc(1, sizeof(*r));
    decode_request(b.data, b.len, r);
    assert_string_equal(r->service.key, "service.name");
    assert_string_equal(r->service.s, "svc");
    assert_string_equal(r->scope_name, "medley");
    assert_string_equal(r->scope_version, MD_VERSION);
    assert_int_equal(r->nspans, 1);
    const dspan_t *d = &r->spans[0];
    assert_memory_equal(d->trace_id, tp_trace, 16);
    assert_memory_equal(d->span_id, my_span, 8);
    assert_true(d->has_parent);
    assert_memory_equal(d->parent, tp_span, 8);
    assert_string_equal(d->name, "GET /home");
    assert_int_equal(d->kind, 2); /* SPAN_KIND_SERVER */
    assert_true(d->start == 1700000000123456789ull);
    assert_true(d->end == 1700000000127456789ull);
    assert_false(d->has_status);
    assert_int_equal(d->nattrs, 6);
    static const char *const keys[] = { "http.request.method", "url.path", "http.route",
                                        "http.response.status_code", "server.address", "server.port" };
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(d->attrs[i].key, keys[i]);
    expect_sattr(d, "http.request.method", "GET");
    expect_sattr(d, "url.path", "/home");
    expect_sattr(d, "http.route", "/home");
    expect_iattr(d, "http.response.status_code", 200);
    expect_sattr(d, "server.address", "api.example");
    expect_iattr(d, "server.port", 8080);
    /* Every cap short of the whole request fails and leaves the buffer
     * as it was; the exact size succeeds. */
    for (size_t cap = 4; cap < b.len + 4; cap++) {
        md_buf_t small;
        md_buf_init(&small, cap);
        md_buf_append_str(&small, "keep");
        assert_int_equal(md_otlp_encode(x, &s, 1, &small), MD_ETOOBIG);
        assert_int_equal(small.len, 4);
        assert_memory_equal(small.data, "keep", 5);
        md_buf_free(&small);
    }
    md_buf_t exact;
    md_buf_init(&exact, b.len + 4);
    md_buf_append_str(&exact, "keep");
    assert_int_equal(md_otlp_encode(x, &s, 1, &exact), MD_OK);
    assert_memory_equal(exact.data + 4, b.data, b.len);
    md_buf_free(&exact);
    free(r);
    md_buf_free(&b);
    md_otlp_free(x);
    md_config_free(cfg);
}

static void encodes_failures_and_odd_values(void **state)
{
    (void)state;
    md_config_t *cfg = load_cfg(4318, ", otlp_protocol: http/protobuf");
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s[5];
    odd_spans(s, "/a\"b\x01\xff", 6);
    s[4] = s[2];
    s[4].endpoint = 1;
    s[4].backend = 0;
    s[4].status = 200;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_otlp_encode(x, s, 5, &b), MD_OK);
    dreq_t *r = calloc(1, sizeof(*r));
    decode_request(b.data, b.len, r);
    assert_int_equal(r->nspans, 5);
    const dspan_t *d = &r->spans[0];
    assert_false(d->has_parent);
    assert_string_equal(d->name, "HTTP");
    assert_int_equal(d->kind, 2);
    expect_sattr(d, "http.request.method", "_OTHER");
    expect_sattr(d, "url.path", "/a\"b\x01\xef\xbf\xbd"); /* the bad byte made U+FFFD */
    expect_sattr(d, "http.route", NULL);
    expect_sattr(d, "server.address", NULL);
    assert_null(find_attr(d, "server.port"));
    expect_sattr(d, "error.type", "502");
    assert_true(d->has_status);
    assert_int_equal(d->status_code, 2); /* STATUS_CODE_ERROR */
    d = &r->spans[1];
    assert_string_equal(d->name, "vacation");
    assert_int_equal(d->kind, 3); /* SPAN_KIND_CLIENT */
    assert_memory_equal(d->parent, tp_span, 8);
    expect_sattr(d, "http.request.method", "POST");
    expect_sattr(d, "server.address", "::1");
    expect_iattr(d, "server.port", 9002);
    assert_null(find_attr(d, "http.response.status_code"));
    expect_sattr(d, "error.type", "timeout");
    assert_true(d->has_status);
    d = &r->spans[2];
    assert_string_equal(d->name, "news");
    expect_iattr(d, "http.response.status_code", 404);
    expect_sattr(d, "error.type", "404");
    assert_true(d->has_status);
    d = &r->spans[3];
    expect_sattr(d, "error.type", NULL);
    assert_false(d->has_status);
    assert_true(d->end == 1700000000123456789ull); /* never before the start */
    d = &r->spans[4];
    assert_string_equal(d->name, "caf\xc3\xa9");
    free(r);
    md_buf_free(&b);
    md_otlp_free(x);
    md_config_free(cfg);
}

static void encodes_the_longest_strings(void **state)
{
    (void)state;
    char route[2002];
    md_config_t *cfg = long_route_config(route, 'r', "");
    md_otlp_t *x = md_otlp_new(cfg);
    md_span_t s[2];
    longest_spans(s, (char)0xff, 1000, (char)0x80); /* a path longer than the record holds: cut to it */
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_otlp_encode(x, s, 2, &b), MD_OK);
    dreq_t *r = calloc(1, sizeof(*r));
    decode_request(b.data, b.len, r);
    assert_string_equal(r->service.s, "medley");
    const dspan_t *d = &r->spans[0];
    assert_int_equal(d->name_len, 4 + 1 + 2001); /* "HTTP " and the route */
    expect_sattr(d, "http.route", route);
    const dattr_t *a = find_attr(d, "url.path");
    assert_non_null(a);
    assert_int_equal(a->slen, 3 * MD_SPAN_PATH_MAX);
    a = find_attr(d, "server.address");
    assert_non_null(a);
    assert_int_equal(a->slen, 3 * MD_SPAN_HOST_MAX);
    assert_true(d->wire_len < 8192); /* SPAN_PB_MAX in otlp.c: the body's bound per span */
    d = &r->spans[1];
    expect_sattr(d, "error.type", "too_big");
    expect_iattr(d, "http.response.status_code", 65535);
    assert_true(d->start == UINT64_MAX && d->end == UINT64_MAX);
    free(r);
    md_buf_free(&b);
    md_otlp_free(x);
    md_config_free(cfg);
}

/* ---- the same spans as the JSON encoder ---- */

static uint32_t json_member(const char *j, const md_json_tok_t *t, uint32_t obj, const char *key)
{
    return md_json_member(j, t, obj, key, strlen(key));
}

static void expect_json_str(const char *j, const md_json_tok_t *t, uint32_t v, const char *s, size_t n,
                            const char *what)
{
    if (v == MD_JSON_NONE || t[v].type != MD_JSON_STRING || !md_json_str_equal(j, &t[v], s, n))
        fail_msg("%s differs: JSON %.*s, protobuf %.*s", what, v == MD_JSON_NONE ? 4 : (int)t[v].len,
                 v == MD_JSON_NONE ? "none" : j + t[v].off, (int)n, s);
}

static void expect_json_num(const char *j, const md_json_tok_t *t, uint32_t v, uint64_t n, bool quoted,
                            const char *what)
{
    char want[32];
    snprintf(want, sizeof(want), quoted ? "\"%llu\"" : "%llu", (unsigned long long)n);
    if (v == MD_JSON_NONE || t[v].len != strlen(want) || memcmp(j + t[v].off, want, t[v].len) != 0)
        fail_msg("%s differs: JSON %.*s, protobuf %s", what, v == MD_JSON_NONE ? 4 : (int)t[v].len,
                 v == MD_JSON_NONE ? "none" : j + t[v].off, want);
}

static void expect_json_hex(const char *j, const md_json_tok_t *t, uint32_t v, const uint8_t *id, size_t n)
{
    char hex[40];
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    expect_json_str(j, t, v, hex, 2 * n, "an id");
}

static void same_span(const char *j, const md_json_tok_t *t, uint32_t sp, const dspan_t *d)
{
    expect_json_hex(j, t, json_member(j, t, sp, "traceId"), d->trace_id, 16);
    expect_json_hex(j, t, json_member(j, t, sp, "spanId"), d->span_id, 8);
    uint32_t parent = json_member(j, t, sp, "parentSpanId");
    assert_int_equal(parent != MD_JSON_NONE, d->has_parent);
    if (d->has_parent)
        expect_json_hex(j, t, parent, d->parent, 8);
    expect_json_str(j, t, json_member(j, t, sp, "name"), d->name, d->name_len, "name");
    expect_json_num(j, t, json_member(j, t, sp, "kind"), d->kind, false, "kind");
    expect_json_num(j, t, json_member(j, t, sp, "startTimeUnixNano"), d->start, true, "start");
    expect_json_num(j, t, json_member(j, t, sp, "endTimeUnixNano"), d->end, true, "end");
    uint32_t arr = json_member(j, t, sp, "attributes");
    assert_int_equal(t[arr].count, d->nattrs);
    for (uint32_t i = arr + 1, k = 0; k < t[arr].count; k++, i = t[i].next) {
        const dattr_t *a = &d->attrs[k];
        expect_json_str(j, t, json_member(j, t, i, "key"), a->key, strlen(a->key), "an attribute key");
        uint32_t v = json_member(j, t, i, "value");
        if (a->is_int)
            expect_json_num(j, t, json_member(j, t, v, "intValue"), a->i, true, a->key);
        else
            expect_json_str(j, t, json_member(j, t, v, "stringValue"), a->s, a->slen, a->key);
    }
    uint32_t st = json_member(j, t, sp, "status");
    assert_int_equal(st != MD_JSON_NONE, d->has_status);
    if (d->has_status)
        expect_json_num(j, t, json_member(j, t, st, "code"), d->status_code, false, "status code");
}

static md_span_t random_span(uint64_t *rng)
{
    static const char *const methods[] = { "GET", "POST", "get", "BREW", "PATCH", "VERYLONGMETHODXX" };
    static const uint16_t statuses[] = { 0, 200, 204, 399, 400, 404, 499, 500, 502, 503, 65535 };
    md_span_t s;
    memset(&s, 0, sizeof(s));
    md_trace_random_id(s.trace_id, 16);
    md_trace_random_id(s.span_id, 8);
    md_trace_random_id(s.parent_id, 8);
    s.has_parent = md_xorshift32(rng) & 1;
    s.kind = md_xorshift32(rng) & 1 ? MD_SPAN_CLIENT : MD_SPAN_SERVER;
    s.outcome = (uint8_t)(md_xorshift32(rng) % (MD_TM_NOT_STARTED + 1));
    s.status = statuses[md_xorshift32(rng) % MD_ARRAY_LEN(statuses)];
    s.endpoint = (int32_t)(md_xorshift32(rng) % 4) - 1;  /* -1 .. 2: 2 matches none */
    s.backend = (int32_t)(md_xorshift32(rng) % 4) - 1;
    const char *m = methods[md_xorshift32(rng) % MD_ARRAY_LEN(methods)];
    s.method_len = (uint8_t)strlen(m);
    memcpy(s.method, m, s.method_len);
    s.path_len = (uint16_t)(md_xorshift32(rng) % 300); /* past the record's 256 too */
    for (size_t i = 0; i < MD_SPAN_PATH_MAX; i++)
        s.path[i] = (char)(md_xorshift32(rng) % 4 ? 'a' + i % 26 : md_xorshift32(rng) & 0xff);
    s.host_len = (uint8_t)(md_xorshift32(rng) % (MD_SPAN_HOST_MAX + 1));
    for (size_t i = 0; i < MD_SPAN_HOST_MAX; i++)
        s.host[i] = (char)(md_xorshift32(rng) & 0xff);
    s.port = (uint16_t)(md_xorshift32(rng) % 3 ? md_xorshift32(rng) : 0);
    s.start_ns = (uint64_t)md_xorshift32(rng) << 32 | md_xorshift32(rng);
    s.end_ns = s.start_ns + (md_xorshift32(rng) % 4 ? md_xorshift32(rng) : (uint64_t)-1000);
    return s;
}

static void json_and_protobuf_carry_the_same_spans(void **state)
{
    (void)state;
    md_config_t *cj = load_cfg(4318, ", otlp_protocol: http/json");
    md_config_t *cp = load_cfg(4318, "");
    md_otlp_t *xj = md_otlp_new(cj), *xp = md_otlp_new(cp);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    dreq_t *r = calloc(1, sizeof(*r));
    for (int round = 0; round < 40; round++) {
        md_span_t s[D_SPANS];
        size_t n = 1 + md_xorshift32(&rng) % D_SPANS;
        for (size_t i = 0; i < n; i++)
            s[i] = random_span(&rng);
        md_buf_t bj, bp;
        md_buf_init(&bj, 0);
        md_buf_init(&bp, 0);
        assert_int_equal(md_otlp_encode(xj, s, n, &bj), MD_OK);
        assert_int_equal(md_otlp_encode(xp, s, n, &bp), MD_OK);
        assert_true(bp.len < bj.len);
        decode_request(bp.data, bp.len, r);
        assert_int_equal(r->nspans, n);
        md_json_toks_t toks;
        md_json_toks_init(&toks, 0);
        uint32_t root;
        char err[128];
        if (md_json_scan(&toks, bj.data, bj.len, &root, err, sizeof(err)) != MD_OK)
            fail_msg("not JSON: %s", err);
        const md_json_tok_t *t = toks.v;
        const char *j = bj.data;
        uint32_t rs = json_member(j, t, root, "resourceSpans") + 1;
        uint32_t res_attrs = json_member(j, t, json_member(j, t, rs, "resource"), "attributes");
        uint32_t svc = json_member(j, t, res_attrs + 1, "value");
        expect_json_str(j, t, json_member(j, t, svc, "stringValue"), r->service.s, r->service.slen, "service");
        uint32_t ss = json_member(j, t, rs, "scopeSpans") + 1;
        uint32_t scope = json_member(j, t, ss, "scope");
        expect_json_str(j, t, json_member(j, t, scope, "name"), r->scope_name, strlen(r->scope_name), "scope");
        expect_json_str(j, t, json_member(j, t, scope, "version"), r->scope_version, strlen(r->scope_version),
                        "version");
        uint32_t arr = json_member(j, t, ss, "spans");
        assert_int_equal(t[arr].count, n);
        for (uint32_t i = arr + 1, k = 0; k < n; k++, i = t[i].next)
            same_span(j, t, i, &r->spans[k]);
        md_json_toks_free(&toks);
        md_buf_free(&bj);
        md_buf_free(&bp);
    }
    free(r);
    md_otlp_free(xj);
    md_otlp_free(xp);
    md_config_free(cj);
    md_config_free(cp);
}

/* ---- a keep-alive collector on a thread ---- */

#define KR_MAX 16

typedef enum {
    KR_KEEP,            /* answer every request on the connection it came on */
    KR_CLOSE_AFTER,     /* close after each answer (while the answer says keep-alive) */
    KR_RESET_LATER,     /* answer the first request; reset every connection a later one comes on */
    KR_STRAY,           /* after each answer, a stray 408 and a close (idle timeout, some servers) */
} kr_mode_t;

typedef struct krx {
    int lfd;
    uint16_t port;
    const char *reply;
    kr_mode_t mode;
    pthread_t th;
    volatile bool stop;
    pthread_mutex_t mu;
    int conns, reqs, resets;
    char head[KR_MAX][1024];
    char *body[KR_MAX];
    size_t body_len[KR_MAX];
} krx_t;

/* Waits for fd to be readable, watching r->stop. */
static bool kr_wait(krx_t *r, int fd)
{
    while (!r->stop) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 20) > 0)
            return true;
    }
    return false;
}

/* Reads one request; false at EOF or on a stop. */
static bool kr_read(krx_t *r, int fd)
{
    char buf[1 << 16];
    size_t len = 0, want = SIZE_MAX;
    char *end = NULL;
    while (len < sizeof(buf) && len < want) {
        if (!kr_wait(r, fd))
            return false;
        ssize_t k = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (k <= 0)
            return false;
        len += (size_t)k;
        if (!end && (end = memmem(buf, len, "\r\n\r\n", 4)) != NULL) {
            size_t hl = (size_t)(end - buf) + 4;
            const char *cl = memmem(buf, hl, "Content-Length: ", 16);
            want = hl + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        }
    }
    size_t hl = (size_t)(end - buf) + 4;
    pthread_mutex_lock(&r->mu);
    if (r->reqs < KR_MAX) {
        snprintf(r->head[r->reqs], sizeof(r->head[0]), "%.*s", (int)hl, buf);
        r->body_len[r->reqs] = len - hl;
        r->body[r->reqs] = malloc(len - hl + 1);
        memcpy(r->body[r->reqs], buf + hl, len - hl);
    }
    r->reqs++;
    pthread_mutex_unlock(&r->mu);
    return true;
}

static void kr_reset(krx_t *r, int fd)
{
    struct linger lg = { 1, 0 }; /* close with RST, the request unread */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    pthread_mutex_lock(&r->mu);
    r->resets++;
    pthread_mutex_unlock(&r->mu);
}

static void kr_serve(krx_t *r, int fd)
{
    for (;;) {
        if (r->mode == KR_RESET_LATER && r->reqs >= 1) {
            if (kr_wait(r, fd))
                kr_reset(r, fd);
            return;
        }
        if (!kr_read(r, fd))
            return;
        send(fd, r->reply, strlen(r->reply), MSG_NOSIGNAL);
        if (r->mode == KR_STRAY) {
            usleep(10000);
            const char *stray = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n";
            send(fd, stray, strlen(stray), MSG_NOSIGNAL);
        }
        if (r->mode == KR_CLOSE_AFTER || r->mode == KR_STRAY)
            return;
    }
}

static void *kr_main(void *arg)
{
    krx_t *r = arg;
    while (!r->stop) {
        if (!kr_wait(r, r->lfd))
            break;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&r->mu);
        r->conns++;
        pthread_mutex_unlock(&r->mu);
        kr_serve(r, fd);
        close(fd);
    }
    return NULL;
}

static void kr_start(krx_t *r, kr_mode_t mode, const char *reply)
{
    memset(r, 0, sizeof(*r));
    r->lfd = collector_listen(&r->port);
    r->mode = mode;
    r->reply = reply;
    pthread_mutex_init(&r->mu, NULL);
    pthread_create(&r->th, NULL, kr_main, r);
}

static void kr_stop(krx_t *r)
{
    r->stop = true;
    pthread_join(r->th, NULL);
    close(r->lfd);
    for (int i = 0; i < r->reqs && i < KR_MAX; i++)
        free(r->body[i]);
    pthread_mutex_destroy(&r->mu);
}

static void kr_counts(krx_t *r, int *conns, int *reqs, int *resets)
{
    pthread_mutex_lock(&r->mu);
    *conns = r->conns;
    *reqs = r->reqs;
    *resets = r->resets;
    pthread_mutex_unlock(&r->mu);
}

/* Pushes 10 spans (ids ...00 to ...09) and flushes them in batches of 4. */
static void export_ten(md_otlp_t *x, size_t want_exported)
{
    md_span_t s[10];
    for (int i = 0; i < 10; i++) {
        s[i] = server_span();
        s[i].span_id[7] = (uint8_t)i;
    }
    md_otlp_push(x, s, 10);
    assert_int_equal(md_otlp_flush(x, 3000), want_exported);
}

static void keeps_the_connection_to_the_collector(void **state)
{
    (void)state;
    krx_t r;
    kr_start(&r, KR_KEEP, "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, ", queue: 16, batch: 4");
    md_otlp_t *x = md_otlp_new(cfg);
    export_ten(x, 10);
    md_otlp_stats_t st;
    md_otlp_get_stats(x, &st);
    assert_int_equal(st.exported, 10);
    assert_int_equal(st.failures, 0);
    int conns, reqs, resets;
    kr_counts(&r, &conns, &reqs, &resets);
    assert_int_equal(reqs, 3);
    assert_int_equal(conns, 1); /* three POSTs, one connection */
    static const size_t counts[3] = { 4, 4, 2 };
    dreq_t *d = calloc(1, sizeof(*d));
    int seen = 0;
    for (int k = 0; k < 3; k++) {
        assert_non_null(strstr(r.head[k], "POST /v1/traces HTTP/1.1\r\n"));
        assert_non_null(strstr(r.head[k], "\r\nContent-Type: application/x-protobuf\r\n"));
        assert_null(strstr(r.head[k], "\r\nConnection:"));
        decode_request(r.body[k], r.body_len[k], d);
        assert_int_equal(d->nspans, counts[k]);
        for (size_t i = 0; i < d->nspans; i++)
            assert_int_equal(d->spans[i].span_id[7], seen++);
    }
    free(d);
    md_otlp_free(x);
    md_config_free(cfg);
    kr_stop(&r);
}

/* Answers after which the connection must not be reused: each of the
 * three POSTs comes on a new one. */
static void doubtful_answers_close_the_connection(void **state)
{
    (void)state;
    static const char *const replies[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra",       /* more than its length */
        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{}",      /* a body too big to read */
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", /* conflicting */
        "HTTP/1.1 202 Accepted\r\nContent-Length: 4\r\n\r\n{}",     /* the body never ends */
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(replies); i++) {
        krx_t r;
        kr_start(&r, KR_KEEP, replies[i]);
        md_config_t *cfg = load_cfg(r.port, ", queue: 16, batch: 4, timeout: 300ms");
        md_otlp_t *x = md_otlp_new(cfg);
        export_ten(x, 10); /* 2xx: exported all the same */
        int conns, reqs, resets;
        kr_counts(&r, &conns, &reqs, &resets);
        if (reqs != 3 || conns != 3)
            fail_msg("reply %zu: %d requests on %d connections, expected 3 on 3", i, reqs, conns);
        md_otlp_free(x);
        md_config_free(cfg);
        kr_stop(&r);
    }
    /* A failed export closes it too. */
    krx_t r;
    kr_start(&r, KR_KEEP, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, "");
    md_otlp_t *x = md_otlp_new(cfg);
    int status = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(md_otlp_post(x, "", 0, 2000, &status), MD_OK);
        assert_int_equal(status, 503);
    }
    int conns, reqs, resets;
    kr_counts(&r, &conns, &reqs, &resets);
    assert_int_equal(reqs, 2);
    assert_int_equal(conns, 2);
    md_otlp_free(x);
    md_config_free(cfg);
    kr_stop(&r);
}

/* The collector closes the connection after each answer: the next POST
 * sees it closed and opens another, nothing lost or sent twice. */
static void a_closed_kept_connection_is_replaced(void **state)
{
    (void)state;
    krx_t r;
    kr_start(&r, KR_CLOSE_AFTER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, ", queue: 16, batch: 4");
    md_otlp_t *x = md_otlp_new(cfg);
    int status = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(md_otlp_post(x, "x", 1, 2000, &status), MD_OK);
        assert_int_equal(status, 200);
        usleep(20000); /* the collector's FIN arrives before the next POST */
    }
    export_ten(x, 10); /* and back to back, racing the FIN */
    md_otlp_stats_t st;
    md_otlp_get_stats(x, &st);
    assert_int_equal(st.failures, 0);
    int conns, reqs, resets;
    kr_counts(&r, &conns, &reqs, &resets);
    assert_int_equal(reqs, 6);
    assert_int_equal(conns, 6);
    md_otlp_free(x);
    md_config_free(cfg);
    kr_stop(&r);
}

/* Bytes that arrive on an idle kept connection are nobody's answer: the
 * connection is dropped, not read for the next POST's status. */
static void stray_bytes_retire_a_kept_connection(void **state)
{
    (void)state;
    krx_t r;
    kr_start(&r, KR_STRAY, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, "");
    md_otlp_t *x = md_otlp_new(cfg);
    for (int i = 0; i < 3; i++) {
        int status = 0;
        assert_int_equal(md_otlp_post(x, "x", 1, 2000, &status), MD_OK);
        assert_int_equal(status, 200);
        usleep(50000); /* the stray answer comes in meanwhile */
    }
    int conns, reqs, resets;
    kr_counts(&r, &conns, &reqs, &resets);
    assert_int_equal(reqs, 3);
    assert_int_equal(conns, 3);
    md_otlp_free(x);
    md_config_free(cfg);
    kr_stop(&r);
}

/* A kept connection reset before any answer is retried once on a new
 * connection; a new connection reset is not retried. */
static void a_reset_kept_connection_is_retried_once(void **state)
{
    (void)state;
    krx_t r;
    kr_start(&r, KR_RESET_LATER, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    md_config_t *cfg = load_cfg(r.port, "");
    md_otlp_t *x = md_otlp_new(cfg);
    int status = 0;
    assert_int_equal(md_otlp_post(x, "a", 1, 2000, &status), MD_OK);
    assert_int_equal(status, 200);
    assert_int_equal(md_otlp_post(x, "b", 1, 2000, &status), MD_ERESET);
    int conns, reqs, resets;
    kr_counts(&r, &conns, &reqs, &resets);
    assert_int_equal(reqs, 1);
    assert_int_equal(conns, 2);  /* the kept one and one retry */
    assert_int_equal(resets, 2); /* both reset, no third attempt */
    md_otlp_free(x);
    md_config_free(cfg);
    kr_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(varint_boundaries),
        cmocka_unit_test(tags_fixed64_and_bytes),
        cmocka_unit_test(strings_are_made_utf8),
        cmocka_unit_test(nested_lengths_are_minimal),
        cmocka_unit_test(primitives_stop_at_the_cap),
        cmocka_unit_test(encodes_one_span),
        cmocka_unit_test(encodes_failures_and_odd_values),
        cmocka_unit_test(encodes_the_longest_strings),
        cmocka_unit_test(json_and_protobuf_carry_the_same_spans),
        cmocka_unit_test(keeps_the_connection_to_the_collector),
        cmocka_unit_test(doubtful_answers_close_the_connection),
        cmocka_unit_test(a_closed_kept_connection_is_replaced),
        cmocka_unit_test(stray_bytes_retire_a_kept_connection),
        cmocka_unit_test(a_reset_kept_connection_is_retried_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
