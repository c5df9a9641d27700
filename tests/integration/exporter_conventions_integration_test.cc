// The Prometheus-exporter conventions, end to end with the real dbcanary binary: --version in
// the multi-line form, --log.level/--log.format overriding exporter.log (also after a reload),
// --web.telemetry-path, /-/healthy and /-/ready beside /healthz and /readyz, and the standard
// process_* metrics. Needs no database: the config has no targets.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
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

// exporter.log says error/text; the flags say info/json. Were the config to win, the info
// lines below ("started with", "configuration reloaded") would not be logged at all.
constexpr char kQuietTextConfig[] =
    "exporter:\n"
    "  listen_address: \"127.0.0.1:0\"\n"
    "  log: { level: error, format: text }\n";

class ExporterConventions : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dbcanary-conventions-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    config_ = (dir_ / "dbcanary.yaml").string();
    std::ofstream(config_) << kQuietTextConfig;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string config_;
};

// Polls until `predicate` holds on the exporter's log, or the deadline passes.
template <typename Predicate>
bool WaitForLog(const ExporterProcess& exporter, Predicate predicate) {
  auto deadline = std::chrono::steady_clock::now() + seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate(exporter.Log())) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return predicate(exporter.Log());
}

TEST_F(ExporterConventions, VersionPrintsRevisionBuildDateAndPlatform) {
  std::string output;
  ASSERT_EQ(RunCommand(std::string(DBCANARY_BINARY) + " --version", "", &output), 0) << output;
  EXPECT_TRUE(
      std::regex_match(output, std::regex(R"(dbcanary, version \d+\.\d+\.\d+ )"
                                          R"(\(revision: \S+\)\n)"
                                          R"(  build date:       \d{4}-\d\d-\d\dT[0-9:]{8}Z\n)"
                                          R"(  compiler:         .+\n)"
                                          R"(  platform:         linux/\w+\n)")))
      << output;
}

TEST_F(ExporterConventions, FlagsOverrideTheConfigAndStandardPathsServe) {
  ExporterProcess exporter({"serve", "--config", config_, "--log.level", "info", "--log.format",
                            "json", "--web.telemetry-path", "/probe-metrics"});
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();

  // Health and readiness: the Prometheus paths and the old aliases, GET and HEAD.
  for (const char* path : {"/-/healthy", "/healthz", "/-/ready", "/readyz"}) {
    EXPECT_EQ(exporter.Get(path).status, 200) << path;
    EXPECT_EQ(HttpRequest(exporter.port(), "HEAD", path).status, 200) << path;
    EXPECT_EQ(exporter.Post(path).status, 405) << path;
  }

  // Metrics at the telemetry path only.
  HttpResponse metrics = exporter.Get("/probe-metrics");
  ASSERT_EQ(metrics.status, 200) << exporter.Log();
  EXPECT_EQ(exporter.Get("/metrics").status, 404);
  EXPECT_EQ(SampleValue(metrics.body, "dbcanary_exporter_probes"), 0);
  EXPECT_GT(SampleValue(metrics.body, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(SampleValue(metrics.body, "process_virtual_memory_bytes"), 1e6);
  EXPECT_GE(SampleValue(metrics.body, "process_cpu_seconds_total"), 0);
  EXPECT_GT(SampleValue(metrics.body, "process_open_fds"), 2);
  EXPECT_GT(SampleValue(metrics.body, "process_max_fds"), 2);
  double started = SampleValue(metrics.body, "process_start_time_seconds");
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(started, now + kClockEpsilonSeconds);
  EXPECT_GT(started, now - 600);  // this process, not the machine's boot
  EXPECT_NE(metrics.body.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_EQ(metrics.body.find("dbcanary_process_"), std::string::npos);
  std::string promtool;
  EXPECT_EQ(RunCommand("promtool check metrics", metrics.body, &promtool), 0) << promtool;

  // The status page links the telemetry path, relatively.
  HttpResponse page = exporter.Get("/");
  EXPECT_NE(page.body.find("<a href=\"probe-metrics\">"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("<a href=\"-/ready\">"), std::string::npos);

  // The log: JSON lines at info, although the config says text at error.
  auto json_info_line = [](const std::string& log, const std::string& message) {
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("{\"ts\":") && line.find("\"level\":\"info\"") != std::string::npos &&
          line.find(message) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(json_info_line(exporter.Log(), "started with 0 probes")) << exporter.Log();

  // A reload applies the config again: the flags still win.
  exporter.Signal(SIGHUP);
  EXPECT_TRUE(WaitForLog(exporter, [&](const std::string& log) {
    return json_info_line(log, "configuration reloaded");
  })) << exporter.Log();
  EXPECT_EQ(exporter.Stop(seconds(10)), 0);
}

TEST_F(ExporterConventions, WithoutFlagsTheConfigDecidesAndMetricsIsTheDefaultPath) {
  ExporterProcess exporter({"serve", "--config", config_});
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
  EXPECT_EQ(exporter.Get("/metrics").status, 200);
  EXPECT_EQ(exporter.Get("/-/healthy").status, 200);
  EXPECT_EQ(exporter.Stop(seconds(10)), 0);
  // level error: none of the info lines of start and stop.
  EXPECT_EQ(exporter.Log().find("started with"), std::string::npos) << exporter.Log();
}

TEST_F(ExporterConventions, BadFlagValuesAreUsageErrors) {
  for (const char* flags : {"--log.level loud", "--log.format xml", "--web.telemetry-path /-/ready",
                            "--web.telemetry-path metrics"}) {
    std::string output;
    int code = RunCommand(std::string(DBCANARY_BINARY) + " serve --config " + config_ + " " + flags,
                          "", &output);
    EXPECT_EQ(code, 2) << flags << "\n" << output;
    EXPECT_NE(output.find(std::string(flags).substr(0, std::string(flags).find(' '))),
              std::string::npos)
        << output;
  }
}

}  // namespace
}  // namespace dbcanary::testing
