/*
 * parser.c - strict, zero-copy HTTP/1.1 head parser and in-place chunked
 * decoder (see parser.h for the contract).
 *
 * The head parsers make one forward pass over the buffer with a cursor
 * (`const char **pp`) and return MD_AGAIN as soon as they run out of bytes,
 * so a caller simply retries with a longer buffer. Every byte is classified
 * through one 256-entry table; the two long scans (request-target, header
 * values) first check eight bytes at a time, since on a typical request they
 * cover most of the head. Framing headers (Content-Length, Transfer-Encoding,
 * Connection...) are noted as each line completes and judged once the head
 * is complete, because their meaning depends on each other and on the
 * version.
 *
 * The chunked decoder is a byte-at-a-time state machine for the framing
 * lines and a memmove for chunk data, so it can stop and resume at any byte.
 */
#include "http/parser.h"

#include <limits.h>
#include <string.h>

#define MAX_LEADING_EMPTY_LINES 4 /* RFC 9112 2.2 asks to skip "at least one" */
#define MAX_BODY_LENGTH ((uint64_t)1 << 53) /* exact in a JSON/double number */

/* Byte classes. TOKEN: tchar (RFC 9110 5.6.2). VALUE: field-vchar, SP, HTAB,
 * obs-text. TARGET: visible ASCII. HEX: hex digit. */
enum { C_TOKEN = 1, C_VALUE = 2, C_TARGET = 4, C_HEX = 8 };

static const uint8_t char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    2, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6, 6, 6, 6, 6, 6, /* 0x30 */
    6, 15, 15, 15, 15, 15, 15, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 0x50 */
    7, 15, 15, 15, 15, 15, 15, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 0x70 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xb0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xd0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xf0 */
};

static inline bool is_class(char c, uint8_t cls)
{
    return (char_class[(uint8_t)c] & cls) != 0;
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when some byte of x is below n (n <= 0x80). Without a true hit no
 * byte borrows, so a zero answer is exact; a nonzero one sends the caller to
 * the byte loop, which finds the precise position. */
static inline uint64_t has_byte_below(uint64_t x, uint8_t n)
{
    return (x - ONES * n) & ~x & HIGHS;
}

/* Nonzero when some byte of x is above n (n < 0x80); same exactness. */
static inline uint64_t has_byte_above(uint64_t x, uint8_t n)
{
    return ((x + ONES * (uint8_t)(0x7f - n)) | x) & HIGHS;
}

static inline uint64_t load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* Returns the first byte at or after p that is not a field-value byte. */
static const char *scan_value(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t x = load8(p);
        uint64_t del = x ^ (ONES * 0x7f); /* a DEL byte becomes zero */
        if (has_byte_below(x, 0x20) | has_byte_below(del, 1))
            break;
        p += 8;
    }
    while (p < end && is_class(*p, C_VALUE))
        p++;
    return p;
}

/* Returns the first byte at or after p that is not visible ASCII. */
static const char *scan_target(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t x = load8(p);
        if (has_byte_below(x, 0x21) | has_byte_above(x, 0x7e))
            break;
        p += 8;
    }
    while (p < end && is_class(*p, C_TARGET))
        p++;
    return p;
}

/* Returns the first byte at or after p that is not a tchar. Unrolled: the
 * header names are a third of a typical head and the per-byte bound check
 * was the parser's hottest loop. */
static const char *scan_token(const char *p, const char *end)
{
    while (end - p >= 4) {
        if (!is_class(p[0], C_TOKEN))
            return p;
        if (!is_class(p[1], C_TOKEN))
            return p + 1;
        if (!is_class(p[2], C_TOKEN))
            return p + 2;
        if (!is_class(p[3], C_TOKEN))
            return p + 3;
        p += 4;
    }
    while (p < end && is_class(*p, C_TOKEN))
        p++;
    return p;
}

/* Consumes one line end: CRLF or a bare LF. A CR followed by anything else
 * is a bare CR, which RFC 9112 lets us reject and which smuggling relies on. */
static int expect_eol(const char **pp, const char *end)
{
    const char *p = *pp;
    if (p == end)
        return MD_AGAIN;
    if (*p == '\n') {
        *pp = p + 1;
        return MD_OK;
    }
    if (*p != '\r')
        return MD_EINVAL;
    if (p + 1 == end)
        return MD_AGAIN;
    if (p[1] != '\n')
        return MD_EINVAL;
    *pp = p + 2;
    return MD_OK;
}

