#!/usr/bin/env bash
# The ctest fixture fw_pg (tests/CMakeLists.txt): one throwaway PostgreSQL cluster per build directory
# for a whole ctest run, shared by every test that requires the fixture (FW_TEST_PG_URI).
#   pg-fixture.sh setup DIR     starts (or reuses) the cluster in DIR, registers this ctest run
#   pg-fixture.sh cleanup DIR   unregisters this ctest run; stops the cluster when no live run uses it
# DIR is fixed per build directory at configure time (/tmp/fw-pg-<hash>), so two build directories
# (build/ci, build/asan) never share a cluster, and a cluster left running by a killed run is reused.
# A ctest run is known by its pid (ctest is the parent of this script): DIR/runs/<pid> while it runs.
# Two runs of the same build directory at once share the cluster; the last one to finish stops it;
# a killed run's entry is dropped (its pid is gone) by the next setup or cleanup.
# Databases are not removed here: each test drops its own (PgTestDatabase); setup drops the
# leftovers of killed runs ("fwtest_*") when no other run is live.
set -euo pipefail
cmd=${1:?usage: pg-fixture.sh setup|cleanup DIR}
dir=${2:?usage: pg-fixture.sh $cmd DIR}
here=$(cd "$(dirname "$0")" && pwd)
cluster="$here/../../scripts/pg-cluster.sh"
run=$PPID

mkdir -p "$dir/runs"
chmod 755 "$dir"
# One setup or cleanup at a time per directory (two ctest runs may start together). The server must
# not inherit the lock's descriptor (it would hold the lock for its whole life): `9>&-` below.
exec 9>"$dir/runs/.lock"
flock -w 120 9 || { echo "pg-fixture: $dir/runs/.lock held for 2 minutes" >&2; exit 6; }

# A process's start time (field 22 of /proc/PID/stat), so that a recycled pid is not taken for the run.
started() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# Drops the entries of runs that are gone; prints how many live runs other than this one remain.
live_others() {
  local n=0 f pid
  for f in "$dir"/runs/*; do
    [ -e "$f" ] || continue
    pid=$(basename "$f")
    if [ "$pid" = "$run" ] || [ "$pid" = $$ ]; then continue; fi
    if [ "$(cat "$f")" = "$(started "$pid")" ]; then
      n=$((n + 1))
    else
      rm -f "$f"
    fi
  done
  echo $n
}

case $cmd in
  setup)
    others=$(live_others)
    if ! uri=$("$cluster" start "$dir" --fast 9>&-); then
      # A half-made cluster (initdb or a start killed midway): nobody can be using it; start afresh.
      [ "$others" -eq 0 ] || exit 4
      echo "pg-fixture: the cluster in $dir does not start; making a new one" >&2
      "$cluster" kill "$dir" 9>&-
      find "$dir" -mindepth 1 -maxdepth 1 ! -name runs -exec rm -rf {} +
      uri=$("$cluster" start "$dir" --fast 9>&-)
    fi
    started $run >"$dir/runs/$run"
    if [ "$others" -eq 0 ]; then
      psql -X -q -At "$uri" -c "SELECT datname FROM pg_database WHERE datname LIKE 'fwtest\_%'" |
        while read -r db; do psql -X -q "$uri" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null; done
    fi
    echo "fw_pg: $uri"
    ;;
  cleanup)
    others=$(live_others)
    rm -f "$dir/runs/$run"
    if [ "$others" -eq 0 ]; then
      "$cluster" stop "$dir" 9>&-
      echo "fw_pg: stopped the cluster in $dir"
    else
      echo "fw_pg: $others other ctest run(s) still use the cluster in $dir"
    fi
    ;;
  *) echo "pg-fixture: unknown command '$cmd'" >&2; exit 2 ;;
esac
