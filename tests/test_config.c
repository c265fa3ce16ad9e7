/* test_config.c - the parameter table (config/params.def) and what config.c
 * generates from it: defaults, value checks and their messages, INI files,
 * argv parsing, --help and the INI dump (which must round-trip). */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "support.h"

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */

static const unsigned all_commands[] = {TL_CMD_SIM, TL_CMD_RECON, TL_CMD_DEMO};

#define assert_has(haystack, needle)                                                                 \
    cr_assert(strstr((haystack), (needle)) != NULL, "expected \"%s\" in \"%s\"", (needle), (haystack))

/* Write `text` to DIR/name and return the path (static buffer per call). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[8][4200];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 4200, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "cannot create %s", p);
    fputs(text, f);
    fclose(f);
    return p;
}

static char *slurp_stream(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    cr_assert(n >= 0);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    rewind(f);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    return buf;
}

static char *help_text(unsigned command)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    tl_config_print_help(f, command);
    char *s = slurp_stream(f);
    fclose(f);
    return s;
}

/* Every parameter `command` uses is identical in a and b. */
static void assert_same_config(const tl_config *a, const tl_config *b, unsigned command)
{
    for (size_t i = 0; i < tl_config_param_count(); i++) {
        const tl_param_def *d = tl_config_param_at(i);
        if (!(d->commands & command))
            continue;
        const char *pa = (const char *)a + d->offset;
        const char *pb = (const char *)b + d->offset;
        switch (d->type) {
        case TL_PT_INT:
            cr_assert(memcmp(pa, pb, sizeof(long)) == 0, "--%s differs", d->flag);
            break;
        case TL_PT_FLOAT: {
            double x, y;
            memcpy(&x, pa, sizeof x);
            memcpy(&y, pb, sizeof y);
            cr_assert(memcmp(&x, &y, sizeof x) == 0, "--%s differs: %.17g vs %.17g", d->flag, x, y);
            break;
        }
        case TL_PT_BOOL:
            cr_assert(memcmp(pa, pb, sizeof(int)) == 0, "--%s differs", d->flag);
            break;
        case TL_PT_CHOICE:
            cr_assert(memcmp(pa, pb, TL_CONFIG_CHOICE_MAX) == 0, "--%s differs: '%s' vs '%s'", d->flag, pa, pb);
            break;
        case TL_PT_STRING:
            cr_assert(memcmp(pa, pb, TL_CONFIG_STRING_MAX) == 0, "--%s differs: '%s' vs '%s'", d->flag, pa, pb);
            break;
        }
    }
}

static void set_ok(tl_config *cfg, unsigned command, const char *flag, const char *value)
{
    tl_error err;
    tl_error_clear(&err);
    tl_status st = tl_config_set(cfg, command, flag, value, "command line", &err);
    cr_assert_eq(st, TL_OK, "--%s '%s': %s", flag, value, err.message);
}

/* Expect tl_config_set to fail with a message containing `needle`. */
static void set_fails(unsigned command, const char *flag, const char *value, const char *origin,
                      const char *needle)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    tl_error err;
    tl_error_clear(&err);
    tl_status st = tl_config_set(&cfg, command, flag, value, origin, &err);
    cr_assert_neq(st, TL_OK, "--%s '%s' was accepted", flag, value);
    cr_assert_eq(err.status, st);
    assert_has(err.message, needle);
    cr_assert(strncmp(err.message, "tomoline", 8) != 0, "message has a prefix: %s", err.message);
}

typedef struct {
    tl_config cfg;
    const char *pos[4];
    int npos;
    tl_error err;
    tl_status st;
} parsed;

/* Parse a NULL-terminated list of words as `tomoline <cmd> words...`. */
static void parse_words(parsed *p, unsigned command, int max_positional, const char *const *words)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "tomoline";
    argv[argc++] = "cmd";
    for (; *words; words++)
        argv[argc++] = (char *)*words;
    tl_config_defaults(&p->cfg);
    tl_error_clear(&p->err);
    p->npos = -1;
    p->st = tl_config_parse_args(&p->cfg, command, argc, argv, 2, p->pos, max_positional, &p->npos, &p->err);
}

