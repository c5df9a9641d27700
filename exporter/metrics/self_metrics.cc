#include "exporter/metrics/self_metrics.h"

namespace dbcanary {

SelfMetricsSnapshot SelfMetrics::CountScrape() {
  std::lock_guard lock(mutex_);
  ++values_.scrapes;
  return values_;
}

void SelfMetrics::SetScrapeDuration(double seconds) {
  std::lock_guard lock(mutex_);
  values_.last_scrape_duration_seconds = seconds;
}

void SelfMetrics::RecordInitialLoad(std::chrono::system_clock::time_point at) {
  std::lock_guard lock(mutex_);
  values_.last_reload_successful = true;
  values_.last_reload_success = at;
}

void SelfMetrics::RecordReload(bool success, std::chrono::system_clock::time_point at) {
  std::lock_guard lock(mutex_);
  values_.last_reload_successful = success;
  if (success) {
    values_.last_reload_success = at;
    ++values_.reloads_succeeded;
  } else {
    ++values_.reloads_failed;
  }
}

void SelfMetrics::EnableWebTls() {
  std::lock_guard lock(mutex_);
  values_.web_tls = true;
}

void SelfMetrics::CountTlsHandshakeFailure(size_t reason) {
  std::lock_guard lock(mutex_);
  if (reason < values_.web_tls_handshake_failures.size()) {
    ++values_.web_tls_handshake_failures[reason];
  }
}

void SelfMetrics::CountWebConnectionRejected() {
  std::lock_guard lock(mutex_);
  ++values_.web_connections_rejected;
}

SelfMetricsSnapshot SelfMetrics::Snapshot() const {
  std::lock_guard lock(mutex_);
  return values_;
}

}  // namespace dbcanary
