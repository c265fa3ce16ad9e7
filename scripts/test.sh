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
ctest --no-tests=error --test-dir build --output-on-failure --timeout 900

echo "== PostgreSQL catalog tests (a temporary cluster on 127.0.0.1, removed afterwards)"
scripts/test_postgres.sh build

echo "== sanitizer build (ASan + UBSan) and tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOMOLINE_SANITIZE=ON -DTOMOLINE_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  ctest --no-tests=error --test-dir build-asan --output-on-failure --timeout 1800 -E '^test_writer$'
# test_writer loads the blosc HDF5 filter plugin (zstd), whose library keeps ~3 KiB of global state
# for the life of the process; HDF5 unloads the plugin before LeakSanitizer runs, so the report has no
# symbols to suppress. Everything else in test_writer is still checked by ASan and UBSan.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
  ctest --no-tests=error --test-dir build-asan --output-on-failure --timeout 1800 -R '^test_writer$'

echo "== fuzzing the stream protocol's decoder (libFuzzer, ASan, UBSan), briefly"
scripts/fuzz.sh 30

# The CUDA backend must keep compiling wherever nvcc exists; its GPU tests skip
# with a message on machines without a GPU.
nvcc_bin="$(command -v nvcc || true)"
[ -n "$nvcc_bin" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc_bin=/usr/local/cuda/bin/nvcc; }
if [ -n "$nvcc_bin" ]; then
  echo "== CUDA build ($nvcc_bin) and its backend, FBP and CLI tests"
  cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DTOMOLINE_CUDA=ON -DTOMOLINE_TESTS=ON -DTOMOLINE_BENCH=OFF \
        -DCMAKE_CUDA_COMPILER="$nvcc_bin" >/dev/null
  cmake --build build-cuda -j"$jobs"
  ctest --no-tests=error --test-dir build-cuda -R 'test_backend|test_backproject|test_cli' --output-on-failure --timeout 900
else
  echo "== no nvcc on this machine: the CUDA build is not checked here"
fi
