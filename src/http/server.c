/*
 * server.c - the HTTP/1.1 server's process-level parts: binding the
 * listeners, the worker threads and their loops, accepting connections, the
 * cached Date header and graceful shutdown. Connections themselves live in
 * server_conn.c and responses in server_respond.c (server_internal.h says
 * how the three fit together).
 *
 * Every worker owns one SO_REUSEPORT listening socket, so the kernel spreads
 * new connections over the workers and nothing is shared per request. All
 * sockets are bound in md_server_new(): a busy port is reported there, before
 * any thread starts. Because SO_REUSEPORT would happily share a port with
 * another process of the same user that also set it, a probe socket without
 * SO_REUSEPORT is bound first: it fails with EADDRINUSE if anything at all
 * holds the port.
 *
 * Shutdown (md_server_shutdown, any thread) posts to every loop. A worker
 * then closes its listener and its idle connections, lets requests in flight
 * finish (their responses say Connection: close), and after
 * shutdown_timeout force-closes the rest (the application gets on_abort)
 * and waits a short grace period for it to finish those requests. The loop
 * stops as soon as no connection is left.
 */
#include "http/server_internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void md_srv_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "medley: http: %s\n", line);
}

/* ---- Date header ---- */

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* IMF-fixdate, formatted by hand: strftime's names follow the locale. */
const char *md_srv_date(md_worker_t *w)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t now = time(NULL);
    if (now == w->date_sec)
        return w->date;
    struct tm tm;
    gmtime_r(&now, &tm);
    char *p = w->date;
    memcpy(p, days + 3 * tm.tm_wday, 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, months + 3 * tm.tm_mon, 3);
    p += 3;
    *p++ = ' ';
    int year = (tm.tm_year + 1900) % 10000;
    p = put2(p, year / 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, tm.tm_hour);
    *p++ = ':';
    p = put2(p, tm.tm_min);
    *p++ = ':';
    p = put2(p, tm.tm_sec);
    memcpy(p, " GMT", 5);
    w->date_sec = now;
    return w->date;
}

/* ---- limits ---- */

/* Zero means "default" so a caller (or a test) can set only what it needs;
 * the values match the defaults documented in config.h. */
static void limits_fill_defaults(md_limits_t *l)
{
    if (!l->max_header_bytes)
        l->max_header_bytes = 16 * 1024;
    if (!l->max_headers)
        l->max_headers = 64;
    if (!l->max_body_bytes)
        l->max_body_bytes = 1024 * 1024;
    if (!l->header_timeout_ms)
        l->header_timeout_ms = 10000;
    if (!l->body_timeout_ms)
        l->body_timeout_ms = 30000;
    if (!l->idle_timeout_ms)
        l->idle_timeout_ms = 60000;
    if (!l->max_connections)
        l->max_connections = 4096;
    if (!l->max_inflight)
        l->max_inflight = 1024;
    if (!l->shutdown_timeout_ms)
        l->shutdown_timeout_ms = 10000;
    if (!l->max_pipelined)
        l->max_pipelined = 16;
}

/* ---- listeners ---- */

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

/* Accepts "1.2.3.4", "::1", "[::1]", names; NULL or "" mean 0.0.0.0. */
static int resolve_host(const char *host, struct sockaddr_storage *ss, socklen_t *len,
                        char *name, size_t namelen, char *err, size_t errlen)
{
    if (!host || !*host)
        host = "0.0.0.0";
    size_t n = strlen(host);
    if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n >= namelen) {
        snprintf(err, errlen, "listen: host name too long");
        return MD_EINVAL;
    }
    memcpy(name, host, n);
    name[n] = '\0';
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "listen %s: %s", name, gai_strerror(rc));
        return MD_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return MD_OK;
}

static void format_addr(md_server_t *srv, const char *name, int family, uint16_t port)
{
    snprintf(srv->addr_text, sizeof(srv->addr_text), family == AF_INET6 ? "[%s]:%u" : "%s:%u",
             name, (unsigned)port);
}

