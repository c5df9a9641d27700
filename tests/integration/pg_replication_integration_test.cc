// pg_replication and PgSession against the local stack's real PostgreSQL primary + 2 standbys.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "clients/pg/pg_session.h"
#include "probes/postgres/pg_replication_rows.h"
#include "probes/postgres/pg_topology_source.h"
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
const std::vector<std::string> kStandbys = {"shared-postgres-2", "shared-postgres-3"};

std::string RandomHex() {
  std::random_device device;
  std::uniform_int_distribution<uint64_t> dist;
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(dist(device)));
  return text;
}

class PgReplicationIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
    ASSERT_NE(config_->FindCluster(kCluster), nullptr);
  }

  std::unique_ptr<Probe> ReplicationProbe(const Config& config) {
    auto probe = testing::MakeProbe(config, "pg_replication", kCluster);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
  }

  // Copy of the stack config whose cluster is modified by `edit`.
  template <typename Edit>
  std::shared_ptr<Config> EditedConfig(Edit edit) {
    auto copy = std::make_shared<Config>(*config_);
    for (auto& cluster : copy->postgres_clusters) {
      if (cluster.name == kCluster) edit(cluster);
    }
    return copy;
  }

  double Streaming(const ProbeResult& result) {
    return FindSample(result, kPgReplicationStreamingStandbys, {{"target", kCluster}}).value_or(-1);
  }

  std::shared_ptr<const Config> config_;
  testing::StoppedComponents stopped_;  // restarted in teardown, pass or fail
};

// Pins the healthy baseline: both standbys stream in quorum, lag small, every expectation met.
TEST_F(PgReplicationIntegrationTest, HealthyClusterMeetsEveryExpectation) {
  auto probe = ReplicationProbe(*config_);
  ASSERT_NE(probe, nullptr);
  std::vector<double> runs_ms;
  ProbeResult result;
  for (int i = 0; i < 7; ++i) {
    auto run = RunProbeOnce(*probe, milliseconds(3000));
    ASSERT_TRUE(run.result.success) << run.result.error->message;
    runs_ms.push_back(run.seconds * 1000);
    result = std::move(run.result);
  }
  std::printf(
      "[ measure  ] pg_replication run: median %.2f ms, max %.2f ms over %zu runs "
      "(1 connect with TLS + 1 query each)\n",
      testing::Median(runs_ms), *std::max_element(runs_ms.begin(), runs_ms.end()), runs_ms.size());

  EXPECT_EQ(FindSample(result, kPgIsPrimary, {{"target", kCluster}, {"server", kPrimary}}), 1);
  EXPECT_EQ(Streaming(result), 2);
  EXPECT_EQ(FindSample(result, kPgReplicationSyncStandbys, {{"target", kCluster}}), 2);
  for (const auto& standby : kStandbys) {
    Labels labels = {{"target", kCluster}, {"standby", standby}};
    EXPECT_EQ(FindSample(result, kPgReplicationStreaming, labels), 1) << standby;
    // ANY 1 (...) makes PostgreSQL report quorum for both.
    EXPECT_EQ(FindSample(result, kPgReplicationSyncState,
                         {{"target", kCluster}, {"standby", standby}, {"sync_state", "quorum"}}),
              1)
        << standby;
    for (const char* stage : {"sent", "write", "flush", "replay"}) {
      auto lag = FindSample(result, kPgReplicationLagBytes,
                            {{"target", kCluster}, {"standby", standby}, {"stage", stage}});
      ASSERT_TRUE(lag) << standby << " " << stage;
      EXPECT_GE(*lag, 0);
      EXPECT_LT(*lag, 1024 * 1024) << standby << " " << stage;
    }
    for (const char* stage : {"write", "flush", "replay"}) {
      auto lag = FindSample(result, kPgReplicationLagSeconds,
                            {{"target", kCluster}, {"standby", standby}, {"stage", stage}});
      ASSERT_TRUE(lag) << standby << " " << stage;
      EXPECT_GE(*lag, 0);
      EXPECT_LT(*lag, 5.0);  // generous for an idle cluster on a loaded host: a health check
    }
  }
  ASSERT_FALSE(result.expectations.empty());
  for (const auto& e : result.expectations) {
    EXPECT_TRUE(e.pass) << e.check << " on " << e.target << ": observed " << e.observed_text
                        << ", expected " << e.expected_text;
  }
  for (const char* check : {"has_primary", "no_split_brain", "min_streaming_standbys",
                            "min_sync_standbys", "max_sync_standbys"}) {
    EXPECT_NE(FindExpectation(result, check, kCluster), nullptr) << check;
  }
  for (const auto& standby : kStandbys) {
    EXPECT_NE(FindExpectation(result, "max_replay_lag_bytes", standby), nullptr) << standby;
  }
}

