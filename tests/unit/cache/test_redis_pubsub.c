/*
 * test_redis_pubsub.c - cross-instance purge transport: the purge message
 * codec (cache/purge_msg.h) and md_redis_publish / md_redis_subscribe
 * against a real redis-server (round trip, the prefix, restarts, garbage,
 * oversize, freeing) and a scripted fake for pushes Redis never sends.
 */
#include "testutil.h"

#include "redistest.h"

#include "cache/purge_msg.h"
#include "cache/redis.h"
#include "core/buf.h"
#include "core/loop.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>


#define ID "0123456789abcdef"

/* ---- codec ---- */

static void codec_round_trips_every_selector(void **state)
{
    (void)state;
    struct { md_purge_msg_t m; const char *text; } cases[] = {
        { { ID, MD_PURGE_SEL_ENDPOINT, MD_STR_LIT("/home"), { 0 } }, "v1 " ID " endpoint 5:/home" },
        { { ID, MD_PURGE_SEL_BACKEND, MD_STR_LIT("news"), { 0 } }, "v1 " ID " backend 4:news" },
        { { ID, MD_PURGE_SEL_KEY, MD_STR_LIT("a b\nc:d"), { 0 } }, "v1 " ID " key 7:a b\nc:d" },
        { { ID, MD_PURGE_SEL_INPUT, MD_STR_LIT("user"), MD_STR_LIT("4 2") }, "v1 " ID " input 4:user 3:4 2" },
        { { ID, MD_PURGE_SEL_INPUT, MD_STR_LIT("user"), { "", 0 } }, "v1 " ID " input 4:user 0:" },
        { { ID, MD_PURGE_SEL_ALL, { 0 }, { 0 } }, "v1 " ID " all" },
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(cases); i++) {
        md_buf_t b;
        md_buf_init(&b, MD_PURGE_MSG_MAX);
        assert_int_equal(md_purge_msg_encode(&cases[i].m, &b), MD_OK);
        assert_int_equal(b.len, strlen(cases[i].text));
        assert_memory_equal(b.data, cases[i].text, b.len);
        md_purge_msg_t d;
        assert_int_equal(md_purge_msg_decode(b.data, b.len, &d), MD_OK);
        assert_string_equal(d.id, ID);
        assert_int_equal(d.sel, cases[i].m.sel);
        assert_int_equal(d.a.len, cases[i].m.a.len);
        assert_memory_equal(d.a.ptr ? d.a.ptr : "", cases[i].m.a.ptr ? cases[i].m.a.ptr : "", d.a.len);
        assert_int_equal(d.b.len, cases[i].m.b.len);
        assert_memory_equal(d.b.ptr ? d.b.ptr : "", cases[i].m.b.ptr ? cases[i].m.b.ptr : "", d.b.len);
        md_buf_free(&b);
    }
}

static void codec_refuses_anything_off_format(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "v1",
        "v2 " ID " all",
        "V1 " ID " all",
        "v1 " ID " all ",
        "v1 " ID " all 0:",
        "v1  " ID " all",
        "v1 0123456789ABCDEF all",
        "v1 0123456789abcde all",
        "v1 0123456789abcdef0 all",
        "v1 " ID " everything",
        "v1 " ID " endpoint",
        "v1 " ID " endpoint 5:/hom",
        "v1 " ID " endpoint 5:/homes",
        "v1 " ID " endpoint 05:/home",
        "v1 " ID " endpoint -5:/home",
        "v1 " ID " endpoint 5/home",
        "v1 " ID " endpoint :/home",
        "v1 " ID " endpoint 99999:x",
        "v1 " ID " endpoint  5:/home",
        "v1 " ID " input 4:user",
        "v1 " ID " input 4:user 2:42 1:x",
        "v1 " ID "\nall",
    };
    md_purge_msg_t m;
    for (size_t i = 0; i < MD_ARRAY_LEN(bad); i++) {
        if (md_purge_msg_decode(bad[i], strlen(bad[i]), &m) != MD_EINVAL)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
    const char nul[] = "v1 " ID " key 3:a\0b";
    assert_int_equal(md_purge_msg_decode(nul, sizeof(nul) - 1, &m), MD_EINVAL);
    assert_int_equal(md_purge_msg_decode(NULL, 0, &m), MD_EINVAL);
    static char big[MD_PURGE_MSG_MAX + 1];
    memset(big, 'x', sizeof(big));
    assert_int_equal(md_purge_msg_decode(big, sizeof(big), &m), MD_ETOOBIG);
}

