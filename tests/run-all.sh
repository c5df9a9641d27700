#!/usr/bin/env bash
# Installs what is needed, builds dbcanary, and runs every test: unit tests, the
# integration tests against the real local stack, and the same unit tests under
# ASan+UBSan. Exits non-zero on the first failing layer.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
build_dir=${DBCANARY_BUILD_DIR:-build}
asan_dir=${DBCANARY_ASAN_BUILD_DIR:-build-asan}

step() { printf '\n==== %s ====\n' "$*"; }

step "dependencies"
deploy/local/install-deps.sh

step "build ($build_dir)"
# No optimisation and no debug info: tests need neither, and CI has two cores.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=None -DDBCANARY_WERROR=ON >/dev/null
cmake --build "$build_dir" -j"$jobs"

step "unit tests"
ctest --test-dir "$build_dir" -L unit --output-on-failure -j"$jobs"

step "alert rules (promtool check rules, promtool test rules, runbooks)"
tests/check-rules.sh

step "integration tests (real PostgreSQL, PgBouncer, redis on 127.0.0.1)"
export DBCANARY_REQUIRE_INTEGRATION=1
ctest --test-dir "$build_dir" -L integration --output-on-failure

step "build with ASan+UBSan ($asan_dir)"
cmake -S . -B "$asan_dir" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-g1 -DDBCANARY_WERROR=ON \
  -DDBCANARY_SANITIZE=address,undefined >/dev/null
cmake --build "$asan_dir" -j"$jobs" --target dbcanary_unit_tests

step "unit tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$asan_dir" -L unit --output-on-failure -j"$jobs"

step "all tests passed"
