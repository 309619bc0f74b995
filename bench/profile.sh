#!/usr/bin/env bash
# bench/profile.sh - where a request's CPU goes: `perf report` of latch under a wrk load, and
# valgrind's callgrind instruction counts per request (repeatable on a loaded machine).
#
# Usage: bench/profile.sh [--latch BIN] [--out DIR] [--duration S] [--requests N] [--no-perf]
#                         [--no-callgrind]
#   --latch BIN      latch binary (build-bench/release/latch)
#   --out DIR        where perf-<case>.txt and callgrind-<case>.txt go (a new temp dir)
#   --duration S     seconds of wrk load under `perf record -e cpu-clock` per case (10)
#   --requests N     requests counted under callgrind per case (20000)
#
# Cases: GET /verify and GET /profile with a pool of 1,000 HS256 tokens of 10 users, latch
# pinned to CPU 0 with one HTTP thread and LATCH_ACCESS_LOG=0, wrk on CPU 1 with 64 keep-alive
# connections.  Prints one summary line per case and measurement:
#   profile verify perf: top entries in DIR/perf-verify.txt
#   profile verify callgrind: 61234 instructions/request (DIR/callgrind-verify.txt)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
py=/usr/bin/python3
helper="$py $here/bench.py"
latch_bin=$root/build-bench/release/latch
out_dir=
duration_s=10
requests=20000
do_perf=1
do_callgrind=1
while [ $# -gt 0 ]; do
    case $1 in
        --latch) latch_bin=$2; shift 2 ;;
        --out) out_dir=$2; shift 2 ;;
        --duration) duration_s=$2; shift 2 ;;
        --requests) requests=$2; shift 2 ;;
        --no-perf) do_perf=0; shift ;;
        --no-callgrind) do_callgrind=0; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "profile: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$latch_bin" ] || { echo "profile: no latch binary at $latch_bin" >&2; exit 2; }
latch_bin=$(cd "$(dirname "$latch_bin")" && pwd)/$(basename "$latch_bin")
[ -n "$out_dir" ] || out_dir=$(mktemp -d /tmp/latch-profile.XXXXXX)
mkdir -p "$out_dir"
work=$(mktemp -d /tmp/latch-profile-work.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
log() { printf 'profile: %s\n' "$*" >&2; }

export LATCH_JWT_SECRET=$(head -c 36 /dev/urandom | od -An -tx1 | tr -d ' \n')
export LATCH_MAX_CONN_PER_IP=0 LATCH_IP_RATE_PER_MIN=0 LATCH_ACCESS_TTL_S=14400
export LATCH_ACCESS_LOG=0 LATCH_THREADS=1
data=$work/data
mkdir -p "$data"

start_latch() {  # PORT [prefix command...] -> $latch_pid
    local port=$1
    shift
    "$@" "$latch_bin" serve --listen "127.0.0.1:$port" --data-dir "$data" \
        >>"$work/latch.log" 2>&1 &
    latch_pid=$!
    pids+=("$latch_pid")
    $helper wait-ready "http://127.0.0.1:$port/healthz" 120 >/dev/null
}
stop_latch() {
    kill -TERM "$latch_pid" 2>/dev/null || true
    wait "$latch_pid" 2>/dev/null || true
}

port=$($helper free-port)
LATCH_ARGON2_MEMORY_KIB=8 LATCH_ARGON2_ITERATIONS=1 start_latch "$port"
$helper seed "http://127.0.0.1:$port" 10 bench-password-1 >/dev/null
stop_latch
$helper mint-offline "$work/tokens.txt" 1000 10

for case in verify profile; do
    if [ "$do_perf" = 1 ]; then
        port=$($helper free-port)
        start_latch "$port" taskset -c 0
        # Warm-up: every token once through the cache.
        env BENCH_MODE=tokens BENCH_PATH=/$case BENCH_TOKENS="$work/tokens.txt" taskset -c 1 \
            wrk -t1 -c64 -d2s -s "$here/wrk/bench.lua" "http://127.0.0.1:$port/$case" >/dev/null
        perf record -q -e cpu-clock -F 2999 -p "$latch_pid" -o "$work/perf.data" \
            -- sleep "$duration_s" >/dev/null 2>&1 &
        perf_pid=$!
        env BENCH_MODE=tokens BENCH_PATH=/$case BENCH_TOKENS="$work/tokens.txt" taskset -c 1 \
            wrk -t1 -c64 -d"${duration_s}s" -s "$here/wrk/bench.lua" \
            "http://127.0.0.1:$port/$case" >"$work/wrk.txt"
        wait "$perf_pid" || true
        stop_latch
        {
            echo "# perf record -e cpu-clock -p <latch> during:"
            echo "#   wrk -t1 -c64 -d${duration_s}s GET /$case (1,000 HS256 tokens), latch on CPU 0"
            grep -E 'Requests/sec' "$work/wrk.txt" | sed 's/^/# /'
            perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol \
                --percent-limit 0.5 2>/dev/null | grep -E '^ +[0-9]' | sed 's/  *$//' | head -45
        } >"$out_dir/perf-$case.txt"
        log "$case perf: top entries in $out_dir/perf-$case.txt"
    fi
    if [ "$do_callgrind" = 1 ]; then
        port=$($helper free-port)
        # Instrumentation starts after the warm-up (callgrind_control -i on): zeroing the
        # counters instead (-z) loses the call stacks and charges everything to clone().
        start_latch "$port" valgrind -q --tool=callgrind --callgrind-out-file="$work/cg.%p" \
            --instr-atstart=no
        $helper drive --url "http://127.0.0.1:$port/$case" --tokens "$work/tokens.txt" \
            --requests 1000 >/dev/null
        callgrind_control -i on "$latch_pid" >/dev/null 2>&1
        $helper drive --url "http://127.0.0.1:$port/$case" --tokens "$work/tokens.txt" \
            --requests "$requests" >/dev/null
        callgrind_control -d "$latch_pid" >/dev/null 2>&1
        sleep 1
        stop_latch
        dump=$(ls -t "$work"/cg.*.1 | head -1)
        total=$(callgrind_annotate "$dump" 2>/dev/null |
            sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
        {
            echo "# valgrind --tool=callgrind, $requests keep-alive GET /$case (1,000 HS256 tokens,"
            echo "# each seen once before counting): $((total / requests)) instructions/request"
            callgrind_annotate --inclusive=no "$dump" 2>/dev/null |
                sed -n '/file:function/,$p' | sed -n '3,42p' | sed 's/  *$//'
        } >"$out_dir/callgrind-$case.txt"
        rm -f "$work"/cg.*
        log "$case callgrind: $((total / requests)) instructions/request" \
            "($out_dir/callgrind-$case.txt)"
    fi
done
echo "$out_dir"
