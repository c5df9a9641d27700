#pragma once

#include <string_view>

namespace dbcanary {

// Prometheus data model rules: [a-zA-Z_:][a-zA-Z0-9_:]* for metric names,
// [a-zA-Z_][a-zA-Z0-9_]* for label names, and no "__" prefix for label names.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace dbcanary
