#!/usr/bin/env bash
# bench/run.sh - latch measured beside nginx (`return 200`, the ceiling) and an Express app of
# the same API, on loopback only.  `make bench` and `make bench-smoke` call it (mk/bench.mk).
#
# Usage: bench/run.sh [options]
#   --latch BIN          latch binary (build-bench/release/latch)
#   --latch-rev TEXT     what the binary was built from, for the report (git HEAD of this tree)
#   --duration S         seconds per wrk run (10)
#   --rounds N           rounds of interleaved contenders; medians are reported (9)
#   --connections N      wrk keep-alive connections for the request-path cases (64)
#   --tokens N           distinct tokens in the rotated pool (10000)
#   --users N            users the tokens belong to (1000)
#   --idle-conns N       idle keep-alive connections for the memory case (10000)
#   --startup-runs N     starts timed for the start-up case (11)
#   --argon2-runs N      Argon2id verifies timed by bench/argon2_limit.c (21)
#   --out DIR            where benchmarks.md, benchmarks.png and raw/ go (default: a new temp dir)
#   --title TEXT         a word for the report's heading (bench)
#   --no-install         do not install missing Debian / npm packages
#   --no-pg              skip the PostgreSQL rows (latch-pg in /profile and /verify, its login
#                        rate); they need scripts/pg-cluster.sh's server
#   --profile-before DIR, --profile-after DIR
#                        bench/profile.sh outputs (perf-*.txt, callgrind-*.txt) to quote in the
#                        report (bench/profiles/before and after), with bench/changes.md (what
#                        each change bought)
#
# Method (issues 6, 14): request-path servers are pinned to CPU 0 (taskset -c 0) and wrk to
# CPU 1; contenders run interleaved in each round (A B C, A B C, ...); every run records
# requests/s and the server's CPU time per request (utime+stime from /proc/<pid>/stat, all its
# processes); the report gives medians with each case's spread (min-max).  Every latch runs
# with LATCH_ACCESS_LOG=0 (nginx runs with access_log off) except latch-log; every contender
# with a token pool gets one pass over the whole pool before the rounds (the caches warm).
# Login and the login-storm latency run unpinned.  Everything started here is stopped on exit.
# PostgreSQL beside SQLite: latch-pg (users in a throwaway cluster) joins the /profile and /verify
# pool cases, and a second login server on that cluster is measured in the same rounds as the
# SQLite one (same Argon2id parameters, same user); the database server's own CPU is recorded
# apart from latch's (it is not "other load").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
py=/usr/bin/python3          # Debian's python3, with python3-jwt
helper="$py $here/bench.py"

latch_bin=$root/build-bench/release/latch
latch_rev=
duration_s=10
rounds=9
connections=64
token_count=10000
user_count=1000
idle_conns=10000
startup_runs=11
argon2_runs=21
out_dir=
title=bench
install=1
use_pg=1
profile_before=$here/profiles/before    # bench/profile.sh --out bench/profiles/{before,after}
profile_after=$here/profiles/after

while [ $# -gt 0 ]; do
    case $1 in
        --latch) latch_bin=$2; shift 2 ;;
        --latch-rev) latch_rev=$2; shift 2 ;;
        --duration) duration_s=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --tokens) token_count=$2; shift 2 ;;
        --users) user_count=$2; shift 2 ;;
        --idle-conns) idle_conns=$2; shift 2 ;;
        --startup-runs) startup_runs=$2; shift 2 ;;
        --argon2-runs) argon2_runs=$2; shift 2 ;;
        --out) out_dir=$2; shift 2 ;;
        --title) title=$2; shift 2 ;;
        --no-install) install=0; shift ;;
        --no-pg) use_pg=0; shift ;;
        --profile-before) profile_before=$2; shift 2 ;;
        --profile-after) profile_after=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
        *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
for n in "$duration_s" "$rounds" "$connections" "$token_count" "$user_count" "$idle_conns" \
         "$startup_runs" "$argon2_runs"; do
    case $n in ''|*[!0-9]*) echo "bench: expected a whole number, got '$n'" >&2; exit 2 ;; esac
done
[ -x "$latch_bin" ] || { echo "bench: no latch binary at $latch_bin" >&2; exit 2; }
latch_bin=$(cd "$(dirname "$latch_bin")" && pwd)/$(basename "$latch_bin")

