#!/usr/bin/env bash
# A vendor's release pipeline with every private key in an HSM, runnable here end to end on SoftHSM2
# (docs/vendor-pipeline.md explains each step, the key custody and the CI job). One run = one release:
#   build → sign the image on the build HSM → add the target → targets signed offline, 2 of 3 holders,
#   each on their own token and their own copy (1 of 3 is refused) → snapshot + timestamp with the
#   online keys → publish to a static directory → the timer job that keeps the timestamp fresh.
# The first run also makes the tokens (SoftHSM2 stands in for the HSMs) and the repository, whose
# root v1 is itself signed 2 of 3 offline; later runs with the same --workdir reuse both.
#
#   scripts/vendor-pipeline.sh [--workdir DIR] [--keep] [--build-dir DIR] [--version V]
#                              [--security-counter N] [--hardware-id ID] [--payload FILE] [--quiet]
#   scripts/vendor-pipeline.sh --timer --workdir DIR [--warn-days N] [--quiet]   (what the timer runs)
# Without --workdir a temporary directory is used and removed at exit (kept with --keep).
# Exit status: 0 released / refreshed; 1 a step failed (the failing step is named), or (--timer) root
# or targets expire within --warn-days (default 14) and need the holders; 2 usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { sed -n '10,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
workdir="" keep=0 build_dir="" version=1.0.0 counter=1 hwid=POS-X1 payload="" quiet=0 mode=release warn_days=14
while [ $# -gt 0 ]; do
  case "$1" in
    --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
    --keep) keep=1; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --security-counter) counter=${2:?--security-counter needs a value}; shift 2 ;;
    --hardware-id) hwid=${2:?--hardware-id needs a value}; shift 2 ;;
    --payload) payload=${2:?--payload needs a file}; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --timer) mode=timer; shift ;;
    --warn-days) warn_days=${2:?--warn-days needs a number}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "vendor-pipeline: unknown argument $1" >&2; usage ;;
  esac
done
[[ "$warn_days" =~ ^[0-9]{1,4}$ ]] || { echo "vendor-pipeline: --warn-days: a number of days" >&2; exit 2; }
[ "$mode" = release ] || [ -n "$workdir" ] || { echo "vendor-pipeline: --timer needs --workdir" >&2; exit 2; }

