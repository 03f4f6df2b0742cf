/*
 * accesslog.c - the access log's line format, per-worker buffers and
 * writer thread (contract in accesslog.h).
 *
 * Hand-over between a worker and the writer is one flag per worker: the
 * worker owns `buf`; when `full` is false it may swap `buf` with the empty
 * `pending` and set `full` (release); the writer writes `pending`, empties
 * it and clears `full` (release). Neither side waits for the other: a
 * worker that finds `full` still set just keeps buffering. The only lock
 * guards the writer's wake-up flag and is taken once per batch.
 */
#include "telemetry/accesslog.h"

#include "core/alloc.h"
#include "json/write.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHE_LINE 64
#define WRITE_WAIT_MS 1000      /* a non-blocking target that is full: wait this long per try */

typedef struct lw {
    _Alignas(CACHE_LINE) md_buf_t buf; /* worker's lines */
    uint64_t lines;                    /* in buf */
    uint64_t rng;                      /* xorshift state for sampling */
    atomic_uint_least64_t dropped;     /* written by the worker only */
    _Alignas(CACHE_LINE) atomic_bool full; /* pending holds a batch for the writer */
    md_buf_t pending;
    uint64_t pending_lines;
} lw_t;

struct md_accesslog {
    int fd;
    bool own_fd;
    bool errors_only;
    bool sample_all;
    uint32_t sample_below;     /* log when a 32-bit random draw is below this */
    int nworkers;
    void *mem;
    lw_t *w;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool wake, stop;
    atomic_uint_least64_t write_dropped; /* lines lost to write errors (writer thread) */
    bool write_error_told;
};

/* ---- the line ---- */


static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

/* Microseconds as milliseconds with three decimals: 4012 -> "4.012". */
static char *put_ms(char *p, uint64_t us)
{
    p = md_put_u64(p, us / 1000);
    *p++ = '.';
    return put_digits(p, (unsigned)(us % 1000), 3);
}

/* Days since 1970-01-01 to a proleptic Gregorian date, by counting whole
 * 400-year eras (146097 days) from 0000-03-01 so that leap days fall last
 * in each year. Pure arithmetic: gmtime_r would take glibc's tz lock. */
static void civil_date(int64_t days, int64_t *y, unsigned *mon, unsigned *mday)
{
    days += 719468; /* 0000-03-01 to 1970-01-01 */
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);                     /* day of era */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* year of era */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* day of year, from March */
    unsigned mp = (5 * doy + 2) / 153;                                  /* month, March = 0 */
    *mday = doy - (153 * mp + 2) / 5 + 1;
    *mon = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*mon <= 2);
}

/* RFC 3339 UTC with milliseconds: 2023-11-14T22:13:20.123Z (24 bytes). */
static char *put_time(char *p, uint64_t wall_us)
{
    uint64_t secs = wall_us / 1000000;
    int64_t y;
    unsigned mon, mday, sod = (unsigned)(secs % 86400);
    civil_date((int64_t)(secs / 86400), &y, &mon, &mday);
    p = put_digits(p, (unsigned)(y % 10000), 4);
    *p++ = '-';
    p = put_digits(p, mon, 2);
    *p++ = '-';
    p = put_digits(p, mday, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(wall_us / 1000 % 1000), 3);
    *p++ = 'Z';
    return p;
}

static int put_lit(md_buf_t *b, const char *s)
{
    return md_buf_append(b, s, strlen(s));
}

static int put_status(md_buf_t *b, int status)
{
    char tmp[24];
    if (status <= 0)
        return md_buf_append(b, "null", 4);
    return md_buf_append(b, tmp, (size_t)(md_put_u64(tmp, (uint64_t)status) - tmp));
}

/* ,"bytes_in":N,"bytes_out":N */
static int put_bytes(md_buf_t *b, uint64_t in, uint64_t out)
{
    char tmp[80];
    memcpy(tmp, ",\"bytes_in\":", 12);
    char *p = md_put_u64(tmp + 12, in);
    memcpy(p, ",\"bytes_out\":", 13);
    p = md_put_u64(p + 13, out);
    return md_buf_append(b, tmp, (size_t)(p - tmp));
}

