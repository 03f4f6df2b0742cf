/*
 * text.c - operationIds, summaries and display names for the connector
 * export, see text.h.
 *
 * All output goes through a small bounded appender (sb_t) that remembers
 * when something did not fit, so every function works on fixed buffers and
 * reports truncation instead of overflowing.
 */
#include "connector/text.h"

#include "core/common.h"
#include "json/scan.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

typedef struct sb {
    char *p;
    size_t len, cap;            /* cap counts the NUL */
    bool over;
} sb_t;

static sb_t sb_make(char *out, size_t cap)
{
    sb_t b = { out, 0, cap, cap == 0 };
    if (cap)
        out[0] = '\0';
    return b;
}

static void sb_put(sb_t *b, char ch)
{
    if (b->len + 1 >= b->cap) {
        b->over = true;
        return;
    }
    b->p[b->len++] = ch;
    b->p[b->len] = '\0';
}

static bool is_alnum(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* ---- operationId ------------------------------------------------------- */

/* Appends the words of s[0..n) (split at non-alphanumerics), each with a
 * capital first letter; `lower_rest` lower-cases the other letters. Returns
 * whether a word was written. */
static bool put_words(sb_t *b, const char *s, size_t n, bool lower_rest)
{
    bool wrote = false, start = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!is_alnum(ch)) {
            start = true;
            continue;
        }
        sb_put(b, (char)(start ? toupper(ch) : lower_rest ? tolower(ch) : ch));
        start = false;
        wrote = true;
    }
    return wrote;
}

/* Calls fn for each segment of path: its text and whether it is {param}
 * (then without the braces). */
typedef void (*seg_fn)(void *arg, const char *s, size_t n, bool param);

static void each_segment(const char *path, seg_fn fn, void *arg)
{
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n >= 2 && p[0] == '{' && p[n - 1] == '}')
            fn(arg, p + 1, n - 2, true);
        else if (n)
            fn(arg, p, n, false);
        p += n;
    }
}

typedef struct opid_walk {
    sb_t *b;
    bool params;                /* which kind this pass writes */
    size_t count;               /* segments of that kind written */
} opid_walk_t;

static void opid_segment(void *arg, const char *s, size_t n, bool param)
{
    opid_walk_t *w = arg;
    if (param != w->params)
        return;
    if (param)
        put_words(w->b, w->count ? "And" : "By", w->count ? 3 : 2, false);
    if (put_words(w->b, s, n, false) || param)
        w->count++;
}

int md_connector_operation_id(const char *method, const char *path, char *out, size_t outlen)
{
    sb_t b = sb_make(out, MD_MIN(outlen, (size_t)MD_CONNECTOR_MAX_OPID + 1));
    put_words(&b, method, strlen(method), true);
    opid_walk_t w = { .b = &b, .params = false };
    each_segment(path, opid_segment, &w);
    size_t literals = w.count;
    w.params = true;
    w.count = 0;
    each_segment(path, opid_segment, &w);
    if (literals == 0 && w.count == 0)
        put_words(&b, "Root", 4, false);
    return b.over ? MD_ETOOBIG : MD_OK;
}

