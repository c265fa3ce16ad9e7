/* mpi_ranks.h - the few MPI operations tomoline needs, and nothing when MPI is absent.
 *
 * `mpirun -n K tomoline recon ...` runs K processes (ranks); `tomoline` hands
 * over to `tomoline-mpi` (the same commands built on MPI and the parallel HDF5)
 * when a launcher started it (cli/main.c). tl_mpi_init()
 * initialises MPI only when the process was started by an MPI launcher (the
 * environment of Open MPI, MPICH/Hydra or PMIx says so), so a plain run never
 * pays for MPI and never needs a launcher. Builds without MPI (TOMOLINE_MPI off)
 * get the same functions for one rank: size 1, rank 0, collectives that return
 * their input. Callers write one code path for both.
 *
 * Every collective here must be called by all ranks in the same order (MPI's
 * rule); the functions that report errors agree across ranks, so a failure on
 * one rank ends the command on all of them with the same message.
 */
#ifndef TL_MPI_RANKS_H
#define TL_MPI_RANKS_H

#include <stddef.h>

#include "status.h"

/* Initialise MPI when launched by mpirun/srun (idempotent; thread level
 * FUNNELED: only the main thread calls MPI). Returns 0, or -1 with a message on
 * stderr when MPI was asked for and cannot start. */
int tl_mpi_init(int *argc, char ***argv);
/* MPI_Finalize when tl_mpi_init started MPI. */
void tl_mpi_finalize(void);
/* 1 when an MPI launcher (mpirun, srun) started this process among several. */
int tl_mpi_launched(void);
/* 1 when compiled with MPI (TOMOLINE_MPI: the tomoline-mpi executable). */
int tl_mpi_compiled(void);
/* The MPI library's version line ("Open MPI v4.1.4, ..."), or "none". */
const char *tl_mpi_library(void);

int tl_mpi_rank(void);
int tl_mpi_size(void);
/* Ranks on this node (they share its cores). */
int tl_mpi_local_size(void);
/* 1 when MPI runs with more than one rank. */
int tl_mpi_active(void);

void tl_mpi_barrier(void);
/* Broadcast bytes from rank 0. */
void tl_mpi_bcast(void *data, size_t bytes);
/* Element-wise maximum over ranks, in place. */
void tl_mpi_max_doubles(double *values, size_t n);
/* Sum over ranks, in place. */
void tl_mpi_sum_sizes(size_t *values, size_t n);

/* The agreed outcome of a step every rank took: TL_OK when every rank's `st`
 * is TL_OK; otherwise the status and error message of the lowest failing rank,
 * copied into *err on every rank (prefixed "rank R: " when there are several
 * ranks). */
tl_status tl_mpi_agree(tl_status st, tl_error *err) TL_MUST_CHECK;

/* The contiguous share of `total` items of `rank` among `size` ranks: the
 * first total % size ranks get one more. [*begin, *end) relative to 0. */
void tl_mpi_split(size_t total, int rank, int size, size_t *begin, size_t *end);

#endif
