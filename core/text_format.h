#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/metric.h"

namespace dbcanary {

// Content-Type of the Prometheus text exposition format this renders.
inline constexpr std::string_view kTextFormatContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Appends families in the Prometheus text format 0.0.4: HELP and TYPE once per
// family, label values escaped, numbers rendered independently of the locale.
void AppendTextFormat(const std::vector<MetricFamily>& families, std::string& out);

// Renders a value: integers without exponent, NaN, +Inf, -Inf, otherwise
// the shortest text that reads back to the same double.
std::string FormatValue(double value);

// Escapes a label value (\\, \", \n) and a HELP text (\\, \n).
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);

// Groups samples by family name, keeping the order in which families are first
// described. Samples whose family has no description are dropped (a programmer
// error caught by tests), as are duplicate label sets (first one wins).
class FamilyBuilder {
 public:
  void Describe(const MetricDesc& desc);
  void Add(Sample sample);
  std::vector<MetricFamily> Take();

 private:
  // Render-path lookups stay O(1): a scrape holds hundreds of samples per family.
  std::vector<MetricFamily> families_;
  std::unordered_map<std::string, size_t> family_index_;
  std::vector<std::unordered_set<std::string>> seen_label_sets_;
};

}  // namespace dbcanary
