/*
 * fuzz_trace_context.c - libFuzzer driver for the W3C Trace Context parsers
 * (md_traceparent_parse and md_tracestate_valid in telemetry/trace.h): both
 * read request headers a client controls.
 *
 * The input is a traceparent value, a '\n', then a tracestate value. Any
 * bytes must neither crash nor read outside them. A traceparent accepted
 * must hold non-zero ids and no version ff, and what medley writes for it
 * must parse back to the same ids (and equal the input for a version-00
 * value whose flags are 00 or 01). A tracestate accepted must fit the
 * bounds and hold only what may go out in a header. Aborts when a property
 * breaks.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *        tests/fuzz/fuzz_trace_context.c src/telemetry/trace.c
 * Seeds: tests/fuzz/corpus/trace_context/.
 */
#include "core/common.h"
#include "telemetry/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void check_parent(const char *s, size_t n)
{
    md_trace_parent_t p;
    if (md_traceparent_parse(s, n, &p) != MD_OK)
        return;
    CHECK(p.version != 0xff);
    CHECK(!md_trace_id_is_zero(p.trace_id, MD_TRACE_ID_BYTES));
    CHECK(!md_trace_id_is_zero(p.span_id, MD_SPAN_ID_BYTES));
    char out[MD_TRACEPARENT_LEN + 1];
    md_traceparent_format(out, p.trace_id, p.span_id, p.flags);
    md_trace_parent_t q;
    CHECK(md_traceparent_parse(out, MD_TRACEPARENT_LEN, &q) == MD_OK);
    CHECK(memcmp(q.trace_id, p.trace_id, MD_TRACE_ID_BYTES) == 0);
    CHECK(memcmp(q.span_id, p.span_id, MD_SPAN_ID_BYTES) == 0);
    CHECK(q.flags == (p.flags & MD_TRACE_FLAG_SAMPLED));
    if (p.version == 0 && p.flags <= 1)
        CHECK(n == MD_TRACEPARENT_LEN && memcmp(out, s, n) == 0);
}

static void check_state(const char *s, size_t n)
{
    if (!md_tracestate_valid(s, n))
        return;
    CHECK(n > 0 && n <= MD_TRACESTATE_MAX);
    for (size_t i = 0; i < n; i++)
        CHECK(s[i] == '\t' || (s[i] >= 0x20 && s[i] <= 0x7e));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n1 = nl ? (size_t)(nl - data) : size, n2 = nl ? size - n1 - 1 : 0;
    /* Exact-size heap copies so ASan sees any read past the end. */
    char *a = malloc(n1 ? n1 : 1), *b = malloc(n2 ? n2 : 1);
    memcpy(a, data, n1);
    if (n2)
        memcpy(b, nl + 1, n2);
    check_parent(a, n1);
    check_state(b, n2);
    free(a);
    free(b);
    return 0;
}
