#!/usr/bin/env bash
# The demo: installs what is missing, builds (Release), and runs a simulated payment
# terminal through a good update, a bad one that rolls back, with every transaction
# record intact (scripts/demo-terminal.sh explains each step as it goes).
#   scripts/demo.sh [--hsm | --uboot | --fleet]
#     --hsm    the vendor's keys live in SoftHSM2 tokens (scripts/vendor-pipeline.sh)
#     --uboot  the same tools driving a real U-Boot in QEMU (scripts/demo-uboot.sh)
#     --fleet  the update server: two terminals enrolled, checking in, one receiving an action;
#              then two terminals running `fwupdate agent`: one updates itself end to end, one's
#              firmware fails its health check and reverts (scripts/demo-fleet.sh)
set -euo pipefail
variant=terminal
extra=()
case "${1:-}" in
  "") ;;
  --hsm) extra=(--hsm) ;;
  --uboot) variant=uboot ;;
  --fleet) variant=fleet ;;
  *) echo "usage: scripts/demo.sh [--hsm | --uboot | --fleet]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
mkdir -p build
echo "building (Release) — the first build takes a few minutes…"
scripts/build.sh release -DCMAKE_BUILD_TYPE=Release -DFW_BUILD_TESTS=OFF > build/release.build.log 2>&1 \
  || { cat build/release.build.log; exit 1; }
exec scripts/demo-$variant.sh build/release "${extra[@]}"
