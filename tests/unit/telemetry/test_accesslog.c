/*
 * Unit tests for telemetry/accesslog: the JSON line (exact text for a known
 * entry, RFC 3339 times, hostile strings staying valid JSON, all-or-nothing
 * on a full buffer), level and sampling, and the writer thread (every line
 * reaches the file; a stuck target drops and counts instead of blocking;
 * a failing target counts its lost lines). Expected lines are written from
 * the format in accesslog.h; dates are known calendar facts.
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/common.h"
#include "json/scan.h"
#include "telemetry/accesslog.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static md_str_t lit(const char *s)
{
    return (md_str_t){ s, strlen(s) };
}

static md_log_entry_t sample_entry(void)
{
    static const md_log_call_t calls[2] = {
        { { "\"news\"", 6 }, 200, "ok", 3104, NULL, 24614, 812 },
        { { "\"vacation\"", 10 }, 0, "timeout", 500000, NULL, 0, 0 },
    };
    md_log_entry_t e = {
        .wall_us = 1700000000123456ull, /* 2023-11-14T22:13:20.123456Z */
        .method = lit("GET"),
        .path = lit("/home"),
        .status = 200,
        .bytes = 1187,
        .duration_us = 4012,
        .client = "10.0.0.7",
        .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
        .span_id = "00f067aa0ba902b7",
        .endpoint_json = lit("\"/home\""),
        .calls = calls,
        .ncalls = 2,
        .incomplete = true,
    };
    return e;
}

/* Valid JSON per the project's strict scanner, one object. */
static void assert_json_object(const char *s, size_t len)
{
    md_json_toks_t t;
    md_json_toks_init(&t, 0);
    uint32_t root = 0;
    char err[128];
    int rc = md_json_scan(&t, s, len, &root, err, sizeof(err));
    if (rc != MD_OK)
        fail_msg("not JSON (%s): %.*s", err, (int)len, s);
    assert_int_equal(t.v[root].type, MD_JSON_OBJECT);
    md_json_toks_free(&t);
}

static void line_has_every_field_in_order(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    md_log_entry_t e = sample_entry();
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_string_equal(b.data,
                        "{\"time\":\"2023-11-14T22:13:20.123Z\",\"method\":\"GET\",\"path\":\"/home\",\"status\":200,"
                        "\"bytes\":1187,\"duration_ms\":4.012,\"client\":\"10.0.0.7\","
                        "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\","
                        "\"endpoint\":\"/home\","
                        "\"backends\":[{\"name\":\"news\",\"status\":200,\"outcome\":\"ok\",\"duration_ms\":3.104,"
                        "\"bytes_in\":24614,\"bytes_out\":812},"
                        "{\"name\":\"vacation\",\"status\":null,\"outcome\":\"timeout\",\"duration_ms\":500.000,"
                        "\"bytes_in\":0,\"bytes_out\":0}],"
                        "\"incomplete\":true}\n");
    assert_json_object(b.data, b.len - 1);
    md_buf_free(&b);
}

static void unmatched_request_has_null_endpoint_and_no_backends(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    md_log_entry_t e = { .wall_us = 0, .method = lit("POST"), .path = lit("/x"), .status = 404, .bytes = 85,
                         .duration_us = 35, .client = "" };
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_string_equal(b.data, "{\"time\":\"1970-01-01T00:00:00.000Z\",\"method\":\"POST\",\"path\":\"/x\","
                                "\"status\":404,\"bytes\":85,\"duration_ms\":0.035,\"client\":\"\","
                                "\"trace_id\":null,\"span_id\":null,\"endpoint\":null,\"backends\":[],\"incomplete\":false}\n");
    md_buf_free(&b);
}

/* A part the cache answered: nothing read, its stored fragment sent; the
 * cache outcome comes after the bytes. Counts use all 64 bits. */
static void cached_part_and_large_counts(void **state)
{
    (void)state;
    static const md_log_call_t calls[2] = {
        { { "\"events\"", 8 }, 0, "ok", 0, "hit", 0, 497 },
        { { "\"big\"", 5 }, 200, "ok", 1, NULL, UINT64_MAX, 4294967296ull },
    };
    md_buf_t b;
    md_buf_init(&b, 0);
    md_log_entry_t e = sample_entry();
    e.calls = calls;
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_non_null(strstr(b.data, "\"backends\":[{\"name\":\"events\",\"status\":null,\"outcome\":\"ok\","
                                   "\"duration_ms\":0.000,\"bytes_in\":0,\"bytes_out\":497,\"cache\":\"hit\"},"
                                   "{\"name\":\"big\",\"status\":200,\"outcome\":\"ok\",\"duration_ms\":0.001,"
                                   "\"bytes_in\":18446744073709551615,\"bytes_out\":4294967296}],"));
    assert_json_object(b.data, b.len - 1);
    md_buf_free(&b);
}