#define PARSE(p, cmd, maxpos, ...)                                  \
    do {                                                            \
        const char *const words_[] = {__VA_ARGS__, NULL};           \
        parse_words((p), (cmd), (maxpos), words_);                  \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* the table                                                                                   */

Test(config_table, rows_are_well_formed)
{
    cr_assert(tl_config_param_count() > 0);
    cr_assert_null(tl_config_param_at(tl_config_param_count()));
    for (size_t i = 0; i < tl_config_param_count(); i++) {
        const tl_param_def *d = tl_config_param_at(i);
        cr_assert_not_null(d);
        cr_assert(d->help && d->help[0], "--%s has no help", d->flag);
        static const char *const known[] = {"general", "input", "recon", "cor", "rings", "stream", "output", "catalog", "preview", "sim"};
        int found = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            found |= strcmp(d->section, known[k]) == 0;
        cr_assert(found, "--%s is in section '%s'", d->flag, d->section);
        cr_assert(d->commands != 0 && (d->commands & ~TL_CMD_ALL) == 0, "--%s has bad commands", d->flag);
        /* field is the flag with '-' -> '_' */
        char field[128];
        snprintf(field, sizeof field, "%s", d->flag);
        for (char *c = field; *c; c++)
            if (*c == '-')
                *c = '_';
        cr_assert_str_eq(d->field, field);
        cr_assert(d->flag[0] != '-' && strncmp(d->flag, "no-", 3) != 0, "--%s: bad flag name", d->flag);
        cr_assert(strcmp(d->flag, "config") != 0 && strcmp(d->flag, "help") != 0 && strcmp(d->flag, "version"),
                  "--%s is reserved", d->flag);
        if (d->type == TL_PT_INT || d->type == TL_PT_FLOAT)
            cr_assert(d->min <= d->max, "--%s: min > max", d->flag);
        if (d->type == TL_PT_CHOICE)
            cr_assert(d->choices && d->choices[0], "--%s: CHOICE without choices", d->flag);
        else
            cr_assert_null(d->choices, "--%s: choices on a non-CHOICE", d->flag);
        for (size_t j = 0; j < i; j++) {
            const tl_param_def *e = tl_config_param_at(j);
            cr_assert(strcmp(d->flag, e->flag) != 0, "--%s twice", d->flag);
            cr_assert(d->short_flag == 0 || d->short_flag != e->short_flag, "-%c twice", d->short_flag);
        }
    }
}

Test(config_table, every_default_passes_the_parser)
{
    /* a bad default in params.def must fail here */
    tl_config cfg;
    memset(&cfg, 0, sizeof cfg);
    for (size_t i = 0; i < tl_config_param_count(); i++) {
        const tl_param_def *d = tl_config_param_at(i);
        tl_error err;
        tl_error_clear(&err);
        tl_status st = tl_config_set(&cfg, d->commands, d->flag, d->default_text, "default", &err);
        cr_assert_eq(st, TL_OK, "default of --%s: %s", d->flag, err.message);
    }
}

Test(config_table, defaults_equal_table_text)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    char buf[TL_CONFIG_STRING_MAX + 64];
    for (size_t i = 0; i < tl_config_param_count(); i++) {
        const tl_param_def *d = tl_config_param_at(i);
        tl_config_format_value(&cfg, d, buf, sizeof buf);
        cr_assert_str_eq(buf, d->default_text, "--%s", d->flag);
    }
    /* a few by member, to tie the offsets to the struct */
    cr_assert_eq(cfg.threads, 0);
    cr_assert_str_eq(cfg.fbp_filter, "ramp");
    cr_assert_eq(cfg.minus_log, 1);
    cr_assert_eq(cfg.end_row, -1);
    cr_assert_eq(cfg.nsino_per_chunk, 8);
    cr_assert_str_eq(cfg.rotation_axis, "auto");
    cr_assert_str_eq(cfg.out_path_name, "");
    cr_assert_eq(cfg.size, 256);
    cr_assert_eq(cfg.seed, 1);
    cr_assert_eq(cfg.defect_strength, 0.1);
    cr_assert_eq(cfg.truth, 1);
    cr_assert_eq(cfg.overwrite, 0);
}

Test(config_table, choice_defaults_are_choices)
{
    for (size_t i = 0; i < tl_config_param_count(); i++) {
        const tl_param_def *d = tl_config_param_at(i);
        if (d->type != TL_PT_CHOICE)
            continue;
        char list[512];
        snprintf(list, sizeof list, "|%s|", d->choices);
        char want[128];
        snprintf(want, sizeof want, "|%s|", d->default_text);
        cr_assert(strstr(list, want), "--%s: default '%s' not in %s", d->flag, d->default_text, d->choices);
        cr_assert(strlen(d->choices) < 512);
    }
}

Test(config_table, find_accepts_underscores)
{
    const tl_param_def *a = tl_config_find("fbp-filter");
    cr_assert_not_null(a);
    cr_assert_eq(tl_config_find("fbp_filter"), a);
    cr_assert_str_eq(a->field, "fbp_filter");
    cr_assert_eq(tl_config_find("nsino_per_chunk"), tl_config_find("nsino-per-chunk"));
    cr_assert_null(tl_config_find("fbp-filtr"));
    cr_assert_null(tl_config_find("fbp-filter-"));
    cr_assert_null(tl_config_find("fbp"));
    cr_assert_null(tl_config_find(""));
    cr_assert_null(tl_config_find(NULL));
}

/* ------------------------------------------------------------------------------------------ */
/* values and their messages                                                                   */

Test(config_set, integers)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    set_ok(&cfg, TL_CMD_RECON, "threads", "12");
    cr_assert_eq(cfg.threads, 12);
    set_ok(&cfg, TL_CMD_RECON, "threads", "+3");
    cr_assert_eq(cfg.threads, 3);
    set_ok(&cfg, TL_CMD_RECON, "threads", "4096");
    set_ok(&cfg, TL_CMD_RECON, "end-row", "-1");
    cr_assert_eq(cfg.end_row, -1);
    set_ok(&cfg, TL_CMD_SIM, "seed", "4294967295");
    cr_assert_eq(cfg.seed, 4294967295L);

    set_fails(TL_CMD_RECON, "threads", "-2", "command line",
              "--threads: '-2' is below the minimum 0 (allowed: 0 to 4096)");
    set_fails(TL_CMD_RECON, "threads", "5000", "command line",
              "--threads: '5000' is above the maximum 4096 (allowed: 0 to 4096)");
    set_fails(TL_CMD_RECON, "start-row", "abc", "command line", "--start-row: 'abc' is not an integer");
    set_fails(TL_CMD_RECON, "start-row", "1.5", "command line", "--start-row: '1.5' is not an integer");
    set_fails(TL_CMD_RECON, "start-row", "", "command line", "--start-row: '' is not an integer");
    set_fails(TL_CMD_RECON, "start-row", "4 ", "command line", "--start-row: '4 ' is not an integer");
    set_fails(TL_CMD_RECON, "start-row", " 4", "command line", "--start-row: ' 4' is not an integer");
    set_fails(TL_CMD_RECON, "start-row", "0x10", "command line", "is not an integer");
    set_fails(TL_CMD_RECON, "threads", "99999999999999999999999", "command line", "is above the maximum 4096");
    set_fails(TL_CMD_RECON, "threads", "-99999999999999999999999", "command line", "is below the minimum 0");
    set_fails(TL_CMD_SIM, "seed", "4294967296", "command line", "above the maximum 4294967295");
}

