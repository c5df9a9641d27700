#!/usr/bin/env bash
# Soak: runs the exporter (Release build) against a local stack for DURATION with faults
# toggling and /metrics scraped at 8 concurrent connections, sampling every ~10 s: the
# exporter's RSS, open fds and threads, the connections its roles hold on every PostgreSQL
# server, PgBouncer and redis, backends idle in transaction, and the scrape p99 of the last
# window. Prints start vs end figures and a verdict line (flat or growing). Not a CI test.
#
#   tests/bench/soak.sh DURATION          DURATION: seconds, or Nm / Nh (e.g. 10m, 30m)
#
# Faults, one at a time, each held for DBCANARY_SOAK_FAULT_EVERY seconds (default 30), in turn:
# stop/start the standby shared-postgres-3, SIGSTOP/SIGCONT the pooler gitlab-pooler-rw,
# stop/start the redis replica dragonfly-1. Every fault is undone on exit, however it exits.
# Environment: DBCANARY_BIN (default build-release/exporter/dbcanary, built with CMAKE_BUILD_TYPE=Release
# when missing), DBCANARY_SOAK_STACK_DIR (default /tmp/dbcanary-soak-stack),
# DBCANARY_SOAK_PORT_BASE (default 20400; the exporter listens on base+90),
# DBCANARY_SOAK_OUT (default /tmp/dbcanary-soak-<time>: samples.tsv, exporter.log, wrk output).
set -euo pipefail
cd "$(dirname "$0")/../.."

usage() { echo "usage: tests/bench/soak.sh DURATION   (seconds, or e.g. 10m, 1h)" >&2; exit 2; }
[ $# -eq 1 ] || usage
case $1 in
  *h) duration=$((${1%h} * 3600)) ;;
  *m) duration=$((${1%m} * 60)) ;;
  *s) duration=${1%s} ;;
  *) duration=$1 ;;
esac
[[ $duration =~ ^[0-9]+$ ]] && ((duration >= 60)) || { echo "soak: DURATION must be >= 60 s" >&2; usage; }

