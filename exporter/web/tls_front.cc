#include "exporter/web/tls_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>

#include "exporter/logging.h"
#include "exporter/metrics/self_metrics.h"

namespace dbcanary {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kBufferSize = 16 * 1024;  // one TLS record
// CivetWeb is on loopback: a connect that is not done at once will not be done.
constexpr std::chrono::milliseconds kBackendConnectTimeout{2'000};
// After a failed handshake, how long to read and drop what the client still sends, so it
// reads our alert rather than a reset (TLS 1.3 clients send their request right away).
constexpr std::chrono::milliseconds kAlertLinger{200};

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool WouldBlock() { return errno == EAGAIN || errno == EWOULDBLOCK; }

// Reasons (OpenSSL's, ERR_LIB_SSL) that are about certificates: ours refused by the client
// (its alerts) or the client's refused by us.
bool IsCertificateReason(int reason) {
  switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_NO_CERTIFICATES_RETURNED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

// Classifies a failed SSL_accept from its SSL_get_error() code and the error queue.
TlsHandshakeFailure Classify(SSL* ssl, int error) {
  if (error == SSL_ERROR_SSL) {
    bool certificate = SSL_get_verify_result(ssl) != X509_V_OK;
    while (unsigned long code = ERR_get_error()) {
      if (ERR_GET_LIB(code) == ERR_LIB_SSL && IsCertificateReason(ERR_GET_REASON(code))) {
        certificate = true;
      }
    }
    return certificate ? TlsHandshakeFailure::kCertificate : TlsHandshakeFailure::kProtocol;
  }
  ERR_clear_error();
  return TlsHandshakeFailure::kOther;  // reset, EOF or a local error mid-handshake
}

std::string Numeric(const std::string& host) {
  if (host.size() > 2 && host.front() == '[') return host.substr(1, host.size() - 2);
  return host;
}

int LocalPort(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return -1;
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return -1;
}

// The relay's socket port stays registered exactly as long as the socket is open: removed
// before close, so a later socket that gets the same port number is never taken for ours.
class Registration {
 public:
  Registration(RelayPorts& relays, int port) : relays_(relays), port_(port) { relays_.Add(port_); }
  ~Registration() { relays_.Remove(port_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  RelayPorts& relays_;
  int port_;
};

// One read or write on the client's side, over TLS (`ssl`) or plain TCP (`ssl` null).
enum class ClientIo { kData, kWantRead, kWantWrite, kEnd, kError };

ClientIo ReadClient(SSL* ssl, int fd, char* buffer, size_t size, size_t* got) {
  if (ssl != nullptr) {
    int n = SSL_read(ssl, buffer, static_cast<int>(size));
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return ClientIo::kData;
    }
    switch (SSL_get_error(ssl, n)) {
      case SSL_ERROR_WANT_READ:
        return ClientIo::kWantRead;
      case SSL_ERROR_WANT_WRITE:
        return ClientIo::kWantWrite;
      case SSL_ERROR_ZERO_RETURN:
        return ClientIo::kEnd;  // close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
      default:
        return ClientIo::kError;  // reset or a TLS error
    }
  }
  ssize_t n = ::recv(fd, buffer, size, 0);
  if (n > 0) {
    *got = static_cast<size_t>(n);
    return ClientIo::kData;
  }
  if (n == 0) return ClientIo::kEnd;
  return WouldBlock() || errno == EINTR ? ClientIo::kWantRead : ClientIo::kError;
}

ClientIo WriteClient(SSL* ssl, int fd, const char* data, size_t size, size_t* put) {
  if (ssl != nullptr) {
    int n = SSL_write(ssl, data, static_cast<int>(size));
    if (n > 0) {
      *put = static_cast<size_t>(n);
      return ClientIo::kData;
    }
    switch (SSL_get_error(ssl, n)) {
      case SSL_ERROR_WANT_WRITE:
        return ClientIo::kWantWrite;
      case SSL_ERROR_WANT_READ:
        return ClientIo::kWantRead;
      default:
        return ClientIo::kError;
    }
  }
  ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
  if (n > 0) {
    *put = static_cast<size_t>(n);
    return ClientIo::kData;
  }
  return n < 0 && (WouldBlock() || errno == EINTR) ? ClientIo::kWantWrite : ClientIo::kError;
}

// "HTTP/1.1 401": where the status code of a response ends.
constexpr size_t kStatusEnd = 12;

// A response refusing the client (CivetWeb's status line is "HTTP/1.x NNN ...").
bool IsRefusal(const std::string& response) {
  std::string_view status = std::string_view(response).substr(9, 3);
  return response.starts_with("HTTP/1.") && (status == "401" || status == "503");
}

// The end of a request head: an empty line (CRLF, or bare LF as CivetWeb also accepts).
bool HeadComplete(const std::string& head, size_t searched_up_to) {
  size_t from = searched_up_to < 3 ? 0 : searched_up_to - 3;
  return head.find("\r\n\r\n", from) != std::string::npos ||
         head.find("\n\n", from) != std::string::npos;
}

}  // namespace

void RelayPorts::Add(int port) {
  std::lock_guard lock(mutex_);
  ports_.insert(port);
}

void RelayPorts::Remove(int port) {
  std::lock_guard lock(mutex_);
  ports_.erase(port);
}

bool RelayPorts::Contains(int port) const {
  std::lock_guard lock(mutex_);
  return ports_.contains(port);
}

Result<std::unique_ptr<TlsFront>> TlsFront::Start(const TlsServerConfig& tls,
                                                  const TlsFrontOptions& options,
                                                  std::shared_ptr<RelayPorts> relays,
                                                  SelfMetrics* self) {
  std::unique_ptr<TlsFront> front(new TlsFront());
  front->options_ = options;
  front->relays_ = relays ? std::move(relays) : std::make_shared<RelayPorts>();
  front->self_ = self;
  front->context_ = SSL_CTX_new(TLS_server_method());
  if (front->context_ == nullptr) return MakeError(ErrorCode::kInternal, "TLS: SSL_CTX_new failed");
  if (auto configured = ConfigureTlsContext(front->context_, tls); !configured) {
    return configured.error();
  }
  // Relay buffers are retried as they are after WANT_WRITE; partial writes are fine.
  SSL_CTX_set_mode(front->context_,
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A client closing TCP without close_notify ends its side, as in plain HTTP (the HTTP
  // messages carry their own lengths); not an error.
  SSL_CTX_set_options(front->context_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  return Listen(std::move(front));
}

Result<std::unique_ptr<TlsFront>> TlsFront::StartPlain(const TlsFrontOptions& options,
                                                       std::shared_ptr<RelayPorts> relays,
                                                       SelfMetrics* self) {
  std::unique_ptr<TlsFront> front(new TlsFront());
  front->options_ = options;
  front->relays_ = relays ? std::move(relays) : std::make_shared<RelayPorts>();
  front->self_ = self;
  return Listen(std::move(front));
}

Result<std::unique_ptr<TlsFront>> TlsFront::Listen(std::unique_ptr<TlsFront> front) {
  const TlsFrontOptions& options = front->options_;
  front->wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (front->wake_ < 0) return MakeError(ErrorCode::kInternal, "web: eventfd failed");
  std::string host = Numeric(options.host);
  std::string where =
      (options.host.empty() ? "0.0.0.0" : options.host) + ":" + std::to_string(options.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  if (host.empty()) hints.ai_family = AF_INET;  // as CivetWeb does for a bare port
  addrinfo* found = nullptr;
  int resolved = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                               std::to_string(options.port).c_str(), &hints, &found);
  if (resolved != 0) {
    return MakeError(ErrorCode::kConfig,
                     "cannot listen on " + where + ": " + ::gai_strerror(resolved));
  }
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    found->ai_protocol);
  int one = 1;
  bool listening = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
                   ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 128) == 0;
  int saved = errno;
  ::freeaddrinfo(found);
  if (fd >= 0) front->listener_ = fd;  // closed by the destructor
  if (!listening) {
    return MakeError(ErrorCode::kConfig, "cannot listen on " + where + ": " + std::strerror(saved));
  }
  front->port_ = LocalPort(fd);
  try {
    front->acceptor_ = std::thread([raw = front.get()] { raw->AcceptLoop(); });
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kInternal,
                     std::string("web: cannot start a thread: ") + error.what());
  }
  return front;
}

TlsFront::~TlsFront() {
  Stop();
  if (listener_ >= 0) ::close(listener_);
  if (wake_ >= 0) ::close(wake_);
  SSL_CTX_free(context_);
}

size_t TlsFront::active() const {
  std::lock_guard lock(mutex_);
  size_t count = 0;
  for (const auto& connection : connections_) count += connection.done ? 0 : 1;
  return count;
}

void TlsFront::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (wake_ >= 0) {
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof(one));
  }
  if (acceptor_.joinable()) acceptor_.join();
  if (listener_ >= 0) {
    ::close(listener_);
    listener_ = -1;
  }
  // The acceptor is gone: nothing adds connections any more.
  std::list<Connection> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (auto& connection : connections) {
    if (connection.thread.joinable()) connection.thread.join();
  }
}

TlsFront::Wait TlsFront::WaitFor(int fd, short events, Clock::time_point deadline) const {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return Wait::kTimeout;
    pollfd fds[2] = {{fd, events, 0}, {wake_, POLLIN, 0}};
    int ready = ::poll(fds, 2, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return Wait::kStopped;
    if (ready > 0) return Wait::kReady;
  }
}

void TlsFront::CountFailure(TlsHandshakeFailure reason) {
  if (self_ != nullptr) self_->CountTlsHandshakeFailure(static_cast<size_t>(reason));
}

void TlsFront::CountRejected() {
  if (self_ != nullptr) self_->CountWebConnectionRejected();
}

void TlsFront::ReapLocked() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->done) {
      if (it->thread.joinable()) it->thread.join();  // its last step was setting done
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void TlsFront::AcceptLoop() {
  // OpenSSL writes to the client with write(), which raises SIGPIPE on a connection the
  // client has closed; blocked here (and so in every connection thread started from here),
  // it becomes EPIPE instead of ending the process.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {wake_, POLLIN, 0}};
    int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return;
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of fds (EMFILE) leaves the connection queued and the listener readable: back off
      // instead of spinning.
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        if (WaitFor(wake_, POLLIN, Clock::now() + std::chrono::milliseconds(50)) !=
            Wait::kTimeout) {
          return;  // Stop() was called
        }
      }
      continue;
    }
    std::lock_guard lock(mutex_);
    ReapLocked();
    if (connections_.size() >= options_.max_connections) {
      CountRejected();
      ::close(fd);
      continue;
    }
    Connection& connection = connections_.emplace_back();
    try {
      connection.thread = std::thread([this, fd, &connection] {
        try {
          Serve(fd);
        } catch (const std::exception& error) {
          MainLogger()->error("https: connection failed: {}", error.what());
        } catch (...) {
          MainLogger()->error("https: connection failed");
        }
        ::close(fd);
        ERR_clear_error();
        connection.done = true;
      });
    } catch (...) {  // no thread to be had: like over the limit
      connections_.pop_back();
      CountRejected();
      ::close(fd);
    }
  }
}

