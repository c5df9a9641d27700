// Roles follow the platform (issue 18), on the real local stack: after `stack.sh failover` the
// same config file and the same running exporter are green again without a config change, the
// role metrics show the new primary and the change; a switchover back returns to the original
// primary, still green; a split brain and a stopped primary are their own named signals.
// Every test leaves shared-postgres-1 primary with both standbys streaming (pass or fail): the
// other tests of the run share the stack.

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "probes/postgres/pg_topology_source.h"
#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/monitoring.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ExporterProcess;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunCommand;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
constexpr char kOriginal[] = "shared-postgres-1";
// The product promise of the issue: green again within 2 minutes of the failover.
constexpr auto kGreenWithin = seconds(120);

std::string Cell(const Result<PgTable>& table, std::string_view column) {
  if (!table || table->empty()) return "<no answer>";
  auto value = table->Text(0, column);
  return value && value->has_value() ? **value : "<null>";
}

// Puts shared-postgres-1 back as the primary with both standbys streaming, pass or fail.
class RestoreOriginalPrimary {
 public:
  ~RestoreOriginalPrimary() {
    const Stack& stack = Stack::Get();
    std::string output;
    auto back = stack.Script({"failover", "--to", kOriginal}, &output, seconds(180));
    EXPECT_TRUE(back) << "restoring " << kOriginal << ": "
                      << (back ? output : back.error().message);
    EXPECT_EQ(Cell(stack.AdminQuery(kOriginal, "SELECT pg_is_in_recovery()::text AS r"), "r"),
              "false");
  }
};

// The stack's config with its 1 s latency targets raised to the probes' 3 s timeout: whether
// replication answers within 1 s on a busy 2-core host is not what is tested here. Written once,
// before anything moves, and used unchanged throughout.
std::string HostIndependentConfig(const std::string& dir) {
  std::ifstream in(Stack::Get().ConfigPath());
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  for (const std::string key :
       {"max_lag_seconds", "max_replica_visibility_seconds", "max_wait_seconds"}) {
    const std::string from = key + ": 1 }";
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), key + ": 3 }");
    }
  }
  const std::string path = dir + "/topology-test.yaml";
  std::ofstream(path) << text;
  return path;
}

// Every sample of the families that make "green": probe success and expectation passes.
std::map<std::string, double> GreenSamples(const std::string& body) {
  std::map<std::string, double> samples;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("dbcanary_probe_success{") &&
        !line.starts_with("dbcanary_expectation_pass{")) {
      continue;
    }
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

std::string Red(const std::map<std::string, double>& samples) {
  std::string red;
  for (const auto& [series, value] : samples) {
    if (value != 1) red += "  " + series + " " + std::to_string(value) + "\n";
  }
  return red;
}

struct Green {
  bool reached = false;
  double seconds = 0;
  std::string last_red;
};

// Polls /metrics until every probe succeeded and every expectation passes, and `also` holds.
template <typename Also>
Green WaitGreen(const ExporterProcess& exporter, Also also) {
  const auto started = SteadyClock::now();
  Green green;
  while (SteadyClock::now() - started < kGreenWithin) {
    const std::string body = exporter.Get("/metrics").body;
    auto samples = GreenSamples(body);
    green.last_red = Red(samples);
    if (!samples.empty() && green.last_red.empty() && also(body)) {
      green.reached = true;
      green.seconds = SecondsSince(started);
      return green;
    }
    std::this_thread::sleep_for(milliseconds(500));
  }
  return green;
}

// The value of the first `name` sample carrying every given label="value", whatever the label
// order on the page; NaN when absent.
double Sample(const std::string& body, const std::string& name,
              const std::vector<std::string>& labels) {
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(name + "{")) continue;
    const std::string series = line.substr(0, line.rfind(' '));
    bool all = true;
    for (const auto& label : labels) all = all && series.find(label) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return NAN;
}

double IsPrimary(const std::string& body, const std::string& server) {
  return Sample(body, "dbcanary_pg_is_primary",
                {"server=\"" + server + "\"", "target=\"" + std::string(kCluster) + "\""});
}

double PrimaryChanges(const std::string& body) {
  return Sample(body, "dbcanary_pg_primary_changes_total",
                {"target=\"" + std::string(kCluster) + "\""});
}

class TopologyIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    char pattern[] = "/tmp/dbcanary-topology-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
};

