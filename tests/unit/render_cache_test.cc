// The /metrics render cache: the probe and drill families are rendered once per store
// generation, the self metrics on every scrape, and the body stays what a full render gives.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "drills/runtime/state_store.h"
#include "exporter/metrics/render.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const MetricDesc kLagDesc{"dbcanary_fake_lag_bytes", "Replay lag.", MetricType::kGauge};
const MetricDesc kDrillDesc{"dbcanary_fake_drill_seconds", "Drill figure.", MetricType::kGauge};

std::shared_ptr<const ProbeInfo> Info(std::string target,
                                      std::vector<MetricDesc> descriptors = {kLagDesc}) {
  auto info = std::make_shared<ProbeInfo>();
  info->key = ProbeKey{"fake", std::move(target)};
  info->interval = 10s;
  info->timeout = 2s;
  info->descriptors = std::move(descriptors);
  return info;
}

std::shared_ptr<const ProbeResult> Result(double lag, bool success = true) {
  auto result = std::make_shared<ProbeResult>();
  result->success = success;
  if (!success) result->error = Error{ErrorCode::kTimeout, "late"};
  result->duration_seconds = 0.125;
  result->finished_at = std::chrono::system_clock::time_point(1'700'000'000s);
  result->Add("dbcanary_fake_lag_bytes", {{"standby", "pg-2"}}, lag);
  result->expectations.push_back(ExpectNumber("max_lag_bytes", "pg", lag, "<=", 4096));
  return result;
}

std::shared_ptr<const DrillRecord> Drill(double figure, DrillOutcome outcome) {
  auto record = std::make_shared<DrillRecord>();
  record->drill = "fake_drill";
  record->finished_at = std::chrono::system_clock::time_point(1'700'000'100s);
  record->duration_seconds = 3;
  record->outcome = outcome;
  record->result.samples.push_back({kDrillDesc.name, {{"drill", "fake_drill"}}, figure});
  return record;
}

// The lines of the families that are fresh on every scrape, values blanked: what may
// differ between two scrapes of the same state.
std::string WithoutFreshValues(const std::string& body) {
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    std::string line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("dbcanary_exporter_scrape") || line.starts_with("process_")) {
      line = line.substr(0, line.rfind(' ')) + " _";
    }
    out += line + '\n';
  }
  return out;
}

class RenderCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.SetProbes({Info("t1"), Info("t2")});
    drills_.SetDrills({DrillInfo{"fake_drill", true, "", "", 60, {kDrillDesc}}},
                      "/nonexistent-dbcanary-render-cache-test");
  }

  // A scrape through the cache and one rendered in full from the same state: the cache
  // may only change the fresh values.
  void ExpectSameAsFullRender() {
    std::string cached = Scrape(store_, self_, &drills_, &cache_);
    std::string full = Scrape(store_, self_, &drills_);
    EXPECT_EQ(WithoutFreshValues(cached), WithoutFreshValues(full));
  }

  ResultStore store_;
  DrillStateStore drills_;
  SelfMetrics self_;
  RenderCache cache_;
};

