#!/usr/bin/env bash
# build.sh NAME [cmake options...]: configures (once) and builds build/NAME with Ninja.
# Environment: BUILD_TARGETS (only these targets).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1; shift
dir="$root/build/$name"
mkdir -p "$root/build"
# A compiler cache when installed (scripts/setup.sh installs ccache): rebuilds of an unchanged tree
# (a second clone, the next CI run) take seconds. Paths are hashed relative to the tree.
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$dir" -G Ninja "${launcher[@]}" "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
# BUILD_TARGETS="a b": build only those targets (the fuzz build builds only its fuzz binaries).
targets=()
[ -z "${BUILD_TARGETS:-}" ] || targets=(--target ${BUILD_TARGETS})
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
