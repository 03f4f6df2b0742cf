/*
 * Unit tests for demo/data (deterministic documents), demo/config (the
 * embedded YAML) and demo/page (the embedded HTML).
 *
 * The documents are checked with a tiny strict JSON parser written here (a
 * tree of jv_t), independent of medley's own JSON code, and the YAML with
 * libyaml directly, independent of medley's config loader.
 */
#include "testutil.h"

#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/common.h"
#include "demo/config.h"
#include "demo/data.h"
#include "demo/page.h"
#include "json/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

/* ---- a tiny strict JSON parser ------------------------------------------- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jt_t;

typedef struct jv {
    jt_t t;
    double num;
    char *str;         /* J_STR (escapes other than \" \\ \/ kept raw) */
    size_t n;          /* J_ARR / J_OBJ: children */
    struct jv *items;
    char **keys;       /* J_OBJ */
} jv_t;

typedef struct jp {
    const char *p, *end;
    int depth;
} jp_t;

static int j_value(jp_t *s, jv_t *out);

static void j_ws(jp_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static void j_free(jv_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        j_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

static int j_string(jp_t *s, char **out)
{
    if (s->p >= s->end || *s->p != '"')
        return -1;
    const char *start = ++s->p;
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (++s->p >= s->end || !strchr("\"\\/bfnrtu", *s->p))
                return -1;
        }
        s->p++;
    }
    if (s->p >= s->end)
        return -1;
    *out = strndup(start, (size_t)(s->p - start));
    s->p++;
    return 0;
}

static int j_number(jp_t *s, double *out)
{
    const char *b = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return -1;
    if (*s->p == '0')
        s->p++;
    else
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    if (s->p < s->end && *s->p == '.') {
        const char *d = ++s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
        if (s->p == d)
            return -1;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        const char *d = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
        if (s->p == d)
            return -1;
    }
    char tmp[64];
    size_t n = (size_t)(s->p - b);
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, b, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}

static int j_container(jp_t *s, jv_t *out, bool obj)
{
    char close = obj ? '}' : ']';
    out->t = obj ? J_OBJ : J_ARR;
    if (++s->depth > 64)
        return -1;
    s->p++;
    j_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 0;
    }
    for (;;) {
        out->items = realloc(out->items, (out->n + 1) * sizeof *out->items);
        memset(&out->items[out->n], 0, sizeof *out->items);
        if (obj) {
            out->keys = realloc(out->keys, (out->n + 1) * sizeof *out->keys);
            out->keys[out->n] = NULL;
        }
        out->n++;
        j_ws(s);
        if (obj) {
            if (j_string(s, &out->keys[out->n - 1]) != 0)
                return -1;
            j_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return -1;
        }
        if (j_value(s, &out->items[out->n - 1]) != 0)
            return -1;
        j_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            s->depth--;
            return 0;
        }
        return -1;
    }
}

static int j_lit(jp_t *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int j_value(jp_t *s, jv_t *out)
{
    j_ws(s);
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '{': return j_container(s, out, true);
    case '[': return j_container(s, out, false);
    case '"': out->t = J_STR; return j_string(s, &out->str);
    case 't': out->t = J_BOOL; out->num = 1; return j_lit(s, "true");
    case 'f': out->t = J_BOOL; return j_lit(s, "false");
    case 'n': out->t = J_NULL; return j_lit(s, "null");
    default: out->t = J_NUM; return j_number(s, &out->num);
    }
}

/* Parses a whole document; -1 on any syntax error or trailing bytes. */
static int j_parse(const char *text, size_t len, jv_t *out)
{
    jp_t s = { text, text + len, 0 };
    memset(out, 0, sizeof *out);
    if (j_value(&s, out) != 0) {
        j_free(out);
        return -1;
    }
    j_ws(&s);
    if (s.p != s.end) {
        j_free(out);
        return -1;
    }
    return 0;
}

