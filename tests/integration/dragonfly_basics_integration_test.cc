// dragonfly_basics against a real redis-server (the local stack's dragonfly-0/-1, standing in
// for Dragonfly) and against misbehaving fake servers on loopback.

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "clients/redis/redis_client.h"
#include "config/config.h"
#include "config/secret.h"
#include "probes/dragonfly/dragonfly_basics_probe.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kDurationMetric[] = "dbcanary_dragonfly_op_duration_seconds";
constexpr char kSuccessMetric[] = "dbcanary_dragonfly_op_success";
const std::vector<std::string> kOps = {"connect", "ping", "set", "get", "ttl", "del"};

namespace harness = ::dbcanary::testing;

// The sample of `metric` for `op` on `target`; -1 (and a test failure) when missing.
double OpValue(const ProbeResult& result, const std::string& target, const std::string& metric,
               const std::string& op) {
  auto value = harness::FindSample(result, metric, {{"target", target}, {"op", op}});
  if (!value)
    ADD_FAILURE() << metric << "{target=\"" << target << "\",op=\"" << op << "\"} missing";
  return value.value_or(-1);
}

std::string ErrorText(const ProbeResult& result) {
  return result.error
             ? std::string(ErrorCodeName(result.error->code)) + ": " + result.error->message
             : "no error";
}

// The stack's dbcanary config, loaded once.
const Config& StackConfig() {
  static const std::shared_ptr<const Config> config = [] {
    auto loaded = harness::Stack::Get().LoadConfig();
    if (!loaded) {
      ADD_FAILURE() << loaded.error().message;
      return std::shared_ptr<const Config>(std::make_shared<Config>());
    }
    return *loaded;
  }();
  return *config;
}

// Skips (or fails under DBCANARY_REQUIRE_INTEGRATION=1) without the stack, and without a
// dragonfly target in its config.
#define REQUIRE_DRAGONFLY()                                                   \
  do {                                                                        \
    DBCANARY_REQUIRE_STACK();                                                 \
    ASSERT_FALSE(StackConfig().dragonflies.empty()) << "no dragonfly target"; \
    ASSERT_FALSE(StackConfig().dragonflies[0].probes.empty());                \
  } while (0)

const Dragonfly& StackDragonfly() { return StackConfig().dragonflies[0]; }

// A copy of the stack config whose dragonfly entry is changed by `edit`, and a probe on it.
struct EditedProbe {
  std::shared_ptr<Config> config;
  std::unique_ptr<Probe> probe;
};

template <typename Edit>
EditedProbe ProbeWith(Edit edit) {
  EditedProbe out;
  out.config = std::make_shared<Config>(StackConfig());
  Dragonfly& dragonfly = out.config->dragonflies[0];
  edit(dragonfly);
  auto probe = CreateDragonflyBasicsProbe(dragonfly.probes[0], *out.config);
  EXPECT_TRUE(probe) << probe.error().message;
  if (probe) out.probe = std::move(probe).value();
  return out;
}

// Sees the key while it exists (between SET and GET, outside every op's timing).
class WatchingProbe : public DragonflyBasicsProbe {
 public:
  using DragonflyBasicsProbe::DragonflyBasicsProbe;
  std::string key;
  long long ttl_while_present = -3;

 protected:
  void OnKeyWritten(RedisClient& client, const std::string& written) override {
    key = written;
    auto reply = client.Command({"TTL", written});
    if (reply && reply->Is(RedisType::kInteger)) ttl_while_present = reply->integer();
  }
};

// Every key under `prefix` with its TTL (-1 = no expiry), read with SCAN on a fresh connection.
std::map<std::string, long long> KeysUnder(const RedisEndpoint& master, const std::string& prefix) {
  std::map<std::string, long long> keys;
  auto client = RedisClient::Connect(master, Deadline::In(seconds(5)));
  EXPECT_TRUE(client) << client.error().message;
  if (!client) return keys;
  std::string cursor = "0";
  std::string pattern = prefix + "*";
  do {
    auto reply = client->Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    EXPECT_TRUE(reply) << reply.error().message;
    if (!reply || reply->size() != 2) break;
    cursor = std::string((*reply)[0].text());
    RedisValue batch = (*reply)[1];
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string key(batch[i].text());
      auto ttl = client->Command({"TTL", key});
      if (ttl) keys[key] = ttl->integer();
    }
  } while (cursor != "0");
  return keys;
}

// ------------------------------------------------------------------------------------------
// Helpers: fake servers on loopback
// ------------------------------------------------------------------------------------------

