/* tomoline.c - `tomoline <command> [options]`: dispatch, --help, --version. */
#include <fftw3.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>
#include <zmq.h>

#include "backend.h"
#include "cli.h"
#include "mpi_ranks.h"
#include "version.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command_entry;

static const command_entry commands[] = {
    {"demo", tl_cmd_demo, "simulate a scan, reconstruct it and check the result (the quick tour)"},
    {"sim", tl_cmd_sim, "write a simulated scan (phantom, noise, rings) and its ground truth"},
    {"recon", tl_cmd_recon, "reconstruct a scan (NXtomo, Data Exchange, TIFF, named datasets) into a volume"},
    {"info", tl_cmd_info, "describe a scan file: layout, shapes, frame counts, angles, what is missing"},
    {"normalize", tl_cmd_normalize, "per-stage: dark/flat correction and -log, written as HDF5 projections"},
    {"sino", tl_cmd_sino, "per-stage: projections into sinograms (normalizing raw input first), as HDF5"},
    {"cor", tl_cmd_cor, "per-stage: find the rotation axis (entropy, 0/180 registration, Vo, CNN, auto)"},
    {"rings", tl_cmd_rings, "per-stage: remove stripes (rings) from sinograms: fw, ti, sorting, filtering, large"},
    {"fbp", tl_cmd_fbp, "per-stage: filtered backprojection of a sinogram file into a volume"},
    {"serve", tl_cmd_serve, "the beamline service: take scans over ZeroMQ, reconstruct each into a directory"},
    {"send", tl_cmd_send, "replay a scan file over ZeroMQ as a detector would (stream protocol 1)"},
    {"route", tl_cmd_route, "fan a detector stream out to several serve workers by rows; one volume per scan"},
    {"keygen", tl_cmd_keygen, "write a CURVE key pair for serve and send (encryption, client authentication)"},
    {"preview", tl_cmd_preview, "write a PNG of one slice of a volume, with robust contrast"},
    {"catalog", tl_cmd_catalog, "the catalog of reconstructions: list, show, search, push"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_version(void)
{
    unsigned h5_major, h5_minor, h5_release;
    int zmq_major, zmq_minor, zmq_patch;
    H5get_libversion(&h5_major, &h5_minor, &h5_release);
    zmq_version(&zmq_major, &zmq_minor, &zmq_patch);
    const char *tiff = TIFFGetVersion();
    const char *tiff_line = strchr(tiff, '\n');
    printf("tomoline %s (git %s)\n", tl_version(), tl_git_revision());
    printf("backends: %s\n", tl_backends_compiled());
    printf("mpi: %s\n", tl_mpi_compiled() ? "yes, parallel HDF5 (mpirun -n K tomoline recon ...)" : "no");
    printf("libraries: %s, HDF5 %u.%u.%u, ZeroMQ %d.%d.%d, %.*s\n", fftwf_version, h5_major, h5_minor, h5_release,
           zmq_major, zmq_minor, zmq_patch, tiff_line ? (int)(tiff_line - tiff) : (int)strlen(tiff), tiff);
}

static void print_help(FILE *out)
{
    fprintf(out,
            "tomoline - synchrotron tomography reconstruction\n\n"
            "usage: tomoline <command> [options]\n"
            "       tomoline <command> --help     options of one command\n"
            "       tomoline --version            version, git revision, backends\n\n"
            "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nEvery option can also be set in an INI file given with --config FILE; the\n"
                 "effective configuration is stored in each output file under /entry/process.\n");
}

int tl_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        print_version();
        return 0;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_help(stdout);
            return 0;
        }
        for (size_t i = 0; i < N_COMMANDS; i++)
            if (strcmp(argv[2], commands[i].name) == 0) {
                char *sub[] = {argv[2], "--help", NULL};
                return commands[i].run(2, sub);
            }
        fprintf(stderr, "tomoline: error: unknown command '%s' (see tomoline --help)\n", argv[2]);
        return 2;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tomoline: error: unknown command '%s' (see 'tomoline --help')\n",
            name);
    return 2;
}
