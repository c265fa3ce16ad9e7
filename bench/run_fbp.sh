#!/usr/bin/env bash
# Speed and peak memory of the CPU path at the two problem sizes of issue 2,
# each problem in its own process (so the peak memory is its own).
# Writes bench/results/fbp_cpu_<date>_<commit>.txt. Needs a Release build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null  # the measured binary is the checked-out commit
rev=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
out="bench/results/fbp_cpu_$(date +%Y%m%d)_${rev}.txt"
{
  build/bench/bench_fbp info
  echo "build:    Release (-O3), FFTW $(pkg-config --modversion fftw3f), HDF5 $(pkg-config --modversion hdf5 2>/dev/null || echo ?)"
  echo
  build/bench/bench_fbp kernel 1024 900 4 5
  echo
  build/bench/bench_fbp kernel 2048 1500 2 3
  echo
  build/bench/bench_fbp recon 1024 900 16 3
  echo
  build/bench/bench_fbp recon 2048 1500 4 2
} | tee "$out"
echo "written: $out"
