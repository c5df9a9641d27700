#!/usr/bin/env bash
# Installs what is needed, builds dbcanary under ASan+UBSan, and runs every test on that
# build: unit tests, rule, coverage and deployment checks, and the integration tests against
# the real local stack (the exporter they start is the sanitized binary too). Then the threaded
# suites (scheduler, result store, HTTP server and TLS front, drill runner) under TSan, and each
# libFuzzer target for a bounded time. Exits non-zero on the first failing layer.
# Before building: the include layering and clang-format checks; after the unit tests, clang-tidy.
# Environment: DBCANARY_SANITIZE (default address,undefined; empty: a plain build),
# DBCANARY_TIDY (lower: the lower layers and runtimes, the default; all; 0 skips),
# DBCANARY_TSAN (default 1), DBCANARY_IMAGE (default 1: build the OCI image and smoke-test it;
# needs root and a Debian mirror), DBCANARY_FUZZ_SECONDS (per target, default 20; 0 skips fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
build_dir=${DBCANARY_BUILD_DIR:-build}
tsan_dir=${DBCANARY_TSAN_BUILD_DIR:-build-tsan}
fuzz_dir=${DBCANARY_FUZZ_BUILD_DIR:-build-fuzz}
sanitize=${DBCANARY_SANITIZE-address,undefined}
fuzz_seconds=${DBCANARY_FUZZ_SECONDS:-20}
started=$SECONDS

# A warning in a log fails the run: a fresh clone's build prints none, and new ones get fixed.
quiet_build_check() {
  if grep -n -i -E '(^|[^a-z_])warning( \(dev\))?:|CMake Warning' "$@"; then
    echo "run-all: the build printed the warnings above; fix them" >&2
    exit 1
  fi
}

step() { printf '\n==== [%4ss] %s ====\n' "$((SECONDS - started))" "$*"; }

# Sanitizer findings end the process with an error (the build uses -fno-sanitize-recover).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

step "dependencies"
deploy/local/install-deps.sh

step "source checks (layering of includes, clang-format)"
tests/check-layers.sh
tests/check-format.sh

step "build ($build_dir, sanitizers: ${sanitize:-none})"
# One build for every test: no optimisation (CI has two cores), -g1 for readable reports.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-g1 -DDBCANARY_WERROR=ON \
  -DDBCANARY_SANITIZE="$sanitize" 2>&1 | tee "$build_dir.configure.log" >/dev/null
cmake --build "$build_dir" -j"$jobs" 2>&1 | tee "$build_dir.log"
# -Werror stops on compiler warnings; this also catches what it does not cover (CMake's own,
# the linker's, a dependency's header warnings in a system include marked otherwise).
quiet_build_check "$build_dir.configure.log" "$build_dir.log"

step "unit tests"
ctest --test-dir "$build_dir" -L unit --output-on-failure -j"$jobs"

step "clang-tidy (lower layers and runtimes; DBCANARY_TIDY=all: everything, 0: skip)"
case "${DBCANARY_TIDY:-lower}" in
  0) echo "skipped" ;;
  all) tests/check-tidy.sh "$build_dir" --all ;;
  *) tests/check-tidy.sh "$build_dir" ;;
esac

step "alert rules (promtool check rules, promtool test rules, runbooks)"
tests/check-rules.sh

step "dashboard and alert coverage (every documented family and check)"
tests/check-coverage.sh

step "deployment files (kubectl kustomize renders, Dockerfile vs ldd)"
DBCANARY_BINARY="$build_dir/exporter/dbcanary" tests/check-deploy.sh

step "integration tests (real PostgreSQL, PgBouncer, redis on 127.0.0.1)"
export DBCANARY_REQUIRE_INTEGRATION=1
ctest --test-dir "$build_dir" -L integration --output-on-failure

step "screenshots of the HTML evidence pages ($build_dir/exporter/artifacts)"
tests/screenshots.sh "$build_dir/exporter/artifacts"

if [ "${DBCANARY_IMAGE:-1}" = 1 ]; then
  step "OCI image (mmdebstrap + umoci, Release binary) and its smoke test against a local stack"
  image_dir=${DBCANARY_IMAGE_DIR:-build-image}
  image=$(deploy/image/build-oci.sh --out "$image_dir" | tee /dev/stderr | tail -n 1)
  quiet_build_check "$image_dir/build-release.log"  # the Release build a user gets is quiet too
  tests/image-smoke.sh "$image"
fi

if [ "${DBCANARY_TSAN:-1}" = 1 ]; then
  step "build with TSan ($tsan_dir)"
  cmake -S . -B "$tsan_dir" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-g1 -DDBCANARY_WERROR=ON \
    -DDBCANARY_SANITIZE=thread 2>&1 | tee "$tsan_dir.configure.log" >/dev/null
  cmake --build "$tsan_dir" -j"$jobs" --target dbcanary_tsan_tests 2>&1 | tee "$tsan_dir.log"
  quiet_build_check "$tsan_dir.configure.log" "$tsan_dir.log"

  step "scheduler, result store, HTTP server, TLS front and drill runner tests under TSan"
  # Only the suites with threads of their own: the rest of the unit tests are single-threaded.
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$tsan_dir/tests/dbcanary_tsan_tests"
fi

if [ "$fuzz_seconds" != 0 ]; then
  step "fuzzing (libFuzzer, ${fuzz_seconds}s per target)"
  DBCANARY_FUZZ_BUILD_DIR="$fuzz_dir" tests/fuzz/run.sh "$fuzz_seconds"
fi

step "all tests passed"
