#!/usr/bin/env bash
# Scrape benchmark: dbcanary's /metrics against Debian's prometheus-postgres-exporter and
# prometheus-redis-exporter, all pointed at the same local stack, measured in the same run.
# Prints series, bytes, scrape latency p50/p99, CPU seconds per 1000 scrapes, CPU per scrape
# per series, requests/s at 8 connections (wrk), RSS idle and after load, and the database
# work each scrape causes. A benchmark, not a test: it never fails on a number.
#
#   tests/bench/scrape_bench.sh [SCRAPES]      (default 300; needs a built build/dbcanary)
set -euo pipefail
cd "$(dirname "$0")/../.."

scrapes=${1:-300}
bin=${DBCANARY_BIN:-build/dbcanary}
export DBCANARY_STACK_DIR=${DBCANARY_BENCH_STACK_DIR:-/tmp/dbcanary-bench-stack}
export DBCANARY_STACK_PORT_BASE=${DBCANARY_BENCH_PORT_BASE:-18400}
export DBCANARY_LISTEN_PORT=$((DBCANARY_STACK_PORT_BASE + 90))
pg_exporter_port=$((DBCANARY_STACK_PORT_BASE + 91))
redis_exporter_port=$((DBCANARY_STACK_PORT_BASE + 92))

[ -x "$bin" ] || { echo "scrape_bench: build dbcanary first ($bin missing)" >&2; exit 2; }
for tool in wrk curl prometheus-postgres-exporter prometheus-redis-exporter; do
  command -v "$tool" >/dev/null || { echo "scrape_bench: $tool missing (deploy/local/install-deps.sh)" >&2; exit 2; }
done

deploy/local/stack.sh up >/dev/null
set -a; . "$DBCANARY_STACK_DIR/stack.env"; set +a
secrets=$DBCANARY_STACK_SECRETS_DIR
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$bin" serve --config "$DBCANARY_STACK_DIR/dbcanary.yaml" 2>/dev/null &
pids+=($!); dbcanary_pid=$!
DATA_SOURCE_NAME="postgresql://dbcanary:$(cat "$secrets/dbcanary.password")@localhost:$DBCANARY_STACK_PG_PRIMARY_PORT/postgres?sslmode=require" \
  prometheus-postgres-exporter --web.listen-address="127.0.0.1:$pg_exporter_port" >/dev/null 2>&1 &
pids+=($!); pg_exporter_pid=$!
REDIS_PASSWORD=$(cat "$secrets/dragonfly.password") prometheus-redis-exporter \
  -redis.addr "redis://127.0.0.1:$DBCANARY_STACK_PORT_DRAGONFLY_0" \
  -web.listen-address "127.0.0.1:$redis_exporter_port" >/dev/null 2>&1 &
pids+=($!); redis_exporter_pid=$!

for port in "$DBCANARY_LISTEN_PORT" "$pg_exporter_port" "$redis_exporter_port"; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
done
sleep 6  # one full probe round for dbcanary, so every family is present

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# PSS (shared library pages split among the processes mapping them) and USS (pages only this
# process has): RSS counts every shared library page in full, which penalises a process built
# on shared libraries against statically linked peers.
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
uss_kib() { awk '/^Private_(Clean|Dirty):/ {sum += $2} END {print sum}' "/proc/$1/smaps_rollup"; }
ticks_per_second=$(getconf CLK_TCK)
# Transactions committed on the primary: what a scrape costs the database.
primary_xacts() {
  PGPASSWORD=$(cat "$secrets/dbcanary.password") psql -qAt "host=localhost port=$DBCANARY_STACK_PG_PRIMARY_PORT dbname=postgres user=dbcanary sslmode=require" \
    -c "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database"
}

printf '\n%-20s %7s %8s %7s %7s %9s %13s %7s %9s %9s %9s %9s %11s\n' exporter series bytes p50_ms p99_ms cpu_s/1k \
  cpu_us/scr/ser req/s rss_idle rss_load pss_load uss_load db_xact/scr
