#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

// Fault injection between the exporter and a stack server: a TCP proxy on 127.0.0.1 whose
// behaviour can be switched while the exporter runs. Configure the exporter's target at the
// proxy's port; the proxy forwards to the real server until told otherwise.

namespace dbcanary::testing {

class FaultProxy {
 public:
  enum class Mode {
    kForward,  // a transparent TCP forwarder
    kRefuse,   // the listening socket is closed: connects are refused (a server that is down)
    kDelay,    // forwards, but holds every chunk in either direction for delay() first (slow)
    kGarbage,  // answers the client's first bytes with nonsense and closes (a wrong server)
    kCutOff,   // forwards the server's first reply, half of its second one, then closes both
               // sockets (a server that dies mid-reply)
  };

  // Listens on a free loopback port (or `listen_port` when not 0) and forwards to
  // 127.0.0.1:`upstream_port`. port() is 0 when the listener could not be set up.
  explicit FaultProxy(int upstream_port, int listen_port = 0);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  // Switches the behaviour for new connections (kDelay also slows established ones). Leaving
  // kRefuse binds the same port again.
  void SetMode(Mode mode);
  Mode mode() const { return mode_.load(); }
  void set_delay(std::chrono::milliseconds delay) {
    delay_ms_.store(static_cast<int>(delay.count()));
  }
  // Connections currently open through the proxy (client side).
  int open_connections() const { return open_.load(); }

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void AcceptLoop();
  void Serve(int client, Connection* self);
  bool Listen();
  void CloseListener();
  bool SleepInterruptible(std::chrono::milliseconds duration) const;

  const int upstream_port_;
  int port_ = 0;
  std::atomic<int> listen_fd_{-1};
  std::atomic<Mode> mode_{Mode::kForward};
  std::atomic<int> delay_ms_{2000};
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_{0};
  std::mutex mutex_;  // guards listener (re)binding and connections_
  std::list<Connection> connections_;
  std::thread acceptor_;
};

// An HTTP server on a free loopback port that answers every request with `status` and the
// request itself (line, headers, body) as its body: the worst case of a server that echoes what
// it was sent into an error message (Authorization headers included).
class EchoHttpServer {
 public:
  explicit EchoHttpServer(int status = 401);
  ~EchoHttpServer();
  EchoHttpServer(const EchoHttpServer&) = delete;
  EchoHttpServer& operator=(const EchoHttpServer&) = delete;
  int port() const { return port_; }
  int requests() const { return requests_.load(); }

 private:
  int fd_ = -1;
  int port_ = 0;
  int status_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

// Short name of a mode for test names and messages.
const char* ModeName(FaultProxy::Mode mode);

// Open file descriptors of process `pid` (entries of /proc/PID/fd); -1 when unreadable.
int OpenFdCount(int pid);

}  // namespace dbcanary::testing