/* "HTTP/" DIGIT "." DIGIT; other 1.x and 2+ versions are well-formed but
 * unsupported (505). Bytes are checked as they arrive, so garbage fails
 * before the line is complete. */
static int parse_version(const char **pp, const char *end, int *minor)
{
    static const char pattern[] = "HTTP/#.#"; /* '#' stands for a digit */
    const char *p = *pp;
    if (end - p >= 8 && memcmp(p, "HTTP/1.", 7) == 0 && (p[7] == '1' || p[7] == '0')) {
        *minor = p[7] - '0';
        *pp = p + 8;
        return MD_OK;
    }
    for (size_t i = 0; i < 8; i++) {
        if (p + i == end)
            return MD_AGAIN;
        bool ok = pattern[i] == '#' ? (p[i] >= '0' && p[i] <= '9') : p[i] == pattern[i];
        if (!ok)
            return MD_EINVAL;
    }
    return MD_HTTP_EVERSION;
}

/* Up to MAX_LEADING_EMPTY_LINES line ends may precede a request line (left
 * over from a previous message's body by sloppy clients). */
static int skip_empty_lines(const char **pp, const char *end)
{
    for (int i = 0;; i++) {
        if (*pp == end)
            return MD_AGAIN;
        if (**pp != '\r' && **pp != '\n')
            return MD_OK;
        if (i == MAX_LEADING_EMPTY_LINES)
            return MD_EINVAL;
        int rc = expect_eol(pp, end);
        if (rc != MD_OK)
            return rc;
    }
}

/* Checks the target's form once the version is known (so that the HTTP/2
 * preface "PRI * HTTP/2.0" gets 505, not 400), and splits path/query. */
static int check_target(md_http_request_head_t *r)
{
    const char *t = r->target.ptr;
    size_t n = r->target.len;
    if (t[0] == '*') {
        bool options = r->method.len == 7 && memcmp(r->method.ptr, "OPTIONS", 7) == 0;
        if (n != 1 || !options)
            return MD_EINVAL;
        r->path = r->target;
        r->query = (md_str_t){ t + 1, 0 };
        return MD_OK;
    }
    if (t[0] != '/')
        return MD_EINVAL; /* absolute-form, authority-form or junk */
    const char *q = memchr(t, '?', n);
    if (q == NULL) {
        r->path = r->target;
        r->query = (md_str_t){ t + n, 0 };
    } else {
        r->path = (md_str_t){ t, (size_t)(q - t) };
        r->query = (md_str_t){ q + 1, n - (size_t)(q - t) - 1 };
    }
    return MD_OK;
}

static int parse_request_line(const char **pp, const char *end, md_http_request_head_t *r)
{
    const char *p = *pp;
    const char *start = p;
    p = scan_token(p, end);
    if (p == end)
        return MD_AGAIN;
    if (p == start || *p != ' ')
        return MD_EINVAL;
    r->method = (md_str_t){ start, (size_t)(p - start) };

    start = ++p;
    p = scan_target(p, end);
    if (p == end)
        return MD_AGAIN;
    if (p == start)
        return MD_EINVAL;
    if (*p == '\r' || *p == '\n')
        return MD_EINVAL; /* no version ("GET /path", HTTP/0.9 style): malformed */
    if (*p != ' ')
        return MD_EINVAL;
    r->target = (md_str_t){ start, (size_t)(p - start) };

    p++;
    int rc = parse_version(&p, end, &r->minor_version);
    if (rc == MD_OK)
        rc = expect_eol(&p, end);
    if (rc == MD_OK)
        rc = check_target(r);
    if (rc == MD_OK)
        *pp = p;
    return rc;
}

/* ---- header fields ------------------------------------------------------ */

/* What the framing headers said; judged by finish_request/finish_response. */
typedef struct head_info {
    uint64_t content_length;
    bool cl_seen;
    bool cl_bad;        /* malformed, too large, or conflicting */
    bool te_seen;
    bool te_other;      /* a transfer coding other than chunked */
    int te_chunked;     /* how many times "chunked" was listed */
    bool conn_close;
    bool conn_keep_alive;
    bool expect_continue;
    int ce_gzip;        /* gzip / x-gzip listed this many times */
    bool ce_other;      /* a content coding we cannot decode */
    int host_count;
    md_str_t host;
    md_str_t content_type;
} head_info_t;

