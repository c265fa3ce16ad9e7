/* outbox.c - records that wait for the catalog, one JSON file each.
 *
 * A record that cannot reach the catalog is written to DIR/<uuid>.json: first to a hidden
 * temporary file in the same directory, flushed to disk, then renamed over the final name, and
 * the directory itself flushed. A crash therefore leaves either no file or a whole one; a
 * leftover temporary (".<uuid>.json.tmp.PID") is never taken for a record. `catalog push`
 * removes a file only after the catalog has confirmed its record.
 *
 * Reading is strict: a file that is not exactly a record this module writes (bad JSON, missing
 * or unknown fields, wrong types, another format version) is reported and left in place, so a
 * person can look at it; it is never deleted and never half-inserted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog_internal.h"

#define OUTBOX_FORMAT "tomoline catalog record"
#define OUTBOX_FORMAT_VERSION 1
#define OUTBOX_MAX_BYTES (16u << 20)

char *tl_catalog_row_to_json(const tl_catalog_row *row)
{
    tl_jbuf b = {0};
    tl_jbuf_raw(&b, "{\n  \"format\": ");
    tl_jbuf_string(&b, OUTBOX_FORMAT);
    tl_jbuf_printf(&b, ",\n  \"format_version\": %d", OUTBOX_FORMAT_VERSION);
    const struct {
        const char *key;
        const char *value;
    } strings[] = {{"uuid", row->uuid},         {"created", row->created},   {"output_path", row->output_path},
                   {"input_path", row->input_path}, {"checksum", row->checksum}, {"sample", row->sample},
                   {"proposal", row->proposal}, {"beamline", row->beamline}, {"status", row->status}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        tl_jbuf_printf(&b, ",\n  \"%s\": ", strings[i].key);
        tl_jbuf_string(&b, strings[i].value);
    }
    tl_jbuf_printf(&b, ",\n  \"shape\": [%lld, %lld, %lld]", row->shape[0], row->shape[1], row->shape[2]);
    tl_jbuf_raw(&b, ",\n  \"rotation_axis\": ");
    tl_jbuf_number(&b, row->rotation_axis);
    tl_jbuf_raw(&b, ",\n  \"parameters\": ");
    tl_jbuf_raw(&b, row->parameters ? row->parameters : "{}");
    tl_jbuf_raw(&b, "\n}\n");
    return tl_jbuf_take(&b);
}

static const char *const known_keys[] = {"format",   "format_version", "uuid",     "created",
                                         "output_path", "input_path",  "checksum", "sample",
                                         "proposal", "beamline",       "status",   "shape",
                                         "rotation_axis", "parameters"};

/* A string field; nullable says whether null (or absence) is allowed. */
static tl_status take_string(const tl_json *root, const char *key, int nullable, char **out, const char *path,
                             tl_error *err)
{
    const tl_json *v = tl_json_get(root, key);
    *out = NULL;
    if ((!v || v->type == TL_JSON_NULL) && nullable)
        return TL_OK;
    if (!v)
        return tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': field \"%s\" is missing", path, key);
    if (v->type != TL_JSON_STRING || (!nullable && !v->text[0]))
        return tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': field \"%s\" must be a%s string", path, key,
                            nullable ? "" : " non-empty");
    *out = strdup(v->text);
    if (!*out)
        return tl_error_set(err, TL_ERR_NOMEM, "outbox file '%s': out of memory", path);
    return TL_OK;
}

