/*
 * Unit tests for md_redis_eval (cache/redis.h) against real redis-server
 * processes on free loopback ports: integer-array answers, prefixed and
 * binary-safe keys, EVAL the first time on a connection and EVALSHA after
 * (counted by the server's own INFO commandstats), NOSCRIPT answered by
 * sending the text again, every malformed answer as MD_EINVAL, refusals,
 * cancellation, timeouts and a dying server.
 */
#include "testutil.h"

#include "redistest.h"


static const char S_LIST[] = "return { 1, -2, 3 }";
static const char S_SET[] = "redis.call('SET', KEYS[1], ARGV[1]) return { string.len(KEYS[1]), string.len(ARGV[1]) }";
static const char S_ADD[] = "return { tonumber(ARGV[1]) + tonumber(ARGV[2]) }";

typedef struct got {
    int calls;
    int status;
    int64_t v[MD_REDIS_EVAL_MAX_INTS];
    size_t n;
} got_t;

static void on_ints(void *arg, int status, const int64_t *v, size_t n)
{
    got_t *g = arg;
    g->calls++;
    g->status = status;
    g->n = n;
    assert_true(n <= MD_REDIS_EVAL_MAX_INTS);
    assert_true(status == MD_OK ? (n == 0 || v != NULL) : (v == NULL && n == 0));
    if (n)
        memcpy(g->v, v, n * sizeof(*v));
}

static bool got_called(void *arg)
{
    return ((got_t *)arg)->calls > 0;
}

static bool client_down(void *arg)
{
    return !md_redis_up(arg);
}

static md_str_t S(const char *s)
{
    return (md_str_t){ s, strlen(s) };
}

/* One eval, waited for. */
static void eval_sync(md_redis_t *r, const char *script, const md_str_t *keys, size_t nkeys, const md_str_t *args,
                      size_t nargs, got_t *g)
{
    memset(g, 0, sizeof(*g));
    assert_non_null(md_redis_eval(r, script, keys, nkeys, args, nargs, on_ints, g));
    assert_true(rt_wait(got_called, g, RT_GUARD_MS));
    assert_int_equal(g->calls, 1);
}

/* ADD a b, expecting a + b. */
static void add_sync(md_redis_t *r, const char *a, const char *b, int64_t sum)
{
    md_str_t args[2] = { S(a), S(b) };
    got_t g;
    eval_sync(r, S_ADD, NULL, 0, args, 2, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.v[0], sum);
}

/* ---- answers ---- */

static void integer_arrays_come_back_whole(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g;
    eval_sync(r, S_LIST, NULL, 0, NULL, 0, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.v[0], 1);
    assert_int_equal(g.v[1], -2);
    assert_int_equal(g.v[2], 3);
    eval_sync(r, "return {}", NULL, 0, NULL, 0, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 0);
    add_sync(r, "40", "2", 42);
    md_redis_free(r);
}

static void keys_get_the_prefix_and_any_byte(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    static const char key[] = "a\0b:*\r\n\xff"; /* 8 bytes */
    static const char val[] = "v\0x";           /* 3 bytes */
    md_str_t keys[1] = { { key, 8 } }, args[1] = { { val, 3 } };
    got_t g;
    eval_sync(r, S_SET, keys, 1, args, 1, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.v[0], 7 + 8); /* "medley:" + the key */
    assert_int_equal(g.v[1], 3);
    redisReply *rep = rt_cmd(main_port, "GET %b", "medley:a\0b:*\r\n\xff", (size_t)15);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->len, 3);
    assert_memory_equal(rep->str, val, 3);
    freeReplyObject(rep);
    /* The text after the NUL was not dropped, nor the key cut at it. */
    assert_int_equal(rt_int(main_port, "EXISTS %b", "medley:a", (size_t)8), 0);
    assert_int_equal(rt_int(main_port, "DEL %b", "medley:a\0b:*\r\n\xff", (size_t)15), 1);
    md_redis_free(r);
}

static void the_text_goes_once_per_connection_then_the_sha(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    freeReplyObject(rt_cmd(main_port, "CONFIG RESETSTAT"));
    add_sync(r, "1", "2", 3);
    add_sync(r, "2", "2", 4);
    add_sync(r, "3", "2", 5);
    assert_int_equal(rt_calls(main_port, "script|load"), 1);
    assert_int_equal(rt_calls(main_port, "eval"), 1);
    assert_int_equal(rt_calls(main_port, "evalsha"), 2);

    /* A new connection gets the text once more; the SHA1 is already known. */
    freeReplyObject(rt_cmd(main_port, "CLIENT KILL TYPE normal"));
    assert_true(rt_wait(client_down, r, RT_GUARD_MS));
    assert_true(rt_wait(rt_client_up, r, RT_GUARD_MS));
    add_sync(r, "4", "2", 6);
    add_sync(r, "5", "2", 7);
    assert_int_equal(rt_calls(main_port, "script|load"), 1);
    assert_int_equal(rt_calls(main_port, "eval"), 2);
    assert_int_equal(rt_calls(main_port, "evalsha"), 3);
    md_redis_free(r);
}

