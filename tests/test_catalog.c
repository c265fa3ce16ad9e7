/* test_catalog.c - the catalog with SQLite (always runs): schema and migrations, register and
 * read back every field, search, uuid uniqueness, the outbox when the catalog is down (a
 * PostgreSQL URL on a closed loopback port, and an SQLite file locked by another connection),
 * push (idempotent), corrupt catalog and outbox files, URL errors, password redaction, and the
 * `tomoline catalog` command end to end. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "catalog_internal.h"
#include "log.h"
#include "support.h"

static char dir[4096];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    /* dates without an offset are local time: pin the zone so the expectations hold anywhere */
    setenv("TZ", "UTC", 1);
    tzset();
    tl_log_set_level(TL_LOG_ERROR); /* the outbox warnings are expected here */
}

TestSuite(catalog, .init = setup);

/* The closed port 1 on loopback: refused at once, no packet leaves the machine. */
#define DOWN_URL "postgresql://tomoline:pw-down@127.0.0.1:1/catalog"

static const char *const param_names[] = {"fbp-filter", "rotation-axis", "note"};
static const char *const param_values[] = {"shepp", "auto", "quote \" backslash \\ tab \t newline \n end"};

static tl_catalog_record make_record(const char *output, const char *sample, const char *created)
{
    tl_catalog_record r = {
        .output_path = output,
        .input_path = "/data/raw/scan_0001.nxs",
        .checksum = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        .created = created,
        .sample = sample,
        .proposal = "mx-12345",
        .beamline = "I12",
        .shape = {4, 32, 32},
        .rotation_axis = 15.123456789012345,
        .n_params = 3,
        .param_names = param_names,
        .param_values = param_values,
        .status = "complete",
    };
    return r;
}

static void url_for(char *url, size_t size, const char *name) { snprintf(url, size, "sqlite:%s/%s", dir, name); }

static size_t count_json_files(const char *d)
{
    char **names = NULL;
    size_t n = 0;
    tl_error err = {0};
    cr_assert_eq(tl_outbox_list(d, &names, &n, &err), TL_OK, "%s", err.message);
    tl_outbox_names_free(names, n);
    return n;
}

static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (size)
        *size = (size_t)n;
    return buf;
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(text, 1, n, f), n);
    fclose(f);
}

static int sqlite_count(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

Test(catalog, schema_created_on_first_use_with_version_and_indexes)
{
    char url[4300], path[4300];
    url_for(url, sizeof url, "c.db");
    snprintf(path, sizeof path, "%s/c.db", dir);
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_schema_latest(), 1);
    cr_assert_eq(tl_catalog_open(url, 5, 1, &cat, &err), TL_OK, "%s", err.message);
    int version = -1;
    cr_assert_eq(tl_catalog_schema_version(cat, &version, &err), TL_OK, "%s", err.message);
    cr_assert_eq(version, 1);
    tl_catalog_close(&cat);
    cr_assert_null(cat);
    tl_catalog_close(&cat); /* NULL is fine */
    cr_assert(tl_test_file_exists(path));
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='datasets'"), 1);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM sqlite_master WHERE type='index' AND "
                                    "name IN ('datasets_created', 'datasets_sample')"),
                 2);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM schema_version WHERE version = 1"), 1);
    /* every column of the design */
    const char *columns[] = {"id", "uuid", "output_path", "input_path", "checksum", "created", "sample", "proposal",
                             "beamline", "shape_z", "shape_y", "shape_x", "rotation_axis", "parameters", "status"};
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('datasets') WHERE name = '%s'", columns[i]);
        cr_assert_eq(sqlite_count(path, sql), 1, "column %s is missing", columns[i]);
    }
    /* uuid is unique in the schema itself */
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM pragma_index_list('datasets') WHERE \"unique\" = 1"), 1);
    /* opening again applies nothing twice */
    cr_assert_eq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_close(&cat);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM schema_version"), 1);
}

Test(catalog, newer_schema_is_refused)
{
    char url[4300], path[4300];
    url_for(url, sizeof url, "c.db");
    snprintf(path, sizeof path, "%s/c.db", dir);
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open(url, 5, 1, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_close(&cat);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "INSERT INTO schema_version (version, description) VALUES (7, 'future')", NULL,
                              NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    cr_assert_neq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK);
    cr_assert(strstr(err.message, "has schema version 7; this tomoline knows versions up to 1"), "%s", err.message);
}

Test(catalog, missing_file_and_missing_directory_are_errors)
{
    char url[4300], path[4300];
    url_for(url, sizeof url, "absent.db");
    snprintf(path, sizeof path, "%s/absent.db", dir);
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_neq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK);
    cr_assert(strstr(err.message, "does not exist"), "%s", err.message);
    cr_assert(!tl_test_file_exists(path), "reading a missing catalog created it");

    /* register into a directory that does not exist: an error, not a queued record */
    url_for(url, sizeof url, "no/such/dir/c.db");
    char outbox[4300];
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    tl_catalog_record rec = make_record("/data/out.nxs", "s", NULL);
    int queued = -1;
    cr_assert_neq(tl_catalog_register(url, &rec, outbox, 1, &queued, NULL, &err), TL_OK);
    cr_assert_eq(queued, 0);
    cr_assert(strstr(err.message, "directory '") && strstr(err.message, "no/such/dir' does not exist"), "%s",
              err.message);
    cr_assert(!tl_test_file_exists(outbox), "the outbox was used for a missing directory");
}

