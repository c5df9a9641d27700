#include "probes/runtime/scheduler.h"

#include <gtest/gtest.h>

#include "exporter/logging.h"
#include "tests/unit/fake_probe.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using testing::FakeProbe;
using testing::FakeProbeState;
using testing::FakeStep;
using testing::WaitFor;

// No test here depends on how fast the host is: runs are waited for (WaitFor ends as soon as its
// condition holds), lower bounds only prove that a deadline or a join limit was honoured, and
// upper bounds only state promises, with room for a loaded 2-core CI machine.
// What "at once" may take on a loaded host (always far below the waits it is told apart from).
constexpr auto kPrompt = 1000ms;
// Clock granularity for lower bounds.
constexpr auto kClockEpsilon = 5ms;

double SecondsFrom(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Harness {
  ResultStore store;
  std::vector<ScheduledProbe> probes;

  std::shared_ptr<FakeProbeState> Add(std::string target, std::chrono::milliseconds interval,
                                      std::chrono::milliseconds timeout) {
    auto state = std::make_shared<FakeProbeState>();
    auto info = std::make_shared<ProbeInfo>();
    info->key = ProbeKey{"fake", std::move(target)};
    info->interval = interval;
    info->timeout = timeout;
    probes.push_back(ScheduledProbe{info, std::make_unique<FakeProbe>(state)});
    return state;
  }

  std::unique_ptr<Scheduler> Start(int workers = 2) {
    std::vector<std::shared_ptr<const ProbeInfo>> infos;
    for (const auto& probe : probes) infos.push_back(probe.info);
    store.SetProbes(infos);
    SchedulerOptions options;
    options.workers = workers;
    options.first_run_spread = 1ms;     // first run at once: tests measure from start
    options.make_logger = ProbeLogger;  // the daemon's redacting per-probe loggers
    auto scheduler = std::make_unique<Scheduler>(std::move(probes), store, options);
    scheduler->Start();
    return scheduler;
  }

  ProbeSnapshot Get(const std::string& target) const {
    for (auto& probe : store.Snapshot()) {
      if (probe.info->key.target == target) return probe;
    }
    return {};
  }
};

TEST(SchedulerTest, RunsOnInterval) {
  Harness harness;
  auto state = harness.Add("t1", 100ms, 80ms);
  const auto started = std::chrono::steady_clock::now();
  auto scheduler = harness.Start();
  // Five runs are waited for, not counted in a fixed window: a loaded host only takes longer.
  ASSERT_TRUE(WaitFor([&] { return harness.Get("t1").counters.runs >= 5; }));
  ASSERT_TRUE(scheduler->Join(10s));
  const double elapsed = SecondsFrom(started);
  // Fixed rate from the first run (due within 1 ms of Start): never more often than once per
  // 100 ms slot, however long the wait took.
  EXPECT_LE(state->started.load(), elapsed / 0.1 + 1);
  auto probe = harness.Get("t1");
  // A run that finished while Join() stopped the scheduler is discarded, not counted.
  EXPECT_LE(probe.counters.runs, static_cast<uint64_t>(state->finished.load()));
  EXPECT_GE(probe.counters.runs + 1, static_cast<uint64_t>(state->finished.load()));
  ASSERT_NE(probe.latest, nullptr);
  EXPECT_TRUE(probe.latest->success);
  EXPECT_TRUE(probe.counters.last_success.has_value());
}

TEST(SchedulerTest, SlowProbeIsSkippedNeverRunTwiceAtOnce) {
  Harness harness;
  auto state = harness.Add("slow", 30ms, 1s);
  state->default_step.sleep = 100ms;
  auto scheduler = harness.Start(/*workers=*/4);
  // Each 100 ms run spans about three 30 ms slots, which are skipped: waited for, since a
  // loaded host may merge slots it wakes up late for (merged slots are not counted).
  ASSERT_TRUE(WaitFor([&] {
    auto probe = harness.Get("slow");
    return probe.counters.runs >= 2 && probe.counters.skipped >= 3;
  }));
  ASSERT_TRUE(scheduler->Join(10s));
  EXPECT_EQ(state->max_in_flight.load(), 1);
  EXPECT_GE(harness.Get("slow").counters.skipped, 3u);
}

TEST(SchedulerTest, PassesTheTimeoutAsDeadline) {
  Harness harness;
  auto state = harness.Add("t1", 1s, 300ms);
  state->default_step.sleep = 10s;  // honours the deadline, so returns after ~300 ms
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return harness.Get("t1").latest != nullptr; }));
  ASSERT_TRUE(scheduler->Join(10s));
  ASSERT_FALSE(state->budgets.empty());
  // Not longer than the timeout: the time left when the run starts can only have shrunk.
  EXPECT_LE(state->budgets.front(), 300ms);
  // Not shorter: the run slept until its deadline, and the scheduler's clock started before
  // it set the deadline.
  double duration = harness.Get("t1").latest->duration_seconds;
  EXPECT_GE(duration, 0.3 - 0.005);
  // Ended by the deadline, not by the 10 s sleep.
  EXPECT_LT(duration, 5.0);
}

