#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/deadline.h"
#include "core/metric.h"
#include "core/result.h"
#include "probes/probe.h"

namespace dbcanary {

// What a drill may use during one run.
struct DrillContext {
  Deadline deadline;     // the drill's timeout: Run() and CleanUp() must return by then
  std::stop_token stop;  // set on shutdown; stop at the next safe point and clean up
  spdlog::logger& log;   // tagged with the drill; redacted of secrets
  // One human line per step ("promoting shared-postgres-2"). The CLI prints it with a
  // timestamp, the daemon logs it at info. Never null.
  std::function<void(std::string_view)> progress;
  // The daemon's variables named by drills.command_env (name, value): every drill command gets
  // them besides its minimal environment (drills/command.h).
  std::vector<std::pair<std::string, std::string>> command_env = {};
};

// One timed step of a drill, in the order it ran. Becomes
// dbcanary_drill_phase_duration_seconds{drill, phase} and a line of the report.
struct DrillPhase {
  std::string name;  // bounded snake_case, e.g. "wait_new_primary"
  double duration_seconds = 0;
  bool ok = false;
  std::string detail;  // human text for the report (no secrets)
};

// Server output kept for the report, e.g. pg_stat_replication before and after.
struct DrillEvidence {
  std::string title;
  std::string text;  // preformatted (a table, a command's output); no secrets
};

// A figure over the course of one run, kept for the report's plots (not a metric): e.g. the
// committed transactions of each second, or every write attempt's outcome.
struct DrillSeries {
  std::string name;                               // bounded snake_case, e.g. "tps"
  Labels labels;                                  // e.g. {path="direct"}
  std::string x_unit;                             // e.g. "s since start", "percentile"
  std::string y_unit;                             // e.g. "tps", "s"
  std::vector<std::pair<double, double>> points;  // (x, y) in recording order
};

// The outcome of one drill run.
struct DrillResult {
  // Set when the drill could not complete (a phase failed, timeout, refused);
  // the code becomes the `reason` label, the message goes to the log and report.
  std::optional<Error> error;
  std::vector<DrillPhase> phases;
  // The drill's own figures (downtime, RTO, TPS...): families from its Describe().
  std::vector<Sample> samples;
  // Declared targets (max downtime, min TPS...), rendered with every probe's in
  // dbcanary_expectation_pass{check, target}.
  std::vector<ExpectationResult> expectations;
  std::vector<DrillEvidence> evidence;
  std::vector<DrillSeries> series;

  void Fail(ErrorCode code, std::string message) { error = Error{code, std::move(message)}; }
  void Add(std::string name, Labels labels, double value) {
    samples.push_back(Sample{std::move(name), std::move(labels), value});
  }
  void AddPhase(std::string name, double seconds, bool ok, std::string detail = {}) {
    phases.push_back(DrillPhase{std::move(name), seconds, ok, std::move(detail)});
  }
  void AddEvidence(std::string title, std::string text) {
    evidence.push_back(DrillEvidence{std::move(title), std::move(text)});
  }
  // Completed, and every declared target met.
  bool Passed() const {
    if (error) return false;
    for (const auto& expectation : expectations) {
      if (!expectation.pass) return false;
    }
    return true;
  }
};

// A heavy, scheduled check (failover, restore, benchmark, persistence). The drill
// runner (drills/runner.h) takes the drill lock, calls CleanUp, CheckPreconditions,
// Run, then CleanUp again whatever happened, and records the result and a report.
class Drill {
 public:
  virtual ~Drill() = default;
  // HELP/TYPE of every drill-specific family this drill can emit. Fixed at construction.
  virtual const std::vector<MetricDesc>& Describe() const = 0;
  // Removes whatever this drill's earlier runs may have left behind (scratch database,
  // scratch instance, marker keys, a demoted primary not re-attached...), including
  // runs killed midway by an exporter restart. Idempotent; cheap when nothing is left.
  virtual Status CleanUp(const DrillContext& ctx) = 0;
  // Checked just before Run: the error says why the drill refuses to start
  // (e.g. "standby shared-postgres-3 is not streaming"); use ErrorCode::kUnexpected.
  virtual Status CheckPreconditions(const DrillContext& ctx) = 0;
  // One run. Honours ctx.deadline and ctx.stop at every wait; never throws.
  virtual DrillResult Run(const DrillContext& ctx) = 0;
};

// Validates settings.params strictly (unknown keys fail with their path) and builds
// the drill. The drill copies what it needs from the config.
using DrillFactory =
    std::function<Result<std::unique_ptr<Drill>>(const DrillSettings&, const Config&)>;

class DrillRegistry {
 public:
  // A duplicate kind is a programmer error and aborts.
  void Add(std::string kind, DrillFactory factory);
  Result<std::unique_ptr<Drill>> Create(const DrillSettings& settings, const Config& config) const;
  std::vector<std::string> Kinds() const;

 private:
  std::vector<std::pair<std::string, DrillFactory>> factories_;
};

// The explicit list of built-in drill kinds (drills/registry.cc): one line per kind.
void RegisterBuiltinDrills(DrillRegistry& registry);

// The drills' one "sleep, but wake on stop": blocks until `until` (or for `pause`) or until
// `stop` is requested, whichever comes first. False when `stop` was requested.
bool SleepUntil(SteadyClock::time_point until, const std::stop_token& stop);
bool SleepUntil(std::chrono::system_clock::time_point until, const std::stop_token& stop);
bool SleepFor(std::chrono::milliseconds pause, const std::stop_token& stop);

// A drill's poll pause: SleepFor(pause) on ctx.stop, cut short at ctx.deadline. False when
// stopped or past the deadline (the caller gives up waiting).
bool PauseDrill(const DrillContext& ctx, std::chrono::milliseconds pause);

}  // namespace dbcanary
