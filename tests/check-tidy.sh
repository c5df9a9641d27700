#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy: bugprone-*, performance-*, a few readability-*) with warnings as
# errors. Default: the lower layers and the two runtimes (core, config, clients, probes/runtime,
# drills/runtime), which every probe and drill builds on and which fit CI's time on two cores;
# --all: every C++ source of the product. Needs a configured build directory (compile commands).
# Usage: tests/check-tidy.sh BUILD_DIR [--all]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:?usage: tests/check-tidy.sh BUILD_DIR [--all]}
scope='/(core|config|clients|probes/runtime|drills/runtime)/[^/]*\.cc$'
[ "${2:-}" = --all ] && scope='/(core|config|clients|probes|drills|exporter)/.*\.cc$'
[ -f "$build_dir/compile_commands.json" ] || { echo "check-tidy: no $build_dir/compile_commands.json" >&2; exit 1; }
root=$(pwd)
log=$(mktemp)
# run-clang-tidy exits non-zero when any file has a finding (WarningsAsErrors: '*').
# GCC-only flags in the compile commands (-Wno-restrict, see CMakeLists.txt) are not clang's.
if run-clang-tidy -p "$build_dir" -j "$(nproc)" -quiet -extra-arg=-Wno-unknown-warning-option "$root$scope" >"$log" 2>&1; then
  echo "check-tidy: $(grep -c "^clang-tidy" "$log" || true) files, no finding"
else
  sed -e 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '(warning|error):' | grep -v 'warnings generated' | sort -u
  echo "check-tidy: findings above (full log: $log)"
  exit 1
fi
