/*
 * protobuf.h - the protocol buffers wire format, encoding only, into a
 * bounded md_buf_t: varints, field tags, fixed64, length-delimited bytes
 * and strings, and nested messages. Enough for the OTLP exporter (otlp.c)
 * to write an ExportTraceServiceRequest without a code generator or a
 * protobuf library.
 *
 * Nested messages: md_pb_open() writes the tag and a one-byte length
 * placeholder; md_pb_close() writes the real length there once the
 * content is known, shifting the content right when the length needs more
 * than one byte (content of 128 bytes or more). Lengths are therefore
 * always minimal varints, which every decoder accepts (a padded varint is
 * valid protobuf but not every decoder takes it), and small messages (an
 * attribute) are never moved.
 *
 * Bounds: every call fails with MD_ETOOBIG at the buffer's cap, and a
 * message longer than MD_PB_LEN_MAX (protobuf's 2 GiB limit) is refused;
 * a field number outside 1 .. 2^29 - 1 is MD_EINVAL (it would wrap into
 * another field's tag).
 * A single field is all or nothing; a failed md_pb_close (or a failure
 * between open and close) leaves a partial message, so a caller that needs
 * all-or-nothing keeps the length it started from and cuts back to it.
 */
#ifndef MD_TELEMETRY_PROTOBUF_H
#define MD_TELEMETRY_PROTOBUF_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

#define MD_PB_VARINT_MAX 10          /* bytes of the longest varint (2^64 - 1) */
#define MD_PB_LEN_MAX 0x7fffffffu    /* longest length-delimited field */

/* Wire types (the low 3 bits of a tag). */
typedef enum {
    MD_PB_VARINT = 0,
    MD_PB_I64 = 1,
    MD_PB_LEN = 2,
    MD_PB_I32 = 5,
} md_pb_wire_t;

/* Bytes the varint of v takes: 1 .. MD_PB_VARINT_MAX. Inline: encoders
 * that size a message before writing it call it for every field. */
static inline size_t md_pb_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes the varint of v at p (room for md_pb_varint_len(v) bytes) and
 * returns the byte after it. For callers that reserved space themselves. */
static inline char *md_pb_put_varint(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

/* Writes v as 8 little-endian bytes at p; returns the byte after them. */
static inline char *md_pb_put_fixed64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (char)(v >> (8 * i)); /* little-endian whatever the host */
    return p;
}

/* Appends the varint of v. MD_OK or MD_ETOOBIG. */
int md_pb_varint(md_buf_t *b, uint64_t v);

/* Appends the tag of field (1 .. 2^29 - 1) with wire type wt. */
int md_pb_tag(md_buf_t *b, uint32_t field, md_pb_wire_t wt);

/* Appends a varint field: uint32/64, int64 >= 0, bool, enum. */
int md_pb_uint(md_buf_t *b, uint32_t field, uint64_t v);

/* Appends a fixed64 field (8 bytes, little-endian). */
int md_pb_fixed64(md_buf_t *b, uint32_t field, uint64_t v);

/* Appends a bytes field: p[0..n) as is (p may be NULL when n is 0). Also
 * for strings known to be valid UTF-8. */
int md_pb_bytes(md_buf_t *b, uint32_t field, const void *p, size_t n);

/* Appends a string field from s[0..n), any bytes: proto3 strings must be
 * UTF-8 (decoders reject the message otherwise), so bytes that are not
 * well-formed UTF-8 are replaced by U+FFFD, as the JSON writer does. */
int md_pb_string(md_buf_t *b, uint32_t field, const char *s, size_t n);

/* Bytes s[0..n) takes once md_pb_string has replaced what is not UTF-8. */
size_t md_pb_utf8_len(const char *s, size_t n);

/* Writes s[0..n) at p as md_pb_string would (content only: no tag, no
 * length), into room for md_pb_utf8_len(s, n) bytes; returns the byte
 * after it. */
char *md_pb_put_utf8(char *p, const char *s, size_t n);

/* Opens a nested message as field `field`: writes its tag and a length
 * placeholder, and stores in *mark where that placeholder is. Every open
 * needs its md_pb_close, innermost first. */
int md_pb_open(md_buf_t *b, uint32_t field, size_t *mark);

/* Closes the message opened at mark: everything appended since is its
 * content. MD_OK, or MD_ETOOBIG (cap reached, or content longer than
 * MD_PB_LEN_MAX) with the message left unfinished. */
int md_pb_close(md_buf_t *b, size_t mark);

#endif