// Pins detection of a lost standby, and recovery once it is back (both waited for: how soon the
// primary drops the walsender and the standby streams again is the host's business).
TEST_F(PgReplicationIntegrationTest, StoppedStandbyFailsMinStreamingThenRecovers) {
  auto probe = ReplicationProbe(*config_);
  ASSERT_NE(probe, nullptr);
  ASSERT_EQ(Streaming(RunProbeOnce(*probe, milliseconds(3000)).result), 2);

  auto stopped = stopped_.Stop("shared-postgres-3");
  ASSERT_TRUE(stopped) << stopped.error().message;
  ProbeResult result;
  for (int run = 1; run <= 30; ++run) {  // ends at the first run that sees the standby gone
    result = RunProbeOnce(*probe, milliseconds(3000)).result;
    ASSERT_TRUE(result.success) << result.error->message;
    const auto* check = FindExpectation(result, "min_streaming_standbys", kCluster);
    if (check != nullptr && !check->pass) break;
    std::this_thread::sleep_for(milliseconds(1000));  // one probe interval of the local config
  }
  EXPECT_EQ(Streaming(result), 1);
  EXPECT_EQ(FindSample(result, kPgReplicationStreaming,
                       {{"target", kCluster}, {"standby", "shared-postgres-3"}}),
            0);
  const auto* min_streaming = FindExpectation(result, "min_streaming_standbys", kCluster);
  ASSERT_NE(min_streaming, nullptr);
  EXPECT_FALSE(min_streaming->pass);
  EXPECT_EQ(min_streaming->observed, 1);
  const auto* lag = FindExpectation(result, "max_replay_lag_bytes", "shared-postgres-3");
  ASSERT_NE(lag, nullptr);
  EXPECT_FALSE(lag->pass);
  EXPECT_TRUE(std::isnan(lag->observed));
  // The remaining standby still satisfies ANY 1: the primary keeps committing.
  EXPECT_TRUE(FindExpectation(result, "min_sync_standbys", kCluster)->pass);

  auto started = stopped_.Start("shared-postgres-3");
  ASSERT_TRUE(started) << started.error().message;
  bool recovered = false;
  for (int i = 0; i < 120 && !recovered; ++i) {  // ends once recovered
    result = RunProbeOnce(*probe, milliseconds(3000)).result;
    recovered = result.success && Streaming(result) == 2 &&
                std::all_of(result.expectations.begin(), result.expectations.end(),
                            [](const ExpectationResult& e) { return e.pass; });
    if (!recovered) std::this_thread::sleep_for(milliseconds(500));
  }
  EXPECT_TRUE(recovered) << "standby did not come back streaming with all expectations met";
}

// Pins kAuth for a rejected password, and that the password never reaches the error text.
TEST_F(PgReplicationIntegrationTest, WrongPasswordIsAuthWithoutEchoingIt) {
  const std::string password = "wrong-" + RandomHex();
  const std::string file = std::filesystem::temp_directory_path() /
                           ("dbcanary-wrong-password-" + std::to_string(::getpid()));
  {
    std::ofstream out(file);
    out << password << "\n";
  }
  const auto& stack = Stack::Get();
  std::string yaml =
      "postgres:\n"
      "  clusters:\n"
      "    - name: shared-postgres\n"
      "      defaults: { dbname: postgres, user: dbcanary, password_file: " +
      file + ", sslmode: verify-full, sslrootcert: " + stack.Env("DBCANARY_STACK_CA_CERT") +
      " }\n"
      "      primary: { name: shared-postgres-1, host: localhost, port: " +
      std::to_string(stack.Port(kPrimary)) +
      " }\n"
      "      probes:\n"
      "        pg_replication: { interval: 5s, timeout: 3s }\n";
  auto config = ParseConfig(yaml, "wrong-password.yaml");
  std::filesystem::remove(file);
  ASSERT_TRUE(config) << config.error().message;
  auto probe = ReplicationProbe(**config);
  ASSERT_NE(probe, nullptr);
  // A budget far above "at once", so a run that retried until its deadline would show.
  auto run = RunProbeOnce(*probe, milliseconds(10000));
  ASSERT_FALSE(run.result.success);
  ASSERT_TRUE(run.result.error);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "auth") << run.result.error->message;
  // The server's SQLSTATE (invalid_password), read from the startup's ErrorResponse.
  EXPECT_EQ(run.result.error->cause.sqlstate, "28P01") << run.result.error->message;
  EXPECT_EQ(run.result.error->message.find("28P01"), std::string::npos);  // text unchanged
  EXPECT_NE(run.result.error->message.find(
                "dbcanary@localhost:" + std::to_string(stack.Port(kPrimary)) + "/postgres"),
            std::string::npos)
      << run.result.error->message;
  EXPECT_EQ(run.result.error->message.find(password), std::string::npos);
  EXPECT_TRUE(run.result.samples.empty());
  EXPECT_LT(run.seconds, testing::kPromptSeconds);  // at once, not at the 10 s deadline
}

