#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "pooler_roundtrip", target: a poolers[] entry. Each run connects through the pooler as an
// application does (the tenant's role, password, database and TLS settings; no startup `options`,
// which PgBouncer refuses) and times every phase:
//   connect         TCP + TLS + authentication against PgBouncer
//   read            SELECT 1
//   write           (rw poolers) INSERT a row with a fresh random token into the probe's own
//                   table and DELETE it again, in one implicit transaction (one simple-protocol
//                   message), so the commit goes through synchronous replication and nothing is
//                   left behind. The table is created (owned by the tenant role) when missing.
//   readonly_check  (ro poolers) SELECT pg_is_in_recovery(), transaction_read_only: the
//                   expectation `pooler_routes_to_standby` fails when a ro pooler reaches the
//                   primary; the run itself still succeeds (the measurement worked).
// Every statement stands alone: nothing relies on session state, so transaction mode is safe.
// Params: `write` (bool, default true on rw poolers; refused on ro poolers) and `table` (the
// write table, default dbcanary_pooler_probe; [schema.]name in lower case).
Result<std::unique_ptr<Probe>> CreatePoolerRoundtripProbe(const ProbeSettings& settings,
                                                          const Config& config);

inline constexpr std::string_view kPoolerPhaseSeconds = "dbcanary_pooler_roundtrip_phase_seconds";
inline constexpr std::string_view kPoolerPhaseSuccess = "dbcanary_pooler_roundtrip_phase_success";
inline constexpr std::string_view kPoolerServerInRecovery =
    "dbcanary_pooler_roundtrip_server_in_recovery";
inline constexpr std::string_view kPoolerServerReadOnly =
    "dbcanary_pooler_roundtrip_server_read_only";
// Always 1; names the PostgreSQL cluster (`postgres_cluster`, the pooler's configured cluster)
// and the pooler `type` (rw, ro), so alerts on the pooler can be routed and inhibited by cluster.
inline constexpr std::string_view kPoolerInfo = "dbcanary_pooler_info";

// HELP/TYPE of the pooler_roundtrip families.
const std::vector<MetricDesc>& PoolerRoundtripMetricDescs();

// The phases of one run, in order: connect, read, then write (rw pooler with writes enabled) or
// readonly_check (ro pooler).
std::vector<std::string_view> PoolerRoundtripPhases(PoolerType type, bool write);

// What happened in one phase of a run.
struct PhaseOutcome {
  std::string_view phase;
  bool reached = false;
  bool success = false;
  double seconds = 0;  // time spent in the phase, also when it failed
};

// The dbcanary_pooler_info sample of a pooler.
void AppendPoolerInfo(const std::string& target, const std::string& cluster, PoolerType type,
                      ProbeResult& out);

// Appends both families for every phase in `outcomes`: a phase not reached reports 0 seconds
// and success 0, so every series exists after the first run.
void AppendPhaseSamples(const std::string& target, const std::vector<PhaseOutcome>& outcomes,
                        ProbeResult& out);

// Whether `table` is an acceptable write table name: [schema.]name, lower-case identifiers.
bool IsValidProbeTableName(std::string_view table);

}  // namespace dbcanary
