/*
 * shape.c - compiling shape specs into field-rule trees and applying them
 * to scanned documents, see shape.h for the semantics.
 *
 * A compiled shape is a tree of rules, one per path segment named by
 * select, deny or rename; rule 0 is the root (the object being shaped).
 * Rules are stored in one fixed array, parents before children, so
 * properties inherited downwards are computed in one forward pass.
 *
 * Applying walks the document's tokens once: members without a rule are
 * copied (keep mode) or skipped (select mode) in O(1) through the token's
 * `next` index. Output goes straight into the caller's md_buf_t; the only
 * scratch is the per-thread token array and, when sorting more than
 * SORT_STACK elements, one allocation for the sort keys.
 */
#include "shape/shape.h"
#include "core/alloc.h"
#include "core/common.h"
#include "json/scan.h"
#include "json/write.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Elements sorted with keys on the stack; more costs one allocation. */
#define SORT_STACK 64

typedef struct path {
    char *text;                        /* owned copy of the dotted path */
    md_str_t seg[MD_SHAPE_MAX_DEPTH];  /* segments, pointing into text */
    unsigned n;
} path_t;

typedef struct rule {
    md_str_t key;         /* segment matched against member names (owned) */
    char *newname;        /* rename target (owned), NULL if not renamed */
    char *out;            /* encoded output key with ':' (owned) */
    size_t outlen;
    uint16_t parent;
    uint16_t first, last, next; /* children list and next sibling; 0 = none */
    uint16_t nchildren;
    bool selected;        /* named by select: keep the whole value */
    bool denied;          /* named by deny: drop it */
    bool in_selected;     /* some ancestor is selected */
    bool whitelist;       /* children are the only members to keep */
} rule_t;

struct md_shape {
    rule_t rules[MD_SHAPE_MAX_RULES];
    unsigned nrules;
    bool has_from, has_sort, desc;
    path_t from;
    path_t sort;
    long limit;
};


/* ---- compiling ---- */

static void path_free(path_t *p)
{
    md_free(p->text);
    p->text = NULL;
    p->n = 0;
}

/* Splits a dotted path; `what` names the spec field for messages. */
static int path_parse(path_t *p, const char *what, const char *text, char *err, size_t errlen)
{
    p->text = NULL;
    p->n = 0;
    if (!text) {
        md_seterr(err, errlen, "%s: missing path", what);
        return MD_EINVAL;
    }
    p->text = md_strdup(text);
    const char *start = p->text;
    for (const char *c = p->text;; c++) {
        if (*c != '.' && *c != '\0')
            continue;
        if (c == start) {
            md_seterr(err, errlen, "%s: empty segment in path '%s'", what, text);
            path_free(p);
            return MD_EINVAL;
        }
        if (p->n == MD_SHAPE_MAX_DEPTH) {
            md_seterr(err, errlen, "%s: path '%s' deeper than %d", what, text, MD_SHAPE_MAX_DEPTH);
            path_free(p);
            return MD_EINVAL;
        }
        p->seg[p->n++] = (md_str_t){ start, (size_t)(c - start) };
        if (!*c)
            break;
        start = c + 1;
    }
    return MD_OK;
}

static unsigned child_find(const md_shape_t *s, unsigned r, md_str_t key)
{
    for (unsigned c = s->rules[r].first; c; c = s->rules[c].next)
        if (s->rules[c].key.len == key.len && memcmp(s->rules[c].key.ptr, key.ptr, key.len) == 0)
            return c;
    return 0;
}

/* Appends a child rule for `key` under r; 0 (with err) when a limit is hit. */
static unsigned child_add(md_shape_t *s, unsigned r, md_str_t key, char *err, size_t errlen)
{
    if (s->nrules == MD_SHAPE_MAX_RULES) {
        md_seterr(err, errlen, "shape: more than %d fields", MD_SHAPE_MAX_RULES);
        return 0;
    }
    if (s->rules[r].nchildren == MD_SHAPE_MAX_FIELDS) {
        md_seterr(err, errlen, "shape: more than %d fields in one object", MD_SHAPE_MAX_FIELDS);
        return 0;
    }
    unsigned c = s->nrules++;
    rule_t *n = &s->rules[c];
    memset(n, 0, sizeof(*n));
    n->key.ptr = md_strndup(key.ptr, key.len);
    n->key.len = key.len;
    n->parent = (uint16_t)r;
    rule_t *p = &s->rules[r];
    if (p->last)
        s->rules[p->last].next = (uint16_t)c;
    else
        p->first = (uint16_t)c;
    p->last = (uint16_t)c;
    p->nchildren++;
    return c;
}

