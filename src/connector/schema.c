/*
 * schema.c - the 200 response schema of one endpoint, see schema.h.
 *
 * The tree lives in a pool for the duration of one call; names point into
 * the config, the pool (sampled keys) or string literals. Every node is
 * counted against MD_SCHEMA_MAX_NODES and MD_SCHEMA_MAX_DEPTH, so neither a
 * huge config nor a hostile sample can grow it without bound: past the
 * limits new properties are simply not added.
 */
#include "connector/schema.h"

#include "connector/text.h"
#include "core/common.h"
#include "core/pool.h"
#include "json/scan.h"

#include <ctype.h>
#include <string.h>

enum { FMT_UNSEEN, FMT_DATETIME, FMT_PLAIN };

typedef struct node node_t;
struct node {
    const char *name;           /* member key; NULL for the root and list items */
    md_schema_type_t type;      /* MD_SCHEMA_NONE: not known yet */
    bool guessed;               /* the container form is a guess a sample may change */
    bool open;                  /* an object whose members the config does not list */
    bool result;                /* the whole result of `backend` */
    bool errors;                /* the errors_field object */
    bool warned;                /* a conflict was reported already */
    int fmt;                    /* FMT_*: what sampled strings looked like */
    int depth;
    const char *backend;        /* whose answer this is part of; NULL for groups */
    const char *title, *description, *format; /* overrides */
    node_t *parent, *items;     /* items: the element of a list */
    node_t *first, *last, *next;
};

typedef struct build {
    md_pool_t *pool;
    const md_endpoint_conf_t *e;
    const char *opid;
    FILE *warn;
    node_t *root;
    const char *backend;        /* for nodes being created */
    size_t nodes;
    bool full_warned, deep_warned;
} build_t;

/* ---- the tree ---------------------------------------------------------- */

static void path_of(const node_t *n, char *out, size_t len)
{
    if (!n->parent) {
        snprintf(out, len, "%s", "");
        return;
    }
    path_of(n->parent, out, len);
    size_t used = strlen(out);
    if (n == n->parent->items)
        snprintf(out + used, len - used, "[]");
    else
        snprintf(out + used, len - used, "%s%s", used ? "." : "", n->name);
}

static void warn_at(build_t *b, const node_t *n, const char *what)
{
    if (!b->warn)
        return;
    char path[512];
    path_of(n, path, sizeof(path));
    fprintf(b->warn, "%s: property '%s' %s\n", b->opid, path[0] ? path : "(the answer)", what);
}

static node_t *new_node(build_t *b, node_t *parent, const char *name, md_schema_type_t type)
{
    int depth = parent ? parent->depth + 1 : 0;
    if (b->nodes >= MD_SCHEMA_MAX_NODES || depth > MD_SCHEMA_MAX_DEPTH) {
        bool *once = depth > MD_SCHEMA_MAX_DEPTH ? &b->deep_warned : &b->full_warned;
        if (!*once && b->warn)
            fprintf(b->warn, "%s: the response has more than %d properties or %d levels; the rest is left out\n",
                    b->opid, MD_SCHEMA_MAX_NODES, MD_SCHEMA_MAX_DEPTH);
        *once = true;
        return NULL;
    }
    b->nodes++;
    node_t *n = md_pool_calloc(b->pool, sizeof(*n));
    n->name = name;
    n->type = type;
    n->parent = parent;
    n->depth = depth;
    n->backend = b->backend;
    return n;
}

static node_t *find_member(const node_t *obj, const char *name, size_t len)
{
    for (node_t *m = obj->first; m; m = m->next)
        if (strlen(m->name) == len && memcmp(m->name, name, len) == 0)
            return m;
    return NULL;
}

static void append(node_t *obj, node_t *m)
{
    m->next = NULL;
    m->parent = obj;
    if (obj->last)
        obj->last->next = m;
    else
        obj->first = m;
    obj->last = m;
}

static node_t *add_member(build_t *b, node_t *obj, const char *name)
{
    node_t *m = new_node(b, obj, name, MD_SCHEMA_NONE);
    if (m)
        append(obj, m);
    return m;
}

/* Depths are fixed at creation; a subtree moved under another parent
 * (merging, reshaping) gets them again. */
