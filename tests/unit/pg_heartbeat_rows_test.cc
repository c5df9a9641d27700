#include "probes/postgres/pg_heartbeat_rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "config/config.h"
#include "probes/postgres/pg_heartbeat_probe.h"
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

PgTable Row(std::optional<std::string> seq, std::optional<std::string> written) {
  return PgTable({"seq", "written_at_epoch"}, {{std::move(seq), std::move(written)}});
}

TEST(PgHeartbeatRowsTest, IdentifiersAndWritersAreValidated) {
  EXPECT_TRUE(IsValidPgIdentifier("dbcanary"));
  EXPECT_TRUE(IsValidPgIdentifier("_hb_2"));
  EXPECT_FALSE(IsValidPgIdentifier(""));
  EXPECT_FALSE(IsValidPgIdentifier("2hb"));
  EXPECT_FALSE(IsValidPgIdentifier("Heartbeat"));
  EXPECT_FALSE(IsValidPgIdentifier("hb\"; DROP TABLE x; --"));
  EXPECT_FALSE(IsValidPgIdentifier(std::string(64, 'a')));
  EXPECT_TRUE(IsValidPgIdentifier(std::string(63, 'a')));
  EXPECT_TRUE(IsValidWriter("dbcanary-0.eu:west_1"));
  EXPECT_FALSE(IsValidWriter(""));
  EXPECT_FALSE(IsValidWriter("it's"));
  EXPECT_FALSE(IsValidWriter("a b"));
  EXPECT_FALSE(IsValidWriter(std::string(64, 'w')));
}

TEST(PgHeartbeatRowsTest, SqlUsesQuotedNamesLevelAndWriter) {
  HeartbeatTable table{"dbcanary", "heartbeat", "exp-1"};
  const std::string write = HeartbeatWriteSql(table, "local");
  EXPECT_NE(write.find("SET LOCAL synchronous_commit = local;"), std::string::npos) << write;
  EXPECT_NE(write.find("INSERT INTO \"dbcanary\".\"heartbeat\""), std::string::npos) << write;
  EXPECT_NE(write.find("VALUES ('exp-1', 1, clock_timestamp())"), std::string::npos) << write;
  EXPECT_NE(write.find("seq = h.seq + 1"), std::string::npos) << write;
  EXPECT_TRUE(write.starts_with("BEGIN;"));
  EXPECT_TRUE(write.ends_with("COMMIT;"));
  EXPECT_NE(HeartbeatReadSql(table).find("FROM \"dbcanary\".\"heartbeat\" WHERE writer = $1"),
            std::string::npos);
  // CREATE SCHEMA (needs CREATE on the database) only when the schema is missing.
  EXPECT_EQ(HeartbeatCreateSql(table, false).find("CREATE SCHEMA"), std::string::npos);
  EXPECT_NE(HeartbeatCreateSql(table, true).find("CREATE SCHEMA IF NOT EXISTS \"dbcanary\""),
            std::string::npos);
  EXPECT_NE(HeartbeatCreateSql(table, false).find("synchronous_commit = local"), std::string::npos);
}

TEST(PgHeartbeatRowsTest, ParsesRowNoRowAndBadShapes) {
  auto one = ParseHeartbeatRow(Row("42", "1764162844.123456"));
  ASSERT_TRUE(one) << one.error().message;
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->seq, 42);
  EXPECT_DOUBLE_EQ((*one)->written_at, 1764162844.123456);

  auto none = ParseHeartbeatRow(PgTable({"seq", "written_at_epoch"}, {}));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  auto wrong_columns = ParseHeartbeatRow(PgTable({"seq"}, {}));
  ASSERT_FALSE(wrong_columns);
  EXPECT_EQ(wrong_columns.error().code, ErrorCode::kProtocol);
  auto null_value = ParseHeartbeatRow(Row("1", std::nullopt));
  ASSERT_FALSE(null_value);
  EXPECT_EQ(null_value.error().code, ErrorCode::kProtocol);
  auto garbage = ParseHeartbeatRow(Row("x", "1"));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::kProtocol);
  auto two = ParseHeartbeatRow(PgTable({"seq", "written_at_epoch"}, {{"1", "1"}, {"2", "2"}}));
  ASSERT_FALSE(two);
}

TEST(PgHeartbeatRowsTest, VisibleStandbyReportsMeasuredLagAndPasses) {
  Heartbeat written{10, 1000.5};
  StandbyReading s2;
  s2.name = "pg-2";
  s2.up = true;
  s2.newest = Heartbeat{10, 1000.5};
  s2.seen_after = 0.004;
  s2.last_read_after = 0.003;
  ProbeResult result;
  InterpretHeartbeat("pg", written, {s2}, 1.0, result);
  const Labels labels = {{"target", "pg"}, {"standby", "pg-2"}};
  EXPECT_EQ(Find(result, kPgHeartbeatWriteTimestamp, {{"target", "pg"}}), 1000.5);
  EXPECT_EQ(Find(result, kPgHeartbeatStandbyUp, labels), 1);
  EXPECT_EQ(Find(result, kPgHeartbeatVisible, labels), 1);
  EXPECT_EQ(Find(result, kPgHeartbeatLag, labels), 0.004);
  EXPECT_EQ(Find(result, kPgHeartbeatLastSeenWriteTimestamp, labels), 1000.5);
  const auto* check = FindCheck(result, "max_heartbeat_lag_seconds", "pg-2");
  ASSERT_NE(check, nullptr);
  EXPECT_TRUE(check->pass);
  EXPECT_EQ(check->observed, 0.004);
  EXPECT_EQ(check->threshold, 1.0);
}

