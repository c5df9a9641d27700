#include "probes/postgres/pg_sync_commit_probe.h"

#include <gtest/gtest.h>

#include <optional>

#include "config/config.h"
#include "probes/postgres/pg_sync_commit_rows.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

std::optional<double> Find(const ProbeResult& result, std::string_view name, const Labels& labels) {
  for (const auto& sample : result.samples) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return std::nullopt;
}

const ExpectationResult* FindCheck(const ProbeResult& result, std::string_view check,
                                   std::string_view target) {
  for (const auto& e : result.expectations) {
    if (e.check == check && e.target == target) return &e;
  }
  return nullptr;
}

TEST(PgSyncCommitRowsTest, OutcomesMapToSuccessDurationAndExpectation) {
  struct Case {
    SyncCommitOutcome outcome;
    double success;
    bool duration;
    bool pass;
    std::string observed;
  };
  for (const Case& c : {Case{SyncCommitOutcome::kAcknowledged, 1, true, true, "acknowledged"},
                        Case{SyncCommitOutcome::kNotSynchronous, 0, true, false, "not_synchronous"},
                        Case{SyncCommitOutcome::kTimeout, 0, false, false, "timeout"},
                        Case{SyncCommitOutcome::kError, 0, false, false, "error"}}) {
    ProbeResult result;
    InterpretSyncCommit("pg", c.outcome, 0.002, result);
    EXPECT_EQ(Find(result, kPgSyncCommitSuccess, {{"target", "pg"}}), c.success) << c.observed;
    EXPECT_EQ(Find(result, kPgSyncCommitDuration, {{"target", "pg"}}).has_value(), c.duration)
        << c.observed;
    const auto* check = FindCheck(result, "sync_commit", "pg");
    ASSERT_NE(check, nullptr);
    EXPECT_EQ(check->pass, c.pass) << c.observed;
    EXPECT_EQ(check->observed_text, c.observed);
  }
}

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

void ExpectConfigError(const std::string& probe_line, const std::string& fragment) {
  auto config = Load(probe_line);
  if (config->postgres_clusters.empty()) return;  // Load already failed the test
  auto probe = Create(*config);
  ASSERT_FALSE(probe) << probe_line;
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find(fragment), std::string::npos) << probe.error().message;
}

TEST(PgSyncCommitProbeTest, FactoryAcceptsParamsAndRejectsBadOnes) {
  for (const char* level : {"on", "remote_write", "remote_apply"}) {
    auto config = Load(std::string("        pg_sync_commit: { writer: w1, table: sc, level: ") +
                       level + " }");
    auto probe = Create(*config);
    ASSERT_TRUE(probe) << probe.error().message;
    EXPECT_EQ((*probe)->Describe().size(), 2u);
  }
  const std::string p = "postgres.clusters[0].probes.pg_sync_commit.";
  ExpectConfigError("        pg_sync_commit: { level: local }", p + "level");
  ExpectConfigError("        pg_sync_commit: { level: \"off\" }", p + "level");
  ExpectConfigError("        pg_sync_commit: { expect: {} }", p + "expect");
  ExpectConfigError("        pg_sync_commit: { table: \"1x\" }", p + "table");
}

}  // namespace
}  // namespace dbcanary
