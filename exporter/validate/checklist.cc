#include "exporter/validate/checklist.h"

#include "config/secret.h"

namespace dbcanary {

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
    row.observed = RedactSecrets(expectation.observed_text);
    row.expected = RedactSecrets(expectation.expected_text);
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
    // Drills are opt-in and may never have run: shown, but no reason for NO-GO. A drill that
    // ran and failed counts like any other check.
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
  verdict.go = verdict.total > 0 && verdict.pass == verdict.total;
  return verdict;
}

std::vector<const CheckRow*> RowsOf(const std::vector<CheckRow>& rows, CheckGroup group) {
  std::vector<const CheckRow*> out;
  for (const auto& row : rows) {
    if (row.group == group) out.push_back(&row);
  }
  return out;
}

}  // namespace dbcanary