static void assert_entry_matches(const tl_catalog_entry *e, const char *output, const char *sample,
                                 const char *created_utc)
{
    cr_assert_str_eq(e->output_path, output);
    cr_assert_str_eq(e->input_path, "/data/raw/scan_0001.nxs");
    cr_assert_str_eq(e->checksum, "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    cr_assert_str_eq(e->created, created_utc);
    cr_assert_str_eq(e->sample, sample);
    cr_assert_str_eq(e->proposal, "mx-12345");
    cr_assert_str_eq(e->beamline, "I12");
    cr_assert_eq(e->shape[0], 4);
    cr_assert_eq(e->shape[1], 32);
    cr_assert_eq(e->shape[2], 32);
    cr_assert_eq(e->rotation_axis, 15.123456789012345, "axis %.17g", e->rotation_axis);
    cr_assert_str_eq(e->status, "complete");
    cr_assert_eq(e->n_params, 3, "parameters %s", e->parameters);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq(e->param_names[i], param_names[i]);
        cr_assert_str_eq(e->param_values[i], param_values[i]);
    }
}

Test(catalog, register_and_read_back_every_field)
{
    char url[4300];
    url_for(url, sizeof url, "c.db");
    const char *sample = "mouse \"femur\" \xc3\xbc 50%";
    tl_catalog_record rec = make_record("/data/out/femur.nxs", sample, "2026-03-01T14:30:00+01:00");
    int queued = -1;
    char uuid[37] = "";
    tl_error err = {0};
    cr_assert_eq(tl_catalog_register(url, &rec, NULL, 5, &queued, uuid, &err), TL_OK, "%s", err.message);
    cr_assert_eq(queued, 0);
    cr_assert(tl_catalog_uuid_valid(uuid), "'%s'", uuid);
    cr_assert_eq(uuid[14], '4', "not a version 4 uuid: %s", uuid);
    cr_assert(strchr("89ab", uuid[19]), "not an RFC 4122 uuid: %s", uuid);

    tl_catalog *cat = NULL;
    cr_assert_eq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_entries list;
    const char *keys[3] = {"1", uuid, NULL};
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", uuid);
    keys[2] = prefix;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(tl_catalog_find(cat, keys[k], &list, &err), TL_OK, "%s: %s", keys[k], err.message);
        cr_assert_eq(list.count, 1);
        cr_assert_eq(list.items[0].id, 1);
        cr_assert_str_eq(list.items[0].uuid, uuid);
        assert_entry_matches(&list.items[0], "/data/out/femur.nxs", sample, "2026-03-01T13:30:00Z");
        tl_catalog_entries_free(&list);
    }
    /* upper-case uuid works too */
    char upper[37];
    for (int i = 0; i < 37; i++)
        upper[i] = (char)(uuid[i] >= 'a' && uuid[i] <= 'f' ? uuid[i] - 32 : uuid[i]);
    cr_assert_eq(tl_catalog_find(cat, upper, &list, &err), TL_OK, "%s", err.message);
    tl_catalog_entries_free(&list);
    cr_assert_neq(tl_catalog_find(cat, "42", &list, &err), TL_OK);
    cr_assert(strstr(err.message, "no record with id or uuid '42'"), "%s", err.message);
    cr_assert_neq(tl_catalog_find(cat, "not-a-uuid", &list, &err), TL_OK);

    /* a record without the optional fields */
    tl_catalog_record bare = {.output_path = "rel/out.nxs", .input_path = "/in.nxs", .shape = {1, 2, 3},
                              .rotation_axis = NAN};
    int inserted = 0;
    char uuid2[37];
    cr_assert_eq(tl_catalog_insert(cat, &bare, &inserted, uuid2, &err), TL_OK, "%s", err.message);
    cr_assert_eq(inserted, 1);
    cr_assert_eq(tl_catalog_find(cat, uuid2, &list, &err), TL_OK, "%s", err.message);
    const tl_catalog_entry *e = &list.items[0];
    cr_assert_null(e->checksum);
    cr_assert_null(e->sample);
    cr_assert(isnan(e->rotation_axis));
    cr_assert_str_eq(e->status, "complete");
    cr_assert_eq(e->n_params, 0);
    char cwd[4096];
    cr_assert(getcwd(cwd, sizeof cwd));
    char expect[4200];
    snprintf(expect, sizeof expect, "%s/rel/out.nxs", cwd);
    cr_assert_str_eq(e->output_path, expect, "relative paths are stored absolute");
    char *json = tl_catalog_entry_json(e);
    tl_json v;
    char why[200];
    cr_assert(tl_json_parse(json, &v, why, sizeof why), "%s: %s", why, json);
    cr_assert_eq(tl_json_get(&v, "rotation_axis")->type, TL_JSON_NULL);
    cr_assert_eq(tl_json_get(&v, "sample")->type, TL_JSON_NULL);
    tl_json_free(&v);
    free(json);
    tl_catalog_entries_free(&list);
    tl_catalog_close(&cat);
}

