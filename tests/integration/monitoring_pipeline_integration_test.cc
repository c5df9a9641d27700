// monitoring_pipeline against a real VictoriaMetrics (Debian's victoria-metrics) that scrapes a
// real dbcanary exporter running with the stack's config, and against a fake VictoriaLogs that
// follows VictoriaLogs' documented HTTP API (VictoriaLogs is not packaged in Debian 12).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "config/config.h"
#include "tests/fake_victorialogs/fake_victorialogs.h"
#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/stack.h"

extern char** environ;

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kVictoriaMetrics = "/usr/bin/victoria-metrics";

double Now() { return FakeVictoriaLogs::Now(); }

// A victoria-metrics child process on 127.0.0.1 with a temporary storage directory, scraping
// 127.0.0.1:`scrape_port` every second. Killed and its directory removed when destroyed.
class VictoriaMetrics {
 public:
  explicit VictoriaMetrics(int scrape_port) {
    dir_ = fs::temp_directory_path() / ("dbcanary-vm-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "scrape.yml") << "scrape_configs:\n"
                                          "  - job_name: dbcanary\n"
                                          "    scrape_interval: 1s\n"
                                          "    static_configs:\n"
                                          "      - targets: [\"127.0.0.1:"
                                       << scrape_port << "\"]\n";
    port_ = FreePort();
    std::vector<std::string> args{
        kVictoriaMetrics,
        "-httpListenAddr=127.0.0.1:" + std::to_string(port_),
        "-storageDataPath=" + (dir_ / "data").string(),
        "-promscrape.config=" + (dir_ / "scrape.yml").string(),
        "-retentionPeriod=1d",
        // Instant queries see samples 1 s old (default 30 s): the test must not wait that long.
        "-search.latencyOffset=1s",
        "-loggerLevel=ERROR",
    };
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = (dir_ / "vm.log").string();
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, kVictoriaMetrics, &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~VictoriaMetrics() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code error;
    fs::remove_all(dir_, error);
  }
  VictoriaMetrics(const VictoriaMetrics&) = delete;
  VictoriaMetrics& operator=(const VictoriaMetrics&) = delete;

  bool started() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Log() const {
    std::ifstream in(dir_ / "vm.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class MonitoringPipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!Stack::Get().available() || !fs::exists(kVictoriaMetrics)) return;
    exporter_ = std::make_unique<ExporterProcess>(
        std::vector<std::string>{"serve", "--config", Stack::Get().ConfigPath()});
    if (!exporter_->WaitReady(seconds(30))) {
      setup_error_ = "exporter not ready:\n" + exporter_->Log();
      return;
    }
    vm_ = std::make_unique<VictoriaMetrics>(exporter_->port());
    if (!vm_->started()) {
      setup_error_ = "cannot start victoria-metrics";
      return;
    }
    // Ready when dbcanary's own series has been scraped, ingested and is queryable.
    auto until = std::chrono::steady_clock::now() + seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      auto answer = HttpRequest(vm_->port(), "GET", "/api/v1/query?query=dbcanary_build_info",
                                milliseconds(1000));
      if (answer.status == 200 &&
          answer.body.find("\"dbcanary_build_info\"") != std::string::npos) {
        ready_seconds_ =
            30 - std::chrono::duration<double>(until - std::chrono::steady_clock::now()).count();
        return;
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
    setup_error_ = "dbcanary_build_info never became queryable:\n" + vm_->Log();
  }
  static void TearDownTestSuite() {
    vm_.reset();
    exporter_.reset();
  }

  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    if (!fs::exists(kVictoriaMetrics)) {
      if (IntegrationRequired())
        FAIL() << kVictoriaMetrics << " missing (deploy/local/install-deps.sh)";
      GTEST_SKIP() << kVictoriaMetrics << " missing";
    }
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  // Builds monitoring_pipeline on a target with `prometheus_url` / `logs_url` (either may be
  // empty) and the probe params `params` (YAML, indented 8), through the registry.
  std::unique_ptr<Probe> Build(const std::string& prometheus_url, const std::string& logs_url,
                               const std::string& params) {
    std::string text = "monitoring:\n  - name: pipeline\n";
    if (!prometheus_url.empty()) text += "    prometheus: { url: \"" + prometheus_url + "\" }\n";
    if (!logs_url.empty()) text += "    victorialogs: { url: \"" + logs_url + "\" }\n";
    text += "    probes:\n      monitoring_pipeline:\n" + params;
    auto config = ParseConfig(text, "monitoring-test.yaml");
    EXPECT_TRUE(config) << config.error().message;
    if (!config) return nullptr;
    auto probe = MakeProbe(**config, "monitoring_pipeline", "pipeline");
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  static Labels Query(const std::string& name) { return {{"target", "pipeline"}, {"query", name}}; }

  static inline std::unique_ptr<ExporterProcess> exporter_;
  static inline std::unique_ptr<VictoriaMetrics> vm_;
  static inline std::string setup_error_;
  static inline double ready_seconds_ = 0;
};

// Pins: the PromQL client, parsing and expectations on real VictoriaMetrics answers (vector,
// matrix, scalar) — dbcanary's own series as ingested pass, with a fresh sample timestamp.
TEST_F(MonitoringPipeline, QueriesOnDbcanarysOwnSeriesPass) {
  auto probe = Build(vm_->url(), "",
                     "        queries:\n"
                     "          - { name: build_info, promql: \"dbcanary_build_info\",\n"
                     "              expect: { min_series: 1, min_value: 1, max_value: 1 } }\n"
                     "          - { name: build_info_fresh, promql: \"dbcanary_build_info[1m]\",\n"
                     "              expect: { max_age: 30s } }\n"
                     "          - { name: probes_up, promql: \"sum(dbcanary_probe_success)\",\n"
                     "              expect: { min_value: 1 } }\n"
                     "          - { name: scalar, promql: \"scalar(count(dbcanary_build_info))\",\n"
                     "              expect: { min_value: 1, max_value: 1 } }\n");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, seconds(5));
  const ProbeResult& result = run.result;
  ASSERT_TRUE(result.success) << (result.error ? result.error->message : "");
  std::cerr << "4 PromQL queries in " << run.seconds * 1000 << " ms (VM ready after "
            << ready_seconds_ << " s)\n";
  for (const char* name : {"build_info", "build_info_fresh", "probes_up", "scalar"}) {
    EXPECT_EQ(FindSample(result, "dbcanary_monitoring_query_success", Query(name)), 1) << name;
  }
  EXPECT_EQ(FindSample(result, "dbcanary_monitoring_query_series", Query("build_info")), 1);
  EXPECT_EQ(FindSample(result, "dbcanary_monitoring_query_min_value", Query("build_info")), 1);
  auto newest = FindSample(result, "dbcanary_monitoring_query_newest_sample_timestamp_seconds",
                           Query("build_info_fresh"));
  ASSERT_TRUE(newest);
  // Fresh: within the declared max_age of 30 s (thirty 1 s scrape intervals: room for a loaded
  // host), and a sample time, not a time in the future (1 s for clock rounding).
  EXPECT_GT(*newest, Now() - 30);
  EXPECT_LE(*newest, Now() + 1);
  auto probes_up = FindSample(result, "dbcanary_monitoring_query_max_value", Query("probes_up"));
  ASSERT_TRUE(probes_up);
  EXPECT_GE(*probes_up, 1);
  for (const auto& [check, query] : std::vector<std::pair<std::string, std::string>>{
           {"monitoring_query_min_series", "build_info"},
           {"monitoring_query_min_value", "build_info"},
           {"monitoring_query_max_value", "build_info"},
           {"monitoring_query_max_age", "build_info_fresh"},
           {"monitoring_query_min_value", "probes_up"},
           {"monitoring_query_max_value", "scalar"}}) {
    const ExpectationResult* expectation = FindExpectation(result, check, "pipeline/" + query);
    ASSERT_NE(expectation, nullptr) << check << " " << query;
    EXPECT_TRUE(expectation->pass) << check << " " << query << ": " << expectation->observed_text
                                   << " vs " << expectation->expected_text;
  }
  // Every declared check, min_series: 1 being the default of each query: 3 + 2 + 2 + 3.
  EXPECT_EQ(result.expectations.size(), 10u);
  for (const auto& expectation : result.expectations) {
    EXPECT_TRUE(expectation.pass) << expectation.check << " " << expectation.target;
  }
}

// Pins: a series that never arrives (unselected PodMonitor) fails its expectation with the
// observed count, while the probe itself (the measurement) still succeeds.
TEST_F(MonitoringPipeline, AMissingSeriesFailsItsExpectationNotTheProbe) {
  auto probe =
      Build(vm_->url(), "",
            "        queries:\n"
            "          - { name: missing, promql: \"dbcanary_no_such_series_total\" }\n"
            "          - { name: missing_fresh, promql: \"dbcanary_no_such_series_total[1m]\",\n"
            "              expect: { min_series: 0, max_age: 1m } }\n");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, seconds(5));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_query_series", Query("missing")), 0);
  EXPECT_FALSE(FindSample(run.result, "dbcanary_monitoring_query_newest_sample_timestamp_seconds",
                          Query("missing")));
  const ExpectationResult* series =
      FindExpectation(run.result, "monitoring_query_min_series", "pipeline/missing");
  ASSERT_NE(series, nullptr);
  EXPECT_FALSE(series->pass);
  EXPECT_EQ(series->observed, 0);
  EXPECT_EQ(series->threshold, 1);
  const ExpectationResult* age =
      FindExpectation(run.result, "monitoring_query_max_age", "pipeline/missing_fresh");
  ASSERT_NE(age, nullptr);
  EXPECT_FALSE(age->pass);
  EXPECT_TRUE(std::isnan(age->observed));
  EXPECT_EQ(FindExpectation(run.result, "monitoring_query_min_series", "pipeline/missing_fresh"),
            nullptr);
}

// Pins: an invalid PromQL query is the server's error (kQuery with VM's errorType), not a
// protocol error; the other queries of the run still report.
TEST_F(MonitoringPipeline, AnInvalidQueryIsAQueryError) {
  auto probe = Build(vm_->url(), "",
                     "        queries:\n"
                     "          - { name: broken, promql: \"sum(\" }\n"
                     "          - { name: build_info, promql: \"dbcanary_build_info\" }\n");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, seconds(5));
  ASSERT_FALSE(run.result.success);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::kQuery) << run.result.error->message;
  EXPECT_NE(run.result.error->message.find("errorType 422"), std::string::npos)
      << run.result.error->message;
  EXPECT_NE(run.result.error->message.find("pipeline"), std::string::npos);
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_query_success", Query("broken")), 0);
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_query_success", Query("build_info")), 1);
  const ExpectationResult* series =
      FindExpectation(run.result, "monitoring_query_min_series", "pipeline/broken");
  ASSERT_NE(series, nullptr);
  EXPECT_FALSE(series->pass);
}

