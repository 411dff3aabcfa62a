#!/usr/bin/env bash
# The fleet demo: fwserver in a temporary data directory on 127.0.0.1, two simulated
# terminals (openssl for their P-256 keys and CSRs, curl for the device API,
# docs/fleet-protocol.md) enrolled with single-use tokens and checking in over mutual TLS,
# one of them receiving an install action and reporting its events until the server
# counts it a success. Then the operator side (issue 16): a release published to the server's
# TUF repository, a bootstrap admin token, and fwfleet on the operator port listing the terminals,
# pushing one action (received at the next check-in), a viewer refused, the audit log read and
# verified. Then the terminal's agent (issue 17): two simulated terminals running `fwupdate agent`, one
# updating itself end to end (check-in, journal backup, streaming install, reset, confirm: the server
# shows succeeded), one whose new firmware fails its health check and reverts (reported as
# health_failed). Then a small rollout (issue 18): six terminals with the agent, release 1.3.0 rolled out
# to a canary and then the rest, then release 1.4.0 whose health check fails: the canary reverts, the
# rollout pauses itself and the other five are never assigned. Nothing outside the temporary
# directory is touched.
#   scripts/demo-fleet.sh [BUILD_DIR]      default build/release (scripts/demo.sh --fleet builds it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" 2> /dev/null && pwd) || build=${1:-$root/build/release}
fwserver=$build/server-stub/fwserver
fwfleet=$build/server-stub/fleetcli/fwfleet
fwsign=$build/signing/fwsign
fwupdate=$build/updater/fwupdate
fwboot=$build/bootloader/fwboot
for bin in "$fwserver" "$fwfleet" "$fwsign" "$fwupdate" "$fwboot"; do
  [ -x "$bin" ] || { echo "missing $bin; build first (scripts/demo.sh --fleet does)" >&2; exit 2; }