// Pins the promise: failover, then with the same config file and the same running
// exporter every probe is green and every expectation passes within 2 minutes, the role metrics
// show the new primary and one change, `validate` says GO; a switchover back to the original
// primary is the second change and is green again.
TEST_F(TopologyIntegrationTest, FailoverAndSwitchoverBackStayGreenWithoutAConfigChange) {
  const Stack& stack = Stack::Get();
  const std::string config = HostIndependentConfig(dir_);
  const auto config_written = std::filesystem::last_write_time(config);
  // Where the stack's vmagent scrapes: "every check green" includes its own series arriving.
  auto scraped = testing::StartScrapedExporter(config);
  ExporterProcess& exporter = *scraped;
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
  RestoreOriginalPrimary restore;

  auto before = WaitGreen(exporter, [](const std::string& body) {
    return IsPrimary(body, kOriginal) == 1 && PrimaryChanges(body) == 0;
  });
  ASSERT_TRUE(before.reached) << "not green before the failover:\n"
                              << before.last_red << "is_primary " << kOriginal << " "
                              << IsPrimary(exporter.Get("/metrics").body, kOriginal);

  std::string output;
  auto failover = stack.Script({"failover"}, &output, seconds(180));
  ASSERT_TRUE(failover) << failover.error().message;
  std::string promoted;
  for (const char* name : {"shared-postgres-2", "shared-postgres-3"}) {
    if (Cell(stack.AdminQuery(name, "SELECT pg_is_in_recovery()::text AS r"), "r") == "false") {
      promoted = name;
    }
  }
  ASSERT_FALSE(promoted.empty()) << "no standby was promoted:\n" << output;

  auto after = WaitGreen(exporter, [&](const std::string& body) {
    return IsPrimary(body, promoted) == 1 && IsPrimary(body, kOriginal) == 0 &&
           PrimaryChanges(body) == 1;
  });
  EXPECT_TRUE(after.reached) << "still red " << kGreenWithin.count() << " s after the failover to "
                             << promoted << ":\n"
                             << after.last_red;
  const std::string page = exporter.Get("/metrics").body;
  EXPECT_GT(Sample(page, "dbcanary_pg_last_primary_change_timestamp_seconds",
                   {"target=\"" + std::string(kCluster) + "\""}),
            0);
  // Performance comes from the nightly benchmarks' last runs, which this test does not make.
  std::string validate;
  EXPECT_EQ(RunCommand(std::string(DBCANARY_BINARY) + " validate --config '" + config +
                           "' --skip performance",
                       "", &validate),
            0)
      << validate;
  EXPECT_NE(validate.find("\nGO ("), std::string::npos) << validate;

  auto back = stack.Script({"failover", "--to", kOriginal}, &output, seconds(180));
  ASSERT_TRUE(back) << back.error().message;
  auto returned = WaitGreen(exporter, [&](const std::string& body) {
    return IsPrimary(body, kOriginal) == 1 && IsPrimary(body, promoted) == 0 &&
           PrimaryChanges(body) == 2;
  });
  EXPECT_TRUE(returned.reached) << "still red after switching back to " << kOriginal << ":\n"
                                << returned.last_red;
  EXPECT_EQ(std::filesystem::last_write_time(config), config_written);  // never touched
  EXPECT_TRUE(exporter.Running());
  std::printf("FIGURES green_after_failover=%.1f s green_after_switch_back=%.1f s\n", after.seconds,
              returned.seconds);
}

// Pins the drill's own check of the monitor (issue 18, item 5) and the exporter beside it: the
// failover drill, run with the stack's config (its trigger is `stack.sh failover`), passes only
// once dbcanary's pg probes are green on the new topology and reports that time; the running
// exporter with the same config is green again too and counts one primary change.
TEST_F(TopologyIntegrationTest, FailoverDrillChecksTheMonitorAndLeavesItGreen) {
  const std::string config = HostIndependentConfig(dir_);
  // Where the stack's vmagent scrapes: "every check green" includes its own series arriving.
  auto scraped = testing::StartScrapedExporter(config);
  ExporterProcess& exporter = *scraped;
  ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
  RestoreOriginalPrimary restore;
  auto before = WaitGreen(exporter, [](const std::string& body) {
    return IsPrimary(body, kOriginal) == 1 && PrimaryChanges(body) == 0;
  });
  ASSERT_TRUE(before.reached) << "not green before the drill:\n" << before.last_red;

  std::string drill;
  const int code = RunCommand(
      std::string(DBCANARY_BINARY) + " drill failover --config '" + config + "'", "", &drill);
  std::fprintf(stderr, "%s\n", drill.c_str());
  EXPECT_EQ(code, 0) << drill;
  EXPECT_NE(drill.find("wait_monitor"), std::string::npos) << drill;
  EXPECT_NE(drill.find("max_monitor_recovery_seconds"), std::string::npos) << drill;

  auto after = WaitGreen(exporter, [](const std::string& body) {
    return IsPrimary(body, kOriginal) == 0 && PrimaryChanges(body) == 1;
  });
  EXPECT_TRUE(after.reached) << "the exporter is still red after the drill:\n" << after.last_red;
  std::printf("FIGURES exporter_green_after_drill=%.1f s\n", after.seconds);
}

