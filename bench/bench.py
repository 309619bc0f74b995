#!/usr/bin/python3
"""Helpers of `make bench` (bench/run.sh); each subcommand does one bounded thing on loopback.

  free-port                      print a free loopback TCP port
  wait-ready URL TIMEOUT_S       wait until URL answers 200
  seed URL N PASSWORD            POST /register user1..userN@bench.test (keep-alive)
  mint-offline OUT N USERS       N distinct HS256 tokens for users 1..USERS (python3-jwt,
                                 secret from LATCH_JWT_SECRET), claims as latch requires them
  mint-login URL OUT N USERS PW  N tokens by logging in as user1..USERS in turn (any algorithm)
  token-alg FILE                 print the alg of the first token's header
  get URL [TOKEN]                print the body of a GET (exit 1 unless 200)
  status URL                     print the status of a GET
  wrk ...                        one wrk run with server CPU accounting (see cmd_wrk); with
                                 --db-pid, the database server's CPU (that process and its
                                 descendants) too
  idle-conns ...                 hold N idle keep-alive connections and measure RSS growth
  startup ...                    time from exec to the first answered /healthz
  drive --url U --tokens F --requests N   N keep-alive GETs of U, one after another, with
                                 the pool's tokens in turn (bench/profile.sh)
"""
import argparse
import base64
import http.client
import json
import os
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

CLK_TCK = os.sysconf("SC_CLK_TCK")


