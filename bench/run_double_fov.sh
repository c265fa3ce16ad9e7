#!/usr/bin/env bash
# run_double_fov.sh - 360-degree offset-axis scans (--file-type double_fov, issue 10 item 1):
# the stitching time per sinogram (one thread; axis at a half column, where the
# mirrored half is copied, and at a fraction, where it is shifted in Fourier
# space), the overlap search on 8 rows, and the end-to-end reconstruction time
# (tl_recon_run, file to file, ramp FBP, the axis given) of a 360-degree
# offset-axis scan against a standard 180-degree scan of the same detector and a
# standard scan as wide as the stitched sinogram. Medians over repetitions, with
# min, max and spread.
#
# usage: bench/run_double_fov.sh [BUILD_DIR]   (default build; needs -DTOMOLINE_BENCH=ON)
# Writes bench/results/double_fov_<date>_<commit>.txt and prints it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$here/$build ;; esac
exe=$build/bench/bench_stitch
[ -x "$exe" ] || { echo "run_double_fov.sh: $exe not found; build with -DTOMOLINE_BENCH=ON" >&2; exit 1; }
rev=$(git -C "$here" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
out=$here/bench/results/double_fov_$(date +%Y%m%d)_${rev}.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "# 360-degree offset-axis scans (--file-type double_fov), $(date -u +%Y-%m-%dT%H:%MZ), commit $rev"
  echo "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine widens the spread)"
  echo
  "$exe" --width 1024 --angles 1800 --rows 8 --repeat 7
  echo
  "$exe" --width 2048 --angles 3600 --rows 8 --repeat 7
  echo
  "$exe" --recon --size 512 --angles 720 --slices 8 --repeat 5 --dir "$tmp"
  echo
  "$exe" --recon --size 1024 --angles 900 --slices 8 --repeat 3 --dir "$tmp"
  echo
  echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
echo "run_double_fov.sh: wrote $out" >&2
