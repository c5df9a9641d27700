#include "core/families.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "core/names.h"

namespace dbcanary {

prometheus::MetricType ToPrometheusType(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return prometheus::MetricType::Gauge;
    case MetricType::kCounter:
      return prometheus::MetricType::Counter;
    case MetricType::kUntyped:
      return prometheus::MetricType::Untyped;
  }
  return prometheus::MetricType::Untyped;
}

std::string EscapeHelp(std::string_view help) {
  std::string escaped;
  escaped.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

void SetValue(prometheus::MetricType type, double value, prometheus::ClientMetric& metric) {
  switch (type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Untyped:
      metric.untyped.value = value;
      break;
    default:
      metric.gauge.value = value;
  }
}

bool FamilyBuilder::Describe(const MetricDesc& desc) {
  if (!IsValidMetricName(desc.name) || refused_.contains(desc.name)) return false;
  if (family_index_.contains(desc.name)) return true;
  family_index_.emplace(desc.name, families_.size());
  families_.push_back({desc.name, EscapeHelp(desc.help), ToPrometheusType(desc.type), {}});
  seen_label_sets_.emplace_back();
  return true;
}

void FamilyBuilder::Refuse(std::string_view name) { refused_.emplace(name); }

void FamilyBuilder::Add(const Sample& sample) {
  auto found = family_index_.find(sample.name);
  if (found == family_index_.end()) return;
  // NUL separates names and values: no configured name or label value contains one.
  std::string key;
  for (const auto& [name, value] : sample.labels) {
    if (!IsValidLabelName(name)) return;
    key += name;
    key += '\0';
    key += value;
    key += '\0';
  }
  if (!seen_label_sets_[found->second].insert(std::move(key)).second) return;
  prometheus::MetricFamily& family = families_[found->second];
  prometheus::ClientMetric& metric = family.metric.emplace_back();
  metric.label.reserve(sample.labels.size());
  for (const auto& [name, value] : sample.labels) {
    metric.label.push_back({name, value});
  }
  SetValue(family.type, sample.value, metric);
}

std::vector<prometheus::MetricFamily> FamilyBuilder::Take() {
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families_.size());
  for (auto& family : families_) {
    if (!family.metric.empty()) out.push_back(std::move(family));
  }
  families_.clear();
  family_index_.clear();
  seen_label_sets_.clear();
  return out;
}

void AppendText(const std::vector<prometheus::MetricFamily>& families, std::string& out) {
  std::ostringstream stream;
  static const prometheus::TextSerializer kSerializer;
  bool any_empty = false;
  for (const auto& family : families) any_empty = any_empty || family.metric.empty();
  if (!any_empty) {
    kSerializer.Serialize(stream, families);
  } else {
    std::vector<prometheus::MetricFamily> filled;
    for (const auto& family : families) {
      if (!family.metric.empty()) filled.push_back(family);
    }
    kSerializer.Serialize(stream, filled);
  }
  out += std::move(stream).str();
}

}  // namespace dbcanary
