/*
 * Unit tests for cache/redis: the client runs on a real md_loop_t against
 * real redis-server processes that the test starts itself on free loopback
 * ports (never 6379), plus a scripted fake server (a thread) for replies no
 * real Redis sends. Raw checks go through a separate blocking hiredis
 * connection. Waits are bounded by a guard and generous, so the suite also
 * passes under valgrind.
 */
#include "testutil.h"

#include "redistest.h"

#include "cache/redis.h"
#include "core/buf.h"
#include "core/loop.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define PASSWORD "s3cret pass"


/* ---- callbacks ---- */

typedef struct got {
    int calls;
    int status;
    char *val;
    size_t len;
    uint64_t n;
    md_redis_t *free_me;   /* md_redis_free() this from inside the callback */
} got_t;

static void got_reset(got_t *g)
{
    free(g->val);
    memset(g, 0, sizeof(*g));
}

static void on_get(void *arg, int status, const char *val, size_t len)
{
    got_t *g = arg;
    g->calls++;
    g->status = status;
    free(g->val);
    g->val = NULL;
    g->len = len;
    if (val) {
        g->val = malloc(len + 1);
        memcpy(g->val, val, len);
        g->val[len] = '\0';
    }
    if (g->free_me) {
        md_redis_free(g->free_me);
        g->free_me = NULL;
    }
}

static void on_count(void *arg, int status, uint64_t n)
{
    got_t *g = arg;
    g->calls++;
    g->status = status;
    g->n = n;
}

static bool got_called(void *arg)
{
    return ((got_t *)arg)->calls > 0;
}

static bool client_down(void *arg)
{
    return !md_redis_up(arg);
}

typedef struct connects_goal {
    md_redis_t *r;
    uint64_t n;
} connects_goal_t;

static bool connects_reached(void *arg)
{
    connects_goal_t *g = arg;
    md_redis_stats_t st;
    md_redis_get_stats(g->r, &st);
    return st.connects >= g->n;
}

/* GET through the client, waiting for the answer. */
static void get_sync(md_redis_t *r, const char *key, size_t keylen, got_t *g)
{
    got_reset(g);
    assert_non_null(md_redis_get(r, key, keylen, on_get, g));
    assert_true(rt_wait(got_called, g, RT_GUARD_MS));
    assert_int_equal(g->calls, 1);
}

static void purge_sync(md_redis_t *r, const char *pattern, size_t len, got_t *g)
{
    got_reset(g);
    assert_non_null(md_redis_purge(r, pattern, len, on_count, g));
    assert_true(rt_wait(got_called, g, RT_GUARD_MS));
    assert_int_equal(g->calls, 1);
}

/* ---- tests without a server ---- */

static void glob_escape_backslashes_metacharacters(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, 0);
    assert_int_equal(md_redis_glob_escape("a*b?c[d]e\\f", 11, &b), MD_OK);
    assert_string_equal(b.data, "a\\*b\\?c\\[d\\]e\\\\f");
    md_buf_reset(&b);
    assert_int_equal(md_redis_glob_escape("pl:ain-", 7, &b), MD_OK);
    assert_string_equal(b.data, "pl:ain-");
    md_buf_free(&b);

    md_buf_init(&b, 4);  /* "**" needs 4 bytes escaped, "***" needs 6 */
    assert_int_equal(md_redis_glob_escape("**", 2, &b), MD_OK);
    assert_int_equal(md_redis_glob_escape("*", 1, &b), MD_ETOOBIG);
    assert_int_equal(b.len, 4);  /* unchanged by the failed call */
    assert_int_equal(md_redis_glob_escape(NULL, 3, &b), MD_EINVAL);
    md_buf_free(&b);
}

static void null_handles_are_ignored(void **state)
{
    (void)state;
    md_redis_free(NULL);
    md_redis_cancel(NULL);
}

/* ---- against the main server ---- */

