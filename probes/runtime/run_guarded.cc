#include "probes/runtime/run_guarded.h"

#include <exception>
#include <string>
#include <utility>

#include "core/deadline.h"

namespace dbcanary {

ProbeResult RunGuarded(Probe& probe, std::chrono::milliseconds timeout, std::stop_token stop,
                       spdlog::logger& log) {
  auto started = SteadyClock::now();
  ProbeContext context{Deadline::In(timeout), std::move(stop), log};
  ProbeResult result;
  // Probe::Run promises not to throw, but one exception escaping a worker thread would
  // terminate the whole process.
  try {
    result = probe.Run(context);
  } catch (const std::exception& error) {
    result = ProbeResult{};
    result.Fail(ErrorCode::kInternal, std::string("probe threw an exception: ") + error.what());
  } catch (...) {
    result = ProbeResult{};
    result.Fail(ErrorCode::kInternal, "probe threw a non-standard exception");
  }
  if (!result.success && !result.error) {
    result.Fail(ErrorCode::kInternal, "probe reported a failure without an error");
  }
  result.duration_seconds = SecondsSince(started);
  result.finished_at = std::chrono::system_clock::now();
  return result;
}

}  // namespace dbcanary
