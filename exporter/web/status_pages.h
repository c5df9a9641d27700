#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drills/drill.h"
#include "drills/runtime/state_store.h"
#include "exporter/validate/checklist.h"
#include "probes/runtime/result_store.h"

namespace dbcanary {

struct Readiness {
  bool ready = false;
  std::string text;  // "ready", or which probes have not produced a result yet
};

// Ready once every configured probe has finished at least one run (a config
// without probes is ready at once).
Readiness CheckReadiness(const std::vector<ProbeSnapshot>& probes);

// The last result of one configured drill, as the status page shows it.
struct DrillStatus {
  std::string kind;
  std::string target;                         // what it drills (cluster / dragonfly name)
  std::shared_ptr<const DrillResult> latest;  // null: never ran
  std::chrono::system_clock::time_point finished_at;
  double duration_seconds = 0;
  std::string report_link;  // e.g. "reports/failover/....md" (relative); empty: none
};

// ---- DRILLS: the last result of every configured drill, from the framework's state
// store (null: no drills configured, none shown). The report link points at /reports.
std::vector<DrillStatus> CurrentDrillStatus(const DrillStateStore* drills);

// The status page's checks: every probe's run and expectations from the store, with
// probes without a result "pending" and results older than 2 x interval + timeout
// "stale"; then each drill's last result (never stale: drills run on a calendar).
std::vector<CheckRow> StatusChecks(const std::vector<ProbeSnapshot>& probes,
                                   const std::vector<DrillStatus>& drills,
                                   std::chrono::system_clock::time_point now);
// Whether a result finished at `finished_at` is stale at `now`.
bool IsStale(std::chrono::system_clock::time_point finished_at, std::chrono::milliseconds interval,
             std::chrono::milliseconds timeout, std::chrono::system_clock::time_point now);

// GET /: the status page (grouped checks, summary, auto-refresh every 15 s). `metrics_path`:
// where /metrics is served (--web.telemetry-path), linked relatively.
std::string StatusPage(const Checklist& checklist, std::chrono::system_clock::time_point now,
                       std::string_view metrics_path = "/metrics");
// GET /api/checks: the same checks as JSON (the shape of validate's summary.json).
std::string ChecksJsonText(const Checklist& checklist, std::chrono::system_clock::time_point now);

}  // namespace dbcanary
