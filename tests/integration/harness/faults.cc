#include "tests/integration/harness/faults.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "tests/unit/loopback.h"

namespace dbcanary::testing {
namespace {

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<size_t>(sent);
  }
  return true;
}

// Bytes no server of the stack speaks: not a PostgreSQL message type nor a RESP type byte,
// with NULs, invalid UTF-8 and a line that looks like another protocol.
constexpr char kGarbage[] = "\x7f\xfe\x00\x01 HTTP/1.1 418 teapot\r\n\xff\xff\xff\xff garbage\r\n";

}  // namespace

const char* ModeName(FaultProxy::Mode mode) {
  switch (mode) {
    case FaultProxy::Mode::kForward:
      return "forward";
    case FaultProxy::Mode::kRefuse:
      return "down";
    case FaultProxy::Mode::kDelay:
      return "slow";
    case FaultProxy::Mode::kGarbage:
      return "garbage";
    case FaultProxy::Mode::kCutOff:
      return "cutoff";
  }
  return "?";
}

int OpenFdCount(int pid) {
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

FaultProxy::FaultProxy(int upstream_port, int listen_port)
    : upstream_port_(upstream_port), port_(listen_port) {
  if (!Listen()) {
    port_ = 0;
    return;
  }
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  CloseListener();
  std::lock_guard lock(mutex_);
  for (auto& connection : connections_) {
    if (connection.thread.joinable()) connection.thread.join();
  }
}

bool FaultProxy::Listen() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address = Loopback(port_);
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return false;
  }
  port_ = ntohs(address.sin_port);
  listen_fd_ = fd;
  return true;
}

void FaultProxy::CloseListener() {
  int fd = listen_fd_.exchange(-1);
  if (fd >= 0) ::close(fd);
}

void FaultProxy::SetMode(Mode mode) {
  mode_ = mode;
  // The accept thread owns the listener: wait until it has closed or re-opened it (it polls every
  // 20 ms; the generous limit is only for a loaded host, the loop ends as soon as it has).
  const bool want_listener = mode != Mode::kRefuse;
  for (int i = 0; i < 1000 && (listen_fd_.load() >= 0) != want_listener; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool FaultProxy::SleepInterruptible(std::chrono::milliseconds duration) const {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
    if (stopping_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    {
      // Reap finished connections.
      std::lock_guard lock(mutex_);
      for (auto it = connections_.begin(); it != connections_.end();) {
        if (it->done) {
          it->thread.join();
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
    }
    const bool refuse = mode_.load() == Mode::kRefuse;
    if (refuse && listen_fd_.load() >= 0) CloseListener();
    if (!refuse && listen_fd_.load() < 0 && !Listen()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (refuse) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    pollfd entry{listen_fd_.load(), POLLIN, 0};
    if (::poll(&entry, 1, 20) != 1) continue;
    int client = ::accept4(listen_fd_.load(), nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mutex_);
    Connection& connection = connections_.emplace_back();
    ++open_;
    connection.thread = std::thread([this, client, &connection] { Serve(client, &connection); });
  }
}

void FaultProxy::Serve(int client, Connection* self) {
  const Mode mode = mode_.load();
  int upstream = -1;
  auto finish = [&] {
    if (upstream >= 0) ::close(upstream);
    ::close(client);
    --open_;
    self->done = true;
  };
  char buffer[16384];
  if (mode == Mode::kGarbage) {
    // Wait for the client's first bytes (or not), answer nonsense, hang up.
    pollfd entry{client, POLLIN, 0};
    if (::poll(&entry, 1, 1000) == 1) (void)::recv(client, buffer, sizeof(buffer), 0);
    SendAll(client, kGarbage, sizeof(kGarbage) - 1);
    ::shutdown(client, SHUT_RDWR);
    return finish();
  }
  upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(upstream_port_);
  if (upstream < 0 ||
      ::connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return finish();
  }
  int upstream_chunks = 0;
  while (!stopping_) {
    pollfd entries[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    int ready = ::poll(entries, 2, 50);
    if (ready < 0) break;
    if (ready == 0) continue;
    bool open = true;
    for (int side = 0; side < 2 && open; ++side) {
      if ((entries[side].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t got = ::recv(entries[side].fd, buffer, sizeof(buffer), 0);
      if (got <= 0) {
        open = false;
        break;
      }
      size_t size = static_cast<size_t>(got);
      if (mode_.load() == Mode::kDelay &&
          !SleepInterruptible(std::chrono::milliseconds(delay_ms_.load()))) {
        open = false;
        break;
      }
      if (side == 1 && mode == Mode::kCutOff && ++upstream_chunks == 2) {
        SendAll(client, buffer, std::max<size_t>(1, size / 2));
        open = false;
        break;
      }
      open = SendAll(side == 0 ? upstream : client, buffer, size);
    }
    if (!open) break;
  }
  finish();
}

EchoHttpServer::EchoHttpServer(int status) : status_(status) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd_, 16) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return;
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] {
    while (!stopping_) {
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, 50) != 1) continue;
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::string request;
      char buffer[4096];
      // Until the headers are complete (at once for any real client); the limit only bounds a
      // client that never finishes them.
      const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5000);
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536 &&
             std::chrono::steady_clock::now() < until) {
        pollfd in{client, POLLIN, 0};
        if (::poll(&in, 1, 50) != 1) continue;
        ssize_t got = ::recv(client, buffer, sizeof(buffer), 0);
        if (got <= 0) break;
        request.append(buffer, static_cast<size_t>(got));
      }
      ++requests_;
      std::string reply =
          "HTTP/1.1 " + std::to_string(status_) +
          " Echo\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(request.size()) +
          "\r\nConnection: close\r\n\r\n" + request;
      SendAll(client, reply.data(), reply.size());
      ::close(client);
    }
  });
}

EchoHttpServer::~EchoHttpServer() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace dbcanary::testing
