#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dbcanary {

enum class MetricType { kGauge, kCounter, kUntyped };

// One label name/value pair. Label sets are small (<= 5), so a vector beats a map.
using Labels = std::vector<std::pair<std::string, std::string>>;

// The description of a metric family: name, help text, type and the label names
// every sample of it carries. Probes declare these next to the code that fills them.
struct MetricDesc {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
};

// One sample of a family. Probes and drills write these into their results; the /metrics
// collector (exporter/metrics/render.h) turns them into prometheus-cpp families.
struct Sample {
  std::string name;  // family name (MetricDesc::name)
  Labels labels;
  double value = 0;
};

}  // namespace dbcanary