// A TCP listener on 127.0.0.1 that misbehaves in one scripted way.
class FakeServer {
 public:
  enum class Mode {
    kSendOnAccept,   // writes `payload` as soon as a client connects, then reads and ignores
    kAnswerOk,       // answers every read with "+OK\r\n", whatever was asked
    kCloseOnAccept,  // accepts and closes at once
    kSilent,         // accepts, reads and never answers
    kOkThenClose,    // answers the first command with +OK, then closes the connection
  };

  explicit FakeServer(Mode mode, std::string payload = "")
      : mode_(mode), payload_(std::move(payload)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "fake server: cannot listen: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (int fd : clients_) close(fd);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  int port() const { return port_; }

 private:
  void Serve() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (int fd : clients_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) Accept();
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buffer[4096];
        ssize_t got = read(fds[i].fd, buffer, sizeof(buffer));
        if (got <= 0) {
          Drop(fds[i].fd);
        } else if (mode_ == Mode::kAnswerOk || mode_ == Mode::kOkThenClose) {
          static constexpr char kOk[] = "+OK\r\n";
          (void)!write(fds[i].fd, kOk, sizeof(kOk) - 1);
          if (mode_ == Mode::kOkThenClose) Drop(fds[i].fd);
        }
      }
    }
  }
  void Accept() {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    if (mode_ == Mode::kCloseOnAccept) {
      close(fd);
      return;
    }
    if (mode_ == Mode::kSendOnAccept) (void)!write(fd, payload_.data(), payload_.size());
    clients_.push_back(fd);
  }
  void Drop(int fd) {
    close(fd);
    clients_.erase(std::remove(clients_.begin(), clients_.end(), fd), clients_.end());
  }

  Mode mode_;
  std::string payload_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> clients_;  // only touched by the server thread until it is joined
};

// A probe on 127.0.0.1:`port` (target name "fake"), built through the config loader like the
// daemon does.
struct FakeTarget {
  std::shared_ptr<const Config> config;
  std::unique_ptr<Probe> probe;
};

constexpr char kFakePassword[] = "fake-target-password-5ab1e";

FakeTarget FakeTargetOn(int port, bool with_password) {
  constexpr char kPasswordVariable[] = "DBCANARY_TEST_FAKE_DRAGONFLY_PASSWORD";
  setenv(kPasswordVariable, kFakePassword, 1);
  std::string text =
      "dragonfly:\n"
      "  - name: fake\n"
      "    master: { host: 127.0.0.1, port: " +
      std::to_string(port) +
      (with_password ? std::string(", password: \"${") + kPasswordVariable + "}\""
                     : std::string()) +
      " }\n"
      "    probes:\n"
      "      dragonfly_basics: { interval: 10s, timeout: 2s }\n";
  FakeTarget target;
  auto config = ParseConfig(text, "fake.yaml");
  EXPECT_TRUE(config) << config.error().message;
  if (!config) return target;
  target.config = *config;
  auto probe = CreateDragonflyBasicsProbe(target.config->dragonflies[0].probes[0], *target.config);
  EXPECT_TRUE(probe) << probe.error().message;
  if (probe) target.probe = std::move(probe).value();
  return target;
}

// ------------------------------------------------------------------------------------------
// Against the stack's redis
// ------------------------------------------------------------------------------------------

