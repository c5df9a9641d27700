#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "exporter/metrics/process_metrics.h"

namespace dbcanary {

// The self metrics' values, read back for tests and callers that want numbers, not text.
struct SelfMetricsSnapshot {
  uint64_t scrapes = 0;
  bool last_reload_successful = false;
  std::optional<std::chrono::system_clock::time_point> last_reload_success;
  uint64_t reloads_succeeded = 0;
  uint64_t reloads_failed = 0;
  // The TLS front (tls_front.h), when tls_server_config is set: handshake failures by
  // TlsHandshakeFailure, and connections closed at once over the connection limit.
  bool web_tls = false;
  std::array<uint64_t, 4> web_tls_handshake_failures{};
  uint64_t web_connections_rejected = 0;
};

// The exporter's own metrics (scrapes, scrape duration, configuration loads, build info, process
// figures, the TLS front's counters) as prometheus-cpp families in one prometheus::Registry.
// Thread-safe: the metric objects are atomic, the few read-modify-write steps take a mutex.
class SelfMetrics {
 public:
  SelfMetrics();
  ~SelfMetrics();
  SelfMetrics(const SelfMetrics&) = delete;
  SelfMetrics& operator=(const SelfMetrics&) = delete;

  void CountScrape();
  void ObserveScrapeDuration(double seconds);
  void SetProbes(size_t probes);
  // /proc/self figures of this scrape; the process_* series appear with the first call.
  void SetProcessStats(const ProcessStats& stats);
  // The configuration read at start-up: sets the "last reload" gauges, not the counters.
  void RecordInitialLoad(std::chrono::system_clock::time_point at);
  void RecordReload(bool success, std::chrono::system_clock::time_point at);
  void EnableWebTls();
  void CountTlsHandshakeFailure(size_t reason);  // a TlsHandshakeFailure
  void CountWebConnectionRejected();

  SelfMetricsSnapshot Snapshot() const;
  // Every family of the registry (empty ones included: the serializer's caller drops them).
  std::vector<prometheus::MetricFamily> Collect() const;

  // The names of the families above: a probe or drill describing one is refused, so a family
  // never appears twice on /metrics.
  static std::span<const std::string_view> FamilyNames();

 private:
  struct ProcessGauges;
  struct WebTlsCounters;
  void EnableWebTlsLocked();

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter& scrapes_;
  prometheus::Histogram& scrape_duration_;
  prometheus::Gauge& probes_;
  prometheus::Gauge& reload_successful_;
  prometheus::Family<prometheus::Gauge>& reload_success_time_family_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Counter& reloads_succeeded_;
  prometheus::Counter& reloads_failed_;
  prometheus::Counter& connections_rejected_;

  mutable std::mutex mutex_;  // guards the lazily added series below
  prometheus::Gauge* reload_success_time_ = nullptr;
  std::optional<std::chrono::system_clock::time_point> last_reload_success_;
  std::unique_ptr<ProcessGauges> process_;
  std::unique_ptr<WebTlsCounters> web_tls_;
};

}  // namespace dbcanary
