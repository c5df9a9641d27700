#!/usr/bin/env bash
# Web endpoint abuse benchmark (not a test: it never fails on a number). Starts dbcanary with
# basic auth (one user, bcrypt cost 10) and prints the latency of an authorised scrape
# (GET /metrics, credentials already verified, as a running Prometheus's are):
#   idle            nothing else going on
#   abuse           50 slow clients (each drips its request head, one byte a second, and
#                   reconnects when closed) plus 50 bad-credential clients (each its own wrong
#                   password, requests back to back)
#   reloads+drill   10 POST /-/reload (100 ms apart) while a drill runs (only with a local stack:
#                   a dragonfly_benchmark drill scheduled every minute; waits for it to start)
# with p50, p99, max and how many scrapes were not answered 200, then the exporter's counters.
#
#   tests/bench/web_abuse_bench.sh [SCRAPES]        (default 300 per phase)
#   DBCANARY_BIN=/path/to/dbcanary                  (default build/exporter/dbcanary)
#   DBCANARY_STACK_DIR=/tmp/dbcanary-test-stack-N   a running stack (deploy/local/stack.sh up):
#                                                   adds the reloads+drill phase
set -euo pipefail
cd "$(dirname "$0")/../.."

scrapes=${1:-300}
bin=${DBCANARY_BIN:-build/exporter/dbcanary}
[ -x "$bin" ] || { echo "web_abuse_bench: build dbcanary first ($bin missing)" >&2; exit 2; }
python=/usr/bin/python3
[ -x "$python" ] || python=python3

work=$(mktemp -d /tmp/dbcanary-web-bench-XXXXXX)
pid=
abuser=
cleanup() {
  for p in $abuser $pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "machine: $(nproc) CPUs; $(uptime | sed 's/^ *//')"
echo "dbcanary: $bin ($("$bin" --version 2>/dev/null | head -1))"

password=bench-$RANDOM$RANDOM
hash=$("$python" -W ignore -c 'import crypt, sys
print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10)))' "$password")
printf 'basic_auth_users:\n  prometheus: %s\n' "$hash" >"$work/web.yml"

config=$work/dbcanary.yaml
drill_phase=0
if [ -n "${DBCANARY_STACK_DIR:-}" ] && [ -f "$DBCANARY_STACK_DIR/dbcanary.yaml" ]; then
  # The stack's config with its drills replaced by one cheap drill that fires every minute and
  # runs for 40 s, so that the reloads below find it running.
  sed '/^drills:/,$d' "$DBCANARY_STACK_DIR/dbcanary.yaml" >"$config"
  cat >>"$config" <<DRILLS
drills:
  reports_dir: $work/reports
  lock: { cluster: shared-postgres, ttl: 30s }
  jobs:
    dragonfly_benchmark:
      enabled: true
      schedule: "* * * * *"
      timeout: 2m
      dragonfly: dragonfly
      connections: 2
      duration: 40s
      keyspace: 100
DRILLS
  set -a; . "$DBCANARY_STACK_DIR/stack.env"; set +a
  drill_phase=1
else
  printf 'exporter:\n  workers: 2\n' >"$config"
  echo "(no DBCANARY_STACK_DIR: the reloads+drill phase is skipped)"
fi

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --config "$config" --web.listen-address "127.0.0.1:$port" \
  --web.config.file "$work/web.yml" 2>"$work/dbcanary.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

cat >"$work/client.py" <<'PY'
# MODE measure: authorised scrapes, one at a time, from this process alone (the abusive
# clients run in another process: they would hold the GIL against the measuring thread).
# MODE abuse: 50 slow + 50 bad-credential clients until killed; prints counts on SIGTERM.
# MODE reload-drill: waits for the drill to run, then 10 concurrent reloads while measuring.
import base64, os, signal, socket, sys, threading, time

mode, port, password, scrapes = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
right = "Basic " + base64.b64encode(f"prometheus:{password}".encode()).decode()

