#include "drills/drill.h"

#include <cstdlib>
#include <iostream>

namespace dbcanary {

void DrillRegistry::Add(std::string kind, DrillFactory factory) {
  for (const auto& [existing, unused] : factories_) {
    if (existing == kind) {
      std::cerr << "duplicate drill kind " << kind << "\n";
      std::abort();
    }
  }
  factories_.emplace_back(std::move(kind), std::move(factory));
}

Result<std::unique_ptr<Drill>> DrillRegistry::Create(const DrillSettings& settings,
                                                     const Config& config) const {
  for (const auto& [kind, factory] : factories_) {
    if (kind == settings.kind) return factory(settings, config);
  }
  std::string known;
  for (const auto& kind : Kinds()) known += (known.empty() ? "" : ", ") + kind;
  return MakeError(ErrorCode::kConfig, settings.params->path() + ": unknown drill \"" +
                                           settings.kind + "\" (known: " + known + ")");
}

std::vector<std::string> DrillRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, unused] : factories_) kinds.push_back(kind);
  return kinds;
}

}  // namespace dbcanary
