/* config.c - the parameter table of params.def, and everything generated from it:
 * lookup, parsing of values, the INI reader and writer, argv parsing, --help.
 *
 * Design notes (why things are the way they are):
 * - There is one path from text to a stored value, set_value(). Table defaults,
 *   config files and the command line all go through it, so a default that the
 *   parser would reject is caught by the tests, and a value written by
 *   tl_config_write_ini() is read back bit for bit (floats are written with the
 *   fewest digits that round-trip, strings are quoted when the INI syntax would
 *   otherwise change them).
 * - Every message names the option as `--flag` (also for config-file keys, so a
 *   user learns one name), quotes the value and says what is allowed. Messages
 *   from a file are prefixed with FILE:LINE.
 * - Nothing here allocates except the INI line buffer; tl_config is a plain
 *   struct that callers may copy.
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "log.h"

/* ------------------------------------------------------------------------------------------ */
/* The table                                                                                   */

static const tl_param_def param_table[] = {
#define TL_PARAM(field, flag, shrt, type, def, mn, mx, choices, section, commands, validator, help) \
    {#field, flag, shrt, TL_PT_##type, def, mn, mx, choices, section, commands, validator, help,   \
     offsetof(tl_config, field)},
#include "params.def"
#undef TL_PARAM
};

#define N_PARAMS (sizeof param_table / sizeof param_table[0])

/* Longest flag name we look up; longer words cannot be in the table. */
#define FLAG_NAME_MAX 128

size_t tl_config_param_count(void)
{
    return N_PARAMS;
}

const tl_param_def *tl_config_param_at(size_t index)
{
    return index < N_PARAMS ? &param_table[index] : NULL;
}

/* Flag names compare equal when they differ only by '_' versus '-'. */
static int flag_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a == '_' ? '-' : *a;
        char cb = *b == '_' ? '-' : *b;
        if (ca != cb)
            return 0;
    }
    return *a == *b;
}

const tl_param_def *tl_config_find(const char *flag)
{
    if (!flag)
        return NULL;
    for (size_t i = 0; i < N_PARAMS; i++)
        if (flag_equal(flag, param_table[i].flag))
            return &param_table[i];
    return NULL;
}

