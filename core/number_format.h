#pragma once

#include <string>

namespace dbcanary {

// A number for people (reports, expectation texts, the drill CLI): integers without exponent,
// NaN, +Inf, -Inf, otherwise the shortest text that reads back to the same double, whatever
// the process locale. /metrics numbers are written by prometheus::TextSerializer instead.
std::string FormatValue(double value);

}  // namespace dbcanary
