#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "drills/drill.h"
#include "exporter/validate/groups.h"
#include "probes/probe.h"

namespace dbcanary {

// The checklist model shared by `dbcanary validate`, its evidence writers and the
// status page. A probe or drill run becomes one "run" row (did the measurement work)
// plus one row per expectation it reported (was the declared target met).

enum class CheckState {
  kPass,
  kFail,
  kStale,    // status page: no result within 2 x interval + timeout
  kPending,  // no result yet
};
std::string_view StateName(CheckState state);  // "pass" | "fail" | "stale" | "pending"

// The `check` of the row that stands for a run itself.
inline constexpr std::string_view kRunCheck = "run";

struct CheckRow {
  CheckGroup group = CheckGroup::kOther;
  CheckSource source = CheckSource::kProbe;
  std::string kind;        // probe or drill kind, e.g. "pg_replication"
  std::string run_target;  // the configured target the probe or drill runs on
  std::string check;       // kRunCheck, or the expectation's bounded check name
  std::string target;      // what the check is about (cluster, instance, pooler)
  CheckState state = CheckState::kPending;
  std::string observed;  // human form; "ok" / "failed: <reason>" for a run row
  std::string expected;  // human form; "ok" for a run row
  std::string reason;    // ErrorCode name when a run failed, else empty
  std::string message;   // the run's error message, redacted of secrets
  std::optional<std::chrono::system_clock::time_point> last_run;
  double duration_seconds = 0;  // of the run
  std::string link;             // e.g. a drill's report; empty when none

  bool is_run() const { return check == kRunCheck; }
  // "pg_replication run" for a run row, else the check name.
  std::string DisplayName() const;
};

// Appends the rows of one finished run: its run row, then one row per expectation.
// ProbeResult and DrillResult both map through here.
void AddRun(std::vector<CheckRow>& rows, CheckSource source, std::string_view kind,
            std::string_view run_target, const std::optional<Error>& error,
            const std::vector<ExpectationResult>& expectations,
            std::chrono::system_clock::time_point finished_at, double duration_seconds);
void AddProbeRun(std::vector<CheckRow>& rows, std::string_view kind, std::string_view target,
                 const ProbeResult& result);
void AddDrillRun(std::vector<CheckRow>& rows, std::string_view kind, std::string_view target,
                 const DrillResult& result, std::chrono::system_clock::time_point finished_at,
                 double duration_seconds);
// A run row for a probe or drill without a result yet.
void AddPending(std::vector<CheckRow>& rows, CheckSource source, std::string_view kind,
                std::string_view run_target);

struct Verdict {
  bool go = false;  // at least one check, and every check passed
  size_t total = 0;
  size_t pass = 0;
  size_t fail = 0;
  size_t stale = 0;
  size_t pending = 0;
};
Verdict Summarize(const std::vector<CheckRow>& rows);
// The rows of one group, in their original order.
std::vector<const CheckRow*> RowsOf(const std::vector<CheckRow>& rows, CheckGroup group);

}  // namespace dbcanary
