// Typed error causes (core/result.h ErrorCause) filled where the answer is read (clients/pg,
// clients/redis), the branches that use them instead of the message text, and kStopped: a
// shutdown or reload is never a target failure.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "clients/pg/pg_session.h"
#include "clients/redis/redis_client.h"
#include "drills/command.h"
#include "drills/persistence/dragonfly_persistence_drill.h"
#include "drills/runtime/runner.h"
#include "exporter/validate/checklist.h"
#include "loopback.h"
#include "probes/kubernetes/k8s_cnpg_operator_probe.h"
#include "probes/postgres/pg_heartbeat_probe.h"
#include "probes/runtime/result_store.h"

namespace dbcanary {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// A one-connection scripted TCP server on 127.0.0.1: accepts one client and runs `script` on
// its socket. More connections (a libpq cancel request) wait in the backlog until it closes.

class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int)> script) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = testing::Loopback(0);
    EXPECT_EQ(::bind(listen_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(listen_, 4), 0);
    socklen_t size = sizeof(address);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      const int fd = ::accept(listen_, nullptr, nullptr);
      if (fd < 0) return;
      script(fd);
      ::close(fd);
    });
  }
  ~ScriptedServer() {
    ::shutdown(listen_, SHUT_RDWR);  // wakes an accept() still waiting
    thread_.join();
    ::close(listen_);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return port_; }

 private:
  int listen_ = -1;
  int port_ = 0;
  std::thread thread_;
};

bool ReadExactly(int fd, std::string& out, size_t n) {
  out.resize(n);
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, out.data() + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

void WriteAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t w = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) return;
    sent += static_cast<size_t>(w);
  }
}

// Reads until the peer closes (or fails).
void DrainUntilClosed(int fd) {
  char buffer[512];
  while (::read(fd, buffer, sizeof(buffer)) > 0) {
  }
}

std::string Int32(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

// A PostgreSQL protocol 3 message: type byte, length, body.
std::string PgMessage(char type, const std::string& body) {
  return std::string(1, type) + Int32(static_cast<uint32_t>(body.size() + 4)) + body;
}

// ErrorResponse with severity, SQLSTATE, message and the source location PostgreSQL sends
// (which libpq prints as LOCATION only in verbose mode).
std::string PgError(const std::string& severity, const std::string& sqlstate,
                    const std::string& message) {
  std::string body;
  for (auto [field, value] : {std::pair<char, std::string>{'S', severity},
                              {'V', severity},
                              {'C', sqlstate},
                              {'M', message},
                              {'F', "auth.c"},
                              {'L', "334"},
                              {'R', "auth_failed"}}) {
    body += field + value + '\0';
  }
  body += '\0';
  return PgMessage('E', body);
}

std::string PgReady() { return PgMessage('Z', "I"); }
std::string PgAuthOk() { return PgMessage('R', Int32(0)); }

// The startup packet (length-prefixed, no type byte).
bool ReadStartup(int fd) {
  std::string length;
  if (!ReadExactly(fd, length, 4)) return false;
  const uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(length[0])) << 24) |
                     (static_cast<uint32_t>(static_cast<unsigned char>(length[1])) << 16) |
                     (static_cast<uint32_t>(static_cast<unsigned char>(length[2])) << 8) |
                     static_cast<uint32_t>(static_cast<unsigned char>(length[3]));
  std::string rest;
  return n >= 4 && ReadExactly(fd, rest, n - 4);
}

// One typed message from the client; its type, or '\0' when the connection ended.
char ReadPgMessage(int fd) {
  std::string head;
  if (!ReadExactly(fd, head, 5)) return '\0';
  const uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(head[1])) << 24) |
                     (static_cast<uint32_t>(static_cast<unsigned char>(head[2])) << 16) |
                     (static_cast<uint32_t>(static_cast<unsigned char>(head[3])) << 8) |
                     static_cast<uint32_t>(static_cast<unsigned char>(head[4]));
  std::string body;
  if (n < 4 || !ReadExactly(fd, body, n - 4)) return '\0';
  return head[0];
}

PgEndpoint FakeTarget(int port) {
  PgEndpoint target;
  target.name = "fake";
  target.host = "127.0.0.1";
  target.port = port;
  target.user = "canary";
  target.password = Secret("unit-test-pg-password", "test");
  target.sslmode = "disable";
  return target;
}

// ---------------------------------------------------------------------------------------------
// clients/pg

