/* catalog.h - the catalog of reconstructed volumes (SQLite or PostgreSQL) and its outbox.
 *
 * A catalog URL picks the backend once: `sqlite:PATH` (the embedded default; PATH relative to
 * the working directory or absolute) or `postgresql://...` / `postgres://...` (a libpq
 * connection URI; the empty `postgresql://` takes the PG* environment variables). Both backends
 * hold one schema (../shared/DESIGN.md): a `datasets` table and a `schema_version` table, made
 * and upgraded on first use by numbered migrations.
 *
 * A record is registered only after its output file is complete. When the catalog cannot be
 * reached (server down, connection timeout, database busy past the timeout), the record is
 * written to an outbox directory, one JSON file per record named by its uuid, and
 * tl_catalog_push() delivers it later: nothing is lost, and since the uuid is unique and inserts
 * ignore a uuid already present, nothing is stored twice.
 *
 * Credentials never leave this module: every message that names a URL names it through
 * tl_catalog_redact_url() (postgresql://user:***@host/db).
 *
 * Times: `created` is stored and returned in UTC as YYYY-MM-DDTHH:MM:SSZ. Inputs (the record's
 * created, --since) accept YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS[.fff]] and an offset (Z, +hh:mm,
 * +hhmm, +hh); without an offset they are local time.
 */
#ifndef TL_CATALOG_H
#define TL_CATALOG_H

#include <stddef.h>

#include "status.h"

/* What the pipeline registers (all strings borrowed for the duration of the call). */
typedef struct tl_catalog_record {
    const char *uuid;          /* NULL: generated (random v4, from /dev/urandom) */
    const char *output_path, *input_path;   /* absolute paths */
    const char *checksum;      /* "sha256:<hex>" of the input file, may be NULL */
    const char *created;       /* ISO 8601, NULL: now */
    const char *sample, *proposal, *beamline;  /* may be NULL */
    size_t shape[3];           /* nz, ny, nx */
    double rotation_axis;      /* NAN: unknown (stored as NULL) */
    size_t n_params; const char *const *param_names; const char *const *param_values; /* -> JSON object */
    const char *status;        /* "complete" (NULL: "complete") */
} tl_catalog_record;

/* Register rec. When the catalog cannot be reached (server down, timeout, database locked past the
 * timeout; a sqlite file whose directory is missing is NOT that: it is an error), write the record to
 * outbox_dir (created if missing; one JSON file per record, written atomically: tmp + rename, named by
 * uuid) and set *queued = 1: returns TL_OK with a warning logged. Bad URLs (unknown scheme, malformed)
 * and a corrupt sqlite file are errors. uuid_out receives the record's uuid. */
tl_status tl_catalog_register(const char *url, const tl_catalog_record *rec, const char *outbox_dir,
                              double timeout_s, int *queued, char *uuid_out /* [37] or NULL */,
                              tl_error *err) TL_MUST_CHECK;

/* Deliver every record waiting in outbox_dir; each file is removed only after the catalog confirmed
 * it; a record already present (same uuid) is not inserted twice. A missing outbox_dir holds nothing.
 * *sent counts the records delivered. Returns TL_OK when nothing remains; otherwise an error that says
 * how many records remain and why (a corrupt outbox file is reported and left in place). */
tl_status tl_catalog_push(const char *url, const char *outbox_dir, double timeout_s, size_t *sent,
                          tl_error *err) TL_MUST_CHECK;

/* Write rec into outbox_dir without trying the catalog (what register does when it cannot reach it).
 * uuid_out as in tl_catalog_register. */
tl_status tl_catalog_outbox_write(const char *outbox_dir, const tl_catalog_record *rec,
                                  char *uuid_out /* [37] or NULL */, tl_error *err) TL_MUST_CHECK;

/* url with any password replaced by "***" (user:***@host, password=***), for messages. */
void tl_catalog_redact_url(const char *url, char *out, size_t size);

/* --- reading the catalog ------------------------------------------------------------------- */

typedef struct tl_catalog tl_catalog;

/* One stored record (owned by the entry list that holds it). */
typedef struct tl_catalog_entry {
    long long id;
    char uuid[37];
    char created[32];          /* UTC, YYYY-MM-DDTHH:MM:SSZ */
    char *output_path, *input_path;
    char *checksum, *sample, *proposal, *beamline;  /* NULL when not recorded */
    size_t shape[3];
    double rotation_axis;      /* NAN when not recorded */
    char *parameters;          /* the JSON object as stored */
    size_t n_params;           /* parameters parsed into pairs (0 and NULL when not parseable) */
    char **param_names, **param_values;
    char *status;
} tl_catalog_entry;

typedef struct tl_catalog_entries {
    size_t count;
    tl_catalog_entry *items;
} tl_catalog_entries;

typedef struct tl_catalog_query {
    const char *sample;        /* substring of the sample name, case-insensitive; NULL or "": any */
    const char *since;         /* created on or after (see the top of this file); NULL or "": any */
    long limit;                /* at most this many, newest first; <= 0: no limit */
} tl_catalog_query;

/* Open the catalog at url, creating or upgrading its schema. create: a missing sqlite file is created
 * (otherwise it is an error, so a mistyped path is not silently made into an empty catalog).
 * Caller closes with tl_catalog_close. */
tl_status tl_catalog_open(const char *url, double timeout_s, int create, tl_catalog **out,
                          tl_error *err) TL_MUST_CHECK;
void tl_catalog_close(tl_catalog **cat);

/* The catalog URL with its password removed, for messages. */
const char *tl_catalog_display_url(const tl_catalog *cat);

/* The schema version of the open catalog, and the newest this build knows. */
tl_status tl_catalog_schema_version(tl_catalog *cat, int *version, tl_error *err) TL_MUST_CHECK;
int tl_catalog_schema_latest(void);

/* Insert one record; *inserted = 0 when its uuid was already present (nothing changes). */
tl_status tl_catalog_insert(tl_catalog *cat, const tl_catalog_record *rec, int *inserted,
                            char *uuid_out /* [37] or NULL */, tl_error *err) TL_MUST_CHECK;

/* Records matching q, newest first. Caller frees *out with tl_catalog_entries_free. */
tl_status tl_catalog_search(tl_catalog *cat, const tl_catalog_query *q, tl_catalog_entries *out,
                            tl_error *err) TL_MUST_CHECK;

/* One record by key: a numeric id, a uuid, or a uuid prefix that names exactly one record.
 * Caller frees *out with tl_catalog_entries_free (count 1). */
tl_status tl_catalog_find(tl_catalog *cat, const char *key, tl_catalog_entries *out,
                          tl_error *err) TL_MUST_CHECK;

void tl_catalog_entries_free(tl_catalog_entries *entries);

/* An entry as a JSON object (caller frees); NULL when out of memory. */
char *tl_catalog_entry_json(const tl_catalog_entry *e);

/* ISO 8601 text (see the top of this file) as UTC "YYYY-MM-DDTHH:MM:SSZ" into out[32]. */
tl_status tl_catalog_parse_time(const char *text, const char *what, char *out, tl_error *err) TL_MUST_CHECK;

#endif
