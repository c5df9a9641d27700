#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/secret.h"
#include "core/deadline.h"
#include "drills/runtime/drill_scheduler.h"
#include "drills/runtime/report.h"
#include "drills/runtime/runner.h"
#include "exporter/cli/commands.h"
#include "exporter/logging.h"
#include "exporter/validate/checklist.h"
#include "exporter/validate/writers.h"
#include "probes/runtime/probe_builder.h"
#include "probes/runtime/run_guarded.h"

namespace dbcanary {
namespace {

using SystemClock = std::chrono::system_clock;

constexpr std::string_view kPrefix = "dbcanary validate: ";

bool UseColor(const CliContext& context) {
  if (&context.out != &std::cout || isatty(STDOUT_FILENO) == 0) return false;
  const char* no_color = std::getenv("NO_COLOR");
  return no_color == nullptr || *no_color == '\0';
}

// The config at `path`, logging set up for validate; null once the error is printed.
std::shared_ptr<const Config> LoadAndConfigureLogging(const std::string& path,
                                                      const CliContext& context) {
  auto config = LoadConfigFile(path);
  if (!config) {
    context.err << kPrefix << RedactSecrets(config.error().message) << "\n";
    return nullptr;
  }
  // Probe logs go to stderr; only warnings and worse, the checklist carries the rest.
  ExporterSettings log_settings = (*config)->exporter;
  if (log_settings.log_level == "info") log_settings.log_level = "warn";
  ConfigureLogging(log_settings);
  return *config;
}

// The drills named with --drill, in that order. They are built (and so their params checked)
// before any probe runs, so a typo fails at once instead of after the whole probe round.
struct ChosenDrills {
  std::vector<ConfiguredDrill> configured;
  std::vector<size_t> chosen;  // indexes into `configured`
};

// Empty once the error is printed.
std::optional<ChosenDrills> ChooseDrills(const ParsedArgs& args, const Config& config,
                                         const std::string& path, const CliContext& context) {
  ChosenDrills drills;
  auto names = args.Values("--drill");
  if (names.empty()) return drills;
  if (!config.drills) {
    context.err << kPrefix << path << ": --drill needs a drills section\n";
    return std::nullopt;
  }
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  auto built = BuildDrills(config, registry);
  if (!built) {
    context.err << kPrefix << RedactSecrets(built.error().message) << "\n";
    return std::nullopt;
  }
  drills.configured = std::move(*built);
  for (const auto& name : names) {
    auto found =
        std::find_if(drills.configured.begin(), drills.configured.end(),
                     [&](const ConfiguredDrill& drill) { return drill.settings.kind == name; });
    if (found == drills.configured.end()) {
      context.err << kPrefix << path << ": no drill \"" << name << "\" under drills.jobs\n";
      return std::nullopt;
    }
    drills.chosen.push_back(static_cast<size_t>(found - drills.configured.begin()));
  }
  return drills;
}

// "[ 3/12] pg_replication/pg ok 12 ms, 4 expectations, 0 unmet", printed as each probe ends.
std::string ProgressLine(size_t finished, size_t total, const ScheduledProbe& probe,
                         const ProbeResult& result, bool tty) {
  size_t unmet = 0;
  for (const auto& expectation : result.expectations) unmet += expectation.pass ? 0 : 1;
  std::string outcome = result.success ? "ok" : "FAILED";
  if (!result.success && result.error) {
    outcome += std::string(" (") + std::string(ErrorCodeName(result.error->code)) + ")";
  }
  if (tty) outcome = (result.success ? "\033[32m" : "\033[31m") + outcome + "\033[0m";
  return fmt::format("[{:>{}}/{}] {} {} {:.0f} ms, {} expectations, {} unmet\n", finished,
                     std::to_string(total).size(), total, probe.info->key.Name(), outcome,
                     result.duration_seconds * 1000, result.expectations.size(), unmet);
}

struct ProbeRound {
  std::vector<ProbeResult> results;  // in the order of the probes
  double elapsed_seconds = 0;
};

// Every probe once, at most `workers` at a time, each bounded by its own timeout and guarded
// as under serve, so a probe fails here exactly as it would in /metrics.
ProbeRound RunProbesOnce(const std::vector<ScheduledProbe>& probes, const Config& config,
                         const std::string& path, bool tty, const CliContext& context) {
  ProbeRound probe_round;
  probe_round.results.resize(probes.size());
  std::atomic<size_t> next{0};
  std::mutex print_mutex;
  size_t finished = 0;
  const size_t workers =
      std::min(probes.size(), static_cast<size_t>(std::max(1, config.exporter.workers)));
  context.out << fmt::format("{}running {} probes from {} ({} at a time)\n", kPrefix, probes.size(),
                             path, workers);
  context.out.flush();
  auto started = SteadyClock::now();
  auto work = [&] {
    for (size_t i = next++; i < probes.size(); i = next++) {
      const ScheduledProbe& probe = probes[i];
      auto log = ProbeLogger(probe.info->key.kind, probe.info->key.target);
      ProbeResult result = RunGuarded(*probe.probe, probe.info->timeout, std::stop_token{}, *log);
      std::lock_guard lock(print_mutex);
      context.out << ProgressLine(++finished, probes.size(), probe, result, tty);
      context.out.flush();
      probe_round.results[i] = std::move(result);
    }
  };
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < workers; ++i) threads.emplace_back(work);
  }
  probe_round.elapsed_seconds = SecondsSince(started);
  return probe_round;
}