/* Adds one select (deny == false) or deny path. */
static int add_listed(md_shape_t *s, bool deny, const char *text, char *err, size_t errlen)
{
    const char *what = deny ? "deny" : "select";
    path_t p;
    int rc = path_parse(&p, what, text, err, errlen);
    if (rc != MD_OK)
        return rc;
    unsigned r = 0;
    for (unsigned i = 0; i < p.n && rc == MD_OK; i++) {
        if (r && (s->rules[r].selected || s->rules[r].denied)) {
            md_seterr(err, errlen, "%s: '%s' overlaps a shorter %s path", what, text, what);
            rc = MD_EINVAL;
            break;
        }
        unsigned c = child_find(s, r, p.seg[i]);
        if (!c && !(c = child_add(s, r, p.seg[i], err, errlen)))
            rc = MD_EINVAL;
        r = c;
    }
    if (rc == MD_OK && (s->rules[r].selected || s->rules[r].denied)) {
        md_seterr(err, errlen, "%s: duplicate path '%s'", what, text);
        rc = MD_EINVAL;
    } else if (rc == MD_OK && s->rules[r].nchildren) {
        md_seterr(err, errlen, "%s: '%s' overlaps a longer %s path", what, text, what);
        rc = MD_EINVAL;
    }
    if (rc == MD_OK) {
        if (deny)
            s->rules[r].denied = true;
        else
            s->rules[r].selected = true;
    }
    path_free(&p);
    return rc;
}

static int add_rename(md_shape_t *s, bool select_mode, const md_kv_t *kv, char *err, size_t errlen)
{
    if (!kv->value || !*kv->value) {
        md_seterr(err, errlen, "rename: empty new name for '%s'", kv->name ? kv->name : "");
        return MD_EINVAL;
    }
    path_t p;
    int rc = path_parse(&p, "rename", kv->name, err, errlen);
    if (rc != MD_OK)
        return rc;
    unsigned r = 0;
    bool inside = false;
    for (unsigned i = 0; i < p.n && rc == MD_OK; i++) {
        inside = inside || s->rules[r].selected;
        unsigned c = child_find(s, r, p.seg[i]);
        if (!c && select_mode && !inside) {
            md_seterr(err, errlen, "rename: '%s' is not selected", kv->name);
            rc = MD_EINVAL;
        } else if (!c && !(c = child_add(s, r, p.seg[i], err, errlen))) {
            rc = MD_EINVAL;
        } else if (s->rules[c].denied) {
            md_seterr(err, errlen, "rename: '%s' is denied", kv->name);
            rc = MD_EINVAL;
        }
        r = c;
    }
    if (rc == MD_OK && s->rules[r].newname) {
        md_seterr(err, errlen, "rename: '%s' renamed twice", kv->name);
        rc = MD_EINVAL;
    }
    if (rc == MD_OK)
        s->rules[r].newname = md_strdup(kv->value);
    path_free(&p);
    return rc;
}

static const char *out_name(const rule_t *r, size_t *len)
{
    if (r->newname) {
        *len = strlen(r->newname);
        return r->newname;
    }
    *len = r->key.len;
    return r->key.ptr;
}

/* Two kept members of one object must not come out under the same key. */
static int check_collisions(const md_shape_t *s, char *err, size_t errlen)
{
    for (unsigned a = 1; a < s->nrules; a++) {
        if (s->rules[a].denied)
            continue;
        size_t la, lb;
        const char *na = out_name(&s->rules[a], &la);
        for (unsigned b = s->rules[a].next; b; b = s->rules[b].next) {
            const char *nb = out_name(&s->rules[b], &lb);
            if (!s->rules[b].denied && la == lb && memcmp(na, nb, la) == 0) {
                md_seterr(err, errlen, "rename: two fields would be emitted as '%.*s'", (int)la, na);
                return MD_EINVAL;
            }
        }
    }
    return MD_OK;
}

/* Inherited flags and encoded output keys; parents precede children. */
static void finish_rules(md_shape_t *s, bool select_mode)
{
    s->rules[0].whitelist = select_mode;
    for (unsigned i = 1; i < s->nrules; i++) {
        rule_t *r = &s->rules[i];
        const rule_t *p = &s->rules[r->parent];
        r->in_selected = p->in_selected || p->selected;
        r->whitelist = select_mode && !r->selected && !r->in_selected;
        size_t len;
        const char *name = out_name(r, &len);
        md_buf_t b;
        md_buf_init(&b, 0);
        md_json_write_key(&b, name, len);
        r->out = md_buf_detach(&b, &r->outlen);
    }
}

