#include "probes/runtime/expectation_metrics.h"

#include <cmath>
#include <string>

namespace dbcanary {
namespace {

const MetricDesc kExpectationPass{"dbcanary_expectation_pass",
                                  "1 if the declared expectation held at the last run of its "
                                  "probe, 0 if not.",
                                  MetricType::kGauge};
const MetricDesc kExpectationThreshold{"dbcanary_expectation_threshold",
                                       "The declared threshold of the expectation, in the unit "
                                       "of the value it is compared with.",
                                       MetricType::kGauge};

}  // namespace

void DescribeExpectationFamilies(FamilyBuilder& builder) {
  builder.Describe(kExpectationPass);
  builder.Describe(kExpectationThreshold);
}

void AddExpectationSamples(const std::vector<ExpectationResult>& expectations,
                           std::string_view run_target, FamilyBuilder& builder) {
  for (const auto& expectation : expectations) {
    Labels labels{{"check", expectation.check},
                  {"target", std::string(expectation.TargetOr(run_target))}};
    builder.Add({kExpectationPass.name, labels, expectation.pass ? 1.0 : 0.0});
    // ExpectText leaves the threshold NaN: a textual target has no number to chart.
    if (!std::isnan(expectation.threshold)) {
      builder.Add({kExpectationThreshold.name, std::move(labels), expectation.threshold});
    }
  }
}

}  // namespace dbcanary
