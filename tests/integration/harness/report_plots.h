#pragma once

#include <string>

#include "drills/drill.h"

namespace dbcanary::testing {

// Writes `result` as drill `drill`'s report (JSON, Markdown, HTML) into a fresh directory, then
// checks the HTML page against the JSON file: every recorded series point is one SVG point of
// its plot, every event a marker. The page is copied to ArtifactsDir() as `<artifact>.html`
// (tests/screenshots.sh photographs it for CI). Returns the HTML path.
// <build>/artifacts: the evidence pages and screenshots CI keeps.
std::string ArtifactsDir();

std::string ExpectHtmlPlotsMatchJson(const std::string& drill, const DrillResult& result,
                                     const std::string& artifact);

}  // namespace dbcanary::testing
