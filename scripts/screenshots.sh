#!/usr/bin/env bash
# screenshots.sh [--postgres] [OUT_DIR]: screenshots of every dashboard page (issue 20), so that a reviewer
# can look without running anything. Builds the fixture (build/ci, like scripts/build.sh ci), starts it (a
# real fwserver run and simulated terminals, tests/browser/dash_fleet.h), starts its rollout, waits for the
# abort rule to pause it, and saves the pages as an approver (and the paused rollout as a viewer) at
# 1280x800 and 390x844 with Debian's headless Chromium (tests/browser/screenshots.js). OUT_DIR defaults to
# docs/screenshots (listed in docs/screenshots/README.md). Needs scripts/setup.sh (chromium, npm ci).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fixture_args=()
if [ "${1:-}" = "--postgres" ]; then
  fixture_args=(--postgres)
  shift
fi
out=${1:-$root/docs/screenshots}
[ -x /usr/bin/chromium ] || { echo "screenshots: /usr/bin/chromium is missing (scripts/setup.sh)" >&2; exit 1; }
[ -d "$root/tests/browser/node_modules/playwright-core" ] ||
  { echo "screenshots: tests/browser/node_modules is missing (scripts/setup.sh runs npm ci)" >&2; exit 1; }
BUILD_TARGETS="dash-fleet fwserver fwsign" "$root/scripts/build.sh" ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFW_WERROR=ON >/dev/null
node "$root/tests/browser/screenshots.js" --fixture "$root/build/ci/tests/browser/dash-fleet" --out "$out" \
  -- "${fixture_args[@]}"
