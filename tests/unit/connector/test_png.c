/*
 * Unit tests for connector/png: the icon is a valid PNG (signature, chunk
 * order, every CRC recomputed here with zlib's crc32, IHDR fields, an IDAT
 * that inflates to 230 rows of filter byte + RGB), its background is the
 * brand colour and its mark white; and the encoder's error paths.
 */
#include "testutil.h"

#include <stdlib.h>

#include "connector/png.h"
#include "core/common.h"

#include <zlib.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct png_chunks {
    const uint8_t *ihdr, *idat;
    uint32_t ihdr_len, idat_len;
    int count;
    char order[8][5];
} png_chunks_t;

/* Walks the chunks after the signature, checking each CRC and that the
 * file ends exactly after IEND. */
static void read_chunks(const uint8_t *png, size_t len, png_chunks_t *c)
{
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    memset(c, 0, sizeof(*c));
    assert_true(len > 8);
    assert_memory_equal(png, sig, 8);
    size_t off = 8;
    while (off < len) {
        assert_true(off + 12 <= len);
        uint32_t n = be32(png + off);
        assert_true(off + 12 + n <= len);
        const uint8_t *type = png + off + 4, *data = png + off + 8;
        uLong crc = crc32(crc32(0L, type, 4), data, n);
        assert_int_equal(be32(data + n), (uint32_t)crc);
        assert_true(c->count < 8);
        memcpy(c->order[c->count++], type, 4);
        if (!memcmp(type, "IHDR", 4)) {
            c->ihdr = data;
            c->ihdr_len = n;
        } else if (!memcmp(type, "IDAT", 4)) {
            c->idat = data;
            c->idat_len = n;
        }
        off += 12 + n;
    }
    assert_int_equal(off, len);
}

static void icon_is_a_valid_230_png(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 1 << 20);
    assert_int_equal(md_png_icon("#1f6f8b", &b), MD_OK);
    png_chunks_t c;
    read_chunks((const uint8_t *)b.data, b.len, &c);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.order[0], "IHDR");
    assert_string_equal(c.order[1], "IDAT");
    assert_string_equal(c.order[2], "IEND");
    assert_int_equal(c.ihdr_len, 13);
    assert_int_equal(be32(c.ihdr), 230);
    assert_int_equal(be32(c.ihdr + 4), 230);
    assert_int_equal(c.ihdr[8], 8);  /* bit depth */
    assert_int_equal(c.ihdr[9], 2);  /* RGB */
    assert_int_equal(c.ihdr[10], 0);
    assert_int_equal(c.ihdr[11], 0);
    assert_int_equal(c.ihdr[12], 0);
    /* Small enough for the portal (Microsoft: under 1 MB). */
    assert_true(b.len < 100 * 1024);

    size_t row = 230 * 3 + 1;
    uLongf rawlen = row * 230 + 16;
    uint8_t *raw = malloc(rawlen);
    assert_int_equal(uncompress(raw, &rawlen, c.idat, c.idat_len), Z_OK);
    assert_int_equal(rawlen, row * 230);
    for (size_t y = 0; y < 230; y++)
        assert_int_equal(raw[y * row], 0); /* filter: none */
    /* A corner is the brand colour, the ring's dot in the mark is white. */
    const uint8_t *corner = raw + 1;
    assert_int_equal(corner[0], 0x1f);
    assert_int_equal(corner[1], 0x6f);
    assert_int_equal(corner[2], 0x8b);
    const uint8_t *dot = raw + 115 * row + 1 + 158 * 3;
    assert_int_equal(dot[0], 255);
    assert_int_equal(dot[1], 255);
    assert_int_equal(dot[2], 255);
    /* The mark stays inside a 160 x 160 square around the centre. */
    for (size_t y = 0; y < 230; y++)
        for (size_t x = 0; x < 230; x++) {
            bool outside = x < 35 || x >= 195 || y < 35 || y >= 195;
            const uint8_t *px = raw + y * row + 1 + x * 3;
            if (outside && (px[0] != 0x1f || px[1] != 0x6f || px[2] != 0x8b))
                fail_msg("mark pixel outside the 160 x 160 square at %zu,%zu", x, y);
        }
    free(raw);
    md_buf_free(&b);
}

static void encoder_errors(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 1 << 20);
    uint8_t px[3] = { 1, 2, 3 };
    assert_int_equal(md_png_encode_rgb(px, 0, 1, &b), MD_EINVAL);
    assert_int_equal(md_png_encode_rgb(px, 1, 0, &b), MD_EINVAL);
    assert_int_equal(md_png_encode_rgb(px, MD_PNG_MAX_SIDE + 1, 1, &b), MD_EINVAL);
    assert_int_equal(md_png_icon("red", &b), MD_EINVAL);
    assert_int_equal(md_png_icon("#12345g", &b), MD_EINVAL);
    assert_int_equal(md_png_icon(NULL, &b), MD_EINVAL);
    assert_int_equal(b.len, 0);
    /* A 1 x 1 image round-trips. */
    assert_int_equal(md_png_encode_rgb(px, 1, 1, &b), MD_OK);
    png_chunks_t c;
    read_chunks((const uint8_t *)b.data, b.len, &c);
    uint8_t raw[8];
    uLongf rawlen = sizeof(raw);
    assert_int_equal(uncompress(raw, &rawlen, c.idat, c.idat_len), Z_OK);
    assert_int_equal(rawlen, 4);
    assert_memory_equal(raw, "\0\1\2\3", 4);
    md_buf_free(&b);

    /* Over the buffer's cap: an error and the buffer as it was. */
    md_buf_init(&b, 100);
    md_buf_append_str(&b, "keep");
    assert_int_equal(md_png_icon("#da3b01", &b), MD_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    md_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(icon_is_a_valid_230_png),
        cmocka_unit_test(encoder_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