// Pins: a store nobody listens on is kConnect naming the URL; one that accepts but never
// answers is kTimeout within the run's deadline.
TEST_F(MonitoringPipeline, UnreachableAndHangingStoresFailWithBoundedCodes) {
  const std::string refused = "http://127.0.0.1:" + std::to_string(UnusedLoopbackPort());
  auto probe = Build(refused, "", "        queries: [ { name: up, promql: up } ]\n");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, seconds(2));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(run.result.error->code, ErrorCode::kConnect) << run.result.error->message;
  EXPECT_NE(run.result.error->message.find(refused), std::string::npos);
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_query_success", Query("up")), 0);

  SilentListener silent;
  auto hanging = Build("http://127.0.0.1:" + std::to_string(silent.port()), "",
                       "        queries: [ { name: up, promql: up } ]\n");
  ASSERT_NE(hanging, nullptr);
  auto slow = RunProbeOnce(*hanging, milliseconds(300));
  ASSERT_FALSE(slow.result.success);
  EXPECT_EQ(slow.result.error->code, ErrorCode::kTimeout) << slow.result.error->message;
  // At the 300 ms deadline: not before, and not much after (room for a loaded host, far below
  // the endpoint's 10 s request timeout and the listener's silence, which never ends).
  EXPECT_GE(slow.seconds, 0.3 - kClockEpsilonSeconds);
  EXPECT_LT(slow.seconds, 0.3 + kDeadlineSlackSeconds);
}

