// Pure parts of the benchmark drills: latency percentile math, the regression baseline, the
// shared leg reporting, the TPC-B transaction generator and the params validation of
// pg_benchmark / dragonfly_benchmark.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "config/config.h"
#include "drills/benchmark/bench_baseline.h"
#include "drills/benchmark/bench_leg.h"
#include "drills/benchmark/bench_stats.h"
#include "drills/benchmark/dragonfly_benchmark_drill.h"
#include "drills/benchmark/pg_benchmark_drill.h"
#include "drills/drill.h"
#include "drills/runtime/report.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

TEST(LatencyHistogram, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.QuantileSeconds(0.99), 0);
  EXPECT_EQ(h.MeanSeconds(), 0);
}

TEST(LatencyHistogram, BucketsTileTheRange) {
  for (size_t b = 0; b < 3000; ++b) {
    const uint64_t low = LatencyHistogram::BucketLow(b);
    EXPECT_EQ(LatencyHistogram::BucketOf(low), b) << b;
    EXPECT_EQ(LatencyHistogram::BucketOf(low + LatencyHistogram::BucketWidth(b) - 1), b) << b;
    EXPECT_EQ(LatencyHistogram::BucketLow(b + 1), low + LatencyHistogram::BucketWidth(b)) << b;
    // relative width at most 1/64 above the exact range
    if (low >= 128) {
      EXPECT_LE(static_cast<double>(LatencyHistogram::BucketWidth(b)) / low, 1.0 / 64);
    }
  }
  EXPECT_LT(LatencyHistogram::BucketOf(UINT64_MAX), 128u + 58 * 64);
}

TEST(LatencyHistogram, QuantilesWithinBucketPrecision) {
  // 1..10000 microseconds, shuffled: the nearest-rank quantile q is q*10000 microseconds.
  std::vector<uint64_t> values;
  for (uint64_t us = 1; us <= 10000; ++us) values.push_back(us * 1000);
  std::mt19937_64 rng(7);
  std::shuffle(values.begin(), values.end(), rng);
  LatencyHistogram h;
  for (auto v : values) h.Record(v);
  EXPECT_EQ(h.count(), 10000u);
  for (double q : {0.5, 0.95, 0.99}) {
    const double exact = q * 10000 * 1e-6;
    EXPECT_NEAR(h.QuantileSeconds(q), exact, exact / 64) << q;
  }
  EXPECT_DOUBLE_EQ(h.QuantileSeconds(1.0), 0.01);                // clamped to the max recorded
  EXPECT_NEAR(h.QuantileSeconds(0.0), 0.000001, 0.000001 / 64);  // the min's bucket
  EXPECT_NEAR(h.MeanSeconds(), 5000.5e-6, 1e-9);
}

TEST(LatencyHistogram, SkewedDistributionTail) {
  // 990 fast (1 ms) and 10 slow (100 ms) transactions: p99 is still fast, p99.5 slow.
  LatencyHistogram h;
  for (int i = 0; i < 990; ++i) h.Record(1'000'000);
  for (int i = 0; i < 10; ++i) h.Record(100'000'000);
  EXPECT_NEAR(h.QuantileSeconds(0.99), 0.001, 0.001 / 64);
  EXPECT_NEAR(h.QuantileSeconds(0.995), 0.1, 0.1 / 64);
}

TEST(LatencyHistogram, MergeEqualsRecordingTogether) {
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram both;
  for (uint64_t v = 100; v < 100000; v += 37) {
    (v % 2 == 0 ? a : b).Record(v);
    both.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), both.count());
  for (double q : {0.1, 0.5, 0.9, 0.99}) EXPECT_EQ(a.QuantileSeconds(q), both.QuantileSeconds(q));
  EXPECT_EQ(a.MaxSeconds(), both.MaxSeconds());
}

