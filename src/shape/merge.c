/*
 * merge.c - assembling the response object from backend fragments, see
 * merge.h for the merge rule.
 *
 * Compiling splits the `as` paths once and pre-encodes every key. When
 * the paths cannot overlap, a skeleton tree of those keys is kept and a
 * write is a walk that splices fragment bytes in. Otherwise the general
 * path tokenizes the fragments and merges them into a key tree whose
 * leaves are (fragment, token) pairs: objects are expanded into nodes only
 * when something has to be merged into them, so a large fragment that
 * nothing overlaps is still copied as one span.
 */
#include "shape/merge.h"
#include "core/alloc.h"
#include "core/common.h"
#include "json/scan.h"
#include "json/write.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Segments in one `as` path. */
#define MERGE_MAX_DEPTH 16

/* Marks "no fragment at fault" for md_merge_write_ex. */
#define NO_FRAGMENT ((size_t)-1)

typedef struct seg {
    md_str_t name; /* points into the owning path's text */
    char *out;     /* "name": encoded (owned) */
    size_t outlen;
} seg_t;

typedef struct mpath {
    char *text;    /* owned copy; NULL: merge at the root */
    seg_t seg[MERGE_MAX_DEPTH];
    unsigned n;
} mpath_t;

/* Fast-path skeleton node: an object key holding a fragment or more keys. */
typedef struct snode {
    const seg_t *key; /* NULL for the root */
    int frag;         /* fragment index of a leaf; -1 for an object */
    unsigned first, last, next;
} snode_t;

struct md_merge {
    size_t n;
    bool fast;
    mpath_t *paths;
    snode_t *skel;    /* fast path only; [0] is the root */
    unsigned nskel;
};


/* ---- compiling ---- */

static int path_parse(mpath_t *p, const char *text, char *err, size_t errlen)
{
    p->text = md_strdup(text);
    const char *start = p->text;
    for (const char *c = p->text;; c++) {
        if (*c != '.' && *c != '\0')
            continue;
        if (c == start) {
            md_seterr(err, errlen, "as: empty segment in path '%s'", text);
            return MD_EINVAL;
        }
        if (p->n == MERGE_MAX_DEPTH) {
            md_seterr(err, errlen, "as: path '%s' deeper than %d", text, MERGE_MAX_DEPTH);
            return MD_EINVAL;
        }
        seg_t *s = &p->seg[p->n++];
        s->name = (md_str_t){ start, (size_t)(c - start) };
        md_buf_t b;
        md_buf_init(&b, 0);
        md_json_write_key(&b, s->name.ptr, s->name.len);
        s->out = md_buf_detach(&b, &s->outlen);
        if (!*c)
            break;
        start = c + 1;
    }
    return MD_OK;
}

static bool seg_eq(const seg_t *a, const seg_t *b)
{
    return a->name.len == b->name.len && memcmp(a->name.ptr, b->name.ptr, a->name.len) == 0;
}

/* Whether path a equals b or is a prefix of it. */
static bool path_covers(const mpath_t *a, const mpath_t *b)
{
    if (a->n > b->n)
        return false;
    for (unsigned i = 0; i < a->n; i++)
        if (!seg_eq(&a->seg[i], &b->seg[i]))
            return false;
    return true;
}

static bool can_splice(const md_merge_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!m->paths[i].text)
            return false;
        for (size_t j = i + 1; j < m->n; j++)
            if (path_covers(&m->paths[i], &m->paths[j]) || path_covers(&m->paths[j], &m->paths[i]))
                return false;
    }
    return true;
}

static unsigned skel_child(md_merge_t *m, unsigned parent, const seg_t *key)
{
    for (unsigned c = m->skel[parent].first; c; c = m->skel[c].next)
        if (seg_eq(m->skel[c].key, key))
            return c;
    unsigned c = m->nskel++;
    m->skel[c] = (snode_t){ .key = key, .frag = -1 };
    if (m->skel[parent].last)
        m->skel[m->skel[parent].last].next = c;
    else
        m->skel[parent].first = c;
    m->skel[parent].last = c;
    return c;
}

