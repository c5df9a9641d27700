// pg_archiver against the local stack's real PostgreSQL primary and its WAL archive.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "probes/postgres/pg_archiver_probe.h"
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
// Writes a WAL record and closes the segment, so the archiver has a file to archive.
constexpr char kSwitchWal[] =
    "SELECT pg_logical_emit_message(false, 'dbcanary-test', 'x'); SELECT pg_switch_wal()";

std::shared_ptr<const Config> StackConfigWith(const std::string& params) {
  YAML::Node root = YAML::LoadFile(Stack::Get().ConfigPath());
  for (YAML::Node cluster : root["postgres"]["clusters"]) {
    if (cluster["name"].as<std::string>() == kCluster)
      cluster["probes"]["pg_archiver"] = YAML::Load(params);
  }
  auto config = ParseConfig(YAML::Dump(root), Stack::Get().ConfigPath());
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return nullptr;
  }
  return *config;
}

std::string ShowArchiveCommand() {
  auto shown = Stack::Get().AdminQuery(kPrimary, "SHOW archive_command");
  if (!shown) return "error: " + shown.error().message;
  return shown->Text(0, "archive_command")->value_or("");
}

// Breaks archive_command with ALTER SYSTEM for one test and restores it, pass or fail: the
// setting is reset, the configuration reloaded and the segments that failed archived again,
// so the shared stack leaves this test healthy.
class BrokenArchiveCommand {
 public:
  BrokenArchiveCommand() : original_(ShowArchiveCommand()) {
    // ALTER SYSTEM cannot run in a multi-statement (implicit transaction) query.
    ok_ = static_cast<bool>(
              Stack::Get().AdminQuery(kPrimary, "ALTER SYSTEM SET archive_command = 'false'")) &&
          static_cast<bool>(Stack::Get().AdminQuery(kPrimary, "SELECT pg_reload_conf()"));
  }
  ~BrokenArchiveCommand() {
    auto reset = Stack::Get().AdminQuery(kPrimary, "ALTER SYSTEM RESET archive_command");
    EXPECT_TRUE(reset) << reset.error().message;
    EXPECT_TRUE(Stack::Get().AdminQuery(kPrimary, "SELECT pg_reload_conf()"));
    // Reload is asynchronous: wait until the original is back, then wake the archiver. (These
    // waits end as soon as their condition holds; the limits only leave a loaded host room.)
    for (int i = 0; i < 300 && ShowArchiveCommand() != original_; ++i) {
      std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_EQ(ShowArchiveCommand(), original_);
    for (int i = 0; i < 600; ++i) {
      auto state = Stack::Get().AdminQuery(
          kPrimary,
          "SELECT coalesce(last_archived_time >= last_failed_time, false) AS ok FROM "
          "pg_stat_archiver");
      if (state && state->Bool(0, "ok")->value_or(false)) return;
      if (i % 10 == 0) (void)Stack::Get().AdminQuery(kPrimary, kSwitchWal);
      std::this_thread::sleep_for(milliseconds(100));
    }
    ADD_FAILURE() << "archiving did not recover after restoring archive_command";
  }
  BrokenArchiveCommand(const BrokenArchiveCommand&) = delete;
  BrokenArchiveCommand& operator=(const BrokenArchiveCommand&) = delete;
  bool ok() const { return ok_; }
  const std::string& original() const { return original_; }

 private:
  std::string original_;
  bool ok_ = false;
};

class PgArchiverIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    config_ = StackConfigWith("{}");
    ASSERT_NE(config_, nullptr);
    auto probe = testing::MakeProbe(*config_, "pg_archiver", kCluster);
    ASSERT_TRUE(probe) << probe.error().message;
    probe_ = std::move(*probe);
  }

  double Value(const ProbeResult& result, std::string_view name) {
    return FindSample(result, name, {{"target", kCluster}}).value_or(-1);
  }

  std::shared_ptr<const Config> config_;
  std::unique_ptr<Probe> probe_;
};

