// pg_benchmark and dragonfly_benchmark against the local stack, driven through the Drill
// interface: short runs (TPS > 0, expectations that pass and fail), the scratch database and
// the benchmark keys removed afterwards, and leftovers of a killed run removed by CleanUp.

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "clients/redis/redis_client.h"
#include "drills/benchmark/dragonfly_benchmark_drill.h"
#include "drills/benchmark/pg_benchmark_drill.h"
#include "drills/drill.h"
#include "drills/runtime/report.h"
#include "tests/integration/harness/report_plots.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using testing::Stack;
using namespace std::chrono_literals;

constexpr char kDatabase[] = "dbcanary_bench";
constexpr char kMarker[] = "dbcanary pg_benchmark scratch database";

std::shared_ptr<spdlog::logger> NullLogger() {
  static auto logger =
      std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  return logger;
}

DrillContext Context(std::chrono::milliseconds budget, std::stop_token stop = {}) {
  return DrillContext{Deadline::In(budget), std::move(stop), *NullLogger(),
                      [](std::string_view) {}};
}

DrillSettings Settings(const std::string& kind, const std::string& yaml) {
  DrillSettings settings;
  settings.kind = kind;
  settings.enabled = true;
  settings.timeout = 2min;
  settings.params = std::make_shared<YamlMap>(YAML::Load(yaml), "drills.jobs." + kind,
                                              std::make_shared<const std::string>("test"));
  return settings;
}

double Value(const DrillResult& result, const std::string& name, const std::string& label,
             const std::string& value) {
  for (const auto& sample : result.samples) {
    if (sample.name != name) continue;
    for (const auto& [k, v] : sample.labels) {
      if (k == label && v == value) return sample.value;
    }
  }
  return -1;
}

const ExpectationResult* FindExpectation(const DrillResult& result, const std::string& check,
                                         const std::string& target) {
  for (const auto& e : result.expectations) {
    if (e.check == check && e.target == target) return &e;
  }
  return nullptr;
}

int64_t DatabaseCount() {
  auto rows = Stack::Get().AdminQuery(
      "shared-postgres-1",
      std::string("SELECT count(*) AS n FROM pg_database WHERE datname = '") + kDatabase + "'");
  if (!rows) return -1;
  return static_cast<int64_t>(rows->Number(0, "n").value().value_or(-1));
}

class BenchmarkDrillTest : public ::testing::Test {
 protected:
  // The drill runs as the stack's monitoring role, which needs CREATEDB for its scratch
  // database; granted for this suite only and taken back afterwards, pass or fail.
  static void SetUpTestSuite() {
    if (!Stack::Get().available()) return;
    auto rows = Stack::Get().AdminQuery(
        "shared-postgres-1",
        "SELECT rolcreatedb::text AS c FROM pg_roles WHERE rolname = 'dbcanary'");
    had_createdb_ = rows && !rows->empty() && rows->Text(0, "c").value() == "true";
    if (!had_createdb_)
      (void)Stack::Get().AdminQuery("shared-postgres-1", "ALTER ROLE dbcanary CREATEDB");
  }
  static void TearDownTestSuite() {
    if (!Stack::Get().available()) return;
    (void)Stack::Get().AdminQuery(
        "shared-postgres-1", std::string("DROP DATABASE IF EXISTS ") + kDatabase + " WITH (FORCE)");
    if (!had_createdb_) {
      (void)Stack::Get().AdminQuery("shared-postgres-1", "ALTER ROLE dbcanary NOCREATEDB");
    }
  }

  // The stack's config with reports (and so the regression baseline) in a fresh directory.
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    std::string pattern =
        (std::filesystem::temp_directory_path() / "dbcanary-bench-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    reports_dir_ = pattern;
    auto copy = std::make_shared<Config>(**config);
    if (!copy->drills) copy->drills.emplace();
    copy->drills->reports_dir = reports_dir_;
    config_ = copy;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!reports_dir_.empty()) std::filesystem::remove_all(reports_dir_, ignored);
  }

  // A new drill object, as an exporter start or reload builds it (reading earlier reports).
  std::unique_ptr<Drill> Make(const std::string& kind, const std::string& yaml) {
    DrillRegistry registry;
    RegisterBuiltinDrills(registry);
    auto drill = registry.Create(Settings(kind, yaml), *config_);
    EXPECT_TRUE(drill) << drill.error().message;
    return drill ? std::move(*drill) : nullptr;
  }

  // Writes a finished run's report as the drill runner does.
  void Persist(const std::string& kind, const DrillResult& result) {
    DrillRecord record;
    record.drill = kind;
    record.finished_at = std::chrono::system_clock::now();
    record.started_at = record.finished_at;
    record.outcome = result.Passed() ? DrillOutcome::kPass : DrillOutcome::kFail;
    record.result = result;
    auto written = WriteReport(record, reports_dir_, 20);
    ASSERT_TRUE(written) << written.error().message;
  }

  static inline bool had_createdb_ = false;
  std::string reports_dir_;
  std::shared_ptr<const Config> config_;
};