static void set_depth(node_t *n, int depth)
{
    n->depth = depth;
    if (n->items)
        set_depth(n->items, depth + 1);
    for (node_t *m = n->first; m; m = m->next)
        set_depth(m, depth + 1);
}

/* Puts m into obj as the merge does: an object meeting an object merges
 * member by member, anything else replaces what was there. */
static void merge_member(node_t *obj, node_t *m)
{
    node_t *old = find_member(obj, m->name, strlen(m->name));
    if (!old) {
        append(obj, m);
        set_depth(m, obj->depth + 1);
        return;
    }
    if (old->type == MD_SCHEMA_OBJECT && m->type == MD_SCHEMA_OBJECT) {
        old->open = old->open || m->open;
        for (node_t *c = m->first, *next; c; c = next) {
            next = c->next;
            merge_member(old, c);
        }
        return;
    }
    node_t **link = &obj->first;
    while (*link != old)
        link = &(*link)->next;
    m->next = old->next;
    m->parent = obj;
    *link = m;
    if (obj->last == old)
        obj->last = m;
    set_depth(m, obj->depth + 1);
}

/* Moves every member of `from` to `to`. */
static void move_members(node_t *from, node_t *to)
{
    for (node_t *c = from->first, *next; c; c = next) {
        next = c->next;
        append(to, c);
        set_depth(c, to->depth + 1);
    }
    from->first = from->last = NULL;
}

/* Changes n to type t, keeping what can be kept: an object becoming a
 * list keeps its members as the items' members, and back. */
static void reshape(build_t *b, node_t *n, md_schema_type_t t)
{
    if (n->type == t)
        return;
    if (t == MD_SCHEMA_ARRAY && n->type == MD_SCHEMA_OBJECT) {
        node_t *items = new_node(b, n, NULL, MD_SCHEMA_OBJECT);
        if (items) {
            items->open = n->open;
            items->backend = n->backend;
            move_members(n, items);
        }
        n->items = items;
    } else if (t == MD_SCHEMA_OBJECT && n->type == MD_SCHEMA_ARRAY) {
        if (n->items && n->items->type == MD_SCHEMA_OBJECT) {
            n->open = n->items->open;
            move_members(n->items, n);
        }
        n->items = NULL;
    } else if (t != MD_SCHEMA_OBJECT) {
        n->first = n->last = NULL;
        n->items = NULL;
    }
    if (t != MD_SCHEMA_OBJECT)
        n->open = false;
    n->type = t;
}

/* The node at a dotted path under obj, created (as objects on the way)
 * when `create`; NULL if absent or over the limits. */
static node_t *walk_path(build_t *b, node_t *obj, const char *path, bool create)
{
    node_t *cur = obj;
    for (const char *p = path;; p++) {
        size_t n = strcspn(p, ".");
        node_t *child = find_member(cur, p, n);
        if (!child && create)
            child = add_member(b, cur, md_pool_strndup(b->pool, p, n));
        if (!child || !p[n])
            return child;
        if (child->type == MD_SCHEMA_NONE)
            child->type = MD_SCHEMA_OBJECT;
        cur = child;
        p += n;
    }
}

/* ---- pass 1: the config ------------------------------------------------ */

static node_t *backend_result(build_t *b, const md_backend_conf_t *be)
{
    const md_shape_spec_t *s = &be->shape;
    bool list = be->has_shape && (s->sort || s->limit >= 0);
    b->backend = be->name;
    node_t *n = new_node(b, NULL, NULL, list ? MD_SCHEMA_ARRAY : MD_SCHEMA_OBJECT);
    if (!n)
        return NULL;
    n->guessed = !list;
    n->result = true;
    node_t *target = n;
    if (list && (n->items = new_node(b, n, NULL, MD_SCHEMA_OBJECT))) {
        n->items->guessed = !be->has_shape || s->nselect == 0; /* a list of scalars is possible */
        target = n->items;
    }
    if (!list || n->items) {
        for (size_t i = 0; be->has_shape && i < s->nselect; i++)
            walk_path(b, target, s->select[i], true);
        target->open = !be->has_shape || s->nselect == 0;
        for (size_t i = 0; be->has_shape && i < s->nrename; i++) {
            node_t *r = walk_path(b, target, s->rename[i].name, false);
            if (r)
                r->name = s->rename[i].value;
        }
    }
    return n;
}

/* Puts a backend's result where the merge puts it: at its `as` path, or
 * its members into the root. */
