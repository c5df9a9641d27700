// libFuzzer target: the drill schedule parser (drills/runtime/cron.h). Schedules and windows
// come from configuration. The input is "SCHEDULE" or "SCHEDULE\nWINDOW". Checks, beyond "no
// crash": a parsed schedule's next run lies strictly after the start, in the future by at most
// the documented 8 years, and matches; a parsed window's next allowed run is inside the window.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "drills/runtime/cron.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256) return 0;  // configuration lines, not documents
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string_view schedule_text = input.substr(0, newline);
  std::optional<std::string_view> window_text;
  if (newline != std::string_view::npos) window_text = input.substr(newline + 1);

  auto schedule = dbcanary::CronSchedule::Parse(schedule_text);
  std::optional<dbcanary::TimeWindow> window;
  if (window_text) {
    auto parsed = dbcanary::TimeWindow::Parse(*window_text);
    if (parsed) window = *parsed;
  }
  if (!schedule) return 0;

  // 2026-02-28T23:59:30Z: a month end, near a leap day, seconds not on a minute.
  const dbcanary::SystemTime start{std::chrono::seconds(1772323170)};
  const dbcanary::SystemTime next = schedule->NextAfter(start);
  if (next <= start || next == dbcanary::SystemTime::max()) std::abort();
  if (next - start > std::chrono::hours(24 * 366 * 8)) std::abort();
  if (!schedule->Matches(next)) std::abort();

  if (window) {
    const dbcanary::SystemTime allowed = dbcanary::NextAllowedRun(*schedule, window, start);
    if (allowed != dbcanary::SystemTime::max()) {
      if (allowed <= start || !window->Contains(allowed) || !schedule->Matches(allowed)) {
        std::abort();
      }
    }
  }
  return 0;
}
