#include "probes/postgres/pg_heartbeat_rows.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dbcanary {
namespace {

// Quoted identifiers: the names are validated lower-case identifiers, quoting only keeps reserved
// words (e.g. a table called "table") working.
std::string Qualified(const HeartbeatTable& table) {
  return "\"" + table.schema + "\".\"" + table.table + "\"";
}

}  // namespace

const std::vector<MetricDesc>& HeartbeatMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {std::string(kPgHeartbeatWriteTimestamp),
       "Unix time (primary's clock) at which this run's heartbeat was written on the primary.",
       MetricType::kGauge},
      {std::string(kPgHeartbeatStandbyUp),
       "Whether the standby could be connected to and read during the last heartbeat run (1) or "
       "not (0).",
       MetricType::kGauge},
      {std::string(kPgHeartbeatVisible),
       "Whether the last heartbeat became visible on the standby before the run's deadline.",
       MetricType::kGauge},
      {std::string(kPgHeartbeatLag),
       "Seconds the last heartbeat took to become visible on the standby after its commit "
       "returned (exporter's clock); when it did not appear by the deadline, the age of the "
       "newest heartbeat visible there (a lower bound).",
       MetricType::kGauge},
      {std::string(kPgHeartbeatLastSeenWriteTimestamp),
       "Unix time (primary's clock) at which the newest heartbeat visible on the standby was "
       "written.",
       MetricType::kGauge},
  };
  return descs;
}

bool IsValidPgIdentifier(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
  for (char c : name) {
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool IsValidWriter(std::string_view writer) {
  if (writer.empty() || writer.size() > 63) return false;
  for (char c : writer) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string HeartbeatCheckSql(const HeartbeatTable& table) {
  return "SELECT to_regnamespace('\"" + table.schema + "\"') IS NOT NULL AS schema_exists, " +
         "to_regclass('" + Qualified(table) + "') IS NOT NULL AS table_exists";
}

std::string HeartbeatCreateSql(const HeartbeatTable& table, bool create_schema) {
  std::string sql =
      "BEGIN; SET LOCAL synchronous_commit = local; SET LOCAL client_min_messages = warning; ";
  if (create_schema) sql += "CREATE SCHEMA IF NOT EXISTS \"" + table.schema + "\"; ";
  sql += "CREATE TABLE IF NOT EXISTS " + Qualified(table) +
         " (writer text PRIMARY KEY, seq bigint NOT NULL, written_at timestamptz NOT NULL)"
         " WITH (fillfactor = 50); COMMIT;";
  return sql;
}

std::string HeartbeatWriteSql(const HeartbeatTable& table, std::string_view level) {
  return "BEGIN; SET LOCAL synchronous_commit = " + std::string(level) + "; INSERT INTO " +
         Qualified(table) + " AS h (writer, seq, written_at) VALUES ('" + table.writer +
         "', 1, clock_timestamp()) ON CONFLICT (writer) DO UPDATE SET seq = h.seq + 1, "
         "written_at = EXCLUDED.written_at RETURNING h.seq, "
         "extract(epoch FROM h.written_at) AS written_at_epoch, "
         "current_setting('synchronous_standby_names') AS standby_names; COMMIT;";
}

std::string HeartbeatReadSql(const HeartbeatTable& table) {
  return "SELECT seq, extract(epoch FROM written_at) AS written_at_epoch FROM " + Qualified(table) +
         " WHERE writer = $1";
}

Result<std::optional<Heartbeat>> ParseHeartbeatRow(const PgTable& rows) {
  if (rows.empty()) {
    // Still check the shape, so a wrong query is not mistaken for "nothing replayed yet".
    for (const char* column : {"seq", "written_at_epoch"}) {
      auto index = rows.ColumnIndex(column);
      if (!index) return index.error();
    }
    return std::optional<Heartbeat>();
  }
  if (rows.size() != 1) {
    return MakeError(ErrorCode::kProtocol,
                     "heartbeat read returned " + std::to_string(rows.size()) + " rows, want 1");
  }
  auto seq = rows.Number(0, "seq");
  if (!seq) return seq.error();
  auto written = rows.Number(0, "written_at_epoch");
  if (!written) return written.error();
  if (!seq->has_value() || !written->has_value() || !std::isfinite(**written)) {
    return MakeError(ErrorCode::kProtocol, "heartbeat row has a NULL or non-finite value");
  }
  return std::optional<Heartbeat>(Heartbeat{static_cast<int64_t>(**seq), **written});
}

void InterpretHeartbeat(const std::string& cluster, const Heartbeat& written,
                        const std::vector<StandbyReading>& standbys,
                        std::optional<double> max_lag_seconds, ProbeResult& out) {
  out.Add(std::string(kPgHeartbeatWriteTimestamp), {{"target", cluster}}, written.written_at);
  for (const auto& standby : standbys) {
    const Labels labels = {{"target", cluster}, {"standby", standby.name}};
    out.Add(std::string(kPgHeartbeatStandbyUp), labels, standby.up ? 1 : 0);
    out.Add(std::string(kPgHeartbeatVisible), labels, standby.seen_after ? 1 : 0);
    std::optional<double> lag = standby.seen_after;
    if (!lag && standby.newest) {
      lag = std::max(0.0, written.written_at - standby.newest->written_at) +
            std::max(0.0, standby.last_read_after);
    }
    if (lag) out.Add(std::string(kPgHeartbeatLag), labels, *lag);
    if (standby.newest) {
      out.Add(std::string(kPgHeartbeatLastSeenWriteTimestamp), labels, standby.newest->written_at);
    }
    if (max_lag_seconds) {
      out.expectations.push_back(
          ExpectNumber("max_heartbeat_lag_seconds", standby.name,
                       standby.seen_after.value_or(std::numeric_limits<double>::quiet_NaN()),
                       "<=", *max_lag_seconds));
    }
  }
}

}  // namespace dbcanary
