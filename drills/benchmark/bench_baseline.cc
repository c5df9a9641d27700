#include "drills/benchmark/bench_baseline.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/number_format.h"

namespace dbcanary::bench {
namespace {

std::optional<std::string> LabelValue(const Labels& labels, const std::string& name) {
  for (const auto& [key, value] : labels) {
    if (key == name) return value;
  }
  return std::nullopt;
}

bool HasLabels(const Labels& labels, const Labels& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const auto& label) {
    return LabelValue(labels, label.first) == label.second;
  });
}

// The run's recorded parameters equal `parameters` (same names, same values, no others).
bool SameParameters(const DrillRecord& record, const BaselineQuery& query,
                    const BenchParameters& parameters) {
  size_t seen = 0;
  for (const auto& sample : record.result.samples) {
    if (sample.name != query.parameter_family) continue;
    if (LabelValue(sample.labels, "target") != query.target) continue;
    auto name = LabelValue(sample.labels, "parameter");
    auto wanted = std::find_if(parameters.begin(), parameters.end(),
                               [&](const auto& parameter) { return parameter.first == name; });
    if (wanted == parameters.end() || wanted->second != sample.value) return false;
    ++seen;
  }
  return seen == parameters.size();
}

std::optional<double> RateOf(const DrillRecord& record, const BaselineQuery& query) {
  for (const auto& sample : record.result.samples) {
    if (sample.name == query.rate_family && HasLabels(sample.labels, query.leg_labels) &&
        std::isfinite(sample.value)) {
      return sample.value;
    }
  }
  return std::nullopt;
}

}  // namespace

void AddParameters(DrillResult& result, const std::string& family, const std::string& target,
                   const BenchParameters& parameters) {
  for (const auto& [name, value] : parameters) {
    result.Add(family, {{"target", target}, {"parameter", name}}, value);
  }
}

std::string ParametersText(const BenchParameters& parameters) {
  std::string text;
  for (const auto& [name, value] : parameters) {
    text += (text.empty() ? "" : ", ") + name + " " + FormatValue(value);
  }
  return text;
}

std::vector<double> PreviousRates(const std::vector<DrillRecord>& newest_first,
                                  const BaselineQuery& query, const BenchParameters& parameters,
                                  size_t keep) {
  std::vector<double> rates;
  for (const auto& record : newest_first) {
    if (rates.size() >= keep) break;
    if (record.outcome != DrillOutcome::kPass && record.outcome != DrillOutcome::kFail) continue;
    if (!SameParameters(record, query, parameters)) continue;
    if (auto rate = RateOf(record, query)) rates.push_back(*rate);
  }
  std::reverse(rates.begin(), rates.end());
  return rates;
}

size_t BaselineFilesToRead(size_t keep) { return 4 * keep + 4; }

}  // namespace dbcanary::bench
