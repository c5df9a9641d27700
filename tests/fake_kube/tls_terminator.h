#pragma once

// A tiny TLS front for FakeKube (tests only). Debian 12's CivetWeb 1.15 reports TLS support
// (mg_check_feature(2)) but crashes in its worker on the first TLS handshake against
// OpenSSL 3 (it dlopens libssl and calls a symbol OpenSSL 3 no longer has), so HTTPS is
// terminated here with the OpenSSL API and relayed in plain HTTP to the fake on loopback.
// Like kube-apiserver with --client-ca-file it can ask for a client certificate: one that is
// presented must chain to that CA (otherwise the handshake fails with a TLS alert), none at
// all is allowed (the request then needs a token). It remembers the last verified subject.
//
// Also makes throwaway PKI with the openssl CLI: a CA, a server certificate for 127.0.0.1,
// and a client certificate, written into a directory the test owns.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dbcanary::testing {

// Certificates for one test suite, made with the openssl CLI in `dir`.
struct TestPki {
  std::string dir;
  std::string ca_cert, ca_key;              // the "cluster CA"
  std::string server_cert, server_key;      // CN/SAN 127.0.0.1, signed by the CA
  std::string client_cert, client_key;      // CN dbcanary, O dbcanary-readers, signed by the CA
  std::string other_ca_cert;                // an unrelated CA (wrong trust anchor)
  std::string stranger_cert, stranger_key;  // a client certificate signed by the other CA

  static TestPki Make(const std::string& dir) {
    TestPki pki;
    pki.dir = dir;
    pki.ca_cert = dir + "/ca.crt";
    pki.ca_key = dir + "/ca.key";
    pki.server_cert = dir + "/server.crt";
    pki.server_key = dir + "/server.key";
    pki.client_cert = dir + "/client.crt";
    pki.client_key = dir + "/client.key";
    pki.other_ca_cert = dir + "/other-ca.crt";
    pki.stranger_cert = dir + "/stranger.crt";
    pki.stranger_key = dir + "/stranger.key";
    const std::string q = " >/dev/null 2>&1";
    const std::string d = "'" + dir + "/";
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
        "/CN=fake-kube-ca -keyout " +
        d + "ca.key' -out " + d + "ca.crt'" + q);
    Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
        "/CN=other-ca -keyout " +
        d + "other-ca.key' -out " + d + "other-ca.crt'" + q);
    Run("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > " + d + "san.ext'");
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 "
        "-keyout " +
        d + "server.key' -out " + d + "server.csr'" + q);
    Run("openssl x509 -req -days 2 -in " + d + "server.csr' -CA " + d + "ca.crt' -CAkey " + d +
        "ca.key' -CAcreateserial -extfile " + d + "san.ext' -out " + d + "server.crt'" + q);
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "
        "/CN=dbcanary/O=dbcanary-readers -keyout " +
        d + "client.key' -out " + d + "client.csr'" + q);
    Run("openssl x509 -req -days 2 -in " + d + "client.csr' -CA " + d + "ca.crt' -CAkey " + d +
        "ca.key' -CAcreateserial -out " + d + "client.crt'" + q);
    Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "
        "/CN=stranger -keyout " +
        d + "stranger.key' -out " + d + "stranger.csr'" + q);
    Run("openssl x509 -req -days 2 -in " + d + "stranger.csr' -CA " + d + "other-ca.crt' -CAkey " +
        d + "other-ca.key' -CAcreateserial -out " + d + "stranger.crt'" + q);
    return pki;
  }

 private:
  static void Run(const std::string& command) {
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  }
};

