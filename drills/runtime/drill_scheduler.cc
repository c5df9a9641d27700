#include "drills/runtime/drill_scheduler.h"

#include <algorithm>

#include "drills/health.h"
#include "drills/runtime/runner.h"

namespace dbcanary {

Result<std::vector<ConfiguredDrill>> BuildDrills(const Config& config,
                                                 const DrillRegistry& registry) {
  std::vector<ConfiguredDrill> drills;
  if (!config.drills) return drills;
  for (const auto& settings : config.drills->jobs) {
    ConfiguredDrill configured;
    configured.settings = settings;
    try {
      // YamlMap::Fail throws ConfigError with "FILE:LINE:COL: path.key: message".
      if (!settings.schedule.empty()) {
        auto schedule = CronSchedule::Parse(settings.schedule);
        if (!schedule) {
          settings.params->Fail("schedule",
                                schedule.error().message.substr(sizeof("schedule: ") - 1));
        }
        configured.schedule = std::move(schedule).value();
      }
      if (!settings.window.empty()) {
        auto window = TimeWindow::Parse(settings.window);
        if (!window) {
          settings.params->Fail("window", window.error().message.substr(sizeof("window: ") - 1));
        }
        configured.window = std::move(window).value();
      }
      auto drill = registry.Create(settings, config);
      if (!drill) return drill.error();
      configured.drill = std::move(drill).value();
    } catch (const ConfigError& error) {
      return MakeError(ErrorCode::kConfig, error.what());
    }
    drills.push_back(std::move(configured));
  }
  return drills;
}

std::unique_ptr<DrillLock> MakeDrillLock(const Config& config) {
  if (!config.drills) return nullptr;
  const PostgresCluster* cluster = config.FindCluster(config.drills->lock_cluster);
  if (cluster == nullptr) return nullptr;  // the loader validated the name
  // A discovered lock cluster: the lease goes to the primary among the pods seen now.
  PgMemberLister members;
  if (cluster->discover) members = ClusterMembers(*cluster, config).Lister();
  return std::make_unique<DrillLock>(*cluster, config.drills->lock_timeout, config.drills->lock_ttl,
                                     DrillLock::DefaultHolder(), std::move(members));
}

std::vector<DrillInfo> DrillInfos(const std::vector<ConfiguredDrill>& drills) {
  std::vector<DrillInfo> infos;
  for (const auto& configured : drills) {
    DrillInfo info;
    info.name = configured.settings.kind;
    info.enabled = configured.settings.enabled;
    info.schedule = configured.settings.schedule;
    info.window = configured.settings.window;
    info.timeout_seconds = std::chrono::duration<double>(configured.settings.timeout).count();
    info.descriptors = configured.drill->Describe();
    infos.push_back(std::move(info));
  }
  return infos;
}

DrillScheduler::DrillScheduler(std::shared_ptr<const Config> config,
                               std::vector<ConfiguredDrill> drills, DrillStateStore& store,
                               DrillSchedulerOptions options)
    : config_(std::move(config)),
      drills_(std::move(drills)),
      store_(store),
      options_(std::move(options)),
      lock_(MakeDrillLock(*config_)) {}

DrillScheduler::~DrillScheduler() { Stop(); }

void DrillScheduler::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

void DrillScheduler::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

// A killed run (exporter restarted midway, pod SIGKILLed) may have left scratch objects: each
// enabled drill cleans up once before the schedule starts. Disabled drills are left alone.
void DrillScheduler::CleanUpAtStart(const std::stop_token& stop) {
  for (auto& configured : drills_) {
    if (stop.stop_requested()) return;
    if (!configured.settings.enabled) continue;
    auto logger = options_.make_logger(configured.settings.kind);
    DrillRunOptions run;
    run.name = configured.settings.kind;
    run.lock = lock_.get();
    run.log = logger.get();
    run.stop = stop;
    run.command_env = config_->drills->command_env;
    if (auto cleaned = CleanUpLeftovers(*configured.drill, run); !cleaned) {
      logger->warn("start-up cleanup of earlier runs' leftovers failed (the next run retries): {}",
                   cleaned.error().message);
    }
  }
}

void DrillScheduler::Loop(std::stop_token stop) {
  CleanUpAtStart(stop);
  while (!stop.stop_requested()) {
    auto now = std::chrono::system_clock::now();
    ConfiguredDrill* due = nullptr;
    SystemTime due_at = SystemTime::max();
    for (auto& configured : drills_) {
      if (!configured.settings.enabled || !configured.schedule) {
        store_.SetNextRun(configured.settings.kind, std::nullopt);
        continue;
      }
      SystemTime next = NextAllowedRun(*configured.schedule, configured.window, now);
      store_.SetNextRun(configured.settings.kind,
                        next == SystemTime::max() ? std::nullopt : std::optional(next));
      if (next < due_at) {
        due_at = next;
        due = &configured;
      }
    }
    // Sleep until the earliest fire time (re-checked at least hourly against clock jumps).
    if (!SleepUntil(std::min(due_at, now + std::chrono::hours(1)), stop)) break;
    if (due == nullptr || std::chrono::system_clock::now() < due_at) continue;

    auto logger = options_.make_logger(due->settings.kind);
    DrillRunOptions run;
    run.name = due->settings.kind;
    run.timeout = due->settings.timeout;
    run.lock = lock_.get();
    run.reports_dir = config_->drills->reports_dir;
    run.keep_reports = config_->drills->keep_reports;
    run.store = &store_;
    run.log = logger.get();
    run.stop = stop;
    run.command_env = config_->drills->command_env;
    logger->info("scheduled run ({})", due->schedule->text());
    auto record = RunDrill(*due->drill, run);
    (void)record;
  }
}

}  // namespace dbcanary
