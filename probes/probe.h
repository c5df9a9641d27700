#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/deadline.h"
#include "core/metric.h"
#include "core/result.h"

namespace dbcanary {

// What a probe may use during one run.
struct ProbeContext {
  Deadline deadline;     // hard budget: Run() must return by then
  std::stop_token stop;  // set on shutdown or reload; return early when it is
  spdlog::logger& log;   // tagged with the probe; messages are redacted of secrets
};

// One declared target checked against what was observed ("expectations"). Every
// expectation of every probe and drill is rendered as one sample of
// dbcanary_expectation_pass{check, target} (probes/runtime/expectation_metrics.h); the
// observed value also lives in the probe's own metric. Alerts, dashboards, `validate` and
// the status page read this list.
struct ExpectationResult {
  std::string check;   // bounded name, e.g. "min_sync_standbys"
  std::string target;  // configured name the check is about (cluster, instance, pooler)
  bool pass = false;
  double observed = 0;        // NaN when it could not be observed
  double threshold = 0;       // the declared value; NaN when not numeric
  std::string observed_text;  // human form, e.g. "1" or "transaction"
  std::string expected_text;  // human form, e.g. ">= 2" or "== transaction"

  // The target to show: an expectation that names none is about the whole run, i.e. the
  // probe's target or the drill. /metrics and the checklist both label it this way.
  std::string_view TargetOr(std::string_view run_target) const {
    return target.empty() ? run_target : std::string_view(target);
  }
};

// Builds a numeric expectation; `op` is one of ">=", "<=", "==".
ExpectationResult ExpectNumber(std::string check, std::string target, double observed,
                               std::string_view op, double threshold);
// Builds a textual equality expectation.
ExpectationResult ExpectText(std::string check, std::string target, std::string observed,
                             std::string expected);

// The outcome of one run. Probe-specific samples must use only families the
// probe's Describe() returned.
struct ProbeResult {
  bool success = false;         // the measurement itself worked
  std::optional<Error> error;   // set when !success; code -> reason label
  double duration_seconds = 0;  // filled in by RunGuarded
  std::vector<Sample> samples;
  std::vector<ExpectationResult> expectations;
  std::chrono::system_clock::time_point finished_at;  // filled in by RunGuarded

  // Marks the run failed with `code`; the message goes to the log only.
  void Fail(ErrorCode code, std::string message);
  void Fail(Error failure);
  void Add(std::string name, Labels labels, double value);
};

class Probe {
 public:
  virtual ~Probe() = default;
  // HELP/TYPE of every probe-specific family this probe can emit. Fixed at construction.
  virtual const std::vector<MetricDesc>& Describe() const = 0;
  // One run. Honours ctx.deadline at every network wait; never throws (RunGuarded in
  // probes/runtime/run_guarded.h still reports an escaped exception as "internal").
  virtual ProbeResult Run(const ProbeContext& ctx) = 0;
};

// Validates settings.params strictly (unknown keys fail with their path) and builds
// the probe. The probe copies what it needs from the config: configs are replaced on reload.
using ProbeFactory =
    std::function<Result<std::unique_ptr<Probe>>(const ProbeSettings&, const Config&)>;

class ProbeRegistry {
 public:
  // A duplicate kind is a programmer error and aborts.
  void Add(std::string kind, ProbeFactory factory);
  Result<std::unique_ptr<Probe>> Create(const ProbeSettings& settings, const Config& config) const;
  std::vector<std::string> Kinds() const;

 private:
  std::vector<std::pair<std::string, ProbeFactory>> factories_;
};

// Runs `build`, turning a ConfigError thrown while reading params into Error{kConfig}.
template <typename Build>
Result<std::unique_ptr<Probe>> BuildProbe(Build&& build) {
  try {
    return build();
  } catch (const ConfigError& error) {
    return MakeError(ErrorCode::kConfig, error.what());
  }
}

namespace detail {
[[noreturn]] void FailNoTarget(const ProbeSettings& settings, std::string_view what);
}

// The configured entry a factory looked up for settings.target (`found`, e.g.
// config.FindCluster(settings.target)); never null. When it is null, fails with the
// config error `<what> named "<target>"` (e.g. what = "pg_archiver: no postgres cluster"),
// located at the probe's params when there are any. Throws ConfigError: call it inside
// BuildProbe, which turns that into Error{kConfig}.
template <typename Target>
const Target* RequireTarget(const ProbeSettings& settings, const Target* found,
                            std::string_view what) {
  if (found == nullptr) detail::FailNoTarget(settings, what);
  return found;
}

// The explicit list of built-in probe kinds (probes/registry.cc): one line per kind.
void RegisterBuiltinProbes(ProbeRegistry& registry);

}  // namespace dbcanary
