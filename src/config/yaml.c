/*
 * yaml.c - turns libyaml's event stream into a small node tree for the
 * loader (see internal.h), keeping each node's line and column.
 *
 * Only what a config needs is accepted: one document of mappings, lists
 * and scalars. Aliases are refused (they are how "billion laughs" inputs
 * multiply a small file into a huge tree), as are non-scalar mapping keys.
 * Depth, node count, key and value sizes are bounded. ${VAR} expansion
 * happens here, on value scalars only, so that an undefined variable is
 * reported at the scalar that uses it.
 */
#include "config/internal.h"
#include "core/common.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

typedef struct level {
    md_cfg_node_t *node;
    bool have_key;              /* a mapping's key was read, its value is next */
    const char *key;
    int key_line, key_col;
} level_t;

typedef struct builder {
    md_pool_t *pool;
    md_diag_t *diag;
    level_t stack[MD_CFG_MAX_DEPTH];
    int depth;
    size_t nodes;
    size_t expanded;            /* bytes of value text so far */
    int ndocs;
    md_buf_t buf;               /* expansion scratch, reused for every scalar */
    md_cfg_node_t *root;
} builder_t;

static int fail_at(builder_t *b, yaml_mark_t m, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail_at(builder_t *b, yaml_mark_t m, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->diag->msg, sizeof(b->diag->msg), fmt, ap);
    va_end(ap);
    b->diag->line = (int)m.line + 1;
    b->diag->col = (int)m.column + 1;
    return rc;
}

static bool is_null_scalar(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

static md_cfg_node_t *new_node(builder_t *b, md_cfg_kind_t kind, yaml_mark_t m)
{
    md_cfg_node_t *n = md_pool_calloc(b->pool, sizeof(*n));
    n->kind = kind;
    n->line = (int)m.line + 1;
    n->col = (int)m.column + 1;
    n->str = "";
    return n;
}

/* Links n under the innermost open collection, or makes it the root. */
static int attach(builder_t *b, md_cfg_node_t *n, yaml_mark_t m)
{
    if (++b->nodes > MD_CFG_MAX_NODES)
        return fail_at(b, m, MD_ETOOBIG, "too many YAML nodes (max %d)", MD_CFG_MAX_NODES);
    if (b->depth == 0) {
        b->root = n;
        return MD_OK;
    }
    level_t *top = &b->stack[b->depth - 1];
    if (top->node->kind == MD_CFG_MAP) {
        if (!top->have_key)
            return fail_at(b, m, MD_EINVAL, "mapping keys must be plain strings, not lists or mappings");
        n->key = top->key;
        n->key_line = top->key_line;
        n->key_col = top->key_col;
        top->have_key = false;
    }
    md_cfg_node_t *p = top->node;
    if (p->last)
        p->last->next = n;
    else
        p->first = n;
    p->last = n;
    p->count++;
    return MD_OK;
}

static int on_key(builder_t *b, const yaml_event_t *ev, level_t *top)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (n > MD_CFG_MAX_KEY_BYTES)
        return fail_at(b, ev->start_mark, MD_ETOOBIG, "mapping key is longer than %d bytes", MD_CFG_MAX_KEY_BYTES);
    if (memchr(s, '\0', n))
        return fail_at(b, ev->start_mark, MD_EINVAL, "NUL bytes are not allowed in keys");
    top->key = md_pool_strndup(b->pool, s, n);
    top->key_line = (int)ev->start_mark.line + 1;
    top->key_col = (int)ev->start_mark.column + 1;
    top->have_key = true;
    return MD_OK;
}