Test(catalog, search_by_sample_substring_and_since_newest_first)
{
    char url[4300];
    url_for(url, sizeof url, "c.db");
    const struct {
        const char *sample, *created;
    } recs[] = {{"mouse-femur", "2026-03-01T10:00:00Z"},
                {"Mouse-Tibia", "2026-03-02T09:00:00Z"},
                {"rock_50%", "2026-03-03T08:00:00Z"},
                {"rockX50", "2026-02-27T08:00:00Z"}};
    tl_error err = {0};
    for (size_t i = 0; i < 4; i++) {
        char out[64];
        snprintf(out, sizeof out, "/data/out/%zu.nxs", i);
        tl_catalog_record rec = make_record(out, recs[i].sample, recs[i].created);
        int queued;
        cr_assert_eq(tl_catalog_register(url, &rec, NULL, 5, &queued, NULL, &err), TL_OK, "%s", err.message);
    }
    tl_catalog *cat = NULL;
    cr_assert_eq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_entries list;
    tl_catalog_query q = {.sample = "mouse"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 2, "sample search is a case-insensitive substring match");
    cr_assert_str_eq(list.items[0].sample, "Mouse-Tibia", "newest first");
    cr_assert_str_eq(list.items[1].sample, "mouse-femur");
    assert_entry_matches(&list.items[1], "/data/out/0.nxs", "mouse-femur", "2026-03-01T10:00:00Z");
    tl_catalog_entries_free(&list);
    /* LIKE wildcards in the text match themselves */
    q = (tl_catalog_query){.sample = "_50%"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 1);
    cr_assert_str_eq(list.items[0].sample, "rock_50%");
    tl_catalog_entries_free(&list);
    q = (tl_catalog_query){.since = "2026-03-02"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 2);
    cr_assert_str_eq(list.items[0].sample, "rock_50%");
    cr_assert_str_eq(list.items[1].sample, "Mouse-Tibia");
    tl_catalog_entries_free(&list);
    /* an offset in --since: 2026-03-02T10:00+01:00 is 09:00Z, the second record exactly */
    q = (tl_catalog_query){.since = "2026-03-02T10:00:00+01:00", .sample = "MOUSE"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 1);
    cr_assert_str_eq(list.items[0].sample, "Mouse-Tibia");
    tl_catalog_entries_free(&list);
    q = (tl_catalog_query){.limit = 1};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 1);
    cr_assert_str_eq(list.items[0].sample, "rock_50%");
    tl_catalog_entries_free(&list);
    q = (tl_catalog_query){0};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 4);
    cr_assert_str_eq(list.items[3].sample, "rockX50");
    tl_catalog_entries_free(&list);
    q = (tl_catalog_query){.since = "last tuesday"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "--since 'last tuesday' is not a date (allowed: YYYY-MM-DD"), "%s", err.message);
    tl_catalog_close(&cat);
}