// One drill under the drill lock, its progress printed as it goes; appends its rows.
void RunChosenDrill(ConfiguredDrill& drill, DrillLock* lock, const DrillsSettings& settings,
                    const CliContext& context, std::vector<CheckRow>& rows) {
  const std::string& name = drill.settings.kind;
  context.out << fmt::format("drill {}: running (timeout {} s)\n", name,
                             drill.settings.timeout.count() / 1000);
  context.out.flush();
  auto log = ProbeLogger("drill", name);
  DrillRunOptions run;
  run.name = name;
  run.timeout = drill.settings.timeout;
  run.lock = lock;
  run.reports_dir = settings.reports_dir;
  run.keep_reports = settings.keep_reports;
  run.log = log.get();
  run.progress = [&](std::string_view line) {
    context.out << "  " << name << ": " << RedactSecrets(std::string(line)) << "\n";
    context.out.flush();
  };
  auto record = RunDrill(*drill.drill, run);
  const size_t first = rows.size();
  AddDrillRun(rows, name, name, record->result, record->finished_at, record->duration_seconds);
  for (size_t i = first; i < rows.size(); ++i) rows[i].link = record->report_html;
  context.out << fmt::format(
      "drill {}: {} in {:.1f} s{}\n", name, DrillOutcomeName(record->outcome),
      record->duration_seconds,
      record->report_markdown.empty()
          ? std::string()
          : ", report " + record->report_markdown + " and " + record->report_html);
}

// How many of a drill's newest reports validate reads to find its last completed run.
constexpr size_t kReportsToSearch = 10;

// The page a reader opens for a run: the HTML report (plots), else Markdown, else JSON.
std::string ReportOf(const DrillRecord& record) {
  if (!record.report_html.empty()) return record.report_html;
  if (!record.report_markdown.empty()) return record.report_markdown;
  return record.report_json;
}

// Scheduled (enabled) drills not run with --drill: the last completed run (pass, fail or
// error), read back from its report, is their evidence, e.g. the nightly benchmarks. A drill
// with none is listed as never run (its group is NOT VERIFIED when nothing else verifies it).
void AddScheduledDrillsLastRuns(const Config& config, const ChosenDrills& drills,
                                const CliContext& context, std::vector<CheckRow>& rows) {
  if (!config.drills) return;
  for (const auto& job : config.drills->jobs) {
    const bool chosen = std::any_of(drills.chosen.begin(), drills.chosen.end(), [&](size_t i) {
      return drills.configured[i].settings.kind == job.kind;
    });
    if (!job.enabled || chosen) continue;
    std::optional<DrillRecord> last;
    for (auto& record : LoadRecentRecords(config.drills->reports_dir, job.kind, kReportsToSearch)) {
      if (record.outcome == DrillOutcome::kPass || record.outcome == DrillOutcome::kFail ||
          record.outcome == DrillOutcome::kError) {
        last = std::move(record);
        break;
      }
    }
    if (!last) {
      AddPending(rows, CheckSource::kDrill, job.kind, job.kind);
      context.out << fmt::format("drill {}: scheduled, no completed run in {}\n", job.kind,
                                 config.drills->reports_dir);
      continue;
    }
    const size_t first = rows.size();
    AddDrillRun(rows, job.kind, job.kind, last->result, last->finished_at, last->duration_seconds);
    for (size_t i = first; i < rows.size(); ++i) rows[i].link = ReportOf(*last);
    context.out << fmt::format("drill {}: last run {} at {}, report {}\n", job.kind,
                               DrillOutcomeName(last->outcome), FormatUtc(last->finished_at),
                               ReportOf(*last));
  }
}

