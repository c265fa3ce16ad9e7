#!/usr/bin/env bash
# run_mpi.sh - scaling of `mpirun -n K tomoline recon` on this machine (issue 9):
# the wall time of one fixed scan, file to file, with 1 and 2 ranks (more with
# RANKS="1 2 4" where the cores allow), one thread per rank, and for reference
# one process with as many threads as the largest rank count. Efficiency =
# t(1 rank) / (K x t(K ranks)).
#
# usage: bench/run_mpi.sh [REPS]    (default 3; environment: SIZE, ANGLES, ROWS, RANKS)
# Writes bench/results/mpi_<date>_<commit>.txt and prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
reps=${1:-3}
size=${SIZE:-1024}
angles=${ANGLES:-900}
rows=${ROWS:-16}
ranks_list=${RANKS:-"1 2"}
scripts/build.sh >/dev/null
[ -x build/tomoline-mpi ] || { echo "run_mpi.sh: build/tomoline-mpi is missing (MPI and libhdf5-openmpi-dev)" >&2; exit 1; }
rev=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
out="bench/results/mpi_$(date +%Y%m%d)_${rev}.txt"
work=$(mktemp -d "${TMPDIR:-/tmp}/tomoline-mpi-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
    OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1
build/tomoline sim -q -o "$work/scan.nxs" --size "$size" --angles "$angles" --slices "$rows" --photons 20000 \
    --progress none >/dev/null
opts="--rotation-axis center --nsino-per-chunk 4 -q --overwrite"

seconds() { # command... -> wall seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; return 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
stats() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
    printf "%.3f %.3f %.3f", m, v[1], v[NR] }'; }

rows_out=$work/rows
: >"$rows_out"
max_ranks=1
for k in $ranks_list; do
    [ "$k" -gt "$max_ranks" ] && max_ranks=$k
    ts=""
    for r in $(seq "$reps"); do
        if [ "$k" = 1 ]; then
            ts="$ts $(seconds build/tomoline recon "$work/scan.nxs" -o "$work/rec.nxs" --threads 1 $opts)"
        else
            ts="$ts $(seconds mpirun -n "$k" build/tomoline recon "$work/scan.nxs" -o "$work/rec.nxs" --threads 1 $opts)"
        fi
    done
    echo "ranks $k $(printf '%s\n' $ts | stats)" >>"$rows_out"
done
ts=""
for r in $(seq "$reps"); do
    ts="$ts $(seconds build/tomoline recon "$work/scan.nxs" -o "$work/rec.nxs" --threads "$max_ranks" $opts)"
done
echo "threads $max_ranks $(printf '%s\n' $ts | stats)" >>"$rows_out"

{
    echo "# MPI scaling of tomoline recon, file to file (bench/run_mpi.sh)"
    echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "commit:   $rev"
    echo "mpi:      $(mpirun --version 2>/dev/null | head -1), parallel HDF5 $(pkg-config --modversion hdf5-openmpi 2>/dev/null || echo ?)"
    echo "scan:     simulated uint16 NXtomo, $rows rows x $size columns, $angles angles; direct FBP, float32 out;"
    echo "          slabs of 4 rows; one thread per rank; $reps repetitions; wall seconds median (min..max)"
    echo "          (the whole command: start-up, read, reconstruct, collective write, provenance, rename)"
    echo
    awk -v cores="$(nproc)" '
        $1 == "ranks" && $2 == 1 { t1 = $3 }
        { line[NR] = $0 }
        END {
            printf "%-26s %-24s %-12s\n", "run", "seconds", "efficiency"
            for (i = 1; i <= NR; i++) {
                split(line[i], f, " ")
                if (f[1] == "ranks") {
                    eff = (f[2] == 1) ? "1.00" : sprintf("%.2f", t1 / (f[2] * f[3]))
                    printf "%-26s %-24s %-12s\n", sprintf("mpirun -n %d (1 thread)", f[2]), sprintf("%.2f (%.2f..%.2f)", f[3], f[4], f[5]), eff
                } else {
                    printf "%-26s %-24s %-12s\n", sprintf("1 process, %d threads", f[2]), sprintf("%.2f (%.2f..%.2f)", f[3], f[4], f[5]), sprintf("%.2f", t1 / (f[2] * f[3]))
                }
            }
            if (cores <= 2) print "\nnote: " cores " cores: the ranks (and mpirun itself) share them; more ranks than cores oversubscribe."
        }' "$rows_out"
} | tee "$out"
echo "written: $out"