Test(catalog, times_are_parsed_to_utc)
{
    char out[32];
    tl_error err = {0};
    const char *ok[][2] = {{"2026-03-01T14:30:00+01:00", "2026-03-01T13:30:00Z"},
                           {"2026-03-01T14:30:00.123Z", "2026-03-01T14:30:00Z"},
                           {"2026-03-01 14:30Z", "2026-03-01T14:30:00Z"},
                           {"2026-03-01T00:30:00-0230", "2026-03-01T03:00:00Z"},
                           {"2024-02-29T23:59:59+00", "2024-02-29T23:59:59Z"}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(tl_catalog_parse_time(ok[i][0], "t", out, &err), TL_OK, "%s", err.message);
        cr_assert_str_eq(out, ok[i][1], "%s", ok[i][0]);
    }
    /* without an offset: local time (here a fixed UTC+1 zone) */
    setenv("TZ", "XXX-1", 1);
    tzset();
    cr_assert_eq(tl_catalog_parse_time("2026-03-01T10:00", "t", out, &err), TL_OK, "%s", err.message);
    cr_assert_str_eq(out, "2026-03-01T09:00:00Z");
    cr_assert_eq(tl_catalog_parse_time("2026-03-01", "t", out, &err), TL_OK, "%s", err.message);
    cr_assert_str_eq(out, "2026-02-28T23:00:00Z", "a date is local midnight");
    setenv("TZ", "UTC", 1);
    tzset();
    const char *bad[] = {"2026-13-01", "2026-02-30", "2025-02-29", "2026-03-01T25:00", "2026-03-01x", "", "03/01/2026",
                         "2026-03-01T10:00+01:00junk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(tl_catalog_parse_time(bad[i], "--since", out, &err), TL_ERR_INVALID, "'%s' was accepted", bad[i]);
}

Test(catalog, uuids_are_unique_and_inserts_idempotent)
{
    char url[4300], path[4300];
    url_for(url, sizeof url, "c.db");
    snprintf(path, sizeof path, "%s/c.db", dir);
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open(url, 5, 1, &cat, &err), TL_OK, "%s", err.message);
    char uuids[40][37];
    for (int i = 0; i < 40; i++) {
        tl_catalog_record rec = make_record("/o.nxs", "s", NULL);
        int inserted = 0;
        cr_assert_eq(tl_catalog_insert(cat, &rec, &inserted, uuids[i], &err), TL_OK, "%s", err.message);
        cr_assert_eq(inserted, 1);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(uuids[i], uuids[j]);
    }
    /* the same uuid again: nothing changes */
    tl_catalog_record again = make_record("/other.nxs", "other", NULL);
    again.uuid = uuids[3];
    int inserted = 1;
    cr_assert_eq(tl_catalog_insert(cat, &again, &inserted, NULL, &err), TL_OK, "%s", err.message);
    cr_assert_eq(inserted, 0);
    tl_catalog_close(&cat);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM datasets"), 40);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM datasets WHERE output_path = '/other.nxs'"), 0);
    /* register with a known uuid twice: still one row */
    int queued;
    cr_assert_eq(tl_catalog_register(url, &again, NULL, 5, &queued, NULL, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM datasets"), 40);
    /* a bad uuid is refused (it names a file in the outbox) */
    again.uuid = "../../etc/passwd";
    cr_assert_eq(tl_catalog_register(url, &again, dir, 5, &queued, NULL, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "is not a uuid"), "%s", err.message);
}

Test(catalog, unreachable_catalog_queues_and_push_delivers_once)
{
    char url[4300], path[4300], outbox[4300];
    url_for(url, sizeof url, "c.db");
    snprintf(path, sizeof path, "%s/c.db", dir);
    snprintf(outbox, sizeof outbox, "%s/spool/outbox", dir);
    tl_catalog_record rec = make_record("/data/out/queued.nxs", "queued-sample", "2026-04-01T12:00:00Z");
    int queued = 0;
    char uuid[37];
    tl_error err = {0};
    cr_assert_eq(tl_catalog_register(DOWN_URL, &rec, outbox, 0.5, &queued, uuid, &err), TL_OK, "%s", err.message);
    cr_assert_eq(queued, 1);
    char file[4400];
    snprintf(file, sizeof file, "%s/%s.json", outbox, uuid);
    cr_assert(tl_test_file_exists(file), "%s is missing", file);
    cr_assert_eq(count_json_files(outbox), 1);
    char *text = slurp(file, NULL);
    cr_assert(!strstr(text, "pw-down"), "a credential reached the outbox: %s", text);
    tl_json v;
    char why[200];
    cr_assert(tl_json_parse(text, &v, why, sizeof why), "%s", why);
    tl_json_free(&v);
    free(text);

    /* nothing lost while the catalog is still down: push fails, the file stays */
    size_t sent = 99;
    cr_assert_neq(tl_catalog_push(DOWN_URL, outbox, 0.5, &sent, &err), TL_OK);
    cr_assert_eq(sent, 0);
    cr_assert(strstr(err.message, "1 record still waits in outbox"), "%s", err.message);
    cr_assert(strstr(err.message, "tomoline:***@127.0.0.1"), "%s", err.message);
    cr_assert(tl_test_file_exists(file));

    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 1);
    cr_assert_eq(count_json_files(outbox), 0);
    cr_assert(!tl_test_file_exists(file));
    tl_catalog *cat = NULL;
    cr_assert_eq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_entries list;
    cr_assert_eq(tl_catalog_find(cat, uuid, &list, &err), TL_OK, "%s", err.message);
    assert_entry_matches(&list.items[0], "/data/out/queued.nxs", "queued-sample", "2026-04-01T12:00:00Z");
    tl_catalog_entries_free(&list);
    tl_catalog_close(&cat);

    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 0, "a second push sent something");

    /* the same record queued again (a crash after the insert, before the unlink): delivered, not duplicated */
    rec.uuid = uuid;
    cr_assert_eq(tl_catalog_outbox_write(outbox, &rec, NULL, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 1);
    cr_assert_eq(count_json_files(outbox), 0);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM datasets"), 1);

    /* a missing outbox holds nothing */
    snprintf(outbox, sizeof outbox, "%s/never-made", dir);
    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 0);
    /* no outbox at all while the catalog is down: an error, not a silent loss */
    rec.uuid = NULL;
    cr_assert_neq(tl_catalog_register(DOWN_URL, &rec, NULL, 0.5, &queued, NULL, &err), TL_OK);
    cr_assert(strstr(err.message, "no outbox directory is set"), "%s", err.message);
}