// Pins the healthy baseline: a switched segment shows up in archived_total and the archiver is
// enabled and healthy.
TEST_F(PgArchiverIntegrationTest, ArchivedSegmentCountsAndIsHealthy) {
  auto before = RunProbeOnce(*probe_, milliseconds(3000)).result;
  ASSERT_TRUE(before.success) << before.error->message;
  ASSERT_TRUE(Stack::Get().AdminQuery(kPrimary, kSwitchWal));
  ProbeResult result;
  std::vector<double> runs_ms;
  for (int i = 0; i < 600; ++i) {  // ends as soon as the switched segment is archived
    auto run = RunProbeOnce(*probe_, milliseconds(3000));
    ASSERT_TRUE(run.result.success) << run.result.error->message;
    runs_ms.push_back(run.seconds * 1000);
    result = std::move(run.result);
    if (Value(result, kPgArchiverArchived) > Value(before, kPgArchiverArchived)) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::printf(
      "[ measure  ] pg_archiver run: median %.2f ms over %zu runs (1 TLS connect + 1 "
      "query each)\n",
      testing::Median(runs_ms), runs_ms.size());
  EXPECT_GT(Value(result, kPgArchiverArchived), Value(before, kPgArchiverArchived));
  EXPECT_EQ(Value(result, kPgArchiverEnabled), 1);
  auto truth = Stack::Get().AdminQuery(
      kPrimary, "SELECT extract(epoch FROM last_archived_time) AS t FROM pg_stat_archiver");
  ASSERT_TRUE(truth);
  EXPECT_NEAR(Value(result, kPgArchiverLastArchived), truth->Number(0, "t")->value_or(0), 0.001);
  const auto* healthy = FindExpectation(result, "archiving_healthy", kCluster);
  ASSERT_NE(healthy, nullptr);
  EXPECT_TRUE(healthy->pass) << healthy->observed_text;
}

// Pins failure detection: with archive_command = 'false' failed_total rises and
// archiving_healthy fails; the original command is restored afterwards.
TEST_F(PgArchiverIntegrationTest, FailingArchiveCommandFailsHealthy) {
  auto before = RunProbeOnce(*probe_, milliseconds(3000)).result;
  ASSERT_TRUE(before.success) << before.error->message;
  {
    BrokenArchiveCommand broken;
    ASSERT_TRUE(broken.ok());
    ASSERT_FALSE(broken.original().empty());
    for (int i = 0; i < 300 && ShowArchiveCommand() != "false"; ++i) {  // ends once reloaded
      std::this_thread::sleep_for(milliseconds(100));
    }
    ASSERT_EQ(ShowArchiveCommand(), "false");
    ASSERT_TRUE(Stack::Get().AdminQuery(kPrimary, kSwitchWal));
    ProbeResult result;
    for (int i = 0; i < 600; ++i) {  // ends as soon as the failure is counted
      result = RunProbeOnce(*probe_, milliseconds(3000)).result;
      ASSERT_TRUE(result.success) << result.error->message;
      if (Value(result, kPgArchiverFailed) > Value(before, kPgArchiverFailed)) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_GT(Value(result, kPgArchiverFailed), Value(before, kPgArchiverFailed));
    EXPECT_GT(Value(result, kPgArchiverLastFailed), Value(result, kPgArchiverLastArchived));
    EXPECT_EQ(Value(result, kPgArchiverEnabled), 1);  // 'false' is still a command
    const auto* healthy = FindExpectation(result, "archiving_healthy", kCluster);
    ASSERT_NE(healthy, nullptr);
    EXPECT_FALSE(healthy->pass);
  }
  // Restored: the next run is healthy again.
  auto after = RunProbeOnce(*probe_, milliseconds(3000)).result;
  ASSERT_TRUE(after.success);
  const auto* healthy = FindExpectation(after, "archiving_healthy", kCluster);
  ASSERT_NE(healthy, nullptr);
  EXPECT_TRUE(healthy->pass) << healthy->observed_text;
}

}  // namespace
}  // namespace dbcanary