static void place_result(build_t *b, const md_backend_conf_t *be, node_t *r)
{
    if (!be->as) {
        if (r->type == MD_SCHEMA_OBJECT) {
            b->root->open = b->root->open || r->open;
            for (node_t *c = r->first, *next; c; c = next) {
                next = c->next;
                merge_member(b->root, c);
            }
        }
        return;
    }
    node_t *parent = b->root;
    const char *p = be->as;
    for (;;) { /* every segment but the last is a group object */
        size_t n = strcspn(p, ".");
        if (!p[n])
            break;
        node_t *child = find_member(parent, p, n);
        if (!child || child->type != MD_SCHEMA_OBJECT) {
            b->backend = NULL;
            node_t *group = new_node(b, parent, md_pool_strndup(b->pool, p, n), MD_SCHEMA_OBJECT);
            if (!group)
                return;
            merge_member(parent, group);
            child = group;
        }
        parent = child;
        p += n + 1;
    }
    r->name = p;
    merge_member(parent, r);
}

static void from_config(build_t *b)
{
    const md_endpoint_conf_t *e = b->e;
    if (e->passthrough) {
        b->backend = e->backends[0].name;
        b->root = new_node(b, NULL, NULL, MD_SCHEMA_OBJECT);
        b->root->guessed = b->root->open = b->root->result = true;
        return;
    }
    b->root = new_node(b, NULL, NULL, MD_SCHEMA_OBJECT);
    for (size_t i = 0; i < e->nbackends; i++) {
        node_t *r = backend_result(b, &e->backends[i]);
        if (r)
            place_result(b, &e->backends[i], r);
    }
    if (e->errors_field) {
        b->backend = NULL;
        node_t *err = new_node(b, b->root, e->errors_field, MD_SCHEMA_OBJECT);
        if (err) {
            err->errors = true;
            merge_member(b->root, err);
        }
    }
}

/* ---- pass 2: a sample -------------------------------------------------- */

/* RFC 3339 date-time: 2024-03-12T07:13:05Z, with optional fraction and a
 * numeric offset instead of Z. */
static bool is_datetime(const char *s, size_t n)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (n < sizeof(shape) - 1 + 1)
        return false;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        char want = shape[i];
        bool ok = want == 'd' ? isdigit((unsigned char)s[i]) : want == 'T' ? (s[i] == 'T' || s[i] == 't') : s[i] == want;
        if (!ok)
            return false;
    }
    size_t i = sizeof(shape) - 1;
    if (s[i] == '.') {
        size_t d = ++i;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i == d)
            return false;
    }
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
        return true;
    return i + 6 == n && (s[i] == '+' || s[i] == '-') && isdigit((unsigned char)s[i + 1]) &&
           isdigit((unsigned char)s[i + 2]) && s[i + 3] == ':' && isdigit((unsigned char)s[i + 4]) &&
           isdigit((unsigned char)s[i + 5]);
}

/* Records that the sample has a value of type t at n. False when n is
 * known to be something else (reported once): the sample is not followed
 * further there. */
static bool sample_type(build_t *b, node_t *n, md_schema_type_t t)
{
    if (n->type == MD_SCHEMA_NONE || n->type == t || n->guessed) {
        reshape(b, n, t);
        n->guessed = false;
        return true;
    }
    if ((n->type == MD_SCHEMA_INTEGER || n->type == MD_SCHEMA_NUMBER) &&
        (t == MD_SCHEMA_INTEGER || t == MD_SCHEMA_NUMBER)) {
        n->type = MD_SCHEMA_NUMBER;
        return true;
    }
    if (!n->warned)
        warn_at(b, n, "has values of different types in the sample; the first one is kept");
    n->warned = true;
    return false;
}

static void annotate(build_t *b, node_t *n, const char *json, const md_json_tok_t *toks, uint32_t i);

