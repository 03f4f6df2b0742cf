/*
 * purge_msg.h - the message one medley instance publishes on Redis after a
 * purge, so that every instance sharing that Redis drops the same entries
 * from its in-process store (gateway/purge.c sends and applies it).
 *
 * Text, versioned, every value length-prefixed so that spaces, newlines or
 * colons in a value are safe:
 *
 *   v1 <id> endpoint <n>:<value>
 *   v1 <id> backend <n>:<value>
 *   v1 <id> key <n>:<value>
 *   v1 <id> input <n>:<name> <n>:<value>
 *   v1 <id> all
 *
 * <id> is the sender's instance id (16 lowercase hex digits), so an
 * instance can skip its own messages. <n> is the value's length in bytes,
 * in decimal without leading zeros. Decoding is strict: anything else (an
 * unknown version or selector, a missing or extra field, a stray space, a
 * NUL in a value, a message over MD_PURGE_MSG_MAX) is refused.
 */
#ifndef MD_CACHE_PURGE_MSG_H
#define MD_CACHE_PURGE_MSG_H

#include "core/buf.h"
#include "core/common.h"

#define MD_PURGE_MSG_MAX 8192    /* bytes of one message */
#define MD_PURGE_ID_LEN 16       /* hex digits of an instance id */

/* Which purge selector the message carries (the admin route's query). */
typedef enum md_purge_sel {
    MD_PURGE_SEL_ENDPOINT,       /* a: the endpoint path */
    MD_PURGE_SEL_BACKEND,        /* a: the backend name */
    MD_PURGE_SEL_INPUT,          /* a: the input name, b: its value */
    MD_PURGE_SEL_KEY,            /* a: the full key */
    MD_PURGE_SEL_ALL,            /* no value */
} md_purge_sel_t;

/* One purge. Decoded, `a` and `b` point into the message (not
 * NUL-terminated; empty when the selector has no such value). */
typedef struct md_purge_msg {
    char id[MD_PURGE_ID_LEN + 1];
    md_purge_sel_t sel;
    md_str_t a, b;
} md_purge_msg_t;

/* Appends m's text to out. MD_EINVAL when the id is not 16 lowercase hex
 * digits, the selector is unknown or a value holds a NUL; MD_ETOOBIG when
 * the text would exceed MD_PURGE_MSG_MAX (or out's own bound). */
int md_purge_msg_encode(const md_purge_msg_t *m, md_buf_t *out);

/* Parses s[0..len) into m. MD_OK, MD_ETOOBIG (len over MD_PURGE_MSG_MAX)
 * or MD_EINVAL (anything that is not exactly the format above). */
int md_purge_msg_decode(const char *s, size_t len, md_purge_msg_t *m);

#endif
