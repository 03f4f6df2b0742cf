/*
 * cli.c - command-line parsing and dispatch (placeholder until the gateway
 * lands: --version and --help only).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#ifndef MD_VERSION
#define MD_VERSION "0.0.0"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: medley run -c FILE [--port N] [--workers N]\n"
               "       medley check -c FILE\n"
               "       medley demo [--port N]\n"
               "       medley --version | --help\n");
}

int md_cli_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("medley %s\n", MD_VERSION);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
