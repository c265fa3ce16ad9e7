/* test_catalog_postgres.c - the catalog against a real PostgreSQL server.
 *
 * Runs where the environment names a server (PGHOST, PGPORT, ... as pg_virtualenv sets them;
 * scripts/test_postgres.sh starts a throwaway cluster on loopback and runs this program in it).
 * Each test works in a database of its own, created here and dropped at its end.
 *
 * Without a server: the tests skip with a message, unless TOMOLINE_PG_TESTS=1, which says a
 * server must be there: then they fail, so a broken setup can never pass silently.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
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
static char dbname[64];
static char url[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    /* dates without an offset are local time: pin the zone so the expectations hold anywhere */
    setenv("TZ", "UTC", 1);
    tzset();
    tl_log_set_level(TL_LOG_ERROR);
    dbname[0] = '\0';
}

static PGconn *admin_connect(void)
{
    /* everything from the PG* variables; a short timeout so a missing server is quick to tell */
    const char *const keywords[] = {"connect_timeout", NULL};
    const char *const values[] = {"5", NULL};
    return PQconnectdbParams(keywords, values, 0);
}

static void teardown(void)
{
    if (!dbname[0])
        return;
    PGconn *c = admin_connect();
    if (PQstatus(c) == CONNECTION_OK) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
}

TestSuite(catalog_pg, .init = setup, .fini = teardown);

/* Said once, in the runner, so a run without a server is visible without --verbose. */
ReportHook(PRE_ALL)(struct criterion_test_set *tests)
{
    (void)tests;
    const char *required = getenv("TOMOLINE_PG_TESTS");
    if (!(required && strcmp(required, "1") == 0) && !getenv("PGHOST") && !getenv("PGPORT") &&
        !getenv("PGDATABASE") && !getenv("PGSERVICE"))
        fprintf(stderr, "test_catalog_postgres: SKIPPED: no PostgreSQL server configured (PG* variables unset); "
                        "run scripts/test_postgres.sh BUILD_DIR to test against a temporary cluster\n");
}

/* Skip (no server configured, TOMOLINE_PG_TESTS unset) or fail (TOMOLINE_PG_TESTS=1 and no answer);
 * otherwise make a fresh database and point url at it. */
static void need_server(void)
{
    const char *required = getenv("TOMOLINE_PG_TESTS");
    int must = required && strcmp(required, "1") == 0;
    int configured = getenv("PGHOST") || getenv("PGPORT") || getenv("PGDATABASE") || getenv("PGSERVICE");
    if (!must && !configured)
        cr_skip_test("no PostgreSQL server configured (no PGHOST/PGPORT/PGDATABASE/PGSERVICE): the PostgreSQL catalog "
                     "tests did not run; scripts/test_postgres.sh BUILD_DIR runs them in a temporary cluster");
    PGconn *c = admin_connect();
    if (PQstatus(c) != CONNECTION_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", PQerrorMessage(c));
        PQfinish(c);
        if (must)
            cr_assert_fail("TOMOLINE_PG_TESTS=1 but no PostgreSQL server answers: %s", why);
        cr_skip_test("the PostgreSQL server named by the PG* variables does not answer (%s): tests skipped", why);
    }
    /* a name of our own making (letters, digits, '_'), so the identifier needs no quoting */
    static int counter;
    unsigned r;
    FILE *f = fopen("/dev/urandom", "rb");
    cr_assert(f && fread(&r, sizeof r, 1, f) == 1);
    fclose(f);
    snprintf(dbname, sizeof dbname, "tl_test_%ld_%d_%08x", (long)getpid(), counter++, r);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    PGresult *res = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
    snprintf(url, sizeof url, "postgresql:///%s", dbname);
}