// Pins the happy path, built through the registry as the daemon does: every op succeeds and is
// timed, the key has an expiry while it exists, and nothing under the prefix is left behind
// (or left without an expiry).
TEST(DragonflyBasicsStackTest, SucceedsWithTimedOpsAndLeavesNoKey) {
  REQUIRE_DRAGONFLY();
  const Dragonfly& dragonfly = StackDragonfly();
  auto registered = harness::MakeProbe(StackConfig(), "dragonfly_basics", dragonfly.name);
  ASSERT_TRUE(registered) << registered.error().message;
  harness::TimedRun first = harness::RunProbeOnce(**registered, seconds(3));
  ASSERT_TRUE(first.result.success) << ErrorText(first.result);

  WatchingProbe probe(dragonfly, MakeDragonflyMemberLister(dragonfly, StackConfig()), seconds(60));
  constexpr int kRuns = 21;
  std::map<std::string, std::vector<double>> latencies_ms;
  for (int run = 0; run < kRuns; ++run) {
    harness::TimedRun timed = harness::RunProbeOnce(probe, seconds(3));
    ASSERT_TRUE(timed.result.success) << ErrorText(timed.result);
    ASSERT_EQ(timed.result.samples.size(), 2 * kOps.size());
    for (const auto& op : kOps) {
      EXPECT_EQ(OpValue(timed.result, dragonfly.name, kSuccessMetric, op), 1) << op;
      double taken = OpValue(timed.result, dragonfly.name, kDurationMetric, op);
      EXPECT_GT(taken, 0) << op;
      EXPECT_LE(taken, timed.seconds) << op;  // in seconds, and timed inside the run
      latencies_ms[op].push_back(taken * 1000);
    }
    // An expiry of at most the 60 s TTL, not yet run out (TTL is read right after the SET).
    EXPECT_GT(probe.ttl_while_present, 0);
    EXPECT_LE(probe.ttl_while_present, 60);
    ASSERT_EQ(probe.key.rfind(dragonfly.key_prefix + "basics:", 0), 0u) << probe.key;
  }
  std::string report = "dragonfly_basics op latency, median of " + std::to_string(kRuns) + " runs:";
  for (const auto& op : kOps) {
    report += fmt::format(" {}={:.3f}ms", op, harness::Median(latencies_ms[op]));
  }
  std::printf("%s\n", report.c_str());

  auto keys = KeysUnder(dragonfly.master, dragonfly.key_prefix);
  EXPECT_EQ(keys.count(probe.key), 0u) << "the last run's key is still there";
  for (const auto& [key, ttl] : keys) {
    EXPECT_NE(ttl, -1) << key << " has no expiry";
    EXPECT_NE(key.rfind(dragonfly.key_prefix + "basics:", 0), 0u)
        << key << " left behind by a basics run";
  }
}

// Pins auth failures: a wrong password is kAuth at connect and never appears in the message.
TEST(DragonflyBasicsStackTest, WrongPasswordIsAuthAndNotLeaked) {
  REQUIRE_DRAGONFLY();
  const std::string wrong = "wrong-password-for-dbcanary-test-7f3e";
  auto edited =
      ProbeWith([&](Dragonfly& dragonfly) { dragonfly.master.password = Secret(wrong, "test"); });
  ASSERT_TRUE(edited.probe);
  harness::TimedRun timed = harness::RunProbeOnce(*edited.probe, seconds(3));
  ASSERT_FALSE(timed.result.success);
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kAuth) << ErrorText(timed.result);
  const std::string& message = timed.result.error->message;
  const RedisEndpoint& master = StackDragonfly().master;
  EXPECT_NE(message.find("WRONGPASS"), std::string::npos) << message;
  EXPECT_NE(message.find(master.Describe()), std::string::npos) << message;
  EXPECT_EQ(message.find(wrong), std::string::npos) << message;
  EXPECT_EQ(message.find(master.password.Reveal()), std::string::npos);
  EXPECT_EQ(message.find("<redacted>"), std::string::npos) << "a secret reached the message";
  const std::string& name = StackDragonfly().name;
  EXPECT_EQ(OpValue(timed.result, name, kSuccessMetric, "connect"), 0);
  EXPECT_EQ(OpValue(timed.result, name, kDurationMetric, "ping"), 0);
}

// Pins NOAUTH: a target configured without the password fails as kAuth at the first command.
TEST(DragonflyBasicsStackTest, MissingPasswordIsAuth) {
  REQUIRE_DRAGONFLY();
  auto edited = ProbeWith([](Dragonfly& dragonfly) { dragonfly.master.password = Secret(); });
  ASSERT_TRUE(edited.probe);
  harness::TimedRun timed = harness::RunProbeOnce(*edited.probe, seconds(3));
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kAuth) << ErrorText(timed.result);
  EXPECT_NE(timed.result.error->message.find("PING: NOAUTH"), std::string::npos)
      << timed.result.error->message;
  const std::string& name = StackDragonfly().name;
  EXPECT_EQ(OpValue(timed.result, name, kSuccessMetric, "connect"), 1);
  EXPECT_EQ(OpValue(timed.result, name, kSuccessMetric, "ping"), 0);
}

// Pins error replies: a read-only replica answers SET with READONLY, which is kQuery naming it.
TEST(DragonflyBasicsStackTest, ReplicaRefusesTheWriteAsQuery) {
  REQUIRE_DRAGONFLY();
  ASSERT_FALSE(StackDragonfly().replicas.empty());
  auto edited = ProbeWith([](Dragonfly& dragonfly) { dragonfly.master = dragonfly.replicas[0]; });
  ASSERT_TRUE(edited.probe);
  harness::TimedRun timed = harness::RunProbeOnce(*edited.probe, seconds(3));
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kQuery) << ErrorText(timed.result);
  EXPECT_NE(timed.result.error->message.find("SET: READONLY"), std::string::npos)
      << timed.result.error->message;
  const std::string& name = StackDragonfly().name;
  EXPECT_EQ(OpValue(timed.result, name, kSuccessMetric, "ping"), 1);
  EXPECT_EQ(OpValue(timed.result, name, kSuccessMetric, "set"), 0);
  EXPECT_EQ(OpValue(timed.result, name, kDurationMetric, "get"), 0);
}