done
for tool in curl jq openssl; do
  command -v $tool > /dev/null || { echo "$tool missing: run scripts/setup.sh" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/demo-fleet.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
data=$work/server
port=$("$build/bench/server_bench" port 2> /dev/null || echo $((20000 + RANDOM % 20000)))
oport=$("$build/bench/server_bench" port 2> /dev/null || echo $((port + 1)))
[ "$oport" != "$port" ] || oport=$((port + 1))
url=https://localhost:$port

step "1. The operator makes the data directory and the fleet CA (root + issuing CA, P-256)"
"$fwserver" init --data "$data" > /dev/null
"$fwserver" ca init --data "$data" > /dev/null
say "$(openssl x509 -in "$data/ca/root.pem" -noout -subject) / $(openssl x509 -in "$data/ca/issuing.pem" -noout -subject)"
say "the issuing key is read only by the issuer process: $(stat -c '%A' "$data/issuer/issuing.key") $data/issuer/issuing.key"

step "2. The issuer process and the server (device port 127.0.0.1:$port, operator port 127.0.0.1:$oport)"
"$fwserver" issuer --data "$data" > "$work/issuer.log" 2>&1 &
pids+=($!)
"$fwserver" run --data "$data" --port "$port" --operator-port "$oport" > "$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break; sleep 0.1; done
(exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null || { cat "$work/server.log" >&2; exit 1; }
say "up; terminals pin the fleet CA ($data/ca/root.pem)"

# api TERMINAL PATH [BODY_FILE] [curl options...]: one device API call with the terminal's key.
api() {
  local t=$1 path=$2 body=$3
  shift 3
  local auth=()
  [ -f "$work/$t/cert.pem" ] && auth=(--cert "$work/$t/cert.pem" --key "$work/$t/key.pem")
  curl -sS --cacert "$data/ca/root.pem" "${auth[@]}" -H 'Content-Type: application/json' \
    --data-binary "@$body" -o "$work/$t/reply.json" -D "$work/$t/headers" -w '%{http_code}' "$@" "$url$path"
}

step "3. Two terminals enrol: the operator makes a single-use token per serial, the terminal a key and a CSR"
for t in POS-0001 POS-0002; do
  mkdir -p "$work/$t"
  token=$("$fwserver" enrol-token create --data "$data" --serial "$t" --json | jq -r .token)
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$t/key.pem" 2> /dev/null
  openssl req -new -key "$work/$t/key.pem" -subj "/CN=$t" -out "$work/$t/csr.pem"
  jq -n --arg token "$token" --arg serial "$t" --rawfile csr "$work/$t/csr.pem" \
    '{token: $token, serial: $serial, csr: $csr}' > "$work/$t/enrol.json"
  code=$(api "$t" /v1/enrol "$work/$t/enrol.json")
  [ "$code" = 200 ] || { echo "enrolment of $t: HTTP $code $(cat "$work/$t/reply.json")" >&2; exit 1; }
  jq -r .certificate "$work/$t/reply.json" > "$work/$t/cert.pem.new"
  mv "$work/$t/cert.pem.new" "$work/$t/cert.pem"
  say "$t: HTTP 200, $(openssl x509 -in "$work/$t/cert.pem" -noout -subject -ext extendedKeyUsage | tr '\n' ' ')"
done
mkdir -p "$work/replay"
code=$(api replay /v1/enrol "$work/POS-0001/enrol.json")
say "the same token once more: HTTP $code $(jq -c . "$work/replay/reply.json")"

# checkin TERMINAL VERSION STATE: the manifest of a terminal running VERSION.
checkin() {
  local t=$1 version=$2 state=$3
  jq -n --arg v "$version" --arg s "$state" '{hardware_id: "POS-X1", time_zone: "Europe/Berlin",
    agent_version: "0.1.0", running: {slot: "A", version: $v, state: $s},
    other: {slot: "B", version: "1.0.0", state: "bootable"}, security_counter: 1, root_version: 1, outbox: 0,
    free_bytes: 268435456}' > "$work/$t/manifest.json"
  local etag=()
  [ -f "$work/$t/etag" ] && etag=(-H "If-None-Match: $(cat "$work/$t/etag")")
  local code
  code=$(api "$t" /v1/checkin "$work/$t/manifest.json" "${etag[@]}")
  grep -i '^etag:' "$work/$t/headers" | cut -d' ' -f2 | tr -d '\r' > "$work/$t/etag.new" || true
  [ -s "$work/$t/etag.new" ] && mv "$work/$t/etag.new" "$work/$t/etag"
  if [ "$code" = 304 ]; then say "$t check-in: HTTP 304 (nothing changed)"; else
    say "$t check-in: HTTP $code $(jq -c '{device_state, actions: [.actions[] | {id, kind, type, target, window, state}], cancels, poll_seconds}' "$work/$t/reply.json" 2> /dev/null || cat "$work/$t/reply.json")"
  fi
}

step "4. Both check in with their certificates (first contact binds each serial to its key)"
checkin POS-0001 1.0.0 confirmed
checkin POS-0002 1.0.0 confirmed
checkin POS-0002 1.0.0 confirmed

step "5. The operator gives POS-0001 an install action (soft, in its 02:00-04:00 local window)"
"$fwserver" action create --data "$data" --device POS-0001 --kind install --target fw-1.1.0.img --version 1.1.0 \
  --type soft --window 02:00-04:00 --json | jq -c . | sed 's/^/   /'

step "6. Next check-ins: POS-0001 receives the action; POS-0002 has nothing new"
checkin POS-0001 1.0.0 confirmed
checkin POS-0002 1.0.0 confirmed
action=$(jq -r '.actions[0].id' "$work/POS-0001/reply.json")

step "7. POS-0001 reports its progress (events are idempotent: a replay changes nothing)"
seq=0
for state in accepted downloading downloaded backup_done installing trial_set rebooting; do
  seq=$((seq + 1))
  jq -n --argjson seq $seq --arg s $state '{attempt: 1, seq: $seq, state: $s}' > "$work/POS-0001/event.json"
  code=$(api POS-0001 "/v1/actions/$action/events" "$work/POS-0001/event.json")
  say "event $seq $state: HTTP $code $(jq -c '{result, state}' "$work/POS-0001/reply.json")"
done
code=$(api POS-0001 "/v1/actions/$action/events" "$work/POS-0001/event.json")
say "event $seq again (replay): HTTP $code $(jq -c '{result, state}' "$work/POS-0001/reply.json")"
say "trial_set is not success: the terminal must boot 1.1.0 and confirm it"
seq=$((seq + 1))
jq -n --argjson seq $seq '{attempt: 1, seq: $seq, state: "confirmed"}' > "$work/POS-0001/event.json"
code=$(api POS-0001 "/v1/actions/$action/events" "$work/POS-0001/event.json")
say "event $seq confirmed: HTTP $code $(jq -c '{result, state}' "$work/POS-0001/reply.json")"

step "8. POS-0001 checks in running 1.1.0, confirmed: now the action succeeded"
checkin POS-0001 1.1.0 confirmed
"$fwserver" action list --data "$data" | sed 's/^/   /'
"$fwserver" device list --data "$data" | sed 's/^/   /'
step "9. The vendor publishes release 1.2.0 into the server's TUF repository (fwsign: signed image, TUF roles)"
for k in root targets snapshot timestamp image; do "$fwsign" key generate --out "$work/$k.key" > /dev/null; done
"$fwsign" repo init "$data/repo" --root-key "$work/root.key" --targets-key "$work/targets.key" \
  --snapshot-key "$work/snapshot.key" --timestamp-key "$work/timestamp.key" > /dev/null
head -c 40000 /dev/urandom > "$work/payload-1.2.0"
"$fwsign" image sign --key "$work/image.key" --version 1.2.0 --security-counter 2 --hardware-id POS-X1 \
  "$work/payload-1.2.0" -o "$work/fw-1.2.0.img" > /dev/null
"$fwsign" repo add-target "$data/repo" --image "$work/fw-1.2.0.img" > /dev/null
"$fwsign" repo publish "$data/repo" --key "$work/targets.key" --key "$work/snapshot.key" \
  --key "$work/timestamp.key" > /dev/null
say "published: $(ls "$data/repo/targets" | head -1)"

step "10. The operator: a bootstrap admin token (offline, shown once, only its hash stored), then fwfleet"
"$fwserver" token create --data "$data" --name alice --role admin > "$work/alice.token" 2> /dev/null
chmod 600 "$work/alice.token"
export FWFLEET_SERVER=https://localhost:$oport FWFLEET_CA=$data/ca/root.pem FWFLEET_TOKEN_FILE=$work/alice.token
say "fwfleet whoami: $("$fwfleet" whoami --json | jq -c '{name, role, journal_read}')"
"$fwfleet" label add POS-0002 shop-7 | sed 's/^/   /'
say "fwfleet devices:"
"$fwfleet" devices | sed 's/^/     /'
say "fwfleet devices --label shop-7 --json | jq: $("$fwfleet" devices --label shop-7 --json | jq -c '[.items[].serial]')"
say "fwfleet targets:"
"$fwfleet" targets | sed 's/^/     /'

step "11. The operator pushes one action: install 1.2.0 on POS-0002 (plan checks: hardware, counter, version)"
target=$("$fwfleet" targets --json | jq -r '.items[] | select(.firmware.version == "1.2.0") | .path')
"$fwfleet" action create POS-0002 --kind install --target "$target" --type soft --window 02:00-04:00 | sed 's/^/   /'
checkin POS-0002 1.0.0 confirmed
set +e
"$fwfleet" action create POS-0002 --kind install --target "$target" > /dev/null 2> "$work/refused.txt"
code=$?
set -e
say "the same again: exit $code, $(cat "$work/refused.txt")"

step "12. A viewer may look but not act; the audit log, read and verified"
"$fwfleet" tokens create --name bob --role viewer > "$work/bob.token" 2> /dev/null
chmod 600 "$work/bob.token"
set +e
FWFLEET_TOKEN_FILE=$work/bob.token "$fwfleet" action create POS-0001 --kind journal_backup > /dev/null 2> "$work/refused.txt"
code=$?
set -e
say "bob (viewer) creating an action: exit $code, $(cat "$work/refused.txt")"
say "fwfleet audit list --all:"
"$fwfleet" audit list --all | sed 's/^/     /'
say "fwfleet audit verify: $("$fwfleet" audit verify)"

step "13. Two terminals with the agent: factory firmware 1.0.0, a journal, enrolled by 'fwupdate agent enrol'"
head -c 40000 /dev/urandom > "$work/payload-1.0.0"
"$fwsign" image sign --key "$work/image.key" --version 1.0.0 --security-counter 0 --hardware-id POS-X1 \
  "$work/payload-1.0.0" -o "$work/fw-1.0.0.img" > /dev/null
for t in POS-0101 POS-0102; do
  dev=$work/$t/layout.json
  mkdir -p "$work/$t"
  cat > "$dev" << 'JSON'
{"version": 1,
 "flash": {"erase_block_size": 4096, "write_alignment": 8, "erased_value": 255},
 "regions": {
   "boot_control_0": {"path": "control.bin", "offset": 0,    "size": 4096},
   "boot_control_1": {"path": "control.bin", "offset": 4096, "size": 4096},
   "bank_a":         {"path": "banks.bin",   "offset": 0,       "size": 1048576},
   "bank_b":         {"path": "banks.bin",   "offset": 1048576, "size": 1048576},
   "trust_store":    {"path": "trust.bin",   "offset": 0,    "size": 8192},
   "data":           {"path": "data.bin",    "offset": 0,    "size": 4096}},
 "data_dir": "data"}
JSON
  "$fwboot" provision --device "$dev" --image "$work/fw-1.0.0.img" --pubkey "$work/image.key.pub.pem" \
    --hardware-id POS-X1 > /dev/null
  "$fwupdate" init --device "$dev" --tuf-root "$data/repo/metadata/1.root.json" > /dev/null
  "$fwupdate" journal simulate --journal "$work/$t/data/journal.db" --create --count 500 > /dev/null
  "$fwboot" boot --device "$dev" > /dev/null
  token=$("$fwserver" enrol-token create --data "$data" --serial "$t" --json | jq -r .token)
  say "$t: $("$fwupdate" agent enrol --server "$url" --serial "$t" --token "$token" --cert "$work/$t/agent-cert.pem" \
    --key "$work/$t/agent-key.pem" --ca "$data/ca/chain.pem")"
  "$fwserver" action create --data "$data" --device "$t" --kind install --target "$target" --version 1.2.0 \
    --type forced --json | jq -c '.action | {id, device, kind, target, version, type, state}' | sed 's/^/   /'
done

# agent TERMINAL HEALTH_CMD: `fwupdate agent run --once` until the server closes the action (at most 6 runs).
agent() {
  local t=$1 health=$2 dev=$work/$1/layout.json state=""
  for run in 1 2 3 4 5 6; do
    say "-- $t: fwupdate agent run --once (run $run)"
    "$fwupdate" agent run --once --quiet --device "$dev" --server "$url" --cert "$work/$t/agent-cert.pem" \
      --key "$work/$t/agent-key.pem" --ca "$data/ca/chain.pem" --time-zone Europe/Berlin \
      --reboot-cmd "$fwboot boot --device $dev > /dev/null" --health-cmd "$health" | sed 's/^/     /'
    state=$("$fwserver" action list --data "$data" --device "$t" --json | jq -r '.actions[-1].state')
    case "$state" in succeeded | failed | rejected | canceled) break ;; esac
  done
  say "$t: the server says: $("$fwserver" action list --data "$data" --device "$t" --json \
    | jq -c '.actions[-1] | {id, state, failure_class, detail}')"
}