Test(config_set, floats)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    set_ok(&cfg, TL_CMD_SIM, "photons", "1e4");
    cr_assert_eq(cfg.photons, 1e4);
    set_ok(&cfg, TL_CMD_SIM, "axis-offset", "-2.25");
    cr_assert_eq(cfg.axis_offset, -2.25);
    set_ok(&cfg, TL_CMD_SIM, "gain-error", "0.5");

    set_fails(TL_CMD_SIM, "photons", "lots", "command line", "--photons: 'lots' is not a number (allowed: 0 to");
    set_fails(TL_CMD_SIM, "photons", "", "command line", "--photons: '' is not a number");
    set_fails(TL_CMD_SIM, "photons", "5x", "command line", "--photons: '5x' is not a number");
    set_fails(TL_CMD_SIM, "photons", "nan", "command line", "--photons: 'nan' is not a finite number");
    set_fails(TL_CMD_SIM, "photons", "inf", "command line", "--photons: 'inf' is not a finite number");
    set_fails(TL_CMD_SIM, "axis-offset", "-infinity", "command line", "is not a finite number");
    set_fails(TL_CMD_SIM, "photons", "1e400", "command line", "is not a finite number");
    set_fails(TL_CMD_SIM, "gain-error", "0.51", "command line",
              "--gain-error: '0.51' is above the maximum 0.5 (allowed: 0 to 0.5)");
    set_fails(TL_CMD_SIM, "photons", "-1", "command line", "--photons: '-1' is below the minimum 0");
}

Test(config_set, booleans)
{
    static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes", "ON"};
    static const char *const no[] = {"false", "no", "off", "0", "False", "NO", "Off"};
    tl_config cfg;
    tl_config_defaults(&cfg);
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        cfg.overwrite = 0;
        set_ok(&cfg, TL_CMD_RECON, "overwrite", yes[i]);
        cr_assert_eq(cfg.overwrite, 1, "%s", yes[i]);
        set_ok(&cfg, TL_CMD_RECON, "overwrite", no[i]);
        cr_assert_eq(cfg.overwrite, 0, "%s", no[i]);
    }
    set_fails(TL_CMD_RECON, "overwrite", "maybe", "command line",
              "--overwrite: 'maybe' is not a boolean (allowed: true, false, yes, no, on, off, 1, 0)");
    set_fails(TL_CMD_RECON, "overwrite", "", "command line", "is not a boolean");
    set_fails(TL_CMD_RECON, "overwrite", "2", "command line", "is not a boolean");
}

Test(config_set, choices)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    set_ok(&cfg, TL_CMD_RECON, "fbp-filter", "hann");
    cr_assert_str_eq(cfg.fbp_filter, "hann");
    set_ok(&cfg, TL_CMD_RECON, "fbp_filter", "Shepp"); /* case is ignored, the table's spelling kept */
    cr_assert_str_eq(cfg.fbp_filter, "shepp");
    set_ok(&cfg, TL_CMD_SIM, "arc", "360");
    cr_assert_str_eq(cfg.arc, "360");

    set_fails(TL_CMD_RECON, "fbp-filter", "foo", "command line",
              "--fbp-filter: 'foo' is not one of ramp, shepp, cosine, hamming, hann, parzen");
    set_fails(TL_CMD_RECON, "fbp-filter", "han", "command line", "(did you mean 'hann'?)");
    set_fails(TL_CMD_RECON, "fbp-filter", "ram", "command line", "is not one of");
    set_fails(TL_CMD_RECON, "fbp-filter", "", "command line", "--fbp-filter: '' is not one of");
    set_fails(TL_CMD_RECON, "fbp-filter", "ramp|shepp", "command line", "is not one of");
    set_fails(TL_CMD_RECON, "remove-stripe-method", "wavelet", "command line",
              "--remove-stripe-method: 'wavelet' is not one of none, fw, ti, sorting, filtering, large, vo-all");
    set_ok(&cfg, TL_CMD_RINGS, "remove-stripe-method", "vo-all");
    cr_assert_str_eq(cfg.remove_stripe_method, "vo-all");
    set_fails(TL_CMD_RINGS, "fw-sigma", "-1", "command line", "--fw-sigma");
    set_fails(TL_CMD_SIM, "arc", "90", "command line", "--arc: '90' is not one of 180, 360");
}

Test(config_set, strings)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    set_ok(&cfg, TL_CMD_RECON, "out-path-name", "/tmp/a b/out.nxs");
    cr_assert_str_eq(cfg.out_path_name, "/tmp/a b/out.nxs");
    set_ok(&cfg, TL_CMD_RECON, "out-path-name", "");
    cr_assert_str_eq(cfg.out_path_name, "");

    char *longv = malloc(TL_CONFIG_STRING_MAX + 1);
    cr_assert_not_null(longv);
    memset(longv, 'a', TL_CONFIG_STRING_MAX - 1);
    longv[TL_CONFIG_STRING_MAX - 1] = '\0';
    set_ok(&cfg, TL_CMD_RECON, "out-path-name", longv); /* the longest that fits */
    cr_assert_eq(strlen(cfg.out_path_name), TL_CONFIG_STRING_MAX - 1);
    longv[TL_CONFIG_STRING_MAX - 1] = 'a';
    longv[TL_CONFIG_STRING_MAX] = '\0';
    set_fails(TL_CMD_RECON, "out-path-name", longv, "command line",
              "(4096 characters) is too long (allowed: text of at most 4095 characters)");
    free(longv);
    set_fails(TL_CMD_RECON, "out-path-name", "a\nb", "command line", "contains a control character");
}

Test(config_set, command_and_unknown_flags)
{
    set_fails(TL_CMD_RECON, "size", "256", "command line", "--size is not an option of 'tomoline recon'");
    set_fails(TL_CMD_RECON, "size", "256", "command line", "see 'tomoline recon --help'");
    set_fails(TL_CMD_SIM, "rotation-axis", "3", "command line", "--rotation-axis is not an option of 'tomoline sim'");
    set_fails(TL_CMD_DEMO, "truth", "true", "command line", "--truth is not an option of 'tomoline demo'");
    set_fails(TL_CMD_RECON, "fbp-filtr", "ramp", "command line",
              "unknown option '--fbp-filtr' (did you mean '--fbp-filter'? see 'tomoline recon --help')");
    set_fails(TL_CMD_RECON, "zzzzzz", "1", "command line", "unknown option '--zzzzzz' (see 'tomoline recon --help')");
}

