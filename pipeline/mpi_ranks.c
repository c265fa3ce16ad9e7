/* mpi_ranks.c - MPI when launched by an MPI launcher, one rank otherwise (mpi_ranks.h). */
#include "mpi_ranks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TOMOLINE_MPI
#include <mpi.h>

enum { TL_MPI_SUM_MAX = 16 };

static int started; /* tl_mpi_init called MPI_Init_thread */
static int rank_, size_ = 1, local_size_ = 1;

int tl_mpi_init(int *argc, char ***argv)
{
    if (started || !tl_mpi_launched())
        return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "tomoline: error: started by an MPI launcher, but MPI_Init_thread failed\n");
        return -1;
    }
    started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &local_size_);
        MPI_Comm_free(&node);
    }
    return 0;
}

void tl_mpi_finalize(void)
{
    if (!started)
        return;
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
    started = 0;
}

int tl_mpi_compiled(void) { return 1; }

const char *tl_mpi_library(void)
{
    static char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!version[0]) {
        MPI_Get_library_version(version, &len);
        char *nl = strpbrk(version, "\n,");
        if (nl)
            *nl = '\0';
    }
    return version;
}

int tl_mpi_rank(void) { return rank_; }
int tl_mpi_size(void) { return size_; }
int tl_mpi_local_size(void) { return local_size_; }
int tl_mpi_active(void) { return started && size_ > 1; }

void tl_mpi_barrier(void)
{
    if (started)
        MPI_Barrier(MPI_COMM_WORLD);
}

void tl_mpi_bcast(void *data, size_t bytes)
{
    if (started && size_ > 1)
        MPI_Bcast(data, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
}

void tl_mpi_max_doubles(double *values, size_t n)
{
    if (started && size_ > 1)
        MPI_Allreduce(MPI_IN_PLACE, values, (int)n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
}

void tl_mpi_sum_sizes(size_t *values, size_t n)
{
    if (!(started && size_ > 1))
        return;
    unsigned long long v[TL_MPI_SUM_MAX];
    for (size_t i0 = 0; i0 < n; i0 += TL_MPI_SUM_MAX) {
        size_t m = n - i0 < TL_MPI_SUM_MAX ? n - i0 : TL_MPI_SUM_MAX;
        for (size_t i = 0; i < m; i++)
            v[i] = values[i0 + i];
        MPI_Allreduce(MPI_IN_PLACE, v, (int)m, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
        for (size_t i = 0; i < m; i++)
            values[i0 + i] = (size_t)v[i];
    }
}

tl_status tl_mpi_agree(tl_status st, tl_error *err)
{
    if (!(started && size_ > 1))
        return st;
    int mine = st == TL_OK ? size_ : rank_, first = size_;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == size_)
        return TL_OK;
    struct {
        int status;
        char message[TL_ERROR_MSG_MAX];
    } msg = {0};
    if (rank_ == first) {
        msg.status = (int)st;
        snprintf(msg.message, sizeof msg.message, "%s", err && err->message[0] ? err->message : tl_strerror(st));
    }
    MPI_Bcast(&msg, (int)sizeof msg, MPI_BYTE, first, MPI_COMM_WORLD);
    tl_error local;
    if (!err)
        err = &local;
    if (strncmp(msg.message, "rank ", 5) == 0) /* agreed before */
        tl_error_set(err, (tl_status)msg.status, "%s", msg.message);
    else
        tl_error_set(err, (tl_status)msg.status, "rank %d: %s", first, msg.message);
    return (tl_status)msg.status;
}

#else /* one process, no MPI */

int tl_mpi_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}
void tl_mpi_finalize(void) {}
int tl_mpi_compiled(void) { return 0; }
const char *tl_mpi_library(void) { return "none"; }
int tl_mpi_rank(void) { return 0; }
int tl_mpi_size(void) { return 1; }
int tl_mpi_local_size(void) { return 1; }
int tl_mpi_active(void) { return 0; }
void tl_mpi_barrier(void) {}
void tl_mpi_bcast(void *data, size_t bytes)
{
    (void)data;
    (void)bytes;
}
void tl_mpi_max_doubles(double *values, size_t n)
{
    (void)values;
    (void)n;
}
void tl_mpi_sum_sizes(size_t *values, size_t n)
{
    (void)values;
    (void)n;
}
tl_status tl_mpi_agree(tl_status st, tl_error *err)
{
    (void)err;
    return st;
}

#endif

void tl_mpi_split(size_t total, int rank, int size, size_t *begin, size_t *end)
{
    size_t k = (size_t)rank, n = size > 0 ? (size_t)size : 1;
    size_t base = total / n, extra = total % n;
    *begin = k * base + (k < extra ? k : extra);
    *end = *begin + base + (k < extra ? 1 : 0);
}

/* Started by an MPI launcher with more than one process: the world size an
 * Open MPI (mpirun), MPICH/Hydra (PMI) or Slurm (srun) launcher puts in every
 * process's environment; PMIx alone (srun --mpi=pmix) gives no size, so it
 * counts as launched. A launch of one process runs as a plain one. */
int tl_mpi_launched(void)
{
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const char *v = getenv(sizes[i]);
        if (v)
            return atol(v) > 1;
    }
    return getenv("PMIX_RANK") != NULL;
}
