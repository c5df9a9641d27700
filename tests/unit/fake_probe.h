#pragma once

// A scripted Probe for scheduler, store, server and CLI tests.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/result.h"
#include "probes/probe.h"

namespace dbcanary::testing {

// What one run does.
struct FakeStep {
  std::chrono::milliseconds sleep{0};
  // false: sleep the full time regardless of the deadline (a misbehaving probe).
  bool honor_deadline = true;
  // false: also ignore the stop_token (a probe stuck in a blocking call).
  bool honor_stop = true;
  bool success = true;
  ErrorCode code = ErrorCode::kConnect;
  bool throw_std_exception = false;
  bool throw_other = false;
  std::vector<Sample> samples;
  std::vector<ExpectationResult> expectations;
};

// Shared between the test and the probe: a run abandoned by Scheduler::Join() keeps
// it alive through the probe, so it never outlives what it touches.
struct FakeProbeState {
  std::mutex mutex;
  std::deque<FakeStep> script;                     // consumed one step per run
  FakeStep default_step;                           // once the script is empty
  std::vector<std::chrono::milliseconds> budgets;  // deadline remaining at each start
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  // Set when the scheduler lets go of the probe: a test that abandons a stuck run waits
  // for it, so no thread of its outlives the test (or the process's static destructors).
  std::atomic<bool> released{false};
};

class FakeProbe : public Probe {
 public:
  explicit FakeProbe(std::shared_ptr<FakeProbeState> state,
                     std::vector<MetricDesc> descriptors = {})
      : state_(std::move(state)), descriptors_(std::move(descriptors)) {}
  ~FakeProbe() override { state_->released = true; }
  FakeProbe(const FakeProbe&) = delete;
  FakeProbe& operator=(const FakeProbe&) = delete;

  const std::vector<MetricDesc>& Describe() const override { return descriptors_; }

  ProbeResult Run(const ProbeContext& context) override {
    auto& state = *state_;
    FakeStep step;
    {
      std::lock_guard lock(state.mutex);
      state.budgets.push_back(context.deadline.Remaining());
      if (!state.script.empty()) {
        step = state.script.front();
        state.script.pop_front();
      } else {
        step = state.default_step;
      }
    }
    int now_in_flight = ++state.in_flight;
    int seen = state.max_in_flight.load();
    while (now_in_flight > seen &&
           !state.max_in_flight.compare_exchange_weak(seen, now_in_flight)) {
    }
    ++state.started;
    Sleep(step, context);
    --state.in_flight;
    ++state.finished;
    if (step.throw_std_exception) throw std::runtime_error("scripted failure");
    if (step.throw_other) throw 42;
    ProbeResult result;
    result.success = step.success;
    if (!step.success) result.Fail(step.code, "scripted error");
    result.samples = step.samples;
    result.expectations = step.expectations;
    return result;
  }

 private:
  static void Sleep(const FakeStep& step, const ProbeContext& context) {
    auto until = std::chrono::steady_clock::now() + step.sleep;
    if (step.honor_deadline) until = std::min(until, context.deadline.at());
    if (!step.honor_stop) {
      std::this_thread::sleep_until(until);
      return;
    }
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    std::stop_token stop = context.stop;
    wake.wait_until(lock, stop, until, [] { return false; });
  }

  std::shared_ptr<FakeProbeState> state_;
  std::vector<MetricDesc> descriptors_;
};

// A registry with kind "fake", configured from its params:
//   fake: { interval: 100ms, timeout: 100ms, sleep: 0s, fail: false, stuck: false }
// `stuck: true` makes every run ignore both its deadline and its stop_token.
// Unknown params are rejected, as a real probe's factory does.
inline ProbeRegistry FakeRegistry() {
  ProbeRegistry registry;
  registry.Add("fake", [](const ProbeSettings& settings, const Config&) {
    return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
      auto state = std::make_shared<FakeProbeState>();
      state->default_step.sleep =
          settings.params->Duration("sleep").value_or(std::chrono::milliseconds(0));
      state->default_step.success = !settings.params->Bool("fail").value_or(false);
      bool stuck = settings.params->Bool("stuck").value_or(false);
      state->default_step.honor_deadline = !stuck;
      state->default_step.honor_stop = !stuck;
      settings.params->Finish();
      return std::unique_ptr<Probe>(std::make_unique<FakeProbe>(state));
    });
  });
  return registry;
}

// Waits up to `limit` for `condition`, polling; returns its last value. The wait ends as soon as
// the condition holds: the generous default only matters on a loaded host (or when the test is
// failing anyway), so no test depends on how fast the host reaches the condition.
template <typename Condition>
bool WaitFor(Condition condition, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace dbcanary::testing