static void build_skeleton(md_merge_t *m)
{
    m->skel = md_calloc(m->n * MERGE_MAX_DEPTH + 1, sizeof(*m->skel));
    m->skel[0].frag = -1;
    m->nskel = 1;
    for (size_t i = 0; i < m->n; i++) {
        unsigned node = 0;
        for (unsigned k = 0; k < m->paths[i].n; k++)
            node = skel_child(m, node, &m->paths[i].seg[k]);
        m->skel[node].frag = (int)i;
    }
}

md_merge_t *md_merge_compile(const char *const *paths, size_t n, char *err, size_t errlen)
{
    if (n > MD_MERGE_MAX_FRAGMENTS || (n && !paths)) {
        md_seterr(err, errlen, "merge: %zu fragments (at most %d)", n, MD_MERGE_MAX_FRAGMENTS);
        return NULL;
    }
    md_merge_t *m = md_calloc(1, sizeof(*m));
    m->n = n;
    m->paths = md_calloc(n ? n : 1, sizeof(*m->paths));
    for (size_t i = 0; i < n; i++) {
        if (paths[i] && path_parse(&m->paths[i], paths[i], err, errlen) != MD_OK) {
            md_merge_free(m);
            return NULL;
        }
    }
    m->fast = can_splice(m);
    if (m->fast)
        build_skeleton(m);
    return m;
}

void md_merge_free(md_merge_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        for (unsigned k = 0; k < m->paths[i].n; k++)
            md_free(m->paths[i].seg[k].out);
        md_free(m->paths[i].text);
    }
    md_free(m->paths);
    md_free(m->skel);
    md_free(m);
}

bool md_merge_is_fast(const md_merge_t *m)
{
    return m->fast;
}

/* ---- writing, shared ---- */

typedef struct wctx {
    const md_merge_t *m;
    const md_fragment_t *frags;
    md_buf_t *out;
    int rc;        /* first error; later writes are skipped */
    size_t bad;    /* fragment at fault, or NO_FRAGMENT */
    char *err;
    size_t errlen;
} wctx_t;

static void put(wctx_t *c, const char *p, size_t n)
{
    if (c->rc == MD_OK && (c->rc = md_buf_append(c->out, p, n)) != MD_OK)
        md_seterr(c->err, c->errlen, "merge: output larger than %zu bytes", c->out->max);
}

static void put_char(wctx_t *c, char ch)
{
    put(c, &ch, 1);
}

static void frag_error(wctx_t *c, size_t i, int rc, const char *what)
{
    if (c->rc != MD_OK)
        return;
    c->rc = rc;
    c->bad = i;
    md_seterr(c->err, c->errlen, "fragment %zu: %s", i, what);
}

/* ---- fast path ---- */

static bool skel_present(const wctx_t *c, unsigned node)
{
    const snode_t *s = &c->m->skel[node];
    if (s->frag >= 0)
        return c->frags[s->frag].json != NULL;
    for (unsigned k = s->first; k; k = c->m->skel[k].next)
        if (skel_present(c, k))
            return true;
    return false;
}

/* Writes the members of skeleton object `node`; returns how many. */
static unsigned skel_members(wctx_t *c, unsigned node)
{
    unsigned written = 0;
    for (unsigned k = c->m->skel[node].first; k; k = c->m->skel[k].next) {
        const snode_t *s = &c->m->skel[k];
        if (!skel_present(c, k))
            continue;
        if (s->frag >= 0 && c->frags[s->frag].len == 0) {
            frag_error(c, (size_t)s->frag, MD_EINVAL, "empty");
            return written;
        }
        if (written++)
            put_char(c, ',');
        put(c, s->key->out, s->key->outlen);
        if (s->frag >= 0) {
            put(c, c->frags[s->frag].json, c->frags[s->frag].len);
        } else {
            put_char(c, '{');
            skel_members(c, k);
            put_char(c, '}');
        }
    }
    return written;
}

/* ---- general path ---- */

typedef struct mnode {
    const char *kjson;   /* document of the key token; NULL: key is kseg */
    const seg_t *kseg;
    uint32_t ktok;
    const char *vjson;   /* document of the value; NULL: expanded object */
    uint32_t vtok;
    uint32_t first, last, next; /* children of an expanded object; 0 = none */
    uint32_t oid;        /* identity of the object this node now is; 0: none */
    uint32_t pid;        /* oid of the parent object it was created in */
    uint32_t hash;       /* of (pid, decoded key) */
} mnode_t;

