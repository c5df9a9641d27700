#include "exporter/metrics/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/families.h"
#include "drills/runtime/state_store.h"
#include "exporter/version.h"
#include "exporter/web/http_server.h"
#include "probes/runtime/scheduler.h"
#include "tests/unit/fake_probe.h"
#include "tests/unit/http_client.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

const MetricDesc kLagDesc{"dbcanary_fake_lag_bytes", "Replay lag.", MetricType::kGauge};

ProbeSnapshot Pending(std::string target) {
  auto info = std::make_shared<ProbeInfo>();
  info->key = ProbeKey{"fake", std::move(target)};
  info->interval = 10s;
  info->timeout = 2500ms;
  info->descriptors = {kLagDesc};
  return ProbeSnapshot{info, nullptr, {}};
}

ProbeSnapshot Finished(std::string target) {
  ProbeSnapshot probe = Pending(std::move(target));
  auto result = std::make_shared<ProbeResult>();
  result->success = true;
  result->duration_seconds = 0.25;
  result->finished_at = std::chrono::system_clock::time_point(1'700'000'000'500ms);
  result->Add("dbcanary_fake_lag_bytes", {{"instance", "pg-2"}}, 1024);
  result->Add("dbcanary_undescribed", {}, 1);
  result->expectations.push_back(ExpectNumber("min_sync_standbys", "pg", 1, ">=", 1));
  result->expectations.push_back(ExpectText("pool_mode", "pooler", "session", "transaction"));
  probe.latest = result;
  probe.counters.runs = 7;
  probe.counters.failures[static_cast<size_t>(ErrorCode::kTimeout)] = 2;
  probe.counters.skipped = 3;
  probe.counters.last_success = result->finished_at;
  return probe;
}

