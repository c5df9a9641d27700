#include "core/number_format.h"

#include <charconv>
#include <cmath>

namespace dbcanary {

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

}  // namespace dbcanary
