#include "drills/runtime/runner.h"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "config/secret.h"
#include "drills/runtime/report.h"

namespace dbcanary {
namespace {

// Requests `source`'s stop when `deadline` passes or `outer` is requested, whichever first.
class Watchdog {
 public:
  Watchdog(std::stop_source& source, SteadyClock::time_point deadline, std::stop_token outer)
      : thread_([&source, deadline, outer](const std::stop_token& self) {
          std::mutex mutex;
          std::condition_variable_any cv;
          std::stop_callback on_outer(outer, [&] {
            std::lock_guard guard(mutex);
            cv.notify_all();
          });
          std::unique_lock guard(mutex);
          cv.wait_until(guard, self, deadline, [&] { return outer.stop_requested(); });
          if (!self.stop_requested()) source.request_stop();
        }) {}

 private:
  std::jthread thread_;
};

// The values of the named variables that are set in the daemon's environment.
std::vector<std::pair<std::string, std::string>> PassedEnv(const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, std::string>> env;
  for (const auto& name : names) {
    if (const char* value = std::getenv(name.c_str())) env.emplace_back(name, value);
  }
  return env;
}

template <typename Call>
auto Guarded(Call&& call, std::string_view what) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kInternal, std::string(what) + " threw: " + error.what());
  } catch (...) {
    return MakeError(ErrorCode::kInternal, std::string(what) + " threw");
  }
}

// A DrillContext under its own budget: the watchdog trips the context's stop token at the
// deadline or when `outer` is requested. Not movable: the watchdog refers to the source.
struct BudgetedContext {
  BudgetedContext(std::chrono::milliseconds budget, std::stop_token outer, spdlog::logger& log,
                  std::function<void(std::string_view)> progress,
                  const std::vector<std::string>& command_env)
      : deadline(Deadline::In(budget)),
        watchdog(source, deadline.at(), std::move(outer)),
        ctx{deadline, source.get_token(), log, std::move(progress), PassedEnv(command_env)} {}
  BudgetedContext(const BudgetedContext&) = delete;
  BudgetedContext& operator=(const BudgetedContext&) = delete;

  std::stop_source source;
  Deadline deadline;
  Watchdog watchdog;
  DrillContext ctx;
};

// One run of RunDrill: its steps in order, each on the shared state below. A step returns
// false once the run has its outcome (refused, stopped, error): the later steps are skipped,
// but the lock is released and the record finished whatever happened.
class DrillRun {
 public:
  DrillRun(Drill& drill, const DrillRunOptions& options)
      : drill_(drill),
        options_(options),
        log_(*options.log),
        record_(std::make_shared<DrillRecord>()) {
    record_->drill = options.name;
    record_->started_at = std::chrono::system_clock::now();
    progress_ = [this](std::string_view line) {
      log_.info("{}", line);
      if (options_.progress) options_.progress(line);
    };
    if (options_.store) options_.store->SetRunning(options_.name, true);
  }
  DrillRun(const DrillRun&) = delete;
  DrillRun& operator=(const DrillRun&) = delete;

  bool TakeLock();
  bool CleanUpBefore();
  bool CheckPreconditions();
  bool CheckNotStopped();
  bool RunAndCleanUp();
  void ReleaseLock();
  std::shared_ptr<const DrillRecord> Finish();

 private:
  // Runs `step` and records it as a framework phase in `into`.
  template <typename Step>
  Status Timed(std::vector<DrillPhase>& into, std::string name, Step&& step) {
    const auto phase_start = SteadyClock::now();
    Status status = step();
    into.push_back(DrillPhase{std::move(name), SecondsSince(phase_start), bool(status),
                              status ? std::string() : status.error().message});
    return status;
  }
  Status CleanUp(std::vector<DrillPhase>& into, const char* name);
  bool StoppedByShutdown(Error& error) const;
  bool AbortedByLostLease(Error& error) const;
  void ClassifyRun(const Deadline& deadline, const std::stop_source& source);
  void DiscardExpectations(const char* why);

