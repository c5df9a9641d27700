#include "drills/runtime/cron.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace dbcanary {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::hours;
using std::chrono::minutes;

struct FieldSpec {
  std::string_view name;
  int min;
  int max;
  const char* const* names;  // nullptr, or names for min..min+count-1
  int name_count;
  int name_base;  // value of names[0]
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr FieldSpec kFields[] = {
    {"minute", 0, 59, nullptr, 0, 0},       {"hour", 0, 23, nullptr, 0, 0},
    {"day-of-month", 1, 31, nullptr, 0, 0}, {"month", 1, 12, kMonthNames, 12, 1},
    {"day-of-week", 0, 7, kDayNames, 7, 0},
};

Error FieldError(const FieldSpec& field, std::string_view part, const std::string& what) {
  return MakeError(ErrorCode::kConfig, "schedule: " + std::string(field.name) + " field '" +
                                           std::string(part) + "' " + what);
}

std::string Range(const FieldSpec& field) {
  return std::to_string(field.min) + "-" + std::to_string(field.max);
}

// One value: a number or (for month and day of week) a name.
Result<int> ParseValue(const FieldSpec& field, std::string_view part, std::string_view text) {
  if (text.empty()) return FieldError(field, part, "has an empty value");
  if (std::isalpha(static_cast<unsigned char>(text.front()))) {
    std::string lower;
    for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (int i = 0; i < field.name_count; ++i) {
      if (lower == field.names[i]) return field.name_base + i;
    }
    return FieldError(field, part, "has an unknown name '" + std::string(text) + "'");
  }
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return FieldError(field, part, "is not a number");
  }
  if (value < field.min || value > field.max) {
    return FieldError(field, part, "out of range " + Range(field));
  }
  return value;
}

// Sets the bits of one comma-separated field; bit i is value i.
Result<std::vector<bool>> ParseField(const FieldSpec& field, std::string_view text) {
  std::vector<bool> bits(static_cast<size_t>(field.max + 1), false);
  size_t begin = 0;
  while (true) {
    size_t comma = text.find(',', begin);
    std::string_view part = text.substr(
        begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin);
    if (part.empty()) return FieldError(field, text, "has an empty list element");
    std::string_view range = part;
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string_view::npos) {
      range = part.substr(0, slash);
      std::string_view step_text = part.substr(slash + 1);
      auto [end, error] =
          std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
      if (step_text.empty() || error != std::errc() || end != step_text.data() + step_text.size()) {
        return FieldError(field, part, "has a step that is not a number");
      }
      if (step < 1) return FieldError(field, part, "step must be at least 1");
      if (step > field.max) {
        return FieldError(field, part, "step out of range 1-" + std::to_string(field.max));
      }
    }
    int low = field.min;
    int high = field.max;
    if (range == "*") {
      // the whole field
    } else if (auto dash = range.find('-'); dash != std::string_view::npos) {
      auto first = ParseValue(field, part, range.substr(0, dash));
      if (!first) return first.error();
      auto last = ParseValue(field, part, range.substr(dash + 1));
      if (!last) return last.error();
      low = *first;
      high = *last;
      if (low > high) return FieldError(field, part, "range is reversed");
    } else {
      auto value = ParseValue(field, part, range);
      if (!value) return value.error();
      low = *value;
      // "a/n" runs from a to the end of the field, as in Vixie cron.
      high = part.find('/') != std::string_view::npos ? field.max : *value;
    }
    for (int value = low; value <= high; value += step) bits[static_cast<size_t>(value)] = true;
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  return bits;
}

template <size_t N>
void CopyBits(const std::vector<bool>& bits, std::bitset<N>& out) {
  for (size_t i = 0; i < N && i < bits.size(); ++i) out[i] = bits[i];
}

std::vector<std::string_view> SplitFields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

struct Civil {
  int year, month, day, hour, minute, weekday;
};

Civil ToCivil(SystemTime at) {
  auto day_point = floor<days>(at);
  std::chrono::year_month_day date(day_point);
  std::chrono::hh_mm_ss time(floor<minutes>(at - day_point));
  return {static_cast<int>(date.year()),
          static_cast<int>(unsigned(date.month())),
          static_cast<int>(unsigned(date.day())),
          static_cast<int>(time.hours().count()),
          static_cast<int>(time.minutes().count()),
          static_cast<int>(std::chrono::weekday(day_point).c_encoding())};
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view text) {
  auto fields = SplitFields(text);
  if (fields.size() != 5) {
    return MakeError(ErrorCode::kConfig,
                     "schedule: '" + std::string(text) +
                         "' must have 5 fields (minute hour day-of-month month day-of-week), "
                         "not " +
                         std::to_string(fields.size()));
  }
  CronSchedule schedule;
  schedule.text_ = std::string(text);
  std::vector<bool> bits[5];
  for (size_t i = 0; i < 5; ++i) {
    auto parsed = ParseField(kFields[i], fields[i]);
    if (!parsed) return parsed.error();
    bits[i] = std::move(parsed).value();
  }
  CopyBits(bits[0], schedule.minutes_);
  CopyBits(bits[1], schedule.hours_);
  CopyBits(bits[2], schedule.days_);
  CopyBits(bits[3], schedule.months_);
  if (bits[4][7]) bits[4][0] = true;  // 7 is Sunday too
  CopyBits(bits[4], schedule.weekdays_);
  schedule.days_restricted_ = fields[2].front() != '*';
  schedule.weekdays_restricted_ = fields[4].front() != '*';
  // e.g. "0 0 30 2 *": valid fields, but no such day.
  if (schedule.NextAfter(SystemTime{}) == SystemTime::max()) {
    return MakeError(ErrorCode::kConfig, "schedule: '" + std::string(text) +
                                             "' never matches a date (day-of-month and month)");
  }
  return schedule;
}

