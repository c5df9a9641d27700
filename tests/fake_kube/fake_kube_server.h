#pragma once

// A fake kube-apiserver for tests: CivetWeb on 127.0.0.1 (plain HTTP), serving canned JSON
// per path, checking the bearer token (401 otherwise), and able to answer 403/404/500, slowly,
// or with a truncated body. Header-only so both the unit and the integration binaries can use
// it without a build-file change (both already link CivetWeb through dbcanary_daemon).
// Fixtures live in tests/fake_kube/fixtures/*.json and are shaped like the real objects
// (cloudnative-pg api/v1 types, dragonfly-operator api/v1alpha1 types, apps/v1, apiextensions/v1).

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dbcanary::testing {

class FakeKube {
 public:
  struct Route {
    int status = 200;
    std::string body;
    std::chrono::milliseconds delay{0};  // sleep before answering
    bool truncate = false;               // send only the first half of the body (valid HTTP)
  };

  FakeKube() {
    const char* options[] = {"listening_ports",    "127.0.0.1:0", "num_threads", "8",
                             "request_timeout_ms", "10000",       nullptr};
    mg_callbacks callbacks{};
    context_ = mg_start(&callbacks, this, options);
    if (context_ == nullptr) throw std::runtime_error("FakeKube: mg_start failed");
    mg_set_request_handler(context_, "/", &FakeKube::Handle, this);
    mg_server_port ports[2]{};
    if (mg_get_server_ports(context_, 2, ports) < 1) throw std::runtime_error("FakeKube: no port");
    port_ = ports[0].port;
  }
  ~FakeKube() { Stop(); }
  FakeKube(const FakeKube&) = delete;
  FakeKube& operator=(const FakeKube&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void SetToken(std::string token) {
    std::lock_guard lock(mutex_);
    token_ = std::move(token);
  }
  // `path` alone answers every method; "POST /apis/..." or "DELETE /apis/..." answers only
  // that method and wins over the path alone.
  void Set(const std::string& path, Route route) {
    std::lock_guard lock(mutex_);
    routes_[path] = std::move(route);
  }
  void SetBody(const std::string& path, std::string body) {
    Set(path, Route{200, std::move(body)});
  }
  void SetFixture(const std::string& path, const std::string& fixture) {
    SetBody(path, Fixture(fixture));
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    routes_.clear();
    requests_.clear();
    bodies_.clear();
  }
  // "GET /apis/...?labelSelector=..." for every request received, in order.
  std::vector<std::string> Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  // The body of every request received (empty for GET), in the order of Requests().
  std::vector<std::string> RequestBodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

  // A Kubernetes Status object, the body of every error answer.
  static std::string StatusBody(int code, const std::string& reason, const std::string& message) {
    std::string escaped;
    for (char c : message) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
    return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
           "\"message\":\"" +
           escaped + "\",\"reason\":\"" + reason + "\",\"code\":" + std::to_string(code) + "}";
  }
  static Route Error(int code, const std::string& reason, const std::string& message) {
    return Route{code, StatusBody(code, reason, message)};
  }

  static std::string Fixture(const std::string& name) {
    std::ifstream in(std::string(DBCANARY_SOURCE_DIR) + "/tests/fake_kube/fixtures/" + name);
    if (!in) throw std::runtime_error("missing fixture " + name);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  void Stop() {
    if (context_ == nullptr) return;
    stopping_ = true;
    // CivetWeb 1.15 polls its listener every 2 s; a connection wakes it at once.
    std::atomic<bool> stopped{false};
    std::thread waker([&] {
      while (!stopped.load()) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(port_));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
        ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    mg_stop(context_);
    stopped = true;
    waker.join();
    context_ = nullptr;
  }

 private:
  static void Send(mg_connection* connection, int status, const std::string& body) {
    mg_printf(connection,
              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              status, mg_get_response_code_text(connection, status), body.size());
    mg_write(connection, body.data(), body.size());
  }

  static int Handle(mg_connection* connection, void* self_pointer) {
    auto* self = static_cast<FakeKube*>(self_pointer);
    const mg_request_info* request = mg_get_request_info(connection);
    std::string path = request->local_uri != nullptr ? request->local_uri : "";
    std::string line = std::string(request->request_method) + " " + path;
    if (request->query_string != nullptr) line += std::string("?") + request->query_string;
    const char* authorization = mg_get_header(connection, "Authorization");
    std::string body_in;
    char buffer[4096];
    for (int n; (n = mg_read(connection, buffer, sizeof(buffer))) > 0;) body_in.append(buffer, n);
    Route route;
    bool found = false;
    std::string token;
    {
      std::lock_guard lock(self->mutex_);
      self->requests_.push_back(line);
      self->bodies_.push_back(body_in);
      token = self->token_;
      auto it = self->routes_.find(std::string(request->request_method) + " " + path);
      if (it == self->routes_.end()) it = self->routes_.find(path);
      if (it != self->routes_.end()) {
        route = it->second;
        found = true;
      }
    }
    if (authorization == nullptr || std::string(authorization) != "Bearer " + token) {
      Send(connection, 401, StatusBody(401, "Unauthorized", "Unauthorized"));
      return 401;
    }
    if (!found) {
      Send(connection, 404,
           StatusBody(404, "NotFound", "the server could not find the requested resource"));
      return 404;
    }
    auto until = std::chrono::steady_clock::now() + route.delay;
    while (std::chrono::steady_clock::now() < until && !self->stopping_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::string body = route.truncate ? route.body.substr(0, route.body.size() / 2) : route.body;
    Send(connection, route.status, body);
    return route.status;
  }

  mg_context* context_ = nullptr;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::string token_ = "test-token";
  std::map<std::string, Route> routes_;
  std::vector<std::string> requests_;
  std::vector<std::string> bodies_;
};

}  // namespace dbcanary::testing
