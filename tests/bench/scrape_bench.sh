#!/usr/bin/env bash
# Scrape benchmark: dbcanary's /metrics against Debian's prometheus-postgres-exporter and
# prometheus-redis-exporter, all pointed at the same local stack, measured in the same run.
# Prints series, bytes, scrape latency p50/p99, CPU seconds per 1000 scrapes, CPU per scrape
# per series, requests/s at 8 connections (wrk), RSS/PSS/USS idle and after load, the
# database work each scrape causes, dbcanary's resident memory by mapping, and the memory
# floor of any libpq exporter (tests/bench/libpq_floor.c: libpq + OpenSSL 3, one TLS
# connection, nothing else). A benchmark, not a test: it never fails on a number.
#
#   tests/bench/scrape_bench.sh [SCRAPES]      (default 300; needs a built dbcanary)
#   DBCANARY_BIN=/path/to/dbcanary             (default build/exporter/dbcanary; measure a Release build)
set -euo pipefail
cd "$(dirname "$0")/../.."

scrapes=${1:-300}
bin=${DBCANARY_BIN:-build/exporter/dbcanary}
export DBCANARY_STACK_DIR=${DBCANARY_BENCH_STACK_DIR:-/tmp/dbcanary-bench-stack}
export DBCANARY_STACK_PORT_BASE=${DBCANARY_BENCH_PORT_BASE:-18400}
export DBCANARY_LISTEN_PORT=$((DBCANARY_STACK_PORT_BASE + 90))
pg_exporter_port=$((DBCANARY_STACK_PORT_BASE + 91))
redis_exporter_port=$((DBCANARY_STACK_PORT_BASE + 92))

[ -x "$bin" ] || { echo "scrape_bench: build dbcanary first ($bin missing)" >&2; exit 2; }
for tool in wrk curl cc pkg-config prometheus-postgres-exporter prometheus-redis-exporter; do
  command -v "$tool" >/dev/null || { echo "scrape_bench: $tool missing (deploy/local/install-deps.sh)" >&2; exit 2; }
done

echo "machine: $(nproc) CPUs; $(uptime | sed 's/^ *//')"
echo "dbcanary: $bin ($(stat -c %s "$bin") bytes; $("$bin" --version 2>/dev/null | head -1))"

deploy/local/stack.sh up >/dev/null
set -a; . "$DBCANARY_STACK_DIR/stack.env"; set +a
secrets=$DBCANARY_STACK_SECRETS_DIR
work=$DBCANARY_STACK_DIR/bench
mkdir -p "$work"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# shellcheck disable=SC2046  # pkg-config prints several words on purpose
cc -O2 -o "$work/libpq_floor" tests/bench/libpq_floor.c $(pkg-config --cflags --libs libpq)

"$bin" serve --config "$DBCANARY_STACK_DIR/dbcanary.yaml" 2>/dev/null &
pids+=($!); dbcanary_pid=$!
DATA_SOURCE_NAME="postgresql://dbcanary:$(cat "$secrets/dbcanary.password")@localhost:$DBCANARY_STACK_PG_PRIMARY_PORT/postgres?sslmode=require" \
  prometheus-postgres-exporter --web.listen-address="127.0.0.1:$pg_exporter_port" >/dev/null 2>&1 &
pids+=($!); pg_exporter_pid=$!
REDIS_PASSWORD=$(cat "$secrets/dragonfly.password") prometheus-redis-exporter \
  -redis.addr "redis://127.0.0.1:$DBCANARY_STACK_PORT_DRAGONFLY_0" \
  -web.listen-address "127.0.0.1:$redis_exporter_port" >/dev/null 2>&1 &
pids+=($!); redis_exporter_pid=$!
PGPASSWORD=$(cat "$secrets/dbcanary.password") "$work/libpq_floor" \
  "host=localhost port=$DBCANARY_STACK_PG_PRIMARY_PORT dbname=postgres user=dbcanary sslmode=require" \
  >"$work/libpq_floor.out" 2>&1 &
pids+=($!); floor_pid=$!