log() { printf 'bench: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Packages: Debian's wrk, nginx-light, gnuplot and python3-jwt; the Express peer from npm.
install_packages() {
    local want="wrk nginx-light gnuplot-nox python3 python3-jwt libsodium-dev gcc pkg-config curl"
    local missing="" p
    for p in $want; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $p"
    done
    # gnuplot (the X build) serves as well as gnuplot-nox.
    case $missing in *gnuplot-nox*) command -v gnuplot >/dev/null && missing=${missing/ gnuplot-nox/} ;; esac
    if [ -n "$missing" ]; then
        [ "$install" = 1 ] || { log "missing packages:$missing"; exit 1; }
        log "installing$missing"
        local sudo=
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq >/dev/null
        # shellcheck disable=SC2086
        $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
    local peer=$here/peers/express
    if [ ! -d "$peer/node_modules/express" ] || [ "$peer/package-lock.json" -nt "$peer/node_modules/.package-lock.json" ]; then
        [ "$install" = 1 ] || { log "the Express peer needs: (cd $peer && npm ci)"; exit 1; }
        command -v npm >/dev/null || { log "npm is missing (node 20 and npm are needed)"; exit 1; }
        log "npm ci in bench/peers/express"
        (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}
install_packages

# ---------------------------------------------------------------------------------------------
# Work space, the report's place, and stopping everything on exit.
work=$(mktemp -d /tmp/latch-bench.XXXXXX)
if [ -z "$out_dir" ]; then
    out_dir=$(mktemp -d /tmp/latch-bench-report.XXXXXX)
fi
mkdir -p "$out_dir/raw"
out_dir=$(cd "$out_dir" && pwd)
raw=$out_dir/raw
results=$raw/results.jsonl
meta=$raw/meta.tsv
: >"$results"
: >"$meta"
: >"$raw/commands.txt"

started_pids=()
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
pg_dir=
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
    started_pids=()
    if [ -n "$pg_dir" ]; then "$root/scripts/pg-cluster.sh" stop "$pg_dir" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Raise the descriptor limit for 10,000 idle connections (and their client side).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# meta.tsv: one "key<TAB>base64(value)" line per fact, read by report.py.
meta_set() { printf '%s\t%s\n' "$1" "$(printf '%s' "$2" | base64 -w0)" >>"$meta"; }
record_cmd() { printf '%s\n' "$*" >>"$raw/commands.txt"; }

# ---------------------------------------------------------------------------------------------
# Common settings.  The secret is random per run; tokens are minted with it offline.
secret=$(head -c 36 /dev/urandom | od -An -tx1 | tr -d ' \n')
bench_password=bench-password-1
login_email=login@bench.test
login_password=correct-horse-battery
export LATCH_JWT_SECRET=$secret
export LATCH_MAX_CONN_PER_IP=0 LATCH_IP_RATE_PER_MIN=0
# Like nginx's access_log off: the request path is measured without the access log (one
# contender, latch-log, keeps it to show its cost).
export LATCH_ACCESS_LOG=0
# Tokens are minted offline once and must outlive the whole run (latch refuses a token whose
# lifetime exceeds its access TTL, issue 9).
export LATCH_ACCESS_TTL_S=14400
unset LATCH_ARGON2_MEMORY_KIB LATCH_ARGON2_ITERATIONS LATCH_HASH_WORKERS LATCH_THREADS \
      LATCH_LISTEN LATCH_DATA_DIR LATCH_DB LATCH_JWT_ALG LATCH_TOKEN_CACHE_ENTRIES || true
argon2_memory_kib=19456     # latch's defaults (the OWASP minimum), used for the login cases
argon2_iterations=2
cheap_argon2="LATCH_ARGON2_MEMORY_KIB=8 LATCH_ARGON2_ITERATIONS=1"

# start_server NAME LOGFILE CMD... : starts CMD in the background, records its pid in
# $server_pid and in started_pids.
start_server() {
    local name=$1 logfile=$2
    shift 2
    record_cmd "$*"
    "$@" >"$logfile" 2>&1 &
    server_pid=$!
    started_pids+=("$server_pid")
    log "started $name (pid $server_pid)"
}
stop_server() {
    local pid=$1 keep=() p
    stop_pid "$pid"
    for p in "${started_pids[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    started_pids=("${keep[@]+"${keep[@]}"}")
}
wait_ready() {  # URL PID NAME
    local i
    for i in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || { log "$3 exited during start"; return 1; }
        [ "$($helper status "$1")" = 200 ] && return 0
        sleep 0.05
    done
    log "$3 did not answer $1 within 10 s"
    return 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
free_port() { $helper free-port; }

# ---------------------------------------------------------------------------------------------
# Machine and versions.
meta_set title "$title"
meta_set date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta_set nproc "$(nproc)"
meta_set uname "$(uname -srmo)"
meta_set cpu_model "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
meta_set lscpu "$(lscpu | grep -E '^(Architecture|CPU\(s\)|Model name|Thread\(s\) per core|Core\(s\) per socket|Hypervisor vendor|L1d cache|L2 cache|L3 cache|CPU max MHz)' || true)"
meta_set mem_total "$(awk '/^MemTotal:/ {print $2 " kB"}' /proc/meminfo)"
[ -n "$latch_rev" ] || latch_rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- src 2>/dev/null || echo ' with uncommitted changes to src/')"
meta_set latch_rev "$latch_rev"
meta_set latch_bin "${latch_bin#"$root"/}"
meta_set wrk_version "$(wrk -v 2>&1 | head -1 | cut -c1-60)"
meta_set nginx_version "$(nginx -v 2>&1 | sed 's/^nginx version: //')"
meta_set node_version "$(node --version)"
meta_set express_version "$(node -p 'require(process.argv[1]).version' "$here/peers/express/node_modules/express/package.json")"
meta_set jsonwebtoken_version "$(node -p 'require(process.argv[1]).version' "$here/peers/express/node_modules/jsonwebtoken/package.json")"
meta_set bcryptjs_version "$(node -p 'require(process.argv[1]).version' "$here/peers/express/node_modules/bcryptjs/package.json")"
meta_set openssl_version "$(pkg-config --modversion openssl 2>/dev/null || echo unknown)"
meta_set head_bytes "$(sed -n 's/^#define LATCH_MAX_HEAD_BYTES[[:space:]]*\(.*\)/\1/p' "$root/src/latch_limits.h" | sed 's:/\*.*::' | head -1)"
meta_set duration_s "$duration_s"
meta_set rounds "$rounds"
meta_set connections "$connections"
meta_set token_count "$token_count"
meta_set user_count "$user_count"
meta_set idle_conns_wanted "$idle_conns"
meta_set argon2_memory_kib "$argon2_memory_kib"
meta_set argon2_iterations "$argon2_iterations"

# ---------------------------------------------------------------------------------------------
# The physical limit of login: Argon2id verifies at the configured parameters, on one idle
# core and on every core at once (the limit, issue 14).
# With latch's own src/auth/pwmem.c: the Argon2 area on huge pages, as latch has it.
cc -O2 -pthread -D_GNU_SOURCE -iquote "$here/../src" -o "$work/argon2_limit" "$here/argon2_limit.c" \
    "$here/../src/auth/pwmem.c" $(pkg-config --cflags --libs libsodium)
log "timing $argon2_runs Argon2id verifies ($argon2_memory_kib KiB, $argon2_iterations iterations), then on $(nproc) threads at once"
argon2_line=$("$work/argon2_limit" "$argon2_memory_kib" "$argon2_iterations" "$argon2_runs" "$(nproc)")
meta_set argon2_line "$argon2_line"
record_cmd "$work/argon2_limit $argon2_memory_kib $argon2_iterations $argon2_runs $(nproc)"

# ---------------------------------------------------------------------------------------------
# Users: user1..N@bench.test through POST /register on a latch with cheap hashing (they are only
# ever used through tokens), then the login user at the real parameters with `latch user add`.
data=$work/hs256
mkdir -p "$data"
port=$(free_port)
log "seeding $user_count users"
start_server latch-seed "$work/seed.log" env $cheap_argon2 "$latch_bin" serve \
    --listen "127.0.0.1:$port" --data-dir "$data"
seed_pid=$server_pid
wait_ready "http://127.0.0.1:$port/healthz" "$seed_pid" latch-seed
$helper seed "http://127.0.0.1:$port" "$user_count" "$bench_password"
printf '%s\n' "$login_password" | "$latch_bin" user add --data-dir "$data" --email "$login_email" >/dev/null
stop_server "$seed_pid"

log "minting $token_count HS256 tokens offline (python3-jwt)"
$helper mint-offline "$work/tokens-hs256.txt" "$token_count" "$user_count"
record_cmd "$helper mint-offline tokens-hs256.txt $token_count $user_count"

# ---------------------------------------------------------------------------------------------
# Phase A: request-path contenders, all pinned to CPU 0 and left running between rounds
# (an idle server costs nothing).  contender NAME -> port, pids, tokens, metrics URL.
declare -A c_port c_pids c_tokens c_metrics c_db
contenders=()
unavailable=()      # "case|server|reason" rows for the report

add_contender() {  # NAME PORT PIDS TOKENS METRICS [DB_PID]
    contenders+=("$1")
    c_port[$1]=$2; c_pids[$1]=$3; c_tokens[$1]=$4; c_metrics[$1]=$5; c_db[$1]=${6:-}
}

probe_metrics() {  # PORT -> URL of a metrics endpoint with token-cache counters, or ""
    local url="http://127.0.0.1:$1/metrics"
    if [ "$($helper status "$url")" = 200 ]; then echo "$url"; else echo ""; fi
}

port=$(free_port)
start_server latch-hs256 "$work/latch-hs256.log" taskset -c 0 "$latch_bin" serve \
    --listen "127.0.0.1:$port" --data-dir "$data"
latch_pid=$server_pid
wait_ready "http://127.0.0.1:$port/healthz" "$latch_pid" latch
meta_set latch_log_line "$(grep -m1 'listening on' "$work/latch-hs256.log" || true)"
meta_set rss_idle_latch_pinned_kib "$(rss_kib "$latch_pid")"
first_token=$(head -1 "$work/tokens-hs256.txt")
profile_body=$($helper get "http://127.0.0.1:$port/profile" "$first_token") ||
    { log "latch refused a minted token: $profile_body"; exit 1; }
add_contender latch "$port" "$latch_pid" "$work/tokens-hs256.txt" "$(probe_metrics "$port")"
verify_status=$($helper status "http://127.0.0.1:$port/verify")
if [ "$verify_status" = 404 ]; then
    verify_available=0
    unavailable+=("verify|latch|not available: GET /verify answers 404 (forward auth has not landed)")
else
    verify_available=1
fi
meta_set verify_available "$verify_available"
meta_set metrics_url_available "$([ -n "${c_metrics[latch]}" ] && echo 1 || echo 0)"

# nginx: one worker, no access log, `return 200` with latch's /profile body for user 1.
ngx=$work/nginx
mkdir -p "$ngx/logs" "$ngx/tmp"
port=$(free_port)
body_escaped=$(printf '%s' "$profile_body" | sed "s/'/\\\\'/g")
cat >"$ngx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 75s;
    server_tokens off;
    server {
        listen 127.0.0.1:$port;
        default_type application/json;
        add_header Cache-Control no-store always;
        add_header X-Content-Type-Options nosniff always;
        location = /profile { return 200 '$body_escaped'; }
        location = /verify {
            add_header X-Auth-User-Id 1 always;
            add_header X-Auth-Email user1@bench.test always;
            add_header X-Auth-Role user always;
            return 200;
        }
        location = /healthz { return 200 '{"status":"ok"}'; }
        location / { return 404 '{"error":"Not Found","message":"No such endpoint"}'; }
    }
}
EOF
start_server nginx "$work/nginx.out" taskset -c 0 nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/logs/error.log"
nginx_pid=$server_pid
wait_ready "http://127.0.0.1:$port/healthz" "$nginx_pid" nginx
nginx_pids="$nginx_pid"
for p in $(ps -o pid= --ppid "$nginx_pid"); do nginx_pids="$nginx_pids,$p"; done
rss=0
for p in ${nginx_pids//,/ }; do rss=$((rss + $(rss_kib "$p"))); done
meta_set rss_idle_nginx_kib "$rss"
add_contender nginx "$port" "$nginx_pids" "$work/tokens-hs256.txt" ""

# Express: the same users (ids 1..N), the same secret, so the same tokens.
port=$(free_port)
start_server express "$work/express.log" env PORT="$port" JWT_SECRET="$secret" \
    PEER_SEED_USERS="$user_count" taskset -c 0 node "$here/peers/express/app.js"
express_pid=$server_pid
wait_ready "http://127.0.0.1:$port/healthz" "$express_pid" express
meta_set rss_idle_express_kib "$(rss_kib "$express_pid")"
$helper get "http://127.0.0.1:$port/profile" "$first_token" >/dev/null ||
    { log "the Express peer refused a minted token"; exit 1; }
add_contender express "$port" "$express_pid" "$work/tokens-hs256.txt" ""

# The access log's cost: the same latch with LATCH_ACCESS_LOG=1 (lines to a file).
port=$(free_port)
start_server latch-log "$work/latch-log.log" env LATCH_ACCESS_LOG=1 taskset -c 0 "$latch_bin" serve \
    --listen "127.0.0.1:$port" --data-dir "$data"
wait_ready "http://127.0.0.1:$port/healthz" "$server_pid" latch-log
add_contender latch-log "$port" "$server_pid" "$work/tokens-hs256.txt" "$(probe_metrics "$port")"

# PostgreSQL (issue 10's second store): a throwaway cluster, the same users registered through
# latch (ids 1..N, as on SQLite), the login user at the real parameters, the same tokens.
# latch's CPU per request is latch's alone; the database server's (the postmaster and its
# backends, db_pid) is recorded beside it, not counted as other load.
pg_available=0
pg_db_pid=
pg_unavailable() {  # REASON: the PostgreSQL rows of every case say why they are missing
    unavailable+=("profile-hs256-pool|latch-pg|not available: $1")
    if [ "$verify_available" = 1 ]; then unavailable+=("verify-hs256-pool|latch-pg|not available: $1"); fi
    unavailable+=("login|latch-pg|not available: $1")
}
if [ "$use_pg" = 0 ]; then
    pg_unavailable "skipped (--no-pg)"
else
    pg_dir=$(mktemp -d /tmp/latch-bench-pg.XXXXXX)
    if pg_url=$("$root/scripts/pg-cluster.sh" start "$pg_dir" 2>"$work/pg.err"); then
        "$latch_bin" key master-init "$work/master.key" >/dev/null
        pg_env=(LATCH_DATABASE_URL="$pg_url" LATCH_MASTER_KEY_FILE="$work/master.key")
        mkdir -p "$work/pg-data"
        port=$(free_port)
        # shellcheck disable=SC2086
        start_server latch-pg-seed "$work/pg-seed.log" env "${pg_env[@]}" $cheap_argon2 "$latch_bin" serve \
            --listen "127.0.0.1:$port" --data-dir "$work/pg-data"
        # The login user as on SQLite: `latch user add` at latch's default Argon2id parameters.
        if wait_ready "http://127.0.0.1:$port/healthz" "$server_pid" latch-pg-seed &&
           $helper seed "http://127.0.0.1:$port" "$user_count" "$bench_password" &&
           printf '%s\n' "$login_password" | env "${pg_env[@]}" "$latch_bin" user add \
               --data-dir "$work/pg-data" --email "$login_email" >/dev/null; then
            stop_server "$server_pid"
            record_cmd "env LATCH_DATABASE_URL=... LATCH_MASTER_KEY_FILE=master.key $latch_bin user add --data-dir pg-data --email $login_email"
            pg_db_pid=$(head -1 "$pg_dir/data/postmaster.pid")
            port=$(free_port)
            start_server latch-pg "$work/latch-pg.log" env "${pg_env[@]}" taskset -c 0 "$latch_bin" serve \
                --listen "127.0.0.1:$port" --data-dir "$work/pg-data"
            wait_ready "http://127.0.0.1:$port/healthz" "$server_pid" latch-pg
            add_contender latch-pg "$port" "$server_pid" "$work/tokens-hs256.txt" "$(probe_metrics "$port")" "$pg_db_pid"
            pg_available=1
            meta_set pg_version "$("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/postgres" --version | sed 's/^[^0-9]*//')"
        else
            stop_server "$server_pid"
            pg_unavailable "seeding users on PostgreSQL failed"
        fi
    else
        pg_unavailable "no PostgreSQL cluster ($(head -c 200 "$work/pg.err" | tr '\n|' '  '))"
    fi
fi
meta_set pg_available "$pg_available"

# Asymmetric algorithms: a latch per algorithm on a copy of the users; tokens signed offline with its key
# (the keys live inside latch), at cheap hashing parameters so that minting is quick.
asym_algs=()
for alg in EdDSA ES256 RS256; do
    lower=$(echo "$alg" | tr 'A-Z' 'a-z')
    adata=$work/$lower
    cp -a "$data" "$adata"
    port=$(free_port)
    start_server "latch-$lower" "$work/latch-$lower.log" env LATCH_JWT_ALG="$alg" $cheap_argon2 \
        taskset -c 0 "$latch_bin" serve --listen "127.0.0.1:$port" --data-dir "$adata"
    apid=$server_pid
    if ! wait_ready "http://127.0.0.1:$port/healthz" "$apid" "latch-$lower" 2>/dev/null; then
        unavailable+=("verify-$lower-pool|latch|not available: latch refused LATCH_JWT_ALG=$alg at start")
        stop_server "$apid"
        continue
    fi
    $helper mint-login "http://127.0.0.1:$port" "$work/tokens-$lower.txt" 1 "$user_count" "$bench_password"
    got=$($helper token-alg "$work/tokens-$lower.txt")
    if [ "$got" != "$alg" ]; then
        unavailable+=("verify-$lower-pool|latch|not available: with LATCH_JWT_ALG=$alg latch issues $got tokens")
        stop_server "$apid"
        continue
    fi
    # The pool is signed offline with the key latch generated (keys.json), as latch signs:
    # minting 10,000 tokens through /login would cost 10,000 Argon2id verifies.
    log "minting $token_count $alg tokens offline with latch's key"
    $helper mint-keys "$adata" "$work/tokens-$lower.txt" "$token_count" "$user_count"
    add_contender "latch-$lower" "$port" "$apid" "$work/tokens-$lower.txt" "$(probe_metrics "$port")"
    asym_algs+=("$lower")
done
meta_set asym_algs "${asym_algs[*]:-}"
# nginx again for each algorithm's pool, so that it reads the same (longer) requests: an RS256
# token is three times an HS256 one.
for a in "${asym_algs[@]+"${asym_algs[@]}"}"; do
    add_contender "nginx-$a" "${c_port[nginx]}" "${c_pids[nginx]}" "$work/tokens-$a.txt" ""
done

# The cases: NAME PATH MODE CONTENDERS...  (issue 14's targets: the pool cases; the access
# log's cost beside /verify, PostgreSQL beside /profile and /verify, Express once for scale.)
pg_contender=
[ "$pg_available" = 1 ] && pg_contender=latch-pg
cases=()
cases+=("profile-hs256-pool /profile tokens latch nginx $pg_contender express")
if [ "$verify_available" = 1 ]; then
    cases+=("verify-hs256-pool /verify tokens latch nginx $pg_contender latch-log")
    for a in "${asym_algs[@]+"${asym_algs[@]}"}"; do
        cases+=("verify-$a-pool /verify tokens latch-$a nginx-$a")
    done
fi
printf '%s\n' "${cases[@]}" >"$raw/cases.txt"
printf '%s\n' "${unavailable[@]+"${unavailable[@]}"}" >"$raw/unavailable.txt"

wrk_cmd() {  # PORT PATH MODE TOKENS DURATION -> the command line of one request-path wrk run
    printf 'env BENCH_MODE=%s BENCH_PATH=%s BENCH_TOKENS=%s taskset -c 1 wrk -t1 -c%s -d%ss --latency -s %s http://127.0.0.1:%s%s' \
        "$3" "$2" "$4" "$connections" "$5" "$here/wrk/bench.lua" "$1" "$2"
}
display() { sed -e "s#$here#bench#g" -e "s#$work/##g" -e 's#http://127.0.0.1:[0-9]*#http://127.0.0.1:PORT#'; }

# Warm-up: every latch sees every token of its pool once (token cache and user cache warm,
# issue 14: asymmetric pools are measured warm), then a short wrk run warms every contender.
for name in "${contenders[@]}"; do
    case $name in latch*)
        log "warming $name: one pass over its $(wc -l <"${c_tokens[$name]}") tokens"
        record_cmd "$helper drive --url http://127.0.0.1:PORT/profile --tokens TOKENS --requests $token_count"
        $helper drive --url "http://127.0.0.1:${c_port[$name]}/profile" --tokens "${c_tokens[$name]}" \
            --requests "$token_count" >/dev/null ;;
    esac
