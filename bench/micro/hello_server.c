/*
 * hello_server.c - the smallest medley HTTP server: every request gets a
 * 20-byte text body straight from the handler. It measures the server's
 * own cost (http/server*.c: accept, read, parse, respond, keep-alive) with
 * nothing behind it, to compare with nginx serving a 20-byte static file.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Isrc bench/micro/hello_server.c \
 *      src/http/server*.c src/http/parser.c src/json/write.c src/json/scan.c \
 *      src/core/[a-z]*.c -pthread -o /tmp/hello_server
 *   /tmp/hello_server [port=8089] [workers=2] &
 *   wrk -t1 -c64 -d5s http://127.0.0.1:8089/
 *
 * SIGINT or SIGTERM shuts the server down gracefully.
 */
#include "http/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static void hello(md_http_req_t *req, void *app)
{
    MD_UNUSED(app);
    static const md_header_t type = { "Content-Type", 12, "text/plain", 10 };
    md_http_respond(req, 200, &type, 1, "hello, world 123456\n", 20);
}

static void *run(void *srv)
{
    md_server_run(srv);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8089;
    int workers = argc > 2 ? atoi(argv[2]) : 2;
    md_server_hooks_t hooks = { .handler = hello };
    char err[256];

    /* Block the signals in every thread; this one waits for them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    md_server_t *srv = md_server_new("127.0.0.1", (uint16_t)port, workers, NULL, &hooks, err,
                                     sizeof(err));
    if (!srv) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, run, srv);
    int sig;
    sigwait(&set, &sig);
    md_server_shutdown(srv);
    pthread_join(thread, NULL);
    md_server_free(srv);
    return 0;
}
