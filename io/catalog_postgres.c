/* catalog_postgres.c - the catalog in PostgreSQL (`postgresql://...`), for facility scale.
 *
 * The URL goes to libpq unchanged, as the dbname of PQconnectdbParams with expand_dbname set,
 * after two keywords of ours: connect_timeout (the catalog timeout, at least 2 s as libpq
 * requires) and fallback_application_name. Keywords are applied in order, so parameters written
 * in the URL (?connect_timeout=10, ?application_name=...) win over ours, and the empty
 * `postgresql://` leaves everything to the PG* environment variables.
 *
 * Once connected, statement_timeout and lock_timeout are set to the catalog timeout, so a server
 * that accepts the connection but never answers (locks, overload) is also "unreachable" after
 * the timeout. Every value travels as a parameter of PQexecParams; the only SQL sent without
 * parameters is the fixed schema text. libpq's messages are scrubbed of the URL's password
 * before they reach a message of ours.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_internal.h"

typedef struct pg_impl {
    PGconn *conn;
} pg_impl;

#define CONN(cat) (((pg_impl *)(cat)->impl)->conn)

/* Serialises schema migrations between processes (pg_advisory_xact_lock); any fixed number. */
#define MIGRATION_LOCK_KEY "7343291506"

#define SELECT_COLUMNS                                                                                            \
    "SELECT id, uuid, output_path, input_path, checksum, "                                                        \
    "to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), sample, proposal, beamline, "         \
    "shape_z, shape_y, shape_x, rotation_axis, parameters::text, status FROM datasets "

/* SQLSTATEs that mean "try again later", not "this request is wrong". */
static int transient_state(const char *state)
{
    if (!state)
        return 0;
    static const char *const states[] = {"57P01", "57P02", "57P03", "57014", "55P03", "40001", "40P01", NULL};
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0)
        return 1;
    for (int i = 0; states[i]; i++)
        if (strcmp(state, states[i]) == 0)
            return 1;
    return 0;
}

/* A failed result (or NULL) as a status and a message; clears res. */
static tl_status fail(tl_catalog *cat, PGresult *res, const char *doing, tl_error *err)
{
    PGconn *conn = CONN(cat);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *raw = res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    char why[768];
    tl_catalog_clean_message(cat, raw, why, sizeof why);
    tl_status st;
    if (!res && PQstatus(conn) == CONNECTION_OK) {
        st = tl_error_set(err, TL_ERR_NOMEM, "catalog '%s': out of memory while %s", cat->display_url, doing);
    } else if (PQstatus(conn) == CONNECTION_BAD || transient_state(state)) {
        cat->unreachable = 1;
        st = tl_error_set(err, TL_ERR_IO, "catalog '%s': no answer while %s (within the catalog timeout of %g s): %s",
                          cat->display_url, doing, cat->timeout_s, why);
    } else {
        st = tl_error_set(err, TL_ERR_IO, "catalog '%s': %s failed (%s)", cat->display_url, doing, why);
    }
    PQclear(res);
    return st;
}

