/* catalog.c - `tomoline catalog list | show ID | search | push`: read the catalog, deliver the outbox. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"

#define DEFAULT_OUTBOX ".tomoline-outbox"

static const tl_cli_command catalog_command = {
    .name = "catalog",
    .mask = TL_CMD_CATALOG,
    .usage = "catalog list|show ID|search|push --catalog URL [options]",
    .summary = "the catalog of reconstructions: list, show, search, and push waiting records",
    .description =
        "actions:\n"
        "  list              the newest records (at most --limit), as a table or --json\n"
        "  show ID           every field of one record; ID is the numeric id, the uuid,\n"
        "                    or a uuid prefix that names one record\n"
        "  search            records whose sample contains --sample TEXT (any case) and/or\n"
        "                    that were created on or after --since DATE, newest first\n"
        "  push              deliver the records waiting in --outbox DIR (default\n"
        "                    ./" DEFAULT_OUTBOX ") to the catalog; each file is removed once\n"
        "                    the catalog has it; exits 1 when some remain\n\n"
        "URL: sqlite:PATH (a file) or postgresql://[user@][host][:port][/dbname][?param=value]\n"
        "(the empty postgresql:// takes the PG* environment variables). Times are shown in UTC.",
    .max_positional = 2,
};

static const char *or_dash(const char *s) { return s && s[0] ? s : "-"; }

static void print_table(const tl_catalog_entries *list)
{
    int w_id = 2, w_sample = 6, w_shape = 5;
    char shape[64];
    for (size_t i = 0; i < list->count; i++) {
        const tl_catalog_entry *e = &list->items[i];
        int n = snprintf(NULL, 0, "%lld", e->id);
        if (n > w_id)
            w_id = n;
        n = (int)strlen(or_dash(e->sample));
        if (n > w_sample)
            w_sample = n > 32 ? 32 : n;
        n = snprintf(shape, sizeof shape, "%zux%zux%zu", e->shape[0], e->shape[1], e->shape[2]);
        if (n > w_shape)
            w_shape = n;
    }
    printf("%*s  %-20s  %-*s  %-*s  %9s  %s\n", w_id, "ID", "CREATED (UTC)", w_sample, "SAMPLE", w_shape, "SHAPE",
           "AXIS", "OUTPUT");
    for (size_t i = 0; i < list->count; i++) {
        const tl_catalog_entry *e = &list->items[i];
        snprintf(shape, sizeof shape, "%zux%zux%zu", e->shape[0], e->shape[1], e->shape[2]);
        char axis[32] = "-";
        if (isfinite(e->rotation_axis))
            snprintf(axis, sizeof axis, "%.2f", e->rotation_axis);
        const char *sample = or_dash(e->sample);
        int cut = (int)strlen(sample) > w_sample; /* a long name is shortened, marked by "..." */
        printf("%*lld  %-20s  %-*.*s%s  %-*s  %9s  %s\n", w_id, e->id, e->created, cut ? w_sample - 3 : w_sample,
               cut ? w_sample - 3 : w_sample, sample, cut ? "..." : "", w_shape, shape, axis, e->output_path);
    }
}

static void print_entry(const tl_catalog_entry *e)
{
    printf("id:            %lld\n", e->id);
    printf("uuid:          %s\n", e->uuid);
    printf("created:       %s\n", e->created);
    printf("status:        %s\n", or_dash(e->status));
    printf("sample:        %s\n", or_dash(e->sample));
    printf("proposal:      %s\n", or_dash(e->proposal));
    printf("beamline:      %s\n", or_dash(e->beamline));
    printf("output:        %s\n", e->output_path);
    printf("input:         %s\n", e->input_path);
    printf("checksum:      %s\n", or_dash(e->checksum));
    printf("shape:         %zu x %zu x %zu (z x y x x)\n", e->shape[0], e->shape[1], e->shape[2]);
    if (isfinite(e->rotation_axis)) {
        char axis[40]; /* the shortest text that reads back as the stored value */
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(axis, sizeof axis, "%.*g", digits, e->rotation_axis);
            if (strtod(axis, NULL) == e->rotation_axis)
                break;
        }
        printf("rotation axis: %s\n", axis);
    } else
        printf("rotation axis: -\n");
    if (e->n_params) {
        printf("parameters:\n");
        for (size_t i = 0; i < e->n_params; i++)
            printf("  %s = %s\n", e->param_names[i], e->param_values[i]);
    } else {
        printf("parameters:    %s\n", e->parameters && strcmp(e->parameters, "{}") != 0 ? e->parameters : "-");
    }
}