Test(catalog, locked_sqlite_past_the_timeout_queues)
{
    char url[4300], path[4300], outbox[4300];
    url_for(url, sizeof url, "c.db");
    snprintf(path, sizeof path, "%s/c.db", dir);
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open(url, 5, 1, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_close(&cat);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    tl_catalog_record rec = make_record("/data/out/locked.nxs", "locked", NULL);
    int queued = 0;
    char uuid[37];
    double t0 = tl_now();
    cr_assert_eq(tl_catalog_register(url, &rec, outbox, 0.3, &queued, uuid, &err), TL_OK, "%s", err.message);
    double waited = tl_now() - t0;
    cr_assert_eq(queued, 1);
    cr_assert(waited >= 0.25 && waited < 5, "waited %.2f s for a 0.3 s timeout", waited);
    cr_assert_eq(count_json_files(outbox), 1);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    size_t sent = 0;
    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 1);
    cr_assert_eq(sqlite_count(path, "SELECT count(*) FROM datasets WHERE sample = 'locked'"), 1);
}

Test(catalog, corrupt_outbox_files_are_reported_and_kept)
{
    char url[4300], outbox[4300];
    url_for(url, sizeof url, "c.db");
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    tl_error err = {0};
    tl_catalog_record rec = make_record("/data/out/good.nxs", "good", NULL);
    char uuid[37];
    cr_assert_eq(tl_catalog_outbox_write(outbox, &rec, uuid, &err), TL_OK, "%s", err.message);
    char good[4400];
    snprintf(good, sizeof good, "%s/%s.json", outbox, uuid);
    size_t n;
    char *text = slurp(good, &n);
    /* a truncated copy, garbage, and a valid JSON object of the wrong shape */
    char bad1[4400], bad2[4400], bad3[4400], tmp[4400];
    snprintf(bad1, sizeof bad1, "%s/00000000-0000-4000-8000-000000000001.json", outbox);
    snprintf(bad2, sizeof bad2, "%s/garbage.json", outbox);
    snprintf(bad3, sizeof bad3, "%s/other.json", outbox);
    snprintf(tmp, sizeof tmp, "%s/.00000000-0000-4000-8000-000000000002.json.tmp.1", outbox);
    write_file(bad1, text, n / 2);
    write_file(bad2, "\x01\x02 not json {", 14);
    write_file(bad3, "{\"format\": \"something else\"}", 28);
    write_file(tmp, "{", 1); /* a crashed writer's temporary: not a record */
    free(text);
    size_t sent = 0;
    cr_assert_neq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK);
    cr_assert_eq(sent, 1);
    cr_assert(strstr(err.message, "3 of 4 records in outbox"), "%s", err.message);
    cr_assert(strstr(err.message, "is not valid JSON") || strstr(err.message, "not a tomoline catalog record"), "%s",
              err.message);
    cr_assert(!tl_test_file_exists(good));
    cr_assert(tl_test_file_exists(bad1) && tl_test_file_exists(bad2) && tl_test_file_exists(bad3) &&
              tl_test_file_exists(tmp));
    size_t n1;
    char *kept = slurp(bad2, &n1);
    cr_assert_eq(n1, 14);
    free(kept);

    /* the reader on its own */
    tl_catalog_row row;
    cr_assert_eq(tl_outbox_read(bad1, &row, &err), TL_ERR_FORMAT);
    cr_assert(strstr(err.message, "00000000-0000-4000-8000-000000000001.json' is not valid JSON"), "%s", err.message);
    const char *cases[][2] = {
        {"[1,2]", "is not a JSON object"},
        {"{\"format\": \"tomoline catalog record\", \"format_version\": 2}", "format_version 2"},
        {"{\"format\": \"tomoline catalog record\", \"format_version\": 1, \"extra\": 1}", "unknown field \"extra\""},
        {"{\"format\": \"tomoline catalog record\", \"format_version\": 1, \"uuid\": \"x\"}", "is not a uuid"},
        {"{\"a\": \"\\ud800\"}", "lone surrogate"},
        {"{\"a\": \"x\" } trailing", "trailing text"},
        {"{\"a\": \"tab\there\"}", "control character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(tl_catalog_row_from_json(cases[i][0], "f.json", &row, &err), TL_ERR_FORMAT, "%s", cases[i][0]);
        cr_assert(strstr(err.message, cases[i][1]), "%s -> %s", cases[i][0], err.message);
    }
}

Test(catalog, json_strings_round_trip)
{
    tl_jbuf b = {0};
    const char *s = "q\" b\\ n\n t\t c\x01 u\xc3\xbc slash/";
    tl_jbuf_string(&b, s);
    char *text = tl_jbuf_take(&b);
    cr_assert_str_eq(text, "\"q\\\" b\\\\ n\\n t\\t c\\u0001 u\xc3\xbc slash/\"");
    tl_json v;
    cr_assert(tl_json_parse(text, &v, NULL, 0));
    cr_assert_eq(v.type, TL_JSON_STRING);
    cr_assert_str_eq(v.text, s);
    tl_json_free(&v);
    free(text);
    cr_assert(tl_json_parse("\"\\u00fc\\ud83d\\ude00\"", &v, NULL, 0));
    cr_assert_str_eq(v.text, "\xc3\xbc\xf0\x9f\x98\x80");
    tl_json_free(&v);
    cr_assert(!tl_json_parse("\"\\u0000\"", &v, NULL, 0), "NUL inside a string was accepted");
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 99);
    deep[199] = '\0';
    cr_assert(!tl_json_parse(deep, &v, NULL, 0), "unbounded nesting was accepted");
}

