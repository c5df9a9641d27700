#pragma once

#include <gtest/gtest.h>
#include <spdlog/logger.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "clients/pg/pg_session.h"
#include "config/config.h"
#include "core/result.h"
#include "probes/probe.h"

// The local stack the integration tests run against (deploy/local/stack.sh): PostgreSQL primary
// and standbys, PgBouncer poolers and redis on 127.0.0.1, described by
// $DBCANARY_STACK_DIR/stack.env. Under ctest a fixture brings it up once; by hand, run
//   DBCANARY_STACK_DIR=... DBCANARY_STACK_PORT_BASE=17400 deploy/local/stack.sh up
// first. Generic on purpose: every probe's integration tests share it.

namespace dbcanary::testing {

// Whether DBCANARY_REQUIRE_INTEGRATION=1 (CI): a missing stack fails instead of skipping.
bool IntegrationRequired();

class Stack {
 public:
  // The stack of this process: $DBCANARY_STACK_DIR, else the build's test-stack directory.
  // Read once; `available()` says whether stack.env and dbcanary.yaml were found.
  static const Stack& Get();

  bool available() const { return available_; }
  const std::string& unavailable_reason() const { return reason_; }
  const std::string& dir() const { return dir_; }

  // A variable of stack.env (e.g. "DBCANARY_STACK_CA_CERT"); empty when absent.
  std::string Env(std::string_view key) const;
  // The port of a component by its stack name ("shared-postgres-1", "gitlab-pooler-rw"); 0 if
  // unknown.
  int Port(std::string_view component) const;
  // The dbcanary config the stack wrote, and the same loaded with LoadConfigFile.
  std::string ConfigPath() const { return dir_ + "/dbcanary.yaml"; }
  Result<std::shared_ptr<const Config>> LoadConfig() const;

  // deploy/local/stack.sh ARGS... with this stack's directory and port base; kInternal with the
  // script's output when it exits non-zero or runs past `timeout`.
  Status Script(const std::vector<std::string>& args, std::string* output = nullptr,
                std::chrono::seconds timeout = std::chrono::seconds(120)) const;
  Status Stop(const std::string& component) const { return Script({"stop", component}); }
  Status Start(const std::string& component) const { return Script({"start", component}); }

  // A psql-like helper for admin SQL: runs `sql` on a PostgreSQL instance of the stack as the
  // database superuser over the unix socket (peer authentication), within `timeout`.
  Result<PgTable> AdminQuery(const std::string& instance, const std::string& sql,
                             const std::string& dbname = "postgres",
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  Stack();
  bool available_ = false;
  std::string reason_;
  std::string dir_;
  std::map<std::string, std::string, std::less<>> env_;
};

// Skips the current test (or fails it when IntegrationRequired()) if the stack is not there.
#define DBCANARY_REQUIRE_STACK()                                                            \
  do {                                                                                      \
    const auto& dbcanary_stack = ::dbcanary::testing::Stack::Get();                         \
    if (!dbcanary_stack.available()) {                                                      \
      if (::dbcanary::testing::IntegrationRequired()) {                                     \
        FAIL() << "local stack required: " << dbcanary_stack.unavailable_reason();          \
      }                                                                                     \
      GTEST_SKIP() << "local stack not available: " << dbcanary_stack.unavailable_reason(); \
    }                                                                                       \
  } while (0)

// Stops stack components for one test and starts them again when it ends, pass or fail.
class StoppedComponents {
 public:
  StoppedComponents() = default;
  StoppedComponents(const StoppedComponents&) = delete;
  StoppedComponents& operator=(const StoppedComponents&) = delete;
  ~StoppedComponents() { RestoreAll(); }

  Status Stop(const std::string& component);
  // Starts one stopped component now (it is no longer restored at the end).
  Status Start(const std::string& component);
  // Starts every component still stopped; failures are reported as test failures.
  void RestoreAll();

 private:
  std::set<std::string> stopped_;
};

// Freezes a component's main process with SIGSTOP (a server that hangs while its sockets stay
// open) and resumes it with SIGCONT when destroyed, pass or fail. For PostgreSQL that is the
// postmaster only: running backends keep going, new connections and cancels hang.
class FrozenComponent {
 public:
  explicit FrozenComponent(const std::string& component);
  ~FrozenComponent();
  FrozenComponent(const FrozenComponent&) = delete;
  FrozenComponent& operator=(const FrozenComponent&) = delete;
  bool frozen() const { return pid_ > 0; }
  const std::string& error() const { return error_; }

 private:
  int pid_ = 0;
  std::string error_;
};

// A logger for ProbeContext that writes to stderr (shown by ctest on failure).
spdlog::logger& TestLogger();

// Builds the probe of `kind` on `target` from `config` through the registry, as the daemon does.
Result<std::unique_ptr<Probe>> MakeProbe(const Config& config, std::string_view kind,
                                         std::string_view target);

// One run of `probe` with a fresh deadline `timeout` from now.
struct TimedRun {
  ProbeResult result;
  double seconds = 0;  // wall time of Run(), measured from before the deadline was set
};
TimedRun RunProbeOnce(Probe& probe, std::chrono::milliseconds timeout, std::stop_token stop = {});

// The value of the sample `name` whose labels equal `labels` (in any order).
std::optional<double> FindSample(const ProbeResult& result, std::string_view name, Labels labels);
// The expectation `check` about `target`, or nullptr.
const ExpectationResult* FindExpectation(const ProbeResult& result, std::string_view check,
                                         std::string_view target);

// A loopback TCP port that nothing listens on (bound, read back and closed again).
int UnusedLoopbackPort();

// A socket listening on 127.0.0.1 that completes TCP handshakes (kernel backlog) but never
// accepts or answers: a server that hangs after connect.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Timing rules of these tests (none may depend on how fast the host is: CI runs them on a 2-core
// machine that may be idle or busy with an -O0 ASan build):
//  - a lower bound only ever proves that a wait was honoured: at least the configured deadline,
//    less kClockEpsilonSeconds for clock and rounding granularity;
//  - an upper bound only states a product promise ("returns by its deadline", "a scrape does not
//    wait for a probe") and leaves a loaded host room: the promise plus kDeadlineSlackSeconds (or
//    kPromptSeconds for "at once"), while staying clearly below the fallback a broken promise
//    would fall back to (a connect_timeout, the hung server's own delay, the run's budget);
//  - real work (a backup, a commit, a replication round trip, a count of runs) is never timed
//    against a constant: it is compared with the wall time that really passed, or waited for.
//
// How far past its deadline a run may return: the probe's brief cancel wait (5 ms) plus thread
// scheduling on a loaded 2-core machine.
inline constexpr double kDeadlineSlackSeconds = 1.0;
// Clock and rounding granularity (whole-millisecond budgets, double seconds) for lower bounds.
inline constexpr double kClockEpsilonSeconds = 0.005;
// What "at once" (a refused connect, an error reply, a scrape) may take on a loaded host. Tests
// asserting it give the run a budget far above it, so a run that waited for its deadline fails.
inline constexpr double kPromptSeconds = 2.0;

// Median of `values` (0 for none).
double Median(std::vector<double> values);

// `yaml` (a config, such as the stack's) without its top-level `drills:` section, for tests
// that bring drills of their own: a second `drills:` key is a config error.
std::string WithoutDrillsSection(const std::string& yaml);

}  // namespace dbcanary::testing
