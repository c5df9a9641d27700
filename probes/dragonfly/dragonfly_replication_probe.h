#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "probes/dragonfly/dragonfly_roles.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "dragonfly_replication" on a `dragonfly[]` target. On the master: INFO replication
// (role, connected replicas), then SET <prefix>repl:<random> <random> EX ttl. Each configured
// replica, on its own thread and connection: INFO replication (master_link_status,
// master_last_io_seconds_ago), then GET the key every `poll_interval` until it reads the
// value written or the run's deadline passes. Visibility is the time from the SET's reply to
// the first matching GET. The key is deleted on the master at the end (its expiry covers a
// run cut short).
//
// The run fails only when the master part fails (connect, INFO, SET): a replica that is down,
// stalled or behind is data (visible 0, link metrics absent) and fails the expectations.
//
// Params: ttl (default 60s), poll_interval (default 2ms, 1ms..1s); expect: { master_role: bool,
// min_connected_replicas: N, max_replica_visibility_seconds: S }.
class DragonflyReplicationProbe : public Probe {
 public:
  struct Options {
    std::chrono::seconds ttl{60};
    std::chrono::milliseconds poll_interval{2};
    bool expect_master_role = false;
    std::optional<int64_t> min_connected_replicas;
    std::optional<double> max_replica_visibility_seconds;
  };
  DragonflyReplicationProbe(const Dragonfly& target, DragonflyMemberLister members,
                            Options options);

  const std::vector<MetricDesc>& Describe() const override;
  ProbeResult Run(const ProbeContext& ctx) override;

 private:
  std::string target_;
  DragonflyMemberLister members_;  // configured or discovered; roles are asked each run
  bool discovered_ = false;        // members from the operator's pods: their labels are compared
  std::string key_prefix_;
  Options options_;
};

Result<std::unique_ptr<Probe>> CreateDragonflyReplicationProbe(const ProbeSettings& settings,
                                                               const Config& config);

}  // namespace dbcanary
