/* support.h - helpers shared by the test programs (and the benchmarks). */
#ifndef TL_TEST_SUPPORT_H
#define TL_TEST_SUPPORT_H

#include <stddef.h>

/* A fresh, empty directory under $TMPDIR (or /tmp); the returned string is static
 * per call site only until the next call: copy it. */
const char *tl_test_tmpdir(void);

/* Result of running the tomoline executable. */
typedef struct tl_test_run_result {
    int exit_code;   /* -1 when it did not exit normally (crash) */
    int signaled;    /* terminated by a signal (a crash) */
    char out[65536]; /* stdout */
    char err[65536]; /* stderr */
} tl_test_run_result;

/* Run `TL_TEST_EXE <args>` through /bin/sh (args is shell text); capture both
 * streams. Returns 0 when the process could be run. */
int tl_test_run(tl_test_run_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Relative L2 error sqrt(sum (a-b)^2 / sum b^2) over the pixels of an N x N
 * slice within `radius` of the centre ((N-1)/2, (N-1)/2). */
double tl_test_rel_l2_disk(const float *recon, const float *truth, size_t n, double radius);

/* Mean of an N x N slice over a disk of `radius` centred at pixel (x, y) in
 * DESIGN.md coordinates (x = c - (N-1)/2, y = r - (N-1)/2). */
double tl_test_mean_disk(const float *slice, size_t n, double x, double y, double radius);

int tl_test_file_exists(const char *path);

/* Exact, pixel-averaged projection of a disk of radius rad and value rho centred
 * at (x0, y0) onto detector column j with the axis at a, at angle theta (radians). */
double tl_test_disk_projection(double j, double a, double theta, double x0, double y0, double rad, double rho);

/* The volume of a tomoline output file (caller frees); a failed read fails the
 * calling test with the reader's message. */
float *tl_test_read_volume(const char *path, size_t *nz, size_t *ny, size_t *nx);

/* Sleep `seconds` (fractions too). */
void tl_test_sleep(double seconds);
/* `path` exists and contains `text` (the first MiB is read). */
int tl_test_file_has(const char *path, const char *text);
/* Wait up to `seconds` for `path` to exist (text NULL) or to contain `text`; 1 when it did. */
int tl_test_wait_for(const char *path, const char *text, double seconds);
/* A TCP port on 127.0.0.1 that was free a moment ago (bound and released through ZeroMQ). */
int tl_test_free_port(void);

#endif