Test(config_set, origin_prefixes_file_messages_only)
{
    set_fails(TL_CMD_RECON, "fbp-filter", "foo", "run.conf:12",
              "run.conf:12: --fbp-filter: 'foo' is not one of ramp, shepp, cosine, hamming, hann, parzen");
    tl_config cfg;
    tl_config_defaults(&cfg);
    tl_error err;
    tl_error_clear(&err);
    cr_assert_neq(tl_config_set(&cfg, TL_CMD_RECON, "threads", "x", "command line", &err), TL_OK);
    cr_assert(strncmp(err.message, "--threads: ", 11) == 0, "%s", err.message);
    cr_assert_neq(tl_config_set(&cfg, TL_CMD_RECON, "threads", "x", NULL, &err), TL_OK);
    cr_assert(strncmp(err.message, "--threads: ", 11) == 0, "%s", err.message);
    /* a failed set leaves the value alone */
    cr_assert_eq(cfg.threads, 0);
    /* a NULL error record is allowed */
    cr_assert_neq(tl_config_set(&cfg, TL_CMD_RECON, "threads", "x", NULL, NULL), TL_OK);
}

Test(config_set, rotation_axis_validator)
{
    tl_error err;
    static const char *const good[] = {"127.5", "-3", "0", "center", "auto", "1e2"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tl_error_clear(&err);
        cr_assert_eq(tl_validate_rotation_axis("rotation-axis", good[i], &err), TL_OK, "%s: %s", good[i],
                     err.message);
    }
    tl_error_clear(&err);
    cr_assert_neq(tl_validate_rotation_axis("rotation-axis", "Auto", &err), TL_OK);
    cr_assert_neq(tl_validate_rotation_axis("rotation-axis", "abc", &err), TL_OK);
    cr_assert_str_eq(err.message, "--rotation-axis: 'abc' is not a number (allowed: a column position such as "
                                  "127.5, 'center' or 'auto')");
    cr_assert_neq(tl_validate_rotation_axis("--rotation-axis", "nan", &err), TL_OK);
    assert_has(err.message, "--rotation-axis: 'nan' is not a finite number");
    cr_assert_neq(tl_validate_rotation_axis("rotation-axis", "12.5px", &err), TL_OK);
    cr_assert_neq(tl_validate_rotation_axis("rotation-axis", "", &err), TL_OK);

    /* through the table */
    tl_config cfg;
    tl_config_defaults(&cfg);
    set_ok(&cfg, TL_CMD_RECON, "rotation-axis", "127.5");
    cr_assert_str_eq(cfg.rotation_axis, "127.5");
    set_ok(&cfg, TL_CMD_RECON, "rotation-axis", "auto");
    cr_assert_str_eq(cfg.rotation_axis, "auto");
    set_fails(TL_CMD_RECON, "rotation-axis", "abc", "a.conf:3",
              "a.conf:3: --rotation-axis: 'abc' is not a number (allowed: a column position such as 127.5, "
              "'center' or 'auto')");
}

Test(config_format, values)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    char buf[256];
    cfg.photons = 0.1;
    tl_config_format_value(&cfg, tl_config_find("photons"), buf, sizeof buf);
    cr_assert_str_eq(buf, "0.1");
    cfg.photons = 1.0 / 3.0;
    tl_config_format_value(&cfg, tl_config_find("photons"), buf, sizeof buf);
    cr_assert_eq(strtod(buf, NULL), 1.0 / 3.0, "%s does not round-trip", buf);
    cfg.photons = 1e9;
    tl_config_format_value(&cfg, tl_config_find("photons"), buf, sizeof buf);
    cr_assert_str_eq(buf, "1000000000");
    cfg.seed = 4294967295L;
    tl_config_format_value(&cfg, tl_config_find("seed"), buf, sizeof buf);
    cr_assert_str_eq(buf, "4294967295");
    cfg.overwrite = 1;
    tl_config_format_value(&cfg, tl_config_find("overwrite"), buf, sizeof buf);
    cr_assert_str_eq(buf, "true");
    /* small buffers are truncated, not overrun */
    char tiny[4] = "xxx";
    tl_config_format_value(&cfg, tl_config_find("fbp-filter"), tiny, sizeof tiny);
    cr_assert_str_eq(tiny, "ram");
}

Test(config_check, end_row_and_verbosity)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    tl_error err;
    tl_error_clear(&err);
    cr_assert_eq(tl_config_check(&cfg, TL_CMD_RECON, &err), TL_OK);
    cfg.start_row = 10;
    cfg.end_row = 5;
    cr_assert_neq(tl_config_check(&cfg, TL_CMD_RECON, &err), TL_OK);
    cr_assert_str_eq(err.message,
                     "--end-row 5 is not after --start-row 10 (rows are start..end-1; -1 means to the last row)");
    cfg.end_row = 10;
    cr_assert_neq(tl_config_check(&cfg, TL_CMD_RECON, &err), TL_OK);
    cfg.end_row = 11;
    cr_assert_eq(tl_config_check(&cfg, TL_CMD_RECON, &err), TL_OK);
    cfg.end_row = -1;
    cr_assert_eq(tl_config_check(&cfg, TL_CMD_RECON, &err), TL_OK);
    /* sim has no rows to check */
    cfg.end_row = 5;
    cr_assert_eq(tl_config_check(&cfg, TL_CMD_SIM, &err), TL_OK);

    tl_config_defaults(&cfg);
    cfg.verbose = 1;
    cfg.quiet = 1;
    cr_assert_neq(tl_config_check(&cfg, TL_CMD_SIM, &err), TL_OK);
    assert_has(err.message, "--verbose and --quiet cannot both be set");
}

/* ------------------------------------------------------------------------------------------ */
/* INI files                                                                                   */

static tl_status load_text(tl_config *cfg, unsigned command, const char *text, tl_error *err, char *path_out)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    const char *path = write_file(dir, "run.conf", text);
    if (path_out)
        snprintf(path_out, 4200, "%s", path);
    tl_config_defaults(cfg);
    tl_error_clear(err);
    return tl_config_load_file(cfg, command, path, err);
}