static int compile_paths(md_shape_t *s, const md_shape_spec_t *spec, char *err, size_t errlen)
{
    int rc = MD_OK;
    if (spec->from)
        rc = path_parse(&s->from, "from", spec->from, err, errlen);
    s->has_from = spec->from != NULL;
    if (rc == MD_OK && spec->sort) {
        s->desc = spec->sort[0] == '-';
        rc = path_parse(&s->sort, "sort", spec->sort + s->desc, err, errlen);
        s->has_sort = true;
    }
    bool select_mode = spec->nselect > 0;
    for (size_t i = 0; rc == MD_OK && i < spec->nselect; i++)
        rc = add_listed(s, false, spec->select[i], err, errlen);
    for (size_t i = 0; rc == MD_OK && i < spec->ndeny; i++)
        rc = add_listed(s, true, spec->deny[i], err, errlen);
    for (size_t i = 0; rc == MD_OK && i < spec->nrename; i++)
        rc = add_rename(s, select_mode, &spec->rename[i], err, errlen);
    if (rc == MD_OK)
        rc = check_collisions(s, err, errlen);
    if (rc == MD_OK)
        finish_rules(s, select_mode);
    return rc;
}

md_shape_t *md_shape_compile(const md_shape_spec_t *spec, char *err, size_t errlen)
{
    if (!spec) {
        md_seterr(err, errlen, "shape: no spec");
        return NULL;
    }
    if (spec->nselect && spec->ndeny) {
        md_seterr(err, errlen, "shape: select and deny are exclusive");
        return NULL;
    }
    if (spec->limit < -1) {
        md_seterr(err, errlen, "shape: limit %ld is below -1", spec->limit);
        return NULL;
    }
    if ((spec->nselect && !spec->select) || (spec->ndeny && !spec->deny) ||
        (spec->nrename && !spec->rename)) {
        md_seterr(err, errlen, "shape: list count without list");
        return NULL;
    }
    md_shape_t *s = md_calloc(1, sizeof(*s));
    s->nrules = 1;
    s->limit = spec->limit;
    if (compile_paths(s, spec, err, errlen) != MD_OK) {
        md_shape_free(s);
        return NULL;
    }
    return s;
}

void md_shape_free(md_shape_t *s)
{
    if (!s)
        return;
    for (unsigned i = 1; i < s->nrules; i++) {
        md_free((char *)s->rules[i].key.ptr);
        md_free(s->rules[i].newname);
        md_free(s->rules[i].out);
    }
    path_free(&s->from);
    path_free(&s->sort);
    md_free(s);
}

/* ---- applying ---- */

typedef struct ctx {
    const md_shape_t *s;
    const char *json;
    const md_json_tok_t *tok;
    md_buf_t *out;
    int rc;         /* first output error; later writes are skipped */
    int sort_class; /* type the sort compares, see sort_class() */
} ctx_t;

static inline void put(ctx_t *c, const char *p, size_t n)
{
    if (c->rc == MD_OK)
        c->rc = md_buf_append(c->out, p, n);
}

static inline void put_char(ctx_t *c, char ch)
{
    if (c->rc == MD_OK)
        c->rc = md_buf_append_char(c->out, ch);
}

static inline void put_value(ctx_t *c, uint32_t v)
{
    if (c->rc == MD_OK)
        c->rc = md_json_write_value(c->out, c->json, &c->tok[v]);
}

static inline bool key_is(const ctx_t *c, uint32_t keytok, const rule_t *r)
{
    return md_json_str_equal(c->json, &c->tok[keytok], r->key.ptr, r->key.len);
}

static void shape_object(ctx_t *c, unsigned r, uint32_t obj);

static void put_member_value(ctx_t *c, unsigned r, uint32_t v)
{
    if (c->s->rules[r].nchildren && c->tok[v].type == MD_JSON_OBJECT)
        shape_object(c, r, v);
    else
        put_value(c, v);
}

/* Select mode: only the rule's children, in rule order. */
static void shape_whitelist(ctx_t *c, unsigned r, uint32_t obj)
{
    const rule_t *rules = c->s->rules;
    unsigned kids[MD_SHAPE_MAX_FIELDS], nk = 0;
    uint32_t slot[MD_SHAPE_MAX_FIELDS];
    for (unsigned i = rules[r].first; i; i = rules[i].next) {
        kids[nk] = i;
        slot[nk++] = MD_JSON_NONE;
    }
    uint32_t k = obj + 1;
    for (uint32_t m = 0; m < c->tok[obj].count; m++) {
        for (unsigned j = 0; j < nk; j++) {
            if (key_is(c, k, &rules[kids[j]])) {
                slot[j] = k + 1; /* the last duplicate wins */
                break;
            }
        }
        k = c->tok[k + 1].next;
    }
    bool first = true;
    put_char(c, '{');
    for (unsigned j = 0; j < nk; j++) {
        const rule_t *kid = &rules[kids[j]];
        uint32_t v = slot[j];
        /* A nested path through a non-object does not exist. */
        if (v == MD_JSON_NONE || (!kid->selected && c->tok[v].type != MD_JSON_OBJECT))
            continue;
        if (!first)
            put_char(c, ',');
        first = false;
        put(c, kid->out, kid->outlen);
        put_member_value(c, kids[j], v);
    }
    put_char(c, '}');
}

