#include "exporter/validate/checklist.h"

#include <cmath>
#include <cstdlib>

#include "config/secret.h"

namespace dbcanary {
namespace {

// Expectation names carry their unit by convention (`_seconds`, `_bytes`); these few predate
// the convention and are kept for their alerts and dashboards.
Unit UnitOfCheck(std::string_view check) {
  constexpr std::string_view kSecondsChecks[] = {
      "backup_max_age", "backup_max_running", "cnpg_certificate_min_validity",
      "monitoring_logs_max_age", "monitoring_query_max_age"};
  for (auto name : kSecondsChecks) {
    if (check == name) return Unit::kSeconds;
  }
  if (check.ends_with("_seconds")) return Unit::kSeconds;
  if (check.ends_with("_bytes")) return Unit::kBytes;
  if (check.ends_with("_tps") || check.ends_with("_ops_per_second")) return Unit::kPerSecond;
  if (check.ends_with("_regression")) return Unit::kRatio;
  return Unit::kNone;
}

// The number a probe printed, when the text is only that number (a probe may write its own
// words instead, e.g. "no ScheduledBackup for cluster x"; those are kept as they are).
bool IsPlainNumber(const std::string& text) {
  if (text.empty()) return false;
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return end != nullptr && *end == '\0';
}

// Fills the human texts of an expectation row from its raw values and its unit.
void Humanise(CheckRow& row, const ExpectationResult& expectation) {
  row.unit = UnitOfCheck(expectation.check);
  row.observed_value = expectation.observed;
  row.expected_value = expectation.threshold;
  row.observed = RedactSecrets(expectation.observed_text);
  row.expected = RedactSecrets(expectation.expected_text);
  if (row.unit == Unit::kNone) return;
  if (std::isfinite(expectation.observed) && IsPlainNumber(expectation.observed_text)) {
    row.observed = Humanize(expectation.observed, row.unit);
  }
  // expected_text is "<op> <number>" for numeric expectations.
  const auto space = expectation.expected_text.find(' ');
  if (std::isfinite(expectation.threshold) && space != std::string::npos &&
      IsPlainNumber(expectation.expected_text.substr(space + 1))) {
    row.expected =
        expectation.expected_text.substr(0, space + 1) + Humanize(expectation.threshold, row.unit);
  }
}

}  // namespace

std::string_view StateName(CheckState state) {
  switch (state) {
    case CheckState::kPass:
      return "pass";
    case CheckState::kFail:
      return "fail";
    case CheckState::kStale:
      return "stale";
    case CheckState::kPending:
      return "pending";
  }
  return "pending";
}

std::string CheckRow::DisplayName() const { return is_run() ? kind + " run" : check; }

void AddRun(std::vector<CheckRow>& rows, CheckSource source, std::string_view kind,
            std::string_view run_target, const std::optional<Error>& error,
            const std::vector<ExpectationResult>& expectations,
            std::chrono::system_clock::time_point finished_at, double duration_seconds) {
  CheckGroup group = GroupOfKind(source, kind);
  CheckRow run;
  run.group = group;
  run.source = source;
  run.kind = std::string(kind);
  run.run_target = std::string(run_target);
  run.check = std::string(kRunCheck);
  run.target = std::string(run_target);
  run.expected = "ok";
  run.last_run = finished_at;
  run.duration_seconds = duration_seconds;
  if (error && error->code == ErrorCode::kStopped) {
    // Cut short by a shutdown or reload: no verdict on the target, like a run not yet done.
    run.state = CheckState::kPending;
    run.reason = std::string(ErrorCodeName(error->code));
    run.observed = "stopped (shutdown or reload)";
    run.message = RedactSecrets(error->message);
  } else if (error) {
    run.state = CheckState::kFail;
    run.reason = std::string(ErrorCodeName(error->code));
    run.observed = "failed: " + run.reason;
    run.message = RedactSecrets(error->message);
  } else {
    run.state = CheckState::kPass;
    run.observed = "ok";
  }
  rows.push_back(run);
  for (const auto& expectation : expectations) {
    CheckRow row;
    row.group = group;
    row.source = source;
    row.kind = run.kind;
    row.run_target = run.run_target;
    row.check = expectation.check;
    row.target = std::string(expectation.TargetOr(run.run_target));
    row.state = expectation.pass ? CheckState::kPass : CheckState::kFail;
    Humanise(row, expectation);
    row.last_run = finished_at;
    row.duration_seconds = duration_seconds;
    rows.push_back(std::move(row));
  }
}

void AddProbeRun(std::vector<CheckRow>& rows, std::string_view kind, std::string_view target,
                 const ProbeResult& result) {
  std::optional<Error> error;
  if (!result.success) {
    error = result.error.value_or(Error{ErrorCode::kInternal, "failed without an error"});
  }
  AddRun(rows, CheckSource::kProbe, kind, target, error, result.expectations, result.finished_at,
         result.duration_seconds);
}

void AddDrillRun(std::vector<CheckRow>& rows, std::string_view kind, std::string_view target,
                 const DrillResult& result, std::chrono::system_clock::time_point finished_at,
                 double duration_seconds) {
  AddRun(rows, CheckSource::kDrill, kind, target, result.error, result.expectations, finished_at,
         duration_seconds);
}

void AddPending(std::vector<CheckRow>& rows, CheckSource source, std::string_view kind,
                std::string_view run_target) {
  CheckRow run;
  run.group = GroupOfKind(source, kind);
  run.source = source;
  run.kind = std::string(kind);
  run.run_target = std::string(run_target);
  run.check = std::string(kRunCheck);
  run.target = std::string(run_target);
  run.state = CheckState::kPending;
  run.observed = source == CheckSource::kDrill ? "never run" : "no result yet";
  run.expected = "ok";
  rows.push_back(std::move(run));
}

Verdict Summarize(const std::vector<CheckRow>& rows) {
  Verdict verdict;
  for (const auto& row : rows) {
    if (row.source == CheckSource::kDrill && row.state == CheckState::kPending) continue;
    ++verdict.total;
    switch (row.state) {
      case CheckState::kPass:
        ++verdict.pass;
        break;
      case CheckState::kFail:
        ++verdict.fail;
        break;
      case CheckState::kStale:
        ++verdict.stale;
        break;
      case CheckState::kPending:
        ++verdict.pending;
        break;
    }
  }
  return verdict;
}

std::string_view GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kPass:
      return "PASS";
    case GroupState::kFail:
      return "FAIL";
    case GroupState::kNotVerified:
      return "NOT VERIFIED";
    case GroupState::kSkipped:
      return "SKIPPED";
  }
  return "NOT VERIFIED";
}

