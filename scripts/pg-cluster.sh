#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster in a directory, for tests, benches and the demo (issue 19):
# never a system service, no TCP at all (Unix socket in DIR/sock only).
#   scripts/pg-cluster.sh start DIR [--fast]   initdb (when DIR has no cluster) + start; prints the URI
#   scripts/pg-cluster.sh stop DIR             fast shutdown (idempotent)
#   scripts/pg-cluster.sh kill DIR             immediate shutdown (a crash, for outage tests)
#   scripts/pg-cluster.sh uri DIR [DBNAME]     postgresql://postgres@/DBNAME?host=DIR/sock (default postgres)
#   scripts/pg-cluster.sh createdb DIR DBNAME  creates a database (idempotent); prints its URI
# --fast: fsync off (tests only: a crash of the machine may lose the cluster; benches never pass it).
# initdb refuses to run as root: as root, the cluster runs as the `postgres` user the Debian package
# creates, and DIR is made theirs (every directory above DIR must be traversable by them: use /tmp).
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start|stop|kill|uri|createdb DIR}
dir=${2:?usage: pg-cluster.sh $cmd DIR}
bin=/usr/lib/postgresql/15/bin
[ -x $bin/initdb ] || { echo "pg-cluster: $bin/initdb missing (scripts/setup.sh installs postgresql-15)" >&2; exit 4; }
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
uri() { echo "postgresql://postgres@/${1:-postgres}?host=$dir/sock"; }

case $cmd in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_owner $bin/initdb -D "$dir/data" -U postgres --auth=trust --no-instructions -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 4; }
      as_owner mkdir -p "$dir/sock"
      {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$dir/sock'"
        echo "max_connections = 300"
        echo "shared_buffers = 128MB"
        if [ "${3:-}" = "--fast" ]; then echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"; fi
      } | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    if ! as_owner $bin/pg_ctl -D "$dir/data" status >/dev/null 2>&1; then
      as_owner $bin/pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 4; }
    fi
    uri
    ;;
  stop | kill)
    mode=fast
    [ "$cmd" = kill ] && mode=immediate
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner $bin/pg_ctl -D "$dir/data" -m $mode -w stop >/dev/null 2>&1 || true
    fi
    ;;
  uri) uri "${3:-postgres}" ;;
  createdb)
    db=${3:?usage: pg-cluster.sh createdb DIR DBNAME}
    [[ $db =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || { echo "pg-cluster: bad database name '$db'" >&2; exit 2; }
    if ! psql -X -q -At "$(uri)" -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
      psql -X -q "$(uri)" -c "CREATE DATABASE $db" >/dev/null
    fi
    uri "$db"
    ;;
  *) echo "pg-cluster: unknown command '$cmd'" >&2; exit 2 ;;
esac
