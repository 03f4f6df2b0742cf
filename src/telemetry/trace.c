/*
 * trace.c - W3C Trace Context parsing, formatting and ids (contract in
 * trace.h). Everything here is pure byte work on bounded input except the
 * generator's one getrandom() per thread.
 */
#include "telemetry/trace.h"

#include "core/common.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- hex ---- */

static const char hexdig[] = "0123456789abcdef";

char *md_trace_hex(char *out, const uint8_t *id, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *out++ = hexdig[id[i] >> 4];
        *out++ = hexdig[id[i] & 15];
    }
    return out;
}

/* The spec's HEXDIGLC: uppercase is refused, unlike md_hex_value. */
static int lc_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes 2n lowercase hex digits into out[0..n). */
static bool unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = lc_hex((unsigned char)s[2 * i]), lo = lc_hex((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool md_trace_id_is_zero(const uint8_t *id, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++)
        any |= id[i];
    return any == 0;
}

/* ---- traceparent ---- */

int md_traceparent_parse(const char *s, size_t len, md_trace_parent_t *out)
{
    md_trace_parent_t p;
    if (!s || len < MD_TRACEPARENT_LEN || !unhex(s, &p.version, 1) || p.version == 0xff)
        return MD_EINVAL;
    /* Version 00 is exactly 55 bytes; a later one may append fields
     * after a '-', which we cannot read but must not mistake for ours. */
    if (p.version == 0 ? len != MD_TRACEPARENT_LEN : len > MD_TRACEPARENT_LEN && s[MD_TRACEPARENT_LEN] != '-')
        return MD_EINVAL;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return MD_EINVAL;
    if (!unhex(s + 3, p.trace_id, MD_TRACE_ID_BYTES) || !unhex(s + 36, p.span_id, MD_SPAN_ID_BYTES) ||
        !unhex(s + 53, &p.flags, 1))
        return MD_EINVAL;
    if (md_trace_id_is_zero(p.trace_id, MD_TRACE_ID_BYTES) || md_trace_id_is_zero(p.span_id, MD_SPAN_ID_BYTES))
        return MD_EINVAL;
    *out = p;
    return MD_OK;
}

void md_traceparent_format(char out[MD_TRACEPARENT_LEN + 1], const uint8_t trace_id[MD_TRACE_ID_BYTES],
                           const uint8_t span_id[MD_SPAN_ID_BYTES], uint8_t flags)
{
    uint8_t f = flags & MD_TRACE_FLAG_SAMPLED;
    char *p = out;
    *p++ = '0';
    *p++ = '0';
    *p++ = '-';
    p = md_trace_hex(p, trace_id, MD_TRACE_ID_BYTES);
    *p++ = '-';
    p = md_trace_hex(p, span_id, MD_SPAN_ID_BYTES);
    *p++ = '-';
    p = md_trace_hex(p, &f, 1);
    *p = '\0';
}

/* ---- tracestate ---- */

static bool is_lcalpha(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_key_char(unsigned char c)
{
    return is_lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

/* simple-key = lcalpha 0*255(keychar)
 * multi-tenant-key = (lcalpha / DIGIT) 0*240(keychar) "@" lcalpha 0*13(keychar) */
static bool key_valid(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    size_t tenant = at ? (size_t)(at - k) : n;
    if (tenant == 0)
        return false;
    unsigned char first = (unsigned char)k[0];
    if (!is_lcalpha(first) && !(at && first >= '0' && first <= '9'))
        return false;
    for (size_t i = 1; i < tenant; i++)
        if (!is_key_char((unsigned char)k[i]))
            return false;
    if (!at)
        return n <= 256;
    size_t sys = n - tenant - 1;
    if (tenant > 241 || sys == 0 || sys > 14 || !is_lcalpha((unsigned char)at[1]))
        return false;
    for (size_t i = 2; i <= sys; i++)
        if (!is_key_char((unsigned char)at[i]))
            return false;
    return true;
}

/* value = 0*255(chr) nblk-chr; chr = SP / nblk-chr; nblk-chr is printable
 * ASCII without ',' and '='. The caller trimmed trailing spaces. */
static bool value_valid(const char *v, size_t n)
{
    if (n == 0 || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

typedef struct member {
    const char *key;
    size_t len;
} member_t;

/* One list element m[0..n), OWS already trimmed. */
static bool member_valid(const char *m, size_t n, member_t *keys, size_t *nkeys)
{
    const char *eq = memchr(m, '=', n);
    if (!eq)
        return false;
    size_t klen = (size_t)(eq - m);
    if (!key_valid(m, klen) || !value_valid(eq + 1, n - klen - 1))
        return false;
    for (size_t i = 0; i < *nkeys; i++)
        if (keys[i].len == klen && memcmp(keys[i].key, m, klen) == 0)
            return false; /* a key twice */
    if (*nkeys == MD_TRACESTATE_MAX_MEMBERS)
        return false;
    keys[(*nkeys)++] = (member_t){ m, klen };
    return true;
}

bool md_tracestate_valid(const char *s, size_t len)
{
    if (!s || len > MD_TRACESTATE_MAX)
        return false;
    member_t keys[MD_TRACESTATE_MAX_MEMBERS];
    size_t nkeys = 0, i = 0;
    while (i <= len) {
        const char *comma = memchr(s + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - s) : len, a = i, b = end;
        while (a < b && is_ows(s[a]))
            a++;
        while (b > a && is_ows(s[b - 1]))
            b--;
        /* Empty and whitespace-only members are allowed (joined headers). */
        if (b > a && !member_valid(s + a, b - a, keys, &nkeys))
            return false;
        i = end + 1;
    }
    return nkeys > 0;
}

/* ---- ids ---- */

static _Thread_local uint64_t rng_state;
static _Thread_local bool rng_seeded;

static void rng_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        /* No entropy yet (early boot): ids must still differ between
         * threads and processes, not be unguessable. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uint64_t)gettid() << 32 ^
               (uint64_t)(uintptr_t)&seed;
    }
    rng_state = seed;
    rng_seeded = true;
}

/* splitmix64: a Weyl sequence through a bijective mixer, so a thread's
 * draws never repeat within 2^64 calls. */
uint64_t md_trace_random(void)
{
    if (MD_UNLIKELY(!rng_seeded))
        rng_seed();
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void md_trace_random_id(uint8_t *id, size_t n)
{
    do {
        for (size_t i = 0; i < n; i += 8) {
            uint64_t r = md_trace_random();
            memcpy(id + i, &r, MD_MIN(8, n - i));
        }
    } while (md_trace_id_is_zero(id, n));
}