TEST(PgHeartbeatRowsTest, StalledStandbyReportsGrowingLowerBoundAndFailsWithNaN) {
  Heartbeat written{10, 1000.0};
  StandbyReading s3;
  s3.name = "pg-3";
  s3.up = true;
  s3.newest = Heartbeat{7, 994.0};  // replay stopped 6 s before this run's write
  s3.last_read_after = 2.5;         // and the last read, 2.5 s after the commit, still saw seq 7
  ProbeResult result;
  InterpretHeartbeat("pg", written, {s3}, 30.0, result);
  const Labels labels = {{"target", "pg"}, {"standby", "pg-3"}};
  EXPECT_EQ(Find(result, kPgHeartbeatVisible, labels), 0);
  EXPECT_DOUBLE_EQ(Find(result, kPgHeartbeatLag, labels).value_or(-1), 8.5);
  EXPECT_EQ(Find(result, kPgHeartbeatLastSeenWriteTimestamp, labels), 994.0);
  const auto* check = FindCheck(result, "max_heartbeat_lag_seconds", "pg-3");
  ASSERT_NE(check, nullptr);
  EXPECT_FALSE(check->pass);  // not seen before the deadline, even below the threshold
  EXPECT_TRUE(std::isnan(check->observed));
}

TEST(PgHeartbeatRowsTest, UnreachableStandbyIsDownWithoutLagAndFails) {
  StandbyReading down;
  down.name = "pg-3";
  ProbeResult result;
  InterpretHeartbeat("pg", Heartbeat{1, 5.0}, {down}, 1.0, result);
  const Labels labels = {{"target", "pg"}, {"standby", "pg-3"}};
  EXPECT_EQ(Find(result, kPgHeartbeatStandbyUp, labels), 0);
  EXPECT_EQ(Find(result, kPgHeartbeatVisible, labels), 0);
  EXPECT_FALSE(Find(result, kPgHeartbeatLag, labels));
  EXPECT_FALSE(Find(result, kPgHeartbeatLastSeenWriteTimestamp, labels));
  const auto* check = FindCheck(result, "max_heartbeat_lag_seconds", "pg-3");
  ASSERT_NE(check, nullptr);
  EXPECT_FALSE(check->pass);
}

TEST(PgHeartbeatRowsTest, NoExpectationWithoutMaxLag) {
  StandbyReading s2;
  s2.name = "pg-2";
  s2.up = true;
  s2.seen_after = 0.001;
  ProbeResult result;
  InterpretHeartbeat("pg", Heartbeat{1, 5.0}, {s2}, std::nullopt, result);
  EXPECT_TRUE(result.expectations.empty());
}

// --- factories ---------------------------------------------------------------------------

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

TEST(PgHeartbeatProbeTest, FactoryAcceptsEveryParam) {
  auto config = Load(
      "        pg_heartbeat: { interval: 5s, timeout: 3s, writer: exp-1, schema: dbcanary, "
      "table: hb, max_poll_interval: 50ms, expect: { max_lag_seconds: 1 } }");
  auto probe = Create(*config);
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), 5u);
  auto defaults = Create(*Load("        pg_heartbeat: {}"));
  ASSERT_TRUE(defaults) << defaults.error().message;
}

TEST(PgHeartbeatProbeTest, FactoryRejectsBadParamsWithKeyPath) {
  const std::string p = "postgres.clusters[0].probes.pg_heartbeat.";
  ExpectConfigError("        pg_heartbeat: { max_lag: 5 }", p + "max_lag");
  ExpectConfigError("        pg_heartbeat: { expect: { max_lag: 5 } }", p + "expect.max_lag");
  ExpectConfigError("        pg_heartbeat: { expect: { max_lag_seconds: -1 } }",
                    p + "expect.max_lag_seconds");
  ExpectConfigError("        pg_heartbeat: { table: \"Heart beat\" }", p + "table");
  ExpectConfigError("        pg_heartbeat: { schema: \"x;drop\" }", p + "schema");
  ExpectConfigError("        pg_heartbeat: { writer: \"it's\" }", p + "writer");
  ExpectConfigError("        pg_heartbeat: { max_poll_interval: 5s }", p + "max_poll_interval");
}

TEST(PgHeartbeatProbeTest, FactoryRejectsUnknownTarget) {
  auto config = Load("        pg_heartbeat: {}");
  ProbeSettings settings = config->postgres_clusters.at(0).probes.at(0);
  settings.target = "nope";
  auto probe = CreatePgHeartbeatProbe(settings, *config);
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("\"nope\""), std::string::npos);
}

}  // namespace
}  // namespace dbcanary
