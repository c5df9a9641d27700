#include "probes/postgres/pg_replication_probe.h"

#include <gtest/gtest.h>

#include "config/config.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

std::shared_ptr<const Config> Load(const std::string& probe_line) {
  auto config = ParseConfig(R"(
postgres:
  clusters:
    - name: pg
      defaults: { user: dbcanary }
      primary: { name: pg-1, host: 127.0.0.1 }
      standbys:
        - { name: pg-2, host: 127.0.0.1 }
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
  return registry.Create(config.postgres_clusters.at(0).probes.at(0), config);
}

TEST(PgReplicationProbeTest, FactoryAcceptsIntervalAndTimeoutOnly) {
  auto config = Load("        pg_replication: { interval: 10s, timeout: 2s }");
  auto probe = Create(*config);
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), 10u);  // 4 role families, 6 replication
}

TEST(PgReplicationProbeTest, FactoryRejectsUnknownParamWithKeyPath) {
  auto config = Load("        pg_replication: { interval: 10s, max_lag: 5 }");
  auto probe = Create(*config);
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("postgres.clusters[0].probes.pg_replication.max_lag"),
            std::string::npos)
      << probe.error().message;
}

TEST(PgReplicationProbeTest, FactoryRejectsUnknownTarget) {
  auto config = Load("        pg_replication: {}");
  ProbeSettings settings = config->postgres_clusters.at(0).probes.at(0);
  settings.target = "nope";
  auto probe = CreatePgReplicationProbe(settings, *config);
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("\"nope\""), std::string::npos);
}

}  // namespace
}  // namespace dbcanary