static void load_fails(unsigned command, const char *text, const char *line_suffix, const char *needle)
{
    tl_config cfg;
    tl_error err;
    char path[4200];
    tl_status st = load_text(&cfg, command, text, &err, path);
    cr_assert_neq(st, TL_OK, "accepted: %s", text);
    char want[4400];
    snprintf(want, sizeof want, "%s%s", path, line_suffix);
    cr_assert(strncmp(err.message, want, strlen(want)) == 0, "expected '%s' at the start of '%s'", want,
              err.message);
    assert_has(err.message, needle);
}

Test(config_ini, reads_sections_keys_comments_and_quotes)
{
    tl_config cfg;
    tl_error err;
    tl_status st = load_text(&cfg, TL_CMD_RECON,
                             "\xEF\xBB\xBF# a comment\n"
                             "; another comment\n"
                             "\n"
                             "[general]\n"
                             "threads = 3\r\n"
                             "  backend=cpu   # trailing comment\n"
                             "[ recon ]   # comment after a header\n"
                             "fbp_filter = hann\n"
                             "rotation-axis = 100.5   # a comment\n"
                             "start-row=2\n"
                             "[output]\n"
                             "out-path-name = \"/data/run 1/#3.nxs\"  # quoted keeps '#'\n"
                             "overwrite = yes\n"
                             "[sim]\n"
                             "size = 64\n",
                             &err, NULL);
    cr_assert_eq(st, TL_OK, "%s", err.message);
    cr_assert_eq(cfg.threads, 3);
    cr_assert_str_eq(cfg.backend, "cpu");
    cr_assert_str_eq(cfg.fbp_filter, "hann");
    cr_assert_str_eq(cfg.rotation_axis, "100.5");
    cr_assert_eq(cfg.start_row, 2);
    cr_assert_str_eq(cfg.out_path_name, "/data/run 1/#3.nxs");
    cr_assert_eq(cfg.overwrite, 1);
    /* a key recon does not use is accepted and skipped */
    cr_assert_eq(cfg.size, 256);
}

Test(config_ini, rotation_axis_with_hash_is_rejected)
{
    /* '#' not after whitespace is part of the value, and the validator sees it */
    load_fails(TL_CMD_RECON, "[recon]\nrotation-axis = 12#x\n", ":2: ", "--rotation-axis: '12#x' is not a number");
}

Test(config_ini, keys_of_other_commands_are_skipped)
{
    tl_config cfg;
    tl_error err;
    /* recon ignores [sim] keys even with values sim would reject; sim reads them */
    cr_assert_eq(load_text(&cfg, TL_CMD_RECON, "[sim]\nsize = 64\nellipses = 5\n", &err, NULL), TL_OK, "%s",
                 err.message);
    cr_assert_eq(cfg.size, 256);
    cr_assert_eq(load_text(&cfg, TL_CMD_SIM, "[sim]\nsize = 64\nellipses = 5\n[recon]\nfbp-filter=hann\n", &err,
                           NULL),
                 TL_OK, "%s", err.message);
    cr_assert_eq(cfg.size, 64);
    cr_assert_eq(cfg.ellipses, 5);
    cr_assert_str_eq(cfg.fbp_filter, "ramp");
}

Test(config_ini, errors_name_file_and_line)
{
    load_fails(TL_CMD_RECON, "[recon]\nfbp-filter = foo\n", ":2: ",
               "--fbp-filter: 'foo' is not one of ramp, shepp, cosine, hamming, hann, parzen");
    load_fails(TL_CMD_RECON, "[general]\n\n\nthreads = -2\n", ":4: ", "--threads: '-2' is below the minimum 0");
    load_fails(TL_CMD_RECON, "[recon]\nthis line has no equals sign\n", ":2: ",
               "expected 'key = value', '[section]' or a comment, found 'this line has no equals sign'");
    load_fails(TL_CMD_RECON, "[recon]\nthreads = 4\n", ":2: ", "key 'threads' belongs in section [general], not [recon]");
    load_fails(TL_CMD_SIM, "[general]\nsize = 4\n", ":2: ", "key 'size' belongs in section [sim], not [general]");
    load_fails(TL_CMD_RECON, "threads = 4\n", ":1: ", "key 'threads' comes before any section header (it belongs in [general])");
    load_fails(TL_CMD_RECON, "[recon]\nfbp-filtr = ramp\n", ":2: ", "unknown key 'fbp-filtr' (did you mean 'fbp-filter'?");
    load_fails(TL_CMD_RECON, "[recon]\nqqqqqqqq = 1\n", ":2: ", "unknown key 'qqqqqqqq' (see 'tomoline recon --help')");
    load_fails(TL_CMD_RECON, "[general]\n[beamline]\n", ":2: ", "unknown section [beamline] (sections: general, input, recon, cor, rings, stream, output, catalog, preview, sim)");
    load_fails(TL_CMD_RECON, "[recon\n", ":1: ", "has no closing ']'");
    load_fails(TL_CMD_RECON, "[recon] x\n", ":1: ", "unexpected text after the section header");
    load_fails(TL_CMD_RECON, "[recon]\n= ramp\n", ":2: ", "a value without a key");
    load_fails(TL_CMD_RECON, "[output]\nout-path-name = \"abc\n", ":2: ", "has no closing '\"'");
    load_fails(TL_CMD_RECON, "[output]\nout-path-name = \"abc\" junk\n", ":2: ", "has no closing '\"'");
    load_fails(TL_CMD_RECON, "[recon]\nstart-row =\n", ":2: ", "--start-row: '' is not an integer");
    load_fails(TL_CMD_RECON, "[recon]\nstart-row = 1\nend-row = 1 2\n", ":3: ", "--end-row: '1 2' is not an integer");
}

Test(config_ini, missing_and_unreadable_files)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    tl_error err;
    tl_error_clear(&err);
    cr_assert_eq(tl_config_load_file(&cfg, TL_CMD_RECON, "x.conf", &err), TL_ERR_IO);
    cr_assert_str_eq(err.message, "cannot read config file 'x.conf': No such file or directory");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    cr_assert_neq(tl_config_load_file(&cfg, TL_CMD_RECON, dir, &err), TL_OK);
    assert_has(err.message, "cannot read config file");
}

