#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "drills/runtime/state_store.h"
#include "exporter/metrics/process_metrics.h"
#include "exporter/metrics/self_metrics.h"
#include "probes/runtime/result_store.h"

namespace dbcanary {

// Content-Type of the Prometheus text exposition format 0.0.4 that prometheus::TextSerializer
// writes.
inline constexpr std::string_view kTextFormatContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// The collector: turns the stores' current snapshots (probe state and results, expectations,
// drills) into prometheus-cpp families on every Collect(), the way a Go custom collector does.
// Probes keep writing results, never metric objects. `drills` may be null.
class ResultCollector : public prometheus::Collectable {
 public:
  ResultCollector(const ResultStore& store, const DrillStateStore* drills)
      : store_(store), drills_(drills) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

  // The same families for given snapshots.
  static std::vector<prometheus::MetricFamily> CollectFrom(const std::vector<ProbeSnapshot>& probes,
                                                           const std::vector<DrillState>& drills);

 private:
  const ResultStore& store_;
  const DrillStateStore* drills_;
};

// Everything the probe and drill families of one /metrics body are built from.
struct MetricsInput {
  std::vector<ProbeSnapshot> probes;
  std::vector<DrillState> drills;  // dbcanary_drill_* and the drills' own families
};

// The whole /metrics body without any cache: the collector's families, then the self metrics
// (with dbcanary_exporter_probes set to the number of probes), serialized by
// prometheus::TextSerializer. The reference the cached path is tested against.
std::string RenderMetrics(const MetricsInput& input, SelfMetrics& self);

// The text of the probe and drill families, kept between scrapes and rebuilt only from what
// changed: one text segment per probe (its lines of every family), re-serialized only when that
// probe's result or counters changed, plus one for the drills, spliced per family under one
// HELP/TYPE header at scrape time. When neither store's generation moved, the spliced text
// itself is reused. Byte for byte what the collector gives through the serializer. One per HTTP
// server; thread-safe (scrapes run concurrently on CivetWeb's workers: one rebuilds while the
// others wait for its result).
class RenderCache {
 public:
  RenderCache();
  ~RenderCache();
  RenderCache(const RenderCache&) = delete;
  RenderCache& operator=(const RenderCache&) = delete;

  struct Text {
    size_t probes = 0;  // for dbcanary_exporter_probes
    std::string text;
  };
  std::shared_ptr<const Text> Get(const ResultStore& store, const DrillStateStore* drills);

 private:
  struct State;
  std::mutex mutex_;
  std::unique_ptr<State> state_;
};

// Serves one scrape: counts it, reads /proc/self, takes the probe and drill text (from the
// cache when given one, else freshly collected) without holding the stores' locks, appends the
// self metrics and records how long that took. `drills` and `cache` may be null.
std::string Scrape(const ResultStore& store, SelfMetrics& self,
                   const DrillStateStore* drills = nullptr, RenderCache* cache = nullptr);

}  // namespace dbcanary
