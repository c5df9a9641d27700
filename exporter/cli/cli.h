#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// What a command may use. The registry comes from main() so the daemon library does
// not depend on the built-in probes (tests pass their own).
struct CliContext {
  const ProbeRegistry& registry;
  std::ostream& out;
  std::ostream& err;
};

// Exit codes of the dbcanary binary.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // config error, cannot listen, ...
inline constexpr int kExitUsage = 2;  // unknown command or flag

// Runs `dbcanary ARGS...` (without the program name) and returns the exit code.
int RunCli(const std::vector<std::string>& args, const CliContext& context);

// The text `dbcanary --help` prints.
std::string Usage();

}  // namespace dbcanary
