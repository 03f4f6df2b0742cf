/*
 * json_strict.h - the two things JOSE parsing needs beyond json/scan.h:
 * copying a string token out in decoded form, and refusing objects whose
 * member names repeat.
 *
 * Duplicate names matter for security: md_json_member() returns the last
 * of several same-named members while other JWT libraries return the
 * first, so {"iss":"good","iss":"evil"} would mean different things to
 * different readers. RFC 7515 section 5.2 lets a recipient reject such
 * input and we always do, comparing names by their decoded bytes so that
 * "\u0069ss" and "iss" count as the same name.
 *
 * Shared by jwks.c and jwt.c only; not a general JSON API.
 */
#ifndef MD_AUTH_JSON_STRICT_H
#define MD_AUTH_JSON_STRICT_H

#include "json/scan.h"

#include <stddef.h>

/* Most members an object may have before md_auth_json_unique() refuses
 * it (bounds the work and the stack it uses). */
#define MD_AUTH_JSON_MAX_MEMBERS 256

/* Decodes string token t of json (escapes resolved, UTF-8 out) into
 * out[0..cap) and NUL-terminates it; *outlen gets the length without the
 * NUL. The value may itself contain NUL bytes (from "\u0000").
 * MD_OK; MD_EINVAL t is not a string; MD_ETOOBIG it needs more than
 * cap - 1 bytes. The decoded form is never longer than the token. */
int md_auth_json_string(const char *json, const md_json_tok_t *t, char *out, size_t cap,
                        size_t *outlen);

/* MD_OK when object token `obj` of json has no two members with the same
 * decoded name; MD_EINVAL when it has, or is not an object; MD_ETOOBIG
 * when it has more than MD_AUTH_JSON_MAX_MEMBERS members. */
int md_auth_json_unique(const char *json, const md_json_tok_t *toks, uint32_t obj);

#endif
