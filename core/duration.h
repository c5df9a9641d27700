#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dbcanary {

// Parses "250ms", "5s", "2m", "1h", "1h30m" (Go/Prometheus style). No bare numbers.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Renders a duration the way ParseDuration reads it ("1m30s", "250ms").
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace dbcanary
