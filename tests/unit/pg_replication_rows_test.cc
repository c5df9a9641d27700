#include "probes/postgres/pg_replication_rows.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace dbcanary {
namespace {

const std::vector<std::string> kColumns = {
    "in_recovery",      "walsender_pid",     "application_name",  "state",
    "sync_state",       "sent_lag_bytes",    "write_lag_bytes",   "flush_lag_bytes",
    "replay_lag_bytes", "write_lag_seconds", "flush_lag_seconds", "replay_lag_seconds"};

struct Sender {
  PgValue name;
  PgValue state = PgValue("streaming");
  PgValue sync_state = PgValue("quorum");
  PgValue sent = PgValue("0");
  PgValue write = PgValue("0");
  PgValue flush = PgValue("0");
  PgValue replay = PgValue("0");
  PgValue write_lag = PgValue("0.000412");
  PgValue flush_lag = PgValue("0.000803");
  PgValue replay_lag = PgValue("0.001204");
};

PgTable Table(std::vector<Sender> senders, bool in_recovery = false) {
  std::vector<std::vector<PgValue>> rows;
  PgValue recovery(in_recovery ? "t" : "f");
  int pid = 4000;
  for (const auto& s : senders) {
    rows.push_back({recovery, PgValue(std::to_string(pid++)), s.name, s.state, s.sync_state, s.sent,
                    s.write, s.flush, s.replay, s.write_lag, s.flush_lag, s.replay_lag});
  }
  if (rows.empty()) {
    // What the LEFT JOIN returns on a primary without WAL senders.
    std::vector<PgValue> row(kColumns.size(), std::nullopt);
    row[0] = recovery;
    rows.push_back(row);
  }
  return PgTable(kColumns, std::move(rows));
}

ReplicationTopology Topology() {
  ReplicationTopology topology;
  topology.cluster = "shared-postgres";
  topology.standbys = {"shared-postgres-2", "shared-postgres-3"};
  return topology;
}

std::optional<double> Value(const ProbeResult& result, std::string_view name, Labels labels) {
  std::sort(labels.begin(), labels.end());
  for (const auto& sample : result.samples) {
    if (sample.name != name) continue;
    Labels got = sample.labels;
    std::sort(got.begin(), got.end());
    if (got == labels) return sample.value;
  }
  return std::nullopt;
}

const ExpectationResult* Expectation(const ProbeResult& result, std::string_view check,
                                     std::string_view target) {
  for (const auto& e : result.expectations) {
    if (e.check == check && e.target == target) return &e;
  }
  return nullptr;
}

Labels StandbyLabels(const std::string& standby) {
  return {{"target", "shared-postgres"}, {"standby", standby}};
}

Labels Stage(const std::string& standby, const std::string& stage) {
  return {{"target", "shared-postgres"}, {"standby", standby}, {"stage", stage}};
}

Labels Sync(const std::string& standby, const std::string& state) {
  return {{"target", "shared-postgres"}, {"standby", standby}, {"sync_state", state}};
}

TEST(PgReplicationRowsTest, HealthyQuorumCluster) {
  Sender s2{.name = PgValue("shared-postgres-2"), .sent = PgValue("0"), .replay = PgValue("168")};
  Sender s3{.name = PgValue("shared-postgres-3")};
  auto topology = Topology();
  topology.expect.instances = 3;
  topology.expect.min_streaming_standbys = 2;
  topology.expect.min_sync_standbys = 1;
  topology.expect.max_sync_standbys = 2;
  topology.expect.max_replay_lag_bytes = 1048576;
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(topology, Table({s2, s3}), result));

  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-2")), 1);
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-3")), 1);
  EXPECT_EQ(Value(result, kPgReplicationSyncState, Sync("shared-postgres-2", "quorum")), 1);
  EXPECT_EQ(Value(result, kPgReplicationSyncState, Sync("shared-postgres-2", "sync")), 0);
  EXPECT_EQ(Value(result, kPgReplicationSyncState, Sync("shared-postgres-2", "async")), 0);
  EXPECT_EQ(Value(result, kPgReplicationSyncState, Sync("shared-postgres-2", "potential")), 0);
  EXPECT_EQ(Value(result, kPgReplicationLagBytes, Stage("shared-postgres-2", "replay")), 168);
  EXPECT_EQ(Value(result, kPgReplicationLagBytes, Stage("shared-postgres-2", "sent")), 0);
  EXPECT_DOUBLE_EQ(*Value(result, kPgReplicationLagSeconds, Stage("shared-postgres-3", "replay")),
                   0.001204);
  EXPECT_EQ(Value(result, kPgReplicationStreamingStandbys, {{"target", "shared-postgres"}}), 2);
  EXPECT_EQ(Value(result, kPgReplicationSyncStandbys, {{"target", "shared-postgres"}}), 2);