static const tl_param_def *find_short(char c)
{
    if (c == '\0')
        return NULL;
    for (size_t i = 0; i < N_PARAMS; i++)
        if (param_table[i].short_flag == c)
            return &param_table[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Small text helpers                                                                          */

const char *tl_config_command_name(unsigned command)
{
    static const char *const names[] = {
#define TL_X_CMD_NAME(name, text) text,
        TL_COMMAND_TABLE(TL_X_CMD_NAME)
#undef TL_X_CMD_NAME
    };
    for (unsigned i = 0; i < TL_CMD_COUNT; i++)
        if (command & (1u << i))
            return names[i];
    return "?";
}

static const char *command_name(unsigned command) { return tl_config_command_name(command); }

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int ascii_isspace(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int equal_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* A value as it appears in a message: quoted, shortened when long, control
 * characters shown as '?', so a stray 4000-character path cannot push "what is
 * allowed" out of the message. */
static const char *shown(const char *value, char *buf, size_t size)
{
    const size_t keep = 60;
    size_t len = strlen(value);
    size_t n = len > keep ? keep : len;
    size_t j = 0;
    buf[j++] = '\'';
    for (size_t i = 0; i < n && j + 1 < size; i++) {
        unsigned char c = (unsigned char)value[i];
        buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[j] = '\0';
    if (len > keep)
        snprintf(buf + j, size - j, "...' (%zu characters)", len);
    else
        snprintf(buf + j, size - j, "'");
    return buf;
}

/* Shortest "%.*g" text that reads back as exactly `v` (so INI files round-trip
 * while 0.1 still prints as 0.1). */
static void format_double(double v, char *buf, size_t size)
{
    for (int prec = 10; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* "ramp|shepp|cosine" -> "ramp, shepp, cosine" */
static void choices_list(const char *choices, const char *sep, char *buf, size_t size)
{
    size_t j = 0;
    buf[0] = '\0';
    for (const char *p = choices; *p && j + 1 < size; p++) {
        if (*p == '|') {
            for (const char *s = sep; *s && j + 1 < size; s++)
                buf[j++] = *s;
        } else {
            buf[j++] = *p;
        }
    }
    buf[j] = '\0';
}

static int choice_count(const char *choices)
{
    int n = 1;
    for (const char *p = choices; *p; p++)
        n += *p == '|';
    return n;
}

/* "what is allowed", without parentheses: "0 to 4096", "one of a, b", ... */
static void allowed_text(const tl_param_def *def, char *buf, size_t size)
{
    char lo[64], hi[64];
    switch (def->type) {
    case TL_PT_INT:
        snprintf(buf, size, "%ld to %ld", (long)def->min, (long)def->max);
        break;
    case TL_PT_FLOAT:
        format_double(def->min, lo, sizeof lo);
        format_double(def->max, hi, sizeof hi);
        snprintf(buf, size, "%s to %s", lo, hi);
        break;
    case TL_PT_BOOL:
        snprintf(buf, size, "true, false, yes, no, on, off, 1, 0");
        break;
    case TL_PT_CHOICE: {
        char list[512];
        choices_list(def->choices ? def->choices : "", ", ", list, sizeof list);
        snprintf(buf, size, "%s", list);
        break;
    }
    case TL_PT_STRING:
        snprintf(buf, size, "text of at most %d characters", TL_CONFIG_STRING_MAX - 1);
        break;
    }
}

/* Optimal string alignment distance (Levenshtein plus adjacent transposition),
 * with three rolling rows; names longer than FLAG_NAME_MAX are "far" from
 * everything. '_' and '-' count as the same character. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > FLAG_NAME_MAX || lb > FLAG_NAME_MAX)
        return SIZE_MAX;
    size_t rows[3][FLAG_NAME_MAX + 1];
    size_t *before = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        char ca = a[i - 1] == '_' ? '-' : a[i - 1];
        for (size_t j = 1; j <= lb; j++) {
            char cb = b[j - 1] == '_' ? '-' : b[j - 1];
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + (ca != cb) < best)
                best = prev[j - 1] + (ca != cb);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = before;
        before = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* The candidate closest to `word`, or NULL when none is close enough to be a
 * plausible typo. Candidates: "a|b|c" style list in `cands` (sep '|'). A unique
 * candidate that starts with or contains the word also counts ("--fbp"). */
static int suggest_from_list(const char *word, const char *const *cands, size_t n, size_t *best_index)
{
    size_t wl = strlen(word);
    size_t best = SIZE_MAX, best_i = 0;
    for (size_t i = 0; i < n; i++) {
        size_t dist = edit_distance(word, cands[i]);
        if (dist < best) {
            best = dist;
            best_i = i;
        }
    }
    size_t limit = wl < 4 ? 1 : (wl / 3 > 2 ? wl / 3 : 2);
    if (n > 0 && best <= limit && best < wl) {
        *best_index = best_i;
        return 1;
    }
    if (wl >= 3) {
        size_t hits = 0, hit_i = 0;
        for (size_t i = 0; i < n; i++) {
            if (strstr(cands[i], word)) {
                hits++;
                hit_i = i;
            }
        }
        if (hits == 1) {
            *best_index = hit_i;
            return 1;
        }
    }
    return 0;
}

/* Closest flag among the parameters of `mask` (plus "config" when asked). */
static const char *suggest_flag(const char *word, unsigned mask, int with_config)
{
    const char *cands[N_PARAMS + 1];
    size_t n = 0;
    for (size_t i = 0; i < N_PARAMS; i++)
        if (param_table[i].commands & mask)
            cands[n++] = param_table[i].flag;
    if (with_config)
        cands[n++] = "config";
    size_t k;
    return suggest_from_list(word, cands, n, &k) ? cands[k] : NULL;
}

/* origin "command line", "default" or NULL says nothing useful in a message;
 * anything else is FILE:LINE and prefixes the message. */
static int origin_is_file(const char *origin)
{
    return origin && *origin && strcmp(origin, "command line") != 0 && strcmp(origin, "default") != 0;
}

static tl_status unknown_option(tl_error *err, unsigned command, const char *typed, const char *name)
{
    const char *cmd = command_name(command);
    const char *best = name ? suggest_flag(name, command, 1) : NULL;
    if (best)
        return tl_error_set(err, TL_ERR_INVALID,
                            "unknown option '%s' (did you mean '--%s'? see 'tomoline %s --help')", typed,
                            best, cmd);
    return tl_error_set(err, TL_ERR_INVALID, "unknown option '%s' (see 'tomoline %s --help')", typed, cmd);
}

/* ------------------------------------------------------------------------------------------ */
/* Values                                                                                      */

static const char *const bool_true[] = {"true", "yes", "on", "1"};
static const char *const bool_false[] = {"false", "no", "off", "0"};

/* 1 true, 0 false, -1 not a boolean word */
static int parse_bool(const char *value)
{
    for (size_t i = 0; i < sizeof bool_true / sizeof bool_true[0]; i++) {
        if (equal_nocase(value, bool_true[i]))
            return 1;
        if (equal_nocase(value, bool_false[i]))
            return 0;
    }
    return -1;
}

/* Whole-string base-10 integer. Returns 0 on success, -1 when it is not an
 * integer, 1 when it is an integer too large for long (sign in *overflow_sign). */
static int parse_long(const char *s, long *out, int *overflow_sign)
{
    if (!*s || ascii_isspace((unsigned char)*s))
        return -1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        return -1;
    if (errno == ERANGE) {
        *overflow_sign = v < 0 ? -1 : 1;
        return 1;
    }
    *out = v;
    return 0;
}

/* Whole-string finite number. Returns 0 on success, -1 when it is not a number,
 * 1 when it is not finite (nan, inf, or too large for a double). */
static int parse_double(const char *s, double *out)
{
    if (!*s || ascii_isspace((unsigned char)*s))
        return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -1;
    if (!isfinite(v))
        return 1;
    *out = v; /* underflow to a tiny or zero value is still a finite number */
    return 0;
}

/* Check `value` for `def` and store it. Messages start with "--flag: " and
 * carry no origin; the caller adds it. */
static tl_status set_value(tl_config *cfg, const tl_param_def *def, const char *value, tl_error *err)
{
    char q[128];
    char allowed[512];
    char *member = (char *)cfg + def->offset;

    if (!value)
        return tl_error_set(err, TL_ERR_INVALID, "--%s needs a value", def->flag);
    allowed_text(def, allowed, sizeof allowed);

    switch (def->type) {
    case TL_PT_INT: {
        long v = 0;
        int sign = 0;
        int r = parse_long(value, &v, &sign);
        if (r < 0)
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is not an integer (allowed: %s)", def->flag,
                                shown(value, q, sizeof q), allowed);
        if (r > 0 || (double)v < def->min || (double)v > def->max) {
            int below = r > 0 ? sign < 0 : (double)v < def->min;
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is %s %ld (allowed: %s)", def->flag,
                                shown(value, q, sizeof q), below ? "below the minimum" : "above the maximum",
                                below ? (long)def->min : (long)def->max, allowed);
        }
        if (def->validator) {
            tl_status st = def->validator(def->flag, value, err);
            if (st != TL_OK)
                return st;
        }
        memcpy(member, &v, sizeof v);
        return TL_OK;
    }
    case TL_PT_FLOAT: {
        double v = 0;
        int r = parse_double(value, &v);
        if (r < 0)
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is not a number (allowed: %s)", def->flag,
                                shown(value, q, sizeof q), allowed);
        if (r > 0)
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is not a finite number (allowed: %s)",
                                def->flag, shown(value, q, sizeof q), allowed);
        if (v < def->min || v > def->max) {
            int below = v < def->min;
            char bound[64];
            format_double(below ? def->min : def->max, bound, sizeof bound);
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is %s %s (allowed: %s)", def->flag,
                                shown(value, q, sizeof q), below ? "below the minimum" : "above the maximum",
                                bound, allowed);
        }
        if (def->validator) {
            tl_status st = def->validator(def->flag, value, err);
            if (st != TL_OK)
                return st;
        }
        memcpy(member, &v, sizeof v);
        return TL_OK;
    }
    case TL_PT_BOOL: {
        int b = parse_bool(value);
        if (b < 0)
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is not a boolean (allowed: %s)", def->flag,
                                shown(value, q, sizeof q), allowed);
        if (def->validator) {
            tl_status st = def->validator(def->flag, value, err);
            if (st != TL_OK)
                return st;
        }
        memcpy(member, &b, sizeof b);
        return TL_OK;
    }
    case TL_PT_CHOICE: {
        /* Matching ignores case; the table's spelling is stored. */
        const char *choices = def->choices ? def->choices : "";
        const char *p = choices;
        size_t vlen = strlen(value);
        while (*p) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t)(bar - p) : strlen(p);
            if (n == vlen && n < TL_CONFIG_CHOICE_MAX) {
                size_t k = 0;
                while (k < n && ascii_lower((unsigned char)p[k]) == ascii_lower((unsigned char)value[k]))
                    k++;
                if (k == n) {
                    if (def->validator) {
                        tl_status st = def->validator(def->flag, value, err);
                        if (st != TL_OK)
                            return st;
                    }
                    memset(member, 0, TL_CONFIG_CHOICE_MAX);
                    memcpy(member, p, n);
                    return TL_OK;
                }
            }
            p += n;
            if (*p == '|')
                p++;
        }
        if (choice_count(choices) == 1)
            return tl_error_set(err, TL_ERR_INVALID,
                                "--%s: %s is not one of the choices (only '%s' is available in this version)",
                                def->flag, shown(value, q, sizeof q), choices);
        /* suggest a close choice ("han" -> "hann") */
        const char *cands[64];
        char names[512];
        size_t n = 0;
        snprintf(names, sizeof names, "%s", choices);
        for (char *tok = names; tok && n < 64;) {
            char *bar = strchr(tok, '|');
            if (bar)
                *bar = '\0';
            cands[n++] = tok;
            tok = bar ? bar + 1 : NULL;
        }
        size_t k;
        if (suggest_from_list(value, cands, n, &k))
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is not one of %s (did you mean '%s'?)",
                                def->flag, shown(value, q, sizeof q), allowed, cands[k]);
        return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is not one of %s", def->flag,
                            shown(value, q, sizeof q), allowed);
    }
    case TL_PT_STRING: {
        size_t len = strlen(value);
        if (len >= TL_CONFIG_STRING_MAX)
            return tl_error_set(err, TL_ERR_INVALID, "--%s: %s is too long (allowed: %s)", def->flag,
                                shown(value, q, sizeof q), allowed);
        /* Control characters (newlines above all) could not be written back
         * into a config file, and are never intended in a path. */
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c < 0x20 || c == 0x7f)
                return tl_error_set(err, TL_ERR_INVALID,
                                    "--%s: %s contains a control character at position %zu (allowed: "
                                    "printable text)",
                                    def->flag, shown(value, q, sizeof q), i + 1);
        }
        if (def->validator) {
            tl_status st = def->validator(def->flag, value, err);
            if (st != TL_OK)
                return st;
        }
        memset(member, 0, TL_CONFIG_STRING_MAX);
        memcpy(member, value, len);
        return TL_OK;
    }
    }
    return tl_error_set(err, TL_ERR_INTERNAL, "--%s: parameter of unknown type in params.def", def->flag);
}