// Pins: the workload not committing anything (direct or through PgBouncer), failed
// transactions under a clean run, expectations not evaluated per path, the scratch database
// left behind after a successful run.
TEST_F(BenchmarkDrillTest, PgBenchmarkBothPathsThenDropsDatabase) {
  auto drill = Make("pg_benchmark",
                    "{cluster: shared-postgres, pooler: gitlab-pooler-rw, clients: 4, threads: 2, "
                    "scale: 1, transactions: 50, duration: 60s, "
                    "expect: {min_tps: 0.001, max_regression: 0.2}, "
                    "baseline: {direct: 1000000000, pooler: 1000000000}}");
  ASSERT_TRUE(drill);
  auto ctx = Context(90s);
  ASSERT_TRUE(drill->CleanUp(ctx));
  auto ready = drill->CheckPreconditions(ctx);
  ASSERT_TRUE(ready) << ready.error().message;
  DrillResult result = drill->Run(ctx);
  ASSERT_FALSE(result.error) << result.error->message;

  // No figure is compared with a speed: a busy host commits fewer transactions, not none. The
  // min_tps of 0.001 is met by one commit in any leg that ends within the 90 s budget.
  for (const std::string path : {"direct", "pooler"}) {
    SCOPED_TRACE(path);
    EXPECT_GT(Value(result, "dbcanary_drill_pg_benchmark_tps", "path", path), 0);
    EXPECT_GT(Value(result, "dbcanary_drill_pg_benchmark_transactions", "path", path), 0);
    EXPECT_EQ(Value(result, "dbcanary_drill_pg_benchmark_failed_transactions", "path", path), 0);
    EXPECT_EQ(Value(result, "dbcanary_drill_pg_benchmark_clients", "path", path), 4);
    // pgbench -t: a fixed count per client (4 x 50), not a time window
    EXPECT_EQ(Value(result, "dbcanary_drill_pg_benchmark_transactions", "path", path) +
                  Value(result, "dbcanary_drill_pg_benchmark_failed_transactions", "path", path),
              200);
  }
  // The parameters next to the figures: samples, and in every leg's phase detail.
  EXPECT_EQ(Value(result, "dbcanary_drill_pg_benchmark_parameter", "parameter", "scale"), 1);
  EXPECT_EQ(Value(result, "dbcanary_drill_pg_benchmark_parameter", "parameter",
                  "transactions_per_client"),
            50);
  for (const auto& phase : result.phases) {
    if (phase.name.starts_with("bench_")) {
      EXPECT_NE(phase.detail.find("[scale 1, clients 4, threads 2, transactions_per_client 50"),
                std::string::npos)
          << phase.detail;
    }
  }
  // The report's plots: TPS over the run and the latency distribution of both paths, one SVG
  // point per recorded sample.
  testing::ExpectHtmlPlotsMatchJson("pg_benchmark", result, "pg-benchmark-drill");
  const double p50 =
      Value(result, "dbcanary_drill_pg_benchmark_latency_seconds", "percentile", "50");
  const double p99 =
      Value(result, "dbcanary_drill_pg_benchmark_latency_seconds", "percentile", "99");
  EXPECT_GT(p50, 0);
  // In seconds, and a transaction's latency: no longer than the leg it ran in (the histogram
  // clamps its quantiles to the recorded extremes).
  double direct_leg = -1;
  for (const auto& phase : result.phases) {
    if (phase.name == "bench_direct") direct_leg = phase.duration_seconds;
  }
  EXPECT_LE(p50, direct_leg);
  EXPECT_GE(p99, p50);

  for (const std::string target : {"shared-postgres", "gitlab-pooler-rw"}) {
    SCOPED_TRACE(target);
    const auto* min_tps = FindExpectation(result, "pg_benchmark_min_tps", target);
    ASSERT_NE(min_tps, nullptr);
    EXPECT_TRUE(min_tps->pass);
    // a baseline of 1e9 TPS, beyond any host: this run is ~100 % slower, beyond max_regression
    // 0.2
    const auto* regression = FindExpectation(result, "pg_benchmark_max_regression", target);
    ASSERT_NE(regression, nullptr);
    EXPECT_FALSE(regression->pass);
    EXPECT_GT(regression->observed, 0.99);
  }
  EXPECT_FALSE(result.Passed());
  std::vector<std::string> phases;
  for (const auto& phase : result.phases) {
    phases.push_back(phase.name);
    EXPECT_TRUE(phase.ok) << phase.name << ": " << phase.detail;
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"create_database", "init_schema", "bench_direct",
                                              "bench_pooler", "drop_database"}));
  EXPECT_EQ(DatabaseCount(), 0);
}