done
warm_s=$(( duration_s >= 10 ? 3 : 1 ))
log "warming up every contender (${warm_s} s each)"
for name in "${contenders[@]}"; do
    taskset -c 1 env BENCH_MODE=tokens BENCH_PATH=/profile BENCH_TOKENS="${c_tokens[$name]}" \
        wrk -t1 -c"$connections" -d"${warm_s}s" -s "$here/wrk/bench.lua" \
        "http://127.0.0.1:${c_port[$name]}/profile" >/dev/null
done

for r in $(seq 1 "$rounds"); do
    log "request path, round $r of $rounds"
    for c in "${cases[@]}"; do
        read -r cname cpath cmode cservers <<<"$c"
        for name in $cservers; do
            cmd=$(wrk_cmd "${c_port[$name]}" "$cpath" "$cmode" "${c_tokens[$name]}" "$duration_s")
            $helper wrk --case "$cname" --server "$name" --round "$r" --pids "${c_pids[$name]}" \
                --db-pid "${c_db[$name]}" \
                --results "$results" --metrics "${c_metrics[$name]}" --wrk-cmd "$cmd" \
                --display-cmd "$(printf '%s' "$cmd" | display)"
        done
    done
done

for name in "${contenders[@]}"; do
    p=${c_pids[$name]%%,*}
    stop_server "$p"