  Drill& drill_;
  const DrillRunOptions& options_;
  spdlog::logger& log_;
  std::function<void(std::string_view)> progress_;
  const SteadyClock::time_point started_ = SteadyClock::now();
  std::shared_ptr<DrillRecord> record_;
  DrillResult result_;
  std::optional<DrillOutcome> outcome_;
  std::unique_ptr<DrillLease> lease_;
  // Trips on shutdown/reload and when the lease is lost: the stop the drill's context sees.
  std::stop_source abort_;
  std::stop_callback<std::function<void()>> on_shutdown_{
      options_.stop, std::function<void()>([this] { abort_.request_stop(); })};
  std::optional<std::stop_callback<std::function<void()>>> on_lease_lost_;
  std::vector<DrillPhase> before_;  // framework phases ahead of the drill's own
  std::vector<DrillPhase> after_;
};

Status DrillRun::CleanUp(std::vector<DrillPhase>& into, const char* name) {
  // Its own budget, and a stop token that only the deadline trips: a shutdown still cleans up.
  BudgetedContext budgeted(options_.cleanup_budget, {}, log_, progress_, options_.command_env);
  return Timed(into, name, [&] {
    return Guarded([&]() -> Status { return drill_.CleanUp(budgeted.ctx); }, "CleanUp");
  });
}

// True when the shutdown/reload stop cut `error` short; the error then says kStopped. Inside a
// phase the stop token also trips at the phase's deadline, so a kStopped without the shutdown
// request is that deadline: kTimeout.
bool DrillRun::StoppedByShutdown(Error& error) const {
  if (options_.stop.stop_requested()) {
    if (error.code != ErrorCode::kStopped) {
      error.code = ErrorCode::kStopped;
      error.message = "stopped by shutdown or reload: " + error.message;
    }
    return true;
  }
  if (error.code == ErrorCode::kStopped) error.code = ErrorCode::kTimeout;
  return false;
}

// True when the lease was lost (another holder may be running a drill now): the error then
// says so, whatever the drill reported on being stopped.
bool DrillRun::AbortedByLostLease(Error& error) const {
  if (!lease_ || !lease_->lost()) return false;
  error =
      Error{ErrorCode::kUnexpected, "drill lock lease lost (" + lease_->lost_reason() +
                                        "): the drill was aborted; drill said: " + error.message};
  return true;
}

bool DrillRun::TakeLock() {
  if (options_.lock == nullptr) return true;
  progress_("taking the drill lock on cluster " + options_.lock->cluster_name());
  auto taken = Timed(before_, "lock", [&]() -> Status {
    auto acquired = options_.lock->Acquire(options_.name, log_, options_.stop);
    if (!acquired) return acquired.error();
    lease_ = std::move(acquired).value();
    on_lease_lost_.emplace(lease_->lost_token(),
                           std::function<void()>([this] { abort_.request_stop(); }));
    return Ok{};
  });
  if (taken) return true;
  result_.error = taken.error();
  // Held elsewhere is a refusal; an unreachable cluster means the run could not happen.
  outcome_ = StoppedByShutdown(*result_.error)              ? DrillOutcome::kStopped
             : taken.error().code == ErrorCode::kUnexpected ? DrillOutcome::kRefused
                                                            : DrillOutcome::kError;
  return false;
}

bool DrillRun::CleanUpBefore() {
  progress_("cleaning up what earlier runs may have left");
  auto cleaned = CleanUp(before_, "cleanup_before");
  if (cleaned) return true;
  result_.error =
      Error{cleaned.error().code, "cleanup before the run failed: " + cleaned.error().message};
  outcome_ = DrillOutcome::kError;
  return false;
}

