/*
 * b64url.h - strict base64url decoding (RFC 4648 section 5) as JWS
 * (RFC 7515 section 2) uses it for every token segment and JWK number.
 *
 * Strict means one accepted spelling per byte string, so a token cannot be
 * re-encoded into a second form that some other component reads
 * differently:
 *   - alphabet A-Z a-z 0-9 '-' '_' only; '=' padding, '+', '/',
 *     whitespace and every other byte are errors;
 *   - a length of 4k+1 characters is an error (it cannot carry a byte);
 *   - the unused low bits of the last character must be zero ("AB" decodes
 *     to 0x00 but "AF" is refused).
 *
 * Output is bounded by the caller's capacity; nothing is allocated.
 */
#ifndef MD_AUTH_B64URL_H
#define MD_AUTH_B64URL_H

#include <stddef.h>

/* Bytes that n base64url characters decode to, at most. */
#define MD_B64URL_DECODED_MAX(n) ((n) / 4 * 3 + 2)

/* Decodes in[0..len) into out[0..cap); *outlen gets the decoded size.
 * MD_OK; MD_EINVAL not strict base64url as described above; MD_ETOOBIG
 * the result would not fit in cap bytes. out is unspecified on error.
 * An empty input decodes to zero bytes. */
int md_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen);

#endif
