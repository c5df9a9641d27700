// pooler_roundtrip against the local stack's real PgBouncer processes (one per CNPG Pooler).

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "clients/pg/pg_session.h"
#include "probes/pooler/pooler_roundtrip_probe.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

const std::vector<std::string> kPoolers = {"gitlab-pooler-rw", "gitlab-pooler-ro",
                                           "harbor-pooler-rw", "keycloak-pooler-rw",
                                           "synergyflow-pooler-rw"};

class PoolerRoundtripIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
  }

  std::unique_ptr<Probe> PoolerProbe(const Config& config, const std::string& pooler) {
    auto probe = testing::MakeProbe(config, "pooler_roundtrip", pooler);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  static std::optional<double> Phase(const ProbeResult& result, std::string_view family,
                                     const std::string& pooler, const std::string& phase) {
    return FindSample(result, family, {{"target", pooler}, {"phase", phase}});
  }

  std::shared_ptr<const Config> config_;
  testing::StoppedComponents stopped_;  // restarted in teardown, pass or fail
};

// The phases a pooler's round trip runs in the stack's config.
std::vector<std::string> PhasesOf(const Pooler& pooler) {
  if (pooler.type == PoolerType::kReadOnly) return {"connect", "read", "readonly_check"};
  return {"connect", "read", "write"};
}

// Pins the happy path on every pooler (transaction and session mode), over TLS, with every
// phase real (non-zero timings) and the ro pooler proven to land on a standby.
TEST_F(PoolerRoundtripIntegrationTest, EveryPoolerRoundTripsThroughTls) {
  for (const auto& name : kPoolers) {
    SCOPED_TRACE(name);
    const Pooler* pooler = config_->FindPooler(name);
    ASSERT_NE(pooler, nullptr);
    // The probe's own connection settings must negotiate TLS (sslmode verify-full in the stack).
    auto session = PgSession::Connect(pooler->connection, {}, Deadline::In(milliseconds(3000)));
    ASSERT_TRUE(session) << session.error().message;
    EXPECT_TRUE(session->TlsInUse());
    session->Close();

    auto probe = PoolerProbe(*config_, name);
    ASSERT_NE(probe, nullptr);
    const auto phases = PhasesOf(*pooler);
    std::map<std::string, std::vector<double>> phase_ms;
    std::vector<double> total_ms;
    for (int i = 0; i < 5; ++i) {
      auto run = RunProbeOnce(*probe, milliseconds(3000));
      ASSERT_TRUE(run.result.success) << run.result.error->message;
      for (const auto& phase : phases) {
        EXPECT_EQ(Phase(run.result, kPoolerPhaseSuccess, name, phase), 1) << phase;
        auto seconds = Phase(run.result, kPoolerPhaseSeconds, name, phase);
        ASSERT_TRUE(seconds) << phase;
        EXPECT_GT(*seconds, 0) << phase;
        EXPECT_LE(*seconds, run.seconds) << phase;  // in seconds, and timed inside the run
        phase_ms[phase].push_back(*seconds * 1000);
      }
      // Only this pooler type's phases exist (no series for a phase that never runs), plus the
      // info sample naming the pooler's cluster and type.
      EXPECT_EQ(run.result.samples.size() - (pooler->type == PoolerType::kReadOnly ? 2 : 0),
                phases.size() * 2 + 1);
      EXPECT_EQ(FindSample(run.result, kPoolerInfo,
                           {{"target", name},
                            {"postgres_cluster", pooler->cluster},
                            {"type", pooler->type == PoolerType::kReadOnly ? "ro" : "rw"}}),
                1);
      if (pooler->type == PoolerType::kReadOnly) {
        const auto* routed = testing::FindExpectation(run.result, "pooler_routes_to_standby", name);
        ASSERT_NE(routed, nullptr);
        EXPECT_TRUE(routed->pass);
        EXPECT_EQ(FindSample(run.result, kPoolerServerInRecovery, {{"target", name}}), 1);
        EXPECT_EQ(FindSample(run.result, kPoolerServerReadOnly, {{"target", name}}), 1);
      } else {
        EXPECT_TRUE(run.result.expectations.empty());
      }
      total_ms.push_back(run.seconds * 1000);
    }
    std::string detail;
    for (const auto& phase : phases) {
      char part[64];
      std::snprintf(part, sizeof(part), " %s %.2f ms", phase.c_str(),
                    testing::Median(phase_ms[phase]));
      detail += part;
    }
    std::printf("[ measure  ] %-22s run median %.2f ms (%s)\n", name.c_str(),
                testing::Median(total_ms), detail.c_str());
  }
}

