#include "exporter/cli/cli.h"

#include <span>
#include <string_view>

#include "drills/runtime/drill_cli.h"
#include "exporter/cli/commands.h"
#include "exporter/logging.h"
#include "exporter/version.h"

namespace dbcanary {
namespace {

struct Command {
  std::string_view name;
  std::string_view arguments;  // positional arguments for the usage line, e.g. "FILE"
  size_t positional_count;
  std::string_view summary;
  std::span<const FlagSpec> flags;
  int (*run)(const ParsedArgs&, const CliContext&);
};

constexpr FlagSpec kServeFlags[] = {
    {"--config", "FILE", "configuration file", true},
    {"--web.listen-address", "HOST:PORT", "listen address; overrides exporter.listen_address",
     false},
    {"--web.config.file", "FILE",
     "TLS and basic-auth web config (exporter-toolkit format; docs/web-security.md)", false},
    {"--web.telemetry-path", "PATH", "path of the metrics endpoint (default /metrics)", false},
    {"--log.level", "LEVEL",
     "trace, debug, info, warn or error; overrides exporter.log.level, also on reload", false},
    {"--log.format", "FORMAT", "text or json; overrides exporter.log.format, also on reload",
     false},
};

constexpr FlagSpec kValidateFlags[] = {
    {"--config", "FILE", "configuration file", true},
    {"--report", "DIR", "write the evidence (summary and per-group Markdown and JSON) into DIR",
     false},
    {"--junit", "FILE", "write JUnit XML (one testsuite per group) to FILE", false},
    {"--drill", "NAME",
     "also run the drill NAME (a kind under drills.jobs) after the probes; repeatable", false,
     true},
    {"--skip", "GROUP",
     "leave the acceptance group GROUP (operator, cluster, ...) out of the verdict, named as "
     "skipped; repeatable; validate.skip in the config does the same with a reason",
     false, true},
};

constexpr FlagSpec kDrillFlags[] = {
    {"--config", "FILE", "configuration file (its drills section)", true},
};

// drill NAME --config FILE: the built-in drills, logging configured from the file.
int RunDrillCommand(const ParsedArgs& args, const CliContext& context) {
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  DrillCliOptions options;
  options.config_path = *args.Flag("--config");
  options.drill = args.positional.front();
  options.make_logger = [](const Config& config, std::string_view drill) {
    ConfigureLogging(config.exporter);
    return ProbeLogger("drill", drill);
  };
  return RunDrillFromCli(options, registry, context.out, context.err);
}

// Adding a command (validate, drill, ...) is one row here and one Run*Command function.
constexpr Command kCommands[] = {
    {"serve", "", 0,
     "Run the exporter: probe on schedule, serve /metrics; SIGHUP reloads, SIGTERM stops.",
     kServeFlags, &RunServeCommand},
    {"check-config",
     "FILE",
     1,
     "Load FILE and build every probe it enables; print \"FILE: OK (N probes)\" or the error.",
     {},
     &RunCheckConfigCommand},
    {"validate", "", 0,
     "Run every configured probe once and print the acceptance checklist, ending with GO or "
     "NO-GO; exit 0 GO, 1 NO-GO, 2 config or usage error.",
     kValidateFlags, &RunValidateCommand},
    {"drill", "NAME", 1,
     "Run the drill NAME (a kind under drills.jobs) now under the drill lock, printing progress; "
     "exit 0 pass, 1 fail, error, refused or stopped, 2 config or usage error.",
     kDrillFlags, &RunDrillCommand},
};

const Command* FindCommand(std::string_view name) {
  for (const auto& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::string Synopsis(const Command& command) {
  std::string line(command.name);
  for (const auto& flag : command.flags) {
    std::string part = std::string(flag.name) + " " + std::string(flag.value_name);
    line += flag.required ? " " + part : " [" + part + "]";
  }
  if (!command.arguments.empty()) line += " " + std::string(command.arguments);
  return line;
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

int UsageError(const CliContext& context, const std::string& message) {
  context.err << "dbcanary: " << message << "\n\n" << Usage();
  return kExitUsage;
}

}  // namespace

std::string Usage() {
  std::string text =
      "usage: dbcanary <command> [flags]\n\n"
      "Synthetic probes for PostgreSQL (CNPG), PgBouncer poolers and Dragonfly,\n"
      "served as Prometheus metrics.\n\n"
      "Commands:\n";
  for (const auto& command : kCommands) {
    text += "  " + Synopsis(command) + "\n";
    text += "      " + std::string(command.summary) + "\n";
    for (const auto& flag : command.flags) {
      text += "      " + Pad(std::string(flag.name) + " " + std::string(flag.value_name), 32) +
              std::string(flag.help) + "\n";
    }
  }
  text +=
      "  help\n"
      "      Show this help.\n\n"
      "Flags:\n"
      "  --version     Print the version, revision, build date and platform, and exit.\n"
      "  -h, --help    Show this help.\n";
  return text;
}

int RunCli(const std::vector<std::string>& args, const CliContext& context) {
  if (args.empty()) return UsageError(context, "no command given");
  const std::string& first = args.front();
  if (first == "--version" || first == "version") {
    context.out << VersionText();
    return kExitOk;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    context.out << Usage();
    return kExitOk;
  }
  const Command* command = FindCommand(first);
  if (command == nullptr) {
    return UsageError(context,
                      (first.rfind('-', 0) == 0 ? "unknown flag " : "unknown command ") + first);
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  for (const auto& arg : rest) {
    if (arg == "--help" || arg == "-h") {
      context.out << Usage();
      return kExitOk;
    }
  }
  auto parsed = ParseArgs(rest, command->flags, command->positional_count);
  if (!parsed)
    return UsageError(context, std::string(command->name) + ": " + parsed.error().message);
  return command->run(*parsed, context);
}

}  // namespace dbcanary
