#pragma once

#include <memory>

#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_replication", target: a postgres.clusters[] entry. Each run connects to the
// configured primary, reads its role and pg_stat_replication in one query, closes the
// connection and reports per-standby streaming, sync state and lag (probes/postgres/
// pg_replication_rows.h lists the families), plus expectations from the cluster's `expect:`.
// Params: none besides interval/timeout; any other key is a config error.
Result<std::unique_ptr<Probe>> CreatePgReplicationProbe(const ProbeSettings& settings,
                                                        const Config& config);

}  // namespace dbcanary