static void codec_encode_errors(void **state)
{
    (void)state;
    md_buf_t b;
    md_buf_init(&b, MD_PURGE_MSG_MAX);
    md_purge_msg_t m = { "0123456789ABCDEF", MD_PURGE_SEL_ALL, { 0 }, { 0 } };
    assert_int_equal(md_purge_msg_encode(&m, &b), MD_EINVAL);
    m = (md_purge_msg_t){ ID, MD_PURGE_SEL_KEY, { "a\0b", 3 }, { 0 } };
    assert_int_equal(md_purge_msg_encode(&m, &b), MD_EINVAL);
    m = (md_purge_msg_t){ ID, (md_purge_sel_t)99, { 0 }, { 0 } };
    assert_int_equal(md_purge_msg_encode(&m, &b), MD_EINVAL);
    static char big[MD_PURGE_MSG_MAX];
    memset(big, 'k', sizeof(big));
    m = (md_purge_msg_t){ ID, MD_PURGE_SEL_KEY, { big, sizeof(big) }, { 0 } };
    assert_int_equal(md_purge_msg_encode(&m, &b), MD_ETOOBIG);
    assert_int_equal(b.len, 0);  /* nothing half-written */
    md_buf_free(&b);
}

/* ---- subscriber ---- */

#define MAX_GOT 8

typedef struct got {
    size_t n;
    char msg[MAX_GOT][256];
    size_t len[MAX_GOT];
    md_redis_t **free_me;       /* frees this subscriber from the callback */
} got_t;

static void on_msg(void *arg, const char *msg, size_t len)
{
    got_t *g = arg;
    if (g->n < MAX_GOT && len <= sizeof(g->msg[0])) {
        memcpy(g->msg[g->n], msg, len);
        g->len[g->n] = len;
    }
    g->n++;
    if (g->free_me) {
        md_redis_free(*g->free_me);
        *g->free_me = NULL;
    }
}

static bool got_n(void *arg)
{
    return ((got_t *)arg)->n >= 1;
}

static md_redis_t *sub_up(const md_cache_global_conf_t *conf, size_t max_len, got_t *g)
{
    md_redis_t *s = md_redis_subscribe(loop, conf, "purge", max_len, on_msg, g);
    assert_non_null(s);
    assert_true(rt_wait(rt_client_up, s, RT_GUARD_MS));
    return s;
}

static void raw_publish(int port, const char *channel, const char *msg, size_t len)
{
    redisReply *rep = rt_cmd(port, "PUBLISH %s %b", channel, msg, len);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
}

static void publish_reaches_the_subscriber_once(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    md_redis_t *s = sub_up(&conf, 256, &g);
    md_redis_t *p = rt_client(&conf);
    const char msg[] = "v1 x\n\0y z";
    assert_int_equal(md_redis_publish(p, "purge", 5, msg, sizeof(msg) - 1), MD_OK);
    assert_true(rt_wait(got_n, &g, RT_GUARD_MS));
    rt_run_for(50);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.len[0], sizeof(msg) - 1);
    assert_memory_equal(g.msg[0], msg, sizeof(msg) - 1);  /* binary-safe */
    md_redis_stats_t st;
    md_redis_get_stats(s, &st);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.ignored, 0);
    assert_true(st.up);
    md_redis_free(p);
    md_redis_free(s);
}