static inline char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* ASCII-only, against a lowercase literal. Inline rather than strncasecmp:
 * it runs for most header lines, usually failing on the first byte, and
 * the libc call (locale-aware, through the PLT) was a fifth of parse time. */
static inline bool str_ieq(const char *s, size_t n, const char *lit, size_t lit_len)
{
    if (n != lit_len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(s[i]) != lit[i])
            return false;
    return true;
}

#define STR_IEQ(s, n, lit) str_ieq((s), (n), (lit), sizeof(lit) - 1)

/* Walks a comma-separated list value (RFC 9110 5.6.1). */
typedef struct list_iter {
    const char *p, *end;
    bool done;
} list_iter_t;

static list_iter_t list_of(const md_header_t *h)
{
    return (list_iter_t){ h->value, h->value + h->value_len, false };
}

/* Next element, OWS-trimmed. Empty elements are returned too (len 0), so an
 * empty value yields one empty element; callers decide. */
static bool next_element(list_iter_t *it, md_str_t *elem)
{
    if (it->done)
        return false;
    const char *p = it->p;
    while (p < it->end && is_ows(*p))
        p++;
    const char *start = p;
    while (p < it->end && *p != ',')
        p++;
    const char *stop = p;
    while (stop > start && is_ows(stop[-1]))
        stop--;
    *elem = (md_str_t){ start, (size_t)(stop - start) };
    if (p == it->end)
        it->done = true;
    else
        it->p = p + 1;
    return true;
}

static void note_content_length(head_info_t *in, const md_header_t *h)
{
    list_iter_t it = list_of(h);
    md_str_t e;
    while (next_element(&it, &e)) {
        uint64_t v = 0;
        if (e.len == 0)
            in->cl_bad = true;
        for (size_t i = 0; i < e.len && !in->cl_bad; i++) {
            if (e.ptr[i] < '0' || e.ptr[i] > '9')
                in->cl_bad = true;
            else if ((v = v * 10 + (uint64_t)(e.ptr[i] - '0')) > MAX_BODY_LENGTH)
                in->cl_bad = true; /* v stays far below UINT64_MAX: no wrap */
        }
        if (in->cl_bad)
            return;
        if (in->cl_seen && v != in->content_length)
            in->cl_bad = true;
        in->content_length = v;
        in->cl_seen = true;
    }
}

static void note_transfer_encoding(head_info_t *in, const md_header_t *h)
{
    list_iter_t it = list_of(h);
    md_str_t e;
    in->te_seen = true;
    while (next_element(&it, &e)) {
        if (e.len == 0)
            continue;
        if (STR_IEQ(e.ptr, e.len, "chunked"))
            in->te_chunked++;
        else
            in->te_other = true;
    }
}

static void note_connection(head_info_t *in, const md_header_t *h)
{
    list_iter_t it = list_of(h);
    md_str_t e;
    while (next_element(&it, &e)) {
        if (STR_IEQ(e.ptr, e.len, "close"))
            in->conn_close = true;
        else if (STR_IEQ(e.ptr, e.len, "keep-alive"))
            in->conn_keep_alive = true;
    }
}

static void note_content_encoding(head_info_t *in, const md_header_t *h)
{
    list_iter_t it = list_of(h);
    md_str_t e;
    while (next_element(&it, &e)) {
        if (e.len == 0 || STR_IEQ(e.ptr, e.len, "identity"))
            continue;
        if (STR_IEQ(e.ptr, e.len, "gzip") || STR_IEQ(e.ptr, e.len, "x-gzip"))
            in->ce_gzip++;
        else
            in->ce_other = true;
    }
}

/* Dispatches on the name length first: almost every header is none of ours
 * and is rejected by one switch. */