def split_url(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port, (u.path or "/") + (("?" + u.query) if u.query else "")


def http_get(url, token=None, timeout=5.0):
    host, port, path = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def cmd_free_port(_args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait_ready(args):
    deadline = time.monotonic() + float(args.timeout_s)
    while time.monotonic() < deadline:
        try:
            status, _ = http_get(args.url, timeout=1.0)
            if status == 200:
                return 0
        except OSError:
            pass
        time.sleep(0.02)
    print(f"bench: {args.url} did not answer 200 within {args.timeout_s} s", file=sys.stderr)
    return 1


def cmd_seed(args):
    host, port, _ = split_url(args.url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for i in range(1, args.n + 1):
        body = json.dumps({"email": f"user{i}@bench.test", "password": args.password})
        conn.request("POST", "/register", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 201:
            print(f"bench: register user{i}: {resp.status} {data[:200]!r}", file=sys.stderr)
            return 1
        if json.loads(data)["id"] != i:
            print(f"bench: user{i} got id {json.loads(data)['id']}; expected a fresh store",
                  file=sys.stderr)
            return 1
    conn.close()
    return 0


def cmd_mint_offline(args):
    import jwt  # Debian's python3-jwt (/usr/bin/python3)

    secret = os.environ["LATCH_JWT_SECRET"].encode()
    now = int(time.time())
    with open(args.out, "w") as f:
        for i in range(args.n):
            uid = i % args.users + 1
            jti = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
            claims = {"sub": str(uid), "userId": uid, "email": f"user{uid}@bench.test",
                      "role": "user", "iat": now, "exp": now + args.ttl_s, "jti": jti,
                      "iss": args.issuer}
            f.write(jwt.encode(claims, secret, algorithm="HS256") + "\n")
    return 0


def cmd_mint_keys(args):
    """N tokens signed offline with the signing key in DATA_DIR/keys.json, as
    latch would sign them (kid in the header): no Argon2id per token."""
    import jwt  # Debian's python3-jwt (+ python3-cryptography for EdDSA/ES256/RS256)

    with open(os.path.join(args.data_dir, "keys.json")) as f:
        keys = json.load(f)["keys"]
    now = int(time.time())
    entry = max((k for k in keys if k["signs_from"] <= now),
                key=lambda k: (k["signs_from"], k["created_at"]))
    alg = entry["alg"]
    if alg == "HS256":
        material = entry["material"].encode()
    else:
        # Parse the PEM once: python3-jwt re-parses (and re-checks) a PEM
        # string on every call, which for RSA costs tens of milliseconds.
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        material = load_pem_private_key(entry["material"].encode(), password=None)
    with open(args.out, "w") as f:
        for i in range(args.n):
            uid = i % args.users + 1
            jti = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
            claims = {"sub": str(uid), "userId": uid, "email": f"user{uid}@bench.test",
                      "role": "user", "iat": now, "exp": now + args.ttl_s, "jti": jti,
                      "iss": args.issuer}
            f.write(jwt.encode(claims, material, algorithm=alg, headers={"kid": entry["kid"]})
                    + "\n")
    return 0


def cmd_mint_login(args):
    host, port, _ = split_url(args.url)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    with open(args.out, "w") as f:
        for i in range(args.n):
            uid = i % args.users + 1
            body = json.dumps({"email": f"user{uid}@bench.test", "password": args.password})
            conn.request("POST", "/login", body=body, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                print(f"bench: login user{uid}: {resp.status} {data[:200]!r}", file=sys.stderr)
                return 1
            f.write(json.loads(data)["token"] + "\n")
    conn.close()
    return 0


def cmd_token_alg(args):
    with open(args.file) as f:
        token = f.readline().strip()
    head = token.split(".")[0]
    head += "=" * (-len(head) % 4)
    print(json.loads(base64.urlsafe_b64decode(head)).get("alg", "?"))


def cmd_get(args):
    status, body = http_get(args.url, args.token)
    sys.stdout.write(body.decode("utf-8", "replace"))
    return 0 if status == 200 else 1


def cmd_status(args):
    try:
        status, _ = http_get(args.url)
    except OSError:
        status = 0
    print(status)


def proc_ticks(pid):
    """utime + stime of a whole process (all its threads), in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])   # fields 14 and 15 of proc(5)


def tree_ticks(root):
    """CPU ticks of process ROOT and all its descendants, the reaped ones included: each live
    process's utime+stime plus its cutime+cstime (the children it has waited for).  For a
    database server (the postmaster, its backends and helpers, which come and go)."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        parent[int(name)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    total, todo, seen = 0, [root], set()
    children = {}
    for pid, (ppid, _) in parent.items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in parent:
            continue
        seen.add(pid)
        total += parent[pid][1]
        todo.extend(children.get(pid, []))
    return total


def machine_busy_s():
    """CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / CLK_TCK


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


METRIC_RE = re.compile(r"^([A-Za-z_:][\w:]*(?:\{[^}]*\})?)\s+([-+0-9.eE]+)\s*$")


def read_cache_counters(url):
    """(hits, misses) of the token cache from a metrics endpoint, or None.

    Accepts Prometheus text (a name holding token_cache and hit/miss) or a JSON object
    (flattened keys holding the same words)."""
    if not url:
        return None
    try:
        status, body = http_get(url, timeout=2.0)
    except OSError:
        return None
    if status != 200:
        return None
    text = body.decode("utf-8", "replace")
    values = {}
    try:
        def walk(prefix, v):
            if isinstance(v, dict):
                for k, w in v.items():
                    walk(f"{prefix}.{k}" if prefix else k, w)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                values[prefix] = float(v)
        walk("", json.loads(text))
    except ValueError:
        for line in text.splitlines():
            m = METRIC_RE.match(line.strip())
            if m:
                values[m.group(1)] = float(m.group(2))
    hits = misses = None
    for name, v in values.items():
        low = name.lower()
        if "cache" not in low or "token" not in low:
            continue
        if re.search(r"hits?(_total)?\b", low) and "ratio" not in low:
            hits = (hits or 0) + v
        elif re.search(r"miss(es)?(_total)?\b", low):
            misses = (misses or 0) + v
    if hits is None or misses is None:
        return None
    return hits, misses


def cmd_wrk(args):
    """Run wrk once; add the servers' CPU time per request and the cache hit ratio."""
    pids = [int(p) for p in args.pids.split(",") if p]
    db_pid = int(args.db_pid) if args.db_pid else None
    before_cache = read_cache_counters(args.metrics)
    ticks0 = sum(proc_ticks(p) for p in pids)
    db0 = tree_ticks(db_pid) if db_pid else 0
    busy0 = machine_busy_s()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = shlex.split(args.wrk_cmd)
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout_s)
    wall_s = time.monotonic() - t0
    ticks1 = sum(proc_ticks(p) for p in pids)
    db1 = tree_ticks(db_pid) if db_pid else 0
    busy1 = machine_busy_s()
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_cache = read_cache_counters(args.metrics)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCHJSON ")), None)
    if out.returncode != 0 or line is None:
        print(f"bench: wrk failed ({out.returncode}): {out.stdout[-800:]} {out.stderr[-800:]}",
              file=sys.stderr)
        return 1
    r = json.loads(line[len("BENCHJSON "):])
    requests = r["requests"]
    cpu_us = (ticks1 - ticks0) * 1e6 / CLK_TCK
    hit_ratio = None
    if before_cache and after_cache:
        dh = after_cache[0] - before_cache[0]
        dm = after_cache[1] - before_cache[1]
        if dh + dm > 0:
            hit_ratio = dh / (dh + dm)
    wrk_cpu_s = (child1.ru_utime - child0.ru_utime) + (child1.ru_stime - child0.ru_stime)
    # The database server's CPU (PostgreSQL), part of the measured setup, not other load.
    db_cpu_s = max(0, db1 - db0) / CLK_TCK
    # CPU used meanwhile by everything but the server, its database and this wrk: other load on
    # the machine (another wrk running in parallel, as in the login storm, counts here too).
    foreign_cpu_s = max(0.0, (busy1 - busy0) - (ticks1 - ticks0) / CLK_TCK - wrk_cpu_s - db_cpu_s)
    errors = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
    result = {
        "case": args.case, "server": args.server, "round": args.round,
        "requests": requests, "duration_s": r["duration_us"] / 1e6, "wall_s": wall_s,
        "rps": requests / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0,
        "server_cpu_s": cpu_us / 1e6,
        "cpu_us_per_req": cpu_us / requests if requests else None,
        "db_cpu_s": db_cpu_s if db_pid else None,
        "db_cpu_us_per_req": db_cpu_s * 1e6 / requests if db_pid and requests else None,
        "non2xx": r["err_status"], "socket_errors": errors,
        "p50_ms": r["p50_us"] / 1000, "p90_ms": r["p90_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
        "cache_hit_ratio": hit_ratio, "wrk_cpu_s": wrk_cpu_s,
        "foreign_cpu_pct": 100.0 * foreign_cpu_s / wall_s if wall_s else None, "cmd": args.display_cmd or args.wrk_cmd,
    }
    with open(args.results, "a") as f:
        f.write(json.dumps(result) + "\n")
    cpu = f"{result['cpu_us_per_req']:.1f}" if requests else "-"
    print(f"  {args.case:<22} {args.server:<16} round {args.round}: {result['rps']:>10.0f} req/s "
          f"{cpu:>8} us CPU/req  p99 {result['p99_ms']:.2f} ms"
          + (f"  database {result['db_cpu_us_per_req']:.1f} us CPU/req"
             if result["db_cpu_us_per_req"] is not None else "")
          + f"  other load {result['foreign_cpu_pct']:.0f} % of a CPU"
          + (f"  non-2xx {r['err_status']}" if r["err_status"] else "")
          + (f"  socket errors {errors}" if errors else ""))
    return 0


def read_http_response(sock):
    """Read one HTTP/1.1 response with a Content-Length body; return its status."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the body's end")
        body += chunk
    return int(head.split(b" ", 2)[1])


def cmd_idle_conns(args):
    """Open N keep-alive connections from several 127.0.0.x addresses, one request on each,
    then hold them idle and measure the server's RSS growth."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.count + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    host, port, _ = split_url(args.url)
    time.sleep(0.5)
    rss_before = proc_rss_kib(args.pid)
    socks = []
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    failures = 0
    try:
        for i in range(args.count):
            source = f"127.0.0.{2 + i % args.sources}"
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(10)
            s.bind((source, 0))
            s.connect((host, port))
            s.sendall(request)
            if read_http_response(s) != 200:
                failures += 1
            socks.append(s)
        time.sleep(args.settle_s)
        # Every connection must still be open: a server that dropped some would look thin.
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                alive += 0 if s.recv(1) == b"" else 1
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        rss_after = proc_rss_kib(args.pid)
    finally:
        for s in socks:
            s.close()
    added = rss_after - rss_before
    result = {"connections": args.count, "alive": alive, "failures": failures,
              "sources": args.sources, "rss_before_kib": rss_before, "rss_after_kib": rss_after,
              "bytes_per_conn": added * 1024 / args.count}
    print(json.dumps(result))
    return 0 if alive == args.count and failures == 0 else 1


def cmd_startup(args):
    """Median time from exec to the first 200 on /healthz, over several starts."""
    samples = []
    env = dict(os.environ)
    for _ in range(args.runs):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        cmd = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", args.data_dir]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = None
        try:
            while time.monotonic() - t0 < 10:
                try:
                    c = socket.create_connection(("127.0.0.1", port), timeout=1)
                except OSError:
                    time.sleep(0.0005)
                    continue
                try:
                    c.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                              f"Connection: close\r\n\r\n".encode())
                    if read_http_response(c) == 200:
                        elapsed = time.monotonic() - t0
                        break
                except OSError:
                    pass
                finally:
                    c.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if elapsed is None:
            print("bench: latch did not answer /healthz within 10 s", file=sys.stderr)
            return 1
        samples.append(elapsed * 1000)
    print(json.dumps({"runs": args.runs, "median_ms": statistics.median(samples),
                      "min_ms": min(samples), "max_ms": max(samples), "samples_ms": samples}))
    return 0


def cmd_drive(args):
    """N GETs of one URL on one keep-alive connection, rotating the token pool; exits 1 on
    any status but 200."""
    host, port, path = split_url(args.url)
    with open(args.tokens) as f:
        tokens = [line.strip() for line in f if line.strip()]
    requests = [(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {t}\r\n\r\n"
                 ).encode() for t in tokens]
    sock = socket.create_connection((host, port), timeout=60)
    try:
        for i in range(args.requests):
            sock.sendall(requests[i % len(requests)])
            status = read_http_response(sock)
            if status != 200:
                print(f"bench: drive got {status}", file=sys.stderr)
                return 1
    finally:
        sock.close()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port").set_defaults(fn=cmd_free_port)
    s = sub.add_parser("wait-ready"); s.add_argument("url"); s.add_argument("timeout_s")
    s.set_defaults(fn=cmd_wait_ready)
    s = sub.add_parser("seed"); s.add_argument("url"); s.add_argument("n", type=int)
    s.add_argument("password"); s.set_defaults(fn=cmd_seed)
    s = sub.add_parser("mint-offline"); s.add_argument("out"); s.add_argument("n", type=int)
    s.add_argument("users", type=int); s.add_argument("--ttl-s", type=int, default=14400)
    s.add_argument("--issuer", default="latch"); s.set_defaults(fn=cmd_mint_offline)
    s = sub.add_parser("mint-keys"); s.add_argument("data_dir"); s.add_argument("out")
    s.add_argument("n", type=int); s.add_argument("users", type=int)
    s.add_argument("--ttl-s", type=int, default=14400); s.add_argument("--issuer", default="latch")
    s.set_defaults(fn=cmd_mint_keys)
    s = sub.add_parser("mint-login"); s.add_argument("url"); s.add_argument("out")
    s.add_argument("n", type=int); s.add_argument("users", type=int); s.add_argument("password")
    s.set_defaults(fn=cmd_mint_login)
    s = sub.add_parser("token-alg"); s.add_argument("file"); s.set_defaults(fn=cmd_token_alg)
    s = sub.add_parser("get"); s.add_argument("url"); s.add_argument("token", nargs="?")
    s.set_defaults(fn=cmd_get)
    s = sub.add_parser("status"); s.add_argument("url"); s.set_defaults(fn=cmd_status)
    s = sub.add_parser("wrk")
    for a in ("--case", "--server", "--pids", "--results", "--wrk-cmd"):
        s.add_argument(a, required=True)
    s.add_argument("--round", type=int, default=1); s.add_argument("--metrics", default="")
    s.add_argument("--db-pid", default="")
    s.add_argument("--display-cmd", default=""); s.add_argument("--timeout-s", type=float, default=600)
    s.set_defaults(fn=cmd_wrk)
    s = sub.add_parser("idle-conns"); s.add_argument("--url", required=True)
    s.add_argument("--pid", type=int, required=True); s.add_argument("--count", type=int, default=10000)
    s.add_argument("--sources", type=int, default=16); s.add_argument("--settle-s", type=float, default=1.0)
    s.set_defaults(fn=cmd_idle_conns)
    s = sub.add_parser("drive"); s.add_argument("--url", required=True)
    s.add_argument("--tokens", required=True); s.add_argument("--requests", type=int, default=1000)
    s.set_defaults(fn=cmd_drive)
    s = sub.add_parser("startup"); s.add_argument("--bin", required=True)
    s.add_argument("--data-dir", required=True); s.add_argument("--runs", type=int, default=11)
    s.set_defaults(fn=cmd_startup)
    args = p.parse_args()
    sys.exit(args.fn(args) or 0)


if __name__ == "__main__":
    main()