// Pins that the write phase creates its table as the tenant (on the INSERT's 42P01, read from
// the error's SQLSTATE) and leaves no row behind.
TEST_F(PoolerRoundtripIntegrationTest, WriteCommitsAndLeavesNoRowBehind) {
  auto probe = PoolerProbe(*config_, "gitlab-pooler-rw");
  ASSERT_NE(probe, nullptr);
  // Absent, whatever earlier runs left: the first write must meet undefined_table.
  ASSERT_TRUE(Stack::Get().AdminQuery(
      "shared-postgres-1", "DROP TABLE IF EXISTS dbcanary_pooler_probe", "gitlabhq_production"));
  for (int i = 0; i < 3; ++i) {
    auto run = RunProbeOnce(*probe, milliseconds(3000));
    ASSERT_TRUE(run.result.success) << run.result.error->message;
  }
  auto rows = Stack::Get().AdminQuery("shared-postgres-1",
                                      "SELECT (SELECT count(*) FROM dbcanary_pooler_probe) AS n, "
                                      "pg_get_userbyid(relowner) AS owner FROM pg_class "
                                      "WHERE relname = 'dbcanary_pooler_probe' AND relkind = 'r'",
                                      "gitlabhq_production");
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->Text(0, "n")->value_or(""), "0");
  EXPECT_EQ(rows->Text(0, "owner")->value_or(""), "gitlab");
}

// Pins the read-only proof: a ro-typed pooler that actually reaches the primary (here the rw
// pooler's address) fails pooler_routes_to_standby while the run itself succeeds.
TEST_F(PoolerRoundtripIntegrationTest, ReadOnlyPoolerReachingPrimaryFailsRoutingExpectation) {
  auto config = std::make_shared<Config>(*config_);
  for (auto& pooler : config->poolers) {
    if (pooler.name == "gitlab-pooler-rw") pooler.type = PoolerType::kReadOnly;
  }
  auto probe = PoolerProbe(*config, "gitlab-pooler-rw");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(3000));
  ASSERT_TRUE(run.result.success) << run.result.error->message;
  const auto* routed =
      testing::FindExpectation(run.result, "pooler_routes_to_standby", "gitlab-pooler-rw");
  ASSERT_NE(routed, nullptr);
  EXPECT_FALSE(routed->pass);
  EXPECT_EQ(routed->observed, 0);
  EXPECT_EQ(FindSample(run.result, kPoolerServerInRecovery, {{"target", "gitlab-pooler-rw"}}), 0);
  EXPECT_EQ(Phase(run.result, kPoolerPhaseSuccess, "gitlab-pooler-rw", "readonly_check"), 1);
}

// Pins kConnect within the timeout for a stopped pooler, and recovery once it is back.
TEST_F(PoolerRoundtripIntegrationTest, StoppedPoolerFailsConnectThenRecovers) {
  const std::string name = "gitlab-pooler-rw";
  auto probe = PoolerProbe(*config_, name);
  ASSERT_NE(probe, nullptr);
  ASSERT_TRUE(RunProbeOnce(*probe, milliseconds(3000)).result.success);

  auto stopped = stopped_.Stop(name);
  ASSERT_TRUE(stopped) << stopped.error().message;
  // A budget far above "at once", so a run that waited for its deadline would show.
  auto run = RunProbeOnce(*probe, milliseconds(10000));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "connect") << run.result.error->message;
  EXPECT_LT(run.seconds, testing::kPromptSeconds);  // refused at once
  EXPECT_EQ(Phase(run.result, kPoolerPhaseSuccess, name, "connect"), 0);
  EXPECT_EQ(Phase(run.result, kPoolerPhaseSuccess, name, "read"), 0);
  EXPECT_EQ(Phase(run.result, kPoolerPhaseSeconds, name, "read"), 0);  // not reached
  EXPECT_EQ(Phase(run.result, kPoolerPhaseSeconds, name, "write"), 0);

  auto started = stopped_.Start(name);
  ASSERT_TRUE(started) << started.error().message;
  auto recovered = RunProbeOnce(*probe, milliseconds(3000));
  EXPECT_TRUE(recovered.result.success)
      << (recovered.result.error ? recovered.result.error->message : "");
}