static unsigned match_child(const ctx_t *c, unsigned r, uint32_t keytok)
{
    for (unsigned i = c->s->rules[r].first; i; i = c->s->rules[i].next)
        if (key_is(c, keytok, &c->s->rules[i]))
            return i;
    return 0;
}

/* Keep mode: every member in document order, minus denied, renamed. */
static void shape_keep(ctx_t *c, unsigned r, uint32_t obj)
{
    const rule_t *rules = c->s->rules;
    bool first = true;
    uint32_t k = obj + 1;
    put_char(c, '{');
    for (uint32_t m = 0; m < c->tok[obj].count; m++) {
        uint32_t v = k + 1;
        unsigned kid = match_child(c, r, k);
        if (!kid || !rules[kid].denied) {
            if (!first)
                put_char(c, ',');
            first = false;
            if (kid && rules[kid].newname) {
                put(c, rules[kid].out, rules[kid].outlen);
            } else {
                put(c, c->json + c->tok[k].off, c->tok[k].len);
                put_char(c, ':');
            }
            if (kid)
                put_member_value(c, kid, v);
            else
                put_value(c, v);
        }
        k = c->tok[v].next;
    }
    put_char(c, '}');
}

static void shape_object(ctx_t *c, unsigned r, uint32_t obj)
{
    if (c->s->rules[r].whitelist)
        shape_whitelist(c, r, obj);
    else if (c->s->rules[r].nchildren)
        shape_keep(c, r, obj);
    else
        put_value(c, obj);
}

static void shape_element(ctx_t *c, uint32_t v)
{
    if (c->tok[v].type == MD_JSON_OBJECT)
        shape_object(c, 0, v);
    else
        put_value(c, v);
}

/* Follows a path of object members from v; MD_JSON_NONE if absent. */
static uint32_t follow(const ctx_t *c, const path_t *p, uint32_t v)
{
    for (unsigned i = 0; i < p->n && v != MD_JSON_NONE; i++)
        v = md_json_member(c->json, c->tok, v, p->seg[i].ptr, p->seg[i].len);
    return v;
}

/* ---- sorting ---- */

typedef struct skey {
    uint32_t el;  /* element token */
    uint32_t key; /* sort field token, MD_JSON_NONE if absent */
    bool last;    /* missing or not of the compared type: sorts last */
    double num;
} skey_t;

enum { SORT_NONE, SORT_NUMBER, SORT_STRING, SORT_BOOL };

static int sort_class(uint8_t type)
{
    switch (type) {
    case MD_JSON_NUMBER: return SORT_NUMBER;
    case MD_JSON_STRING: return SORT_STRING;
    case MD_JSON_TRUE:
    case MD_JSON_FALSE: return SORT_BOOL;
    default: return SORT_NONE;
    }
}

static int key_cmp(const ctx_t *c, const skey_t *a, const skey_t *b)
{
    if (a->last || b->last)
        return (int)a->last - (int)b->last;
    int r;
    if (c->sort_class == SORT_NUMBER)
        r = (a->num > b->num) - (a->num < b->num);
    else if (c->sort_class == SORT_STRING)
        r = md_json_str_compare(c->json, &c->tok[a->key], c->json, &c->tok[b->key]);
    else
        r = (c->tok[a->key].type == MD_JSON_TRUE) - (c->tok[b->key].type == MD_JSON_TRUE);
    return c->s->desc ? -r : r;
}

