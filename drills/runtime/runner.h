#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "drills/drill.h"
#include "drills/runtime/drill_lock.h"
#include "drills/runtime/record.h"
#include "drills/runtime/state_store.h"

namespace dbcanary {

struct DrillRunOptions {
  std::string name;                                             // the drill's configured kind
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};  // for Run()
  // Budget of each CleanUp call (before and after the run), independent of the timeout:
  // cleaning up after a timed-out run must still be possible.
  std::chrono::milliseconds cleanup_budget{std::chrono::minutes(2)};
  // Budget of CheckPreconditions.
  std::chrono::milliseconds preconditions_budget{std::chrono::seconds(30)};
  DrillLock* lock = nullptr;  // nullptr: no lock (unit tests)
  std::string reports_dir;    // empty: no report written
  int keep_reports = 20;
  DrillStateStore* store = nullptr;                // optional: running flag and the recorded result
  std::function<void(std::string_view)> progress;  // optional; also logged at info
  spdlog::logger* log = nullptr;                   // required
  std::stop_token stop;                            // shutdown or reload
  std::vector<std::string> command_env;            // drills.command_env: passed to commands
};

// One run of `drill`: take the drill lock (held elsewhere: "refused") -> CheckPreconditions
// (refusing: "refused" with its reason; nothing is touched) -> CleanUp -> Run under the timeout
// (ctx.stop fires at the deadline, on shutdown and when the lease is lost) -> CleanUp again
// whatever happened -> release the lock -> redact -> write the report -> record in the store.
// A lost lease ends the run "error" with the reason. Never throws; an exception out of the
// drill is an "error" run with code internal.
std::shared_ptr<const DrillRecord> RunDrill(Drill& drill, const DrillRunOptions& options);

// Removes what a killed run of `drill` may have left (an exporter restarted midway), without
// running it: takes the drill lock (held elsewhere: returns that refusal; the holder's own run
// cleans up), calls CleanUp under the cleanup budget, releases the lock. The daemon calls it once
// per enabled drill when its scheduler starts. CleanUp touches only what carries the drill's
// ownership marker (drills/runtime/ownership.h).
Status CleanUpLeftovers(Drill& drill, const DrillRunOptions& options);

// Replaces every registered secret in the record's texts (error, phase details, evidence,
// notes) with "<redacted>": the same registry as the logs and /api/checks.
void RedactRecord(DrillRecord& record);

}  // namespace dbcanary
