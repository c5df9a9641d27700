#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "drills/framework/drill_scheduler.h"
#include "drills/framework/runner.h"
#include "exporter/config/secret.h"
#include "exporter/daemon/commands.h"
#include "exporter/daemon/logging.h"
#include "exporter/daemon/probe_builder.h"
#include "exporter/validate/checklist.h"
#include "exporter/validate/writers.h"

namespace dbcanary {
namespace {

using SystemClock = std::chrono::system_clock;

// One probe's single run, with the scheduler's guards: its own deadline, no
// exception escapes, duration and finish time filled in.
ProbeResult RunOnce(const ScheduledProbe& entry) {
  auto log = ProbeLogger(entry.info->key.kind, entry.info->key.target);
  ProbeContext context{Deadline::In(entry.info->timeout), std::stop_token{}, *log};
  auto started = std::chrono::steady_clock::now();
  ProbeResult result;
  try {
    result = entry.probe->Run(context);
  } catch (const std::exception& error) {
    result = ProbeResult{};
    result.Fail(ErrorCode::kInternal, std::string("exception: ") + error.what());
  } catch (...) {
    result = ProbeResult{};
    result.Fail(ErrorCode::kInternal, "unknown exception");
  }
  result.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.finished_at = SystemClock::now();
  return result;
}

bool UseColor(const CliContext& context) {
  if (&context.out != &std::cout || isatty(STDOUT_FILENO) == 0) return false;
  const char* no_color = std::getenv("NO_COLOR");
  return no_color == nullptr || *no_color == '\0';
}

}  // namespace

int RunValidateCommand(const ParsedArgs& args, const CliContext& context) {
  const std::string path = *args.Flag("--config");
  auto config = LoadConfigFile(path);
  if (!config) {
    context.err << "dbcanary validate: " << RedactSecrets(config.error().message) << "\n";
    return kExitUsage;
  }
  // Probe logs go to stderr; only warnings and worse, the checklist carries the rest.
  ExporterSettings log_settings = (*config)->exporter;
  if (log_settings.log_level == "info") log_settings.log_level = "warn";
  ConfigureLogging(log_settings);
  auto built = BuildProbes(**config, context.registry);
  if (!built) {
    context.err << "dbcanary validate: " << RedactSecrets(built.error().message) << "\n";
    return kExitUsage;
  }
  std::vector<ScheduledProbe>& probes = *built;
  const bool tty = UseColor(context);

  // Drills named with --drill are built (and checked) before anything runs.
  DrillRegistry drill_registry;
  RegisterBuiltinDrills(drill_registry);
  std::vector<ConfiguredDrill> configured_drills;
  std::vector<ConfiguredDrill*> chosen_drills;
  if (auto names = args.Values("--drill"); !names.empty()) {
    if (!(*config)->drills) {
      context.err << "dbcanary validate: " << path << ": --drill needs a drills section\n";
      return kExitUsage;
    }
    auto drills = BuildDrills(**config, drill_registry);
    if (!drills) {
      context.err << "dbcanary validate: " << RedactSecrets(drills.error().message) << "\n";
      return kExitUsage;
    }
    configured_drills = std::move(*drills);
    for (const auto& name : names) {
      ConfiguredDrill* found = nullptr;
      for (auto& drill : configured_drills) {
        if (drill.settings.kind == name) found = &drill;
      }
      if (found == nullptr) {
        context.err << "dbcanary validate: " << path << ": no drill \"" << name
                    << "\" under drills.jobs\n";
        return kExitUsage;
      }
      chosen_drills.push_back(found);
    }
  }

  // Every probe once, at most `workers` at a time, each bounded by its own timeout.
  std::vector<ProbeResult> results(probes.size());
  std::atomic<size_t> next{0};
  std::mutex print_mutex;
  size_t finished = 0;
  const size_t workers =
      std::min(probes.size(), static_cast<size_t>(std::max(1, (*config)->exporter.workers)));
  context.out << fmt::format("dbcanary validate: running {} probes from {} ({} at a time)\n",
                             probes.size(), path, workers);
  context.out.flush();
  auto started = std::chrono::steady_clock::now();
  auto work = [&] {
    for (size_t i = next++; i < probes.size(); i = next++) {
      ProbeResult result = RunOnce(probes[i]);
      std::lock_guard lock(print_mutex);
      ++finished;
      size_t failed = 0;
      for (const auto& expectation : result.expectations) failed += expectation.pass ? 0 : 1;
      std::string outcome = result.success ? "ok" : "FAILED";
      if (!result.success && result.error) {
        outcome += std::string(" (") + std::string(ErrorCodeName(result.error->code)) + ")";
      }
      if (tty) outcome = (result.success ? "\033[32m" : "\033[31m") + outcome + "\033[0m";
      context.out << fmt::format(
          "[{:>{}}/{}] {} {} {:.0f} ms, {} expectations, {} unmet\n", finished,
          std::to_string(probes.size()).size(), probes.size(), probes[i].info->key.Name(), outcome,
          result.duration_seconds * 1000, result.expectations.size(), failed);
      context.out.flush();
      results[i] = std::move(result);
    }
  };
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < workers; ++i) threads.emplace_back(work);
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::vector<CheckRow> rows;
  for (size_t i = 0; i < probes.size(); ++i) {
    AddProbeRun(rows, probes[i].info->key.kind, probes[i].info->key.target, results[i]);
  }
  if (!chosen_drills.empty()) {
    auto lock = MakeDrillLock(**config);
    const DrillsSettings& settings = *(*config)->drills;
    for (ConfiguredDrill* drill : chosen_drills) {
      const std::string& name = drill->settings.kind;
      context.out << fmt::format("drill {}: running (timeout {} s)\n", name,
                                 drill->settings.timeout.count() / 1000);
      context.out.flush();
      auto log = ProbeLogger("drill", name);
      DrillRunOptions run;
      run.name = name;
      run.timeout = drill->settings.timeout;
      run.lock = lock.get();
      run.reports_dir = settings.reports_dir;
      run.keep_reports = settings.keep_reports;
      run.log = log.get();
      run.progress = [&](std::string_view line) {
        context.out << "  " << name << ": " << RedactSecrets(std::string(line)) << "\n";
        context.out.flush();
      };
      auto record = RunDrill(*drill->drill, run);
      AddDrillRun(rows, name, name, record->result, record->finished_at, record->duration_seconds);
      context.out << fmt::format("drill {}: {} in {:.1f} s{}\n", name,
                                 DrillOutcomeName(record->outcome), record->duration_seconds,
                                 record->report_markdown.empty()
                                     ? std::string()
                                     : ", report " + record->report_markdown);
    }
  }
  auto generated_at = SystemClock::now();
  context.out << RenderText(rows, TextOptions{tty});
  context.out << fmt::format("({} probes in {:.1f} s)\n", probes.size(), elapsed);

  int exit_code = Summarize(rows).go ? kExitOk : kExitError;
  if (auto dir = args.Flag("--report")) {
    if (auto status = WriteEvidence(*dir, rows, generated_at); !status) {
      context.err << "dbcanary validate: " << status.error().message << "\n";
      exit_code = kExitUsage;
    } else {
      context.out << "evidence written to " << *dir << "\n";
    }
  }
  if (auto junit = args.Flag("--junit")) {
    if (auto status = WriteTextFile(*junit, RenderJunit(rows, generated_at)); !status) {
      context.err << "dbcanary validate: " << status.error().message << "\n";
      exit_code = kExitUsage;
    } else {
      context.out << "JUnit XML written to " << *junit << "\n";
    }
  }
  context.out.flush();
  return exit_code;
}

}  // namespace dbcanary