bool DrillRun::CheckPreconditions() {
  if (options_.stop.stop_requested()) return true;  // CheckNotStopped records the stop
  progress_("checking preconditions");
  BudgetedContext budgeted(options_.preconditions_budget, abort_.get_token(), log_, progress_,
                           options_.command_env);
  auto ready = Timed(before_, "preconditions", [&] {
    return Guarded([&]() -> Status { return drill_.CheckPreconditions(budgeted.ctx); },
                   "CheckPreconditions");
  });
  if (ready) return true;
  result_.error = Error{ready.error().code, "precondition not met: " + ready.error().message};
  outcome_ = AbortedByLostLease(*result_.error)  ? DrillOutcome::kError
             : StoppedByShutdown(*result_.error) ? DrillOutcome::kStopped
                                                 : DrillOutcome::kRefused;
  return false;
}

bool DrillRun::CheckNotStopped() {
  if (!options_.stop.stop_requested()) return true;
  result_.error = Error{ErrorCode::kStopped, "stopped before the run began"};
  outcome_ = DrillOutcome::kStopped;
  return false;
}

bool DrillRun::RunAndCleanUp() {
  progress_("running (timeout " + std::to_string(options_.timeout.count() / 1000) + " s)");
  {
    BudgetedContext budgeted(options_.timeout, abort_.get_token(), log_, progress_,
                             options_.command_env);
    try {
      result_ = drill_.Run(budgeted.ctx);
    } catch (const std::exception& error) {
      result_.Fail(ErrorCode::kInternal, std::string("Run threw: ") + error.what());
    } catch (...) {
      result_.Fail(ErrorCode::kInternal, "Run threw");
    }
    ClassifyRun(budgeted.deadline, budgeted.source);
  }
  // Whatever happened, clean up.
  progress_("cleaning up");
  if (auto cleaned = CleanUp(after_, "cleanup_after"); !cleaned) {
    record_->notes.push_back("cleanup after the run failed: " + cleaned.error().message);
    // A stopped run stays stopped: the note says the cleanup failed, the next run's
    // cleanup_before retries it.
    if (*outcome_ != DrillOutcome::kError && *outcome_ != DrillOutcome::kStopped) {
      result_.Fail(cleaned.error().code,
                   "cleanup after the run failed: " + cleaned.error().message);
      outcome_ = DrillOutcome::kError;
    }
  }
  return true;
}

// The outcome of Run's result, which the deadline or a shutdown may have cut short.
void DrillRun::ClassifyRun(const Deadline& deadline, const std::stop_source& source) {
  if (lease_ && lease_->lost()) {
    if (!result_.error) result_.Fail(ErrorCode::kStopped, "stopped");
    AbortedByLostLease(*result_.error);
    outcome_ = DrillOutcome::kError;
    DiscardExpectations("aborted");
    return;
  }
  if (!result_.error && (deadline.Expired() || source.stop_requested())) {
    // The drill returned without saying so, but it was cut short.
    result_.Fail(options_.stop.stop_requested() ? ErrorCode::kStopped : ErrorCode::kTimeout,
                 options_.stop.stop_requested() ? "stopped by shutdown or reload"
                                                : "exceeded the drill timeout");
  } else if (result_.error && !StoppedByShutdown(*result_.error) &&
             result_.error->code != ErrorCode::kTimeout && deadline.Expired()) {
    result_.error->message += " (drill timeout reached)";
  }
  if (result_.error && result_.error->code == ErrorCode::kStopped) {
    outcome_ = DrillOutcome::kStopped;
    DiscardExpectations("stopped");
  } else {
    outcome_ = result_.error ? DrillOutcome::kError
                             : (result_.Passed() ? DrillOutcome::kPass : DrillOutcome::kFail);
  }
}

// Targets measured on a run cut short (a benchmark's min_tps over half a leg) are not verdicts
// on the target: dropped, so that no expectation fails because of a shutdown or a lost lease.
void DrillRun::DiscardExpectations(const char* why) {
  if (result_.expectations.empty()) return;
  record_->notes.push_back(std::to_string(result_.expectations.size()) + " expectation(s) of the " +
                           why + " run discarded");
  result_.expectations.clear();
}

