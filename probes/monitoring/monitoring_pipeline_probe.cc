#include "probes/monitoring/monitoring_pipeline_probe.h"

#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "clients/http/http_client.h"
#include "core/duration.h"
#include "probes/monitoring/responses.h"
#include "probes/monitoring/rules.h"

namespace dbcanary {
namespace {

using monitoring::LogsQuery;
using monitoring::PromQuery;
using monitoring::RuleGroupCheck;

constexpr const char* kQuerySuccess = "dbcanary_monitoring_query_success";
constexpr const char* kQuerySeries = "dbcanary_monitoring_query_series";
constexpr const char* kQueryMin = "dbcanary_monitoring_query_min_value";
constexpr const char* kQueryMax = "dbcanary_monitoring_query_max_value";
constexpr const char* kQueryNewest = "dbcanary_monitoring_query_newest_sample_timestamp_seconds";
constexpr const char* kQueryDuration = "dbcanary_monitoring_query_duration_seconds";
constexpr const char* kLogsSuccess = "dbcanary_monitoring_logs_success";
constexpr const char* kLogsLines = "dbcanary_monitoring_logs_lines";
constexpr const char* kLogsNewest = "dbcanary_monitoring_logs_newest_timestamp_seconds";
constexpr const char* kLogsDuration = "dbcanary_monitoring_logs_duration_seconds";
constexpr const char* kRulesSuccess = "dbcanary_monitoring_rules_success";
constexpr const char* kRulesDuration = "dbcanary_monitoring_rules_duration_seconds";
constexpr const char* kGroupRules = "dbcanary_monitoring_rule_group_rules";
constexpr const char* kGroupFailing = "dbcanary_monitoring_rule_group_failing_rules";

constexpr size_t kMaxBodyBytes = 16 * 1024 * 1024;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double Seconds(std::chrono::milliseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

class MonitoringPipelineProbe final : public Probe {
 public:
  MonitoringPipelineProbe(std::string target, std::optional<HttpEndpoint> prometheus,
                          std::optional<HttpEndpoint> logs, std::optional<HttpEndpoint> rules,
                          std::vector<PromQuery> queries, std::vector<LogsQuery> log_queries,
                          std::vector<RuleGroupCheck> groups)
      : target_(std::move(target)),
        prometheus_(std::move(prometheus)),
        logs_(std::move(logs)),
        rules_(std::move(rules)),
        queries_(std::move(queries)),
        log_queries_(std::move(log_queries)),
        groups_(std::move(groups)) {}

  const std::vector<MetricDesc>& Describe() const override {
    return MonitoringPipelineMetricDescs();
  }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    std::vector<Error> errors;
    for (const auto& query : queries_) {
      if (ctx.stop.stop_requested()) break;
      if (auto error = RunQuery(query, ctx, result)) errors.push_back(std::move(*error));
    }
    for (const auto& query : log_queries_) {
      if (ctx.stop.stop_requested()) break;
      if (auto error = RunLogs(query, ctx, result)) errors.push_back(std::move(*error));
    }
    if (!groups_.empty() && !ctx.stop.stop_requested()) {
      if (auto error = RunRules(ctx, result)) errors.push_back(std::move(*error));
    }
    if (errors.empty()) {
      result.success = true;
      return result;
    }
    std::string message = errors.front().message;
    for (size_t i = 1; i < errors.size(); ++i) message += "; " + errors[i].message;
    result.Fail(errors.front().code, std::move(message));
    return result;
  }

 private:
  std::string CheckTarget(const std::string& name) const { return target_ + "/" + name; }

  std::optional<Error> RunQuery(const PromQuery& query, const ProbeContext& ctx,
                                ProbeResult& result) const {
    const Labels labels{{"target", target_}, {"query", query.name}};
    const std::string where =
        "monitoring " + target_ + " query " + query.name + " (" + prometheus_->Describe() + "): ";
    const auto start = SteadyClock::now();
    std::optional<Error> error;
    std::optional<monitoring::PromAnswer> answer;
    auto http = http::PostForm(*prometheus_, "/api/v1/query", {{"query", query.promql}},
                               ctx.deadline, kMaxBodyBytes);
    if (!http) {
      error = Error{http.error().code,
                    "monitoring " + target_ + " query " + query.name + ": " + http.error().message,
                    http.error().cause};
    } else {
      auto parsed = monitoring::ParsePromAnswer(http->status, http->body, where);
      if (parsed) {
        answer = std::move(*parsed);
      } else {
        error = parsed.error();
      }
    }
    result.Add(kQueryDuration, labels, SecondsSince(start));
    result.Add(kQuerySuccess, labels, answer ? 1 : 0);

    double series = kNaN, min = kNaN, max = kNaN, newest = kNaN;
    if (answer) {
      series = static_cast<double>(answer->series.size());
      for (const auto& point : answer->series) {
        if (!std::isnan(point.value)) {
          min = std::isnan(min) ? point.value : std::min(min, point.value);
          max = std::isnan(max) ? point.value : std::max(max, point.value);
        }
        newest = std::isnan(newest) ? point.timestamp : std::max(newest, point.timestamp);
      }
      result.Add(kQuerySeries, labels, series);
      if (!std::isnan(min)) result.Add(kQueryMin, labels, min);
      if (!std::isnan(max)) result.Add(kQueryMax, labels, max);
      if (!std::isnan(newest)) result.Add(kQueryNewest, labels, newest);
    }
    const std::string check_target = CheckTarget(query.name);
    if (query.min_series > 0) {
      result.expectations.push_back(ExpectNumber("monitoring_query_min_series", check_target,
                                                 series,
                                                 ">=", static_cast<double>(query.min_series)));
    }
    if (query.min_value) {
      result.expectations.push_back(
          ExpectNumber("monitoring_query_min_value", check_target, min, ">=", *query.min_value));
    }
    if (query.max_value) {
      result.expectations.push_back(
          ExpectNumber("monitoring_query_max_value", check_target, max, "<=", *query.max_value));
    }
    if (query.max_age) {
      const double age = std::isnan(newest) ? kNaN : std::max(0.0, NowSeconds() - newest);
      result.expectations.push_back(ExpectNumber("monitoring_query_max_age", check_target, age,
                                                 "<=", Seconds(*query.max_age)));
    }
    return error;
  }

  std::optional<Error> RunLogs(const LogsQuery& query, const ProbeContext& ctx,
                               ProbeResult& result) const {
    const Labels labels{{"target", target_}, {"query", query.name}};
    const std::string where =
        "monitoring " + target_ + " logs " + query.name + " (" + logs_->Describe() + "): ";
    const auto start = SteadyClock::now();
    const double now = NowSeconds();
    std::optional<Error> error;
    std::optional<monitoring::LogsAnswer> answer;
    http::FormFields form{{"query", query.logsql},
                          {"limit", std::to_string(query.limit)},
                          {"start", monitoring::FormatRfc3339(now - Seconds(query.lookback))}};
    auto http = http::PostForm(*logs_, "/select/logsql/query", form, ctx.deadline, kMaxBodyBytes);
    if (!http) {
      error = Error{http.error().code,
                    "monitoring " + target_ + " logs " + query.name + ": " + http.error().message,
                    http.error().cause};
    } else {
      auto parsed = monitoring::ParseLogsAnswer(http->status, http->body, where);
      if (parsed) {
        answer = std::move(*parsed);
      } else {
        error = parsed.error();
      }
    }
    result.Add(kLogsDuration, labels, SecondsSince(start));
    result.Add(kLogsSuccess, labels, answer ? 1 : 0);
    double lines = kNaN, newest = kNaN;
    if (answer) {
      lines = static_cast<double>(answer->lines);
      result.Add(kLogsLines, labels, lines);
      if (answer->newest) {
        newest = *answer->newest;
        result.Add(kLogsNewest, labels, newest);
      }
    }
    const std::string check_target = CheckTarget(query.name);
    if (query.min_lines > 0) {
      result.expectations.push_back(ExpectNumber("monitoring_logs_min_lines", check_target, lines,
                                                 ">=", static_cast<double>(query.min_lines)));
    }
    if (query.max_lines) {
      result.expectations.push_back(ExpectNumber("monitoring_logs_max_lines", check_target, lines,
                                                 "<=", static_cast<double>(*query.max_lines)));
    }
    if (query.max_age) {
      const double age = std::isnan(newest) ? kNaN : std::max(0.0, NowSeconds() - newest);
      result.expectations.push_back(ExpectNumber("monitoring_logs_max_age", check_target, age,
                                                 "<=", Seconds(*query.max_age)));
    }
    return error;
  }

  // One GET of the rule engine's rules; every declared group is judged from that one answer.
  std::optional<Error> RunRules(const ProbeContext& ctx, ProbeResult& result) const {
    const Labels labels{{"target", target_}};
    const std::string where = "monitoring " + target_ + " rules (" + rules_->Describe() + "): ";
    const auto start = SteadyClock::now();
    std::optional<Error> error;
    std::optional<std::map<std::string, monitoring::RuleGroupState>> loaded;
    auto http = http::GetPath(*rules_, "/api/v1/rules", ctx.deadline, kMaxBodyBytes);
    if (!http) {
      error = Error{http.error().code, "monitoring " + target_ + " rules: " + http.error().message,
                    http.error().cause};
    } else if (auto parsed = monitoring::ParseRulesAnswer(http->status, http->body, where)) {
      loaded = std::move(*parsed);
    } else {
      error = parsed.error();
    }
    result.Add(kRulesDuration, labels, SecondsSince(start));
    result.Add(kRulesSuccess, labels, loaded ? 1 : 0);
    for (const auto& group : groups_) {
      const Labels group_labels{{"target", target_}, {"group", group.name}};
      double rules = kNaN, failing = kNaN;
      std::string first_error;
      if (loaded) {
        auto it = loaded->find(group.name);
        if (it != loaded->end()) first_error = it->second.first_error;
        rules = it == loaded->end() ? 0 : static_cast<double>(it->second.rules);
        failing = it == loaded->end() ? 0 : static_cast<double>(it->second.failing);
        result.Add(kGroupRules, group_labels, rules);
        result.Add(kGroupFailing, group_labels, failing);
      }
      const std::string check_target = CheckTarget(group.name);
      result.expectations.push_back(ExpectNumber("monitoring_rule_group_loaded", check_target,
                                                 rules,
                                                 ">=", static_cast<double>(group.min_rules)));
      auto healthy = ExpectNumber("monitoring_rule_group_healthy", check_target, failing, "<=", 0);
      // The engine's own words, so validate and the status page say which rule fails and why.
      if (!first_error.empty()) healthy.observed_text += " failing, first " + first_error;
      result.expectations.push_back(std::move(healthy));
    }
    return error;
  }

  std::string target_;
  std::optional<HttpEndpoint> prometheus_;
  std::optional<HttpEndpoint> logs_;
  std::optional<HttpEndpoint> rules_;
  std::vector<PromQuery> queries_;
  std::vector<LogsQuery> log_queries_;
  std::vector<RuleGroupCheck> groups_;
};

std::string ReadName(YamlMap& map, std::set<std::string>& names) {
  std::string name = map.RequiredString("name");
  if (!monitoring::IsQueryName(name)) {
    map.Fail("name", "must match [a-z][a-z0-9_]* (at most 63 characters): it is a label value");
  }
  if (!names.insert(name).second) map.Fail("name", "duplicate query name \"" + name + "\"");
  return name;
}

std::optional<std::chrono::milliseconds> ReadMaxAge(YamlMap& expect) {
  auto value = expect.Duration("max_age");
  if (value && *value <= std::chrono::milliseconds(0)) expect.Fail("max_age", "must be positive");
  return value;
}

}  // namespace

namespace monitoring {

bool IsQueryName(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() < 'a' || name.front() > 'z') return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string FormatRfc3339(double seconds) {
  const auto whole = static_cast<std::time_t>(std::floor(seconds));
  std::tm utc{};
  gmtime_r(&whole, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

}  // namespace monitoring

Result<std::unique_ptr<Probe>> CreateMonitoringPipelineProbe(const ProbeSettings& settings,
                                                             const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const MonitoringTarget* target = config.FindMonitoring(settings.target);
    if (target == nullptr) {
      return MakeError(ErrorCode::kConfig, "monitoring_pipeline: target \"" + settings.target +
                                               "\" is not a monitoring[] entry");
    }
    YamlMap& params = *settings.params;
    std::set<std::string> names;
    std::vector<PromQuery> queries;
    for (auto& map : params.ListOfMaps("queries")) {
      PromQuery query;
      query.name = ReadName(map, names);
      query.promql = map.RequiredString("promql");
      if (query.promql.empty()) map.Fail("promql", "must not be empty");
      if (auto expect = map.Map("expect")) {
        if (auto value = expect->Int("min_series", 0, 1000000)) query.min_series = *value;
        query.min_value = expect->Number("min_value", -1e300, 1e300);
        query.max_value = expect->Number("max_value", -1e300, 1e300);
        if (query.min_value && query.max_value && *query.min_value > *query.max_value) {
          expect->Fail("max_value", "must not be below min_value");
        }
        query.max_age = ReadMaxAge(*expect);
        expect->Finish();
      }
      map.Finish();
      queries.push_back(std::move(query));
    }
    std::vector<LogsQuery> log_queries;
    for (auto& map : params.ListOfMaps("logs")) {
      LogsQuery query;
      query.name = ReadName(map, names);
      query.logsql = map.RequiredString("logsql");
      if (query.logsql.empty()) map.Fail("logsql", "must not be empty");
      if (auto value = map.Int("limit", 1, 10000)) query.limit = *value;
      if (auto expect = map.Map("expect")) {
        query.max_lines = expect->Int("max_lines", 0, 10000);
        if (query.max_lines) query.min_lines = 0;
        if (auto value = expect->Int("min_lines", 0, 10000)) query.min_lines = *value;
        if (query.min_lines > query.limit) {
          expect->Fail("min_lines", "must not exceed limit (" + std::to_string(query.limit) + ")");
        }
        // Lines are capped at the limit: a bound at or above it could never fail.
        if (query.max_lines && *query.max_lines >= query.limit) {
          expect->Fail("max_lines", "must be below limit (" + std::to_string(query.limit) + ")");
        }
        if (query.max_lines && query.min_lines > *query.max_lines) {
          expect->Fail("min_lines", "must not exceed max_lines");
        }
        query.max_age = ReadMaxAge(*expect);
        expect->Finish();
      }
      if (query.max_age) query.lookback = *query.max_age;
      if (auto value = map.Duration("lookback")) {
        if (*value < std::chrono::seconds(1)) map.Fail("lookback", "must be at least 1s");
        if (query.max_age && *value < *query.max_age) {
          map.Fail("lookback", "must not be shorter than expect.max_age (" +
                                   FormatDuration(*query.max_age) + ")");
        }
        query.lookback = *value;
      }
      map.Finish();
      log_queries.push_back(std::move(query));
    }
    std::vector<RuleGroupCheck> groups;
    std::set<std::string> group_names;
    for (auto& map : params.ListOfMaps("rule_groups")) {
      RuleGroupCheck group;
      group.name = map.RequiredString("name");
      if (!monitoring::IsRuleGroupName(group.name)) {
        map.Fail("name", "must be 1..127 characters of [A-Za-z0-9_.:-]: it is a label value");
      }
      if (!group_names.insert(group.name).second) {
        map.Fail("name", "duplicate rule group \"" + group.name + "\"");
      }
      if (auto expect = map.Map("expect")) {
        if (auto value = expect->Int("min_rules", 1, 100000)) group.min_rules = *value;
        expect->Finish();
      }
      map.Finish();
      groups.push_back(std::move(group));
    }
    if (queries.empty() && log_queries.empty() && groups.empty()) {
      params.FailHere("declare at least one of queries: [...], logs: [...] or rule_groups: [...]");
    }
    const std::optional<HttpEndpoint> rules = target->rules ? target->rules : target->prometheus;
    if (!groups.empty() && !rules) {
      params.Fail("rule_groups",
                  "target \"" + target->name + "\" has no rules: (or prometheus:) endpoint");
    }
    if (!queries.empty() && !target->prometheus) {
      params.Fail("queries", "target \"" + target->name + "\" has no prometheus: endpoint");
    }
    if (!log_queries.empty() && !target->victorialogs) {
      params.Fail("logs", "target \"" + target->name + "\" has no victorialogs: endpoint");
    }
    params.Finish();
    return std::unique_ptr<Probe>(std::make_unique<MonitoringPipelineProbe>(
        target->name, target->prometheus, target->victorialogs, rules, std::move(queries),
        std::move(log_queries), std::move(groups)));
  });
}

const std::vector<MetricDesc>& MonitoringPipelineMetricDescs() {
  static const std::vector<MetricDesc> descs{
      {kQuerySuccess, "1 if the declared PromQL query answered successfully at the last run."},
      {kQuerySeries, "Series (or scalar results) the declared PromQL query returned."},
      {kQueryMin, "Smallest non-NaN value among the series the declared PromQL query returned."},
      {kQueryMax, "Largest non-NaN value among the series the declared PromQL query returned."},
      {kQueryNewest,
       "Unix time of the newest point the declared PromQL query returned (raw-sample time for a "
       "range selector, evaluation time for an instant vector)."},
      {kQueryDuration, "Seconds the declared PromQL query took, HTTP round trip included."},
      {kLogsSuccess, "1 if the declared LogsQL query answered successfully at the last run."},
      {kLogsLines,
       "Log lines the declared LogsQL query returned within its lookback (capped at "
       "its limit)."},
      {kLogsNewest, "Unix time (_time) of the newest log line the declared LogsQL query returned."},
      {kLogsDuration, "Seconds the declared LogsQL query took, HTTP round trip included."},
      {kRulesSuccess, "1 if the rule engine's /api/v1/rules answered at the last run."},
      {kRulesDuration, "Seconds the GET of /api/v1/rules took, HTTP round trip included."},
      {kGroupRules,
       "Rules the rule engine has loaded in the declared rule group (0 when the group is not "
       "loaded)."},
      {kGroupFailing,
       "Rules of the declared rule group whose last evaluation failed (lastError set or health "
       "\"err\")."},
  };
  return descs;
}

}  // namespace dbcanary
