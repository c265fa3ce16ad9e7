#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "version.h"

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void tl_bench_stats_of(double *s, int n, tl_bench_stats *out)
{
    memset(out, 0, sizeof *out);
    if (n <= 0)
        return;
    qsort(s, (size_t)n, sizeof *s, compare_double);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    out->spread = out->median > 0 ? (out->max - out->min) / out->median : 0;
}

void tl_bench_machine(char *buf, size_t size)
{
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0 * 1024.0);
    struct utsname u;
    uname(&u);
    snprintf(buf, size, "%s, %ld cores, %.1f GiB, %s %s %s", model, cores, gib, u.sysname, u.release, u.machine);
}

void tl_bench_header(FILE *out, const char *title)
{
    char machine[512], date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    tl_bench_machine(machine, sizeof machine);
    fprintf(out, "# %s\n", title);
    fprintf(out, "date:     %s\n", date);
    fprintf(out, "machine:  %s\n", machine);
    fprintf(out, "commit:   %s (tomoline %s)\n", tl_git_revision(), tl_version());
#ifdef __VERSION__
    fprintf(out, "compiler: gcc %s\n", __VERSION__);
#endif
}

size_t tl_bench_peak_rss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss * 1024;
}
