#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "drills/drill.h"
#include "drills/runtime/cron.h"
#include "drills/runtime/drill_lock.h"
#include "drills/runtime/state_store.h"

namespace dbcanary {

// One configured drill, built and ready to run.
struct ConfiguredDrill {
  DrillSettings settings;  // copied from the config (params shared)
  std::unique_ptr<Drill> drill;
  std::optional<CronSchedule> schedule;  // absent when no schedule is configured
  std::optional<TimeWindow> window;
};

// The drills of a config: every job's schedule and window parsed and its drill built through
// `registry`. Errors are kConfig and carry the key path ("FILE:L:C: drills.jobs.failover.
// schedule: minute field '61' out of range 0-59"). No `drills:` section: none.
Result<std::vector<ConfiguredDrill>> BuildDrills(const Config& config,
                                                 const DrillRegistry& registry);
// The lock of the config's `drills.lock` cluster; nullptr without a drills section.
std::unique_ptr<DrillLock> MakeDrillLock(const Config& config);
// The store's view of configured drills.
std::vector<DrillInfo> DrillInfos(const std::vector<ConfiguredDrill>& drills);

struct DrillSchedulerOptions {
  // A logger per drill (the daemon passes its redacting ProbeLogger("drill", name)).
  std::function<std::shared_ptr<spdlog::logger>(std::string_view drill)> make_logger;
};

// Fires enabled drills by their cron schedule within their window, on its own thread (not
// the probe workers): one drill at a time, never two overlapping. On start, each enabled drill
// first cleans up what a killed run may have left (CleanUpLeftovers). Runs due while another one
// runs are not queued: the next time is computed afresh after each run.
class DrillScheduler {
 public:
  DrillScheduler(std::shared_ptr<const Config> config, std::vector<ConfiguredDrill> drills,
                 DrillStateStore& store, DrillSchedulerOptions options);
  ~DrillScheduler();
  DrillScheduler(const DrillScheduler&) = delete;
  DrillScheduler& operator=(const DrillScheduler&) = delete;

  void Start();
  // Requests stop (the running drill sees its stop token, then cleans up) and waits for
  // the thread. Idempotent.
  void Stop();

 private:
  void Loop(std::stop_token stop);
  void CleanUpAtStart(const std::stop_token& stop);

  std::shared_ptr<const Config> config_;
  std::vector<ConfiguredDrill> drills_;
  DrillStateStore& store_;
  DrillSchedulerOptions options_;
  std::unique_ptr<DrillLock> lock_;
  std::jthread thread_;
};

}  // namespace dbcanary
