#pragma once

#include <chrono>
#include <string>

#include "exporter/validate/checklist.h"

// `validate --report`'s summary.html: one self-contained page (no script, no external asset)
// with the verdict, every group's checks (humanised, the raw value on hover), links to the
// drills' HTML reports, and inline SVG plots of the figures a reviewer looks at first:
// heartbeat lag per standby, replica visibility, replay lag and backup ages.

namespace dbcanary {

std::string RenderChecklistHtml(const Checklist& checklist,
                                std::chrono::system_clock::time_point generated_at);

}  // namespace dbcanary