step "14. POS-0101 updates itself: check-in, TUF pre-flight, journal backup, streaming install, reset, confirm"
agent POS-0101 true
"$fwupdate" status --device "$work/POS-0101/layout.json" | sed 's/^/   /'
say "journal backed up on the server: $("$fwserver" device show --data "$data" --serial POS-0101 --json \
  | jq -c '[.device.segments[] | {first_seq, last_seq}]')"
say "journal on the terminal: $("$fwupdate" journal verify "$work/POS-0101/data/journal.db" --json | jq -c '{ok, record_count}')"

step "15. POS-0102: the same release, but its health check fails on the new firmware: reverted, reported"
agent POS-0102 false
"$fwupdate" status --device "$work/POS-0102/layout.json" | sed 's/^/   /'
say "the records survived the revert: $("$fwupdate" journal verify "$work/POS-0102/data/journal.db" --json \
  | jq -c '{ok, record_count}')"

step "16. A small fleet for a rollout: six more terminals with the agent, factory firmware 1.2.0, labelled rollout-demo"
# Releases 1.3.0 (good) and 1.4.0 (its health check fails on the terminals), signed and published.
for v in 1.3.0 1.4.0; do
  head -c 40000 /dev/urandom > "$work/payload-$v"
  "$fwsign" image sign --key "$work/image.key" --version "$v" --security-counter 3 --hardware-id POS-X1 \
    "$work/payload-$v" -o "$work/fw-$v.img" > /dev/null
  "$fwsign" repo add-target "$data/repo" --image "$work/fw-$v.img" > /dev/null
