#pragma once

#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "probes/probe.h"
#include "probes/runtime/scheduler.h"

namespace dbcanary {

// Builds every probe the config enables, through the registry (which validates each
// probe's params). All or nothing: the first error is returned and nothing is kept.
Result<std::vector<ScheduledProbe>> BuildProbes(const Config& config,
                                                const ProbeRegistry& registry);

}  // namespace dbcanary