TEST(SchedulerTest, EscapedExceptionsBecomeInternalFailures) {
  Harness harness;
  auto state = harness.Add("t1", 20ms, 20ms);
  FakeStep throws_std;
  throws_std.throw_std_exception = true;
  FakeStep throws_int;
  throws_int.throw_other = true;
  state->script = {throws_std, throws_int};
  state->default_step.sleep = 1h;  // park later runs (honours stop)
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return harness.Get("t1").counters.runs >= 2; }));
  ASSERT_TRUE(scheduler->Join(10s));
  auto probe = harness.Get("t1");
  ASSERT_NE(probe.latest, nullptr);
  EXPECT_FALSE(probe.latest->success);
  ASSERT_TRUE(probe.latest->error.has_value());
  EXPECT_EQ(probe.latest->error->code, ErrorCode::kInternal);
  EXPECT_EQ(probe.counters.failures[static_cast<size_t>(ErrorCode::kInternal)], 2u);
  EXPECT_GT(probe.latest->finished_at.time_since_epoch().count(), 0);
}

TEST(SchedulerTest, CountsFailuresByReason) {
  Harness harness;
  auto state = harness.Add("t1", 20ms, 20ms);
  FakeStep auth;
  auth.success = false;
  auth.code = ErrorCode::kAuth;
  FakeStep ok;
  state->script = {auth, ok, auth};
  state->default_step.sleep = 1h;
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return harness.Get("t1").counters.runs >= 3; }));
  ASSERT_TRUE(scheduler->Join(10s));
  auto probe = harness.Get("t1");
  EXPECT_EQ(probe.counters.failures[static_cast<size_t>(ErrorCode::kAuth)], 2u);
  EXPECT_EQ(probe.latest->error->code, ErrorCode::kAuth);
  EXPECT_TRUE(probe.counters.last_success.has_value());
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

TEST(SchedulerTest, LogsOncePerStateChangeNotPerRun) {
  ConfigureLogging(ExporterSettings{});  // text, info
  Harness harness;
  auto state = harness.Add("flappy", 10ms, 10ms);
  FakeStep fail;
  fail.success = false;
  fail.code = ErrorCode::kAuth;
  FakeStep ok;
  state->script = {fail, fail, fail, ok, ok, ok, fail};
  state->default_step.sleep = 1h;  // park afterwards (honours stop)
  ::testing::internal::CaptureStderr();
  auto scheduler = harness.Start();
  bool done = WaitFor([&] { return harness.Get("flappy").counters.runs >= 7; });
  scheduler->Join(10s);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(done);
  EXPECT_EQ(
      Count(err, " warn [fake/flappy] probe failing on target flappy: auth: scripted error\n"), 2u)
      << err;
  EXPECT_EQ(Count(err, " info [fake/flappy] probe recovered on target flappy\n"), 1u) << err;
}

// Pins: probes falling behind their interval going unnoticed in the log (only the per-probe
// counter and a debug line), or a warning per skipped run flooding it.
TEST(SchedulerTest, WarnsOnceAMinuteWhenProbesFallBehind) {
  ConfigureLogging(ExporterSettings{});  // text, info
  Harness harness;
  auto state = harness.Add("slow", 10ms, 1s);
  state->default_step.sleep = 100ms;
  ::testing::internal::CaptureStderr();
  auto scheduler = harness.Start(/*workers=*/1);
  bool done = WaitFor([&] { return harness.Get("slow").counters.skipped >= 5; });
  scheduler->Join(10s);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(done);
  EXPECT_EQ(Count(err, "probes are falling behind their interval: 1 run(s) skipped"), 1u) << err;
  EXPECT_EQ(Count(err, "probes are falling behind their interval"), 1u) << err;
}