Test(catalog, corrupt_sqlite_file_is_an_error_and_untouched)
{
    char url[4300], path[4300], outbox[4300], journal[4400];
    url_for(url, sizeof url, "bad.db");
    snprintf(path, sizeof path, "%s/bad.db", dir);
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    snprintf(journal, sizeof journal, "%s-journal", path);
    char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)(i * 7 + 3);
    write_file(path, garbage, sizeof garbage);
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open(url, 1, 1, &cat, &err), TL_ERR_FORMAT);
    char expect[4400];
    snprintf(expect, sizeof expect, "catalog '%s': the file is not a SQLite database (file is not a database)", url);
    cr_assert_str_eq(err.message, expect);
    tl_catalog_record rec = make_record("/data/out/x.nxs", "x", NULL);
    int queued = -1;
    cr_assert_eq(tl_catalog_register(url, &rec, outbox, 1, &queued, NULL, &err), TL_ERR_FORMAT);
    cr_assert_eq(queued, 0);
    cr_assert_str_eq(err.message, expect);
    cr_assert(!tl_test_file_exists(outbox), "a corrupt catalog is not a reason to queue");
    size_t n;
    char *after = slurp(path, &n);
    cr_assert_eq(n, sizeof garbage);
    cr_assert(memcmp(after, garbage, n) == 0, "the corrupt file was modified");
    free(after);
    cr_assert(!tl_test_file_exists(journal));
    /* a short text file too */
    write_file(path, "hello\n", 6);
    cr_assert_eq(tl_catalog_open(url, 1, 1, &cat, &err), TL_ERR_FORMAT, "%s", err.message);
    after = slurp(path, &n);
    cr_assert_eq(n, 6);
    free(after);
}

