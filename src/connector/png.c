/*
 * png.c - PNG encoding and the default icon, see png.h.
 *
 * The encoder writes the simplest valid PNG: 8-bit truecolour, no
 * interlacing, filter type 0 (none) on every row, the whole image in one
 * zlib stream in one IDAT chunk. Each chunk is length, type, data and the
 * CRC-32 of type and data (zlib's crc32 is the PNG one).
 *
 * The mark is drawn by coverage: each pixel is sampled 4 x 4 times against
 * a few shapes (discs, a ring, thick segments) and blended with the
 * background by the share of samples inside, which gives smooth edges
 * without a rasterizer.
 */
#include "connector/png.h"

#include "core/alloc.h"
#include "core/common.h"

#include <string.h>
#include <zlib.h>

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int chunk(md_buf_t *out, const char type[4], const uint8_t *data, uint32_t len)
{
    uint8_t head[8], tail[4];
    put32(head, len);
    memcpy(head + 4, type, 4);
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    if (len)
        crc = crc32(crc, data, len);
    put32(tail, (uint32_t)crc);
    if (md_buf_append(out, head, 8) != MD_OK || (len && md_buf_append(out, data, len) != MD_OK) ||
        md_buf_append(out, tail, 4) != MD_OK)
        return MD_ETOOBIG;
    return MD_OK;
}

int md_png_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, md_buf_t *out)
{
    static const uint8_t signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    if (width == 0 || height == 0 || width > MD_PNG_MAX_SIDE || height > MD_PNG_MAX_SIDE)
        return MD_EINVAL;
    size_t stride = (size_t)width * 3, raw_len = (stride + 1) * height;
    uint8_t *raw = md_malloc(raw_len);
    for (uint32_t y = 0; y < height; y++) {
        raw[y * (stride + 1)] = 0; /* filter: none */
        memcpy(raw + y * (stride + 1) + 1, rgb + y * stride, stride);
    }
    uLongf zlen = compressBound((uLong)raw_len);
    uint8_t *z = md_malloc(zlen);
    int zrc = compress2(z, &zlen, raw, (uLong)raw_len, Z_BEST_COMPRESSION);
    md_free(raw);
    if (zrc != Z_OK) {
        md_free(z);
        return MD_ERR;
    }
    uint8_t ihdr[13];
    put32(ihdr, width);
    put32(ihdr + 4, height);
    ihdr[8] = 8;  /* bits per channel */
    ihdr[9] = 2;  /* truecolour (RGB) */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering, type 0 used */
    ihdr[12] = 0; /* no interlace */
    size_t before = out->len;
    int rc = md_buf_append(out, signature, sizeof(signature));
    if (rc == MD_OK)
        rc = chunk(out, "IHDR", ihdr, sizeof(ihdr));
    if (rc == MD_OK)
        rc = chunk(out, "IDAT", z, (uint32_t)zlen);
    if (rc == MD_OK)
        rc = chunk(out, "IEND", NULL, 0);
    md_free(z);
    if (rc != MD_OK) {
        out->len = before;
        if (out->data)
            out->data[before] = '\0';
    }
    return rc;
}

/* ---- the mark ---------------------------------------------------------- */

typedef struct pt {
    double x, y;
} pt_t;

/* Squared distances throughout: no libm needed. */
static double dist2(pt_t a, pt_t b)
{
    return (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y);
}

static double dist2_to_segment(pt_t p, pt_t a, pt_t b)
{
    double dx = b.x - a.x, dy = b.y - a.y;
    double t = ((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return dist2(p, (pt_t){ a.x + t * dx, a.y + t * dy });
}

/* Three sources on the left (discs) with lines joining a ring on the
 * right, a dot in the ring: about 155 x 130 pixels around the centre of
 * the 230 x 230 square. */
static bool in_mark(pt_t p)
{
    static const pt_t src[3] = { { 52, 60 }, { 52, 115 }, { 52, 170 } };
    static const pt_t hub = { 158, 115 };
    const double src_r = 15, hub_r = 36, ring = 11, dot_r = 12, half_line = 5;
    double dh = dist2(p, hub), inner = (hub_r - ring) * (hub_r - ring);
    if (dh <= hub_r * hub_r && dh >= inner)
        return true;
    if (dh <= dot_r * dot_r)
        return true;
    for (int i = 0; i < 3; i++) {
        if (dist2(p, src[i]) <= src_r * src_r)
            return true;
        /* Lines run to the hub but stop at the ring's inside edge. */
        if (dh > inner && dist2_to_segment(p, src[i], hub) <= half_line * half_line)
            return true;
    }
    return false;
}


static bool parse_color(const char *s, uint8_t rgb[3])
{
    if (!s || strlen(s) != 7 || s[0] != '#')
        return false;
    for (int i = 0; i < 3; i++) {
        int hi = md_hex_value((unsigned char)s[1 + 2 * i]), lo = md_hex_value((unsigned char)s[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return false;
        rgb[i] = (uint8_t)(hi * 16 + lo);
    }
    return true;
}

int md_png_icon(const char *color, md_buf_t *out)
{
    enum { SS = 4 }; /* samples per side of a pixel */
    uint8_t bg[3];
    if (!parse_color(color, bg))
        return MD_EINVAL;
    uint8_t *img = md_malloc((size_t)MD_ICON_SIZE * MD_ICON_SIZE * 3);
    for (int y = 0; y < MD_ICON_SIZE; y++) {
        for (int x = 0; x < MD_ICON_SIZE; x++) {
            int inside = 0;
            for (int sy = 0; sy < SS; sy++)
                for (int sx = 0; sx < SS; sx++)
                    inside += in_mark((pt_t){ x + (sx + 0.5) / SS, y + (sy + 0.5) / SS });
            uint8_t *px = img + ((size_t)y * MD_ICON_SIZE + (size_t)x) * 3;
            for (int c = 0; c < 3; c++) /* white over the background by coverage */
                px[c] = (uint8_t)((bg[c] * (SS * SS - inside) + 255 * inside + (SS * SS) / 2) / (SS * SS));
        }
    }
    int rc = md_png_encode_rgb(img, MD_ICON_SIZE, MD_ICON_SIZE, out);
    md_free(img);
    return rc;
}
