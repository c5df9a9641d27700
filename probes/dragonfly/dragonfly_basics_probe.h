#pragma once

#include "probes/probe.h"

namespace dbcanary {

Result<std::unique_ptr<Probe>> CreateDragonflyBasicsProbe(const ProbeSettings& settings, const Config& config);

}  // namespace dbcanary
