#pragma once

#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/humanize.h"
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
  std::string observed;  // human form ("365 d", "8.0 ms"); "ok" / "failed: <reason>" for a run
  std::string expected;  // human form (">= 2", "<= 1.0 h"); "ok" for a run row
  // The raw numbers behind `observed` and `expected` (NaN when not numeric), for JSON and the
  // status page's hover text, and the unit that made them human.
  double observed_value = std::numeric_limits<double>::quiet_NaN();
  double expected_value = std::numeric_limits<double>::quiet_NaN();
  Unit unit = Unit::kNone;
  std::string reason;   // ErrorCode name when a run failed, else empty
  std::string message;  // the run's error message, redacted of secrets
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

// Counts of the rows that take part in a verdict. Drills that never ran take no part: they
// are opt-in, shown, but no reason for NO-GO; a drill that ran and failed counts.
struct Verdict {
  size_t total = 0;
  size_t pass = 0;
  size_t fail = 0;
  size_t stale = 0;
  size_t pending = 0;
};
Verdict Summarize(const std::vector<CheckRow>& rows);

// What `validate` and the status page judge: every row, and the groups left out on purpose.
struct Checklist {
  std::vector<CheckRow> rows;
  std::vector<SkippedGroup> skipped;  // validate.skip plus --skip
};

// How one acceptance group ends. A group passes only on checks that ran and passed; nothing
// configured (or only drills that never ran) is NOT VERIFIED, never a silent pass.
enum class GroupState { kPass, kFail, kNotVerified, kSkipped };
std::string_view GroupStateName(GroupState state);  // "PASS" | "FAIL" | "NOT VERIFIED" | "SKIPPED"
std::string_view GroupStateSlug(GroupState state);  // "pass" | "fail" | "not_verified" | "skipped"

struct GroupVerdict {
  const GroupInfo* info = nullptr;
  GroupState state = GroupState::kNotVerified;
  Verdict counts;
  // SKIPPED: the configured reason. NOT VERIFIED: why ("nothing configured", "only drills
  // that never ran", "3 checks without a result yet"). Else empty.
  std::string reason;
};

struct ChecklistVerdict {
  // No group FAIL or NOT VERIFIED except skipped ones, and at least one group PASS.
  bool go = false;
  Verdict counts;                    // over every group not skipped
  std::vector<GroupVerdict> groups;  // every shown group in report order (kOther when used)
};
ChecklistVerdict Assess(const Checklist& checklist);

// The rows of one group, in their original order.
std::vector<const CheckRow*> RowsOf(const std::vector<CheckRow>& rows, CheckGroup group);

}  // namespace dbcanary