void TlsFront::Serve(int fd) {
  SetNoDelay(fd);
  const auto deadline = Clock::now() + options_.handshake_timeout;
  std::unique_ptr<SSL, SslFree> ssl;
  if (context_ != nullptr) {
    ssl.reset(SSL_new(context_));
    if (!Handshake(fd, ssl.get(), deadline)) return;
  }
  // CivetWeb sees the request only once its head is whole: a client that drips it holds
  // this thread, not one of CivetWeb's few workers.
  std::string head;
  if (!ReadHead(ssl.get(), fd, deadline, head)) return;
  FrontTriage triage = options_.triage ? options_.triage(head) : FrontTriage{};
  if (triage.low_priority) {
    // Per thread on Linux, and needs no privilege; failing to is harmless.
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  }
  if (!triage.refusal.empty()) {
    Refuse(ssl.get(), fd, triage.refusal);
    return;
  }

  Fd backend(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (backend.get() < 0) return;
  SetNoDelay(backend.get());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(options_.backend_port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(backend.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EINPROGRESS ||
        WaitFor(backend.get(), POLLOUT, Clock::now() + kBackendConnectTimeout) != Wait::kReady) {
      return;
    }
    int failure = 0;
    socklen_t length = sizeof(failure);
    if (::getsockopt(backend.get(), SOL_SOCKET, SO_ERROR, &failure, &length) != 0 || failure != 0) {
      MainLogger()->warn("web: cannot connect to the HTTP server on 127.0.0.1:{}: {}",
                         options_.backend_port, std::strerror(failure));
      return;
    }
  }
  int local_port = LocalPort(backend.get());
  if (local_port < 0) return;
  // Registered before the first byte goes to CivetWeb, so the request always finds it.
  Registration registration(*relays_, local_port);
  Relay(ssl.get(), fd, backend.get(), std::move(head));
}

bool TlsFront::Handshake(int fd, SSL* ssl, Clock::time_point deadline) {
  // A connection closed before its first byte (a TCP liveness probe, a port scan) is not a
  // failed handshake: wait for that byte before counting anything.
  switch (WaitFor(fd, POLLIN, deadline)) {
    case Wait::kReady:
      break;
    case Wait::kTimeout:
      CountFailure(TlsHandshakeFailure::kTimeout);
      return false;
    case Wait::kStopped:
      return false;
  }
  char first = 0;
  if (::recv(fd, &first, 1, MSG_PEEK) <= 0) return false;

  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    CountFailure(TlsHandshakeFailure::kOther);
    return false;
  }
  ERR_clear_error();
  for (;;) {
    int accepted = SSL_accept(ssl);
    if (accepted == 1) return true;
    int error = SSL_get_error(ssl, accepted);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      Wait wait = WaitFor(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
      if (wait == Wait::kStopped) return false;
      if (wait == Wait::kTimeout) {
        CountFailure(TlsHandshakeFailure::kTimeout);
        return false;
      }
      continue;
    }
    TlsHandshakeFailure reason = Classify(ssl, error);
    CountFailure(reason);
    MainLogger()->debug("https: handshake failed ({})",
                        kTlsHandshakeFailureNames[static_cast<size_t>(reason)]);
    // Our alert is on its way; drop what the client still sends for a moment so that it
    // reads the alert instead of a reset.
    ::shutdown(fd, SHUT_WR);
    const auto linger = Clock::now() + kAlertLinger;
    char sink[4096];
    while (WaitFor(fd, POLLIN, linger) == Wait::kReady && ::recv(fd, sink, sizeof(sink), 0) > 0) {
    }
    return false;
  }
}