Test(config_ini, example_conf_loads_for_every_command)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config/example.conf", TL_TEST_SOURCE_DIR);
    for (size_t c = 0; c < sizeof all_commands / sizeof all_commands[0]; c++) {
        tl_config cfg;
        tl_config_defaults(&cfg);
        tl_error err;
        tl_error_clear(&err);
        cr_assert_eq(tl_config_load_file(&cfg, all_commands[c], path, &err), TL_OK, "%s", err.message);
        cr_assert_eq(tl_config_check(&cfg, all_commands[c], &err), TL_OK, "%s", err.message);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* round trip                                                                                  */

static void round_trip(const tl_config *cfg, unsigned command)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    char path[4200];
    snprintf(path, sizeof path, "%s/effective.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    tl_config_write_ini(f, cfg, command);
    fclose(f);

    tl_config back;
    tl_config_defaults(&back);
    tl_error err;
    tl_error_clear(&err);
    cr_assert_eq(tl_config_load_file(&back, command, path, &err), TL_OK, "%s", err.message);
    assert_same_config(cfg, &back, command);
}

Test(config_roundtrip, defaults_for_every_command)
{
    for (size_t c = 0; c < sizeof all_commands / sizeof all_commands[0]; c++) {
        tl_config cfg;
        tl_config_defaults(&cfg);
        round_trip(&cfg, all_commands[c]);
    }
}

Test(config_roundtrip, changed_values)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    set_ok(&cfg, TL_CMD_RECON, "threads", "7");
    set_ok(&cfg, TL_CMD_RECON, "backend", "cpu");
    set_ok(&cfg, TL_CMD_RECON, "quiet", "on");
    set_ok(&cfg, TL_CMD_RECON, "rotation-axis", "-12.125");
    set_ok(&cfg, TL_CMD_RECON, "fbp-filter", "parzen");
    set_ok(&cfg, TL_CMD_RECON, "minus-log", "off");
    set_ok(&cfg, TL_CMD_RECON, "start-row", "3");
    set_ok(&cfg, TL_CMD_RECON, "end-row", "9");
    set_ok(&cfg, TL_CMD_RECON, "dtype", "float16");
    set_ok(&cfg, TL_CMD_RECON, "overwrite", "true");
    set_ok(&cfg, TL_CMD_SIM, "photons", "0.30000000000000004");
    set_ok(&cfg, TL_CMD_SIM, "axis-offset", "-3.3333333333333335");
    set_ok(&cfg, TL_CMD_SIM, "gain-error", "1e-300");
    set_ok(&cfg, TL_CMD_SIM, "seed", "4294967295");
    set_ok(&cfg, TL_CMD_SIM, "truth", "false");
    set_ok(&cfg, TL_CMD_SIM, "arc", "360");
    static const char *const paths[] = {
        "/data/out.nxs", " leading and trailing spaces ", "a # hash after a space", "#starts-with-hash",
        "\"quoted\"",    "a\"b",                          ";semicolon",               "", "x = y", "[not a section]",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        set_ok(&cfg, TL_CMD_RECON, "out-path-name", paths[i]);
        for (size_t c = 0; c < sizeof all_commands / sizeof all_commands[0]; c++)
            round_trip(&cfg, all_commands[c]);
    }
}

Test(config_roundtrip, ini_layout)
{
    tl_config cfg;
    tl_config_defaults(&cfg);
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    tl_config_write_ini(f, &cfg, TL_CMD_RECON);
    char *s = slurp_stream(f);
    fclose(f);
    cr_assert(strncmp(s, "# tomoline recon configuration\n", 31) == 0, "%s", s);
    assert_has(s, "\n[general]\n");
    assert_has(s, "\n[recon]\n");
    assert_has(s, "\n[output]\n");
    cr_assert_null(strstr(s, "[sim]"), "recon uses no [sim] key");
    assert_has(s, "# worker threads (0: one per online core)\n#   range 0..4096\nthreads = 0\n");
    assert_has(s, "#   one of: ramp|shepp|cosine|hamming|hann|parzen\nfbp-filter = ramp\n");
    assert_has(s, "\nfbp-filter = ramp\n");
    assert_has(s, "\nout-path-name = \"\"\n");
    cr_assert(strstr(s, "[general]") < strstr(s, "[recon]") && strstr(s, "[recon]") < strstr(s, "[output]"));
    free(s);
}

/* ------------------------------------------------------------------------------------------ */
/* the command line                                                                            */

Test(config_args, flags_values_and_positionals)
{
    parsed p;
    PARSE(&p, TL_CMD_RECON, 1, "--threads", "4", "--fbp-filter=hann", "in.nxs", "-o", "out.nxs", "--rotation-axis",
          "-3", "--minus_log=false");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_eq(p.cfg.threads, 4);
    cr_assert_str_eq(p.cfg.fbp_filter, "hann");
    cr_assert_str_eq(p.cfg.out_path_name, "out.nxs");
    cr_assert_str_eq(p.cfg.rotation_axis, "-3");
    cr_assert_eq(p.cfg.minus_log, 0);
    cr_assert_eq(p.npos, 1);
    cr_assert_str_eq(p.pos[0], "in.nxs");

    PARSE(&p, TL_CMD_RECON, 1, "-oout.nxs", "-");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_str_eq(p.cfg.out_path_name, "out.nxs");
    cr_assert_eq(p.npos, 1);
    cr_assert_str_eq(p.pos[0], "-");

    PARSE(&p, TL_CMD_RECON, 2, "--", "--threads", "-o");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_eq(p.npos, 2);
    cr_assert_str_eq(p.pos[0], "--threads");
    cr_assert_str_eq(p.pos[1], "-o");
    cr_assert_eq(p.cfg.threads, 0);

    /* single-dash words are values, so negative numbers and "-" (stdout) work */
    PARSE(&p, TL_CMD_RECON, 1, "-o", "-", "--rotation-axis=-3.5", "--nsino_per_chunk", "16");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_str_eq(p.cfg.out_path_name, "-");
    cr_assert_str_eq(p.cfg.rotation_axis, "-3.5");
    cr_assert_eq(p.cfg.nsino_per_chunk, 16);
    cr_assert_eq(p.npos, 0);

    /* n_positional may be NULL; no positionals allowed at all */
    tl_config cfg;
    tl_config_defaults(&cfg);
    tl_error err;
    char *argv[] = {"tomoline", "sim", "--size", "64", NULL};
    cr_assert_eq(tl_config_parse_args(&cfg, TL_CMD_SIM, 4, argv, 2, NULL, 0, NULL, &err), TL_OK, "%s",
                 err.message);
    cr_assert_eq(cfg.size, 64);

    PARSE(&p, TL_CMD_RECON, 1, "--out-path-name=");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_eq(p.npos, 0);
}