static const jv_t *j_get(const jv_t *o, const char *key)
{
    if (o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->items[i];
    return NULL;
}

static const char *j_str(const jv_t *o, const char *key)
{
    const jv_t *v = j_get(o, key);
    return v && v->t == J_STR ? v->str : NULL;
}

/* The validator itself must reject what it should, or the tests prove
 * nothing. */
static void validator_rejects_bad_json(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\":01}", "\"x", "[1] 2", "tru", "{\"a\":\"\x01\"}",
        "[-]", "[1.]", "[.5]", "{\"a\":1,}", "[\"\\x\"]",
    };
    static const char *good[] = { "{}", "[]", "{\"a\":[1,-2.5e3,true,null,\"\\\"\"]}", " 0 " };
    jv_t v;
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++)
        assert_int_equal(j_parse(bad[i], strlen(bad[i]), &v), -1);
    for (size_t i = 0; i < MD_ARRAY_LEN(good); i++) {
        assert_int_equal(j_parse(good[i], strlen(good[i]), &v), 0);
        j_free(&v);
    }
}

/* ---- data ---------------------------------------------------------------- */

static void data_is_deterministic(void **state)
{
    (void)state;
    md_demo_data_t a, b;
    assert_int_equal(md_demo_data_init(&a), MD_OK);
    assert_int_equal(md_demo_data_init(&b), MD_OK);
    assert_int_equal(a.news.len, b.news.len);
    assert_memory_equal(a.news.data, b.news.data, a.news.len);
    assert_int_equal(a.events.len, b.events.len);
    assert_memory_equal(a.events.data, b.events.data, a.events.len);
    /* ~25 KB of news as specified */
    assert_in_range(a.news.len, 20 * 1024, 32 * 1024);
    assert_int_equal(strlen(a.news.data), a.news.len);
    md_demo_data_free(&a);
    md_demo_data_free(&b);
    md_demo_data_free(&b); /* idempotent */
}

/* The gateway scans these documents with medley's strict scanner (RFC 8259
 * plus UTF-8 checks); they must pass it, not only the tiny parser above. */
static void documents_pass_medleys_scanner(void **state)
{
    (void)state;
    md_demo_data_t d;
    md_json_toks_t t;
    md_buf_t v;
    char err[128];
    uint32_t root;
    assert_int_equal(md_demo_data_init(&d), MD_OK);
    md_buf_init(&v, 0);
    assert_int_equal(md_demo_vacation(42, &v), MD_OK);
    md_json_toks_init(&t, 0);
    assert_int_equal(md_json_scan(&t, d.news.data, d.news.len, &root, err, sizeof err), MD_OK);
    assert_int_equal(t.v[root].type, MD_JSON_OBJECT);
    assert_int_equal(md_json_scan(&t, d.events.data, d.events.len, &root, err, sizeof err), MD_OK);
    assert_int_equal(t.v[root].type, MD_JSON_OBJECT);
    assert_int_equal(md_json_scan(&t, v.data, v.len, &root, err, sizeof err), MD_OK);
    assert_int_equal(t.v[root].count, 5);
    md_json_toks_free(&t);
    md_buf_free(&v);
    md_demo_data_free(&d);
}

/* "YYYY-MM-DDTHH:MM:SSZ" with plausible ranges. */
static bool is_utc_time(const char *s)
{
    int y, mo, d, h, mi, se;
    char z;
    if (!s || strlen(s) != 20)
        return false;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &z) != 7)
        return false;
    return z == 'Z' && y >= 2024 && y <= 2025 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 &&
           h < 24 && mi < 60 && se < 60;
}

/* Asserts the strings are pairwise distinct and in neither sorted order. */
static void assert_distinct_unsorted(const char **v, size_t n)
{
    size_t asc = 0, desc = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_true(strcmp(v[i], v[j]) != 0);
    for (size_t i = 1; i < n; i++) {
        asc += strcmp(v[i - 1], v[i]) < 0;
        desc += strcmp(v[i - 1], v[i]) > 0;
    }
    assert_true(asc > 0 && desc > 0);
}

