/*
 * bench_json.c - micro-benchmark of the JSON hot path: md_json_scan alone
 * and md_shape_apply with the /home news shape, on a generated 25 KB
 * document shaped like the benchmark's news feed (or on a file given as
 * argv[1], e.g. ../shared/peers/data/news.json).
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/bench_json.c \
 *      src/json/[a-z]*.c src/shape/[a-z]*.c src/core/[a-z]*.c -pthread -o /tmp/bench_json
 *   /tmp/bench_json [file.json] [--utf8]
 *
 * --utf8 puts accented and CJK words in the generated text, to see what
 * UTF-8 validation costs when it actually has work to do. Prints the best
 * of 5 rounds in microseconds per document.
 */
#include "core/buf.h"
#include "core/common.h"
#include "json/scan.h"
#include "shape/shape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long rng = 12345;

static unsigned rnd(unsigned n)
{
    rng = rng * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned)(rng >> 33) % n;
}

static const char *ascii_words[] = { "update", "product", "people", "delivery", "launch", "survey",
                                     "quality", "release", "mentor", "office", "growth", "award" };
static const char *utf8_words[] = { "café", "São", "Zürich", "naïve", "日本語", "Ελλάδα",
                                    "update", "product", "mañana", "größe", "东京", "résumé" };

static void words(md_buf_t *b, size_t nbytes, int utf8)
{
    const char **w = utf8 ? utf8_words : ascii_words;
    size_t start = b->len;
    while (b->len - start < nbytes) {
        if (b->len != start)
            md_buf_append_char(b, ' ');
        md_buf_append_str(b, w[rnd(12)]);
    }
}

/* {"items":[20 articles]} of about 25 KB. */
static void generate(md_buf_t *b, int utf8)
{
    md_buf_append_str(b, "{\"items\":[");
    for (int i = 0; i < 20; i++) {
        md_buf_printf(b, "%s{\"id\":\"news-%d\",\"title\":\"", i ? "," : "", 1001 + i);
        words(b, 30, utf8);
        md_buf_append_str(b, "\",\"summary\":\"");
        words(b, 130, utf8);
        md_buf_printf(b, "\",\"url\":\"https://intranet.example.com/news/news-%d\","
                         "\"published\":\"2024-05-%02uT%02u:%02u:00Z\",",
                      1001 + i, 1 + rnd(28), rnd(24), rnd(60));
        if (i % 2)
            md_buf_printf(b, "\"author\":{\"name\":\"Ana Souza\",\"email\":\"ana%d@example.com\","
                             "\"dept\":\"HR\"},", i);
        else
            md_buf_append_str(b, "\"author\":\"Ana Souza\",");
        md_buf_append_str(b, "\"tags\":[\"events\",\"it\",\"hr\"],\"body\":\"");
        words(b, 900, utf8);
        md_buf_append_str(b, "\"}");
    }
    md_buf_append_str(b, "]}");
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    md_buf_t doc;
    md_buf_init(&doc, 0);
    int utf8 = argc > 1 && strcmp(argv[argc - 1], "--utf8") == 0;
    if (argc > 1 + utf8) {
        FILE *f = fopen(argv[1], "rb");
        if (!f) {
            perror(argv[1]);
            return 1;
        }
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            md_buf_append(&doc, chunk, n);
        fclose(f);
    } else {
        generate(&doc, utf8);
    }
    char *sel[] = { "id", "title", "url", "published" };
    md_shape_spec_t spec = { .from = "items", .select = sel, .nselect = 4, .sort = "-published",
                             .limit = 5 };
    char err[256];
    md_shape_t *shape = md_shape_compile(&spec, err, sizeof(err));
    md_buf_t out;
    md_buf_init(&out, 1 << 20);
    const int iters = 20000;
    double best_scan = 1e30, best_shape = 1e30;
    size_t ntok = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now_us();
        for (int i = 0; i < iters; i++) {
            md_json_toks_t *t = md_json_scratch();
            t->n = 0;
            if (md_json_scan(t, doc.data, doc.len, NULL, err, sizeof(err)) != MD_OK) {
                fprintf(stderr, "scan: %s\n", err);
                return 1;
            }
            ntok = t->n;
        }
        double t1 = now_us();
        for (int i = 0; i < iters; i++) {
            md_buf_reset(&out);
            if (md_shape_apply(shape, doc.data, doc.len, &out, err, sizeof(err)) != MD_OK) {
                fprintf(stderr, "shape: %s\n", err);
                return 1;
            }
        }
        double t2 = now_us();
        best_scan = MD_MIN(best_scan, (t1 - t0) / iters);
        best_shape = MD_MIN(best_shape, (t2 - t1) / iters);
    }
    printf("document: %zu bytes, %zu tokens%s\n", doc.len, ntok, utf8 ? ", non-ASCII text" : "");
    printf("md_json_scan:   %6.2f us/doc  %6.0f MB/s\n", best_scan, doc.len / best_scan);
    printf("md_shape_apply: %6.2f us/doc  (-> %zu bytes: from items, select 4, sort -published, limit 5)\n",
           best_shape, out.len);
    md_shape_free(shape);
    md_buf_free(&out);
    md_buf_free(&doc);
    md_json_scratch_release();
    return 0;
}
