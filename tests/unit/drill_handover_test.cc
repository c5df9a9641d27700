#include "exporter/drill_handover.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "tests/unit/fake_probe.h"

namespace dbcanary {
namespace {

using testing::WaitFor;

// A drill generation whose Stop() blocks until released, as a drill cleaning up for its whole
// budget does; it records what happened to it.
struct Events {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::atomic<int> last_started{-1};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
};

class SlowStop : public DrillGeneration {
 public:
  SlowStop(Events& events, int id) : events_(events), id_(id) {}
  void Start() override {
    ++events_.started;
    events_.last_started = id_;
    running_ = true;
  }
  void Stop() override {
    if (!running_) return;  // never started: nothing to wait for
    events_.released.wait();
    ++events_.stopped;
  }

 private:
  Events& events_;
  int id_;
  bool running_ = false;
};

// Pins: Replace() returns while the old generation is still stopping; of the generations
// handed over meanwhile only the newest starts, and only after the old one has stopped.
TEST(DrillHandoverTest, ReplaceNeverWaitsAndOnlyTheNewestStartsAfterTheOldStops) {
  Events events;
  DrillHandover handover;
  handover.Replace(std::make_unique<SlowStop>(events, 0));
  ASSERT_TRUE(WaitFor([&] { return events.started.load() == 1; }));
  for (int id = 1; id <= 10; ++id) handover.Replace(std::make_unique<SlowStop>(events, id));
  ASSERT_TRUE(WaitFor([&] { return handover.switching(); }));
  EXPECT_EQ(events.started.load(), 1);  // the old one is still stopping: nothing new runs
  events.release.set_value();
  ASSERT_TRUE(WaitFor([&] { return events.started.load() == 2; }));
  EXPECT_EQ(events.last_started.load(), 10);
  EXPECT_EQ(events.stopped.load(), 1);
  handover.Shutdown();
  EXPECT_EQ(events.stopped.load(), 2);                       // Shutdown waits for the running one
  handover.Replace(std::make_unique<SlowStop>(events, 11));  // ignored after Shutdown
  EXPECT_EQ(events.started.load(), 2);
}

TEST(DrillHandoverTest, NoDrillsIsAGenerationToo) {
  Events events;
  events.release.set_value();
  DrillHandover handover;
  handover.Replace(std::make_unique<SlowStop>(events, 0));
  ASSERT_TRUE(WaitFor([&] { return events.started.load() == 1; }));
  handover.Replace(nullptr);
  ASSERT_TRUE(WaitFor([&] { return events.stopped.load() == 1; }));
  handover.Shutdown();
  EXPECT_EQ(events.started.load(), 1);
}

}  // namespace
}  // namespace dbcanary
