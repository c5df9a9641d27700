#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "drills/health.h"
#include "drills/runtime/drill_cli.h"
#include "drills/runtime/drill_lock.h"
#include "drills/runtime/runner.h"
#include "exporter/web/http_server.h"
#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using testing::Stack;
using namespace std::chrono_literals;

const PostgresCluster& Cluster(const Config& config) { return config.postgres_clusters.front(); }

// Deletes the lease row (as superuser) so each test starts from a free lock.
void ClearLease() {
  (void)Stack::Get().AdminQuery("shared-postgres-1", "DELETE FROM dbcanary.drill_lease WHERE true",
                                "postgres");
}

// A test-only drill whose preconditions are the real cluster-health check.
class HealthCheckedDrill : public Drill {
 public:
  explicit HealthCheckedDrill(PostgresCluster cluster) : cluster_(std::move(cluster)) {}
  const std::vector<MetricDesc>& Describe() const override { return descriptors_; }
  Status CleanUp(const DrillContext&) override { return Ok{}; }
  Status CheckPreconditions(const DrillContext& ctx) override {
    return CheckPostgresHealthy(cluster_, ctx);
  }
  DrillResult Run(const DrillContext& ctx) override {
    DrillResult result;
    ctx.progress("measuring nothing in particular");
    result.AddPhase("noop", 0.001, true);
    result.Add("dbcanary_test_drill_noop_seconds", {{"drill", "test_noop"}}, 0.001);
    result.expectations.push_back(ExpectNumber("max_noop_seconds", cluster_.name, 0.001, "<=", 1));
    return result;
  }

 private:
  PostgresCluster cluster_;
  std::vector<MetricDesc> descriptors_{
      {"dbcanary_test_drill_noop_seconds", "Test drill figure.", MetricType::kGauge}};
};

// Two exporters must never run drills at once: the second is refused, naming the first.
TEST(DrillLockIntegrationTest, SecondHolderIsRefusedNamingTheFirst) {
  DBCANARY_REQUIRE_STACK();
  auto config = Stack::Get().LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  ClearLease();
  DrillLock first(Cluster(**config), 5s, 60s, "exporter-a/1/aaaa");
  DrillLock second(Cluster(**config), 5s, 60s, "exporter-b/2/bbbb");
  auto held = first.Acquire("failover", testing::TestLogger());
  ASSERT_TRUE(held) << held.error().message;
  auto refused = second.Acquire("restore", testing::TestLogger());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnexpected);
  EXPECT_THAT(refused.error().message,
              HasSubstr("held by exporter-a/1/aaaa for drill failover until 20"));
  // The same holder may take it again (a restarted run of the same exporter).
  auto again = first.Acquire("failover", testing::TestLogger());
  EXPECT_TRUE(again) << (again ? "" : again.error().message);
  ASSERT_TRUE((*held)->Release());
  if (again) (void)(*again)->Release();
  auto after_release = second.Acquire("restore", testing::TestLogger());
  EXPECT_TRUE(after_release) << (after_release ? "" : after_release.error().message);
  ClearLease();
}

