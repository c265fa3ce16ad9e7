/* bench.h - shared helpers of the benchmarks: statistics over repetitions,
 * machine description, and the header every result file starts with.
 * Benchmarks measure; tests never assert timings. */
#ifndef TL_BENCH_H
#define TL_BENCH_H

#include <stddef.h>
#include <stdio.h>

typedef struct tl_bench_stats {
    int n;
    double median, min, max;
    double spread; /* (max - min) / median */
} tl_bench_stats;

/* Sorts samples in place. */
void tl_bench_stats_of(double *samples, int n, tl_bench_stats *out);

/* "Intel(R) Xeon(R) ... , 2 cores, 23.4 GiB, Linux 6.1.0" */
void tl_bench_machine(char *buf, size_t size);

/* Header lines: date, machine, commit, compiler. */
void tl_bench_header(FILE *out, const char *title);

/* Peak resident memory of this process, bytes. */
size_t tl_bench_peak_rss(void);

#endif