static void annotate_object(build_t *b, node_t *n, const char *json, const md_json_tok_t *toks, uint32_t i)
{
    uint32_t k = i + 1;
    for (uint32_t m = 0; m < toks[i].count; m++, k = toks[k + 1].next) {
        const md_json_tok_t *key = &toks[k];
        const char *name = json + key->off + 1;
        size_t len = key->len - 2;
        if (n == b->root && b->e->errors_field && strlen(b->e->errors_field) == len &&
            memcmp(name, b->e->errors_field, len) == 0)
            continue;
        if (key->flags & MD_JSON_F_ESCAPED) {
            if (b->warn)
                fprintf(b->warn, "%s: a sampled key with escapes (%.*s) is left out; add it with response.schema\n",
                        b->opid, (int)MD_MIN(len, 64), name);
            continue;
        }
        node_t *child = find_member(n, name, len);
        if (!child) {
            b->backend = n->backend;
            child = add_member(b, n, md_pool_strndup(b->pool, name, len));
        }
        if (child)
            annotate(b, child, json, toks, k + 1);
    }
}

static void annotate(build_t *b, node_t *n, const char *json, const md_json_tok_t *toks, uint32_t i)
{
    const md_json_tok_t *t = &toks[i];
    switch (t->type) {
    case MD_JSON_OBJECT:
        if (sample_type(b, n, MD_SCHEMA_OBJECT))
            annotate_object(b, n, json, toks, i);
        break;
    case MD_JSON_ARRAY:
        if (!sample_type(b, n, MD_SCHEMA_ARRAY))
            break;
        b->backend = n->backend;
        if (!n->items)
            n->items = new_node(b, n, NULL, MD_SCHEMA_NONE);
        for (uint32_t k = i + 1, e = 0; n->items && e < t->count && e < MD_SCHEMA_MAX_SAMPLE_ITEMS;
             e++, k = toks[k].next)
            annotate(b, n->items, json, toks, k);
        break;
    case MD_JSON_STRING:
        if (sample_type(b, n, MD_SCHEMA_STRING)) {
            bool dt = is_datetime(json + t->off + 1, t->len - 2);
            n->fmt = dt && n->fmt != FMT_PLAIN ? FMT_DATETIME : FMT_PLAIN;
        }
        break;
    case MD_JSON_NUMBER: {
        bool integer = !memchr(json + t->off, '.', t->len) && !memchr(json + t->off, 'e', t->len) &&
                       !memchr(json + t->off, 'E', t->len);
        sample_type(b, n, integer ? MD_SCHEMA_INTEGER : MD_SCHEMA_NUMBER);
        break;
    }
    case MD_JSON_TRUE:
    case MD_JSON_FALSE:
        sample_type(b, n, MD_SCHEMA_BOOLEAN);
        break;
    default: /* null says nothing about the type */
        break;
    }
}

static bool from_sample(build_t *b, const char *sample, size_t len)
{
    md_json_toks_t toks;
    md_json_toks_init(&toks, 0);
    uint32_t root;
    char err[160];
    bool ok = md_json_scan(&toks, sample, len, &root, err, sizeof(err)) == MD_OK;
    if (ok)
        annotate(b, b->root, sample, toks.v, root);
    else if (b->warn)
        fprintf(b->warn, "%s: the sampled answer is not JSON (%s); it is not used\n", b->opid, err);
    md_json_toks_free(&toks);
    return ok;
}

/* ---- pass 3: overrides ------------------------------------------------- */

static void apply_override(build_t *b, const md_schema_prop_conf_t *o)
{
    node_t *n = b->root;
    for (const char *p = o->path;; p++) {
        size_t len = strcspn(p, ".");
        b->backend = n->backend;
        if (n->type == MD_SCHEMA_ARRAY) {
            if (!n->items && !(n->items = new_node(b, n, NULL, MD_SCHEMA_OBJECT)))
                return;
            n = n->items;
        }
        reshape(b, n, MD_SCHEMA_OBJECT);
        node_t *child = find_member(n, p, len);
        if (!child && !(child = add_member(b, n, md_pool_strndup(b->pool, p, len))))
            return;
        n = child;
        if (!p[len])
            break;
        p += len;
    }
    if (o->type != MD_SCHEMA_NONE) {
        reshape(b, n, o->type);
        n->guessed = false;
    }
    if (o->title)
        n->title = o->title;
    if (o->description)
        n->description = o->description;
    if (o->format)
        n->format = o->format;
}

/* ---- output ------------------------------------------------------------ */