static void check_article(const jv_t *a, int i, const char **published)
{
    char want[64];
    assert_int_equal(a->t, J_OBJ);
    snprintf(want, sizeof want, "news-%d", 1001 + i);
    assert_string_equal(j_str(a, "id"), want);
    snprintf(want, sizeof want, "https://intranet.example.com/news/news-%d", 1001 + i);
    assert_string_equal(j_str(a, "url"), want);
    assert_non_null(j_str(a, "title"));
    assert_true(strlen(j_str(a, "title")) > 10);
    assert_non_null(j_str(a, "summary"));
    assert_non_null(j_str(a, "author"));
    assert_true(is_utc_time(j_str(a, "published")));
    published[i] = j_str(a, "published");
    const jv_t *tags = j_get(a, "tags");
    assert_non_null(tags);
    assert_int_equal(tags->t, J_ARR);
    assert_in_range(tags->n, 1, 5);
    for (size_t k = 0; k < tags->n; k++)
        assert_int_equal(tags->items[k].t, J_STR);
    const char *body = j_str(a, "body");
    assert_non_null(body);
    assert_in_range(strlen(body), 800, 1100); /* "~900 chars" */
}

static void news_has_twenty_articles_per_spec(void **state)
{
    (void)state;
    md_demo_data_t d;
    jv_t root;
    const char *published[20];
    assert_int_equal(md_demo_data_init(&d), MD_OK);
    assert_int_equal(j_parse(d.news.data, d.news.len, &root), 0);
    assert_int_equal(root.t, J_OBJ);
    assert_int_equal(root.n, 1);
    const jv_t *items = j_get(&root, "items");
    assert_non_null(items);
    assert_int_equal(items->t, J_ARR);
    assert_int_equal(items->n, 20);
    for (int i = 0; i < 20; i++)
        check_article(&items->items[i], i, published);
    assert_distinct_unsorted(published, 20);
    /* the newest article carries the spec's example time */
    const char *newest = published[0];
    for (int i = 1; i < 20; i++)
        if (strcmp(published[i], newest) > 0)
            newest = published[i];
    assert_string_equal(newest, "2024-05-26T07:52:00Z");
    j_free(&root);
    md_demo_data_free(&d);
}

static void events_has_fifteen_events_per_spec(void **state)
{
    (void)state;
    md_demo_data_t d;
    jv_t root;
    const char *starts[15];
    assert_int_equal(md_demo_data_init(&d), MD_OK);
    assert_int_equal(j_parse(d.events.data, d.events.len, &root), 0);
    assert_int_equal(root.n, 1);
    const jv_t *ev = j_get(&root, "events");
    assert_non_null(ev);
    assert_int_equal(ev->t, J_ARR);
    assert_int_equal(ev->n, 15);
    for (int i = 0; i < 15; i++) {
        const jv_t *e = &ev->items[i];
        char want[32];
        snprintf(want, sizeof want, "evt-%d", 101 + i);
        assert_string_equal(j_str(e, "id"), want);
        static const char *fields[] = { "name", "location", "description", "organizer" };
        for (size_t k = 0; k < MD_ARRAY_LEN(fields); k++) {
            assert_non_null(j_str(e, fields[k]));
            assert_true(strlen(j_str(e, fields[k])) > 0);
        }
        assert_true(is_utc_time(j_str(e, "starts")));
        assert_true(is_utc_time(j_str(e, "ends")));
        assert_true(strcmp(j_str(e, "ends"), j_str(e, "starts")) > 0);
        starts[i] = j_str(e, "starts");
    }
    assert_distinct_unsorted(starts, 15);
    j_free(&root);
    md_demo_data_free(&d);
}

