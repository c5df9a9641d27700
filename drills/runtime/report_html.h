#pragma once

#include <string>

#include "drills/runtime/record.h"

// The drill report as one self-contained HTML page (no script, no external asset): the run's
// summary, targets, figures and phases, and its series (DrillResult::series) drawn as inline
// SVG plots. Written beside the JSON and Markdown reports.

namespace dbcanary {

std::string RecordToHtml(const DrillRecord& record);

// The plot label of one series: its name and label values, e.g. "rate path=direct".
std::string SeriesLabel(const DrillSeries& series);

}  // namespace dbcanary