bool TlsFront::ReadHead(SSL* ssl, int fd, Clock::time_point deadline, std::string& head) {
  char buffer[kBufferSize];
  for (;;) {
    size_t got = 0;
    switch (ReadClient(ssl, fd, buffer, sizeof(buffer), &got)) {
      case ClientIo::kData: {
        size_t searched = head.size();
        head.append(buffer, got);
        if (HeadComplete(head, searched)) return true;
        if (head.size() > options_.max_request_head) return false;
        continue;
      }
      case ClientIo::kWantRead:
      case ClientIo::kWantWrite: {
        // TLS may need to write while reading (a renegotiation, a key update).
        short events = ssl != nullptr && SSL_want_write(ssl) ? POLLOUT : POLLIN;
        if (WaitFor(fd, events, deadline) != Wait::kReady) return false;
        continue;
      }
      case ClientIo::kEnd:
      case ClientIo::kError:
        return false;  // closed before a whole request: nothing to relay
    }
  }
}

void TlsFront::Refuse(SSL* ssl, int client, const std::string& response) {
  if (WaitFor(wake_, POLLIN, Clock::now() + options_.refusal_delay) != Wait::kTimeout) return;
  const auto deadline = Clock::now() + options_.handshake_timeout;
  size_t sent = 0;
  while (sent < response.size()) {
    size_t put = 0;
    // Retried with the same bytes after WANT_WRITE, as OpenSSL requires.
    ClientIo io = WriteClient(ssl, client, response.data() + sent,
                              std::min(response.size() - sent, kBufferSize), &put);
    if (io == ClientIo::kData) {
      sent += put;
    } else if (io == ClientIo::kError || io == ClientIo::kEnd ||
               WaitFor(client, io == ClientIo::kWantRead ? POLLIN : POLLOUT, deadline) !=
                   Wait::kReady) {
      return;
    }
  }
  if (ssl != nullptr) SSL_shutdown(ssl);
}

