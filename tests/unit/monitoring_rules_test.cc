// The rules API answer (/api/v1/rules) as Prometheus and vmalert serve it, and the params of
// rule_groups and logs max_lines.
#include <gtest/gtest.h>

#include "config/config.h"
#include "probes/monitoring/rules.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

using monitoring::ParseRulesAnswer;

constexpr const char* kWhere = "monitoring vm rules: ";

// Trimmed from vmalert 1.79's answer on the local stack (every field it writes kept for one rule).
constexpr const char* kVmalert = R"({"status":"success","data":{"groups":[
 {"name":"dbcanary-backup","rules":[
   {"state":"inactive","name":"DbcanaryBackupStale","query":"x == 0","duration":300,
    "labels":{"severity":"critical"},"annotations":{},"lastError":"","evaluationTime":0,
    "lastEvaluation":"0001-01-01T00:00:00Z","health":"ok","type":"alerting",
    "datasourceType":"prometheus","lastSamples":0,"id":"1","group_id":"2"}],
  "interval":10,"lastEvaluation":"2026-12-03T17:10:19Z","type":"prometheus","id":"2",
  "file":"/rules/dbcanary.rules.yml","concurrency":1},
 {"name":"broken","rules":[
   {"state":"","name":"dbcanary_test:duplicate","query":"q","duration":0,"labels":{"k":"same"},
    "lastError":"result contains metrics with the same labelset after applying rule labels",
    "evaluationTime":0.006,"lastEvaluation":"2026-12-03T17:10:19Z","health":"err",
    "type":"recording","datasourceType":"prometheus","lastSamples":2,"id":"3","group_id":"4"},
   {"state":"","name":"ok_rule","query":"q","lastError":"","health":"ok","type":"recording"}],
  "interval":1,"file":"/rules/broken.yml"}]}})";

// Prometheus' documented shape: health "unknown" before the first evaluation is not a failure.
constexpr const char* kPrometheus = R"({"status":"success","data":{"groups":[
 {"name":"cnpg","file":"/etc/prometheus/rules/cnpg.yaml","interval":30,"limit":0,
  "evaluationTime":0.001,"lastEvaluation":"2026-12-03T17:00:00.1Z","rules":[
   {"state":"inactive","name":"CNPGClusterHAWarning","query":"x","duration":300,
    "keepFiringFor":0,"labels":{},"annotations":{},"alerts":[],"health":"unknown",
    "evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z","type":"alerting"},
   {"name":"cnpg:lag","query":"y","labels":{},"health":"err","lastError":"many-to-many matching not allowed",
    "evaluationTime":0,"lastEvaluation":"2026-12-03T17:00:00Z","type":"recording"}]}]}})";

TEST(MonitoringRulesAnswer, CountsRulesAndFailuresPerGroup) {
  auto groups = ParseRulesAnswer(200, kVmalert, kWhere);
  ASSERT_TRUE(groups) << groups.error().message;
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ(groups->at("dbcanary-backup").rules, 1u);
  EXPECT_EQ(groups->at("dbcanary-backup").failing, 0u);
  EXPECT_EQ(groups->at("broken").rules, 2u);
  EXPECT_EQ(groups->at("broken").failing, 1u);
  EXPECT_NE(groups->at("broken").first_error.find("dbcanary_test:duplicate: result contains"),
            std::string::npos)
      << groups->at("broken").first_error;

  auto prometheus = ParseRulesAnswer(200, kPrometheus, kWhere);
  ASSERT_TRUE(prometheus) << prometheus.error().message;
  EXPECT_EQ(prometheus->at("cnpg").rules, 2u);
  EXPECT_EQ(prometheus->at("cnpg").failing, 1u);
}

// Older vmalert answers split the rules of a group in two lists; a group declared in two files
// is one group.
TEST(MonitoringRulesAnswer, SplitListsAndRepeatedGroupsAreSummed) {
  auto groups = ParseRulesAnswer(200, R"({"status":"success","data":{"groups":[
      {"name":"g","alerting_rules":[{"name":"a","lastError":""}],
       "recording_rules":[{"name":"r","lastError":"boom"}]},
      {"name":"g","rules":[]}]}})",
                                 kWhere);
  ASSERT_TRUE(groups) << groups.error().message;
  EXPECT_EQ(groups->at("g").rules, 2u);
  EXPECT_EQ(groups->at("g").failing, 1u);
}