/* Children are found through an open-addressing index keyed by (parent
 * oid, decoded key), so merging an object of n members costs O(n), not
 * O(n^2). A node replaced by a later value gets a new oid when it becomes
 * an object again, which leaves its old children unreachable. */
typedef struct tree {
    wctx_t *w;
    const md_json_tok_t *tok;
    mnode_t *nodes;      /* [0] is the root */
    uint32_t n, cap;
    uint32_t *slots;     /* node index per slot, 0 = empty */
    uint32_t nslots;     /* power of two, at least twice n */
    uint32_t next_oid;
    uint64_t seed;
} tree_t;

static uint64_t hash_seed;
static pthread_once_t hash_seed_once = PTHREAD_ONCE_INIT;

static void hash_seed_init(void)
{
    /* Secret per process, so fragments cannot be built to collide. */
    if (getrandom(&hash_seed, sizeof(hash_seed), GRND_NONBLOCK) != (ssize_t)sizeof(hash_seed)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        hash_seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
    }
}

static uint32_t key_hash(const tree_t *t, uint32_t pid, const char *json, uint32_t ktok,
                         const seg_t *seg)
{
    uint64_t seed = t->seed ^ ((uint64_t)pid * 0x9E3779B97F4A7C15ULL);
    uint64_t h = seg ? md_json_hash_bytes(seg->name.ptr, seg->name.len, seed)
                     : md_json_str_hash(json, &t->tok[ktok], seed);
    return (uint32_t)(h ^ h >> 32);
}

/* Does node nd's key equal key token ktok of json, or segment seg? */
static bool key_eq(const tree_t *t, const mnode_t *nd, const char *json, uint32_t ktok,
                   const seg_t *seg)
{
    if (nd->kseg && seg)
        return seg_eq(nd->kseg, seg);
    if (nd->kseg)
        return md_json_str_equal(json, &t->tok[ktok], nd->kseg->name.ptr, nd->kseg->name.len);
    if (seg)
        return md_json_str_equal(nd->kjson, &t->tok[nd->ktok], seg->name.ptr, seg->name.len);
    return md_json_str_compare(nd->kjson, &t->tok[nd->ktok], json, &t->tok[ktok]) == 0;
}

static uint32_t child_find(const tree_t *t, uint32_t parent, const char *json, uint32_t ktok,
                           const seg_t *seg)
{
    uint32_t pid = t->nodes[parent].oid, h = key_hash(t, pid, json, ktok, seg);
    for (uint32_t i = h & (t->nslots - 1);; i = (i + 1) & (t->nslots - 1)) {
        uint32_t c = t->slots[i];
        if (!c)
            return 0;
        const mnode_t *nd = &t->nodes[c];
        if (nd->hash == h && nd->pid == pid && key_eq(t, nd, json, ktok, seg))
            return c;
    }
}

static void index_insert(tree_t *t, uint32_t c)
{
    uint32_t i = t->nodes[c].hash & (t->nslots - 1);
    while (t->slots[i])
        i = (i + 1) & (t->nslots - 1);
    t->slots[i] = c;
}

/* Room for one more node in the array and the index; false at the cap. */
static bool tree_reserve(tree_t *t)
{
    if (t->n == t->cap) {
        if (t->cap == MD_MERGE_MAX_NODES) {
            if (t->w->rc == MD_OK) {
                t->w->rc = MD_ETOOBIG;
                md_seterr(t->w->err, t->w->errlen, "merge: more than %d keys", MD_MERGE_MAX_NODES);
            }
            return false;
        }
        t->cap = MD_MIN(t->cap * 2, MD_MERGE_MAX_NODES);
        t->nodes = md_realloc(t->nodes, t->cap * sizeof(*t->nodes));
    }
    if ((t->n + 1) * 2 > t->nslots) {
        t->nslots *= 2;
        md_free(t->slots);
        t->slots = md_calloc(t->nslots, sizeof(*t->slots));
        for (uint32_t c = 1; c < t->n; c++)
            index_insert(t, c);
    }
    return true;
}