declare -A result
measure() {
  local name=$1 pid=$2 port=$3 url="http://127.0.0.1:$3/metrics"
  local body series bytes rss_idle cpu_before cpu_after xact_before xact_after latencies p50 p99 rps rss_load
  local started elapsed idle_before idle_after idle_ticks
  body=$(curl -s "$url")
  series=$(grep -cv '^#' <<<"$body")
  bytes=$(printf '%s' "$body" | wc -c)
  rss_idle=$(rss_kib "$pid")
  cpu_before=$(cpu_ticks "$pid")
  xact_before=$(primary_xacts)
  started=$EPOCHREALTIME
  latencies=$(for _ in $(seq "$scrapes"); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n)
  elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')
  xact_after=$(primary_xacts)
  cpu_after=$(cpu_ticks "$pid")
  # The same wall time with no scrapes: what the process burns on its own (dbcanary's probes
  # run on their schedule; the peers idle). Subtracted, so only the scrapes are counted.
  idle_before=$(cpu_ticks "$pid")
  sleep "$elapsed"
  idle_after=$(cpu_ticks "$pid")
  idle_ticks=$((idle_after - idle_before))
  p50=$(awk -v n="$scrapes" 'NR == int(n * 0.50 + 0.5) {printf "%.2f", $1 * 1000}' <<<"$latencies")
  p99=$(awk -v n="$scrapes" 'NR == int(n * 0.99 + 0.5) {printf "%.2f", $1 * 1000}' <<<"$latencies")
  local cpu_per_1k cpu_per_scrape_series xact_per_scrape
  cpu_per_1k=$(awk -v t=$((cpu_after - cpu_before - idle_ticks)) -v hz="$ticks_per_second" -v n="$scrapes" \
    'BEGIN {if (t < 0) t = 0; printf "%.3f", t / hz / n * 1000}')
  cpu_per_scrape_series=$(awk -v c="$cpu_per_1k" -v s="$series" 'BEGIN {printf "%.3f", c / 1000 / s * 1e6}')
  # The primary's own transactions (including the psql reads above: 2) over the scrapes.
  xact_per_scrape=$(awk -v d=$((xact_after - xact_before)) -v n="$scrapes" 'BEGIN {printf "%.2f", d / n}')
  rps=$(wrk -t2 -c8 -d5s "$url" 2>/dev/null | awk '/Requests\/sec/ {printf "%.0f", $2}')
  rss_load=$(rss_kib "$pid")
  local pss_load uss_load
  pss_load=$(pss_kib "$pid")
  uss_load=$(uss_kib "$pid")
  printf '%-20s %7s %8s %7s %7s %9s %13s %7s %8sK %8sK %8sK %8sK %11s\n' "$name" "$series" "$bytes" "$p50" "$p99" \
    "$cpu_per_1k" "$cpu_per_scrape_series" "$rps" "$rss_idle" "$rss_load" "$pss_load" "$uss_load" "$xact_per_scrape"
  result[$name.cpu_series]=$cpu_per_scrape_series
  result[$name.rss]=$rss_load
  result[$name.pss]=$pss_load
  result[$name.uss]=$uss_load
  result[$name.p50]=$p50
}

measure dbcanary "$dbcanary_pid" "$DBCANARY_LISTEN_PORT"
measure postgres_exporter "$pg_exporter_pid" "$pg_exporter_port"
measure redis_exporter "$redis_exporter_pid" "$redis_exporter_port"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
best_cpu=$(printf '%s\n%s\n' "${result[postgres_exporter.cpu_series]}" "${result[redis_exporter.cpu_series]}" | sort -g | head -1)
lightest() { printf '%s\n%s\n' "${result[postgres_exporter.$1]}" "${result[redis_exporter.$1]}" | sort -n | head -1; }
lightest_rss=$(lightest rss)
echo
echo "ratios (dbcanary / peer; targets: CPU per scrape per series <= 0.20 of the best peer, RSS <= 0.50 of the lightest peer)"
echo "  CPU per scrape per series vs best peer:  $(ratio "${result[dbcanary.cpu_series]}" "$best_cpu")"
echo "  RSS after load vs lightest peer:         $(ratio "${result[dbcanary.rss]}" "$lightest_rss")"
echo "  PSS after load vs lightest peer:         $(ratio "${result[dbcanary.pss]}" "$(lightest pss)")"
echo "  USS after load vs lightest peer:         $(ratio "${result[dbcanary.uss]}" "$(lightest uss)")"
echo "  cpu figures exclude each process's own CPU over an equal idle window (dbcanary's background probes)."
echo "  p50 scrape latency vs postgres_exporter: $(ratio "${result[dbcanary.p50]}" "${result[postgres_exporter.p50]}")"
echo "  db_xact/scr: dbcanary's probes run on their own schedule, so a scrape adds no database work;"
echo "  its figure is the background probe traffic (plus the benchmark's own 2 reads) spread over the scrapes."
echo
echo "stack left running in $DBCANARY_STACK_DIR (stop: DBCANARY_STACK_DIR=$DBCANARY_STACK_DIR deploy/local/stack.sh down)"