TEST(RegressionBaseline, MedianOfTheLastRuns) {
  RegressionBaseline baseline(3);
  EXPECT_FALSE(baseline.Median());
  baseline.Add(100);
  EXPECT_EQ(*baseline.Median(), 100);
  baseline.Add(300);
  EXPECT_EQ(*baseline.Median(), 200);
  baseline.Add(200);
  EXPECT_EQ(*baseline.Median(), 200);
  baseline.Add(1000);  // 100 falls out: {300, 200, 1000}
  EXPECT_EQ(baseline.size(), 3u);
  EXPECT_EQ(*baseline.Median(), 300);
  baseline.Add(NAN);  // ignored
  EXPECT_EQ(baseline.size(), 3u);
  EXPECT_DOUBLE_EQ(RegressionFraction(750, 1000), 0.25);
  EXPECT_NEAR(RegressionFraction(1100, 1000), -0.1, 1e-12);
  EXPECT_EQ(RegressionFraction(5, 0), 0);
}

TEST(BenchLeg, DealsOutRoundRobinAndRunsEveryWorker) {
  std::vector<int> items = {0, 1, 2, 3, 4};
  auto groups = bench::DealOut(items, 2, [](int item) { return item != 2; });
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0], (std::vector<int*>{&items[0], &items[4]}));
  EXPECT_EQ(groups[1], (std::vector<int*>{&items[1], &items[3]}));

  struct Worker {
    void Run() { ran = true; }
    bool ran = false;
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(std::make_unique<Worker>());
  bench::RunWorkers(workers);
  for (const auto& worker : workers) EXPECT_TRUE(worker->ran);

  const auto start = SteadyClock::now();
  EXPECT_EQ(bench::LegSeconds(start, SteadyClock::time_point{}), 0);  // nothing completed
  EXPECT_DOUBLE_EQ(bench::LegSeconds(start, start + std::chrono::milliseconds(1500)), 1.5);
  EXPECT_EQ(bench::PerSecond(10, 0), 0);
  EXPECT_DOUBLE_EQ(bench::PerSecond(10, 4), 2.5);
}

TEST(BenchLeg, DetailLineInEachDrillsWords) {
  LatencyHistogram latency;
  latency.Record(2'000'000);  // 2 ms: every percentile
  EXPECT_EQ(bench::LegDetail({"tps", 1, "committed", "failed", 2}, 812.34, 24369, 3, latency, 30),
            "812.3 tps, 24369 committed, 3 failed, latency p50 2.00 ms p95 2.00 ms p99 2.00 ms, "
            "over 30.00 s");
  EXPECT_EQ(bench::LegDetail({"ops/s", 0, "ops", "errors", 3}, 51234.6, 76852, 0, latency, 1.5),
            "51235 ops/s, 76852 ops, 0 errors, latency p50 2.000 ms p95 2.000 ms p99 2.000 ms, "
            "over 1.50 s");
}

TEST(BenchLeg, LatencyPercentilesAndThroughputExpectations) {
  LatencyHistogram latency;
  latency.Record(2'000'000);
  DrillResult result;
  bench::AddLatencyPercentiles(result, "dbcanary_x_latency_seconds", {{"op", "set"}}, latency);
  ASSERT_EQ(result.samples.size(), 3u);
  const char* percentiles[] = {"50", "95", "99"};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(result.samples[i].name, "dbcanary_x_latency_seconds");
    EXPECT_EQ(result.samples[i].labels, (Labels{{"op", "set"}, {"percentile", percentiles[i]}}));
    EXPECT_DOUBLE_EQ(result.samples[i].value, 0.002);
  }

  RegressionBaseline history(5);
  const bench::ThroughputTargets targets = {"min_rate", 100, "max_regression", 0.2, "clients 4"};
  bench::ExpectThroughput(result, "t", 1000, targets, history);  // no earlier run: no regression
  ASSERT_EQ(result.expectations.size(), 1u);
  EXPECT_EQ(result.expectations[0].check, "min_rate");
  EXPECT_EQ(result.expectations[0].target, "t");
  EXPECT_TRUE(result.expectations[0].pass);
  bench::ExpectThroughput(result, "t", 700, targets, history);  // 30 % below 1000
  ASSERT_EQ(result.expectations.size(), 3u);
  EXPECT_TRUE(result.expectations[1].pass);
  EXPECT_EQ(result.expectations[2].check, "max_regression");
  EXPECT_NEAR(result.expectations[2].observed, 0.3, 1e-12);
  EXPECT_FALSE(result.expectations[2].pass);
  EXPECT_EQ(*history.Median(), 850);
  // The parameters beside every figure a person reads.
  EXPECT_EQ(result.expectations[1].observed_text, "700 /s [clients 4]");
  EXPECT_EQ(result.expectations[2].observed_text,
            "30.0 % below the median of 1 earlier runs [clients 4]");
}

