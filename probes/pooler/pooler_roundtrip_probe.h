#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "pooler_roundtrip", target: a poolers[] entry. Each run connects through the pooler with
// the tenant's credentials and runs a trivial read, timing every phase. Nothing carries session
// state from one statement to the next, so it is safe through a transaction-mode pooler; no
// startup `options` are sent, since PgBouncer refuses parameters it does not know.
// Params: none besides interval/timeout; any other key is a config error.
Result<std::unique_ptr<Probe>> CreatePoolerRoundtripProbe(const ProbeSettings& settings,
                                                          const Config& config);

inline constexpr std::string_view kPoolerPhaseSeconds = "dbcanary_pooler_roundtrip_phase_seconds";
inline constexpr std::string_view kPoolerPhaseSuccess = "dbcanary_pooler_roundtrip_phase_success";

// HELP/TYPE of the pooler_roundtrip families.
const std::vector<MetricDesc>& PoolerRoundtripMetricDescs();

// The phases of one run, in order. "connect" is TCP + TLS + authentication against PgBouncer;
// every later phase is one statement on that connection.
const std::vector<std::string_view>& PoolerRoundtripPhases();

// What happened in one phase of a run.
struct PhaseOutcome {
  std::string_view phase;
  bool reached = false;
  bool success = false;
  double seconds = 0;  // time spent in the phase, also when it failed
};

// Appends both families for every phase in `outcomes`: a phase not reached reports 0 seconds
// and success 0, so every series exists after the first run.
void AppendPhaseSamples(const std::string& target, const std::vector<PhaseOutcome>& outcomes,
                        ProbeResult& out);

}  // namespace dbcanary
