#include "probes/postgres/pg_archiver_probe.h"

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

TEST(PgArchiverProbeTest, FactoryAcceptsNoParamsAndRejectsUnknown) {
  auto probe = Create(*Load("        pg_archiver: { interval: 1m }"));
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), 5u);
  probe = Create(*Load("        pg_archiver: { expect: {} }"));
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("pg_archiver.expect"), std::string::npos);
}

PgTable Row(PgValue archived_at, PgValue failed_at, PgValue mode = "on",
            PgValue command = "cp %p /x/%f", PgValue library = "") {
  return PgTable({"archived_count", "failed_count", "last_archived_time", "last_failed_time",
                  "archive_mode", "archive_command", "archive_library"},
                 {{"12", "3", archived_at, failed_at, mode, command, library}});
}

TEST(PgArchiverProbeTest, ParsesRowWithNullTimes) {
  auto facts = ParseArchiverRow(Row(std::nullopt, std::nullopt));
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->archived_count, 12);
  EXPECT_EQ(facts->failed_count, 3);
  EXPECT_FALSE(facts->last_archived);
  EXPECT_FALSE(facts->last_failed);
  EXPECT_TRUE(facts->enabled);
  EXPECT_TRUE(ArchivingHealthy(*facts));  // nothing failed yet
  ProbeResult result;
  ReportArchiverFacts("pg", *facts, result);
  for (const auto& sample : result.samples) {
    EXPECT_NE(sample.name, kPgArchiverLastArchived);  // absent, not 0
    EXPECT_NE(sample.name, kPgArchiverLastFailed);
  }
}

TEST(PgArchiverProbeTest, EnabledNeedsModeAndCommandOrLibrary) {
  EXPECT_FALSE(ParseArchiverRow(Row("1", std::nullopt, "off"))->enabled);
  EXPECT_FALSE(ParseArchiverRow(Row("1", std::nullopt, "on", "", ""))->enabled);
  EXPECT_TRUE(ParseArchiverRow(Row("1", std::nullopt, "always", "", "basic_archive"))->enabled);
  EXPECT_FALSE(ArchivingHealthy(*ParseArchiverRow(Row("1", std::nullopt, "off"))));
}

TEST(PgArchiverProbeTest, FailureNewerThanSuccessIsUnhealthy) {
  EXPECT_TRUE(ArchivingHealthy(*ParseArchiverRow(Row("200", "100"))));
  EXPECT_FALSE(ArchivingHealthy(*ParseArchiverRow(Row("100", "200"))));
  EXPECT_FALSE(ArchivingHealthy(*ParseArchiverRow(Row(std::nullopt, "200"))));
  ProbeResult result;
  ReportArchiverFacts("pg", *ParseArchiverRow(Row("100", "200")), result);
  ASSERT_EQ(result.expectations.size(), 1u);
  EXPECT_EQ(result.expectations[0].check, "archiving_healthy");
  EXPECT_EQ(result.expectations[0].target, "pg");
  EXPECT_FALSE(result.expectations[0].pass);
}

TEST(PgArchiverProbeTest, RejectsBadShapes) {
  EXPECT_FALSE(ParseArchiverRow(PgTable({"archived_count"}, {{"1"}})));
  EXPECT_FALSE(ParseArchiverRow(PgTable({}, {})));
  auto bad = PgTable({"archived_count", "failed_count", "last_archived_time", "last_failed_time",
                      "archive_mode", "archive_command", "archive_library"},
                     {{"x", "0", std::nullopt, std::nullopt, "on", "c", ""}});
  auto facts = ParseArchiverRow(bad);
  ASSERT_FALSE(facts);
  EXPECT_EQ(facts.error().code, ErrorCode::kProtocol);
}

}  // namespace
}  // namespace dbcanary
