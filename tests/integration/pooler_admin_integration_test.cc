// pooler_admin (PgBouncer admin console) against the local stack's real PgBouncer 1.18 poolers,
// including saturation (PAUSE, more clients than the pool) and a stopped pooler.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "clients/pg/pg_session.h"
#include "probes/pooler/pgbouncer_rows.h"
#include "probes/pooler/pooler_admin_probe.h"
#include "probes/pooler/pooler_roundtrip_probe.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kPooler[] = "gitlab-pooler-rw";
constexpr char kDatabase[] = "gitlabhq_production";

class PoolerAdminIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
    ASSERT_NE(config_->FindPooler(kPooler), nullptr);
  }

  std::string AdminYaml(const std::string& extra_admin = "") const {
    return "admin: { user: pgbouncer_admin, password_file: " +
           Stack::Get().Env("DBCANARY_STACK_SECRETS_DIR") + "/pgbouncer_admin.password" +
           extra_admin + " }";
  }

  // A pooler_admin probe on `pooler` whose params are `params` (YAML mapping text).
  std::unique_ptr<Probe> AdminProbe(const Config& config, const std::string& pooler,
                                    const std::string& params) {
    ProbeSettings settings;
    settings.kind = "pooler_admin";
    settings.target = pooler;
    settings.params = std::make_shared<YamlMap>(YAML::Load(params), "pooler_admin",
                                                std::make_shared<const std::string>("test"));
    auto probe = CreatePoolerAdminProbe(settings, config);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  // An admin console session on `pooler`, for PAUSE/RESUME.
  Result<PgSession> AdminSession(const std::string& pooler) const {
    PgEndpoint admin = config_->FindPooler(pooler)->connection;
    admin.dbname = "pgbouncer";
    admin.user = "pgbouncer_admin";
    auto password =
        ReadFile(Stack::Get().Env("DBCANARY_STACK_SECRETS_DIR") + "/pgbouncer_admin.password");
    admin.password = Secret(password, "test");
    return PgSession::Connect(admin, {}, Deadline::In(milliseconds(3000)));
  }

  static std::string ReadFile(const std::string& path) {
    std::string text;
    if (FILE* file = std::fopen(path.c_str(), "r")) {
      char buffer[256];
      size_t n = std::fread(buffer, 1, sizeof(buffer), file);
      text.assign(buffer, n);
      std::fclose(file);
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }

  static Labels Pool(const std::string& user) {
    return {{"target", kPooler}, {"database", kDatabase}, {"user", user}};
  }

  std::shared_ptr<const Config> config_;
  testing::StoppedComponents stopped_;  // restarted in teardown, pass or fail
};

// RESUMEs the database when destroyed, pass or fail, so a failed test never leaves it paused.
class PausedDatabase {
 public:
  PausedDatabase(PgSession& admin, std::string database)
      : admin_(admin), database_(std::move(database)) {
    auto paused = admin_.Query("PAUSE " + database_, Deadline::In(milliseconds(5000)));
    ok_ = paused.has_value();
    if (!ok_) error_ = paused.error().message;
  }
  ~PausedDatabase() {
    auto resumed = admin_.Query("RESUME " + database_, Deadline::In(milliseconds(5000)));
    EXPECT_TRUE(resumed) << "RESUME " << database_ << ": " << resumed.error().message;
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  PgSession& admin_;
  std::string database_;
  bool ok_ = false;
  std::string error_;
};

// Pins the happy path: every SHOW read by column name on PgBouncer 1.18, the stack's settings
// observed, declared matching settings passing, the admin pseudo-database left out.
TEST_F(PoolerAdminIntegrationTest, ReadsEveryShowAndPassesMatchingExpectations) {
  auto probe = AdminProbe(*config_, kPooler,
                          "{ " + AdminYaml() +
                              ", expect: { pool_mode: transaction, max_client_conn: 200, "
                              "default_pool_size: 15, max_db_connections: 0, database: "
                              "gitlabhq_production, max_wait_seconds: 5 } }");
  ASSERT_NE(probe, nullptr);
  // A round trip first, so the tenant's pool exists.
  auto roundtrip = testing::MakeProbe(*config_, "pooler_roundtrip", kPooler);
  ASSERT_TRUE(roundtrip) << roundtrip.error().message;
  ASSERT_TRUE(RunProbeOnce(**roundtrip, milliseconds(3000)).result.success);

  std::vector<double> run_ms;
  ProbeResult last;
  for (int i = 0; i < 5; ++i) {
    auto run = RunProbeOnce(*probe, milliseconds(3000));
    ASSERT_TRUE(run.result.success) << run.result.error->message;
    run_ms.push_back(run.seconds * 1000);
    last = std::move(run.result);
  }
  Labels target = {{"target", kPooler}};
  EXPECT_EQ(FindSample(last, kPgbConfigMaxClientConn, target), 200);
  EXPECT_EQ(FindSample(last, kPgbConfigDefaultPoolSize, target), 15);
  EXPECT_EQ(FindSample(last, kPgbConfigMaxDbConnections, target), 0);
  EXPECT_EQ(
      FindSample(last, kPgbConfigPoolMode, {{"target", kPooler}, {"pool_mode", "transaction"}}), 1);
  EXPECT_EQ(FindSample(last, kPgbVersionInfo, {{"target", kPooler}, {"version", "1.18.0"}}), 1);
  Labels db = {{"target", kPooler}, {"database", kDatabase}};
  EXPECT_EQ(FindSample(last, kPgbDbPoolSize, db), 15);
  EXPECT_EQ(FindSample(last, kPgbDbPaused, db), 0);
  EXPECT_EQ(FindSample(last, kPgbClientWaiting, Pool("gitlab")), 0);
  ASSERT_TRUE(FindSample(last, kPgbServerIdle, Pool("gitlab")));
  auto queries = FindSample(last, kPgbQueries, db);
  ASSERT_TRUE(queries);
  EXPECT_GE(*queries, 2);  // the round trip's read and write at least
  EXPECT_GE(FindSample(last, kPgbListItems, {{"target", kPooler}, {"list", "pools"}}).value_or(0),
            1);
  for (const auto& sample : last.samples) {
    for (const auto& [name, value] : sample.labels) {
      EXPECT_FALSE(name == "database" && value == "pgbouncer") << sample.name;
    }
  }
  ASSERT_EQ(last.expectations.size(), 6u);
  for (const auto& expectation : last.expectations) {
    EXPECT_TRUE(expectation.pass) << expectation.check << " observed " << expectation.observed
                                  << " " << expectation.observed_text;
  }
  std::printf("[ measure  ] pooler_admin run median %.2f ms (6 SHOW commands, 1 connection)\n",
              testing::Median(run_ms));
}

// Pins drift detection: a declared pool_mode / default_pool_size that differs from the running
// config fails the expectation of that field (and only that one); the run still succeeds.
TEST_F(PoolerAdminIntegrationTest, DeclaredSettingsThatDifferFailTheirDriftCheck) {
  auto probe = AdminProbe(*config_, "keycloak-pooler-rw",
                          "{ " + AdminYaml() +
                              ", expect: { pool_mode: transaction, default_pool_size: 20, "
                              "max_client_conn: 100, database: keycloak } }");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(3000));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  const auto* mode = FindExpectation(run.result, "pool_mode", "keycloak-pooler-rw");
  ASSERT_NE(mode, nullptr);
  EXPECT_FALSE(mode->pass);
  EXPECT_EQ(mode->observed_text, "session");
  const auto* pool = FindExpectation(run.result, "default_pool_size", "keycloak-pooler-rw");
  ASSERT_NE(pool, nullptr);
  EXPECT_FALSE(pool->pass);
  EXPECT_EQ(pool->observed, 10);
  EXPECT_TRUE(FindExpectation(run.result, "max_client_conn", "keycloak-pooler-rw")->pass);
  EXPECT_TRUE(FindExpectation(run.result, "pooler_database", "keycloak-pooler-rw")->pass);
}

// Pins saturation through PAUSE: a blocked client fails its round trip at the deadline, the admin
// probe sees it waiting, and RESUME recovers the round trip.
TEST_F(PoolerAdminIntegrationTest, PausedDatabaseBlocksRoundTripAndShowsWaitingClient) {
  auto admin = AdminSession(kPooler);
  ASSERT_TRUE(admin) << admin.error().message;
  auto probe = AdminProbe(*config_, kPooler, "{ " + AdminYaml() + " }");
  ASSERT_NE(probe, nullptr);
  auto roundtrip = testing::MakeProbe(*config_, "pooler_roundtrip", kPooler);
  ASSERT_TRUE(roundtrip) << roundtrip.error().message;
  {
    PausedDatabase paused(*admin, kDatabase);
    ASSERT_TRUE(paused.ok()) << paused.error();
    // The round trip blocks until its deadline; the admin probe runs until it sees it waiting
    // for more than 0.3 s (a condition reached by waiting, not assumed after a fixed sleep).
    constexpr milliseconds kBlockedDeadline{2500};
    testing::TimedRun blocked;
    std::atomic<bool> blocked_done{false};
    std::thread client([&] {
      blocked = RunProbeOnce(**roundtrip, kBlockedDeadline);
      blocked_done = true;
    });
    testing::TimedRun seen;
    do {
      seen = RunProbeOnce(*probe, milliseconds(3000));
      if (seen.result.success &&
          FindSample(seen.result, kPgbClientWaiting, Pool("gitlab")).value_or(0) >= 1 &&
          FindSample(seen.result, kPgbMaxWait, Pool("gitlab")).value_or(0) > 0.3) {
        break;
      }
      std::this_thread::sleep_for(milliseconds(50));
    } while (!blocked_done);
    client.join();
    ASSERT_TRUE(seen.result.success) << seen.result.error->message;
    EXPECT_GE(FindSample(seen.result, kPgbClientWaiting, Pool("gitlab")).value_or(0), 1);
    EXPECT_GT(FindSample(seen.result, kPgbMaxWait, Pool("gitlab")).value_or(0), 0.3);
    EXPECT_EQ(FindSample(seen.result, kPgbDbPaused, {{"target", kPooler}, {"database", kDatabase}}),
              1);
    ASSERT_FALSE(blocked.result.success);
    EXPECT_EQ(ErrorCodeName(blocked.result.error->code), "timeout")
        << blocked.result.error->message;
    // By its deadline (room for a loaded host), below the pooler connection's 5 s
    // connect_timeout and PgBouncer's 120 s query_wait_timeout it would otherwise wait for.
    EXPECT_LT(blocked.seconds, kBlockedDeadline.count() / 1000.0 + testing::kDeadlineSlackSeconds);
  }
  auto recovered = RunProbeOnce(**roundtrip, milliseconds(3000));
  EXPECT_TRUE(recovered.result.success)
      << (recovered.result.error ? recovered.result.error->message : "");
}

// Pins saturation by load: 30 clients running pg_sleep(5) against a pool of 15 make clients
// wait and max wait rise, failing a declared max_wait_seconds.
TEST_F(PoolerAdminIntegrationTest, MoreClientsThanPoolMakeClientsWait) {
  auto probe =
      AdminProbe(*config_, kPooler, "{ " + AdminYaml() + ", expect: { max_wait_seconds: 0.2 } }");
  ASSERT_NE(probe, nullptr);
  const PgEndpoint tenant = config_->FindPooler(kPooler)->connection;
  constexpr int kClients = 30;
  std::atomic<int> connected{0}, failed{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      auto session = PgSession::Connect(tenant, {}, Deadline::In(milliseconds(30000)));
      if (!session) {
        ++failed;
        return;
      }
      ++connected;
      while (!go) std::this_thread::sleep_for(milliseconds(5));
      // Two batches of 5 s through the pool of 15: everyone stays connected, and the second
      // batch waits, for 5 s, while the admin probe looks.
      auto rows = session->Query("SELECT pg_sleep(5)", Deadline::In(milliseconds(30000)));
      if (!rows) ++failed;
    });
  }
  for (int i = 0; i < 3000 && connected + failed < kClients; ++i) {  // ends once all connected
    std::this_thread::sleep_for(milliseconds(10));
  }
  go = true;
  // Looked at until the waiting clients are seen to have waited more than 0.3 s, with at least
  // one server connection busy (PgBouncer may still be opening them): a condition, not a moment.
  // The window is the first batch's 5 s; a loaded host needs a fraction of it.
  const auto go_at = SteadyClock::now();
  testing::TimedRun run;
  do {
    std::this_thread::sleep_for(milliseconds(100));
    run = RunProbeOnce(*probe, milliseconds(3000));
    if (run.result.success &&
        FindSample(run.result, kPgbClientWaiting, Pool("gitlab")).value_or(0) >= 10 &&
        FindSample(run.result, kPgbServerActive, Pool("gitlab")).value_or(0) >= 1 &&
        FindSample(run.result, kPgbMaxWait, Pool("gitlab")).value_or(0) > 0.3) {
      break;
    }
  } while (SecondsSince(go_at) < 4.0);
  for (auto& client : clients) client.join();
  EXPECT_EQ(failed.load(), 0);
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  auto waiting = FindSample(run.result, kPgbClientWaiting, Pool("gitlab"));
  auto clients_active = FindSample(run.result, kPgbClientActive, Pool("gitlab"));
  auto active = FindSample(run.result, kPgbServerActive, Pool("gitlab"));
  auto max_wait = FindSample(run.result, kPgbMaxWait, Pool("gitlab"));
  ASSERT_TRUE(waiting && clients_active && active && max_wait);
  EXPECT_GE(*waiting, 10);
  EXPECT_EQ(*waiting + *clients_active, kClients);  // everyone still connected: within 5 s of go
  // PgBouncer may still be opening server connections (TLS to PostgreSQL); never above the pool.
  EXPECT_GE(*active, 1);
  EXPECT_LE(*active, 15);
  EXPECT_GT(*max_wait, 0.3);
  const auto* expectation = FindExpectation(run.result, "max_wait_seconds", kPooler);
  ASSERT_NE(expectation, nullptr);
  EXPECT_FALSE(expectation->pass);
  std::printf("[ measure  ] 30 clients on pool 15: waiting %.0f, max wait %.3f s\n", *waiting,
              *max_wait);
}