static void channel_carries_the_prefix(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    md_redis_t *s = sub_up(&conf, 256, &g);
    raw_publish(main_port, "purge", "bare", 4);          /* no prefix: not ours */
    raw_publish(main_port, "other:purge", "other", 5);   /* another prefix */
    raw_publish(main_port, "medley:purge", "mine", 4);
    assert_true(rt_wait(got_n, &g, RT_GUARD_MS));
    rt_run_for(50);
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.msg[0], "mine", 4);
    md_redis_free(s);
}

static void subscriber_refuses_commands_and_bad_arguments(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    assert_null(md_redis_subscribe(loop, &conf, "purge", 16, NULL, &g));
    assert_null(md_redis_subscribe(loop, &conf, NULL, 16, on_msg, &g));
    assert_null(md_redis_subscribe(loop, &conf, "", 16, on_msg, &g));
    assert_null(md_redis_subscribe(loop, &conf, "purge", 0, on_msg, &g));
    assert_null(md_redis_subscribe(loop, &conf, "purge", MD_REDIS_MESSAGE_MAX + 1, on_msg, &g));
    md_redis_t *s = sub_up(&conf, 16, &g);
    assert_int_equal(md_redis_publish(s, "purge", 5, "x", 1), MD_ERR);
    assert_int_equal(md_redis_set(s, "k", 1, "v", 1, 1000), MD_ERR);
    assert_int_equal(rt_int(main_port, "EXISTS medley:k"), 0);
    md_redis_free(s);

    md_redis_t *p = rt_client(&conf);
    assert_int_equal(md_redis_publish(p, NULL, 1, "x", 1), MD_EINVAL);
    assert_int_equal(md_redis_publish(p, "purge", 5, NULL, 1), MD_EINVAL);
    static char big[MD_REDIS_MESSAGE_MAX + 1];
    assert_int_equal(md_redis_publish(p, "purge", 5, big, sizeof(big)), MD_ETOOBIG);
    md_redis_free(p);

    md_cache_global_conf_t nowhere = rt_conf(rt_free_port());
    p = md_redis_new(loop, &nowhere);
    assert_int_equal(md_redis_publish(p, "purge", 5, "x", 1), MD_ERR);
    md_redis_stats_t st;
    md_redis_get_stats(p, &st);
    assert_int_equal(st.refused, 1);
    md_redis_free(p);
}

static void oversize_messages_are_ignored_and_counted(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    md_redis_t *s = sub_up(&conf, 16, &g);
    raw_publish(main_port, "medley:purge", "0123456789abcdefX", 17);
    raw_publish(main_port, "medley:purge", "0123456789abcdef", 16);
    assert_true(rt_wait(got_n, &g, RT_GUARD_MS));
    rt_run_for(50);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.len[0], 16);
    md_redis_stats_t st;
    md_redis_get_stats(s, &st);
    assert_int_equal(st.ignored, 1);
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.connects, 1);  /* an oversize message is no reason to reconnect */
    md_redis_free(s);
}

static bool reconnected(void *arg)
{
    md_redis_stats_t st;
    md_redis_get_stats(arg, &st);
    return st.connects >= 2 && st.up;
}

static void message_over_a_mebibyte_drops_the_connection(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    md_redis_t *s = sub_up(&conf, 16, &g);
    size_t n = ((size_t)1 << 20) + 1;
    char *huge = malloc(n);
    assert_non_null(huge);
    memset(huge, 'h', n);
    raw_publish(main_port, "medley:purge", huge, n);
    free(huge);
    assert_true(rt_wait(reconnected, s, RT_GUARD_MS));
    assert_int_equal(g.n, 0);
    raw_publish(main_port, "medley:purge", "after", 5);
    assert_true(rt_wait(got_n, &g, RT_GUARD_MS));
    assert_memory_equal(g.msg[0], "after", 5);
    md_redis_free(s);
}