static void set_then_get_returns_the_value(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };

    assert_int_equal(md_redis_set(r, "greeting", 8, "hello world", 11, 60000), MD_OK);
    get_sync(r, "greeting", 8, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.len, 11);
    assert_memory_equal(g.val, "hello world", 11);

    static const char bkey[] = "bin\0key\r\n";
    static const char bval[] = "a\0b\xff\r\n$3\r\n\0";
    assert_int_equal(md_redis_set(r, bkey, sizeof(bkey) - 1, bval, sizeof(bval) - 1, 60000), MD_OK);
    get_sync(r, bkey, sizeof(bkey) - 1, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.len, sizeof(bval) - 1);
    assert_memory_equal(g.val, bval, sizeof(bval) - 1);

    /* bigger than one hiredis read (16 KB) and one socket buffer */
    size_t big = 3u << 20;
    char *v = malloc(big);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)(i * 7 + i / 4096);
    assert_int_equal(md_redis_set(r, "big", 3, v, big, 60000), MD_OK);
    get_sync(r, "big", 3, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.len, big);
    assert_memory_equal(g.val, v, big);
    free(v);

    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_true(st.up);
    assert_int_equal(st.connects, 1);
    assert_true(st.commands >= 7);  /* PING, 3 SET, 3 GET */
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.refused, 0);
    got_reset(&g);
    md_redis_free(r);
}

static void get_of_missing_key_is_not_found(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    get_sync(r, "no-such-key", 11, &g);
    assert_int_equal(g.status, MD_ENOTFOUND);
    assert_null(g.val);
    got_reset(&g);
    md_redis_free(r);
}

static void ttl_is_set_in_ms_and_expires(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };

    assert_int_equal(md_redis_set(r, "k", 1, "v", 1, 0), MD_EINVAL);
    assert_int_equal(md_redis_set(r, "ttl", 3, "short-lived", 11, 400), MD_OK);
    get_sync(r, "ttl", 3, &g);  /* also proves the SET was applied */
    long long pttl = rt_int(main_port, "PTTL medley:ttl");
    assert_true(pttl > 0 && pttl <= 400);
    rt_run_for(600);
    get_sync(r, "ttl", 3, &g);
    assert_int_equal(g.status, MD_ENOTFOUND);
    got_reset(&g);
    md_redis_free(r);
}

static void prefix_is_applied_to_every_key(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    conf.redis_prefix = "t:pfx:";
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };

    assert_int_equal(md_redis_set(r, "k\0 1", 4, "one", 3, 60000), MD_OK);
    get_sync(r, "k\0 1", 4, &g);
    redisContext *c = rt_raw_open(main_port, NULL, 0);
    redisReply *rep = redisCommand(c, "GET %b", "t:pfx:k\0 1", (size_t)10);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->len, 3);
    assert_memory_equal(rep->str, "one", 3);
    freeReplyObject(rep);
    rep = redisCommand(c, "EXISTS %b", "k\0 1", (size_t)4);  /* not stored unprefixed */
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);

    freeReplyObject(redisCommand(c, "SET t:pfx:k2 two"));
    freeReplyObject(redisCommand(c, "SET k2 unprefixed"));
    redisFree(c);
    get_sync(r, "k2", 2, &g);
    assert_int_equal(g.status, MD_OK);
    assert_string_equal(g.val, "two");
    got_reset(&g);
    md_redis_free(r);
}

static void non_string_reply_is_einval(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    assert_int_equal(rt_int(main_port, "RPUSH medley:a-list x"), 1);
    get_sync(r, "a-list", 6, &g);  /* WRONGTYPE error reply */
    assert_int_equal(g.status, MD_EINVAL);
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_int_equal(st.errors, 1);
    assert_true(st.up);  /* an error reply is not a broken connection */
    get_sync(r, "missing", 7, &g);
    assert_int_equal(g.status, MD_ENOTFOUND);
    got_reset(&g);
    md_redis_free(r);
}