// Copies bytes both ways, starting with `up` (the request head already read), until CivetWeb
// closes its side (after a response) and that is passed on, either side fails, Stop() is
// called or nothing moves for idle_timeout. One buffer of data in flight towards CivetWeb;
// from CivetWeb up to max_buffered_response, so that a client reading slowly does not hold
// a CivetWeb worker.
void TlsFront::Relay(SSL* ssl, int client, int backend, std::string up) {
  std::string down;          // from CivetWeb, to be sent to the client
  bool client_done = false;  // the client ended its side (close_notify or EOF)
  bool backend_shut = false;
  bool backend_done = false;  // CivetWeb closed its side
  bool status_seen = false;   // the response's status line has been looked at
  char buffer[kBufferSize];
  auto idle_deadline = Clock::now() + options_.idle_timeout;
  auto want = [](ClientIo io) -> short {
    return io == ClientIo::kWantWrite ? POLLOUT : io == ClientIo::kWantRead ? POLLIN : 0;
  };
  for (;;) {
    bool progress = false;
    short client_events = 0;
    short backend_events = 0;
    if (!client_done && up.empty()) {
      size_t got = 0;
      ClientIo io = ReadClient(ssl, client, buffer, sizeof(buffer), &got);
      if (io == ClientIo::kData) {
        up.assign(buffer, got);
        progress = true;
      } else if (io == ClientIo::kEnd) {
        client_done = true;
        progress = true;
      } else if (io == ClientIo::kError) {
        return;  // reset or a TLS error
      } else {
        client_events |= want(io);
      }
    }
    if (!up.empty()) {
      ssize_t n = ::send(backend, up.data(), up.size(), MSG_NOSIGNAL);
      if (n > 0) {
        up.erase(0, static_cast<size_t>(n));
        progress = true;
      } else if (n < 0 && WouldBlock()) {
        backend_events |= POLLOUT;
      } else {
        return;
      }
    } else if (client_done && !backend_shut) {
      ::shutdown(backend, SHUT_WR);  // CivetWeb still answers what it got
      backend_shut = true;
    }
    if (!backend_done && down.size() < options_.max_buffered_response) {
      ssize_t n = ::recv(backend, buffer, sizeof(buffer), 0);
      if (n > 0) {
        down.append(buffer, static_cast<size_t>(n));
        progress = true;
        if (!status_seen && down.size() >= kStatusEnd) {
          status_seen = true;
          if (IsRefusal(down) &&
              WaitFor(wake_, POLLIN, Clock::now() + options_.refusal_delay) != Wait::kTimeout) {
            return;  // Stop()
          }
        }
      } else if (n == 0) {
        backend_done = true;
        progress = true;
      } else if (WouldBlock()) {
        backend_events |= POLLIN;
      } else {
        return;
      }
    }
    if (!down.empty()) {
      // At most one record's worth: after WANT_WRITE the retry then starts with the same
      // bytes and is no shorter, as OpenSSL requires (`down` only grows at its end).
      size_t put = 0;
      ClientIo io = WriteClient(ssl, client, down.data(), std::min(down.size(), kBufferSize), &put);
      if (io == ClientIo::kData) {
        down.erase(0, put);
        progress = true;
      } else if (io == ClientIo::kError || io == ClientIo::kEnd) {
        return;
      } else {
        client_events |= want(io);
      }
    } else if (backend_done) {
      if (ssl != nullptr) SSL_shutdown(ssl);  // sends close_notify; the answer is not waited for
      return;
    }
    if (progress) {
      idle_deadline = Clock::now() + options_.idle_timeout;
      continue;
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(idle_deadline - Clock::now()).count();
    if (left <= 0) return;
    // A side with nothing to wait for is left out (fd -1): its POLLHUP would spin the loop.
    pollfd fds[3] = {{client_events != 0 ? client : -1, client_events, 0},
                     {backend_events != 0 ? backend : -1, backend_events, 0},
                     {wake_, POLLIN, 0}};
    int ready = ::poll(fds, 3, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[2].revents != 0) return;  // idle, error or Stop()
  }
}

}  // namespace dbcanary
