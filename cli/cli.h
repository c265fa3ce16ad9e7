/* cli.h - the `tomoline` command: dispatch to subcommands.
 * Each subcommand is `int tl_cmd_NAME(int argc, char **argv)` in cli/NAME.c and
 * returns the process exit status (0 success, 1 error, 2 usage error). */
#ifndef TL_CLI_H
#define TL_CLI_H

int tl_cli_main(int argc, char **argv);

#endif