tl_status tl_catalog_row_from_json(const char *text, const char *path, tl_catalog_row *row, tl_error *err)
{
    memset(row, 0, sizeof *row);
    row->rotation_axis = NAN;
    tl_json root;
    char why[200];
    if (!tl_json_parse(text, &root, why, sizeof why))
        return tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s' is not valid JSON (%s)", path, why);
    tl_status st = TL_OK;
    if (root.type != TL_JSON_OBJECT) {
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s' is not a JSON object", path);
        goto done;
    }
    for (size_t i = 0; i < root.n; i++) {
        int known = 0;
        for (size_t k = 0; k < sizeof known_keys / sizeof known_keys[0]; k++)
            known |= strcmp(root.keys[i], known_keys[k]) == 0;
        if (!known) {
            st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': unknown field \"%s\"", path, root.keys[i]);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(root.keys[i], root.keys[j]) == 0) {
                st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': field \"%s\" appears twice", path,
                                  root.keys[i]);
                goto done;
            }
    }
    const tl_json *format = tl_json_get(&root, "format");
    const tl_json *version = tl_json_get(&root, "format_version");
    if (!format || format->type != TL_JSON_STRING || strcmp(format->text, OUTBOX_FORMAT) != 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s' is not a tomoline catalog record (no \"format\": \"%s\")",
                          path, OUTBOX_FORMAT);
        goto done;
    }
    if (!version || version->type != TL_JSON_NUMBER || version->number != OUTBOX_FORMAT_VERSION) {
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "outbox file '%s': format_version %s is not one this tomoline reads (allowed: %d)", path,
                          version && version->type == TL_JSON_NUMBER ? version->text : "(missing)",
                          OUTBOX_FORMAT_VERSION);
        goto done;
    }
    char *uuid = NULL, *created = NULL;
    if ((st = take_string(&root, "uuid", 0, &uuid, path, err)) != TL_OK)
        goto done;
    int uuid_ok = tl_catalog_uuid_valid(uuid);
    if (uuid_ok)
        snprintf(row->uuid, sizeof row->uuid, "%s", uuid);
    free(uuid);
    if (!uuid_ok) {
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': field \"uuid\" is not a uuid", path);
        goto done;
    }
    if ((st = take_string(&root, "created", 0, &created, path, err)) != TL_OK)
        goto done;
    st = tl_catalog_parse_time(created, "field \"created\"", row->created, err);
    free(created);
    if (st != TL_OK) {
        tl_error_prefix(err, "outbox file '%s'", path);
        goto done;
    }
    if ((st = take_string(&root, "output_path", 0, &row->output_path, path, err)) != TL_OK ||
        (st = take_string(&root, "input_path", 0, &row->input_path, path, err)) != TL_OK ||
        (st = take_string(&root, "status", 0, &row->status, path, err)) != TL_OK ||
        (st = take_string(&root, "checksum", 1, &row->checksum, path, err)) != TL_OK ||
        (st = take_string(&root, "sample", 1, &row->sample, path, err)) != TL_OK ||
        (st = take_string(&root, "proposal", 1, &row->proposal, path, err)) != TL_OK ||
        (st = take_string(&root, "beamline", 1, &row->beamline, path, err)) != TL_OK)
        goto done;
    const tl_json *shape = tl_json_get(&root, "shape");
    int shape_ok = shape && shape->type == TL_JSON_ARRAY && shape->n == 3;
    for (size_t i = 0; shape_ok && i < 3; i++) {
        const tl_json *d = &shape->items[i];
        shape_ok = d->type == TL_JSON_NUMBER && d->number >= 0 && d->number <= 9.0e15 &&
                   d->number == floor(d->number) && !strpbrk(d->text, ".eE");
        if (shape_ok)
            row->shape[i] = (long long)d->number;
    }
    if (!shape_ok) {
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': field \"shape\" must be [nz, ny, nx] (integers >= 0)",
                          path);
        goto done;
    }
    const tl_json *axis = tl_json_get(&root, "rotation_axis");
    if (axis && axis->type == TL_JSON_NUMBER) {
        row->rotation_axis = axis->number;
    } else if (axis && axis->type != TL_JSON_NULL) {
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': field \"rotation_axis\" must be a number or null",
                          path);
        goto done;
    }
    const tl_json *params = tl_json_get(&root, "parameters");
    if (!params || params->type != TL_JSON_OBJECT) {
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s': field \"parameters\" must be a JSON object", path);
        goto done;
    }
    tl_jbuf b = {0};
    tl_jbuf_value(&b, params);
    row->parameters = tl_jbuf_take(&b);
    if (!row->parameters)
        st = tl_error_set(err, TL_ERR_NOMEM, "outbox file '%s': out of memory", path);
