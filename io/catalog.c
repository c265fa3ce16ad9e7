/* catalog.c - the catalog's front end: URLs, schema migrations, register and push, entries.
 *
 * The backend is chosen once, from the URL's scheme, as a table of functions (catalog_sqlite.c,
 * catalog_postgres.c); everything else here is shared. Backends report whether a failure means
 * "the catalog cannot be reached" (cat->unreachable), which is what sends a record to the
 * outbox instead of failing: a server that is down or a database busy past the timeout is
 * unreachable; a bad URL, a corrupt file or a missing directory is an error the user must fix.
 *
 * Schema: `migrations` below is the history of the schema, one entry per version, each with its
 * SQL for every dialect. A catalog records the versions it has in `schema_version`; opening one
 * applies the missing entries in one exclusive transaction. To change the schema, append an
 * entry (version 2, ...); never edit one that has shipped.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog_internal.h"
#include "log.h"

/* --- schema -------------------------------------------------------------------------------- */

/* created: SQLite has no time type, so it holds UTC text YYYY-MM-DDTHH:MM:SSZ, which sorts and
 * compares in time order; PostgreSQL holds a timestamptz. parameters: JSON text in SQLite (checked
 * by json_valid where SQLite has it), jsonb in PostgreSQL. */
static const char sqlite_migration_1[] =
    "CREATE TABLE datasets (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  uuid TEXT NOT NULL UNIQUE,\n"
    "  output_path TEXT NOT NULL,\n"
    "  input_path TEXT NOT NULL,\n"
    "  checksum TEXT,\n"
    "  created TEXT NOT NULL,\n"
    "  sample TEXT,\n"
    "  proposal TEXT,\n"
    "  beamline TEXT,\n"
    "  shape_z INTEGER NOT NULL CHECK (shape_z >= 0),\n"
    "  shape_y INTEGER NOT NULL CHECK (shape_y >= 0),\n"
    "  shape_x INTEGER NOT NULL CHECK (shape_x >= 0),\n"
    "  rotation_axis REAL,\n"
    "  parameters TEXT NOT NULL DEFAULT '{}',\n"
    "  status TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX datasets_created ON datasets (created);\n"
    "CREATE INDEX datasets_sample ON datasets (sample);\n";

static const char postgres_migration_1[] =
    "CREATE TABLE datasets (\n"
    "  id BIGSERIAL PRIMARY KEY,\n"
    "  uuid TEXT NOT NULL UNIQUE,\n"
    "  output_path TEXT NOT NULL,\n"
    "  input_path TEXT NOT NULL,\n"
    "  checksum TEXT,\n"
    "  created TIMESTAMPTZ NOT NULL,\n"
    "  sample TEXT,\n"
    "  proposal TEXT,\n"
    "  beamline TEXT,\n"
    "  shape_z BIGINT NOT NULL CHECK (shape_z >= 0),\n"
    "  shape_y BIGINT NOT NULL CHECK (shape_y >= 0),\n"
    "  shape_x BIGINT NOT NULL CHECK (shape_x >= 0),\n"
    "  rotation_axis DOUBLE PRECISION,\n"
    "  parameters JSONB NOT NULL DEFAULT '{}',\n"
    "  status TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX datasets_created ON datasets (created);\n"
    "CREATE INDEX datasets_sample ON datasets (sample);\n";

typedef struct migration {
    int version;
    const char *description;
    const char *sql[TL_DIALECT_COUNT];
} migration;

