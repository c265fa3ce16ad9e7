#define _GNU_SOURCE
#include "support.h"

#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>
#include <sys/wait.h>
#include <unistd.h>

#include "volume.h"

const char *tl_test_tmpdir(void)
{
    static char path[4096];
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(path, sizeof path, "%s/tomoline-test-XXXXXX", base);
    if (!mkdtemp(path))
        return NULL;
    return path;
}

static void slurp(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

int tl_test_run(tl_test_run_result *r, const char *fmt, ...)
{
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s/out' 2>'%s/err' </dev/null", TL_TEST_EXE, args, dir, dir);
    int status = system(cmd);
    memset(r, 0, sizeof *r);
    if (status == -1)
        return -1;
    if (WIFEXITED(status)) {
        r->exit_code = WEXITSTATUS(status);
        /* the shell reports a child killed by signal N as 128 + N */
        if (r->exit_code > 128 && r->exit_code < 160) {
            r->signaled = 1;
        }
    } else {
        r->exit_code = -1;
        r->signaled = 1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/out", dir);
    slurp(path, r->out, sizeof r->out);
    unlink(path);
    snprintf(path, sizeof path, "%s/err", dir);
    slurp(path, r->err, sizeof r->err);
    unlink(path);
    rmdir(dir);
    return 0;
}

double tl_test_rel_l2_disk(const float *recon, const float *truth, size_t n, double radius)
{
    double num = 0, den = 0, centre = 0.5 * ((double)n - 1);
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < n; c++) {
            double x = (double)c - centre, y = (double)r - centre;
            if (x * x + y * y > radius * radius)
                continue;
            double d = (double)recon[r * n + c] - (double)truth[r * n + c];
            num += d * d;
            den += (double)truth[r * n + c] * (double)truth[r * n + c];
        }
    return den > 0 ? sqrt(num / den) : INFINITY;
}

double tl_test_mean_disk(const float *slice, size_t n, double x0, double y0, double radius)
{
    double sum = 0, centre = 0.5 * ((double)n - 1);
    size_t count = 0;
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < n; c++) {
            double x = (double)c - centre - x0, y = (double)r - centre - y0;
            if (x * x + y * y <= radius * radius) {
                sum += slice[r * n + c];
                count++;
            }
        }
    return count ? sum / (double)count : NAN;
}

int tl_test_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

float *tl_test_read_volume(const char *path, size_t *nz, size_t *ny, size_t *nx)
{
    float *v = NULL;
    tl_error err = {0};
    cr_assert_eq(tl_volume_read(path, &v, nz, ny, nx, &err), TL_OK, "%s", err.message);
    return v;
}

double tl_test_disk_projection(double j, double a, double theta, double x0, double y0, double rad, double rho)
{
    /* average of 2 rho sqrt(rad^2 - t^2) over t in [t - 1/2, t + 1/2]; antiderivative F */
    double t = j - a - (x0 * cos(theta) + y0 * sin(theta));
    double lo = t - 0.5, hi = t + 0.5;
    if (lo < -rad)
        lo = -rad;
    if (hi > rad)
        hi = rad;
    if (hi <= lo)
        return 0.0;
#define F(u) (0.5 * ((u) * sqrt(rad * rad - (u) * (u)) + rad * rad * asin((u) / rad)))
    return 2.0 * rho * (F(hi) - F(lo));
#undef F
}

void tl_test_sleep(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

int tl_test_file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

int tl_test_wait_for(const char *path, const char *text, double seconds)
{
    for (double t = 0; t < seconds; t += 0.1, tl_test_sleep(0.1))
        if (text ? tl_test_file_has(path, text) : tl_test_file_exists(path))
            return 1;
    return 0;
}

int tl_test_free_port(void)
{
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PULL);
    zmq_bind(s, "tcp://127.0.0.1:*");
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return atoi(strrchr(ep, ':') + 1);
}