// Pins a fast kConnect (not a timeout) when nothing listens on the target port.
TEST_F(PgReplicationIntegrationTest, ClosedPortIsConnectErrorFast) {
  const int port = testing::UnusedLoopbackPort();
  ASSERT_GT(port, 0);
  auto config = EditedConfig([&](PostgresCluster& cluster) {
    for (auto& member : cluster.instances) member.port = port;
  });
  auto probe = ReplicationProbe(*config);
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(10000));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "connect") << run.result.error->message;
  // At once: not at the 10 s deadline nor the 3 s connect_timeout (room for a loaded host).
  EXPECT_LT(run.seconds, testing::kPromptSeconds);
}

// Pins that a probe deadline shorter than the connection itself is honoured. 1 ms: no host forks
// a PostgreSQL backend and completes TLS and SCRAM in that time, so the run cannot succeed by
// being fast.
TEST_F(PgReplicationIntegrationTest, TinyDeadlineTimesOutOnTime) {
  auto probe = ReplicationProbe(*config_);
  ASSERT_NE(probe, nullptr);
  auto run = RunProbeOnce(*probe, milliseconds(1));
  ASSERT_FALSE(run.result.success);
  EXPECT_EQ(ErrorCodeName(run.result.error->code), "timeout") << run.result.error->message;
  // By its deadline (room for a loaded host, far below the 3 s connect_timeout it would
  // otherwise fall back to).
  EXPECT_LT(run.seconds, 0.001 + testing::kDeadlineSlackSeconds);
}

