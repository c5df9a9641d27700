#!/usr/bin/env bash
# Scale benchmark: the local stack's targets (PostgreSQL cluster, poolers, Dragonfly) repeated N
# times under distinct names in one config, all pointing at the same servers. For each N prints
# probes, series, the exporter's CPU (% of one core, probes running, no scrapes), RSS, scrape
# latency p50/p99 (scrapes at 10/s while the probes run), CPU per scrape, and the runs skipped
# because a probe fell behind its interval. A benchmark, not a test: it never fails on a number.
#
#   tests/bench/scale_bench.sh [N...]          (default 1 10 25 50; needs a built dbcanary)
#   DBCANARY_BIN=/path/to/dbcanary             (default build/exporter/dbcanary; measure a Release build)
#   SCALE_WARMUP=20 SCALE_WINDOW=30 SCALE_SCRAPES=200   (seconds, seconds, scrapes)
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${DBCANARY_BIN:-build/exporter/dbcanary}
export DBCANARY_STACK_DIR=${DBCANARY_BENCH_STACK_DIR:-/tmp/dbcanary-bench-stack}
export DBCANARY_STACK_PORT_BASE=${DBCANARY_BENCH_PORT_BASE:-18400}
listen_port=$((DBCANARY_STACK_PORT_BASE + 93))
warmup=${SCALE_WARMUP:-20}
window=${SCALE_WINDOW:-30}
scrapes=${SCALE_SCRAPES:-200}
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 10 25 50)

[ -x "$bin" ] || { echo "scale_bench: build dbcanary first ($bin missing)" >&2; exit 2; }
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "scale_bench: $tool missing (deploy/local/install-deps.sh)" >&2; exit 2; }
done

echo "machine: $(nproc) CPUs; $(uptime | sed 's/^ *//')"
echo "dbcanary: $bin ($("$bin" --version 2>/dev/null | head -1)); warm-up ${warmup}s, idle window ${window}s, $scrapes scrapes at 10/s"
deploy/local/stack.sh up >/dev/null
work=$DBCANARY_STACK_DIR/scale
mkdir -p "$work"
pid=
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

# The stack's config with every cluster, pooler and Dragonfly repeated N times (-rN names),
# without drills, listening on its own port.
make_config() {
  python3 - "$DBCANARY_STACK_DIR/dbcanary.yaml" "$1" "$listen_port" >"$work/dbcanary-$1.yaml" <<'PY'
import copy, sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
n, port = int(sys.argv[2]), sys.argv[3]
config.pop("drills", None)
config["exporter"]["listen_address"] = f"127.0.0.1:{port}"
config["exporter"]["log"] = {"format": "text", "level": "warn"}
clusters, poolers, dragonflies = [], [], []
for i in range(1, n + 1):
    for cluster in config["postgres"]["clusters"]:
        c = copy.deepcopy(cluster); c["name"] = f"{cluster['name']}-r{i}"; clusters.append(c)
    for pooler in config.get("poolers", []):
        p = copy.deepcopy(pooler); p["name"] = f"{pooler['name']}-r{i}"
        p["cluster"] = f"{pooler['cluster']}-r{i}"; poolers.append(p)
    for dragonfly in config.get("dragonfly", []):
        d = copy.deepcopy(dragonfly); d["name"] = f"{dragonfly['name']}-r{i}"
        d["key_prefix"] = f"{dragonfly.get('key_prefix', 'dbcanary:')}r{i}:"; dragonflies.append(d)
config["postgres"]["clusters"] = clusters
config["poolers"] = poolers
config["dragonfly"] = dragonflies
yaml.safe_dump(config, sys.stdout, sort_keys=False)
PY
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# Sum of one family's samples on a /metrics body.
family_sum() { awk -v f="$1" '$1 ~ "^"f"[{ ]" || $1 == f {s += $NF} END {printf "%.0f", s}' <<<"$2"; }

hz=$(getconf CLK_TCK)
printf '\n%4s %6s %7s %8s %8s %8s %8s %8s %11s %8s %8s\n' N probes series cpu_%core rss_MiB hwm_MiB \
  p50_ms p99_ms cpu_ms/scr skipped failed
for n in "${counts[@]}"; do
  make_config "$n"
  "$bin" serve --config "$work/dbcanary-$n.yaml" 2>"$work/dbcanary-$n.log" &
  pid=$!
  url="http://127.0.0.1:$listen_port/metrics"
  for _ in $(seq 100); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
  sleep "$warmup"
  body=$(curl -s "$url")
  skipped_before=$(family_sum dbcanary_probe_skipped_total "$body")
  # Probes running, nobody scraping.
  ticks_before=$(cpu_ticks "$pid")
  sleep "$window"
  ticks_after=$(cpu_ticks "$pid")
  cpu=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v w="$window" 'BEGIN {printf "%.1f", t / hz / w * 100}')
  # Scrapes at 10/s while the probes keep running: latency, and CPU above the idle rate.
  ticks_before=$(cpu_ticks "$pid")
  started=$EPOCHREALTIME
  latencies=$(for _ in $(seq "$scrapes"); do
    curl -s -o /dev/null -w '%{time_total}\n' "$url"; sleep 0.1
  done | sort -n)
  elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')
  ticks_after=$(cpu_ticks "$pid")
  per_scrape=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" -v e="$elapsed" -v c="$cpu" -v n="$scrapes" \
    'BEGIN {x = (t / hz - e * c / 100) / n * 1000; if (x < 0) x = 0; printf "%.2f", x}')
  p50=$(awk -v n="$scrapes" 'NR == int(n * 0.50 + 0.5) {printf "%.2f", $1 * 1000}' <<<"$latencies")
  p99=$(awk -v n="$scrapes" 'NR == int(n * 0.99 + 0.5) {printf "%.2f", $1 * 1000}' <<<"$latencies")
  body=$(curl -s "$url")
  series=$(grep -cv '^#' <<<"$body")
  probes=$(family_sum dbcanary_exporter_probes "$body")
  skipped=$(($(family_sum dbcanary_probe_skipped_total "$body") - skipped_before))
  failed=$(grep -c '^dbcanary_probe_success{.*} 0$' <<<"$body" || true)
  printf '%4s %6s %7s %8s %8s %8s %8s %8s %11s %8s %8s\n' "$n" "$probes" "$series" "$cpu" \
    "$(awk -v k="$(rss_kib "$pid")" 'BEGIN {printf "%.1f", k / 1024}')" \
    "$(awk -v k="$(hwm_kib "$pid")" 'BEGIN {printf "%.1f", k / 1024}')" \
    "$p50" "$p99" "$per_scrape" "$skipped" "$failed"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
echo
echo "cpu_%core: utime+stime over the idle window (10 ms ticks); cpu_ms/scr: CPU during the scrapes"
echo "minus the idle rate, per scrape (noisy: the probes keep running); skipped: runs skipped over"
echo "the idle and scrape windows; failed: probes whose last run failed at the end (the copies share"
echo "one set of servers and tables)."
echo "machine after: $(uptime | sed 's/^ *//')"
echo "stack left running in $DBCANARY_STACK_DIR (stop: DBCANARY_STACK_DIR=$DBCANARY_STACK_DIR deploy/local/stack.sh down)"
