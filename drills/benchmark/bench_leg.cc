#include "drills/benchmark/bench_leg.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

namespace dbcanary::bench {

double LegSeconds(SteadyClock::time_point start, SteadyClock::time_point last) {
  return std::chrono::duration<double>(std::max(last, start) - start).count();
}

double PerSecond(uint64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

std::string LegDetail(const LegWording& wording, double rate, uint64_t done, uint64_t failed,
                      const LatencyHistogram& latency, double seconds) {
  const int ms = wording.latency_decimals;
  char detail[256];
  std::snprintf(detail, sizeof(detail),
                "%.*f %s, %llu %s, %llu %s, latency p50 %.*f ms p95 %.*f ms p99 %.*f ms, over "
                "%.2f s",
                wording.rate_decimals, rate, wording.rate_unit,
                static_cast<unsigned long long>(done), wording.done,
                static_cast<unsigned long long>(failed), wording.failed, ms,
                latency.QuantileSeconds(0.5) * 1e3, ms, latency.QuantileSeconds(0.95) * 1e3, ms,
                latency.QuantileSeconds(0.99) * 1e3, seconds);
  return detail;
}

void AddLatencyPercentiles(DrillResult& result, const std::string& family, const Labels& labels,
                           const LatencyHistogram& latency) {
  for (const auto& [q, text] :
       {std::pair{0.5, "50"}, std::pair{0.95, "95"}, std::pair{0.99, "99"}}) {
    // Not `quantile`: Prometheus reserves that label for summaries (promtool rejects it).
    Labels with_quantile = labels;
    with_quantile.emplace_back("percentile", text);
    result.Add(family, with_quantile, latency.QuantileSeconds(q));
  }
}

void ExpectThroughput(DrillResult& result, const std::string& target, double rate,
                      const ThroughputTargets& targets, RegressionBaseline& history) {
  result.expectations.push_back(ExpectNumber(targets.min_check, target, rate, ">=", targets.min));
  if (auto median = history.Median()) {
    result.expectations.push_back(ExpectNumber(targets.regression_check, target,
                                               RegressionFraction(rate, *median),
                                               "<=", targets.max_regression));
  }
  history.Add(rate);
}

}  // namespace dbcanary::bench
