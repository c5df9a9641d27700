#include "probes/postgres/pg_replication_rows.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>

namespace dbcanary {

// pg_current_wal_lsn() fails on a standby ("recovery is in progress"), hence the CASE: a
// target that turned out to be in recovery still answers, measured against its replay position.
// MATERIALIZED evaluates the position once for every row.
const std::string kReplicationQuery = R"sql(
WITH node AS MATERIALIZED (
  SELECT pg_is_in_recovery() AS in_recovery,
         CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
              ELSE pg_current_wal_lsn() END AS current_lsn
),
standby AS (
  SELECT r.* FROM pg_stat_replication r
  WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots s
                    WHERE s.active_pid = r.pid AND s.slot_type = 'logical')
)
SELECT node.in_recovery,
       s.pid AS walsender_pid,
       s.application_name,
       s.state,
       s.sync_state,
       pg_wal_lsn_diff(node.current_lsn, s.sent_lsn) AS sent_lag_bytes,
       pg_wal_lsn_diff(node.current_lsn, s.write_lsn) AS write_lag_bytes,
       pg_wal_lsn_diff(node.current_lsn, s.flush_lsn) AS flush_lag_bytes,
       pg_wal_lsn_diff(node.current_lsn, s.replay_lsn) AS replay_lag_bytes,
       EXTRACT(EPOCH FROM s.write_lag) AS write_lag_seconds,
       EXTRACT(EPOCH FROM s.flush_lag) AS flush_lag_seconds,
       EXTRACT(EPOCH FROM s.replay_lag) AS replay_lag_seconds
FROM node LEFT JOIN standby s ON true
ORDER BY s.application_name, s.pid
)sql";

namespace {

constexpr std::array<std::string_view, 4> kSyncStates = {"async", "potential", "sync", "quorum"};
constexpr std::array<std::string_view, 4> kByteStages = {"sent", "write", "flush", "replay"};
constexpr std::array<std::string_view, 3> kTimeStages = {"write", "flush", "replay"};
constexpr size_t kReplayByteStage = 3;

struct StandbyRow {
  std::string name;
  std::string state;
  std::string sync_state;
  std::array<std::optional<double>, kByteStages.size()> lag_bytes;
  std::array<std::optional<double>, kTimeStages.size()> lag_seconds;

  bool streaming() const { return state == "streaming"; }
};

// Two WAL senders can carry the same application_name for a moment (a standby reconnected and
// the old sender has not noticed yet). One series per name: the streaming one, else the closer.
bool Better(const StandbyRow& candidate, const StandbyRow& current) {
  if (candidate.streaming() != current.streaming()) return candidate.streaming();
  auto replay = [](const StandbyRow& row) {
    return row.lag_bytes[kReplayByteStage].value_or(std::numeric_limits<double>::infinity());
  };
  return replay(candidate) < replay(current);
}

Result<std::vector<StandbyRow>> ReadStandbys(const PgTable& rows) {
  std::vector<StandbyRow> standbys;
  for (size_t r = 0; r < rows.size(); ++r) {
    auto pid = rows.Text(r, "walsender_pid");
    if (!pid) return pid.error();
    if (!pid->has_value()) continue;  // the LEFT JOIN row of a primary without WAL senders
    StandbyRow row;
    auto name = rows.Text(r, "application_name");
    if (!name) return name.error();
    auto state = rows.Text(r, "state");
    if (!state) return state.error();
    auto sync_state = rows.Text(r, "sync_state");
    if (!sync_state) return sync_state.error();
    if (!state->has_value()) {
      // pg_stat_replication shows only the pid of WAL senders the role may not inspect.
      return MakeError(ErrorCode::kAuth,
                       "pg_stat_replication hides the state of WAL sender pid " + **pid +
                           ": the probe's role needs pg_monitor (or pg_read_all_stats)");
    }
    row.name = name->value_or("");
    if (row.name.empty()) row.name = "unnamed";
    row.state = **state;
    row.sync_state = sync_state->value_or("");
    for (size_t i = 0; i < kByteStages.size(); ++i) {
      auto bytes = rows.Number(r, std::string(kByteStages[i]) + "_lag_bytes");
      if (!bytes) return bytes.error();
      // The current position and the sender's are read a few microseconds apart; a sender
      // that moved in between would read as slightly negative lag.
      if (*bytes) row.lag_bytes[i] = std::max(0.0, **bytes);
    }
    for (size_t i = 0; i < kTimeStages.size(); ++i) {
      auto seconds = rows.Number(r, std::string(kTimeStages[i]) + "_lag_seconds");
      if (!seconds) return seconds.error();
      row.lag_seconds[i] = *seconds;
    }
    auto existing = std::find_if(standbys.begin(), standbys.end(),
                                 [&](const StandbyRow& other) { return other.name == row.name; });
    if (existing == standbys.end()) {
      standbys.push_back(std::move(row));
    } else if (Better(row, *existing)) {
      *existing = std::move(row);
    }
  }
  return standbys;
}

}  // namespace

