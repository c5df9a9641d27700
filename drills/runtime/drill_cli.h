#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "drills/drill.h"

namespace dbcanary {

struct DrillCliOptions {
  std::string config_path;
  std::string drill;  // the configured kind
  // A logger for the drill; the daemon's CLI configures its redacting logging from the
  // config first.
  std::function<std::shared_ptr<spdlog::logger>(const Config&, std::string_view drill)> make_logger;
};

// `dbcanary drill NAME --config FILE`: runs the drill now (enabled or not, regardless of its
// schedule and window) under the drill lock, printing timestamped progress lines and a
// summary (phases, figures, expectations, report path) to `out`. SIGINT/SIGTERM stop the
// drill, which then cleans up. Returns 0 pass, 1 fail/error/refused/stopped, 2 config error.
int RunDrillFromCli(const DrillCliOptions& options, const DrillRegistry& registry,
                    std::ostream& out, std::ostream& err);

}  // namespace dbcanary