// validate.skip, then each --skip GROUP not already skipped there; empty once the error is
// printed.
std::optional<std::vector<SkippedGroup>> SkippedGroups(const ParsedArgs& args, const Config& config,
                                                       const CliContext& context) {
  std::vector<SkippedGroup> skipped = config.validate.skip;
  for (const auto& slug : args.Values("--skip")) {
    auto group = FindGroupBySlug(slug);
    if (!group) {
      context.err << kPrefix << "--skip: unknown group \"" << slug
                  << "\" (groups: " << GroupSlugList() << ")\n";
      return std::nullopt;
    }
    bool already = std::any_of(skipped.begin(), skipped.end(),
                               [&](const SkippedGroup& entry) { return entry.group == *group; });
    if (!already) skipped.push_back({*group, "--skip on the command line"});
  }
  return skipped;
}

// Writes --report and --junit when given; false when one of them could not be written.
bool WriteRequestedFiles(const ParsedArgs& args, const Checklist& checklist,
                         SystemClock::time_point generated_at, const CliContext& context) {
  bool written = true;
  if (auto dir = args.Flag("--report")) {
    if (auto status = WriteEvidence(*dir, checklist, generated_at); !status) {
      context.err << kPrefix << status.error().message << "\n";
      written = false;
    } else {
      context.out << "evidence written to " << *dir << "\n";
    }
  }
  if (auto junit = args.Flag("--junit")) {
    if (auto status = WriteTextFile(*junit, RenderJunit(checklist, generated_at)); !status) {
      context.err << kPrefix << status.error().message << "\n";
      written = false;
    } else {
      context.out << "JUnit XML written to " << *junit << "\n";
    }
  }
  return written;
}

}  // namespace

int RunValidateCommand(const ParsedArgs& args, const CliContext& context) {
  const std::string path = *args.Flag("--config");
  auto config = LoadAndConfigureLogging(path, context);
  if (!config) return kExitUsage;
  auto probes = BuildProbes(*config, context.registry);
  if (!probes) {
    context.err << kPrefix << RedactSecrets(probes.error().message) << "\n";
    return kExitUsage;
  }
  auto drills = ChooseDrills(args, *config, path, context);
  if (!drills) return kExitUsage;
  auto skipped = SkippedGroups(args, *config, context);
  if (!skipped) return kExitUsage;
  const bool tty = UseColor(context);

  ProbeRound probe_round = RunProbesOnce(*probes, *config, path, tty, context);
  Checklist checklist;
  checklist.skipped = std::move(*skipped);
  std::vector<CheckRow>& rows = checklist.rows;
  for (size_t i = 0; i < probes->size(); ++i) {
    const ProbeKey& key = (*probes)[i].info->key;
    AddProbeRun(rows, key.kind, key.target, probe_round.results[i]);
  }
  if (!drills->chosen.empty()) {
    auto lock = MakeDrillLock(*config);
    for (size_t index : drills->chosen) {
      RunChosenDrill(drills->configured[index], lock.get(), *config->drills, context, rows);
    }
  }
  AddScheduledDrillsLastRuns(*config, *drills, context, rows);

  auto generated_at = SystemClock::now();
  context.out << RenderText(checklist, TextOptions{tty});
  context.out << fmt::format("({} probes in {:.1f} s)\n", probes->size(),
                             probe_round.elapsed_seconds);
  int exit_code = Assess(checklist).go ? kExitOk : kExitError;
  if (!WriteRequestedFiles(args, checklist, generated_at, context)) exit_code = kExitUsage;
  context.out.flush();
  return exit_code;
}

}  // namespace dbcanary