static void times_are_rfc3339_utc_with_milliseconds(void **state)
{
    (void)state;
    static const struct {
        uint64_t us;
        const char *want;
    } cases[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { 951782400000000ull, "2000-02-29T00:00:00.000Z" },        /* a leap day of a /400 year */
        { 68256000500000ull, "1972-03-01T00:00:00.500Z" },         /* the day after a leap day */
        { 4102444799999000ull, "2099-12-31T23:59:59.999Z" },
        { 1700000000999999ull, "2023-11-14T22:13:20.999Z" },       /* truncated, never rounded up */
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_buf_t b;
        md_buf_init(&b, 0);
        md_log_entry_t e = { .wall_us = cases[i].us, .method = lit("GET"), .path = lit("/") };
        assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
        char want[64];
        snprintf(want, sizeof(want), "{\"time\":\"%s\",", cases[i].want);
        if (strncmp(b.data, want, strlen(want)) != 0)
            fail_msg("case %zu: got %.40s, want %s", i, b.data, want);
        md_buf_free(&b);
    }
}

static void hostile_method_and_path_stay_valid_json(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    static const char path[] = "/a\"b\\c\n\r\t\x01\x7f\xff\xc3(/\xe2\x82";
    md_log_entry_t e = sample_entry();
    e.path = (md_str_t){ path, sizeof(path) - 1 };
    e.method = lit("GE\"T");
    e.client = "a\"b";
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_int_equal(b.data[b.len - 1], '\n');
    assert_null(memchr(b.data, '\n', b.len - 1)); /* one line, whatever the input */
    assert_null(memchr(b.data, '\r', b.len));
    assert_json_object(b.data, b.len - 1);
    assert_non_null(strstr(b.data, "\"path\":\"/a\\\"b\\\\c\\n\\r\\t\\u0001"));
    md_buf_free(&b);
}

static void long_paths_are_cut(void **state)
{
    (void)state;
    size_t n = MD_LOG_PATH_MAX * 3;
    char *path = malloc(n);
    memset(path, 'p', n);
    md_buf_t b;
    md_buf_init(&b, 0);
    md_log_entry_t e = sample_entry();
    e.path = (md_str_t){ path, n };
    assert_int_equal(md_accesslog_format(&b, &e), MD_OK);
    assert_true(b.len < MD_LOG_PATH_MAX + 1024);
    assert_json_object(b.data, b.len - 1);
    md_buf_free(&b);
    free(path);
}

static void a_full_buffer_is_left_unchanged(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 300);
    md_buf_append_str(&b, "kept\n");
    md_log_entry_t e = sample_entry();
    assert_int_equal(md_accesslog_format(&b, &e), MD_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "kept\n");
    md_buf_free(&b);
}

/* ---- the log object ---- */

static md_telemetry_conf_t conf_for(md_log_target_t target, const char *path, double sample, bool errors)
{
    md_telemetry_conf_t c = { 0 };
    c.log_target = target;
    c.log_path = (char *)path;
    c.log_sample = sample;
    c.log_errors_only = errors;
    return c;
}

