#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs — only those missing — so it
# is idempotent and quick on a machine that has them. Used by demo.sh and test.sh.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  openssl libssl-dev libcurl4-openssl-dev libarchive-dev libsqlite3-dev sqlite3
  libboost-program-options-dev libboost-dev nlohmann-json3-dev libspdlog-dev
  libgtest-dev libgmock-dev
  faketime clang clang-format libclang-rt-14-dev time
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  ca-certificates mount util-linux fdisk e2fsprogs
  libp11-kit-dev softhsm2 opensc gnutls-bin
  u-boot-qemu u-boot-tools libubootenv-tool mtools dosfstools binutils-aarch64-linux-gnu
  nginx-light slowhttptest curl ccache jq
  tzdata
  postgresql-15 postgresql-client-15 libpq-dev
  chromium fonts-liberation fonts-dejavu-core
)
# What each group is for (a fresh Debian 12 has none of it; scripts/fresh-check.sh proves the list):
#   build + libraries; sqlite3 (CLI tests inspect history.db); faketime (expiry tests, the vendor pipeline's
#   timer 80 days on); clang + libclang-rt (fuzzing); time (benches); gcc-arm-none-eabi +
#   libnewlib-arm-none-eabi + qemu-system-arm (the bootloader core's checks built for a Cortex-M4 and run on QEMU's mps2-an386: linked with arm-none-eabi-gcc, so
#   libstdc++-arm-none-eabi-newlib is not needed);
#   ca-certificates (npm over HTTPS); mount (losetup), util-linux, fdisk (sfdisk), e2fsprogs (mkfs.ext4)
#   for the block-device tests on loop devices;
#   libp11-kit-dev (its pkcs11.h, with CKM_EDDSA, for the PKCS#11 signer); softhsm2 (the test token),
#   opensc (pkcs11-tool: key generation on it; also scripts/vendor-pipeline.sh), gnutls-bin (p11tool: imports
#   PEM keys, Ed25519 too) for the PKCS#11 tests and bench (docs/signing-hsm.md);
#   u-boot-qemu (stock U-Boot for qemu-system-aarch64, from qemu-system-arm), u-boot-tools (mkimage, mkenvimage),
#   libubootenv-tool (fw_printenv/fw_setenv), mtools + dosfstools + fdisk (the U-Boot disk image without loop
#   mounts), binutils-aarch64-linux-gnu (the tiny arm64 payloads): the U-Boot A/B test (bootloader/uboot/);
#   nginx-light (the baseline bench/server_bench.sh measures fwserver against; started by the bench itself on
#   loopback, never as a service), slowhttptest (the slowloris test), curl (the fleet demo and tests' client),
#   jq (the fleet demo's JSON); ccache (scripts/build.sh: rebuilds of an unchanged tree take seconds);
#   tzdata (zoneinfo: the agent's maintenance windows in the terminal's time zone, docs/agent.md "Time");
#   postgresql-15 (initdb/pg_ctl: tests start throwaway clusters themselves, scripts/pg-cluster.sh; the package's
#   own cluster is never started: policy-rc.d below), postgresql-client-15 (psql), libpq-dev (the PostgreSQL store);
#   chromium (the dashboard's browser tests and scripts/screenshots.sh drive Debian's headless Chromium through
#   playwright-core, tests/browser), fonts-liberation + fonts-dejavu-core (text in its pages and screenshots:
#   fonts-liberation is only a Recommends of chromium-common, which --no-install-recommends leaves out).

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js + npm for the TUF interop tests, unless a node/npm is already present (e.g. a nodesource build).
command -v npm >/dev/null || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  # No package may start a system service (nginx would): invoke-rc.d asks policy-rc.d first.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null && $sudo chmod 755 $policy && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ $own_policy -eq 0 ] || $sudo rm -f $policy
fi

# tuf-js / @tufjs/models for the TUF interop tests (versions pinned by package-lock.json).
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$root/tests/interop/node_modules" ] && command -v npm >/dev/null; then
  echo "setup: npm ci in tests/interop"
  (cd "$root/tests/interop" && npm ci --no-audit --no-fund --loglevel=error)
fi
# playwright-core for the dashboard's browser tests (pinned by package-lock.json). It drives Debian's
# /usr/bin/chromium: never let it download a browser of its own.
if [ ! -d "$root/tests/browser/node_modules" ] && command -v npm >/dev/null; then
  echo "setup: npm ci in tests/browser"
  (cd "$root/tests/browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
