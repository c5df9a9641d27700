// pg_heartbeat against the local stack's real PostgreSQL primary + 2 streaming standbys.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/yaml_reader.h"
#include "probes/postgres/pg_heartbeat_probe.h"
#include "probes/postgres/pg_heartbeat_rows.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
constexpr char kPrimary[] = "shared-postgres-1";
constexpr char kWriter[] = "it-heartbeat";  // its own row: the e2e test's daemon uses "dbcanary"
const std::vector<std::string> kStandbys = {"shared-postgres-2", "shared-postgres-3"};
// The run's budget. No test here times replication against a constant (an idle host replays a
// heartbeat in milliseconds, a busy one may take seconds): a healthy standby must see the
// heartbeat within the run, and kLagLimit, the max_lag_seconds declared in these tests, is the
// budget itself.
constexpr milliseconds kTimeout{5000};
constexpr double kLagLimit = 5.0;
// Reads of a standby stop this long before the deadline (pg_heartbeat_probe.cc, kReadMargin).
constexpr double kReadMarginSeconds = 0.1;

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Resumes WAL replay on a standby when destroyed, pass or fail.
class PausedReplay {
 public:
  explicit PausedReplay(std::string standby) : standby_(std::move(standby)) {
    auto paused = Stack::Get().AdminQuery(standby_, "SELECT pg_wal_replay_pause()");
    ok_ = static_cast<bool>(paused);
    if (!paused) error_ = paused.error().message;
  }
  ~PausedReplay() { Resume(); }
  PausedReplay(const PausedReplay&) = delete;
  PausedReplay& operator=(const PausedReplay&) = delete;
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  void Resume() {
    if (!ok_) return;
    auto resumed = Stack::Get().AdminQuery(standby_, "SELECT pg_wal_replay_resume()");
    EXPECT_TRUE(resumed) << "could not resume replay on " << standby_ << ": "
                         << resumed.error().message;
    ok_ = false;
  }

 private:
  std::string standby_;
  bool ok_ = false;
  std::string error_;
};

class PgHeartbeatIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
    ASSERT_NE(config_->FindCluster(kCluster), nullptr);
  }

  std::unique_ptr<Probe> HeartbeatProbe(double max_lag_seconds) {
    ProbeSettings settings;
    settings.kind = "pg_heartbeat";
    settings.target = kCluster;
    settings.interval = kTimeout;
    settings.timeout = kTimeout;
    const std::string params = std::string("{ writer: ") + kWriter +
                               ", expect: { max_lag_seconds: " + std::to_string(max_lag_seconds) +
                               " } }";
    settings.params = std::make_shared<YamlMap>(YAML::Load(params), "test.pg_heartbeat",
                                                std::make_shared<const std::string>("test.yaml"));
    auto probe = CreatePgHeartbeatProbe(settings, *config_);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  static Labels StandbyLabels(const std::string& standby) {
    return {{"target", kCluster}, {"standby", standby}};
  }

  double Lag(const ProbeResult& result, const std::string& standby) {
    return FindSample(result, kPgHeartbeatLag, StandbyLabels(standby)).value_or(-1);
  }

  std::shared_ptr<const Config> config_;
  testing::StoppedComponents stopped_;  // restarted in teardown, pass or fail
};

// Pins the healthy baseline: every standby sees each heartbeat within the run, the write time
// travels unchanged, the table keeps one row per writer, and every expectation passes.
TEST_F(PgHeartbeatIntegrationTest, HealthyClusterLagBelowOneSecond) {
  auto probe = HeartbeatProbe(kLagLimit);
  ASSERT_NE(probe, nullptr);
  std::vector<double> runs_ms;
  double previous_write = 0;
  for (int i = 0; i < 7; ++i) {
    const double wall_before = WallNow();
    auto run = RunProbeOnce(*probe, kTimeout);
    const double wall_after = WallNow();
    ASSERT_TRUE(run.result.success) << run.result.error->message;
    runs_ms.push_back(run.seconds * 1000);
    const auto& result = run.result;
    auto written = FindSample(result, kPgHeartbeatWriteTimestamp, {{"target", kCluster}});
    ASSERT_TRUE(written);
    EXPECT_GT(*written, previous_write);
    // A Unix time, written during the run (the primary shares this host's clock; 1 ms for the
    // microsecond rounding).
    EXPECT_GE(*written, wall_before - 1e-3);
    EXPECT_LE(*written, wall_after + 1e-3);
    previous_write = *written;
    for (const auto& standby : kStandbys) {
      EXPECT_EQ(FindSample(result, kPgHeartbeatStandbyUp, StandbyLabels(standby)), 1) << standby;
      EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(standby)), 1) << standby;
      const double lag = Lag(result, standby);
      EXPECT_GE(lag, 0) << standby;
      EXPECT_LE(lag, run.seconds) << standby;  // seen within the run
      EXPECT_EQ(FindSample(result, kPgHeartbeatLastSeenWriteTimestamp, StandbyLabels(standby)),
                *written)
          << standby;
      const auto* check = FindExpectation(result, "max_heartbeat_lag_seconds", standby);
      ASSERT_NE(check, nullptr) << standby;
      EXPECT_TRUE(check->pass) << standby << ": observed " << check->observed_text;
    }
    if (i == 6) {
      std::printf("[ measure  ] pg_heartbeat lag: %s %.2f ms, %s %.2f ms\n", kStandbys[0].c_str(),
                  Lag(result, kStandbys[0]) * 1000, kStandbys[1].c_str(),
                  Lag(result, kStandbys[1]) * 1000);
    }
  }
  std::printf("[ measure  ] pg_heartbeat run: median %.2f ms, max %.2f ms over %zu runs\n",
              testing::Median(runs_ms), *std::max_element(runs_ms.begin(), runs_ms.end()),
              runs_ms.size());
  auto rows = Stack::Get().AdminQuery(
      kPrimary,
      std::string("SELECT count(*) AS n FROM dbcanary.heartbeat WHERE writer = '") + kWriter + "'");
  ASSERT_TRUE(rows) << rows.error().message;
  EXPECT_EQ(rows->Number(0, "n")->value_or(-1), 1);
}

