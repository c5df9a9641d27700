#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

// When drills may run: a 5-field cron schedule and an optional daily time window, in UTC.

namespace dbcanary {

using SystemTime = std::chrono::system_clock::time_point;

// A 5-field cron expression: minute hour day-of-month month day-of-week, in UTC.
// Each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n` (or `a/n`: from a to
// the field's end), or a comma-separated list of those. Months and days of week may be given
// by their English three-letter names (jan..dec, sun..sat, any case); day of week 0 and 7 are
// both Sunday. As in Vixie cron, when both day-of-month and day-of-week are restricted
// (neither starts with `*`), a day matches when either matches.
class CronSchedule {
 public:
  // Errors (kConfig) name the field and value:
  //   "schedule: minute field '61' out of range 0-59".
  static Result<CronSchedule> Parse(std::string_view text);

  // The first matching minute strictly after `after` (seconds are dropped). Parse rejects
  // schedules that never match, so this always finds one within 8 years; should it not,
  // it returns SystemTime::max().
  SystemTime NextAfter(SystemTime after) const;
  // Whether the minute containing `at` matches.
  bool Matches(SystemTime at) const;

  const std::string& text() const { return text_; }

 private:
  bool DayMatches(int day_of_month, int month, int weekday) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_restricted_ = false;
  bool weekdays_restricted_ = false;
};

// A daily time window "HH:MM-HH:MM" in UTC, start inclusive, end exclusive. It may wrap
// midnight ("22:00-04:00"). Start and end must differ.
class TimeWindow {
 public:
  // Errors (kConfig): "window: '25:00-04:00' hour 25 out of range 0-23".
  static Result<TimeWindow> Parse(std::string_view text);
  bool Contains(SystemTime at) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  int start_minute_ = 0;  // minutes after midnight
  int end_minute_ = 0;
};

// The first time after `after` at which `schedule` fires inside `window` (no window: any
// time); SystemTime::max() when none within 8 years (a window the schedule never hits).
SystemTime NextAllowedRun(const CronSchedule& schedule, const std::optional<TimeWindow>& window,
                          SystemTime after);

}  // namespace dbcanary
