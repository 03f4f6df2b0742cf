/*
 * protobuf.c - protocol buffers wire-format encoding into a bounded
 * md_buf_t (contract in protobuf.h). Each primitive measures first,
 * reserves once, then writes into the buffer's tail, so a field is never
 * half written.
 */
#include "telemetry/protobuf.h"

#include "core/common.h"
#include "json/scan.h"

#include <string.h>

#define FIELD_MAX ((1u << 29) - 1)

int md_pb_varint(md_buf_t *b, uint64_t v)
{
    int rc = md_buf_reserve(b, md_pb_varint_len(v));
    if (rc != MD_OK)
        return rc;
    char *p = md_buf_tail(b);
    md_buf_commit(b, (size_t)(md_pb_put_varint(p, v) - p));
    return MD_OK;
}

/* The tag of (field, wt), or 0 for a field number no decoder accepts
 * (0, or past 2^29 - 1: it would wrap into another field). */
static uint64_t tag_of(uint32_t field, md_pb_wire_t wt)
{
    if (field == 0 || field > FIELD_MAX)
        return 0;
    return ((uint64_t)field << 3) | (uint64_t)wt;
}

int md_pb_tag(md_buf_t *b, uint32_t field, md_pb_wire_t wt)
{
    uint64_t tag = tag_of(field, wt);
    return tag ? md_pb_varint(b, tag) : MD_EINVAL;
}

int md_pb_uint(md_buf_t *b, uint32_t field, uint64_t v)
{
    uint64_t tag = tag_of(field, MD_PB_VARINT);
    if (!tag)
        return MD_EINVAL;
    int rc = md_buf_reserve(b, md_pb_varint_len(tag) + md_pb_varint_len(v));
    if (rc != MD_OK)
        return rc;
    char *p = md_buf_tail(b), *e = md_pb_put_varint(md_pb_put_varint(p, tag), v);
    md_buf_commit(b, (size_t)(e - p));
    return MD_OK;
}

int md_pb_fixed64(md_buf_t *b, uint32_t field, uint64_t v)
{
    uint64_t tag = tag_of(field, MD_PB_I64);
    if (!tag)
        return MD_EINVAL;
    int rc = md_buf_reserve(b, md_pb_varint_len(tag) + 8);
    if (rc != MD_OK)
        return rc;
    char *p = md_buf_tail(b), *e = md_pb_put_fixed64(md_pb_put_varint(p, tag), v);
    md_buf_commit(b, (size_t)(e - p));
    return MD_OK;
}

/* Reserves a tag, a length and n content bytes and writes the first two;
 * *content is where the n bytes go (commit them with the rest). */
static int len_field(md_buf_t *b, uint32_t field, size_t n, char **content)
{
    uint64_t tag = tag_of(field, MD_PB_LEN);
    if (!tag)
        return MD_EINVAL;
    if (n > MD_PB_LEN_MAX || md_buf_reserve(b, md_pb_varint_len(tag) + md_pb_varint_len(n) + n) != MD_OK)
        return MD_ETOOBIG;
    *content = md_pb_put_varint(md_pb_put_varint(md_buf_tail(b), tag), n);
    return MD_OK;
}

int md_pb_bytes(md_buf_t *b, uint32_t field, const void *p, size_t n)
{
    char *d = NULL;
    int rc = len_field(b, field, n, &d);
    if (rc != MD_OK)
        return rc;
    if (n)
        memcpy(d, p, n);
    md_buf_commit(b, (size_t)(d + n - md_buf_tail(b)));
    return MD_OK;
}

static bool all_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

size_t md_pb_utf8_len(const char *s, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t k = (unsigned char)s[i] < 0x80 ? 1 : md_json_utf8_seq(s + i, n - i);
        out += k ? k : 3; /* U+FFFD is EF BF BD */
        i += k ? k : 1;
    }
    return out;
}

char *md_pb_put_utf8(char *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t run = i;
        while (run < n && (unsigned char)s[run] < 0x80)
            run++;
        memcpy(p, s + i, run - i); /* ASCII stretches at once */
        p += run - i;
        if ((i = run) == n)
            break;
        size_t k = md_json_utf8_seq(s + i, n - i);
        if (k) {
            memcpy(p, s + i, k);
            p += k;
            i += k;
        } else {
            memcpy(p, "\xEF\xBF\xBD", 3);
            p += 3;
            i++;
        }
    }
    return p;
}

int md_pb_string(md_buf_t *b, uint32_t field, const char *s, size_t n)
{
    if (all_ascii(s, n)) /* the usual case: nothing to check further */
        return md_pb_bytes(b, field, s, n);
    char *d = NULL;
    int rc = len_field(b, field, md_pb_utf8_len(s, n), &d);
    if (rc != MD_OK)
        return rc;
    md_buf_commit(b, (size_t)(md_pb_put_utf8(d, s, n) - md_buf_tail(b)));
    return MD_OK;
}

int md_pb_open(md_buf_t *b, uint32_t field, size_t *mark)
{
    uint64_t tag = tag_of(field, MD_PB_LEN);
    if (!tag)
        return MD_EINVAL;
    int rc = md_buf_reserve(b, md_pb_varint_len(tag) + 1);
    if (rc != MD_OK)
        return rc;
    char *p = md_buf_tail(b), *e = md_pb_put_varint(p, tag);
    *e++ = 0;
    md_buf_commit(b, (size_t)(e - p));
    *mark = b->len - 1;
    return MD_OK;
}

int md_pb_close(md_buf_t *b, size_t mark)
{
    size_t start = mark + 1, len = b->len - start;
    if (len > MD_PB_LEN_MAX)
        return MD_ETOOBIG;
    size_t extra = md_pb_varint_len(len) - 1;
    if (extra) {
        /* The placeholder holds one byte: move the content up to make
         * room for the whole length. */
        int rc = md_buf_reserve(b, extra);
        if (rc != MD_OK)
            return rc;
        memmove(b->data + start + extra, b->data + start, len);
        md_buf_commit(b, extra);
    }
    md_pb_put_varint(b->data + mark, len);
    return MD_OK;
}
