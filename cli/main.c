#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "mpi_ranks.h"

/* `tomoline` started by mpirun/srun: hand over to tomoline-mpi beside it (the
 * same commands on MPI and the parallel HDF5); returns only on failure. */
static int hand_over_to_mpi_build(char **argv)
{
    char self[PATH_MAX], twin[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        snprintf(twin, sizeof twin, "%.*s/tomoline-mpi", slash ? (int)(slash - self) : 1, slash ? self : ".");
        if (access(twin, X_OK) == 0) {
            argv[0] = twin;
            execv(twin, argv);
        }
    }
    fprintf(stderr, "tomoline: error: started by an MPI launcher, but this build has no tomoline-mpi beside it "
                    "(build with MPI and the parallel HDF5: Debian libopenmpi-dev libhdf5-openmpi-dev, cmake "
                    "-DTOMOLINE_MPI=ON)\n");
    return 2;
}

int main(int argc, char **argv)
{
    /* line-buffered stdout, so reports and stderr progress interleave in order in logs */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (tl_mpi_launched() && !tl_mpi_compiled())
        return hand_over_to_mpi_build(argv);
    /* Under MPI only `recon` runs (its ranks share the rows). Rank 0 speaks for
     * all; the others print their own warnings and errors only. */
    if (tl_mpi_init(&argc, &argv) != 0)
        return 1;
    if (tl_mpi_active()) {
        if (argc < 2 || strcmp(argv[1], "recon") != 0) {
            if (tl_mpi_rank() == 0)
                fprintf(stderr, "tomoline: error: under mpirun only 'recon' runs (its ranks share the rows); "
                                "run '%s' without mpirun\n",
                        argc < 2 ? "tomoline" : argv[1]);
            tl_mpi_finalize();
            return 2;
        }
        if (tl_mpi_rank() != 0) {
            char name[64];
            snprintf(name, sizeof name, "tomoline (rank %d of %d)", tl_mpi_rank(), tl_mpi_size());
            tl_log_set_source(name, TL_LOG_WARN);
            if (!freopen("/dev/null", "w", stdout)) /* the report is rank 0's */
                fprintf(stderr, "%s: warning: cannot silence stdout\n", name);
        }
    }
    int code = tl_cli_main(argc, argv);
    tl_mpi_finalize();
    return code;
}