for port in "$DBCANARY_LISTEN_PORT" "$pg_exporter_port" "$redis_exporter_port"; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
done
for _ in $(seq 100); do grep -q ready "$work/libpq_floor.out" && break; sleep 0.1; done
grep -q ready "$work/libpq_floor.out" || { echo "scrape_bench: libpq_floor: $(cat "$work/libpq_floor.out")" >&2; exit 1; }
sleep 6  # one full probe round for dbcanary, so every family is present

# CPU time of a process's threads in nanoseconds, from schedstat (exact, where the
# utime/stime clock ticks of /proc/PID/stat are 10 ms apart, more than a few hundred scrapes
# of dbcanary cost). With a second argument, only threads whose name starts with it:
# dbcanary serves /metrics on CivetWeb's threads (civetweb-master and -worker) while its
# probes run on their own schedule on other threads, and a probe run (TLS handshakes)
# costs more CPU than hundreds of scrapes, too noisy to subtract. The peers do everything
# on the scrape, so all their threads count. (%.0f: mawk's %d stops at 2^31.)
cpu_ns() {
  local task total=0 name
  for task in /proc/"$1"/task/*; do
    name=$(cat "$task/comm" 2>/dev/null) || continue
    [[ -z ${2:-} || $name == "$2"* ]] || continue
    total=$(awk -v t="$total" '{printf "%.0f", t + $1}' "$task/schedstat" 2>/dev/null || echo "$total")
  done
  echo "$total"
}
# utime + stime of the whole process, finished threads included, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
threads() { awk '/^Threads/ {print $2}' "/proc/$1/status"; }
# PSS (shared library pages split among the processes mapping them) and USS (pages only this
# process has): RSS counts every shared library page in full, which penalises a process built
# on shared libraries against statically linked peers.
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
uss_kib() { awk '/^Private_(Clean|Dirty):/ {sum += $2} END {print sum}' "/proc/$1/smaps_rollup"; }
# Resident memory by mapping: every file by name, anonymous memory as [heap], [stack],
# [anon] (thread stacks and malloc arenas are anonymous mappings), largest first.
smaps_breakdown() {
  awk '
    /^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]"; sub(".*/", "", name); next }
    /^Rss:/ { rss[name] += $2 }
    /^Private_(Clean|Dirty):/ { uss[name] += $2 }
    END { for (n in rss) if (rss[n] > 0) printf "%8d %8d  %s\n", rss[n], uss[n], n }
  ' "/proc/$1/smaps" | sort -rn | head -"${2:-14}"
}
# dbcanary's RSS split four ways against the floor process ($2): libraries the floor maps
# too (what any libpq + OpenSSL exporter pays), libraries only dbcanary maps, its own
# executable, and anonymous memory (heap, malloc arenas, thread stacks).
rss_split() {
  awk -v exe="$(readlink -f "/proc/$1/exe")" '
    FNR == 1 { file++ }
    /^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "[anon]"; next }
    /^Rss:/ {
      if (file == 1) { floor[name] = 1; next }
      if (name == exe) own += $2
      else if (name ~ /^\// && (name in floor)) common += $2
      else if (name ~ /^\//) extra += $2
      else anon += $2
    }
    END { printf "libraries the floor maps too %d KiB, libraries only dbcanary maps %d KiB, executable %d KiB, anonymous %d KiB\n", common, extra, own, anon }
  ' "/proc/$2/smaps" "/proc/$1/smaps"
}
# Transactions committed on the primary: what a scrape costs the database.
primary_xacts() {
  PGPASSWORD=$(cat "$secrets/dbcanary.password") psql -qAt "host=localhost port=$DBCANARY_STACK_PG_PRIMARY_PORT dbname=postgres user=dbcanary sslmode=require" \
    -c "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database"
}

echo
echo "dbcanary resident memory by mapping, idle (KiB: rss uss name):"
smaps_breakdown "$dbcanary_pid"
declare -A result
result[dbcanary.rss_idle]=$(rss_kib "$dbcanary_pid")

printf '\n%-18s %6s %7s %6s %6s %8s %13s %9s %6s %10s %11s\n' exporter series bytes p50_ms p99_ms cpu_s/1k \
  cpu_us/scr/ser cpu_all/1k req/s wrk_us/req db_xact/scr
measure() {
  local name=$1 pid=$2 port=$3 threads=${4:-} url="http://127.0.0.1:$3/metrics"
  local ticks_before ticks_after idle_ticks_before idle_ticks_after
  local body series bytes cpu_before cpu_after xact_before xact_after latencies p50 p99 rps
  local started elapsed idle_before idle_after idle_xact_before idle_xact_after
  body=$(curl -s "$url")
  series=$(grep -cv '^#' <<<"$body")
  bytes=$(printf '%s' "$body" | wc -c)
  result[$name.rss_idle]=$(rss_kib "$pid")
  result[$name.pss_idle]=$(pss_kib "$pid")
  result[$name.uss_idle]=$(uss_kib "$pid")
  xact_before=$(primary_xacts)
  cpu_before=$(cpu_ns "$pid" "$threads")
  ticks_before=$(cpu_ticks "$pid")
  started=$EPOCHREALTIME
  latencies=$(for _ in $(seq "$scrapes"); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n)
  elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')
  cpu_after=$(cpu_ns "$pid" "$threads")
  ticks_after=$(cpu_ticks "$pid")
  xact_after=$(primary_xacts)
  # The same wall time with no scrapes: what the process burns, and what the database
  # does, on its own (dbcanary's probes run on their schedule; the peers idle).
  # Subtracted, so only the scrapes are counted.
  idle_xact_before=$(primary_xacts)
  idle_before=$(cpu_ns "$pid" "$threads")
  idle_ticks_before=$(cpu_ticks "$pid")
  sleep "$elapsed"
  idle_after=$(cpu_ns "$pid" "$threads")
  idle_ticks_after=$(cpu_ticks "$pid")
  idle_xact_after=$(primary_xacts)
  p50=$(awk -v n="$scrapes" 'NR == int(n * 0.50 + 0.5) {printf "%.2f", $1 * 1000}' <<<"$latencies")
  p99=$(awk -v n="$scrapes" 'NR == int(n * 0.99 + 0.5) {printf "%.2f", $1 * 1000}' <<<"$latencies")
  local cpu_per_1k cpu_per_scrape_series xact_per_scrape cpu_all_per_1k
  cpu_per_1k=$(awk -v t=$((cpu_after - cpu_before - (idle_after - idle_before))) -v n="$scrapes" \
    'BEGIN {if (t < 0) t = 0; printf "%.4f", t / 1e9 / n * 1000}')
  cpu_all_per_1k=$(awk -v t=$(((ticks_after - ticks_before) - (idle_ticks_after - idle_ticks_before))) \
    -v hz="$(getconf CLK_TCK)" -v n="$scrapes" 'BEGIN {printf "%.3f", t / hz / n * 1000}')
  cpu_per_scrape_series=$(awk -v c="$cpu_per_1k" -v s="$series" 'BEGIN {printf "%.4f", c / 1000 / s * 1e6}')
  # Transactions during the scrapes minus those of the idle window (both include the
  # benchmark's own two reads), per scrape: 0 means a scrape causes no database work.
  xact_per_scrape=$(awk -v d=$(((xact_after - xact_before) - (idle_xact_after - idle_xact_before))) \
    -v n="$scrapes" 'BEGIN {printf "%.2f", d / n}')
  local wrk_out wrk_requests wrk_cpu_before wrk_cpu_after wrk_us
  wrk_cpu_before=$(cpu_ns "$pid" "$threads")
  wrk_out=$(wrk -t2 -c8 -d5s "$url" 2>/dev/null)
  wrk_cpu_after=$(cpu_ns "$pid" "$threads")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$wrk_out")
  wrk_requests=$(awk '/requests in/ {print $1}' <<<"$wrk_out")
  # CPU per request under wrk (keep-alive connections, 2 cores shared with wrk itself).
  wrk_us=$(awk -v t=$((wrk_cpu_after - wrk_cpu_before)) -v n="${wrk_requests:-0}" \
    'BEGIN {if (n == 0) print "n/a"; else printf "%.1f", t / 1e3 / n}')
  result[$name.rss]=$(rss_kib "$pid")
  result[$name.pss]=$(pss_kib "$pid")
  result[$name.uss]=$(uss_kib "$pid")
  result[$name.threads]=$(threads "$pid")
  printf '%-18s %6s %7s %6s %6s %8s %13s %9s %6s %10s %11s\n' "$name" "$series" "$bytes" "$p50" "$p99" \
    "$cpu_per_1k" "$cpu_per_scrape_series" "$cpu_all_per_1k" "$rps" "$wrk_us" "$xact_per_scrape"
  result[$name.cpu_series]=$cpu_per_scrape_series
  result[$name.p50]=$p50
}

measure dbcanary "$dbcanary_pid" "$DBCANARY_LISTEN_PORT" civetweb-
measure postgres_exporter "$pg_exporter_pid" "$pg_exporter_port"
measure redis_exporter "$redis_exporter_pid" "$redis_exporter_port"
result[libpq_floor.rss]=$(rss_kib "$floor_pid")
result[libpq_floor.pss]=$(pss_kib "$floor_pid")
result[libpq_floor.uss]=$(uss_kib "$floor_pid")
result[libpq_floor.threads]=$(threads "$floor_pid")

echo
echo "memory (KiB; idle = before the scrapes, load = after them and wrk)"
printf '%-18s %4s %9s %9s %9s %9s %9s %9s\n' process thr rss_idle rss_load pss_idle pss_load uss_idle uss_load
for name in dbcanary postgres_exporter redis_exporter; do
  printf '%-18s %4s %9s %9s %9s %9s %9s %9s\n' "$name" "${result[$name.threads]}" "${result[$name.rss_idle]}" \
    "${result[$name.rss]}" "${result[$name.pss_idle]}" "${result[$name.pss]}" "${result[$name.uss_idle]}" "${result[$name.uss]}"
done
printf '%-18s %4s %9s %9s %9s %9s %9s %9s\n' libpq_floor "${result[libpq_floor.threads]}" "${result[libpq_floor.rss]}" - \
  "${result[libpq_floor.pss]}" - "${result[libpq_floor.uss]}" -
echo
echo "dbcanary resident memory by mapping, after load (KiB: rss uss name):"
smaps_breakdown "$dbcanary_pid"
echo "dbcanary after load: $(rss_split "$dbcanary_pid" "$floor_pid")"
echo "libpq_floor resident memory by mapping (KiB: rss uss name):"
smaps_breakdown "$floor_pid" 8

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
echo "  libpq_floor RSS vs lightest peer:        $(ratio "${result[libpq_floor.rss]}" "$lightest_rss")" \
  "(the least any exporter on Debian's libpq + OpenSSL 3 can reach)"
echo "  dbcanary RSS above the libpq floor:      $((result[dbcanary.rss] - result[libpq_floor.rss])) KiB"
echo "  cpu_s/1k, cpu_us/scr/ser, wrk_us/req: schedstat CPU of dbcanary's serving threads (civetweb-*) and of all"
echo "  the peers' threads, minus each one's own CPU over an equal idle window; cpu_all/1k: utime+stime of every"
echo "  thread (10 ms ticks), minus the idle window: for dbcanary mostly noise from its probes running meanwhile."
echo "  p50 scrape latency vs postgres_exporter: $(ratio "${result[dbcanary.p50]}" "${result[postgres_exporter.p50]}")"
echo "  db_xact/scr: primary transactions during the scrapes minus those of an equal idle window, per scrape."
echo "machine after: $(uptime | sed 's/^ *//')"
echo
echo "stack left running in $DBCANARY_STACK_DIR (stop: DBCANARY_STACK_DIR=$DBCANARY_STACK_DIR deploy/local/stack.sh down)"