  ASSERT_EQ(result.expectations.size(), 6u);  // 4 cluster checks, 2 per-standby
  for (const auto& e : result.expectations) EXPECT_TRUE(e.pass) << e.check << " " << e.target;
  const auto* instances = Expectation(result, "instances", "shared-postgres");
  ASSERT_NE(instances, nullptr);
  EXPECT_EQ(instances->observed, 3);
  EXPECT_EQ(instances->expected_text, ">= 3");
  const auto* lag = Expectation(result, "max_replay_lag_bytes", "shared-postgres-2");
  ASSERT_NE(lag, nullptr);
  EXPECT_EQ(lag->observed, 168);
  EXPECT_EQ(lag->expected_text, "<= 1048576");
}

TEST(PgReplicationRowsTest, EveryFamilyIsDescribedAndEverySampleUsesOne) {
  std::set<std::string> described;
  for (const auto& desc : ReplicationMetricDescs()) described.insert(desc.name);
  EXPECT_EQ(described.size(), 6u);
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(Topology(), Table({Sender{.name = PgValue("x")}}), result));
  for (const auto& sample : result.samples)
    EXPECT_TRUE(described.count(sample.name)) << sample.name;
}

TEST(PgReplicationRowsTest, QueryHasEveryColumnTheInterpreterReads) {
  for (const auto& column : kColumns) {
    if (column == "in_recovery") continue;
    EXPECT_NE(kReplicationQuery.find(column), std::string::npos) << column;
  }
}

// NULL twin: PostgreSQL nulls *_lag once an idle primary's standby has caught up.
TEST(PgReplicationRowsTest, NullLagSecondsWhileStreamingAreZero) {
  Sender s2{.name = PgValue("shared-postgres-2"),
            .write_lag = std::nullopt,
            .flush_lag = std::nullopt,
            .replay_lag = std::nullopt};
  Sender s3{.name = PgValue("shared-postgres-3")};
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(Topology(), Table({s2, s3}), result));
  for (const char* stage : {"write", "flush", "replay"}) {
    EXPECT_EQ(Value(result, kPgReplicationLagSeconds, Stage("shared-postgres-2", stage)), 0)
        << stage;
  }
}

// NULL twin: one configured standby is absent from pg_stat_replication.
TEST(PgReplicationRowsTest, MissingStandbyIsPreCreatedAsNotStreaming) {
  auto topology = Topology();
  topology.expect.instances = 3;
  topology.expect.min_streaming_standbys = 2;
  topology.expect.min_sync_standbys = 1;
  topology.expect.max_replay_lag_bytes = 1048576;
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(
      topology, Table({Sender{.name = PgValue("shared-postgres-2")}}), result));
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-3")), 0);
  for (const char* state : {"async", "potential", "sync", "quorum"}) {
    EXPECT_EQ(Value(result, kPgReplicationSyncState, Sync("shared-postgres-3", state)), 0);
  }
  // Lag of an absent standby is unknown: no series rather than a reassuring 0.
  EXPECT_FALSE(Value(result, kPgReplicationLagBytes, Stage("shared-postgres-3", "replay")));
  EXPECT_FALSE(Value(result, kPgReplicationLagSeconds, Stage("shared-postgres-3", "replay")));
  EXPECT_EQ(Value(result, kPgReplicationStreamingStandbys, {{"target", "shared-postgres"}}), 1);
  EXPECT_EQ(Value(result, kPgReplicationSyncStandbys, {{"target", "shared-postgres"}}), 1);

  EXPECT_FALSE(Expectation(result, "instances", "shared-postgres")->pass);
  EXPECT_FALSE(Expectation(result, "min_streaming_standbys", "shared-postgres")->pass);
  EXPECT_EQ(Expectation(result, "min_streaming_standbys", "shared-postgres")->observed, 1);
  EXPECT_TRUE(Expectation(result, "min_sync_standbys", "shared-postgres")->pass);
  const auto* lag = Expectation(result, "max_replay_lag_bytes", "shared-postgres-3");
  ASSERT_NE(lag, nullptr);
  EXPECT_FALSE(lag->pass);
  EXPECT_TRUE(std::isnan(lag->observed));
  EXPECT_TRUE(Expectation(result, "max_replay_lag_bytes", "shared-postgres-2")->pass);
}