bin=${DBCANARY_BIN:-build-release/exporter/dbcanary}
fault_every=${DBCANARY_SOAK_FAULT_EVERY:-30}
window=10  # seconds per wrk run = sampling period
export DBCANARY_STACK_DIR=${DBCANARY_SOAK_STACK_DIR:-/tmp/dbcanary-soak-stack}
export DBCANARY_STACK_PORT_BASE=${DBCANARY_SOAK_PORT_BASE:-20400}
listen=127.0.0.1:$((DBCANARY_STACK_PORT_BASE + 90))
out=${DBCANARY_SOAK_OUT:-/tmp/dbcanary-soak-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

for tool in wrk curl psql redis-cli runuser; do
  command -v "$tool" >/dev/null || { echo "soak: $tool missing (deploy/local/install-deps.sh)" >&2; exit 2; }
done
if [ ! -x "$bin" ]; then
  echo "soak: building $bin (Release)"
  build=$(dirname "$bin")
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDBCANARY_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" --target dbcanary >/dev/null
fi

stack=deploy/local/stack.sh
$stack up >/dev/null
set -a; . "$DBCANARY_STACK_DIR/stack.env"; set +a
secrets=$DBCANARY_STACK_SECRETS_DIR
redis_password=$(cat "$secrets/dragonfly.password")
admin_password=$(cat "$secrets/pgbouncer_admin.password")
pg_servers=(shared-postgres-1 shared-postgres-2 shared-postgres-3)
poolers=(gitlab-pooler-rw gitlab-pooler-ro harbor-pooler-rw keycloak-pooler-rw synergyflow-pooler-rw)
redises=(dragonfly-0 dragonfly-1)
port_of() { local v=DBCANARY_STACK_PORT_${1//-/_}; v=${v^^}; echo "${!v}"; }
pooler_pid() { local v=DBCANARY_STACK_PIDFILE_${1//-/_}; v=${v^^}; cat "${!v}"; }
# The roles dbcanary connects as: its monitoring role and the tenants' logins (pooler round trips).
roles="'dbcanary','gitlab','harbor','keycloak','synergyflow'"

exporter_pid=""
wrk_pid=""
fault=""
undo_fault() {
  case $fault in
    standby) $stack start shared-postgres-3 >/dev/null 2>&1 || true ;;
    pooler) kill -CONT "$(pooler_pid gitlab-pooler-rw)" 2>/dev/null || true ;;
    replica) $stack start dragonfly-1 >/dev/null 2>&1 || true ;;
  esac
  fault=""
}
cleanup() {
  [ -z "$wrk_pid" ] || kill "$wrk_pid" 2>/dev/null || true
  undo_fault
  [ -z "$exporter_pid" ] || { kill "$exporter_pid" 2>/dev/null || true; wait "$exporter_pid" 2>/dev/null || true; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin" serve --config "$DBCANARY_STACK_DIR/dbcanary.yaml" --web.listen-address "$listen" \
  >"$out/exporter.log" 2>&1 &
exporter_pid=$!
for _ in $(seq 100); do curl -sf "http://$listen/metrics" >/dev/null && break; sleep 0.1; done
curl -sf "http://$listen/metrics" >/dev/null || { echo "soak: exporter did not answer on $listen" >&2; exit 1; }

# Backends of dbcanary's roles on one PostgreSQL server, and how many are idle in transaction.
pg_counts() {
  runuser -u "$DBCANARY_STACK_RUN_USER" -- timeout 5 psql -qAt -F' ' \
    "host=$DBCANARY_STACK_PG_SOCKET_DIR port=$(port_of "$1") dbname=postgres user=$DBCANARY_STACK_PG_SUPERUSER connect_timeout=3" \
    -c "SELECT count(*), count(*) FILTER (WHERE state LIKE 'idle in transaction%') FROM pg_stat_activity WHERE usename IN ($roles)" \
    2>/dev/null || echo "- -"
}
# Clients of a PgBouncer other than this admin session ("-" while it is down or frozen).
pooler_clients() {
  local rows
  rows=$(PGPASSWORD=$admin_password timeout 4 psql -qAt -F' ' \
    "host=127.0.0.1 port=$(port_of "$1") dbname=pgbouncer user=pgbouncer_admin connect_timeout=2" \
    -c "SHOW CLIENTS" 2>/dev/null) || { echo -; return; }
  awk -F' ' '$2 != "pgbouncer_admin" {n++} END {print n+0}' <<<"$rows"
}
# Clients of a redis other than replication links and this session.
redis_clients() {
  local rows
  rows=$(REDISCLI_AUTH=$redis_password timeout 4 redis-cli -p "$(port_of "$1")" CLIENT LIST 2>/dev/null) &&
    [[ $rows == id=* ]] || { echo -; return; }
  awk '/flags=[A-Za-z]*[SM]/ || /cmd=client/ {next} {n++} END {print n+0}' <<<"$rows"
}
to_ms() {  # wrk's "12.34ms" / "1.2s" / "830.00us"
  awk -v t="$1" 'BEGIN { v = t + 0; if (t ~ /us$/) v /= 1000; else if (t ~ /ms$/) ; else if (t ~ /s$/) v *= 1000; printf "%.2f", v }'
}

header="t_s\tfault\trss_kib\tfds\tthreads\tpg_conns\tpg_idle_in_tx\tpooler_clients\tredis_clients\treq_per_s\tp99_ms\tnon2xx"
printf '%b\n' "$header" >"$out/samples.tsv"
printf 'soak: %ss against %s, exporter pid %s on %s, faults every %ss; samples in %s/samples.tsv\n' \
  "$duration" "$DBCANARY_STACK_DIR" "$exporter_pid" "$listen" "$fault_every" "$out"
printf '%b\n' "$header" | column -t -s $'\t'

start=$SECONDS
next_fault=$((start + fault_every))
faults=(standby pooler replica)
fault_index=0
while ((SECONDS - start < duration)); do
  if ((SECONDS >= next_fault)); then
    undo_fault
    fault=${faults[fault_index % 3]}
    fault_index=$((fault_index + 1))
    case $fault in
      standby) $stack stop shared-postgres-3 >/dev/null 2>&1 || true ;;
      pooler) kill -STOP "$(pooler_pid gitlab-pooler-rw)" ;;
      replica) $stack stop dragonfly-1 >/dev/null 2>&1 || true ;;
    esac
    next_fault=$((SECONDS + fault_every))
  fi
  # 8 connections for one window; its p99 is this window's scrape latency.
  wrk -c8 -t2 -d${window}s --timeout 10s --latency "http://$listen/metrics" >"$out/wrk.last" 2>&1 &
  wrk_pid=$!
  # The exporter's and the servers' state, sampled while the scrapes run.
  sleep 2
  kill -0 "$exporter_pid" 2>/dev/null || { echo "soak: the exporter died (log: $out/exporter.log)" >&2; exit 1; }
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$exporter_pid/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$exporter_pid/status")
  fds=$(ls "/proc/$exporter_pid/fd" | wc -l)
  pg_total=0 pg_idle_tx=0 pg_detail=""
  for server in "${pg_servers[@]}"; do
    read -r n idle <<<"$(pg_counts "$server")"
    pg_detail+="${pg_detail:+,}$n"
    [ "$n" = - ] || pg_total=$((pg_total + n))
    [ "$idle" = - ] || pg_idle_tx=$((pg_idle_tx + idle))
  done
  pooler_detail="" redis_detail=""
  for pooler in "${poolers[@]}"; do pooler_detail+="${pooler_detail:+,}$(pooler_clients "$pooler")"; done
  for redis in "${redises[@]}"; do redis_detail+="${redis_detail:+,}$(redis_clients "$redis")"; done
  wait "$wrk_pid" || true
  wrk_pid=""
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out/wrk.last")")
  rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out/wrk.last")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk.last"); non2xx=${non2xx:-0}
  line="$((SECONDS - start))\t${fault:-none}\t$rss\t$fds\t$threads\t$pg_total($pg_detail)\t$pg_idle_tx\t$pooler_detail\t$redis_detail\t$rps\t$p99\t$non2xx"
  printf '%b\n' "$line" >>"$out/samples.tsv"
  printf '%b\n' "$line" | column -t -s $'\t'