static int format_call(md_buf_t *b, const md_log_call_t *k)
{
    char tmp[48];
    int rc = md_buf_append(b, "{\"name\":", 8);
    if (rc == MD_OK)
        rc = md_buf_append(b, k->name_json.ptr, k->name_json.len);
    if (rc == MD_OK)
        rc = md_buf_append(b, ",\"status\":", 10);
    if (rc == MD_OK)
        rc = put_status(b, k->status);
    if (rc == MD_OK)
        rc = put_lit(b, ",\"outcome\":\"");
    if (rc == MD_OK)
        rc = put_lit(b, k->outcome);
    if (rc == MD_OK)
        rc = put_lit(b, "\",\"duration_ms\":");
    if (rc == MD_OK)
        rc = md_buf_append(b, tmp, (size_t)(put_ms(tmp, k->duration_us) - tmp));
    if (rc == MD_OK)
        rc = put_bytes(b, k->bytes_in, k->bytes_out);
    if (rc == MD_OK && k->cache) {
        rc = put_lit(b, ",\"cache\":\"");
        if (rc == MD_OK)
            rc = put_lit(b, k->cache);
        if (rc == MD_OK)
            rc = md_buf_append_char(b, '"');
    }
    if (rc == MD_OK)
        rc = md_buf_append_char(b, '}');
    return rc;
}

/* key then an id as a JSON string (at most n bytes of it), or null. */
static int put_id(md_buf_t *b, const char *key, const char *id, size_t n)
{
    int rc = put_lit(b, key);
    if (rc != MD_OK)
        return rc;
    return id ? md_json_write_string(b, id, strnlen(id, n)) : md_buf_append(b, "null", 4);
}

/* "time" through "span_id": the fixed-size fields and the two strings that
 * come from the client (method, path), escaped by the JSON writer; and the
 * trace ids. */
static int format_head(md_buf_t *b, const md_log_entry_t *e)
{
    char tmp[96];
    char *p = put_time(tmp, e->wall_us);
    int rc = put_lit(b, "{\"time\":\"");
    if (rc == MD_OK)
        rc = md_buf_append(b, tmp, (size_t)(p - tmp));
    if (rc == MD_OK)
        rc = put_lit(b, "\",\"method\":");
    if (rc == MD_OK)
        rc = md_json_write_string(b, e->method.ptr, MD_MIN(e->method.len, 32));
    if (rc == MD_OK)
        rc = put_lit(b, ",\"path\":");
    if (rc == MD_OK)
        rc = md_json_write_string(b, e->path.ptr, MD_MIN(e->path.len, MD_LOG_PATH_MAX));
    if (rc == MD_OK)
        rc = put_lit(b, ",\"status\":");
    if (rc == MD_OK)
        rc = put_status(b, e->status);
    p = md_put_u64(tmp, e->bytes);
    memcpy(p, ",\"duration_ms\":", 15);
    p = put_ms(p + 15, e->duration_us);
    if (rc == MD_OK)
        rc = put_lit(b, ",\"bytes\":");
    if (rc == MD_OK)
        rc = md_buf_append(b, tmp, (size_t)(p - tmp));
    if (rc == MD_OK)
        rc = put_lit(b, ",\"client\":");
    if (rc == MD_OK)
        rc = md_json_write_string(b, e->client ? e->client : "", e->client ? strlen(e->client) : 0);
    if (rc == MD_OK)
        rc = put_id(b, ",\"trace_id\":", e->trace_id, 32);
    if (rc == MD_OK)
        rc = put_id(b, ",\"span_id\":", e->span_id, 16);
    return rc;
}

/* ,"reject":"reason" for a request the server refused itself. */
static int put_reject(md_buf_t *b, const char *reason)
{
    int rc = put_lit(b, ",\"reject\":");
    return rc == MD_OK ? md_json_write_string(b, reason, strnlen(reason, 64)) : rc;
}

