#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) in their own build
# directory and runs each for SECONDS (default 20) from its seed corpus in tests/fuzz/corpus/.
# Exits non-zero when a target crashes, leaks, trips a sanitizer or an assertion; the crashing
# input is left in $DBCANARY_FUZZ_ARTIFACTS (default: <build dir>/artifacts) to become a unit test.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     e.g. tests/fuzz/run.sh 600 cron kube_json
# Environment: DBCANARY_FUZZ_BUILD_DIR (default build-fuzz), DBCANARY_FUZZ_JOBS (parallel
# fuzzing processes per target, default 1), DBCANARY_FUZZ_TIMEOUT (seconds one input may take
# before it counts as a hang, default 10: raise it on a host that is busy with other work),
# CMAKE_CXX_COMPILER_LAUNCHER (e.g. ccache).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/../.."

seconds=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
  targets=(config_loader exposition_escaping redis_info pgbouncer_rows kube_json cron)
build_dir=${DBCANARY_FUZZ_BUILD_DIR:-build-fuzz}
artifacts=${DBCANARY_FUZZ_ARTIFACTS:-$build_dir/artifacts}
jobs=${DBCANARY_FUZZ_JOBS:-1}
input_timeout=${DBCANARY_FUZZ_TIMEOUT:-10}

command -v clang++ >/dev/null || { echo "fuzz: clang++ not installed (deploy/local/install-deps.sh)" >&2; exit 1; }

launcher=()
[ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] ||
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")
# -O1 -g1: libFuzzer's usual flags, fast enough to explore and readable stacks.
cmake -S . -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -g1" -DDBCANARY_FUZZ=ON -DDBCANARY_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
build_targets=()
for target in "${targets[@]}"; do build_targets+=(--target "${target}_fuzzer"); done
cmake --build "$build_dir" -j"$(nproc)" "${build_targets[@]}"

mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)
build_dir=$(cd "$build_dir" && pwd)
root=$(pwd)
# -jobs=N makes libFuzzer run N processes, each logging to fuzz-<i>.log in the current
# directory: the targets run from the build directory, and only get -jobs when asked to.
parallel=()
[ "$jobs" -le 1 ] || parallel=(-jobs="$jobs" -workers="$jobs")
failed=()
for target in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/$target
  # New inputs go to a scratch corpus: the seed corpus in the repository stays as committed.
  work=$build_dir/corpus/$target
  mkdir -p "$work"
  log=$build_dir/$target.log
  printf 'fuzz: %-20s %3ss ... ' "$target" "$seconds"
  # rss_limit 2 GB, 10 s per input (by default): a hang or a runaway allocation is a finding too.
  rm -f "$build_dir"/fuzz-*.log
  if (cd "$build_dir" && exec "tests/fuzz/${target}_fuzzer" "$work" "$root/$seeds" \
      -max_total_time="$seconds" -timeout="$input_timeout" -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts/${target}-" "${parallel[@]}") \
      >"$log" 2>&1; then
    job_logs=("$build_dir"/fuzz-*.log)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" "${job_logs[@]}" |
      awk '{s+=$1} END {print s+0}')
    echo "ok ($runs executions, corpus $(ls "$work" | wc -l) inputs)"
  else
    job_logs=("$build_dir"/fuzz-*.log)
    echo "FAILED (log: $log)"
    cat "$log" "${job_logs[@]}" |
      grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*Assertion|artifact_prefix|Test unit written)' |
      head -20 || true
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs under $artifacts)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
