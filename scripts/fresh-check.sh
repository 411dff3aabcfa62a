#!/usr/bin/env bash
# Proves the README's "Quick start" on a brand-new Debian 12: builds a minimal bookworm
# chroot with debootstrap (from Debian's own repositories), copies this tree into it
# (tracked files plus new, not-ignored ones, as they are in the working tree) and runs
# the two README commands there: scripts/demo.sh, then scripts/test.sh.
#
# For people, not CI: it needs root (it re-runs itself with sudo), network access to
# deb.debian.org and the npm registry, about 4 GB of disk and, on 2 cores, 30+ minutes.
#
#   scripts/fresh-check.sh [options]
#     --dir DIR        build the chroot here (default: a new /var/tmp/ptfw-fresh.XXXXXX)
#     --reuse          DIR already holds a chroot made by this script: skip debootstrap
#     --keep           keep the chroot afterwards (default: removed when the check passes)
#     --mirror URL     Debian mirror (default: http://deb.debian.org/debian)
#     --command CMD    run CMD (bash, in the tree) instead of "scripts/demo.sh && scripts/test.sh"
#     --nice           run the commands with nice -n 19 (a shared machine)
#     --no-host-ca     do not copy the host's own CA certificates into the chroot
#
# The host's locally added CA certificates (/usr/local/share/ca-certificates) are copied in by
# default: behind a TLS-inspecting proxy a fresh machine needs them as well, or npm cannot reach its
# registry. That is the network's configuration, not the project's; --no-host-ca leaves them out.
#
# Mounts /proc, /sys, /dev (and /dev/pts) into the chroot and unmounts them on exit,
# also on failure or Ctrl-C. Exit status: that of the commands run in the chroot.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
args=("$@")
dir=""
reuse=0
keep=0
mirror=http://deb.debian.org/debian
command="scripts/demo.sh && scripts/test.sh"
nice_cmd=""
host_ca=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --reuse) reuse=1; shift ;;
    --keep) keep=1; shift ;;
    --mirror) mirror=$2; shift 2 ;;
    --command) command=$2; shift 2 ;;
    --nice) nice_cmd="nice -n 19"; shift ;;
    --no-host-ca) host_ca=0; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  exec sudo -- "$0" "${args[@]}"
fi
say() { echo "fresh-check: $*"; }

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
fi

if [ -z "$dir" ]; then
  dir=$(mktemp -d /var/tmp/ptfw-fresh.XXXXXX)
elif [ $reuse -eq 0 ] && [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  echo "fresh-check: $dir exists and is not empty (use --reuse for a chroot made by this script)" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

mounted=()
cleanup() {
  local status=$?
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  if [ $status -eq 0 ] && [ $keep -eq 0 ]; then
    say "removing $dir"
    rm -rf --one-file-system "$dir"
  else
    say "the chroot stays in $dir (rerun with --dir $dir --reuse, or rm -rf it)"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
if [ $reuse -eq 1 ] && [ -e "$dir/.fresh-check-bootstrapped" ]; then
  say "reusing the chroot in $dir"
else
  say "debootstrap --variant=minbase bookworm $dir $mirror"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" > "$dir.debootstrap.log" 2>&1 ||
    { tail -n 30 "$dir.debootstrap.log"; exit 1; }
  # What a fresh Debian 12 install has: updates and security updates, a hostname, no recommends policy.
  cat > "$dir/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  echo fresh-check > "$dir/etc/hostname"
  touch "$dir/.fresh-check-bootstrapped"
  say "chroot ready after $(($(date +%s) - start)) s: $(chroot "$dir" dpkg-query -W -f='.\n' | wc -l) packages"
fi
cp /etc/resolv.conf "$dir/etc/resolv.conf"
ca_env=()
if [ $host_ca -eq 1 ] && compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  say "copying the host's CA certificates: $(cd /usr/local/share/ca-certificates && echo *.crt)"
  mkdir -p "$dir/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
  # update-ca-certificates (run when setup.sh installs ca-certificates) adds them to the system
  # bundle; Node.js reads that bundle only through NODE_EXTRA_CA_CERTS.
  [ -x "$dir/usr/sbin/update-ca-certificates" ] && chroot "$dir" update-ca-certificates >/dev/null 2>&1
  ca_env=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
fi

say "copying the tree into $dir/src"
rm -rf "$dir/src"
mkdir -p "$dir/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf -) | tar -xf - -C "$dir/src"
# The scripts list tracked files with git (the formatting check): make the copy a repository.
git -C "$dir/src" init -q
git -C "$dir/src" add -A

for m in proc sys dev; do
  mkdir -p "$dir/$m"
done
mount -t proc proc "$dir/proc" && mounted+=("$dir/proc")
mount --rbind /sys "$dir/sys" && mount --make-rslave "$dir/sys" && mounted+=("$dir/sys")
mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev" && mounted+=("$dir/dev")
mkdir -p "$dir/tmp" && chmod 1777 "$dir/tmp"

say "running in the chroot: $command"
t0=$(date +%s)
set +e
chroot "$dir" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${ca_env[@]}" \
  $nice_cmd /bin/bash -c "cd /src && $command"
status=$?
set -e
say "exit status $status after $(($(date +%s) - t0)) s"
exit $status