static void oversized_keys_and_values_are_refused(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    char *key = malloc(8193);
    memset(key, 'k', 8193);
    assert_null(md_redis_get(r, key, 8193, on_get, &g));
    assert_int_equal(md_redis_set(r, key, 8193, "v", 1, 1000), MD_ETOOBIG);
    assert_null(md_redis_purge(r, key, 8193, on_count, &g));
    size_t over = (64u << 20) + 1;
    char *val = malloc(over);  /* never read: refused on its length */
    assert_int_equal(md_redis_set(r, "k", 1, val, over, 1000), MD_ETOOBIG);
    free(val);
    assert_null(md_redis_get(r, "k", 1, NULL, &g));  /* no callback, no call */

    get_sync(r, key, 8192, &g);  /* the limit itself is fine */
    assert_int_equal(g.status, MD_ENOTFOUND);
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_int_equal(st.refused, 0);  /* too big is not "down" */
    assert_int_equal(g.calls, 1);
    free(key);
    got_reset(&g);
    md_redis_free(r);
}

static void purge_removes_exactly_the_matching_keys(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    redisContext *c = rt_raw_open(main_port, NULL, 0);
    freeReplyObject(redisCommand(c, "FLUSHDB"));
    freeReplyObject(redisCommand(c, "SET page:1 unprefixed"));
    redisFree(c);

    char key[32];
    for (int i = 0; i < 1200; i++) {
        int n = snprintf(key, sizeof(key), "page:%d", i);
        assert_int_equal(md_redis_set(r, key, (size_t)n, "x", 1, 600000), MD_OK);
    }
    for (int i = 0; i < 50; i++) {
        int n = snprintf(key, sizeof(key), "other:%d", i);
        assert_int_equal(md_redis_set(r, key, (size_t)n, "y", 1, 600000), MD_OK);
    }
    get_sync(r, "page:0", 6, &g);  /* answered after every SET before it */
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(rt_int(main_port, "DBSIZE"), 1251);

    md_redis_stats_t before, after;
    md_redis_get_stats(r, &before);
    purge_sync(r, "page:*", 6, &g);
    md_redis_get_stats(r, &after);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 1200);
    /* COUNT 500 over 1,251 keys: at least 3 SCANs and 2 UNLINKs */
    assert_true(after.commands - before.commands >= 5);
    assert_int_equal(rt_int(main_port, "DBSIZE"), 51);
    assert_int_equal(rt_int(main_port, "EXISTS page:1"), 1);
    assert_int_equal(rt_int(main_port, "EXISTS medley:other:7"), 1);
    assert_int_equal(rt_int(main_port, "EXISTS medley:page:7"), 0);

    purge_sync(r, "nothing-matches-*", 17, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 0);
    got_reset(&g);
    md_redis_free(r);
}

static void purge_pattern_escaping_matches_literally(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    const char *keys[] = { "lit*eral", "litXeral", "l?t", "lat", "b[x]", "bx" };
    for (size_t i = 0; i < MD_ARRAY_LEN(keys); i++)
        assert_int_equal(md_redis_set(r, keys[i], strlen(keys[i]), "v", 1, 600000), MD_OK);
    get_sync(r, "lat", 3, &g);

    md_buf_t pat;
    md_buf_init(&pat, 256);
    const char *literal[] = { "lit*eral", "l?t", "b[x]" };
    for (size_t i = 0; i < MD_ARRAY_LEN(literal); i++) {
        md_buf_reset(&pat);
        assert_int_equal(md_redis_glob_escape(literal[i], strlen(literal[i]), &pat), MD_OK);
        purge_sync(r, pat.data, pat.len, &g);
        assert_int_equal(g.status, MD_OK);
        assert_int_equal(g.n, 1);
    }
    md_buf_free(&pat);
    assert_int_equal(rt_int(main_port, "EXISTS medley:lit*eral medley:l?t medley:b[x]"), 0);
    assert_int_equal(rt_int(main_port, "EXISTS medley:litXeral medley:lat medley:bx"), 3);

    purge_sync(r, "lit*", 4, &g);  /* unescaped, it is a glob */
    assert_int_equal(g.n, 1);
    assert_int_equal(rt_int(main_port, "EXISTS medley:litXeral"), 0);
    got_reset(&g);
    md_redis_free(r);
}

