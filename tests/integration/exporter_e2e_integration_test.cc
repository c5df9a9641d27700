// End to end: the real dbcanary binary against the real local stack, scraped over HTTP.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/monitoring.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string StackDir() {
  const char* dir = std::getenv("DBCANARY_STACK_DIR");
  return dir != nullptr ? dir : DBCANARY_TEST_STACK_DIR;
}

std::string StackConfig() { return StackDir() + "/dbcanary.yaml"; }

int StackCommand(const std::string& args) {
  std::string output;
  int code = RunCommand("DBCANARY_STACK_DIR=" + StackDir() + " " + DBCANARY_SOURCE_DIR +
                            "/deploy/local/stack.sh " + args,
                        "", &output);
  if (code != 0) ADD_FAILURE() << "stack.sh " << args << " failed:\n" << output;
  return code;
}

std::string Series(const std::string& name, const std::string& probe, const std::string& target) {
  return name + "{probe=\"" + probe + "\",target=\"" + target + "\"}";
}

// Polls /metrics until `series` has `value`, or `timeout` passes; returns the last value seen.
double WaitForValue(const ExporterProcess& exporter, const std::string& series, double value,
                    milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  double seen = NAN;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = SampleValue(exporter.Get("/metrics").body, series);
    if (seen == value) return seen;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return seen;
}

class ExporterEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(StackConfig())) {
      if (std::getenv("DBCANARY_REQUIRE_INTEGRATION") != nullptr) {
        FAIL() << "no stack config at " << StackConfig();
      }
      GTEST_SKIP() << "local stack not running (" << StackConfig() << " missing)";
    }
  }
};

// The three first probes report real values from the stack, and promtool accepts the page.
TEST_F(ExporterEndToEnd, ServesRealValuesThatPromtoolAccepts) {
  ExporterProcess exporter({"serve", "--config", StackConfig()});
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
  // Every probe has run once. A single run can trip over a busy machine: the values below are
  // waited for (a page where they all hold), not expected of one snapshot after a fixed delay.
  auto holds = [](const std::string& body) {
    for (const char* target : {"gitlab-pooler-rw", "gitlab-pooler-ro", "harbor-pooler-rw",
                               "keycloak-pooler-rw", "synergyflow-pooler-rw"}) {
      if (SampleValue(body, Series("dbcanary_probe_success", "pooler_roundtrip", target)) != 1) {
        return false;
      }
    }
    return SampleValue(
               body, Series("dbcanary_probe_success", "pg_replication", "shared-postgres")) == 1 &&
           SampleValue(body, Series("dbcanary_probe_success", "dragonfly_basics", "dragonfly")) ==
               1 &&
           SampleValue(body,
                       "dbcanary_pg_replication_streaming_standbys{target=\"shared-postgres\"}") ==
               2 &&
           SampleValue(body, "dbcanary_pg_replication_sync_standbys{target=\"shared-postgres\"}") ==
               2 &&
           SampleValue(body,
                       "dbcanary_expectation_pass{check=\"min_sync_standbys\",target=\"shared-"
                       "postgres\"}") == 1;
  };
  HttpResponse metrics;
  for (auto until = std::chrono::steady_clock::now() + seconds(60);;) {
    metrics = exporter.Get("/metrics");
    if ((metrics.status == 200 && holds(metrics.body)) ||
        std::chrono::steady_clock::now() > until) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(500));
  }
  ASSERT_EQ(metrics.status, 200) << exporter.Log();
  EXPECT_NE(metrics.headers.find("text/plain; version=0.0.4"), std::string::npos);
  const std::string& body = metrics.body;

  EXPECT_EQ(
      SampleValue(body, Series("dbcanary_probe_success", "pg_replication", "shared-postgres")), 1)
      << body;
  for (const char* pooler : {"gitlab-pooler-rw", "gitlab-pooler-ro", "harbor-pooler-rw",
                             "keycloak-pooler-rw", "synergyflow-pooler-rw"}) {
    EXPECT_EQ(SampleValue(body, Series("dbcanary_probe_success", "pooler_roundtrip", pooler)), 1)
        << pooler << "\n"
        << exporter.Log();
  }
  EXPECT_EQ(SampleValue(body, Series("dbcanary_probe_success", "dragonfly_basics", "dragonfly")),
            1);
  EXPECT_EQ(
      SampleValue(body, "dbcanary_pg_replication_streaming_standbys{target=\"shared-postgres\"}"),
      2);
  EXPECT_EQ(SampleValue(body, "dbcanary_pg_replication_sync_standbys{target=\"shared-postgres\"}"),
            2);
  EXPECT_EQ(
      SampleValue(
          body,
          "dbcanary_expectation_pass{check=\"min_sync_standbys\",target=\"shared-postgres\"}"),
      1);
  EXPECT_GT(SampleValue(body, "process_resident_memory_bytes"), 1e6);

  std::string output;
  int code = RunCommand("promtool check metrics", body, &output);
  EXPECT_EQ(code, 0) << output;

  // No secret reaches the page or the log.
  for (const auto& entry : fs::directory_iterator(StackDir() + "/secrets")) {
    std::ifstream in(entry.path());
    std::string secret;
    std::getline(in, secret);
    ASSERT_FALSE(secret.empty());
    EXPECT_EQ(body.find(secret), std::string::npos) << entry.path();
    EXPECT_EQ(exporter.Log().find(secret), std::string::npos) << entry.path();
  }
}

