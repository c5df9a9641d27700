// The monitoring pipeline the local stack runs (victoria-metrics, vmagent, vmalert, alertmanager;
// deploy/local/stack-monitoring.sh), checked the way the generated config's monitoring_pipeline
// probe checks it: dbcanary's own series arrive fresh, vmalert has loaded every rule group, no
// rule evaluation fails. Real faults: vmagent stopped (series go stale) and a broken rule file
// loaded into vmalert; both must turn the Monitoring group red and recover after.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/monitoring.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

// The stack's config with the freshness bound of dbcanary's series lowered from 30 s to 12 s
// (vmagent scrapes every 5 s), so a stopped vmagent shows within seconds, not half a minute.
std::string ConfigWithShortFreshness(const std::string& dir) {
  std::ifstream in(Stack::Get().ConfigPath());
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  const std::string from = "expect: { max_age: 30s }";
  const size_t at = config.find(from);
  EXPECT_NE(at, std::string::npos) << "no dbcanary_series_fresh bound in the stack's config";
  if (at != std::string::npos) config.replace(at, from.size(), "expect: { max_age: 12s }");
  const std::string path = dir + "/short-freshness.yaml";
  std::ofstream(path) << config;
  return path;
}

// The Monitoring group of one `dbcanary validate` run: its verdict and the failing checks as
// "check|target".
struct MonitoringVerdict {
  std::string verdict;
  std::vector<std::string> failing;
};

MonitoringVerdict ValidateMonitoring(const std::string& config, const std::string& dir) {
  std::string output;
  const std::string report = dir + "/report";
  RunCommand(std::string(DBCANARY_BINARY) + " validate --config '" + config + "' --report '" +
                 report + "'",
             "", &output);
  MonitoringVerdict out;
  std::ifstream file(report + "/monitoring.json");
  auto group = nlohmann::json::parse(file, nullptr, false);
  if (group.is_discarded()) return out;
  out.verdict = group.value("verdict", "");
  for (const auto& check : group["checks"]) {
    if (check["state"] != "pass") {
      out.failing.push_back(check["check"].get<std::string>() + "|" +
                            check["target"].get<std::string>());
    }
  }
  return out;
}

// Runs validate until the Monitoring group's verdict is `verdict` or `timeout` passes.
MonitoringVerdict WaitForMonitoring(const std::string& config, const std::string& dir,
                                    const std::string& verdict, seconds timeout) {
  MonitoringVerdict last;
  for (auto until = std::chrono::steady_clock::now() + timeout;;) {
    last = ValidateMonitoring(config, dir);
    if (last.verdict == verdict || std::chrono::steady_clock::now() > until) return last;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

class StackMonitoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    dir_ = fs::temp_directory_path() / ("dbcanary-stack-monitoring-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    config_ = ConfigWithShortFreshness(dir_.string());
    exporter_ = StartScrapedExporter(config_);
    ASSERT_TRUE(exporter_->WaitReady(seconds(60))) << exporter_->Log();
    // A healthy pipeline first: anything else would make the faults below prove nothing.
    auto healthy = WaitForMonitoring(config_, dir_.string(), "PASS", seconds(90));
    ASSERT_EQ(healthy.verdict, "PASS") << ::testing::PrintToString(healthy.failing);
  }
  void TearDown() override {
    exporter_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::string config_;
  std::unique_ptr<ExporterProcess> exporter_;
};

// Pins: with vmagent stopped nothing reaches victoria-metrics; the freshness check of dbcanary's
// own series fails by name, and passes again once vmagent is back.
TEST_F(StackMonitoringTest, StoppedVmagentMakesTheSeriesStaleAndRecovers) {
  const auto& stack = Stack::Get();
  ASSERT_TRUE(stack.Stop("vmagent"));
  auto stale = WaitForMonitoring(config_, dir_.string(), "FAIL", seconds(90));
  EXPECT_TRUE(stack.Start("vmagent"));
  EXPECT_EQ(stale.verdict, "FAIL");
  EXPECT_THAT(
      stale.failing,
      ::testing::Contains("monitoring_query_max_age|local-victoria-metrics/dbcanary_series_fresh"));
  auto recovered = WaitForMonitoring(config_, dir_.string(), "PASS", seconds(90));
  EXPECT_EQ(recovered.verdict, "PASS") << ::testing::PrintToString(recovered.failing);
}

// Pins: a rule file vmalert cannot load is reported (its last reload failed, the old rules keep
// running); the check names it, and a good reload clears it.
TEST_F(StackMonitoringTest, BrokenRuleFileInVmalertFailsTheCheckAndRecovers) {
  const auto& stack = Stack::Get();
  const fs::path broken = fs::path(stack.Env("DBCANARY_STACK_VMALERT_RULES_DIR")) / "broken.yml";
  std::ofstream(broken) << "groups:\n- name: broken\n  rules:\n  - alert: Broken\n    expr: foo(\n";
  ASSERT_TRUE(stack.Script({"reload-rules"}));
  auto failed = WaitForMonitoring(config_, dir_.string(), "FAIL", seconds(90));
  fs::remove(broken);
  EXPECT_TRUE(stack.Script({"reload-rules"}));
  EXPECT_EQ(failed.verdict, "FAIL");
  EXPECT_THAT(failed.failing,
              ::testing::Contains(
                  "monitoring_query_min_value|local-victoria-metrics/vmalert_rules_loaded"));
  auto recovered = WaitForMonitoring(config_, dir_.string(), "PASS", seconds(90));
  EXPECT_EQ(recovered.verdict, "PASS") << ::testing::PrintToString(recovered.failing);
}

}  // namespace
}  // namespace dbcanary::testing