// Pins the client-side deadline on a slow query: kTimeout on time, and the cancel request
// leaves no backend running the query behind.
TEST_F(PgReplicationIntegrationTest, SlowQueryTimesOutAndLeavesNoBackendBehind) {
  const auto& primary = config_->FindCluster(kCluster)->instances.front();  // shared-postgres-1
  auto session = PgSession::Connect(primary, {}, Deadline::In(milliseconds(3000)));
  ASSERT_TRUE(session) << session.error().message;
  EXPECT_TRUE(session->TlsInUse());
  EXPECT_GE(session->ServerVersion(), 150000);
  const std::string marker = "dbcanary_slow_" + RandomHex();
  const milliseconds budget(300);
  const auto started = SteadyClock::now();
  // 60 s: far beyond the deadline and the waits below, so only the cancel can end it in time.
  auto rows = session->Query("SELECT pg_sleep(60) /* " + marker + " */", Deadline::In(budget));
  const double elapsed = SecondsSince(started);
  ASSERT_FALSE(rows);
  EXPECT_EQ(ErrorCodeName(rows.error().code), "timeout") << rows.error().message;
  EXPECT_FALSE(session->connected());
  // At the 300 ms deadline: not before, and not much after (room for a loaded host, far below
  // the 60 s pg_sleep it would otherwise wait for).
  EXPECT_GE(elapsed, 0.3 - testing::kClockEpsilonSeconds);
  EXPECT_LT(elapsed, 0.3 + testing::kDeadlineSlackSeconds) << "waited past the deadline";
  std::printf("[ measure  ] slow query abandoned after %.1f ms (deadline 300 ms)\n",
              elapsed * 1000);

  const std::string sql =
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'dbcanary' AND state "
      "= 'active' AND query LIKE '%" +
      marker + "%' AND pid <> pg_backend_pid()";
  double left = -1;
  const auto check_started = SteadyClock::now();
  // Waited for (the cancel is delivered asynchronously); ends as soon as the backend is gone.
  // Its 30 s limit stays below the 60 s after which an uncancelled query would end by itself.
  while (SecondsSince(check_started) < 30.0) {
    auto count = Stack::Get().AdminQuery(kPrimary, sql);
    ASSERT_TRUE(count) << count.error().message;
    left = (*count).Number(0, "n")->value_or(-1);
    if (left == 0) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(left, 0) << "a dbcanary backend still runs the abandoned query";
  std::printf("[ measure  ] backend gone %.1f ms after the timeout returned\n",
              SecondsSince(check_started) * 1000);
}

// Pins the statement_timeout startup option: the server itself stops the statement (57014).
TEST_F(PgReplicationIntegrationTest, StatementTimeoutOptionIsEnforcedByServer) {
  const auto& primary = config_->FindCluster(kCluster)->instances.front();  // shared-postgres-1
  PgConnectOptions options;
  options.statement_timeout = milliseconds(200);
  auto session = PgSession::Connect(primary, options, Deadline::In(milliseconds(3000)));
  ASSERT_TRUE(session) << session.error().message;
  const auto started = SteadyClock::now();
  auto rows = session->Query("SELECT pg_sleep(5)", Deadline::In(milliseconds(3000)));
  ASSERT_FALSE(rows);
  EXPECT_EQ(ErrorCodeName(rows.error().code), "timeout");
  EXPECT_NE(rows.error().message.find("57014"), std::string::npos) << rows.error().message;
  // At the server's 200 ms (room for a loaded host), far below the client's 3 s deadline.
  EXPECT_LT(SecondsSince(started), 0.2 + testing::kDeadlineSlackSeconds);
}

// Pins the stop token: a shutdown interrupts a waiting query within one poll slice.
TEST_F(PgReplicationIntegrationTest, StopRequestInterruptsQuery) {
  const auto& primary = config_->FindCluster(kCluster)->instances.front();  // shared-postgres-1
  auto session = PgSession::Connect(primary, {}, Deadline::In(milliseconds(3000)));
  ASSERT_TRUE(session) << session.error().message;
  std::stop_source stop;
  SteadyClock::time_point stop_requested_at{};
  std::jthread stopper([&stop, &stop_requested_at] {
    std::this_thread::sleep_for(milliseconds(150));
    stop_requested_at = SteadyClock::now();
    stop.request_stop();
  });
  auto rows =
      session->Query("SELECT pg_sleep(30)", Deadline::In(milliseconds(30000)), stop.get_token());
  const auto returned_at = SteadyClock::now();
  stopper.join();
  ASSERT_FALSE(rows);
  EXPECT_EQ(ErrorCodeName(rows.error().code), "stopped");  // a shutdown, not the target's fault
  EXPECT_NE(rows.error().message.find("stop requested"), std::string::npos);
  // Seen within one poll slice (100 ms) of the request, timed from the request itself (however
  // late the host let the stopper make it), with room for a loaded host; far below the 30 s
  // deadline and pg_sleep it would otherwise wait for.
  EXPECT_LT(std::chrono::duration<double>(returned_at - stop_requested_at).count(),
            0.1 + testing::kDeadlineSlackSeconds);
}

// Pins SQLSTATE-bearing kQuery errors and the by-name Rows API on a real result.
TEST_F(PgReplicationIntegrationTest, QueryErrorsKeepSqlstateAndRowsReadByName) {
  const auto& primary = config_->FindCluster(kCluster)->instances.front();  // shared-postgres-1
  auto session = PgSession::Connect(primary, {}, Deadline::In(milliseconds(3000)));
  ASSERT_TRUE(session) << session.error().message;
  auto bad = session->Query("SELECT * FROM no_such_table", Deadline::In(milliseconds(2000)));
  ASSERT_FALSE(bad);
  EXPECT_EQ(ErrorCodeName(bad.error().code), "query");
  EXPECT_NE(bad.error().message.find("42P01"), std::string::npos) << bad.error().message;
  EXPECT_EQ(bad.error().cause.sqlstate, "42P01");  // typed, for callers that branch on it
  ASSERT_TRUE(session->connected());               // a query error does not lose the connection
  auto rows = session->QueryParams("SELECT $1::int + 1 AS next, NULL::text AS nothing",
                                   {PgValue("41")}, Deadline::In(milliseconds(2000)));
  ASSERT_TRUE(rows) << rows.error().message;
  EXPECT_EQ(**rows->Number(0, "next"), 42);
  EXPECT_FALSE(rows->Text(0, "nothing")->has_value());
}

}  // namespace
}  // namespace dbcanary
