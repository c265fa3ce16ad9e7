/* sino_file.c - write and read sinogram files (layout in sino_file.h). */
#include "sino_file.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5_util.h"

struct tl_sino_writer {
    char *path, *partial;
    hid_t file, data;
    tl_sino_desc desc;
};

struct tl_sino_file {
    char *path;
    hid_t file, data;
    tl_sino_desc desc;
    double *angles;
    char content[32];
};

static void writer_free(tl_sino_writer *w)
{
    free(w->path);
    free(w->partial);
    free(w);
}

void tl_sino_writer_abort(tl_sino_writer **w)
{
    if (!w || !*w)
        return;
    tl_h5_quiet();
    if ((*w)->data >= 0)
        H5Dclose((*w)->data);
    tl_h5_output_abort((*w)->file, (*w)->partial);
    writer_free(*w);
    *w = NULL;
}

tl_status tl_sino_writer_create(const char *path, const tl_sino_desc *desc, int overwrite, tl_sino_writer **out,
                                tl_error *err)
{
    *out = NULL;
    tl_h5_quiet();
    if (desc->n_rows == 0 || desc->n_angles == 0 || desc->n_cols == 0)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': empty sinogram stack (%zu x %zu x %zu)", path, desc->n_rows,
                            desc->n_angles, desc->n_cols);
    tl_sino_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    }
    w->data = H5I_INVALID_HID;
    w->file = H5I_INVALID_HID;
    w->desc = *desc;
    w->desc.angles_deg = NULL;
    tl_status st = tl_h5_output_begin(path, overwrite, &w->partial, &w->file, err);
    if (st != TL_OK) {
        writer_free(w);
        return st;
    }
    hid_t entry = tl_h5_create_group(w->file, "entry", "NXentry", path, "/entry", err);
    if (entry < 0)
        goto fail;
    st = tl_h5_write_string_attr(entry, "tomoline_content", "sinograms", path, "/entry", err);
    if (st == TL_OK)
        st = tl_h5_write_string_attr(entry, "default", "data", path, "/entry", err);
    hid_t group = st == TL_OK ? tl_h5_create_group(entry, "data", "NXdata", path, "/entry/data", err)
                              : H5I_INVALID_HID;
    H5Gclose(entry);
    if (group < 0)
        goto fail;
    hsize_t dims[3] = {desc->n_rows, desc->n_angles, desc->n_cols};
    hsize_t chunk[3] = {1, desc->n_angles, desc->n_cols};
    hid_t space = H5Screate_simple(3, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    w->data = H5Dcreate2(group, "data", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (w->data < 0) {
        H5Gclose(group);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot create /entry/data/data", path);
        goto fail;
    }
    st = tl_h5_write_string_attr(group, "signal", "data", path, "/entry/data", err);
    if (st == TL_OK)
        st = tl_h5_write_double_dataset(group, "rotation_angle", desc->angles_deg, desc->n_angles, path,
                                        "/entry/data", err);
    if (st == TL_OK)
        st = tl_h5_write_int_attr(w->data, "first_row", (int)desc->first_row, path, "/entry/data/data", err);
    if (st == TL_OK)
        st = tl_h5_write_string_attr(w->data, "content", desc->content ? desc->content : "line_integrals", path,
                                     "/entry/data/data", err);
    if (st == TL_OK && desc->ring_removal)
        st = tl_h5_write_string_attr(w->data, "ring_removal", desc->ring_removal, path, "/entry/data/data", err);
    H5Gclose(group);
    if (st != TL_OK)
        goto fail;
    *out = w;
    return TL_OK;
fail:
    if (st == TL_OK)
        st = err ? err->status : TL_ERR_IO;
    tl_sino_writer_abort(&w);
    return st;
}

tl_status tl_sino_writer_write(tl_sino_writer *w, size_t row_begin, size_t n, const float *data, tl_error *err)
{
    tl_h5_quiet();
    if (row_begin + n > w->desc.n_rows)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': rows %zu..%zu are past the %zu sinograms of the file",
                            w->path, row_begin, row_begin + n - 1, w->desc.n_rows);
    hsize_t start[3] = {row_begin, 0, 0}, count[3] = {n, w->desc.n_angles, w->desc.n_cols};
    hid_t fspace = H5Dget_space(w->data);
    hid_t mspace = H5Screate_simple(3, count, NULL);
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    herr_t rc = H5Dwrite(w->data, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, data);
    H5Sclose(mspace);
    H5Sclose(fspace);
    if (rc < 0)
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot write sinograms %zu..%zu", w->partial, row_begin,
                            row_begin + n - 1);
    return TL_OK;
}

tl_status tl_sino_writer_commit(tl_sino_writer **w, tl_error *err)
{
    if (!w || !*w)
        return tl_error_set(err, TL_ERR_INVALID, "tl_sino_writer_commit: no writer");
    tl_h5_quiet();
    tl_sino_writer *s = *w;
    H5Dclose(s->data);
    tl_status st = tl_h5_output_commit(s->file, s->partial, s->path, err);
    writer_free(s);
    *w = NULL;
    return st;
}

/* ---- reading --------------------------------------------------------------------------------- */

