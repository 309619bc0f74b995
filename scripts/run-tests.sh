#!/usr/bin/env bash
# Runs the unit tests, then the integration tests against the sanitizer build
# of the real binary, and sums their counts.  T=name runs a subset.
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 2

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
T="${T:-}"
BUILD="${BUILD:-build}"
log=$(mktemp -d)
pg_dir=
trap 'stop_pg_cluster; rm -rf "$log"' EXIT
trap 'exit 130' INT TERM

# A throwaway PostgreSQL cluster for the store tests: LATCH_TEST_PG names
# it (tests/unit/store/contract.c runs the store contract on it too).  Not
# under $log: the cluster runs as the postgres user, which must reach it.
pg_failed=0
start_pg_cluster() {
  pg_dir=$(mktemp -d /tmp/latch-pg-XXXXXX) || { pg_failed=1; return; }
  if LATCH_TEST_PG=$(scripts/pg-cluster.sh start "$pg_dir"); then
    export LATCH_TEST_PG
  else
    echo "run-tests: the PostgreSQL cluster did not start" >&2
    pg_failed=1
  fi
}
stop_pg_cluster() {
  if [ -n "$pg_dir" ]; then
    scripts/pg-cluster.sh stop "$pg_dir"
  fi
  pg_dir=
}

counts() { # file -> "passed failed" from its last "N passed, N failed" line
  sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$/\2 \3/p' "$1" | tail -n 1
}

echo "== unit tests"
start_pg_cluster
$BUILD/asan/unit-tests $T 2>&1 | tee "$log/unit"
unit_rc=$?
# The integration suite runs twice, once per store (issue 10: two backends,
# one behaviour).  LATCH_TEST_BACKENDS=sqlite (or postgres) runs one pass.
passed=0
failed=$pg_failed
for backend in ${LATCH_TEST_BACKENDS:-sqlite postgres}; do
  if [ "$backend" = postgres ] && [ -z "${LATCH_TEST_PG:-}" ]; then
    echo "run-tests: no PostgreSQL cluster: the postgres pass cannot run" >&2
    failed=$((failed + 1))
    continue
  fi
  echo "== integration tests ($backend)"
  LATCH_TEST_BACKEND=$backend LATCH_BIN=$BUILD/asan/latch \
      /usr/bin/python3 tests/integration/run.py $T 2>&1 | tee "$log/integ-$backend"
  rc=$?
  set -- $(counts "$log/integ-$backend"); ip=${1:-0}; if_=${2:-1}
  passed=$((passed + ip)); failed=$((failed + if_))
  # A runner that crashed before its summary counts as a failure.
  [ "$rc" -ne 0 ] && [ "$if_" -eq 0 ] && failed=$((failed + 1))
done

set -- $(counts "$log/unit") ; up=${1:-0}; uf=${2:-1}
passed=$((passed + up)); failed=$((failed + uf))
[ "$unit_rc" -ne 0 ] && [ "$uf" -eq 0 ] && failed=$((failed + 1))
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
