#pragma once

#include <optional>
#include <string_view>

namespace dbcanary {

// Resource use of this process, as the usual process_* metrics report it.
struct ProcessStats {
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double cpu_seconds_total = 0;
  double start_time_seconds = 0;  // unix time
  double open_fds = 0;
  double max_fds = 0;
};

// Reads /proc/self (Linux). nullopt when /proc is not readable.
std::optional<ProcessStats> ReadProcessStats();

// Parses the fields of /proc/self/stat that ProcessStats needs (open_fds and max_fds
// are left 0). `boot_time_seconds` is btime from /proc/stat.
std::optional<ProcessStats> ParseProcSelfStat(std::string_view stat, double ticks_per_second,
                                              double page_size_bytes, double boot_time_seconds);

}  // namespace dbcanary