done
"$fwsign" repo publish "$data/repo" --key "$work/targets.key" --key "$work/snapshot.key" \
  --key "$work/timestamp.key" > /dev/null
fleet=(POS-0201 POS-0202 POS-0203 POS-0204 POS-0205 POS-0206)
for t in "${fleet[@]}"; do
  mkdir -p "$work/$t"
  cp "$work/POS-0101/layout.json" "$work/$t/layout.json"
  "$fwboot" provision --device "$work/$t/layout.json" --image "$work/fw-1.2.0.img" --pubkey "$work/image.key.pub.pem" \
    --hardware-id POS-X1 > /dev/null
  "$fwupdate" init --device "$work/$t/layout.json" --tuf-root "$data/repo/metadata/1.root.json" > /dev/null
  "$fwupdate" journal simulate --journal "$work/$t/data/journal.db" --create --count 200 > /dev/null
  "$fwboot" boot --device "$work/$t/layout.json" > /dev/null
  token=$("$fwserver" enrol-token create --data "$data" --serial "$t" --json | jq -r .token)
  "$fwupdate" agent enrol --server "$url" --serial "$t" --token "$token" --cert "$work/$t/agent-cert.pem" \
    --key "$work/$t/agent-key.pem" --ca "$data/ca/chain.pem" > /dev/null
  "$fwfleet" label add "$t" rollout-demo > /dev/null