std::string_view GroupStateSlug(GroupState state) {
  switch (state) {
    case GroupState::kPass:
      return "pass";
    case GroupState::kFail:
      return "fail";
    case GroupState::kNotVerified:
      return "not_verified";
    case GroupState::kSkipped:
      return "skipped";
  }
  return "not_verified";
}

namespace {

GroupVerdict AssessGroup(const GroupInfo& info, const std::vector<CheckRow>& rows,
                         const std::vector<SkippedGroup>& skipped) {
  GroupVerdict verdict;
  verdict.info = &info;
  std::vector<CheckRow> group_rows;
  for (const auto* row : RowsOf(rows, info.group)) group_rows.push_back(*row);
  verdict.counts = Summarize(group_rows);
  for (const auto& skip : skipped) {
    if (skip.group == info.group) {
      verdict.state = GroupState::kSkipped;
      verdict.reason = skip.reason;
      return verdict;
    }
  }
  const Verdict& counts = verdict.counts;
  if (counts.fail > 0 || counts.stale > 0) {
    verdict.state = GroupState::kFail;
  } else if (counts.total == 0) {
    verdict.state = GroupState::kNotVerified;
    verdict.reason = group_rows.empty() ? "nothing configured" : "only drills that never ran";
  } else if (counts.pending > 0) {
    verdict.state = GroupState::kNotVerified;
    verdict.reason = std::to_string(counts.pending) + " of " + std::to_string(counts.total) +
                     " checks without a result yet";
  } else {
    verdict.state = GroupState::kPass;
  }
  return verdict;
}

}  // namespace

ChecklistVerdict Assess(const Checklist& checklist) {
  ChecklistVerdict out;
  bool any_pass = false;
  bool blocked = false;
  for (const auto& info : AllGroups()) {
    if (info.group == CheckGroup::kOther && RowsOf(checklist.rows, info.group).empty()) continue;
    GroupVerdict group = AssessGroup(info, checklist.rows, checklist.skipped);
    if (group.state != GroupState::kSkipped) {
      out.counts.total += group.counts.total;
      out.counts.pass += group.counts.pass;
      out.counts.fail += group.counts.fail;
      out.counts.stale += group.counts.stale;
      out.counts.pending += group.counts.pending;
    }
    any_pass = any_pass || group.state == GroupState::kPass;
    blocked =
        blocked || group.state == GroupState::kFail || group.state == GroupState::kNotVerified;
    out.groups.push_back(std::move(group));
  }
  out.go = any_pass && !blocked;
  return out;
}

std::vector<const CheckRow*> RowsOf(const std::vector<CheckRow>& rows, CheckGroup group) {
  std::vector<const CheckRow*> out;
  for (const auto& row : rows) {
    if (row.group == group) out.push_back(&row);
  }
  return out;
}

}  // namespace dbcanary
