#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

// Pure parts shared by the benchmark drills: a latency histogram and the regression baseline.

namespace dbcanary {

// An HDR-style latency histogram in nanoseconds: exact below 128 ns, then 64 linear
// sub-buckets per power of two, so every recorded value is kept within 1/64 (1.6 %) of its
// true value. Fixed memory (~30 KB), O(1) recording; histograms of several threads merge.
class LatencyHistogram {
 public:
  LatencyHistogram();

  void Record(uint64_t nanoseconds);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // The value at quantile q in [0, 1] (nearest rank), in seconds; 0 when empty. Never
  // outside [min, max] of the recorded values.
  double QuantileSeconds(double q) const;
  double MeanSeconds() const;
  double MaxSeconds() const { return static_cast<double>(max_) * 1e-9; }

  // Bucket arithmetic, exposed for tests.
  static size_t BucketOf(uint64_t nanoseconds);
  static uint64_t BucketLow(size_t bucket);
  static uint64_t BucketWidth(size_t bucket);

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

// The throughput of the last runs of one benchmark path, for max_regression: the median of
// at most `keep` previous values. Seeded from params (`baseline:`) at construction.
class RegressionBaseline {
 public:
  explicit RegressionBaseline(size_t keep = 5) : keep_(keep) {}

  void Add(double value);
  // Median of the kept values; nullopt when none.
  std::optional<double> Median() const;
  size_t size() const { return values_.size(); }

 private:
  size_t keep_;
  std::deque<double> values_;
};

// How much slower `observed` is than `baseline`: 0.25 means 25 % below; negative when faster.
double RegressionFraction(double observed, double baseline);

}  // namespace dbcanary
