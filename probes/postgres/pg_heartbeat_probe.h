#pragma once

#include <memory>
#include <stop_token>

#include "clients/pg/pg_session.h"
#include "core/deadline.h"
#include "core/result.h"
#include "probes/postgres/pg_heartbeat_rows.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_heartbeat", target: a postgres.clusters[] entry. Each run takes the roles from the
// cluster's topology resolution (probes/postgres/pg_topology_source.h), connects to every member
// that is not the primary now (in parallel, one thread each) and to the write endpoint (the
// cluster's read_write, else the primary found), upserts the writer's heartbeat row
// on the primary (seq + 1, written_at = clock_timestamp(), synchronous_commit = local so that it
// never waits for a synchronous standby), then reads the row on every standby until this run's
// sequence number appears or the deadline nears. Families: probes/postgres/pg_heartbeat_rows.h;
// documentation: docs/probes/pg_heartbeat.md.
// The run fails only when the primary write fails; an unreachable standby shows as
// dbcanary_pg_heartbeat_standby_up 0 and a failed max_heartbeat_lag_seconds expectation.
// Params: writer, schema, table, max_poll_interval, expect: { max_lag_seconds }.
Result<std::unique_ptr<Probe>> CreatePgHeartbeatProbe(const ProbeSettings& settings,
                                                      const Config& config);

// Creates `table` (and its schema when missing) on the connected primary unless it exists.
// Shared with pg_sync_commit, which keeps its row in a table of the same shape.
Status EnsureHeartbeatTable(PgSession& session, const HeartbeatTable& table, Deadline deadline,
                            std::stop_token stop);

// A standby read error that only means "not replayed here yet" (on the very first run the
// standby may not have replayed the CREATE TABLE when the first read arrives): a kQuery whose
// SQLSTATE is 42P01 (undefined_table) or 3F000 (invalid_schema_name).
bool IsNotReplayedYet(const Error& error);

// Reads the probe params common to pg_heartbeat and pg_sync_commit (writer, schema, table) into
// `table`, keeping its defaults for keys not set. Throws ConfigError on invalid names.
void ReadHeartbeatTableParams(YamlMap& params, HeartbeatTable& table);

}  // namespace dbcanary