static void note_header(head_info_t *in, const md_header_t *h)
{
    const char *n = h->name;
    switch (h->name_len) {
    case 4:
        if (STR_IEQ(n, 4, "host")) {
            if (in->host_count++ == 0)
                in->host = (md_str_t){ h->value, h->value_len };
        }
        break;
    case 6:
        if (STR_IEQ(n, 6, "expect") && STR_IEQ(h->value, h->value_len, "100-continue"))
            in->expect_continue = true;
        break;
    case 10:
        if (STR_IEQ(n, 10, "connection"))
            note_connection(in, h);
        break;
    case 12:
        if (STR_IEQ(n, 12, "content-type") && in->content_type.ptr == NULL)
            in->content_type = (md_str_t){ h->value, h->value_len };
        break;
    case 14:
        if (STR_IEQ(n, 14, "content-length"))
            note_content_length(in, h);
        break;
    case 16:
        if (STR_IEQ(n, 16, "content-encoding"))
            note_content_encoding(in, h);
        break;
    case 17:
        if (STR_IEQ(n, 17, "transfer-encoding"))
            note_transfer_encoding(in, h);
        break;
    default:
        break;
    }
}

/* name ":" OWS value OWS eol. A line starting with SP/HTAB (obs-fold) or a
 * space before the colon fails the token scan and is rejected. */
static int parse_header_line(const char **pp, const char *end, md_header_t *h)
{
    const char *p = *pp;
    const char *start = p;
    p = scan_token(p, end);
    if (p == end)
        return MD_AGAIN;
    if (p == start || *p != ':')
        return MD_EINVAL;
    h->name = start;
    h->name_len = (size_t)(p - start);

    p++;
    while (p < end && is_ows(*p))
        p++;
    start = p;
    p = scan_value(p, end);
    const char *stop = p;
    int rc = expect_eol(&p, end); /* a CTL here fails as "not a line end" */
    if (rc != MD_OK)
        return rc;
    while (stop > start && is_ows(stop[-1]))
        stop--;
    h->value = start;
    h->value_len = (size_t)(stop - start);
    *pp = p;
    return MD_OK;
}

/* Header lines up to and including the empty line. *count is the number
 * parsed; more than `cap` fails with MD_HTTP_ETOO_MANY_HEADERS. */
static int parse_headers(const char **pp, const char *end, md_header_t *hs, size_t cap,
                         size_t *count, head_info_t *in)
{
    size_t n = 0;
    for (;;) {
        if (*pp == end)
            return MD_AGAIN;
        if (**pp == '\r' || **pp == '\n')
            break;
        if (n == cap)
            return is_class(**pp, C_TOKEN) ? MD_HTTP_ETOO_MANY_HEADERS : MD_EINVAL;
        int rc = parse_header_line(pp, end, &hs[n]);
        if (rc != MD_OK)
            return rc;
        note_header(in, &hs[n]);
        n++;
    }
    *count = n;
    return expect_eol(pp, end);
}

static bool keep_alive_for(int minor_version, const head_info_t *in)
{
    if (in->conn_close)
        return false;
    return minor_version == 1 || in->conn_keep_alive;
}

/* RFC 9112 6.1/6.3: Transfer-Encoding in HTTP/1.0 means faulty framing;
 * we only decode "chunked"; a bad Content-Length is unrecoverable. */
static int check_framing(int minor_version, const head_info_t *in)
{
    if (in->te_seen && (minor_version == 0 || in->te_other || in->te_chunked != 1))
        return MD_HTTP_ELENGTH;
    if (!in->te_seen && in->cl_bad)
        return MD_HTTP_ELENGTH;
    return MD_OK;
}

static int finish_request(md_http_request_head_t *r, const head_info_t *in)
{
    if (in->host_count > 1)
        return MD_EINVAL; /* RFC 9112 3.2: which host would we believe? */
    if (in->te_seen && in->cl_seen)
        return MD_HTTP_ELENGTH; /* the classic smuggling vector */
    int rc = check_framing(r->minor_version, in);
    if (rc != MD_OK)
        return rc;
    r->chunked = in->te_seen;
    r->content_length = in->cl_seen && !in->te_seen ? (int64_t)in->content_length : -1;
    r->keep_alive = keep_alive_for(r->minor_version, in);
    r->expect_continue = in->expect_continue && r->minor_version == 1;
    r->host = in->host;
    return MD_OK;
}

/* An int can hold the head length: we never look past INT_MAX bytes, so a
 * larger incomplete head is MD_AGAIN and the caller's size limit ends it. */
static const char *scan_end(const char *buf, size_t len)
{
    return buf + MD_MIN(len, (size_t)INT_MAX);
}