// Lines of `body` for family `name` whose value is not `value` (empty when all match).
std::vector<std::string> SamplesNotEqual(const std::string& body, const std::string& name,
                                         double value) {
  std::vector<std::string> bad;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    if (std::stod(line.substr(line.rfind(' ') + 1)) != value) bad.push_back(line);
  }
  return bad;
}

// Every probe the stack config enables succeeds and every declared expectation holds: the
// healthy stack is what the acceptance list says it should be.
TEST_F(ExporterEndToEnd, EveryProbeAndExpectationIsGreenOnAHealthyStack) {
  // Scraped by the stack's vmagent: the monitoring pipeline check needs its own series to arrive.
  auto scraped = StartScrapedExporter(StackConfig());
  ExporterProcess& exporter = *scraped;
  ASSERT_TRUE(exporter.WaitReady(seconds(60))) << exporter.Log();
  std::vector<std::string> failing;
  std::string body;
  // A single run can trip over a busy machine; the stack is healthy when a round is all green.
  // Waited for up to two minutes (past the slowest probe's 1 min interval); it ends as soon as
  // a round is.
  for (auto until = std::chrono::steady_clock::now() + seconds(120);;) {
    body = exporter.Get("/metrics").body;
    failing = SamplesNotEqual(body, "dbcanary_probe_success", 1);
    auto expectations = SamplesNotEqual(body, "dbcanary_expectation_pass", 1);
    failing.insert(failing.end(), expectations.begin(), expectations.end());
    if (failing.empty() || std::chrono::steady_clock::now() > until) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  for (const auto& line : failing) ADD_FAILURE() << "not green: " << line;
  if (!failing.empty()) std::cerr << exporter.Log();
  EXPECT_GE(SampleValue(body, "dbcanary_exporter_probes"), 20);
}

// A stopped PgBouncer fails its probe within the timeout while /metrics stays prompt.
TEST_F(ExporterEndToEnd, StoppedPoolerFailsWithinTimeoutWhileScrapesStayFast) {
  ExporterProcess exporter({"serve", "--config", StackConfig()});
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
  const std::string success =
      Series("dbcanary_probe_success", "pooler_roundtrip", "gitlab-pooler-rw");
  ASSERT_EQ(WaitForValue(exporter, success, 1, seconds(60)), 1);

  ASSERT_EQ(StackCommand("stop gitlab-pooler-rw"), 0);
  auto stopped_at = std::chrono::steady_clock::now();
  double worst_scrape = 0;
  double seen = 1;
  while (std::chrono::steady_clock::now() - stopped_at < seconds(30) && seen != 0) {
    auto response = exporter.Get("/metrics");
    ASSERT_EQ(response.status, 200);
    worst_scrape = std::max(worst_scrape, response.seconds);
    seen = SampleValue(response.body, success);
    std::this_thread::sleep_for(milliseconds(50));
  }
  double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped_at).count();
  EXPECT_EQ(seen, 0) << "pooler probe still succeeding " << took << " s after the stop";
  // Promise: with the stack config's 5 s interval and 3 s timeout a failure shows within one of
  // each (the refused connect fails at once), plus room for a loaded host.
  EXPECT_LT(took, 5 + 3 + 3);
  // Promise: a scrape never waits on a probe. 1 s leaves a loaded host room and stays far below
  // what a scrape waiting on runs (3 s timeout, 5 s interval) would take.
  EXPECT_LT(worst_scrape, 1.0) << "a scrape waited on a probe";
  auto body = exporter.Get("/metrics").body;
  EXPECT_GE(SampleValue(body,
                        "dbcanary_probe_failures_total{probe=\"pooler_roundtrip\",target=\"gitlab-"
                        "pooler-rw\",reason=\"connect\"}"),
            1)
      << body;

  ASSERT_EQ(StackCommand("start gitlab-pooler-rw"), 0);
  EXPECT_EQ(WaitForValue(exporter, success, 1, seconds(60)), 1) << "no recovery after restart";
}

