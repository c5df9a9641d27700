#include "probes/pooler/pooler_roundtrip_probe.h"

#include <gtest/gtest.h>

#include "exporter/config/config.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

std::shared_ptr<const Config> Load(const std::string& probe_line) {
  auto config = ParseConfig(R"(
poolers:
  - name: gitlab-pooler-rw
    type: rw
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
  EXPECT_EQ((*probe)->Describe().size(), 2u);
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

TEST(PoolerRoundtripProbeTest, PhasesStartWithConnect) {
  const auto& phases = PoolerRoundtripPhases();
  ASSERT_GE(phases.size(), 2u);
  EXPECT_EQ(phases[0], "connect");
  EXPECT_EQ(phases[1], "query");
}

double Value(const ProbeResult& result, std::string_view name, const std::string& phase) {
  for (const auto& s : result.samples) {
    Labels want = {{"target", "gitlab-pooler-rw"}, {"phase", phase}};
    if (s.name == name && s.labels == want) return s.value;
  }
  return -1;
}

// A failed connect must still export the query phase (0, 0) so series never vanish.
TEST(PoolerRoundtripProbeTest, PhasesNotReachedReportZero) {
  std::vector<PhaseOutcome> outcomes = {{"connect", true, false, 2.5}, {"query"}};
  ProbeResult result;
  AppendPhaseSamples("gitlab-pooler-rw", outcomes, result);
  ASSERT_EQ(result.samples.size(), 4u);
  EXPECT_EQ(Value(result, kPoolerPhaseSeconds, "connect"), 2.5);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "connect"), 0);
  EXPECT_EQ(Value(result, kPoolerPhaseSeconds, "query"), 0);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "query"), 0);
}

TEST(PoolerRoundtripProbeTest, SuccessfulPhasesReportTheirTime) {
  std::vector<PhaseOutcome> outcomes = {{"connect", true, true, 0.004},
                                        {"query", true, true, 0.0005}};
  ProbeResult result;
  AppendPhaseSamples("gitlab-pooler-rw", outcomes, result);
  EXPECT_EQ(Value(result, kPoolerPhaseSeconds, "query"), 0.0005);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "query"), 1);
  EXPECT_EQ(Value(result, kPoolerPhaseSuccess, "connect"), 1);
}

}  // namespace
}  // namespace dbcanary