// Pins detection of a standby that stopped replaying: its lag grows in real time (by at least a
// whole run, which waits for it until its read margin) while the other standby still sees every
// heartbeat, and comes back once replay resumes.
TEST_F(PgHeartbeatIntegrationTest, PausedReplayLagGrowsThenRecovers) {
  auto probe = HeartbeatProbe(kLagLimit);
  ASSERT_NE(probe, nullptr);
  const std::string paused_name = kStandbys[1];
  const std::string healthy_name = kStandbys[0];
  ASSERT_TRUE(RunProbeOnce(*probe, kTimeout).result.success);  // a fresh heartbeat everywhere

  PausedReplay paused(paused_name);
  ASSERT_TRUE(paused.ok()) << paused.error();
  double previous_lag = 0;
  double first_run_seconds = 0;
  ProbeResult result;
  for (int run = 1; run <= 2; ++run) {
    auto timed = RunProbeOnce(*probe, kTimeout);
    result = std::move(timed.result);
    ASSERT_TRUE(result.success) << result.error->message;  // a lagging standby is no failure
    // Waited for the paused standby until the read margin before the deadline, and returned by
    // the deadline (room for a loaded host; a paused standby would otherwise be read forever).
    const double budget = kTimeout.count() / 1000.0;
    EXPECT_GE(timed.seconds, budget - kReadMarginSeconds - testing::kClockEpsilonSeconds);
    EXPECT_LE(timed.seconds, budget + testing::kDeadlineSlackSeconds);
    if (run == 1) first_run_seconds = timed.seconds;
    EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(paused_name)), 0) << run;
    EXPECT_EQ(FindSample(result, kPgHeartbeatStandbyUp, StandbyLabels(paused_name)), 1) << run;
    const double lag = Lag(result, paused_name);
    EXPECT_GT(lag, previous_lag) << "run " << run;
    previous_lag = lag;
    EXPECT_LE(Lag(result, healthy_name), timed.seconds) << "run " << run;
    EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(healthy_name)), 1);
    const auto* check = FindExpectation(result, "max_heartbeat_lag_seconds", paused_name);
    ASSERT_NE(check, nullptr);
    EXPECT_FALSE(check->pass);
    EXPECT_TRUE(std::isnan(check->observed));
    EXPECT_TRUE(FindExpectation(result, "max_heartbeat_lag_seconds", healthy_name)->pass);
  }
  std::printf("[ measure  ] pg_heartbeat lag of the paused standby after 2 runs: %.2f s\n",
              previous_lag);
  // The paused standby still shows the heartbeat written before the pause, older than the
  // primary's newest by more than the whole first run (measured, not assumed: it waited for the
  // paused standby until its read margin, above); 10 ms for the two clocks' rounding.
  const double last_seen =
      FindSample(result, kPgHeartbeatLastSeenWriteTimestamp, StandbyLabels(paused_name)).value();
  const double newest =
      FindSample(result, kPgHeartbeatWriteTimestamp, {{"target", kCluster}}).value();
  EXPECT_GT(newest - last_seen, first_run_seconds - 0.01);
  // The lag counts that real time: at least the age of the heartbeat it last saw.
  EXPECT_GE(previous_lag, newest - last_seen);

  paused.Resume();
  result = RunProbeOnce(*probe, kTimeout).result;
  ASSERT_TRUE(result.success) << result.error->message;
  for (const auto& standby : kStandbys) {
    EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(standby)), 1) << standby;
    EXPECT_LT(Lag(result, standby), kLagLimit) << standby;
    EXPECT_TRUE(FindExpectation(result, "max_heartbeat_lag_seconds", standby)->pass) << standby;
  }
}

