# Part (d) of bench/fleet_bench.sh --postgres (issue 19), sourced by it after part (c): nginx (c) is
# still running on $port with the fleet CA of $data (an SQLite data directory made by `fwserver init`).
# Uses fleet_bench.sh's variables: root bench fwserver work data port terminals rounds seconds pg_conc
# quick failed pids pgdir. One server_bench loop, order alternating per round, over:
#   nginx   (c)'s nginx: the baseline
#   sqlite  `fwserver run` on $data (SQLite)
#   pg-1    `fwserver run` on a second data directory whose fwserver.json names a PostgreSQL database
#   pg-2    that instance and a second one on the same data directory and database, new connections
#           spread at random over both (an L4 balancer without stickiness)
# Modes: first contact once (creates the devices; pg-2's terminals then exist), then `resume` (one
# check-in per new connection resuming the terminal's TLS session: how terminals on a 5-minute poll
# arrive) and `full` (full handshake every time).

echo
echo "== (d) check-ins: nginx, fwserver on SQLite, on PostgreSQL, two instances on one PostgreSQL" \
  "($terminals terminals, concurrency $pg_conc, $rounds x ${seconds}s per mode and configuration)"
free_port() { "$bench" port; }
wait_port() {  # PORT LOG: up to 20 s
  for _ in $(seq 200); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1; log:" >&2
  cat "$2" >&2
  return 1
}
pg_fail() {
  failed+=("(d) $1")
  echo "(d) not measured: $1"
}

pg_part() {
  # A throwaway cluster with real fsync (scripts/pg-cluster.sh without --fast). As root it runs as
  # the postgres user, so it lives outside the 0700 work directory.
  pgdir=$(mktemp -d /tmp/fleet-bench-pg.XXXXXX)
  chmod 755 "$pgdir"
  "$root/scripts/pg-cluster.sh" start "$pgdir" > /dev/null || return 1
  local uri postmaster
  uri=$("$root/scripts/pg-cluster.sh" createdb "$pgdir" fleet) || return 1
  postmaster=$(head -1 "$pgdir/data/postmaster.pid")
  echo "PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}'): fsync $(psql -X -At "$uri" -c 'SHOW fsync'), synchronous_commit $(psql -X -At "$uri" -c 'SHOW synchronous_commit'), shared_buffers $(psql -X -At "$uri" -c 'SHOW shared_buffers')"

  local pgdata=$work/fw-pg
  "$fwserver" init --data "$pgdata" --database "$uri" > "$work/fw-pg-init.log" 2>&1 ||
    { cat "$work/fw-pg-init.log"; return 1; }
  # The same fleet CA and server certificate as nginx and the SQLite instance.
  cp -a "$data/ca" "$data/tls" "$data/issuer" "$pgdata/"
  local d
  for d in "$data" "$pgdata"; do  # operator ports: any free one (several instances, parallel ctest)
    jq '.operator.port = 0' "$d/fwserver.json" > "$d/fwserver.json.tmp" && mv "$d/fwserver.json.tmp" "$d/fwserver.json"
    "$fwserver" issuer --data "$d" > "$d/issuer.log" 2>&1 &
    pids+=($!)
  done

  local sq_port p1 p2 sq_pid pg1_pid pg2_pid
  sq_port=$(free_port) p1=$(free_port) p2=$(free_port)
  "$fwserver" run --data "$data" --address 127.0.0.1 --port "$sq_port" > "$work/fw-sqlite.log" 2>&1 &
  sq_pid=$!
  "$fwserver" run --data "$pgdata" --address 127.0.0.1 --port "$p1" > "$work/fw-pg1.log" 2>&1 &
  pg1_pid=$!
  "$fwserver" run --data "$pgdata" --address 127.0.0.1 --port "$p2" > "$work/fw-pg2.log" 2>&1 &
  pg2_pid=$!
  pids+=("$sq_pid" "$pg1_pid" "$pg2_pid")
  wait_port "$sq_port" "$work/fw-sqlite.log" && wait_port "$p1" "$work/fw-pg1.log" && wait_port "$p2" "$work/fw-pg2.log" ||
    return 1

  local ng_pids rc
  ng_pids=$(ps -o pid= --ppid "$(cat "$work/nginx/nginx.pid")" | tr -d ' ' | paste -sd,)
  set +e
  "$bench" run --target "nginx=127.0.0.1:$port" --target "sqlite=127.0.0.1:$sq_port" --target "pg-1=127.0.0.1:$p1" \
    --target "pg-2=127.0.0.1:$p1,$p2" --pids "nginx=$ng_pids" --pids "sqlite=$sq_pid" --pids "pg-1=$pg1_pid" \
    --pids "pg-2=$pg1_pid,$pg2_pid" --db-pids "pg-1=$postmaster" --db-pids "pg-2=$postmaster" \
    --chain "$data/ca/chain.pem" --issuing-cert "$data/ca/issuing.pem" --issuing-key "$data/issuer/issuing.key" \
    --body "$work/body.json" --terminals "$terminals" --serial-prefix FLEET- --modes first,resume,full \
    --seconds "$seconds" --rounds "$rounds" --concurrency "$pg_conc" --threads "$(nproc)" --gate quick |
    tee "$work/pg.out"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || failed+=("(d) check-ins (exit $rc)")
  # Each instance's own count (its stop line): both took part in pg-2.
  kill -TERM "$pg1_pid" "$pg2_pid" "$sq_pid" 2> /dev/null || true
  wait "$pg1_pid" "$pg2_pid" "$sq_pid" 2> /dev/null || true
  echo "requests served: SQLite instance $(sed -n 's/.*after \([0-9]*\) requests.*/\1/p' "$work/fw-sqlite.log");" \
    "PostgreSQL instance 1 $(sed -n 's/.*after \([0-9]*\) requests.*/\1/p' "$work/fw-pg1.log")," \
    "instance 2 $(sed -n 's/.*after \([0-9]*\) requests.*/\1/p' "$work/fw-pg2.log")"
  echo "devices in PostgreSQL: $(psql -X -At "$uri" -c 'SELECT count(*) FROM devices')"
  pg_summary
}