TEST(PgCauseTest, SplitsTheSqlstateOutOfVerboseConnectText) {
  // libpq 15 with PQERRORS_VERBOSE, as PostgreSQL 15 refuses a password.
  auto auth = SplitVerboseConnectError(
      "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28P01: password "
      "authentication failed for user \"canary\"\nLOCATION:  auth_failed, auth.c:334\n");
  EXPECT_EQ(auth.sqlstate, "28P01");
  EXPECT_EQ(auth.message,
            "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password "
            "authentication failed for user \"canary\"\n");

  auto database = SplitVerboseConnectError(
      "connection to server at \"h\", port 5432 failed: FATAL:  3D000: database \"nodb\" does "
      "not exist\nLOCATION:  InitPostgres, postinit.c:948\n");
  EXPECT_EQ(database.sqlstate, "3D000");
  EXPECT_THAT(database.message, Not(HasSubstr("3D000")));
  EXPECT_THAT(database.message, Not(HasSubstr("LOCATION")));
  EXPECT_THAT(database.message, HasSubstr("FATAL:  database \"nodb\" does not exist"));

  // Several addresses: the first one refused (libpq's own text, no code), the next one said no.
  auto multi = SplitVerboseConnectError(
      "connection to server at \"10.0.0.1\", port 5432 failed: Connection refused\n"
      "\tIs the server running on that host and accepting TCP/IP connections?\n"
      "connection to server at \"10.0.0.2\", port 5432 failed: FATAL:  28000: no pg_hba.conf "
      "entry for host \"10.0.0.9\"\nLOCATION:  ClientAuthentication, auth.c:539\n");
  EXPECT_EQ(multi.sqlstate, "28000");
  EXPECT_THAT(multi.message, HasSubstr("Connection refused\n\tIs the server running"));
  EXPECT_THAT(multi.message, HasSubstr("failed: FATAL:  no pg_hba.conf entry"));

  // No server error: nothing to split, the text is kept byte for byte.
  const std::string refused =
      "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n";
  auto none = SplitVerboseConnectError(refused);
  EXPECT_EQ(none.sqlstate, "");
  EXPECT_EQ(none.message, refused);
  // A colon and double space inside a message is not a code unless 5 code characters follow.
  auto lookalike = SplitVerboseConnectError("FATAL:  XX000: odd:  12345 items: here\n");
  EXPECT_EQ(lookalike.sqlstate, "XX000");
  EXPECT_EQ(lookalike.message, "FATAL:  odd:  12345 items: here\n");
}

TEST(PgCauseTest, ConnectRefusalCarriesTheSqlstateAndKeepsTheText) {
  ScriptedServer server([](int fd) {
    if (!ReadStartup(fd)) return;
    WriteAll(fd, PgError("FATAL", "28P01", "password authentication failed for user \"canary\""));
  });
  auto session = PgSession::Connect(FakeTarget(server.port()), {}, Deadline::In(5s));
  ASSERT_FALSE(session);
  EXPECT_EQ(session.error().code, ErrorCode::kAuth);
  EXPECT_EQ(session.error().cause.sqlstate, "28P01");
  EXPECT_TRUE(session.error().cause.IsSqlState("28P01"));
  // The default-verbosity text: no code, no server source location, no password.
  EXPECT_THAT(session.error().message,
              HasSubstr("FATAL:  password authentication failed for user \"canary\""));
  EXPECT_THAT(session.error().message, Not(HasSubstr("28P01")));
  EXPECT_THAT(session.error().message, Not(HasSubstr("auth.c")));
  EXPECT_THAT(session.error().message, Not(HasSubstr("unit-test-pg-password")));
}

TEST(PgCauseTest, QueryErrorCarriesTheSqlstate) {
  ScriptedServer server([](int fd) {
    if (!ReadStartup(fd)) return;
    WriteAll(fd, PgAuthOk() + PgReady());
    if (ReadPgMessage(fd) != 'Q') return;
    WriteAll(fd, PgError("ERROR", "42P01", "relation \"missing\" does not exist") + PgReady());
    DrainUntilClosed(fd);
  });
  auto session = PgSession::Connect(FakeTarget(server.port()), {}, Deadline::In(5s));
  ASSERT_TRUE(session) << session.error().message;
  auto rows = session->Query("SELECT * FROM missing", Deadline::In(5s));
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().code, ErrorCode::kQuery);
  EXPECT_EQ(rows.error().cause.sqlstate, "42P01");
  EXPECT_THAT(rows.error().message,
              HasSubstr("SQLSTATE 42P01: relation \"missing\" does not exist"));
  EXPECT_TRUE(session->connected());  // a query error keeps the connection
}

