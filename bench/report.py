#!/usr/bin/python3
"""Turns bench/run.sh's raw results into benchmarks.md and benchmarks.png (gnuplot).

Usage: report.py --raw DIR --out DIR
Reads DIR/results.jsonl (one line per wrk run), meta.tsv (key, base64 value), cases.txt,
unavailable.txt, commands.txt.  Medians over rounds; ratios are ratios of the medians.
"""
import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
from collections import OrderedDict, defaultdict


def load_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = base64.b64decode(value).decode("utf-8", "replace")
    return meta


def load_json(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def ok_rps(r):
    """A run's 2xx answers per second (a 503 or 429 is no login)."""
    return r["rps"] * (1 - r["non2xx"] / r["requests"]) if r["requests"] else 0


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=1, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float) and abs(v) >= 1000:
        return f"{v:,.0f}{unit}"
    return f"{v:.{digits}f}{unit}"


def spread(values, digits=2):
    """ "min–max" of the rounds' values (the spread beside a median)."""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    if abs(hi) >= 1000:
        return f"{lo:,.0f}–{hi:,.0f}"
    return f"{lo:.{digits}f}–{hi:.{digits}f}"


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def verdict(ok):
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**missed**"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    raw, out = args.raw, args.out
    meta = load_meta(os.path.join(raw, "meta.tsv"))
    runs = [json.loads(l) for l in open(os.path.join(raw, "results.jsonl")) if l.strip()]
    unavailable = [l.rstrip("\n").split("|", 2) for l in open(os.path.join(raw, "unavailable.txt"))
                   if l.strip()]
    case_order = [l.split()[0] for l in open(os.path.join(raw, "cases.txt")) if l.strip()]

    groups = OrderedDict()
    for r in runs:
        groups.setdefault((r["case"], r["server"]), []).append(r)

    def summary(case, server):
        rs = groups.get((case, server))
        if not rs:
            return None
        return {
            "rounds": len(rs),
            "rps": med([r["rps"] for r in rs]),
            "ok_rps": med([ok_rps(r) for r in rs]),
            "cpu": med([r["cpu_us_per_req"] for r in rs]),
            "db": med([r.get("db_cpu_us_per_req") for r in rs]),
            "p50": med([r["p50_ms"] for r in rs]),
            "p99": med([r["p99_ms"] for r in rs]),
            "non2xx": sum(r["non2xx"] for r in rs),
            "sockerr": sum(r["socket_errors"] for r in rs),
            "requests": sum(r["requests"] for r in rs),
            "hit": med([r.get("cache_hit_ratio") for r in rs]),
            "foreign": med([r.get("foreign_cpu_pct") for r in rs]),
            "cmd": rs[0]["cmd"],
            "p99_all": [r["p99_ms"] for r in rs],
            "rps_all": [r["rps"] for r in rs],
            "ok_rps_all": [ok_rps(r) for r in rs],
            "cpu_all": [r["cpu_us_per_req"] for r in rs],
        }

    problems = []
    for (case, server), rs in groups.items():
        bad = sum(r["non2xx"] for r in rs)
        if bad and not case.startswith("login"):
            problems.append(f"{case} / {server}: {bad} responses were not 2xx")

    md = []
    w = md.append
    w(f"# latch benchmarks")
    w("")
    w(f"Written by `bench/run.sh` ({meta.get('title', 'bench')}) on {meta.get('date')}, latch "
      f"`{meta.get('latch_rev')}` (`{meta.get('latch_bin')}`, release flags). "
      f"Every server ran on this machine, on loopback. Medians of {meta.get('rounds')} rounds of "
      f"{meta.get('duration_s')} s per run; contenders interleaved within each round.")
    w("")
    w("*Other load* is the CPU the rest of the machine used during a run (everything but the "
      "measured server, its PostgreSQL server if any, and its wrk, from /proc/stat), in % of one "
      "CPU: where it is high, another program competed for the CPUs and requests/s, the login "
      "figure and tail latencies suffer; CPU µs/request suffers least.")
    w("")
    foreign_all = med([r.get("foreign_cpu_pct") for r in runs
                       if r["case"] not in ("profile-under-storm", "login-storm")])
    if foreign_all is not None and foreign_all > 20:
        w(f"**Warning: this run shared the machine with other work** (median other load "
          f"{foreign_all:.0f} % of a CPU across runs). The servers got only part of their CPU, so "
          f"requests/s, the login rate and tail latencies understate them; CPU µs/request (CPU "
          f"time actually spent per request) is the figure to compare. Re-run `make bench` on an "
          f"idle machine for publishable throughput.")
        w("")
    if problems:
        w("**Invalid runs:** " + "; ".join(problems))
        w("")

    # ------------------------------------------------------------------ targets
    def ratio(a, b):
        return a / b if a is not None and b not in (None, 0) else None

    def missing(case, server):
        """Why (case, server) has no runs, from unavailable.txt ("not available" if unsaid)."""
        for c, s_, reason in unavailable:
            if c == case and s_ == server:
                return reason
        if case.startswith("verify") and meta.get("verify_available") == "0":
            return "not available (GET /verify answers 404)"
        if summary(case, "latch") is None:
            return "not available (no SQLite run to compare with)"
        return "not available"

    def db_text(s_):
        return (f"; PostgreSQL server meanwhile {fmt(s_['db'], 2)} µs/request (not in latch's)"
                if s_ and s_.get("db") is not None else "")

    targets = []
    lp, ng = summary("profile-hs256-pool", "latch"), summary("profile-hs256-pool", "nginx")
    lpg = summary("profile-hs256-pool", "latch-pg")
    lv, ngv = summary("verify-hs256-pool", "latch"), summary("verify-hs256-pool", "nginx")
    llog = summary("verify-hs256-pool", "latch-log")

    def cpu_text(a, b):
        return (f"{fmt(a['cpu'], 2)} µs ({spread(a['cpu_all'])}) vs {fmt(b['cpu'], 2)} µs "
                f"({spread(b['cpu_all'])}) = {fmt(ratio(a['cpu'], b['cpu']), 2)} ×")

    if lv and ngv:
        cpu_r, rps_r = ratio(lv["cpu"], ngv["cpu"]), ratio(lv["rps"], ngv["rps"])
        targets.append(("`/verify` HS256, 10k-token pool: CPU/request ≤ 1.05 × nginx `return 200`",
                        cpu_text(lv, ngv), verdict(cpu_r is not None and cpu_r <= 1.05)))
        targets.append(("`/verify` HS256, pool: requests/s ≥ 0.95 × nginx",
                        f"{fmt(lv['rps'])} ({spread(lv['rps_all'])}) vs {fmt(ngv['rps'])} "
                        f"({spread(ngv['rps_all'])}) = {fmt(rps_r, 2)} ×",
                        verdict(rps_r is not None and rps_r >= 0.95)))
    else:
        targets.append(("`/verify` HS256 CPU/request ≤ 1.05 × nginx, requests/s ≥ 0.95 × nginx",
                        "not available (GET /verify answers 404)", "not measured"))
    asym = [a for a in meta.get("asym_algs", "").split() if a]
    for alg in ("eddsa", "es256", "rs256"):
        name = {"eddsa": "EdDSA", "es256": "ES256", "rs256": "RS256"}[alg]
        a = summary(f"verify-{alg}-pool", f"latch-{alg}")
        # nginx read the same requests (the same pool of tokens) in the same rounds.
        ref = summary(f"verify-{alg}-pool", f"nginx-{alg}") or ngv
        if a and ref:
            r = ratio(a["cpu"], ref["cpu"])
            hit = f", cache hits {a['hit'] * 100:.1f} %" if a["hit"] is not None else ""
            targets.append((f"`/verify` {name}, pool, warm cache: CPU/request ≤ 1.1 × nginx",
                            cpu_text(a, ref) + hit, verdict(r is not None and r <= 1.1)))
        else:
            targets.append((f"`/verify` {name} through the warm cache ≤ 1.1 × nginx",
                            "not available", "not measured"))
    for label, s_ in (("SQLite", lp), ("PostgreSQL", lpg)):
        if s_ and ng:
            r = ratio(s_["cpu"], ng["cpu"])
            targets.append((f"`/profile` HS256, pool, {label}: CPU/request ≤ 1.3 × nginx",
                            cpu_text(s_, ng), verdict(r is not None and r <= 1.3)))
        else:
            targets.append((f"`/profile` HS256, pool, {label}: CPU/request ≤ 1.3 × nginx",
                            missing("profile-hs256-pool", "latch-pg" if s_ is lpg else "latch"),
                            "not measured"))
    a2 = dict(kv.split("=") for kv in meta.get("argon2_line", "").split())
    verify_median_s = float(a2["verify_s"]) if "verify_s" in a2 else None
    verify_s = float(a2["min_s"]) if "min_s" in a2 else verify_median_s
    ncpu = int(meta.get("nproc", "1"))
    # The limit (issue 14): every core running Argon2id verifies at once, measured in every login
    # round beside latch (bench/argon2_limit.c --for, a fresh process each time) and taken as the
    # median of the rounds, as latch's own rate is; one idle core's time times the cores is what
    # two cores sharing memory bandwidth do not reach.  Runs without per-round figures fall back
    # to the best of the start-up passes.
    limit_rounds = []
    for l in (read_text(os.path.join(raw, "argon2-rounds.jsonl")) or "").splitlines():
        if l.strip():
            rec = json.loads(l)
            kv = dict(x.split("=") for x in rec["line"].split())
            limit_rounds.append((rec["round"], float(kv["per_s"])))
    limit_all = [v for _, v in limit_rounds]
    limit_start = float(a2["parallel_per_s"]) if "parallel_per_s" in a2 else None
    limit = med(limit_all) if limit_all else limit_start
    limit_text = (f"{fmt(limit)} /s (median of {len(limit_all)} rounds, {spread(limit_all, 1)})"
                  if limit_all else f"{fmt(limit)} /s")
    naive_limit = ncpu / verify_s if verify_s else None
    login = summary("login", "latch")
    if login:
        # Successful logins only: a 503 (queue full) or 429 is no login.
        r = ratio(login["ok_rps"], limit)
        targets.append(("Login ≥ 0.9 × what the machine can do (every core verifying Argon2id at once)",
                        f"{fmt(login['ok_rps'])} /s ({spread(login['rps_all'], 1)}) vs "
                        f"{limit_text} = {fmt(r, 2)} ×",
                        verdict(r is not None and r >= 0.9)))
    storm = summary("profile-under-storm", "latch")
    if storm:
        targets.append(("`/profile` p99 under the login storm < 5 ms",
                        f"{fmt(storm['p99'], 2)} ms ({spread([r['p99_ms'] for r in groups[('profile-under-storm', 'latch')]])})",
                        verdict(storm["p99"] < 5)))
    rss_idle = int(meta["rss_idle_kib"]) if meta.get("rss_idle_kib") else None
    if rss_idle is not None:
        targets.append(("Idle RSS < 16 MiB", f"{rss_idle / 1024:.1f} MiB", verdict(rss_idle < 16 * 1024)))
    mem = load_json(meta.get("memory_json"))
    if mem:
        per = mem["bytes_per_conn"]
        ok = per <= 16945 and mem["alive"] == mem["connections"]
        goal = "goal met" if per <= 6 * 1024 else "goal not met"
        targets.append(("An idle keep-alive connection ≤ 16,945 bytes (as before; goal 6 KiB)",
                        f"{per:,.0f} bytes ({mem['alive']:,} of {mem['connections']:,} connections "
                        f"open; 6 KiB {goal})", verdict(ok)))
    else:
        targets.append(("An idle keep-alive connection ≤ 16,945 bytes", "the run failed", "not measured"))
    st = load_json(meta.get("startup_json"))
    if st:
        targets.append(("Start-up to first `/healthz` < 100 ms", f"{st['median_ms']:.1f} ms (median of {st['runs']}, {st['min_ms']:.1f}–{st['max_ms']:.1f})",
                        verdict(st["median_ms"] < 100)))
    # PostgreSQL beside SQLite: latch on each store, measured in the same rounds.
    lvpg = summary("verify-hs256-pool", "latch-pg")
    if lvpg and lv:
        r = ratio(lvpg["cpu"], lv["cpu"])
        targets.append(("PostgreSQL: `/verify` HS256, pool: CPU/request within 10 % of SQLite's (≤ 1.1 ×)",
                        cpu_text(lvpg, lv) + db_text(lvpg), verdict(r is not None and r <= 1.1)))
    else:
        targets.append(("PostgreSQL: `/verify` HS256, pool: CPU/request within 10 % of SQLite's (≤ 1.1 ×)",
                        missing("verify-hs256-pool", "latch-pg"), "not measured"))
    if lpg and lp:
        r = ratio(lpg["rps"], lp["rps"])
        targets.append(("PostgreSQL: `/profile` HS256, pool: requests/s ≥ 0.5 × SQLite's",
                        f"{fmt(lpg['rps'])} ({spread(lpg['rps_all'])}) vs {fmt(lp['rps'])} "
                        f"({spread(lp['rps_all'])}) = {fmt(r, 2)} ×" + db_text(lpg),
                        verdict(r is not None and r >= 0.5)))
    else:
        targets.append(("PostgreSQL: `/profile` HS256, pool: requests/s ≥ 0.5 × SQLite's",
                        missing("profile-hs256-pool", "latch-pg"), "not measured"))
    login_pg = summary("login", "latch-pg")
    # The two logins run back to back in every round, so each round also gives a ratio of its
    # own, free of the drift between rounds; shown beside the ratio of the medians, which alone
    # decides the verdict.
    pg_paired = []
    if login_pg and login:
        sq_by_round = {r["round"]: ok_rps(r) for r in groups[("login", "latch")]}
        pg_paired = [x for x in (ratio(ok_rps(r), sq_by_round.get(r["round"]))
                                 for r in groups[("login", "latch-pg")]) if x is not None]
    if login_pg and login:
        r = ratio(login_pg["ok_rps"], login["ok_rps"])
        within = (f", within each round {fmt(med(pg_paired), 2)} ({spread(pg_paired)})"
                  if pg_paired else "")
        targets.append(("PostgreSQL: login: logins/s ≥ 0.9 × SQLite's",
                        f"{fmt(login_pg['ok_rps'])} /s ({spread(login_pg['ok_rps_all'], 1)}) vs "
                        f"{fmt(login['ok_rps'])} /s ({spread(login['ok_rps_all'], 1)}) = {fmt(r, 2)} ×"
                        + within,
                        verdict(r is not None and r >= 0.9)))
    else:
        targets.append(("PostgreSQL: login: logins/s ≥ 0.9 × SQLite's",
                        missing("login", "latch-pg"), "not measured"))
    if llog and lv:
        targets.append(("(no target) `/verify` with the access log on, vs off",
                        f"{fmt(llog['cpu'], 2)} µs ({spread(llog['cpu_all'])}) vs {fmt(lv['cpu'], 2)} µs "
                        f"= {fmt(ratio(llog['cpu'], lv['cpu']), 2)} ×; vs nginx "
                        f"{fmt(ratio(llog['cpu'], ngv['cpu']) if ngv else None, 2)} ×", "—"))

    w("## Targets (issue 14; PostgreSQL beside SQLite)")
    w("")
    w("Medians of the rounds, each with its spread (the lowest and highest round) in brackets; "
      "ratios are ratios of the medians. nginx answers `return 200` with `access_log off`; "
      "latch runs with `LATCH_ACCESS_LOG=0` (one row with it on). The *PostgreSQL* rows compare "
      "latch on a PostgreSQL cluster on this machine with latch on SQLite, measured in the same "
      "rounds; CPU/request is latch's own, the PostgreSQL server's is given beside it.")
    w("")
    w("| target | measured | |")
    w("| --- | --- | --- |")
    for t in targets:
        w(f"| {t[0]} | {t[1]} | {t[2]} |")
    w("")

    # ------------------------------------------------------------------ machine
    w("## Machine")
    w("")
    w(f"- `nproc`: {meta.get('nproc')}; memory {meta.get('mem_total')}; `uname -srmo`: {meta.get('uname')}")
    w(f"- latch {meta.get('latch_rev')} (its own HTTP/1.1 server; OpenSSL {meta.get('openssl_version')}"
      f"{', PostgreSQL ' + meta['pg_version'] if meta.get('pg_version') else ''}); "
      f"nginx {meta.get('nginx_version')} (Debian nginx-light); node {meta.get('node_version')}, "
      f"express {meta.get('express_version')}, jsonwebtoken {meta.get('jsonwebtoken_version')}, "
      f"bcryptjs {meta.get('bcryptjs_version')}; {meta.get('wrk_version')}")
    w("")
    w("```")
    w(meta.get("lscpu", "").rstrip())
    w("```")
    w("")

    # ------------------------------------------------------------------ request path
    w("## 1–2. Request path: `/profile` and `/verify`")
    w("")
    w(f"Servers pinned to CPU 0 (`taskset -c 0`; latch then runs 1 HTTP thread), wrk pinned to "
      f"CPU 1, one wrk thread, {meta.get('connections')} keep-alive connections. *pool* rotates "
      f"{int(meta.get('token_count', 0)):,} distinct valid tokens of {int(meta.get('user_count', 0)):,} "
      f"users (HS256: minted offline with python3-jwt and the same secret; asymmetric: signed offline "
      f"with the key latch generated, read from its keys.json), each seen once by its latch before "
      f"the rounds (the token and user caches are warm). CPU/request = the server's utime+stime "
      f"(`/proc/<pid>/stat`, nginx master + worker) over the run ÷ requests answered. nginx "
      f"answers `return 200` with latch's /profile body for user 1 (the ceiling: no auth at all); "
      f"the Express app (bench/peers/express/) verifies with jsonwebtoken and reads an in-memory "
      f"Map. *latch-log* is latch with its access log on (to a file); *latch-pg* reads its users "
      f"from PostgreSQL (a throwaway cluster on the same machine, unpinned; its CPU is not "
      f"in latch's but in a column of its own). Token cache hit ratio from latch's `GET /metrics` "
      f"({'available' if meta.get('metrics_url_available') == '1' else 'absent: n/a'}).")
    w("")
    w("| case | server | requests/s (spread) | CPU µs/request (spread) | × nginx CPU | PostgreSQL server CPU µs/request | p50 ms | p99 ms | cache hits | non-2xx | other load | rounds |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    chart_rows = []
    for case in case_order:
        nginx_s = summary(case, "nginx")
        servers = [s for (c, s) in groups if c == case]
        for server in servers:
            s = summary(case, server)
            ref = nginx_s or next((summary(case, x) for (c, x) in groups
                                   if c == case and x.startswith("nginx")), None)
            xr = ratio(s["cpu"], ref["cpu"]) if ref else None
            hit = fmt(s["hit"] * 100, 1, " %") if s["hit"] is not None else "n/a"
            db = fmt(s["db"], 2) if s["db"] is not None else "—"
            w(f"| {case} | {server} | {fmt(s['rps'])} ({spread(s['rps_all'])}) | "
              f"{fmt(s['cpu'], 2)} ({spread(s['cpu_all'])}) | {fmt(xr, 2)} | {db} | "
              f"{fmt(s['p50'], 2)} | {fmt(s['p99'], 2)} | {hit} | {s['non2xx']} | {fmt(s['foreign'], 0, ' %')} | {s['rounds']} |")
            chart_rows.append((f"{server} {case.replace('profile-', '').replace('verify-', 'verify ')}",
                               s["rps"], s["cpu"]))
    for case, server, reason in unavailable:
        if case != "login":
            w(f"| {case} | {server} | — | — | — | — | — | — | — | — | — | {reason} |")
    w("")
    w("Per-round figures (requests/s; CPU µs/request):")
    w("")
    for case in case_order:
        for (c, server) in groups:
            if c != case:
                continue
            s = summary(case, server)
            w(f"- {case} / {server}: " + ", ".join(f"{x:,.0f}" for x in s["rps_all"]) + "; "
              + ", ".join(f"{x:.2f}" if x is not None else "n/a" for x in s["cpu_all"]))
    w("")
    w("In the asymmetric cases nginx (*nginx-eddsa*, ...) reads the same requests, with that "
      "pool's tokens, as latch does. *latch-pg* is the same latch with its users in PostgreSQL; "
      "its CPU/request is latch's alone, the PostgreSQL server's (postmaster, backends and "
      "helpers, from `/proc`) is in its own column and not in *other load*.")
    w("")
    if not asym:
        w("EdDSA, ES256 and RS256 (case 2): not available in this build — "
          + "; ".join(r.replace("not available: ", "") for c, s, r in unavailable
                   if c in ("verify-eddsa-pool", "verify-es256-pool", "verify-rs256-pool")
                   or (c == "verify" and s == "latch")) + ".")
        w("")

    # ------------------------------------------------------------------ login
    w("## 3. `POST /login` against what the machine can do in Argon2id")
    w("")
    w(f"latch unpinned with its defaults ({meta.get('argon2_memory_kib')} KiB, "
      f"{meta.get('argon2_iterations')} iterations, {meta.get('hash_workers')} hashing workers; "
      f"`{meta.get('login_log_line', '').strip()}`), wrk with 2 threads and "
      f"{meta.get('login_conns')} connections posting correct credentials. The limit is what "
      f"the machine can do: {ncpu} threads (one per CPU) running `crypto_pwhash_str_verify` at "
      f"the same parameters at once for as long as a wrk run, with latch's own Argon2 memory "
      f"(`src/auth/pwmem.c`: 2 MiB pages, the area kept between verifies), in a fresh process in "
      f"every round, "
      f"back to back with latch's SQLite and PostgreSQL login runs (the order turned every "
      f"round): `{meta.get('limit_cmd')}`. Its median is set against latch's median. The "
      f"single-verify times come from one start-up run: `{meta.get('argon2_line')}`. (The limit "
      f"of the first reports, {ncpu} × one idle core's fastest verify, is shown for comparison: "
      f"cores busy at once share the memory bandwidth Argon2id lives on and never reach it.)")
    w("")
    w("| figure | value |")
    w("| --- | ---: |")
    w(f"| one Argon2id verify (fastest of the runs; used for the limit) | {fmt(verify_s * 1000 if verify_s else None, 2)} ms |")
    w(f"| one Argon2id verify (median) | {fmt(verify_median_s * 1000 if verify_median_s else None, 2)} ms |")
    w(f"| the limit: {ncpu} threads verifying at once (median of the rounds; spread) | "
      f"{fmt(limit)} logins/s ({spread(limit_all, 1) if limit_all else 'one run'}) |")
    if limit_start is not None:
        w(f"| the same, best of the start-up passes (what earlier reports used) | {fmt(limit_start)} logins/s |")
    w(f"| earlier reports' limit ({ncpu} CPUs ÷ the fastest single verify) | {fmt(naive_limit)} logins/s |")
    if login:
        w(f"| latch `POST /login`, 200s only (median of {login['rounds']}; spread of all answers) | {fmt(login['ok_rps'])} logins/s ({spread(login['rps_all'], 1)}) |")
        w(f"| ratio | {fmt(ratio(login['ok_rps'], limit), 2)} |")
        by_round = dict(limit_rounds)
        paired = [ratio(ok_rps(r),
                        by_round.get(r["round"])) for r in groups[("login", "latch")]]
        paired = [x for x in paired if x is not None]
        if paired:
            w(f"| ratio within each round (median; spread) | {fmt(med(paired), 2)} ({spread(paired)}) |")
        w(f"| latch CPU per login | {fmt(login['cpu'] / 1000 if login['cpu'] else None, 2)} ms |")
        w(f"| login p50 / p99 | {fmt(login['p50'], 1)} / {fmt(login['p99'], 1)} ms |")
        w(f"| non-2xx answers (503 = queue full) | {login['non2xx']} |")
        w(f"| other load on the machine meanwhile (median) | {fmt(login['foreign'], 0, ' %')} of a CPU |")
    w("")
    w("### The same login on PostgreSQL")
    w("")
    if login_pg:
        w(f"A second latch, its users in the PostgreSQL cluster (the login user added with "
          f"`latch user add` at the same default parameters, {meta.get('pg_hash_workers')} hashing "
          f"workers; `{meta.get('pg_login_log_line', '').strip()}`), the same wrk command, run "
          f"back to back with the SQLite login in every round, the two in turn first. The "
          f"PostgreSQL server's CPU is counted apart from latch's.")
        w("")
        w("| figure | SQLite | PostgreSQL |")
        w("| --- | ---: | ---: |")
        if login:
            def both(f):
                return f"{f(login)} | {f(login_pg)}"
            w(f"| `POST /login`, 200s only (median of {login_pg['rounds']}; spread) | "
              + both(lambda x: f"{fmt(x['ok_rps'])} logins/s ({spread(x['ok_rps_all'], 1)})") + " |")
            w(f"| ÷ SQLite | 1.00 | {fmt(ratio(login_pg['ok_rps'], login['ok_rps']), 2)} |")
            if pg_paired:
                w(f"| ÷ SQLite within each round (median; spread) | | "
                  f"{fmt(med(pg_paired), 2)} ({spread(pg_paired)}) |")
            w("| ÷ the limit | " + both(lambda x: fmt(ratio(x['ok_rps'], limit), 2)) + " |")
            w("| latch CPU per login | "
              + both(lambda x: f"{fmt(x['cpu'] / 1000 if x['cpu'] else None, 2)} ms") + " |")
            w(f"| PostgreSQL server CPU per login | — | "
              f"{fmt(login_pg['db'] / 1000 if login_pg['db'] is not None else None, 2)} ms |")
            w("| login p50 / p99 | "
              + both(lambda x: f"{fmt(x['p50'], 1)} / {fmt(x['p99'], 1)} ms") + " |")
            w("| non-2xx answers (503 = queue full) | " + both(lambda x: str(x['non2xx'])) + " |")
            w("| other load meanwhile (median) | "
              + both(lambda x: f"{fmt(x['foreign'], 0, ' %')} of a CPU") + " |")
        w("")
        w("Per-round logins/s (200s only): SQLite "
          + (", ".join(f"{x:,.1f}" for x in login["ok_rps_all"]) if login else "n/a")
          + "; PostgreSQL " + ", ".join(f"{x:,.1f}" for x in login_pg["ok_rps_all"])
          + (("; the limit " + ", ".join(f"{x:,.1f}" for x in limit_all)) if limit_all else "")
          + ".")
    else:
        why = missing("login", "latch-pg")
        w(f"{why[:1].upper()}{why[1:]}.")
    w("")

    # ------------------------------------------------------------------ storm
    w("## 4. `/profile` latency under a login storm")
    w("")
    w(f"Same unpinned latch. One wrk keeps {meta.get('login_conns')} logins in flight (every "
      f"hashing worker busy, the queue never empty) while a second wrk sends `/profile` with the "
      f"token pool on 4 connections, each waiting {meta.get('storm_delay_ms')} ms between requests "
      f"(a paced load, so the figure is latency, not saturation). The quiet row is the same paced "
      f"load without the storm.")
    w("")
    w("| run | /profile requests/s | p50 ms | p99 ms | logins/s meanwhile | other load |")
    w("| --- | ---: | ---: | ---: | ---: | ---: |")
    quiet = summary("profile-paced-quiet", "latch")
    ls = summary("login-storm", "latch")
    if quiet:
        w(f"| quiet | {fmt(quiet['rps'])} | {fmt(quiet['p50'], 3)} | {fmt(quiet['p99'], 3)} | 0 | {fmt(quiet['foreign'], 0, ' %')} |")
    if storm:
        w(f"| login storm | {fmt(storm['rps'])} | {fmt(storm['p50'], 3)} | {fmt(storm['p99'], 3)} | "
          f"{fmt(ls['rps'] if ls else None)} | {fmt(storm['foreign'], 0, ' %')} (includes the storm's wrk) |")
    w("")

    # ------------------------------------------------------------------ memory
    w("## 5. Memory")
    w("")
    head_bytes = meta.get("head_bytes", "?").strip()
    w("| figure | value |")
    w("| --- | ---: |")
    if rss_idle is not None:
        w(f"| latch RSS idle after start (unpinned, default settings) | {rss_idle / 1024:.1f} MiB ({rss_idle:,} KiB) |")
    if meta.get("rss_idle_latch_pinned_kib"):
        w(f"| latch RSS idle, pinned to one CPU | {int(meta['rss_idle_latch_pinned_kib']) / 1024:.1f} MiB |")
    if meta.get("rss_idle_nginx_kib"):
        w(f"| nginx RSS idle (master + 1 worker) | {int(meta['rss_idle_nginx_kib']) / 1024:.1f} MiB |")
    if meta.get("rss_idle_express_kib"):
        w(f"| Express RSS idle ({int(meta.get('user_count', 0)):,} users in memory) | {int(meta['rss_idle_express_kib']) / 1024:.1f} MiB |")
    if mem:
        w(f"| latch RSS with {mem['connections']:,} idle keep-alive connections | {mem['rss_after_kib'] / 1024:.1f} MiB |")
        w(f"| added per connection | {mem['bytes_per_conn']:,.0f} bytes ({mem['bytes_per_conn'] / 1024:.1f} KiB) |")
        w(f"| connections still open at the measurement | {mem['alive']:,} of {mem['connections']:,} (from {mem['sources']} source addresses 127.0.0.2–) |")
    w(f"| head buffer of a connection reading or answering a request (`LATCH_MAX_HEAD_BYTES`) | {head_bytes}, plus room for a body's bytes |")
    w("")
    w("Each connection served one `GET /healthz` and then stayed open. An idle connection holds "
      "its `struct conn` (src/http/server.c) and the kernel's socket, nothing else: the head "
      "buffer, the parsed fields and the handler's per-request state are taken from a per-thread "
      "list of spare ones when bytes arrive and given back when the answer is out and nothing "
      "more is pending. (libmicrohttpd 0.9.75, before issue 14, kept a 16 KiB zero-filled pool "
      "per connection, idle or not: 16,945 bytes per idle connection in the last report.)")
    w("")

    # ------------------------------------------------------------------ startup
    w("## 6. Start-up")
    w("")
    if st:
        w(f"From `exec` to the first 200 on `GET /healthz` (a client polling every 0.5 ms), on a "
          f"data dir that already holds the database, default settings: median "
          f"**{st['median_ms']:.1f} ms** over {st['runs']} starts (min {st['min_ms']:.1f}, "
          f"max {st['max_ms']:.1f}).")
    w("")

    # ------------------------------------------------------------------ profiles, changes
    changes = read_text(os.path.join(raw, "changes.md"))
    before_dir, after_dir = os.path.join(raw, "profile-before"), os.path.join(raw, "profile-after")
    if os.path.isdir(before_dir) or os.path.isdir(after_dir):
        w("## 7. Where the time goes: `perf report` before and after")
        w("")
        w("`bench/profile.sh` (latch on CPU 0 with one HTTP thread and `LATCH_ACCESS_LOG=0`, wrk "
          "with 64 connections on CPU 1, 1,000 HS256 tokens; `perf record -e cpu-clock` on latch "
          "for the run, then `perf report --sort dso,symbol`; and valgrind's callgrind counting "
          "the instructions of 20,000 keep-alive requests, which a loaded machine does not "
          "disturb). *Before*: the libmicrohttpd 0.9.75 adapter; *after*: this tree.")
        w("")
        for case in ("verify", "profile"):
            for which, d in (("before", before_dir), ("after", after_dir)):
                cg = read_text(os.path.join(d, f"callgrind-{case}.txt"))
                if cg:
                    m = re.search(r"(\d+) instructions/request", cg)
                    if m:
                        w(f"- `GET /{case}`, {which}: {int(m.group(1)):,} instructions per request (callgrind)")
        w("")
        for case in ("verify", "profile"):
            for which, d in (("before", before_dir), ("after", after_dir)):
                perf = read_text(os.path.join(d, f"perf-{case}.txt"))
                if not perf:
                    continue
                lines = [l for l in perf.splitlines() if l.strip()]
                w(f"`GET /{case}`, {which} (top entries; `[k]` kernel, `[.]` user space):")
                w("")
                w("```")
                for l in lines[:28]:
                    w(re.sub(r"\s+$", "", l))
                w("```")
                w("")
    if changes:
        w("## 8. What each change bought")
        w("")
        w(changes.strip())
        w("")

    # ------------------------------------------------------------------ commands
    w("## Exact commands")
    w("")
    w(f"`make bench` = `bench/run.sh --duration 10 --rounds 9` (this report: {meta.get('rounds')} rounds of "
      f"{meta.get('duration_s')} s; `make bench-smoke`: shorter runs, "
      "fewer rounds, report in a temp dir). Environment of every latch: `LATCH_JWT_SECRET=<random "
      "72 bytes>`, `LATCH_MAX_CONN_PER_IP=0`, `LATCH_IP_RATE_PER_MIN=0`, `LATCH_ACCESS_LOG=0` (but "
      "latch-log), `LATCH_ACCESS_TTL_S=14400` (the offline tokens outlive the run). One wrk "
      "command per case (PORT is the contender's random loopback port):")
    w("")
    w("```")
    seen = set()
    for (case, server), rs in groups.items():
        key = (case, server)
        if key in seen:
            continue
        seen.add(key)
        w(f"# {case} / {server}")
        w(rs[0]["cmd"])
    w("```")
    w("")
    w("Servers and helpers:")
    w("")
    w("```")
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(raw, "commands.txt")) as f:
        for line in f:
            line = re.sub(r"/tmp/latch-bench\.\w+/", "", line.rstrip("\n"))
            line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line.replace(bench_dir, "bench"))
            line = re.sub(r"JWT_SECRET=\w+", "JWT_SECRET=<secret>", line)
            w(line)
    w("```")
    w("")
    w("![throughput and server CPU per request](benchmarks.png)")
    w("")

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "benchmarks.md"), "w") as f:
        f.write("\n".join(md))

    # ------------------------------------------------------------------ chart
    dat = os.path.join(raw, "chart.dat")
    with open(dat, "w") as f:
        for i, (label, rps, cpu) in enumerate(chart_rows):
            f.write(f'{i} "{label}" {rps if rps else 0:.3f} {cpu if cpu else 0:.4f}\n')
    n = max(len(chart_rows), 1)
    gp = f"""
set terminal pngcairo size {max(900, 70 * n + 200)},900 font "sans,10"
set output "{os.path.join(out, 'benchmarks.png')}"
set multiplot layout 2,1 title "latch vs nginx (return 200) vs Express — {meta.get('date', '')}, {meta.get('nproc')} CPUs, server on 1 core"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set logscale y
set xrange [-0.6:{n - 0.4}]
set xtics rotate by -30 font "sans,8" nomirror
set ylabel "requests/s (log)"
set title "Throughput (median)"
plot "{dat}" using 1:3:xtic(2) with boxes lc rgb "#3c78d8" notitle, \\
     "" using 1:3:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,8" notitle
set ylabel "server CPU µs per request (log)"
set title "Server CPU per request (median; lower is better)"
plot "{dat}" using 1:4:xtic(2) with boxes lc rgb "#e06666" notitle, \\
     "" using 1:4:(sprintf("%.1f", $4)) with labels offset 0,0.7 font "sans,8" notitle
unset multiplot
"""
    with open(os.path.join(raw, "chart.gp"), "w") as f:
        f.write(gp)
    subprocess.run(["gnuplot", os.path.join(raw, "chart.gp")], check=True)
    for line in md:
        if line.startswith("| ") and ("**met**" in line or "**missed**" in line or "not measured" in line):
            print(line)
    if problems:
        print("bench: invalid runs: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
