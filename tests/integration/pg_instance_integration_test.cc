// pg_instance against the local stack's real PostgreSQL primary + 2 standbys.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>

#include "probes/postgres/pg_instance_probe.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
const std::vector<std::string> kInstances = {"shared-postgres-1", "shared-postgres-2",
                                             "shared-postgres-3"};

// The stack's config with `probes: { pg_instance: PARAMS }` on the cluster.
std::shared_ptr<const Config> StackConfigWith(const std::string& params) {
  YAML::Node root = YAML::LoadFile(Stack::Get().ConfigPath());
  for (YAML::Node cluster : root["postgres"]["clusters"]) {
    if (cluster["name"].as<std::string>() == kCluster)
      cluster["probes"]["pg_instance"] = YAML::Load(params);
  }
  auto config = ParseConfig(YAML::Dump(root), Stack::Get().ConfigPath());
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return nullptr;
  }
  return *config;
}

// The info sample of `server`, or nullptr.
const Sample* Info(const ProbeResult& result, const std::string& server) {
  for (const auto& sample : result.samples) {
    if (sample.name != kPgServerInfo) continue;
    for (const auto& [name, value] : sample.labels) {
      if (name == "server" && value == server) return &sample;
    }
  }
  return nullptr;
}

std::string Label(const Sample& sample, const std::string& name) {
  for (const auto& [key, value] : sample.labels) {
    if (key == name) return value;
  }
  return "";
}

class PgInstanceIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    config_ = StackConfigWith("{expect: {primaries: 1}}");
    ASSERT_NE(config_, nullptr);
    auto probe = testing::MakeProbe(*config_, "pg_instance", kCluster);
    ASSERT_TRUE(probe) << probe.error().message;
    probe_ = std::move(*probe);
  }

  std::shared_ptr<const Config> config_;
  std::unique_ptr<Probe> probe_;
  testing::StoppedComponents stopped_;  // restarted in teardown, pass or fail
};

// Pins the facts against what the servers say: one system id, one primary, version 15.
TEST_F(PgInstanceIntegrationTest, AllInstancesShareSystemIdAndOneIsPrimary) {
  std::vector<double> runs_ms;
  ProbeResult result;
  for (int i = 0; i < 5; ++i) {
    auto run = RunProbeOnce(*probe_, milliseconds(3000));
    ASSERT_TRUE(run.result.success) << run.result.error->message;
    runs_ms.push_back(run.seconds * 1000);
    result = std::move(run.result);
  }
  std::printf(
      "[ measure  ] pg_instance run: median %.2f ms, max %.2f ms over %zu runs "
      "(3 TLS connects + 3 queries each)\n",
      testing::Median(runs_ms), *std::max_element(runs_ms.begin(), runs_ms.end()), runs_ms.size());

  auto truth = Stack::Get().AdminQuery(
      "shared-postgres-1",
      "SELECT (SELECT system_identifier::text FROM pg_control_system()) AS id,"
      " (SELECT timeline_id FROM pg_control_checkpoint()) AS tli,"
      " extract(epoch FROM pg_postmaster_start_time()) AS started");
  ASSERT_TRUE(truth) << truth.error().message;
  const std::string system_id = truth->Text(0, "id")->value_or("?");
  for (const auto& server : kInstances) {
    Labels labels = {{"target", kCluster}, {"server", server}};
    EXPECT_EQ(FindSample(result, kPgServerUp, labels), 1) << server;
    EXPECT_EQ(FindSample(result, kPgInRecovery, labels), server == "shared-postgres-1" ? 0 : 1)
        << server;
    const Sample* info = Info(result, server);
    ASSERT_NE(info, nullptr) << server;
    EXPECT_EQ(Label(*info, "system_identifier"), system_id) << server;
    EXPECT_TRUE(Label(*info, "version").starts_with("15.")) << Label(*info, "version");
    auto version_num = FindSample(result, kPgServerVersionNum, labels);
    ASSERT_TRUE(version_num);
    EXPECT_GE(*version_num, 150000);
    EXPECT_LT(*version_num, 160000);
    EXPECT_EQ(FindSample(result, kPgTimelineId, labels), truth->Number(0, "tli")->value_or(-1))
        << server;
  }
  EXPECT_NEAR(*FindSample(result, kPgPostmasterStart,
                          {{"target", kCluster}, {"server", "shared-postgres-1"}}),
              truth->Number(0, "started")->value_or(0), 0.001);
  const auto* consistent = FindExpectation(result, "consistent_system_id", kCluster);
  ASSERT_NE(consistent, nullptr);
  EXPECT_TRUE(consistent->pass) << consistent->observed_text;
  const auto* primaries = FindExpectation(result, "primaries", kCluster);
  ASSERT_NE(primaries, nullptr);
  EXPECT_TRUE(primaries->pass) << primaries->observed_text;
  EXPECT_EQ(primaries->observed, 1);
}

// Pins that a stopped standby is reported as down (data), not as a failed run.
TEST_F(PgInstanceIntegrationTest, StoppedStandbyIsReportedDown) {
  auto stopped = stopped_.Stop("shared-postgres-3");
  ASSERT_TRUE(stopped) << stopped.error().message;
  auto run = RunProbeOnce(*probe_, milliseconds(3000));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  EXPECT_EQ(
      FindSample(run.result, kPgServerUp, {{"target", kCluster}, {"server", "shared-postgres-3"}}),
      0);
  EXPECT_EQ(
      FindSample(run.result, kPgServerUp, {{"target", kCluster}, {"server", "shared-postgres-2"}}),
      1);
  EXPECT_EQ(Info(run.result, "shared-postgres-3"), nullptr);
  const auto* consistent = FindExpectation(run.result, "consistent_system_id", kCluster);
  ASSERT_NE(consistent, nullptr);
  EXPECT_TRUE(consistent->pass);
}

}  // namespace
}  // namespace dbcanary
