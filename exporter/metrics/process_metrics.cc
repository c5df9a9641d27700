#include "exporter/metrics/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace dbcanary {
namespace {

// The whole file with read(2) (procfs files report size 0).
std::optional<std::string> ReadFile(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  char buffer[4096];
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      ::close(fd);
      if (got < 0) return std::nullopt;
      return content;
    }
    content.append(buffer, static_cast<size_t>(got));
  }
}

std::optional<double> ReadBootTimeSeconds() {
  auto stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  std::string_view rest = *stat;
  while (!rest.empty()) {
    auto end = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (!line.starts_with("btime ")) continue;
    double value = 0;
    if (std::from_chars(line.data() + 6, line.data() + line.size(), value).ec != std::errc()) {
      return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

// /proc/self/fd and /proc/self/statm stay open between scrapes: procfs regenerates a
// directory listing after rewinddir() and a file's content on a read at offset 0, so each
// scrape costs getdents and pread, not open and close as well. A scrape runs on any of
// CivetWeb's workers: one mutex serialises the readers.
class ProcSelf {
 public:
  ~ProcSelf() {
    if (fd_dir_ != nullptr) ::closedir(fd_dir_);
    if (statm_ >= 0) ::close(statm_);
  }

  // Open descriptors, the directory's own included (as client_golang's process collector
  // counts them).
  std::optional<double> OpenFds() {
    std::lock_guard lock(mutex_);
    if (fd_dir_ == nullptr) fd_dir_ = ::opendir("/proc/self/fd");
    if (fd_dir_ == nullptr) return std::nullopt;
    ::rewinddir(fd_dir_);
    double count = 0;
    while (const dirent* entry = ::readdir(fd_dir_)) {
      if (entry->d_name[0] != '.') ++count;  // skips . and ..
    }
    return count;
  }

  // Virtual and resident size in pages: the first two fields of /proc/self/statm.
  std::optional<std::pair<double, double>> StatmPages() {
    char buffer[256];
    ssize_t got = 0;
    {
      std::lock_guard lock(mutex_);
      if (statm_ < 0) statm_ = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
      if (statm_ < 0) return std::nullopt;
      do {
        got = ::pread(statm_, buffer, sizeof(buffer) - 1, 0);
      } while (got < 0 && errno == EINTR);
    }
    if (got <= 0) return std::nullopt;
    std::string_view text(buffer, static_cast<size_t>(got));
    double size = 0;
    auto parsed = std::from_chars(text.data(), text.data() + text.size(), size);
    if (parsed.ec != std::errc() || parsed.ptr == text.data() + text.size()) return std::nullopt;
    double resident = 0;
    if (std::from_chars(parsed.ptr + 1, text.data() + text.size(), resident).ec != std::errc()) {
      return std::nullopt;
    }
    return std::pair{size, resident};
  }

 private:
  std::mutex mutex_;
  DIR* fd_dir_ = nullptr;
  int statm_ = -1;
};

ProcSelf& TheProcSelf() {
  static ProcSelf proc_self;
  return proc_self;
}

// The start time does not change: /proc/self/stat (whose utime and stime the kernel sums
// over every thread on each read) and /proc/stat are read once.
std::optional<double> StartTimeSeconds() {
  static const std::optional<double> start_time = []() -> std::optional<double> {
    auto stat = ReadFile("/proc/self/stat");
    auto boot_time = ReadBootTimeSeconds();
    if (!stat || !boot_time) return std::nullopt;
    auto stats = ParseProcSelfStat(*stat, static_cast<double>(sysconf(_SC_CLK_TCK)),
                                   static_cast<double>(sysconf(_SC_PAGESIZE)), *boot_time);
    if (!stats) return std::nullopt;
    return stats->start_time_seconds;
  }();
  return start_time;
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
  auto start_time = StartTimeSeconds();
  auto pages = TheProcSelf().StatmPages();
  rusage usage{};
  if (!start_time || !pages || getrusage(RUSAGE_SELF, &usage) != 0) return std::nullopt;
  static const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));
  auto seconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
  };
  ProcessStats stats;
  // Every thread, finished ones included: the same sum as utime + stime in /proc/self/stat,
  // in microseconds rather than clock ticks.
  stats.cpu_seconds_total = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  stats.start_time_seconds = *start_time;
  stats.virtual_memory_bytes = pages->first * page_size;
  stats.resident_memory_bytes = pages->second * page_size;
  stats.open_fds = TheProcSelf().OpenFds().value_or(0);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = static_cast<double>(limit.rlim_cur);
  return stats;
}

}  // namespace dbcanary