/* One integer from the test database (via libpq directly, not through the catalog). */
static long db_scalar(const char *sql)
{
    const char *const keywords[] = {"dbname", NULL};
    const char *const values[] = {dbname, NULL};
    PGconn *c = PQconnectdbParams(keywords, values, 0);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

static const char *const param_names[] = {"fbp-filter", "note"};
static const char *const param_values[] = {"shepp", "quote \" backslash \\ newline \n \xc3\xbc"};

static tl_catalog_record make_record(const char *output, const char *sample, const char *created)
{
    tl_catalog_record r = {
        .output_path = output,
        .input_path = "/data/raw/scan.nxs",
        .checksum = "sha256:00ff",
        .created = created,
        .sample = sample,
        .proposal = "p-1",
        .beamline = "I13",
        .shape = {3, 64, 64},
        .rotation_axis = 31.7,
        .n_params = 2,
        .param_names = param_names,
        .param_values = param_values,
    };
    return r;
}

static size_t count_json_files(const char *d)
{
    char **names = NULL;
    size_t n = 0;
    tl_error err = {0};
    cr_assert_eq(tl_outbox_list(d, &names, &n, &err), TL_OK, "%s", err.message);
    tl_outbox_names_free(names, n);
    return n;
}

Test(catalog_pg, schema_created_once_with_version)
{
    need_server();
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open(url, 5, 1, &cat, &err), TL_OK, "%s", err.message);
    int version = 0;
    cr_assert_eq(tl_catalog_schema_version(cat, &version, &err), TL_OK, "%s", err.message);
    cr_assert_eq(version, 1);
    tl_catalog_close(&cat);
    cr_assert_eq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_close(&cat);
    cr_assert_eq(db_scalar("SELECT count(*) FROM schema_version"), 1);
    cr_assert_eq(db_scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'datasets' AND indexname IN "
                           "('datasets_created', 'datasets_sample')"),
                 2);
    cr_assert_eq(db_scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'datasets'"), 15);
    cr_assert_eq(db_scalar("SELECT count(*) FROM information_schema.table_constraints WHERE table_name = 'datasets' "
                           "AND constraint_type = 'UNIQUE'"),
                 1);
}

typedef struct opener {
    tl_status st;
    char message[TL_ERROR_MSG_MAX];
} opener;

static void *open_in_thread(void *arg)
{
    opener *o = arg;
    tl_catalog *cat = NULL;
    tl_error err = {0};
    o->st = tl_catalog_open(url, 10, 1, &cat, &err);
    snprintf(o->message, sizeof o->message, "%s", err.message);
    tl_catalog_close(&cat);
    return NULL;
}

Test(catalog_pg, concurrent_first_use_migrates_once)
{
    need_server();
    pthread_t t[4];
    opener o[4] = {0};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, open_in_thread, &o[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(o[i].st, TL_OK, "%s", o[i].message);
    }
    cr_assert_eq(db_scalar("SELECT count(*) FROM schema_version"), 1);
}

