#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"
#include "probes/monitoring/monitoring_pipeline_probe.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

namespace fs = std::filesystem;

class MonitoringConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dbcanary-monitoring-config-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "password") << "vm-basic-pass\n";
    std::ofstream(dir_ / "token") << "vm-bearer-token\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Password() const { return (dir_ / "password").string(); }
  std::string Token() const { return (dir_ / "token").string(); }

  // A config with one monitoring target whose probe params are `params` (YAML, indented 8).
  std::string WithParams(const std::string& params) const {
    return "monitoring:\n"
           "  - name: vm\n"
           "    prometheus: { url: \"http://127.0.0.1:8428/\" }\n"
           "    victorialogs: { url: \"http://127.0.0.1:9428\" }\n"
           "    probes:\n"
           "      monitoring_pipeline:\n" +
           params;
  }

  // Loads `text` and builds its monitoring_pipeline probe; the error message or "".
  std::string BuildError(const std::string& text) const {
    auto config = ParseConfig(text, "test.yaml");
    if (!config) return "config: " + config.error().message;
    ProbeRegistry registry;
    RegisterBuiltinProbes(registry);
    auto probes = (*config)->AllProbes();
    if (probes.size() != 1) return "expected one probe";
    auto probe = registry.Create(*probes.front(), **config);
    return probe ? std::string() : probe.error().message;
  }

  fs::path dir_;
};

TEST_F(MonitoringConfigTest, ReadsTargetsWithAuthAndJoinsAllProbes) {
  const std::string text =
      "postgres:\n"
      "  clusters:\n"
      "    - name: pg\n"
      "      primary: { host: 127.0.0.1, user: u }\n"
      "monitoring:\n"
      "  - name: vm\n"
      "    prometheus:\n"
      "      url: \"https://vmselect:8481/select/0/prometheus/\"\n"
      "      basic_auth: { username: reader, password_file: \"" +
      Password() +
      "\" }\n"
      "      ca_file: /etc/ssl/ca.crt\n"
      "      timeout: 3s\n"
      "    victorialogs:\n"
      "      url: \"http://vlogs:9428\"\n"
      "      bearer_token_file: \"" +
      Token() +
      "\"\n"
      "    probes:\n"
      "      monitoring_pipeline:\n"
      "        interval: 1m\n"
      "        queries: [ { name: up, promql: \"up\" } ]\n";
  auto loaded = ParseConfig(text, "test.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  const Config& config = **loaded;
  ASSERT_EQ(config.monitoring.size(), 1u);
  const MonitoringTarget* target = config.FindMonitoring("vm");
  ASSERT_NE(target, nullptr);
  ASSERT_TRUE(target->prometheus);
  EXPECT_EQ(target->prometheus->url, "https://vmselect:8481/select/0/prometheus");  // no trailing /
  EXPECT_EQ(target->prometheus->username, "reader");
  EXPECT_EQ(target->prometheus->password.Reveal(), "vm-basic-pass");
  EXPECT_EQ(target->prometheus->ca_file, "/etc/ssl/ca.crt");
  EXPECT_EQ(target->prometheus->timeout, std::chrono::seconds(3));
  ASSERT_TRUE(target->victorialogs);
  EXPECT_EQ(target->victorialogs->bearer_token_file, Token());
  EXPECT_EQ(target->victorialogs->timeout, std::chrono::seconds(10));
  auto probes = config.AllProbes();
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0]->kind, "monitoring_pipeline");
  EXPECT_EQ(probes[0]->target, "vm");
  EXPECT_EQ(probes[0]->interval, std::chrono::minutes(1));
  EXPECT_EQ(config.FindMonitoring("pg"), nullptr);
}

