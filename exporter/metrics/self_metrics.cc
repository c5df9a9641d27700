#include "exporter/metrics/self_metrics.h"

#include <algorithm>

#include "exporter/version.h"
#include "exporter/web/tls_front.h"

namespace dbcanary {
namespace {

constexpr std::string_view kBuildInfo = "dbcanary_build_info";
constexpr std::string_view kScrapes = "dbcanary_exporter_scrapes_total";
constexpr std::string_view kScrapeDuration = "dbcanary_exporter_scrape_duration_seconds";
constexpr std::string_view kProbes = "dbcanary_exporter_probes";
constexpr std::string_view kReloadSuccessful = "dbcanary_config_last_reload_successful";
constexpr std::string_view kReloadSuccessTime =
    "dbcanary_config_last_reload_success_timestamp_seconds";
constexpr std::string_view kReloads = "dbcanary_config_reloads_total";
constexpr std::string_view kResidentMemory = "process_resident_memory_bytes";
constexpr std::string_view kVirtualMemory = "process_virtual_memory_bytes";
constexpr std::string_view kCpuSeconds = "process_cpu_seconds_total";
constexpr std::string_view kOpenFds = "process_open_fds";
constexpr std::string_view kMaxFds = "process_max_fds";
constexpr std::string_view kStartTime = "process_start_time_seconds";
constexpr std::string_view kTlsHandshakeFailures = "dbcanary_web_tls_handshake_failures_total";
constexpr std::string_view kConnectionsRejected = "dbcanary_web_connections_rejected_total";

constexpr std::array kSelfFamilyNames = {
    kBuildInfo,
    kScrapes,
    kScrapeDuration,
    kProbes,
    kReloadSuccessful,
    kReloadSuccessTime,
    kReloads,
    kResidentMemory,
    kVirtualMemory,
    kCpuSeconds,
    kOpenFds,
    kMaxFds,
    kStartTime,
    kTlsHandshakeFailures,
    kConnectionsRejected,
};

// A scrape renders in well under a millisecond when the cache holds; a full render of tens of
// thousands of series takes milliseconds; seconds mean trouble.
const prometheus::Histogram::BucketBoundaries kScrapeBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

template <typename Builder>
auto& Register(Builder builder, std::string_view name, const char* help,
               prometheus::Registry& registry) {
  return builder.Name(std::string(name)).Help(help).Register(registry);
}

double UnixSeconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

}  // namespace

struct SelfMetrics::ProcessGauges {
  prometheus::Gauge& resident;
  prometheus::Gauge& virtual_size;
  prometheus::Counter& cpu_seconds;
  prometheus::Gauge& open_fds;
  prometheus::Gauge& max_fds;
  prometheus::Gauge& start_time;
};

struct SelfMetrics::WebTlsCounters {
  prometheus::Family<prometheus::Counter>& handshake_failures_family;
  std::array<prometheus::Counter*, kTlsHandshakeFailureNames.size()> handshake_failures{};
};

SelfMetrics::SelfMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      scrapes_(Register(prometheus::BuildCounter(), kScrapes,
                        "Scrapes of /metrics served since the exporter started.", *registry_)
                   .Add({})),
      scrape_duration_(Register(prometheus::BuildHistogram(), kScrapeDuration,
                                "How long producing the /metrics body took, in seconds.",
                                *registry_)
                           .Add({}, kScrapeBuckets)),
      probes_(Register(prometheus::BuildGauge(), kProbes, "Probes in the running configuration.",
                       *registry_)
                  .Add({})),
      reload_successful_(Register(prometheus::BuildGauge(), kReloadSuccessful,
                                  "1 if the last configuration load (start-up or reload) "
                                  "succeeded, 0 if it failed and the previous one is still "
                                  "running.",
                                  *registry_)
                             .Add({})),
      reload_success_time_family_(Register(prometheus::BuildGauge(), kReloadSuccessTime,
                                           "Unix time of the last successful configuration "
                                           "load (start-up or reload).",
                                           *registry_)),
      reloads_(Register(prometheus::BuildCounter(), kReloads,
                        "Configuration reloads (SIGHUP or POST /-/reload), by result.",
                        *registry_)),
      reloads_succeeded_(reloads_.Add({{"result", "success"}})),
      reloads_failed_(reloads_.Add({{"result", "failure"}})),
      // The front (tls_front.h) caps connections with TLS and without.
      connections_rejected_(Register(prometheus::BuildCounter(), kConnectionsRejected,
                                     "Connections to the web endpoint closed at once because "
                                     "the connection limit was reached.",
                                     *registry_)
                                .Add({})) {
  Register(prometheus::BuildGauge(), kBuildInfo,
           "Version and git revision of the running dbcanary; always 1.", *registry_)
      .Add({{"version", std::string(Version())}, {"revision", std::string(Revision())}})
      .Set(1);
}

SelfMetrics::~SelfMetrics() = default;

void SelfMetrics::CountScrape() { scrapes_.Increment(); }

void SelfMetrics::ObserveScrapeDuration(double seconds) { scrape_duration_.Observe(seconds); }

void SelfMetrics::SetProbes(size_t probes) { probes_.Set(static_cast<double>(probes)); }

void SelfMetrics::SetProcessStats(const ProcessStats& stats) {
  std::lock_guard lock(mutex_);
  if (!process_) {
    auto gauge = [&](std::string_view name, const char* help) -> prometheus::Gauge& {
      return Register(prometheus::BuildGauge(), name, help, *registry_).Add({});
    };
    process_.reset(new ProcessGauges{
        gauge(kResidentMemory, "Resident memory size of the exporter process, in bytes."),
        gauge(kVirtualMemory, "Virtual memory size of the exporter process, in bytes."),
        Register(prometheus::BuildCounter(), kCpuSeconds,
                 "User and system CPU time spent by the exporter process, in seconds.", *registry_)
            .Add({}),
        gauge(kOpenFds, "File descriptors open in the exporter process."),
        gauge(kMaxFds, "Limit on open file descriptors of the exporter process."),
        gauge(kStartTime, "Unix time at which the exporter process started."),
    });
  }
  process_->resident.Set(stats.resident_memory_bytes);
  process_->virtual_size.Set(stats.virtual_memory_bytes);
  // A counter only moves up: by what /proc says was spent since the last scrape.
  process_->cpu_seconds.Increment(
      std::max(0.0, stats.cpu_seconds_total - process_->cpu_seconds.Value()));
  process_->open_fds.Set(stats.open_fds);
  process_->max_fds.Set(stats.max_fds);
  process_->start_time.Set(stats.start_time_seconds);
}

void SelfMetrics::RecordInitialLoad(std::chrono::system_clock::time_point at) {
  std::lock_guard lock(mutex_);
  reload_successful_.Set(1);
  if (reload_success_time_ == nullptr) reload_success_time_ = &reload_success_time_family_.Add({});
  reload_success_time_->Set(UnixSeconds(at));
  last_reload_success_ = at;
}

void SelfMetrics::RecordReload(bool success, std::chrono::system_clock::time_point at) {
  if (!success) {
    reload_successful_.Set(0);
    reloads_failed_.Increment();
    return;
  }
  RecordInitialLoad(at);
  reloads_succeeded_.Increment();
}

void SelfMetrics::EnableWebTls() {
  std::lock_guard lock(mutex_);
  EnableWebTlsLocked();
}

void SelfMetrics::EnableWebTlsLocked() {
  if (web_tls_) return;
  auto& failures =
      Register(prometheus::BuildCounter(), kTlsHandshakeFailures,
               "TLS handshakes on the web endpoint that failed, by reason.", *registry_);
  web_tls_.reset(new WebTlsCounters{failures, {}});
  for (size_t i = 0; i < kTlsHandshakeFailureNames.size(); ++i) {
    web_tls_->handshake_failures[i] =
        &failures.Add({{"reason", std::string(kTlsHandshakeFailureNames[i])}});
  }
}

void SelfMetrics::CountTlsHandshakeFailure(size_t reason) {
  std::lock_guard lock(mutex_);
  EnableWebTlsLocked();  // counted by a TLS front: then the front is in use
  if (reason < web_tls_->handshake_failures.size()) {
    web_tls_->handshake_failures[reason]->Increment();
  }
}

void SelfMetrics::CountWebConnectionRejected() { connections_rejected_.Increment(); }

SelfMetricsSnapshot SelfMetrics::Snapshot() const {
  std::lock_guard lock(mutex_);
  SelfMetricsSnapshot out;
  out.scrapes = static_cast<uint64_t>(scrapes_.Value());
  out.last_reload_successful = reload_successful_.Value() == 1;
  out.last_reload_success = last_reload_success_;
  out.reloads_succeeded = static_cast<uint64_t>(reloads_succeeded_.Value());
  out.reloads_failed = static_cast<uint64_t>(reloads_failed_.Value());
  if (web_tls_) {
    out.web_tls = true;
    for (size_t i = 0; i < web_tls_->handshake_failures.size(); ++i) {
      out.web_tls_handshake_failures[i] =
          static_cast<uint64_t>(web_tls_->handshake_failures[i]->Value());
    }
  }
  out.web_connections_rejected = static_cast<uint64_t>(connections_rejected_.Value());
  return out;
}

std::vector<prometheus::MetricFamily> SelfMetrics::Collect() const { return registry_->Collect(); }

std::span<const std::string_view> SelfMetrics::FamilyNames() { return kSelfFamilyNames; }

}  // namespace dbcanary