static void check_vacation(long id, double balance)
{
    md_buf_t b;
    jv_t v;
    md_buf_init(&b, MD_DEMO_VACATION_MAX_BYTES);
    assert_int_equal(md_demo_vacation(id, &b), MD_OK);
    assert_int_equal(j_parse(b.data, b.len, &v), 0);
    const jv_t *emp = j_get(&v, "employee");
    assert_non_null(emp);
    assert_int_equal(emp->t, J_NUM);
    assert_true(emp->num == (double)id);
    const jv_t *bal = j_get(&v, "balance_days");
    assert_non_null(bal);
    assert_int_equal(bal->t, J_NUM);
    assert_true(bal->num == balance);
    const jv_t *acc = j_get(&v, "accrual_per_month");
    assert_non_null(acc);
    assert_int_equal(acc->t, J_NUM);
    assert_string_equal(j_str(&v, "policy"), "standard-25");
    const jv_t *h = j_get(&v, "history");
    assert_non_null(h);
    assert_int_equal(h->t, J_ARR);
    assert_int_equal(h->n, 3);
    for (size_t i = 0; i < 3; i++) {
        const char *date = j_str(&h->items[i], "date");
        assert_non_null(date);
        assert_int_equal(strlen(date), 10);
        assert_true(strncmp(date, "2024-", 5) == 0);
        const jv_t *days = j_get(&h->items[i], "days");
        assert_non_null(days);
        assert_int_equal(days->t, J_NUM);
        assert_true(days->num > 0);
        assert_non_null(j_str(&h->items[i], "type"));
    }
    j_free(&v);
    md_buf_free(&b);
}

/* balance_days = ((ID*37) % 29) + 0.5, worked by hand:
 * 1: 37%29=8; 42: 1554-1537=17; 7: 259-232=27; 1000: 37000-36975=25. */
static void vacation_balance_follows_formula(void **state)
{
    (void)state;
    check_vacation(1, 8.5);
    check_vacation(42, 17.5);
    check_vacation(7, 27.5);
    check_vacation(1000, 25.5);
    check_vacation(29, 0.5);
}

static void vacation_unknown_ids_are_not_found(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_buf_append_str(&b, "keep"), MD_OK);
    static const long ids[] = { 1001, 0, -1, -42, 1000000, 2147483647L };
    for (size_t i = 0; i < MD_ARRAY_LEN(ids); i++)
        assert_int_equal(md_demo_vacation(ids[i], &b), MD_ENOTFOUND);
    assert_string_equal(b.data, "keep");
    md_buf_free(&b);
}

static void vacation_respects_buffer_cap(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 40);
    assert_int_equal(md_buf_append_str(&b, "prefix"), MD_OK);
    assert_int_equal(md_demo_vacation(42, &b), MD_ETOOBIG);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "prefix");
    md_buf_free(&b);
}

static void vacation_is_deterministic_and_per_employee(void **state)
{
    (void)state;
    md_buf_t a, b, c;
    md_buf_init(&a, 0);
    md_buf_init(&b, 0);
    md_buf_init(&c, 0);
    assert_int_equal(md_demo_vacation(42, &a), MD_OK);
    assert_int_equal(md_demo_vacation(42, &b), MD_OK);
    assert_int_equal(md_demo_vacation(43, &c), MD_OK);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_true(strncmp(a.data, "{\"employee\":42,\"balance_days\":17.5,", 35) == 0);
    assert_true(strncmp(c.data, "{\"employee\":43,\"balance_days\":25.5,", 35) == 0);
    md_buf_free(&a);
    md_buf_free(&b);
    md_buf_free(&c);
}

/* ---- config -------------------------------------------------------------- */

static size_t count_occurrences(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void config_contains_the_ports(void **state)
{
    (void)state;
    char *y = md_demo_config(40123, 8181);
    assert_int_equal(count_occurrences(y, "url: \"http://127.0.0.1:40123\""), 4); /* news, events, hr, site */
    assert_int_equal(count_occurrences(y, "listen: \"127.0.0.1:8181\""), 1);
    assert_null(strstr(y, "%"));
    md_free(y);
    y = md_demo_config(65535, 1);
    assert_int_equal(count_occurrences(y, "http://127.0.0.1:65535\""), 4);
    assert_int_equal(count_occurrences(y, "listen: \"127.0.0.1:1\""), 1);
    md_free(y);
}

/* libyaml document helpers: NULL when the path does not exist. */
static yaml_node_t *y_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static yaml_node_t *y_at(yaml_document_t *doc, yaml_node_t *seq, size_t i)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    return i < n ? yaml_document_get_node(doc, seq->data.sequence.items.start[i]) : NULL;
}

