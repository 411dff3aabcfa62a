#!/usr/bin/env bash
# Journal benchmark: 1,000,000 records — append rate (durable and batched), snapshot
# time next to `sqlite3 JOURNAL ".backup FILE"` on the same file in the same run,
# chain verification rate, check against a snapshot.
#   bench/journal_bench.sh [--quick] [--dir DIR] [BUILD_DIR]
#     --quick: 20,000 records
#     --dir DIR: work in DIR and keep it; a later run with the same DIR and size reuses
#                its journal (no append figures), which saves the minutes of appending
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
records=1000000
durable=2000
keep_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) records=20000; durable=300; shift ;;
    --dir) keep_dir=$2; shift 2 ;;
    *) break ;;
  esac
done
build=${1:-$root/build/release}
bench=$build/bench/journal_bench
[ -x "$bench" ] || { echo "build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 CLI (scripts/setup.sh installs it)" >&2; exit 2; }
if [ -n "$keep_dir" ]; then
  mkdir -p "$keep_dir"
  "$bench" "$keep_dir" "$records" "$durable" --reuse
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/journal-bench.XXXXXX"); trap 'rm -rf "$work"' EXIT
  "$bench" "$work" "$records" "$durable"
fi