Test(catalog_pg, register_show_search_round_trip)
{
    need_server();
    tl_error err = {0};
    const struct {
        const char *sample, *created;
    } recs[] = {{"mouse-femur", "2026-03-01T14:30:00+01:00"},
                {"Mouse-Tibia", "2026-03-02T09:00:00Z"},
                {"rock_50%", "2026-03-03T08:00:00Z"},
                {"rockX50", "2026-02-27T08:00:00Z"}};
    char uuids[4][37];
    for (int i = 0; i < 4; i++) {
        char out[64];
        snprintf(out, sizeof out, "/data/out/%d.nxs", i);
        tl_catalog_record rec = make_record(out, recs[i].sample, recs[i].created);
        int queued = -1;
        cr_assert_eq(tl_catalog_register(url, &rec, NULL, 5, &queued, uuids[i], &err), TL_OK, "%s", err.message);
        cr_assert_eq(queued, 0);
    }
    tl_catalog *cat = NULL;
    cr_assert_eq(tl_catalog_open(url, 5, 0, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_entries list;
    cr_assert_eq(tl_catalog_find(cat, uuids[0], &list, &err), TL_OK, "%s", err.message);
    const tl_catalog_entry *e = &list.items[0];
    cr_assert_eq(e->id, 1);
    cr_assert_str_eq(e->output_path, "/data/out/0.nxs");
    cr_assert_str_eq(e->input_path, "/data/raw/scan.nxs");
    cr_assert_str_eq(e->checksum, "sha256:00ff");
    cr_assert_str_eq(e->created, "2026-03-01T13:30:00Z");
    cr_assert_str_eq(e->sample, "mouse-femur");
    cr_assert_str_eq(e->proposal, "p-1");
    cr_assert_str_eq(e->beamline, "I13");
    cr_assert(e->shape[0] == 3 && e->shape[1] == 64 && e->shape[2] == 64);
    cr_assert_eq(e->rotation_axis, 31.7);
    cr_assert_str_eq(e->status, "complete");
    cr_assert_eq(e->n_params, 2, "%s", e->parameters);
    for (size_t i = 0; i < 2; i++) { /* jsonb may reorder keys */
        size_t k = strcmp(e->param_names[0], param_names[i]) == 0 ? 0 : 1;
        cr_assert_str_eq(e->param_names[k], param_names[i]);
        cr_assert_str_eq(e->param_values[k], param_values[i]);
    }
    tl_catalog_entries_free(&list);
    cr_assert_eq(tl_catalog_find(cat, "2", &list, &err), TL_OK, "%s", err.message);
    cr_assert_str_eq(list.items[0].uuid, uuids[1]);
    tl_catalog_entries_free(&list);

    tl_catalog_query q = {.sample = "mouse"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 2);
    cr_assert_str_eq(list.items[0].sample, "Mouse-Tibia");
    tl_catalog_entries_free(&list);
    q = (tl_catalog_query){.sample = "_50%"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 1);
    cr_assert_str_eq(list.items[0].sample, "rock_50%");
    tl_catalog_entries_free(&list);
    q = (tl_catalog_query){.since = "2026-03-02T10:00:00+01:00"};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 2);
    cr_assert_str_eq(list.items[0].sample, "rock_50%");
    cr_assert_str_eq(list.items[1].sample, "Mouse-Tibia");
    tl_catalog_entries_free(&list);
    q = (tl_catalog_query){.limit = 3};
    cr_assert_eq(tl_catalog_search(cat, &q, &list, &err), TL_OK, "%s", err.message);
    cr_assert_eq(list.count, 3);
    cr_assert_str_eq(list.items[2].sample, "mouse-femur");
    tl_catalog_entries_free(&list);

    /* same uuid again: nothing inserted */
    tl_catalog_record dup = make_record("/elsewhere.nxs", "dup", NULL);
    dup.uuid = uuids[2];
    int inserted = 1;
    cr_assert_eq(tl_catalog_insert(cat, &dup, &inserted, NULL, &err), TL_OK, "%s", err.message);
    cr_assert_eq(inserted, 0);
    tl_catalog_close(&cat);
    cr_assert_eq(db_scalar("SELECT count(*) FROM datasets"), 4);

    /* the CLI against the same server */
    tl_test_run_result r;
    tl_test_run(&r, "catalog list --catalog '%s' --json", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    tl_json v;
    cr_assert(tl_json_parse(r.out, &v, NULL, 0) && v.type == TL_JSON_ARRAY && v.n == 4, "%s", r.out);
    tl_json_free(&v);
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", uuids[3]);
    tl_test_run(&r, "catalog show %s --catalog '%s'", prefix, url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "sample:        rockX50") && strstr(r.out, "fbp-filter = shepp"), "%s", r.out);
    tl_test_run(&r, "catalog search --sample ROCK --since 2026-03-01 --catalog '%s'", url);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "rock_50%") && !strstr(r.out, "rockX50"), "%s", r.out);
}

Test(catalog_pg, outbox_then_push_delivers_once)
{
    need_server();
    char outbox[4300];
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    tl_error err = {0};
    char uuids[2][37];
    for (int i = 0; i < 2; i++) {
        tl_catalog_record rec = make_record(i ? "/o/b.nxs" : "/o/a.nxs", "queued", NULL);
        int queued = 0;
        cr_assert_eq(tl_catalog_register("postgresql://tomoline:pw@127.0.0.1:1/none", &rec, outbox, 0.5, &queued,
                                         uuids[i], &err),
                     TL_OK, "%s", err.message);
        cr_assert_eq(queued, 1);
    }
    cr_assert_eq(count_json_files(outbox), 2);
    size_t sent = 0;
    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 2);
    cr_assert_eq(count_json_files(outbox), 0);
    cr_assert_eq(db_scalar("SELECT count(*) FROM datasets WHERE sample = 'queued'"), 2);
    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 0);
    /* the same record queued again is delivered without a second row */
    tl_catalog_record rec = make_record("/o/a.nxs", "queued", NULL);
    rec.uuid = uuids[0];
    cr_assert_eq(tl_catalog_outbox_write(outbox, &rec, NULL, &err), TL_OK, "%s", err.message);
    tl_test_run_result r;
    tl_test_run(&r, "catalog push --catalog '%s' --outbox '%s'", url, outbox);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_assert(strstr(r.out, "delivered 1 record"), "%s", r.out);
    cr_assert_eq(count_json_files(outbox), 0);
    cr_assert_eq(db_scalar("SELECT count(*) FROM datasets"), 2);
}