void DrillRun::ReleaseLock() {
  if (!lease_) return;
  if (lease_->renewal_failures() > 0) {
    record_->notes.push_back("drill lock: " + std::to_string(lease_->renewal_failures()) +
                             " lease renewal(s) failed" +
                             (lease_->lost() ? "; the lease was lost" : ""));
  }
  if (auto released = lease_->Release(); !released) {
    record_->notes.push_back("drill lock: release failed (the lease expires on its own): " +
                             released.error().message);
  }
  lease_.reset();
}

// Assembles the record (framework phases around the drill's own), writes the report and
// records the run in the store.
std::shared_ptr<const DrillRecord> DrillRun::Finish() {
  DrillRecord& record = *record_;
  record.outcome = *outcome_;
  std::vector<DrillPhase> phases = std::move(before_);
  for (auto& phase : result_.phases) phases.push_back(std::move(phase));
  for (auto& phase : after_) phases.push_back(std::move(phase));
  result_.phases = std::move(phases);
  record.result = std::move(result_);
  record.finished_at = std::chrono::system_clock::now();
  record.duration_seconds = SecondsSince(started_);
  // Command output and server errors may carry a password: the report, the store (/api) and the
  // progress line get what the logs get.
  RedactRecord(record);
  if (record.outcome == DrillOutcome::kPass) {
    record.last_success_at = record.finished_at;
  } else if (options_.store) {
    record.last_success_at = options_.store->LastSuccess(options_.name);
  }
  if (!options_.reports_dir.empty()) {
    if (auto written = WriteReport(record, options_.reports_dir, options_.keep_reports); !written) {
      log_.error("drill {}: writing the report failed: {}", options_.name, written.error().message);
      record.report_json.clear();
      record.report_markdown.clear();
      record.report_html.clear();
    }
  }
  std::string summary = "finished: " + std::string(DrillOutcomeName(record.outcome));
  if (record.result.error) summary += " (" + record.result.error->message + ")";
  progress_(summary);
  if (options_.store) {
    options_.store->Record(record_);
    options_.store->SetRunning(options_.name, false);
  }
  return record_;
}

}  // namespace

Status CleanUpLeftovers(Drill& drill, const DrillRunOptions& options) {
  std::unique_ptr<DrillLease> lease;
  if (options.lock != nullptr) {
    auto acquired = options.lock->Acquire(options.name, *options.log, options.stop);
    if (!acquired) return acquired.error();
    lease = std::move(acquired).value();
  }
  auto progress = [&options](std::string_view line) {
    options.log->info("{}", line);
    if (options.progress) options.progress(line);
  };
  BudgetedContext budgeted(options.cleanup_budget, {}, *options.log, progress, options.command_env);
  Status cleaned =
      Guarded([&]() -> Status { return drill.CleanUp(budgeted.ctx); }, "CleanUp at start-up");
  if (lease) (void)lease->Release();
  return cleaned;
}

void RedactRecord(DrillRecord& record) {
  auto redact = [](std::string& text) { text = RedactSecrets(text); };
  if (record.result.error) redact(record.result.error->message);
  for (auto& phase : record.result.phases) redact(phase.detail);
  for (auto& evidence : record.result.evidence) {
    redact(evidence.title);
    redact(evidence.text);
  }
  for (auto& note : record.notes) redact(note);
}

std::shared_ptr<const DrillRecord> RunDrill(Drill& drill, const DrillRunOptions& options) {
  DrillRun run(drill, options);
  // Each step runs only while the earlier ones left the run without an outcome.
  for (bool (DrillRun::*step)() :
       {&DrillRun::TakeLock, &DrillRun::CheckPreconditions, &DrillRun::CleanUpBefore,
        &DrillRun::CheckNotStopped, &DrillRun::RunAndCleanUp}) {
    if (!(run.*step)()) break;
  }
  run.ReleaseLock();
  return run.Finish();
}

}  // namespace dbcanary