int md_http_parse_request(const char *buf, size_t len, md_http_request_head_t *req)
{
    const char *p = buf, *end = scan_end(buf, len);
    md_http_request_head_t r = *req;
    head_info_t in = { 0 };
    size_t n = 0;

    int rc = skip_empty_lines(&p, end);
    if (rc == MD_OK)
        rc = parse_request_line(&p, end, &r);
    if (rc == MD_OK)
        rc = parse_headers(&p, end, r.headers, r.num_headers, &n, &in);
    if (rc == MD_OK)
        rc = finish_request(&r, &in);
    if (rc != MD_OK)
        return rc;
    r.num_headers = n;
    *req = r;
    return (int)(p - buf);
}

/* ---- responses ---------------------------------------------------------- */

/* HTTP-version SP 3DIGIT SP reason eol. The SP before an empty reason is
 * optional because many servers omit it and nothing is ambiguous. */
static int parse_status_line(const char **pp, const char *end, md_http_response_head_t *r)
{
    const char *p = *pp;
    int rc = parse_version(&p, end, &r->minor_version);
    if (rc != MD_OK)
        return rc;
    int status = 0;
    for (int i = 0; i < 4; i++, p++) {
        if (p == end)
            return MD_AGAIN;
        bool ok = i == 0 ? *p == ' ' : (*p >= '0' && *p <= '9');
        if (!ok)
            return MD_EINVAL;
        if (i > 0)
            status = status * 10 + (*p - '0');
    }
    if (status < 100)
        return MD_EINVAL;
    if (p == end)
        return MD_AGAIN;
    const char *reason = p;
    if (*p == ' ') {
        reason = ++p;
        p = scan_value(p, end);
    }
    const char *stop = p;
    rc = expect_eol(&p, end);
    if (rc != MD_OK)
        return rc;
    r->status = status;
    r->reason = (md_str_t){ reason, (size_t)(stop - reason) };
    *pp = p;
    return MD_OK;
}

static int finish_response(md_http_response_head_t *r, const head_info_t *in)
{
    int rc = check_framing(r->minor_version, in);
    if (rc != MD_OK)
        return rc;
    r->chunked = in->te_seen;
    r->content_length = in->cl_seen && !in->te_seen ? (int64_t)in->content_length : -1;
    r->keep_alive = keep_alive_for(r->minor_version, in) && !(in->te_seen && in->cl_seen);
    r->gzip = in->ce_gzip == 1 && !in->ce_other;
    r->unknown_encoding = in->ce_other || in->ce_gzip > 1;
    r->content_type = in->content_type;
    return MD_OK;
}

int md_http_parse_response(const char *buf, size_t len, md_http_response_head_t *res)
{
    const char *p = buf, *end = scan_end(buf, len);
    md_http_response_head_t r = *res;
    head_info_t in = { 0 };
    size_t n = 0;

    int rc = parse_status_line(&p, end, &r);
    if (rc == MD_OK)
        rc = parse_headers(&p, end, r.headers, r.num_headers, &n, &in);
    if (rc == MD_OK)
        rc = finish_response(&r, &in);
    if (rc != MD_OK)
        return rc;
    r.num_headers = n;
    *res = r;
    return (int)(p - buf);
}

/* ---- chunked bodies ----------------------------------------------------- */

enum {
    CH_SIZE_START = 0, /* zero-initialized decoder starts here */
    CH_SIZE,           /* hex digits */
    CH_SIZE_OWS,       /* BWS after the digits */
    CH_EXT,            /* chunk extensions: validated bytes, then ignored */
    CH_SIZE_LF,        /* CR seen on the size line */
    CH_DATA,
    CH_DATA_CR,        /* chunk data must end in exactly CRLF */
    CH_DATA_LF,
    CH_TRAILER_START,  /* start of a trailer line or the final empty line */
    CH_TRAILER_NAME,
    CH_TRAILER_VALUE,
    CH_TRAILER_LF,
    CH_END_LF,         /* CR of the final empty line seen */
    CH_DONE,
    CH_ERROR,
};

static int hex_value(uint8_t c)
{
    if (c <= '9')
        return c - '0';
    return (c | 0x20) - 'a' + 10;
}

/* The size line is complete: a zero size starts the trailer section. */
static int end_size_line(md_chunked_decoder_t *dec)
{
    dec->line_len = 0;
    return dec->remaining > 0 ? CH_DATA : CH_TRAILER_START;
}