Test(catalog, bad_urls_are_errors)
{
    tl_error err = {0};
    tl_catalog *cat = NULL;
    char outbox[4300];
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    tl_catalog_record rec = make_record("/data/out/x.nxs", "x", NULL);
    int queued = -1;
    cr_assert_eq(tl_catalog_register("mysql://x", &rec, outbox, 1, &queued, NULL, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "--catalog 'mysql://x': unknown catalog scheme (allowed: sqlite:PATH, postgresql://...)");
    cr_assert_eq(queued, 0);
    cr_assert_eq(tl_catalog_open("catalog.db", 1, 1, &cat, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "unknown catalog scheme") && strstr(err.message, "write sqlite:catalog.db"), "%s",
              err.message);
    cr_assert_eq(tl_catalog_open("sqlite:", 1, 1, &cat, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "no database file after 'sqlite:'"), "%s", err.message);
    cr_assert_eq(tl_catalog_open("sqlite://host/x.db", 1, 1, &cat, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "malformed catalog URL"), "%s", err.message);
    cr_assert_eq(tl_catalog_open("", 1, 1, &cat, &err), TL_ERR_INVALID);
    cr_assert_str_eq(err.message, "catalog: no catalog given (--catalog sqlite:PATH or postgresql://...)");
    /* malformed PostgreSQL URI: an error (not queued), and the password stays hidden */
    cr_assert_eq(tl_catalog_register("postgresql://alice:s3cr3t@host/db?no_such_option=1", &rec, outbox, 1, &queued,
                                     NULL, &err),
                 TL_ERR_INVALID);
    cr_assert(strstr(err.message, "malformed catalog URL"), "%s", err.message);
    cr_assert(strstr(err.message, "alice:***@host"), "%s", err.message);
    cr_assert(!strstr(err.message, "s3cr3t"), "%s", err.message);
    cr_assert_eq(queued, 0);
    cr_assert_eq(tl_catalog_open("postgresql://h/db?password=s3cr3t&bogus_option=1", 1, 1, &cat, &err),
                 TL_ERR_INVALID);
    cr_assert(!strstr(err.message, "s3cr3t") && strstr(err.message, "password=***"), "%s", err.message);
    cr_assert_eq(tl_catalog_open("postgresql://alice:s3cr3t@[::1/db", 1, 1, &cat, &err), TL_ERR_INVALID);
    cr_assert(strstr(err.message, "malformed catalog URL") && !strstr(err.message, "s3cr3t"), "%s", err.message);
    cr_assert(!tl_test_file_exists(outbox));
    cr_assert_null(cat);
}

Test(catalog, passwords_are_redacted)
{
    const char *cases[][2] = {
        {"postgresql://user:secret@host/db", "postgresql://user:***@host/db"},
        {"postgres://u:p%40ss@h:5432/db?sslmode=require&password=other", "postgres://u:***@h:5432/db?sslmode=require&password=***"},
        {"postgresql://user@host/db", "postgresql://user@host/db"},
        {"postgresql://host/db?password=x&user=y", "postgresql://host/db?password=***&user=y"},
        {"postgresql://", "postgresql://"},
        {"postgresql://u:pa?ss@h/db", "postgresql://u:***@h/db"},
        {"sqlite:/data/u:p@x.db", "sqlite:/data/u:p@x.db"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        tl_catalog_redact_url(cases[i][0], out, sizeof out);
        cr_assert_str_eq(out, cases[i][1]);
    }
    /* a refused connection: the message names the server, not the password */
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open("postgresql://alice:s3cr3t-pw@127.0.0.1:1/db", 0.2, 1, &cat, &err), TL_ERR_IO);
    cr_assert(strstr(err.message, "catalog 'postgresql://alice:***@127.0.0.1:1/db': cannot connect ("), "%s",
              err.message);
    cr_assert(!strstr(err.message, "s3cr3t"), "%s", err.message);
    cr_assert(strstr(err.message, "127.0.0.1"), "%s", err.message);
}

/* --- the command ----------------------------------------------------------------------------- */

static void fill_catalog(const char *url)
{
    tl_error err = {0};
    tl_catalog_record a = make_record("/data/out/femur.nxs", "mouse-femur", "2026-03-01T10:00:00Z");
    tl_catalog_record b = make_record("/data/out/rock.nxs", "granite", "2026-03-05T10:00:00Z");
    a.uuid = "aaaaaaaa-1111-4111-8111-111111111111";
    b.uuid = "bbbbbbbb-2222-4222-8222-222222222222";
    int queued;
    cr_assert_eq(tl_catalog_register(url, &a, NULL, 5, &queued, NULL, &err), TL_OK, "%s", err.message);
    cr_assert_eq(tl_catalog_register(url, &b, NULL, 5, &queued, NULL, &err), TL_OK, "%s", err.message);
}

static void assert_json_array(const char *text, size_t count)
{
    tl_json v;
    char why[200];
    cr_assert(text[0] == '[', "not a JSON array: %s", text);
    cr_assert(tl_json_parse(text, &v, why, sizeof why), "%s: %s", why, text);
    cr_assert_eq(v.type, TL_JSON_ARRAY);
    cr_assert_eq(v.n, count, "%s", text);
    for (size_t i = 0; i < v.n; i++) {
        cr_assert_eq(v.items[i].type, TL_JSON_OBJECT);
        cr_assert(tl_json_get(&v.items[i], "uuid") && tl_json_get(&v.items[i], "shape") &&
                  tl_json_get(&v.items[i], "parameters"));
    }
    tl_json_free(&v);
}

Test(catalog, cli_list_show_search)
{
    char url[4300];
    url_for(url, sizeof url, "c.db");
    fill_catalog(url);
    tl_test_run_result r;
    tl_test_run(&r, "catalog list --catalog '%s'", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "ID") && strstr(r.out, "CREATED") && strstr(r.out, "SAMPLE") && strstr(r.out, "OUTPUT"),
              "%s", r.out);
    const char *femur = strstr(r.out, "mouse-femur"), *rock = strstr(r.out, "granite");
    cr_assert(femur && rock && rock < femur, "newest first: %s", r.out);
    cr_assert(strstr(r.out, "4x32x32") && strstr(r.out, "15.12") && strstr(r.out, "/data/out/femur.nxs") &&
              strstr(r.out, "2026-03-01T10:00:00Z"),
              "%s", r.out);

    tl_test_run(&r, "catalog list --catalog '%s' --json", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    assert_json_array(r.out, 2);
    tl_test_run(&r, "catalog list --catalog '%s' --json --limit 1", url);
    assert_json_array(r.out, 1);
    cr_assert(strstr(r.out, "granite"), "%s", r.out);

    tl_test_run(&r, "catalog show 1 --catalog '%s'", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "uuid:          aaaaaaaa-1111-4111-8111-111111111111"), "%s", r.out);
    cr_assert(strstr(r.out, "fbp-filter = shepp") && strstr(r.out, "proposal:      mx-12345") &&
              strstr(r.out, "checksum:      sha256:9f86d0") && strstr(r.out, "rotation axis: 15.123456789012344\n"),
              "%s", r.out);
    tl_test_run(&r, "catalog show bbbb --catalog '%s' --json", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(r.out[0] == '{', "%s", r.out);
    tl_json v;
    cr_assert(tl_json_parse(r.out, &v, NULL, 0), "%s", r.out);
    cr_assert_str_eq(tl_json_get(&v, "sample")->text, "granite");
    cr_assert_str_eq(tl_json_get(tl_json_get(&v, "parameters"), "note")->text, param_values[2]);
    tl_json_free(&v);
    tl_test_run(&r, "catalog show 99 --catalog '%s'", url);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "tomoline: error: catalog '") && strstr(r.err, "no record with id or uuid '99'"), "%s",
              r.err);

    tl_test_run(&r, "catalog search --sample FEMUR --catalog '%s' --json", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    assert_json_array(r.out, 1);
    cr_assert(strstr(r.out, "mouse-femur"), "%s", r.out);
    tl_test_run(&r, "catalog search --since 2026-03-02 --catalog '%s'", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "granite") && !strstr(r.out, "mouse-femur"), "%s", r.out);
    tl_test_run(&r, "catalog search --sample nothing-like-it --catalog '%s'", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "no records match"), "%s", r.out);
    tl_test_run(&r, "catalog search --sample nothing-like-it --catalog '%s' --json", url);
    assert_json_array(r.out, 0);
    tl_test_run(&r, "catalog search --since yesterday --catalog '%s'", url);
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--since 'yesterday' is not a date"), "%s", r.err);
}

