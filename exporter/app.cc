#include "exporter/app.h"

#include <algorithm>

#include "exporter/logging.h"
#include "probes/runtime/probe_builder.h"

namespace dbcanary {
namespace {

std::vector<std::shared_ptr<const ProbeInfo>> Infos(const std::vector<ScheduledProbe>& probes) {
  std::vector<std::shared_ptr<const ProbeInfo>> infos;
  infos.reserve(probes.size());
  for (const auto& probe : probes) infos.push_back(probe.info);
  return infos;
}

// The daemon's drills of one config generation: its DrillScheduler.
class ScheduledDrills : public DrillGeneration {
 public:
  ScheduledDrills(const std::shared_ptr<const Config>& config, std::vector<ConfiguredDrill> drills,
                  DrillStateStore& store) {
    DrillSchedulerOptions options;
    options.make_logger = [](std::string_view drill) { return ProbeLogger("drill", drill); };
    scheduler_ = std::make_unique<DrillScheduler>(config, std::move(drills), store, options);
  }
  void Start() override { scheduler_->Start(); }
  void Stop() override { scheduler_->Stop(); }

 private:
  std::unique_ptr<DrillScheduler> scheduler_;
};

std::unique_ptr<DrillGeneration> MakeScheduledDrills(const std::shared_ptr<const Config>& config,
                                                     std::vector<ConfiguredDrill> drills,
                                                     DrillStateStore& store) {
  if (drills.empty()) return nullptr;
  return std::make_unique<ScheduledDrills>(config, std::move(drills), store);
}

}  // namespace

App::App(const ProbeRegistry& registry, AppOptions options)
    : registry_(registry), options_(std::move(options)) {
  RegisterBuiltinDrills(drill_registry_);
  if (!options_.make_drills) options_.make_drills = MakeScheduledDrills;
}

void App::StartDrills(const std::shared_ptr<const Config>& config,
                      std::vector<ConfiguredDrill> drills) {
  drill_store_.SetDrills(DrillInfos(drills), config->drills ? config->drills->reports_dir : "");
  if (drills_handover_.switching()) {
    MainLogger()->info(
        "a drill is still stopping; the drills of this configuration start after it");
  }
  drills_handover_.Replace(options_.make_drills(config, std::move(drills), drill_store_));
}

App::~App() { Stop(); }

Status App::Start() {
  std::lock_guard lock(mutex_);
  auto loaded = LoadConfigFile(options_.config_path);
  if (!loaded) return loaded.error();
  config_ = *loaded;
  PublishSkippedGroups(*config_);
  ApplyLogging(*config_);

  auto probes = BuildProbes(*config_, registry_);
  if (!probes) return probes.error();
  auto drills = BuildDrills(*config_, drill_registry_);
  if (!drills) return drills.error();

  HttpServerOptions http_options;
  http_options.listen_address = options_.listen_address.value_or(config_->exporter.listen_address);
  http_options.web_config_file = options_.web_config_file.value_or("");
  if (options_.telemetry_path) http_options.telemetry_path = *options_.telemetry_path;
  auto http = HttpServer::Start(
      http_options, HttpBackend{&store_, &self_, [this] { return ReloadFromWeb(); }, &drill_store_,
                                [this] { return SkippedGroups(); }});
  if (!http) return http.error();
  http_ = std::move(http).value();

  store_.SetProbes(Infos(*probes));
  SchedulerOptions scheduler_options;
  scheduler_options.workers = config_->exporter.workers;
  scheduler_options.make_logger = ProbeLogger;
  scheduler_ = std::make_unique<Scheduler>(std::move(probes).value(), store_, scheduler_options);
  scheduler_->Start();
  StartDrills(config_, std::move(drills).value());
  self_.RecordInitialLoad(std::chrono::system_clock::now());
  MainLogger()->info("started with {} probes from {}", config_->AllProbes().size(),
                     options_.config_path);
  return Ok{};
}

Status App::Reload() {
  auto outcome = reloader_.Wait(reloader_.Request(), std::chrono::hours(24));
  if (!outcome) return MakeError(ErrorCode::kStopped, "the exporter is stopping");
  return *outcome;
}

void App::RequestReload() { (void)reloader_.Request(); }

Status App::ReloadFromWeb() {
  auto outcome = reloader_.Wait(reloader_.Request(), options_.web_reload_wait);
  if (!outcome) {
    return MakeError(ErrorCode::kTimeout,
                     "the reload is still running; dbcanary_config_last_reload_successful "
                     "tells how it ends");
  }
  return *outcome;
}

Status App::ReloadNow() {
  std::lock_guard lock(mutex_);
  auto fail = [&](const Error& error) -> Status {
    self_.RecordReload(false, std::chrono::system_clock::now());
    MainLogger()->error("reload failed, keeping the running configuration: {}", error.message);
    return error;
  };
  if (!scheduler_) return fail(MakeError(ErrorCode::kInternal, "the exporter is not running"));
  auto loaded = LoadConfigFile(options_.config_path);
  if (!loaded) return fail(loaded.error());
  std::shared_ptr<const Config> next_config = *loaded;
  // Every probe of the new config is built before anything running is touched.
  auto probes = BuildProbes(*next_config, registry_);
  if (!probes) return fail(probes.error());
  auto drills = BuildDrills(*next_config, drill_registry_);
  if (!drills) return fail(drills.error());

  if (next_config->exporter.listen_address != config_->exporter.listen_address) {
    MainLogger()->warn(
        "exporter.listen_address changed from {} to {}; it cannot change on reload, restart "
        "dbcanary to apply it",
        config_->exporter.listen_address, next_config->exporter.listen_address);
  }
  ApplyLogging(*next_config);
  store_.SetProbes(Infos(*probes));
  SchedulerOptions scheduler_options;
  scheduler_options.workers = next_config->exporter.workers;
  scheduler_options.make_logger = ProbeLogger;
  auto next = std::make_unique<Scheduler>(std::move(probes).value(), store_, scheduler_options);
  // Stop() does not wait: the old runs end on their own (they see their stop_token)
  // and are reaped on a later reload or at shutdown.
  scheduler_->Stop();
  retired_.push_back(std::move(scheduler_));
  scheduler_ = std::move(next);
  scheduler_->Start();
  config_ = next_config;
  PublishSkippedGroups(*config_);
  // A drill running now is stopped (it cleans up on its own thread, not this one) and the
  // new drills start after it.
  StartDrills(config_, std::move(drills).value());
  ReapRetired();
  self_.RecordReload(true, std::chrono::system_clock::now());
  MainLogger()->info("configuration reloaded: {} probes", config_->AllProbes().size());
  return Ok{};
}

void App::ApplyLogging(const Config& config) const {
  ExporterSettings settings = config.exporter;
  if (options_.log_level) settings.log_level = *options_.log_level;
  if (options_.log_format) settings.log_format = *options_.log_format;
  ConfigureLogging(settings);
}

void App::PublishSkippedGroups(const Config& config) {
  std::lock_guard lock(skipped_mutex_);
  skipped_groups_ = config.validate.skip;
}

std::vector<SkippedGroup> App::SkippedGroups() const {
  std::lock_guard lock(skipped_mutex_);
  return skipped_groups_;
}

void App::ReapRetired() {
  std::erase_if(retired_, [](const auto& scheduler) { return scheduler->Finished(); });
}

bool App::Stop() {
  // The HTTP server goes first (outside the lock): a reload request in progress must
  // be able to finish, and no new one may start.
  if (http_) http_->Stop();
  reloader_.Stop();  // lets a reload in progress finish; none starts afterwards
  // A running drill sees its stop token and cleans up (bounded by its cleanup budget)
  // before this returns: nothing is left half-done on the cluster.
  drills_handover_.Shutdown();
  std::lock_guard lock(mutex_);
  auto deadline = SteadyClock::now() + options_.stop_limit;
  if (scheduler_) retired_.push_back(std::move(scheduler_));
  for (auto& scheduler : retired_) scheduler->Stop();
  bool all_stopped = true;
  for (auto& scheduler : retired_) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    all_stopped &= scheduler->Join(std::max(left, std::chrono::milliseconds(0)));
  }
  retired_.clear();
  return all_stopped;
}

int App::port() const { return http_ ? http_->port() : 0; }

}  // namespace dbcanary
