/* cli.h - the `tomoline` command: dispatch to subcommands.
 *
 * Each subcommand is `int tl_cmd_NAME(int argc, char **argv)` (argv[0] is the
 * subcommand's name) and returns the process exit status: 0 success, 1 an error
 * in the data or the system, 2 a usage error (bad flag or value). Errors are
 * printed once, as "tomoline: error: ...", by the subcommand.
 */
#ifndef TL_CLI_H
#define TL_CLI_H

#include "config.h"
#include "rings.h"
#include "status.h"

int tl_cli_main(int argc, char **argv);

int tl_cmd_sim(int argc, char **argv);
int tl_cmd_recon(int argc, char **argv);
int tl_cmd_demo(int argc, char **argv);
int tl_cmd_info(int argc, char **argv);      /* cli/info.c */
int tl_cmd_normalize(int argc, char **argv); /* cli/stages.c */
int tl_cmd_sino(int argc, char **argv);      /* cli/stages.c */
int tl_cmd_fbp(int argc, char **argv);       /* cli/stages.c */
int tl_cmd_preview(int argc, char **argv);   /* cli/preview.c */
int tl_cmd_catalog(int argc, char **argv);   /* cli/catalog.c */
int tl_cmd_cor(int argc, char **argv);       /* cli/cor.c */
int tl_cmd_rings(int argc, char **argv);     /* cli/rings.c */
int tl_cmd_send(int argc, char **argv);      /* cli/send.c */
int tl_cmd_serve(int argc, char **argv);     /* cli/serve.c */
int tl_cmd_keygen(int argc, char **argv);    /* cli/keygen.c */
int tl_cmd_route(int argc, char **argv);     /* cli/route.c */

/* Shared by the subcommands (cli/common.c). */

typedef struct tl_cli_command {
    const char *name;
    unsigned mask;          /* TL_CMD_* */
    const char *usage;      /* "recon INPUT -o OUTPUT.nxs [options]" */
    const char *summary;    /* one line */
    const char *description;/* paragraphs for --help, may be NULL */
    int max_positional;
} tl_cli_command;

/* Parse the command line into cfg (defaults < --config file < flags). Handles
 * --help (prints help, returns 0 through *exit_code) and usage errors (prints,
 * *exit_code = 2). Returns 1 when the command should go on. */
int tl_cli_parse(const tl_cli_command *cmd, int argc, char **argv, tl_config *cfg, const char **positional,
                 int *n_positional, int *exit_code);

/* Print "tomoline: error: <message>" and return the exit status for the error
 * (2 for TL_ERR_INVALID: a usage error; 1 otherwise). */
int tl_cli_fail(const tl_error *err);

/* Peak resident memory of this process so far, bytes. */
size_t tl_cli_peak_rss(void);

/* ISO 8601 local time with offset, e.g. 2026-11-23T10:15:02+00:00. */
void tl_cli_iso_date(char *buf, size_t size);

/* The effective configuration as INI text (caller frees). */
char *tl_cli_config_text(const tl_config *cfg, unsigned command);

/* The output path of a volume when none is given: INPUT without its extension + "_rec.nxs". */
void tl_cli_default_output(const char *input, char *out, size_t size);
/* The checks `serve` and `route` share: -o names a writable directory (for
 * `what`), and the CURVE server options come together. Prints the error; returns
 * the exit status, 0 when the options are fine. */
int tl_cli_check_service_options(const tl_config *cfg, const char *command, const char *what);
/* INPUT without its extension + suffix. */
void tl_cli_derived_output(const char *input, const char *suffix, char *out, size_t size);

/* The [rings] options of cfg as kernel parameters (cli/rings.c). */
tl_status tl_rings_params_from_config(const tl_config *cfg, tl_rings_params *p, tl_error *err) TL_MUST_CHECK;

#endif