done:
    tl_json_free(&root);
    if (st != TL_OK)
        tl_catalog_row_free(row);
    return st;
}

/* mkdir -p */
static tl_status make_dirs(const char *dir, tl_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return tl_error_set(err, TL_ERR_INVALID, "outbox directory '%.200s...' is too long", dir);
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return tl_error_set(err, TL_ERR_IO, "cannot create outbox directory '%s' (%s)", path, strerror(errno));
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return tl_error_set(err, TL_ERR_IO, "outbox '%s' is not a directory", dir);
    return TL_OK;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

tl_status tl_outbox_store(const char *dir, const tl_catalog_row *row, char *path_out, size_t path_size,
                          tl_error *err)
{
    tl_status st;
    if ((st = make_dirs(dir, err)) != TL_OK)
        return st;
    char *text = tl_catalog_row_to_json(row);
    if (!text)
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory writing the outbox record %s", row->uuid);
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/.%s.json.tmp.%ld", dir, row->uuid, (long)getpid());
    snprintf(final, sizeof final, "%s/%s.json", dir, row->uuid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot write outbox file '%s' (%s)", tmp, strerror(errno));
        goto out;
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            st = tl_error_set(err, TL_ERR_IO, "cannot write outbox file '%s' (%s)", tmp,
                              n < 0 ? strerror(errno) : "no space written");
            close(fd);
            unlink(tmp);
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot write outbox file '%s' (%s)", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, final) != 0) {
        st = tl_error_set(err, TL_ERR_IO, "cannot rename '%s' to '%s' (%s)", tmp, final, strerror(errno));
        unlink(tmp);
        goto out;
    }
    sync_dir(dir);
    if (path_out)
        snprintf(path_out, path_size, "%s", final);
    st = TL_OK;
out:
    free(text);
    return st;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tl_outbox_names_free(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

tl_status tl_outbox_list(const char *dir, char ***names, size_t *count, tl_error *err)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return TL_OK;
        return tl_error_set(err, TL_ERR_IO, "cannot read outbox directory '%s' (%s)", dir, strerror(errno));
    }
    char **list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        /* hidden names are temporaries (or not ours); only NAME.json holds a record */
        if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            char **grown = realloc(list, nc * sizeof *grown);
            if (!grown)
                goto nomem;
            list = grown;
            cap = nc;
        }
        if (!(list[n] = strdup(e->d_name)))
            goto nomem;
        n++;
    }
    closedir(d);
    if (n)
        qsort(list, n, sizeof *list, compare_names);
    *names = list;
    *count = n;
    return TL_OK;
nomem:
    closedir(d);
    tl_outbox_names_free(list, n);
    return tl_error_set(err, TL_ERR_NOMEM, "out of memory listing outbox directory '%s'", dir);
}

tl_status tl_outbox_read(const char *path, tl_catalog_row *row, tl_error *err)
{
    memset(row, 0, sizeof *row);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tl_error_set(err, TL_ERR_IO, "cannot read outbox file '%s' (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s' is not a regular file", path);
    }
    if ((unsigned long long)sb.st_size > OUTBOX_MAX_BYTES) {
        fclose(f);
        return tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s' is larger than %u MiB: not a catalog record", path,
                            OUTBOX_MAX_BYTES >> 20);
    }
    size_t size = (size_t)sb.st_size;
    char *text = malloc(size + 1);
    if (!text) {
        fclose(f);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory reading outbox file '%s'", path);
    }
    size_t n = fread(text, 1, size, f);
    int read_error = ferror(f);
    fclose(f);
    tl_status st;
    if (read_error)
        st = tl_error_set(err, TL_ERR_IO, "cannot read outbox file '%s'", path);
    else if (n == 0)
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s' is empty", path);
    else if (memchr(text, '\0', n))
        st = tl_error_set(err, TL_ERR_FORMAT, "outbox file '%s' contains NUL bytes: not a catalog record", path);
    else {
        text[n] = '\0';
        st = tl_catalog_row_from_json(text, path, row, err);
    }
    free(text);
    return st;
}