static void unopenable_file_is_an_error(void **state)
{
    (void)state;
    char err[256] = "";
    md_telemetry_conf_t c = conf_for(MD_LOG_FILE, "/nonexistent-dir/medley/access.log", 1, false);
    assert_null(md_accesslog_open(&c, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir/medley/access.log"));
    c = conf_for(MD_LOG_OFF, NULL, 1, false);
    assert_null(md_accesslog_open(&c, 1, err, sizeof(err)));
}

static void level_errors_keeps_status_400_and_up(void **state)
{
    (void)state;
    char err[256];
    md_telemetry_conf_t c = conf_for(MD_LOG_FILE, "/dev/null", 1, true);
    md_accesslog_t *log = md_accesslog_open(&c, 2, err, sizeof(err));
    assert_non_null(log);
    assert_false(md_accesslog_wants(log, 0, 200));
    assert_false(md_accesslog_wants(log, 1, 399));
    assert_true(md_accesslog_wants(log, 0, 400));
    assert_true(md_accesslog_wants(log, 1, 503));
    assert_false(md_accesslog_wants(log, 2, 503)); /* no such worker */
    assert_false(md_accesslog_wants(log, -1, 503));
    md_accesslog_close(log);
}

static void sampling_keeps_about_the_fraction(void **state)
{
    (void)state;
    char err[256];
    md_telemetry_conf_t c = conf_for(MD_LOG_FILE, "/dev/null", 0.25, false);
    md_accesslog_t *log = md_accesslog_open(&c, 1, err, sizeof(err));
    int kept = 0, n = 200000;
    for (int i = 0; i < n; i++)
        kept += md_accesslog_wants(log, 0, 200);
    /* 25% of 200000 is 50000; 6 standard deviations is about 1160. */
    assert_in_range(kept, 48800, 51200);
    md_accesslog_close(log);
    c.log_sample = 1.0;
    log = md_accesslog_open(&c, 1, err, sizeof(err));
    for (int i = 0; i < 1000; i++)
        assert_true(md_accesslog_wants(log, 0, 200));
    md_accesslog_close(log);
}

static size_t count_lines_and_check(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        assert_int_equal(line[len - 1], '\n');
        assert_json_object(line, len - 1);
        n++;
    }
    fclose(f);
    return n;
}

static void every_line_reaches_the_file(void **state)
{
    (void)state;
    char path[] = "/tmp/medley-accesslog-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    md_telemetry_conf_t c = conf_for(MD_LOG_FILE, path, 1, false);
    md_accesslog_t *log = md_accesslog_open(&c, 2, err, sizeof(err));
    assert_non_null(log);
    md_log_entry_t e = sample_entry();
    /* Enough for several hand-overs per worker, with flushes in between. */
    for (int i = 0; i < 3000; i++) {
        md_accesslog_write(log, i % 2, &e);
        if (i % 500 == 0)
            md_accesslog_flush(log, i % 2);
    }
    md_accesslog_close(log); /* writes what is still buffered */
    assert_int_equal(count_lines_and_check(path), 3000);
    unlink(path);
}

typedef struct reader {
    int fd;
    size_t lines;
} reader_t;

static void *read_all(void *arg)
{
    reader_t *r = arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(r->fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++)
            r->lines += buf[i] == '\n';
    return NULL;
}

/* A target that takes nothing (a pipe nobody reads) must not stop the
 * worker: lines beyond the buffer are dropped and counted, and every line
 * is either written or counted. */
static void stuck_target_drops_and_counts(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096);
    char path[64], err[256];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
    md_telemetry_conf_t c = conf_for(MD_LOG_FILE, path, 1, false);
    md_accesslog_t *log = md_accesslog_open(&c, 1, err, sizeof(err)); /* its own descriptor */
    assert_non_null(log);
    close(p[1]);
    md_log_entry_t e = sample_entry();
    size_t written = 0;
    while (md_accesslog_dropped(log) == 0 && written < 100000) {
        md_accesslog_write(log, 0, &e);
        written++;
    }
    assert_true(md_accesslog_dropped(log) > 0);
    for (int i = 0; i < 1000; i++, written++)
        md_accesslog_write(log, 0, &e);
    reader_t r = { p[0], 0 };
    pthread_t th;
    pthread_create(&th, NULL, read_all, &r);
    uint64_t dropped_before_close = md_accesslog_dropped(log);
    md_accesslog_close(log);
    pthread_join(th, NULL);
    close(p[0]);
    assert_true(r.lines > 0);
    assert_int_equal(r.lines + dropped_before_close, written);
}

static void failing_target_counts_lost_lines(void **state)
{
    (void)state;
    char err[256];
    md_telemetry_conf_t c = conf_for(MD_LOG_FILE, "/dev/full", 1, false);
    md_accesslog_t *log = md_accesslog_open(&c, 1, err, sizeof(err));
    assert_non_null(log);
    md_log_entry_t e = sample_entry();
    for (int i = 0; i < 10; i++)
        md_accesslog_write(log, 0, &e);
    md_accesslog_flush(log, 0);
    for (int i = 0; i < 500 && md_accesslog_dropped(log) < 10; i++)
        usleep(2000); /* the writer thread reports ENOSPC */
    assert_int_equal(md_accesslog_dropped(log), 10);
    md_accesslog_close(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_has_every_field_in_order),
        cmocka_unit_test(unmatched_request_has_null_endpoint_and_no_backends),
        cmocka_unit_test(cached_part_and_large_counts),
        cmocka_unit_test(times_are_rfc3339_utc_with_milliseconds),
        cmocka_unit_test(hostile_method_and_path_stay_valid_json),
        cmocka_unit_test(long_paths_are_cut),
        cmocka_unit_test(a_full_buffer_is_left_unchanged),
        cmocka_unit_test(unopenable_file_is_an_error),
        cmocka_unit_test(level_errors_keeps_status_400_and_up),
        cmocka_unit_test(sampling_keeps_about_the_fraction),
        cmocka_unit_test(every_line_reaches_the_file),
        cmocka_unit_test(stuck_target_drops_and_counts),
        cmocka_unit_test(failing_target_counts_lost_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
