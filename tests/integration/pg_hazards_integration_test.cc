// pg_hazards against the local stack's real PostgreSQL primary: each hazard is caused for real
// (an inactive slot, a blocked archiver, an idle transaction, connections up to the bound, a
// role at its limit), turns exactly its own check red, and is undone, pass or fail.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
constexpr char kPrimary[] = "shared-postgres-1";
constexpr char kSwitchWal[] =
    "SELECT pg_logical_emit_message(false, 'dbcanary-test', 'x'); SELECT pg_switch_wal()";
const std::set<std::string> kChecks = {"max_xid_age",
                                       "max_multixact_age",
                                       "max_inactive_slots",
                                       "max_slot_retained_wal_bytes",
                                       "max_archive_ready_segments",
                                       "max_archive_ready_age_seconds",
                                       "max_connections_used_ratio",
                                       "max_role_connections_used_ratio",
                                       "max_transaction_age_seconds",
                                       "max_idle_in_transaction_seconds"};

// Runs `undo` (admin SQL on the primary) when the test ends, pass or fail.
class Undo {
 public:
  explicit Undo(std::function<void()> undo) : undo_(std::move(undo)) {}
  ~Undo() { undo_(); }
  Undo(const Undo&) = delete;
  Undo& operator=(const Undo&) = delete;

 private:
  std::function<void()> undo_;
};

void Admin(const std::string& sql) {
  auto done = Stack::Get().AdminQuery(kPrimary, sql);
  EXPECT_TRUE(done) << sql << ": " << done.error().message;
}

class PgHazardsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    for (const auto& cluster : (*config)->postgres_clusters) {
      for (const auto& instance : cluster.instances) {
        if (instance.name == kPrimary) primary_ = instance;
      }
    }
    ASSERT_EQ(primary_.name, kPrimary);
  }

  // The probe with `expect` (a YAML map) on the stack's cluster.
  std::unique_ptr<Probe> HazardsProbe(const std::string& expect = "{}") {
    YAML::Node root = YAML::LoadFile(Stack::Get().ConfigPath());
    for (YAML::Node cluster : root["postgres"]["clusters"]) {
      if (cluster["name"].as<std::string>() == kCluster)
        cluster["probes"]["pg_hazards"] = YAML::Load("{expect: " + expect + "}");
    }
    auto config = ParseConfig(YAML::Dump(root), Stack::Get().ConfigPath());
    EXPECT_TRUE(config) << config.error().message;
    if (!config) return nullptr;
    config_ = *config;
    auto probe = testing::MakeProbe(*config_, "pg_hazards", kCluster);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  static ProbeResult Run(Probe& probe) {
    auto run = RunProbeOnce(probe, milliseconds(5000)).result;
    EXPECT_TRUE(run.success) << (run.error ? run.error->message : "");
    return run;
  }

  // The checks of `result` that fail, by name.
  static std::set<std::string> Red(const ProbeResult& result) {
    std::set<std::string> red;
    for (const auto& check : result.expectations) {
      EXPECT_TRUE(kChecks.count(check.check)) << check.check;
      if (!check.pass) red.insert(check.check + ": " + check.observed_text);
    }
    return red;
  }

  static bool OnlyRed(const ProbeResult& result, const std::string& check) {
    auto red = Red(result);
    return red.size() == 1 && red.begin()->rfind(check + ":", 0) == 0;
  }

  // Runs the probe until `done` holds (the hazard shows or clears), at most ~20 s.
  static ProbeResult RunUntil(Probe& probe, const std::function<bool(const ProbeResult&)>& done) {
    ProbeResult result;
    for (int i = 0; i < 100; ++i) {
      result = Run(probe);
      if (done(result)) break;
      std::this_thread::sleep_for(milliseconds(200));
    }
    return result;
  }

  Result<PgSession> Session(const std::string& user = "", const std::string& password = "") {
    PgEndpoint endpoint = primary_;
    if (!user.empty()) {
      endpoint.user = user;
      endpoint.password = Secret(password, "test");
    }
    return PgSession::Connect(endpoint, PgConnectOptions{}, Deadline::In(std::chrono::seconds(10)));
  }

  std::shared_ptr<const Config> config_;
  PgEndpoint primary_;
};

