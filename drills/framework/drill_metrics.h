#pragma once

#include <string_view>
#include <vector>

#include "drills/framework/state_store.h"
#include "exporter/core/text_format.h"

namespace dbcanary {

// Describes the dbcanary_drill_* families and every drill's own families (Describe()).
void DescribeDrillMetrics(const std::vector<DrillState>& drills, FamilyBuilder& builder);

// Adds the samples of every drill: state families, the last run's own samples (only
// families the drill described) and its expectations into the two expectation families,
// whose names the caller passes (it owns their description).
void AddDrillMetrics(const std::vector<DrillState>& drills, FamilyBuilder& builder,
                     std::string_view expectation_pass, std::string_view expectation_threshold);

}  // namespace dbcanary