done

# ---------------------------------------------------------------------------------------------
# Phase B: login throughput and /profile latency under a login storm, latch unpinned with its
# default hashing parameters and workers (one per CPU).  The login rate is measured on SQLite
# and, in the same rounds, on the PostgreSQL cluster (latch-pg-login); the storm on SQLite only.
# Each round starts the login servers afresh, as the limit runs in a fresh process each round:
# on some machines the Argon2id rate of a process depends on where its working areas land
# (see bench/changes.md), so one process kept for every round would draw once for all of them.
port=$(free_port)
# The account lockout reserves an attempt per login in flight before hashing (issue 9): with
# 8 logins in flight at 5 attempts the rest would be refused, so its bound is raised here.
start_login_server() {
    start_server latch-login "$work/latch-login.log" env LATCH_LOCKOUT_ATTEMPTS=1000 "$latch_bin" serve \
        --listen "127.0.0.1:$port" --data-dir "$data"
    lpid=$server_pid
    wait_ready "http://127.0.0.1:$port/healthz" "$lpid" latch-login
}
start_login_server
meta_set login_log_line "$(grep -m1 'listening on' "$work/latch-login.log" || true)"
hash_workers=$(sed -n 's/.*, \([0-9]*\) hashing workers.*/\1/p' "$work/latch-login.log" | head -1)
meta_set hash_workers "${hash_workers:-unknown}"
login_conns=$(( ${hash_workers:-2} * 4 ))
storm_delay_ms=2
meta_set login_conns "$login_conns"
meta_set storm_delay_ms "$storm_delay_ms"
login_cmd="env BENCH_MODE=login BENCH_PATH=/login BENCH_EMAIL=$login_email BENCH_PASSWORD=$login_password wrk -t2 -c$login_conns -d${duration_s}s --latency -s $here/wrk/bench.lua http://127.0.0.1:$port/login"
# The measuring client runs at nice -10: on two CPUs shared by the storm's wrk, latch's hashing
# workers and its HTTP threads, an equal-priority client mostly measures its own wait for a CPU
# (p99 11-17 ms with nice 0 against 3-5 ms with nice -10, the server unchanged).
paced_cmd="nice -n -10 env BENCH_MODE=tokens BENCH_PATH=/profile BENCH_TOKENS=$work/tokens-hs256.txt BENCH_DELAY_MS=$storm_delay_ms wrk -t1 -c4 -d${duration_s}s --latency -s $here/wrk/bench.lua http://127.0.0.1:$port/profile"
storm_cmd="env BENCH_MODE=login BENCH_PATH=/login BENCH_EMAIL=$login_email BENCH_PASSWORD=$login_password wrk -t1 -c$login_conns -d$((duration_s + 2))s -s $here/wrk/bench.lua http://127.0.0.1:$port/login"

