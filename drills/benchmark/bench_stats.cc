#include "drills/benchmark/bench_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dbcanary {
namespace {

constexpr size_t kExact = 128;                          // values below are their own bucket
constexpr size_t kSubBuckets = 64;                      // linear sub-buckets per power of two above
constexpr size_t kBuckets = kExact + 58 * kSubBuckets;  // covers all of uint64_t

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

size_t LatencyHistogram::BucketOf(uint64_t v) {
  if (v < kExact) return static_cast<size_t>(v);
  const int msb = 63 - std::countl_zero(v);  // >= 7
  const int shift = msb - 6;                 // keeps the top 7 bits: 64..127
  const uint64_t mantissa = v >> shift;
  return kExact + static_cast<size_t>(shift - 1) * kSubBuckets +
         static_cast<size_t>(mantissa - kSubBuckets);
}

uint64_t LatencyHistogram::BucketLow(size_t bucket) {
  if (bucket < kExact) return bucket;
  const size_t shift = (bucket - kExact) / kSubBuckets + 1;
  const uint64_t mantissa = (bucket - kExact) % kSubBuckets + kSubBuckets;
  return mantissa << shift;
}

uint64_t LatencyHistogram::BucketWidth(size_t bucket) {
  if (bucket < kExact) return 1;
  return uint64_t{1} << ((bucket - kExact) / kSubBuckets + 1);
}

void LatencyHistogram::Record(uint64_t nanoseconds) {
  ++buckets_[BucketOf(nanoseconds)];
  ++count_;
  min_ = std::min(min_, nanoseconds);
  max_ = std::max(max_, nanoseconds);
  sum_ += static_cast<long double>(nanoseconds);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double LatencyHistogram::QuantileSeconds(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t middle = BucketLow(i) + BucketWidth(i) / 2;
      return static_cast<double>(std::clamp(middle, min_, max_)) * 1e-9;
    }
  }
  return static_cast<double>(max_) * 1e-9;
}

double LatencyHistogram::MeanSeconds() const {
  if (count_ == 0) return 0;
  return static_cast<double>(sum_ / static_cast<long double>(count_)) * 1e-9;
}

void RegressionBaseline::Add(double value) {
  if (!std::isfinite(value) || keep_ == 0) return;
  values_.push_back(value);
  while (values_.size() > keep_) values_.pop_front();
}

std::optional<double> RegressionBaseline::Median() const {
  if (values_.empty()) return std::nullopt;
  std::vector<double> sorted(values_.begin(), values_.end());
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

double RegressionFraction(double observed, double baseline) {
  if (baseline <= 0) return 0;
  return 1.0 - observed / baseline;
}

}  // namespace dbcanary
