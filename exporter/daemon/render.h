#pragma once

#include <optional>
#include <string>
#include <vector>

#include "drills/framework/state_store.h"
#include "exporter/daemon/process_metrics.h"
#include "exporter/daemon/result_store.h"
#include "exporter/daemon/self_metrics.h"

namespace dbcanary {

// Everything one /metrics body is built from, gathered before rendering.
struct MetricsInput {
  std::vector<ProbeSnapshot> probes;
  SelfMetricsSnapshot self;
  std::optional<ProcessStats> process;
  std::vector<DrillState> drills;  // dbcanary_drill_* and the drills' own families
};

// Renders the Prometheus text body: per-probe state, the probes' own samples,
// expectations, then the exporter's self metrics. Pure: no I/O, no locks.
std::string RenderMetrics(const MetricsInput& input);

// Serves one scrape: counts it, copies the store's pointers, reads /proc/self,
// renders without holding any lock and records how long that took. `drills` may be null.
std::string Scrape(const ResultStore& store, SelfMetrics& self,
                   const DrillStateStore* drills = nullptr);

}  // namespace dbcanary