# The same login on PostgreSQL: the same binary, environment and Argon2id parameters (latch's
# defaults; the login user was added with them), the same lockout bound, unpinned, the same wrk.
pg_login=0
if [ "$pg_available" = 1 ]; then
    pg_login_port=$(free_port)
    start_pg_login_server() {
        start_server latch-pg-login "$work/latch-pg-login.log" env "${pg_env[@]}" LATCH_LOCKOUT_ATTEMPTS=1000 \
            "$latch_bin" serve --listen "127.0.0.1:$pg_login_port" --data-dir "$work/pg-data"
        pg_lpid=$server_pid
        wait_ready "http://127.0.0.1:$pg_login_port/healthz" "$pg_lpid" latch-pg-login
    }
    if start_pg_login_server; then
        pg_login=1
        meta_set pg_login_log_line "$(grep -m1 'listening on' "$work/latch-pg-login.log" || true)"
        pg_hash_workers=$(sed -n 's/.*, \([0-9]*\) hashing workers.*/\1/p' "$work/latch-pg-login.log" | head -1)
        meta_set pg_hash_workers "${pg_hash_workers:-unknown}"
        pg_login_cmd="env BENCH_MODE=login BENCH_PATH=/login BENCH_EMAIL=$login_email BENCH_PASSWORD=$login_password wrk -t2 -c$login_conns -d${duration_s}s --latency -s $here/wrk/bench.lua http://127.0.0.1:$pg_login_port/login"
    else
        stop_server "$pg_lpid"
        printf '%s\n' "login|latch-pg|not available: latch on PostgreSQL did not start for the login case" \
            >>"$raw/unavailable.txt"
    fi