// Pins hangs: a SIGSTOPped master (the kernel still completes the TCP handshake, nobody
// answers) fails the run as kTimeout at its deadline, not later; after SIGCONT the next run
// succeeds.
TEST(DragonflyBasicsStackTest, FrozenMasterTimesOutThenRecovers) {
  REQUIRE_DRAGONFLY();
  WatchingProbe probe(StackDragonfly(), MakeDragonflyMemberLister(StackDragonfly(), StackConfig()),
                      seconds(60));
  constexpr milliseconds kBudget{1000};
  {
    harness::FrozenComponent frozen("dragonfly-0");  // SIGCONT when it goes out of scope
    ASSERT_TRUE(frozen.frozen()) << frozen.error();
    harness::TimedRun timed = harness::RunProbeOnce(probe, kBudget);
    ASSERT_FALSE(timed.result.success);
    ASSERT_TRUE(timed.result.error);
    EXPECT_EQ(timed.result.error->code, ErrorCode::kTimeout) << ErrorText(timed.result);
    // At its 1 s deadline: not before, and not much after (room for a loaded host, still far
    // below the 5 s connect_timeout of the target).
    EXPECT_GE(timed.seconds, 1.0 - harness::kClockEpsilonSeconds);
    EXPECT_LE(timed.seconds, 1.0 + harness::kDeadlineSlackSeconds)
        << "the run overran its deadline";
  }
  harness::TimedRun after = harness::RunProbeOnce(probe, seconds(3));
  EXPECT_TRUE(after.result.success) << ErrorText(after.result);
}

// ------------------------------------------------------------------------------------------
// Against fake servers
// ------------------------------------------------------------------------------------------

// Pins refused connections: nothing listening is kConnect, reported at once.
TEST(DragonflyBasicsFakeTest, ClosedPortIsConnectFast) {
  auto target = FakeTargetOn(harness::UnusedLoopbackPort(), true);
  ASSERT_TRUE(target.probe);
  // A budget far above "at once": a run that waited for its deadline (or the 5 s
  // connect_timeout) instead would be told apart from a slow host.
  harness::TimedRun timed = harness::RunProbeOnce(*target.probe, seconds(10));
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kConnect) << ErrorText(timed.result);
  EXPECT_LT(timed.seconds, harness::kPromptSeconds);
  EXPECT_NE(timed.result.error->message.find("fake (127.0.0.1:"), std::string::npos);
  EXPECT_EQ(OpValue(timed.result, "fake", kSuccessMetric, "connect"), 0);
}

// Pins garbage answers: an HTTP server on the port is kProtocol (while authenticating), no crash.
TEST(DragonflyBasicsFakeTest, HttpAnswerIsProtocol) {
  FakeServer server(FakeServer::Mode::kSendOnAccept,
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  auto target = FakeTargetOn(server.port(), true);
  ASSERT_TRUE(target.probe);
  harness::TimedRun timed = harness::RunProbeOnce(*target.probe, seconds(10));
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kProtocol) << ErrorText(timed.result);
  EXPECT_LT(timed.seconds, harness::kPromptSeconds);  // at once, not at the 10 s deadline
  EXPECT_EQ(timed.result.error->message.find(kFakePassword), std::string::npos);
}

// Pins binary garbage: random bytes are kProtocol at PING, and the message stays printable.
TEST(DragonflyBasicsFakeTest, BinaryGarbageIsProtocol) {
  const std::string garbage = {'\xff', '\x00', '\x13', '\x9c', 'z', '\r', '\n', '\x01'};
  FakeServer server(FakeServer::Mode::kSendOnAccept, garbage);
  auto target = FakeTargetOn(server.port(), false);
  ASSERT_TRUE(target.probe);
  harness::TimedRun timed = harness::RunProbeOnce(*target.probe, seconds(2));
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kProtocol) << ErrorText(timed.result);
  for (char c : timed.result.error->message) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unprintable byte in " << timed.result.error->message;
  }
  EXPECT_EQ(OpValue(timed.result, "fake", kSuccessMetric, "connect"), 1);
  EXPECT_EQ(OpValue(timed.result, "fake", kSuccessMetric, "ping"), 0);
}

