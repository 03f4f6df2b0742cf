/*
 * fuzz_shape.c - libFuzzer driver for the JSON hot path: json/scan,
 * json/write, shape/shape and shape/merge.
 *
 * Every input is applied verbatim (shape NULL) and through three fixed
 * shapes that between them use from, select (nested), deny, rename, sort
 * and limit; the results are then merged on the fast and the general
 * path. Beyond "no crash, no sanitizer report" it checks the properties
 * callers rely on, and aborts when one breaks:
 *   - the verbatim copy equals the input byte for byte;
 *   - every shaped output is valid JSON and already compact (compacting it
 *     again changes nothing);
 *   - a failed call leaves the output buffer as it was;
 *   - every merge result is a valid JSON object.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_shape.c src/json/ *.c src/shape/ *.c src/core/ *.c -pthread
 * Seeds: tests/fuzz/corpus/shape/, dictionary: fuzz_shape.dict.
 */
#include "core/buf.h"
#include "core/common.h"
#include "json/scan.h"
#include "shape/merge.h"
#include "shape/shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#define NSHAPES 3

static md_shape_t *shapes[NSHAPES];
static md_shape_t *compact;
static md_merge_t *merge_fast, *merge_general;

static md_shape_t *compile_or_die(md_shape_spec_t spec)
{
    char err[256];
    md_shape_t *s = md_shape_compile(&spec, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "fuzz_shape: %s\n", err);
        abort();
    }
    return s;
}

static void init(void)
{
    static char *news_sel[] = { "id", "title", "author.name", "url", "published" };
    static md_kv_t news_ren[] = { { "author.name", "writer" }, { "published", "date" } };
    static char *deny[] = { "body", "author.email", "tags" };
    static md_kv_t deny_ren[] = { { "title", "headline" } };
    static char *nested_sel[] = { "a.b.c", "x", "y.z", "a.d" };
    static md_kv_t nested_ren[] = { { "y.z", "yz" } };
    shapes[0] = compile_or_die((md_shape_spec_t){ .from = "items", .select = news_sel, .nselect = 5,
                                                  .rename = news_ren, .nrename = 2,
                                                  .sort = "-published", .limit = 5 });
    shapes[1] = compile_or_die((md_shape_spec_t){ .deny = deny, .ndeny = 3, .rename = deny_ren,
                                                  .nrename = 1, .sort = "id", .limit = -1 });
    shapes[2] = compile_or_die((md_shape_spec_t){ .select = nested_sel, .nselect = 4,
                                                  .rename = nested_ren, .nrename = 1, .limit = -1 });
    compact = compile_or_die((md_shape_spec_t){ .limit = -1 });
    const char *fast[] = { "news", "cards.vacation", "cards.other", "raw" };
    /* Fragments: 0 news shape, 1 deny shape, 2 nested select, 3 raw input. */
    const char *general[] = { "news", "news.extra", NULL, NULL };
    char err[128];
    merge_fast = md_merge_compile(fast, 4, err, sizeof(err));
    merge_general = md_merge_compile(general, 4, err, sizeof(err));
    CHECK(merge_fast && md_merge_is_fast(merge_fast));
    CHECK(merge_general && !md_merge_is_fast(merge_general));
}

static bool valid_json(const char *s, size_t len, md_json_type_t *type)
{
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    char err[128];
    uint32_t root;
    bool ok = md_json_scan(&t, s, len, &root, err, sizeof(err)) == MD_OK;
    if (ok && type)
        *type = (md_json_type_t)t.v[root].type;
    md_json_toks_free(&t);
    return ok;
}

/* Applies s; checks the output properties; returns MD_OK or the error. */
static int apply_checked(const md_shape_t *s, const char *in, size_t len, md_buf_t *out)
{
    char err[256];
    md_buf_reset(out);
    md_buf_append_str(out, "x");
    int rc = md_shape_apply(s, in, len, out, err, sizeof(err));
    if (rc != MD_OK) {
        CHECK(rc == MD_EINVAL || rc == MD_ENOTFOUND || rc == MD_ETOOBIG);
        CHECK(out->len == 1 && out->data[0] == 'x');
        CHECK(err[0] != '\0');
        return rc;
    }
    md_buf_consume(out, 1);
    CHECK(valid_json(out->data, out->len, NULL));
    if (!s) {
        CHECK(out->len == len && memcmp(out->data, in, len) == 0);
        return rc;
    }
    md_buf_t again;
    md_buf_init(&again, 0);
    CHECK(md_shape_apply(compact, out->data, out->len, &again, err, sizeof(err)) == MD_OK);
    CHECK(again.len == out->len && memcmp(again.data, out->data, out->len) == 0);
    md_buf_free(&again);
    return rc;
}

static void merge_checked(const md_merge_t *m, const md_fragment_t *f)
{
    md_buf_t out;
    md_buf_init(&out, 1 << 20);
    int rc = md_merge_write(m, f, "_errors", "[]", 2, &out);
    if (rc == MD_OK) {
        md_json_type_t type;
        CHECK(valid_json(out.data, out.len, &type));
        CHECK(type == MD_JSON_OBJECT);
    } else {
        CHECK(rc == MD_EINVAL || rc == MD_ETOOBIG);
        CHECK(out.len == 0);
    }
    md_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!shapes[0])
        init();
    const char *in = (const char *)data;
    md_buf_t outs[NSHAPES + 1];
    md_fragment_t f[NSHAPES + 1];
    for (int i = 0; i <= NSHAPES; i++) {
        md_buf_init(&outs[i], 1 << 20);
        const md_shape_t *s = i < NSHAPES ? shapes[i] : NULL;
        int rc = apply_checked(s, in, size, &outs[i]);
        f[i] = rc == MD_OK ? (md_fragment_t){ outs[i].data, outs[i].len } : (md_fragment_t){ NULL, 0 };
    }
    merge_checked(merge_fast, f);
    merge_checked(merge_general, f);
    for (int i = 0; i <= NSHAPES; i++)
        md_buf_free(&outs[i]);
    return 0;
}