// NULL twin: no WAL sender at all (the LEFT JOIN row of NULLs).
TEST(PgReplicationRowsTest, NoStandbysAtAll) {
  auto topology = Topology();
  topology.expect.min_streaming_standbys = 1;
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(topology, Table({}), result));
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-2")), 0);
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-3")), 0);
  EXPECT_EQ(Value(result, kPgReplicationStreamingStandbys, {{"target", "shared-postgres"}}), 0);
  EXPECT_FALSE(Expectation(result, "min_streaming_standbys", "shared-postgres")->pass);
}

// A standby reconnecting after a restart is in catchup: not streaming, lags as far as known.
TEST(PgReplicationRowsTest, CatchupStandbyIsNotStreaming) {
  Sender catching_up{.name = PgValue("shared-postgres-3"),
                     .state = PgValue("catchup"),
                     .sync_state = PgValue("potential"),
                     .sent = PgValue("1024"),
                     .write = PgValue("4096"),
                     .flush = PgValue("4096"),
                     .replay = PgValue("81920"),
                     .write_lag = std::nullopt,
                     .flush_lag = std::nullopt,
                     .replay_lag = std::nullopt};
  auto topology = Topology();
  topology.expect.max_replay_lag_bytes = 1048576;
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(
      topology, Table({Sender{.name = PgValue("shared-postgres-2")}, catching_up}), result));
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-3")), 0);
  EXPECT_EQ(Value(result, kPgReplicationSyncState, Sync("shared-postgres-3", "potential")), 1);
  EXPECT_EQ(Value(result, kPgReplicationLagBytes, Stage("shared-postgres-3", "replay")), 81920);
  EXPECT_FALSE(Value(result, kPgReplicationLagSeconds, Stage("shared-postgres-3", "replay")));
  EXPECT_EQ(Value(result, kPgReplicationStreamingStandbys, {{"target", "shared-postgres"}}), 1);
  EXPECT_EQ(Value(result, kPgReplicationSyncStandbys, {{"target", "shared-postgres"}}), 1);
  // Not streaming: its lag promise is unknown, hence failed.
  EXPECT_FALSE(Expectation(result, "max_replay_lag_bytes", "shared-postgres-3")->pass);
}

TEST(PgReplicationRowsTest, NullLsnsOfAStartingSenderGiveNoLagSeries) {
  Sender starting{.name = PgValue("shared-postgres-2"),
                  .state = PgValue("startup"),
                  .sync_state = PgValue("async"),
                  .sent = std::nullopt,
                  .write = std::nullopt,
                  .flush = std::nullopt,
                  .replay = std::nullopt,
                  .write_lag = std::nullopt,
                  .flush_lag = std::nullopt,
                  .replay_lag = std::nullopt};
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(Topology(), Table({starting}), result));
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-2")), 0);
  for (const auto& sample : result.samples) {
    EXPECT_NE(sample.name, kPgReplicationLagBytes);
    EXPECT_NE(sample.name, kPgReplicationLagSeconds);
  }
}

TEST(PgReplicationRowsTest, SyncCountsSyncAndQuorumOnly) {
  Sender a{.name = PgValue("a"), .sync_state = PgValue("sync")};
  Sender b{.name = PgValue("b"), .sync_state = PgValue("potential")};
  Sender c{.name = PgValue("c"), .sync_state = PgValue("async")};
  Sender d{.name = PgValue("d"), .sync_state = PgValue("quorum")};
  auto topology = Topology();
  topology.standbys.clear();
  topology.expect.max_sync_standbys = 1;
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(topology, Table({a, b, c, d}), result));
  EXPECT_EQ(Value(result, kPgReplicationSyncStandbys, {{"target", "shared-postgres"}}), 2);
  EXPECT_EQ(Value(result, kPgReplicationStreamingStandbys, {{"target", "shared-postgres"}}), 4);
  EXPECT_FALSE(Expectation(result, "max_sync_standbys", "shared-postgres")->pass);
  EXPECT_EQ(Value(result, kPgReplicationSyncState, Sync("b", "potential")), 1);
}

TEST(PgReplicationRowsTest, DuplicateNamesKeepTheStreamingSender) {
  Sender old_sender{.name = PgValue("shared-postgres-2"),
                    .state = PgValue("catchup"),
                    .replay = PgValue("999999")};
  Sender new_sender{.name = PgValue("shared-postgres-2"), .replay = PgValue("10")};
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(Topology(), Table({old_sender, new_sender}), result));
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-2")), 1);
  EXPECT_EQ(Value(result, kPgReplicationLagBytes, Stage("shared-postgres-2", "replay")), 10);
  EXPECT_EQ(Value(result, kPgReplicationStreamingStandbys, {{"target", "shared-postgres"}}), 1);
  int streaming_series = 0;
  for (const auto& s : result.samples) streaming_series += s.name == kPgReplicationStreaming;
  EXPECT_EQ(streaming_series, 2);  // shared-postgres-2 once, shared-postgres-3 pre-created
}

