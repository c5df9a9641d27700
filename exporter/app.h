#pragma once

#include <chrono>
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
#include "exporter/metrics/self_metrics.h"
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
  // running, the error is logged and returned. Safe to call from any thread.
  Status Reload();
  // Stops HTTP and probing. Returns false if probe runs were still in flight after
  // stop_limit (their threads are left to finish on their own).
  bool Stop();

  int port() const;
  const ResultStore& store() const { return store_; }
  // Drill state (last runs, next runs, running flag): for the status page and `validate`.
  const DrillStateStore& drills() const { return drill_store_; }

 private:
  void ReapRetired();
  // Replaces the running drill scheduler (stopping it first lets its drill clean up).
  void StartDrills(const std::shared_ptr<const Config>& config,
                   std::vector<ConfiguredDrill> drills);

  const ProbeRegistry& registry_;
  AppOptions options_;
  ResultStore store_;
  SelfMetrics self_;

  std::mutex mutex_;  // serializes Start/Reload/Stop
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
  std::unique_ptr<DrillScheduler> drill_scheduler_;  // own thread, one drill at a time
};

}  // namespace dbcanary
