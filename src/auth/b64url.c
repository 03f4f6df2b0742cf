/*
 * b64url.c - strict base64url decoding; see b64url.h for the rules.
 *
 * One table lookup per character; a quantum of four characters becomes
 * three bytes. Bytes outside the alphabet (also NUL, '=' and anything
 * >= 0x80) look up as 0 and fail the whole decode.
 */
#include "auth/b64url.h"

#include "core/common.h"

#include <stdint.h>

/* Each alphabet byte maps to its 6-bit value PLUS ONE, so the zero that
 * designated initializers leave everywhere else means "not base64url". */
static const uint8_t dtab[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

int md_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t rem = len % 4, full = len - rem;
    if (rem == 1)
        return MD_EINVAL;
    size_t need = full / 4 * 3 + (rem ? rem - 1 : 0);
    if (need > cap)
        return MD_ETOOBIG;
    size_t o = 0;
    for (size_t i = 0; i < full; i += 4) {
        uint8_t a = dtab[s[i]], b = dtab[s[i + 1]], c = dtab[s[i + 2]], d = dtab[s[i + 3]];
        if (!a || !b || !c || !d)
            return MD_EINVAL;
        uint32_t v = (uint32_t)(a - 1) << 18 | (uint32_t)(b - 1) << 12 | (uint32_t)(c - 1) << 6 |
                     (uint32_t)(d - 1);
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (rem) {
        uint8_t a = dtab[s[full]], b = dtab[s[full + 1]], c = rem == 3 ? dtab[s[full + 2]] : 1;
        if (!a || !b || !c)
            return MD_EINVAL;
        a--, b--, c--;
        /* Two characters carry 12 bits for one byte, three carry 18 for two:
         * the spare 4 or 2 bits must be zero (one spelling per byte string). */
        if (rem == 2 ? (b & 0x0f) : (c & 0x03))
            return MD_EINVAL;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        if (rem == 3)
            out[o++] = (unsigned char)(b << 4 | c >> 2);
    }
    *outlen = o;
    return MD_OK;
}
