/*
 * cli.h - the command line: run, check, demo, connector, explain, --version,
 * --help.
 */
#ifndef MD_CLI_H
#define MD_CLI_H

/* Runs the command named in argv and returns the process exit code. */
int md_cli_main(int argc, char **argv);

/* `medley connector export|lint ...` (connector.c): argv[1] is
 * "connector". Returns the exit code: 0, 1 on an error, 2 on misuse. */
int md_cli_connector(int argc, char **argv);

/* `medley explain -c FILE [--header 'Name: value']... [--json] PATH`
 * (explain.c): one GET through FILE's endpoints, served in this process,
 * and what each backend cost. argv[1] is "explain". Returns the exit code:
 * 0 answered (any status), 1 on a usage or config error, 2 no answer. */
int md_cli_explain(int argc, char **argv);

#endif