static void noscript_sends_the_text_again(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    add_sync(r, "1", "1", 2);
    add_sync(r, "1", "2", 3); /* by SHA1 now */
    md_redis_stats_t before, after;
    md_redis_get_stats(r, &before);
    freeReplyObject(rt_cmd(main_port, "SCRIPT FLUSH"));
    freeReplyObject(rt_cmd(main_port, "CONFIG RESETSTAT"));
    add_sync(r, "1", "3", 4);
    assert_int_equal(rt_calls(main_port, "eval"), 1);
    add_sync(r, "1", "4", 5);
    assert_int_equal(rt_calls(main_port, "eval"), 1); /* cached again by that EVAL */
    md_redis_get_stats(r, &after);
    assert_int_equal(after.errors, before.errors); /* a handled NOSCRIPT is no error */
    assert_true(md_redis_up(r));
    md_redis_free(r);
}

static void wrong_answers_are_einval(void **state)
{
    (void)state;
    static const char *const scripts[] = {
        "return redis.call('NOSUCHCOMMAND')",                    /* script error */
        "return 'text'",                                         /* a string */
        "return 5",                                              /* an integer, not an array */
        "return { 1, 'x' }",                                     /* a string inside */
        "return { 1, { 2 } }",                                   /* nested */
        "return { 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 }",  /* too many */
    };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
        md_redis_stats_t before, after;
        md_redis_get_stats(r, &before);
        got_t g;
        eval_sync(r, scripts[i], NULL, 0, NULL, 0, &g);
        assert_int_equal(g.status, MD_EINVAL);
        md_redis_get_stats(r, &after);
        assert_int_equal(after.errors, before.errors + 1);
        assert_true(md_redis_up(r)); /* the connection is fine */
    }
    got_t g;
    eval_sync(r, "return { 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 }", NULL, 0, NULL, 0, &g);
    assert_int_equal(g.status, MD_OK);
    assert_int_equal(g.n, 16);
    assert_int_equal(g.v[15], 16);
    md_redis_free(r);
}

/* ---- refusals ---- */

static void bad_arguments_are_refused_and_not_counted(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g = { 0 };
    md_str_t many[MD_REDIS_EVAL_MAX_ARGS + 1];
    for (size_t i = 0; i < MD_REDIS_EVAL_MAX_ARGS + 1; i++)
        many[i] = S("x");
    char *big = calloc(1, 8193);
    memset(big, 'k', 8192);
    md_str_t bigs[1] = { { big, 8193 } }, nulls[1] = { { NULL, 1 } };
    assert_null(md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, NULL, &g));
    assert_null(md_redis_eval(r, NULL, NULL, 0, NULL, 0, on_ints, &g));
    assert_null(md_redis_eval(r, "", NULL, 0, NULL, 0, on_ints, &g));
    assert_null(md_redis_eval(r, S_LIST, many, 10, many, 7, on_ints, &g));
    assert_null(md_redis_eval(r, S_LIST, NULL, 0, many, MD_REDIS_EVAL_MAX_ARGS + 1, on_ints, &g));
    assert_null(md_redis_eval(r, S_LIST, bigs, 1, NULL, 0, on_ints, &g));
    assert_null(md_redis_eval(r, S_LIST, NULL, 0, bigs, 1, on_ints, &g));
    assert_null(md_redis_eval(r, S_LIST, nulls, 1, NULL, 0, on_ints, &g));
    assert_null(md_redis_eval(r, S_LIST, NULL, 1, NULL, 0, on_ints, &g));
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_int_equal(st.refused, 0);

    /* 16 in all is fine, and 8192 bytes. */
    big[8192] = '\0';
    bigs[0].len = 8192;
    got_t ok;
    eval_sync(r, "return { #KEYS, #ARGV, string.len(KEYS[1]) }", bigs, 1, many, MD_REDIS_EVAL_MAX_ARGS - 1, &ok);
    assert_int_equal(ok.status, MD_OK);
    assert_int_equal(ok.v[0], 1);
    assert_int_equal(ok.v[1], MD_REDIS_EVAL_MAX_ARGS - 1);
    assert_int_equal(ok.v[2], 7 + 8192);
    free(big);
    rt_run_for(20);
    assert_int_equal(g.calls, 0);
    md_redis_free(r);
}