// A bad reload keeps the running config; SIGTERM stops promptly.
TEST_F(ExporterEndToEnd, BadReloadKeepsServingAndSigtermStopsPromptly) {
  fs::path config =
      fs::temp_directory_path() / ("dbcanary-e2e-" + std::to_string(::getpid()) + ".yaml");
  fs::copy_file(StackConfig(), config, fs::copy_options::overwrite_existing);
  ExporterProcess exporter({"serve", "--config", config.string()});
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();

  std::ofstream(config, std::ios::app) << "\nbogus_key: 1\n";
  auto reload = exporter.Reload();
  EXPECT_NE(reload.status, 200);
  EXPECT_NE(reload.body.find("bogus_key"), std::string::npos) << reload.body;
  auto body = exporter.Get("/metrics").body;
  EXPECT_EQ(SampleValue(body, "dbcanary_config_last_reload_successful"), 0);
  // Still probing with the old config (waited for: one run can trip over a busy machine).
  EXPECT_EQ(
      WaitForValue(exporter, Series("dbcanary_probe_success", "pg_replication", "shared-postgres"),
                   1, seconds(60)),
      1);

  fs::copy_file(StackConfig(), config, fs::copy_options::overwrite_existing);
  exporter.Signal(SIGHUP);
  EXPECT_EQ(WaitForValue(exporter, "dbcanary_config_last_reload_successful", 1, seconds(30)), 1);

  double took = 0;
  EXPECT_EQ(exporter.Stop(seconds(15), &took), 0);
  // Promise: SIGTERM stops within the 1.5 s stop limit on probe runs, plus room for a loaded host.
  EXPECT_LT(took, 1.5 + 2.5);
  fs::remove(config);
}

// check-config validates without starting anything.
TEST_F(ExporterEndToEnd, CheckConfigExitCodes) {
  std::string output;
  EXPECT_EQ(
      RunCommand(std::string(DBCANARY_BINARY) + " check-config " + StackConfig(), "", &output), 0)
      << output;
  fs::path bad = fs::temp_directory_path() / "dbcanary-e2e-bad.yaml";
  std::ofstream(bad) << "exporter:\n  workers: 0\n";
  EXPECT_EQ(RunCommand(std::string(DBCANARY_BINARY) + " check-config " + bad.string(), "", &output),
            1);
  EXPECT_NE(output.find("exporter.workers"), std::string::npos) << output;
  fs::remove(bad);
}

}  // namespace
}  // namespace dbcanary::testing