/* Returns a bound socket (listening unless `probe`) or -1 with err set. */
static int bind_socket(const md_server_t *srv, const struct sockaddr_storage *ss, socklen_t len,
                       bool probe, char *err, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listen %s: %s", srv->addr_text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)ss, len) < 0)
        goto fail;
    if (!probe && listen(fd, SOMAXCONN) < 0)
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "listen %s: %s", srv->addr_text, strerror(errno));
    close(fd);
    return -1;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int bind_all(md_server_t *srv, const char *host, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char name[64];
    if (resolve_host(host, &ss, &len, name, sizeof(name), err, errlen) != MD_OK)
        return MD_ERR;
    set_port(&ss, port);
    format_addr(srv, name, ss.ss_family, port);
    if (port != 0) {
        int probe = bind_socket(srv, &ss, len, true, err, errlen);
        if (probe < 0)
            return MD_ERR;
        close(probe);
    }
    for (int i = 0; i < srv->nworkers; i++) {
        int fd = bind_socket(srv, &ss, len, false, err, errlen);
        if (fd < 0)
            return MD_ERR;
        srv->workers[i].lfd = fd;
        if (i == 0 && port == 0) {
            /* The kernel picked a port: the other workers must share it. */
            port = bound_port(fd);
            set_port(&ss, port);
            format_addr(srv, name, ss.ss_family, port);
        }
    }
    srv->port = port;
    return MD_OK;
}

/* ---- accept ---- */

static void on_accept(md_io_t *io, unsigned events)
{
    MD_UNUSED(events);
    md_worker_t *w = io->data;
    for (int i = 0; i < MD_SRV_ACCEPT_BATCH && w->listening; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(w->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            /* Out of descriptors or memory: level-triggered readiness would
             * spin, so stop listening briefly and let connections close. */
            md_srv_log("worker %d: accept: %s", w->index, strerror(errno));
            md_io_set(&w->lio, 0);
            md_timer_start(w->loop, &w->accept_timer, MD_SRV_ACCEPT_PAUSE_MS);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (plen > sizeof(peer))
            peer.ss_family = AF_UNSPEC;
        md_srv_conn_accept(w, fd, &peer);
    }
}

static void on_accept_timer(md_timer_t *t)
{
    md_worker_t *w = t->data;
    if (w->listening)
        md_io_set(&w->lio, MD_IO_READ);
}

/* ---- shutdown (worker thread) ---- */

void md_srv_worker_check_done(md_worker_t *w)
{
    if (w->shutting_down && w->nconns == 0) {
        md_timer_stop(w->loop, &w->shutdown_timer);
        md_loop_stop(w->loop);
    }
}

static void close_listener(md_worker_t *w)
{
    if (w->listening) {
        md_io_stop(&w->lio);
        w->listening = false;
    }
    if (w->lfd >= 0) {
        close(w->lfd);
        w->lfd = -1;
    }
    md_timer_stop(w->loop, &w->accept_timer);
}

static void on_shutdown_timer(md_timer_t *t)
{
    md_worker_t *w = t->data;
    if (w->force_closed) {
        md_srv_log("worker %d: %u request(s) not finished after shutdown", w->index,
                   (unsigned)w->ninflight);
        md_loop_stop(w->loop);
        return;
    }
    w->force_closed = true;
    md_srv_conn_t *next;
    for (md_srv_conn_t *c = w->conns; c; c = next) {
        next = c->next;
        md_srv_conn_enter(c);
        md_srv_conn_close(c, false);
        md_srv_conn_leave(c);
    }
    md_timer_start(w->loop, &w->shutdown_timer, MD_SRV_FORCE_GRACE_MS);
    md_srv_worker_check_done(w);
}

static void worker_shutdown(void *arg)
{
    md_worker_t *w = arg;
    if (!w->started || w->shutting_down)
        return;
    w->shutting_down = true;
    close_listener(w);
    md_srv_conn_t *next;
    for (md_srv_conn_t *c = w->conns; c; c = next) {
        next = c->next;
        md_srv_conn_shutdown_idle(c);
    }
    md_timer_start(w->loop, &w->shutdown_timer, w->srv->limits.shutdown_timeout_ms);
    md_srv_worker_check_done(w);
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
    md_worker_t *w = arg;
    md_server_t *srv = w->srv;
    bool inited = true;
    if (srv->hooks.worker_init) {
        int rc = srv->hooks.worker_init(w, srv->hooks.app, &w->data);
        if (rc != MD_OK) {
            md_srv_log("worker %d: worker_init failed: %s", w->index, md_strerror(rc));
            inited = false;
            atomic_store(&srv->init_failed, true);
            md_server_shutdown(srv);
        }
    }
    if (md_io_start(w->loop, &w->lio, w->lfd, MD_IO_READ, on_accept, w) == MD_OK) {
        w->listening = true;
        atomic_fetch_add(&srv->nserving, 1);
    } else {
        md_srv_log("worker %d: cannot watch the listener: %s", w->index, strerror(errno));
        atomic_store(&srv->init_failed, true);
        md_server_shutdown(srv);
    }
    w->started = true;
    md_loop_run(w->loop);

    close_listener(w);
    md_timer_stop(w->loop, &w->shutdown_timer);
    if (inited && srv->hooks.worker_fini)
        srv->hooks.worker_fini(w, srv->hooks.app, w->data);
    /* Whatever the application still holds after its fini is abandoned. */
    while (w->conns)
        md_srv_conn_destroy(w->conns);
    md_srv_conn_cache_free(w);
    return NULL;
}

md_server_t *md_server_new(const char *host, uint16_t port, int workers,
                           const md_limits_t *limits, const md_server_hooks_t *hooks,
                           char *err, size_t errlen)
{
    if (!hooks || !hooks->handler) {
        snprintf(err, errlen, "server: no request handler");
        return NULL;
    }
    if (workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (int)n : 1;
    }
    if (workers > MD_SRV_MAX_WORKERS)
        workers = MD_SRV_MAX_WORKERS;

    md_server_t *srv = md_calloc(1, sizeof(*srv));
    if (limits)
        srv->limits = *limits;
    limits_fill_defaults(&srv->limits);
    srv->hooks = *hooks;
    srv->nworkers = workers;
    atomic_init(&srv->shutdown_requested, false);
    atomic_init(&srv->init_failed, false);
    atomic_init(&srv->nserving, 0);
    srv->workers = md_calloc((size_t)workers, sizeof(md_worker_t));
    for (int i = 0; i < workers; i++) {
        md_worker_t *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        w->lfd = -1;
        md_timer_init(&w->accept_timer, on_accept_timer, w);
        md_timer_init(&w->shutdown_timer, on_shutdown_timer, w);
    }
    if (bind_all(srv, host, port, err, errlen) != MD_OK) {
        md_server_free(srv);
        return NULL;
    }
    for (int i = 0; i < workers; i++) {
        srv->workers[i].loop = md_loop_new();
        if (!srv->workers[i].loop) {
            snprintf(err, errlen, "server: cannot create event loop: %s", strerror(errno));
            md_server_free(srv);
            return NULL;
        }
    }
    return srv;
}

int md_server_run(md_server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++) {
        md_worker_t *w = &srv->workers[i];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            md_srv_log("cannot start worker %d: %s", i, strerror(rc));
            atomic_store(&srv->init_failed, true);
            md_server_shutdown(srv);
            break;
        }
        w->thread_started = true;
    }
    for (int i = 0; i < srv->nworkers; i++) {
        if (srv->workers[i].thread_started) {
            pthread_join(srv->workers[i].thread, NULL);
            srv->workers[i].thread_started = false;
        }
    }
    return atomic_load(&srv->init_failed) ? MD_ERR : MD_OK;
}