static const migration migrations[] = {
    {1, "datasets: one row per reconstructed volume", {sqlite_migration_1, postgres_migration_1}},
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

int tl_catalog_schema_latest(void) { return migrations[N_MIGRATIONS - 1].version; }

/* --- URLs ------------------------------------------------------------------------------------- */

static int has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static int is_postgres_url(const char *url)
{
    return has_prefix(url, "postgresql://") || has_prefix(url, "postgres://");
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode n bytes of s into out[size]. */
static void percent_decode(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* The spans of url that hold a password: [start, end) pairs, at most max of them. Mirrors how
 * libpq reads a URI: user information runs from "://" to the first '@' before any '/', and the
 * query string after '?' may carry password=... */
static size_t password_spans(const char *url, size_t spans[][2], size_t max)
{
    size_t count = 0;
    /* any scheme://user:password@host: a mistyped scheme must not leak its password either */
    const char *rest = strstr(url, "://");
    if (!rest)
        return 0;
    rest += 3;
    const char *p = rest;
    while (*p && *p != '@' && *p != '/')
        p++;
    if (*p == '@') {
        const char *colon = memchr(rest, ':', (size_t)(p - rest));
        if (colon && count < max) {
            spans[count][0] = (size_t)(colon + 1 - url);
            spans[count][1] = (size_t)(p - url);
            count++;
        }
    }
    const char *q = strchr(p, '?');
    while (q && count < max) {
        const char *key = q + 1;
        const char *amp = strchr(key, '&');
        const char *end = amp ? amp : key + strlen(key);
        const char *eq = memchr(key, '=', (size_t)(end - key));
        if (eq) {
            char name[64];
            percent_decode(key, (size_t)(eq - key), name, sizeof name);
            if (strcmp(name, "password") == 0) {
                spans[count][0] = (size_t)(eq + 1 - url);
                spans[count][1] = (size_t)(end - url);
                count++;
            }
        }
        q = amp;
    }
    return count;
}

void tl_catalog_redact_url(const char *url, char *out, size_t size)
{
    if (!size)
        return;
    if (!url) {
        snprintf(out, size, "(none)");
        return;
    }
    size_t spans[8][2];
    size_t n = password_spans(url, spans, 8);
    size_t o = 0, i = 0, len = strlen(url);
    for (size_t k = 0; k <= n && o + 1 < size; k++) {
        size_t stop = k < n ? spans[k][0] : len;
        while (i < stop && o + 1 < size)
            out[o++] = url[i++];
        if (k < n) {
            for (const char *s = "***"; *s && o + 1 < size; s++)
                out[o++] = *s;
            i = spans[k][1];
        }
    }
    out[o] = '\0';
}

/* The secrets of url as they may appear in a library's message: raw and percent-decoded. */
static void collect_secrets(const char *url, char secrets[][128], size_t max, size_t *count)
{
    size_t spans[4][2];
    size_t n = password_spans(url, spans, 4);
    *count = 0;
    for (size_t k = 0; k < n && *count + 2 <= max; k++) {
        size_t len = spans[k][1] - spans[k][0];
        if (!len)
            continue;
        snprintf(secrets[(*count)++], 128, "%.*s", (int)len, url + spans[k][0]);
        percent_decode(url + spans[k][0], len, secrets[*count], 128);
        (*count)++;
    }
}

/* msg with every occurrence of each secret replaced by "***", into out[size]. */
static void scrub(const char *msg, char *out, size_t size, char secrets[][128], size_t n_secrets)
{
    size_t o = 0;
    for (const char *p = msg; *p && o + 1 < size;) {
        size_t hit = 0;
        for (size_t k = 0; k < n_secrets && !hit; k++) {
            size_t len = strlen(secrets[k]);
            if (len && strncmp(p, secrets[k], len) == 0)
                hit = len;
        }
        if (hit) {
            for (const char *r = "***"; *r && o + 1 < size; r++)
                out[o++] = *r;
            p += hit;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static void clean_with(const char *url, const char *msg, char *out, size_t size)
{
    if (!size)
        return;
    char *folded = malloc(size);
    if (!folded) {
        out[0] = '\0';
        return;
    }
    size_t o = 0;
    int space = 0;
    for (const char *p = msg ? msg : ""; *p && o + 1 < size; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t') {
            space = 1;
            continue;
        }
        if (space && o > 0 && o + 3 < size) {
            folded[o++] = ';';
            folded[o++] = ' ';
        }
        space = 0;
        folded[o++] = *p;
    }
    while (o > 0 && (folded[o - 1] == ' ' || folded[o - 1] == ';' || folded[o - 1] == '.'))
        o--;
    folded[o] = '\0';
    char secrets[8][128];
    size_t n = 0;
    if (url)
        collect_secrets(url, secrets, 8, &n);
    scrub(folded, out, size, secrets, n);
    free(folded);
}

void tl_catalog_clean_message(const tl_catalog *cat, const char *msg, char *out, size_t size)
{
    clean_with(cat ? cat->secret_url : NULL, msg, out, size);
}

/* Pick the backend; target receives what the backend opens. */
static tl_status parse_url(const char *url, const tl_catalog_ops **ops, const char **target, tl_error *err)
{
    char shown[1024];
    tl_catalog_redact_url(url, shown, sizeof shown);
    if (!url || !*url)
        return tl_error_set(err, TL_ERR_INVALID, "catalog: no catalog given (--catalog sqlite:PATH or postgresql://...)");
    if (has_prefix(url, "sqlite:")) {
        const char *path = url + 7;
        if (!*path)
            return tl_error_set(err, TL_ERR_INVALID,
                                "--catalog '%s': no database file after 'sqlite:' (allowed: sqlite:PATH, e.g. "
                                "sqlite:catalog.db or sqlite:/data/catalog.db)",
                                shown);
        if (has_prefix(path, "//"))
            return tl_error_set(err, TL_ERR_INVALID,
                                "--catalog '%s': malformed catalog URL (allowed: sqlite:PATH with a plain file path, "
                                "e.g. sqlite:catalog.db or sqlite:/data/catalog.db)",
                                shown);
        *ops = &tl_catalog_sqlite_ops;
        *target = path;
        return TL_OK;
    }
    if (is_postgres_url(url)) {
        *ops = &tl_catalog_postgres_ops;
        *target = url;
        return TL_OK;
    }
    if (!strchr(url, ':'))
        return tl_error_set(err, TL_ERR_INVALID,
                            "--catalog '%s': unknown catalog scheme (allowed: sqlite:PATH, postgresql://...; for a "
                            "file, write sqlite:%s)",
                            shown, shown);
    return tl_error_set(err, TL_ERR_INVALID, "--catalog '%s': unknown catalog scheme (allowed: sqlite:PATH, postgresql://...)",
                        shown);
}

/* --- open, schema ---------------------------------------------------------------------------- */

static tl_status ensure_schema(tl_catalog *cat, tl_error *err)
{
    int version = 0;
    tl_status st;
    if ((st = cat->ops->read_version(cat, &version, err)) != TL_OK)
        return st;
    int latest = tl_catalog_schema_latest();
    if (version == latest)
        return TL_OK;
    if (version < latest) {
        if ((st = cat->ops->begin_migration(cat, err)) != TL_OK)
            return st;
        /* another process may have migrated while we waited for the lock */
        if ((st = cat->ops->read_version(cat, &version, err)) != TL_OK)
            goto rollback;
        for (size_t i = 0; i < N_MIGRATIONS; i++) {
            const migration *m = &migrations[i];
            if (m->version <= version)
                continue;
            if ((st = cat->ops->exec_script(cat, m->sql[cat->ops->dialect], err)) != TL_OK ||
                (st = cat->ops->record_version(cat, m->version, m->description, err)) != TL_OK) {
                tl_error_prefix(err, "schema migration %d", m->version);
                goto rollback;
            }
            tl_log_info("catalog %s: schema migration %d applied (%s)", cat->display_url, m->version, m->description);
        }
        return cat->ops->end_transaction(cat, 1, err);
    }
    return tl_error_set(err, TL_ERR_UNSUPPORTED,
                        "catalog '%s' has schema version %d; this tomoline knows versions up to %d (use a newer "
                        "tomoline)",
                        cat->display_url, version, latest);
rollback:;
    tl_error keep = err ? *err : (tl_error){0};
    cat->ops->end_transaction(cat, 0, NULL);
    if (err)
        *err = keep;
    return st;
}

/* Open; *unreachable says whether a failure means the catalog cannot be reached. */
static tl_status open_catalog(const char *url, double timeout_s, int create, tl_catalog **out, int *unreachable,
                              tl_error *err)
{
    *out = NULL;
    *unreachable = 0;
    const tl_catalog_ops *ops;
    const char *target;
    tl_status st;
    if ((st = parse_url(url, &ops, &target, err)) != TL_OK)
        return st;
    tl_catalog *cat = calloc(1, sizeof *cat);
    if (!cat)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory opening the catalog");
    cat->ops = ops;
    cat->timeout_s = timeout_s > 0 ? timeout_s : 5.0;
    tl_catalog_redact_url(url, cat->display_url, sizeof cat->display_url);
    if (!(cat->secret_url = strdup(url))) {
        free(cat);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory opening the catalog");
    }
    if ((st = ops->open(cat, target, create, err)) != TL_OK)
        goto fail;
    if ((st = ensure_schema(cat, err)) != TL_OK)
        goto fail;
    *out = cat;
    return TL_OK;
fail:
    *unreachable = cat->unreachable;
    tl_catalog_close(&cat);
    return st;
}

tl_status tl_catalog_open(const char *url, double timeout_s, int create, tl_catalog **out, tl_error *err)
{
    int unreachable;
    return open_catalog(url, timeout_s, create, out, &unreachable, err);
}

void tl_catalog_close(tl_catalog **cat)
{
    if (!cat || !*cat)
        return;
    if ((*cat)->impl)
        (*cat)->ops->close(*cat);
    free((*cat)->secret_url);
    free(*cat);
    *cat = NULL;
}

const char *tl_catalog_display_url(const tl_catalog *cat) { return cat->display_url; }

tl_status tl_catalog_schema_version(tl_catalog *cat, int *version, tl_error *err)
{
    return cat->ops->read_version(cat, version, err);
}

/* --- times and uuids ---------------------------------------------------------------------- */

static int digits(const char *s, int n, int *value)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return 1;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

tl_status tl_catalog_parse_time(const char *text, const char *what, char *out, tl_error *err)
{
    int year, month, day, hour = 0, minute = 0, second = 0;
    int has_offset = 0, offset_min = 0;
    const char *p = text ? text : "";
    if (!digits(p, 4, &year) || p[4] != '-' || !digits(p + 5, 2, &month) || p[7] != '-' || !digits(p + 8, 2, &day))
        goto bad;
    p += 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        if (!digits(p + 1, 2, &hour) || p[3] != ':' || !digits(p + 4, 2, &minute))
            goto bad;
        p += 6;
        if (*p == ':') {
            if (!digits(p + 1, 2, &second))
                goto bad;
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p))
                    goto bad;
                while (isdigit((unsigned char)*p))
                    p++; /* fractions of a second are dropped */
            }
        }
        if (*p == 'Z' || *p == 'z') {
            has_offset = 1;
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            if (!digits(p + 1, 2, &oh))
                goto bad;
            p += 3;
            if (*p == ':') {
                if (!digits(p + 1, 2, &om))
                    goto bad;
                p += 3;
            } else if (isdigit((unsigned char)*p)) {
                if (!digits(p, 2, &om))
                    goto bad;
                p += 2;
            }
            if (oh > 23 || om > 59)
                goto bad;
            has_offset = 1;
            offset_min = sign * (oh * 60 + om);
        }
    }
    if (*p || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        goto bad;
    if (second == 60)
        second = 59; /* a leap second: time_t cannot hold it */
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_hour = hour,
                    .tm_min = minute, .tm_sec = second, .tm_isdst = -1};
    time_t t;
    if (has_offset) {
        tm.tm_isdst = 0;
        t = timegm(&tm) - (time_t)offset_min * 60;
    } else {
        t = mktime(&tm); /* local time, as a person at the beamline means it */
    }
    struct tm utc;
    if (!gmtime_r(&t, &utc) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
        goto bad;
    return TL_OK;
bad:
    return tl_error_set(err, TL_ERR_INVALID,
                        "%s '%s' is not a date (allowed: YYYY-MM-DD or ISO 8601 such as 2026-03-01T14:30:00+01:00)",
                        what, text ? text : "");
}

int tl_catalog_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (hexval(s[i]) < 0) {
            return 0;
        }
    }
    return 1;
}

