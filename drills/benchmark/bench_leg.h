#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/deadline.h"
#include "core/metric.h"
#include "drills/benchmark/bench_stats.h"
#include "drills/drill.h"

// The skeleton both benchmark drills share around their load generators. A leg (a pg_benchmark
// path, a dragonfly_benchmark operation) deals its connections out to worker threads and runs
// them; then it reports its rate, latency percentiles and min/regression expectations alike.

namespace dbcanary::bench {

// Deals items[i] to group i % threads (threads >= 1), leaving out those `use` rejects.
template <typename T, typename Use>
std::vector<std::vector<T*>> DealOut(std::vector<T>& items, int threads, Use use) {
  std::vector<std::vector<T*>> groups(static_cast<size_t>(threads));
  for (size_t i = 0; i < items.size(); ++i) {
    if (use(items[i])) groups[i % groups.size()].push_back(&items[i]);
  }
  return groups;
}

// Runs every worker's Run(): the first on this thread, each other one on a thread of its own.
// Returns when all have returned.
template <typename Worker>
void RunWorkers(const std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<std::jthread> running;
  for (size_t i = 1; i < workers.size(); ++i) {
    running.emplace_back([worker = workers[i].get()] { worker->Run(); });
  }
  workers[0]->Run();
}

// Seconds from `start` to `last`, the leg's last completion (0 when none came after `start`).
double LegSeconds(SteadyClock::time_point start, SteadyClock::time_point last);
// `count` per second over `seconds`; 0 over no time.
double PerSecond(uint64_t count, double seconds);

// How a drill words its legs' one-line summary.
struct LegWording {
  const char* rate_unit;  // "tps"
  int rate_decimals;
  const char* done;      // what `done` counts: "committed"
  const char* failed;    // what `failed` counts: "failed"
  int latency_decimals;  // of the milliseconds
};

// "RATE UNIT, N DONE, M FAILED, latency p50 X ms p95 Y ms p99 Z ms, over S s": the phase detail,
// the evidence and the progress line of a leg.
std::string LegDetail(const LegWording& wording, double rate, uint64_t done, uint64_t failed,
                      const LatencyHistogram& latency, double seconds);

// family{labels..., percentile="50"|"95"|"99"}: the leg's latency percentiles in seconds.
void AddLatencyPercentiles(DrillResult& result, const std::string& family, const Labels& labels,
                           const LatencyHistogram& latency);

// The leg's plots for the report: series "rate" (completions in each second of the leg,
// x = the second's end, y = that second's count) and "latency" (x = percentile 0..100,
// y = seconds), both with `labels`.
void AddLegSeries(DrillResult& result, const Labels& labels, const char* rate_unit,
                  const std::vector<uint64_t>& per_second, const LatencyHistogram& latency);

// A leg's declared throughput targets.
struct ThroughputTargets {
  std::string min_check;  // passes when rate >= min
  double min = 0;
  std::string regression_check;  // passes when the rate is at most max_regression below the
  double max_regression = 0;     // median of the previous runs' (checked once there are some)
  // ParametersText of the run: shown beside the observed figures (checklist, status page).
  std::string parameters;
};

// Adds the leg's expectations on `target`, then records `rate` in `history` for the next run.
void ExpectThroughput(DrillResult& result, const std::string& target, double rate,
                      const ThroughputTargets& targets, RegressionBaseline& history);

}  // namespace dbcanary::bench
