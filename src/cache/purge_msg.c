/*
 * purge_msg.c - encodes and strictly decodes the cross-instance purge
 * message (format in purge_msg.h). The decoder walks the text once with a
 * cursor and refuses at the first byte that does not fit: these bytes come
 * from anyone who can PUBLISH on the Redis channel.
 */
#include "cache/purge_msg.h"

#include <string.h>

#define LEN_DIGITS 4             /* MD_PURGE_MSG_MAX has 4 digits */

static const char *const sel_names[] = { "endpoint", "backend", "input", "key", "all" };

static size_t sel_fields(md_purge_sel_t sel)
{
    return sel == MD_PURGE_SEL_INPUT ? 2 : sel == MD_PURGE_SEL_ALL ? 0 : 1;
}

static bool id_ok(const char *id, size_t len)
{
    if (len != MD_PURGE_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

static bool value_ok(md_str_t v)
{
    return (v.ptr || !v.len) && (!v.len || !memchr(v.ptr, '\0', v.len));
}

int md_purge_msg_encode(const md_purge_msg_t *m, md_buf_t *out)
{
    if ((unsigned)m->sel > MD_PURGE_SEL_ALL || !id_ok(m->id, strnlen(m->id, MD_PURGE_ID_LEN + 1)))
        return MD_EINVAL;
    size_t nf = sel_fields(m->sel);
    const md_str_t *f[2] = { &m->a, &m->b };
    for (size_t i = 0; i < nf; i++)
        if (!value_ok(*f[i]))
            return MD_EINVAL;
    size_t start = out->len;
    int rc = md_buf_printf(out, "v1 %s %s", m->id, sel_names[m->sel]);
    for (size_t i = 0; i < nf && rc == MD_OK; i++) {
        rc = md_buf_printf(out, " %zu:", f[i]->len);
        if (rc == MD_OK)
            rc = md_buf_append(out, f[i]->ptr, f[i]->len);
    }
    if (rc == MD_OK && out->len - start > MD_PURGE_MSG_MAX)
        rc = MD_ETOOBIG;
    if (rc != MD_OK)
        out->len = start;
    return rc;
}

/* A cursor over the message. */
typedef struct rd {
    const char *p, *end;
} rd_t;

/* Takes `lit` if the text continues with it. */
static bool take(rd_t *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return false;
    r->p += n;
    return true;
}

/* A word up to the next space (or the end); may be empty. */
static md_str_t word(rd_t *r)
{
    const char *s = r->p;
    while (r->p < r->end && *r->p != ' ')
        r->p++;
    return (md_str_t){ s, (size_t)(r->p - s) };
}

/* " <n>:<bytes>" */
static bool field(rd_t *r, md_str_t *v)
{
    if (!take(r, " ") || r->p == r->end)
        return false;
    size_t n = 0, digits = 0;
    if (*r->p == '0' && r->p + 1 < r->end && r->p[1] != ':')
        return false;  /* leading zero */
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && digits < LEN_DIGITS + 1) {
        n = n * 10 + (size_t)(*r->p++ - '0');
        digits++;
    }
    if (digits == 0 || digits > LEN_DIGITS || !take(r, ":") || (size_t)(r->end - r->p) < n)
        return false;
    *v = (md_str_t){ r->p, n };
    r->p += n;
    return value_ok(*v);
}

int md_purge_msg_decode(const char *s, size_t len, md_purge_msg_t *m)
{
    if (len > MD_PURGE_MSG_MAX)
        return MD_ETOOBIG;
    if (!s)
        return MD_EINVAL;
    memset(m, 0, sizeof(*m));
    rd_t r = { s, s + len };
    if (!take(&r, "v1 "))
        return MD_EINVAL;
    md_str_t id = word(&r);
    if (!id_ok(id.ptr, id.len) || !take(&r, " "))
        return MD_EINVAL;
    memcpy(m->id, id.ptr, MD_PURGE_ID_LEN);
    md_str_t name = word(&r);
    size_t i = 0;
    while (i < MD_ARRAY_LEN(sel_names) && !(name.len == strlen(sel_names[i]) &&
                                             memcmp(name.ptr, sel_names[i], name.len) == 0))
        i++;
    if (i == MD_ARRAY_LEN(sel_names))
        return MD_EINVAL;
    m->sel = (md_purge_sel_t)i;
    size_t nf = sel_fields(m->sel);
    if ((nf >= 1 && !field(&r, &m->a)) || (nf >= 2 && !field(&r, &m->b)))
        return MD_EINVAL;
    return r.p == r.end ? MD_OK : MD_EINVAL;
}