static void finalize(build_t *b, node_t *n)
{
    if (n->type == MD_SCHEMA_NONE) {
        warn_at(b, n, "has no known type; typed string (use --sample or response.schema)");
        n->type = MD_SCHEMA_STRING;
    }
    if (n->type == MD_SCHEMA_ARRAY && n->items)
        finalize(b, n->items);
    if (n->type == MD_SCHEMA_OBJECT && n->open && !n->first && !n->errors)
        warn_at(b, n, "has no known properties (use --sample or response.schema)");
    for (node_t *m = n->first; m; m = m->next)
        finalize(b, m);
}

static const char *type_name(md_schema_type_t t)
{
    static const char *const names[] = { "string", "string", "integer", "number", "boolean", "object", "array" };
    return names[t];
}

static void describe(const node_t *n, md_jw_t *w)
{
    char title[160], sentence[MD_CONNECTOR_SUMMARY_BUF], desc[512];
    if (n->title)
        snprintf(title, sizeof(title), "%s", n->title);
    else
        md_connector_title(n->name, title, sizeof(title));
    md_jw_string(w, "x-ms-summary", title);
    if (n->description) {
        md_jw_string(w, "description", n->description);
        return;
    }
    md_connector_summary(title, sentence, sizeof(sentence));
    if (n->errors)
        snprintf(desc, sizeof(desc), "Optional backends that failed, by backend name; present only when one failed.");
    else if (n->result && n->backend)
        snprintf(desc, sizeof(desc), "Result of the %s backend.", n->backend);
    else if (n->backend)
        snprintf(desc, sizeof(desc), "%s from the %s backend.", sentence[0] ? sentence : "Value", n->backend);
    else
        snprintf(desc, sizeof(desc), "Results grouped under %s.", n->name);
    md_jw_string(w, "description", desc);
}

static void write_errors_members(md_jw_t *w)
{
    static const char *const fields[][3] = {
        { "error", "Error", "Kind of failure, such as timeout, connect or status." },
        { "message", "Message", "What went wrong, in words." },
    };
    md_jw_object(w, "additionalProperties");
    md_jw_string(w, "type", "object");
    md_jw_object(w, "properties");
    for (size_t i = 0; i < MD_ARRAY_LEN(fields); i++) {
        md_jw_object(w, fields[i][0]);
        md_jw_string(w, "type", "string");
        md_jw_string(w, "x-ms-summary", fields[i][1]);
        md_jw_string(w, "description", fields[i][2]);
        md_jw_end(w);
    }
    md_jw_end(w);
    md_jw_end(w);
}

static void write_node(md_jw_t *w, const node_t *n, const char *key, bool property)
{
    md_jw_object(w, key);
    md_jw_string(w, "type", type_name(n->type));
    if (n->format)
        md_jw_string(w, "format", n->format);
    else if (n->type == MD_SCHEMA_STRING && n->fmt == FMT_DATETIME)
        md_jw_string(w, "format", "date-time");
    if (property)
        describe(n, w);
    if (n->type == MD_SCHEMA_OBJECT && n->first) {
        md_jw_object(w, "properties");
        for (const node_t *m = n->first; m; m = m->next)
            write_node(w, m, m->name, true);
        md_jw_end(w);
    }
    if (n->errors)
        write_errors_members(w);
    if (n->type == MD_SCHEMA_ARRAY && n->items) {
        write_node(w, n->items, "items", false);
    } else if (n->type == MD_SCHEMA_ARRAY) {
        md_jw_object(w, "items");
        md_jw_string(w, "type", "string");
        md_jw_end(w);
    }
    md_jw_end(w);
}

int md_connector_response_schema(md_jw_t *w, const md_endpoint_conf_t *e, const char *opid, const char *sample,
                                 size_t sample_len, FILE *warn, bool *written)
{
    build_t b = { .pool = md_pool_new(16 * 1024), .e = e, .opid = opid, .warn = warn };
    from_config(&b);
    bool known = !e->passthrough;
    if (sample)
        known = from_sample(&b, sample, sample_len) || known;
    for (size_t i = 0; i < e->response.nschema; i++)
        apply_override(&b, &e->response.schema[i]);
    known = known || e->response.nschema > 0;
    *written = known;
    if (known) {
        finalize(&b, b.root);
        write_node(w, b.root, "schema", false);
    } else if (warn) {
        fprintf(warn, "%s: the passthrough answer is unknown, so its 200 response has no schema (use --sample "
                      "or response.schema)\n", opid);
    }
    md_pool_destroy(b.pool);
    return w->rc;
}
