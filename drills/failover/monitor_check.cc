#include "drills/failover/monitor_check.h"

#include <algorithm>

namespace dbcanary {
namespace {

constexpr std::chrono::milliseconds kRoundPause{1000};

}  // namespace

Result<MonitorCheck> MonitorCheck::Build(const PostgresCluster& cluster, const Config& config) {
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  MonitorCheck check;
  for (const auto& settings : cluster.probes) {
    if (!settings.kind.starts_with("pg_")) continue;
    auto probe = registry.Create(settings, config);
    if (!probe) return probe.error();
    check.probes_.push_back({settings.kind, settings.timeout, std::move(*probe)});
  }
  return check;
}

std::string MonitorCheck::RunRound(const DrillContext& ctx, Deadline until) const {
  std::string red;
  for (const auto& entry : probes_) {
    const Deadline deadline(std::min(until.at(), SteadyClock::now() + entry.timeout));
    ProbeResult result = entry.probe->Run(ProbeContext{deadline, ctx.stop, ctx.log});
    if (!result.success) {
      red += entry.kind + ": " + (result.error ? result.error->message : "failed") + "; ";
    }
    for (const auto& expectation : result.expectations) {
      if (!expectation.pass) {
        red += entry.kind + ": " + expectation.check + " on " + expectation.target + " observed " +
               expectation.observed_text + "; ";
      }
    }
  }
  return red;
}

std::string MonitorCheck::WaitGreen(const DrillContext& ctx, Deadline until) const {
  for (;;) {  // at least one round, however late
    const auto round = SteadyClock::now();
    std::string red = RunRound(ctx, until);
    if (red.empty() || until.Expired() || ctx.stop.stop_requested()) return red;
    SleepUntil(std::min(until.at(), round + kRoundPause), ctx.stop);
  }
}

}  // namespace dbcanary
