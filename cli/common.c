/* common.c - what every subcommand does the same way: parse, help, errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"

static void print_command_help(const tl_cli_command *cmd)
{
    printf("usage: tomoline %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->description)
        printf("\n%s\n", cmd->description);
    printf("\n");
    tl_config_print_help(stdout, cmd->mask);
}

int tl_cli_parse(const tl_cli_command *cmd, int argc, char **argv, tl_config *cfg, const char **positional,
                 int *n_positional, int *exit_code)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_command_help(cmd);
            *exit_code = 0;
            return 0;
        }
    }
    tl_error err = {0};
    tl_config_defaults(cfg);
    *n_positional = 0;
    if (tl_config_parse_args(cfg, cmd->mask, argc, argv, 1, positional, cmd->max_positional, n_positional, &err) !=
            TL_OK ||
        tl_config_check(cfg, cmd->mask, &err) != TL_OK) {
        fprintf(stderr, "tomoline: error: %s\n", err.message);
        *exit_code = 2;
        return 0;
    }
    if (cfg->quiet)
        tl_log_set_level(TL_LOG_WARN);
    if (cfg->verbose)
        tl_log_set_level(TL_LOG_DEBUG);
    return 1;
}

int tl_cli_fail(const tl_error *err)
{
    fprintf(stderr, "tomoline: error: %s\n", err->message[0] ? err->message : tl_strerror(err->status));
    return err->status == TL_ERR_INVALID ? 2 : 1;
}

size_t tl_cli_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
}

void tl_cli_iso_date(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char zone[8];
    strftime(zone, sizeof zone, "%z", &tm); /* +0100 -> +01:00 */
    char head[64];
    strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s%.3s:%.2s", head, zone, zone + 3);
}

char *tl_cli_config_text(const tl_config *cfg, unsigned command)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    tl_config_write_ini(f, cfg, command);
    fclose(f);
    return text;
}

void tl_cli_derived_output(const char *input, const char *suffix, char *out, size_t size)
{
    const char *slash = strrchr(input, '/');
    const char *dot = strrchr(input, '.');
    size_t stem = (dot && (!slash || dot > slash + 1)) ? (size_t)(dot - input) : strlen(input);
    snprintf(out, size, "%.*s%s", (int)stem, input, suffix);
}

void tl_cli_default_output(const char *input, char *out, size_t size)
{
    tl_cli_derived_output(input, "_rec.nxs", out, size);
}

int tl_cli_check_service_options(const tl_config *cfg, const char *command, const char *what)
{
    if (!cfg->out_path_name[0]) {
        fprintf(stderr, "tomoline: error: %s needs -o OUT_DIR, the directory for %s\n", command, what);
        return 2;
    }
    if (access(cfg->out_path_name, W_OK) != 0) {
        fprintf(stderr, "tomoline: error: -o '%s': not a writable directory (%s)\n", cfg->out_path_name,
                strerror(errno));
        return 1;
    }
    if (!cfg->curve_secret_key[0] != !cfg->curve_allowed_keys[0]) {
        fprintf(stderr, "tomoline: error: --curve-secret-key and --curve-allowed-keys go together (given: %s)\n",
                cfg->curve_secret_key[0] ? "--curve-secret-key only" : "--curve-allowed-keys only");
        return 2;
    }
    return 0;
}
