// TlsFront without the exporter: a relay to a stand-in backend, the relay port registry,
// the connection limit, the handshake timeout and a prompt Stop().
#include "exporter/web/tls_front.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "exporter/metrics/self_metrics.h"
#include "tests/fake_kube/tls_terminator.h"  // TestPki
#include "tests/unit/loopback.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::ConnectLoopback;
using testing::Loopback;

// No test here depends on how fast the host is: conditions are waited for, lower bounds only
// prove that a timeout was honoured, upper bounds leave a loaded host room while staying far
// below the 10 s default handshake timeout a broken promise would end at.
constexpr milliseconds kWaitLimit{20000};

// Seconds until the peer closes `fd` (EOF or reset), at most `limit`.
double SecondsUntilClosed(int fd, double limit) {
  auto start = Clock::now();
  pollfd entry{fd, POLLIN, 0};
  char byte = 0;
  while (::poll(&entry, 1, static_cast<int>(limit * 1000)) > 0 &&
         ::recv(fd, &byte, 1, MSG_DONTWAIT) > 0) {
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Waits for `condition`, polling; ends as soon as it holds (the callers' generous limits only
// matter on a loaded host).
bool WaitUntil(const std::function<bool()>& condition, milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// A one-request HTTP server on 127.0.0.1 standing in for CivetWeb: it answers whether the
// peer port of the request's connection was registered in `relays` when the request came.
class Backend {
 public:
  explicit Backend(const RelayPorts& relays) : relays_(relays) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = Loopback(0);
    socklen_t length = sizeof(address);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::listen(listener_, 4);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { ServeOne(); });
  }
  ~Backend() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  int port() const { return port_; }
  int peer_port() const { return peer_port_; }

 private:
  void ServeOne() {
    int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length);
    peer_port_ = ntohs(peer.sin_port);
    std::string request;
    char buffer[1024];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<size_t>(n));
    }
    std::string body = relays_.Contains(peer_port_) ? "registered" : "unknown";
    std::string response =
        "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
    ::close(fd);
  }

  const RelayPorts& relays_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> peer_port_{0};
  std::thread thread_;
};

// GET / over TLS, trusting `ca_file`; the whole response, or "" when TLS failed.
std::string TlsGet(int port, const std::string& ca_file) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(context, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  int fd = ConnectLoopback(port);
  SSL* ssl = SSL_new(context);
  SSL_set_fd(ssl, fd);
  std::string response;
  if (SSL_connect(ssl) == 1) {
    std::string request = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char buffer[1024];
    int n = 0;
    while ((n = SSL_read(ssl, buffer, sizeof(buffer))) > 0) {
      response.append(buffer, static_cast<size_t>(n));
    }
  }
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(context);
  return response;
}

class TlsFrontTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pki_ = new TestPki(TestPki::Make(dir_->path()));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }

  std::unique_ptr<TlsFront> Start(TlsFrontOptions options, int backend_port) {
    TlsServerConfig tls;
    tls.cert_file = pki_->server_cert;
    tls.key_file = pki_->server_key;
    options.host = "127.0.0.1";
    options.backend_port = backend_port;
    auto front = TlsFront::Start(tls, options, relays_, &self_);
    EXPECT_TRUE(front) << front.error().message;
    return front ? std::move(front).value() : nullptr;
  }

  uint64_t Failures(TlsHandshakeFailure reason) const {
    return self_.Snapshot().web_tls_handshake_failures[static_cast<size_t>(reason)];
  }

  static TempDir* dir_;
  static TestPki* pki_;
  std::shared_ptr<RelayPorts> relays_ = std::make_shared<RelayPorts>();
  SelfMetrics self_;
};

TempDir* TlsFrontTest::dir_ = nullptr;
TestPki* TlsFrontTest::pki_ = nullptr;

TEST_F(TlsFrontTest, RelaysARequestFromARegisteredPortAndUnregistersIt) {
  Backend backend(*relays_);
  auto front = Start({}, backend.port());
  ASSERT_TRUE(front);
  std::string response = TlsGet(front->port(), pki_->ca_cert);
  EXPECT_EQ(response, "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nregistered");
  ASSERT_GT(backend.peer_port(), 0);
  EXPECT_TRUE(WaitUntil([&] { return !relays_->Contains(backend.peer_port()); }, kWaitLimit));
  EXPECT_TRUE(WaitUntil([&] { return front->active() == 0; }, kWaitLimit));
}

TEST_F(TlsFrontTest, AClientTrustingAnotherCaFailsAndIsCounted) {
  Backend backend(*relays_);
  auto front = Start({}, backend.port());
  ASSERT_TRUE(front);
  EXPECT_EQ(TlsGet(front->port(), pki_->other_ca_cert), "");
  EXPECT_TRUE(
      WaitUntil([&] { return Failures(TlsHandshakeFailure::kCertificate) == 1; }, kWaitLimit));
}