tl_status tl_validate_rotation_axis(const char *flag, const char *value, tl_error *err)
{
    char q[128];
    const char *name = flag ? flag : "rotation-axis";
    while (*name == '-')
        name++;
    if (!value)
        return tl_error_set(err, TL_ERR_INVALID, "--%s needs a value (a column position such as 127.5, "
                                                 "'center' or 'auto')",
                            name);
    if (strcmp(value, "center") == 0)
        return TL_OK;
    double v;
    int r = parse_double(value, &v);
    if (r == 0)
        return TL_OK;
    if (strcmp(value, "auto") == 0)
        return TL_OK;
    if (r > 0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "--%s: %s is not a finite number (allowed: a column position such as 127.5, or "
                            "'center')",
                            name, shown(value, q, sizeof q));
    return tl_error_set(err, TL_ERR_INVALID,
                        "--%s: %s is not a number (allowed: a column position such as 127.5, 'center' or 'auto')",
                        name, shown(value, q, sizeof q));
}

void tl_config_defaults(tl_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_PARAMS; i++) {
        tl_error err;
        tl_error_clear(&err);
        if (set_value(cfg, &param_table[i], param_table[i].default_text, &err) != TL_OK) {
            /* A programming error in params.def; test_config catches it. */
            tl_log(TL_LOG_ERROR, "internal error: bad default in params.def: %s", err.message);
        }
    }
}