int tl_sino_file_detect(const char *path)
{
    tl_h5_quiet();
    if (H5Fis_hdf5(path) <= 0)
        return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 0;
    int found = 0;
    if (tl_h5_is_type(f, "/entry", H5O_TYPE_GROUP) == 1) {
        hid_t g = H5Gopen2(f, "/entry", H5P_DEFAULT);
        char content[64];
        if (g >= 0 && tl_h5_read_string_attr(g, "tomoline_content", content, sizeof content) == 0)
            found = strcmp(content, "sinograms") == 0;
        if (g >= 0)
            H5Gclose(g);
    }
    H5Fclose(f);
    return found;
}

void tl_sino_file_close(tl_sino_file **f)
{
    if (!f || !*f)
        return;
    tl_h5_quiet();
    if ((*f)->data >= 0)
        H5Dclose((*f)->data);
    if ((*f)->file >= 0)
        H5Fclose((*f)->file);
    free((*f)->angles);
    free((*f)->path);
    free(*f);
    *f = NULL;
}

tl_status tl_sino_file_open(const char *path, tl_sino_file **out, tl_error *err)
{
    *out = NULL;
    tl_h5_quiet();
    tl_sino_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return tl_error_set(err, TL_ERR_NOMEM, "out of memory");
    }
    f->file = f->data = H5I_INVALID_HID;
    tl_status st = tl_h5_open_read(path, &f->file, err);
    if (st != TL_OK)
        goto fail;
    if (!tl_sino_file_detect(path)) {
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s' is not a sinogram file (written by 'tomoline sino': /entry @tomoline_content = "
                          "\"sinograms\")",
                          path);
        goto fail;
    }
    f->data = H5Dopen2(f->file, "/entry/data/data", H5P_DEFAULT);
    if (f->data < 0) {
        st = tl_error_set(err, TL_ERR_FORMAT, "'%s': sinogram file without /entry/data/data", path);
        goto fail;
    }
    hid_t space = H5Dget_space(f->data);
    hsize_t dims[3] = {0, 0, 0};
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank == 3)
        H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    if (rank != 3 || dims[0] == 0 || dims[1] < 2 || dims[2] < 2) {
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s': /entry/data/data must be [rows, angles, columns] with at least 2 angles and 2 "
                          "columns",
                          path);
        goto fail;
    }
    f->desc.n_rows = dims[0];
    f->desc.n_angles = dims[1];
    f->desc.n_cols = dims[2];
    hid_t ad = H5Dopen2(f->file, "/entry/data/rotation_angle", H5P_DEFAULT);
    hsize_t n_angles = 0;
    if (ad >= 0) {
        hid_t as = H5Dget_space(ad);
        if (H5Sget_simple_extent_ndims(as) == 1)
            H5Sget_simple_extent_dims(as, &n_angles, NULL);
        H5Sclose(as);
    }
    if (ad < 0 || n_angles != dims[1]) {
        if (ad >= 0)
            H5Dclose(ad);
        st = tl_error_set(err, TL_ERR_FORMAT,
                          "'%s': /entry/data/rotation_angle must hold one angle per sinogram line (%llu), found %llu",
                          path, (unsigned long long)dims[1], (unsigned long long)n_angles);
        goto fail;
    }
    f->angles = malloc(dims[1] * sizeof *f->angles);
    if (!f->angles || H5Dread(ad, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->angles) < 0) {
        H5Dclose(ad);
        st = tl_error_set(err, TL_ERR_IO, "'%s': cannot read /entry/data/rotation_angle", path);
        goto fail;
    }
    H5Dclose(ad);
    f->desc.angles_deg = f->angles;
    int first_row = 0;
    if (H5Aexists(f->data, "first_row") > 0) {
        hid_t a = H5Aopen(f->data, "first_row", H5P_DEFAULT);
        if (a < 0 || H5Aread(a, H5T_NATIVE_INT, &first_row) < 0 || first_row < 0)
            first_row = 0;
        if (a >= 0)
            H5Aclose(a);
    }
    f->desc.first_row = (size_t)first_row;
    if (tl_h5_read_string_attr(f->data, "content", f->content, sizeof f->content) != 0)
        snprintf(f->content, sizeof f->content, "line_integrals");
    f->desc.content = f->content;
    *out = f;
    return TL_OK;
fail:
    tl_sino_file_close(&f);
    return st;
}

const tl_sino_desc *tl_sino_file_info(const tl_sino_file *f) { return &f->desc; }

tl_status tl_sino_file_read(tl_sino_file *f, size_t row_begin, size_t row_end, float *out, tl_error *err)
{
    tl_h5_quiet();
    if (row_begin >= row_end || row_end > f->desc.n_rows)
        return tl_error_set(err, TL_ERR_INVALID, "'%s': rows %zu..%zu are outside the %zu sinograms of the file",
                            f->path, row_begin, row_end, f->desc.n_rows);
    hsize_t start[3] = {row_begin, 0, 0}, count[3] = {row_end - row_begin, f->desc.n_angles, f->desc.n_cols};
    hid_t fspace = H5Dget_space(f->data);
    hid_t mspace = H5Screate_simple(3, count, NULL);
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    herr_t rc = H5Dread(f->data, H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT, out);
    H5Sclose(mspace);
    H5Sclose(fspace);
    if (rc < 0) {
        char reason[256];
        tl_h5_reason(reason, sizeof reason);
        return tl_error_set(err, TL_ERR_IO, "'%s': cannot read sinograms %zu..%zu of /entry/data/data%s%s", f->path,
                            row_begin, row_end - 1, reason[0] ? ": " : "", reason);
    }
    return TL_OK;
}