// Pins: LogsQL queries reach VictoriaLogs' documented endpoint with limit and start; fresh
// lines pass min_lines and max_age, and the newest _time is reported.
TEST_F(MonitoringPipeline, FreshLogLinesPass) {
  FakeVictoriaLogs logs;
  const std::string stream = "{app=\"postgres\",namespace=\"databases\"}";
  // Every time below is compared with the wall clock read around the step that set it, never
  // with a fixed tolerance of "now": the host may take its time between the steps.
  const double added_before = Now();
  logs.AddAged(stream, 5, 20);
  const double added_after = Now();
  logs.AddAged("{app=\"other\"}", 1, 3);
  auto probe = Build("", logs.url(),
                     "        logs:\n"
                     "          - name: pg_logs\n"
                     "            logsql: '_stream:" +
                         stream +
                         "'\n"
                         "            limit: 10\n"
                         "            expect: { min_lines: 10, max_age: 1m }\n");
  ASSERT_NE(probe, nullptr);
  const double run_before = Now();
  auto run = RunProbeOnce(*probe, seconds(2));
  const double run_after = Now();
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  std::cerr << "1 LogsQL query in " << run.seconds * 1000 << " ms\n";
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_logs_success", Query("pg_logs")), 1);
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_logs_lines", Query("pg_logs")), 10);
  auto newest =
      FindSample(run.result, "dbcanary_monitoring_logs_newest_timestamp_seconds", Query("pg_logs"));
  ASSERT_TRUE(newest);
  // The newest line's time: 5 s before it was added (1 ms for the nanosecond text round trip).
  EXPECT_GE(*newest, added_before - 5 - 1e-3);
  EXPECT_LE(*newest, added_after - 5 + 1e-3);
  for (const char* check : {"monitoring_logs_min_lines", "monitoring_logs_max_age"}) {
    const ExpectationResult* expectation = FindExpectation(run.result, check, "pipeline/pg_logs");
    ASSERT_NE(expectation, nullptr) << check;
    EXPECT_TRUE(expectation->pass) << check << ": " << expectation->observed_text;
  }
  auto requests = logs.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].query, "_stream:" + stream);
  EXPECT_EQ(requests[0].limit, "10");
  auto start = kube::ParseRfc3339(requests[0].start);
  ASSERT_TRUE(start) << requests[0].start;
  // Lookback defaults to max_age: 60 s before the run's clock (sent in whole seconds, floored).
  EXPECT_GE(*start, run_before - 60 - 1);
  EXPECT_LE(*start, run_after - 60);
}

