#pragma once

#include <string_view>
#include <vector>

#include "core/families.h"
#include "probes/probe.h"

namespace dbcanary {

// The expectations of every probe and every drill share two families,
// dbcanary_expectation_pass{check, target} and dbcanary_expectation_threshold{check, target},
// so one alert rule and one dashboard query cover all declared targets. Both the exporter's
// /metrics rendering and the drills' metrics go through here, which keeps the labels and the
// threshold rule identical for both.

// Describes both families. FamilyBuilder ignores a second description, so callers that render
// probes and drills together may each call it.
void DescribeExpectationFamilies(FamilyBuilder& builder);

// Adds one dbcanary_expectation_pass sample (1 met, 0 not) per expectation, plus its
// dbcanary_expectation_threshold sample when the threshold is numeric. `run_target` is the
// target of the probe or drill run: the label of an expectation that names none.
void AddExpectationSamples(const std::vector<ExpectationResult>& expectations,
                           std::string_view run_target, FamilyBuilder& builder);

}  // namespace dbcanary
