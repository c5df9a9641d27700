#pragma once

#include <string>
#include <vector>

#include "exporter/daemon/result_store.h"

namespace dbcanary {

struct Readiness {
  bool ready = false;
  std::string text;  // "ready", or which probes have not produced a result yet
};

// Ready once every configured probe has finished at least one run (a config
// without probes is ready at once).
Readiness CheckReadiness(const std::vector<ProbeSnapshot>& probes);

// The small HTML landing page of GET /: version, links, one row per probe.
std::string LandingPage(const std::vector<ProbeSnapshot>& probes);

// Escapes text for HTML element content and attribute values.
std::string EscapeHtml(std::string_view text);

}  // namespace dbcanary
