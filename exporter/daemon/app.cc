#include "exporter/daemon/app.h"

#include <algorithm>

#include "exporter/daemon/logging.h"
#include "exporter/daemon/probe_builder.h"

namespace dbcanary {
namespace {

std::vector<std::shared_ptr<const ProbeInfo>> Infos(const std::vector<ScheduledProbe>& probes) {
  std::vector<std::shared_ptr<const ProbeInfo>> infos;
  infos.reserve(probes.size());
  for (const auto& probe : probes) infos.push_back(probe.info);
  return infos;
}

}  // namespace

App::App(const ProbeRegistry& registry, AppOptions options)
    : registry_(registry), options_(std::move(options)) {}

App::~App() { Stop(); }

Status App::Start() {
  std::lock_guard lock(mutex_);
  auto loaded = LoadConfigFile(options_.config_path);
  if (!loaded) return loaded.error();
  config_ = *loaded;
  ConfigureLogging(config_->exporter);

  auto probes = BuildProbes(*config_, registry_);
  if (!probes) return probes.error();

  HttpServerOptions http_options;
  http_options.listen_address = options_.listen_address.value_or(config_->exporter.listen_address);
  auto http =
      HttpServer::Start(http_options, HttpBackend{&store_, &self_, [this] { return Reload(); }});
  if (!http) return http.error();
  http_ = std::move(http).value();

  store_.SetProbes(Infos(*probes));
  SchedulerOptions scheduler_options;
  scheduler_options.workers = config_->exporter.workers;
  scheduler_ = std::make_unique<Scheduler>(std::move(probes).value(), store_, scheduler_options);
  scheduler_->Start();
  self_.RecordInitialLoad(std::chrono::system_clock::now());
  MainLogger()->info("started with {} probes from {}", config_->AllProbes().size(),
                     options_.config_path);
  return Ok{};
}

Status App::Reload() {
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

  if (next_config->exporter.listen_address != config_->exporter.listen_address) {
    MainLogger()->warn(
        "exporter.listen_address changed from {} to {}; it cannot change on reload, restart "
        "dbcanary to apply it",
        config_->exporter.listen_address, next_config->exporter.listen_address);
  }
  ConfigureLogging(next_config->exporter);
  store_.SetProbes(Infos(*probes));
  SchedulerOptions scheduler_options;
  scheduler_options.workers = next_config->exporter.workers;
  auto next = std::make_unique<Scheduler>(std::move(probes).value(), store_, scheduler_options);
  // Stop() does not wait: the old runs end on their own (they see their stop_token)
  // and are reaped on a later reload or at shutdown.
  scheduler_->Stop();
  retired_.push_back(std::move(scheduler_));
  scheduler_ = std::move(next);
  scheduler_->Start();
  config_ = next_config;
  ReapRetired();
  self_.RecordReload(true, std::chrono::system_clock::now());
  MainLogger()->info("configuration reloaded: {} probes", config_->AllProbes().size());
  return Ok{};
}

void App::ReapRetired() {
  std::erase_if(retired_, [](const auto& scheduler) { return scheduler->Finished(); });
}

bool App::Stop() {
  // The HTTP server goes first (outside the lock): a reload request in progress must
  // be able to finish, and no new one may start.
  if (http_) http_->Stop();
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
