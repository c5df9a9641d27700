#!/usr/bin/env bash
# One command demo: installs what is needed, builds dbcanary, brings up the local
# platform stack (PostgreSQL primary + 2 sync standbys with TLS, 5 PgBouncer poolers,
# redis master + replica) and runs the exporter in the foreground. Ctrl-C stops the
# exporter; `deploy/local/stack.sh down` stops the stack.
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
exec "$build_dir/exporter/dbcanary" serve --config "$stack_dir/dbcanary.yaml"
