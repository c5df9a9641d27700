#include "core/humanize.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace dbcanary {
namespace {

// NaN and infinities first, so every formatter below only sees finite values.
bool NotFinite(double value, std::string& out) {
  if (std::isnan(value)) {
    out = "unknown";
    return true;
  }
  if (std::isinf(value)) {
    out = value > 0 ? "∞" : "-∞";
    return true;
  }
  return false;
}

// printf-style, for the few shapes below (core links no formatting library).
std::string Print(const char* format, double value, std::string_view suffix = {}) {
  char buffer[64];
  int length = std::snprintf(buffer, sizeof(buffer), format, value);
  std::string out(buffer, length > 0 ? static_cast<size_t>(length) : 0);
  if (!suffix.empty()) out.append(" ").append(suffix);
  return out;
}

// One decimal below 10 of the unit, none above: "8.0 ms", "365 d".
std::string Scaled(double value, std::string_view suffix) {
  return Print(std::fabs(value) < 10 ? "%.1f" : "%.0f", value, suffix);
}

}  // namespace

std::string_view UnitName(Unit unit) {
  switch (unit) {
    case Unit::kNone:
      return "none";
    case Unit::kSeconds:
      return "seconds";
    case Unit::kBytes:
      return "bytes";
    case Unit::kPerSecond:
      return "per_second";
    case Unit::kRatio:
      return "ratio";
  }
  return "none";
}

std::string HumanDuration(double seconds) {
  std::string out;
  if (NotFinite(seconds, out)) return out;
  const double magnitude = std::fabs(seconds);
  if (magnitude == 0) return "0 s";
  if (magnitude < 1e-3) return Scaled(seconds * 1e6, "µs");
  if (magnitude < 1) return Scaled(seconds * 1e3, "ms");
  if (magnitude < 120) return Scaled(seconds, "s");
  if (magnitude < 2 * 3600) return Scaled(seconds / 60, "min");
  if (magnitude < 2 * 86400) return Scaled(seconds / 3600, "h");
  return Scaled(seconds / 86400, "d");
}

std::string HumanBytes(double bytes) {
  std::string out;
  if (NotFinite(bytes, out)) return out;
  constexpr std::string_view kPrefixes[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (std::fabs(bytes) < 1024) return Print("%.0f", bytes, "B");
  double scaled = bytes;
  std::string_view prefix;
  for (std::string_view next : kPrefixes) {
    scaled /= 1024;
    prefix = next;
    if (std::fabs(scaled) < 1024) break;
  }
  return Print("%.1f", scaled, prefix);
}

std::string HumanRate(double per_second) {
  std::string out;
  if (NotFinite(per_second, out)) return out;
  const double magnitude = std::fabs(per_second);
  if (magnitude < 1000) return HumanNumber(std::round(per_second * 10) / 10) + " /s";
  if (magnitude < 1e6) return Print("%.1f", per_second / 1e3, "k/s");
  return Print("%.1f", per_second / 1e6, "M/s");
}

std::string HumanRatio(double ratio) {
  std::string out;
  if (NotFinite(ratio, out)) return out;
  return Print("%.1f", ratio * 100, "%");
}

std::string HumanNumber(double value) {
  std::string out;
  if (NotFinite(value, out)) return out;
  if (value == std::trunc(value) && std::fabs(value) < 1e15) return Print("%.0f", value);
  return Print("%.4g", value);
}

std::string Humanize(double value, Unit unit) {
  switch (unit) {
    case Unit::kSeconds:
      return HumanDuration(value);
    case Unit::kBytes:
      return HumanBytes(value);
    case Unit::kPerSecond:
      return HumanRate(value);
    case Unit::kRatio:
      return HumanRatio(value);
    case Unit::kNone:
      break;
  }
  return HumanNumber(value);
}

}  // namespace dbcanary