/* A new child (no value yet); 0 at the node cap. */
static uint32_t child_add(tree_t *t, uint32_t parent, const char *json, uint32_t ktok,
                          const seg_t *seg)
{
    if (!tree_reserve(t))
        return 0;
    uint32_t c = t->n++;
    uint32_t pid = t->nodes[parent].oid;
    t->nodes[c] = (mnode_t){ .kjson = seg ? NULL : json, .kseg = seg, .ktok = ktok, .pid = pid,
                             .hash = key_hash(t, pid, json, ktok, seg) };
    index_insert(t, c);
    mnode_t *p = &t->nodes[parent];
    if (p->last)
        t->nodes[p->last].next = c;
    else
        p->first = c;
    p->last = c;
    return c;
}

static void set_leaf(tree_t *t, uint32_t i, const char *json, uint32_t v)
{
    t->nodes[i].vjson = json;
    t->nodes[i].vtok = v;
    t->nodes[i].first = t->nodes[i].last = 0;
    t->nodes[i].oid = 0;
}

static void set_empty_object(tree_t *t, uint32_t i)
{
    set_leaf(t, i, NULL, 0);
    t->nodes[i].oid = ++t->next_oid;
}

static void merge_value(tree_t *t, uint32_t i, const char *json, uint32_t v);

/* Merges object token obj's members into expanded object node i. */
static void merge_members(tree_t *t, uint32_t i, const char *json, uint32_t obj)
{
    uint32_t k = obj + 1;
    for (uint32_t m = 0; m < t->tok[obj].count && t->w->rc == MD_OK; m++) {
        uint32_t val = k + 1;
        uint32_t c = child_find(t, i, json, k, NULL);
        if (c)
            merge_value(t, c, json, val);
        else if ((c = child_add(t, i, json, k, NULL)) != 0)
            set_leaf(t, c, json, val);
        k = t->tok[val].next;
    }
}

/* Turns a leaf holding an object into an expanded object node. */
static void expand(tree_t *t, uint32_t i)
{
    const char *json = t->nodes[i].vjson;
    uint32_t v = t->nodes[i].vtok;
    set_empty_object(t, i);
    merge_members(t, i, json, v);
}

/* Value v of json arrives, declared later than what node i holds. */
static void merge_value(tree_t *t, uint32_t i, const char *json, uint32_t v)
{
    const mnode_t *nd = &t->nodes[i];
    bool held_object = !nd->vjson || t->tok[nd->vtok].type == MD_JSON_OBJECT;
    if (t->tok[v].type != MD_JSON_OBJECT || !held_object) {
        set_leaf(t, i, json, v); /* the later one wins */
        return;
    }
    if (nd->vjson)
        expand(t, i);
    merge_members(t, i, json, v);
}

/* Places fragment value v (of json) at path p. */
static void insert_at(tree_t *t, const mpath_t *p, const char *json, uint32_t v)
{
    uint32_t i = 0;
    for (unsigned k = 0; k < p->n && t->w->rc == MD_OK; k++) {
        bool leaf = k + 1 == p->n;
        uint32_t c = child_find(t, i, NULL, 0, &p->seg[k]);
        if (!c) {
            if (!(c = child_add(t, i, NULL, 0, &p->seg[k])))
                return;
            if (leaf)
                set_leaf(t, c, json, v);
        } else if (leaf) {
            merge_value(t, c, json, v);
        } else if (t->nodes[c].vjson) {
            /* Something is already there: an object is merged into, any
             * other value is replaced by the later path. */
            if (t->tok[t->nodes[c].vtok].type == MD_JSON_OBJECT)
                expand(t, c);
            else
                set_empty_object(t, c);
        }
        i = c;
    }
}

static void tree_write(tree_t *t, uint32_t i);

static unsigned tree_members(tree_t *t, uint32_t i)
{
    wctx_t *w = t->w;
    unsigned written = 0;
    for (uint32_t c = t->nodes[i].first; c && w->rc == MD_OK; c = t->nodes[c].next) {
        const mnode_t *nd = &t->nodes[c];
        if (written++)
            put_char(w, ',');
        if (nd->kseg) {
            put(w, nd->kseg->out, nd->kseg->outlen);
        } else {
            put(w, nd->kjson + t->tok[nd->ktok].off, t->tok[nd->ktok].len);
            put_char(w, ':');
        }
        tree_write(t, c);
    }
    return written;
}

