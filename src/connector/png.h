/*
 * png.h - the connector package's default icon.png, drawn and encoded here
 * (zlib for the compression and the chunk CRCs; no image library).
 *
 * Microsoft asks for a 230 x 230 PNG whose background is the connector's
 * brand colour (not white, not the portal's default) with a mark of about
 * 160 x 160 pixels on it. medley's mark is three sources joining into one:
 * what a composite endpoint does. It is white, anti-aliased, centred.
 */
#ifndef MD_CONNECTOR_PNG_H
#define MD_CONNECTOR_PNG_H

#include <stdint.h>

#include "core/buf.h"

/* Side of the icon, in pixels. */
#define MD_ICON_SIZE 230
/* Largest image md_png_encode_rgb accepts (either side). */
#define MD_PNG_MAX_SIDE 4096

/* Encodes an 8-bit RGB image (rows top to bottom, 3 bytes per pixel, no
 * padding) as a PNG: signature, IHDR, one IDAT, IEND. Appends to out.
 * MD_OK; MD_EINVAL for a zero or over-MD_PNG_MAX_SIDE side; MD_ETOOBIG
 * when out's cap is reached (out is then left as it was); MD_ERR if zlib
 * fails. */
int md_png_encode_rgb(const uint8_t *rgb, uint32_t width, uint32_t height, md_buf_t *out);

/* Draws the default icon on `color` ("#rrggbb") and appends its PNG to
 * out. MD_EINVAL if color is not #rrggbb; else as md_png_encode_rgb. */
int md_png_icon(const char *color, md_buf_t *out);

#endif