/* The command check and the origin prefix around set_value(). */
static tl_status set_checked(tl_config *cfg, unsigned command, const tl_param_def *def, const char *value,
                             const char *origin, tl_error *err)
{
    tl_status st;
    if (!(def->commands & command)) {
        char users[512] = "";
        unsigned bits[TL_CMD_COUNT];
        for (unsigned k = 0; k < TL_CMD_COUNT; k++)
            bits[k] = 1u << k;
        for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
            if (def->commands & bits[b]) {
                size_t used = strlen(users);
                snprintf(users + used, sizeof users - used, "%s'tomoline %s'", used ? " and " : "",
                         command_name(bits[b]));
            }
        }
        st = tl_error_set(err, TL_ERR_INVALID,
                          "--%s is not an option of 'tomoline %s' (see 'tomoline %s --help'); it is an option "
                          "of %s",
                          def->flag, command_name(command), command_name(command), users);
    } else {
        st = set_value(cfg, def, value, err);
    }
    if (st != TL_OK && origin_is_file(origin))
        tl_error_prefix(err, "%s", origin);
    return st;
}

tl_status tl_config_set(tl_config *cfg, unsigned command, const char *flag, const char *value,
                        const char *origin, tl_error *err)
{
    if (!cfg || !flag)
        return tl_error_set(err, TL_ERR_INTERNAL, "tl_config_set: no configuration or no option name");
    const tl_param_def *def = tl_config_find(flag);
    if (!def) {
        char typed[FLAG_NAME_MAX + 8];
        snprintf(typed, sizeof typed, "--%s", flag);
        tl_status st = unknown_option(err, command, typed, flag);
        if (origin_is_file(origin))
            tl_error_prefix(err, "%s", origin);
        return st;
    }
    return set_checked(cfg, command, def, value, origin, err);
}

void tl_config_format_value(const tl_config *cfg, const tl_param_def *def, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    const char *member = (const char *)cfg + def->offset;
    switch (def->type) {
    case TL_PT_INT: {
        long v;
        memcpy(&v, member, sizeof v);
        snprintf(buf, size, "%ld", v);
        return;
    }
    case TL_PT_FLOAT: {
        double v;
        memcpy(&v, member, sizeof v);
        format_double(v, buf, size);
        return;
    }
    case TL_PT_BOOL: {
        int v;
        memcpy(&v, member, sizeof v);
        snprintf(buf, size, "%s", v ? "true" : "false");
        return;
    }
    case TL_PT_CHOICE:
        snprintf(buf, size, "%.*s", TL_CONFIG_CHOICE_MAX, member);
        return;
    case TL_PT_STRING:
        snprintf(buf, size, "%.*s", TL_CONFIG_STRING_MAX, member);
        return;
    }
    buf[0] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* INI files                                                                                   */

static int is_section(const char *name)
{
    for (size_t i = 0; i < N_PARAMS; i++)
        if (strcmp(param_table[i].section, name) == 0)
            return 1;
    return 0;
}

/* "general, recon, output, sim", in table order */
static void section_list(char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < N_PARAMS; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(param_table[j].section, param_table[i].section) == 0;
        if (!seen) {
            size_t used = strlen(buf);
            snprintf(buf + used, size - used, "%s%s", used ? ", " : "", param_table[i].section);
        }
    }
}

