#include "exporter/app.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include "tests/unit/fake_probe.h"
#include "tests/unit/http_client.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::HttpGet;
using testing::HttpRequest;
using ::testing::Not;
using testing::WaitFor;

// A config with one dragonfly target per name, each with a fast fake probe.
std::string ConfigWith(std::vector<std::string> targets, std::string listen = "127.0.0.1:0",
                       std::string probe_params = "interval: 100ms, timeout: 100ms") {
  std::string text = "exporter:\n  listen_address: \"" + listen +
                     "\"\n  workers: 2\n  log: { level: error }\ndragonfly:\n";
  for (const auto& target : targets) {
    text += "  - name: " + target +
            "\n    master: { host: 127.0.0.1 }\n    probes:\n      fake: { " + probe_params +
            " }\n";
  }
  return text;
}

const ProbeSnapshot* Find(const std::vector<ProbeSnapshot>& probes, const std::string& target) {
  for (const auto& probe : probes) {
    if (probe.info->key.target == target) return &probe;
  }
  return nullptr;
}

class AppTest : public ::testing::Test {
 protected:
  void StartWith(const std::string& config_text) {
    path_ = dir_.Write("dbcanary.yaml", config_text);
    app_ = std::make_unique<App>(registry_, AppOptions{path_, std::nullopt, 1500ms});
    auto started = app_->Start();
    ASSERT_TRUE(started) << started.error().message;
  }

  bool Ready() {
    auto response = HttpGet(app_->port(), "/readyz");
    return response && response->status == 200;
  }

  std::string Metrics() {
    auto response = HttpGet(app_->port(), "/metrics");
    return response ? response->body : "";
  }

  testing::TempDir dir_;
  ProbeRegistry registry_ = testing::FakeRegistry();
  std::string path_;
  std::unique_ptr<App> app_;
};