static int print_json(const tl_catalog_entries *list, int as_array)
{
    if (as_array)
        printf("[");
    for (size_t i = 0; i < list->count; i++) {
        char *text = tl_catalog_entry_json(&list->items[i]);
        if (!text) {
            fprintf(stderr, "tomoline: error: out of memory writing JSON\n");
            return 1;
        }
        if (as_array)
            printf("%s\n  %s", i ? "," : "", text);
        else
            printf("%s", text);
        free(text);
    }
    if (as_array)
        printf("%s]\n", list->count ? "\n" : "");
    else
        printf("\n");
    return 0;
}

static int run_push(const tl_config *cfg)
{
    const char *outbox = cfg->outbox[0] ? cfg->outbox : DEFAULT_OUTBOX;
    char shown[1024];
    tl_catalog_redact_url(cfg->catalog, shown, sizeof shown);
    size_t sent = 0;
    tl_error err = {0};
    tl_status st = tl_catalog_push(cfg->catalog, outbox, cfg->catalog_timeout, &sent, &err);
    if (sent || st == TL_OK) {
        if (sent)
            printf("tomoline catalog push: delivered %zu record%s from '%s' to %s\n", sent, sent == 1 ? "" : "s",
                   outbox, shown);
        else
            printf("tomoline catalog push: nothing waits in outbox '%s'\n", outbox);
    }
    if (st != TL_OK) {
        tl_cli_fail(&err);
        return err.status == TL_ERR_INVALID ? 2 : 1;
    }
    return 0;
}

int tl_cmd_catalog(int argc, char **argv)
{
    tl_config cfg;
    const char *positional[2];
    int n_positional = 0, code = 0;
    if (!tl_cli_parse(&catalog_command, argc, argv, &cfg, positional, &n_positional, &code))
        return code;
    if (n_positional < 1) {
        fprintf(stderr, "tomoline: error: catalog: no action given (allowed: list, show ID, search, push; usage: "
                        "tomoline %s)\n",
                catalog_command.usage);
        return 2;
    }
    const char *action = positional[0];
    int is_list = strcmp(action, "list") == 0, is_show = strcmp(action, "show") == 0;
    int is_search = strcmp(action, "search") == 0, is_push = strcmp(action, "push") == 0;
    if (!is_list && !is_show && !is_search && !is_push) {
        fprintf(stderr, "tomoline: error: catalog: unknown action '%s' (allowed: list, show ID, search, push)\n",
                action);
        return 2;
    }
    if (is_show && n_positional != 2) {
        fprintf(stderr, "tomoline: error: catalog show needs one ID (a numeric id, a uuid or a uuid prefix)\n");
        return 2;
    }
    if (!is_show && n_positional != 1) {
        fprintf(stderr, "tomoline: error: catalog %s takes no argument, got '%s'\n", action, positional[1]);
        return 2;
    }
    if (!cfg.catalog[0]) {
        fprintf(stderr, "tomoline: error: catalog: no catalog given (--catalog sqlite:PATH or postgresql://...)\n");
        return 2;
    }
    if (is_push)
        return run_push(&cfg);

    tl_error err = {0};
    tl_catalog *cat = NULL;
    if (tl_catalog_open(cfg.catalog, cfg.catalog_timeout, 0, &cat, &err) != TL_OK)
        return tl_cli_fail(&err);
    tl_catalog_entries list = {0};
    tl_status st;
    if (is_show) {
        st = tl_catalog_find(cat, positional[1], &list, &err);
    } else {
        tl_catalog_query q = {.sample = cfg.sample, .since = cfg.since, .limit = cfg.limit};
        st = tl_catalog_search(cat, &q, &list, &err);
    }
    int rc = 0;
    if (st != TL_OK) {
        rc = tl_cli_fail(&err);
    } else if (cfg.json) {
        rc = print_json(&list, !is_show);
    } else if (is_show) {
        print_entry(&list.items[0]);
    } else if (list.count == 0) {
        printf("no records%s in catalog %s\n", cfg.sample[0] || cfg.since[0] ? " match" : "",
               tl_catalog_display_url(cat));
    } else {
        print_table(&list);
    }
    tl_catalog_entries_free(&list);
    tl_catalog_close(&cat);
    return rc;
}
