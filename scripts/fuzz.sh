#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan,
# and run each for SECONDS (default 30) from its seed corpus.
# usage: scripts/fuzz.sh [SECONDS]
# Needs clang and libclang-rt-dev (scripts/deps.sh installs them). Exits non-zero
# when a target crashes, leaks or aborts; the reproducer is left in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
out=build-fuzz
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE"
inc="-Iacquire -Iio -Ipipeline"
for target in tests/fuzz/fuzz_*.c; do
  name=$(basename "$target" .c)
  corpus=tests/fuzz/${name#fuzz_}_corpus
  echo "== $name: building"
  # shellcheck disable=SC2086
  clang $flags $inc "$target" acquire/wire.c io/json.c pipeline/status.c -lm -o "$out/$name"
  work=$(mktemp -d "${TMPDIR:-/tmp}/tomoline-fuzz.XXXXXX")
  cp "$corpus"/* "$work"/
  echo "== $name: running ${seconds} s from $(ls "$corpus" | wc -l) seeds"
  (cd "$out" && "./$name" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 "$work" 2>&1 | tail -n 12)
  rm -rf "$work"
done
