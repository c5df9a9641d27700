#include "drills/benchmark/bench_leg.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "core/humanize.h"

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

void AddLegSeries(DrillResult& result, const Labels& labels, const char* rate_unit,
                  const std::vector<uint64_t>& per_second, const LatencyHistogram& latency) {
  DrillSeries rate{"rate", labels, "s since the leg's start", rate_unit, {}};
  for (size_t i = 0; i < per_second.size(); ++i) {
    rate.points.emplace_back(static_cast<double>(i + 1), static_cast<double>(per_second[i]));
  }
  result.series.push_back(std::move(rate));
  if (latency.count() == 0) return;
  DrillSeries distribution{"latency", labels, "percentile", "s", {}};
  for (double percentile : {0.0, 1.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0,
                            95.0, 99.0, 99.9, 100.0}) {
    distribution.points.emplace_back(percentile, latency.QuantileSeconds(percentile / 100));
  }
  result.series.push_back(std::move(distribution));
}

void ExpectThroughput(DrillResult& result, const std::string& target, double rate,
                      const ThroughputTargets& targets, RegressionBaseline& history) {
  const std::string context = targets.parameters.empty() ? "" : " [" + targets.parameters + "]";
  auto minimum = ExpectNumber(targets.min_check, target, rate, ">=", targets.min);
  if (!context.empty()) minimum.observed_text = HumanRate(rate) + context;
  result.expectations.push_back(std::move(minimum));
  if (auto median = history.Median()) {
    const double fraction = RegressionFraction(rate, *median);
    auto regression =
        ExpectNumber(targets.regression_check, target, fraction, "<=", targets.max_regression);
    if (!context.empty()) {
      regression.observed_text = HumanRatio(fraction) + " below the median of " +
                                 std::to_string(history.size()) + " earlier runs" + context;
    }
    result.expectations.push_back(std::move(regression));
  }
  history.Add(rate);
}

}  // namespace dbcanary::bench