static void purge_escapes_the_prefix(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    conf.redis_prefix = "p[1]:";
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    assert_int_equal(md_redis_set(r, "k", 1, "v", 1, 600000), MD_OK);
    redisContext *c = rt_raw_open(main_port, NULL, 0);
    freeReplyObject(redisCommand(c, "SET p1:k other"));  /* matches an unescaped p[1]:k */
    redisFree(c);
    purge_sync(r, "k", 1, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(rt_int(main_port, "EXISTS p1:k"), 1);
    assert_int_equal(rt_int(main_port, "EXISTS p[1]:k"), 0);
    got_reset(&g);
    md_redis_free(r);
}

static void cancelled_calls_never_call_back(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t a = { 0 }, p = { 0 }, b = { 0 };
    md_redis_op_t *op = md_redis_get(r, "greeting", 8, on_get, &a);
    assert_non_null(op);
    md_redis_cancel(op);
    op = md_redis_purge(r, "cancel-me:*", 11, on_count, &p);
    assert_non_null(op);
    rt_run_for(0);  /* sent, not yet answered (or answered: both must be silent) */
    md_redis_cancel(op);
    get_sync(r, "missing", 7, &b);  /* answered after the cancelled ones */
    rt_run_for(100);
    assert_int_equal(a.calls, 0);
    assert_int_equal(p.calls, 0);
    assert_int_equal(b.status, MD_ENOTFOUND);
    got_reset(&b);
    md_redis_free(r);
}

static void free_with_pending_calls_runs_no_callback(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g[8];
    memset(g, 0, sizeof(g));
    for (int i = 0; i < 4; i++)
        assert_non_null(md_redis_get(r, "greeting", 8, on_get, &g[i]));
    assert_non_null(md_redis_purge(r, "*", 1, on_count, &g[4]));
    assert_int_equal(md_redis_set(r, "k", 1, "v", 1, 1000), MD_OK);
    md_redis_free(r);
    rt_run_for(200);
    for (int i = 0; i < 8; i++)
        assert_int_equal(g[i].calls, 0);
}

static void free_from_inside_a_callback(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g[4];
    memset(g, 0, sizeof(g));
    g[1].free_me = r;
    for (int i = 0; i < 4; i++)
        assert_non_null(md_redis_get(r, "missing", 7, on_get, &g[i]));
    assert_true(rt_wait(got_called, &g[1], RT_GUARD_MS));
    rt_run_for(100);
    assert_int_equal(g[0].calls, 1);
    assert_int_equal(g[1].calls, 1);
    assert_int_equal(g[2].calls, 0);  /* the client is gone: never called */
    assert_int_equal(g[3].calls, 0);
}

static void outstanding_ops_are_bounded(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    size_t n = 0;
    while (n < 70000 && md_redis_get(r, "missing", 7, on_get, &g))
        n++;
    assert_int_equal(n, 65536);
    assert_int_equal(md_redis_set(r, "k", 1, "v", 1, 1000), MD_ETOOBIG);
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_int_equal(st.refused, 2);
    assert_int_equal(g.calls, 0);  /* nothing runs inside md_redis_get */
    md_redis_free(r);
    rt_run_for(50);
    assert_int_equal(g.calls, 0);
}

/* ---- servers of their own ---- */

static void password_and_db_are_used(void **state)
{
    (void)state;
    int port = rt_free_port();
    pid_t pid = rt_server_start_auth(port, PASSWORD);
    md_cache_global_conf_t conf = rt_conf(port);
    conf.redis_password = PASSWORD;
    conf.redis_db = 3;
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    assert_int_equal(md_redis_set(r, "in-db3", 6, "three", 5, 60000), MD_OK);
    get_sync(r, "in-db3", 6, &g);
    assert_int_equal(g.status, MD_OK);

    redisContext *c = rt_raw_open(port, PASSWORD, 3);
    redisReply *rep = redisCommand(c, "GET medley:in-db3");
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "three");
    freeReplyObject(rep);
    freeReplyObject(redisCommand(c, "SELECT 0"));
    rep = redisCommand(c, "EXISTS medley:in-db3");
    assert_int_equal(rep->integer, 0);
    freeReplyObject(rep);
    redisFree(c);
    md_redis_free(r);

    md_cache_global_conf_t bad[2] = { conf, conf };
    bad[0].redis_password = "wrong";
    bad[1].redis_password = NULL;  /* PING answered with NOAUTH */
    for (int i = 0; i < 2; i++) {
        r = md_redis_new(loop, &bad[i]);
        connects_goal_t goal = { r, 3 };
        assert_true(rt_wait(connects_reached, &goal, RT_GUARD_MS));
        md_redis_stats_t st;
        md_redis_get_stats(r, &st);
        assert_false(st.up);
        assert_true(st.errors >= 2);
        got_reset(&g);
        assert_null(md_redis_get(r, "in-db3", 6, on_get, &g));
        assert_int_equal(md_redis_set(r, "x", 1, "y", 1, 1000), MD_ERR);
        md_redis_get_stats(r, &st);
        assert_int_equal(st.refused, 2);
        md_redis_free(r);
        assert_int_equal(g.calls, 0);
    }
    rt_server_kill(pid);
}