done
undo_fault

# Start vs end: the largest value over the first and over the last full fault cycle (every
# fault once), so a value that differs by fault phase compares like with like. The first cycle
# starts after 30 s of warm-up.
awk -F'\t' -v cycle=$((3 * fault_every)) -v warm=30 '
  function total(list,   parts, n, i, s) { n = split(list, parts, ","); for (i = 1; i <= n; i++) if (parts[i] != "-") s += parts[i]; return s }
  NR == 1 { next }
  { t[NR] = $1; rss[NR] = $3; fds[NR] = $4; thr[NR] = $5; pg[NR] = $6 + 0; idle[NR] = $7;
    pb[NR] = total($8); rd[NR] = total($9); p99[NR] = $11; last = NR; if (idle[NR] > idle_max) idle_max = idle[NR] }
  END {
    end_t = t[last]
    for (i = 2; i <= last; i++) {
      if (t[i] > warm && t[i] <= warm + cycle) w = "start"; else if (t[i] > end_t - cycle) w = "end"; else continue
      if (rss[i] > m[w, "rss"]) m[w, "rss"] = rss[i]; if (fds[i] > m[w, "fds"]) m[w, "fds"] = fds[i]
      if (thr[i] > m[w, "thr"]) m[w, "thr"] = thr[i]; if (pg[i] > m[w, "pg"]) m[w, "pg"] = pg[i]
      if (pb[i] > m[w, "pb"]) m[w, "pb"] = pb[i]; if (rd[i] > m[w, "rd"]) m[w, "rd"] = rd[i]
      if (p99[i] > m[w, "p99"]) m[w, "p99"] = p99[i]
    }
    printf "\n%-32s %12s %12s\n", "soak figures (max per window)", "start", "end"
    printf "%-32s %12d %12d\n", "RSS (KiB)", m["start", "rss"], m["end", "rss"]
    printf "%-32s %12d %12d\n", "open fds", m["start", "fds"], m["end", "fds"]
    printf "%-32s %12d %12d\n", "threads", m["start", "thr"], m["end", "thr"]
    printf "%-32s %12d %12d\n", "PostgreSQL backends (its roles)", m["start", "pg"], m["end", "pg"]
    printf "%-32s %12d %12d\n", "PgBouncer clients", m["start", "pb"], m["end", "pb"]
    printf "%-32s %12d %12d\n", "redis clients", m["start", "rd"], m["end", "rd"]
    printf "%-32s %12.2f %12.2f\n", "scrape p99 (ms, 8 connections)", m["start", "p99"], m["end", "p99"]
    printf "%-32s %12d\n", "max idle in transaction", idle_max
    growing = ""
    if (m["end", "fds"] > m["start", "fds"] + 4) growing = growing " fds"
    if (m["end", "thr"] > m["start", "thr"] + 2) growing = growing " threads"
    if (m["end", "rss"] > m["start", "rss"] * 1.25 + 4096) growing = growing " rss"
    if (m["end", "pg"] > m["start", "pg"] + 2) growing = growing " pg_connections"
    if (m["end", "pb"] > m["start", "pb"] + 2) growing = growing " pooler_clients"
    if (m["end", "rd"] > m["start", "rd"] + 2) growing = growing " redis_clients"
    if (idle_max > 0) growing = growing " idle_in_transaction"
    if (growing == "") print "verdict: flat"; else print "verdict: growing:" growing
  }' "$out/samples.tsv" | tee "$out/summary.txt"