TEST(Tpcb, DrawsStayInPgbenchBounds) {
  std::mt19937_64 rng(42);
  const int scale = 3;
  int64_t min_aid = INT64_MAX, max_aid = 0, min_bid = INT64_MAX, max_bid = 0;
  int64_t min_tid = INT64_MAX, max_tid = 0, min_delta = INT64_MAX, max_delta = INT64_MIN;
  for (int i = 0; i < 200000; ++i) {
    TpcbTransaction tx = DrawTpcbTransaction(rng, scale);
    min_aid = std::min(min_aid, tx.aid);
    max_aid = std::max(max_aid, tx.aid);
    min_bid = std::min(min_bid, tx.bid);
    max_bid = std::max(max_bid, tx.bid);
    min_tid = std::min(min_tid, tx.tid);
    max_tid = std::max(max_tid, tx.tid);
    min_delta = std::min(min_delta, tx.delta);
    max_delta = std::max(max_delta, tx.delta);
  }
  EXPECT_GE(min_aid, 1);
  EXPECT_LE(max_aid, 300000);
  EXPECT_GT(max_aid, 299000);  // spread over the whole range
  EXPECT_EQ(min_bid, 1);
  EXPECT_EQ(max_bid, 3);
  EXPECT_EQ(min_tid, 1);
  EXPECT_EQ(max_tid, 30);
  EXPECT_EQ(min_delta, -5000);
  EXPECT_EQ(max_delta, 5000);
}

TEST(Tpcb, StatementsArePgbenchsDefaultScript) {
  TpcbTransaction tx{12345, 1, 7, -42};
  auto statements = TpcbStatements(tx);
  ASSERT_EQ(statements.size(), 7u);
  EXPECT_EQ(statements[0], "BEGIN;");
  EXPECT_EQ(statements[1],
            "UPDATE pgbench_accounts SET abalance = abalance + -42 WHERE aid = 12345;");
  EXPECT_EQ(statements[2], "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");
  EXPECT_EQ(statements[3], "UPDATE pgbench_tellers SET tbalance = tbalance + -42 WHERE tid = 7;");
  EXPECT_EQ(statements[4], "UPDATE pgbench_branches SET bbalance = bbalance + -42 WHERE bid = 1;");
  EXPECT_EQ(statements[5],
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 12345, -42, "
            "CURRENT_TIMESTAMP);");
  EXPECT_EQ(statements[6], "END;");
  auto init = TpcbInitStatements(2);
  ASSERT_FALSE(init.empty());
  bool accounts = false;
  for (const auto& sql : init) {
    if (sql.find("generate_series(1, 200000)") != std::string::npos) accounts = true;
  }
  EXPECT_TRUE(accounts);
}

