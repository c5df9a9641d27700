// The drill scheduler inside the real exporter: an enabled drill fires on its cron schedule,
// its run shows on /metrics (result, figures, expectations), its report on /reports, and the
// output still passes `promtool check metrics`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The stack's config with its `drills:` section replaced by a cheap dragonfly_benchmark that
// runs every minute.
std::string ConfigWithScheduledDrill(const std::string& dir) {
  std::ifstream in(Stack::Get().ConfigPath());
  std::string path = dir + "/scheduled.yaml";
  std::ofstream out(path);
  std::stringstream text;
  text << in.rdbuf();
  out << WithoutDrillsSection(text.str());
  out << "drills:\n  reports_dir: " << dir
      << "/reports\n  lock: { cluster: shared-postgres, ttl: 30s }\n"
      << "  jobs:\n    dragonfly_benchmark:\n      enabled: true\n      schedule: \"* * * * *\"\n"
      << "      timeout: 30s\n      dragonfly: dragonfly\n      connections: 2\n"
      << "      duration: 1s\n      keyspace: 100\n"
      // Met by one operation in the run (a busy host does fewer, not none): the test is about
      // the schedule, not the host's speed.
      << "      expect: { min_ops_per_second: 0.001 }\n";
  return path;
}

// Pins: a scheduled drill really fires from the daemon (not only from the CLI), and its outcome
// reaches /metrics and /reports in valid exposition format.
TEST(DrillScheduleIntegrationTest, EnabledDrillFiresOnItsScheduleAndIsExported) {
  DBCANARY_REQUIRE_STACK();
  char pattern[] = "/tmp/dbcanary-drill-schedule-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  std::string dir = pattern;
  std::string config = ConfigWithScheduledDrill(dir);

  ExporterProcess exporter({"serve", "--config", config});
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
  const std::string runs =
      "dbcanary_drill_runs_total{drill=\"dragonfly_benchmark\",result=\"pass\"}";
  std::string body = exporter.Get("/metrics").body;
  EXPECT_EQ(SampleValue(body, "dbcanary_drill_enabled{drill=\"dragonfly_benchmark\"}"), 1) << body;
  double next_run =
      SampleValue(body, "dbcanary_drill_next_run_timestamp_seconds{drill=\"dragonfly_benchmark\"}");
  ASSERT_FALSE(std::isnan(next_run)) << body;
  // "* * * * *" fires at the next minute boundary: at most 60 s away, plus the run itself (its
  // timeout is 30 s); the wait ends as soon as the run is counted.
  auto until = std::chrono::steady_clock::now() + seconds(180);
  while (std::chrono::steady_clock::now() < until) {
    body = exporter.Get("/metrics").body;
    if (SampleValue(body, runs) >= 1) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  ASSERT_GE(SampleValue(body, runs), 1) << exporter.Log();
  EXPECT_EQ(SampleValue(
                body, "dbcanary_drill_last_result{drill=\"dragonfly_benchmark\",result=\"pass\"}"),
            1);
  // It ran on its schedule: not before the announced minute (1 s for clock rounding).
  EXPECT_GT(
      SampleValue(body,
                  "dbcanary_drill_last_success_timestamp_seconds{drill=\"dragonfly_benchmark\"}"),
      next_run - 1);
  EXPECT_NE(body.find("dbcanary_drill_dragonfly_benchmark_"), std::string::npos)
      << "the drill's own figures";
  EXPECT_NE(body.find("check=\"dragonfly_benchmark_min_set_ops_per_second\""), std::string::npos)
      << "its expectations, in dbcanary_expectation_pass";

  std::string metrics_file = dir + "/metrics.txt";
  std::ofstream(metrics_file) << body;
  std::string promtool_output;
  int promtool =
      RunCommand("promtool check metrics < '" + metrics_file + "'", "", &promtool_output);
  EXPECT_EQ(promtool, 0) << promtool_output;

  auto reports = exporter.Get("/reports?format=json");
  EXPECT_EQ(reports.status, 200);
  EXPECT_NE(reports.body.find("dragonfly_benchmark"), std::string::npos) << reports.body;
  EXPECT_EQ(exporter.Stop(seconds(10)), 0);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace dbcanary::testing