static void garbage_is_delivered_as_bytes_and_refused_by_the_codec(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    md_redis_t *s = sub_up(&conf, MD_PURGE_MSG_MAX, &g);
    static const char *garbage[] = { "hello", "v1 " ID " input 4:user", "v9 " ID " all" };
    for (size_t i = 0; i < MD_ARRAY_LEN(garbage); i++)
        raw_publish(main_port, "medley:purge", garbage[i], strlen(garbage[i]));
    raw_publish(main_port, "medley:purge", "v1 " ID " all", strlen("v1 " ID " all"));
    for (int i = 0; i < 200 && g.n < 4; i++)
        rt_run_for(10);
    assert_int_equal(g.n, 4);
    md_purge_msg_t m;
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(md_purge_msg_decode(g.msg[i], g.len[i], &m), MD_EINVAL);
    assert_int_equal(md_purge_msg_decode(g.msg[3], g.len[3], &m), MD_OK);
    assert_int_equal(m.sel, MD_PURGE_SEL_ALL);
    md_redis_stats_t st;
    md_redis_get_stats(s, &st);
    assert_int_equal(st.connects, 1);
    md_redis_free(s);
}

static void resubscribes_after_the_server_restarts(void **state)
{
    (void)state;
    int port = rt_free_port();
    pid_t pid = rt_server_start(port);
    md_cache_global_conf_t conf = rt_conf(port);
    got_t g = { 0 };
    md_redis_t *s = sub_up(&conf, 64, &g);
    rt_server_kill(pid);
    rt_run_for(50);
    assert_false(md_redis_up(s));
    pid = rt_server_start(port);
    assert_true(rt_wait(reconnected, s, RT_GUARD_MS));
    md_redis_t *p = rt_client(&conf);
    assert_int_equal(md_redis_publish(p, "purge", 5, "again", 5), MD_OK);
    assert_true(rt_wait(got_n, &g, RT_GUARD_MS));
    assert_int_equal(g.n, 1);
    assert_memory_equal(g.msg[0], "again", 5);
    md_redis_free(p);
    md_redis_free(s);
    rt_server_kill(pid);
}

static void free_from_the_callback_stops_delivery(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    md_redis_t *s = sub_up(&conf, 64, &g);
    g.free_me = &s;
    /* Both in one read, most likely: the second must not be delivered. */
    redisContext *c = rt_raw(main_port);
    assert_non_null(c);
    redisAppendCommand(c, "PUBLISH medley:purge one");
    redisAppendCommand(c, "PUBLISH medley:purge two");
    for (int i = 0; i < 2; i++) {
        void *rep = NULL;
        assert_int_equal(redisGetReply(c, &rep), REDIS_OK);
        freeReplyObject(rep);
    }
    redisFree(c);
    assert_true(rt_wait(got_n, &g, RT_GUARD_MS));
    rt_run_for(50);
    assert_int_equal(g.n, 1);
    assert_null(s);
}

static void free_while_subscribing_runs_no_callback(void **state)
{
    (void)state;
    md_cache_global_conf_t conf = rt_conf(main_port);
    got_t g = { 0 };
    md_redis_t *s = md_redis_subscribe(loop, &conf, "purge", 64, on_msg, &g);
    assert_non_null(s);
    md_redis_free(s);
    rt_run_for(30);
    md_redis_free(NULL);
    assert_int_equal(g.n, 0);
}

/* ---- a scripted fake for pushes Redis never sends ---- */

typedef struct fake {
    int lfd, port;
    const char *after_subscribe;  /* sent once SUBSCRIBE is read */
    atomic_bool stop;
    pthread_t thread;
} fake_t;