bool md_connector_is_pascal(const char *s)
{
    if (!(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    for (; *s; s++)
        if (!is_alnum((unsigned char)*s))
            return false;
    return true;
}

/* ---- summaries --------------------------------------------------------- */

/* Letters, digits, spaces, parentheses and well-formed non-ASCII, with
 * runs of spaces collapsed, at most MD_CONNECTOR_MAX_SUMMARY + 1
 * characters (the extra one tells whether a word was cut). */
static size_t filter_summary(const char *text, char *tmp, size_t cap, size_t *chars)
{
    size_t len = 0, n = strlen(text);
    bool space = false;
    *chars = 0;
    for (size_t i = 0; i < n && *chars <= MD_CONNECTOR_MAX_SUMMARY;) {
        unsigned char ch = (unsigned char)text[i];
        size_t seq = ch >= 0x80 ? md_json_utf8_seq(text + i, n - i) : 1;
        bool keep = is_alnum(ch) || ch == '(' || ch == ')' || (ch >= 0x80 && seq > 0);
        if (!keep) {
            space = space || (ch != '\'' && len > 0);
            i += seq ? seq : 1;
            continue;
        }
        if (len + seq + 2 > cap)
            break;
        if (space) {
            tmp[len++] = ' ';
            (*chars)++;
            space = false;
        }
        memcpy(tmp + len, text + i, seq);
        len += seq;
        i += seq;
        (*chars)++;
    }
    tmp[len] = '\0';
    return len;
}

/* Cuts s to MD_CONNECTOR_MAX_SUMMARY characters, at the last space when a
 * word would be split. */
static size_t cut_summary(char *s, size_t len, size_t chars)
{
    if (chars <= MD_CONNECTOR_MAX_SUMMARY)
        return len;
    size_t at = 0, c = 0, last_space = 0;
    for (; at < len && c < MD_CONNECTOR_MAX_SUMMARY; at++) {
        if (((unsigned char)s[at] & 0xC0) == 0x80)
            continue;
        if (s[at] == ' ')
            last_space = at;
        c++;
    }
    while (at < len && ((unsigned char)s[at] & 0xC0) == 0x80)
        at++; /* finish the last character */
    if (at < len && s[at] != ' ' && last_space > 0)
        at = last_space;
    s[at] = '\0';
    return at;
}

/* Title Case: at least two words that start with a letter, all capitals. */
static bool is_title_case(const char *s)
{
    size_t words = 0;
    for (const char *w = s; *w; w += strcspn(w, " "), w += *w == ' ') {
        const char *p = w + strspn(w, "(");
        if (!isalpha((unsigned char)*p))
            continue;
        if (!isupper((unsigned char)*p))
            return false;
        words++;
    }
    return words >= 2;
}

/* Lower-cases the capital of every word but the first, unless the word has
 * other capitals ("HR", "iOS") or is "I". */
static void to_sentence_case(char *s)
{
    bool first = true;
    for (char *w = s; *w; w += strcspn(w, " "), w += *w == ' ') {
        char *p = w + strspn(w, "(");
        size_t n = strcspn(p, " ");
        bool other_caps = false;
        for (size_t i = 1; i < n; i++)
            other_caps = other_caps || isupper((unsigned char)p[i]);
        if (!first && isupper((unsigned char)*p) && !other_caps && !(n == 1 && *p == 'I'))
            *p = (char)tolower((unsigned char)*p);
        first = false;
    }
}

size_t md_connector_summary(const char *text, char *out, size_t outlen)
{
    char tmp[MD_CONNECTOR_SUMMARY_BUF + 8];
    size_t chars;
    size_t len = filter_summary(text, tmp, sizeof(tmp), &chars);
    len = cut_summary(tmp, len, chars);
    if (is_title_case(tmp))
        to_sentence_case(tmp);
    while (len > 0 && (tmp[len - 1] == ' ' || tmp[len - 1] == '('))
        tmp[--len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if (isalpha((unsigned char)tmp[i])) {
            tmp[i] = (char)toupper((unsigned char)tmp[i]);
            break;
        }
        if (tmp[i] != '(')
            break; /* starts with a digit or another script: leave it */
    }
    if (outlen == 0)
        return 0;
    while (len >= outlen) { /* the caller's buffer is smaller: cut at a character */
        len--;
        while (len > 0 && ((unsigned char)tmp[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(out, tmp, len);
    out[len] = '\0';
    return len;
}

typedef struct sum_walk {
    sb_t *b;
    bool params;
    size_t count;
} sum_walk_t;

static void summary_segment(void *arg, const char *s, size_t n, bool param)
{
    sum_walk_t *w = arg;
    if (param != w->params)
        return;
    const char *sep = !param ? " " : w->count ? " and " : " by ";
    for (; *sep; sep++)
        sb_put(w->b, *sep);
    for (size_t i = 0; i < n; i++)
        sb_put(w->b, s[i]);
    w->count++;
}

size_t md_connector_path_summary(const char *method, const char *path, char *out, size_t outlen)
{
    char raw[1024];
    sb_t b = sb_make(raw, sizeof(raw));
    put_words(&b, method, strlen(method), true);
    sum_walk_t w = { .b = &b, .params = false };
    each_segment(path, summary_segment, &w);
    if (w.count == 0 && !strchr(path, '{'))
        summary_segment(&w, "root", 4, false);
    w.params = true;
    w.count = 0;
    each_segment(path, summary_segment, &w);
    return md_connector_summary(raw, out, outlen); /* a cut raw is cut again, at a word */
}

/* ---- display names ----------------------------------------------------- */

/* Whether a word break comes before s[i] inside a run of letters/digits:
 * "publishedAt" -> published|At, "HTTPServer" -> HTTP|Server. */
static bool camel_break(const char *s, size_t i)
{
    unsigned char prev = (unsigned char)s[i - 1], cur = (unsigned char)s[i], next = (unsigned char)s[i + 1];
    if (!isupper(cur))
        return false;
    return islower(prev) || isdigit(prev) || (isupper(prev) && islower(next));
}

static void put_title_word(sb_t *b, const char *w, size_t n)
{
    static const char *const upper[] = { "id", "url", "uri" };
    for (size_t k = 0; k < MD_ARRAY_LEN(upper); k++) {
        if (n == strlen(upper[k]) && strncmp(w, upper[k], n) == 0) {
            for (size_t i = 0; i < n; i++)
                sb_put(b, (char)toupper((unsigned char)w[i]));
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        sb_put(b, (char)(i == 0 ? toupper((unsigned char)w[i]) : w[i]));
}

void md_connector_title(const char *name, char *out, size_t outlen)
{
    sb_t b = sb_make(out, outlen);
    size_t n = strlen(name), i = 0;
    bool any = false;
    while (i < n) {
        unsigned char ch = (unsigned char)name[i];
        if (!is_alnum(ch) && ch < 0x80) {
            i++;
            continue;
        }
        size_t start = i++;
        while (i < n && (is_alnum((unsigned char)name[i]) || (unsigned char)name[i] >= 0x80) && !camel_break(name, i))
            i++;
        if (any)
            sb_put(&b, ' ');
        put_title_word(&b, name + start, i - start);
        any = true;
    }
    if (!any)
        put_title_word(&b, "Value", 5);
    if (b.over && b.len > 0) { /* do not leave half a UTF-8 character */
        size_t len = b.len;
        while (len > 0 && ((unsigned char)out[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0 && (unsigned char)out[len - 1] >= 0xC0)
            len--;
        out[len] = '\0';
    }
}
