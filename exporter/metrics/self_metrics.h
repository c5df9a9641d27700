#pragma once

#include <array>
#include <chrono>
#include <cstddef>
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
  // The TLS front (tls_front.h), when tls_server_config is set: handshake failures by
  // TlsHandshakeFailure, and connections closed at once over the connection limit.
  bool web_tls = false;
  std::array<uint64_t, 4> web_tls_handshake_failures{};
  uint64_t web_connections_rejected = 0;
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
  void EnableWebTls();
  void CountTlsHandshakeFailure(size_t reason);  // a TlsHandshakeFailure
  void CountWebConnectionRejected();

 private:
  mutable std::mutex mutex_;
  SelfMetricsSnapshot values_;
};

}  // namespace dbcanary
