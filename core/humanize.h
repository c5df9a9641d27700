#pragma once

#include <string>
#include <string_view>

namespace dbcanary {

// What a number measures, so a person can be shown "365 d" or "8.0 ms" instead of the raw
// value. The raw value stays in /metrics and in JSON.
enum class Unit {
  kNone,       // a count or a plain number
  kSeconds,    // a duration or an age; negative for "in the past" (an expired certificate)
  kBytes,      // binary prefixes: KiB, MiB, GiB, TiB
  kPerSecond,  // a rate: transactions or operations per second
  kRatio,      // a fraction shown as a percentage: 0.05 -> "5.0 %"
};

std::string_view UnitName(Unit unit);  // "none" | "seconds" | "bytes" | "per_second" | "ratio"

// "8.0 ms", "12.5 s", "4.0 min", "3.5 h", "365 d"; "unknown" for NaN, "∞" for infinities.
std::string HumanDuration(double seconds);
// "512 B", "1.5 KiB", "16.0 MiB", "2.0 GiB".
std::string HumanBytes(double bytes);
// "850 /s", "52.1 k/s", "1.2 M/s".
std::string HumanRate(double per_second);
// "5.0 %".
std::string HumanRatio(double ratio);
// Integers as integers ("3"), anything else with four significant digits ("0.1235").
std::string HumanNumber(double value);
// The one of the above that `unit` calls for.
std::string Humanize(double value, Unit unit);

}  // namespace dbcanary