TEST(MonitoringRulesAnswer, ErrorsAndWrongShapes) {
  auto failed = ParseRulesAnswer(503, R"({"status":"error","error":"not ready"})", kWhere);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kQuery);
  EXPECT_NE(failed.error().message.find("not ready"), std::string::npos);
  auto http = ParseRulesAnswer(404, "404 page not found", kWhere);
  ASSERT_FALSE(http);
  EXPECT_EQ(http.error().code, ErrorCode::kQuery);
  for (const char* body :
       {"", "garbage", "[]", R"({"status":"success","data":{}})",
        R"({"status":"success","data":{"groups":{}}})",
        R"({"status":"success","data":{"groups":[{"rules":[]}]}})",
        R"({"status":"success","data":{"groups":[{"name":"g"}]}})",
        R"({"status":"success","data":{"groups":[{"name":"g","rules":{}}]}})",
        R"({"status":"success","data":{"groups":[{"name":"g","rules":[1]}]}})"}) {
    auto answer = ParseRulesAnswer(200, body, kWhere);
    ASSERT_FALSE(answer) << body;
    EXPECT_EQ(answer.error().code, ErrorCode::kProtocol) << body;
    EXPECT_EQ(answer.error().message.rfind(kWhere, 0), 0u) << answer.error().message;
  }
}

TEST(MonitoringRulesAnswer, GroupNamesAreBoundedLabelValues) {
  EXPECT_TRUE(monitoring::IsRuleGroupName("dbcanary-exporter"));
  EXPECT_TRUE(monitoring::IsRuleGroupName("cnpg.rules:v1_x"));
  EXPECT_FALSE(monitoring::IsRuleGroupName(""));
  EXPECT_FALSE(monitoring::IsRuleGroupName("has space"));
  EXPECT_FALSE(monitoring::IsRuleGroupName(std::string(128, 'a')));
}

// Builds the monitoring_pipeline probe of `yaml`; the error message or "".
std::string BuildError(const std::string& yaml) {
  auto config = ParseConfig(yaml, "test.yaml");
  if (!config) return "config: " + config.error().message;
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  auto probe = registry.Create(*(*config)->AllProbes().at(0), **config);
  return probe ? std::string() : probe.error().message;
}

std::string Target(const std::string& endpoints, const std::string& params) {
  return "monitoring:\n  - name: vm\n" + endpoints + "    probes:\n      monitoring_pipeline:\n" +
         params;
}

TEST(MonitoringRulesConfig, RuleGroupsUseTheRulesEndpointElsePrometheus) {
  const std::string groups = "        rule_groups: [ { name: dbcanary-exporter } ]\n";
  EXPECT_EQ(BuildError(Target("    rules: { url: \"http://vmalert:8880\" }\n", groups)), "");
  EXPECT_EQ(BuildError(Target("    prometheus: { url: \"http://prom:9090\" }\n", groups)), "");
  EXPECT_NE(BuildError(Target("    victorialogs: { url: \"http://vl:9428\" }\n", groups))
                .find("has no rules: (or prometheus:) endpoint"),
            std::string::npos);
  const std::string vm = "    rules: { url: \"http://vmalert:8880\" }\n";
  EXPECT_NE(BuildError(Target(vm, "        rule_groups: [ { name: \"a b\" } ]\n"))
                .find("[A-Za-z0-9_.:-]"),
            std::string::npos);
  EXPECT_NE(BuildError(Target(vm, "        rule_groups: [ { name: a }, { name: a } ]\n"))
                .find("duplicate rule group"),
            std::string::npos);
  EXPECT_NE(
      BuildError(Target(vm, "        rule_groups: [ { name: a, expect: { min_rules: 0 } } ]\n"))
          .find("min_rules"),
      std::string::npos);
}

TEST(MonitoringRulesConfig, MaxLinesMustStayBelowTheLimitAndAboveMinLines) {
  const std::string vl = "    victorialogs: { url: \"http://vl:9428\" }\n";
  EXPECT_EQ(BuildError(Target(
                vl, "        logs: [ { name: e, logsql: error, expect: { max_lines: 0 } } ]\n")),
            "");
  EXPECT_NE(BuildError(Target(vl,
                              "        logs: [ { name: e, logsql: error, limit: 5,\n"
                              "                  expect: { max_lines: 5 } } ]\n"))
                .find("must be below limit"),
            std::string::npos);
  EXPECT_NE(BuildError(Target(vl,
                              "        logs: [ { name: e, logsql: error,\n"
                              "                  expect: { min_lines: 3, max_lines: 2 } } ]\n"))
                .find("must not exceed max_lines"),
            std::string::npos);
}

}  // namespace
}  // namespace dbcanary
