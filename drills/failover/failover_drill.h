#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "drills/drill.h"

// The failover drill (kind `failover`, docs/drills/failover.md): a writer commits numbered rows
// through the rw pooler while the primary is made to fail (a command, or deleting the CNPG
// primary pod); it measures the time until another instance accepts writes, the write
// unavailability clients see through the pooler, acknowledged writes lost, and the time until
// the standbys stream again.

namespace dbcanary {

// The drill's params, validated (`drills.jobs.failover`).
struct FailoverParams {
  std::string cluster;  // postgres cluster name
  std::string pooler;   // rw pooler of that cluster: the writer goes through it
  // Trigger: exactly one of a command (argv, run without a shell) or a Kubernetes cluster
  // (kubernetes.clusters[] name) whose CNPG primary pod is deleted.
  std::vector<std::string> command;
  std::chrono::milliseconds command_timeout{std::chrono::minutes(2)};
  std::string kube_cluster;
  std::chrono::milliseconds write_interval{100};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(2)};
  std::string table = "dbcanary_failover_writes";
  // The loss check stands on enough writes on both sides of the failover: the trigger fires only
  // once `min_writes_before` writes were acknowledged, and after writes resume the writer keeps
  // committing for `settle` and until `min_writes_after` more were acknowledged.
  int64_t min_writes_before = 20;
  int64_t min_writes_after = 20;
  std::chrono::milliseconds settle{std::chrono::seconds(5)};
  // expect:
  double max_downtime_seconds = 30;
  int64_t max_lost_writes = 0;
  std::optional<double> max_recovery_seconds;  // default: the drill's timeout
  // Seconds from the trigger until dbcanary's own pg probes are green again (monitor_check.h).
  double max_monitor_recovery_seconds = 120;
};

// Reads settings.params strictly (calls Finish) and checks the names against `config`:
// kConfig naming the key path on any problem.
Result<FailoverParams> ReadFailoverParams(const DrillSettings& settings, const Config& config);

// The DrillFactory of kind `failover` (drills/registry.cc).
Result<std::unique_ptr<Drill>> MakeFailoverDrill(const DrillSettings& settings,
                                                 const Config& config);

// HELP/TYPE of the drill's own families.
const std::vector<MetricDesc>& FailoverMetricDescs();

}  // namespace dbcanary