step_name="setup"
step() { step_name=$*; [ "$quiet" = 1 ] || printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { [ "$quiet" = 1 ] || printf '   %s\n' "$*"; }
die() { echo "vendor-pipeline: step \"$step_name\": $*" >&2; exit 1; }
tmpwork=""
on_exit() {
  local rc=$?
  [ $rc = 0 ] || echo "vendor-pipeline: FAILED in step \"$step_name\" (exit $rc)" >&2
  [ -z "$tmpwork" ] || rm -rf "$tmpwork"
}
trap on_exit EXIT

# ---------------------------------------------------------------------------------------------
step "0. Tools and work directory"
if [ -n "$build_dir" ]; then fwsign=$build_dir/signing/fwsign
elif command -v fwsign > /dev/null; then fwsign=$(command -v fwsign)
else
  fwsign=""
  for d in build/ci build/release build/default; do [ -x "$root/$d/signing/fwsign" ] && { fwsign=$root/$d/signing/fwsign; break; }; done
fi
[ -n "$fwsign" ] && [ -x "$fwsign" ] || die "fwsign not found (give --build-dir, or build first: scripts/build.sh)"
fwsign=$(realpath "$fwsign")
[ -z "$payload" ] || payload=$(realpath "$payload")
module=/usr/lib/softhsm/libsofthsm2.so
for t in softhsm2-util pkcs11-tool openssl; do command -v $t > /dev/null || die "$t missing: run scripts/setup.sh"; done
[ -f "$module" ] || die "$module missing: run scripts/setup.sh (softhsm2)"
if [ -z "$workdir" ]; then
  workdir=$(mktemp -d /tmp/vendor-pipeline.XXXXXX)
  if [ "$keep" = 1 ]; then echo "vendor-pipeline: work directory kept: $workdir" >&2; else tmpwork=$workdir; fi
fi
mkdir -p "$workdir"
W=$(cd "$workdir" && pwd)
# The work directory ends up in pin-source=file: URIs; keep it to characters a URI carries as is.
[[ "$W" =~ ^[A-Za-z0-9._/-]+$ ]] || { echo "vendor-pipeline: --workdir: use only A-Z a-z 0-9 . _ / - ($W)" >&2; exit 2; }
cd "$W"
mkdir -p hsm/tokens pins keys build ceremony www
chmod 700 pins
# SoftHSM2 reads its token directory from SOFTHSM2_CONF: a private one, never the system's.
printf 'directories.tokendir = %s/hsm/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$W" > hsm/softhsm2.conf
export SOFTHSM2_CONF=$W/hsm/softhsm2.conf PKCS11_MODULE=$module
unset FW_PKCS11_PIN  # every key below names its own PIN file (pin-source)
say "fwsign: $fwsign"
say "work directory: $W (tokens in hsm/, PIN files in pins/, signing workspace repo/, served www/)"

# A key in a token, as fwsign takes it: the PIN comes from the holder's own file, never argv.
uri() { echo "pkcs11:token=$1;object=$2?pin-source=file:$W/pins/$1.pin"; }
image_key=$(uri build-signing image) snapshot_key=$(uri online snapshot) timestamp_key=$(uri online timestamp)

# Publish: targets first, then versioned metadata, then the unversioned files, timestamp.json last —
# each file copied under a temporary name and renamed, so a client mid-sync never sees a half file
# or a timestamp naming a snapshot that is not there yet.
publish_static() {
  mkdir -p www/metadata www/targets
  local f rel
  for f in $(cd repo && find targets -type f | sort) $(cd repo/metadata && ls [0-9]*.json | sed 's/^/metadata\//'); do
    [ -f "www/$f" ] && cmp -s "repo/$f" "www/$f" && continue
    mkdir -p "www/$(dirname "$f")" && cp "repo/$f" "www/$f.tmp" && mv "www/$f.tmp" "www/$f"
  done
  for rel in root.json targets.json snapshot.json timestamp.json; do
    [ -f "repo/metadata/$rel" ] || continue
    cp "repo/metadata/$rel" "www/metadata/.$rel.tmp" && mv "www/metadata/.$rel.tmp" "www/metadata/$rel"
  done
}

release() {

  # ---------------------------------------------------------------------------------------------
  step "1. HSM tokens and keys (made once; a real vendor's HSMs already hold them)"
  # token          key(s)                       who uses it
  # build-signing  image (Ed25519)              the release job: signs firmware images
  # online         snapshot, timestamp          the publishing job and the timestamp timer
  # holder-a/b/c   root, targets                three people, offline; any two sign (B's keys are P-256)
  token_exists() { softhsm2-util --show-slots 2> /dev/null | grep -Eq "^ +Label: +$1 *$"; }
  new_secret() { (umask 077 && od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > "$1" && echo >> "$1"); }
  make_token() {  # token label; SoftHSM's own tools take PINs on argv — setup only, never for signing
    local t=$1
    if ! token_exists "$t"; then
      [ -f "pins/$t.pin" ] || new_secret "pins/$t.pin"
      new_secret "pins/$t.so-pin"
      softhsm2-util --init-token --free --label "$t" --pin "$(head -1 "pins/$t.pin")" \
        --so-pin "$(head -1 "pins/$t.so-pin")" > /dev/null || die "cannot initialise token $t"
      say "token $t initialised (user PIN in pins/$t.pin, mode 0600)"
    fi
  }
  make_key() {  # token label id type
    local t=$1 label=$2 id=$3 type=$4
    # Public objects are listed without a login: a wrong PIN must not look like a missing key.
    if ! pkcs11-tool --module "$module" --token-label "$t" --list-objects --type pubkey 2> /dev/null \
      | grep -Eq "^ +label: +$label$"; then
      pkcs11-tool --module "$module" --token-label "$t" --login --pin "$(head -1 "pins/$t.pin")" \
        --keypairgen --key-type "$type" --label "$label" --id "$id" > /dev/null 2>&1 \
        || die "cannot generate $label on token $t"
      say "key $label generated on token $t ($type)"
    fi
    "$fwsign" key show "$(uri "$t" "$label")" --pub-out "keys/$t.$label.pub.pem" > /dev/null \
      || die "cannot read key $label on token $t"
  }
  make_token build-signing && make_key build-signing image 01 EC:edwards25519
  make_token online && make_key online snapshot 01 EC:edwards25519 && make_key online timestamp 02 EC:edwards25519
  for h in a b c; do
    type=EC:edwards25519; [ $h = b ] && type=EC:prime256v1
    make_token holder-$h && make_key holder-$h root 01 $type && make_key holder-$h targets 02 $type
  done
  say "public keys exported to keys/: $(cd keys && echo *.pub.pem)"

  # sign_copies ROLE_FILE HOLDER…: each holder signs their own copy (their machine, their token), after
  # reading the summary; the published metadata travels with it (a copy, as on a USB stick).
  sign_copies() {
    local file=$1 role=$2; shift 2
    rm -rf usb-stick && mkdir usb-stick && cp -r repo/metadata usb-stick/
    for h in "$@"; do
      cp "$file" "${file%.json}.holder-$h.json"
      local repo_opt=(--repo usb-stick); [ -f usb-stick/metadata/root.json ] || repo_opt=()
      "$fwsign" repo sign-role "${file%.json}.holder-$h.json" --key "$(uri holder-$h "$role")" "${repo_opt[@]}" --yes \
        > "${file%.json}.holder-$h.log" || { cat "${file%.json}.holder-$h.log"; die "holder $h could not sign $file"; }
      say "holder $h signed their copy $(basename "${file%.json}").holder-$h.json on token holder-$h"
    done
  }
  # merge_below_threshold FILE: the merge must refuse (exit 5) and publish nothing.
  merge_below_threshold() {
    local rc=0 out
    out=$("$fwsign" repo merge repo "$@" 2>&1) || rc=$?
    [ $rc = 5 ] || die "merge of $* below threshold: expected exit 5 (refused), got $rc: $out"
    say "refused as it must be: ${out##*: }"
  }

  # ---------------------------------------------------------------------------------------------
  if [ ! -f repo/metadata/root.json ]; then
    step "2. Repository (once): root v1 signed offline by 2 of the 3 holders"
    rm -rf repo ceremony/root-1*.json
    local keys=() h
    for h in a b c; do keys+=(--root-key "$(uri holder-$h root)" --targets-key "$(uri holder-$h targets)"); done
    "$fwsign" repo init-offline repo "${keys[@]}" --root-threshold 2 --targets-threshold 2 \
      --snapshot-key "$snapshot_key" --timestamp-key "$timestamp_key" -o ceremony/root-1.json \
      > ceremony/root-1.log || { cat ceremony/root-1.log; die "repo init-offline failed"; }
    say "staged root v1, $(grep -m1 -io 'fingerprint.*' ceremony/root-1.log || true)"
    sign_copies ceremony/root-1.json root a c
    "$fwsign" repo merge repo ceremony/root-1.holder-a.json ceremony/root-1.holder-c.json > ceremony/root-1.merge.log \
      || { cat ceremony/root-1.merge.log; die "root v1 merge failed"; }
    say "published: $(grep -m1 needed ceremony/root-1.merge.log | sed 's/^ *//')"
  else
    step "2. Repository: exists, reused (newest root: $(ls repo/metadata | grep -E '^[0-9]+\.root\.json$' | sort -n | tail -1))"
  fi

  # ---------------------------------------------------------------------------------------------
  step "3. Build firmware $version (a payload file stands in for the firmware build)"
  if [ -n "$payload" ]; then cp "$payload" "build/payload-$version.bin"
  else { echo "firmware $version for $hwid"; head -c 262144 /dev/urandom; } > "build/payload-$version.bin"; fi
  say "build/payload-$version.bin: $(stat -c %s "build/payload-$version.bin") bytes"

  step "4. Sign the image with the HSM key ($image_key)"
  "$fwsign" image sign --key "$image_key" --version "$version" --security-counter "$counter" --hardware-id "$hwid" \
    "build/payload-$version.bin" -o "build/fw-$version.img" > /dev/null
  "$fwsign" image verify --pubkey keys/build-signing.image.pub.pem "build/fw-$version.img" > /dev/null \
    || die "the signed image does not verify"
  say "build/fw-$version.img verified by fwsign, and by plain openssl: \
  $("$root"/manifests/tools/openssl-verify-image.sh "build/fw-$version.img" keys/build-signing.image.pub.pem)"

  step "5. Add the target to the repository (staged, not yet signed)"
  "$fwsign" repo add-target repo --image "build/fw-$version.img" > /dev/null
  say "staged fw-$version.img (length, sha256, version, security counter, hardware id)"

  # ---------------------------------------------------------------------------------------------
  step "6. Targets signed offline: 2 of 3 holders, each on their own token and their own copy"
  run=$(date -u +%Y%m%dT%H%M%S)-$$
  staged=ceremony/targets-$run.json
  "$fwsign" repo stage repo targets -o "$staged" > "${staged%.json}.log" || { cat "${staged%.json}.log"; die "stage failed"; }
  say "staged targets, $(grep -m1 -io 'fingerprint.*' "${staged%.json}.log" || true) (holders compare it by phone)"
  sign_copies "$staged" targets a
  merge_below_threshold "${staged%.json}.holder-a.json"
  sign_copies "$staged" targets c
  "$fwsign" repo merge repo "${staged%.json}.holder-a.json" "${staged%.json}.holder-c.json" > "${staged%.json}.merge.log" \
    || { cat "${staged%.json}.merge.log"; die "targets merge failed"; }
  say "published: $(grep -m1 needed "${staged%.json}.merge.log" | sed 's/^ *//') (holder b was not needed)"

  step "7. Snapshot and timestamp with the online keys (token \"online\")"
  "$fwsign" repo publish repo --key "$snapshot_key" --key "$timestamp_key" > /dev/null
  say "snapshot and timestamp signed"

  step "8. Publish to the static directory www/ (serve it with any web server)"
  publish_static
  say "www/metadata: $(cd www/metadata && ls | tr '\n' ' ')"
  say "www/targets:  $(cd www/targets && find . -type f | sed 's|^\./||' | tr '\n' ' ')"

}

timer_job() {
  step "9. The timer job: re-sign what expires soon with the online keys, then publish"
  # What a systemd timer or cron runs every 6 hours (docs/vendor-pipeline.md). The timestamp lives
  # 1 day, so a whole-day window re-signs it on every run. Root and targets cannot be re-signed with
  # online keys: if one of them is inside the window the re-signing fails (exit 2, nothing written).
  # The warning below comes weeks earlier, after the refresh, so the timestamp never lapses over it.
  [ -f repo/metadata/root.json ] || die "no repository in $W/repo: run a release first"
  local out days expires r late=""
  if [ "$mode" = release ]; then
    out=$("$fwsign" repo resign-expiring repo --within-days 0 --key "$snapshot_key" --key "$timestamp_key")
    say "window 0 days: $out"
  fi
  out=$("$fwsign" repo resign-expiring repo --within-days 1 --key "$snapshot_key" --key "$timestamp_key") \
    || die "re-signing failed (root or targets expiring? the holders must stage and sign)"
  say "window 1 day:  $out"
  publish_static
  say "timestamp.json published: $(grep -o '"version":[0-9]*' www/metadata/timestamp.json | tail -1)"
  for r in root targets; do
    expires=$("$fwsign" repo show-role "repo/metadata/$r.json" --json | sed -n 's/^ *"expires": *"\([^"]*\)".*/\1/p')
    [ -n "$expires" ] || die "cannot read the expiry of repo/metadata/$r.json"
    days=$((($(date -d "$expires" +%s) - $(date +%s)) / 86400))
    say "$r (offline) expires $expires, in $days days"
    [ "$days" -ge "$warn_days" ] || late="$late $r"
  done
  [ -z "$late" ] || die "offline role(s)$late expire within $warn_days days: the holders must stage, sign and merge"
}

if [ "$mode" = timer ]; then timer_job; exit 0; fi
release
timer_job

step "10. Check what was published"
target=$(cd www/targets && find . -name "*.fw-$version.img" | sed 's|^\./||' | head -1)
[ -n "$target" ] || die "fw-$version.img is not in www/targets"
"$fwsign" image verify --pubkey keys/build-signing.image.pub.pem --hardware-id "$hwid" "www/targets/$target" > /dev/null \
  || die "published image does not verify"
say "www/targets/$target verifies with the build HSM's public key"
say "released firmware $version; terminals trust www/metadata/1.root.json (fwupdate init --tuf-root)"
exit 0
