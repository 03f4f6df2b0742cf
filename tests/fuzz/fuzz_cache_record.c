/*
 * fuzz_cache_record.c - libFuzzer driver for the cache's Redis record
 * format (md_cache_record_decode / md_cache_record_encode in cache/store.h).
 *
 * Whatever the bytes, decode must not crash or read outside them; when it
 * accepts them, what it returns must be well formed (windows in order, tags
 * empty or NUL-terminated and within MD_CACHE_MAX_TAGS, pointers inside the
 * input) and encoding it again must give back exactly the same bytes: the
 * format has one spelling per value. Aborts when a property breaks.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_cache_record.c src/cache/store.c src/core/ *.c -lyaml -lz -pthread
 * Seeds: tests/fuzz/corpus/cache_record/.
 */
#include "cache/store.h"
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy so ASan sees any read past the end. */
    char *rec = malloc(size ? size : 1);
    if (size)
        memcpy(rec, data, size);
    md_cache_meta_t m;
    const char *tags, *val;
    size_t tagslen, len;
    if (md_cache_record_decode(rec, size, &m, &tags, &tagslen, &val, &len) == MD_OK) {
        CHECK(m.stale_until_ms >= m.fresh_until_ms && m.error_until_ms >= m.fresh_until_ms);
        CHECK(tagslen <= MD_CACHE_MAX_TAGS && (tagslen == 0 || tags[tagslen - 1] == '\0'));
        CHECK(tags >= rec && tags + tagslen <= rec + size && val >= tags + tagslen && val + len == rec + size);
        md_buf_t out;
        md_buf_init(&out, 0);
        CHECK(md_cache_record_encode(&m, tags, tagslen, val, len, &out) == MD_OK);
        CHECK(out.len == size && memcmp(out.data, rec, size) == 0);
        md_buf_free(&out);
    }
    free(rec);
    return 0;
}