void md_server_shutdown(md_server_t *srv)
{
    if (atomic_exchange(&srv->shutdown_requested, true))
        return;
    for (int i = 0; i < srv->nworkers; i++)
        md_loop_post(srv->workers[i].loop, worker_shutdown, &srv->workers[i]);
}

void md_server_free(md_server_t *srv)
{
    if (!srv)
        return;
    for (int i = 0; i < srv->nworkers; i++) {
        md_worker_t *w = &srv->workers[i];
        if (w->lfd >= 0)
            close(w->lfd);
        w->lfd = -1;
        w->started = false; /* a pending shutdown post must not act now */
        md_loop_free(w->loop);
    }
    md_free(srv->workers);
    md_free(srv);
}

uint16_t md_server_port(const md_server_t *srv)
{
    return srv->port;
}

bool md_server_ready(const md_server_t *srv)
{
    return atomic_load(&srv->nserving) == srv->nworkers && !atomic_load(&srv->shutdown_requested) &&
           !atomic_load(&srv->init_failed);
}

bool md_server_draining(const md_server_t *srv)
{
    return atomic_load(&srv->shutdown_requested);
}

void md_server_get_stats(const md_server_t *srv, md_server_stats_t *st)
{
    st->connections_open = 0;
    st->requests_in_flight = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        const md_worker_t *w = &srv->workers[i];
        st->connections_open += atomic_load_explicit(&w->pub_conns, memory_order_relaxed);
        st->requests_in_flight += atomic_load_explicit(&w->pub_inflight, memory_order_relaxed);
    }
}

md_loop_t *md_worker_loop(md_worker_t *w)
{
    return w->loop;
}

void *md_worker_data(md_worker_t *w)
{
    return w->data;
}

int md_worker_index(md_worker_t *w)
{
    return w->index;
}
