#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install what is missing, build, run
# every Criterion test (ctest), then build again with AddressSanitizer and
# UndefinedBehaviorSanitizer and run the suite once more.
# Tests that need a GPU skip with a message where none is present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs="$(nproc)"

echo "== release build and tests"
scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900

echo "== sanitizer build (ASan + UBSan) and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOMOLINE_SANITIZE=ON -DTOMOLINE_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --timeout 1800
