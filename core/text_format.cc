#include "core/text_format.h"

#include <charconv>
#include <cmath>
#include <string>

namespace dbcanary {
namespace {

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

void AppendSample(const Sample& sample, std::string& out) {
  out += sample.name;
  if (!sample.labels.empty()) {
    out += '{';
    bool first = true;
    for (const auto& [name, value] : sample.labels) {
      if (!first) out += ',';
      first = false;
      out += name;
      out += "=\"";
      out += EscapeLabelValue(value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += FormatValue(sample.value);
  out += '\n';
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers (counts, bytes, integral timestamps) read best without an exponent.
  if (std::abs(value) < 1e15 && value == std::trunc(value)) {
    return std::to_string(static_cast<long long>(value));
  }
  // std::to_chars is locale-independent and gives the shortest round-trip form.
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
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

void AppendTextFormat(const std::vector<MetricFamily>& families, std::string& out) {
  for (const auto& family : families) {
    if (family.samples.empty()) continue;
    out += "# HELP ";
    out += family.desc.name;
    out += ' ';
    out += EscapeHelp(family.desc.help);
    out += "\n# TYPE ";
    out += family.desc.name;
    out += ' ';
    out += TypeName(family.desc.type);
    out += '\n';
    for (const auto& sample : family.samples) AppendSample(sample, out);
  }
}

void FamilyBuilder::Describe(const MetricDesc& desc) {
  if (family_index_.contains(desc.name)) return;
  family_index_.emplace(desc.name, families_.size());
  families_.push_back(MetricFamily{desc, {}});
  seen_label_sets_.emplace_back();
}

void FamilyBuilder::Add(Sample sample) {
  auto found = family_index_.find(sample.name);
  if (found == family_index_.end()) return;
  // NUL separates names and values: no configured name or label value contains one.
  std::string key;
  for (const auto& [name, value] : sample.labels) {
    key += name;
    key += '\0';
    key += value;
    key += '\0';
  }
  if (!seen_label_sets_[found->second].insert(std::move(key)).second) return;
  families_[found->second].samples.push_back(std::move(sample));
}

std::vector<MetricFamily> FamilyBuilder::Take() {
  family_index_.clear();
  seen_label_sets_.clear();
  return std::move(families_);
}

}  // namespace dbcanary
