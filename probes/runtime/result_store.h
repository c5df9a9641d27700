#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/metric.h"
#include "core/result.h"
#include "probes/probe.h"

namespace dbcanary {

// Identifies a probe across config generations: the same kind on the same target
// keeps its counters through a reload.
struct ProbeKey {
  std::string kind;
  std::string target;

  auto operator<=>(const ProbeKey&) const = default;
  // "<kind>/<target>", the name of the probe's logger.
  std::string Name() const { return kind + "/" + target; }
};

// Every ErrorCode a published run can fail with, in enum order: the pre-created values of the
// `reason` label. Not kStopped (last in the enum): a run stopped by a shutdown or reload is
// discarded by the scheduler, never published; one published anyway (a probe bug) counts as
// kInternal.
inline constexpr std::array kAllErrorCodes = {
    ErrorCode::kConfig,  ErrorCode::kConnect,    ErrorCode::kAuth,
    ErrorCode::kTimeout, ErrorCode::kQuery,      ErrorCode::kProtocol,
    ErrorCode::kTls,     ErrorCode::kUnexpected, ErrorCode::kInternal,
};

// What one config generation says about a probe. Immutable once built.
struct ProbeInfo {
  ProbeKey key;
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};
  std::vector<MetricDesc> descriptors;  // the probe's Describe(), copied at build time
};

struct ProbeCounters {
  uint64_t runs = 0;
  std::array<uint64_t, kAllErrorCodes.size()> failures{};  // indexed by ErrorCode
  uint64_t skipped = 0;
  std::optional<std::chrono::system_clock::time_point> last_success;
};

// One probe as a scrape sees it.
struct ProbeSnapshot {
  std::shared_ptr<const ProbeInfo> info;
  std::shared_ptr<const ProbeResult> latest;  // null until the probe's first run finishes
  ProbeCounters counters;
};

// The latest result and the counters of every configured probe. Writers (workers)
// and readers (scrapes) share one mutex that is held only to copy or swap pointers
// and a few integers; results are immutable once published.
class ResultStore {
 public:
  ResultStore();
  // Replaces the configured probe set (in config order). Keys present before keep
  // their latest result and counters; keys no longer configured are removed.
  void SetProbes(std::vector<std::shared_ptr<const ProbeInfo>> probes);
  // Records a finished run: the latest result, runs, failures by reason, last success.
  // Returns whether the result it replaces succeeded (nullopt: none yet), which lets
  // the caller log state changes across reloads. A key that is not configured
  // (dropped by a reload) is ignored.
  std::optional<bool> Publish(const ProbeKey& key, std::shared_ptr<const ProbeResult> result);
  // Counts a run that was due while the previous one was still queued or running.
  void CountSkipped(const ProbeKey& key);
  // Every configured probe, in config order.
  std::vector<ProbeSnapshot> Snapshot() const;
  // The same, with the generation it was taken at (see generation()).
  std::vector<ProbeSnapshot> Snapshot(uint64_t* generation) const;
  // Changes whenever anything Snapshot() returns changes (SetProbes, Publish,
  // CountSkipped): a /metrics render cache is valid while this stays equal. Values are
  // unique across all ResultStores of the process, so a cache cannot confuse two stores.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  void Bump();  // with mutex_ held

  mutable std::mutex mutex_;
  std::atomic<uint64_t> generation_;
  std::vector<ProbeSnapshot> probes_;
  std::map<ProbeKey, size_t> index_;
};

}  // namespace dbcanary