static char *trim(char *s)
{
    while (ascii_isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && ascii_isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Text after a closing quote or ']' may only be blank or a comment. */
static int rest_is_blank_or_comment(const char *s)
{
    while (ascii_isspace((unsigned char)*s))
        s++;
    return *s == '\0' || *s == '#' || *s == ';';
}

/* The value part of `key = value` (modified in place): quotes stripped, or a
 * trailing " # comment" removed. Returns NULL for an unterminated quote. */
static char *ini_value(char *s)
{
    while (ascii_isspace((unsigned char)*s))
        s++;
    if (*s == '"') {
        /* the closing quote is the first '"' after which only a comment follows,
         * so a quoted value may itself contain '"' */
        for (char *p = s + 1; *p; p++) {
            if (*p == '"' && rest_is_blank_or_comment(p + 1)) {
                *p = '\0';
                return s + 1;
            }
        }
        return NULL;
    }
    for (char *p = s; *p; p++) {
        if (*p == '#' && (p == s || ascii_isspace((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    }
    return trim(s);
}

tl_status tl_config_load_file(tl_config *cfg, unsigned command, const char *path, tl_error *err)
{
    if (!cfg || !path)
        return tl_error_set(err, TL_ERR_INTERNAL, "tl_config_load_file: no configuration or no path");
    FILE *f = fopen(path, "r");
    if (!f)
        return tl_error_set(err, TL_ERR_IO, "cannot read config file '%s': %s", path, strerror(errno));

    tl_status st = TL_OK;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    char section[TL_CONFIG_CHOICE_MAX] = "";
    char q[128];
    char sections[256];

    errno = 0;
    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            st = tl_error_set(err, TL_ERR_FORMAT, "%s:%ld: the line contains a NUL byte (is this a text file?)",
                              path, lineno);
            goto done;
        }
        char *s = line;
        if (lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
            (unsigned char)s[2] == 0xBF)
            s += 3; /* UTF-8 byte-order mark written by some editors */
        s = trim(s);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;

        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) {
                st = tl_error_set(err, TL_ERR_FORMAT, "%s:%ld: section header %s has no closing ']'", path,
                                  lineno, shown(s, q, sizeof q));
                goto done;
            }
            if (!rest_is_blank_or_comment(close + 1)) {
                st = tl_error_set(err, TL_ERR_FORMAT,
                                  "%s:%ld: unexpected text after the section header: %s (allowed: a comment "
                                  "starting with '#' or ';')",
                                  path, lineno, shown(close + 1, q, sizeof q));
                goto done;
            }
            *close = '\0';
            char *name = trim(s + 1);
            if (!is_section(name)) {
                section_list(sections, sizeof sections);
                st = tl_error_set(err, TL_ERR_FORMAT, "%s:%ld: unknown section [%s] (sections: %s)", path,
                                  lineno, name, sections);
                goto done;
            }
            snprintf(section, sizeof section, "%s", name);
            continue;
        }

        char *eq = strchr(s, '=');
        if (!eq) {
            st = tl_error_set(err, TL_ERR_FORMAT,
                              "%s:%ld: expected 'key = value', '[section]' or a comment, found %s", path,
                              lineno, shown(s, q, sizeof q));
            goto done;
        }
        *eq = '\0';
        char *key = trim(s);
        if (*key == '\0') {
            st = tl_error_set(err, TL_ERR_FORMAT, "%s:%ld: a value without a key (expected 'key = value')",
                              path, lineno);
            goto done;
        }
        const tl_param_def *def = tl_config_find(key);
        if (!def) {
            const char *best = suggest_flag(key, TL_CMD_ALL, 0);
            if (best)
                st = tl_error_set(err, TL_ERR_FORMAT,
                                  "%s:%ld: unknown key %s (did you mean '%s'? see 'tomoline %s --help')", path,
                                  lineno, shown(key, q, sizeof q), best, command_name(command));
            else
                st = tl_error_set(err, TL_ERR_FORMAT, "%s:%ld: unknown key %s (see 'tomoline %s --help')", path,
                                  lineno, shown(key, q, sizeof q), command_name(command));
            goto done;
        }
        if (section[0] == '\0') {
            st = tl_error_set(err, TL_ERR_FORMAT,
                              "%s:%ld: key '%s' comes before any section header (it belongs in [%s])", path,
                              lineno, def->flag, def->section);
            goto done;
        }
        if (strcmp(section, def->section) != 0) {
            st = tl_error_set(err, TL_ERR_FORMAT, "%s:%ld: key '%s' belongs in section [%s], not [%s]", path,
                              lineno, def->flag, def->section, section);
            goto done;
        }
        char *value = ini_value(eq + 1);
        if (!value) {
            st = tl_error_set(err, TL_ERR_FORMAT, "%s:%ld: the value of '%s' has no closing '\"'", path, lineno,
                              def->flag);
            goto done;
        }
        /* One file may serve several commands: keys of other commands are skipped. */
        if (!(def->commands & command))
            continue;
        char origin[4200];
        snprintf(origin, sizeof origin, "%s:%ld", path, lineno);
        st = set_checked(cfg, command, def, value, origin, err);
        if (st != TL_OK)
            goto done;
    }
    if (ferror(f))
        st = tl_error_set(err, TL_ERR_IO, "cannot read config file '%s': %s", path,
                          errno ? strerror(errno) : "read error");
done:
    free(line);
    fclose(f);
    return st;
}

/* A value for `key = value` that reads back as exactly `value`. */
static void write_ini_value(FILE *out, const char *value)
{
    size_t n = strlen(value);
    int quote = n == 0 || ascii_isspace((unsigned char)value[0]) || ascii_isspace((unsigned char)value[n - 1]) ||
                value[0] == '"' || strchr(value, '#') != NULL || value[0] == ';';
    if (quote)
        fprintf(out, "\"%s\"\n", value);
    else
        fprintf(out, "%s\n", value);
}

/* Sections are printed in table order: true when row i is the first row of its
 * section and the section holds at least one parameter of `command`. */
static int section_starts_at(size_t i, unsigned command)
{
    const char *sec = param_table[i].section;
    for (size_t j = 0; j < i; j++)
        if (strcmp(param_table[j].section, sec) == 0)
            return 0;
    for (size_t j = i; j < N_PARAMS; j++)
        if (strcmp(param_table[j].section, sec) == 0 && (param_table[j].commands & command))
            return 1;
    return 0;
}

void tl_config_write_ini(FILE *out, const tl_config *cfg, unsigned command)
{
    char value[TL_CONFIG_STRING_MAX + 64];
    fprintf(out, "# tomoline %s configuration\n", command_name(command));
    fprintf(out, "# load with 'tomoline %s --config FILE'; command-line flags override these values\n",
            command_name(command));
    for (size_t i = 0; i < N_PARAMS; i++) {
        const char *sec = param_table[i].section;
        if (!section_starts_at(i, command))
            continue;
        fprintf(out, "\n[%s]\n", sec);
        for (size_t j = i; j < N_PARAMS; j++) {
            const tl_param_def *def = &param_table[j];
            if (strcmp(def->section, sec) != 0 || !(def->commands & command))
                continue;
            char list[512], lo[64], hi[64];
            fprintf(out, "# %s\n", def->help);
            if (def->type == TL_PT_CHOICE && def->choices) {
                choices_list(def->choices, "|", list, sizeof list);
                fprintf(out, "#   one of: %s\n", list);
            } else if (def->type == TL_PT_INT) {
                fprintf(out, "#   range %ld..%ld\n", (long)def->min, (long)def->max);
            } else if (def->type == TL_PT_FLOAT) {
                format_double(def->min, lo, sizeof lo);
                format_double(def->max, hi, sizeof hi);
                fprintf(out, "#   range %s..%s\n", lo, hi);
            }
            fprintf(out, "%s = ", def->flag);
            tl_config_format_value(cfg, def, value, sizeof value);
            write_ini_value(out, value);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Command line                                                                                */

/* A word that cannot be the value of the option before it. Single-dash words
 * may be values ("--rotation-axis -3", "-o -"). */
static int looks_like_long_option(const char *s)
{
    return s[0] == '-' && s[1] == '-';
}

static tl_status missing_value(tl_error *err, const char *typed, const tl_param_def *def)
{
    char allowed[512];
    allowed_text(def, allowed, sizeof allowed);
    switch (def->type) {
    case TL_PT_INT:
        return tl_error_set(err, TL_ERR_INVALID, "%s needs a value (an integer from %s)", typed, allowed);
    case TL_PT_FLOAT:
        return tl_error_set(err, TL_ERR_INVALID, "%s needs a value (a number from %s)", typed, allowed);
    case TL_PT_CHOICE:
        return tl_error_set(err, TL_ERR_INVALID, "%s needs a value (one of %s)", typed, allowed);
    case TL_PT_STRING:
        if (def->validator == tl_validate_rotation_axis)
            return tl_error_set(err, TL_ERR_INVALID,
                                "%s needs a value (a column position such as 127.5, 'center' or 'auto')", typed);
        return tl_error_set(err, TL_ERR_INVALID, "%s needs a value (%s)", typed, allowed);
    case TL_PT_BOOL:
        return tl_error_set(err, TL_ERR_INVALID, "%s needs a value (%s)", typed, allowed);
    }
    return tl_error_set(err, TL_ERR_INVALID, "%s needs a value", typed);
}

/* First pass: apply every `--config FILE` in order, before any flag. Values of
 * other options are stepped over so that `-o --config` style mistakes are left
 * to the second pass. */
static tl_status apply_config_files(tl_config *cfg, unsigned command, int argc, char **argv, int first,
                                    tl_error *err)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!a || strcmp(a, "--") == 0)
            break;
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc || !argv[i + 1] || looks_like_long_option(argv[i + 1]) || !argv[i + 1][0])
                return tl_error_set(err, TL_ERR_INVALID, "--config needs a value (the path of an INI file)");
            tl_status st = tl_config_load_file(cfg, command, argv[++i], err);
            if (st != TL_OK)
                return st;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            if (a[9] == '\0')
                return tl_error_set(err, TL_ERR_INVALID, "--config needs a value (the path of an INI file)");
            tl_status st = tl_config_load_file(cfg, command, a + 9, err);
            if (st != TL_OK)
                return st;
            continue;
        }
        const tl_param_def *def = NULL;
        if (a[0] == '-' && a[1] == '-' && !strchr(a, '='))
            def = tl_config_find(a + 2);
        else if (a[0] == '-' && a[1] != '-' && a[1] != '\0' && a[2] == '\0')
            def = find_short(a[1]);
        if (def && def->type != TL_PT_BOOL && i + 1 < argc && argv[i + 1] && !looks_like_long_option(argv[i + 1]))
            i++;
    }
    return TL_OK;
}

