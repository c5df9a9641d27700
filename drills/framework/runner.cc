#include "drills/framework/runner.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "drills/framework/report.h"

namespace dbcanary {
namespace {

// Requests `source`'s stop when `deadline` passes or `outer` is requested, whichever first.
class Watchdog {
 public:
  Watchdog(std::stop_source& source, SteadyClock::time_point deadline, std::stop_token outer)
      : thread_([&source, deadline, outer](std::stop_token self) {
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

}  // namespace

std::shared_ptr<const DrillRecord> RunDrill(Drill& drill, const DrillRunOptions& options) {
  auto record = std::make_shared<DrillRecord>();
  record->drill = options.name;
  record->started_at = std::chrono::system_clock::now();
  auto started = SteadyClock::now();
  spdlog::logger& log = *options.log;
  auto progress = [&](std::string_view line) {
    log.info("{}", line);
    if (options.progress) options.progress(line);
  };
  if (options.store) options.store->SetRunning(options.name, true);

  std::vector<DrillPhase> before;  // framework phases ahead of the drill's own
  std::vector<DrillPhase> after;
  auto timed = [](std::vector<DrillPhase>& into, std::string name, auto&& step) -> Status {
    auto phase_start = SteadyClock::now();
    Status status = step();
    into.push_back(DrillPhase{std::move(name), SecondsSince(phase_start), bool(status),
                              status ? std::string() : status.error().message});
    return status;
  };
  auto cleanup = [&](std::vector<DrillPhase>& into, const char* name) {
    // Its own budget, and a stop token that only the deadline trips: a shutdown still
    // cleans up.
    std::stop_source source;
    Deadline deadline = Deadline::In(options.cleanup_budget);
    Watchdog watchdog(source, deadline.at(), {});
    DrillContext ctx{deadline, source.get_token(), log, progress};
    return timed(into, name, [&] {
      return Guarded([&]() -> Status { return drill.CleanUp(ctx); }, "CleanUp");
    });
  };

  DrillResult result;
  std::optional<DrillOutcome> outcome;
  std::unique_ptr<DrillLease> lease;
  if (options.lock != nullptr) {
    progress("taking the drill lock on cluster " + options.lock->cluster_name());
    auto taken = timed(before, "lock", [&]() -> Status {
      auto acquired = options.lock->Acquire(options.name, log, options.stop);
      if (!acquired) return acquired.error();
      lease = std::move(acquired).value();
      return Ok{};
    });
    if (!taken) {
      result.error = taken.error();
      // Held elsewhere is a refusal; an unreachable cluster means the run could not happen.
      outcome = taken.error().code == ErrorCode::kUnexpected ? DrillOutcome::kRefused
                                                             : DrillOutcome::kError;
    }
  }
  if (!outcome) {
    progress("cleaning up what earlier runs may have left");
    if (auto cleaned = cleanup(before, "cleanup_before"); !cleaned) {
      result.error =
          Error{cleaned.error().code, "cleanup before the run failed: " + cleaned.error().message};
      outcome = DrillOutcome::kError;
    }
  }
  if (!outcome && !options.stop.stop_requested()) {
    progress("checking preconditions");
    std::stop_source source;
    Deadline deadline = Deadline::In(options.preconditions_budget);
    Watchdog watchdog(source, deadline.at(), options.stop);
    DrillContext ctx{deadline, source.get_token(), log, progress};
    auto ready = timed(before, "preconditions", [&] {
      return Guarded([&]() -> Status { return drill.CheckPreconditions(ctx); },
                     "CheckPreconditions");
    });
    if (!ready) {
      result.error = Error{ready.error().code, "precondition not met: " + ready.error().message};
      outcome = DrillOutcome::kRefused;
    }
  }
  if (!outcome && options.stop.stop_requested()) {
    result.error = Error{ErrorCode::kTimeout, "stopped before the run began"};
    outcome = DrillOutcome::kError;
  }
  if (!outcome) {
    progress("running (timeout " + std::to_string(options.timeout.count() / 1000) + " s)");
    std::stop_source source;
    Deadline deadline = Deadline::In(options.timeout);
    Watchdog watchdog(source, deadline.at(), options.stop);
    DrillContext ctx{deadline, source.get_token(), log, progress};
    try {
      result = drill.Run(ctx);
    } catch (const std::exception& error) {
      result.Fail(ErrorCode::kInternal, std::string("Run threw: ") + error.what());
    } catch (...) {
      result.Fail(ErrorCode::kInternal, "Run threw");
    }
    if (!result.error && (deadline.Expired() || source.stop_requested())) {
      // The drill returned without saying so, but it was cut short.
      result.Fail(options.stop.stop_requested() ? ErrorCode::kInternal : ErrorCode::kTimeout,
                  options.stop.stop_requested() ? "stopped by shutdown or reload"
                                                : "exceeded the drill timeout");
    } else if (result.error && result.error->code != ErrorCode::kTimeout && deadline.Expired()) {
      result.error->message += " (drill timeout reached)";
    }
    outcome = result.error ? DrillOutcome::kError
                           : (result.Passed() ? DrillOutcome::kPass : DrillOutcome::kFail);
    // Whatever happened, clean up.
    progress("cleaning up");
    if (auto cleaned = cleanup(after, "cleanup_after"); !cleaned) {
      record->notes.push_back("cleanup after the run failed: " + cleaned.error().message);
      if (*outcome != DrillOutcome::kError) {
        result.Fail(cleaned.error().code,
                    "cleanup after the run failed: " + cleaned.error().message);
        outcome = DrillOutcome::kError;
      }
    }
  }
  if (lease) {
    if (lease->renewal_failures() > 0) {
      record->notes.push_back("drill lock: " + std::to_string(lease->renewal_failures()) +
                              " lease renewal(s) failed" +
                              (lease->lost() ? "; the lease was lost" : ""));
    }
    if (auto released = lease->Release(); !released) {
      record->notes.push_back("drill lock: release failed (the lease expires on its own): " +
                              released.error().message);
    }
    lease.reset();
  }

  record->outcome = *outcome;
  std::vector<DrillPhase> phases = std::move(before);
  for (auto& phase : result.phases) phases.push_back(std::move(phase));
  for (auto& phase : after) phases.push_back(std::move(phase));
  result.phases = std::move(phases);
  record->result = std::move(result);
  record->finished_at = std::chrono::system_clock::now();
  record->duration_seconds = SecondsSince(started);
  if (record->outcome == DrillOutcome::kPass) {
    record->last_success_at = record->finished_at;
  } else if (options.store) {
    record->last_success_at = options.store->LastSuccess(options.name);
  }
  if (!options.reports_dir.empty()) {
    if (auto written = WriteReport(*record, options.reports_dir, options.keep_reports); !written) {
      log.error("drill {}: writing the report failed: {}", options.name, written.error().message);
      record->report_json.clear();
      record->report_markdown.clear();
    }
  }
  std::string summary = "finished: " + std::string(DrillOutcomeName(record->outcome));
  if (record->result.error) summary += " (" + record->result.error->message + ")";
  progress(summary);
  if (options.store) {
    options.store->Record(record);
    options.store->SetRunning(options.name, false);
  }
  return record;
}

}  // namespace dbcanary