TEST(PgCauseTest, StopRequestIsStoppedAndTheDeadlineIsTimeout) {
  // A server that accepts and never answers the startup.
  auto silent = [](int fd) {
    if (ReadStartup(fd)) DrainUntilClosed(fd);
  };
  {
    ScriptedServer server(silent);
    std::stop_source stop;
    std::jthread stopper([&stop] {
      std::this_thread::sleep_for(100ms);
      stop.request_stop();
    });
    const auto started = SteadyClock::now();
    auto session =
        PgSession::Connect(FakeTarget(server.port()), {}, Deadline::In(5s), stop.get_token());
    ASSERT_FALSE(session);
    EXPECT_EQ(session.error().code, ErrorCode::kStopped) << session.error().message;
    EXPECT_THAT(session.error().message, HasSubstr("stop requested"));
    EXPECT_LT(SecondsSince(started), 2.0);  // seen within a poll slice, with room for a loaded host
  }
  {
    // A drill's stop token also trips at its deadline: once the deadline has passed, a stop
    // request is that deadline, kTimeout, not a shutdown.
    ScriptedServer server(silent);
    std::stop_source stop;
    stop.request_stop();
    auto session =
        PgSession::Connect(FakeTarget(server.port()), {}, Deadline::In(0ms), stop.get_token());
    ASSERT_FALSE(session);
    EXPECT_EQ(session.error().code, ErrorCode::kTimeout) << session.error().message;
  }
  {
    // A query the server never answers, stopped: kStopped, the connection closed.
    ScriptedServer server([](int fd) {
      if (!ReadStartup(fd)) return;
      WriteAll(fd, PgAuthOk() + PgReady());
      DrainUntilClosed(fd);
    });
    auto session = PgSession::Connect(FakeTarget(server.port()), {}, Deadline::In(5s));
    ASSERT_TRUE(session) << session.error().message;
    std::stop_source stop;
    std::jthread stopper([&stop] {
      std::this_thread::sleep_for(100ms);
      stop.request_stop();
    });
    auto rows = session->Query("SELECT pg_sleep(10)", Deadline::In(5s), stop.get_token());
    ASSERT_FALSE(rows);
    EXPECT_EQ(rows.error().code, ErrorCode::kStopped) << rows.error().message;
    EXPECT_THAT(rows.error().message, HasSubstr("stop requested; cancelled"));
    EXPECT_FALSE(session->connected());
  }
}

// ---------------------------------------------------------------------------------------------
// clients/redis

RedisEndpoint FakeRedis(int port) {
  RedisEndpoint target;
  target.name = "df";
  target.host = "127.0.0.1";
  target.port = port;
  return target;
}

TEST(RedisCauseTest, ErrorReplyCarriesItsFirstWord) {
  EXPECT_EQ(RedisErrorCause("ERR Background save already in progress").redis_error, "ERR");
  EXPECT_EQ(RedisErrorCause("LOADING Redis is loading the dataset in memory").redis_error,
            "LOADING");
  EXPECT_TRUE(RedisErrorCause("WRONGTYPE Operation against a key").IsRedisError("WRONGTYPE"));
  EXPECT_EQ(RedisErrorCause("").redis_error, "");

  ScriptedServer server([](int fd) {
    char buffer[512];
    if (::read(fd, buffer, sizeof(buffer)) <= 0) return;  // GET k, sent in one write
    WriteAll(fd, "-LOADING Redis is loading the dataset in memory\r\n");
    DrainUntilClosed(fd);
  });
  auto client = RedisClient::Connect(FakeRedis(server.port()), Deadline::In(5s));
  ASSERT_TRUE(client) << client.error().message;
  auto reply = client->Command({"GET", "k"});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kQuery);
  EXPECT_EQ(reply.error().cause.redis_error, "LOADING");
  EXPECT_EQ(reply.error().cause.system_errno, 0);
  EXPECT_THAT(reply.error().message, HasSubstr("GET: LOADING Redis is loading"));
  EXPECT_TRUE(client->connected());
}

TEST(RedisCauseTest, RefusedConnectCarriesTheErrno) {
  // A port that was free a moment ago: nothing listens there.
  int port = 0;
  {
    ScriptedServer probe([](int) {});
    port = probe.port();
  }
  auto client = RedisClient::Connect(FakeRedis(port), Deadline::In(5s));
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kConnect) << client.error().message;
  EXPECT_EQ(client.error().cause.system_errno, ECONNREFUSED) << client.error().message;
  EXPECT_EQ(client.error().cause.redis_error, "");
}

// ---------------------------------------------------------------------------------------------
// The branches that used to search the message