done
# The terminals' health check: their payment application does not come up on 1.4.0.
cat > "$work/health.sh" << 'SH'
#!/bin/sh
# health.sh LAYOUT: unhealthy when the firmware on trial is 1.4.0
"$FWUPDATE" status --device "$1" --json | jq -e '[.. | .version? // empty] | index("1.4.0") | not' > /dev/null
SH
chmod +x "$work/health.sh"
# fleet_round: one `fwupdate agent run --once` per terminal, all six at the same time.
fleet_round() {
  local t agents=()
  for t in "${fleet[@]}"; do
    FWUPDATE=$fwupdate "$fwupdate" agent run --once --quiet --device "$work/$t/layout.json" --server "$url" \
      --cert "$work/$t/agent-cert.pem" --key "$work/$t/agent-key.pem" --ca "$data/ca/chain.pem" \
      --time-zone Europe/Berlin --reboot-cmd "$fwboot boot --device $work/$t/layout.json > /dev/null" \
      --health-cmd "$work/health.sh $work/$t/layout.json" > "$work/$t/agent.log" 2>&1 &
    agents+=($!)
  done
  wait "${agents[@]}"  # only these: the server and the issuer run in the background too
}
fleet_versions() {
  "$fwfleet" devices --label rollout-demo --json | jq -r '[.items[] | "\(.serial) \(.version)"] | join(", ")'
}
fleet_round  # first contact: the server knows them, their manifests and versions
say "$(fleet_versions)"
# rollout_spec NAME TARGET_VERSION: a canary of one terminal, then the rest; one health failure pauses.
rollout_spec() {
  local t
  t=$("$fwfleet" targets --json | jq -r --arg v "$2" '.items[] | select(.firmware.version == $v) | .path')
  jq -n --arg name "$1" --arg t "$t" --arg below "$2" '{name: $name, target: $t,
    filter: {hardware_id: "POS-X1", labels: ["rollout-demo"], version_below: $below},
    groups: [{name: "canary", devices: ["POS-0201"], approve_after: false}, {name: "rest", percent: 100}],
    ramp: {start_per_minute: 60, growth_percent: 100, every_successes: 1, max_per_minute: 1000},
    abort: [{class: "health_failed", max_percent: 0, min_sample: 1}, {class: "any", max_percent: 20, min_sample: 5}],
    action: {type: "forced", window: null, deadline: null, backup_required: true},
    action_timeout_seconds: 3600, retries: {download: 3}, retry_backoff_seconds: 60,
    late_joiners: "ignore", revert_on_abort: false, two_person: false}'
}
# rollout_run ID: rounds of the six agents until the rollout is finished or paused (at most 12).
rollout_run() {
  local id=$1 state="" round
  for round in $(seq 12); do
    sleep 1  # the scheduler assigns at its next pass (every second)
    fleet_round
    state=$("$fwserver" rollout show "$id" --json | jq -r .state)
    say "round $round: rollout $state; $(fleet_versions)"
    case "$state" in finished | paused | stopped) break ;; esac
  done
}

