#pragma once

// A fake VictoriaLogs for tests (VictoriaLogs is not packaged in Debian 12): CivetWeb on
// 127.0.0.1, plain HTTP, serving /select/logsql/query as documented by VictoriaLogs' querying HTTP
// API: `query`, `limit` and `start` arrive as URL query args (GET) or an
// application/x-www-form-urlencoded body (POST); the answer is newline-delimited JSON, one object
// per log entry with the `_time` (RFC 3339, nanoseconds), `_msg` and `_stream` fields; a bad
// query is HTTP 400 with a plain-text reason. `limit=N` returns the N newest matching entries,
// `start` (RFC 3339 or Unix seconds) drops older ones.
// LogsQL itself is reduced to what the tests need: "*" matches every entry, `_stream:{...}`
// matches entries whose stream is exactly that text, any other word matches entries whose _msg
// contains it; a query containing "(" without ")" is a syntax error.
// Header-only (CivetWeb comes through dbcanary_daemon), like tests/fake_kube.

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "clients/kube/time.h"

namespace dbcanary::testing {

class FakeVictoriaLogs {
 public:
  struct Entry {
    double time = 0;  // Unix seconds
    std::string msg;
    std::string stream;  // e.g. {app="postgres",namespace="databases"}
  };
  // What a request asked for (decoded).
  struct Request {
    std::string method;
    std::string query;
    std::string limit;
    std::string start;
  };

  FakeVictoriaLogs() {
    const char* options[] = {"listening_ports",    "127.0.0.1:0", "num_threads", "4",
                             "request_timeout_ms", "10000",       nullptr};
    mg_callbacks callbacks{};
    context_ = mg_start(&callbacks, this, options);
    if (context_ == nullptr) throw std::runtime_error("FakeVictoriaLogs: mg_start failed");
    mg_set_request_handler(context_, "/", &FakeVictoriaLogs::Handle, this);
    mg_server_port ports[2]{};
    if (mg_get_server_ports(context_, 2, ports) < 1) {
      throw std::runtime_error("FakeVictoriaLogs: no port");
    }
    port_ = ports[0].port;
  }
  ~FakeVictoriaLogs() { Stop(); }
  FakeVictoriaLogs(const FakeVictoriaLogs&) = delete;
  FakeVictoriaLogs& operator=(const FakeVictoriaLogs&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Add(Entry entry) {
    std::lock_guard lock(mutex_);
    entries_.push_back(std::move(entry));
  }
  // Adds `count` entries on `stream`, the newest `age_seconds` old, one second apart.
  void AddAged(const std::string& stream, double age_seconds, int count) {
    double now = Now();
    for (int i = 0; i < count; ++i) {
      Add(Entry{now - age_seconds - i, "line " + std::to_string(i), stream});
    }
  }
  // Answers every query with this body (status 200) instead of the entries, e.g. garbage.
  void SetRawAnswer(std::optional<std::string> body) {
    std::lock_guard lock(mutex_);
    raw_answer_ = std::move(body);
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    entries_.clear();
    requests_.clear();
    raw_answer_.reset();
  }
  std::vector<Request> Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  static double Now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // VictoriaLogs' _time: RFC 3339 UTC with nanoseconds.
  static std::string FormatTime(double seconds) {
    auto whole = static_cast<std::time_t>(std::floor(seconds));
    auto nanos = static_cast<unsigned>(
        std::clamp(std::lround((seconds - static_cast<double>(whole)) * 1e9), 0L, 999999999L));
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char date[32];
    std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &utc);
    std::string fraction = std::to_string(nanos);
    return std::string(date) + "." + std::string(9 - fraction.size(), '0') + fraction + "Z";
  }

  void Stop() {
    if (context_ == nullptr) return;
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
  static void Send(mg_connection* connection, int status, const char* type,
                   const std::string& body) {
    mg_printf(connection,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              status, mg_get_response_code_text(connection, status), type, body.size());
    mg_write(connection, body.data(), body.size());
  }

  static std::string Var(const std::string& data, const char* name) {
    std::vector<char> buffer(data.size() + 1);
    int length = mg_get_var(data.data(), data.size(), name, buffer.data(), buffer.size());
    return length >= 0 ? std::string(buffer.data(), static_cast<size_t>(length)) : std::string();
  }

  static std::string Escape(const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }

  static bool Matches(const Entry& entry, const std::string& query) {
    if (query == "*") return true;
    if (query.rfind("_stream:", 0) == 0) return entry.stream == query.substr(8);
    return entry.msg.find(query) != std::string::npos;
  }

  static int Handle(mg_connection* connection, void* self_pointer) {
    auto* self = static_cast<FakeVictoriaLogs*>(self_pointer);
    const mg_request_info* request = mg_get_request_info(connection);
    const std::string path = request->local_uri != nullptr ? request->local_uri : "";
    const std::string method = request->request_method;
    if (path != "/select/logsql/query") {
      Send(connection, 404, "text/plain", "unsupported path: " + path + "\n");
      return 1;
    }
    std::string data = request->query_string != nullptr ? request->query_string : "";
    if (method == "POST") {
      char chunk[4096];
      int read = 0;
      data.clear();
      while ((read = mg_read(connection, chunk, sizeof(chunk))) > 0) {
        data.append(chunk, static_cast<size_t>(read));
      }
    } else if (method != "GET") {
      Send(connection, 405, "text/plain", "method not allowed\n");
      return 1;
    }
    Request seen{method, Var(data, "query"), Var(data, "limit"), Var(data, "start")};
    std::lock_guard lock(self->mutex_);
    self->requests_.push_back(seen);
    if (seen.query.empty()) {
      Send(connection, 400, "text/plain", "missing `query` arg\n");
      return 1;
    }
    if (seen.query.find('(') != std::string::npos && seen.query.find(')') == std::string::npos) {
      Send(connection, 400, "text/plain", "cannot parse query [" + seen.query + "]: missing ')'\n");
      return 1;
    }
    if (self->raw_answer_) {
      Send(connection, 200, "application/stream+json", *self->raw_answer_);
      return 1;
    }
    std::optional<double> start;
    if (!seen.start.empty()) {
      start = kube::ParseRfc3339(seen.start);
      if (!start) {
        try {
          start = std::stod(seen.start);
        } catch (const std::exception&) {
          Send(connection, 400, "text/plain", "cannot parse start=" + seen.start + "\n");
          return 1;
        }
      }
    }
    std::vector<Entry> matched;
    for (const auto& entry : self->entries_) {
      if (Matches(entry, seen.query) && (!start || entry.time >= *start)) matched.push_back(entry);
    }
    std::sort(matched.begin(), matched.end(),
              [](const Entry& a, const Entry& b) { return a.time > b.time; });
    if (!seen.limit.empty()) {
      size_t limit = static_cast<size_t>(std::stoul(seen.limit));
      if (matched.size() > limit) matched.resize(limit);
    }
    std::string body;
    for (const auto& entry : matched) {
      body += "{\"_msg\":\"" + Escape(entry.msg) + "\",\"_stream\":\"" + Escape(entry.stream) +
              "\",\"_time\":\"" + FormatTime(entry.time) + "\"}\n";
    }
    Send(connection, 200, "application/stream+json", body);
    return 1;
  }

  mg_context* context_ = nullptr;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::vector<Request> requests_;
  std::optional<std::string> raw_answer_;
};

}  // namespace dbcanary::testing
