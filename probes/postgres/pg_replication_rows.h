#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "config/config.h"
#include "core/metric.h"
#include "core/result.h"
#include "probes/probe.h"

// The pure half of the pg_replication probe: the query it sends and the interpretation of its
// rows into samples and expectations. Kept apart from the network half so that every row shape
// (NULL lags, a missing standby, catchup, duplicates) is unit-tested without a server.

namespace dbcanary {

// One round trip to the primary: its role, and one row per physical WAL sender with its LSN
// distances from the current WAL position and its lag times. A LEFT JOIN keeps one row (with
// NULL walsender columns) when no standby is connected. Logical WAL senders (replication slots
// of type logical, e.g. CDC consumers) are not standbys and are left out.
// Columns: in_recovery, walsender_pid, application_name, state, sync_state,
// {sent,write,flush,replay}_lag_bytes, {write,flush,replay}_lag_seconds.
extern const std::string kReplicationQuery;

// Metric names of the pg_replication probe.
inline constexpr std::string_view kPgReplicationStreaming = "dbcanary_pg_replication_streaming";
inline constexpr std::string_view kPgReplicationSyncState = "dbcanary_pg_replication_sync_state";
inline constexpr std::string_view kPgReplicationLagBytes = "dbcanary_pg_replication_lag_bytes";
inline constexpr std::string_view kPgReplicationLagSeconds = "dbcanary_pg_replication_lag_seconds";
inline constexpr std::string_view kPgReplicationStreamingStandbys =
    "dbcanary_pg_replication_streaming_standbys";
inline constexpr std::string_view kPgReplicationSyncStandbys =
    "dbcanary_pg_replication_sync_standbys";

// HELP/TYPE of every family above.
const std::vector<MetricDesc>& ReplicationMetricDescs();

// What one run knows about the cluster: the standbys are the members the topology resolution did
// not find primary (probes/postgres/pg_topology.h).
struct ReplicationTopology {
  std::string cluster;                // label target
  std::vector<std::string> standbys;  // members other than the primary (their application_name)
  PgClusterExpect expect;             // declared targets; each set one becomes an expectation
};

// Appends to `out` the samples and expectations that the rows of kReplicationQuery imply.
// Errors: kProtocol for a missing column, an unparsable number or no row at all; kAuth when
// pg_stat_replication hides its details (the role lacks pg_monitor / pg_read_all_stats);
// kUnexpected when the server answered in recovery (the roles changed since they were resolved).
// On error `out` is left unchanged.
Status InterpretReplicationRows(const ReplicationTopology& topology, const PgTable& rows,
                                ProbeResult& out);

}  // namespace dbcanary