// Pins the healthy baseline: with the documented defaults every hazard check holds on the stack,
// and the samples match the server.
TEST_F(PgHazardsIntegrationTest, StackIsGreenWithDefaults) {
  auto probe = HazardsProbe();
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(5000));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  std::printf("[ measure  ] pg_hazards run: %.2f ms (1 TLS connect + 3 queries)\n",
              run.seconds * 1000);
  EXPECT_EQ(Red(run.result), std::set<std::string>{});
  EXPECT_EQ(run.result.expectations.size(), kChecks.size());
  auto truth = Stack::Get().AdminQuery(
      kPrimary,
      "SELECT current_setting('max_connections')::int - "
      "current_setting('superuser_reserved_connections')::int AS available, "
      "(SELECT max(age(datfrozenxid)) FROM pg_database) AS xid_age");
  ASSERT_TRUE(truth);
  EXPECT_EQ(FindSample(run.result, "dbcanary_pg_connections_available", {{"target", kCluster}}),
            truth->Number(0, "available")->value_or(-1));
  EXPECT_GT(FindSample(run.result, "dbcanary_pg_xid_age", {{"target", kCluster}}).value_or(0), 0);
}

// Pins: a slot nobody consumes that reserves WAL fails max_inactive_slots (and only it) and shows
// its retained WAL; dropping it clears the check.
TEST_F(PgHazardsIntegrationTest, InactiveSlotHoldingWalFailsInactiveSlots) {
  auto probe = HazardsProbe();
  ASSERT_NE(probe, nullptr);
  {
    Admin("SELECT pg_create_physical_replication_slot('dbcanary_test_inactive', true)");
    Undo drop([] { Admin("SELECT pg_drop_replication_slot('dbcanary_test_inactive')"); });
    Admin(kSwitchWal);
    auto result = Run(*probe);
    EXPECT_TRUE(OnlyRed(result, "max_inactive_slots")) << ::testing::PrintToString(Red(result));
    EXPECT_EQ(FindSample(result, "dbcanary_pg_replication_slot_active",
                         {{"target", kCluster}, {"slot", "dbcanary_test_inactive"}}),
              0);
    EXPECT_GT(FindSample(result, "dbcanary_pg_replication_slot_retained_wal_bytes",
                         {{"target", kCluster}, {"slot", "dbcanary_test_inactive"}})
                  .value_or(0),
              0);
  }
  auto after = Run(*probe);
  EXPECT_EQ(Red(after), std::set<std::string>{});
}

// Pins: with archive_command failing, switched segments wait as .ready and fail
// max_archive_ready_segments; restored, the backlog drains and the check clears.
TEST_F(PgHazardsIntegrationTest, BlockedArchiverWithWaitingSegmentsFailsReadySegments) {
  auto probe = HazardsProbe("{max_archive_ready_segments: 1}");
  ASSERT_NE(probe, nullptr);
  auto ready = [](const ProbeResult& result) {
    return FindSample(result, "dbcanary_pg_archive_ready_segments", {{"target", kCluster}})
        .value_or(-1);
  };
  {
    Admin("ALTER SYSTEM SET archive_command = 'false'");
    Admin("SELECT pg_reload_conf()");
    Undo restore([] {
      Admin("ALTER SYSTEM RESET archive_command");
      Admin("SELECT pg_reload_conf()");
    });
    auto blocked = [] {
      auto shown = Stack::Get().AdminQuery(kPrimary, "SHOW archive_command");
      return shown && shown->Text(0, "archive_command")->value_or("") == "false";
    };
    for (int i = 0; i < 100 && !blocked(); ++i) std::this_thread::sleep_for(milliseconds(100));
    ASSERT_TRUE(blocked());
    for (int i = 0; i < 3; ++i) Admin(kSwitchWal);
    auto result = RunUntil(*probe, [&](const ProbeResult& r) { return ready(r) >= 2; });
    EXPECT_GE(ready(result), 2);
    EXPECT_TRUE(OnlyRed(result, "max_archive_ready_segments"))
        << ::testing::PrintToString(Red(result));
    EXPECT_TRUE(FindSample(result, "dbcanary_pg_archive_oldest_ready_timestamp_seconds",
                           {{"target", kCluster}}));
  }
  // The reload wakes the archiver; a switch wakes it again should it be sleeping after failures.
  auto after = RunUntil(*probe, [&](const ProbeResult& r) {
    if (ready(r) == 0) return true;
    Admin(kSwitchWal);
    return false;
  });
  EXPECT_EQ(ready(after), 0);
  EXPECT_EQ(Red(after), std::set<std::string>{});
}

