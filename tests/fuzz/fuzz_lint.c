/*
 * fuzz_lint.c - libFuzzer driver for connector/lint: the input is the
 * package's apiDefinition.swagger.json (its first byte, when it is '#',
 * says to use it as apiProperties.json instead), the other two files are
 * fixed and valid. The lint reads files, so the input is written to a
 * private temp directory made once per process.
 *
 * Beyond "no crash, no hang, no sanitizer report" it checks what callers
 * rely on and aborts when it breaks: the return value equals the error
 * count, and the output is whole lines, each "PATH: RULE: SEVERITY:
 * MESSAGE" with no control byte in it.
 *
 * Build: make fuzz (build-fuzz/fuzz_lint). Seeds: tests/fuzz/corpus/lint/.
 */
#include "connector/lint.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const char PROPS[] = "{\"properties\": {\"iconBrandColor\": \"#007ee5\"}}";
static const char SWAGGER[] = "{\"swagger\": \"2.0\"}";
static const unsigned char PNG[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H',
                                     'D', 'R', 0, 0, 0, 8, 0, 0, 0, 8, 8, 6, 0, 0, 0 };

static char dir[64];

static void put(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

static void cleanup(void)
{
    static const char *const names[] = { "apiDefinition.swagger.json", "apiProperties.json", "icon.png" };
    char path[128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Each line: "PATH: RULE: error|warning|note: MESSAGE", printable. */
static void check_output(const char *out, size_t len)
{
    CHECK(len == 0 || out[len - 1] == '\n');
    for (const char *line = out; line < out + len;) {
        const char *nl = memchr(line, '\n', (size_t)(out + len - line));
        for (const char *c = line; c < nl; c++)
            CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        CHECK(memmem(line, (size_t)(nl - line), ": error: ", 9) || memmem(line, (size_t)(nl - line), ": warning: ", 11) ||
              memmem(line, (size_t)(nl - line), ": note: ", 8));
        line = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/md-fuzz-lint-XXXXXX");
        CHECK(mkdtemp(dir));
        atexit(cleanup);
        put("icon.png", PNG, sizeof(PNG));
    }
    bool props = size > 0 && data[0] == '#';
    put("apiDefinition.swagger.json", props ? (const void *)SWAGGER : data, props ? strlen(SWAGGER) : size);
    put("apiProperties.json", props ? (const void *)(data + 1) : PROPS, props ? size - 1 : strlen(PROPS));
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    CHECK(f);
    md_lint_counts_t counts;
    int rc = md_connector_lint_ex(dir, f, &counts);
    CHECK(fclose(f) == 0);
    CHECK(rc >= 0 && (unsigned)rc == counts.errors);
    check_output(out, len);
    free(out);
    return 0;
}
