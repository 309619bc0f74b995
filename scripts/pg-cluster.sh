#!/bin/sh
# A throwaway PostgreSQL cluster for the tests.
#
#   scripts/pg-cluster.sh start DIR   initdb in DIR/data (as the postgres user:
#                                     initdb refuses root), start it listening on
#                                     a socket in DIR and on 127.0.0.1 at a free
#                                     port; prints the libpq keyword/value string
#                                     of its "postgres" database on stdout
#   scripts/pg-cluster.sh stop DIR    stop it (fast shutdown) and remove DIR
#
# Trust authentication on the socket and on loopback only: the cluster lives
# as long as one test run and holds nothing but test data.
set -eu

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pg-cluster: PostgreSQL server binaries not found" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "${1:-}" in
start)
  dir=${2:?usage: pg-cluster.sh start DIR}
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  # Others may reach the socket in it (a test drops latch to nobody), not
  # list it; the cluster's own data dir inside stays 0700.
  chmod 711 "$dir"
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  port=$(free_port)
  # Enough connections for several latch instances with their pools, one
  # database per test server; durability settings left at their defaults.
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 400
shared_buffers = 64MB
fsync = on
synchronous_commit = on
log_min_messages = warning
EOF
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "host=$dir port=$port user=postgres dbname=postgres"
  ;;
stop)
  dir=${2:?usage: pg-cluster.sh stop DIR}
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