step "17. Rollout of 1.3.0: the canary (POS-0201) first, then the rest"
rollout_spec "demo 1.3.0" 1.3.0 > "$work/rollout-1.3.0.json"
good=$("$fwserver" rollout create --spec "$work/rollout-1.3.0.json" --json | jq -r .id)
"$fwserver" rollout start "$good" --reason "release 1.3.0" --json > /dev/null
say "rollout $good started"
rollout_run "$good"
"$fwserver" rollout show "$good" | sed 's/^/   /'

step "18. Rollout of 1.4.0, whose health check fails on the terminals: the canary fails, the rollout pauses itself"
rollout_spec "demo 1.4.0" 1.4.0 > "$work/rollout-1.4.0.json"
bad=$("$fwserver" rollout create --spec "$work/rollout-1.4.0.json" --json | jq -r .id)
"$fwserver" rollout start "$bad" --reason "release 1.4.0" --json > /dev/null
say "rollout $bad started"
rollout_run "$bad"
"$fwserver" rollout show "$bad" | sed 's/^/   /'
say "the rest were never assigned: $(fleet_versions)"
say "POS-0201 reverted to 1.3.0 and reported: $("$fwserver" action list --data "$data" --device POS-0201 --json \
  | jq -c '.actions[-1] | {id, target, state, failure_class}')"

step "done (server log: $(wc -l < "$work/server.log") lines; everything was in $work, now removed)"
