#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "probes/probe.h"
#include "probes/runtime/result_store.h"

namespace spdlog {
class logger;
}

namespace dbcanary {

// A probe of one config generation, ready to be scheduled.
struct ScheduledProbe {
  std::shared_ptr<const ProbeInfo> info;
  std::unique_ptr<Probe> probe;
};

struct SchedulerOptions {
  // Worker threads, i.e. how many runs may be in flight at once across all probes.
  // A probe stuck past its deadline holds one worker (its later runs are skipped,
  // never queued behind it), so the others keep their schedule while workers remain.
  int workers = 4;
  // The first run of each probe starts after a random delay in
  // [0, min(interval, first_run_spread)): soon enough for /readyz, spread enough
  // not to hit every target in the same millisecond. Later runs keep that phase
  // at a fixed rate (no drift).
  std::chrono::milliseconds first_run_spread{2000};
  // A logger per probe (the daemon passes its redacting ProbeLogger(kind, target)); when empty,
  // spdlog's default logger.
  std::function<std::shared_ptr<spdlog::logger>(std::string_view kind, std::string_view target)>
      make_logger;
};

// Runs the probes of one config generation on their intervals and publishes each
// finished run into the store. Never runs two runs of one probe at once: a run that
// falls due while the previous one is queued or running is skipped and counted.
// Runs still in flight when Stop() is called are discarded, not published.
class Scheduler {
 public:
  Scheduler(std::vector<ScheduledProbe> probes, ResultStore& store,
            const SchedulerOptions& options);
  // Stops and waits at most kDefaultJoinLimit.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  static constexpr std::chrono::milliseconds kDefaultJoinLimit{1500};

  void Start();
  // Asks every thread and running probe (through its stop_token) to stop; does not
  // wait. Once it returns nothing more is published into the store.
  void Stop();
  // Stops, then waits up to `limit` for the threads to end. Threads still busy
  // after that (a probe ignoring its deadline and stop_token) are detached and end
  // on their own when the probe returns; they keep only this scheduler's own state
  // alive. Returns whether every thread ended in time.
  bool Join(std::chrono::milliseconds limit);
  // Whether every thread has ended (non-blocking).
  bool Finished() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::vector<std::jthread> threads_;
};

}  // namespace dbcanary