int md_accesslog_format(md_buf_t *out, const md_log_entry_t *e)
{
    size_t start = out->len;
    int rc = format_head(out, e);
    if (rc == MD_OK)
        rc = put_lit(out, ",\"endpoint\":");
    if (rc == MD_OK)
        rc = e->endpoint_json.len ? md_buf_append(out, e->endpoint_json.ptr, e->endpoint_json.len)
                                  : md_buf_append(out, "null", 4);
    if (rc == MD_OK && e->auth.len)
        rc = put_lit(out, ",\"auth\":");
    if (rc == MD_OK && e->auth.len)
        rc = md_json_write_string(out, e->auth.ptr, MD_MIN(e->auth.len, 256));
    if (rc == MD_OK && e->reject)
        rc = put_reject(out, e->reject);
    if (rc == MD_OK)
        rc = put_lit(out, ",\"backends\":[");
    for (size_t i = 0; i < e->ncalls && rc == MD_OK; i++) {
        if (i)
            rc = md_buf_append_char(out, ',');
        if (rc == MD_OK)
            rc = format_call(out, &e->calls[i]);
    }
    if (rc == MD_OK)
        rc = put_lit(out, e->incomplete ? "],\"incomplete\":true}\n" : "],\"incomplete\":false}\n");
    if (rc != MD_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

/* ---- the writer ---- */

/* Writes all of data, waiting out a full non-blocking target a bounded
 * number of times. MD_OK or MD_ERR (errno set). */
static int write_all(int fd, const char *data, size_t len)
{
    int waits = 0;
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && waits++ < 5) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            poll(&pfd, 1, WRITE_WAIT_MS);
            continue;
        }
        if (n == 0)
            errno = EIO;
        return MD_ERR;
    }
    return MD_OK;
}

static void write_batch(md_accesslog_t *log, md_buf_t *b, uint64_t lines)
{
    if (b->len == 0)
        return;
    if (write_all(log->fd, b->data, b->len) != MD_OK) {
        atomic_fetch_add(&log->write_dropped, lines);
        if (!log->write_error_told) {
            log->write_error_told = true;
            fprintf(stderr, "medley: access log: write failed: %s (lines are dropped and counted)\n",
                    strerror(errno));
        }
    }
    md_buf_reset(b);
}

static void write_pending(md_accesslog_t *log)
{
    for (int i = 0; i < log->nworkers; i++) {
        lw_t *w = &log->w[i];
        if (!atomic_load_explicit(&w->full, memory_order_acquire))
            continue;
        write_batch(log, &w->pending, w->pending_lines);
        w->pending_lines = 0;
        atomic_store_explicit(&w->full, false, memory_order_release);
    }
}

static void *writer_main(void *arg)
{
    md_accesslog_t *log = arg;
    for (;;) {
        pthread_mutex_lock(&log->mu);
        while (!log->wake && !log->stop)
            pthread_cond_wait(&log->cv, &log->mu);
        bool stop = log->stop;
        log->wake = false;
        pthread_mutex_unlock(&log->mu);
        write_pending(log);
        if (stop)
            return NULL;
    }
}

/* ---- open / close ---- */

static int open_target(md_accesslog_t *log, const md_telemetry_conf_t *conf, char *err, size_t errlen)
{
    switch (conf->log_target) {
    case MD_LOG_STDOUT:
        log->fd = STDOUT_FILENO;
        return MD_OK;
    case MD_LOG_STDERR:
        log->fd = STDERR_FILENO;
        return MD_OK;
    case MD_LOG_FILE:
        log->fd = conf->log_path ? open(conf->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
        if (log->fd < 0) {
            md_seterr(err, errlen, "access_log: cannot open %s: %s", conf->log_path ? conf->log_path : "(none)",
                      strerror(conf->log_path ? errno : EINVAL));
            return MD_ERR;
        }
        log->own_fd = true;
        return MD_OK;
    default:
        md_seterr(err, errlen, "access_log: it is off");
        return MD_EINVAL;
    }
}

static void set_sampling(md_accesslog_t *log, double sample)
{
    log->sample_all = sample >= 1.0;
    double v = sample <= 0 ? 0 : sample * 4294967296.0;
    log->sample_below = v >= 4294967295.0 ? UINT32_MAX : (uint32_t)v;
}

md_accesslog_t *md_accesslog_open(const md_telemetry_conf_t *conf, int nworkers, char *err, size_t errlen)
{
    md_accesslog_t *log = md_calloc(1, sizeof(*log));
    log->fd = -1;
    if (open_target(log, conf, err, errlen) != MD_OK) {
        md_free(log);
        return NULL;
    }
    log->errors_only = conf->log_errors_only;
    set_sampling(log, conf->log_sample);
    log->nworkers = nworkers > 0 ? nworkers : 1;
    log->mem = md_calloc((size_t)log->nworkers * sizeof(lw_t) + CACHE_LINE, 1);
    log->w = (lw_t *)(((uintptr_t)log->mem + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1));
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    for (int i = 0; i < log->nworkers; i++) {
        lw_t *w = &log->w[i];
        md_buf_init(&w->buf, MD_LOG_BUF_MAX);
        md_buf_init(&w->pending, MD_LOG_BUF_MAX);
        atomic_init(&w->full, false);
        atomic_init(&w->dropped, 0);
        w->rng = (seed + 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)) | 1;
    }
    atomic_init(&log->write_dropped, 0);
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->cv, NULL);
    int rc = pthread_create(&log->thread, NULL, writer_main, log);
    if (rc != 0) {
        md_seterr(err, errlen, "access_log: cannot start the writer thread: %s", strerror(rc));
        md_accesslog_close(log);
        return NULL;
    }
    log->thread_started = true;
    return log;
}

