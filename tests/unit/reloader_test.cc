#include "exporter/reloader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "tests/unit/fake_probe.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

// A reload that blocks until released, counting its runs.
struct GatedReload {
  std::atomic<int> runs{0};
  std::promise<void> gate;
  std::shared_future<void> open = gate.get_future().share();
  Status operator()() {
    ++runs;
    open.wait();
    return Ok{};
  }
};

// Pins: requests never block, and ten requests made while a reload runs are served by one
// more reload (coalesced), not ten queued ones; every ticket gets an outcome.
TEST(ReloaderTest, RequestsDuringAReloadCoalesceIntoOne) {
  GatedReload reload;
  Reloader reloader([&] { return reload(); });
  uint64_t first = reloader.Request();
  ASSERT_TRUE(WaitFor([&] { return reload.runs.load() == 1; }));
  std::vector<uint64_t> tickets;
  for (int i = 0; i < 10; ++i) tickets.push_back(reloader.Request());
  // Nothing served them yet: the running reload started before they were made.
  EXPECT_FALSE(reloader.Wait(tickets.back(), 50ms).has_value());
  reload.gate.set_value();
  auto outcome = reloader.Wait(first, 20s);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(*outcome);
  for (uint64_t ticket : tickets) {
    auto later = reloader.Wait(ticket, 20s);
    ASSERT_TRUE(later.has_value());
    EXPECT_TRUE(*later);
  }
  EXPECT_EQ(reloader.runs(), 2u);
  EXPECT_EQ(reload.runs.load(), 2);
}

TEST(ReloaderTest, ReturnsTheReloadsErrorAndSurvivesAnException) {
  int calls = 0;
  Reloader reloader([&]() -> Status {
    if (++calls == 1) return MakeError(ErrorCode::kConfig, "bad key");
    throw std::runtime_error("boom");
  });
  auto config_error = reloader.Wait(reloader.Request(), 20s);
  ASSERT_TRUE(config_error.has_value());
  ASSERT_FALSE(*config_error);
  EXPECT_EQ(config_error->error().code, ErrorCode::kConfig);
  auto thrown = reloader.Wait(reloader.Request(), 20s);
  ASSERT_TRUE(thrown.has_value());
  ASSERT_FALSE(*thrown);
  EXPECT_EQ(thrown->error().code, ErrorCode::kInternal);
}

TEST(ReloaderTest, StopLetsTheRunningReloadFinishAndRefusesNewOnes) {
  GatedReload reload;
  Reloader reloader([&] { return reload(); });
  (void)reloader.Request();
  ASSERT_TRUE(WaitFor([&] { return reload.runs.load() == 1; }));
  std::thread stopper([&] { reloader.Stop(); });
  reload.gate.set_value();
  stopper.join();
  EXPECT_EQ(reloader.Request(), 0u);
  EXPECT_FALSE(reloader.Wait(0, 10ms).has_value());
  EXPECT_EQ(reload.runs.load(), 1);
}

}  // namespace
}  // namespace dbcanary
