#pragma once

// The public listener of the web endpoint, in front of CivetWeb on a loopback port. With
// tls_server_config (--web.config.file) it terminates TLS with the OpenSSL API; without, it
// relays plain HTTP. Either way it is what keeps CivetWeb's few workers for whole requests:
// it caps connections, holds a client until its whole request head has arrived (a slow
// client costs one of its cheap threads, never a CivetWeb worker), and takes CivetWeb's
// response at once whatever the client's reading speed.
//
// Why not CivetWeb's own TLS: Debian 12's libcivetweb1 (1.15) is built for the OpenSSL 1.1
// API. It dlopen()s libssl.so and calls SSL_get_peer_certificate, which OpenSSL 3 no longer
// exports, so it calls a null pointer after every handshake. See docs/web-security.md.
//
//   client --TLS or TCP--> TlsFront (public listen address) --TCP--> CivetWeb (127.0.0.1:ephemeral)
//
// One thread per connection, at most `max_connections` of them. Every wait is bounded (the
// handshake, the connect to CivetWeb, and idle relays), and Stop() wakes every thread at once.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>

#include "core/result.h"
#include "exporter/web/web_config.h"

struct ssl_st;      // OpenSSL's SSL
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace dbcanary {

class SelfMetrics;

// Why a TLS handshake failed: the `reason` label of dbcanary_web_tls_handshake_failures_total.
enum class TlsHandshakeFailure : size_t {
  kTimeout,      // the handshake was not finished within the handshake timeout
  kProtocol,     // not TLS (plain HTTP), no common version or cipher, malformed records
  kCertificate,  // client certificate missing or not verified, or the client refused ours
  kOther,        // the peer reset or closed during the handshake, or a local error
};
inline constexpr std::array<std::string_view, 4> kTlsHandshakeFailureNames = {
    "timeout", "protocol", "certificate", "other"};

// The local ports of the loopback connections that the front opened to CivetWeb. The HTTP
// handler serves a request only when its peer port is in here (see http_server.cc).
// Thread-safe.
class RelayPorts {
 public:
  void Add(int port);
  void Remove(int port);
  bool Contains(int port) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_set<int> ports_;  // guarded by mutex_
};

// What the front makes of a whole request head before relaying it (TlsFrontOptions::triage).
// Why: under a flood, the threads serving abusive clients compete for the same two cores as
// an authorised scrape, and the scrape's tail latency is set by them, not by its own work.
// So only requests carrying credentials already verified keep normal priority; the others
// are served at nice 19 (they take CPU that scrapes leave over), and those whose refusal is
// already known (credentials in the failure cache) are answered by the front itself, without
// a connection to CivetWeb, a worker or a bcrypt check (docs/web-security.md).
struct FrontTriage {
  bool low_priority = false;  // this connection's thread drops to nice 19 before going on
  std::string refusal;        // non-empty: the whole response, sent refusal_delay late
};

struct TlsFrontOptions {
  std::string host;      // numeric address to listen on; empty, "0.0.0.0": every IPv4 address
  int port = 0;          // 0: pick a free port
  int backend_port = 0;  // CivetWeb's port on 127.0.0.1
  // A legitimate client finishes its handshake and sends its request head in milliseconds;
  // one that sends nothing (or drips bytes) must not hold a connection slot for long. One
  // deadline for both, from the accept. Matches CivetWeb's request_timeout_ms.
  std::chrono::milliseconds handshake_timeout{10'000};
  // A request head (request line and headers) larger than this is refused (as CivetWeb's
  // max_request_size would).
  size_t max_request_head = 16 * 1024;
  // What the front takes from CivetWeb ahead of a client that reads slowly; CivetWeb's worker
  // is free once its whole response is here.
  size_t max_buffered_response = 16 * 1024 * 1024;
  // A refusal (401: no or wrong credentials; 503: too many of them at once) reaches the client
  // this much later. It holds only the front's thread (CivetWeb's worker is already free),
  // and slows a client that retries wrong credentials back to back to one try a second,
  // which is what keeps a flood of them from taking the CPU that scrapes need.
  // A second rather than less: each try still costs an accept, a thread and a head read at
  // normal priority, so the rate of tries is what a flood takes from scrapes (measured with
  // tests/bench/web_abuse_bench.sh: 250 ms left the scrape p99 at 2.1-2.5x idle on the loaded
  // dev box). A client with the right credentials never waits for it.
  std::chrono::milliseconds refusal_delay{1000};
  // A relay with no byte either way for this long is closed. CivetWeb closes each
  // connection after its response (no keep-alive), so this only ends stuck peers.
  std::chrono::milliseconds idle_timeout{60'000};
  // Connections in flight (handshaking, sending their request head, or relaying). Each one
  // is a thread and two fds; a Prometheus needs one or two, a person with a browser a few.
  // Beyond this, new connections are closed at once (and counted), so a flood cannot exhaust
  // threads or fds while the slots it holds run out within the handshake timeout. Room for
  // a hundred stuck or abusive clients and the scrapes beside them.
  size_t max_connections = 256;
  // Called with each whole request head (on the connection's thread); null: every request
  // is relayed at normal priority.
  std::function<FrontTriage(std::string_view head)> triage;
};

class TlsFront {
 public:
  // Builds the OpenSSL context from `tls` (ConfigureTlsContext), listens and starts the
  // accept thread. `self` (may be null) counts handshake failures and rejected connections;
  // `relays` is shared with the HTTP handler.
  static Result<std::unique_ptr<TlsFront>> Start(const TlsServerConfig& tls,
                                                 const TlsFrontOptions& options,
                                                 std::shared_ptr<RelayPorts> relays,
                                                 SelfMetrics* self);
  // The same for plain HTTP: no TLS, the same limits (`self` counts rejected connections).
  static Result<std::unique_ptr<TlsFront>> StartPlain(const TlsFrontOptions& options,
                                                      std::shared_ptr<RelayPorts> relays,
                                                      SelfMetrics* self);
  ~TlsFront();
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  // Connections being handshaken or relayed now.
  size_t active() const;
  // Closes the listener and every connection, and joins all threads. Idempotent; returns
  // within a few milliseconds (no wait is longer than a poll woken by Stop()).
  void Stop();

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  TlsFront() = default;
  static Result<std::unique_ptr<TlsFront>> Listen(std::unique_ptr<TlsFront> front);

  void AcceptLoop();
  void Serve(int fd);
  // The TLS handshake; false when it failed (counted) or the client left first.
  bool Handshake(int fd, ssl_st* ssl, std::chrono::steady_clock::time_point deadline);
  // Reads until the request head is complete; false when it is not by `deadline`.
  bool ReadHead(ssl_st* ssl, int fd, std::chrono::steady_clock::time_point deadline,
                std::string& head);
  void Relay(ssl_st* ssl, int client, int backend, std::string up);
  // Sends `response` after the refusal delay, then closes (TLS: close_notify).
  void Refuse(ssl_st* ssl, int client, const std::string& response);
  // Waits until `fd` has one of `events`, the deadline passes or Stop() is called.
  enum class Wait { kReady, kTimeout, kStopped };
  Wait WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) const;
  void CountFailure(TlsHandshakeFailure reason);
  void CountRejected();
  void ReapLocked();  // joins the threads of finished connections; needs mutex_

  TlsFrontOptions options_;
  std::shared_ptr<RelayPorts> relays_;
  SelfMetrics* self_ = nullptr;
  ssl_ctx_st* context_ = nullptr;  // owned; null: plain HTTP
  int listener_ = -1;
  int wake_ = -1;  // eventfd, readable once Stop() was called
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::list<Connection> connections_;  // guarded by mutex_
  bool stopped_ = false;               // guarded by mutex_
};

}  // namespace dbcanary