// Pins: a session left idle in transaction past the bound fails max_idle_in_transaction_seconds
// (and only it: the transaction bound is the default hour); closing it clears the check.
TEST_F(PgHazardsIntegrationTest, IdleInTransactionSessionFailsIdleBound) {
  auto probe = HazardsProbe("{max_idle_in_transaction_seconds: 1}");
  ASSERT_NE(probe, nullptr);
  {
    auto idle = Session();
    ASSERT_TRUE(idle) << idle.error().message;
    ASSERT_TRUE(idle->Query("BEGIN; SELECT txid_current()", Deadline::In(std::chrono::seconds(5))));
    auto result = RunUntil(*probe, [](const ProbeResult& r) {
      const auto* check = FindExpectation(r, "max_idle_in_transaction_seconds", kCluster);
      return check != nullptr && !check->pass;
    });
    EXPECT_TRUE(OnlyRed(result, "max_idle_in_transaction_seconds"))
        << ::testing::PrintToString(Red(result));
    EXPECT_TRUE(FindSample(result, "dbcanary_pg_oldest_idle_in_transaction_timestamp_seconds",
                           {{"target", kCluster}}));
    idle->Close();
  }
  auto after = RunUntil(*probe, [](const ProbeResult& r) { return Red(r).empty(); });
  EXPECT_EQ(Red(after), std::set<std::string>{});
}

// Pins: connections opened up to past the declared headroom fail max_connections_used_ratio;
// closed, the check clears.
TEST_F(PgHazardsIntegrationTest, ConnectionsFilledToTheBoundFailHeadroom) {
  auto baseline = HazardsProbe();
  ASSERT_NE(baseline, nullptr);
  auto before = Run(*baseline);
  const double in_use =
      FindSample(before, "dbcanary_pg_connections", {{"target", kCluster}}).value_or(-1);
  const double available =
      FindSample(before, "dbcanary_pg_connections_available", {{"target", kCluster}}).value_or(-1);
  ASSERT_GE(in_use, 0);
  ASSERT_GT(available, in_use + 10);
  // Room for 4 more connections than now; 8 are opened.
  auto probe = HazardsProbe(
      "{max_connections_used_ratio: " + std::to_string((in_use + 4) / available) + "}");
  ASSERT_NE(probe, nullptr);
  {
    std::vector<PgSession> held;
    for (int i = 0; i < 8; ++i) {
      auto session = Session();
      ASSERT_TRUE(session) << session.error().message;
      held.push_back(std::move(*session));
    }
    auto result = Run(*probe);
    EXPECT_TRUE(OnlyRed(result, "max_connections_used_ratio"))
        << ::testing::PrintToString(Red(result));
    for (auto& session : held) session.Close();
  }
  auto after = RunUntil(*probe, [](const ProbeResult& r) { return Red(r).empty(); });
  EXPECT_EQ(Red(after), std::set<std::string>{});
}

// Pins: a role at its own connection limit fails max_role_connections_used_ratio; the limit
// lifted, the check clears.
TEST_F(PgHazardsIntegrationTest, RoleAtItsConnectionLimitFailsRoleHeadroom) {
  std::ifstream file(Stack::Get().Env("DBCANARY_STACK_SECRETS_DIR") + "/dbcanary_drill.password");
  std::string password;
  std::getline(file, password);
  ASSERT_FALSE(password.empty());
  auto probe = HazardsProbe();
  ASSERT_NE(probe, nullptr);
  {
    Admin("ALTER ROLE dbcanary_drill CONNECTION LIMIT 1");
    Undo lift([] { Admin("ALTER ROLE dbcanary_drill CONNECTION LIMIT -1"); });
    auto session = Session("dbcanary_drill", password);
    ASSERT_TRUE(session) << session.error().message;
    auto result = Run(*probe);
    EXPECT_TRUE(OnlyRed(result, "max_role_connections_used_ratio"))
        << ::testing::PrintToString(Red(result));
    EXPECT_EQ(FindSample(result, "dbcanary_pg_role_connection_limit",
                         {{"target", kCluster}, {"role", "dbcanary_drill"}}),
              1);
    session->Close();
  }
  auto after = RunUntil(*probe, [](const ProbeResult& r) { return Red(r).empty(); });
  EXPECT_EQ(Red(after), std::set<std::string>{});
}

}  // namespace
}  // namespace dbcanary
