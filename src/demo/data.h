/*
 * data.h - the deterministic demo data served by the mock backends.
 *
 * `medley demo` must run with no other service, so the data its mock
 * backends return is generated here, in C, from a fixed-seed PRNG: the same
 * binary always produces the same bytes (no clock, no randomness), which keeps
 * the demo reproducible and lets tests pin exact values.
 *
 * Three documents:
 *   news      {"items":[20 articles]}, ids news-1001..news-1020, each with a
 *             distinct UTC "published" time; stored in no particular order so
 *             that medley's `sort` has work to do.
 *   events    {"events":[15 events]}, ids evt-101..evt-115, distinct "starts",
 *             also unordered.
 *   vacation  one small record per employee id 1..1000, rendered per request.
 *
 * Strings are escaped with json/write.h, so the documents are valid JSON
 * whatever the word lists hold.
 */
#ifndef MD_DEMO_DATA_H
#define MD_DEMO_DATA_H

#include "core/buf.h"

#include <stdint.h>

#define MD_DEMO_NEWS_COUNT 20
#define MD_DEMO_NEWS_FIRST_ID 1001
#define MD_DEMO_EVENTS_COUNT 15
#define MD_DEMO_EVENTS_FIRST_ID 101
#define MD_DEMO_EMPLOYEE_MIN 1
#define MD_DEMO_EMPLOYEE_MAX 1000

/* Caps on the generated documents (they are ~25 KB, ~5 KB and ~0.4 KB). */
#define MD_DEMO_NEWS_MAX_BYTES (64 * 1024)
#define MD_DEMO_EVENTS_MAX_BYTES (16 * 1024)
#define MD_DEMO_VACATION_MAX_BYTES 1024

/* The documents built once at startup; read-only afterwards, so any number
 * of threads may serve them. */
typedef struct md_demo_data {
    md_buf_t news;
    md_buf_t events;
} md_demo_data_t;

/* Builds the news and events documents into `d`. MD_OK, or a negative code
 * (d is left empty) if a document outgrew its cap. */
int md_demo_data_init(md_demo_data_t *d);

/* Frees what md_demo_data_init built. Safe on a zeroed or freed struct. */
void md_demo_data_free(md_demo_data_t *d);

/* Appends employee `id`'s vacation record to `out`:
 * {"employee":ID,"balance_days":((ID*37)%29)+0.5,"accrual_per_month":2.08,
 *  "policy":"standard-25","history":[3 x {"date","days","type"}]}.
 * MD_ENOTFOUND (out unchanged) for ids outside 1..1000; MD_ETOOBIG if `out`
 * has no room. */
int md_demo_vacation(long id, md_buf_t *out);

/* The body the mock answers for an unknown employee. */
#define MD_DEMO_NO_EMPLOYEE_JSON "{\"error\":\"no such employee\"}"

#endif
