#!/usr/bin/env bash
# run_preprocess.sh - time per projection of each preprocessing filter (issue 10):
# dezinger, binning, beam normalization, flat/dark normalization (for scale) and
# Paganin phase retrieval on 2048 x 2048 frames, one frame on one thread and a
# batch of frames on all cores (bench/bench_preprocess.c says how).
#
# usage: bench/run_preprocess.sh [BUILD_DIR] [bench_preprocess options]
#        (default build; needs -DTOMOLINE_BENCH=ON)
# Writes bench/results/preprocess_<date>_<commit>.txt and prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true
case $build in /*) ;; *) build=$here/$build ;; esac
exe=$build/bench/bench_preprocess
[ -x "$exe" ] || { echo "run_preprocess.sh: $exe not found; build with -DTOMOLINE_BENCH=ON" >&2; exit 1; }
rev=$(git -C "$here" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
out=$here/bench/results/preprocess_$(date +%Y%m%d)_${rev}.txt
{
  echo "# build: $build, FFTW $(pkg-config --modversion fftw3f); git describe: $rev"
  "$exe" "$@"
} > "$out"
cat "$out"
echo "run_preprocess.sh: wrote $out" >&2
