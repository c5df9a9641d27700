#include <pthread.h>
#include <signal.h>

#include <cstdlib>

#include "config/secret.h"
#include "exporter/app.h"
#include "exporter/cli/commands.h"
#include "exporter/logging.h"

namespace dbcanary {

// Signals are received by sigwait() on this thread, never by a handler, so reload
// and shutdown run as ordinary code. They stay blocked after return, so a second
// SIGTERM during shutdown cannot kill the process halfway.
int RunServeCommand(const ParsedArgs& args, const CliContext& context) {
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