static int ok(PGresult *res) /* command or query succeeded */
{
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Notices ("relation already exists, skipping") are not for the user's terminal. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static tl_status pg_open(tl_catalog *cat, const char *url, int create, tl_error *err)
{
    (void)create; /* a PostgreSQL database is created by its administrator, not by us */
    char *parse_error = NULL;
    PQconninfoOption *parsed = PQconninfoParse(url, &parse_error);
    if (!parsed) {
        char why[768];
        tl_catalog_clean_message(cat, parse_error ? parse_error : "out of memory", why, sizeof why);
        PQfreemem(parse_error);
        return tl_error_set(err, TL_ERR_INVALID,
                            "--catalog '%s': malformed catalog URL (%s; allowed: postgresql://[user[:password]@]"
                            "[host][:port][/dbname][?param=value&...])",
                            cat->display_url, why);
    }
    PQconninfoFree(parsed);

    pg_impl *impl = calloc(1, sizeof *impl);
    if (!impl)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory opening catalog '%s'", cat->display_url);
    cat->impl = impl;
    long seconds = (long)ceil(cat->timeout_s);
    if (seconds < 2)
        seconds = 2;
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%ld", seconds);
    const char *const keywords[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *const values[] = {timeout, "tomoline", url, NULL};
    impl->conn = PQconnectdbParams(keywords, values, 1);
    if (!impl->conn)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory connecting to catalog '%s'", cat->display_url);
    if (PQstatus(impl->conn) != CONNECTION_OK) {
        char why[768];
        tl_catalog_clean_message(cat, PQerrorMessage(impl->conn), why, sizeof why);
        cat->unreachable = 1;
        return tl_error_set(err, TL_ERR_IO, "catalog '%s': cannot connect (%s)", cat->display_url, why);
    }
    PQsetNoticeProcessor(impl->conn, quiet_notice, NULL);
    char ms[32];
    snprintf(ms, sizeof ms, "%ld", (long)ceil(cat->timeout_s * 1000.0));
    const char *params[1] = {ms};
    PGresult *res = PQexecParams(impl->conn,
                                 "SELECT set_config('statement_timeout', $1, false), "
                                 "set_config('lock_timeout', $1, false)",
                                 1, NULL, params, NULL, NULL, 0);
    if (!ok(res))
        return fail(cat, res, "setting the timeouts", err);
    PQclear(res);
    return TL_OK;
}

static void pg_close(tl_catalog *cat)
{
    pg_impl *impl = cat->impl;
    if (impl->conn)
        PQfinish(impl->conn);
    free(impl);
    cat->impl = NULL;
}

/* Run sql with text parameters (NULL entries are SQL NULL); *out receives the result. */
static tl_status run(tl_catalog *cat, const char *sql, int n, const char *const *params, const char *doing,
                     PGresult **out, tl_error *err)
{
    PGresult *res = n ? PQexecParams(CONN(cat), sql, n, NULL, params, NULL, NULL, 0) : PQexec(CONN(cat), sql);
    if (!ok(res))
        return fail(cat, res, doing, err);
    if (out)
        *out = res;
    else
        PQclear(res);
    return TL_OK;
}

static tl_status pg_read_version(tl_catalog *cat, int *version, tl_error *err)
{
    PGresult *res = NULL;
    *version = 0;
    tl_status st = run(cat, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL, "reading the schema version",
                       &res, err);
    if (st != TL_OK)
        return st;
    int exists = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!exists)
        return TL_OK;
    st = run(cat, "SELECT COALESCE(MAX(version), 0) FROM schema_version", 0, NULL, "reading the schema version", &res,
             err);
    if (st != TL_OK)
        return st;
    *version = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return TL_OK;
}

static tl_status pg_begin_migration(tl_catalog *cat, tl_error *err)
{
    tl_status st;
    const char *key[1] = {MIGRATION_LOCK_KEY};
    if ((st = run(cat, "BEGIN", 0, NULL, "starting the schema migration", NULL, err)) != TL_OK)
        return st;
    /* DDL is transactional in PostgreSQL: the lock, the tables and the version row commit together */
    if ((st = run(cat, "SELECT pg_advisory_xact_lock($1::bigint)", 1, key, "waiting for the schema lock", NULL,
                  err)) != TL_OK ||
        (st = run(cat,
                  "CREATE TABLE IF NOT EXISTS schema_version (\n"
                  "  version INTEGER PRIMARY KEY,\n"
                  "  description TEXT NOT NULL,\n"
                  "  applied TIMESTAMPTZ NOT NULL DEFAULT now()\n"
                  ")",
                  0, NULL, "creating the schema_version table", NULL, err)) != TL_OK) {
        PQclear(PQexec(CONN(cat), "ROLLBACK"));
        return st;
    }
    return TL_OK;
}

static tl_status pg_end_transaction(tl_catalog *cat, int commit, tl_error *err)
{
    if (commit)
        return run(cat, "COMMIT", 0, NULL, "committing", NULL, err);
    PQclear(PQexec(CONN(cat), "ROLLBACK"));
    return TL_OK;
}

static tl_status pg_exec_script(tl_catalog *cat, const char *sql, tl_error *err)
{
    return run(cat, sql, 0, NULL, "changing the schema", NULL, err);
}

static tl_status pg_record_version(tl_catalog *cat, int version, const char *description, tl_error *err)
{
    char v[16];
    snprintf(v, sizeof v, "%d", version);
    const char *params[2] = {v, description};
    return run(cat, "INSERT INTO schema_version (version, description) VALUES ($1::integer, $2::text)", 2, params,
               "recording the schema version", NULL, err);
}

static tl_status pg_insert(tl_catalog *cat, const tl_catalog_row *row, int *inserted, tl_error *err)
{
    char shape[3][32], axis[40];
    for (int i = 0; i < 3; i++)
        snprintf(shape[i], sizeof shape[i], "%lld", row->shape[i]);
    snprintf(axis, sizeof axis, "%.17g", row->rotation_axis);
    const char *params[14] = {row->uuid,     row->output_path, row->input_path, row->checksum, row->created,
                              row->sample,   row->proposal,    row->beamline,   shape[0],      shape[1],
                              shape[2],      isfinite(row->rotation_axis) ? axis : NULL,
                              row->parameters ? row->parameters : "{}", row->status};
    PGresult *res = NULL;
    tl_status st = run(cat,
                       "INSERT INTO datasets (uuid, output_path, input_path, checksum, created, sample, proposal, "
                       "beamline, shape_z, shape_y, shape_x, rotation_axis, parameters, status) "
                       "VALUES ($1::text, $2::text, $3::text, $4::text, $5::timestamptz, $6::text, $7::text, $8::text, "
                       "$9::bigint, $10::bigint, $11::bigint, $12::double precision, $13::jsonb, $14::text) "
                       "ON CONFLICT (uuid) DO NOTHING",
                       14, params, "storing a record", &res, err);
    if (st != TL_OK)
        return st;
    *inserted = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    return TL_OK;
}

static tl_status collect(tl_catalog *cat, PGresult *res, tl_catalog_entries *out, tl_error *err)
{
    tl_status st = TL_OK;
    if (PQnfields(res) != TL_COL_COUNT) {
        PQclear(res);
        return tl_error_set(err, TL_ERR_INTERNAL, "catalog '%s': unexpected columns in a result", cat->display_url);
    }
    for (int r = 0; r < PQntuples(res) && st == TL_OK; r++) {
        const char *col[TL_COL_COUNT];
        for (int i = 0; i < TL_COL_COUNT; i++)
            col[i] = PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
        st = tl_catalog_entries_add(cat, out, col, err);
    }
    PQclear(res);
    return st;
}

static tl_status pg_search(tl_catalog *cat, const char *sample_like, const char *since, long limit,
                           tl_catalog_entries *out, tl_error *err)
{
    char lim[32];
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *params[3] = {sample_like, since, limit > 0 ? lim : NULL}; /* LIMIT NULL: no limit */
    PGresult *res = NULL;
    tl_status st = run(cat,
                       SELECT_COLUMNS "WHERE ($1::text IS NULL OR sample ILIKE $1::text ESCAPE '!') "
                                      "AND ($2::timestamptz IS NULL OR created >= $2::timestamptz) "
                                      "ORDER BY created DESC, id DESC LIMIT $3::bigint",
                       3, params, "searching records", &res, err);
    return st == TL_OK ? collect(cat, res, out, err) : st;
}

static tl_status pg_find_id(tl_catalog *cat, long long id, tl_catalog_entries *out, tl_error *err)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", id);
    const char *params[1] = {v};
    PGresult *res = NULL;
    tl_status st = run(cat, SELECT_COLUMNS "WHERE id = $1::bigint", 1, params, "reading a record", &res, err);
    return st == TL_OK ? collect(cat, res, out, err) : st;
}

static tl_status pg_find_uuid_prefix(tl_catalog *cat, const char *prefix, tl_catalog_entries *out, tl_error *err)
{
    const char *params[1] = {prefix};
    PGresult *res = NULL;
    tl_status st = run(cat, SELECT_COLUMNS "WHERE left(uuid, length($1::text)) = $1::text ORDER BY id LIMIT 2", 1,
                       params, "reading a record", &res, err);
    return st == TL_OK ? collect(cat, res, out, err) : st;
}

const tl_catalog_ops tl_catalog_postgres_ops = {
    .name = "postgresql",
    .dialect = TL_DIALECT_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .read_version = pg_read_version,
    .begin_migration = pg_begin_migration,
    .end_transaction = pg_end_transaction,
    .exec_script = pg_exec_script,
    .record_version = pg_record_version,
    .insert = pg_insert,
    .search = pg_search,
    .find_id = pg_find_id,
    .find_uuid_prefix = pg_find_uuid_prefix,
};