// Pins: a stop request (exporter shutdown) not ending the workload, or the run leaving its
// scratch database behind when stopped; an unmet min_tps reported as a pass.
TEST_F(BenchmarkDrillTest, PgBenchmarkStopsMidRunAndStillDrops) {
  auto drill = Make("pg_benchmark",
                    "{cluster: shared-postgres, pooler: gitlab-pooler-rw, clients: 2, threads: 1, "
                    "scale: 1, transactions: 0, duration: 60s, expect: {min_tps: 1000000000}}");
  ASSERT_TRUE(drill);
  std::stop_source stop;
  std::jthread stopper;
  SteadyClock::time_point stop_requested_at{};
  // Stop once the direct leg has committed a transaction (its pgbench_history row is visible),
  // as an exporter shutdown would: waited for, not assumed after a fixed delay, so the leg has
  // a transaction to report however slow the host is.
  DrillContext ctx{
      Deadline::In(180s), stop.get_token(), *NullLogger(), [&](std::string_view line) {
        if (line.starts_with("benchmark direct: scale 1, clients 2") && !stopper.joinable()) {
          stopper = std::jthread([&stop, &stop_requested_at] {
            const auto give_up = SteadyClock::now() + 120s;
            while (SteadyClock::now() < give_up) {
              auto rows = Stack::Get().AdminQuery(
                  "shared-postgres-1", "SELECT count(*) AS n FROM pgbench_history", kDatabase);
              if (rows && rows->Number(0, "n").value().value_or(0) > 0) break;
              std::this_thread::sleep_for(50ms);
            }
            stop_requested_at = SteadyClock::now();
            stop.request_stop();
          });
        }
      }};
  ASSERT_TRUE(drill->CleanUp(ctx));
  DrillResult result = drill->Run(ctx);
  const auto returned_at = SteadyClock::now();
  ASSERT_TRUE(stopper.joinable()) << "the direct leg never started";
  stopper.join();
  // Promise: a stop ends the workload (and the run, drop included) promptly: 15 s of room for
  // a loaded host, where a run ignoring it would go on with the 60 s leg (and the pooler's).
  EXPECT_LT(std::chrono::duration<double>(returned_at - stop_requested_at).count(), 15);
  ASSERT_TRUE(result.error);
  EXPECT_EQ(result.error->code, ErrorCode::kStopped);
  EXPECT_NE(result.error->message.find("stop requested"), std::string::npos)
      << result.error->message;
  EXPECT_GT(Value(result, "dbcanary_drill_pg_benchmark_transactions", "path", "direct"), 0);
  const auto* min_tps = FindExpectation(result, "pg_benchmark_min_tps", "shared-postgres");
  ASSERT_NE(min_tps, nullptr);
  EXPECT_FALSE(min_tps->pass);
  EXPECT_EQ(FindExpectation(result, "pg_benchmark_min_tps", "gitlab-pooler-rw"), nullptr);
  EXPECT_EQ(DatabaseCount(), 0);
}