std::string Render(std::vector<ProbeSnapshot> probes) {
  MetricsInput input;
  input.probes = std::move(probes);
  SelfMetrics self;
  for (int i = 0; i < 5; ++i) self.CountScrape();
  self.ObserveScrapeDuration(0.001);
  self.RecordInitialLoad(std::chrono::system_clock::time_point(1'700'000'000s));
  self.RecordReload(false, std::chrono::system_clock::time_point(1'700'000'100s));
  self.SetProcessStats(ProcessStats{1e6, 2e6, 1.5, 1'699'999'000, 12, 1024});
  return RenderMetrics(input, self);
}

TEST(RenderTest, ProbeWithoutResultHasCountersButNoSuccessSeries) {
  // Never-ran is not failed: no success sample until the first result, so nothing alerts on a
  // probe that simply has not run yet; runs_total 0 shows it exists.
  std::string out = Render({Pending("t1")});
  EXPECT_THAT(out, Not(HasSubstr("dbcanary_probe_success{probe=\"fake\",target=\"t1\"}")));
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_runs_total{probe=\"fake\",target=\"t1\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_skipped_total{probe=\"fake\",target=\"t1\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_interval_seconds{probe=\"fake\",target=\"t1\"} 10\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_timeout_seconds{probe=\"fake\",target=\"t1\"} 2.5\n"));
  for (ErrorCode code : kAllErrorCodes) {
    EXPECT_THAT(out,
                HasSubstr("dbcanary_probe_failures_total{probe=\"fake\",target=\"t1\",reason=\"" +
                          std::string(ErrorCodeName(code)) + "\"} 0\n"));
  }
  EXPECT_THAT(out, Not(HasSubstr("dbcanary_probe_last_run_timestamp_seconds{")));
  EXPECT_THAT(out, Not(HasSubstr("dbcanary_probe_duration_seconds{")));
  EXPECT_THAT(out, Not(HasSubstr("dbcanary_probe_last_success_timestamp_seconds{")));
  EXPECT_THAT(out, Not(HasSubstr("dbcanary_expectation_pass")));
}

TEST(RenderTest, FinishedProbeStateCountersAndOwnSamples) {
  std::string out = Render({Finished("t1")});
  const std::string labels = "{probe=\"fake\",target=\"t1\"}";
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_success" + labels + " 1\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_duration_seconds" + labels + " 0.25\n"));
  EXPECT_THAT(out,
              HasSubstr("dbcanary_probe_last_run_timestamp_seconds" + labels + " 1700000000.5\n"));
  EXPECT_THAT(
      out, HasSubstr("dbcanary_probe_last_success_timestamp_seconds" + labels + " 1700000000.5\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_runs_total" + labels + " 7\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_probe_skipped_total" + labels + " 3\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE dbcanary_probe_failures_total counter\n"));
  EXPECT_THAT(
      out,
      HasSubstr(
          "dbcanary_probe_failures_total{probe=\"fake\",target=\"t1\",reason=\"timeout\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("# HELP dbcanary_fake_lag_bytes Replay lag.\n"
                             "# TYPE dbcanary_fake_lag_bytes gauge\n"
                             "dbcanary_fake_lag_bytes{instance=\"pg-2\"} 1024\n"));
  // A sample of a family the probe did not describe is dropped rather than rendered bare.
  EXPECT_THAT(out, Not(HasSubstr("dbcanary_undescribed")));
}

TEST(RenderTest, Expectations) {
  std::string out = Render({Finished("t1")});
  EXPECT_THAT(out, HasSubstr("# TYPE dbcanary_expectation_pass gauge\n"));
  EXPECT_THAT(
      out, HasSubstr("dbcanary_expectation_pass{check=\"min_sync_standbys\",target=\"pg\"} 1\n"));
  EXPECT_THAT(out,
              HasSubstr("dbcanary_expectation_pass{check=\"pool_mode\",target=\"pooler\"} 0\n"));
  EXPECT_THAT(
      out,
      HasSubstr("dbcanary_expectation_threshold{check=\"min_sync_standbys\",target=\"pg\"} 1\n"));
  // A textual expectation has no numeric threshold.
  EXPECT_THAT(out, Not(HasSubstr("dbcanary_expectation_threshold{check=\"pool_mode\"")));
}

TEST(RenderTest, SelfMetrics) {
  std::string out = Render({Pending("a"), Pending("b")});
  // Labels of a prometheus::Family come out sorted by name.
  EXPECT_THAT(out, HasSubstr("dbcanary_build_info{revision=\"" + std::string(Revision()) +
                             "\",version=\"" + std::string(Version()) + "\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE dbcanary_exporter_scrapes_total counter\n"
                             "dbcanary_exporter_scrapes_total 5\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE dbcanary_exporter_scrape_duration_seconds histogram\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_exporter_scrape_duration_seconds_count 1\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_exporter_scrape_duration_seconds_sum 0.001\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_exporter_scrape_duration_seconds_bucket{le=\"0.001\"} 1\n"));
  EXPECT_THAT(out,
              HasSubstr("dbcanary_exporter_scrape_duration_seconds_bucket{le=\"0.0005\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_exporter_probes 2\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_config_last_reload_successful 0\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_config_last_reload_success_timestamp_seconds 1700000000\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_config_reloads_total{result=\"success\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("dbcanary_config_reloads_total{result=\"failure\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("process_resident_memory_bytes 1000000\n"));
  EXPECT_THAT(out, HasSubstr("process_virtual_memory_bytes 2000000\n"));
  EXPECT_THAT(out, HasSubstr("# TYPE process_cpu_seconds_total counter\n"
                             "process_cpu_seconds_total 1.5\n"));
  EXPECT_THAT(out, HasSubstr("process_start_time_seconds 1699999000\n"));
  EXPECT_THAT(out, HasSubstr("process_open_fds 12\n"));
  EXPECT_THAT(out, HasSubstr("process_max_fds 1024\n"));
}

TEST(RenderTest, EveryFamilyHasHelpAndTypeOnceAndEveryMetricIsPrefixed) {
  std::string out = Render({Finished("t1"), Finished("t2")});
  std::map<std::string, int> help_count;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    std::string line = out.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("# HELP ", 0) == 0) {
      ++help_count[line.substr(7, line.find(' ', 7) - 7)];
    } else if (line[0] != '#') {
      // process_* are the standard process metrics, named as every other exporter names them.
      EXPECT_TRUE(line.starts_with("dbcanary_") || line.starts_with("process_")) << line;
    }
  }
  for (const auto& [name, count] : help_count) EXPECT_EQ(count, 1) << name;
  EXPECT_GE(help_count.size(), 20u);
}

TEST(RenderTest, ParsesProcSelfStat) {
  // comm may hold spaces and parentheses; fields are counted after the last ')'.
  std::string stat =
      "4242 (db canary) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 "
      "5000 123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  auto stats = ParseProcSelfStat(stat, 100, 4096, 1'600'000'000);
  ASSERT_TRUE(stats.has_value());
  EXPECT_DOUBLE_EQ(stats->cpu_seconds_total, 4.0);
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1'600'000'050);
  EXPECT_DOUBLE_EQ(stats->virtual_memory_bytes, 123456789);
  EXPECT_DOUBLE_EQ(stats->resident_memory_bytes, 300.0 * 4096);
  EXPECT_FALSE(ParseProcSelfStat("garbage", 100, 4096, 0).has_value());
  EXPECT_FALSE(ParseProcSelfStat("1 (x) S 1 2", 100, 4096, 0).has_value());
}

TEST(RenderTest, ReadsThisProcess) {
  auto stats = ReadProcessStats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_GT(stats->resident_memory_bytes, 0);
  EXPECT_GT(stats->open_fds, 2);
  EXPECT_GT(stats->max_fds, 0);
  EXPECT_GT(stats->start_time_seconds, 1e9);
}

TEST(RenderTest, ScrapeCountsItselfAndRecordsItsDuration) {
  ResultStore store;
  SelfMetrics self;
  std::string first = Scrape(store, self);
  EXPECT_THAT(first, HasSubstr("dbcanary_exporter_scrapes_total 1\n"));
  EXPECT_THAT(first, HasSubstr("dbcanary_exporter_scrape_duration_seconds_count 0\n"));
  EXPECT_THAT(first, HasSubstr("process_resident_memory_bytes "));
  std::string second = Scrape(store, self);
  EXPECT_THAT(second, HasSubstr("dbcanary_exporter_scrapes_total 2\n"));
  EXPECT_THAT(second, HasSubstr("dbcanary_exporter_scrape_duration_seconds_count 1\n"));
}

// The central promise: /metrics never waits for a target.
TEST(RenderTest, ScrapeAnswersAtOnceWhileAProbeHangs) {
  ResultStore store;
  SelfMetrics self;
  auto state = std::make_shared<testing::FakeProbeState>();
  // Hangs for a minute past its deadline (honours stop, so Join ends it at once): a scrape that
  // waited on it would be told apart from a slow one by any bound below that.
  state->default_step.sleep = 60s;
  state->default_step.honor_deadline = false;
  auto info = std::make_shared<ProbeInfo>();
  info->key = ProbeKey{"fake", "hung"};
  info->interval = 10s;
  info->timeout = 1s;
  store.SetProbes({info});
  std::vector<ScheduledProbe> probes;
  probes.push_back(ScheduledProbe{info, std::make_unique<testing::FakeProbe>(state)});
  SchedulerOptions options;
  options.first_run_spread = 1ms;
  Scheduler scheduler(std::move(probes), store, options);

  auto server = HttpServer::Start({"127.0.0.1:0", 2},
                                  HttpBackend{&store, &self, [] { return Status(Ok{}); }});
  ASSERT_TRUE(server) << server.error().message;
  scheduler.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return state->in_flight.load() == 1; }));

  auto started = std::chrono::steady_clock::now();
  auto response = testing::HttpRequest((*server)->port(), "GET", "/metrics", 10s);
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  // At once (2 s of room for a loaded host), not after the probe's minute-long hang.
  EXPECT_LT(elapsed, 2s);
  EXPECT_THAT(response->body,
              HasSubstr("dbcanary_probe_runs_total{probe=\"fake\",target=\"hung\"} 0\n"));
  EXPECT_TRUE(scheduler.Join(10s));
}

// The cached path splices per-probe segments; it must give exactly the collector's text through
// the serializer, through publishes, skipped runs, a reload and drill changes, including series
// two probes both report (the first one wins, as in the collector).
std::string CollectorText(const ResultStore& store, const DrillStateStore& drills) {
  std::string text;
  AppendText(ResultCollector(store, &drills).Collect(), text);
  return text;
}

std::shared_ptr<ProbeInfo> SharedFamilyProbe(std::string kind, std::string target) {
  auto info = std::make_shared<ProbeInfo>();
  info->key = ProbeKey{std::move(kind), std::move(target)};
  info->interval = 5s;
  info->timeout = 1s;
  info->descriptors = {kLagDesc,
                       {"dbcanary_exporter_probes", "A self family: refused.", MetricType::kGauge}};
  return info;
}

std::shared_ptr<const ProbeResult> SharedResult(double lag, bool success) {
  auto result = std::make_shared<ProbeResult>();
  result->success = success;
  if (!success) result->error = Error{ErrorCode::kTimeout, "slow"};
  result->duration_seconds = 0.125;
  result->finished_at = std::chrono::system_clock::time_point(1'700'000'000'250ms);
  result->Add("dbcanary_fake_lag_bytes", {{"instance", "shared"}}, lag);
  result->Add("dbcanary_exporter_probes", {}, 99);
  result->expectations.push_back(ExpectNumber("max_lag", "cluster", lag, "<=", 100));
  return result;
}

TEST(SegmentSpliceTest, SplicedSegmentsEqualTheCollectorsText) {
  ResultStore store;
  DrillStateStore drills;
  RenderCache cache;
  std::vector<std::shared_ptr<const ProbeInfo>> infos = {SharedFamilyProbe("fake", "a"),
                                                         SharedFamilyProbe("other", "a"),
                                                         SharedFamilyProbe("fake", "b")};
  store.SetProbes(infos);
  auto check = [&](const char* step) {
    auto text = cache.Get(store, &drills);
    EXPECT_EQ(text->text, CollectorText(store, drills)) << step;
    EXPECT_EQ(text->probes, store.Snapshot().size()) << step;
  };
  check("no results");
  store.Publish(infos[0]->key, SharedResult(10, true));
  check("one result");
  store.Publish(infos[1]->key, SharedResult(20, false));  // same lag series and expectation
  store.Publish(infos[2]->key, SharedResult(30, true));
  check("three results");
  std::string before = cache.Get(store, &drills)->text;
  EXPECT_EQ(before.find("dbcanary_fake_lag_bytes{instance=\"shared\"} 20"), std::string::npos);
  EXPECT_EQ(before.find("dbcanary_exporter_probes"), std::string::npos);
  store.CountSkipped(infos[2]->key);
  check("skipped");
  store.Publish(infos[1]->key, SharedResult(40, true));
  check("republished");
  drills.SetDrills({DrillInfo{"scripted",
                              true,
                              "",
                              "",
                              60,
                              {{"dbcanary_fake_lag_bytes", "Drill lag.", MetricType::kGauge}}}},
                   "");
  check("drills");
  drills.SetRunning("scripted", true);
  check("drill running");
  store.SetProbes({infos[2], SharedFamilyProbe("fake", "c")});  // a reload
  check("reload");
  store.Publish(ProbeKey{"fake", "c"}, SharedResult(50, true));
  check("after reload");
}

TEST(SegmentSpliceTest, UnchangedStoresReuseTheText) {
  ResultStore store;
  RenderCache cache;
  store.SetProbes({SharedFamilyProbe("fake", "a")});
  auto first = cache.Get(store, nullptr);
  EXPECT_EQ(cache.Get(store, nullptr), first);
  store.CountSkipped(ProbeKey{"fake", "a"});
  EXPECT_NE(cache.Get(store, nullptr), first);
}

}  // namespace
}  // namespace dbcanary