TEST_F(AppTest, StartsProbingAndBecomesReady) {
  StartWith(ConfigWith({"df-a"}));
  EXPECT_GT(app_->port(), 0);
  ASSERT_TRUE(WaitFor([&] { return Ready(); }));
  std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("dbcanary_probe_success{probe=\"fake\",target=\"df-a\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("dbcanary_config_last_reload_successful 1\n"));
  EXPECT_THAT(metrics, HasSubstr("dbcanary_exporter_probes 1\n"));
  EXPECT_TRUE(app_->Stop());
}

TEST_F(AppTest, StartFailsOnABadConfig) {
  path_ = dir_.Write("dbcanary.yaml", "exporter:\n  bogus: 1\n");
  App app(registry_, AppOptions{path_, std::nullopt, 1500ms});
  auto started = app.Start();
  ASSERT_FALSE(started);
  EXPECT_THAT(started.error().message, HasSubstr(path_ + ":2:"));
  EXPECT_THAT(started.error().message, HasSubstr("bogus"));
}

TEST_F(AppTest, StartFailsOnBadProbeParams) {
  path_ = dir_.Write("dbcanary.yaml", ConfigWith({"df-a"}, "127.0.0.1:0", "colour: blue"));
  App app(registry_, AppOptions{path_, std::nullopt, 1500ms});
  auto started = app.Start();
  ASSERT_FALSE(started);
  EXPECT_THAT(started.error().message, HasSubstr("colour"));
}

TEST_F(AppTest, BadReloadKeepsTheRunningConfigAndSaysWhy) {
  StartWith(ConfigWith({"df-a"}));
  ASSERT_TRUE(WaitFor([&] { return Ready(); }));
  dir_.Write("dbcanary.yaml", ConfigWith({"df-a"}) + "unknown_section: {}\n");
  auto response = testing::PostReload(app_->port());
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_THAT(response->body, HasSubstr(path_ + ":"));
  EXPECT_THAT(response->body, HasSubstr("unknown_section"));

  dir_.Write("dbcanary.yaml", ConfigWith({"df-a", "df-b"}, "127.0.0.1:0", "nonsense: 1"));
  EXPECT_FALSE(app_->Reload());

  auto health = HttpGet(app_->port(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("target=\"df-a\""));
  EXPECT_THAT(metrics, Not(HasSubstr("target=\"df-b\"")));
  EXPECT_THAT(metrics, HasSubstr("dbcanary_config_last_reload_successful 0\n"));
  EXPECT_THAT(metrics, HasSubstr("dbcanary_config_reloads_total{result=\"failure\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("dbcanary_config_reloads_total{result=\"success\"} 0\n"));
  // The old scheduler still runs.
  auto runs = Find(app_->store().Snapshot(), "df-a")->counters.runs;
  EXPECT_TRUE(
      WaitFor([&] { return Find(app_->store().Snapshot(), "df-a")->counters.runs > runs; }));
}

TEST_F(AppTest, ReloadSwapsProbesAndKeepsCountersOfKeptOnes) {
  StartWith(ConfigWith({"df-a", "df-b"}));
  ASSERT_TRUE(WaitFor([&] { return Ready(); }));
  auto runs_before = Find(app_->store().Snapshot(), "df-a")->counters.runs;
  ASSERT_GE(runs_before, 1u);

  dir_.Write("dbcanary.yaml", ConfigWith({"df-a", "df-c"}));
  auto reloaded = app_->Reload();
  ASSERT_TRUE(reloaded) << reloaded.error().message;

  auto snapshot = app_->store().Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  ASSERT_NE(Find(snapshot, "df-a"), nullptr);
  EXPECT_GE(Find(snapshot, "df-a")->counters.runs, runs_before);
  EXPECT_EQ(Find(snapshot, "df-b"), nullptr);
  ASSERT_NE(Find(snapshot, "df-c"), nullptr);
  EXPECT_TRUE(WaitFor([&] { return Find(app_->store().Snapshot(), "df-c")->counters.runs >= 1; }));
  std::string metrics = Metrics();
  EXPECT_THAT(metrics, Not(HasSubstr("target=\"df-b\"")));
  EXPECT_THAT(metrics, HasSubstr("dbcanary_config_last_reload_successful 1\n"));
  EXPECT_THAT(metrics, HasSubstr("dbcanary_config_reloads_total{result=\"success\"} 1\n"));
  EXPECT_TRUE(app_->Stop());
}

TEST_F(AppTest, ListenAddressDoesNotChangeOnReload) {
  StartWith(ConfigWith({"df-a"}));
  int port = app_->port();
  dir_.Write("dbcanary.yaml", ConfigWith({"df-a"}, "127.0.0.1:1"));
  ASSERT_TRUE(app_->Reload());
  EXPECT_EQ(app_->port(), port);
  auto health = HttpGet(port, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(AppTest, ListenAddressFlagWinsOverTheConfig) {
  path_ = dir_.Write("dbcanary.yaml", ConfigWith({"df-a"}, "127.0.0.1:1"));
  App app(registry_, AppOptions{path_, "127.0.0.1:0", 1500ms});
  ASSERT_TRUE(app.Start());
  EXPECT_GT(app.port(), 1);
}

// A drill generation standing in for a drill that is running when a reload comes: its Stop()
// (the drill's cleanup) blocks until the test releases it, as a cleanup using its whole
// 2-minute budget would.
struct DrillCleanup {
  std::atomic<int> started{0};
  std::atomic<bool> stopping{false};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
};

class DrillWithSlowCleanup : public DrillGeneration {
 public:
  explicit DrillWithSlowCleanup(DrillCleanup& cleanup) : cleanup_(cleanup) {}
  void Start() override {
    ++cleanup_.started;
    started_ = true;
  }
  void Stop() override {
    if (!started_) return;
    cleanup_.stopping = true;
    cleanup_.released.wait();
  }

 private:
  DrillCleanup& cleanup_;
  bool started_ = false;
};

// Pins: 10 reloads (POST /-/reload, concurrent) and a SIGHUP-style reload during a running
// drill whose cleanup never ends by itself: every reload is answered and applied, every
// scrape meanwhile is answered, and only then is the drill's cleanup let go. Nothing waited
// for the cleanup (it was still blocked when all of them had finished), so this holds
// whatever the host's speed; the timing figures are in tests/bench/web_abuse_bench.sh.
TEST_F(AppTest, TenReloadsDuringARunningDrillLeaveMetricsAnswering) {
  DrillCleanup cleanup;
  path_ = dir_.Write("dbcanary.yaml", ConfigWith({"df-a"}));
  AppOptions options{path_, std::nullopt, 1500ms};
  options.make_drills = [&](const std::shared_ptr<const Config>&, std::vector<ConfiguredDrill>,
                            DrillStateStore&) {
    return std::make_unique<DrillWithSlowCleanup>(cleanup);
  };
  app_ = std::make_unique<App>(registry_, options);
  ASSERT_TRUE(app_->Start());
  ASSERT_TRUE(WaitFor([&] { return cleanup.started.load() == 1; }));

  std::atomic<bool> reloading{true};
  std::atomic<int> scrapes{0};
  std::atomic<int> scrapes_unanswered{0};
  std::thread scraper([&] {
    while (reloading.load()) {
      auto response = HttpGet(app_->port(), "/metrics");
      if (response && response->status == 200) {
        ++scrapes;
      } else {
        ++scrapes_unanswered;
      }
    }
  });
  std::vector<std::thread> reloaders;
  std::atomic<int> reloads_ok{0};
  for (int i = 0; i < 10; ++i) {
    reloaders.emplace_back([&] {
      auto response = testing::PostReload(app_->port(), 30s);
      if (response && response->status == 200) ++reloads_ok;
    });
  }
  for (auto& reloader : reloaders) reloader.join();
  const std::string series = "dbcanary_config_reloads_total{result=\"success\"} ";
  auto successes = [&] {
    std::string text = Metrics();
    auto at = text.find(series);
    return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + series.size());
  };
  int after_posts = successes();
  EXPECT_GE(after_posts, 1);  // concurrent requests coalesce: 1 to 10 reloads served the 10
  app_->RequestReload();      // SIGHUP's path: returns at once
  EXPECT_TRUE(WaitFor([&] { return successes() == after_posts + 1; }));
  reloading = false;
  scraper.join();

  EXPECT_EQ(reloads_ok.load(), 10);
  EXPECT_GE(scrapes.load(), 1);
  EXPECT_EQ(scrapes_unanswered.load(), 0);
  EXPECT_TRUE(cleanup.stopping.load());  // the old drill is stopping...
  EXPECT_EQ(cleanup.started.load(), 1);  // ...and nothing new started beside it
  cleanup.release.set_value();
  // Once it has stopped, one generation (the newest) starts, not one per reload.
  EXPECT_TRUE(WaitFor([&] { return cleanup.started.load() == 2; }));
  EXPECT_TRUE(app_->Stop());
  EXPECT_EQ(cleanup.started.load(), 2);
}

TEST_F(AppTest, StopIsPromptWithProbesInFlight) {
  // A 30 s timeout and a 60 s sleep: only the stop request ends a run within the 1.5 s stop
  // limit, so a Stop() that does not interrupt its runs returns false instead of merely being
  // slow (no bound on the host's speed needed to tell the two apart).
  StartWith(ConfigWith({"df-a", "df-b"}, "127.0.0.1:0", "interval: 30s, timeout: 30s, sleep: 60s"));
  ASSERT_TRUE(WaitFor([&] { return Find(app_->store().Snapshot(), "df-a") != nullptr; }));
  // Past the first-run spread (at most 2 s), so the runs are in flight when Stop() is called.
  // (Were one not yet started, Stop() would only be quicker: this sleep cannot fail the test.)
  std::this_thread::sleep_for(2100ms);
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(app_->Stop());
  // Promise: Stop() returns within its stop limit (1.5 s), plus room for a loaded host.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms + 1500ms);
}

}  // namespace
}  // namespace dbcanary