fi
meta_set pg_login "$pg_login"

login_run() {  # SERVER ROUND: one login run against the SQLite (latch) or PostgreSQL (latch-pg) server
    if [ "$1" = latch ]; then
        $helper wrk --case login --server latch --round "$2" --pids "$lpid" --results "$results" \
            --wrk-cmd "$login_cmd" --display-cmd "$(printf '%s' "$login_cmd" | display)"
    else
        $helper wrk --case login --server latch-pg --round "$2" --pids "$pg_lpid" --db-pid "$pg_db_pid" \
            --results "$results" \
            --wrk-cmd "$pg_login_cmd" --display-cmd "$(printf '%s' "$pg_login_cmd" | display)"
    fi
}

# The limit in every round, beside latch's own login runs: one CPU-wide Argon2id run as long as
# a wrk run, each in a fresh process.  On this kind of machine the rate of a process moves with
# the run and with where its working areas land (the report says how much), so a limit measured
# once, at another moment, is no yardstick.
limit_cmd="$work/argon2_limit --for $duration_s $argon2_memory_kib $argon2_iterations $(nproc)"
meta_set limit_cmd "bench/argon2_limit --for $duration_s $argon2_memory_kib $argon2_iterations $(nproc)"
limit_run() {  # ROUND: one timed Argon2id run on every CPU, appended to argon2-rounds.jsonl
    local line
    line=$($limit_cmd) || { log "argon2_limit --for failed in round $1"; return 0; }
    printf '{"round": %s, "line": "%s"}\n' "$1" "$line" >>"$raw/argon2-rounds.jsonl"
}
: >"$raw/argon2-rounds.jsonl"

