/* catalog_sqlite.c - the catalog in an SQLite file (`sqlite:PATH`), the embedded default.
 *
 * One connection per open catalog, used from one thread. Writers wait for each other through
 * SQLite's busy handler for at most the catalog timeout; a database still locked after that is
 * "unreachable" (the record goes to the outbox). The default rollback journal is kept (not
 * WAL) so that a catalog on a shared filesystem needs no -shm file beside it.
 *
 * Nothing is written to a file until it has been read as a SQLite database: a file that is
 * not one fails on the first read (SQLITE_NOTADB) and is left exactly as it was.
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog_internal.h"

typedef struct sqlite_impl {
    sqlite3 *db;
} sqlite_impl;

#define DB(cat) (((sqlite_impl *)(cat)->impl)->db)

#define SELECT_COLUMNS                                                                                            \
    "SELECT id, uuid, output_path, input_path, checksum, created, sample, proposal, beamline, shape_z, shape_y, " \
    "shape_x, rotation_axis, parameters, status FROM datasets "

/* Turn an SQLite result code into a status and a message; busy means unreachable. */
static tl_status fail(tl_catalog *cat, int rc, const char *doing, tl_error *err)
{
    sqlite3 *db = cat->impl ? DB(cat) : NULL;
    const char *why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        cat->unreachable = 1;
        return tl_error_set(err, TL_ERR_IO,
                            "catalog '%s': the database stayed locked by another process for longer than the "
                            "catalog timeout of %g s while %s (%s)",
                            cat->display_url, cat->timeout_s, doing, why);
    case SQLITE_NOTADB:
        return tl_error_set(err, TL_ERR_FORMAT, "catalog '%s': the file is not a SQLite database (%s)",
                            cat->display_url, why);
    case SQLITE_CORRUPT:
        return tl_error_set(err, TL_ERR_FORMAT, "catalog '%s': the database file is corrupt (%s)", cat->display_url,
                            why);
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return tl_error_set(err, TL_ERR_IO, "catalog '%s': the database cannot be written (%s)", cat->display_url,
                            why);
    default:
        return tl_error_set(err, TL_ERR_IO, "catalog '%s': %s failed (%s)", cat->display_url, doing, why);
    }
}

static tl_status sq_open(tl_catalog *cat, const char *path, int create, tl_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return tl_error_set(err, TL_ERR_IO, "catalog '%s': cannot read '%s' (%s)", cat->display_url, path,
                                strerror(errno));
        /* the directory must exist: a typo in it is an error, not a reason to queue */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            if (slash == dir)
                slash[1] = '\0';
            else
                *slash = '\0';
            if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return tl_error_set(err, TL_ERR_IO, "catalog '%s': directory '%s' does not exist", cat->display_url,
                                    dir);
        }
        if (!create)
            return tl_error_set(err, TL_ERR_IO,
                                "catalog '%s': '%s' does not exist (a catalog file is created when the first volume "
                                "is registered)",
                                cat->display_url, path);
    } else if (S_ISDIR(sb.st_mode)) {
        return tl_error_set(err, TL_ERR_IO, "catalog '%s': '%s' is a directory, not a database file",
                            cat->display_url, path);
    }
    sqlite_impl *impl = calloc(1, sizeof *impl);
    if (!impl)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory opening catalog '%s'", cat->display_url);
    cat->impl = impl;
    int rc = sqlite3_open_v2(path, &impl->db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0), NULL);
    if (rc != SQLITE_OK)
        return fail(cat, rc, "opening the database", err); /* close() releases the handle */
    sqlite3_extended_result_codes(impl->db, 1);
    double ms = cat->timeout_s * 1000.0;
    sqlite3_busy_timeout(impl->db, ms > 2e9 ? 2000000000 : (int)ms);
    return TL_OK;
}

static void sq_close(tl_catalog *cat)
{
    sqlite_impl *impl = cat->impl;
    sqlite3_close(impl->db); /* NULL is a no-op */
    free(impl);
    cat->impl = NULL;
}