static tl_status too_many(tl_error *err, unsigned command, const char *word, int max_positional,
                          const tl_param_def *prev_bool)
{
    char q[128];
    char hint[256] = "";
    if (prev_bool && parse_bool(word) >= 0)
        snprintf(hint, sizeof hint, "; --%s takes no separate value, write --%s=%s", prev_bool->flag,
                 prev_bool->flag, word);
    if (max_positional <= 0)
        return tl_error_set(err, TL_ERR_INVALID,
                            "unexpected argument %s (tomoline %s takes no arguments besides options%s)",
                            shown(word, q, sizeof q), command_name(command), hint);
    return tl_error_set(err, TL_ERR_INVALID, "unexpected argument %s (tomoline %s takes %d input%s%s)",
                        shown(word, q, sizeof q), command_name(command), max_positional,
                        max_positional == 1 ? "" : "s", hint);
}

tl_status tl_config_parse_args(tl_config *cfg, unsigned command, int argc, char **argv, int first,
                               const char **positional, int max_positional, int *n_positional, tl_error *err)
{
    int npos = 0;
    if (n_positional)
        *n_positional = 0;
    if (!cfg || (argc > 0 && !argv))
        return tl_error_set(err, TL_ERR_INTERNAL, "tl_config_parse_args: no configuration or no arguments");
    if (first < 0)
        first = 0;
    if (!positional)
        max_positional = 0;

    tl_status st = apply_config_files(cfg, command, argc, argv, first, err);
    if (st != TL_OK)
        return st;

    int options_done = 0;
    const tl_param_def *prev_bool = NULL; /* a bare BOOL flag just before, for a hint */
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const tl_param_def *just_bool = NULL;
        if (!a)
            continue;
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (npos >= max_positional)
                return too_many(err, command, a, max_positional, prev_bool);
            positional[npos++] = a;
            if (n_positional)
                *n_positional = npos;
            prev_bool = NULL;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = 1;
            prev_bool = NULL;
            continue;
        }

        if (a[1] == '-') {
            /* long option: --name, --name=value, --name value, --no-name */
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            char buf[FLAG_NAME_MAX + 1];
            if (nlen > FLAG_NAME_MAX)
                return unknown_option(err, command, a, NULL);
            memcpy(buf, name, nlen);
            buf[nlen] = '\0';

            if (strcmp(buf, "config") == 0) { /* applied in the first pass */
                if (!eq)
                    i++;
                prev_bool = NULL;
                continue;
            }
            const tl_param_def *def = tl_config_find(buf);
            if (!def && strncmp(buf, "no-", 3) == 0) {
                const tl_param_def *neg = tl_config_find(buf + 3);
                if (neg && neg->type == TL_PT_BOOL) {
                    if (eq)
                        return tl_error_set(err, TL_ERR_INVALID,
                                            "--%s does not take a value (write --%s=true|false, or --%s or "
                                            "--%s alone)",
                                            buf, neg->flag, neg->flag, buf);
                    st = set_checked(cfg, command, neg, "false", "command line", err);
                    if (st != TL_OK)
                        return st;
                    prev_bool = NULL;
                    continue;
                }
            }
            if (!def) {
                char typed[FLAG_NAME_MAX + 3];
                snprintf(typed, sizeof typed, "--%s", buf);
                return unknown_option(err, command, typed, buf);
            }
            const char *value;
            if (eq) {
                value = eq + 1;
            } else if (def->type == TL_PT_BOOL) {
                value = "true";
                just_bool = def;
            } else {
                if (!(def->commands & command))
                    return set_checked(cfg, command, def, NULL, "command line", err);
                if (i + 1 >= argc || !argv[i + 1] || looks_like_long_option(argv[i + 1])) {
                    char typed[FLAG_NAME_MAX + 3];
                    snprintf(typed, sizeof typed, "--%s", def->flag);
                    return missing_value(err, typed, def);
                }
                value = argv[++i];
            }
            st = set_checked(cfg, command, def, value, "command line", err);
            if (st != TL_OK)
                return st;
            prev_bool = just_bool;
            continue;
        }

        /* short option: -o VALUE, -oVALUE, -v, -vq */
        const tl_param_def *def = find_short(a[1]);
        if (!def) {
            char typed[3] = {'-', a[1], '\0'};
            return unknown_option(err, command, typed, NULL);
        }
        if (def->type == TL_PT_BOOL) {
            for (const char *p = a + 1; *p; p++) {
                const tl_param_def *b = find_short(*p);
                if (!b || b->type != TL_PT_BOOL) {
                    char q[128];
                    return tl_error_set(err, TL_ERR_INVALID,
                                        "unknown option %s ('-%c' is not an on/off option; see 'tomoline %s "
                                        "--help')",
                                        shown(a, q, sizeof q), *p, command_name(command));
                }
                st = set_checked(cfg, command, b, "true", "command line", err);
                if (st != TL_OK)
                    return st;
            }
            prev_bool = a[2] == '\0' ? def : NULL;
            continue;
        }
        if (!(def->commands & command))
            return set_checked(cfg, command, def, NULL, "command line", err);
        const char *value;
        if (a[2] != '\0') {
            value = a + 2;
        } else {
            if (i + 1 >= argc || !argv[i + 1] || looks_like_long_option(argv[i + 1])) {
                char typed[FLAG_NAME_MAX + 16];
                snprintf(typed, sizeof typed, "-%c (--%s)", a[1], def->flag);
                return missing_value(err, typed, def);
            }
            value = argv[++i];
        }
        st = set_checked(cfg, command, def, value, "command line", err);
        if (st != TL_OK)
            return st;
        prev_bool = NULL;
    }
    return TL_OK;
}

