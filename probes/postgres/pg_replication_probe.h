#pragma once

#include <memory>

#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_replication", target: a postgres.clusters[] entry. Each run takes the cluster's roles
// from its topology resolution (probes/postgres/pg_topology_source.h) and reports them (per
// member dbcanary_pg_is_primary, the number of primaries, primary changes; expectations
// has_primary and no_split_brain), then connects to the member that is primary now, reads
// pg_stat_replication in one query and reports per-standby streaming, sync state and lag
// (probes/postgres/pg_replication_rows.h lists the families), plus expectations from the
// cluster's `expect:`.
// Params: none besides interval/timeout; any other key is a config error.
Result<std::unique_ptr<Probe>> CreatePgReplicationProbe(const ProbeSettings& settings,
                                                        const Config& config);

}  // namespace dbcanary