// Pins the first run on a fresh table: a standby that has not replayed the CREATE TABLE yet
// answers 42P01 (undefined_table, read from the error's SQLSTATE, not its text), which is lag
// (up 1, not visible), not a down standby; once replay resumes it sees the heartbeat.
TEST_F(PgHeartbeatIntegrationTest, TableNotReplayedYetIsLagNotDown) {
  const std::string table = "it_fresh_" + std::to_string(::getpid());
  const std::string drop = "DROP TABLE IF EXISTS dbcanary." + table;
  ASSERT_TRUE(Stack::Get().AdminQuery(kPrimary, drop));
  ProbeSettings settings;
  settings.kind = "pg_heartbeat";
  settings.target = kCluster;
  settings.interval = kTimeout;
  settings.timeout = kTimeout;
  settings.params = std::make_shared<YamlMap>(
      YAML::Load(std::string("{ writer: ") + kWriter + ", table: " + table + " }"),
      "test.pg_heartbeat", std::make_shared<const std::string>("test.yaml"));
  auto probe = CreatePgHeartbeatProbe(settings, *config_);
  ASSERT_TRUE(probe) << probe.error().message;
  const std::string paused_name = kStandbys[1];
  {
    PausedReplay paused(paused_name);
    ASSERT_TRUE(paused.ok()) << paused.error();
    auto result = RunProbeOnce(**probe, kTimeout).result;
    ASSERT_TRUE(result.success) << result.error->message;
    EXPECT_EQ(FindSample(result, kPgHeartbeatStandbyUp, StandbyLabels(paused_name)), 1);
    EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(paused_name)), 0);
    EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(kStandbys[0])), 1);
  }
  auto result = RunProbeOnce(**probe, kTimeout).result;
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(paused_name)), 1);
  EXPECT_TRUE(Stack::Get().AdminQuery(kPrimary, drop));
}

// Pins that an unreachable standby is reported (standby_up 0, failed expectation) without failing
// the run or hiding the other standby's measurement.
TEST_F(PgHeartbeatIntegrationTest, StoppedStandbyIsDownButRunSucceeds) {
  auto probe = HeartbeatProbe(kLagLimit);
  ASSERT_NE(probe, nullptr);
  auto stopped = stopped_.Stop(kStandbys[1]);
  ASSERT_TRUE(stopped) << stopped.error().message;
  auto run = RunProbeOnce(*probe, kTimeout);
  const auto& result = run.result;
  ASSERT_TRUE(result.success) << result.error->message;
  // Refused at once, and the other standby sees the heartbeat: the run does not wait for the
  // stopped standby until its read margin (4.9 s); half the budget leaves a loaded host room.
  EXPECT_LT(run.seconds, kTimeout.count() / 1000.0 / 2);
  EXPECT_EQ(FindSample(result, kPgHeartbeatStandbyUp, StandbyLabels(kStandbys[1])), 0);
  EXPECT_EQ(FindSample(result, kPgHeartbeatVisible, StandbyLabels(kStandbys[1])), 0);
  EXPECT_FALSE(FindSample(result, kPgHeartbeatLag, StandbyLabels(kStandbys[1])));
  const auto* check = FindExpectation(result, "max_heartbeat_lag_seconds", kStandbys[1]);
  ASSERT_NE(check, nullptr);
  EXPECT_FALSE(check->pass);
  EXPECT_EQ(FindSample(result, kPgHeartbeatStandbyUp, StandbyLabels(kStandbys[0])), 1);
  EXPECT_LE(Lag(result, kStandbys[0]), run.seconds);  // seen within the run
}

// Pins the log volume of a standby that stays down: one warning naming it when it goes down,
// none on the runs after (its metrics say it every run), one line when it is readable again.
TEST_F(PgHeartbeatIntegrationTest, AStandbyThatStaysDownIsLoggedOnceAndItsReturnOnce) {
  auto probe = HeartbeatProbe(kLagLimit);
  ASSERT_NE(probe, nullptr);
  std::ostringstream log_text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text);
  sink->set_pattern("%l %v");
  spdlog::logger logger("pg_heartbeat-test", sink);
  auto run = [&] {
    ProbeContext context{Deadline::In(kTimeout), {}, logger};
    auto result = probe->Run(context);
    ASSERT_TRUE(result.success) << result.error->message;
  };
  auto count = [&](const std::string& needle) {
    const std::string text = log_text.str();
    size_t found = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++found;
    }
    return found;
  };
  const std::string standby = "standby " + kStandbys[1] + ": ";
  run();
  EXPECT_EQ(count(standby), 0u) << log_text.str();
  auto stopped = stopped_.Stop(kStandbys[1]);
  ASSERT_TRUE(stopped) << stopped.error().message;
  for (int i = 0; i < 3; ++i) run();
  EXPECT_EQ(count("warning pg_heartbeat " + std::string(kCluster) + ": " + standby), 1u)
      << log_text.str();
  auto started = stopped_.Start(kStandbys[1]);
  ASSERT_TRUE(started) << started.error().message;
  run();
  run();
  EXPECT_EQ(count(standby + "readable again"), 1u) << log_text.str();
  EXPECT_EQ(count(standby), 2u) << log_text.str();
}

}  // namespace
}  // namespace dbcanary