Error WithSqlState(ErrorCode code, std::string message, std::string sqlstate) {
  ErrorCause cause;
  cause.sqlstate = std::move(sqlstate);
  return MakeError(code, std::move(message), std::move(cause));
}

TEST(CauseBranchTest, HeartbeatNotReplayedYetIsTheSqlstateNotTheText) {
  EXPECT_TRUE(IsNotReplayedYet(WithSqlState(ErrorCode::kQuery, "x", "42P01")));
  EXPECT_TRUE(IsNotReplayedYet(WithSqlState(ErrorCode::kQuery, "x", "3F000")));
  // The text alone no longer counts: a relation name or a server message quoting the code.
  EXPECT_FALSE(IsNotReplayedYet(
      MakeError(ErrorCode::kQuery, "query failed: SQLSTATE 42P01: relation does not exist")));
  EXPECT_FALSE(IsNotReplayedYet(WithSqlState(ErrorCode::kQuery, "SQLSTATE 42P01", "42501")));
  // A lost connection is not "not replayed yet", whatever it carries.
  EXPECT_FALSE(IsNotReplayedYet(WithSqlState(ErrorCode::kConnect, "x", "42P01")));
}

TEST(CauseBranchTest, KubeNotFoundIsTheHttpStatusNotTheText) {
  ErrorCause not_found;
  not_found.http_status = 404;
  EXPECT_TRUE(IsKubeNotFound(MakeError(ErrorCode::kQuery, "get crd x", not_found)));
  EXPECT_FALSE(IsKubeNotFound(MakeError(ErrorCode::kQuery, "get crd x: not found (404)")));
  ErrorCause server_error;
  server_error.http_status = 500;
  EXPECT_FALSE(
      IsKubeNotFound(MakeError(ErrorCode::kQuery, "name-with-(404): HTTP 500", server_error)));
}

TEST(CauseBranchTest, SaveIsRetriedOnTypedFactsOnly) {
  ErrorCause err;
  err.redis_error = "ERR";
  const Error refused =
      MakeError(ErrorCode::kQuery, "SAVE: ERR Background save already in progress", err);
  // A save of the server's own running: wait and save again, however often.
  EXPECT_TRUE(ShouldRetrySave(refused, true, false));
  EXPECT_TRUE(ShouldRetrySave(refused, true, true));
  // None running (it may have just ended): once.
  EXPECT_TRUE(ShouldRetrySave(refused, false, false));
  EXPECT_FALSE(ShouldRetrySave(refused, false, true));
  EXPECT_TRUE(ShouldRetrySave(refused, std::nullopt, false));
  EXPECT_FALSE(ShouldRetrySave(refused, std::nullopt, true));
  // No answer from the server (I/O, timeout): never, even with "in progress" in the text.
  const Error lost = MakeError(ErrorCode::kConnect, "SAVE: operation in progress");
  EXPECT_FALSE(ShouldRetrySave(lost, true, false));
}

// ---------------------------------------------------------------------------------------------
// kStopped