tl_status tl_config_check(const tl_config *cfg, unsigned command, tl_error *err)
{
    const tl_param_def *start = tl_config_find("start-row");
    const tl_param_def *end = tl_config_find("end-row");
    if (start && end && (start->commands & command) && (end->commands & command)) {
        if (cfg->end_row != -1 && cfg->end_row <= cfg->start_row)
            return tl_error_set(err, TL_ERR_INVALID,
                                "--end-row %ld is not after --start-row %ld (rows are start..end-1; -1 means "
                                "to the last row)",
                                cfg->end_row, cfg->start_row);
    }
    const tl_param_def *verbose = tl_config_find("verbose");
    const tl_param_def *quiet = tl_config_find("quiet");
    if (verbose && quiet && (verbose->commands & command) && (quiet->commands & command) && cfg->verbose &&
        cfg->quiet)
        return tl_error_set(err, TL_ERR_INVALID, "--verbose and --quiet cannot both be set (pick one)");
    return TL_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* --help                                                                                      */

#define HELP_WIDTH 100
#define HELP_INDENT 4
#define HELP_FLAG_COL_MAX 26 /* flags longer than this put their help on the next line */

static const char *metavar(const tl_param_def *def)
{
    switch (def->type) {
    case TL_PT_INT:
        return "N";
    case TL_PT_FLOAT:
        return "X";
    case TL_PT_CHOICE:
        return "NAME";
    case TL_PT_STRING:
        if (def->validator == tl_validate_rotation_axis)
            return "A";
        return strstr(def->flag, "path") ? "PATH" : "TEXT";
    case TL_PT_BOOL:
        return "";
    }
    return "";
}

static void flag_text(const tl_param_def *def, char *buf, size_t size)
{
    const char *mv = metavar(def);
    if (def->short_flag)
        snprintf(buf, size, "-%c, --%s%s%s", def->short_flag, def->flag, *mv ? " " : "", mv);
    else
        snprintf(buf, size, "--%s%s%s", def->flag, *mv ? " " : "", mv);
}

/* Print `text` from column `col` (already reached) up to HELP_WIDTH, continuing
 * wrapped lines at column `col`, without a final newline. Returns the column
 * reached. */
static int print_wrapped(FILE *out, const char *text, int col)
{
    size_t avail = HELP_WIDTH > col + 20 ? (size_t)(HELP_WIDTH - col) : 20;
    const char *p = text;
    for (;;) {
        size_t len = strlen(p);
        if (len <= avail) {
            fprintf(out, "%s", p);
            return col + (int)len;
        }
        size_t cut = avail;
        while (cut > 0 && p[cut] != ' ')
            cut--;
        if (cut == 0) { /* one long word: let it overflow rather than split it */
            cut = avail;
            while (p[cut] && p[cut] != ' ')
                cut++;
        }
        size_t end = cut;
        while (end > 0 && p[end - 1] == ' ')
            end--;
        fprintf(out, "%.*s", (int)end, p);
        p += cut;
        while (*p == ' ')
            p++;
        if (!*p)
            return col + (int)end;
        fprintf(out, "\n%*s", col, "");
    }
}

/* One option: flags, help, then `inline_detail` after the help when it fits on
 * the same line (else on its own line), then `line_detail` on its own line. */
static void print_option(FILE *out, const char *flags, const char *help, const char *inline_detail,
                         const char *line_detail, int col)
{
    fprintf(out, "%*s%s", HELP_INDENT, "", flags);
    int used = HELP_INDENT + (int)strlen(flags);
    if (used + 2 > col)
        fprintf(out, "\n%*s", col, "");
    else
        fprintf(out, "%*s", col - used, "");
    int at = print_wrapped(out, help, col);
    if (inline_detail && *inline_detail) {
        if (at + 2 + (int)strlen(inline_detail) <= HELP_WIDTH) {
            fprintf(out, "  %s", inline_detail);
        } else {
            fprintf(out, "\n%*s", col, "");
            print_wrapped(out, inline_detail, col);
        }
    }
    if (line_detail && *line_detail) {
        fprintf(out, "\n%*s", col, "");
        print_wrapped(out, line_detail, col);
    }
    fputc('\n', out);
}

void tl_config_print_help(FILE *out, unsigned command)
{
    char flags[256];
    int col = (int)strlen("--config FILE");
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (!(param_table[i].commands & command))
            continue;
        flag_text(&param_table[i], flags, sizeof flags);
        int len = (int)strlen(flags);
        if (len <= HELP_FLAG_COL_MAX && len > col)
            col = len;
    }
    col += HELP_INDENT + 2;

    fprintf(out, "Options of 'tomoline %s' (defaults < --config FILE < command line; each option is also a\n"
                 "key of the config file, in the [section] it is listed under):\n\n",
            command_name(command));
    print_option(out, "--config FILE", "read parameters from an INI file (command-line flags override it)", NULL,
                 NULL, col);

    for (size_t i = 0; i < N_PARAMS; i++) {
        const char *sec = param_table[i].section;
        if (!section_starts_at(i, command))
            continue;
        fprintf(out, "\n  [%s]\n", sec);
        for (size_t j = i; j < N_PARAMS; j++) {
            const tl_param_def *def = &param_table[j];
            if (strcmp(def->section, sec) != 0 || !(def->commands & command))
                continue;
            char inl[256] = "", line[640] = "", list[512], lo[64], hi[64];
            flag_text(def, flags, sizeof flags);
            switch (def->type) {
            case TL_PT_INT:
                snprintf(inl, sizeof inl, "(default: %s, range %ld..%ld)", def->default_text, (long)def->min,
                         (long)def->max);
                break;
            case TL_PT_FLOAT:
                format_double(def->min, lo, sizeof lo);
                format_double(def->max, hi, sizeof hi);
                snprintf(inl, sizeof inl, "(default: %s, range %s..%s)", def->default_text, lo, hi);
                break;
            case TL_PT_BOOL:
                if (parse_bool(def->default_text) == 1)
                    snprintf(inl, sizeof inl, "(default: true; --no-%s turns it off)", def->flag);
                else
                    snprintf(inl, sizeof inl, "(default: false)");
                break;
            case TL_PT_STRING:
                if (def->default_text[0])
                    snprintf(inl, sizeof inl, "(default: %s)", def->default_text);
                else
                    snprintf(inl, sizeof inl, "(no default)");
                break;
            case TL_PT_CHOICE:
                choices_list(def->choices ? def->choices : "", "|", list, sizeof list);
                if (choice_count(def->choices ? def->choices : "") == 1)
                    snprintf(line, sizeof line, "the only choice in this version: %s", list);
                else
                    snprintf(line, sizeof line, "one of: %s  (default: %s)", list, def->default_text);
                break;
            }
            print_option(out, flags, def->help, inl, line, col);
        }
    }
}