static int on_scalar(builder_t *b, const yaml_event_t *ev)
{
    level_t *top = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (top && top->node->kind == MD_CFG_MAP && !top->have_key)
        return on_key(b, ev, top);

    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (memchr(s, '\0', len))
        return fail_at(b, ev->start_mark, MD_EINVAL, "NUL bytes are not allowed in values");
    md_buf_reset(&b->buf);
    char err[256];
    int rc = md_cfg_env_expand(s, len, &b->buf, err, sizeof(err));
    if (rc != MD_OK)
        return fail_at(b, ev->start_mark, rc, "%s", err);
    b->expanded += b->buf.len;
    if (b->expanded > MD_CFG_MAX_EXPANDED_BYTES)
        return fail_at(b, ev->start_mark, MD_ETOOBIG, "values add up to more than %d MiB after ${} expansion",
                       MD_CFG_MAX_EXPANDED_BYTES / (1024 * 1024));
    if (b->buf.len && memchr(b->buf.data, '\0', b->buf.len))
        return fail_at(b, ev->start_mark, MD_EINVAL, "NUL bytes are not allowed in values");

    md_cfg_node_t *n = new_node(b, MD_CFG_SCALAR, ev->start_mark);
    n->null = is_null_scalar(ev);
    if (!n->null) { /* a null reads as "" wherever a string is accepted */
        n->str = md_pool_strndup(b->pool, b->buf.len ? b->buf.data : "", b->buf.len);
        n->len = b->buf.len;
    }
    return attach(b, n, ev->start_mark);
}

static int on_collection_start(builder_t *b, const yaml_event_t *ev, md_cfg_kind_t kind)
{
    if (b->depth == MD_CFG_MAX_DEPTH)
        return fail_at(b, ev->start_mark, MD_ETOOBIG, "nesting is deeper than %d levels", MD_CFG_MAX_DEPTH);
    md_cfg_node_t *n = new_node(b, kind, ev->start_mark);
    int rc = attach(b, n, ev->start_mark);
    if (rc != MD_OK)
        return rc;
    b->stack[b->depth++] = (level_t){ .node = n };
    return MD_OK;
}

static int on_event(builder_t *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->ndocs > 1)
            return fail_at(b, ev->start_mark, MD_EINVAL, "only one YAML document is allowed");
        return MD_OK;
    case YAML_ALIAS_EVENT:
        return fail_at(b, ev->start_mark, MD_EINVAL, "YAML aliases (*%.64s) are not supported",
                       (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_collection_start(b, ev, MD_CFG_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_collection_start(b, ev, MD_CFG_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return MD_OK;
    default:
        return MD_OK;
    }
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset rather
 * than a mark; count lines up to it so they too get a position. */
static void offset_to_mark(const char *text, size_t len, size_t off, yaml_mark_t *m)
{
    m->line = 0;
    m->column = 0;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            m->line++;
            m->column = 0;
        } else {
            m->column++;
        }
    }
}

static int syntax_error(builder_t *b, const yaml_parser_t *p, const char *text, size_t len)
{
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR)
        offset_to_mark(text, len, p->problem_offset, &m);
    const char *problem = p->problem ? p->problem : "malformed input";
    if (p->context)
        return fail_at(b, m, MD_EINVAL, "YAML syntax error: %s (%s)", problem, p->context);
    return fail_at(b, m, MD_EINVAL, "YAML syntax error: %s", problem);
}

int md_cfg_yaml_parse(const char *text, size_t len, md_pool_t *pool, md_diag_t *diag, md_cfg_node_t **root)
{
    builder_t b = { .pool = pool, .diag = diag };
    md_buf_init(&b.buf, MD_CFG_MAX_SCALAR_BYTES);
    yaml_parser_t parser;
    *root = NULL;
    if (!yaml_parser_initialize(&parser)) {
        md_buf_free(&b.buf);
        yaml_mark_t m = { 0, 0, 0 };
        return fail_at(&b, m, MD_ERR, "cannot initialize the YAML parser");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

    int rc = MD_OK;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(&b, &parser, text, len);
            break;
        }
        bool done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc != MD_OK || done)
            break;
    }
    yaml_parser_delete(&parser);
    md_buf_free(&b.buf);
    if (rc == MD_OK)
        *root = b.root;
    return rc;
}
