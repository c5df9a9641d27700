#include "clients/kube/time.h"

#include <cctype>
#include <chrono>

namespace dbcanary::kube {
namespace {

// Reads exactly `digits` decimal digits at `pos`.
bool Digits(std::string_view text, size_t& pos, int digits, int& out) {
  if (pos + static_cast<size_t>(digits) > text.size()) return false;
  out = 0;
  for (int i = 0; i < digits; ++i) {
    char c = text[pos++];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

// "YYYY-MM-DD<sep>hh:mm:ss[.frac]" -> seconds since epoch in UTC (without offset).
std::optional<double> DateTime(std::string_view text, size_t& pos, char separator) {
  int year, month, day, hour, minute, second;
  if (!Digits(text, pos, 4, year) || !Expect(text, pos, '-') || !Digits(text, pos, 2, month) ||
      !Expect(text, pos, '-') || !Digits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (pos >= text.size() || (text[pos] != separator && !(separator == 'T' && text[pos] == 't'))) {
    return std::nullopt;
  }
  ++pos;
  if (!Digits(text, pos, 2, hour) || !Expect(text, pos, ':') || !Digits(text, pos, 2, minute) ||
      !Expect(text, pos, ':') || !Digits(text, pos, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  using namespace std::chrono;
  year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                      std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  double seconds = static_cast<double>(sys_days(date).time_since_epoch().count()) * 86400.0 +
                   hour * 3600.0 + minute * 60.0 + second;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    double scale = 0.1;
    size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      seconds += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  return seconds;
}

// "+hh:mm" / "-hh:mm" (colon optional) -> offset seconds.
std::optional<int> Offset(std::string_view text, size_t& pos, bool colon) {
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return std::nullopt;
  int sign = text[pos++] == '-' ? -1 : 1;
  int hours, minutes;
  if (!Digits(text, pos, 2, hours)) return std::nullopt;
  if (colon && !Expect(text, pos, ':')) return std::nullopt;
  if (!Digits(text, pos, 2, minutes)) return std::nullopt;
  return sign * (hours * 3600 + minutes * 60);
}

}  // namespace

std::optional<double> ParseRfc3339(std::string_view text) {
  size_t pos = 0;
  auto seconds = DateTime(text, pos, 'T');
  if (!seconds) return std::nullopt;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else {
    auto offset = Offset(text, pos, true);
    if (!offset) return std::nullopt;
    *seconds -= *offset;
  }
  if (pos != text.size()) return std::nullopt;
  return seconds;
}

std::optional<double> ParseGoTimeString(std::string_view text) {
  size_t pos = 0;
  auto seconds = DateTime(text, pos, ' ');
  if (!seconds || !Expect(text, pos, ' ')) return std::nullopt;
  auto offset = Offset(text, pos, false);
  if (!offset) return std::nullopt;
  *seconds -= *offset;
  if (pos == text.size()) return seconds;
  if (!Expect(text, pos, ' ')) return std::nullopt;
  // Zone abbreviation ("UTC", "CEST") and optionally " m=+1.23".
  size_t start = pos;
  while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
  if (pos == start && !(pos < text.size() && (text[pos] == '+' || text[pos] == '-'))) {
    return std::nullopt;
  }
  if (pos == start) {  // zones without abbreviation print the offset again: "+0530"
    while (pos < text.size() && text[pos] != ' ') ++pos;
  }
  if (pos == text.size()) return seconds;
  if (text.substr(pos).rfind(" m=", 0) == 0) return seconds;
  return std::nullopt;
}

}  // namespace dbcanary::kube