TEST(BenchDatabaseName, OnlyPlainIdentifiers) {
  EXPECT_TRUE(IsBenchDatabaseName("dbcanary_bench"));
  EXPECT_TRUE(IsBenchDatabaseName("dbcanary_b2"));
  // Only the drill's own prefix: the drill drops the database in cleanup.
  EXPECT_FALSE(IsBenchDatabaseName("_b2"));
  EXPECT_FALSE(IsBenchDatabaseName("app"));
  EXPECT_FALSE(IsBenchDatabaseName(""));
  EXPECT_FALSE(IsBenchDatabaseName("Bench"));
  EXPECT_FALSE(IsBenchDatabaseName("2bench"));
  EXPECT_FALSE(IsBenchDatabaseName("bench\"; DROP"));
  EXPECT_FALSE(IsBenchDatabaseName(std::string(64, 'a')));
}

TEST(BenchKeyPattern, EscapesGlobCharacters) {
  EXPECT_EQ(BenchKeyPattern("dbcanary:bench:"), "dbcanary:bench:*");
  EXPECT_EQ(BenchKeyPattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:*");
}

class BenchmarkParamsTest : public ::testing::Test {
 protected:
  // A config with cluster pg, rw pooler pool-rw, ro pooler pool-ro, dragonfly df, and `job`
  // (a flow mapping "KIND: {...}") as the only drill.
  Result<std::unique_ptr<Drill>> Build(const std::string& job) {
    std::string pw = dir_.Write("pw", "benchmark-drill-test-password");
    auto config = ParseConfig(
        "postgres:\n  clusters:\n    - name: pg\n      defaults: { user: dbcanary, "
        "password_file: " +
            pw +
            ", sslmode: verify-full, sslrootcert: /ca.crt }\n"
            "      primary: { name: pg-1, host: 127.0.0.1, port: 5432 }\n"
            "poolers:\n"
            "  - { name: pool-rw, cluster: pg, type: rw, connection: { host: 127.0.0.1, port: "
            "6432, dbname: app, user: app, password_file: " +
            pw +
            " } }\n"
            "  - { name: pool-ro, cluster: pg, type: ro, connection: { host: 127.0.0.1, port: "
            "6433, dbname: app, user: app, password_file: " +
            pw +
            " } }\n"
            "dragonfly:\n  - name: df\n    master: { name: df-0, host: 127.0.0.1, port: 6379 }\n"
            "drills:\n  reports_dir: " +
            dir_.path() + "\n  jobs:\n    " + job + "\n",
        "test.yaml");
    if (!config) return config.error();
    config_ = *config;
    DrillRegistry registry;
    RegisterBuiltinDrills(registry);
    return registry.Create(config_->drills->jobs.at(0), *config_);
  }

  testing::TempDir dir_;
  std::shared_ptr<const Config> config_;
};

TEST_F(BenchmarkParamsTest, PgDefaultsAndPoolerLogin) {
  auto drill =
      Build("pg_benchmark: { cluster: pg, pooler: pool-rw, admin: { user: bench, password_file: " +
            dir_.path() + "/pw } }");
  ASSERT_TRUE(drill) << drill.error().message;
  EXPECT_EQ((*drill)->Describe().front().name, "dbcanary_drill_pg_benchmark_tps");
  DrillSettings settings = config_->drills->jobs.at(0);
  PgBenchmarkParams p = ReadPgBenchmarkParams(settings, *config_);
  EXPECT_EQ(p.clients, 10);
  EXPECT_EQ(p.threads, 2);
  EXPECT_EQ(p.scale, 10);  // the acceptance list's pgbench -i -s 10, then -c 10 -j 2 -t 1000
  EXPECT_EQ(p.transactions, 1000);
  EXPECT_EQ(p.duration, std::chrono::seconds(120));
  EXPECT_EQ(p.database, "dbcanary_bench");
  EXPECT_EQ(p.min_tps, 1000);
  EXPECT_EQ(p.admin.user, "bench");
  EXPECT_EQ(p.admin.host, "127.0.0.1");  // inherited from the primary
  EXPECT_EQ(p.admin.dbname, "postgres");
  ASSERT_TRUE(p.pooler_connection);
  EXPECT_EQ(p.pooler_connection->port, 6432);
  EXPECT_EQ(p.pooler_connection->user, "bench");  // the workload's login, not the tenant's
  EXPECT_EQ(p.pooler_connection->dbname, "dbcanary_bench");
}

TEST_F(BenchmarkParamsTest, PgRejectsBadParams) {
  for (const auto& [job, expected] : std::vector<std::pair<std::string, std::string>>{
           {"pg_benchmark: { cluster: pg, clinets: 5 }", "clinets"},
           {"pg_benchmark: { cluster: nope }", "no postgres cluster named"},
           {"pg_benchmark: { cluster: pg, pooler: pool-ro }", "read-write"},
           {"pg_benchmark: { cluster: pg, pooler: nope }", "no pooler named"},
           {"pg_benchmark: { cluster: pg, database: \"Prod\" }", "must start with dbcanary_"},
           // the drill drops its database: never one it did not name itself
           {"pg_benchmark: { cluster: pg, database: postgres }",
            "drills.jobs.pg_benchmark.database: must start with dbcanary_"},
           {"pg_benchmark: { cluster: pg, clients: 2, threads: 4 }", "exceed clients"},
           {"pg_benchmark: { cluster: pg, clients: 0 }", "clients"},
           {"pg_benchmark: { cluster: pg, duration: 58s, timeout: 1m }", "timeout"},
           {"pg_benchmark: { cluster: pg, expect: { min_tsp: 5 } }", "min_tsp"},
           {"pg_benchmark: { cluster: pg, expect: { max_regression: 2 } }", "max_regression"},
       }) {
    auto drill = Build(job);
    ASSERT_FALSE(drill) << job;
    EXPECT_EQ(drill.error().code, ErrorCode::kConfig);
    EXPECT_NE(drill.error().message.find(expected), std::string::npos)
        << job << ": " << drill.error().message;
  }
}

TEST_F(BenchmarkParamsTest, DragonflyDefaultsAndKeys) {
  auto drill = Build("dragonfly_benchmark: { dragonfly: df }");
  ASSERT_TRUE(drill) << drill.error().message;
  DrillSettings settings = config_->drills->jobs.at(0);
  DragonflyBenchmarkParams p = ReadDragonflyBenchmarkParams(settings, *config_);
  EXPECT_EQ(p.connections, 50);
  EXPECT_EQ(p.pipeline, 1);  // redis-benchmark -t set,get -n 100000: 50 clients, no pipelining
  EXPECT_EQ(p.requests, 100000);
  EXPECT_EQ(p.duration, std::chrono::seconds(60));
  EXPECT_EQ(p.value_size, 3);
  EXPECT_EQ(p.threads, 1);
  EXPECT_EQ(p.ops, (std::vector<std::string>{"set", "get"}));
  EXPECT_EQ(p.key_prefix, "dbcanary:bench:");
  EXPECT_EQ(p.min_ops_per_second, 50000);
}

TEST_F(BenchmarkParamsTest, DragonflyRejectsBadParams) {
  for (const auto& [job, expected] : std::vector<std::pair<std::string, std::string>>{
           {"dragonfly_benchmark: { dragonfly: nope }", "no dragonfly named"},
           {"dragonfly_benchmark: { dragonfly: df, ops: [set, del] }", "allowed: set, get"},
           {"dragonfly_benchmark: { dragonfly: df, ops: [get, get] }", "twice"},
           {"dragonfly_benchmark: { dragonfly: df, ops: [] }", "at least one"},
           {"dragonfly_benchmark: { dragonfly: df, pipeline: 0 }", "pipeline"},
           {"dragonfly_benchmark: { dragonfly: df, duration: 5m }", "timeout"},
           {"dragonfly_benchmark: { dragonfly: df, expect: { min_ops: 1 } }", "min_ops"},
       }) {
    auto drill = Build(job);
    ASSERT_FALSE(drill) << job;
    EXPECT_EQ(drill.error().code, ErrorCode::kConfig);
    EXPECT_NE(drill.error().message.find(expected), std::string::npos)
        << job << ": " << drill.error().message;
  }
}

}  // namespace
}  // namespace dbcanary