// Pins the admin probe's independence: an unreachable admin console fails pooler_admin with
// kConnect while pooler_roundtrip on the same pooler still succeeds.
TEST_F(PoolerAdminIntegrationTest, UnreachableAdminConsoleFailsOnlyTheAdminProbe) {
  const int port = testing::UnusedLoopbackPort();
  auto probe =
      AdminProbe(*config_, kPooler,
                 "{ " + AdminYaml(", host: 127.0.0.1, port: " + std::to_string(port)) + " }");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(3000));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "connect") << run.result.error->message;
  EXPECT_NE(run.result.error->message.find(kPooler), std::string::npos)
      << run.result.error->message;
  auto roundtrip = testing::MakeProbe(*config_, "pooler_roundtrip", kPooler);
  ASSERT_TRUE(roundtrip) << roundtrip.error().message;
  EXPECT_TRUE(RunProbeOnce(**roundtrip, milliseconds(3000)).result.success);
}

// Pins the deadline against an admin console that accepts TCP but never answers.
TEST_F(PoolerAdminIntegrationTest, SilentAdminConsoleTimesOutAtDeadline) {
  testing::SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  auto probe = AdminProbe(
      *config_, kPooler,
      "{ " + AdminYaml(", host: 127.0.0.1, port: " + std::to_string(silent.port())) + " }");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(500));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "timeout") << run.result.error->message;
  // At the 500 ms deadline: not before, and not much after (room for a loaded host, far below
  // the admin connection's 5 s connect_timeout and the listener's silence, which never ends).
  EXPECT_GE(run.seconds, 0.5 - testing::kClockEpsilonSeconds);
  EXPECT_LT(run.seconds, 0.5 + testing::kDeadlineSlackSeconds);
}