/* Answers PING with PONG and SUBSCRIBE with the script, per connection. */
static void fake_serve(fake_t *f, int fd)
{
    char buf[4096];
    while (!atomic_load(&f->stop)) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
            return;
        buf[n] = '\0';
        const char *rep = strstr(buf, "SUBSCRIBE") ? f->after_subscribe : strstr(buf, "PING") ? "+PONG\r\n" : "";
        if (write(fd, rep, strlen(rep)) < 0)
            return;
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

static bool three_connects(void *arg)
{
    md_redis_stats_t st;
    md_redis_get_stats(arg, &st);
    return st.connects >= 3;
}

#define CONFIRM "*3\r\n$9\r\nsubscribe\r\n$12\r\nmedley:purge\r\n:1\r\n"

static void hostile_pushes_drop_the_connection(void **state)
{
    (void)state;
    static const char *scripts[] = {
        CONFIRM "*3\r\n$7\r\nmessage\r\n$5\r\nother\r\n$1\r\nx\r\n",           /* another channel */
        CONFIRM "*2\r\n$7\r\nmessage\r\n$12\r\nmedley:purge\r\n",               /* short */
        CONFIRM "*3\r\n$11\r\nunsubscribe\r\n$12\r\nmedley:purge\r\n:0\r\n",    /* unsubscribe */
        CONFIRM "*3\r\n:1\r\n$12\r\nmedley:purge\r\n$1\r\nx\r\n",               /* kind not a string */
        CONFIRM "*3\r\n$7\r\nmessage\r\n$12\r\nmedley:purge\r\n*1\r\n:1\r\n",   /* nested array */
        CONFIRM "+OK\r\n",                                                      /* not an array */
        CONFIRM "-ERR no\r\n",
        CONFIRM ":7\r\n",
        "*3\r\n$7\r\nmessage\r\n$12\r\nmedley:purge\r\n$1\r\nx\r\n",            /* before the confirmation */
        "*3\r\n$9\r\nsubscribe\r\n$12\r\nmedley:purge\r\n$1\r\nx\r\n",          /* confirmation without count */
        "",                                                                     /* never confirmed: timeout */
    };
    for (size_t i = 0; i < MD_ARRAY_LEN(scripts); i++) {
        fake_t f = { .after_subscribe = scripts[i] };
        fake_start(&f);
        md_cache_global_conf_t conf = rt_conf(f.port);
        conf.redis_timeout_ms = 100;
        got_t g = { 0 };
        md_redis_t *s = md_redis_subscribe(loop, &conf, "purge", 64, on_msg, &g);
        assert_true(rt_wait(three_connects, s, RT_GUARD_MS));  /* no abort(), reconnects */
        md_redis_stats_t st;
        md_redis_get_stats(s, &st);
        if (g.n != 0 || st.errors + st.timeouts < 2)
            fail_msg("script %zu: %zu messages, %llu errors, %llu timeouts", i, g.n,
                     (unsigned long long)st.errors, (unsigned long long)st.timeouts);
        md_redis_free(s);
        fake_stop(&f);
    }
}

static void confirmed_fake_delivers(void **state)
{
    (void)state;
    fake_t f = { .after_subscribe = CONFIRM "*3\r\n$7\r\nmessage\r\n$12\r\nmedley:purge\r\n$2\r\nhi\r\n" };
    fake_start(&f);
    md_cache_global_conf_t conf = rt_conf(f.port);
    got_t g = { 0 };
    md_redis_t *s = md_redis_subscribe(loop, &conf, "purge", 64, on_msg, &g);
    assert_true(rt_wait(got_n, &g, RT_GUARD_MS));
    assert_int_equal(g.len[0], 2);
    assert_memory_equal(g.msg[0], "hi", 2);
    assert_true(md_redis_up(s));
    md_redis_free(s);
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_round_trips_every_selector),
        cmocka_unit_test(codec_refuses_anything_off_format),
        cmocka_unit_test(codec_encode_errors),
        cmocka_unit_test(publish_reaches_the_subscriber_once),
        cmocka_unit_test(channel_carries_the_prefix),
        cmocka_unit_test(subscriber_refuses_commands_and_bad_arguments),
        cmocka_unit_test(oversize_messages_are_ignored_and_counted),
        cmocka_unit_test(message_over_a_mebibyte_drops_the_connection),
        cmocka_unit_test(garbage_is_delivered_as_bytes_and_refused_by_the_codec),
        cmocka_unit_test(resubscribes_after_the_server_restarts),
        cmocka_unit_test(free_from_the_callback_stops_delivery),
        cmocka_unit_test(free_while_subscribing_runs_no_callback),
        cmocka_unit_test(hostile_pushes_drop_the_connection),
        cmocka_unit_test(confirmed_fake_delivers),
    };
    return cmocka_run_group_tests(tests, rt_group_setup, rt_group_teardown);
}