TEST(SchedulerTest, JoinIsBoundedWhenAProbeIgnoresDeadlineAndStop) {
  Harness harness;
  auto state = harness.Add("stuck", 1s, 50ms);
  // Stuck ten times longer than the join limit, so it is still stuck when Join() gives up
  // even if the host is slow to get there.
  state->default_step.sleep = 3000ms;
  state->default_step.honor_deadline = false;
  state->default_step.honor_stop = false;
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return state->in_flight.load() == 1; }));
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(scheduler->Join(300ms));
  scheduler.reset();  // the destructor must not wait for the stuck run either
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_GE(elapsed, 300ms - kClockEpsilon);  // Join() waited its whole limit
  // Join() gave up at its limit and the destructor did not wait again: a destructor waiting its
  // own limit (kDefaultJoinLimit, 1.5 s) would take at least 1.8 s.
  EXPECT_LT(elapsed, 300ms + kPrompt);
  // The abandoned run publishes nothing when it eventually returns, and its thread then
  // releases the scheduler's state (with the probe) by itself.
  ASSERT_TRUE(WaitFor([&] { return state->released.load(); }));
  EXPECT_EQ(harness.Get("stuck").counters.runs, 0u);
}

TEST(SchedulerTest, StopInterruptsRunsAndDiscardsTheirResults) {
  Harness harness;
  // A 60 s timeout and a 10 min sleep: only the stop request can end the run within Join's
  // limit, so a Join() that does not interrupt it fails (false) instead of merely being slow.
  auto state = harness.Add("t1", 60s, 60s);
  state->default_step.sleep = 10min;  // honours stop
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return state->in_flight.load() == 1; }));
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(scheduler->Join(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, kPrompt);  // at once, not at a limit
  EXPECT_EQ(state->finished.load(), 1);
  EXPECT_EQ(harness.Get("t1").counters.runs, 0u);
  EXPECT_EQ(harness.Get("t1").latest, nullptr);
}

TEST(SchedulerTest, AHungProbeHoldsOneWorkerAndOthersKeepTheirSchedule) {
  Harness harness;
  auto hung = harness.Add("hung", 20ms, 20ms);
  hung->default_step.sleep = 1h;
  hung->default_step.honor_deadline = false;  // honours stop only, so the test ends quickly
  auto healthy = harness.Add("healthy", 20ms, 20ms);
  auto scheduler = harness.Start(/*workers=*/2);
  ASSERT_TRUE(WaitFor([&] { return harness.Get("healthy").counters.runs >= 5; }));
  EXPECT_EQ(hung->started.load(), 1);
  // Both fall due in the same 20 ms slots: the scheduler thread handled at least four of the
  // hung probe's slots while it handled the healthy one's five, so whatever the host's speed
  // at least two of them were skipped.
  EXPECT_GE(harness.Get("hung").counters.skipped, 2u);
  ASSERT_TRUE(scheduler->Join(10s));
}

TEST(SchedulerTest, FirstRunsAreSpreadWithinTheConfiguredWindow) {
  ResultStore store;
  std::vector<ScheduledProbe> probes;
  std::vector<std::shared_ptr<FakeProbeState>> states;
  for (int i = 0; i < 8; ++i) {
    auto state = std::make_shared<FakeProbeState>();
    auto info = std::make_shared<ProbeInfo>();
    info->key = ProbeKey{"fake", "t" + std::to_string(i)};
    info->interval = 10s;
    info->timeout = 1s;
    probes.push_back(ScheduledProbe{info, std::make_unique<FakeProbe>(state)});
    states.push_back(state);
  }
  SchedulerOptions options;
  options.workers = 8;
  options.first_run_spread = 200ms;
  Scheduler scheduler(std::move(probes), store, options);
  auto started = std::chrono::steady_clock::now();
  scheduler.Start();
  ASSERT_TRUE(WaitFor([&] {
    for (auto& state : states) {
      if (state->finished.load() == 0) return false;
    }
    return true;
  }));
  // Within the 200 ms spread (plus room for a loaded host), far from the 10 s interval and the
  // 2 s default spread a scheduler ignoring the option would spread them over.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms + kPrompt);
  EXPECT_TRUE(scheduler.Join(10s));
}

}  // namespace
}  // namespace dbcanary
