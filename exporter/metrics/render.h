#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "drills/runtime/state_store.h"
#include "exporter/metrics/process_metrics.h"
#include "exporter/metrics/self_metrics.h"
#include "probes/runtime/result_store.h"

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

// The rendered text of the probe and drill families (everything but the self metrics),
// kept between scrapes: it only changes when a probe or drill publishes, which bumps the
// stores' generations. One per HTTP server; thread-safe (scrapes run concurrently on
// CivetWeb's workers), and its mutex is held only to swap a pointer.
class RenderCache {
 public:
  struct Entry {
    uint64_t store_generation = 0;
    uint64_t drills_generation = 0;  // 0: rendered without a drill store
    size_t probes = 0;               // for dbcanary_exporter_probes
    // False when a probe or drill describes a family of the self metrics: then the
    // families cannot be rendered apart and every scrape renders in full.
    bool split = true;
    std::string text;
  };

  std::shared_ptr<const Entry> Get() const;
  void Put(std::shared_ptr<const Entry> entry);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Entry> entry_;
};

// Serves one scrape: counts it, copies the store's pointers, reads /proc/self,
// renders without holding any lock and records how long that took. `drills` may be null.
// With a cache, the probe and drill families are rendered only when a store's generation
// moved since the cached text; the self metrics are always rendered fresh. The body is
// byte for byte what RenderMetrics gives for the same state.
std::string Scrape(const ResultStore& store, SelfMetrics& self,
                   const DrillStateStore* drills = nullptr, RenderCache* cache = nullptr);

}  // namespace dbcanary
