#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string_view>

#include "config/secret.h"
#include "exporter/app.h"
#include "exporter/cli/commands.h"
#include "exporter/logging.h"

namespace dbcanary {
namespace {

// The values exporter.log accepts (config/config.cc), so a flag cannot set what the file cannot.
constexpr std::array<std::string_view, 5> kLogLevels = {"trace", "debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 2> kLogFormats = {"text", "json"};

template <size_t N>
Status CheckChoice(const ParsedArgs& args, std::string_view flag,
                   const std::array<std::string_view, N>& choices) {
  auto value = args.Flag(flag);
  if (!value || std::find(choices.begin(), choices.end(), *value) != choices.end()) return Ok{};
  std::string allowed;
  for (auto choice : choices) allowed += (allowed.empty() ? "" : ", ") + std::string(choice);
  return MakeError(ErrorCode::kConfig,
                   std::string(flag) + " \"" + *value + "\" is not one of " + allowed);
}

// Flag values are checked before anything starts: a typo is a usage error (exit 2).
Status CheckServeFlags(const ParsedArgs& args) {
  if (auto level = CheckChoice(args, "--log.level", kLogLevels); !level) return level;
  if (auto format = CheckChoice(args, "--log.format", kLogFormats); !format) return format;
  if (auto path = args.Flag("--web.telemetry-path")) {
    if (auto checked = CheckTelemetryPath(*path); !checked) {
      return MakeError(ErrorCode::kConfig, "--web.telemetry-path: " + checked.error().message);
    }
  }
  return Ok{};
}

}  // namespace

// Signals are received by sigwait() on this thread, never by a handler, so reload
// and shutdown run as ordinary code. They stay blocked after return, so a second
// SIGTERM during shutdown cannot kill the process halfway.
int RunServeCommand(const ParsedArgs& args, const CliContext& context) {
  if (auto checked = CheckServeFlags(args); !checked) {
    context.err << "dbcanary: serve: " << checked.error().message << "\n";
    return kExitUsage;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  // Before any thread exists, so every thread inherits the mask.
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);

  auto log = MainLogger();
  AppOptions options;
  options.config_path = *args.Flag("--config");
  options.listen_address = args.Flag("--web.listen-address");
  options.web_config_file = args.Flag("--web.config.file");
  options.telemetry_path = args.Flag("--web.telemetry-path");
  options.log_level = args.Flag("--log.level");
  options.log_format = args.Flag("--log.format");
  App app(context.registry, options);
  if (auto started = app.Start(); !started) {
    context.err << RedactSecrets(started.error().message) << "\n";
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return kExitError;
  }

  while (true) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      log->info("SIGHUP received, reloading {}", options.config_path);
      // Runs on the reload thread: this loop stays free for SIGTERM, whatever the reload
      // waits for. The reload logs its own outcome.
      app.RequestReload();
      continue;
    }
    log->info("{} received, shutting down", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  if (!app.Stop()) {
    // A probe ignored both its deadline and its stop_token. Its thread cannot be
    // joined; skipping destructors is safer than running them under its feet.
    log->warn("probe runs still in flight after {} ms; exiting without them",
              options.stop_limit.count());
    log->flush();
    std::_Exit(kExitOk);
  }
  log->info("stopped");
  return kExitOk;
}

}  // namespace dbcanary
