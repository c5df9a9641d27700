#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "monitoring_pipeline", target: a monitoring[] entry. Checks that the platform's series
// arrive in a Prometheus-compatible store (VictoriaMetrics, vmselect, Prometheus) and its logs in
// VictoriaLogs: one POST /api/v1/query per declared PromQL query and one POST
// /select/logsql/query per declared LogsQL query, sequentially, each bounded by the run's
// deadline and the endpoint's timeout. See docs/probes/monitoring_pipeline.md.
// Params:
//   queries: [ { name, promql, expect: { min_series: 1, min_value, max_value, max_age } } ]
//   logs:    [ { name, logsql, lookback, limit: 100,
//                expect: { min_lines: 1, max_lines, max_age } } ]
//   rule_groups: [ { name, expect: { min_rules: 1 } } ]: one GET /api/v1/rules per run (the
//                target's rules: endpoint, else its prometheus: one); each named group must be
//                loaded with at least min_rules rules, none of them failing its evaluation
Result<std::unique_ptr<Probe>> CreateMonitoringPipelineProbe(const ProbeSettings& settings,
                                                             const Config& config);

const std::vector<MetricDesc>& MonitoringPipelineMetricDescs();

namespace monitoring {

struct PromQuery {
  std::string name;  // bounded snake_case; the `query` label
  std::string promql;
  int64_t min_series = 1;  // 0: no check
  std::optional<double> min_value;
  std::optional<double> max_value;
  std::optional<std::chrono::milliseconds> max_age;
};

struct LogsQuery {
  std::string name;
  std::string logsql;
  std::chrono::milliseconds lookback{std::chrono::hours(1)};  // `start` = now - lookback
  int64_t limit = 100;
  int64_t min_lines = 1;             // 0: no check (the default when max_lines is set)
  std::optional<int64_t> max_lines;  // 0: no matching line allowed ("no errors in the logs")
  std::optional<std::chrono::milliseconds> max_age;
};

struct RuleGroupCheck {
  std::string name;  // the group's name as the rule engine reports it; the `group` label
  int64_t min_rules = 1;
};

// Whether `name` may be a `query` label value: [a-z][a-z0-9_]*, at most 63 bytes.
bool IsQueryName(const std::string& name);

// RFC 3339 UTC with second precision ("2026-11-26T15:04:05Z") for Unix `seconds`.
std::string FormatRfc3339(double seconds);

}  // namespace monitoring
}  // namespace dbcanary
