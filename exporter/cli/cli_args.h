#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace dbcanary {

// A command-line flag that takes a value: `--name VALUE` or `--name=VALUE`.
struct FlagSpec {
  std::string_view name;        // "--config"
  std::string_view value_name;  // "FILE"
  std::string_view help;
  bool required = false;
  bool repeatable{false};  // may be given several times; read with ParsedArgs::Values
};

struct ParsedArgs {
  std::map<std::string, std::string, std::less<>> flags;
  std::map<std::string, std::vector<std::string>, std::less<>> repeated;  // repeatable flags
  std::vector<std::string> positional;

  std::optional<std::string> Flag(std::string_view name) const;
  // Every value of a repeatable flag, in command-line order.
  std::vector<std::string> Values(std::string_view name) const;
};

// Parses the arguments after the command name against `flags`, expecting exactly
// `positional_count` positional arguments. Errors are usage errors (exit code 2).
Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, std::span<const FlagSpec> flags,
                             size_t positional_count);

}  // namespace dbcanary