// Pins wrong-but-well-formed answers: a server that says +OK to everything fails PING as
// kProtocol instead of passing.
TEST(DragonflyBasicsFakeTest, WrongPingAnswerIsProtocol) {
  FakeServer server(FakeServer::Mode::kAnswerOk);
  auto target = FakeTargetOn(server.port(), true);
  ASSERT_TRUE(target.probe);
  harness::TimedRun timed = harness::RunProbeOnce(*target.probe, seconds(2));
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kProtocol) << ErrorText(timed.result);
  EXPECT_NE(timed.result.error->message.find("PING: expected PONG, got status \"OK\""),
            std::string::npos)
      << timed.result.error->message;
}

// Pins dropped connections: a server that closes right after accept is kConnect.
TEST(DragonflyBasicsFakeTest, ClosedConnectionIsConnect) {
  FakeServer server(FakeServer::Mode::kCloseOnAccept);
  auto target = FakeTargetOn(server.port(), true);
  ASSERT_TRUE(target.probe);
  for (int run = 0; run < 3; ++run) {
    harness::TimedRun timed = harness::RunProbeOnce(*target.probe, seconds(10));
    ASSERT_TRUE(timed.result.error);
    EXPECT_EQ(timed.result.error->code, ErrorCode::kConnect) << ErrorText(timed.result);
    EXPECT_LT(timed.seconds, harness::kPromptSeconds);  // at once, not at the 10 s deadline
  }
}

// Pins SIGPIPE: a large command written to a server that has closed the connection gets
// EPIPE on its second write(2) (hiredis writes with write(2), whose SIGPIPE kills the process by
// default). The client must report kConnect and the process must live on.
TEST(DragonflyBasicsFakeTest, WriteAfterServerCloseIsConnectAndSurvivesSigpipe) {
  FakeServer server(FakeServer::Mode::kOkThenClose);
  RedisEndpoint target;
  target.name = "fake";
  target.host = "127.0.0.1";
  target.port = server.port();
  target.password = Secret(kFakePassword, "test");
  const std::string big(32 << 20, 'x');  // far larger than the socket buffers
  for (int run = 0; run < 3; ++run) {
    auto client = RedisClient::Connect(target, Deadline::In(seconds(5)));
    ASSERT_TRUE(client) << client.error().message;  // AUTH answered +OK, then FIN
    auto reply = client->Command({"SET", "dbcanary:big", big});
    ASSERT_FALSE(reply);
    EXPECT_EQ(reply.error().code, ErrorCode::kConnect) << reply.error().message;
    EXPECT_FALSE(client->connected());
    EXPECT_EQ(reply.error().message.find(kFakePassword), std::string::npos);
  }
}

// Pins silent servers: a listener that accepts and never answers is kTimeout at the deadline.
TEST(DragonflyBasicsFakeTest, SilentServerTimesOutAtTheDeadline) {
  FakeServer server(FakeServer::Mode::kSilent);
  auto target = FakeTargetOn(server.port(), true);
  ASSERT_TRUE(target.probe);
  constexpr milliseconds kBudget{700};
  harness::TimedRun timed = harness::RunProbeOnce(*target.probe, kBudget);
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kTimeout) << ErrorText(timed.result);
  // At its deadline: not before, and not much after (room for a loaded host, still far below the
  // 5 s connect_timeout of the target and the server's silence, which never ends).
  EXPECT_GE(timed.seconds, 0.7 - harness::kClockEpsilonSeconds);
  EXPECT_LE(timed.seconds, 0.7 + harness::kDeadlineSlackSeconds) << "the run overran its deadline";
}

// Pins unaccepted connections: a full handshake in the kernel backlog but no accept() is
// kTimeout at the deadline too (what a wedged event loop looks like).
TEST(DragonflyBasicsFakeTest, NeverAcceptedIsTimeout) {
  harness::SilentListener listener;
  ASSERT_GT(listener.port(), 0);
  auto target = FakeTargetOn(listener.port(), false);
  ASSERT_TRUE(target.probe);
  harness::TimedRun timed = harness::RunProbeOnce(*target.probe, milliseconds(500));
  ASSERT_TRUE(timed.result.error);
  EXPECT_EQ(timed.result.error->code, ErrorCode::kTimeout) << ErrorText(timed.result);
  EXPECT_GE(timed.seconds, 0.5 - harness::kClockEpsilonSeconds);
  EXPECT_LE(timed.seconds, 0.5 + harness::kDeadlineSlackSeconds) << "the run overran its deadline";
}

}  // namespace
}  // namespace dbcanary