// Pins: the scratch database of a run killed midway (still holding a connection) surviving
// the next CleanUp; CleanUp dropping a same-named database the drill did not create.
TEST_F(BenchmarkDrillTest, PgCleanUpRemovesLeftoverButNotForeignDatabase) {
  auto drill = Make("pg_benchmark", "{cluster: shared-postgres, scale: 1, duration: 10s}");
  ASSERT_TRUE(drill);
  const auto& stack = Stack::Get();
  // a foreign database of that name (even one the drill's role owns): refused, left alone
  ASSERT_TRUE(stack.AdminQuery("shared-postgres-1",
                               std::string("CREATE DATABASE ") + kDatabase + " OWNER dbcanary"));
  auto refused = drill->CleanUp(Context(20s));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnexpected);
  EXPECT_EQ(DatabaseCount(), 1);
  // marked as the drill marks it, with a session still open in it (the killed run's client)
  ASSERT_TRUE(stack.AdminQuery("shared-postgres-1", std::string("COMMENT ON DATABASE ") +
                                                        kDatabase + " IS '" + kMarker + "'"));
  PgEndpoint leftover = config_->FindCluster("shared-postgres")->instances.front();
  leftover.dbname = kDatabase;
  auto session = PgSession::Connect(leftover, {}, Deadline::In(10s));
  ASSERT_TRUE(session) << session.error().message;
  auto cleaned = drill->CleanUp(Context(20s));
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_EQ(DatabaseCount(), 0);
  EXPECT_TRUE(drill->CleanUp(Context(20s)));  // idempotent
}

size_t CountKeys(RedisClient& client, const std::string& pattern) {
  size_t count = 0;
  std::string cursor = "0";
  do {
    auto reply = client.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (!reply) return SIZE_MAX;
    cursor = std::string((*reply)[0].text());
    count += (*reply)[1].size();
  } while (cursor != "0");
  return count;
}

// Pins: no load reaching the server, error replies under a clean run, missing per-op figures
// or expectations, benchmark keys left after CleanUp, CleanUp deleting keys outside its prefix.
TEST_F(BenchmarkDrillTest, DragonflyBenchmarkSetGetThenKeysDeleted) {
  auto drill = Make("dragonfly_benchmark",
                    "{dragonfly: dragonfly, connections: 8, pipeline: 4, requests: 400, "
                    "duration: 30s, value_size: 10, keyspace: 5000, "
                    "expect: {min_ops_per_second: 0.001}}");
  ASSERT_TRUE(drill);
  auto ctx = Context(60s);
  ASSERT_TRUE(drill->CleanUp(ctx));
  auto ready = drill->CheckPreconditions(ctx);
  ASSERT_TRUE(ready) << ready.error().message;
  const Dragonfly& df = *config_->FindDragonfly("dragonfly");
  auto client = RedisClient::Connect(df.master, Deadline::In(30s));
  ASSERT_TRUE(client) << client.error().message;
  ASSERT_TRUE(client->Command({"SET", "dbcanary:not-bench", "keep"}));

  DrillResult result = drill->Run(ctx);
  ASSERT_FALSE(result.error) << result.error->message;
  // No figure is compared with a speed: a busy host does fewer operations, not none (the
  // min_ops_per_second of 0.001 is met by one operation in a window within the 60 s budget).
  for (const std::string op : {"set", "get"}) {
    SCOPED_TRACE(op);
    EXPECT_GT(Value(result, "dbcanary_drill_dragonfly_benchmark_ops_per_second", "op", op), 0);
    EXPECT_GT(Value(result, "dbcanary_drill_dragonfly_benchmark_operations", "op", op), 0);
    EXPECT_EQ(Value(result, "dbcanary_drill_dragonfly_benchmark_errors", "op", op), 0);
    // redis-benchmark -n: a fixed number of requests over all connections
    EXPECT_EQ(Value(result, "dbcanary_drill_dragonfly_benchmark_operations", "op", op), 400);
    const auto* e =
        FindExpectation(result, "dragonfly_benchmark_min_" + op + "_ops_per_second", "dragonfly");
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(e->pass);
  }
  EXPECT_TRUE(result.Passed());
  EXPECT_EQ(Value(result, "dbcanary_drill_dragonfly_benchmark_parameter", "parameter", "requests"),
            400);
  testing::ExpectHtmlPlotsMatchJson("dragonfly_benchmark", result, "dragonfly-benchmark-drill");
  EXPECT_GT(CountKeys(*client, "dbcanary:bench:*"), 0u);
  // value_size honoured
  auto scan = client->Command({"SCAN", "0", "MATCH", "dbcanary:bench:*", "COUNT", "1000"});
  ASSERT_TRUE(scan);
  ASSERT_GT((*scan)[1].size(), 0u);
  auto length = client->Command({"STRLEN", (*scan)[1][0].text()});
  ASSERT_TRUE(length);
  EXPECT_EQ(length->integer(), 10);
  ASSERT_TRUE(drill->CleanUp(ctx));
  EXPECT_EQ(CountKeys(*client, "dbcanary:bench:*"), 0u);
  auto kept = client->Command({"GET", "dbcanary:not-bench"});
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->text(), "keep");
  ASSERT_TRUE(client->Command({"DEL", "dbcanary:not-bench"}));
}

