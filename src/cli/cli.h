/*
 * cli.h - the command line: run, check, demo, --version, --help.
 */
#ifndef MD_CLI_H
#define MD_CLI_H

/* Runs the command named in argv and returns the process exit code. */
int md_cli_main(int argc, char **argv);

#endif
