#pragma once

#include <vector>

#include "core/families.h"
#include "drills/runtime/state_store.h"

namespace dbcanary {

// Describes the dbcanary_drill_* families, the expectation families the drills share with
// the probes (probes/runtime/expectation_metrics.h; already described when probes come
// first) and every drill's own families (Describe()).
void DescribeDrillMetrics(const std::vector<DrillState>& drills, FamilyBuilder& builder);

// Adds the samples of every drill: state families, the last run's own samples (only
// families the drill described) and its expectations, labelled with the drill's name
// when they name no target.
void AddDrillMetrics(const std::vector<DrillState>& drills, FamilyBuilder& builder);

}  // namespace dbcanary
