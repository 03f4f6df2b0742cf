/*
 * json_compare.c - the measurement behind docs/decisions.md's JSON choice:
 * time to parse one document with jansson, cJSON, jsmn and medley's own
 * strict tokenizer (md_json_scan), side by side in one process.
 *
 *   apt-get install libjansson-dev libcjson-dev libjsmn-dev
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/json_compare.c src/json/[a-z]*.c \
 *      src/core/[a-z]*.c -ljansson -lcjson -pthread -o /tmp/json_compare
 *   /tmp/json_compare bench/run/data/news.json
 *
 * Prints the best of 7 rounds (each the mean of many parses) in us per
 * document and MB/s. jsmn is built non-strict (its default) and only
 * tokenizes; cJSON and jansson build a DOM; md_json_scan validates
 * strictly (numbers, literals, escapes, UTF-8) and tokenizes.
 */
#include "json/scan.h"

#include <cjson/cJSON.h>
#include <jansson.h>
#define JSMN_STATIC
#include <jsmn.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

typedef int (*parse_fn)(const char *s, size_t n);

static int p_jansson(const char *s, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb(s, n, 0, &e);
    json_decref(j);
    return j != NULL;
}

static int p_cjson(const char *s, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(s, n);
    cJSON_Delete(j);
    return j != NULL;
}

static jsmntok_t jtoks[65536];
static int p_jsmn(const char *s, size_t n)
{
    jsmn_parser p;
    jsmn_init(&p);
    return jsmn_parse(&p, s, n, jtoks, 65536) > 0;
}

static md_json_toks_t mtoks;
static int p_medley(const char *s, size_t n)
{
    char err[64];
    mtoks.n = 0;
    return md_json_scan(&mtoks, s, n, NULL, err, sizeof(err)) == 0;
}

static void run(const char *name, parse_fn f, const char *s, size_t n)
{
    int iters = 2000;
    double best = 1e30;
    if (!f(s, n)) {
        printf("%-10s failed to parse\n", name);
        return;
    }
    for (int r = 0; r < 7; r++) {
        double t0 = now_us();
        for (int i = 0; i < iters; i++)
            f(s, n);
        double per = (now_us() - t0) / iters;
        if (per < best)
            best = per;
    }
    printf("%-10s %8.1f us/doc %8.0f MB/s\n", name, best, n / best);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.json\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return perror(argv[1]), 1;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    md_json_toks_init(&mtoks, 0);
    printf("%s: %zu bytes\n", argv[1], n);
    run("jansson", p_jansson, buf, n);
    run("cJSON", p_cjson, buf, n);
    run("jsmn", p_jsmn, buf, n);
    run("medley", p_medley, buf, n);
    md_json_toks_free(&mtoks);
    return 0;
}