void md_accesslog_close(md_accesslog_t *log)
{
    if (!log)
        return;
    if (log->thread_started) {
        pthread_mutex_lock(&log->mu);
        log->stop = true;
        pthread_cond_signal(&log->cv);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->thread, NULL);
    }
    /* The workers are gone: what they still hold goes out from here, in
     * order (the handed-over batch first). */
    for (int i = 0; i < log->nworkers; i++) {
        lw_t *w = &log->w[i];
        if (atomic_load(&w->full))
            write_batch(log, &w->pending, w->pending_lines);
        write_batch(log, &w->buf, w->lines);
        md_buf_free(&w->buf);
        md_buf_free(&w->pending);
    }
    pthread_mutex_destroy(&log->mu);
    pthread_cond_destroy(&log->cv);
    if (log->own_fd)
        close(log->fd);
    md_free(log->mem);
    md_free(log);
}

/* ---- the worker side ---- */

static uint32_t draw(lw_t *w)
{
    return md_xorshift32(&w->rng);
}

bool md_accesslog_wants(md_accesslog_t *log, int worker, int status)
{
    if (!log || worker < 0 || worker >= log->nworkers)
        return false;
    if (log->errors_only && status < 400)
        return false;
    return log->sample_all || draw(&log->w[worker]) < log->sample_below;
}

static void hand_over(md_accesslog_t *log, lw_t *w)
{
    if (w->buf.len == 0 || atomic_load_explicit(&w->full, memory_order_acquire))
        return; /* the writer still has the last batch: keep buffering */
    md_buf_t t = w->pending;
    w->pending = w->buf;
    w->buf = t;
    w->pending_lines = w->lines;
    w->lines = 0;
    atomic_store_explicit(&w->full, true, memory_order_release);
    pthread_mutex_lock(&log->mu);
    log->wake = true;
    pthread_cond_signal(&log->cv);
    pthread_mutex_unlock(&log->mu);
}

void md_accesslog_write(md_accesslog_t *log, int worker, const md_log_entry_t *e)
{
    if (!log || worker < 0 || worker >= log->nworkers)
        return;
    lw_t *w = &log->w[worker];
    if (md_accesslog_format(&w->buf, e) != MD_OK) {
        atomic_store_explicit(&w->dropped, atomic_load_explicit(&w->dropped, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        return;
    }
    w->lines++;
    if (w->buf.len >= MD_LOG_FLUSH_BYTES)
        hand_over(log, w);
}

void md_accesslog_flush(md_accesslog_t *log, int worker)
{
    if (log && worker >= 0 && worker < log->nworkers)
        hand_over(log, &log->w[worker]);
}

uint64_t md_accesslog_dropped(const md_accesslog_t *log)
{
    if (!log)
        return 0;
    uint64_t n = atomic_load(&log->write_dropped);
    for (int i = 0; i < log->nworkers; i++)
        n += atomic_load_explicit(&log->w[i].dropped, memory_order_relaxed);
    return n;
}