namespace dbcanary {
namespace {

// A completed pg_benchmark run as its report holds it: the direct path's tps and the
// parameters it ran with.
DrillRecord BenchRecord(const std::string& at, DrillOutcome outcome, double tps, double scale) {
  DrillRecord record;
  record.drill = "pg_benchmark";
  record.finished_at = *ParseUtc(at);
  record.started_at = record.finished_at;
  record.outcome = outcome;
  record.result.Add("dbcanary_drill_pg_benchmark_tps", {{"target", "pg"}, {"path", "direct"}}, tps);
  bench::AddParameters(record.result, "dbcanary_drill_pg_benchmark_parameter", "pg",
                       {{"scale", scale}, {"clients", 10}});
  return record;
}

// Pins: the regression baseline living in memory only (lost on restart), reading unbounded
// history, or comparing runs made with other parameters or that did not complete.
TEST(BenchBaseline, ReadBackFromReportFilesAfterARestart) {
  testing::TempDir dir;
  for (auto record : {BenchRecord("2026-12-01T03:00:00.000Z", DrillOutcome::kPass, 900, 10),
                      BenchRecord("2026-12-02T03:00:00.000Z", DrillOutcome::kFail, 700, 10),
                      BenchRecord("2026-12-02T04:00:00.000Z", DrillOutcome::kPass, 5000, 1),
                      BenchRecord("2026-12-02T05:00:00.000Z", DrillOutcome::kError, 1, 10),
                      BenchRecord("2026-12-03T03:00:00.000Z", DrillOutcome::kPass, 1000, 10)}) {
    ASSERT_TRUE(WriteReport(record, dir.path(), 20));
  }
  // A fresh process: nothing but the files.
  const auto records = LoadRecentRecords(dir.path(), "pg_benchmark", 100);
  ASSERT_EQ(records.size(), 5u);
  const bench::BaselineQuery query{"dbcanary_drill_pg_benchmark_tps",
                                   {{"target", "pg"}, {"path", "direct"}},
                                   "dbcanary_drill_pg_benchmark_parameter",
                                   "pg"};
  const bench::BenchParameters same = {{"scale", 10}, {"clients", 10}};
  EXPECT_EQ(bench::PreviousRates(records, query, same, 5), (std::vector<double>{900, 700, 1000}));
  EXPECT_EQ(bench::PreviousRates(records, query, same, 2), (std::vector<double>{700, 1000}));
  EXPECT_EQ(bench::PreviousRates(records, query, {{"scale", 1}, {"clients", 10}}, 5),
            (std::vector<double>{5000}));
  EXPECT_TRUE(bench::PreviousRates(records, query, {{"scale", 10}}, 5).empty());
  const bench::BaselineQuery pooler{"dbcanary_drill_pg_benchmark_tps",
                                    {{"target", "pg"}, {"path", "pooler"}},
                                    "dbcanary_drill_pg_benchmark_parameter",
                                    "pg"};
  EXPECT_TRUE(bench::PreviousRates(records, pooler, same, 5).empty());
  // Bounded: only the newest files are read.
  EXPECT_EQ(LoadRecentRecords(dir.path(), "pg_benchmark", 2).size(), 2u);
  EXPECT_EQ(bench::BaselineFilesToRead(5), 24u);
}

TEST(BenchBaseline, ParametersTextNamesEveryParameter) {
  EXPECT_EQ(bench::ParametersText({{"scale", 10}, {"clients", 10}, {"duration_seconds", 1.5}}),
            "scale 10, clients 10, duration_seconds 1.5");
}

}  // namespace
}  // namespace dbcanary