static void down_at_start_then_comes_up(void **state)
{
    (void)state;
    int port = rt_free_port();
    md_cache_global_conf_t conf = rt_conf(port);
    md_redis_t *r = md_redis_new(loop, &conf);
    got_t g = { 0 };
    assert_false(md_redis_up(r));
    assert_null(md_redis_get(r, "k", 1, on_get, &g));
    assert_null(md_redis_purge(r, "*", 1, on_count, &g));
    assert_int_equal(md_redis_set(r, "k", 1, "v", 1, 1000), MD_ERR);
    /* backoff 100, 200, 400 ms: the 4th attempt comes about 700 ms in */
    uint64_t t0 = md_now_us();
    connects_goal_t goal = { r, 4 };
    assert_true(rt_wait(connects_reached, &goal, RT_GUARD_MS));
    assert_true(md_now_us() - t0 >= 600000);
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_int_equal(st.refused, 3);
    assert_false(st.up);

    pid_t pid = rt_server_start(port);
    assert_true(rt_wait(rt_client_up, r, RT_GUARD_MS));  /* next attempt: at most 5 s away */
    get_sync(r, "k", 1, &g);
    assert_int_equal(g.status, MD_ENOTFOUND);
    got_reset(&g);
    md_redis_free(r);
    rt_server_kill(pid);
}

static void killed_server_fails_pending_once_then_recovers(void **state)
{
    (void)state;
    int port = rt_free_port();
    pid_t pid = rt_server_start(port);
    md_cache_global_conf_t conf = rt_conf(port);
    conf.redis_timeout_ms = 10000;  /* the reset must come first */
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 }, p = { 0 };
    kill(pid, SIGSTOP);  /* so the GET is sent and stays unanswered */
    assert_non_null(md_redis_get(r, "k", 1, on_get, &g));
    assert_non_null(md_redis_purge(r, "*", 1, on_count, &p));
    rt_run_for(100);
    assert_int_equal(g.calls, 0);
    rt_server_kill(pid);
    assert_true(rt_wait(got_called, &g, RT_GUARD_MS));
    rt_run_for(200);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.status, MD_ERESET);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.status, MD_ERESET);
    assert_int_equal(p.n, 0);
    assert_false(md_redis_up(r));
    assert_null(md_redis_get(r, "k", 1, on_get, &g));
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_int_equal(st.refused, 1);
    assert_true(st.errors >= 2);

    pid = rt_server_start(port);
    assert_true(rt_wait(rt_client_up, r, RT_GUARD_MS));
    assert_int_equal(md_redis_set(r, "k", 1, "back", 4, 60000), MD_OK);
    get_sync(r, "k", 1, &g);
    assert_int_equal(g.status, MD_OK);
    assert_string_equal(g.val, "back");
    md_redis_get_stats(r, &st);
    assert_true(st.connects >= 2);
    got_reset(&g);
    md_redis_free(r);
    rt_server_kill(pid);
}