for r in $(seq 1 "$rounds"); do
    log "login and login storm, round $r of $rounds"
    # SQLite, PostgreSQL and the limit back to back, the order turned every round (drift hits
    # all three).
    case $((r % 3)) in
        1) login_run latch "$r"; if [ "$pg_login" = 1 ]; then login_run latch-pg "$r"; fi; limit_run "$r" ;;
        2) if [ "$pg_login" = 1 ]; then login_run latch-pg "$r"; fi; limit_run "$r"; login_run latch "$r" ;;
        0) limit_run "$r"; login_run latch "$r"; if [ "$pg_login" = 1 ]; then login_run latch-pg "$r"; fi ;;
    esac
    $helper wrk --case profile-paced-quiet --server latch --round "$r" --pids "$lpid" --results "$results" \
        --wrk-cmd "$paced_cmd" --display-cmd "$(printf '%s' "$paced_cmd" | display)"
    # The storm starts first and outlasts the measured /profile run by a second at each end.
    $helper wrk --case login-storm --server latch --round "$r" --pids "$lpid" --results "$results" \
        --wrk-cmd "$storm_cmd" --display-cmd "$(printf '%s' "$storm_cmd" | display)" &
    storm_pid=$!
    sleep 1
    $helper wrk --case profile-under-storm --server latch --round "$r" --pids "$lpid" --results "$results" \
        --wrk-cmd "$paced_cmd" --display-cmd "$(printf '%s' "$paced_cmd" | display)"
    wait "$storm_pid"
    if [ "$r" -lt "$rounds" ]; then
        stop_server "$lpid"
        start_login_server
        if [ "$pg_login" = 1 ]; then
            stop_server "$pg_lpid"
            start_pg_login_server || { log "latch-pg-login did not start again"; exit 1; }
        fi
    fi