def request(method, path, auth=None, extra="", timeout=30.0):
    """One HTTP/1.0 request on a new connection: (status or 0, seconds, body)."""
    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            head = f"{method} {path} HTTP/1.0\r\nHost: x\r\n"
            if auth:
                head += f"Authorization: {auth}\r\n"
            s.sendall((head + extra + "\r\n").encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        return status, time.monotonic() - start, data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")
    except OSError:
        return 0, time.monotonic() - start, ""

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")

def measure(name):
    times, failed = [], 0
    for _ in range(scrapes):
        status, took, _ = request("GET", "/metrics", right)
        if status == 200:
            times.append(took)
        else:
            failed += 1
        time.sleep(0.01)
    ms = lambda v: f"{v * 1000:8.2f}"
    print(f"{name:<14} scrapes {scrapes:4d}  p50 {ms(pct(times, 50))} ms  p99 {ms(pct(times, 99))} ms"
          f"  max {ms(max(times) if times else float('nan'))} ms  not 200: {failed}", flush=True)

def sample(body, series):
    for line in body.splitlines():
        if line.startswith(series + " "):
            return line.split()[-1]
    return "absent"

if mode == "measure":
    request("GET", "/metrics", right)  # verified once, then cached, like a running Prometheus
    measure(sys.argv[5])
elif mode == "abuse":
    stop = threading.Event()
    counts = {"slow_reconnects": 0, "bad_401": 0, "bad_503": 0, "bad_other": 0}
    lock = threading.Lock()
    def slow_client():
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    s.sendall(b"GET /metrics HTTP/1.1\r\n")
                    while not stop.wait(1.0):
                        s.sendall(b"X")
            except OSError:
                with lock:
                    counts["slow_reconnects"] += 1
                stop.wait(0.2)
    def bad_client(i):
        bad = "Basic " + base64.b64encode(f"prometheus:wrong-{i}".encode()).decode()
        while not stop.is_set():
            status, _, _ = request("GET", "/metrics", bad)
            key = "bad_401" if status == 401 else "bad_503" if status == 503 else "bad_other"
            with lock:
                counts[key] += 1
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=slow_client, daemon=True) for _ in range(50)]
    threads += [threading.Thread(target=bad_client, args=(i,), daemon=True) for i in range(50)]
    for t in threads:
        t.start()
    while not stop.wait(0.2):
        pass
    print(f"               abuse clients: {counts}", flush=True)
elif mode == "reload-drill":
    print("waiting for the drill to run (it fires at the start of a minute)...", flush=True)
    deadline = time.monotonic() + 130
    while time.monotonic() < deadline:
        _, _, body = request("GET", "/metrics", right)
        if sample(body, 'dbcanary_drill_running{drill="dragonfly_benchmark"}') == "1":
            break
        time.sleep(0.5)
    else:
        print("the drill did not start; reloads+drill phase skipped")
        sys.exit(0)
    results = []
    def reload(i):
        time.sleep(0.1 * i)  # spread over the first second of the measuring client's scrapes
        status, took, _ = request("POST", "/-/reload", right, "X-Dbcanary-Reload: 1\r\n")
        results.append((status, took))
    reloaders = [threading.Thread(target=reload, args=(i,)) for i in range(10)]
    for t in reloaders:
        t.start()
    for t in reloaders:
        t.join()
    print(f"               10 reloads: statuses {sorted(s for s, _ in results)}, "
          f"slowest {max(t for _, t in results) * 1000:.1f} ms", flush=True)
elif mode == "counters":
    _, _, body = request("GET", "/metrics", right)
    for series in ("dbcanary_web_connections_rejected_total",
                   'dbcanary_config_reloads_total{result="success"}',
                   'dbcanary_drill_running{drill="dragonfly_benchmark"}'):
        print(f"{series} {sample(body, series)}")
PY
client() { "$python" "$work/client.py" "$1" "$port" "$password" "$scrapes" "${2:-}"; }

client measure idle
# The abusive clients run at nice 19 in their own process: on this one host their own CPU
# (Python, ~100 threads) would otherwise compete with the measuring client and the exporter,
# which it does not when they are elsewhere on the network. What they make dbcanary do is
# measured in full. (exec: $! is python itself, so that TERM reaches it.)
nice -n 19 "$python" "$work/client.py" abuse "$port" "$password" "$scrapes" &
abuser=$!
sleep "${DBCANARY_BENCH_WARMUP:-3}"  # every abusive client connected, bad credentials checked
client measure abuse
kill -TERM "$abuser"; wait "$abuser" || true
abuser=
if [ "$drill_phase" = 1 ]; then
  client reload-drill &
  reloader=$!
  # The scrapes start with the reloads: the reloading client waits for the drill first.
  while kill -0 "$reloader" 2>/dev/null; do
    client counters | grep -q 'drill_running{drill="dragonfly_benchmark"} 1' && break
    sleep 0.5
  done
  client measure reloads+drill
  wait "$reloader" || true
fi
client counters
echo "dbcanary log (warnings and errors):"
grep -E ' (warn|error) ' "$work/dbcanary.log" | head -10 || true