Test(config_args, booleans)
{
    parsed p;
    PARSE(&p, TL_CMD_RECON, 1, "--overwrite");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_eq(p.cfg.overwrite, 1);
    PARSE(&p, TL_CMD_RECON, 1, "--overwrite", "--no-overwrite");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_eq(p.cfg.overwrite, 0);
    PARSE(&p, TL_CMD_RECON, 1, "--overwrite=false");
    cr_assert_eq(p.st, TL_OK);
    cr_assert_eq(p.cfg.overwrite, 0);
    PARSE(&p, TL_CMD_RECON, 1, "--overwrite=on");
    cr_assert_eq(p.cfg.overwrite, 1);
    PARSE(&p, TL_CMD_RECON, 1, "--no-minus-log");
    cr_assert_eq(p.st, TL_OK);
    cr_assert_eq(p.cfg.minus_log, 0);
    PARSE(&p, TL_CMD_RECON, 1, "-v");
    cr_assert_eq(p.cfg.verbose, 1);
    PARSE(&p, TL_CMD_RECON, 1, "-vq");
    cr_assert_eq(p.st, TL_OK);
    cr_assert_eq(p.cfg.verbose, 1);
    cr_assert_eq(p.cfg.quiet, 1);

    PARSE(&p, TL_CMD_RECON, 1, "--overwrite=perhaps");
    cr_assert_neq(p.st, TL_OK);
    assert_has(p.err.message, "--overwrite: 'perhaps' is not a boolean");
    PARSE(&p, TL_CMD_RECON, 1, "--no-overwrite=true");
    cr_assert_neq(p.st, TL_OK);
    assert_has(p.err.message, "--no-overwrite does not take a value");
    PARSE(&p, TL_CMD_RECON, 1, "--no-threads");
    cr_assert_neq(p.st, TL_OK);
    assert_has(p.err.message, "unknown option '--no-threads'");
    PARSE(&p, TL_CMD_RECON, 1, "-vx");
    cr_assert_neq(p.st, TL_OK);
    assert_has(p.err.message, "unknown option '-vx'");
    /* `--overwrite no in.nxs`: 'no' is a positional, with a hint */
    PARSE(&p, TL_CMD_RECON, 1, "in.nxs", "--overwrite", "no");
    cr_assert_neq(p.st, TL_OK);
    assert_has(p.err.message, "unexpected argument 'no' (tomoline recon takes 1 input; --overwrite takes no "
                              "separate value, write --overwrite=no)");
}

Test(config_args, errors)
{
    parsed p;
    PARSE(&p, TL_CMD_RECON, 1, "--fbp-filter");
    cr_assert_neq(p.st, TL_OK);
    cr_assert_str_eq(p.err.message, "--fbp-filter needs a value (one of ramp, shepp, cosine, hamming, hann, parzen)");
    PARSE(&p, TL_CMD_RECON, 1, "--fbp-filter", "--threads", "2");
    cr_assert_neq(p.st, TL_OK);
    assert_has(p.err.message, "--fbp-filter needs a value");
    PARSE(&p, TL_CMD_RECON, 1, "--threads");
    assert_has(p.err.message, "--threads needs a value (an integer from 0 to 4096)");
    PARSE(&p, TL_CMD_RECON, 1, "-o");
    assert_has(p.err.message, "-o (--out-path-name) needs a value");
    PARSE(&p, TL_CMD_RECON, 1, "--rotation-axis");
    assert_has(p.err.message, "--rotation-axis needs a value (a column position such as 127.5, 'center' or 'auto')");

    PARSE(&p, TL_CMD_RECON, 1, "--fbp-filtr", "ramp");
    cr_assert_neq(p.st, TL_OK);
    cr_assert_str_eq(p.err.message,
                     "unknown option '--fbp-filtr' (did you mean '--fbp-filter'? see 'tomoline recon --help')");
    PARSE(&p, TL_CMD_RECON, 1, "--fbp=ramp");
    assert_has(p.err.message, "unknown option '--fbp' (did you mean '--fbp-filter'?");
    PARSE(&p, TL_CMD_RECON, 1, "--confg", "a.conf");
    assert_has(p.err.message, "(did you mean '--config'?");
    PARSE(&p, TL_CMD_RECON, 1, "--fbp-fitler=ramp"); /* a transposition is one edit */
    assert_has(p.err.message, "(did you mean '--fbp-filter'?");
    PARSE(&p, TL_CMD_RECON, 1, "--treads", "2");
    assert_has(p.err.message, "unknown option '--treads' (did you mean '--threads'?");
    PARSE(&p, TL_CMD_RECON, 1, "--nsino_per_chunck=4");
    assert_has(p.err.message, "(did you mean '--nsino-per-chunk'?");
    PARSE(&p, TL_CMD_RECON, 1, "--xyzzy");
    cr_assert_str_eq(p.err.message, "unknown option '--xyzzy' (see 'tomoline recon --help')");
    PARSE(&p, TL_CMD_RECON, 1, "-x");
    cr_assert_str_eq(p.err.message, "unknown option '-x' (see 'tomoline recon --help')");
    PARSE(&p, TL_CMD_RECON, 1, "--help");
    assert_has(p.err.message, "unknown option '--help'");

    PARSE(&p, TL_CMD_RECON, 1, "--size", "256", "in.nxs");
    cr_assert_neq(p.st, TL_OK);
    cr_assert_str_eq(p.err.message, "--size is not an option of 'tomoline recon' (see 'tomoline recon --help'); "
                                    "it is an option of 'tomoline sim' and 'tomoline demo'");
    PARSE(&p, TL_CMD_SIM, 0, "--rotation-axis=3");
    assert_has(p.err.message, "--rotation-axis is not an option of 'tomoline sim'");

    PARSE(&p, TL_CMD_RECON, 1, "a.nxs", "b.nxs");
    cr_assert_neq(p.st, TL_OK);
    cr_assert_str_eq(p.err.message, "unexpected argument 'b.nxs' (tomoline recon takes 1 input)");
    cr_assert_eq(p.npos, 1);
    PARSE(&p, TL_CMD_RECON, 2, "a", "b", "c");
    assert_has(p.err.message, "unexpected argument 'c' (tomoline recon takes 2 inputs)");
    PARSE(&p, TL_CMD_SIM, 0, "extra");
    assert_has(p.err.message, "unexpected argument 'extra' (tomoline sim takes no arguments besides options)");

    PARSE(&p, TL_CMD_RECON, 1, "--threads", "-2");
    cr_assert_str_eq(p.err.message, "--threads: '-2' is below the minimum 0 (allowed: 0 to 4096)");
}