done
stop_server "$lpid"
if [ "$pg_login" = 1 ]; then stop_server "$pg_lpid"; fi

# ---------------------------------------------------------------------------------------------
# Phase C: memory.  Idle RSS after start, then with N idle keep-alive connections (each has
# served one request) from 16 loopback source addresses.
port=$(free_port)
max_conn=$(( idle_conns + 1024 > 16384 ? idle_conns + 1024 : 16384 ))
start_server latch-memory "$work/latch-memory.log" env LATCH_MAX_CONNECTIONS=$max_conn LATCH_IDLE_TIMEOUT_S=600 \
    "$latch_bin" serve --listen "127.0.0.1:$port" --data-dir "$data"
mpid=$server_pid
wait_ready "http://127.0.0.1:$port/healthz" "$mpid" latch-memory
sleep 1
meta_set rss_idle_kib "$(rss_kib "$mpid")"
log "opening $idle_conns idle keep-alive connections"
record_cmd "$helper idle-conns --url http://127.0.0.1:PORT --pid PID --count $idle_conns --sources 16"
$helper idle-conns --url "http://127.0.0.1:$port" --pid "$mpid" --count "$idle_conns" --sources 16 \
    >"$raw/memory.json" || { log "idle connections: $(cat "$raw/memory.json")"; }
meta_set memory_json "$(cat "$raw/memory.json")"
stop_server "$mpid"

# ---------------------------------------------------------------------------------------------
# Phase D: start-up to the first answered /healthz, on the existing data dir (database and
# users present, as on every start but the first), default hashing parameters.
log "timing $startup_runs starts"
record_cmd "$helper startup --bin latch --data-dir DIR --runs $startup_runs"
$helper startup --bin "$latch_bin" --data-dir "$data" --runs "$startup_runs" >"$raw/startup.json"
meta_set startup_json "$(cat "$raw/startup.json")"

# ---------------------------------------------------------------------------------------------
for which in before after; do
    dir=profile_$which
    if [ -n "${!dir}" ] && [ -d "${!dir}" ]; then
        mkdir -p "$raw/profile-$which"
        cp "${!dir}"/*.txt "$raw/profile-$which/" 2>/dev/null || true
    fi
done
[ -f "$here/changes.md" ] && cp "$here/changes.md" "$raw/changes.md"

log "writing the report"
$py "$here/report.py" --raw "$raw" --out "$out_dir"
log "report: $out_dir/benchmarks.md and $out_dir/benchmarks.png"
