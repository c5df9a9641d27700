#include "drills/runtime/drill_cli.h"

#include <pthread.h>
#include <signal.h>

#include <cmath>
#include <thread>

#include "config/secret.h"
#include "core/number_format.h"
#include "drills/runtime/drill_scheduler.h"
#include "drills/runtime/runner.h"

namespace dbcanary {
namespace {

constexpr int kPass = 0;
constexpr int kNotPassed = 1;
constexpr int kConfigError = 2;

// Turns SIGINT/SIGTERM into a stop request while the drill runs (sigwait on a thread, so
// the drill still cleans up), and restores the signal mask afterwards.
class StopOnSignal {
 public:
  StopOnSignal() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    waiter_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        timespec slice{0, 100'000'000};
        if (sigtimedwait(&signals_, nullptr, &slice) > 0) source_.request_stop();
      }
    });
  }
  ~StopOnSignal() {
    waiter_.request_stop();
    waiter_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  std::stop_token token() const { return source_.get_token(); }

 private:
  sigset_t signals_{};
  sigset_t previous_{};
  std::stop_source source_;
  std::jthread waiter_;
};

std::string Fixed(double value) {
  if (std::isnan(value)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", value);
  return text;
}

// The drill named on the command line; null (after saying why on `err`) when none is.
ConfiguredDrill* ChooseDrill(std::vector<ConfiguredDrill>& drills, const DrillCliOptions& options,
                             std::ostream& err) {
  ConfiguredDrill* chosen = nullptr;
  std::string known;
  for (auto& configured : drills) {
    if (configured.settings.kind == options.drill) chosen = &configured;
    known += (known.empty() ? "" : ", ") + configured.settings.kind;
  }
  if (chosen == nullptr) {
    err << options.config_path << ": no drill \"" << options.drill << "\" under drills.jobs"
        << " (configured: " << (known.empty() ? "none" : known) << ")\n";
  }
  return chosen;
}

void PrintFigures(const DrillResult& result, std::ostream& out) {
  if (result.samples.empty()) return;
  out << "figures:\n";
  for (const auto& sample : result.samples) {
    std::string labels;
    for (const auto& [name, value] : sample.labels) {
      labels += (labels.empty() ? "" : ",") + name + "=\"" + value + "\"";
    }
    out << "  " << sample.name << (labels.empty() ? "" : "{" + labels + "}") << " "
        << FormatValue(sample.value) << "\n";
  }
}

void PrintExpectations(const DrillResult& result, std::ostream& out) {
  if (result.expectations.empty()) return;
  out << "expectations:\n";
  for (const auto& e : result.expectations) {
    out << "  " << (e.pass ? "pass" : "FAIL") << "  " << e.check << " (" << e.target
        << "): observed " << (e.observed_text.empty() ? FormatValue(e.observed) : e.observed_text)
        << ", expected " << (e.expected_text.empty() ? FormatValue(e.threshold) : e.expected_text)
        << "\n";
  }
}

// The summary after the progress lines: outcome, error, phases, figures, expectations, notes
// and where the report went.
void PrintSummary(const DrillRecord& record, std::ostream& out) {
  out << "\n== drill " << record.drill << ": " << DrillOutcomeName(record.outcome) << " in "
      << Fixed(record.duration_seconds) << " s ==\n";
  if (record.result.error) {
    out << "error (" << ErrorCodeName(record.result.error->code)
        << "): " << RedactSecrets(record.result.error->message) << "\n";
  }
  out << "phases:\n";
  for (const auto& phase : record.result.phases) {
    out << "  " << phase.name << "  " << Fixed(phase.duration_seconds) << " s  "
        << (phase.ok ? "ok" : "FAILED") << (phase.detail.empty() ? "" : "  " + phase.detail)
        << "\n";
  }
  PrintFigures(record.result, out);
  PrintExpectations(record.result, out);
  for (const auto& note : record.notes) out << "note: " << note << "\n";
  if (!record.report_json.empty()) {
    out << "report: " << record.report_markdown << "\n        " << record.report_json
        << "\n        " << record.report_html << "\n";
  } else {
    out << "report: not written (see the log)\n";
  }
}

}  // namespace

int RunDrillFromCli(const DrillCliOptions& options, const DrillRegistry& registry,
                    std::ostream& out, std::ostream& err) {
  auto config = LoadConfigFile(options.config_path);
  if (!config) {
    err << RedactSecrets(config.error().message) << "\n";
    return kConfigError;
  }
  if (!(*config)->drills) {
    err << options.config_path << ": no drills section; nothing to run\n";
    return kConfigError;
  }
  auto drills = BuildDrills(**config, registry);
  if (!drills) {
    err << RedactSecrets(drills.error().message) << "\n";
    return kConfigError;
  }
  ConfiguredDrill* chosen = ChooseDrill(*drills, options, err);
  if (chosen == nullptr) return kConfigError;
  const DrillsSettings& settings = *(*config)->drills;
  auto lock = MakeDrillLock(**config);
  auto logger = options.make_logger(**config, options.drill);

  StopOnSignal signals;
  DrillRunOptions run;
  run.name = options.drill;
  run.timeout = chosen->settings.timeout;
  run.lock = lock.get();
  run.reports_dir = settings.reports_dir;
  run.keep_reports = settings.keep_reports;
  run.log = logger.get();
  run.stop = signals.token();
  run.command_env = settings.command_env;
  run.progress = [&](std::string_view line) {
    out << FormatUtc(std::chrono::system_clock::now()) << "  " << RedactSecrets(std::string(line))
        << std::endl;
  };
  auto record = RunDrill(*chosen->drill, run);
  PrintSummary(*record, out);
  return record->outcome == DrillOutcome::kPass ? kPass : kNotPassed;
}

}  // namespace dbcanary