bool CronSchedule::DayMatches(int day_of_month, int month, int weekday) const {
  if (!months_[static_cast<size_t>(month)]) return false;
  bool day = days_[static_cast<size_t>(day_of_month)];
  bool week = weekdays_[static_cast<size_t>(weekday)];
  if (days_restricted_ && weekdays_restricted_) return day || week;
  return day && week;
}

bool CronSchedule::Matches(SystemTime at) const {
  Civil civil = ToCivil(at);
  return DayMatches(civil.day, civil.month, civil.weekday) &&
         hours_[static_cast<size_t>(civil.hour)] && minutes_[static_cast<size_t>(civil.minute)];
}

SystemTime CronSchedule::NextAfter(SystemTime after) const {
  SystemTime at = floor<minutes>(after) + minutes(1);
  // Day by day (at most 8 years: Feb 29 recurs within that even across 2100), then hour
  // by hour, then minute by minute within the matching day.
  for (int step = 0; step < 8 * 366 + 24 + 60 + 2; ++step) {
    Civil civil = ToCivil(at);
    if (!DayMatches(civil.day, civil.month, civil.weekday)) {
      at = floor<days>(at) + days(1);
      continue;
    }
    if (!hours_[static_cast<size_t>(civil.hour)]) {
      at = floor<hours>(at) + hours(1);
      continue;
    }
    for (int minute = civil.minute; minute < 60; ++minute) {
      if (minutes_[static_cast<size_t>(minute)]) {
        return floor<hours>(at) + minutes(minute);
      }
    }
    at = floor<hours>(at) + hours(1);
  }
  return SystemTime::max();
}

Result<TimeWindow> TimeWindow::Parse(std::string_view text) {
  auto invalid = [&](const std::string& what) {
    return MakeError(ErrorCode::kConfig, "window: '" + std::string(text) + "' " + what);
  };
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return invalid("is not HH:MM-HH:MM (UTC)");
  auto parse_time = [&](std::string_view part) -> Result<int> {
    auto colon = part.find(':');
    if (colon == std::string_view::npos || colon == 0 || part.size() - colon != 3) {
      return invalid("is not HH:MM-HH:MM (UTC)");
    }
    int hour = 0;
    int minute = 0;
    auto h = std::from_chars(part.data(), part.data() + colon, hour);
    auto m = std::from_chars(part.data() + colon + 1, part.data() + part.size(), minute);
    if (h.ec != std::errc() || h.ptr != part.data() + colon || m.ec != std::errc() ||
        m.ptr != part.data() + part.size()) {
      return invalid("is not HH:MM-HH:MM (UTC)");
    }
    if (hour < 0 || hour > 23)
      return invalid("hour " + std::to_string(hour) + " out of range 0-23");
    if (minute < 0 || minute > 59) {
      return invalid("minute " + std::to_string(minute) + " out of range 0-59");
    }
    return hour * 60 + minute;
  };
  auto start = parse_time(text.substr(0, dash));
  if (!start) return start.error();
  auto end = parse_time(text.substr(dash + 1));
  if (!end) return end.error();
  if (*start == *end) return invalid("starts where it ends (leave window out for all day)");
  TimeWindow window;
  window.text_ = std::string(text);
  window.start_minute_ = *start;
  window.end_minute_ = *end;
  return window;
}

bool TimeWindow::Contains(SystemTime at) const {
  Civil civil = ToCivil(at);
  int minute = civil.hour * 60 + civil.minute;
  if (start_minute_ < end_minute_) return minute >= start_minute_ && minute < end_minute_;
  return minute >= start_minute_ || minute < end_minute_;
}

SystemTime NextAllowedRun(const CronSchedule& schedule, const std::optional<TimeWindow>& window,
                          SystemTime after) {
  SystemTime limit = after + days(8 * 366);
  SystemTime at = schedule.NextAfter(after);
  while (at != SystemTime::max() && at < limit) {
    if (!window || window->Contains(at)) return at;
    at = schedule.NextAfter(at);
  }
  return SystemTime::max();
}

}  // namespace dbcanary