static void slow_server_times_out_then_reconnects(void **state)
{
    (void)state;
    int port = rt_free_port();
    pid_t pid = rt_server_start(port);
    md_cache_global_conf_t conf = rt_conf(port);
    conf.redis_timeout_ms = 300;
    md_redis_t *r = rt_client(&conf);
    got_t g[3];
    memset(g, 0, sizeof(g));
    kill(pid, SIGSTOP);
    uint64_t t0 = md_now_us();
    for (int i = 0; i < 3; i++)
        assert_non_null(md_redis_get(r, "k", 1, on_get, &g[i]));
    md_redis_cancel(md_redis_get(r, "k", 1, on_get, &g[2]));  /* silent even now */
    assert_true(rt_wait(got_called, &g[0], RT_GUARD_MS));
    uint64_t waited_ms = (md_now_us() - t0) / 1000;
    assert_true(waited_ms >= 290);
    assert_true(waited_ms <= 300 + 2000);
    rt_run_for(300);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].status, MD_ETIMEDOUT);
    }
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_true(st.timeouts >= 1);
    assert_false(st.up);
    assert_null(md_redis_get(r, "k", 1, on_get, &g[0]));

    kill(pid, SIGCONT);
    assert_true(rt_wait(rt_client_up, r, RT_GUARD_MS));
    got_t h = { 0 };
    get_sync(r, "k", 1, &h);
    assert_int_equal(h.status, MD_ENOTFOUND);
    for (int i = 0; i < 3; i++)
        assert_int_equal(g[i].calls, 1);
    got_reset(&h);
    md_redis_free(r);
    rt_server_kill(pid);
}

/* ---- a scripted fake server for replies Redis never sends ---- */

typedef struct fake {
    int lfd;
    int port;
    const char *replies[4];  /* one per command read, then silence */
    size_t nreplies;
    atomic_bool stop;
    pthread_t thread;
} fake_t;

/* Announces a 100 MB bulk string and sends until the client hangs up. */
static void fake_flood(fake_t *f, int fd)
{
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    const char *head = "$100000000\r\n";
    if (write(fd, head, strlen(head)) < 0)
        return;
    for (size_t sent = 0; sent < 100000000 && !atomic_load(&f->stop);) {
        ssize_t n = write(fd, chunk, sizeof(chunk));
        if (n <= 0)
            return;
        sent += (size_t)n;
    }
}

static void fake_serve(fake_t *f, int fd)
{
    size_t next = 0;
    char buf[4096];
    while (!atomic_load(&f->stop)) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        if (next < f->nreplies) {
            const char *rep = f->replies[next++];
            if (strcmp(rep, "BIG") == 0) {
                fake_flood(f, fd);
                return;
            }
            if (write(fd, rep, strlen(rep)) < 0)
                return;
        }
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = { f->lfd, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        fake_serve(f, fd);
        close(fd);
    }
    return NULL;
}