/* Stable merge sort; tmp holds at least n/2 keys. Depth is log2(n). */
static void sort_keys(const ctx_t *c, skey_t *a, skey_t *tmp, size_t n)
{
    if (n <= 8) {
        for (size_t i = 1; i < n; i++) {
            skey_t x = a[i];
            size_t j = i;
            for (; j > 0 && key_cmp(c, &a[j - 1], &x) > 0; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    size_t mid = n / 2;
    sort_keys(c, a, tmp, mid);
    sort_keys(c, a + mid, tmp, n - mid);
    if (key_cmp(c, &a[mid - 1], &a[mid]) <= 0)
        return;
    memcpy(tmp, a, mid * sizeof(*a));
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n)
        a[k++] = key_cmp(c, &a[j], &tmp[i]) < 0 ? a[j++] : tmp[i++];
    while (i < mid)
        a[k++] = tmp[i++];
}

static void fill_keys(ctx_t *c, uint32_t arr, skey_t *keys, size_t n)
{
    uint32_t e = arr + 1;
    c->sort_class = SORT_NONE;
    for (size_t i = 0; i < n; i++) {
        keys[i].el = e;
        keys[i].key = c->tok[e].type == MD_JSON_OBJECT ? follow(c, &c->s->sort, e) : MD_JSON_NONE;
        if (c->sort_class == SORT_NONE && keys[i].key != MD_JSON_NONE)
            c->sort_class = sort_class(c->tok[keys[i].key].type);
        e = c->tok[e].next;
    }
    for (size_t i = 0; i < n; i++) {
        skey_t *k = &keys[i];
        k->last = k->key == MD_JSON_NONE || c->sort_class == SORT_NONE ||
                  sort_class(c->tok[k->key].type) != c->sort_class;
        k->num = !k->last && c->sort_class == SORT_NUMBER ? md_json_number(c->json, &c->tok[k->key]) : 0;
    }
}

static void shape_sorted(ctx_t *c, uint32_t arr, size_t n, size_t lim)
{
    skey_t stack_keys[SORT_STACK], stack_tmp[SORT_STACK / 2];
    skey_t *keys = stack_keys, *tmp = stack_tmp;
    if (n > SORT_STACK) {
        keys = md_malloc((n + n / 2 + 1) * sizeof(*keys));
        tmp = keys + n;
    }
    fill_keys(c, arr, keys, n);
    sort_keys(c, keys, tmp, n);
    for (size_t i = 0; i < lim; i++) {
        if (i)
            put_char(c, ',');
        shape_element(c, keys[i].el);
    }
    if (keys != stack_keys)
        md_free(keys);
}

static void shape_array(ctx_t *c, uint32_t arr)
{
    size_t n = c->tok[arr].count;
    size_t lim = c->s->limit < 0 ? n : MD_MIN(n, (size_t)c->s->limit);
    put_char(c, '[');
    if (c->s->has_sort && lim > 0) {
        shape_sorted(c, arr, n, lim);
    } else {
        uint32_t e = arr + 1;
        for (size_t i = 0; i < lim; i++) {
            if (i)
                put_char(c, ',');
            shape_element(c, e);
            e = c->tok[e].next;
        }
    }
    put_char(c, ']');
}

static int shape_doc(ctx_t *c, uint32_t root, char *err, size_t errlen)
{
    uint32_t v = root;
    if (c->s->has_from) {
        for (unsigned i = 0; i < c->s->from.n; i++) {
            if (c->tok[v].type != MD_JSON_OBJECT ||
                (v = md_json_member(c->json, c->tok, v, c->s->from.seg[i].ptr,
                                    c->s->from.seg[i].len)) == MD_JSON_NONE) {
                md_seterr(err, errlen, "from: '%s' not found", c->s->from.text);
                return MD_ENOTFOUND;
            }
        }
    }
    if (c->tok[v].type == MD_JSON_ARRAY) {
        shape_array(c, v);
    } else if (c->s->has_sort || c->s->limit >= 0) {
        md_seterr(err, errlen, "shape: sort/limit need an array, the value is %s",
               c->tok[v].type == MD_JSON_OBJECT ? "an object" : "a scalar");
        return MD_EINVAL;
    } else {
        shape_element(c, v);
    }
    if (c->rc != MD_OK)
        md_seterr(err, errlen, "shape: output larger than %zu bytes", c->out->max);
    return c->rc;
}

int md_shape_apply(const md_shape_t *s, const char *json, size_t len, md_buf_t *out, char *err,
                   size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    md_json_toks_t *t = md_json_scratch();
    t->n = 0;
    size_t mark = out->len;
    uint32_t root;
    int rc = md_json_scan(t, json, len, &root, err, errlen);
    if (rc == MD_OK && !s) {
        rc = md_buf_append(out, json, len);
        if (rc != MD_OK)
            md_seterr(err, errlen, "shape: output larger than %zu bytes", out->max);
    } else if (rc == MD_OK) {
        ctx_t c = { .s = s, .json = json, .tok = t->v, .out = out, .rc = MD_OK };
        rc = shape_doc(&c, root, err, errlen);
    }
    if (rc != MD_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    t->n = 0;
    md_json_scratch_trim();
    return rc;
}
