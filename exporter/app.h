#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "drills/drill.h"
#include "drills/runtime/drill_scheduler.h"
#include "drills/runtime/state_store.h"
#include "exporter/drill_handover.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/reloader.h"
#include "exporter/web/http_server.h"
#include "probes/probe.h"
#include "probes/runtime/result_store.h"
#include "probes/runtime/scheduler.h"

namespace dbcanary {

struct AppOptions {
  std::string config_path;
  std::optional<std::string> listen_address;  // --web.listen-address; wins over the config
  // How long Stop() waits for probe runs in flight before giving up on them.
  std::chrono::milliseconds stop_limit{1500};
  std::optional<std::string> web_config_file{};  // --web.config.file; read at start only
  std::optional<std::string> telemetry_path{};   // --web.telemetry-path; default /metrics
  // --log.level, --log.format: win over exporter.log at start and on every reload.
  std::optional<std::string> log_level{};
  std::optional<std::string> log_format{};
  // How long POST /-/reload waits for its reload to finish before answering 503 (the reload
  // still completes; dbcanary_config_last_reload_successful tells how it went).
  std::chrono::milliseconds web_reload_wait{std::chrono::seconds(10)};
  // Builds what runs the drills of a config generation. Unset: a DrillScheduler, and nothing
  // for a config without drills. Tests put a drill with a slow cleanup here.
  std::function<std::unique_ptr<DrillGeneration>(const std::shared_ptr<const Config>&,
                                                 std::vector<ConfiguredDrill>, DrillStateStore&)>
      make_drills{};
};

// The running exporter: the current config, its scheduler, the result store and
// the HTTP server, and the reload that swaps one config generation for the next.
class App {
 public:
  App(const ProbeRegistry& registry, AppOptions options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Loads the config, builds its probes, listens and starts probing.
  Status Start();
  // Loads the config file again and builds all its probes; only when everything
  // succeeded does it replace the running scheduler. On error the old config keeps
  // running, the error is logged and returned. Safe to call from any thread: it runs on
  // the reload thread (concurrent calls coalesce) and never waits for a running drill,
  // which is stopped on a thread of its own (DrillHandover).
  Status Reload();
  // The same without waiting for the outcome (SIGHUP): returns at once.
  void RequestReload();
  // Stops HTTP and probing. Returns false if probe runs were still in flight after
  // stop_limit (their threads are left to finish on their own).
  bool Stop();

  int port() const;
  const ResultStore& store() const { return store_; }
  // Drill state (last runs, next runs, running flag): for the status page and `validate`.
  const DrillStateStore& drills() const { return drill_store_; }

 private:
  // The reload itself, on the reload thread.
  Status ReloadNow();
  // POST /-/reload: the reload, waited for at most web_reload_wait.
  Status ReloadFromWeb();
  void ReapRetired();
  // exporter.log of `config`, with the --log.* flags applied.
  void ApplyLogging(const Config& config) const;
  // Hands the drills of `config` to drills_: a running drill is stopped (it cleans up) on
  // the handover's thread, and the new drills start after it.
  void StartDrills(const std::shared_ptr<const Config>& config,
                   std::vector<ConfiguredDrill> drills);

  const ProbeRegistry& registry_;
  AppOptions options_;
  ResultStore store_;
  SelfMetrics self_;

  std::mutex mutex_;  // serializes Start/ReloadNow/Stop; never held across a drill's stop
  std::shared_ptr<const Config> config_;
  // validate.skip of the running config, for the status page (read from web threads, which
  // must not wait on mutex_ while a reload runs).
  mutable std::mutex skipped_mutex_;
  std::vector<SkippedGroup> skipped_groups_;
  void PublishSkippedGroups(const Config& config);
  std::vector<SkippedGroup> SkippedGroups() const;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Scheduler> scheduler_;
  // Stopped schedulers whose runs may still be in flight; destroyed once finished.
  std::vector<std::unique_ptr<Scheduler>> retired_;

  DrillRegistry drill_registry_;
  DrillStateStore drill_store_;
  DrillHandover drills_handover_;  // one drill generation at a time, swapped without waiting
  Reloader reloader_{[this] { return ReloadNow(); }};  // last: its thread calls into the rest
};

}  // namespace dbcanary