// Pins: logs that stopped arriving (only old lines within the lookback) fail max_age while
// min_lines passes; no lines at all fail both — the probe succeeds either way.
TEST_F(MonitoringPipeline, StaleOrMissingLogsFailTheirExpectations) {
  FakeVictoriaLogs logs;
  const double added_before = Now();
  logs.AddAged("{app=\"postgres\"}", 600, 5);
  const double added_after = Now();
  auto probe =
      Build("", logs.url(),
            "        logs:\n"
            "          - { name: stale, logsql: \"line\", lookback: 1h,\n"
            "              expect: { min_lines: 1, max_age: 1m } }\n"
            "          - { name: empty, logsql: \"no-such-word\", expect: { max_age: 1m } }\n");
  ASSERT_NE(probe, nullptr);
  const double run_before = Now();
  auto run = RunProbeOnce(*probe, seconds(2));
  const double run_after = Now();
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_logs_lines", Query("stale")), 5);
  EXPECT_TRUE(FindExpectation(run.result, "monitoring_logs_min_lines", "pipeline/stale")->pass);
  const ExpectationResult* age =
      FindExpectation(run.result, "monitoring_logs_max_age", "pipeline/stale");
  ASSERT_NE(age, nullptr);
  EXPECT_FALSE(age->pass);
  // 600 s plus however long passed between adding the lines and the run's clock reading.
  EXPECT_GE(age->observed, 600 + (run_before - added_after) - 1e-3);
  EXPECT_LE(age->observed, 600 + (run_after - added_before) + 1e-3);
  EXPECT_EQ(age->threshold, 60);

  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_logs_lines", Query("empty")), 0);
  EXPECT_FALSE(
      FindSample(run.result, "dbcanary_monitoring_logs_newest_timestamp_seconds", Query("empty")));
  const ExpectationResult* lines =
      FindExpectation(run.result, "monitoring_logs_min_lines", "pipeline/empty");
  ASSERT_NE(lines, nullptr);
  EXPECT_FALSE(lines->pass);
  EXPECT_EQ(lines->observed, 0);
  EXPECT_FALSE(FindExpectation(run.result, "monitoring_logs_max_age", "pipeline/empty")->pass);
}

