#include "probes/pooler/pooler_roundtrip_probe.h"

#include <gtest/gtest.h>

#include "config/config.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

std::shared_ptr<const Config> Load(const std::string& probe_line, const std::string& type = "rw") {
  auto config = ParseConfig(R"(
poolers:
  - name: gitlab-pooler-rw
    type: )" + type + R"(
    connection: { host: 127.0.0.1, port: 6432, dbname: gitlab, user: gitlab }
    probes:
)" + probe_line + "\n",
                            "test.yaml");
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return std::make_shared<const Config>();
  }
  return *config;
}

Result<std::unique_ptr<Probe>> Create(const Config& config) {
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  return registry.Create(config.poolers.at(0).probes.at(0), config);
}

TEST(PoolerRoundtripProbeTest, FactoryAcceptsIntervalAndTimeoutOnly) {
  auto config = Load("      pooler_roundtrip: { interval: 10s, timeout: 3s }");
  auto probe = Create(*config);
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), 5u);
}

TEST(PoolerRoundtripProbeTest, FactoryAcceptsWriteAndTable) {
  auto config = Load("      pooler_roundtrip: { write: false, table: canary.pooler_probe }");
  auto probe = Create(*config);
  ASSERT_TRUE(probe) << probe.error().message;
}

TEST(PoolerRoundtripProbeTest, FactoryRejectsUnknownParamWithKeyPath) {
  auto config = Load("      pooler_roundtrip: { query: SELECT 2 }");
  auto probe = Create(*config);
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("poolers[0].probes.pooler_roundtrip.query"),
            std::string::npos)
      << probe.error().message;
}

TEST(PoolerRoundtripProbeTest, FactoryRejectsWritesOnReadOnlyPooler) {
  auto config = Load("      pooler_roundtrip: { write: true }", "ro");
  auto probe = Create(*config);
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().message.find("pooler_roundtrip.write"), std::string::npos)
      << probe.error().message;
}

TEST(PoolerRoundtripProbeTest, FactoryRejectsInjectableTableName) {
  auto config = Load("      pooler_roundtrip: { table: \"t; DROP TABLE x\" }");
  auto probe = Create(*config);
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().message.find("pooler_roundtrip.table"), std::string::npos)
      << probe.error().message;
}

TEST(PoolerRoundtripProbeTest, TableNames) {
  EXPECT_TRUE(IsValidProbeTableName("dbcanary_pooler_probe"));
  EXPECT_TRUE(IsValidProbeTableName("canary.t1"));
  EXPECT_FALSE(IsValidProbeTableName(""));
  EXPECT_FALSE(IsValidProbeTableName("Upper"));
  EXPECT_FALSE(IsValidProbeTableName("a.b.c"));
  EXPECT_FALSE(IsValidProbeTableName("1abc"));
  EXPECT_FALSE(IsValidProbeTableName("a'b"));
}

TEST(PoolerRoundtripProbeTest, PhasesDependOnPoolerType) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(PoolerRoundtripPhases(PoolerType::kReadWrite, true), (V{"connect", "read", "write"}));
  EXPECT_EQ(PoolerRoundtripPhases(PoolerType::kReadWrite, false), (V{"connect", "read"}));
  EXPECT_EQ(PoolerRoundtripPhases(PoolerType::kReadOnly, false),
            (V{"connect", "read", "readonly_check"}));
}

double Value(const ProbeResult& result, std::string_view name, const std::string& phase) {
  for (const auto& s : result.samples) {
    Labels want = {{"target", "gitlab-pooler-rw"}, {"phase", phase}};
    if (s.name == name && s.labels == want) return s.value;
  }
  return -1;
}

// A failed connect must still export the later phases (0, 0) so series never vanish.
TEST(PoolerRoundtripProbeTest, PhasesNotReachedReportZero) {
  std::vector<PhaseOutcome> outcomes = {{"connect", true, false, 2.5}, {"read"}, {"write"}};
  ProbeResult result;
  AppendPhaseSamples("gitlab-pooler-rw", outcomes, result);
  ASSERT_EQ(result.samples.size(), 6u);
  EXPECT_EQ(Value(result, kPoolerPhaseSeconds, "connect"), 2.5);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "connect"), 0);
  EXPECT_EQ(Value(result, kPoolerPhaseSeconds, "read"), 0);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "write"), 0);
}

TEST(PoolerRoundtripProbeTest, SuccessfulPhasesReportTheirTime) {
  std::vector<PhaseOutcome> outcomes = {{"connect", true, true, 0.004},
                                        {"read", true, true, 0.0005}};
  ProbeResult result;
  AppendPhaseSamples("gitlab-pooler-rw", outcomes, result);
  EXPECT_EQ(Value(result, kPoolerPhaseSeconds, "read"), 0.0005);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "read"), 1);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "connect"), 1);
}

// The info sample carries the configured cluster and type: pooler alerts route on it.
TEST(PoolerRoundtripProbeTest, InfoNamesClusterAndType) {
  ProbeResult result;
  AppendPoolerInfo("gitlab-pooler-ro", "shared-postgres", PoolerType::kReadOnly, result);
  ASSERT_EQ(result.samples.size(), 1u);
  EXPECT_EQ(result.samples[0].name, kPoolerInfo);
  EXPECT_EQ(result.samples[0].value, 1);
  Labels expected = {
      {"target", "gitlab-pooler-ro"}, {"postgres_cluster", "shared-postgres"}, {"type", "ro"}};
  EXPECT_EQ(result.samples[0].labels, expected);
}

}  // namespace
}  // namespace dbcanary