static size_t y_len(yaml_node_t *seq)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static const char *y_str(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void check_home_endpoint(yaml_document_t *doc, yaml_node_t *home)
{
    assert_string_equal(y_str(y_get(doc, home, "path")), "/home");
    assert_string_equal(y_str(y_get(doc, home, "errors_field")), "_errors");
    yaml_node_t *user = y_get(doc, y_get(doc, home, "params"), "user");
    assert_string_equal(y_str(y_get(doc, user, "in")), "query");
    assert_string_equal(y_str(y_get(doc, user, "type")), "integer");
    assert_string_equal(y_str(y_get(doc, user, "required")), "true");
    assert_non_null(y_str(y_get(doc, user, "description")));
    yaml_node_t *be = y_get(doc, home, "backends");
    assert_int_equal(y_len(be), 3);

    yaml_node_t *news = y_at(doc, be, 0);
    yaml_node_t *shape = y_get(doc, news, "shape");
    assert_string_equal(y_str(y_get(doc, news, "upstream")), "news");
    assert_string_equal(y_str(y_get(doc, news, "path")), "/news");
    assert_string_equal(y_str(y_get(doc, news, "as")), "news");
    assert_string_equal(y_str(y_get(doc, shape, "from")), "items");
    assert_string_equal(y_str(y_get(doc, shape, "sort")), "-published");
    assert_string_equal(y_str(y_get(doc, shape, "limit")), "5");
    yaml_node_t *sel = y_get(doc, shape, "select");
    assert_int_equal(y_len(sel), 4);
    assert_string_equal(y_str(y_at(doc, sel, 3)), "published");

    yaml_node_t *ev = y_at(doc, be, 1);
    shape = y_get(doc, ev, "shape");
    assert_string_equal(y_str(y_get(doc, ev, "upstream")), "events");
    assert_string_equal(y_str(y_get(doc, shape, "from")), "events");
    assert_string_equal(y_str(y_get(doc, shape, "sort")), "starts");
    assert_int_equal(y_len(y_get(doc, shape, "select")), 4);

    yaml_node_t *hr = y_at(doc, be, 2);
    assert_string_equal(y_str(y_get(doc, hr, "name")), "vacation");
    assert_string_equal(y_str(y_get(doc, hr, "upstream")), "hr");
    assert_string_equal(y_str(y_get(doc, hr, "path")), "/employees/{user}/vacation");
    assert_string_equal(y_str(y_get(doc, hr, "as")), "cards.vacation");
    assert_string_equal(y_str(y_get(doc, hr, "optional")), "true");
    sel = y_get(doc, y_get(doc, hr, "shape"), "select");
    assert_int_equal(y_len(sel), 1);
    assert_string_equal(y_str(y_at(doc, sel, 0)), "balance_days");
}

static void check_passthrough(yaml_document_t *doc, yaml_node_t *ep, const char *path,
                              const char *to)
{
    assert_string_equal(y_str(y_get(doc, ep, "path")), path);
    yaml_node_t *pt = y_get(doc, ep, "passthrough");
    assert_non_null(pt);
    assert_string_equal(y_str(y_get(doc, pt, "path")), to);
    assert_non_null(y_str(y_get(doc, pt, "upstream")));
}

static void config_is_yaml_with_the_specified_structure(void **state)
{
    (void)state;
    char *y = md_demo_config(40123, 8181);
    yaml_parser_t parser;
    yaml_document_t doc;
    assert_true(yaml_parser_initialize(&parser));
    yaml_parser_set_input_string(&parser, (const unsigned char *)y, strlen(y));
    assert_true(yaml_parser_load(&parser, &doc));
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    assert_non_null(root);
    assert_string_equal(y_str(y_get(&doc, root, "listen")), "127.0.0.1:8181");
    yaml_node_t *ups = y_get(&doc, root, "upstreams");
    static const char *names[] = { "news", "events", "hr", "site" };
    for (size_t i = 0; i < 4; i++) {
        yaml_node_t *u = y_get(&doc, ups, names[i]);
        assert_string_equal(y_str(y_get(&doc, u, "url")), "http://127.0.0.1:40123");
        assert_non_null(y_str(y_get(&doc, u, "timeout")));
    }
    yaml_node_t *eps = y_get(&doc, root, "endpoints");
    assert_int_equal(y_len(eps), 3);
    check_home_endpoint(&doc, y_at(&doc, eps, 0));
    check_passthrough(&doc, y_at(&doc, eps, 1), "/news-raw", "/news");
    check_passthrough(&doc, y_at(&doc, eps, 2), "/", "/demo");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    md_free(y);
}

/* medley's own loader accepts the text and sees what the spec asks for. */
static void config_passes_the_loader(void **state)
{
    (void)state;
    char *y = md_demo_config(40123, 8181);
    md_diag_t diag = { 0 };
    md_config_t *cfg = md_config_load_string(y, strlen(y), "<demo>", &diag);
    assert_non_null(cfg);
    assert_string_equal(cfg->listen_host, "127.0.0.1");
    assert_int_equal(cfg->listen_port, 8181);
    assert_int_equal(cfg->nupstreams, 4);
    for (size_t i = 0; i < cfg->nupstreams; i++)
        assert_int_equal(cfg->upstreams[i].port, 40123);
    assert_int_equal(cfg->nendpoints, 3);
    const md_endpoint_conf_t *home = &cfg->endpoints[0];
    assert_false(home->passthrough);
    assert_int_equal(home->nparams, 1);
    assert_int_equal(home->params[0].type, MD_PARAM_INTEGER);
    assert_true(home->params[0].required);
    assert_int_equal(home->nbackends, 3);
    assert_int_equal(home->backends[0].shape.limit, 5);
    assert_string_equal(home->backends[0].shape.sort, "-published");
    assert_true(home->backends[2].optional);
    assert_string_equal(home->backends[2].as, "cards.vacation");
    assert_true(cfg->endpoints[1].passthrough);
    assert_string_equal(cfg->endpoints[2].path, "/");
    assert_true(cfg->endpoints[2].passthrough);
    assert_string_equal(cfg->endpoints[2].backends[0].path, "/demo");
    md_config_free(cfg);
    md_free(y);
}

/* ---- page ---------------------------------------------------------------- */

static void page_is_small_self_contained_and_wired(void **state)
{
    (void)state;
    size_t len = 0;
    const char *html = md_demo_page(&len);
    assert_non_null(html);
    assert_int_equal(strlen(html), len);
    assert_true(len < 8 * 1024);
    assert_ptr_equal(md_demo_page(NULL), html);
    assert_non_null(strstr(html, "<title>medley demo \xe2\x80\x94 home feed</title>"));
    assert_non_null(strstr(html, "fetch('/home?user='"));
    assert_non_null(strstr(html, "href=\"/news-raw\""));
    assert_non_null(strstr(html, "balance_days"));
    /* no external resources */
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, " src="));
    assert_null(strstr(html, "@import"));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "innerHTML"));
    assert_non_null(strstr(html, "</html>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validator_rejects_bad_json),
        cmocka_unit_test(data_is_deterministic),
        cmocka_unit_test(documents_pass_medleys_scanner),
        cmocka_unit_test(news_has_twenty_articles_per_spec),
        cmocka_unit_test(events_has_fifteen_events_per_spec),
        cmocka_unit_test(vacation_balance_follows_formula),
        cmocka_unit_test(vacation_unknown_ids_are_not_found),
        cmocka_unit_test(vacation_respects_buffer_cap),
        cmocka_unit_test(vacation_is_deterministic_and_per_employee),
        cmocka_unit_test(config_contains_the_ports),
        cmocka_unit_test(config_is_yaml_with_the_specified_structure),
        cmocka_unit_test(config_passes_the_loader),
        cmocka_unit_test(page_is_small_self_contained_and_wired),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
