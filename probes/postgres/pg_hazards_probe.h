#pragma once

#include <memory>

#include "probes/probe.h"

namespace dbcanary {

// Kind "pg_hazards", target: a postgres.clusters[] entry. Each run connects to the member that is
// primary now and reads, in three queries (probes/postgres/pg_hazards_rows.h), what every
// PostgreSQL on-call team pages on before clients feel it: transaction ID and multixact
// wraparound age, replication slots (inactive ones holding WAL, WAL retained), the WAL archive
// backlog, connection headroom (the cluster's and each limited role's) and the oldest open and
// idle-in-transaction sessions (docs/probes/pg_hazards.md).
// Params: expect: { max_xid_age, max_multixact_age, max_inactive_slots,
// max_slot_retained_wal_bytes, max_archive_ready_segments, max_archive_ready_age_seconds,
// max_connections_used_ratio, max_transaction_age_seconds, max_idle_in_transaction_seconds },
// each optional with a default (docs/configuration.md).
Result<std::unique_ptr<Probe>> CreatePgHazardsProbe(const ProbeSettings& settings,
                                                    const Config& config);

}  // namespace dbcanary
