#!/usr/bin/env bash
# Journal benchmark: 1,000,000 records — append rate (durable and batched), snapshot
# time next to `sqlite3 JOURNAL ".backup FILE"` on the same file in the same run,
# chain verification rate, check against a snapshot.
#   bench/journal_bench.sh [--quick] [BUILD_DIR]     --quick: 20,000 records
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
records=1000000
durable=2000
if [ "${1:-}" = "--quick" ]; then records=20000; durable=300; shift; fi
build=${1:-$root/build/release}
bench=$build/bench/journal_bench
[ -x "$bench" ] || { echo "build first: scripts/build.sh release -DCMAKE_BUILD_TYPE=Release" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 CLI (scripts/setup.sh installs it)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/journal-bench.XXXXXX"); trap 'rm -rf "$work"' EXIT
"$bench" "$work" "$records" "$durable"
