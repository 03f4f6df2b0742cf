/*
 * redistest.h - what the Redis tests (the client's commands, scripts and
 * shared rate limits) share: a real redis-server started on a free
 * loopback port (never 6379, killed with the test), raw blocking hiredis
 * commands to look at what the client did, and a loop runner that waits
 * for a condition with a bound. Include after testutil.h; `loop` is
 * defined here and created by the including file.
 */
#ifndef MD_REDISTEST_H
#define MD_REDISTEST_H

#include "cache/redis.h"
#include "core/loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define RT_GUARD_MS 15000 /* no wait may take longer (valgrind included) */

static md_loop_t *loop;
static int main_port;    /* the group's redis-server (rt_group_setup) */
static pid_t main_pid;

static inline int rt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

/* A blocking connection, authenticated with password and on database db
 * when they are set (NULL, 0: neither); NULL if the server cannot be
 * reached. */
static inline redisContext *rt_raw_open(int port, const char *password, int db)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (password)
        freeReplyObject(redisCommand(c, "AUTH %s", password));
    if (db)
        freeReplyObject(redisCommand(c, "SELECT %d", db));
    return c;
}

static inline redisContext *rt_raw(int port)
{
    return rt_raw_open(port, NULL, 0);
}

/* redis-server in the foreground, killed with us if we die, requiring
 * `password` if not NULL; returns when it answers PING (NOAUTH counts). */
static inline pid_t rt_server_start_auth(int port, const char *password)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    const char *argv[32] = { "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--daemonize", "no", "--dir", "/tmp",
                             "--loglevel", "warning" };
    size_t n = 15;
    if (password) {
        argv[n++] = "--requirepass";
        argv[n++] = password;
    }
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execv("/usr/bin/redis-server", (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    for (int i = 0; i < 1000; i++) {
        redisContext *c = rt_raw(port);
        redisReply *rep = c ? redisCommand(c, "PING") : NULL;
        bool ok = rep != NULL;
        freeReplyObject(rep);
        if (c)
            redisFree(c);
        if (ok)
            return pid;
        usleep(10000);
    }
    fail_msg("redis-server on port %d did not start", port);
    return -1;
}

static inline pid_t rt_server_start(int port)
{
    return rt_server_start_auth(port, NULL);
}

/* SIGKILL ends a stopped process too, without letting it answer first. */
static inline void rt_server_kill(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* A raw command's reply (free it with freeReplyObject); fails the test
 * when the server cannot be reached. */
static inline redisReply *rt_cmd(int port, const char *fmt, ...)
{
    redisContext *c = rt_raw(port);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(rep);
    return rep;
}

/* A raw command answered with an integer; -1000 for anything else. */
static inline long long rt_int(int port, const char *fmt, ...)
{
    redisContext *c = rt_raw(port);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1000;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

/* calls=N of one command in INFO commandstats ("evalsha", "script|load"),
 * 0 when it has not run since the last CONFIG RESETSTAT. */
static inline long long rt_calls(int port, const char *cmd)
{
    redisReply *rep = rt_cmd(port, "INFO commandstats");
    char want[64];
    snprintf(want, sizeof(want), "cmdstat_%s:calls=", cmd);
    const char *p = rep->type == REDIS_REPLY_STRING ? strstr(rep->str, want) : NULL;
    long long v = p ? atoll(p + strlen(want)) : 0;
    freeReplyObject(rep);
    return v;
}

/* ---- the loop ---- */

typedef bool (*rt_cond_fn)(void *ctx);

typedef struct rt_waiter {
    rt_cond_fn cond;
    void *ctx;
    uint64_t until_ms;
    bool met;
    md_timer_t tick;
} rt_waiter_t;

static inline void rt_on_tick(md_timer_t *t)
{
    rt_waiter_t *w = t->data;
    if (w->cond && w->cond(w->ctx)) {
        w->met = true;
        md_loop_stop(loop);
    } else if (md_now_us() / 1000 >= w->until_ms) {
        md_loop_stop(loop);
    } else {
        md_timer_start(loop, t, 2);
    }
}

/* Runs the loop until cond holds (true) or max_ms pass (false). */
static inline bool rt_wait(rt_cond_fn cond, void *ctx, uint64_t max_ms)
{
    rt_waiter_t w = { cond, ctx, md_now_us() / 1000 + max_ms, false, { 0 } };
    md_timer_init(&w.tick, rt_on_tick, &w);
    md_loop_update_time(loop);
    md_timer_start(loop, &w.tick, 0);
    md_loop_run(loop);
    md_timer_stop(loop, &w.tick);
    return w.met;
}

static inline void rt_run_for(uint64_t ms)
{
    rt_wait(NULL, NULL, ms);
}

static inline bool rt_client_up(void *arg)
{
    return md_redis_up(arg);
}

static inline md_cache_global_conf_t rt_conf(int port)
{
    md_cache_global_conf_t c;
    memset(&c, 0, sizeof(c));
    c.store = MD_CACHE_STORE_REDIS;
    c.redis_host = "127.0.0.1";
    c.redis_port = (uint16_t)port;
    c.redis_timeout_ms = 3000; /* generous: valgrind */
    c.redis_prefix = "medley:";
    return c;
}

/* A client on conf's server, connected. */
static inline md_redis_t *rt_client(const md_cache_global_conf_t *conf)
{
    md_redis_t *r = md_redis_new(loop, conf);
    assert_non_null(r);
    assert_true(rt_wait(rt_client_up, r, RT_GUARD_MS));
    return r;
}

/* ---- the group: one loop and one redis-server for every test ---- */

static inline int rt_group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* hiredis writes with write(2) */
    loop = md_loop_new();
    main_port = rt_free_port();
    main_pid = rt_server_start(main_port);
    return loop ? 0 : -1;
}

static inline int rt_group_teardown(void **state)
{
    (void)state;
    rt_server_kill(main_pid);
    md_loop_free(loop);
    return 0;
}

#endif