static void the_script_table_is_bounded(void **state)
{
    (void)state;
    static const char *const scripts[MD_REDIS_SCRIPTS_MAX + 1] = {
        "return {0}", "return {1}", "return {2}", "return {3}", "return {4}",
        "return {5}", "return {6}", "return {7}", "return {8}",
    };
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    for (int i = 0; i < MD_REDIS_SCRIPTS_MAX; i++) {
        got_t g;
        eval_sync(r, scripts[i], NULL, 0, NULL, 0, &g);
        assert_int_equal(g.status, MD_OK);
        assert_int_equal(g.v[0], i);
    }
    got_t g = { 0 };
    assert_null(md_redis_eval(r, scripts[MD_REDIS_SCRIPTS_MAX], NULL, 0, NULL, 0, on_ints, &g));
    eval_sync(r, scripts[3], NULL, 0, NULL, 0, &g); /* known ones still run */
    assert_int_equal(g.v[0], 3);
    md_redis_free(r);
}

static void refused_while_down(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(rt_free_port()); /* nothing listens */
    md_redis_t *r = md_redis_new(loop, &conf);
    got_t g = { 0 };
    assert_null(md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, on_ints, &g));
    md_redis_stats_t st;
    md_redis_get_stats(r, &st);
    assert_int_equal(st.refused, 1);
    rt_run_for(20);
    assert_int_equal(g.calls, 0);
    md_redis_free(r);
}

/* ---- lifetimes ---- */

static void cancelled_evals_never_call_back(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t a = { 0 }, b;
    md_redis_op_t *op = md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, on_ints, &a);
    assert_non_null(op);
    md_redis_cancel(op);
    eval_sync(r, S_LIST, NULL, 0, NULL, 0, &b); /* answered after the cancelled one */
    rt_run_for(50);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.status, MD_OK);
    md_redis_free(r);
}

static void free_with_pending_evals_runs_no_callback(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    md_redis_t *r = rt_client(&conf);
    got_t g[4];
    memset(g, 0, sizeof(g));
    for (int i = 0; i < 4; i++)
        assert_non_null(md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, on_ints, &g[i]));
    md_redis_free(r);
    rt_run_for(100);
    for (int i = 0; i < 4; i++)
        assert_int_equal(g[i].calls, 0);
}

static bool all_called(void *arg)
{
    got_t *g = arg;
    return g[0].calls && g[1].calls;
}

static void a_stopped_server_times_out(void **state)
{
    (void)state;
    int port = rt_free_port();
    pid_t pid = rt_server_start(port);
    md_cache_global_conf_t conf = rt_conf(port);
    conf.redis_timeout_ms = 300;
    md_redis_t *r = rt_client(&conf);
    got_t g[2];
    memset(g, 0, sizeof(g));
    kill(pid, SIGSTOP);
    uint64_t t0 = md_now_us();
    assert_non_null(md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, on_ints, &g[0])); /* with its SCRIPT LOAD */
    assert_non_null(md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, on_ints, &g[1]));
    assert_true(rt_wait(all_called, g, RT_GUARD_MS));
    uint64_t waited_ms = (md_now_us() - t0) / 1000;
    assert_true(waited_ms >= 290);
    assert_true(waited_ms <= 300 + 2000);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].status, MD_ETIMEDOUT);
    }
    kill(pid, SIGCONT);
    assert_true(rt_wait(rt_client_up, r, RT_GUARD_MS));
    got_t h;
    eval_sync(r, S_LIST, NULL, 0, NULL, 0, &h); /* the SHA1 was never learnt: EVAL again */
    assert_int_equal(h.status, MD_OK);
    md_redis_free(r);
    rt_server_kill(pid);
}

static void a_killed_server_fails_pending_evals_once(void **state)
{
    (void)state;
    int port = rt_free_port();
    pid_t pid = rt_server_start(port);
    md_cache_global_conf_t conf = rt_conf(port);
    md_redis_t *r = rt_client(&conf);
    got_t g[2];
    memset(g, 0, sizeof(g));
    kill(pid, SIGSTOP); /* so that the calls are still pending when it dies */
    assert_non_null(md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, on_ints, &g[0]));
    assert_non_null(md_redis_eval(r, S_LIST, NULL, 0, NULL, 0, on_ints, &g[1]));
    rt_run_for(20);
    rt_server_kill(pid);
    assert_true(rt_wait(all_called, g, RT_GUARD_MS));
    rt_run_for(100);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_true(g[i].status == MD_ERESET || g[i].status == MD_ECONNECT);
    }
    assert_false(md_redis_up(r));
    md_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integer_arrays_come_back_whole),
        cmocka_unit_test(keys_get_the_prefix_and_any_byte),
        cmocka_unit_test(the_text_goes_once_per_connection_then_the_sha),
        cmocka_unit_test(noscript_sends_the_text_again),
        cmocka_unit_test(wrong_answers_are_einval),
        cmocka_unit_test(bad_arguments_are_refused_and_not_counted),
        cmocka_unit_test(the_script_table_is_bounded),
        cmocka_unit_test(refused_while_down),
        cmocka_unit_test(cancelled_evals_never_call_back),
        cmocka_unit_test(free_with_pending_evals_runs_no_callback),
        cmocka_unit_test(a_stopped_server_times_out),
        cmocka_unit_test(a_killed_server_fails_pending_evals_once),
    };
    return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