// Pins the split-brain signal: a standby promoted while the primary still runs gives two
// primaries, the no_split_brain expectation fails with both names, has_primary still passes;
// writes follow the promoted instance (newest timeline).
TEST_F(TopologyIntegrationTest, PromotingAStandbyWithoutFencingIsASplitBrain) {
  const Stack& stack = Stack::Get();
  auto config = stack.LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  RestoreOriginalPrimary restore;
  auto promoted = stack.AdminQuery("shared-postgres-3", "SELECT pg_promote(true, 30)::text AS p");
  ASSERT_EQ(Cell(promoted, "p"), "true") << (promoted ? "" : promoted.error().message);

  auto probe = testing::MakeProbe(**config, "pg_replication", kCluster);
  ASSERT_TRUE(probe) << probe.error().message;
  auto run = RunProbeOnce(**probe, milliseconds(5000));
  EXPECT_EQ(FindSample(run.result, kPgPrimaries, {{"target", kCluster}}), 2);
  const auto* split = FindExpectation(run.result, "no_split_brain", kCluster);
  ASSERT_NE(split, nullptr);
  EXPECT_FALSE(split->pass);
  EXPECT_EQ(split->observed_text, "split brain: 2 primaries: shared-postgres-1 shared-postgres-3");
  const auto* has_primary = FindExpectation(run.result, "has_primary", kCluster);
  ASSERT_NE(has_primary, nullptr);
  EXPECT_TRUE(has_primary->pass);
  EXPECT_EQ(FindSample(run.result, kPgIsPrimary, {{"target", kCluster}, {"server", kOriginal}}), 1);
  EXPECT_EQ(
      FindSample(run.result, kPgIsPrimary, {{"target", kCluster}, {"server", "shared-postgres-3"}}),
      1);
}

// Pins "no primary": the primary stopped and nothing promoted; has_primary fails (0 primaries),
// no_split_brain passes, the run fails naming it, and the writing probes say so too.
TEST_F(TopologyIntegrationTest, StoppingThePrimaryIsNoPrimary) {
  const Stack& stack = Stack::Get();
  auto config = stack.LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  testing::StoppedComponents stopped;
  ASSERT_TRUE(stopped.Stop(kOriginal));

  auto probe = testing::MakeProbe(**config, "pg_replication", kCluster);
  ASSERT_TRUE(probe) << probe.error().message;
  auto run = RunProbeOnce(**probe, milliseconds(5000));
  ASSERT_FALSE(run.result.success);
  // The stopped member's own error is the reason: a primary that is down reads as connect.
  EXPECT_EQ(run.result.error->code, ErrorCode::kConnect) << run.result.error->message;
  EXPECT_TRUE(run.result.error->message.starts_with(
      "cluster shared-postgres: no primary (2 of 3 members answer, all in recovery); " +
      std::string(kOriginal) + ": "))
      << run.result.error->message;
  EXPECT_EQ(FindSample(run.result, kPgPrimaries, {{"target", kCluster}}), 0);
  const auto* has_primary = FindExpectation(run.result, "has_primary", kCluster);
  ASSERT_NE(has_primary, nullptr);
  EXPECT_FALSE(has_primary->pass);
  EXPECT_TRUE(FindExpectation(run.result, "no_split_brain", kCluster)->pass);

  auto heartbeat = testing::MakeProbe(**config, "pg_heartbeat", kCluster);
  ASSERT_TRUE(heartbeat) << heartbeat.error().message;
  auto beat = RunProbeOnce(**heartbeat, milliseconds(5000));
  ASSERT_FALSE(beat.result.success);
  EXPECT_NE(beat.result.error->message.find("no primary"), std::string::npos)
      << beat.result.error->message;
}

}  // namespace
}  // namespace dbcanary