static void fake_start(fake_t *f)
{
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    getsockname(f->lfd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    atomic_store(&f->stop, false);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(fake_t *f)
{
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    close(f->lfd);
}

static void unsolicited_reply_drops_the_connection(void **state)
{
    (void)state;
    fake_t f = { .replies = { "+PONG\r\n+SURPRISE\r\n" }, .nreplies = 1 };
    fake_start(&f);
    md_cache_global_conf_t conf = rt_conf(f.port);
    md_redis_t *r = md_redis_new(loop, &conf);
    connects_goal_t goal = { r, 3 };
    assert_true(rt_wait(connects_reached, &goal, RT_GUARD_MS));  /* no abort() */
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_true(st.errors >= 2);
    md_redis_free(r);
    fake_stop(&f);
}

static void nonsense_replies_are_errors(void **state)
{
    (void)state;
    fake_t f = { .replies = { "+PONG\r\n", ":5\r\n", "*200000\r\n" }, .nreplies = 3 };
    fake_start(&f);
    md_cache_global_conf_t conf = rt_conf(f.port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    get_sync(r, "k", 1, &g);  /* an integer */
    assert_int_equal(g.status, MD_EINVAL);
    assert_true(md_redis_up(r));
    get_sync(r, "k", 1, &g);  /* an array larger than any answer of ours */
    assert_int_equal(g.status, MD_EINVAL);
    assert_true(rt_wait(client_down, r, RT_GUARD_MS));
    got_reset(&g);
    md_redis_free(r);
    fake_stop(&f);

    fake_t h = { .replies = { "HTTP/1.1 400 Bad Request\r\n\r\n" }, .nreplies = 1 };
    fake_start(&h);
    conf = rt_conf(h.port);
    r = md_redis_new(loop, &conf);
    connects_goal_t goal = { r, 2 };
    assert_true(rt_wait(connects_reached, &goal, RT_GUARD_MS));
    assert_false(md_redis_up(r));
    md_redis_free(r);
    fake_stop(&h);
}

static void huge_bulk_reply_is_cut_off(void **state)
{
    (void)state;
    fake_t f = { .replies = { "+PONG\r\n", "BIG" }, .nreplies = 2 };
    fake_start(&f);
    md_cache_global_conf_t conf = rt_conf(f.port);
    conf.redis_timeout_ms = 60000;  /* the size limit must act, not the clock */
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    get_sync(r, "k", 1, &g);
    assert_int_equal(g.status, MD_ETOOBIG);
    assert_null(g.val);
    assert_false(md_redis_up(r));
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_true(st.errors >= 1);
    got_reset(&g);
    md_redis_free(r);
    fake_stop(&f);
}

static void handshake_that_never_answers_times_out(void **state)
{
    (void)state;
    fake_t f = { .nreplies = 0 };  /* accepts, reads, never answers */
    fake_start(&f);
    md_cache_global_conf_t conf = rt_conf(f.port);
    conf.redis_timeout_ms = 100;  /* connect deadline: 200 ms */
    md_redis_t *r = md_redis_new(loop, &conf);
    connects_goal_t goal = { r, 2 };
    assert_true(rt_wait(connects_reached, &goal, RT_GUARD_MS));
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_true(st.timeouts >= 1);
    assert_false(st.up);
    md_redis_free(r);
    fake_stop(&f);
}

/* ---- setup ---- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(glob_escape_backslashes_metacharacters),
        cmocka_unit_test(null_handles_are_ignored),
        cmocka_unit_test(set_then_get_returns_the_value),
        cmocka_unit_test(get_of_missing_key_is_not_found),
        cmocka_unit_test(ttl_is_set_in_ms_and_expires),
        cmocka_unit_test(prefix_is_applied_to_every_key),
        cmocka_unit_test(non_string_reply_is_einval),
        cmocka_unit_test(oversized_keys_and_values_are_refused),
        cmocka_unit_test(purge_removes_exactly_the_matching_keys),
        cmocka_unit_test(purge_pattern_escaping_matches_literally),
        cmocka_unit_test(purge_escapes_the_prefix),
        cmocka_unit_test(cancelled_calls_never_call_back),
        cmocka_unit_test(free_with_pending_calls_runs_no_callback),
        cmocka_unit_test(free_from_inside_a_callback),
        cmocka_unit_test(outstanding_ops_are_bounded),
        cmocka_unit_test(password_and_db_are_used),
        cmocka_unit_test(down_at_start_then_comes_up),
        cmocka_unit_test(killed_server_fails_pending_once_then_recovers),
        cmocka_unit_test(slow_server_times_out_then_reconnects),
        cmocka_unit_test(unsolicited_reply_drops_the_connection),
        cmocka_unit_test(nonsense_replies_are_errors),
        cmocka_unit_test(huge_bulk_reply_is_cut_off),
        cmocka_unit_test(handshake_that_never_answers_times_out),
    };
    return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
