#!/usr/bin/env bash
# Runs every test: installs what is missing, builds with warnings as errors, runs the
# suite, then again under AddressSanitizer + UndefinedBehaviorSanitizer, then a short
# libFuzzer run of every fuzz target (clang).
#   scripts/test.sh          quick mode (CI): sweeps sampled, fuzzing 10 s per target
#   scripts/test.sh --full   full mode: exhaustive sweeps, fuzzing 5 min per target
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
full=0
[ "${1:-}" = "--full" ] && full=1
export FW_FULL_SWEEP=$full

scripts/setup.sh
mkdir -p build
jobs=$(nproc)

echo "== formatting (clang-format, .clang-format)"
unformatted=$(git ls-files '*.cc' '*.h' | xargs clang-format --dry-run 2>&1 | grep -o '^[^:]*:[0-9]*' | cut -d: -f1 | sort -u || true)
if [ -n "$unformatted" ]; then
  echo "not clang-formatted (run: git ls-files '*.cc' '*.h' | xargs clang-format -i):"; echo "$unformatted"; exit 1
fi

echo "== size limits (files <= 600 lines, functions <= 80, or a written reason)"
scripts/check-size.sh

echo "== build (warnings are errors)"
scripts/build.sh ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFW_WERROR=ON
echo "== tests"
ctest --test-dir build/ci -j "$jobs" --output-on-failure --timeout 600

echo "== tests under ASan + UBSan"
scripts/build.sh asan -DCMAKE_BUILD_TYPE=Debug -DFW_WERROR=ON -DFW_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan -j "$jobs" --output-on-failure --timeout 900

if command -v clang++ >/dev/null; then
  echo "== fuzzing (libFuzzer)"
  BUILD_TARGETS=fuzz_targets scripts/build.sh fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DFW_FUZZ=ON -DFW_SANITIZE=ON -DFW_BUILD_TESTS=OFF
  seconds=10
  [ $full -eq 1 ] && seconds=300
  for target in build/fuzz/tests/fuzz/*_fuzz; do
    name=$(basename "$target")
    corpus_src="tests/fuzz/corpus/${name%_fuzz}"
    work=$(mktemp -d)
    cp -r "$corpus_src"/. "$work"/
    echo "-- $name for ${seconds}s"
    "$target" -max_total_time=$seconds -max_len=65536 -print_final_stats=0 "$work" 2>&1 | tail -n 2
    rm -rf "$work"
  done
fi
echo "== all tests passed"