Test(catalog, cli_errors)
{
    tl_test_run_result r;
    tl_test_run(&r, "catalog list");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "tomoline: error: catalog: no catalog given (--catalog sqlite:PATH or postgresql://...)"),
              "%s", r.err);
    tl_test_run(&r, "catalog list --catalog mysql://x");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "--catalog 'mysql://x': unknown catalog scheme (allowed: sqlite:PATH, postgresql://...)"),
              "%s", r.err);
    tl_test_run(&r, "catalog frobnicate --catalog sqlite:x.db");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "unknown action 'frobnicate' (allowed: list, show ID, search, push)"), "%s", r.err);
    tl_test_run(&r, "catalog");
    cr_assert_eq(r.exit_code, 2);
    tl_test_run(&r, "catalog show --catalog sqlite:x.db");
    cr_assert_eq(r.exit_code, 2);
    cr_assert(strstr(r.err, "catalog show needs one ID"), "%s", r.err);
    tl_test_run(&r, "catalog --help");
    cr_assert_eq(r.exit_code, 0);
    cr_assert(strstr(r.out, "show ID") && strstr(r.out, "--catalog") && strstr(r.out, "--since"), "%s", r.out);

    char path[4300];
    snprintf(path, sizeof path, "%s/missing.db", dir);
    tl_test_run(&r, "catalog list --catalog 'sqlite:%s'", path);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "does not exist"), "%s", r.err);
    cr_assert(!tl_test_file_exists(path));

    tl_test_run(&r, "catalog list --catalog 'postgresql://bob:hunter22@127.0.0.1:1/db' --catalog-timeout 1");
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "bob:***@127.0.0.1:1/db") && strstr(r.err, "cannot connect"), "%s", r.err);
    cr_assert(!strstr(r.err, "hunter22") && !strstr(r.out, "hunter22"), "%s", r.err);

    snprintf(path, sizeof path, "%s/bad.db", dir);
    write_file(path, "this is not a database at all, just some text that is long enough", 66);
    tl_test_run(&r, "catalog list --catalog 'sqlite:%s'", path);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "the file is not a SQLite database (file is not a database)"), "%s", r.err);
}

Test(catalog, cli_push)
{
    char url[4300], outbox[4300];
    url_for(url, sizeof url, "c.db");
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    tl_error err = {0};
    for (int i = 0; i < 2; i++) {
        tl_catalog_record rec = make_record(i ? "/data/out/b.nxs" : "/data/out/a.nxs", "pushed", NULL);
        int queued = 0;
        cr_assert_eq(tl_catalog_register(DOWN_URL, &rec, outbox, 0.3, &queued, NULL, &err), TL_OK, "%s",
                     err.message);
        cr_assert_eq(queued, 1);
    }
    tl_test_run_result r;
    tl_test_run(&r, "catalog push --catalog '%s' --outbox '%s' --catalog-timeout 1", DOWN_URL, outbox);
    cr_assert_eq(r.exit_code, 1, "%s", r.out);
    cr_assert(strstr(r.err, "2 records still wait in outbox"), "%s", r.err);
    cr_assert(!strstr(r.err, "pw-down"), "%s", r.err);
    cr_assert_eq(count_json_files(outbox), 2);

    tl_test_run(&r, "catalog push --catalog '%s' --outbox '%s'", url, outbox);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "delivered 2 records"), "%s", r.out);
    cr_assert_eq(count_json_files(outbox), 0);
    tl_test_run(&r, "catalog push --catalog '%s' --outbox '%s'", url, outbox);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "nothing waits"), "%s", r.out);
    tl_test_run(&r, "catalog search --sample pushed --catalog '%s' --json", url);
    assert_json_array(r.out, 2);

    char bad[4400];
    snprintf(bad, sizeof bad, "%s/broken.json", outbox);
    write_file(bad, "{\"format\": ", 11);
    tl_test_run(&r, "catalog push --catalog '%s' --outbox '%s'", url, outbox);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(strstr(r.err, "broken.json' is not valid JSON") && strstr(r.err, "left in place"), "%s", r.err);
    cr_assert(strstr(r.err, "tomoline: error: 1 of 1 records in outbox"), "%s", r.err);
    cr_assert(tl_test_file_exists(bad));
}