TEST(PgReplicationRowsTest, UnconfiguredStreamingSenderIsReportedToo) {
  auto topology = Topology();
  topology.expect.max_replay_lag_bytes = 100;
  Sender extra{.name = PgValue("shared-postgres-4"), .replay = PgValue("5000")};
  Sender backup{
      .name = PgValue("pg_basebackup"), .state = PgValue("backup"), .sync_state = PgValue("async")};
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(topology, Table({backup, extra}), result));
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("shared-postgres-4")), 1);
  EXPECT_EQ(Value(result, kPgReplicationStreaming, StandbyLabels("pg_basebackup")), 0);
  EXPECT_FALSE(Expectation(result, "max_replay_lag_bytes", "shared-postgres-4")->pass);
  // A base backup's sender promised nothing.
  EXPECT_EQ(Expectation(result, "max_replay_lag_bytes", "pg_basebackup"), nullptr);
}

// The member resolved as primary was demoted before the query reached it: the roles moved, the
// run must not report that member's (empty) WAL senders as the cluster's replication.
TEST(PgReplicationRowsTest, InRecoveryMeansTheRolesMovedAndReportsNothing) {
  ProbeResult result;
  auto status = InterpretReplicationRows(Topology(), Table({}, /*in_recovery=*/true), result);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnexpected);
  EXPECT_TRUE(result.samples.empty());
  EXPECT_TRUE(result.expectations.empty());
}

TEST(PgReplicationRowsTest, OnlyDeclaredExpectationsAppear) {
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(Topology(), Table({Sender{.name = PgValue("x")}}), result));
  EXPECT_TRUE(result.expectations.empty());
}

TEST(PgReplicationRowsTest, NegativeLsnDistanceIsClampedToZero) {
  Sender ahead{.name = PgValue("shared-postgres-2"), .sent = PgValue("-56")};
  ProbeResult result;
  ASSERT_TRUE(InterpretReplicationRows(Topology(), Table({ahead}), result));
  EXPECT_EQ(Value(result, kPgReplicationLagBytes, Stage("shared-postgres-2", "sent")), 0);
}

TEST(PgReplicationRowsTest, WrongShapesAreProtocolErrorsAndLeaveResultUntouched) {
  ProbeResult result;
  auto empty = InterpretReplicationRows(Topology(), PgTable(kColumns, {}), result);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kProtocol);

  auto columns = kColumns;
  columns.erase(std::find(columns.begin(), columns.end(), "flush_lag_bytes"));
  std::vector<PgValue> row = {PgValue("f"),      PgValue("1"), PgValue("x"), PgValue("streaming"),
                              PgValue("quorum"), PgValue("0"), PgValue("0"), PgValue("0"),
                              PgValue("0"),      PgValue("0"), PgValue("0")};
  auto missing = InterpretReplicationRows(Topology(), PgTable(columns, {row}), result);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kProtocol);
  EXPECT_NE(missing.error().message.find("flush_lag_bytes"), std::string::npos);

  Sender garbage{.name = PgValue("x"), .replay = PgValue("0/3000060")};
  auto unparsable = InterpretReplicationRows(Topology(), Table({garbage}), result);
  ASSERT_FALSE(unparsable);
  EXPECT_EQ(unparsable.error().code, ErrorCode::kProtocol);
  EXPECT_TRUE(result.samples.empty());
  EXPECT_TRUE(result.expectations.empty());
}

// A role without pg_monitor sees WAL senders' pids and nothing else.
TEST(PgReplicationRowsTest, HiddenDetailsAreAnAuthError) {
  Sender hidden{.name = PgValue("shared-postgres-2"),
                .state = std::nullopt,
                .sync_state = std::nullopt,
                .sent = std::nullopt,
                .write = std::nullopt,
                .flush = std::nullopt,
                .replay = std::nullopt,
                .write_lag = std::nullopt,
                .flush_lag = std::nullopt,
                .replay_lag = std::nullopt};
  ProbeResult result;
  auto status = InterpretReplicationRows(Topology(), Table({hidden}), result);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kAuth);
  EXPECT_NE(status.error().message.find("pg_monitor"), std::string::npos);
}

}  // namespace
}  // namespace dbcanary
