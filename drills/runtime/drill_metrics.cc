#include "drills/runtime/drill_metrics.h"

#include "probes/runtime/expectation_metrics.h"

namespace dbcanary {
namespace {

using Type = MetricType;

const MetricDesc kLastRun{"dbcanary_drill_last_run_timestamp_seconds",
                          "Unix time at which the last run of the drill finished.", Type::kGauge};
const MetricDesc kLastSuccess{"dbcanary_drill_last_success_timestamp_seconds",
                              "Unix time at which the last passing run of the drill finished.",
                              Type::kGauge};
const MetricDesc kLastDuration{"dbcanary_drill_last_duration_seconds",
                               "How long the last run of the drill took, lock and cleanup "
                               "included, in seconds.",
                               Type::kGauge};
const MetricDesc kLastResult{"dbcanary_drill_last_result",
                             "1 for the result of the last run of the drill (pass, fail, error, "
                             "refused, stopped), 0 for the others.",
                             Type::kGauge};
const MetricDesc kRuns{"dbcanary_drill_runs_total",
                       "Finished runs of the drill since the exporter started, by result.",
                       Type::kCounter};
const MetricDesc kPhaseDuration{"dbcanary_drill_phase_duration_seconds",
                                "How long each phase of the last run of the drill took, in "
                                "seconds.",
                                Type::kGauge};
const MetricDesc kRunning{"dbcanary_drill_running",
                          "1 while the drill runs in this exporter, else 0.", Type::kGauge};
const MetricDesc kNextRun{"dbcanary_drill_next_run_timestamp_seconds",
                          "Unix time of the next scheduled run of the drill (absent when it is "
                          "not scheduled).",
                          Type::kGauge};
const MetricDesc kEnabled{"dbcanary_drill_enabled",
                          "1 if the drill is enabled for scheduled runs, else 0.", Type::kGauge};

}  // namespace

void DescribeDrillMetrics(const std::vector<DrillState>& drills, FamilyBuilder& builder) {
  for (const auto* desc : {&kLastRun, &kLastSuccess, &kLastDuration, &kLastResult, &kRuns,
                           &kPhaseDuration, &kRunning, &kNextRun, &kEnabled}) {
    builder.Describe(*desc);
  }
  DescribeExpectationFamilies(builder);
  for (const auto& drill : drills) {
    for (const auto& desc : drill.info.descriptors) builder.Describe(desc);
  }
}

void AddDrillMetrics(const std::vector<DrillState>& drills, FamilyBuilder& builder) {
  for (const auto& drill : drills) {
    Labels labels{{"drill", drill.info.name}};
    builder.Add({kEnabled.name, labels, drill.info.enabled ? 1.0 : 0.0});
    builder.Add({kRunning.name, labels, drill.running ? 1.0 : 0.0});
    if (drill.next_run) builder.Add({kNextRun.name, labels, ToUnixSeconds(*drill.next_run)});
    if (drill.last_success) {
      builder.Add({kLastSuccess.name, labels, ToUnixSeconds(*drill.last_success)});
    }
    for (auto outcome : kAllDrillOutcomes) {
      Labels with_result = labels;
      with_result.emplace_back("result", std::string(DrillOutcomeName(outcome)));
      builder.Add(
          {kRuns.name, with_result, static_cast<double>(drill.runs[static_cast<size_t>(outcome)])});
    }
    const DrillRecord* last = drill.last.get();
    if (last == nullptr) continue;
    builder.Add({kLastRun.name, labels, ToUnixSeconds(last->finished_at)});
    builder.Add({kLastDuration.name, labels, last->duration_seconds});
    for (auto outcome : kAllDrillOutcomes) {
      Labels with_result = labels;
      with_result.emplace_back("result", std::string(DrillOutcomeName(outcome)));
      builder.Add({kLastResult.name, with_result, last->outcome == outcome ? 1.0 : 0.0});
    }
    for (const auto& phase : last->result.phases) {
      Labels with_phase = labels;
      with_phase.emplace_back("phase", phase.name);
      builder.Add({kPhaseDuration.name, with_phase, phase.duration_seconds});
    }
    for (const auto& sample : last->result.samples) {
      for (const auto& desc : drill.info.descriptors) {
        if (desc.name == sample.name) {
          builder.Add(sample);
          break;
        }
      }
    }
    AddExpectationSamples(last->result.expectations, drill.info.name, builder);
  }
}

}  // namespace dbcanary