// Pins: an unmet min_ops_per_second or a regression against the previous run reported as a
// pass; keys of a run killed midway surviving the next CleanUp.
TEST_F(BenchmarkDrillTest, DragonflyExpectationsFailAndLeftoversCleaned) {
  auto drill = Make("dragonfly_benchmark",
                    "{dragonfly: dragonfly, connections: 4, pipeline: 2, duration: 2s, "
                    "ops: [set], expect: {min_ops_per_second: 1000000000000, max_regression: 0.2}, "
                    "baseline: {set: 1000000000000}}");
  ASSERT_TRUE(drill);
  auto ctx = Context(30s);
  DrillResult result = drill->Run(ctx);
  ASSERT_FALSE(result.error) << result.error->message;
  const auto* min =
      FindExpectation(result, "dragonfly_benchmark_min_set_ops_per_second", "dragonfly");
  ASSERT_NE(min, nullptr);
  EXPECT_FALSE(min->pass);
  const auto* regression =
      FindExpectation(result, "dragonfly_benchmark_max_set_regression", "dragonfly");
  ASSERT_NE(regression, nullptr);
  EXPECT_FALSE(regression->pass);
  EXPECT_FALSE(result.Passed());
  EXPECT_EQ(FindExpectation(result, "dragonfly_benchmark_min_get_ops_per_second", "dragonfly"),
            nullptr);
  // the keys stay until CleanUp: what a killed run leaves; a new drill instance removes them
  const Dragonfly& df = *config_->FindDragonfly("dragonfly");
  auto client = RedisClient::Connect(df.master, Deadline::In(30s));
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_GT(CountKeys(*client, "dbcanary:bench:*"), 0u);
  auto next = Make("dragonfly_benchmark", "{dragonfly: dragonfly, duration: 10s}");
  ASSERT_TRUE(next);
  ASSERT_TRUE(next->CleanUp(ctx));
  EXPECT_EQ(CountKeys(*client, "dbcanary:bench:*"), 0u);
}

// Pins: a regression baseline that lives in memory only (an exporter restart or reload forgets
// the previous runs), or that compares runs made with other parameters.
TEST_F(BenchmarkDrillTest, DragonflyBaselineSurvivesARestart) {
  const std::string params =
      "{dragonfly: dragonfly, connections: 4, requests: 300, duration: 30s, ops: [set], "
      "expect: {min_ops_per_second: 0.001, max_regression: 1}";
  auto ctx = Context(60s);
  auto first = Make("dragonfly_benchmark", params + "}");
  ASSERT_TRUE(first);
  DrillResult before = first->Run(ctx);
  ASSERT_FALSE(before.error) << before.error->message;
  EXPECT_EQ(FindExpectation(before, "dragonfly_benchmark_max_set_regression", "dragonfly"), nullptr)
      << "no previous run yet";
  Persist("dragonfly_benchmark", before);
  first.reset();  // the exporter stops

  auto restarted = Make("dragonfly_benchmark", params + "}");
  ASSERT_TRUE(restarted);
  DrillResult after = restarted->Run(ctx);
  ASSERT_FALSE(after.error) << after.error->message;
  const auto* regression =
      FindExpectation(after, "dragonfly_benchmark_max_set_regression", "dragonfly");
  ASSERT_NE(regression, nullptr) << "the previous run's report was not read back";
  const double rate_before =
      Value(before, "dbcanary_drill_dragonfly_benchmark_ops_per_second", "op", "set");
  const double rate_after =
      Value(after, "dbcanary_drill_dragonfly_benchmark_ops_per_second", "op", "set");
  EXPECT_NEAR(regression->observed, 1 - rate_after / rate_before, 1e-9);

  // Other parameters: the earlier run is not comparable.
  auto other = Make("dragonfly_benchmark",
                    "{dragonfly: dragonfly, connections: 4, requests: 200, "
                    "duration: 30s, ops: [set]}");
  ASSERT_TRUE(other);
  DrillResult different = other->Run(ctx);
  ASSERT_FALSE(different.error) << different.error->message;
  EXPECT_EQ(FindExpectation(different, "dragonfly_benchmark_max_set_regression", "dragonfly"),
            nullptr);
  ASSERT_TRUE(other->CleanUp(ctx));
}

}  // namespace
}  // namespace dbcanary