static tl_status make_uuid(char out[37], tl_error *err)
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    while (fd >= 0 && got < sizeof b) {
        ssize_t n = read(fd, b + got, sizeof b - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (got < sizeof b)
        return tl_error_set(err, TL_ERR_IO, "cannot read /dev/urandom to make a record uuid (%s)", strerror(saved));
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return TL_OK;
}

/* --- records ------------------------------------------------------------------------------- */

void tl_catalog_row_free(tl_catalog_row *row)
{
    if (!row)
        return;
    free(row->output_path);
    free(row->input_path);
    free(row->checksum);
    free(row->sample);
    free(row->proposal);
    free(row->beamline);
    free(row->status);
    free(row->parameters);
    memset(row, 0, sizeof *row);
    row->rotation_axis = NAN;
}

static char *dup_or_null(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

/* An absolute path: relative ones are taken from the working directory. */
static char *absolute_path(const char *path, int *failed)
{
    if (path[0] == '/')
        return dup_or_null(path, failed);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return dup_or_null(path, failed);
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *d = malloc(n);
    if (!d) {
        *failed = 1;
        return NULL;
    }
    snprintf(d, n, "%s/%s", cwd, path[0] == '.' && path[1] == '/' ? path + 2 : path);
    return d;
}

tl_status tl_catalog_row_from_record(const tl_catalog_record *rec, tl_catalog_row *row, tl_error *err)
{
    memset(row, 0, sizeof *row);
    row->rotation_axis = NAN;
    if (!rec)
        return tl_error_set(err, TL_ERR_INVALID, "catalog record: no record given");
    if (!rec->output_path || !rec->output_path[0])
        return tl_error_set(err, TL_ERR_INVALID, "catalog record: the output path is missing");
    if (!rec->input_path || !rec->input_path[0])
        return tl_error_set(err, TL_ERR_INVALID, "catalog record of '%s': the input path is missing", rec->output_path);
    tl_status st;
    if (rec->uuid) {
        if (!tl_catalog_uuid_valid(rec->uuid))
            return tl_error_set(err, TL_ERR_INVALID,
                                "catalog record of '%s': uuid '%s' is not a uuid (allowed: 8-4-4-4-12 hex digits)",
                                rec->output_path, rec->uuid);
        for (int i = 0; i < 36; i++)
            row->uuid[i] = (char)tolower((unsigned char)rec->uuid[i]);
        row->uuid[36] = '\0';
    } else if ((st = make_uuid(row->uuid, err)) != TL_OK) {
        return st;
    }
    if (rec->created) {
        if ((st = tl_catalog_parse_time(rec->created, "catalog record: created", row->created, err)) != TL_OK)
            return st;
    } else {
        time_t now = time(NULL);
        struct tm utc;
        gmtime_r(&now, &utc);
        strftime(row->created, sizeof row->created, "%Y-%m-%dT%H:%M:%SZ", &utc);
    }
    for (int i = 0; i < 3; i++) {
        if (rec->shape[i] > (size_t)9000000000000000LL)
            return tl_error_set(err, TL_ERR_INVALID, "catalog record of '%s': shape %zu is too large", rec->output_path,
                                rec->shape[i]);
        row->shape[i] = (long long)rec->shape[i];
    }
    row->rotation_axis = isfinite(rec->rotation_axis) ? rec->rotation_axis : NAN;
    int failed = 0;
    row->output_path = absolute_path(rec->output_path, &failed);
    row->input_path = absolute_path(rec->input_path, &failed);
    row->checksum = dup_or_null(rec->checksum, &failed);
    row->sample = dup_or_null(rec->sample, &failed);
    row->proposal = dup_or_null(rec->proposal, &failed);
    row->beamline = dup_or_null(rec->beamline, &failed);
    row->status = dup_or_null(rec->status && rec->status[0] ? rec->status : "complete", &failed);
    tl_jbuf b = {0};
    tl_jbuf_raw(&b, "{");
    for (size_t i = 0; i < rec->n_params; i++) {
        const char *name = rec->param_names ? rec->param_names[i] : NULL;
        if (!name) {
            free(tl_jbuf_take(&b));
            tl_catalog_row_free(row);
            return tl_error_set(err, TL_ERR_INVALID, "catalog record of '%s': parameter %zu has no name",
                                rec->output_path, i);
        }
        tl_jbuf_raw(&b, i ? ", " : "");
        tl_jbuf_string(&b, name);
        tl_jbuf_raw(&b, ": ");
        tl_jbuf_string(&b, rec->param_values ? rec->param_values[i] : NULL);
    }
    tl_jbuf_raw(&b, "}");
    row->parameters = tl_jbuf_take(&b);
    if (failed || !row->parameters) {
        tl_catalog_row_free(row);
        return tl_error_set(err, TL_ERR_NOMEM, "catalog record of '%s': out of memory", rec->output_path);
    }
    return TL_OK;
}

tl_status tl_catalog_insert(tl_catalog *cat, const tl_catalog_record *rec, int *inserted, char *uuid_out,
                            tl_error *err)
{
    tl_catalog_row row;
    tl_status st = tl_catalog_row_from_record(rec, &row, err);
    if (st != TL_OK)
        return st;
    st = cat->ops->insert(cat, &row, inserted, err);
    if (st == TL_OK && uuid_out)
        snprintf(uuid_out, 37, "%s", row.uuid);
    tl_catalog_row_free(&row);
    return st;
}

/* --- entries ------------------------------------------------------------------------------- */

static void entry_free(tl_catalog_entry *e)
{
    free(e->output_path);
    free(e->input_path);
    free(e->checksum);
    free(e->sample);
    free(e->proposal);
    free(e->beamline);
    free(e->parameters);
    free(e->status);
    for (size_t i = 0; i < e->n_params; i++) {
        free(e->param_names[i]);
        free(e->param_values[i]);
    }
    free(e->param_names);
    free(e->param_values);
}

void tl_catalog_entries_free(tl_catalog_entries *entries)
{
    if (!entries)
        return;
    for (size_t i = 0; i < entries->count; i++)
        entry_free(&entries->items[i]);
    free(entries->items);
    entries->items = NULL;
    entries->count = 0;
}

/* The parameters object as name/value pairs (values that are not strings as JSON text). */
static int split_parameters(tl_catalog_entry *e)
{
    tl_json v;
    if (!e->parameters || !tl_json_parse(e->parameters, &v, NULL, 0))
        return 1;
    int ok = 1;
    if (v.type == TL_JSON_OBJECT && v.n) {
        e->param_names = calloc(v.n, sizeof *e->param_names);
        e->param_values = calloc(v.n, sizeof *e->param_values);
        ok = e->param_names && e->param_values;
        for (size_t i = 0; ok && i < v.n; i++) {
            e->param_names[i] = strdup(v.keys[i]);
            if (v.items[i].type == TL_JSON_STRING) {
                e->param_values[i] = strdup(v.items[i].text);
            } else {
                tl_jbuf b = {0};
                tl_jbuf_value(&b, &v.items[i]);
                e->param_values[i] = tl_jbuf_take(&b);
            }
            e->n_params = i + 1;
            ok = e->param_names[i] && e->param_values[i];
        }
    }
    tl_json_free(&v);
    return ok;
}

tl_status tl_catalog_entries_add(tl_catalog *cat, tl_catalog_entries *out, const char *const col[TL_COL_COUNT],
                                 tl_error *err)
{
    tl_catalog_entry *items = realloc(out->items, (out->count + 1) * sizeof *items);
    if (!items)
        return tl_error_set(err, TL_ERR_NOMEM, "catalog '%s': out of memory reading records", cat->display_url);
    out->items = items;
    tl_catalog_entry *e = &items[out->count];
    memset(e, 0, sizeof *e);
    out->count++;
    int failed = 0;
    e->id = col[TL_COL_ID] ? strtoll(col[TL_COL_ID], NULL, 10) : 0;
    snprintf(e->uuid, sizeof e->uuid, "%s", col[TL_COL_UUID] ? col[TL_COL_UUID] : "");
    snprintf(e->created, sizeof e->created, "%s", col[TL_COL_CREATED] ? col[TL_COL_CREATED] : "");
    e->output_path = dup_or_null(col[TL_COL_OUTPUT] ? col[TL_COL_OUTPUT] : "", &failed);
    e->input_path = dup_or_null(col[TL_COL_INPUT] ? col[TL_COL_INPUT] : "", &failed);
    e->checksum = dup_or_null(col[TL_COL_CHECKSUM], &failed);
    e->sample = dup_or_null(col[TL_COL_SAMPLE], &failed);
    e->proposal = dup_or_null(col[TL_COL_PROPOSAL], &failed);
    e->beamline = dup_or_null(col[TL_COL_BEAMLINE], &failed);
    e->status = dup_or_null(col[TL_COL_STATUS] ? col[TL_COL_STATUS] : "", &failed);
    e->parameters = dup_or_null(col[TL_COL_PARAMETERS] ? col[TL_COL_PARAMETERS] : "{}", &failed);
    for (int i = 0; i < 3; i++) {
        const char *s = col[TL_COL_SHAPE_Z + i];
        e->shape[i] = s ? (size_t)strtoull(s, NULL, 10) : 0;
    }
    e->rotation_axis = col[TL_COL_AXIS] ? strtod(col[TL_COL_AXIS], NULL) : NAN;
    if (failed || !split_parameters(e))
        return tl_error_set(err, TL_ERR_NOMEM, "catalog '%s': out of memory reading records", cat->display_url);
    return TL_OK;
}

tl_status tl_catalog_search(tl_catalog *cat, const tl_catalog_query *q, tl_catalog_entries *out, tl_error *err)
{
    memset(out, 0, sizeof *out);
    char since[32];
    const char *since_arg = NULL;
    tl_status st;
    if (q && q->since && q->since[0]) {
        if ((st = tl_catalog_parse_time(q->since, "--since", since, err)) != TL_OK)
            return st;
        since_arg = since;
    }
    char *like = NULL;
    if (q && q->sample && q->sample[0]) {
        /* a substring match: LIKE %text% with the text's own wildcards escaped by '!' */
        size_t n = strlen(q->sample);
        like = malloc(2 * n + 3);
        if (!like)
            return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
        size_t o = 0;
        like[o++] = '%';
        for (size_t i = 0; i < n; i++) {
            if (q->sample[i] == '%' || q->sample[i] == '_' || q->sample[i] == '!')
                like[o++] = '!';
            like[o++] = q->sample[i];
        }
        like[o++] = '%';
        like[o] = '\0';
    }
    st = cat->ops->search(cat, like, since_arg, q ? q->limit : 0, out, err);
    free(like);
    if (st != TL_OK)
        tl_catalog_entries_free(out);
    return st;
}

tl_status tl_catalog_find(tl_catalog *cat, const char *key, tl_catalog_entries *out, tl_error *err)
{
    memset(out, 0, sizeof *out);
    tl_status st;
    size_t len = key ? strlen(key) : 0;
    if (!len)
        return tl_error_set(err, TL_ERR_INVALID, "catalog show: no record given (allowed: an id, a uuid or a uuid prefix)");
    int all_digits = len <= 18, hexish = len <= 36;
    for (size_t i = 0; i < len; i++) {
        all_digits &= isdigit((unsigned char)key[i]) != 0;
        hexish &= hexval(key[i]) >= 0 || key[i] == '-';
    }
    if (all_digits) {
        if ((st = cat->ops->find_id(cat, strtoll(key, NULL, 10), out, err)) != TL_OK)
            return st;
        if (out->count == 1)
            return TL_OK;
    }
    if (hexish) {
        char prefix[37];
        for (size_t i = 0; i <= len; i++)
            prefix[i] = (char)tolower((unsigned char)key[i]);
        if ((st = cat->ops->find_uuid_prefix(cat, prefix, out, err)) != TL_OK)
            return st;
        if (out->count == 1)
            return TL_OK;
        if (out->count > 1) {
            long long a = out->items[0].id, b = out->items[1].id;
            tl_catalog_entries_free(out);
            return tl_error_set(err, TL_ERR_INVALID,
                                "catalog '%s': '%s' is the start of more than one uuid (records %lld, %lld, ...); give "
                                "more of the uuid",
                                cat->display_url, key, a, b);
        }
    }
    return tl_error_set(err, TL_ERR_DATA, "catalog '%s': no record with id or uuid '%s'", cat->display_url, key);
}

char *tl_catalog_entry_json(const tl_catalog_entry *e)
{
    tl_jbuf b = {0};
    tl_jbuf_printf(&b, "{\"id\": %lld, \"uuid\": ", e->id);
    tl_jbuf_string(&b, e->uuid);
    const struct {
        const char *key, *value;
    } fields[] = {{"created", e->created},   {"status", e->status},           {"sample", e->sample},
                  {"proposal", e->proposal}, {"beamline", e->beamline},       {"output_path", e->output_path},
                  {"input_path", e->input_path}, {"checksum", e->checksum}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        tl_jbuf_printf(&b, ", \"%s\": ", fields[i].key);
        tl_jbuf_string(&b, fields[i].value);
    }
    tl_jbuf_printf(&b, ", \"shape\": [%zu, %zu, %zu], \"rotation_axis\": ", e->shape[0], e->shape[1], e->shape[2]);
    tl_jbuf_number(&b, e->rotation_axis);
    tl_jbuf_raw(&b, ", \"parameters\": ");
    tl_json v;
    if (e->parameters && tl_json_parse(e->parameters, &v, NULL, 0)) {
        tl_jbuf_value(&b, &v);
        tl_json_free(&v);
    } else {
        tl_jbuf_string(&b, e->parameters); /* not JSON after all: keep it, as text */
    }
    tl_jbuf_raw(&b, "}");
    return tl_jbuf_take(&b);
}

/* --- register and push -------------------------------------------------------------------- */

static tl_status queue_row(const char *url, const tl_catalog_row *row, const char *outbox_dir, const tl_error *why,
                           int *queued, tl_error *err)
{
    char shown[1024];
    tl_catalog_redact_url(url, shown, sizeof shown);
    if (!outbox_dir || !outbox_dir[0])
        return tl_error_set(err, TL_ERR_IO,
                            "%s; no outbox directory is set, so the record of '%s' was not stored (set --outbox DIR)",
                            why->message, row->output_path);
    char path[4200];
    tl_error store_err = {0};
    if (tl_outbox_store(outbox_dir, row, path, sizeof path, &store_err) != TL_OK)
        return tl_error_set(err, store_err.status, "%s; and the record of '%s' could not wait in the outbox: %s",
                            why->message, row->output_path, store_err.message);
    *queued = 1;
    /* the hint names the URL only when it has no password to hide (a redacted one would not work) */
    int redacted = strcmp(shown, url) != 0;
    tl_log_warn("%s; the record of '%s' waits in '%s' (send it later with: tomoline catalog push --catalog %s%s%s "
                "--outbox '%s')",
                why->message, row->output_path, path, redacted ? "" : "'", redacted ? "URL" : shown,
                redacted ? "" : "'", outbox_dir);
    return TL_OK;
}

tl_status tl_catalog_register(const char *url, const tl_catalog_record *rec, const char *outbox_dir, double timeout_s,
                              int *queued, char *uuid_out, tl_error *err)
{
    int dummy = 0;
    if (!queued)
        queued = &dummy;
    *queued = 0;
    const tl_catalog_ops *ops;
    const char *target;
    tl_status st;
    if ((st = parse_url(url, &ops, &target, err)) != TL_OK)
        return st;
    tl_catalog_row row;
    if ((st = tl_catalog_row_from_record(rec, &row, err)) != TL_OK)
        return st;
    if (uuid_out)
        snprintf(uuid_out, 37, "%s", row.uuid);
    tl_catalog *cat = NULL;
    int unreachable = 0, inserted = 0;
    tl_error local = {0};
    st = open_catalog(url, timeout_s, 1, &cat, &unreachable, &local);
    if (st == TL_OK) {
        st = cat->ops->insert(cat, &row, &inserted, &local);
        unreachable = st != TL_OK && cat->unreachable;
    }
    tl_catalog_close(&cat);
    if (st == TL_OK) {
        tl_log_info("catalog: registered '%s' as %s", row.output_path, row.uuid);
    } else if (unreachable) {
        st = queue_row(url, &row, outbox_dir, &local, queued, err);
    } else if (err) {
        *err = local;
    }
    tl_catalog_row_free(&row);
    return st;
}

tl_status tl_catalog_outbox_write(const char *outbox_dir, const tl_catalog_record *rec, char *uuid_out, tl_error *err)
{
    if (!outbox_dir || !outbox_dir[0])
        return tl_error_set(err, TL_ERR_INVALID, "no outbox directory given");
    tl_catalog_row row;
    tl_status st = tl_catalog_row_from_record(rec, &row, err);
    if (st != TL_OK)
        return st;
    st = tl_outbox_store(outbox_dir, &row, NULL, 0, err);
    if (st == TL_OK && uuid_out)
        snprintf(uuid_out, 37, "%s", row.uuid);
    tl_catalog_row_free(&row);
    return st;
}

tl_status tl_catalog_push(const char *url, const char *outbox_dir, double timeout_s, size_t *sent, tl_error *err)
{
    size_t dummy;
    if (!sent)
        sent = &dummy;
    *sent = 0;
    const tl_catalog_ops *ops;
    const char *target;
    tl_status st;
    if ((st = parse_url(url, &ops, &target, err)) != TL_OK)
        return st;
    if (!outbox_dir || !outbox_dir[0])
        return tl_error_set(err, TL_ERR_INVALID, "catalog push: no outbox directory given (--outbox DIR)");
    char **names = NULL;
    size_t count = 0;
    if ((st = tl_outbox_list(outbox_dir, &names, &count, err)) != TL_OK)
        return st;
    if (count == 0)
        return TL_OK;
    tl_catalog *cat = NULL;
    int unreachable = 0;
    if ((st = open_catalog(url, timeout_s, 1, &cat, &unreachable, err)) != TL_OK) {
        tl_error_prefix(err, "%zu record%s still wait%s in outbox '%s'", count, count == 1 ? "" : "s",
                        count == 1 ? "s" : "", outbox_dir);
        tl_outbox_names_free(names, count);
        return st;
    }
    size_t remaining = 0, duplicates = 0;
    tl_error first = {0};
    for (size_t i = 0; i < count; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", outbox_dir, names[i]);
        tl_catalog_row row;
        tl_error one = {0};
        if (tl_outbox_read(path, &row, &one) != TL_OK) {
            tl_log_warn("%s; the file is left in place", one.message);
            if (!remaining++)
                first = one;
            continue;
        }
        int inserted = 0;
        if (cat->ops->insert(cat, &row, &inserted, &one) != TL_OK) {
            tl_catalog_row_free(&row);
            if (!remaining++)
                first = one;
            if (cat->unreachable) { /* the rest would fail the same way */
                remaining += count - i - 1;
                break;
            }
            tl_log_warn("outbox file '%s': %s; the file is left in place", path, one.message);
            continue;
        }
        tl_catalog_row_free(&row);
        /* confirmed (or already there from an earlier push): only now the file may go */
        (*sent)++;
        duplicates += !inserted;
        if (unlink(path) != 0)
            tl_log_warn("outbox file '%s' was delivered but cannot be removed (%s); a later push will skip it", path,
                        strerror(errno));
    }
    tl_outbox_names_free(names, count);
    if (*sent)
        tl_log_info("catalog %s: %zu record%s delivered from '%s' (%zu already present)", cat->display_url, *sent,
                    *sent == 1 ? "" : "s", outbox_dir, duplicates);
    tl_catalog_close(&cat);
    if (remaining)
        return tl_error_set(err, first.status ? first.status : TL_ERR_IO,
                            "%zu of %zu records in outbox '%s' were not delivered (first: %s)", remaining, count,
                            outbox_dir, first.message);
    return TL_OK;
}
