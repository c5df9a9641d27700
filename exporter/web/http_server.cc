#include "exporter/web/http_server.h"

#include <CivetServer.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <exception>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "config/secret.h"
#include "drills/runtime/report.h"
#include "exporter/logging.h"
#include "exporter/metrics/render.h"
#include "exporter/web/status_pages.h"
#include "exporter/web/tls_front.h"
#include "exporter/web/web_config.h"

namespace dbcanary {
namespace {

constexpr std::string_view kPlainText = "text/plain; charset=utf-8";
constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kJson = "application/json";

struct Response {
  int status = 200;
  std::string_view content_type = kPlainText;
  std::string body;
  std::string_view allow;  // for 405
  bool challenge = false;  // 401: add WWW-Authenticate
  int retry_after = 0;     // 503: seconds for Retry-After
};

// CivetWeb reports bind errors through the log callback while CivetServer's
// constructor runs on this thread; this collects them for the returned error.
thread_local std::string* t_start_errors = nullptr;

int LogCivetMessage(const mg_connection* /*connection*/, const char* message) {
  if (t_start_errors != nullptr) {
    if (!t_start_errors->empty()) *t_start_errors += "; ";
    *t_start_errors += message;
  } else {
    MainLogger()->warn("http: {}", message);
  }
  return 1;
}

// CivetWeb adds a Date header itself when a response has none, through gmtime() and
// its one static buffer, which two workers then write at once (ThreadSanitizer sees
// it). Formatting it here with gmtime_r leaves CivetWeb nothing to add.
std::string HttpDate(std::time_t now) {
  std::tm utc{};
  gmtime_r(&now, &utc);
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[40];
  std::snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays.at(static_cast<size_t>(utc.tm_wday)), utc.tm_mday,
                kMonths.at(static_cast<size_t>(utc.tm_mon)), utc.tm_year + 1900, utc.tm_hour,
                utc.tm_min, utc.tm_sec);
  return text;
}

void Send(mg_connection* connection, const Response& response, bool head_only) {
  mg_response_header_start(connection, response.status);
  std::string date = HttpDate(std::time(nullptr));
  mg_response_header_add(connection, "Date", date.c_str(), -1);
  mg_response_header_add(connection, "Content-Type", response.content_type.data(),
                         static_cast<int>(response.content_type.size()));
  std::string length = std::to_string(response.body.size());
  mg_response_header_add(connection, "Content-Length", length.c_str(), -1);
  mg_response_header_add(connection, "Cache-Control", "no-store", -1);
  if (!response.allow.empty()) {
    mg_response_header_add(connection, "Allow", response.allow.data(),
                           static_cast<int>(response.allow.size()));
  }
  if (response.challenge) {
    mg_response_header_add(connection, "WWW-Authenticate", "Basic realm=\"dbcanary\"", -1);
  }
  if (response.retry_after > 0) {
    std::string seconds = std::to_string(response.retry_after);
    mg_response_header_add(connection, "Retry-After", seconds.c_str(), -1);
  }
  mg_response_header_send(connection);
  if (!head_only && !response.body.empty()) {
    mg_write(connection, response.body.data(), response.body.size());
  }
}

// The Prometheus paths, and the Kubernetes-style ones kept as aliases.
bool IsHealthPath(std::string_view path) { return path == "/-/healthy" || path == "/healthz"; }
bool IsReadyPath(std::string_view path) { return path == "/-/ready" || path == "/readyz"; }

// Opens and closes one connection to the listener, which wakes CivetWeb's accept loop.
void WakeListener(const std::string& host, int port) {
  std::string target = host;
  if (target == "0.0.0.0") target = "127.0.0.1";
  if (target == "[::]") target = "::1";
  if (target.size() > 2 && target.front() == '[') target = target.substr(1, target.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(target.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return;
  int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd >= 0) {
    timeval timeout{0, 100'000};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    (void)::connect(fd, found->ai_addr, found->ai_addrlen);
    ::close(fd);
  }
  freeaddrinfo(found);
}

// Pops the first line of `rest` (LF-terminated, a CR before it dropped).
std::string_view NextLine(std::string_view& rest) {
  size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view TrimBlanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

constexpr std::string_view kUnauthorized = "unauthorized\n";
constexpr std::string_view kTooManyChecks = "too many authentication attempts in progress\n";

// The 401 or 503 that Router sends (Handle, Busy), for the front to send itself.
std::string Refusal(AuthVerdict verdict, bool head_only) {
  bool busy = verdict == AuthVerdict::kBusy;
  std::string_view body = busy ? kTooManyChecks : kUnauthorized;
  return std::string(busy ? "HTTP/1.1 503 Service Unavailable" : "HTTP/1.1 401 Unauthorized") +
         "\r\nDate: " + HttpDate(std::time(nullptr)) +
         "\r\nContent-Type: " + std::string(kPlainText) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nCache-Control: no-store\r\n" +
         (busy ? "Retry-After: 1\r\n" : "WWW-Authenticate: Basic realm=\"dbcanary\"\r\n") +
         "Connection: close\r\n\r\n" + (head_only ? std::string() : std::string(body));
}

// The front's triage with basic_auth_users (tls_front.h, FrontTriage): a request with
// credentials already verified (a running Prometheus's) keeps normal priority; any other is
// served at nice 19, and answered by the front itself when the caches already tell: 401 for
// credentials in the failure cache, 503 when they would wait for bcrypt behind two others. Router
// still checks every request it gets; this only decides who waits.
FrontTriage TriageRequest(BasicAuthenticator& auth, std::string_view head) {
  std::string_view rest = head;
  std::string_view request_line = NextLine(rest);
  size_t space = request_line.find(' ');
  std::string_view method = request_line.substr(0, space);
  std::string_view target =
      space == std::string_view::npos ? std::string_view() : request_line.substr(space + 1);
  target = target.substr(0, target.find(' '));
  std::string_view path = target.substr(0, target.find('?'));
  bool read = method == "GET" || method == "HEAD";
  // The kubelet's probes, served without credentials (Router::Authorize).
  if (read && (IsHealthPath(path) || IsReadyPath(path))) return {};
  std::string_view authorization;
  int authorizations = 0;
  for (std::string_view line = NextLine(rest); !line.empty(); line = NextLine(rest)) {
    size_t colon = line.find(':');
    if (colon != std::string_view::npos &&
        EqualsIgnoringCase(line.substr(0, colon), "authorization")) {
      ++authorizations;
      authorization = TrimBlanks(line.substr(colon + 1));
    }
  }
  FrontTriage triage{.low_priority = true, .refusal = {}};
  // CivetWeb decodes and normalises the path, and might make /healthz of another spelling:
  // only a plain path with one Authorization header is judged here.
  bool plain = path.starts_with('/') && path.find('%') == std::string_view::npos &&
               path.find("/.") == std::string_view::npos &&
               path.find("//") == std::string_view::npos;
  if (authorizations != 1 || !plain) return triage;
  std::optional<AuthVerdict> remembered = auth.Remembered(authorization);
  if (remembered == AuthVerdict::kAllowed) return {};
  if (remembered) triage.refusal = Refusal(*remembered, method == "HEAD");
  return triage;
}

}  // namespace

class HttpServer::Router : public CivetHandler {
 public:
  Router(HttpBackend backend, std::unique_ptr<BasicAuthenticator> auth,
         std::shared_ptr<const RelayPorts> relays, std::string telemetry_path)
      : backend_(std::move(backend)),
        auth_(std::move(auth)),
        relays_(std::move(relays)),
        telemetry_path_(std::move(telemetry_path)) {}

  BasicAuthStats auth_stats() const { return auth_ ? auth_->stats() : BasicAuthStats{}; }

  bool handleGet(CivetServer*, mg_connection* c, int* status) override { return Handle(c, status); }
  bool handleHead(CivetServer*, mg_connection* c, int* status) override {
    return Handle(c, status);
  }
  bool handlePost(CivetServer*, mg_connection* c, int* status) override {
    return Handle(c, status);
  }
  bool handlePut(CivetServer*, mg_connection* c, int* status) override { return Handle(c, status); }
  bool handleDelete(CivetServer*, mg_connection* c, int* status) override {
    return Handle(c, status);
  }
  bool handleOptions(CivetServer*, mg_connection* c, int* status) override {
    return Handle(c, status);
  }
  bool handlePatch(CivetServer*, mg_connection* c, int* status) override {
    return Handle(c, status);
  }

 private:
  // Called from CivetWeb's C code: nothing may unwind out of here.
  bool Handle(mg_connection* connection, int* status) noexcept {
    const mg_request_info* request = mg_get_request_info(connection);
    std::string_view method = request->request_method ? request->request_method : "";
    std::string_view path = request->local_uri ? request->local_uri : "";
    std::string_view query = request->query_string ? request->query_string : "";
    bool head_only = method == "HEAD";
    try {
      bool from_front = FromTlsFront(*request);
      AuthVerdict verdict = from_front ? Authorize(connection, method, path) : AuthVerdict::kDenied;
      Response response = !from_front ? Response{403, kPlainText, "forbidden\n", {}}
                          : verdict == AuthVerdict::kAllowed
                              ? Route(connection, method, path, query)
                          : verdict == AuthVerdict::kBusy
                              ? Busy()
                              : Response{401, kPlainText, std::string(kUnauthorized), {}, true};
      *status = response.status;
      Send(connection, response, head_only);
    } catch (const std::exception& error) {
      *status = Fail(connection, head_only, error.what());
    } catch (...) {
      *status = Fail(connection, head_only, "unknown exception");
    }
    return true;
  }

  // If the exception came after the headers went out, the client sees a truncated
  // response; that cannot be helped and is rarer than an exception before them.
  static int Fail(mg_connection* connection, bool head_only, const char* what) noexcept {
    try {
      MainLogger()->error("http: handler failed: {}", what);
      Send(connection, Response{500, kPlainText, "internal error\n", {}}, head_only);
    } catch (...) {
    }
    return 500;
  }

  // CivetWeb listens on 127.0.0.1 behind the front (TLS or plain). Every process in the pod
  // (a sidecar, a debug shell) can reach that port too and would skip TLS and its client
  // certificate check. So a request is served only over a connection the front opened: the
  // front registers the local port of each of its sockets to CivetWeb for as long as it is
  // open, and a peer port on 127.0.0.1 cannot belong to two sockets at once. Anything else
  // gets 403, not 401: no credentials can make this port the right one.
  bool FromTlsFront(const mg_request_info& request) const {
    return request.remote_addr == std::string_view("127.0.0.1") &&
           relays_->Contains(request.remote_port);
  }

  // Without configured users everything is open. With them only the kubelet's GET/HEAD
  // of the health and readiness paths are: they say nothing secret and start no work.
  AuthVerdict Authorize(mg_connection* connection, std::string_view method, std::string_view path) {
    if (!auth_) return AuthVerdict::kAllowed;
    if ((method == "GET" || method == "HEAD") && (IsHealthPath(path) || IsReadyPath(path))) {
      return AuthVerdict::kAllowed;
    }
    const char* header = mg_get_header(connection, "Authorization");
    return header != nullptr ? auth_->VerifyHeader(header) : AuthVerdict::kDenied;
  }

  // More uncached credentials at once than bcrypt checks may run: come back in a second
  // (cached credentials, a running Prometheus's, never get here).
  static Response Busy() {
    Response response{503, kPlainText, std::string(kTooManyChecks), {}};
    response.retry_after = 1;
    return response;
  }

  Response Route(mg_connection* connection, std::string_view method, std::string_view path,
                 std::string_view query) {
    bool read = method == "GET" || method == "HEAD";
    if (path == telemetry_path_) {
      if (!read) return NotAllowed("GET, HEAD");
      return {200,
              kTextFormatContentType,
              Scrape(*backend_.store, *backend_.self, backend_.drills, &metrics_cache_),
              {}};
    }
    if (path == "/reports" || path.starts_with("/reports/")) {
      if (!read) return NotAllowed("GET, HEAD");
      return Reports(path, query);
    }
    if (IsHealthPath(path)) {
      if (!read) return NotAllowed("GET, HEAD");
      return {200, kPlainText, "ok\n", {}};
    }
    if (IsReadyPath(path)) {
      if (!read) return NotAllowed("GET, HEAD");
      Readiness readiness = CheckReadiness(backend_.store->Snapshot());
      return {readiness.ready ? 200 : 503, kPlainText, std::move(readiness.text), {}};
    }
    if (path == "/" || path == "/api/checks") {
      if (!read) return NotAllowed("GET, HEAD");
      auto now = std::chrono::system_clock::now();
      Checklist checks;
      checks.rows =
          StatusChecks(backend_.store->Snapshot(), CurrentDrillStatus(backend_.drills), now);
      if (backend_.skipped_groups) checks.skipped = backend_.skipped_groups();
      if (path == "/api/checks") return {200, kJson, ChecksJsonText(checks, now), {}};
      return {200, kHtml, StatusPage(checks, now, telemetry_path_), {}};
    }
    if (path == "/-/reload") {
      if (method != "POST") return NotAllowed("POST");
      // A cross-site request from a browser (a form, or a script without a CORS preflight
      // that this server never grants) cannot carry a custom header.
      const char* marker = mg_get_header(connection, kReloadHeader.data());
      if (marker == nullptr || *marker == '\0') {
        return {403,
                kPlainText,
                "forbidden: POST /-/reload needs the header " + std::string(kReloadHeader) +
                    ": 1 (docs/web-security.md)\n",
                {}};
      }
      return Reload();
    }
    return {404, kPlainText, "not found\n", {}};
  }

  Response Reload() {
    Status status = backend_.reload();
    if (status) return {200, kPlainText, "reloaded\n", {}};
    int code = status.error().code == ErrorCode::kConfig    ? 400
               : status.error().code == ErrorCode::kTimeout ? 503
                                                            : 500;
    return {code, kPlainText, RedactSecrets(status.error().message) + "\n", {}};
  }

  // Drill reports: only files under the configured reports directory (see report.h).
  Response Reports(std::string_view path, std::string_view query) {
    std::string dir = backend_.drills != nullptr ? backend_.drills->reports_dir() : "";
    if (dir.empty()) return {404, kPlainText, "no drills configured\n", {}};
    ReportResponse response = path == "/reports"
                                  ? ReportsIndex(dir, query == "format=json")
                                  : ReportFileResponse(dir, path.substr(sizeof("/reports/") - 1));
    // The content types are one of a fixed few; keep a view into static storage.
    std::string_view type = response.content_type == "application/json" ? "application/json"
                            : response.content_type.starts_with("text/markdown")
                                ? "text/markdown; charset=utf-8"
                            : response.content_type.starts_with("text/html") ? kHtml
                                                                             : kPlainText;
    return {response.status, type, std::move(response.body), {}};
  }

  static Response NotAllowed(std::string_view allow) {
    return {405, kPlainText, "method not allowed\n", allow};
  }

  HttpBackend backend_;
  std::unique_ptr<BasicAuthenticator> auth_;  // null: no basic_auth_users
  std::shared_ptr<const RelayPorts> relays_;  // the front's connections
  RenderCache metrics_cache_;   // /metrics: probe and drill families between publishes
  std::string telemetry_path_;  // where /metrics is served
};

Status CheckTelemetryPath(std::string_view path) {
  auto invalid = [&](std::string_view why) {
    return MakeError(ErrorCode::kConfig, "\"" + std::string(path) + "\": " + std::string(why));
  };
  if (!path.starts_with('/')) return invalid("must start with /");
  if (path.find_first_of("?#% \t\r\n") != std::string_view::npos || path.find("..") != path.npos) {
    return invalid("must be a plain path (no query, fragment, escape, blank or ..)");
  }
  if (path == "/" || path.starts_with("/-/") || IsHealthPath(path) || IsReadyPath(path) ||
      path == "/reports" || path.starts_with("/reports/") || path == "/api" ||
      path.starts_with("/api/")) {
    return invalid("the server serves this path already");
  }
  return Ok{};
}

Result<ListenAddress> ParseListenAddress(std::string_view address) {
  auto colon = address.rfind(':');
  auto invalid = [&](std::string_view why) {
    return MakeError(ErrorCode::kConfig, "listen address \"" + std::string(address) +
                                             "\": " + std::string(why) + " (want host:port)");
  };
  if (colon == std::string_view::npos) return invalid("no port");
  ListenAddress result;
  result.host = std::string(address.substr(0, colon));
  std::string_view port = address.substr(colon + 1);
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), result.port);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || result.port < 0 ||
      result.port > 65535) {
    return invalid("bad port");
  }
  if (result.host.find(':') != std::string::npos &&
      (result.host.front() != '[' || result.host.back() != ']')) {
    return invalid("an IPv6 host must be in brackets");
  }
  return result;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpBackend backend) {
  if (auto path = CheckTelemetryPath(options.telemetry_path); !path) {
    return MakeError(ErrorCode::kConfig, "telemetry path " + path.error().message);
  }
  auto address = ParseListenAddress(options.listen_address);
  if (!address) return address.error();
  // The front takes numeric addresses only.
  std::string host = address->host == "localhost" ? "127.0.0.1" : address->host;
  std::optional<WebConfig> web;
  if (!options.web_config_file.empty()) {
    auto loaded = LoadWebConfigFile(options.web_config_file);
    if (!loaded) return loaded.error();
    web = std::move(loaded).value();
  }
  const TlsServerConfig* tls = web && web->tls ? &*web->tls : nullptr;
  // The TlsFront (tls_front.h) takes the public address, with TLS or without, and CivetWeb
  // listens on an ephemeral loopback port behind it (Debian 12's CivetWeb cannot serve TLS,
  // and has neither a connection cap nor a way to keep slow clients off its workers).
  const std::pair<std::string, std::string> settings[] = {
      {"listening_ports", "127.0.0.1:0"},
      {"num_threads", std::to_string(std::max(options.threads, 1))},
      // The front sends whole request heads at once; a body or a response that stalls still
      // must not hold a worker thread for long.
      {"request_timeout_ms", "10000"},
  };
  std::vector<std::string> civet_options;
  for (const auto& [name, value] : settings) {
    civet_options.push_back(name);
    civet_options.push_back(value);
  }
  CivetCallbacks callbacks;
  callbacks.log_message = &LogCivetMessage;

  std::unique_ptr<HttpServer> server(new HttpServer());
  std::unique_ptr<BasicAuthenticator> auth;
  if (web && !web->basic_auth_users.empty()) {
    auth = std::make_unique<BasicAuthenticator>(web->basic_auth_users);
  }
  BasicAuthenticator* triage_auth = auth.get();  // owned by router_, which outlives front_
  auto relays = std::make_shared<RelayPorts>();
  SelfMetrics* self = backend.self;
  server->router_ =
      std::make_unique<Router>(std::move(backend), std::move(auth), relays, options.telemetry_path);
  std::string start_errors;
  t_start_errors = &start_errors;
  try {
    server->server_ = std::make_unique<CivetServer>(civet_options, &callbacks);
  } catch (const std::exception& error) {
    t_start_errors = nullptr;
    std::string why = start_errors.empty() ? std::string(error.what()) : start_errors;
    return MakeError(ErrorCode::kConfig, "cannot listen on " + options.listen_address + ": " + why);
  }
  t_start_errors = nullptr;
  server->server_->addHandler("/", server->router_.get());
  auto ports = server->server_->getListeningPorts();
  server->civet_host_ = "127.0.0.1";
  server->civet_port_ = ports.empty() ? 0 : ports.front();
  server->host_ = host.empty() ? "0.0.0.0" : host;
  server->tls_ = tls != nullptr;
  TlsFrontOptions front_options;
  front_options.host = host;
  front_options.port = address->port;
  front_options.backend_port = server->civet_port_;
  front_options.max_connections = options.max_connections;
  if (triage_auth != nullptr) {
    front_options.triage = [triage_auth](std::string_view head) {
      return TriageRequest(*triage_auth, head);
    };
  }
  auto front = tls != nullptr ? TlsFront::Start(*tls, front_options, relays, self)
                              : TlsFront::StartPlain(front_options, relays, self);
  if (!front) return front.error();  // names the file or the address
  server->front_ = std::move(front).value();
  server->port_ = server->front_->port();
  if (tls != nullptr && self != nullptr) self->EnableWebTls();
  // The inner port is in the log for operators and tests (docs/web-security.md).
  MainLogger()->info("listening on {}://{}:{}{}, relayed to 127.0.0.1:{}",
                     server->tls_ ? "https" : "http", server->host_, server->port_,
                     web && !web->basic_auth_users.empty()
                         ? fmt::format(" (basic auth, {} users)", web->basic_auth_users.size())
                         : std::string(),
                     server->civet_port_);
  return server;
}

HttpServer::~HttpServer() { Stop(); }

BasicAuthStats HttpServer::auth_stats() const {
  return router_ ? router_->auth_stats() : BasicAuthStats{};
}

size_t HttpServer::connections() const { return front_ ? front_->active() : 0; }

void HttpServer::Stop() {
  if (front_) front_->Stop();  // first: no new requests reach CivetWeb
  if (!server_ || server_->getContext() == nullptr) return;
  // CivetWeb 1.15 checks its stop flag only between 2-second poll()s of the listening
  // sockets, so close() alone takes up to 2 s; a connection wakes the poll at once.
  std::atomic<bool> closed{false};
  std::jthread waker([&] {
    while (!closed.load()) {
      WakeListener(civet_host_, civet_port_);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  server_->close();
  closed = true;
}

}  // namespace dbcanary