const std::vector<MetricDesc>& ReplicationMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgReplicationStreaming),
       "Whether the standby is connected to the primary in state streaming (1) or not (0); "
       "standby members absent from pg_stat_replication are 0.",
       MetricType::kGauge},
      {std::string(kPgReplicationSyncState),
       "Synchronous replication state of the standby as the primary reports it: one series per "
       "state (async, potential, sync, quorum), 1 for the current one.",
       MetricType::kGauge},
      {std::string(kPgReplicationLagBytes),
       "Bytes of WAL between the primary's current position and what the standby has "
       "received (sent), written, flushed and replayed.",
       MetricType::kGauge},
      {std::string(kPgReplicationLagSeconds),
       "Time the primary last waited for the standby to write, flush and replay recent WAL "
       "(pg_stat_replication *_lag); 0 while streaming on an idle primary.",
       MetricType::kGauge},
      {std::string(kPgReplicationStreamingStandbys),
       "Number of standbys streaming from the primary.", MetricType::kGauge},
      {std::string(kPgReplicationSyncStandbys),
       "Number of standbys the primary counts as synchronous (sync_state sync or quorum).",
       MetricType::kGauge},
  };
  return descs;
}

Status InterpretReplicationRows(const ReplicationTopology& topology, const PgTable& rows,
                                ProbeResult& out) {
  if (rows.empty()) {
    return MakeError(ErrorCode::kProtocol, "replication query returned no rows");
  }
  auto in_recovery = rows.Bool(0, "in_recovery");
  if (!in_recovery) return in_recovery.error();
  if (!in_recovery->has_value()) {
    return MakeError(ErrorCode::kProtocol, "column \"in_recovery\" is NULL");
  }
  if (**in_recovery) {
    return MakeError(ErrorCode::kUnexpected,
                     "is in recovery now: the roles changed since they were resolved");
  }
  auto observed = ReadStandbys(rows);
  if (!observed) return observed.error();

  ProbeResult add;  // built aside so that `out` stays unchanged on error (none can occur below)
  const std::string& cluster = topology.cluster;
  // The standby members first, in member order (absent ones are pre-created), then any other
  // WAL sender the primary reports, in name order.
  struct Entry {
    std::string name;
    bool configured;
    const StandbyRow* row;
  };
  std::vector<Entry> entries;
  auto find = [&](const std::string& name) -> const StandbyRow* {
    for (const auto& row : *observed) {
      if (row.name == name) return &row;
    }
    return nullptr;
  };
  for (const auto& name : topology.standbys) entries.push_back({name, true, find(name)});
  for (const auto& row : *observed) {
    if (std::find(topology.standbys.begin(), topology.standbys.end(), row.name) ==
        topology.standbys.end()) {
      entries.push_back({row.name, false, &row});
    }
  }

  int streaming_count = 0;
  int sync_count = 0;
  for (const auto& entry : entries) {
    const StandbyRow* row = entry.row;
    const bool streaming = row != nullptr && row->streaming();
    if (streaming) ++streaming_count;
    if (row != nullptr && (row->sync_state == "sync" || row->sync_state == "quorum")) ++sync_count;
    add.Add(std::string(kPgReplicationStreaming), {{"target", cluster}, {"standby", entry.name}},
            streaming ? 1 : 0);
    for (auto state : kSyncStates) {
      add.Add(std::string(kPgReplicationSyncState),
              {{"target", cluster}, {"standby", entry.name}, {"sync_state", std::string(state)}},
              row != nullptr && row->sync_state == state ? 1 : 0);
    }
    if (row == nullptr) continue;  // absent: lag unknown, so no lag series at all
    for (size_t i = 0; i < kByteStages.size(); ++i) {
      if (!row->lag_bytes[i]) continue;  // NULL LSN: the sender has not reached that stage
      add.Add(
          std::string(kPgReplicationLagBytes),
          {{"target", cluster}, {"standby", entry.name}, {"stage", std::string(kByteStages[i])}},
          *row->lag_bytes[i]);
    }
    for (size_t i = 0; i < kTimeStages.size(); ++i) {
      std::optional<double> seconds = row->lag_seconds[i];
      // PostgreSQL resets *_lag to NULL once a streaming standby has caught up and the primary
      // is idle: that is no lag. For a standby that is not streaming, NULL stays unknown.
      if (!seconds && streaming) seconds = 0;
      if (!seconds) continue;
      add.Add(
          std::string(kPgReplicationLagSeconds),
          {{"target", cluster}, {"standby", entry.name}, {"stage", std::string(kTimeStages[i])}},
          *seconds);
    }
  }
  add.Add(std::string(kPgReplicationStreamingStandbys), {{"target", cluster}}, streaming_count);
  add.Add(std::string(kPgReplicationSyncStandbys), {{"target", cluster}}, sync_count);

  // Expectations, each only when declared (the role checks come from ReportRoles).
  const PgClusterExpect& expect = topology.expect;
  if (expect.instances) {
    add.expectations.push_back(ExpectNumber("instances", cluster, 1.0 + streaming_count,
                                            ">=", static_cast<double>(*expect.instances)));
  }
  if (expect.min_streaming_standbys) {
    add.expectations.push_back(
        ExpectNumber("min_streaming_standbys", cluster, streaming_count,
                     ">=", static_cast<double>(*expect.min_streaming_standbys)));
  }
  if (expect.min_sync_standbys) {
    add.expectations.push_back(ExpectNumber("min_sync_standbys", cluster, sync_count,
                                            ">=", static_cast<double>(*expect.min_sync_standbys)));
  }
  if (expect.max_sync_standbys) {
    add.expectations.push_back(ExpectNumber("max_sync_standbys", cluster, sync_count,
                                            "<=", static_cast<double>(*expect.max_sync_standbys)));
  }
  if (expect.max_replay_lag_bytes) {
    // Per standby: every member (not streaming -> unknown -> fail) and any other sender that
    // streams. A sender that is no member and not streaming (a base backup) promised nothing.
    for (const auto& entry : entries) {
      const bool streaming = entry.row != nullptr && entry.row->streaming();
      if (!entry.configured && !streaming) continue;
      double lag = std::numeric_limits<double>::quiet_NaN();
      if (streaming && entry.row->lag_bytes[kReplayByteStage]) {
        lag = *entry.row->lag_bytes[kReplayByteStage];
      }
      add.expectations.push_back(ExpectNumber("max_replay_lag_bytes", entry.name, lag,
                                              "<=", *expect.max_replay_lag_bytes));
    }
  }

  for (auto& sample : add.samples) out.samples.push_back(std::move(sample));
  for (auto& expectation : add.expectations) out.expectations.push_back(std::move(expectation));
  return Ok{};
}

}  // namespace dbcanary
