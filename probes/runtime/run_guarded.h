#pragma once

#include <chrono>
#include <stop_token>

#include "probes/probe.h"

namespace spdlog {
class logger;
}

namespace dbcanary {

// One run of `probe` with the guards every caller needs (the scheduler and `validate`), so a
// misbehaving probe looks the same in /metrics and in the checklist: a deadline `timeout` from
// now, `stop` passed through, an escaped exception turned into a failed result (kInternal), a
// failure without an error given one (the `reason` label needs a code), and duration_seconds
// and finished_at filled in.
ProbeResult RunGuarded(Probe& probe, std::chrono::milliseconds timeout, std::stop_token stop,
                       spdlog::logger& log);

}  // namespace dbcanary