Test(config_args, precedence_defaults_file_argv)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    const char *conf = write_file(dir, "run.conf",
                                  "[general]\nthreads = 3\nbackend = cpu\n[recon]\nfbp-filter = hann\n");
    parsed p;
    /* --config at the end is still applied before the flags */
    PARSE(&p, TL_CMD_RECON, 1, "--threads", "5", "in.nxs", "--config", conf);
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_eq(p.cfg.threads, 5);               /* argv over file */
    cr_assert_str_eq(p.cfg.backend, "cpu");       /* file over default */
    cr_assert_str_eq(p.cfg.fbp_filter, "hann");   /* file over default */
    cr_assert_eq(p.cfg.nsino_per_chunk, 8);       /* default */
    cr_assert_eq(p.npos, 1);
    cr_assert_str_eq(p.pos[0], "in.nxs");

    char eqform[4300];
    snprintf(eqform, sizeof eqform, "--config=%s", conf);
    PARSE(&p, TL_CMD_RECON, 1, "--fbp-filter=cosine", eqform);
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_str_eq(p.cfg.fbp_filter, "cosine");
    cr_assert_eq(p.cfg.threads, 3);
    cr_assert_eq(p.npos, 0);

    /* two files: the later wins */
    const char *conf2 = write_file(dir, "two.conf", "[general]\nthreads = 9\n");
    PARSE(&p, TL_CMD_RECON, 1, "--config", conf, "--config", conf2);
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_eq(p.cfg.threads, 9);
    cr_assert_str_eq(p.cfg.backend, "cpu");

    /* after `--` it is a positional, not a config file */
    PARSE(&p, TL_CMD_RECON, 1, "--", "--config");
    cr_assert_eq(p.st, TL_OK, "%s", p.err.message);
    cr_assert_str_eq(p.pos[0], "--config");

    PARSE(&p, TL_CMD_RECON, 1, "--config");
    cr_assert_str_eq(p.err.message, "--config needs a value (the path of an INI file)");
    PARSE(&p, TL_CMD_RECON, 1, "--config=");
    assert_has(p.err.message, "--config needs a value");
    PARSE(&p, TL_CMD_RECON, 1, "--config", "missing.conf");
    cr_assert_str_eq(p.err.message, "cannot read config file 'missing.conf': No such file or directory");
    const char *bad = write_file(dir, "bad.conf", "[recon]\n\nfbp-filter = foo\n");
    PARSE(&p, TL_CMD_RECON, 1, "--config", bad);
    char want[4400];
    snprintf(want, sizeof want, "%s:3: --fbp-filter: 'foo' is not one of ramp, shepp", bad);
    assert_has(p.err.message, want);
}

/* ------------------------------------------------------------------------------------------ */
/* --help                                                                                      */

Test(config_help, recon_lists_its_flags_only)
{
    char *s = help_text(TL_CMD_RECON);
    assert_has(s, "--config FILE");
    assert_has(s, "read parameters from an INI file (command-line flags override it)");
    assert_has(s, "  [general]\n");
    assert_has(s, "  [recon]\n");
    assert_has(s, "-o, --out-path-name PATH");
    assert_has(s, "--threads N ");
    assert_has(s, "one of: ramp|shepp|cosine|hamming|hann|parzen  (default: ramp)");
    assert_has(s, "(default: 0, range 0..4096)");
    assert_has(s, "--no-minus-log turns it off");
    cr_assert_null(strstr(s, "[sim]"));
    for (size_t i = 0; i < tl_config_param_count(); i++) {
        const tl_param_def *d = tl_config_param_at(i);
        char flag[160];
        snprintf(flag, sizeof flag, "--%s", d->flag);
        /* "--flag" followed by a space or end of line, so --size does not match --size-x */
        int found = 0;
        for (const char *p = strstr(s, flag); p; p = strstr(p + 1, flag))
            if (p[strlen(flag)] == ' ' || p[strlen(flag)] == '\n')
                found = 1;
        if (d->commands & TL_CMD_RECON)
            cr_assert(found, "recon help lacks %s", flag);
        else
            cr_assert(!found, "recon help shows %s", flag);
    }
    /* sections in table order */
    cr_assert(strstr(s, "[general]") < strstr(s, "[recon]"));
    cr_assert(strstr(s, "[recon]") < strstr(s, "[output]"));
    free(s);
}

Test(config_help, fits_in_100_columns_for_every_command)
{
    for (size_t c = 0; c < sizeof all_commands / sizeof all_commands[0]; c++) {
        char *s = help_text(all_commands[c]);
        int line = 1;
        for (char *p = s; *p;) {
            char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            cr_assert(n <= 100, "help line %d is %zu columns: %.*s", line, n, (int)n, p);
            p += n + (nl ? 1 : 0);
            line++;
        }
        free(s);
    }
    char *sim = help_text(TL_CMD_SIM);
    assert_has(sim, "  [sim]\n");
    assert_has(sim, "--ellipses N");
    cr_assert_null(strstr(sim, "--fbp-filter"));
    free(sim);
}
