/* catalog_internal.h - what the catalog's files share, not for other modules.
 *
 *   catalog.c           URLs, the migrations, register/push, entries (the front end)
 *   catalog_sqlite.c    the SQLite backend      } each fills one tl_catalog_ops,
 *   catalog_postgres.c  the PostgreSQL backend  } chosen once from the URL
 *   json.c              a small JSON reader and writer (outbox files, parameters, --json; io/json.h)
 *   outbox.c            outbox files: written atomically, read back robustly
 *
 * Backends execute fixed SQL only: every value travels as a bound parameter.
 */
#ifndef TL_CATALOG_INTERNAL_H
#define TL_CATALOG_INTERNAL_H

#include <stddef.h>

#include "catalog.h"
#include "json.h"

/* --- a record ready for the database ------------------------------------------------------- */

/* A validated, normalised record: every string owned. */
typedef struct tl_catalog_row {
    char uuid[37];
    char created[32];                      /* UTC YYYY-MM-DDTHH:MM:SSZ */
    char *output_path, *input_path, *checksum, *sample, *proposal, *beamline, *status;
    long long shape[3];
    double rotation_axis;                  /* NAN: NULL */
    char *parameters;                      /* a JSON object */
} tl_catalog_row;

void tl_catalog_row_free(tl_catalog_row *row);
/* Validate rec (and fill uuid and created when missing). */
tl_status tl_catalog_row_from_record(const tl_catalog_record *rec, tl_catalog_row *row, tl_error *err);
int tl_catalog_uuid_valid(const char *s);

/* Outbox files (outbox.c). */
char *tl_catalog_row_to_json(const tl_catalog_row *row);  /* caller frees; NULL: out of memory */
tl_status tl_catalog_row_from_json(const char *text, const char *path, tl_catalog_row *row, tl_error *err);
tl_status tl_outbox_store(const char *dir, const tl_catalog_row *row, char *path_out, size_t path_size,
                          tl_error *err);
/* The names of the record files in dir (sorted; caller frees with tl_outbox_names_free).
 * A missing dir gives none. */
tl_status tl_outbox_list(const char *dir, char ***names, size_t *count, tl_error *err);
void tl_outbox_names_free(char **names, size_t count);
tl_status tl_outbox_read(const char *path, tl_catalog_row *row, tl_error *err);

/* --- backends ------------------------------------------------------------------------------- */

/* The columns every backend selects, in this order, as text (NULL for SQL NULL). */
enum {
    TL_COL_ID, TL_COL_UUID, TL_COL_OUTPUT, TL_COL_INPUT, TL_COL_CHECKSUM, TL_COL_CREATED, TL_COL_SAMPLE,
    TL_COL_PROPOSAL, TL_COL_BEAMLINE, TL_COL_SHAPE_Z, TL_COL_SHAPE_Y, TL_COL_SHAPE_X, TL_COL_AXIS,
    TL_COL_PARAMETERS, TL_COL_STATUS, TL_COL_COUNT
};
/* Append one row of column texts to out. */
tl_status tl_catalog_entries_add(tl_catalog *cat, tl_catalog_entries *out, const char *const col[TL_COL_COUNT],
                                 tl_error *err);

typedef enum { TL_DIALECT_SQLITE = 0, TL_DIALECT_POSTGRES = 1, TL_DIALECT_COUNT } tl_catalog_dialect;

typedef struct tl_catalog_ops {
    const char *name;
    tl_catalog_dialect dialect;
    /* target: the sqlite path, or the libpq URI. */
    tl_status (*open)(tl_catalog *cat, const char *target, int create, tl_error *err);
    void (*close)(tl_catalog *cat);
    /* 0 when the schema_version table does not exist yet. */
    tl_status (*read_version)(tl_catalog *cat, int *version, tl_error *err);
    /* A transaction that excludes every other migrator; it creates schema_version if missing. */
    tl_status (*begin_migration)(tl_catalog *cat, tl_error *err);
    tl_status (*end_transaction)(tl_catalog *cat, int commit, tl_error *err);
    tl_status (*exec_script)(tl_catalog *cat, const char *sql, tl_error *err);   /* constant DDL */
    tl_status (*record_version)(tl_catalog *cat, int version, const char *description, tl_error *err);
    /* INSERT ... ON CONFLICT (uuid) DO NOTHING; *inserted = 0 on conflict. */
    tl_status (*insert)(tl_catalog *cat, const tl_catalog_row *row, int *inserted, tl_error *err);
    /* sample_like: a LIKE pattern with '!' as escape, or NULL; since: UTC text, or NULL. */
    tl_status (*search)(tl_catalog *cat, const char *sample_like, const char *since, long limit,
                        tl_catalog_entries *out, tl_error *err);
    tl_status (*find_id)(tl_catalog *cat, long long id, tl_catalog_entries *out, tl_error *err);
    /* at most 2 records whose uuid starts with prefix (lower-case hex and '-'), oldest first */
    tl_status (*find_uuid_prefix)(tl_catalog *cat, const char *prefix, tl_catalog_entries *out, tl_error *err);
} tl_catalog_ops;

extern const tl_catalog_ops tl_catalog_sqlite_ops;
extern const tl_catalog_ops tl_catalog_postgres_ops;

struct tl_catalog {
    const tl_catalog_ops *ops;
    void *impl;
    char display_url[1024];     /* redacted, for messages */
    char *secret_url;           /* the URL as given: only to scrub its password from library messages */
    double timeout_s;
    int unreachable;            /* set by a backend when its last failure means "cannot reach" */
};

/* Copy a library's message into out with newlines folded and the URL's password scrubbed. */
void tl_catalog_clean_message(const tl_catalog *cat, const char *msg, char *out, size_t size);

#endif
