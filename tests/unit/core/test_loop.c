/*
 * Unit tests for core/loop: timers fire in due order and can be cancelled,
 * io callbacks run when a socket is readable, posts from another thread
 * wake the loop.
 */
#include "testutil.h"

#include "core/common.h"
#include "core/loop.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static md_loop_t *g_loop;
static int order[8];
static int norder;

static void on_timer(md_timer_t *t)
{
    order[norder++] = (int)(intptr_t)t->data;
    if (norder == 3)
        md_loop_stop(g_loop);
}

static void timers_fire_in_due_order_and_cancel(void **state)
{
    (void)state;
    g_loop = md_loop_new();
    md_timer_t a, b, c, d;
    md_timer_init(&a, on_timer, (void *)(intptr_t)1);
    md_timer_init(&b, on_timer, (void *)(intptr_t)2);
    md_timer_init(&c, on_timer, (void *)(intptr_t)3);
    md_timer_init(&d, on_timer, (void *)(intptr_t)4);
    norder = 0;
    uint64_t t0 = md_now_us();
    md_loop_update_time(g_loop); /* timers count from the loop's cached clock */
    md_timer_start(g_loop, &c, 30);
    md_timer_start(g_loop, &a, 5);
    md_timer_start(g_loop, &d, 1);
    md_timer_start(g_loop, &b, 15);
    md_timer_stop(g_loop, &d);
    assert_false(md_timer_active(&d));
    md_loop_run(g_loop);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 3);
    assert_true(md_now_us() - t0 >= 29000); /* ms clock truncation: 1 ms slack */
    md_loop_free(g_loop);
}

static char got[16];
static void on_readable(md_io_t *io, unsigned ev)
{
    assert_true(ev & MD_IO_READ);
    ssize_t n = read(io->fd, got, sizeof(got) - 1);
    assert_true(n > 0);
    md_io_stop(io);
    md_loop_stop(g_loop);
}

static void io_callback_runs_when_readable(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    g_loop = md_loop_new();
    md_io_t io;
    assert_int_equal(md_io_start(g_loop, &io, sv[0], MD_IO_READ, on_readable, NULL), MD_OK);
    assert_int_equal(write(sv[1], "ping", 4), 4);
    md_loop_run(g_loop);
    assert_string_equal(got, "ping");
    md_loop_free(g_loop);
    close(sv[0]);
    close(sv[1]);
}

static int posted;
static void on_post(void *arg)
{
    posted = (int)(intptr_t)arg;
    md_loop_stop(g_loop);
}

static void *poster(void *arg)
{
    usleep(10000);
    md_loop_post(arg, on_post, (void *)(intptr_t)7);
    return NULL;
}

static void post_from_another_thread_wakes_loop(void **state)
{
    (void)state;
    g_loop = md_loop_new();
    pthread_t th;
    posted = 0;
    pthread_create(&th, NULL, poster, g_loop);
    md_loop_run(g_loop);
    pthread_join(th, NULL);
    assert_int_equal(posted, 7);
    md_loop_free(g_loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_fire_in_due_order_and_cancel),
        cmocka_unit_test(io_callback_runs_when_readable),
        cmocka_unit_test(post_from_another_thread_wakes_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
