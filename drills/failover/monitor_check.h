#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/deadline.h"
#include "core/result.h"
#include "drills/drill.h"
#include "probes/probe.h"

// The failover drill's last question: does the monitor itself see the new topology? dbcanary's
// own pg probes of the cluster, built from the same config the exporter builds them from, are run
// until every run succeeds and every expectation passes. A monitor blinded by its own drill (a
// probe still writing on the old primary) keeps them red, and the drill fails.

namespace dbcanary {

class MonitorCheck {
 public:
  // The pg_* probes configured on `cluster`; none configured gives an empty check (skipped).
  static Result<MonitorCheck> Build(const PostgresCluster& cluster, const Config& config);

  bool empty() const { return probes_.empty(); }
  // Runs every probe once per round, each within its own timeout, until one round is all green
  // or `until` passes (at least one round). Returns what was red in the last round ("kind: reason",
  // "kind: check on target"), empty when green.
  std::string WaitGreen(const DrillContext& ctx, Deadline until) const;

 private:
  struct Entry {
    std::string kind;
    std::chrono::milliseconds timeout;
    std::shared_ptr<Probe> probe;  // runs of one check never overlap
  };
  std::string RunRound(const DrillContext& ctx, Deadline until) const;

  std::vector<Entry> probes_;
};

}  // namespace dbcanary
