/* config.h - the effective configuration of one tomoline command.
 *
 * Every parameter is declared once, in params.def. From that table this module
 * generates the tl_config struct, parses command-line flags and INI files
 * (`--config FILE`), prints `--help`, validates values with messages that name
 * the option, the value and what is allowed, and dumps the effective
 * configuration (every parameter, defaults included) for provenance.
 *
 * Precedence: table defaults < config file < command line.
 */
#ifndef TL_CONFIG_H
#define TL_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "status.h"

/* Commands, as a bit mask: the `commands` column of params.def.
 * X(NAME, "name") generates TL_CMD_NAME = 1 << index and the name table. */
#define TL_COMMAND_TABLE(X)                                                                        \
    X(SIM, "sim")                                                                                  \
    X(RECON, "recon")                                                                              \
    X(DEMO, "demo")                                                                                \
    X(INFO, "info")                                                                                \
    X(NORMALIZE, "normalize")                                                                      \
    X(SINO, "sino")                                                                                \
    X(FBP, "fbp")                                                                                  \
    X(PREVIEW, "preview")                                                                          \
    X(CATALOG, "catalog")                                                                          \
    X(COR, "cor")                                                                                  \
    X(RINGS, "rings")                                                                              \
    X(SEND, "send")                                                                                \
    X(SERVE, "serve")                                                                              \
    X(KEYGEN, "keygen")                                                                            \
    X(ROUTE, "route")

enum {
#define TL_X_CMD_INDEX(name, text) TL_CMD_INDEX_##name,
    TL_COMMAND_TABLE(TL_X_CMD_INDEX)
#undef TL_X_CMD_INDEX
    TL_CMD_COUNT
};
#define TL_X_CMD_BIT(name, text) TL_CMD_##name = 1u << TL_CMD_INDEX_##name,
enum { TL_COMMAND_TABLE(TL_X_CMD_BIT) };
#undef TL_X_CMD_BIT
#define TL_CMD_ALL ((1u << TL_CMD_COUNT) - 1u)
/* Commands that read a raw scan (the [input] options). */
#define TL_CMD_READERS (TL_CMD_RECON | TL_CMD_INFO | TL_CMD_NORMALIZE | TL_CMD_SINO | TL_CMD_COR | TL_CMD_RINGS | TL_CMD_SEND)
/* Commands that write a reconstructed volume (the [output] options). */
#define TL_CMD_WRITERS (TL_CMD_RECON | TL_CMD_FBP | TL_CMD_DEMO)

/* "recon" for TL_CMD_RECON (the lowest bit set decides); "?" for none. */
const char *tl_config_command_name(unsigned command);

#define TL_CONFIG_STRING_MAX 4096
#define TL_CONFIG_CHOICE_MAX 64

typedef enum { TL_PT_INT, TL_PT_FLOAT, TL_PT_STRING, TL_PT_CHOICE, TL_PT_BOOL } tl_param_type;

/* Member types by table type. */
#define TL_CT_INT long
#define TL_CT_FLOAT double
#define TL_CT_BOOL int
#define TL_CT_DIM_INT
#define TL_CT_DIM_FLOAT
#define TL_CT_DIM_BOOL
#define TL_CT_DIM_STRING [TL_CONFIG_STRING_MAX]
#define TL_CT_DIM_CHOICE [TL_CONFIG_CHOICE_MAX]
#define TL_CT_STRING char
#define TL_CT_CHOICE char

typedef struct tl_config {
#define TL_PARAM(field, flag, shrt, type, def, mn, mx, choices, section, commands, validator, help) \
    TL_CT_##type field TL_CT_DIM_##type;
#include "params.def"
#undef TL_PARAM
    /* where each value came from, for messages: "default", "command line", "FILE:LINE" */
} tl_config;

/* Extra validation of one value (after type and range checks).
 * Returns TL_OK, or TL_ERR_INVALID with a message in err naming what is allowed. */
typedef tl_status (*tl_param_validator)(const char *flag, const char *value, tl_error *err);

/* One row of the table. */
typedef struct tl_param_def {
    const char *field;
    const char *flag;
    char short_flag;
    tl_param_type type;
    const char *default_text;
    double min, max;
    const char *choices; /* "a|b|c" or NULL */
    const char *section;
    unsigned commands;
    tl_param_validator validator; /* or NULL */
    const char *help;
    size_t offset; /* of the member in tl_config */
} tl_param_def;

/* Validators named in params.def. */
tl_status tl_validate_rotation_axis(const char *flag, const char *value, tl_error *err);

/* The table. */
size_t tl_config_param_count(void);
const tl_param_def *tl_config_param_at(size_t index);
/* Look up by flag ("fbp-filter"; '_' accepted for '-'); NULL when unknown. */
const tl_param_def *tl_config_find(const char *flag);

/* Fill every parameter with its table default. */
void tl_config_defaults(tl_config *cfg);

/* Set one parameter from text. `origin` says where the text came from, for the
 * message ("command line", "run.conf:12"). Checks type, range, choices, the
 * validator, and that `command` accepts the parameter. */
tl_status tl_config_set(tl_config *cfg, unsigned command, const char *flag, const char *value,
                        const char *origin, tl_error *err) TL_MUST_CHECK;

/* Read an INI file: `[section]` headers, `key = value` lines, '#' or ';' comments.
 * A key must belong to the section it is under. Keys that `command` does not use
 * are accepted silently when they exist in the table (one file can serve sim and
 * recon); unknown keys are errors. */
tl_status tl_config_load_file(tl_config *cfg, unsigned command, const char *path, tl_error *err) TL_MUST_CHECK;

/* Parse argv[first..argc) of `command`: `--config FILE` (applied before every other
 * flag, wherever it stands), `--flag value`, `--flag=value`, `-s value`, and for
 * BOOL `--flag`, `--no-flag`, `--flag=true|false`. Words that do not start with '-'
 * are positional and are stored in positional[] (pointers into argv) up to
 * max_positional; more is an error. `--` ends options. --help/-h and --version are
 * not handled here: the CLI looks for them first. */
tl_status tl_config_parse_args(tl_config *cfg, unsigned command, int argc, char **argv, int first,
                               const char **positional, int max_positional, int *n_positional,
                               tl_error *err) TL_MUST_CHECK;

/* Cross-parameter checks that need the whole configuration (end-row after start-row). */
tl_status tl_config_check(const tl_config *cfg, unsigned command, tl_error *err) TL_MUST_CHECK;

/* The value of a parameter as text, exactly as it would be written in a config file. */
void tl_config_format_value(const tl_config *cfg, const tl_param_def *def, char *buf, size_t size);

/* Options of `command`, grouped by section: flag, type or choices, default, range, help. */
void tl_config_print_help(FILE *out, unsigned command);

/* The effective configuration of `command` as an INI file (every parameter the
 * command uses, defaults included), loadable with --config. */
void tl_config_write_ini(FILE *out, const tl_config *cfg, unsigned command);

#endif