spdlog::logger& NullLogger() {
  static auto logger = std::make_shared<spdlog::logger>(
      "cause-test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return *logger;
}

// Run() waits for its stop token, then returns `error_after_stop` (what a drill returns when a
// client call was interrupted) and one failed expectation measured on the cut-short run.
class StoppableDrill : public Drill {
 public:
  Error error_after_stop = MakeError(ErrorCode::kConnect, "lost the connection");
  Status preconditions = Ok{};
  bool wait_in_preconditions = false;

  const std::vector<MetricDesc>& Describe() const override { return descriptors_; }
  Status CleanUp(const DrillContext&) override { return Ok{}; }
  Status CheckPreconditions(const DrillContext& ctx) override {
    if (wait_in_preconditions) {
      while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(5ms);
      return MakeError(ErrorCode::kStopped, "precondition query: stop requested");
    }
    return preconditions;
  }
  DrillResult Run(const DrillContext& ctx) override {
    DrillResult result;
    while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(5ms);
    result.expectations.push_back(ExpectNumber("min_tps", "shared-postgres", 3, ">=", 1000));
    result.error = error_after_stop;
    return result;
  }

 private:
  std::vector<MetricDesc> descriptors_;
};

DrillRunOptions StopOptions(std::stop_token stop) {
  DrillRunOptions options;
  options.name = "stoppable";
  options.timeout = 30s;
  options.cleanup_budget = 1s;
  options.log = &NullLogger();
  options.stop = std::move(stop);
  return options;
}

std::jthread StopAfter(std::stop_source& source, std::chrono::milliseconds delay) {
  return std::jthread([&source, delay] {
    std::this_thread::sleep_for(delay);
    source.request_stop();
  });
}

TEST(StoppedTest, ShutdownDuringRunIsStoppedWithoutVerdicts) {
  StoppableDrill drill;  // returns a kConnect error once its calls are interrupted
  std::stop_source shutdown;
  auto stopper = StopAfter(shutdown, 100ms);
  auto record = RunDrill(drill, StopOptions(shutdown.get_token()));
  EXPECT_EQ(record->outcome, DrillOutcome::kStopped);
  EXPECT_EQ(DrillOutcomeName(record->outcome), "stopped");
  ASSERT_TRUE(record->result.error);
  EXPECT_EQ(record->result.error->code, ErrorCode::kStopped);
  EXPECT_THAT(record->result.error->message, HasSubstr("lost the connection"));
  // The min_tps measured on half a run is no verdict on the target.
  EXPECT_TRUE(record->result.expectations.empty());
  EXPECT_FALSE(record->notes.empty());
}

TEST(StoppedTest, DrillTimeoutIsTimeoutEvenWhenTheDrillSaysStopped) {
  // At the drill's deadline the runner trips ctx.stop: a client that reports kStopped then
  // was cut by the deadline, not by a shutdown.
  StoppableDrill drill;
  drill.error_after_stop = MakeError(ErrorCode::kStopped, "query: stop requested; cancelled");
  auto options = StopOptions({});
  options.timeout = 100ms;
  auto record = RunDrill(drill, options);
  EXPECT_EQ(record->outcome, DrillOutcome::kError);
  ASSERT_TRUE(record->result.error);
  EXPECT_EQ(record->result.error->code, ErrorCode::kTimeout);
}

TEST(StoppedTest, ShutdownDuringPreconditionsIsStoppedNotRefused) {
  StoppableDrill drill;
  drill.wait_in_preconditions = true;
  std::stop_source shutdown;
  auto stopper = StopAfter(shutdown, 100ms);
  auto record = RunDrill(drill, StopOptions(shutdown.get_token()));
  EXPECT_EQ(record->outcome, DrillOutcome::kStopped);
  EXPECT_EQ(record->result.error->code, ErrorCode::kStopped);
}

TEST(StoppedTest, PreconditionTimeoutIsRefusedAsTimeout) {
  StoppableDrill drill;
  drill.wait_in_preconditions = true;  // until its budget trips the stop token
  auto options = StopOptions({});
  options.preconditions_budget = 100ms;
  auto record = RunDrill(drill, options);
  EXPECT_EQ(record->outcome, DrillOutcome::kRefused);
  EXPECT_EQ(record->result.error->code, ErrorCode::kTimeout);
}

TEST(StoppedTest, OutcomeNameRoundTrips) {
  EXPECT_EQ(ParseDrillOutcome("stopped"), DrillOutcome::kStopped);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kStopped), "stopped");
}

TEST(StoppedTest, CommandStoppedBeforeItsDeadlineIsStopped) {
  std::stop_source stop;
  auto stopper = StopAfter(stop, 100ms);
  auto outcome = RunDrillCommand({"sleep", "30"}, {}, Deadline::In(20s), stop.get_token());
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kStopped);
  EXPECT_THAT(outcome.error().message, HasSubstr("stopped"));
}

TEST(StoppedTest, StoppedRunIsPendingNotFailedInTheChecklist) {
  std::vector<CheckRow> rows;
  DrillResult stopped;
  stopped.Fail(ErrorCode::kStopped, "stopped by shutdown or reload");
  AddDrillRun(rows, "pg_benchmark", "pg_benchmark", stopped, std::chrono::system_clock::now(), 1);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, CheckState::kPending);
  EXPECT_EQ(rows[0].reason, "stopped");
  EXPECT_EQ(Summarize(rows).fail, 0u);
}

TEST(StoppedTest, IsNoFailureReason) {
  for (ErrorCode code : kAllErrorCodes) EXPECT_NE(code, ErrorCode::kStopped);
  // Published anyway (a probe bug): counted as internal, never as a reason of its own.
  ResultStore store;
  ProbeInfo info;
  info.key = ProbeKey{"fake", "a"};
  store.SetProbes({std::make_shared<const ProbeInfo>(info)});
  auto result = std::make_shared<ProbeResult>();
  result->Fail(ErrorCode::kStopped, "stopped");
  store.Publish(info.key, result);
  auto snapshot = store.Snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].counters.failures[static_cast<size_t>(ErrorCode::kInternal)], 1u);
}

}  // namespace
}  // namespace dbcanary