# RESULT field FIELD of TARGET in MODE (2 resume, 3 full).
pg_field() { grep "^RESULT target=$1 mode=$2 " "$work/pg.out" | sed -n "s/.* $3=\\([0-9.]*\\).*/\\1/p" | head -1; }

pg_summary() {
  echo
  echo "== (d) summary: check-ins per configuration (CPU per check-in from /proc: fwserver, PostgreSQL, client)"
  printf '%-7s %-7s %8s %8s %9s %9s %7s %8s %8s %8s %10s\n' mode config "req/s" "p99 ms" "req/s/ng" "p99/ng" reuse \
    "fw µs" "pg µs" "cli µs" "/s/core*"
  local mode t
  for mode in 2 3; do
    for t in nginx sqlite pg-1 pg-2; do
      awk -v mode="$([ $mode = 2 ] && echo resume || echo full)" -v t="$t" -v rps="$(pg_field "$t" $mode rps)" \
        -v p99="$(pg_field "$t" $mode p99_ms)" -v nrps="$(pg_field nginx $mode rps)" \
        -v np99="$(pg_field nginx $mode p99_ms)" -v reuse="$(pg_field "$t" $mode reuse)" \
        -v srv="$(pg_field "$t" $mode srv_us)" -v db="$(pg_field "$t" $mode db_us)" -v cli="$(pg_field "$t" $mode cli_us)" \
        'BEGIN { if (rps == "") { printf "%-7s %-7s (no result)\n", mode, t; exit }
                 printf "%-7s %-7s %8.0f %8.1f %8.2fx %8.2fx %6.1f%% %8.0f %8.0f %8.0f %10.0f\n", mode, t, rps, p99,
                   rps / nrps, p99 / np99, reuse, srv, db, cli, (srv + db > 0 ? 1e6 / (srv + db) : 0) }'
    done
  done
  echo "* check-ins per second per core of server CPU (fwserver + PostgreSQL), from the CPU per check-in"
  # The arithmetic for a fleet polling every 300 s, from pg-1's steady state (resume).
  awk -v srv="$(pg_field pg-1 2 srv_us)" -v db="$(pg_field pg-1 2 db_us)" -v cli="$(pg_field pg-1 2 cli_us)" \
    -v rps2="$(pg_field pg-2 2 rps)" -v cores="$(nproc)" '
    BEGIN {
      if (srv == "") exit
      printf "\nthis machine: %d cores shared by client, fwserver and PostgreSQL: %.0f + %.0f + %.0f µs per check-in → at most %.0f check-ins/s (measured with two instances: %.0f)\n",
        cores, cli, srv, db, cores * 1e6 / (cli + srv + db), rps2
      split("100000 1000000", fleet, " ")
      for (i = 1; i <= 2; i++) {
        need = fleet[i] / 300
        printf "%7d terminals, 5-minute poll: %5.0f check-ins/s → fwserver %.1f cores (%.0f µs each), PostgreSQL %.1f cores (%.0f µs each); last_seen: %.1f batch writes/s of 1,000 rows\n",
          fleet[i], need, need * srv / 1e6, srv, need * db / 1e6, db, need / 1000
      }
    }'
}

pg_part || pg_fail "PostgreSQL part failed (see above)"
