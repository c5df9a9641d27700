#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace dbcanary {

struct SelfMetricsSnapshot {
  uint64_t scrapes = 0;
  double last_scrape_duration_seconds = 0;
  bool last_reload_successful = false;
  std::optional<std::chrono::system_clock::time_point> last_reload_success;
  uint64_t reloads_succeeded = 0;
  uint64_t reloads_failed = 0;
};

// The exporter's own counters: scrapes and configuration loads.
class SelfMetrics {
 public:
  // Counts a scrape; the returned snapshot includes it.
  SelfMetricsSnapshot CountScrape();
  void SetScrapeDuration(double seconds);
  // The configuration read at start-up: sets the "last reload" gauges, not the counters.
  void RecordInitialLoad(std::chrono::system_clock::time_point at);
  void RecordReload(bool success, std::chrono::system_clock::time_point at);
  SelfMetricsSnapshot Snapshot() const;

 private:
  mutable std::mutex mutex_;
  SelfMetricsSnapshot values_;
};

}  // namespace dbcanary
