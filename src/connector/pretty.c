/*
 * pretty.c - the indented JSON writer, see pretty.h.
 *
 * Each value starts by separating itself from the previous member (",")
 * and breaking the line at its depth; a container remembers whether it got
 * a member so that an empty one closes on the same line.
 */
#include "connector/pretty.h"

#include "core/common.h"
#include "json/write.h"

#include <stdio.h>
#include <string.h>

void md_jw_init(md_jw_t *w, md_buf_t *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

static void keep(md_jw_t *w, int rc)
{
    if (w->rc == MD_OK && rc != MD_OK)
        w->rc = rc;
}

static void newline(md_jw_t *w)
{
    keep(w, md_buf_append_char(w->out, '\n'));
    for (int i = 0; i < w->depth && w->rc == MD_OK; i++)
        keep(w, md_buf_append(w->out, "  ", 2));
}

/* Everything a value needs before its own text: separator, line break,
 * indentation and "key": . */
static bool begin_value(md_jw_t *w, const char *key)
{
    if (w->rc != MD_OK)
        return false;
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            keep(w, md_buf_append_char(w->out, ','));
        w->has_items[w->depth - 1] = true;
        newline(w);
    }
    if (key) {
        keep(w, md_json_write_string(w->out, key, strlen(key)));
        keep(w, md_buf_append(w->out, ": ", 2));
    }
    return w->rc == MD_OK;
}

static void open_container(md_jw_t *w, const char *key, char open, char close)
{
    if (!begin_value(w, key))
        return;
    if (w->depth == MD_JW_MAX_DEPTH) {
        w->rc = MD_ETOOBIG;
        return;
    }
    keep(w, md_buf_append_char(w->out, open));
    w->close[w->depth] = close;
    w->has_items[w->depth++] = false;
}

void md_jw_object(md_jw_t *w, const char *key)
{
    open_container(w, key, '{', '}');
}

void md_jw_array(md_jw_t *w, const char *key)
{
    open_container(w, key, '[', ']');
}

void md_jw_end(md_jw_t *w)
{
    if (w->rc != MD_OK || w->depth == 0)
        return;
    w->depth--;
    if (w->has_items[w->depth])
        newline(w);
    keep(w, md_buf_append_char(w->out, w->close[w->depth]));
}

void md_jw_string(md_jw_t *w, const char *key, const char *value)
{
    if (value && begin_value(w, key))
        keep(w, md_json_write_string(w->out, value, strlen(value)));
}

void md_jw_int(md_jw_t *w, const char *key, long long value)
{
    if (begin_value(w, key))
        keep(w, md_buf_printf(w->out, "%lld", value));
}

void md_jw_bool(md_jw_t *w, const char *key, bool value)
{
    if (begin_value(w, key))
        keep(w, md_buf_append_str(w->out, value ? "true" : "false"));
}

void md_jw_raw(md_jw_t *w, const char *key, const char *json)
{
    if (json && begin_value(w, key))
        keep(w, md_buf_append_str(w->out, json));
}

int md_jw_finish(md_jw_t *w)
{
    if (w->rc == MD_OK && w->depth != 0)
        w->rc = MD_EINVAL; /* a container left open: a builder bug */
    if (w->rc == MD_OK)
        keep(w, md_buf_append_char(w->out, '\n'));
    return w->rc;
}
