#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/metric.h"
#include "drills/runtime/record.h"

namespace dbcanary {

// What the configuration says about one drill (fixed for a config generation).
struct DrillInfo {
  std::string name;  // the configured kind
  bool enabled = false;
  std::string schedule;  // cron text, may be empty
  std::string window;    // may be empty
  double timeout_seconds = 0;
  std::vector<MetricDesc> descriptors;  // the drill's Describe()
};

// The state of one drill as scrapes, the status page and `validate --drill` read it.
struct DrillState {
  DrillInfo info;
  bool running = false;
  std::optional<SystemTime> running_since;
  std::optional<SystemTime> next_run;       // absent when not scheduled
  std::shared_ptr<const DrillRecord> last;  // the last run (restored from its report at start-up)
  std::optional<SystemTime> last_success;
  std::array<uint64_t, kAllDrillOutcomes.size()> runs{};  // since start, by DrillOutcome
};

// Per-drill state, thread-safe. Writers: the drill scheduler and runner. Readers copy a
// snapshot (cheap: records are shared immutable pointers) and render without the lock.
class DrillStateStore {
 public:
  DrillStateStore();

  // Installs the drills of a config generation. State of drills that stay is kept; drills
  // that are new get their last run restored from the newest JSON report in reports_dir.
  void SetDrills(std::vector<DrillInfo> drills, std::string reports_dir);

  void SetRunning(const std::string& drill, bool running);
  void SetNextRun(const std::string& drill, std::optional<SystemTime> at);
  // Records a finished run: last run, last success, counters.
  void Record(std::shared_ptr<const DrillRecord> record);

  std::vector<DrillState> Snapshot() const;
  // The same, with the generation it was taken at (see generation()).
  std::vector<DrillState> Snapshot(uint64_t* generation) const;
  // Changes whenever anything Snapshot() returns changes: a /metrics render cache is
  // valid while this stays equal. Unique across the DrillStateStores of the process.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::optional<DrillState> Find(const std::string& drill) const;
  std::string reports_dir() const;
  // The last success of `drill` known right now (for the record being written).
  std::optional<SystemTime> LastSuccess(const std::string& drill) const;

 private:
  void Bump();  // with mutex_ held

  mutable std::mutex mutex_;
  std::atomic<uint64_t> generation_;
  std::string reports_dir_;
  std::vector<std::string> order_;  // config order
  std::map<std::string, DrillState> states_;
};

}  // namespace dbcanary
