#pragma once

#include <optional>
#include <string_view>

namespace dbcanary::kube {

// Kubernetes metav1.Time: RFC 3339 "2026-08-01T03:06:41Z", with optional fractional seconds
// and a numeric offset ("+02:00"). Returns Unix seconds; nullopt when malformed.
std::optional<double> ParseRfc3339(std::string_view text);

// Go time.Time.String(): "2026-10-30 12:00:00 +0000 UTC", optional fractional seconds, the
// zone abbreviation ignored (the numeric offset is authoritative), and a trailing monotonic
// reading ("m=+0.5") ignored. Returns Unix seconds; nullopt when malformed.
std::optional<double> ParseGoTimeString(std::string_view text);

}  // namespace dbcanary::kube
