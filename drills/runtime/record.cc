#include "drills/runtime/record.h"

#include <charconv>
#include <cstdio>

namespace dbcanary {

std::string_view DrillOutcomeName(DrillOutcome outcome) {
  switch (outcome) {
    case DrillOutcome::kPass:
      return "pass";
    case DrillOutcome::kFail:
      return "fail";
    case DrillOutcome::kError:
      return "error";
    case DrillOutcome::kRefused:
      return "refused";
    case DrillOutcome::kStopped:
      return "stopped";
  }
  return "error";
}

std::optional<DrillOutcome> ParseDrillOutcome(std::string_view name) {
  for (auto outcome : kAllDrillOutcomes) {
    if (DrillOutcomeName(outcome) == name) return outcome;
  }
  return std::nullopt;
}

std::string FormatUtc(SystemTime at) {
  using namespace std::chrono;
  auto day = floor<days>(at);
  year_month_day date(day);
  hh_mm_ss time(floor<milliseconds>(at - day));
  char text[40];
  std::snprintf(text, sizeof(text), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(date.year()), unsigned(date.month()), unsigned(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()),
                static_cast<int>(time.subseconds().count()));
  return text;
}

std::optional<SystemTime> ParseUtc(std::string_view text) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SS[.mmm]Z
  if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
  auto number = [&](size_t pos, size_t len) -> std::optional<int> {
    int value = 0;
    auto [end, error] = std::from_chars(text.data() + pos, text.data() + pos + len, value);
    if (error != std::errc() || end != text.data() + pos + len) return std::nullopt;
    return value;
  };
  auto y = number(0, 4), mo = number(5, 2), d = number(8, 2), h = number(11, 2), mi = number(14, 2),
       s = number(17, 2);
  if (!y || !mo || !d || !h || !mi || !s || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  int millis = 0;
  if (text.size() == 24 && text[19] == '.') {
    auto ms = number(20, 3);
    if (!ms) return std::nullopt;
    millis = *ms;
  } else if (text.size() != 20) {
    return std::nullopt;
  }
  year_month_day date{year(*y), month(static_cast<unsigned>(*mo)), day(static_cast<unsigned>(*d))};
  if (!date.ok()) return std::nullopt;
  return sys_days(date) + hours(*h) + minutes(*mi) + seconds(*s) + milliseconds(millis);
}

double ToUnixSeconds(SystemTime at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

}  // namespace dbcanary
