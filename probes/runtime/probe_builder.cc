#include "probes/runtime/probe_builder.h"

#include <exception>
#include <string>

namespace dbcanary {
namespace {

Result<std::unique_ptr<Probe>> Create(const ProbeSettings& settings, const Config& config,
                                      const ProbeRegistry& registry) {
  try {
    return registry.Create(settings, config);
  } catch (const std::exception& error) {
    // A factory reports through its Result; still, no config may crash the exporter.
    return MakeError(ErrorCode::kInternal, "building probe " + settings.kind + " on target " +
                                               settings.target + ": " + error.what());
  }
}

}  // namespace

Result<std::vector<ScheduledProbe>> BuildProbes(const Config& config,
                                                const ProbeRegistry& registry) {
  std::vector<ScheduledProbe> probes;
  for (const ProbeSettings* settings : config.AllProbes()) {
    auto created = Create(*settings, config, registry);
    if (!created) return created.error();
    auto info = std::make_shared<ProbeInfo>();
    info->key = ProbeKey{settings->kind, settings->target};
    info->interval = settings->interval;
    info->timeout = settings->timeout;
    info->descriptors = (*created)->Describe();
    probes.push_back(ScheduledProbe{std::move(info), std::move(created).value()});
  }
  return probes;
}

}  // namespace dbcanary
