#!/usr/bin/env bash
# Test of the ctest fixture fw_pg (pg-fixture.sh) in a directory of its own: setup starts a cluster,
# cleanup stops it; a cleanup while another live run uses the cluster leaves it running; a killed
# run's entry is dropped; a cluster that does not start is made afresh; setup drops the databases
# killed runs left behind. Here this script is "the ctest run" (the fixture's parent).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixture="$here/pg-fixture.sh"
cluster="$here/../../scripts/pg-cluster.sh"
dir=$(mktemp -d /tmp/fw-pg-fixture-test.XXXXXX)
other=
finish() {
  [ -z "$other" ] || kill "$other" 2>/dev/null || true
  "$cluster" stop "$dir" || true
  rm -rf "$dir" "$dir.out"
}
trap finish EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
running() { [ -f "$dir/data/postmaster.pid" ]; }
started() { sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

# Every fixture call is a child of this shell (never inside $(...), whose subshell would be the parent).
out="$dir.out"
"$fixture" setup "$dir" >"$out"
uri=$(sed -n 's/^fw_pg: //p' "$out")
running || fail "setup did not start the cluster"
[ "$(psql -X -At "$uri" -c 'SELECT 1')" = 1 ] || fail "no answer at $uri"
[ -f "$dir/runs/$$" ] || fail "setup did not register this run"

# Another live run uses the cluster: this run's cleanup leaves it running.
sleep 600 &
other=$!
started $other >"$dir/runs/$other"
"$fixture" cleanup "$dir" >"$out"
grep -q "1 other ctest run" "$out" || fail "cleanup did not see the other run: $(cat "$out")"
running || fail "cleanup stopped a cluster another run uses"
[ ! -f "$dir/runs/$$" ] || fail "cleanup did not unregister this run"

# The other run is killed: the next setup drops its entry and reuses the running cluster, and the
# database it left behind is dropped (no live run could be using it).
psql -X -q "$uri" -c "CREATE DATABASE fwtest_left_behind"
killed=$other
kill $killed
wait $killed 2>/dev/null || true
other=
"$fixture" setup "$dir" >/dev/null
[ ! -f "$dir/runs/$killed" ] || fail "the killed run's entry stayed"
[ "$(psql -X -At "$uri" -c "SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'fwtest%'")" = 0 ] ||
  fail "a left-behind database stayed"
"$fixture" cleanup "$dir" >"$out"
grep -q "stopped the cluster" "$out" || fail "the last cleanup did not stop the cluster: $(cat "$out")"
running && fail "the cluster still runs after the last cleanup"

# A cluster that cannot start (its control file lost): setup makes a new one.
rm "$dir/data/global/pg_control"
"$fixture" setup "$dir" >/dev/null 2>&1 || fail "setup did not recover from a broken cluster"
[ "$(psql -X -At "$uri" -c 'SELECT 1')" = 1 ] || fail "no answer from the new cluster"
"$fixture" cleanup "$dir" >/dev/null
running && fail "the new cluster still runs after cleanup"
echo "pg-fixture: ok"
