// pg_sync_commit against the local stack's real PostgreSQL primary + 2 synchronous standbys
// (synchronous_standby_names = 'ANY 1 (...)').

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/yaml_reader.h"
#include "probes/postgres/pg_sync_commit_probe.h"
#include "probes/postgres/pg_sync_commit_rows.h"
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
const std::vector<std::string> kStandbys = {"shared-postgres-2", "shared-postgres-3"};

// Backends of the monitoring role that sit in a transaction or wait for a synchronous standby.
constexpr char kLeftoversSql[] =
    "SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'dbcanary' AND pid <> "
    "pg_backend_pid() AND (state LIKE 'idle in transaction%' OR wait_event = 'SyncRep')";
constexpr char kSyncRepWaitersSql[] =
    "SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'dbcanary' AND "
    "wait_event = 'SyncRep'";

class PgSyncCommitIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
    ASSERT_NE(config_->FindCluster(kCluster), nullptr);
  }

  std::unique_ptr<Probe> SyncCommitProbe(const std::string& level = "on") {
    ProbeSettings settings;
    settings.kind = "pg_sync_commit";
    settings.target = kCluster;
    settings.interval = milliseconds(5000);
    settings.timeout = milliseconds(3000);
    settings.params = std::make_shared<YamlMap>(
        YAML::Load("{ writer: it-sync-commit, level: " + level + " }"), "test.pg_sync_commit",
        std::make_shared<const std::string>("test.yaml"));
    auto probe = CreatePgSyncCommitProbe(settings, *config_);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  static double Count(const std::string& sql) {
    auto rows = Stack::Get().AdminQuery(kPrimary, sql);
    EXPECT_TRUE(rows) << rows.error().message;
    if (!rows) return -1;
    return rows->Number(0, "n")->value_or(-1);
  }

  std::shared_ptr<const Config> config_;
  testing::StoppedComponents stopped_;  // restarted in teardown, pass or fail
};

// Pins the healthy baseline: a synchronous commit (on, and remote_apply) is acknowledged within
// the run and the sync_commit expectation passes (how quickly is the host's business).
TEST_F(PgSyncCommitIntegrationTest, HealthyClusterAcknowledgesQuickly) {
  for (const std::string level : {"on", "remote_apply"}) {
    auto probe = SyncCommitProbe(level);
    ASSERT_NE(probe, nullptr);
    std::vector<double> runs_ms;
    std::vector<double> commit_ms;
    for (int i = 0; i < 7; ++i) {
      auto run = RunProbeOnce(*probe, milliseconds(3000));
      ASSERT_TRUE(run.result.success) << run.result.error->message;
      runs_ms.push_back(run.seconds * 1000);
      EXPECT_EQ(FindSample(run.result, kPgSyncCommitSuccess, {{"target", kCluster}}), 1);
      auto duration = FindSample(run.result, kPgSyncCommitDuration, {{"target", kCluster}});
      ASSERT_TRUE(duration);
      EXPECT_GT(*duration, 0);
      EXPECT_LE(*duration, run.seconds);  // in seconds, and timed inside the run
      commit_ms.push_back(*duration * 1000);
      const auto* check = FindExpectation(run.result, "sync_commit", kCluster);
      ASSERT_NE(check, nullptr);
      EXPECT_TRUE(check->pass) << check->observed_text;
    }
    std::printf("[ measure  ] pg_sync_commit level=%s: run median %.2f ms, commit median %.2f ms\n",
                level.c_str(), testing::Median(runs_ms), testing::Median(commit_ms));
  }
}

// Pins the no-synchronous-standby case: the commit waits, the run fails with kTimeout at its
// deadline, the waiting backend is cancelled and gone (nothing idle in transaction or waiting
// on SyncRep), and commits are acknowledged again once the standbys are back.
TEST_F(PgSyncCommitIntegrationTest, NoSyncStandbyFailsAtDeadlineAndLeavesNothingBehind) {
  auto probe = SyncCommitProbe();
  ASSERT_NE(probe, nullptr);
  ASSERT_TRUE(RunProbeOnce(*probe, milliseconds(3000)).result.success);
  for (const auto& standby : kStandbys) {
    auto stopped = stopped_.Stop(standby);
    ASSERT_TRUE(stopped) << stopped.error().message;
  }
  // 4 s: ample for the probe to connect and reach the commit on a loaded host, where it waits.
  constexpr milliseconds kDeadline{4000};
  testing::TimedRun run;
  std::atomic<bool> run_done{false};
  std::thread runner([&] {
    run = RunProbeOnce(*probe, kDeadline);
    run_done = true;
  });
  // The probe's backend, mid-wait: looked for while the run lasts, not at a fixed moment.
  double waiting = 0;
  while (!run_done && waiting != 1) {
    waiting = Count(kSyncRepWaitersSql);
    if (waiting != 1) std::this_thread::sleep_for(milliseconds(20));
  }
  runner.join();
  EXPECT_EQ(waiting, 1);

  ASSERT_FALSE(run.result.success);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(run.result.error->code, ErrorCode::kTimeout) << run.result.error->message;
  // At the deadline: not before it. Nor much after, yet clearly before the server-side
  // statement_timeout a lost client deadline would fall back to, 1 s after it (and which would
  // end the wait with the commit acknowledged, failing the checks above too): half of that
  // second is the room left for a loaded host.
  EXPECT_GE(run.seconds, kDeadline.count() / 1000.0 - testing::kClockEpsilonSeconds);
  EXPECT_LE(run.seconds, kDeadline.count() / 1000.0 + 0.5);
  std::printf(
      "[ measure  ] pg_sync_commit without a synchronous standby: failed after %.3f s "
      "(deadline %.3f s)\n",
      run.seconds, kDeadline.count() / 1000.0);
  EXPECT_EQ(FindSample(run.result, kPgSyncCommitSuccess, {{"target", kCluster}}), 0);
  EXPECT_FALSE(FindSample(run.result, kPgSyncCommitDuration, {{"target", kCluster}}));
  const auto* check = FindExpectation(run.result, "sync_commit", kCluster);
  ASSERT_NE(check, nullptr);
  EXPECT_FALSE(check->pass);
  EXPECT_EQ(check->observed_text, "timeout");

  double leftovers = -1;
  for (int i = 0; i < 600 && leftovers != 0; ++i) {  // ends as soon as nothing is left
    if (i > 0) std::this_thread::sleep_for(milliseconds(50));
    leftovers = Count(kLeftoversSql);
  }
  EXPECT_EQ(leftovers, 0) << "a dbcanary backend is still waiting or idle in transaction";

  stopped_.RestoreAll();
  bool acknowledged = false;
  for (int i = 0; i < 60 && !acknowledged; ++i) {  // ends at the first acknowledged commit
    if (i > 0) std::this_thread::sleep_for(milliseconds(500));
    acknowledged = RunProbeOnce(*probe, milliseconds(3000)).result.success;
  }
  EXPECT_TRUE(acknowledged) << "sync commit not acknowledged after the standbys came back";
}

}  // namespace
}  // namespace dbcanary
