#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_instance", target: a postgres.clusters[] entry. Each run connects to every instance
// (primary and standbys, one connection each, one query each) and reports its version,
// timeline, postmaster start time, system identifier and recovery state (docs/probes/
// pg_instance.md). Params: `expect: { primaries: N }` (optional).
Result<std::unique_ptr<Probe>> CreatePgInstanceProbe(const ProbeSettings& settings,
                                                     const Config& config);

inline constexpr std::string_view kPgServerUp = "dbcanary_pg_server_up";
inline constexpr std::string_view kPgServerInfo = "dbcanary_pg_server_info";
inline constexpr std::string_view kPgServerVersionNum = "dbcanary_pg_server_version_num";
inline constexpr std::string_view kPgInRecovery = "dbcanary_pg_in_recovery";
inline constexpr std::string_view kPgTimelineId = "dbcanary_pg_timeline_id";
inline constexpr std::string_view kPgPostmasterStart =
    "dbcanary_pg_postmaster_start_timestamp_seconds";

// The one query run on every instance. A standby reports the timeline it receives
// (pg_stat_wal_receiver.received_tli), falling back to its last restartpoint's timeline when no
// WAL receiver runs; a primary reports its last checkpoint's timeline.
inline constexpr char kPgInstanceQuery[] =
    "SELECT current_setting('server_version') AS version,"
    " current_setting('server_version_num') AS version_num,"
    " pg_is_in_recovery() AS in_recovery,"
    " extract(epoch FROM pg_postmaster_start_time()) AS start_time,"
    " (SELECT system_identifier FROM pg_control_system()) AS system_identifier,"
    " CASE WHEN pg_is_in_recovery()"
    " THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver),"
    " (SELECT timeline_id FROM pg_control_checkpoint()))"
    " ELSE (SELECT timeline_id FROM pg_control_checkpoint()) END AS timeline";

// What one instance said (or that it did not answer).
struct InstanceFacts {
  std::string server;  // configured instance name
  bool up = false;
  std::string version;     // "15.18": the first word of server_version
  double version_num = 0;  // 150018
  bool in_recovery = false;
  double timeline = 0;
  double start_time = 0;          // Unix seconds
  std::string system_identifier;  // decimal text (a uint64 does not fit a double)
};

const std::vector<MetricDesc>& InstanceMetricDescs();

// Reads the single row of kPgInstanceQuery into `facts` (server and up stay as they are).
Status ParseInstanceRow(const PgTable& table, InstanceFacts& facts);

// Samples of every instance and the expectations `consistent_system_id` (always) and
// `primaries` (when declared), about the cluster `target`.
void ReportInstanceFacts(const std::string& target, const std::vector<InstanceFacts>& facts,
                         std::optional<int64_t> expect_primaries, ProbeResult& result);

}  // namespace dbcanary
