#include "exporter/daemon/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dbcanary {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<double> BootTimeSeconds() {
  auto stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  std::istringstream lines(*stat);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    double value = 0;
    if (std::from_chars(line.data() + 6, line.data() + line.size(), value).ec != std::errc()) {
      return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

double CountOpenFds() {
  std::error_code error;
  double count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

}  // namespace

std::optional<ProcessStats> ParseProcSelfStat(std::string_view stat, double ticks_per_second,
                                              double page_size_bytes, double boot_time_seconds) {
  // Field 2 (comm) is in parentheses and may itself contain spaces and ')'.
  auto comm_end = stat.rfind(')');
  if (comm_end == std::string_view::npos) return std::nullopt;
  std::vector<double> fields;  // fields[0] is field 3 (state) of proc(5), read as 0
  std::string_view rest = stat.substr(comm_end + 1);
  while (!rest.empty()) {
    auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    auto end = std::min(rest.find(' '), rest.size());
    double value = 0;
    std::from_chars(rest.data(), rest.data() + end, value);
    fields.push_back(value);
    rest.remove_prefix(end);
  }
  // proc(5) numbering: utime 14, stime 15, starttime 22, vsize 23, rss 24.
  auto field = [&](size_t number) { return fields[number - 3]; };
  if (fields.size() < 24 - 2) return std::nullopt;
  ProcessStats stats;
  stats.cpu_seconds_total = (field(14) + field(15)) / ticks_per_second;
  stats.start_time_seconds = boot_time_seconds + field(22) / ticks_per_second;
  stats.virtual_memory_bytes = field(23);
  stats.resident_memory_bytes = field(24) * page_size_bytes;
  return stats;
}

std::optional<ProcessStats> ReadProcessStats() {
  auto stat = ReadFile("/proc/self/stat");
  auto boot_time = BootTimeSeconds();
  if (!stat || !boot_time) return std::nullopt;
  auto stats = ParseProcSelfStat(*stat, static_cast<double>(sysconf(_SC_CLK_TCK)),
                                 static_cast<double>(sysconf(_SC_PAGESIZE)), *boot_time);
  if (!stats) return std::nullopt;
  stats->open_fds = CountOpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats->max_fds = static_cast<double>(limit.rlim_cur);
  return stats;
}

}  // namespace dbcanary
