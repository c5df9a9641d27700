#pragma once

#include <memory>

#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_sync_commit", target: a postgres.clusters[] entry. Each run connects to the write
// endpoint (the cluster's read_write, else the member its topology resolution found primary:
// probes/postgres/pg_topology_source.h) and, in one round trip, upserts the writer's row in its own
// table inside a transaction with SET LOCAL synchronous_commit = `level` (on | remote_write |
// remote_apply), timing until the COMMIT is acknowledged. With no synchronous standby the COMMIT
// waits: at the run's deadline the probe sends a cancel request for the waiting backend and closes
// the connection (the backend then ends: nothing stays idle in transaction or waiting), and the run
// fails with kTimeout. Families: probes/postgres/pg_sync_commit_rows.h; documentation:
// docs/probes/pg_sync_commit.md. Params: writer, schema, table, level.
Result<std::unique_ptr<Probe>> CreatePgSyncCommitProbe(const ProbeSettings& settings,
                                                       const Config& config);

}  // namespace dbcanary