TEST_F(MonitoringConfigTest, RejectsBadTargets) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  const std::vector<Case> cases{
      {"monitoring:\n  - name: vm\n", "set prometheus"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"vm:8428\" }\n", "must start with http"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http://u:p@vm:8428\" }\n",
       "must not contain credentials"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm:8428?x=1\" }\n",
       "query string"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http:///\" }\n", "has no host"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm\", tiemout: 1s }\n",
       "tiemout"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm\", basic_auth: { username: "
       "a } }\n",
       "password_file"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm\", basic_auth: { username: "
       "a, password: literal } }\n",
       "environment reference"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm\", bearer_token_file: "
       "/nonexistent/token }\n",
       "cannot read"},
      {"monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm\" }\n"
       "  - name: vm\n    prometheus: { url: \"http://vm2\" }\n",
       "duplicate target name \"vm\""},
      {"dragonfly:\n  - name: vm\n    master: { host: 127.0.0.1 }\n"
       "monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm\" }\n",
       "duplicate target name \"vm\""},
  };
  for (const auto& c : cases) {
    auto config = ParseConfig(c.yaml, "test.yaml");
    ASSERT_FALSE(config) << c.yaml;
    EXPECT_NE(config.error().message.find(c.error), std::string::npos) << c.yaml << "\n"
                                                                       << config.error().message;
    EXPECT_EQ(config.error().message.rfind("test.yaml:", 0), 0u) << config.error().message;
  }
  // The password never appears in an error.
  auto config = ParseConfig(
      "monitoring:\n  - name: vm\n    prometheus: { url: \"http://vm\", basic_auth: { username: "
      "a, password_file: \"" +
          Password() + "\" }, bearer_token_file: \"" + Token() + "\" }\n",
      "test.yaml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("not both"), std::string::npos);
  EXPECT_EQ(config.error().message.find("vm-basic-pass"), std::string::npos);
}

TEST_F(MonitoringConfigTest, BuildsTheProbeFromGoodParams) {
  EXPECT_EQ(BuildError(WithParams(
                "        queries:\n"
                "          - { name: build_info, promql: \"dbcanary_build_info\" }\n"
                "          - name: lag\n"
                "            promql: \"max(lag)\"\n"
                "            expect: { min_series: 0, min_value: 0, max_value: 10, max_age: 2m }\n"
                "        logs:\n"
                "          - name: pg_logs\n"
                "            logsql: \"_stream:{app=\\\"postgres\\\"}\"\n"
                "            limit: 5\n"
                "            lookback: 1h\n"
                "            expect: { min_lines: 5, max_age: 10m }\n")),
            "");
}

TEST_F(MonitoringConfigTest, RejectsBadParamsWithTheirPath) {
  struct Case {
    std::string params;
    std::string error;
  };
  const std::vector<Case> cases{
      {"        interval: 1m\n", "at least one of queries"},
      {"        queries: [ { promql: up } ]\n", "name"},
      {"        queries: [ { name: Up, promql: up } ]\n", "[a-z][a-z0-9_]*"},
      {"        queries: [ { name: up, promql: up }, { name: up, promql: up } ]\n",
       "duplicate query name"},
      {"        queries: [ { name: up, promql: up } ]\n"
       "        logs: [ { name: up, logsql: \"*\" } ]\n",
       "duplicate query name"},
      {"        queries: [ { name: up, promql: \"\" } ]\n", "promql: required"},
      {"        queries: [ { name: up, promql: up, expect: { min_sereis: 1 } } ]\n", "min_sereis"},
      {"        queries: [ { name: up, promql: up, expect: { min_value: 5, max_value: 1 } } ]\n",
       "must not be below min_value"},
      {"        queries: [ { name: up, promql: up, expect: { max_age: 0s } } ]\n",
       "must be positive"},
      {"        logs: [ { name: l, logsql: \"*\", limit: 2, expect: { min_lines: 3 } } ]\n",
       "must not exceed limit"},
      {"        logs: [ { name: l, logsql: \"*\", lookback: 1m, expect: { max_age: 5m } } ]\n",
       "must not be shorter than expect.max_age"},
      {"        logs: [ { name: l, logsql: \"*\", max_age: 5m } ]\n", "max_age"},
      {"        querys: []\n        queries: [ { name: up, promql: up } ]\n", "querys"},
  };
  for (const auto& c : cases) {
    std::string error = BuildError(WithParams(c.params));
    EXPECT_NE(error.find(c.error), std::string::npos) << c.params << "\n" << error;
  }
  // Queries need a prometheus endpoint, logs a victorialogs one.
  std::string only_logs =
      "monitoring:\n  - name: vl\n    victorialogs: { url: \"http://127.0.0.1:9428\" }\n"
      "    probes:\n      monitoring_pipeline:\n        queries: [ { name: up, promql: up } ]\n";
  EXPECT_NE(BuildError(only_logs).find("has no prometheus: endpoint"), std::string::npos)
      << BuildError(only_logs);
  std::string only_prom =
      "monitoring:\n  - name: vm\n    prometheus: { url: \"http://127.0.0.1:8428\" }\n"
      "    probes:\n      monitoring_pipeline:\n        logs: [ { name: l, logsql: \"*\" } ]\n";
  EXPECT_NE(BuildError(only_prom).find("has no victorialogs: endpoint"), std::string::npos)
      << BuildError(only_prom);
}

}  // namespace
}  // namespace dbcanary
