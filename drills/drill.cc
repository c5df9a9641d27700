#include "drills/drill.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>

namespace dbcanary {
namespace {

template <typename TimePoint>
bool SleepUntilOn(TimePoint until, const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock guard(mutex);
  wake.wait_until(guard, stop, until, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace

void DrillRegistry::Add(std::string kind, DrillFactory factory) {
  for (const auto& [existing, unused] : factories_) {
    if (existing == kind) {
      std::cerr << "duplicate drill kind " << kind << "\n";
      std::abort();
    }
  }
  factories_.emplace_back(std::move(kind), std::move(factory));
}

Result<std::unique_ptr<Drill>> DrillRegistry::Create(const DrillSettings& settings,
                                                     const Config& config) const {
  for (const auto& [kind, factory] : factories_) {
    if (kind == settings.kind) return factory(settings, config);
  }
  std::string known;
  for (const auto& kind : Kinds()) known += (known.empty() ? "" : ", ") + kind;
  return MakeError(ErrorCode::kConfig, settings.params->path() + ": unknown drill \"" +
                                           settings.kind + "\" (known: " + known + ")");
}

std::vector<std::string> DrillRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, unused] : factories_) kinds.push_back(kind);
  return kinds;
}

bool SleepUntil(SteadyClock::time_point until, const std::stop_token& stop) {
  return SleepUntilOn(until, stop);
}

bool SleepUntil(std::chrono::system_clock::time_point until, const std::stop_token& stop) {
  return SleepUntilOn(until, stop);
}

bool SleepFor(std::chrono::milliseconds pause, const std::stop_token& stop) {
  return SleepUntil(SteadyClock::now() + pause, stop);
}

bool PauseDrill(const DrillContext& ctx, std::chrono::milliseconds pause) {
  // Until the deadline itself, not now + Remaining(): that is whole milliseconds, and a pause
  // cut short by the deadline must end with the deadline passed.
  const auto until = std::min(SteadyClock::now() + pause, ctx.deadline.at());
  return SleepUntil(until, ctx.stop) && !ctx.deadline.Expired();
}

}  // namespace dbcanary