/* After the digits: BWS, then extensions or the line end. */
static int size_line_tail(md_chunked_decoder_t *dec, uint8_t c)
{
    if (is_ows((char)c))
        return CH_SIZE_OWS;
    if (c == ';')
        return CH_EXT;
    if (c == '\r')
        return CH_SIZE_LF;
    return c == '\n' ? end_size_line(dec) : CH_ERROR;
}

/* Size-line states. Returns the next state or CH_ERROR. */
static int step_size(md_chunked_decoder_t *dec, uint8_t c)
{
    if (++dec->line_len > MD_CHUNK_LINE_MAX)
        return CH_ERROR;
    switch (dec->state) {
    case CH_SIZE_START:
        if (!is_class((char)c, C_HEX))
            return CH_ERROR;
        dec->remaining = (uint64_t)hex_value(c);
        return CH_SIZE;
    case CH_SIZE:
        if (!is_class((char)c, C_HEX))
            return size_line_tail(dec, c);
        /* at most 2^53 before the shift, so no wrap */
        dec->remaining = dec->remaining * 16 + (uint64_t)hex_value(c);
        return dec->remaining > MAX_BODY_LENGTH ? CH_ERROR : CH_SIZE;
    case CH_SIZE_OWS:
        return size_line_tail(dec, c);
    case CH_EXT:
        if (c == '\r')
            return CH_SIZE_LF;
        if (c == '\n')
            return end_size_line(dec);
        return is_class((char)c, C_VALUE) ? CH_EXT : CH_ERROR;
    case CH_SIZE_LF:
        return c == '\n' ? end_size_line(dec) : CH_ERROR;
    default:
        return CH_ERROR;
    }
}

/* Trailer states: field lines are checked for shape and dropped. */
static int step_trailer(md_chunked_decoder_t *dec, uint8_t c)
{
    if (++dec->line_len > MD_CHUNK_LINE_MAX || ++dec->trailer_len > MD_CHUNK_TRAILER_MAX)
        return CH_ERROR;
    switch (dec->state) {
    case CH_TRAILER_START:
        if (c == '\r')
            return CH_END_LF;
        if (c == '\n')
            return CH_DONE;
        return is_class((char)c, C_TOKEN) ? CH_TRAILER_NAME : CH_ERROR;
    case CH_TRAILER_NAME:
        if (c == ':')
            return CH_TRAILER_VALUE;
        return is_class((char)c, C_TOKEN) ? CH_TRAILER_NAME : CH_ERROR;
    case CH_TRAILER_VALUE:
        if (c == '\r')
            return CH_TRAILER_LF;
        if (c == '\n')
            break;
        return is_class((char)c, C_VALUE) ? CH_TRAILER_VALUE : CH_ERROR;
    case CH_TRAILER_LF:
        if (c != '\n')
            return CH_ERROR;
        break;
    case CH_END_LF:
        return c == '\n' ? CH_DONE : CH_ERROR;
    default:
        return CH_ERROR;
    }
    dec->line_len = 0;
    return CH_TRAILER_START;
}

static int step(md_chunked_decoder_t *dec, uint8_t c)
{
    switch (dec->state) {
    case CH_DATA_CR:
        return c == '\r' ? CH_DATA_LF : CH_ERROR;
    case CH_DATA_LF:
        return c == '\n' ? CH_SIZE_START : CH_ERROR;
    case CH_SIZE_START:
    case CH_SIZE:
    case CH_SIZE_OWS:
    case CH_EXT:
    case CH_SIZE_LF:
        return step_size(dec, c);
    default:
        return step_trailer(dec, c);
    }
}

ssize_t md_chunked_decode(md_chunked_decoder_t *dec, char *buf, size_t *len)
{
    size_t r = 0, w = 0, n = *len;
    while (r < n && dec->state != CH_DONE && dec->state != CH_ERROR) {
        if (dec->state == CH_DATA) {
            size_t take = (size_t)MD_MIN(dec->remaining, (uint64_t)(n - r));
            if (w != r)
                memmove(buf + w, buf + r, take);
            w += take;
            r += take;
            dec->remaining -= take;
            if (dec->remaining == 0)
                dec->state = CH_DATA_CR;
            continue;
        }
        dec->state = step(dec, (uint8_t)buf[r++]);
    }
    if (dec->state == CH_ERROR) {
        *len = 0;
        return MD_EINVAL;
    }
    dec->done = dec->state == CH_DONE;
    *len = w;
    return (ssize_t)r;
}

/* ---- reason phrases ----------------------------------------------------- */

const char *md_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