class TlsTerminator {
 public:
  // Listens on 127.0.0.1 (ephemeral port) and relays to 127.0.0.1:backend_port. With a
  // non-empty client_ca_file, a client certificate is requested and, if presented, verified.
  //
  // `certificate_user_token`, when set with a client CA, stands in for the API server's
  // certificate authentication: a request over a verified client certificate is forwarded
  // with "Authorization: Bearer TOKEN" added after its request line, so the fake (which only
  // knows bearer tokens) sees it authenticated. Without a certificate it is forwarded as is.
  TlsTerminator(int backend_port, const std::string& cert_file, const std::string& key_file,
                const std::string& client_ca_file = "", std::string certificate_user_token = "")
      : backend_port_(backend_port), certificate_user_token_(std::move(certificate_user_token)) {
    ssl_ = SSL_CTX_new(TLS_server_method());
    if (ssl_ == nullptr) throw std::runtime_error("TlsTerminator: SSL_CTX_new failed");
    if (SSL_CTX_use_certificate_chain_file(ssl_, cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw std::runtime_error("TlsTerminator: cannot load " + cert_file);
    }
    if (!client_ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ssl_, client_ca_file.c_str(), nullptr) != 1) {
        throw std::runtime_error("TlsTerminator: cannot load " + client_ca_file);
      }
      SSL_CTX_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);  // optional, verified if given
    }
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("TlsTerminator: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~TlsTerminator() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(mutex_);
      workers.swap(workers_);
    }
    for (auto& worker : workers) worker.join();
    SSL_CTX_free(ssl_);
  }
  TlsTerminator(const TlsTerminator&) = delete;
  TlsTerminator& operator=(const TlsTerminator&) = delete;

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // Subject of the last verified client certificate ("" when none was presented).
  std::string LastClientSubject() const {
    std::lock_guard lock(mutex_);
    return last_subject_;
  }
  int Handshakes() const { return handshakes_.load(); }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      timeval timeout{10, 0};  // a stuck peer cannot hang the test
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
      std::lock_guard lock(mutex_);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    SSL* ssl = SSL_new(ssl_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      ++handshakes_;
      std::string subject;
      if (X509* peer = SSL_get1_peer_certificate(ssl)) {
        char buffer[256];
        X509_NAME_oneline(X509_get_subject_name(peer), buffer, sizeof(buffer));
        subject = buffer;
        X509_free(peer);
      }
      {
        std::lock_guard lock(mutex_);
        last_subject_ = subject;
      }
      Relay(ssl, fd, subject.empty() ? std::string() : certificate_user_token_);
      SSL_shutdown(ssl);
    } else {
      // The alert is sent. With TLS 1.3 the client already considers the handshake done and
      // sends its request: read and drop it before closing, so the client reads the alert
      // instead of racing into a reset.
      char sink[4096];
      for (int i = 0; i < 20 && ::recv(fd, sink, sizeof(sink), MSG_DONTWAIT) != 0; ++i) {
        ::poll(nullptr, 0, 10);
      }
    }
    SSL_free(ssl);
    ::close(fd);
  }

  // Copies bytes both ways until the backend closes (FakeKube answers Connection: close).
  void Relay(SSL* ssl, int fd, const std::string& inject_token) {
    int backend = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(backend_port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(backend, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(backend);
      return;
    }
    char buffer[16384];
    bool client_open = true;
    bool head_done = inject_token.empty();
    std::string head;
    while (!stopping_) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {backend, POLLIN, 0}};
      const bool pending = client_open && SSL_pending(ssl) > 0;
      if (!pending && ::poll(fds, 2, 200) < 0) break;
      if (client_open && (pending || (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)) {
        int n = SSL_read(ssl, buffer, sizeof(buffer));
        if (n > 0 && !head_done) {
          head.append(buffer, static_cast<size_t>(n));
          const size_t eol = head.find("\r\n");
          if (eol == std::string::npos) continue;
          head.insert(eol + 2, "Authorization: Bearer " + inject_token + "\r\n");
          head_done = true;
          if (::send(backend, head.data(), head.size(), MSG_NOSIGNAL) !=
              static_cast<ssize_t>(head.size())) {
            break;
          }
        } else if (n > 0) {
          if (::send(backend, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
        } else {
          client_open = false;
          ::shutdown(backend, SHUT_WR);
        }
      }
      if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        ssize_t n = ::recv(backend, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        if (SSL_write(ssl, buffer, static_cast<int>(n)) != n) break;
      }
    }
    ::close(backend);
  }

  int backend_port_;
  std::string certificate_user_token_;
  int port_ = 0;
  int listener_ = -1;
  SSL_CTX* ssl_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_{0};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::string last_subject_;
};

}  // namespace dbcanary::testing
