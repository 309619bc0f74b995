#!/usr/bin/env bash
# Runs the libFuzzer targets built by 'make fuzz-build' (mk/fuzz.mk).
#
#   tests/fuzz/run.sh fuzz    [target...]   fuzz each for FUZZ_TIME seconds (default 60)
#   tests/fuzz/run.sh regress [target...]   run each once over its committed corpus
#
# Environment: BUILD (default build), FUZZ_TIME, FUZZ_MAX_LEN (default 8192),
# FUZZ_ARGS (more libFuzzer flags, e.g. -only_ascii=1 or -jobs=2).
# With no targets named, every tests/fuzz/fuzz_*.c is run.
#
# Fuzzing starts from a copy of tests/fuzz/corpus/<target>/ in
# $BUILD/fuzz/work/<target>/, so the committed seeds stay as they are; crash
# files go to $BUILD/fuzz/artifacts/<target>/ and the full libFuzzer output
# to $BUILD/fuzz/logs/<target>.log.  After each target one line is printed:
#   fuzz <target>: <execs> execs, cov <N>, ft <N>, crashes <N>
# and the exit status is non-zero if any target crashed (or timed out, ran out
# of memory or leaked: libFuzzer writes an artifact for each of these).
set -u

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
  fuzz|regress) ;;
  *) echo "usage: $0 fuzz|regress [target...]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-build}
fuzz_time=${FUZZ_TIME:-60}
max_len=${FUZZ_MAX_LEN:-8192}

if [ $# -eq 0 ]; then
  set -- $(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')
fi

# config_load() reads LATCH_* variables; fuzz_config must see only its input.
for v in $(env | sed -n 's/^\(LATCH_[A-Za-z0-9_]*\)=.*/\1/p'); do
  unset "$v"
done
# Symbolised reports; abort on UBSan findings too (the build already makes them fatal).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
for target in "$@"; do
  bin=$build/fuzz/$target
  seeds=$here/corpus/$target
  dict=$here/$target.dict
  log=$build/fuzz/logs/$target.log
  artifacts=$build/fuzz/artifacts/$target
  if [ ! -x "$bin" ]; then
    echo "fuzz $target: not built ($bin); run 'make fuzz-build'" >&2
    failed=1
    continue
  fi
  mkdir -p "$(dirname "$log")" "$artifacts"

  if [ "$mode" = regress ]; then
    # Each committed seed once: a regression seed that crashes again fails here.
    "$bin" -timeout=10 -rss_limit_mb=2048 "$seeds"/* >"$log" 2>&1
    rc=$?
    n=$(ls "$seeds" | wc -l)
    if [ $rc -eq 0 ]; then
      echo "fuzz $target: $n seeds ok"
    else
      echo "fuzz $target: FAILED on a seed (see $log):"
      grep -a -E '^Running: |FUZZ FAILURE|runtime error:|ERROR: ' "$log" | tail -3 |
        cut -c1-300 | sed 's/^/    /'
      failed=1
    fi
    continue
  fi

  work=$build/fuzz/work/$target
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp -R "$seeds"/. "$work/corpus/"
  dict_opt=()
  [ -f "$dict" ] && dict_opt=(-dict="$dict")

  "$bin" "${dict_opt[@]}" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -max_total_time="$fuzz_time" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    ${FUZZ_ARGS:-} "$work/corpus" >"$log" 2>&1
  rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  covline=$(grep -E '(^#[0-9]+|DONE).* cov: [0-9]+' "$log" | tail -1)
  cov=$(printf '%s\n' "$covline" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(printf '%s\n' "$covline" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  crash_files=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
  crashes=$(printf '%s' "$crash_files" | grep -c . || true)

  echo "fuzz $target: ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}, crashes $crashes"
  if [ "$crashes" -gt 0 ] || [ $rc -ne 0 ]; then
    failed=1
    # The first report line: a broken invariant, a sanitizer finding, or libFuzzer's own.
    grep -a -E 'FUZZ FAILURE|runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|ERROR: libFuzzer' \
      "$log" | head -1 | cut -c1-300 | sed 's/^/    /'
    for f in $crash_files; do
      echo "    crash file: $f"
    done
    [ "$crashes" -eq 0 ] && echo "    libFuzzer exited with status $rc (see $log)"
    echo "    log: $log"
  fi
done
exit $failed
