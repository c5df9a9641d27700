#include "exporter/daemon/scheduler.h"

#include <gtest/gtest.h>

#include "exporter/daemon/logging.h"
#include "tests/unit/fake_probe.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using testing::FakeProbe;
using testing::FakeProbeState;
using testing::FakeStep;
using testing::WaitFor;

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
    options.first_run_spread = 1ms;  // first run at once: tests measure from start
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
  // 100 ms slots: wide enough that a loaded CI host (or TSan) still picks each run up
  // before the next slot, so a skip really means a scheduling fault.
  auto state = harness.Add("t1", 100ms, 80ms);
  auto scheduler = harness.Start();
  std::this_thread::sleep_for(550ms);  // runs due at about 0, 100, ..., 500 ms
  ASSERT_TRUE(scheduler->Join(1s));
  EXPECT_GE(state->finished.load(), 4);
  EXPECT_LE(state->finished.load(), 7);
  auto probe = harness.Get("t1");
  // A run that finished while Join() stopped the scheduler is discarded, not counted.
  EXPECT_LE(probe.counters.runs, static_cast<uint64_t>(state->finished.load()));
  EXPECT_GE(probe.counters.runs + 1, static_cast<uint64_t>(state->finished.load()));
  EXPECT_EQ(probe.counters.skipped, 0u);
  ASSERT_NE(probe.latest, nullptr);
  EXPECT_TRUE(probe.latest->success);
  EXPECT_TRUE(probe.counters.last_success.has_value());
}

TEST(SchedulerTest, SlowProbeIsSkippedNeverRunTwiceAtOnce) {
  Harness harness;
  auto state = harness.Add("slow", 30ms, 1s);
  state->default_step.sleep = 100ms;
  auto scheduler = harness.Start(/*workers=*/4);
  ASSERT_TRUE(WaitFor([&] { return harness.Get("slow").counters.runs >= 2; }));
  ASSERT_TRUE(scheduler->Join(1s));
  EXPECT_EQ(state->max_in_flight.load(), 1);
  // Each 100 ms run spans about three 30 ms slots: two or so are skipped per run.
  EXPECT_GE(harness.Get("slow").counters.skipped, 3u);
}

TEST(SchedulerTest, PassesTheTimeoutAsDeadline) {
  Harness harness;
  auto state = harness.Add("t1", 1s, 300ms);
  state->default_step.sleep = 10s;  // honours the deadline, so returns after ~300 ms
  auto started = std::chrono::steady_clock::now();
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return harness.Get("t1").latest != nullptr; }));
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(scheduler->Join(1s));
  ASSERT_FALSE(state->budgets.empty());
  EXPECT_LE(state->budgets.front(), 300ms);
  EXPECT_GE(state->budgets.front(), 250ms);
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 900ms);
  double duration = harness.Get("t1").latest->duration_seconds;
  EXPECT_GE(duration, 0.29);
  EXPECT_LT(duration, 0.6);
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
  ASSERT_TRUE(scheduler->Join(1s));
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
  ASSERT_TRUE(scheduler->Join(1s));
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
  scheduler->Join(1s);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(done);
  EXPECT_EQ(
      Count(err, " warn [fake/flappy] probe failing on target flappy: auth: scripted error\n"), 2u)
      << err;
  EXPECT_EQ(Count(err, " info [fake/flappy] probe recovered on target flappy\n"), 1u) << err;
}

TEST(SchedulerTest, JoinIsBoundedWhenAProbeIgnoresDeadlineAndStop) {
  Harness harness;
  auto state = harness.Add("stuck", 1s, 50ms);
  state->default_step.sleep = 1500ms;
  state->default_step.honor_deadline = false;
  state->default_step.honor_stop = false;
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return state->in_flight.load() == 1; }));
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(scheduler->Join(300ms));
  scheduler.reset();  // the destructor must not wait for the stuck run either
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 700ms);
  // The abandoned run publishes nothing when it eventually returns, and its thread then
  // releases the scheduler's state (with the probe) by itself.
  ASSERT_TRUE(WaitFor([&] { return state->released.load(); }, 5s));
  EXPECT_EQ(harness.Get("stuck").counters.runs, 0u);
}

TEST(SchedulerTest, StopInterruptsRunsAndDiscardsTheirResults) {
  Harness harness;
  auto state = harness.Add("t1", 1s, 1s);
  state->default_step.sleep = 10s;  // honours stop
  auto scheduler = harness.Start();
  ASSERT_TRUE(WaitFor([&] { return state->in_flight.load() == 1; }));
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(scheduler->Join(1s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 200ms);
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
  ASSERT_TRUE(WaitFor([&] { return harness.Get("healthy").counters.runs >= 5; }, 1s));
  EXPECT_EQ(hung->started.load(), 1);
  EXPECT_GE(harness.Get("hung").counters.skipped, 2u);
  ASSERT_TRUE(scheduler->Join(1s));
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
  EXPECT_LT(std::chrono::steady_clock::now() - started, 400ms);
  EXPECT_TRUE(scheduler.Join(1s));
}

}  // namespace
}  // namespace dbcanary
