#!/usr/bin/env bash
# build.sh NAME [cmake options...]: configures (once) and builds build/NAME with Ninja.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1; shift
dir="$root/build/$name"
mkdir -p "$root/build"
cmake -S "$root" -B "$dir" -G Ninja "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)"
