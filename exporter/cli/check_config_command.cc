#include "config/secret.h"
#include "drills/runtime/drill_scheduler.h"
#include "exporter/cli/commands.h"
#include "probes/runtime/probe_builder.h"

namespace dbcanary {

int RunCheckConfigCommand(const ParsedArgs& args, const CliContext& context) {
  const std::string& path = args.positional.front();
  auto config = LoadConfigFile(path);
  if (!config) {
    context.err << RedactSecrets(config.error().message) << "\n";
    return kExitError;
  }
  // Building the probes runs each factory's strict reading of its params.
  auto probes = BuildProbes(**config, context.registry);
  if (!probes) {
    context.err << RedactSecrets(probes.error().message) << "\n";
    return kExitError;
  }
  // And every drill: unknown kinds, bad schedules and windows, the drills' own params.
  DrillRegistry drills;
  RegisterBuiltinDrills(drills);
  auto built = BuildDrills(**config, drills);
  if (!built) {
    context.err << RedactSecrets(built.error().message) << "\n";
    return kExitError;
  }
  context.out << path << ": OK (" << probes->size() << " probes";
  if ((*config)->drills) context.out << ", " << built->size() << " drills";
  context.out << ")\n";
  return kExitOk;
}

}  // namespace dbcanary