// Pins the deadline against a pooler that accepts TCP but never answers (hung process).
TEST_F(PoolerRoundtripIntegrationTest, SilentPoolerTimesOutAtDeadline) {
  testing::SilentListener silent;
  ASSERT_GT(silent.port(), 0);
  auto config = std::make_shared<Config>(*config_);
  for (auto& pooler : config->poolers) {
    if (pooler.name == "gitlab-pooler-rw") pooler.connection.port = silent.port();
  }
  auto probe = PoolerProbe(*config, "gitlab-pooler-rw");
  ASSERT_NE(probe, nullptr);
  const milliseconds timeout(500);
  auto run = RunProbeOnce(*probe, timeout);
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "timeout") << run.result.error->message;
  // At the 500 ms deadline: not before, and not much after (room for a loaded host, far below
  // the pooler connection's 5 s connect_timeout and the listener's silence, which never ends).
  EXPECT_GE(run.seconds, 0.5 - testing::kClockEpsilonSeconds);
  EXPECT_LT(run.seconds, 0.5 + testing::kDeadlineSlackSeconds) << "waited past the deadline";
  // The connect phase is what waited: timed, and inside the run.
  auto connect = Phase(run.result, kPoolerPhaseSeconds, "gitlab-pooler-rw", "connect");
  ASSERT_TRUE(connect);
  EXPECT_GT(*connect, 0);
  EXPECT_LE(*connect, run.seconds);
  EXPECT_EQ(Phase(run.result, kPoolerPhaseSuccess, "gitlab-pooler-rw", "connect"), 0);
  std::printf("[ measure  ] silent pooler abandoned after %.1f ms (deadline 500 ms)\n",
              run.seconds * 1000);
}

// Pins the deadline when the pooler freezes mid-query and cannot even take the cancel request
// (PQcancel would block until it resumes); more runs than cancel helpers are allowed.
TEST_F(PoolerRoundtripIntegrationTest, FrozenPoolerMidQueryReturnsAtDeadline) {
  const Pooler* pooler = config_->FindPooler("gitlab-pooler-rw");
  ASSERT_NE(pooler, nullptr);
  std::vector<PgSession> sessions;
  for (int i = 0; i < 6; ++i) {
    auto session = PgSession::Connect(pooler->connection, {}, Deadline::In(milliseconds(3000)));
    ASSERT_TRUE(session) << session.error().message;
    sessions.push_back(std::move(*session));
  }
  testing::FrozenComponent frozen("gitlab-pooler-rw");
  ASSERT_TRUE(frozen.frozen()) << frozen.error();
  std::vector<double> elapsed_ms;
  for (auto& session : sessions) {
    const auto started = SteadyClock::now();
    auto rows = session.Query("SELECT 1", Deadline::In(milliseconds(200)));
    const double elapsed = SecondsSince(started);
    ASSERT_FALSE(rows);
    EXPECT_EQ(ErrorCodeName(rows.error().code), "timeout") << rows.error().message;
    // At the 200 ms deadline: not before, and not much after (room for a loaded host; the
    // frozen pooler would never answer).
    EXPECT_GE(elapsed, 0.2 - testing::kClockEpsilonSeconds);
    EXPECT_LT(elapsed, 0.2 + testing::kDeadlineSlackSeconds) << "waited past the deadline";
    elapsed_ms.push_back(elapsed * 1000);
  }
  std::printf(
      "[ measure  ] frozen pooler: query abandoned after median %.1f ms (deadline 200 ms)\n",
      testing::Median(elapsed_ms));
}

// Pins kAuth through PgBouncer (its auth_file refuses the password) without echoing it.
TEST_F(PoolerRoundtripIntegrationTest, WrongPasswordThroughPoolerIsAuth) {
  auto config = std::make_shared<Config>(*config_);
  const std::string password = "not-the-gitlab-password-7f3a";
  for (auto& pooler : config->poolers) {
    if (pooler.name == "gitlab-pooler-rw") pooler.connection.password = Secret(password, "test");
  }
  auto probe = PoolerProbe(*config, "gitlab-pooler-rw");
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(3000));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "auth") << run.result.error->message;
  EXPECT_EQ(run.result.error->message.find(password), std::string::npos);
}

}  // namespace
}  // namespace dbcanary
