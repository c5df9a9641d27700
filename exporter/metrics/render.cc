#include "exporter/metrics/render.h"

#include <array>
#include <chrono>

#include "core/deadline.h"
#include "core/text_format.h"
#include "drills/runtime/drill_metrics.h"
#include "exporter/version.h"
#include "exporter/web/tls_front.h"
#include "probes/runtime/expectation_metrics.h"

namespace dbcanary {
namespace {

using Type = MetricType;

const MetricDesc kProbeSuccess{"dbcanary_probe_success",
                               "1 if the last run of the probe succeeded, 0 if it failed or has "
                               "not run yet.",
                               Type::kGauge};
const MetricDesc kProbeDuration{"dbcanary_probe_duration_seconds",
                                "How long the last run of the probe took, in seconds.",
                                Type::kGauge};
const MetricDesc kProbeLastRun{"dbcanary_probe_last_run_timestamp_seconds",
                               "Unix time at which the last run of the probe finished.",
                               Type::kGauge};
const MetricDesc kProbeLastSuccess{"dbcanary_probe_last_success_timestamp_seconds",
                                   "Unix time at which the last successful run of the probe "
                                   "finished.",
                                   Type::kGauge};
const MetricDesc kProbeRuns{"dbcanary_probe_runs_total", "Finished runs of the probe.",
                            Type::kCounter};
const MetricDesc kProbeFailures{"dbcanary_probe_failures_total",
                                "Failed runs of the probe, by reason (an error code name).",
                                Type::kCounter};
const MetricDesc kProbeSkipped{"dbcanary_probe_skipped_total",
                               "Runs not started because the previous run of the probe was "
                               "still in flight.",
                               Type::kCounter};
const MetricDesc kProbeInterval{"dbcanary_probe_interval_seconds",
                                "Configured interval between runs of the probe, in seconds.",
                                Type::kGauge};
const MetricDesc kProbeTimeout{"dbcanary_probe_timeout_seconds",
                               "Configured deadline of one run of the probe, in seconds.",
                               Type::kGauge};
const MetricDesc kBuildInfo{"dbcanary_build_info",
                            "Version and git revision of the running dbcanary; always 1.",
                            Type::kGauge};
const MetricDesc kScrapes{"dbcanary_exporter_scrapes_total",
                          "Scrapes of /metrics served since the exporter started.", Type::kCounter};
const MetricDesc kScrapeDuration{"dbcanary_exporter_scrape_duration_seconds",
                                 "How long rendering the previous /metrics scrape took, in "
                                 "seconds.",
                                 Type::kGauge};
const MetricDesc kProbes{"dbcanary_exporter_probes", "Probes in the running configuration.",
                         Type::kGauge};
const MetricDesc kReloadSuccessful{"dbcanary_config_last_reload_successful",
                                   "1 if the last configuration load (start-up or reload) "
                                   "succeeded, 0 if it failed and the previous one is still "
                                   "running.",
                                   Type::kGauge};
const MetricDesc kReloadSuccessTime{"dbcanary_config_last_reload_success_timestamp_seconds",
                                    "Unix time of the last successful configuration load "
                                    "(start-up or reload).",
                                    Type::kGauge};
const MetricDesc kReloads{"dbcanary_config_reloads_total",
                          "Configuration reloads (SIGHUP or POST /-/reload), by result.",
                          Type::kCounter};
const MetricDesc kResidentMemory{"dbcanary_process_resident_memory_bytes",
                                 "Resident memory size of the exporter process, in bytes.",
                                 Type::kGauge};
const MetricDesc kVirtualMemory{"dbcanary_process_virtual_memory_bytes",
                                "Virtual memory size of the exporter process, in bytes.",
                                Type::kGauge};
const MetricDesc kCpuSeconds{"dbcanary_process_cpu_seconds_total",
                             "User and system CPU time spent by the exporter process, in "
                             "seconds.",
                             Type::kCounter};
const MetricDesc kOpenFds{"dbcanary_process_open_fds",
                          "File descriptors open in the exporter process.", Type::kGauge};
const MetricDesc kMaxFds{"dbcanary_process_max_fds",
                         "Limit on open file descriptors of the exporter process.", Type::kGauge};
const MetricDesc kStartTime{"dbcanary_process_start_time_seconds",
                            "Unix time at which the exporter process started.", Type::kGauge};
const MetricDesc kTlsHandshakeFailures{"dbcanary_web_tls_handshake_failures_total",
                                       "TLS handshakes on the web endpoint that failed, by "
                                       "reason.",
                                       Type::kCounter};
const MetricDesc kConnectionsRejected{"dbcanary_web_connections_rejected_total",
                                      "Connections to the web endpoint closed at once because "
                                      "the connection limit was reached.",
                                      Type::kCounter};

double UnixSeconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

double Seconds(std::chrono::milliseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

void AddProbeState(const ProbeSnapshot& probe, FamilyBuilder& builder) {
  const ProbeInfo& info = *probe.info;
  const ProbeCounters& counters = probe.counters;
  Labels labels{{"probe", info.key.kind}, {"target", info.key.target}};
  const ProbeResult* latest = probe.latest.get();
  // Never-ran is not failed: until the first result the success series is absent (runs_total 0
  // says the probe exists), so a restart or rollout raises no alert while probes first run.
  if (latest != nullptr) {
    builder.Add({kProbeSuccess.name, labels, latest->success ? 1.0 : 0.0});
    builder.Add({kProbeDuration.name, labels, latest->duration_seconds});
    builder.Add({kProbeLastRun.name, labels, UnixSeconds(latest->finished_at)});
  }
  if (counters.last_success) {
    builder.Add({kProbeLastSuccess.name, labels, UnixSeconds(*counters.last_success)});
  }
  builder.Add({kProbeRuns.name, labels, static_cast<double>(counters.runs)});
  for (size_t i = 0; i < kAllErrorCodes.size(); ++i) {
    Labels reason = labels;
    reason.emplace_back("reason", std::string(ErrorCodeName(kAllErrorCodes[i])));
    builder.Add(
        {kProbeFailures.name, std::move(reason), static_cast<double>(counters.failures[i])});
  }
  builder.Add({kProbeSkipped.name, labels, static_cast<double>(counters.skipped)});
  builder.Add({kProbeInterval.name, labels, Seconds(info.interval)});
  builder.Add({kProbeTimeout.name, labels, Seconds(info.timeout)});
}

void AddSelf(const SelfMetricsSnapshot& self, size_t probes,
             const std::optional<ProcessStats>& process, FamilyBuilder& builder) {
  builder.Add({kBuildInfo.name,
               {{"version", std::string(Version())}, {"revision", std::string(Revision())}},
               1});
  builder.Add({kScrapes.name, {}, static_cast<double>(self.scrapes)});
  builder.Add({kScrapeDuration.name, {}, self.last_scrape_duration_seconds});
  builder.Add({kProbes.name, {}, static_cast<double>(probes)});
  builder.Add({kReloadSuccessful.name, {}, self.last_reload_successful ? 1.0 : 0.0});
  if (self.last_reload_success) {
    builder.Add({kReloadSuccessTime.name, {}, UnixSeconds(*self.last_reload_success)});
  }
  builder.Add(
      {kReloads.name, {{"result", "success"}}, static_cast<double>(self.reloads_succeeded)});
  builder.Add({kReloads.name, {{"result", "failure"}}, static_cast<double>(self.reloads_failed)});
  if (process) {
    builder.Add({kResidentMemory.name, {}, process->resident_memory_bytes});
    builder.Add({kVirtualMemory.name, {}, process->virtual_memory_bytes});
    builder.Add({kCpuSeconds.name, {}, process->cpu_seconds_total});
    builder.Add({kOpenFds.name, {}, process->open_fds});
    builder.Add({kMaxFds.name, {}, process->max_fds});
    builder.Add({kStartTime.name, {}, process->start_time_seconds});
  }
  if (self.web_tls) {  // only with tls_server_config (the TLS front, tls_front.h)
    for (size_t i = 0; i < kTlsHandshakeFailureNames.size(); ++i) {
      builder.Add({kTlsHandshakeFailures.name,
                   {{"reason", std::string(kTlsHandshakeFailureNames[i])}},
                   static_cast<double>(self.web_tls_handshake_failures[i])});
    }
  }
  // The front (tls_front.h) caps connections with TLS and without.
  builder.Add({kConnectionsRejected.name, {}, static_cast<double>(self.web_connections_rejected)});
}

// The families of the probes' state and results and the drills, in exposition order.
void DescribeSnapshotFamilies(const std::vector<ProbeSnapshot>& probes,
                              const std::vector<DrillState>& drills, FamilyBuilder& builder) {
  for (const auto* desc :
       {&kProbeSuccess, &kProbeDuration, &kProbeLastRun, &kProbeLastSuccess, &kProbeRuns,
        &kProbeFailures, &kProbeSkipped, &kProbeInterval, &kProbeTimeout}) {
    builder.Describe(*desc);
  }
  DescribeExpectationFamilies(builder);
  for (const auto& probe : probes) {
    for (const auto& desc : probe.info->descriptors) builder.Describe(desc);
  }
  DescribeDrillMetrics(drills, builder);
}

// The exporter's own families: rendered on every scrape, after the probes' and drills'.
constexpr std::array kSelfFamilies = {
    &kBuildInfo,
    &kScrapes,
    &kScrapeDuration,
    &kProbes,
    &kReloadSuccessful,
    &kReloadSuccessTime,
    &kReloads,
    &kResidentMemory,
    &kVirtualMemory,
    &kCpuSeconds,
    &kOpenFds,
    &kMaxFds,
    &kStartTime,
    &kTlsHandshakeFailures,
    &kConnectionsRejected,
};

void DescribeSelfFamilies(FamilyBuilder& builder) {
  for (const auto* desc : kSelfFamilies) builder.Describe(*desc);
}

void AddSnapshotSamples(const std::vector<ProbeSnapshot>& probes,
                        const std::vector<DrillState>& drills, FamilyBuilder& builder) {
  for (const auto& probe : probes) {
    AddProbeState(probe, builder);
    if (!probe.latest) continue;
    AddExpectationSamples(probe.latest->expectations, probe.info->key.target, builder);
    // Only families this probe described: a sample outside them is dropped, not
    // rendered without HELP/TYPE.
    for (const auto& sample : probe.latest->samples) {
      for (const auto& desc : probe.info->descriptors) {
        if (desc.name == sample.name) {
          builder.Add(sample);
          break;
        }
      }
    }
  }
  AddDrillMetrics(drills, builder);
}

// Renders the probe and drill families on their own. Identical to the leading part of
// RenderMetrics' body unless a probe or drill describes a self-metric family (then
// RenderMetrics would merge the self samples into it): `split` says so.
std::shared_ptr<const RenderCache::Entry> RenderSnapshotPart(
    const std::vector<ProbeSnapshot>& probes, const std::vector<DrillState>& drills,
    uint64_t store_generation, uint64_t drills_generation) {
  auto entry = std::make_shared<RenderCache::Entry>();
  entry->store_generation = store_generation;
  entry->drills_generation = drills_generation;
  entry->probes = probes.size();
  FamilyBuilder builder;
  DescribeSnapshotFamilies(probes, drills, builder);
  AddSnapshotSamples(probes, drills, builder);
  std::vector<MetricFamily> families = builder.Take();
  for (const auto& family : families) {
    for (const auto* self : kSelfFamilies) {
      if (family.desc.name == self->name) entry->split = false;
    }
  }
  if (entry->split) AppendTextFormat(families, entry->text);
  return entry;
}

}  // namespace

std::string RenderMetrics(const MetricsInput& input) {
  FamilyBuilder builder;
  DescribeSnapshotFamilies(input.probes, input.drills, builder);
  DescribeSelfFamilies(builder);
  AddSnapshotSamples(input.probes, input.drills, builder);
  AddSelf(input.self, input.probes.size(), input.process, builder);

  std::string body;
  AppendTextFormat(builder.Take(), body);
  return body;
}

std::shared_ptr<const RenderCache::Entry> RenderCache::Get() const {
  std::lock_guard lock(mutex_);
  return entry_;
}

void RenderCache::Put(std::shared_ptr<const Entry> entry) {
  std::lock_guard lock(mutex_);
  entry_ = std::move(entry);
}

std::string Scrape(const ResultStore& store, SelfMetrics& self, const DrillStateStore* drills,
                   RenderCache* cache) {
  auto started = SteadyClock::now();
  SelfMetricsSnapshot self_snapshot = self.CountScrape();
  std::optional<ProcessStats> process = ReadProcessStats();
  std::string body;
  // Generations are unique per store object, so an entry never matches another store.
  std::shared_ptr<const RenderCache::Entry> entry;
  if (cache != nullptr) {
    entry = cache->Get();
    uint64_t drills_generation = drills != nullptr ? drills->generation() : 0;
    if (entry && (entry->store_generation != store.generation() ||
                  entry->drills_generation != drills_generation)) {
      entry.reset();
    }
    if (!entry) {
      uint64_t store_at = 0;
      uint64_t drills_at = 0;
      std::vector<ProbeSnapshot> probes = store.Snapshot(&store_at);
      std::vector<DrillState> states;
      if (drills != nullptr) states = drills->Snapshot(&drills_at);
      entry = RenderSnapshotPart(probes, states, store_at, drills_at);
      cache->Put(entry);
    }
  }
  if (entry && entry->split) {
    FamilyBuilder builder;
    DescribeSelfFamilies(builder);
    AddSelf(self_snapshot, entry->probes, process, builder);
    body.reserve(entry->text.size() + 4096);
    body = entry->text;
    AppendTextFormat(builder.Take(), body);
  } else {
    MetricsInput input;
    input.self = self_snapshot;
    input.probes = store.Snapshot();
    input.process = std::move(process);
    if (drills != nullptr) input.drills = drills->Snapshot();
    body = RenderMetrics(input);
  }
  self.SetScrapeDuration(SecondsSince(started));
  return body;
}

}  // namespace dbcanary
