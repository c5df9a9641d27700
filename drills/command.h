#pragma once

#include <chrono>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "core/deadline.h"
#include "core/result.h"

// Runs a drill's configured command (backup, restore, cleanup, restart) as a child process:
// argv exactly as configured (no shell), a minimal environment (PATH, LANG, HOME, then the
// configured variables), the signal mask and dispositions reset to defaults, stdin from
// /dev/null, stdout and stderr captured together. Used by the restore and persistence drills
// and the failover trigger.

namespace dbcanary {

struct DrillCommandOutcome {
  int exit_code = -1;  // the exit status; -1 when killed by a signal
  std::string output;  // stdout+stderr interleaved, the last kMaxOutputBytes of it
  double seconds = 0;  // wall time from spawn to exit
};

inline constexpr size_t kMaxDrillCommandOutputBytes = 64 * 1024;
// How long a command has between SIGTERM (its traps run) and SIGKILL.
inline constexpr std::chrono::milliseconds kDrillCommandTermGrace{2000};

// Spawns argv[0] (looked up in PATH) in its own process group and waits until it exits, the
// deadline passes or `stop` is requested; then the whole group gets SIGTERM, and SIGKILL
// kDrillCommandTermGrace later. Errors: kConfig (empty argv), kInternal (fork/pipe/exec failures:
// exit code 127 with the reason in the output), kTimeout (deadline) or kStopped (stop requested
// before the deadline); either way the output so far is in the message's last line. A non-zero exit
// is NOT an error here: callers judge exit_code.
Result<DrillCommandOutcome> RunDrillCommand(
    const std::vector<std::string>& argv,
    const std::vector<std::pair<std::string, std::string>>& env, Deadline deadline,
    std::stop_token stop = {});

// "argv0 arg1 ..." for messages and reports (arguments are config values, not secrets).
std::string DescribeCommand(const std::vector<std::string>& argv);

// The last `max_lines` lines of `text`, for error messages.
std::string LastLines(const std::string& text, size_t max_lines);

}  // namespace dbcanary