// A holder that died (no release, no renewal) blocks the next one only until the ttl passes.
TEST(DrillLockIntegrationTest, ExpiredLeaseLetsTheNextHolderIn) {
  DBCANARY_REQUIRE_STACK();
  auto config = Stack::Get().LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  ClearLease();
  // A holder killed midway: its row stays, nobody renews it. It runs out in an hour at first,
  // so the next holder is refused however long the host takes to get there.
  ASSERT_TRUE(Stack::Get().AdminQuery(
      "shared-postgres-1",
      "INSERT INTO dbcanary.drill_lease (name, holder, acquired_at, expires_at, drill) VALUES "
      "('drills', 'dead-exporter/1/dead', now(), now() + interval '1 hour', 'failover')",
      "postgres"));
  DrillLock next(Cluster(**config), 5s, 60s, "next-exporter/2/next");
  auto blocked = next.Acquire("restore", testing::TestLogger());
  ASSERT_FALSE(blocked);
  EXPECT_THAT(blocked.error().message, HasSubstr("held by dead-exporter/1/dead"));
  // Then it runs out 1.5 s from now (the database's clock): the next holder gets in once it has
  // (waited for, however long the host takes), and not before.
  const auto shortened_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(Stack::Get().AdminQuery(
      "shared-postgres-1",
      "UPDATE dbcanary.drill_lease SET expires_at = now() + interval '1.5 seconds' "
      "WHERE name = 'drills'",
      "postgres"));
  auto since_shortened = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - shortened_at).count();
  };
  double taken_after = -1;
  std::string last_error;
  while (taken_after < 0 && since_shortened() < 60) {
    auto taken = next.Acquire("restore", testing::TestLogger());
    if (taken) {
      taken_after = since_shortened();
    } else {
      last_error = taken.error().message;
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_GE(taken_after, 1.5 - 0.005) << last_error;  // -1 if never taken
  ClearLease();
}

// The lease must survive a failover: it is committed synchronously, so a standby has it.
// A drill that runs until its stop token trips (at most its 60 s timeout), then returns.
class WaitingDrill : public Drill {
 public:
  std::atomic<bool> running{false};
  std::atomic<int> cleanups{0};
  const std::vector<MetricDesc>& Describe() const override { return descriptors_; }
  Status CleanUp(const DrillContext&) override {
    cleanups++;
    return Ok{};
  }
  Status CheckPreconditions(const DrillContext&) override { return Ok{}; }
  DrillResult Run(const DrillContext& ctx) override {
    running = true;
    DrillResult result;
    if (!SleepFor(60s, ctx.stop)) result.Fail(ErrorCode::kStopped, "stopped while waiting");
    return result;
  }

 private:
  std::vector<MetricDesc> descriptors_;
};

// Another holder takes the lease row while the drill runs (as after an expiry): the drill is
// stopped at the next renewal, cleans up, and the run is an error naming the lost lease.
TEST(DrillLockIntegrationTest, LeaseStolenMidRunAbortsTheDrill) {
  DBCANARY_REQUIRE_STACK();
  auto config = Stack::Get().LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  ClearLease();
  DrillLock lock(Cluster(**config), 5s, 1s, "exporter-a/1/aaaa");  // renewed every 250 ms
  WaitingDrill drill;
  DrillRunOptions options;
  options.name = "test_wait";
  options.timeout = 60s;
  options.cleanup_budget = 10s;
  options.lock = &lock;
  options.log = &testing::TestLogger();
  std::jthread thief([&drill] {
    while (!drill.running.load()) std::this_thread::sleep_for(10ms);
    auto stolen = Stack::Get().AdminQuery(
        "shared-postgres-1",
        "UPDATE dbcanary.drill_lease SET holder = 'exporter-b/2/bbbb', expires_at = now() + "
        "interval '1 minute' WHERE true",
        "postgres");
    EXPECT_TRUE(stolen) << stolen.error().message;
  });
  const auto started = SteadyClock::now();
  auto record = RunDrill(drill, options);
  // Aborted well before the 60 s timeout it would otherwise have run to.
  EXPECT_LT(SecondsSince(started), 30);
  EXPECT_EQ(record->outcome, DrillOutcome::kError);
  ASSERT_TRUE(record->result.error);
  EXPECT_THAT(record->result.error->message, HasSubstr("drill lock lease lost"));
  EXPECT_THAT(record->result.error->message, HasSubstr("taken over by another holder"));
  EXPECT_EQ(drill.cleanups.load(), 2) << "cleaned up before and after the run";
  ClearLease();
}

TEST(DrillLockIntegrationTest, LeaseRowIsOnAStandbyAfterAcquire) {
  DBCANARY_REQUIRE_STACK();
  auto config = Stack::Get().LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  ClearLease();
  DrillLock lock(Cluster(**config), 5s, 60s, "sync-exporter/3/sync");
  auto held = lock.Acquire("failover", testing::TestLogger());
  ASSERT_TRUE(held) << held.error().message;
  bool seen = false;
  // Waited for (the standby replays it asynchronously); ends as soon as one shows it.
  const auto since = std::chrono::steady_clock::now();
  while (!seen && std::chrono::steady_clock::now() - since < 30s) {
    for (const char* standby : {"shared-postgres-2", "shared-postgres-3"}) {
      auto rows = Stack::Get().AdminQuery(
          standby, "SELECT holder FROM dbcanary.drill_lease WHERE name = 'drills'", "postgres");
      if (rows && rows->size() == 1) {
        auto holder = rows->Text(0, "holder");
        seen |= holder && *holder && **holder == "sync-exporter/3/sync";
      }
    }
    if (!seen) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(seen) << "no standby shows the lease row within 30 s";
  (void)(*held)->Release();
}

// A drill must refuse to start on an unhealthy cluster and say which standby is wrong.
TEST(DrillRunnerIntegrationTest, RefusesWhenAStandbyIsDown) {
  DBCANARY_REQUIRE_STACK();
  auto config = Stack::Get().LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  ClearLease();
  DrillLock lock(Cluster(**config), 5s, 60s);
  HealthCheckedDrill drill(Cluster(**config));
  testing::StoppedComponents stopped;
  ASSERT_TRUE(stopped.Stop("shared-postgres-3"));
  DrillRunOptions options;
  options.name = "test_noop";
  options.timeout = 20s;
  options.lock = &lock;
  options.log = &testing::TestLogger();
  auto record = RunDrill(drill, options);
  EXPECT_EQ(record->outcome, DrillOutcome::kRefused);
  ASSERT_TRUE(record->result.error);
  EXPECT_THAT(record->result.error->message, HasSubstr("shared-postgres-3"));
  // The lock was released on refusal.
  auto rows = Stack::Get().AdminQuery("shared-postgres-1",
                                      "SELECT count(*) AS n FROM dbcanary.drill_lease");
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->Text(0, "n").value(), std::optional<std::string>("0"));
}

// A CLI run writes a report that /reports then lists and serves.
TEST(DrillCliIntegrationTest, ReportOfACliRunIsListedOverHttp) {
  DBCANARY_REQUIRE_STACK();
  ClearLease();
  std::string reports = Stack::Get().dir() + "/drill-framework-reports";
  std::filesystem::remove_all(reports);
  std::string config_path = Stack::Get().dir() + "/drill-framework.yaml";
  {
    std::ifstream in(Stack::Get().ConfigPath());
    std::stringstream text;
    text << in.rdbuf();
    // The stack's own drills section is replaced by one with the test-only drill.
    std::string base = testing::WithoutDrillsSection(text.str());
    std::ofstream out(config_path, std::ios::trunc);
    out << base << "\ndrills:\n  reports_dir: " << reports
        << "\n  keep_reports: 3\n  lock: { cluster: shared-postgres, ttl: 30s }\n"
           "  jobs:\n    test_noop: { enabled: false, timeout: 30s }\n";
  }
  DrillRegistry registry;
  registry.Add(
      "test_noop",
      [](const DrillSettings& settings, const Config& config) -> Result<std::unique_ptr<Drill>> {
        settings.params->Finish();
        return std::unique_ptr<Drill>(new HealthCheckedDrill(config.postgres_clusters.front()));
      });
  DrillCliOptions options;
  options.config_path = config_path;
  options.drill = "test_noop";
  options.make_logger = [](const Config&, std::string_view) {
    return std::shared_ptr<spdlog::logger>(&testing::TestLogger(), [](spdlog::logger*) {});
  };
  std::ostringstream out, err;
  int code = RunDrillFromCli(options, registry, out, err);
  EXPECT_EQ(code, 0) << out.str() << err.str();
  EXPECT_THAT(out.str(), HasSubstr("Z  checking preconditions"));
  EXPECT_THAT(out.str(), HasSubstr("== drill test_noop: pass"));
  EXPECT_THAT(out.str(), HasSubstr("pass  max_noop_seconds (shared-postgres)"));
  EXPECT_THAT(out.str(), HasSubstr("report: " + reports + "/test_noop/"));

  std::ostringstream out2, err2;
  options.drill = "nonexistent";
  EXPECT_EQ(RunDrillFromCli(options, registry, out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("configured: test_noop"));

  DrillStateStore drills;
  drills.SetDrills({DrillInfo{"test_noop", false, "", "", 30, {}}}, reports);
  ResultStore store;
  SelfMetrics self;
  HttpServerOptions http_options;
  http_options.listen_address = "127.0.0.1:0";
  auto server = HttpServer::Start(http_options,
                                  HttpBackend{&store, &self, [] { return Status(Ok{}); }, &drills});
  ASSERT_TRUE(server) << server.error().message;
  auto index = testing::HttpRequest((*server)->port(), "GET", "/reports?format=json");
  EXPECT_EQ(index.status, 200);
  EXPECT_THAT(index.body, HasSubstr("\"path\": \"/reports/test_noop/"));
  EXPECT_THAT(index.body, HasSubstr("-pass.md\""));
  auto html = testing::HttpRequest((*server)->port(), "GET", "/reports");
  EXPECT_THAT(html.body, HasSubstr("<a href=\"reports/test_noop/"));
  auto state = drills.Find("test_noop");
  ASSERT_TRUE(state && state->last);
  auto md_path = "/reports/test_noop/" +
                 std::filesystem::path(state->last->report_json).stem().string() + ".md";
  auto md = testing::HttpRequest((*server)->port(), "GET", md_path);
  EXPECT_EQ(md.status, 200);
  EXPECT_THAT(md.headers, HasSubstr("text/markdown; charset=utf-8"));
  EXPECT_THAT(md.body, HasSubstr("# Drill test_noop: pass"));
  EXPECT_EQ(testing::HttpRequest((*server)->port(), "GET", "/reports/test_noop/..%2f..%2fstack.env")
                .status,
            404);
  auto metrics = testing::HttpRequest((*server)->port(), "GET", "/metrics");
  EXPECT_THAT(metrics.body,
              HasSubstr("dbcanary_drill_last_result{drill=\"test_noop\",result=\"pass\"} 1"));
  (*server)->Stop();
  std::filesystem::remove_all(reports);
  std::filesystem::remove(config_path);
}

}  // namespace
}  // namespace dbcanary