TEST_F(TlsFrontTest, ConnectionsOverTheLimitAreClosedAtOnceAndCounted) {
  TlsFrontOptions options;
  options.max_connections = 2;
  auto front = Start(options, 1);
  ASSERT_TRUE(front);
  int first = ConnectLoopback(front->port());
  int second = ConnectLoopback(front->port());
  ASSERT_TRUE(WaitUntil([&] { return front->active() == 2; }, kWaitLimit));
  int third = ConnectLoopback(front->port());
  ASSERT_GE(third, 0);
  // At once (2 s of room for a loaded host), not after the 10 s handshake timeout.
  EXPECT_LT(SecondsUntilClosed(third, 15), 2.0);
  EXPECT_EQ(self_.Snapshot().web_connections_rejected, 1u);
  ::close(third);
  // Closed before their first byte: a freed slot, not a failed handshake.
  ::close(first);
  ::close(second);
  ASSERT_TRUE(WaitUntil([&] { return front->active() == 0; }, kWaitLimit));
  int fourth = ConnectLoopback(front->port());
  EXPECT_TRUE(WaitUntil([&] { return front->active() == 1; }, kWaitLimit));
  ::close(fourth);
  EXPECT_EQ(self_.Snapshot().web_connections_rejected, 1u);
  for (auto reason : {TlsHandshakeFailure::kTimeout, TlsHandshakeFailure::kProtocol,
                      TlsHandshakeFailure::kCertificate, TlsHandshakeFailure::kOther}) {
    EXPECT_EQ(Failures(reason), 0u);
  }
}

TEST_F(TlsFrontTest, AClientSendingNothingIsClosedAfterTheHandshakeTimeout) {
  TlsFrontOptions options;
  options.handshake_timeout = milliseconds(300);
  auto front = Start(options, 1);
  ASSERT_TRUE(front);
  // Timed from before the connect: the front's handshake deadline starts after it.
  const auto before_connect = Clock::now();
  int idle = ConnectLoopback(front->port());
  (void)SecondsUntilClosed(idle, 15);
  const double closed = std::chrono::duration<double>(Clock::now() - before_connect).count();
  ::close(idle);
  EXPECT_GE(closed, 0.3 - 0.005);  // not before the configured 300 ms
  EXPECT_LT(closed, 0.3 + 1.0);    // nor much after: the 10 s default would be far later
  EXPECT_TRUE(WaitUntil([&] { return Failures(TlsHandshakeFailure::kTimeout) == 1; }, kWaitLimit));
}

TEST_F(TlsFrontTest, PlainHttpIsAProtocolFailure) {
  auto front = Start({}, 1);
  ASSERT_TRUE(front);
  int fd = ConnectLoopback(front->port());
  std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  // At once, after the 200 ms alert linger (room for a loaded host), not at the 10 s timeout.
  EXPECT_LT(SecondsUntilClosed(fd, 15), 2.0);
  ::close(fd);
  EXPECT_TRUE(WaitUntil([&] { return Failures(TlsHandshakeFailure::kProtocol) == 1; }, kWaitLimit));
}

TEST_F(TlsFrontTest, StopEndsWaitingConnectionsAtOnce) {
  auto front = Start({}, 1);  // 10 s handshake timeout
  ASSERT_TRUE(front);
  int first = ConnectLoopback(front->port());
  int second = ConnectLoopback(front->port());
  ASSERT_TRUE(WaitUntil([&] { return front->active() == 2; }, kWaitLimit));
  auto start = Clock::now();
  front->Stop();
  // At once (2 s of room for a loaded host), not when the 10 s handshake timeout ends them.
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  EXPECT_LT(SecondsUntilClosed(first, 15), 2.0);
  EXPECT_EQ(ConnectLoopback(front->port()), -1);  // the listener is closed
  ::close(first);
  ::close(second);
  EXPECT_EQ(Failures(TlsHandshakeFailure::kTimeout), 0u);
}

TEST_F(TlsFrontTest, ABusyAddressIsAConfigErrorNamingIt) {
  auto front = Start({}, 1);
  ASSERT_TRUE(front);
  TlsServerConfig tls;
  tls.cert_file = pki_->server_cert;
  tls.key_file = pki_->server_key;
  TlsFrontOptions options;
  options.host = "127.0.0.1";
  options.port = front->port();
  auto second = TlsFront::Start(tls, options, relays_, nullptr);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kConfig);
  EXPECT_NE(
      second.error().message.find("cannot listen on 127.0.0.1:" + std::to_string(front->port())),
      std::string::npos)
      << second.error().message;
}

}  // namespace
}  // namespace dbcanary::testing