// Pins a stopped PgBouncer: round trip and admin probe both fail with kConnect, and both
// recover once it is started again.
TEST_F(PoolerAdminIntegrationTest, StoppedPoolerFailsBothProbesThenRecovers) {
  auto probe = AdminProbe(*config_, kPooler, "{ " + AdminYaml() + " }");
  ASSERT_NE(probe, nullptr);
  auto roundtrip = testing::MakeProbe(*config_, "pooler_roundtrip", kPooler);
  ASSERT_TRUE(roundtrip) << roundtrip.error().message;
  auto stopped = stopped_.Stop(kPooler);
  ASSERT_TRUE(stopped) << stopped.error().message;
  auto admin_run = RunProbeOnce(*probe, milliseconds(3000));
  auto trip_run = RunProbeOnce(**roundtrip, milliseconds(3000));
  ASSERT_FALSE(admin_run.result.success);
  ASSERT_FALSE(trip_run.result.success);
  EXPECT_EQ(ErrorCodeName(admin_run.result.error->code), "connect");
  EXPECT_EQ(ErrorCodeName(trip_run.result.error->code), "connect");
  EXPECT_TRUE(admin_run.result.samples.empty());
  auto started = stopped_.Start(kPooler);
  ASSERT_TRUE(started) << started.error().message;
  auto admin_back = RunProbeOnce(*probe, milliseconds(3000));
  EXPECT_TRUE(admin_back.result.success)
      << (admin_back.result.error ? admin_back.result.error->message : "");
  EXPECT_TRUE(RunProbeOnce(**roundtrip, milliseconds(3000)).result.success);
}

}  // namespace
}  // namespace dbcanary