static tl_status exec(tl_catalog *cat, const char *sql, const char *doing, tl_error *err)
{
    int rc = sqlite3_exec(DB(cat), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? TL_OK : fail(cat, rc, doing, err);
}

/* One integer from a query without parameters. */
static tl_status query_int(tl_catalog *cat, const char *sql, int *value, tl_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(DB(cat), sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *value = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    tl_status s = rc == SQLITE_OK ? TL_OK : fail(cat, rc, "reading the schema version", err);
    sqlite3_finalize(st);
    return s;
}

static tl_status sq_read_version(tl_catalog *cat, int *version, tl_error *err)
{
    int exists = 0;
    tl_status st = query_int(cat, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                             &exists, err);
    *version = 0;
    if (st != TL_OK || !exists)
        return st;
    return query_int(cat, "SELECT COALESCE(MAX(version), 0) FROM schema_version", version, err);
}

static tl_status sq_begin_migration(tl_catalog *cat, tl_error *err)
{
    tl_status st;
    /* IMMEDIATE takes the write lock now, so two processes cannot both migrate */
    if ((st = exec(cat, "BEGIN IMMEDIATE", "starting the schema migration", err)) != TL_OK)
        return st;
    st = exec(cat,
              "CREATE TABLE IF NOT EXISTS schema_version (\n"
              "  version INTEGER PRIMARY KEY,\n"
              "  description TEXT NOT NULL,\n"
              "  applied TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
              ")",
              "creating the schema_version table", err);
    if (st != TL_OK)
        sqlite3_exec(DB(cat), "ROLLBACK", NULL, NULL, NULL);
    return st;
}

static tl_status sq_end_transaction(tl_catalog *cat, int commit, tl_error *err)
{
    if (commit)
        return exec(cat, "COMMIT", "committing", err);
    sqlite3_exec(DB(cat), "ROLLBACK", NULL, NULL, NULL);
    return TL_OK;
}

static tl_status sq_exec_script(tl_catalog *cat, const char *sql, tl_error *err)
{
    return exec(cat, sql, "changing the schema", err);
}

static tl_status prepare(tl_catalog *cat, const char *sql, sqlite3_stmt **st, const char *doing, tl_error *err)
{
    int rc = sqlite3_prepare_v2(DB(cat), sql, -1, st, NULL);
    return rc == SQLITE_OK ? TL_OK : fail(cat, rc, doing, err);
}

static tl_status sq_record_version(tl_catalog *cat, int version, const char *description, tl_error *err)
{
    sqlite3_stmt *st = NULL;
    tl_status s = prepare(cat, "INSERT INTO schema_version (version, description) VALUES (?1, ?2)", &st,
                          "recording the schema version", err);
    if (s != TL_OK)
        return s;
    sqlite3_bind_int(st, 1, version);
    sqlite3_bind_text(st, 2, description, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    s = rc == SQLITE_DONE ? TL_OK : fail(cat, rc, "recording the schema version", err);
    sqlite3_finalize(st);
    return s;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static tl_status sq_insert(tl_catalog *cat, const tl_catalog_row *row, int *inserted, tl_error *err)
{
    sqlite3_stmt *st = NULL;
    tl_status s = prepare(cat,
                          "INSERT INTO datasets (uuid, output_path, input_path, checksum, created, sample, proposal, "
                          "beamline, shape_z, shape_y, shape_x, rotation_axis, parameters, status) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                          "ON CONFLICT (uuid) DO NOTHING",
                          &st, "storing a record", err);
    if (s != TL_OK)
        return s;
    bind_text_or_null(st, 1, row->uuid);
    bind_text_or_null(st, 2, row->output_path);
    bind_text_or_null(st, 3, row->input_path);
    bind_text_or_null(st, 4, row->checksum);
    bind_text_or_null(st, 5, row->created);
    bind_text_or_null(st, 6, row->sample);
    bind_text_or_null(st, 7, row->proposal);
    bind_text_or_null(st, 8, row->beamline);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_int64(st, 9 + i, row->shape[i]);
    if (isfinite(row->rotation_axis))
        sqlite3_bind_double(st, 12, row->rotation_axis);
    else
        sqlite3_bind_null(st, 12);
    bind_text_or_null(st, 13, row->parameters ? row->parameters : "{}");
    bind_text_or_null(st, 14, row->status);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        *inserted = sqlite3_changes(DB(cat)) > 0;
        s = TL_OK;
    } else {
        s = fail(cat, rc, "storing a record", err);
    }
    sqlite3_finalize(st);
    return s;
}

/* Step through a prepared SELECT of SELECT_COLUMNS into out; finalizes st. */
static tl_status collect(tl_catalog *cat, sqlite3_stmt *st, tl_catalog_entries *out, tl_error *err)
{
    tl_status s = TL_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *col[TL_COL_COUNT];
        char axis[40];
        for (int i = 0; i < TL_COL_COUNT; i++)
            col[i] = (const char *)sqlite3_column_text(st, i);
        if (sqlite3_column_type(st, TL_COL_AXIS) == SQLITE_NULL) {
            col[TL_COL_AXIS] = NULL;
        } else {
            /* sqlite's own text for a REAL has 15 digits: format all 17 for an exact round trip */
            snprintf(axis, sizeof axis, "%.17g", sqlite3_column_double(st, TL_COL_AXIS));
            col[TL_COL_AXIS] = axis;
        }
        if ((s = tl_catalog_entries_add(cat, out, col, err)) != TL_OK)
            break;
    }
    if (s == TL_OK && rc != SQLITE_DONE)
        s = fail(cat, rc, "reading records", err);
    sqlite3_finalize(st);
    return s;
}

static tl_status sq_search(tl_catalog *cat, const char *sample_like, const char *since, long limit,
                           tl_catalog_entries *out, tl_error *err)
{
    sqlite3_stmt *st = NULL;
    tl_status s = prepare(cat,
                          SELECT_COLUMNS "WHERE (?1 IS NULL OR sample LIKE ?1 ESCAPE '!') "
                                         "AND (?2 IS NULL OR created >= ?2) "
                                         "ORDER BY created DESC, id DESC LIMIT ?3",
                          &st, "searching records", err);
    if (s != TL_OK)
        return s;
    bind_text_or_null(st, 1, sample_like);
    bind_text_or_null(st, 2, since);
    sqlite3_bind_int64(st, 3, limit > 0 ? (sqlite3_int64)limit : -1);
    return collect(cat, st, out, err);
}

static tl_status sq_find_id(tl_catalog *cat, long long id, tl_catalog_entries *out, tl_error *err)
{
    sqlite3_stmt *st = NULL;
    tl_status s = prepare(cat, SELECT_COLUMNS "WHERE id = ?1", &st, "reading a record", err);
    if (s != TL_OK)
        return s;
    sqlite3_bind_int64(st, 1, id);
    return collect(cat, st, out, err);
}

static tl_status sq_find_uuid_prefix(tl_catalog *cat, const char *prefix, tl_catalog_entries *out, tl_error *err)
{
    sqlite3_stmt *st = NULL;
    tl_status s = prepare(cat, SELECT_COLUMNS "WHERE substr(uuid, 1, length(?1)) = ?1 ORDER BY id LIMIT 2", &st,
                          "reading a record", err);
    if (s != TL_OK)
        return s;
    bind_text_or_null(st, 1, prefix);
    return collect(cat, st, out, err);
}

const tl_catalog_ops tl_catalog_sqlite_ops = {
    .name = "sqlite",
    .dialect = TL_DIALECT_SQLITE,
    .open = sq_open,
    .close = sq_close,
    .read_version = sq_read_version,
    .begin_migration = sq_begin_migration,
    .end_transaction = sq_end_transaction,
    .exec_script = sq_exec_script,
    .record_version = sq_record_version,
    .insert = sq_insert,
    .search = sq_search,
    .find_id = sq_find_id,
    .find_uuid_prefix = sq_find_uuid_prefix,
};
