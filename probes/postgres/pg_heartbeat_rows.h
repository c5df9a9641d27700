#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "core/metric.h"
#include "core/result.h"
#include "probes/probe.h"

// The pure half of the pg_heartbeat and pg_sync_commit probes: the SQL they send to their small
// table (one row per writer, upserted) and the interpretation of what the standbys showed into
// samples and expectations. Kept apart from the network half so it is unit-tested without a
// server.

namespace dbcanary {

// Metric names of the pg_heartbeat probe.
inline constexpr std::string_view kPgHeartbeatWriteTimestamp =
    "dbcanary_pg_heartbeat_write_timestamp_seconds";
inline constexpr std::string_view kPgHeartbeatStandbyUp = "dbcanary_pg_heartbeat_standby_up";
inline constexpr std::string_view kPgHeartbeatVisible = "dbcanary_pg_heartbeat_visible";
inline constexpr std::string_view kPgHeartbeatLag = "dbcanary_pg_heartbeat_lag_seconds";
inline constexpr std::string_view kPgHeartbeatLastSeenWriteTimestamp =
    "dbcanary_pg_heartbeat_last_seen_write_timestamp_seconds";

// HELP/TYPE of every family above.
const std::vector<MetricDesc>& HeartbeatMetricDescs();

// Where a probe keeps its row: schema.table, row key `writer`. Names are validated by
// IsValidPgIdentifier / IsValidWriter before any SQL is built from them.
struct HeartbeatTable {
  std::string schema = "dbcanary";
  std::string table;
  std::string writer = "dbcanary";
};

// A lower-case SQL identifier: [a-z_][a-z0-9_]*, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
bool IsValidPgIdentifier(std::string_view name);
// A writer id: [A-Za-z0-9_.:-], 1 to 63 bytes (it is inlined as a SQL literal).
bool IsValidWriter(std::string_view writer);

// Whether the schema and the table exist. Columns: schema_exists, table_exists.
std::string HeartbeatCheckSql(const HeartbeatTable& table);
// Creates what is missing, in one transaction that does not wait for a synchronous standby
// (synchronous_commit = local). CREATE SCHEMA needs CREATE on the database, so it is only sent
// when the schema is missing; CREATE TABLE needs CREATE on the schema.
std::string HeartbeatCreateSql(const HeartbeatTable& table, bool create_schema);
// Upserts the writer's row (seq + 1, written_at = clock_timestamp()) in a transaction with
// SET LOCAL synchronous_commit = `level` and returns the new row. Columns: seq,
// written_at_epoch, standby_names (the primary's synchronous_standby_names).
std::string HeartbeatWriteSql(const HeartbeatTable& table, std::string_view level);
// The writer's row as a standby sees it, $1 = writer. Columns: seq, written_at_epoch. No row
// when no heartbeat of this writer was replayed there yet.
std::string HeartbeatReadSql(const HeartbeatTable& table);

// One heartbeat as written or read: its sequence number and the primary's write time.
struct Heartbeat {
  int64_t seq = 0;
  double written_at = 0;  // Unix seconds, the primary's clock_timestamp()
};

// The single row of HeartbeatWriteSql / HeartbeatReadSql; std::nullopt for no row.
// kProtocol for a missing column or an unparsable value.
Result<std::optional<Heartbeat>> ParseHeartbeatRow(const PgTable& rows);

// What one standby showed during a run. Times are on the exporter's steady clock, in seconds
// since the primary's commit of this run's heartbeat returned.
struct StandbyReading {
  std::string name;
  bool up = false;                   // connected, and every read answered
  std::optional<Heartbeat> newest;   // the newest heartbeat of this writer it showed
  std::optional<double> seen_after;  // when the read first showed this run's heartbeat
  double last_read_after = 0;        // when the last read that answered was sent
};

// Appends to `out`: the primary's write time, and per standby its up/visible state, the lag and
// the write time of the newest heartbeat it showed, plus one max_heartbeat_lag_seconds
// expectation per standby when `max_lag_seconds` is set.
// Lag: `seen_after` when this run's heartbeat became visible; otherwise, when an older heartbeat
// is visible, its age at the last read (written.written_at - newest.written_at +
// last_read_after): a lower bound that grows in real time while the standby does not replay.
// The expectation observes `seen_after` only: NaN (failed) when the heartbeat did not appear.
void InterpretHeartbeat(const std::string& cluster, const Heartbeat& written,
                        const std::vector<StandbyReading>& standbys,
                        std::optional<double> max_lag_seconds, ProbeResult& out);

}  // namespace dbcanary
