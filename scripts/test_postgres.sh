#!/usr/bin/env bash
# The catalog's PostgreSQL tests against a real server: pg_virtualenv (Debian's postgresql-common)
# creates a throwaway cluster listening on 127.0.0.1 only, sets the PG* variables, runs the test
# program inside it, and removes the cluster afterwards. TOMOLINE_PG_TESTS=1 makes the tests fail,
# not skip, if no server answers, so a broken setup cannot pass silently.
#
# usage: scripts/test_postgres.sh BUILD_DIR    (BUILD_DIR holds tests/test_catalog_postgres)
set -euo pipefail
build="${1:?usage: scripts/test_postgres.sh BUILD_DIR}"
build="$(cd "$build" && pwd)"
test_exe="$build/tests/test_catalog_postgres"
[ -x "$test_exe" ] || { echo "test_postgres.sh: $test_exe is missing: build the tests first" >&2; exit 1; }
command -v pg_virtualenv >/dev/null || {
  echo "test_postgres.sh: pg_virtualenv not found: install the 'postgresql' package (postgresql-common)" >&2
  exit 1
}
# The trailing space makes pg_createcluster quote the value (a bare 127.0.0.1 is written
# unquoted and postgresql.conf rejects it); PostgreSQL trims it from the address list.
# The tests run from the build directory (tomoline's path is compiled in), with a 300 s bound.
cd "$build"
exec timeout 300 pg_virtualenv -o "listen_addresses=127.0.0.1 " \
  env TOMOLINE_PG_TESTS=1 "$test_exe" --jobs 2
