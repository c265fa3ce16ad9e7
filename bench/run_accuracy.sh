#!/usr/bin/env bash
# Accuracy of the reconstruction (direct FBP and gridrec) against the ground truth
# and against a textbook ramp-filtered FBP on the same data (the cases of
# tests/test_accuracy.c).
# Writes bench/results/accuracy_<date>_<commit>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null  # the measured binary is the checked-out commit
rev=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
out="bench/results/accuracy_$(date +%Y%m%d)_${rev}.txt"
{
  echo "# Reconstruction accuracy: relative L2 error inside the inscribed disk (radius N/2 - 4)"
  echo "date:     $(date -Iseconds)"
  echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo "commit:   $rev"
  echo "method:   tomoline recon (default ramp filter) vs a textbook FBP (|f| sampled in frequency, zero"
  echo "          padding to a power of two >= 2W, linear interpolation, uniform angular weights) on the"
  echo "          same normalized data, and tomoline recon --reconstruction-algorithm gridrec (issue 8: within"
  echo "          5% of the direct FBP); error averaged over the slices; 'mean ratio' = mean of the"
  echo "          reconstruction / mean of the truth over the central disk (radius N/4): 1 = quantitative"
  echo
  build/tests/test_accuracy --verbose --jobs 1 2>&1 | grep -E '^accuracy ' | sed 's/^accuracy /  /'
} | tee "$out"
echo "written: $out"