// Pins: the cached body drifting from the full render (order, HELP/TYPE grouping, families).
TEST_F(RenderCacheTest, BodyIsTheFullRenderApartFromFreshValues) {
  ExpectSameAsFullRender();  // nothing published yet
  store_.Publish({"fake", "t1"}, Result(1024));
  store_.Publish({"fake", "t2"}, Result(10, false));
  store_.CountSkipped({"fake", "t2"});
  drills_.Record(Drill(2.5, DrillOutcome::kPass));
  drills_.SetNextRun("fake_drill", std::chrono::system_clock::time_point(1'700'000'900s));
  ExpectSameAsFullRender();
  ExpectSameAsFullRender();  // served from the cache this time
  std::string body = Scrape(store_, self_, &drills_, &cache_);
  // The self families follow the probe and drill families, as before.
  EXPECT_LT(body.find("# HELP dbcanary_drill_enabled"), body.find("# HELP dbcanary_build_info"));
  EXPECT_LT(body.find("dbcanary_fake_drill_seconds{"), body.find("# HELP dbcanary_build_info"));
  EXPECT_THAT(body, HasSubstr("dbcanary_exporter_probes 2\n"));
}

// Pins: a publish between two scrapes not showing in the next one (stale cache).
TEST_F(RenderCacheTest, PublishBetweenScrapesShowsInTheNextScrape) {
  store_.Publish({"fake", "t1"}, Result(1024));
  std::string first = Scrape(store_, self_, &drills_, &cache_);
  EXPECT_THAT(first, HasSubstr("dbcanary_fake_lag_bytes{standby=\"pg-2\"} 1024\n"));
  EXPECT_THAT(first, HasSubstr("dbcanary_probe_runs_total{probe=\"fake\",target=\"t1\"} 1\n"));

  store_.Publish({"fake", "t1"}, Result(2048));
  std::string second = Scrape(store_, self_, &drills_, &cache_);
  EXPECT_THAT(second, HasSubstr("dbcanary_fake_lag_bytes{standby=\"pg-2\"} 2048\n"));
  EXPECT_THAT(second, HasSubstr("dbcanary_probe_runs_total{probe=\"fake\",target=\"t1\"} 2\n"));
  EXPECT_THAT(second, Not(HasSubstr(" 1024\n")));

  store_.CountSkipped({"fake", "t1"});
  EXPECT_THAT(Scrape(store_, self_, &drills_, &cache_),
              HasSubstr("dbcanary_probe_skipped_total{probe=\"fake\",target=\"t1\"} 1\n"));

  drills_.SetRunning("fake_drill", true);
  EXPECT_THAT(Scrape(store_, self_, &drills_, &cache_),
              HasSubstr("dbcanary_drill_running{drill=\"fake_drill\"} 1\n"));
  drills_.Record(Drill(7.5, DrillOutcome::kFail));
  std::string after_drill = Scrape(store_, self_, &drills_, &cache_);
  EXPECT_THAT(after_drill, HasSubstr("dbcanary_fake_drill_seconds{drill=\"fake_drill\"} 7.5\n"));
  EXPECT_THAT(after_drill,
              HasSubstr("dbcanary_drill_runs_total{drill=\"fake_drill\",result=\"fail\"} 1\n"));

  // A reload that drops a probe.
  store_.SetProbes({Info("t2")});
  std::string reloaded = Scrape(store_, self_, &drills_, &cache_);
  EXPECT_THAT(reloaded, Not(HasSubstr("target=\"t1\"")));
  EXPECT_THAT(reloaded, HasSubstr("dbcanary_exporter_probes 1\n"));
}

// Pins: the cache not being used (every scrape re-rendering) or the self metrics being
// cached along with it (a frozen scrape counter).
TEST_F(RenderCacheTest, UnchangedStoresReuseTheTextAndSelfMetricsStayFresh) {
  store_.Publish({"fake", "t1"}, Result(1024));
  std::string first = Scrape(store_, self_, &drills_, &cache_);
  auto entry = cache_.Get(store_, &drills_);
  ASSERT_NE(entry, nullptr);
  std::string second = Scrape(store_, self_, &drills_, &cache_);
  EXPECT_EQ(cache_.Get(store_, &drills_), entry);
  EXPECT_THAT(first, HasSubstr("dbcanary_exporter_scrapes_total 1\n"));
  EXPECT_THAT(second, HasSubstr("dbcanary_exporter_scrapes_total 2\n"));
  EXPECT_THAT(second, HasSubstr("dbcanary_exporter_scrape_duration_seconds_count 1\n"));

  store_.Publish({"fake", "t2"}, Result(1));
  Scrape(store_, self_, &drills_, &cache_);
  EXPECT_NE(cache_.Get(store_, &drills_), entry);
}

// Pins: one cache shared by two stores serving one store's families for the other.
TEST_F(RenderCacheTest, GenerationsAreUniqueAcrossStores) {
  ResultStore other;
  other.SetProbes({Info("elsewhere")});
  EXPECT_NE(other.generation(), store_.generation());
  EXPECT_THAT(Scrape(store_, self_, &drills_, &cache_), Not(HasSubstr("elsewhere")));
  EXPECT_THAT(Scrape(other, self_, nullptr, &cache_), HasSubstr("target=\"elsewhere\""));
  EXPECT_THAT(Scrape(store_, self_, &drills_, &cache_), Not(HasSubstr("elsewhere")));
}

// Pins: a probe that describes a self-metric family: the family would appear twice (two HELP
// and TYPE lines, which Prometheus rejects); the probe's description is refused instead.
TEST_F(RenderCacheTest, ProbeDescribingASelfFamilyIsRefused) {
  const MetricDesc clash{"process_open_fds", "Clashing description.", MetricType::kGauge};
  store_.SetProbes({Info("t1", {kLagDesc, clash})});
  ExpectSameAsFullRender();
  std::string body = Scrape(store_, self_, &drills_, &cache_);
  size_t first = body.find("# HELP process_open_fds");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(body.find("# HELP process_open_fds", first + 1), std::string::npos);
  EXPECT_THAT(body, Not(HasSubstr("Clashing description.")));
}

// Pins: a data race or a torn body when scrapes run on several CivetWeb workers while a
// probe publishes (run under TSan in CI's opt-in step), and the last publish being lost.
TEST_F(RenderCacheTest, ConcurrentScrapesWhilePublishing) {
  store_.Publish({"fake", "t1"}, Result(1));
  std::atomic<bool> done{false};
  std::atomic<int> malformed{0};
  std::vector<std::thread> scrapers;
  for (int i = 0; i < 3; ++i) {
    scrapers.emplace_back([&] {
      while (!done.load()) {
        std::string body = Scrape(store_, self_, &drills_, &cache_);
        if (!body.starts_with("# HELP dbcanary_probe_success ") || !body.ends_with("\n") ||
            body.find("dbcanary_fake_lag_bytes{standby=\"pg-2\"} ") == std::string::npos) {
          ++malformed;
        }
      }
    });
  }
  for (int value = 2; value <= 300; ++value) store_.Publish({"fake", "t1"}, Result(value));
  done = true;
  for (auto& thread : scrapers) thread.join();
  EXPECT_EQ(malformed.load(), 0);
  std::string last = Scrape(store_, self_, &drills_, &cache_);
  EXPECT_THAT(last, HasSubstr("dbcanary_fake_lag_bytes{standby=\"pg-2\"} 300\n"));
  EXPECT_THAT(last, HasSubstr("dbcanary_probe_runs_total{probe=\"fake\",target=\"t1\"} 300\n"));
}

// Pins: the /proc/self/fd listing and /proc/self/statm kept open between scrapes returning
// the first read's figures forever (a stale directory listing or file offset).
TEST(ProcessStatsTest, EveryReadIsFresh) {
  auto before = ReadProcessStats();
  ASSERT_TRUE(before.has_value());
  std::vector<int> fds;
  for (int i = 0; i < 3; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  // 64 MiB touched: resident memory must grow by at least most of it.
  std::vector<char> touched(64 << 20, 1);
  auto during = ReadProcessStats();
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->open_fds, before->open_fds + 3);
  EXPECT_GT(during->resident_memory_bytes, before->resident_memory_bytes + (48 << 20));
  EXPECT_GT(during->virtual_memory_bytes, before->virtual_memory_bytes + (48 << 20));
  EXPECT_EQ(during->start_time_seconds, before->start_time_seconds);
  EXPECT_GE(during->cpu_seconds_total, before->cpu_seconds_total);
  for (int fd : fds) ::close(fd);
  EXPECT_EQ(ReadProcessStats()->open_fds, before->open_fds);
  EXPECT_EQ(touched[12345], 1);
}

}  // namespace
}  // namespace dbcanary
