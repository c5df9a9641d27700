#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "drills/drill.h"
#include "drills/runtime/cron.h"

namespace dbcanary {

// The outcome of one drill run; a bounded set (the `result` label).
enum class DrillOutcome {
  kPass,     // completed, every declared target met
  kFail,     // completed, an expectation failed
  kError,    // could not complete (a phase failed, timeout, lost connection, ...)
  kRefused,  // did not start: the drill lock is held elsewhere or a precondition failed
  kStopped,  // cut short by a shutdown or reload (error code kStopped): says nothing about the
             // target, never a failure
};
inline constexpr std::array<DrillOutcome, 5> kAllDrillOutcomes = {
    DrillOutcome::kPass, DrillOutcome::kFail, DrillOutcome::kError, DrillOutcome::kRefused,
    DrillOutcome::kStopped};
// "pass", "fail", "error", "refused", "stopped"
std::string_view DrillOutcomeName(DrillOutcome outcome);
std::optional<DrillOutcome> ParseDrillOutcome(std::string_view name);

// One finished run of a drill, as recorded in the state store and written to its report.
struct DrillRecord {
  std::string drill;  // the configured kind
  SystemTime started_at;
  SystemTime finished_at;
  double duration_seconds = 0;
  DrillOutcome outcome = DrillOutcome::kError;
  // The framework's phases (lock, cleanup_before, preconditions, cleanup_after) around the
  // drill's own ones, samples, expectations, evidence and error (refusals included).
  DrillResult result;
  std::vector<std::string> notes;  // framework remarks (cleanup failed, lease renewal...)
  // The last passing run as of this one (this one when it passed): restored at start-up.
  std::optional<SystemTime> last_success_at;
  std::string report_json;  // path of the JSON report written, empty when none
  std::string report_markdown;
  std::string report_html;  // the same run as one self-contained HTML page with plots
};

// UTC "2026-11-26T15:32:50.123Z".
std::string FormatUtc(SystemTime at);
// Parses FormatUtc's output (milliseconds optional).
std::optional<SystemTime> ParseUtc(std::string_view text);
double ToUnixSeconds(SystemTime at);

}  // namespace dbcanary
