#include "probes/postgres/pg_instance_probe.h"

#include <gtest/gtest.h>

#include "config/config.h"

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

TEST(PgInstanceProbeTest, FactoryAcceptsExpectPrimaries) {
  auto probe = Create(*Load("        pg_instance: { interval: 30s, expect: { primaries: 1 } }"));
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), 6u);
}

TEST(PgInstanceProbeTest, FactoryRejectsUnknownKeysWithPath) {
  auto probe = Create(*Load("        pg_instance: { expect: { primary: 1 } }"));
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("probes.pg_instance.expect.primary"), std::string::npos)
      << probe.error().message;
  probe = Create(*Load("        pg_instance: { servers: [a] }"));
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().message.find("pg_instance.servers"), std::string::npos);
}

TEST(PgInstanceProbeTest, ParsesRowAndKeepsVersionNumberOnly) {
  PgTable table(
      {"version", "version_num", "in_recovery", "start_time", "system_identifier", "timeline"},
      {{"15.18 (Debian 15.18-0+deb12u1)", "150018", "t", "1700000000.25", "7309945577772519437",
        std::nullopt}});
  InstanceFacts facts;
  ASSERT_TRUE(ParseInstanceRow(table, facts));
  EXPECT_EQ(facts.version, "15.18");
  EXPECT_EQ(facts.version_num, 150018);
  EXPECT_TRUE(facts.in_recovery);
  EXPECT_EQ(facts.start_time, 1700000000.25);
  EXPECT_EQ(facts.system_identifier, "7309945577772519437");
  EXPECT_TRUE(std::isnan(facts.timeline));
}

TEST(PgInstanceProbeTest, RejectsMissingColumnAndNulls) {
  InstanceFacts facts;
  PgTable missing({"version"}, {{"15.18"}});
  auto status = ParseInstanceRow(missing, facts);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kProtocol);
  PgTable nulls(
      {"version", "version_num", "in_recovery", "start_time", "system_identifier", "timeline"},
      {{"15.18", "150018", "f", "1", std::nullopt, "1"}});
  EXPECT_FALSE(ParseInstanceRow(nulls, facts));
  EXPECT_FALSE(ParseInstanceRow(PgTable({"version"}, {}), facts));
}

InstanceFacts Up(std::string server, std::string id, bool recovery) {
  InstanceFacts facts;
  facts.server = std::move(server);
  facts.up = true;
  facts.version = "15.18";
  facts.version_num = 150018;
  facts.system_identifier = std::move(id);
  facts.in_recovery = recovery;
  facts.timeline = 1;
  facts.start_time = 100;
  return facts;
}

const ExpectationResult* Find(const ProbeResult& result, const std::string& check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

TEST(PgInstanceProbeTest, ReportsConsistentIdAndPrimaries) {
  ProbeResult result;
  InstanceFacts down;
  down.server = "pg-3";
  ReportInstanceFacts("pg", {Up("pg-1", "42", false), Up("pg-2", "42", true), down}, 1, result);
  ASSERT_NE(Find(result, "consistent_system_id"), nullptr);
  EXPECT_TRUE(Find(result, "consistent_system_id")->pass);
  ASSERT_NE(Find(result, "primaries"), nullptr);
  EXPECT_TRUE(Find(result, "primaries")->pass);
  int up_samples = 0;
  int info_samples = 0;
  for (const auto& sample : result.samples) {
    if (sample.name == kPgServerUp) up_samples++;
    if (sample.name == kPgServerInfo) info_samples++;
    if (sample.name == kPgServerUp && sample.labels[1].second == "pg-3") {
      EXPECT_EQ(sample.value, 0);
    }
  }
  EXPECT_EQ(up_samples, 3);
  EXPECT_EQ(info_samples, 2);
}

TEST(PgInstanceProbeTest, DetectsForeignSystemIdAndSplitBrain) {
  ProbeResult result;
  ReportInstanceFacts("pg", {Up("pg-1", "42", false), Up("pg-2", "43", false)}, 1, result);
  EXPECT_FALSE(Find(result, "consistent_system_id")->pass);
  EXPECT_EQ(Find(result, "consistent_system_id")->observed, 2);
  EXPECT_FALSE(Find(result, "primaries")->pass);
  EXPECT_EQ(Find(result, "primaries")->observed, 2);
}

TEST(PgInstanceProbeTest, NothingUpFailsConsistencyAndOmitsPrimariesWhenUndeclared) {
  ProbeResult result;
  InstanceFacts down;
  down.server = "pg-1";
  ReportInstanceFacts("pg", {down}, std::nullopt, result);
  EXPECT_FALSE(Find(result, "consistent_system_id")->pass);
  EXPECT_EQ(Find(result, "primaries"), nullptr);
}

}  // namespace
}  // namespace dbcanary