Test(catalog_pg, locked_table_past_the_timeout_queues)
{
    need_server();
    tl_catalog *cat = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_catalog_open(url, 5, 1, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_close(&cat);
    const char *const keywords[] = {"dbname", NULL};
    const char *const values[] = {dbname, NULL};
    PGconn *locker = PQconnectdbParams(keywords, values, 0);
    cr_assert_eq(PQstatus(locker), CONNECTION_OK, "%s", PQerrorMessage(locker));
    PQclear(PQexec(locker, "BEGIN"));
    PGresult *res = PQexec(locker, "LOCK TABLE datasets IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    char outbox[4300];
    snprintf(outbox, sizeof outbox, "%s/outbox", dir);
    tl_catalog_record rec = make_record("/o/locked.nxs", "locked", NULL);
    int queued = 0;
    double t0 = tl_now();
    cr_assert_eq(tl_catalog_register(url, &rec, outbox, 1, &queued, NULL, &err), TL_OK, "%s", err.message);
    double waited = tl_now() - t0;
    cr_assert_eq(queued, 1);
    cr_assert(waited >= 0.9 && waited < 10, "waited %.2f s for a 1 s timeout", waited);
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    size_t sent = 0;
    cr_assert_eq(tl_catalog_push(url, outbox, 5, &sent, &err), TL_OK, "%s", err.message);
    cr_assert_eq(sent, 1);
    cr_assert_eq(db_scalar("SELECT count(*) FROM datasets WHERE sample = 'locked'"), 1);
}

Test(catalog_pg, url_parameters_environment_and_credentials)
{
    need_server();
    tl_catalog *cat = NULL;
    tl_error err = {0};
    /* the URL's own parameters combine with ours */
    char with_params[512];
    snprintf(with_params, sizeof with_params, "%s?connect_timeout=7&application_name=tomoline-test", url);
    cr_assert_eq(tl_catalog_open(with_params, 5, 1, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_close(&cat);
    /* the empty URI takes the PG* variables */
    cr_assert_eq(tl_catalog_open("postgresql://", 5, 1, &cat, &err), TL_OK, "%s", err.message);
    tl_catalog_close(&cat);
    /* a wrong password: the server's answer is reported, the password is not */
    const char *user = getenv("PGUSER") ? getenv("PGUSER") : "postgres";
    const char *port = getenv("PGPORT") ? getenv("PGPORT") : "5432";
    char bad[512];
    snprintf(bad, sizeof bad, "postgresql://%s:Wr0ngPassw0rd@127.0.0.1:%s/%s", user, port, dbname);
    tl_status st = tl_catalog_open(bad, 5, 1, &cat, &err);
    if (st == TL_OK) {
        tl_catalog_close(&cat);
        cr_skip_test("the server accepts any password (trust authentication): the credential check cannot run");
    }
    cr_assert(strstr(err.message, ":***@127.0.0.1"), "%s", err.message);
    cr_assert(!strstr(err.message, "Wr0ngPassw0rd"), "%s", err.message);
    tl_test_run_result r;
    tl_test_run(&r, "catalog list --catalog '%s'", bad);
    cr_assert_eq(r.exit_code, 1);
    cr_assert(!strstr(r.err, "Wr0ngPassw0rd") && !strstr(r.out, "Wr0ngPassw0rd"), "%s", r.err);
    cr_assert(strstr(r.err, "tomoline: error: catalog 'postgresql://"), "%s", r.err);
}