// Pins: max_lines bounds the matching lines ("no errors in the operator's logs" is max_lines: 0):
// one matching error line fails exactly that query's max_lines check; a query without matches
// passes it, and with max_lines alone no min_lines check is made.
TEST_F(MonitoringPipeline, MaxLinesZeroFailsOnAnyMatchingLine) {
  FakeVictoriaLogs logs;
  logs.AddAged("{app=\"cnpg-operator\"}", 3, 4);
  logs.Add({Now() - 2, "level=error msg=\"reconciling Cluster\"", "{app=\"cnpg-operator\"}"});
  auto probe = Build("", logs.url(),
                     "        logs:\n"
                     "          - { name: operator_errors, logsql: \"level=error\",\n"
                     "              expect: { max_lines: 0 } }\n"
                     "          - { name: operator_panics, logsql: \"panic\",\n"
                     "              expect: { max_lines: 0 } }\n");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, seconds(2));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  const ExpectationResult* errors =
      FindExpectation(run.result, "monitoring_logs_max_lines", "pipeline/operator_errors");
  ASSERT_NE(errors, nullptr);
  EXPECT_FALSE(errors->pass);
  EXPECT_EQ(errors->observed, 1);
  EXPECT_EQ(errors->threshold, 0);
  const ExpectationResult* panics =
      FindExpectation(run.result, "monitoring_logs_max_lines", "pipeline/operator_panics");
  ASSERT_NE(panics, nullptr);
  EXPECT_TRUE(panics->pass);
  EXPECT_EQ(FindExpectation(run.result, "monitoring_logs_min_lines", "pipeline/operator_panics"),
            nullptr);
  EXPECT_EQ(run.result.expectations.size(), 2u);
}

// Pins: a garbage answer is kProtocol and a rejected LogsQL query is kQuery with the server's
// reason; neither is mistaken for "no logs".
TEST_F(MonitoringPipeline, GarbageAndBadLogsQlAreErrors) {
  FakeVictoriaLogs logs;
  logs.SetRawAnswer("{\"_time\":\"2026-11-26T15:00:00Z\",\"_msg\":\"ok\"}\n<html>oops</html>\n");
  auto probe = Build("", logs.url(), "        logs: [ { name: pg_logs, logsql: \"*\" } ]\n");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, seconds(2));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(run.result.error->code, ErrorCode::kProtocol) << run.result.error->message;
  EXPECT_NE(run.result.error->message.find("line 2"), std::string::npos);
  EXPECT_EQ(FindSample(run.result, "dbcanary_monitoring_logs_success", Query("pg_logs")), 0);
  EXPECT_FALSE(FindSample(run.result, "dbcanary_monitoring_logs_lines", Query("pg_logs")));

  logs.SetRawAnswer(std::nullopt);
  auto bad =
      Build("", logs.url(), "        logs: [ { name: broken, logsql: \"error | stats(\" } ]\n");
  ASSERT_NE(bad, nullptr);
  auto rejected = RunProbeOnce(*bad, seconds(2));
  ASSERT_FALSE(rejected.result.success);
  EXPECT_EQ(rejected.result.error->code, ErrorCode::kQuery) << rejected.result.error->message;
  EXPECT_NE(rejected.result.error->message.find("HTTP 400"), std::string::npos);
}

}  // namespace
}  // namespace dbcanary::testing
