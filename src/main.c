/*
 * main.c - medley's entry point: parse the command line and hand over to
 * cli/ (kept thin on purpose, h2o style).
 */
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return md_cli_main(argc, argv);
}
