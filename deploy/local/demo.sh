#!/usr/bin/env bash
# One command demo: installs what is needed, builds dbcanary, brings up the local
# platform stack (PostgreSQL primary + 2 sync standbys with TLS, 5 PgBouncer poolers,
# redis master + replica) and runs the exporter in the foreground. Ctrl-C stops the
# exporter; `deploy/local/stack.sh down` stops the stack. On a new stack the benchmark drills
# run once in the background, so that `dbcanary validate` has performance figures at once.
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir=${DBCANARY_BUILD_DIR:-build-release}
deploy/local/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DDBCANARY_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target dbcanary
deploy/local/stack.sh up
stack_dir=${DBCANARY_STACK_DIR:-/tmp/dbcanary-stack}
port=${DBCANARY_LISTEN_PORT:-9750}
echo
echo "dbcanary: scrape http://127.0.0.1:${port}/metrics   (status page: http://127.0.0.1:${port}/)"
echo
bin=$build_dir/exporter/dbcanary
config=$stack_dir/dbcanary.yaml
"$bin" serve --config "$config" &
serve=$!
trap 'kill -TERM "$serve" 2>/dev/null || true' INT TERM
# validate's Performance group reads the benchmark drills' last runs, which the stack schedules
# nightly: on a new stack, run each once now, beside the exporter (it serves meanwhile).
if ! compgen -G "$stack_dir/reports/pg_benchmark/*.json" >/dev/null ||
   ! compgen -G "$stack_dir/reports/dragonfly_benchmark/*.json" >/dev/null; then
  log=$stack_dir/first-benchmarks.log
  echo "dbcanary: first run on this stack: the benchmark drills run once in the background (log: $log)"
  (
    sleep 5  # the exporter's own start-up cleanup holds the drill lock briefly
    for drill in pg_benchmark dragonfly_benchmark; do
      "$bin" drill --config "$config" "$drill" || true
    done
  ) >"$log" 2>&1 &
fi
wait "$serve"
