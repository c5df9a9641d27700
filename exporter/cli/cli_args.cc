#include "exporter/cli/cli_args.h"

namespace dbcanary {
namespace {

const FlagSpec* FindFlag(std::span<const FlagSpec> flags, std::string_view name) {
  for (const auto& flag : flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> ParsedArgs::Flag(std::string_view name) const {
  if (auto it = flags.find(name); it != flags.end()) return it->second;
  return std::nullopt;
}

std::vector<std::string> ParsedArgs::Values(std::string_view name) const {
  if (auto it = repeated.find(name); it != repeated.end()) return it->second;
  return {};
}

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, std::span<const FlagSpec> flags,
                             size_t positional_count) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.positional.push_back(arg);
      continue;
    }
    auto equals = arg.find('=');
    std::string name = arg.substr(0, equals);
    const FlagSpec* spec = FindFlag(flags, name);
    if (spec == nullptr) return MakeError(ErrorCode::kConfig, "unknown flag " + name);
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return MakeError(ErrorCode::kConfig, "flag " + name + " needs a value");
    }
    if (spec->repeatable) {
      parsed.repeated[name].push_back(std::move(value));
      continue;
    }
    if (!parsed.flags.emplace(name, std::move(value)).second) {
      return MakeError(ErrorCode::kConfig, "flag " + name + " given twice");
    }
  }
  for (const auto& flag : flags) {
    if (flag.required && !parsed.Flag(flag.name) && parsed.Values(flag.name).empty()) {
      return MakeError(ErrorCode::kConfig, "missing required flag " + std::string(flag.name));
    }
  }
  if (parsed.positional.size() != positional_count) {
    return MakeError(ErrorCode::kConfig, "expected " + std::to_string(positional_count) +
                                             " argument(s), got " +
                                             std::to_string(parsed.positional.size()));
  }
  return parsed;
}

}  // namespace dbcanary