static void tree_write(tree_t *t, uint32_t i)
{
    wctx_t *w = t->w;
    const mnode_t *nd = &t->nodes[i];
    if (nd->vjson) {
        if (w->rc == MD_OK && (w->rc = md_json_write_value(w->out, nd->vjson, &t->tok[nd->vtok])) != MD_OK)
            md_seterr(w->err, w->errlen, "merge: output larger than %zu bytes", w->out->max);
        return;
    }
    put_char(w, '{');
    tree_members(t, i);
    put_char(w, '}');
}

/* Tokenizes every present fragment into the thread's scratch; roots[i]
 * receives fragment i's root token. */
static void scan_fragments(wctx_t *w, md_json_toks_t *toks, uint32_t *roots)
{
    char msg[160];
    for (size_t i = 0; i < w->m->n && w->rc == MD_OK; i++) {
        const md_fragment_t *f = &w->frags[i];
        if (!f->json)
            continue;
        int rc = md_json_scan(toks, f->json, f->len, &roots[i], msg, sizeof(msg));
        if (rc != MD_OK)
            frag_error(w, i, rc, msg);
        else if (!w->m->paths[i].text && toks->v[roots[i]].type != MD_JSON_OBJECT)
            frag_error(w, i, MD_EINVAL, "merged at the root but not an object");
    }
}

static unsigned general_members(wctx_t *w)
{
    md_json_toks_t *toks = md_json_scratch();
    toks->n = 0;
    uint32_t roots[MD_MERGE_MAX_FRAGMENTS];
    unsigned written = 0;
    scan_fragments(w, toks, roots);
    if (w->rc == MD_OK) {
        pthread_once(&hash_seed_once, hash_seed_init);
        tree_t t = { .w = w, .tok = toks->v, .n = 1, .cap = 64, .nslots = 128, .next_oid = 1,
                     .seed = hash_seed };
        t.nodes = md_malloc(t.cap * sizeof(*t.nodes));
        t.slots = md_calloc(t.nslots, sizeof(*t.slots));
        t.nodes[0] = (mnode_t){ .oid = 1 };
        for (size_t i = 0; i < w->m->n && w->rc == MD_OK; i++) {
            if (!w->frags[i].json)
                continue;
            if (w->m->paths[i].text)
                insert_at(&t, &w->m->paths[i], w->frags[i].json, roots[i]);
            else
                merge_members(&t, 0, w->frags[i].json, roots[i]);
        }
        if (w->rc == MD_OK)
            written = tree_members(&t, 0);
        md_free(t.nodes);
        md_free(t.slots);
    }
    toks->n = 0;
    md_json_scratch_trim();
    return written;
}

/* ---- entry points ---- */

int md_merge_write_ex(const md_merge_t *m, const md_fragment_t *frags, const char *extra_name,
                      const char *extra_json, size_t extra_len, md_buf_t *out, size_t *bad,
                      char *err, size_t errlen)
{
    wctx_t w = { .m = m, .frags = frags, .out = out, .rc = MD_OK, .bad = NO_FRAGMENT,
                 .err = err, .errlen = errlen };
    size_t mark = out->len;
    if (err && errlen)
        err[0] = '\0';
    if (extra_name && (!extra_json || !extra_len)) {
        w.rc = MD_EINVAL;
        md_seterr(err, errlen, "merge: empty extra member '%s'", extra_name);
    }
    put_char(&w, '{');
    unsigned written = 0;
    if (w.rc == MD_OK)
        written = m->fast ? skel_members(&w, 0) : general_members(&w);
    if (extra_name) {
        if (written)
            put_char(&w, ',');
        if (w.rc == MD_OK && (w.rc = md_json_write_key(out, extra_name, strlen(extra_name))) != MD_OK)
            md_seterr(err, errlen, "merge: output larger than %zu bytes", out->max);
        put(&w, extra_json, extra_len);
    }
    put_char(&w, '}');
    if (w.rc != MD_OK) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    if (bad)
        *bad = w.bad;
    return w.rc;
}

int md_merge_write(const md_merge_t *m, const md_fragment_t *frags, const char *extra_name,
                   const char *extra_json, size_t extra_len, md_buf_t *out)
{
    return md_merge_write_ex(m, frags, extra_name, extra_json, extra_len, out, NULL, NULL, 0);
}
