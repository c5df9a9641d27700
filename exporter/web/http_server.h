#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "drills/runtime/state_store.h"
#include "exporter/metrics/self_metrics.h"
#include "exporter/web/web_config.h"
#include "probes/runtime/result_store.h"

class CivetServer;

namespace dbcanary {

class TlsFront;

struct HttpServerOptions {
  std::string listen_address = "0.0.0.0:9750";  // host:port; port 0 picks a free port
  // CivetWeb worker threads. They only ever see whole requests (the front holds slow
  // clients), and at most two of them wait on bcrypt (BasicAuthenticator), so the others
  // are free for scrapes with cached credentials.
  int threads = 8;
  // Connections open at once on the listen address; more are closed at once (tls_front.h).
  size_t max_connections = 256;
  // --web.config.file: TLS and basic-auth users (web_config.h); empty: plain HTTP, no
  // auth. Read once here, at start (docs/web-security.md).
  std::string web_config_file{};
  // --web.telemetry-path: where /metrics is served instead (CheckTelemetryPath).
  std::string telemetry_path = "/metrics";
};

// What the endpoints serve. Handlers only read the store and counters; reload is
// the one handler that does real work (it loads a file and builds probes).
struct HttpBackend {
  const ResultStore* store = nullptr;
  SelfMetrics* self = nullptr;
  // POST /-/reload; the same as SIGHUP. Must not wait long: it runs on a CivetWeb worker
  // (kTimeout: answered 503, the reload goes on).
  std::function<Status()> reload;
  // Drill state for /metrics and the reports directory for /reports; null: no drills.
  const DrillStateStore* drills = nullptr;
  // The acceptance groups the running config skips (validate.skip), for / and /api/checks.
  std::function<std::vector<SkippedGroup>()> skipped_groups = {};
};

// The HTTP endpoints, on CivetWeb:
//   GET /metrics    Prometheus text format, from the store (never touches a target); at
//                   options.telemetry_path instead when that is set (then /metrics is 404)
//   GET /-/healthy  200 "ok" while the process serves; /healthz is the same
//   GET /-/ready    200 once every probe has a result, else 503 naming the missing ones;
//                   /readyz is the same
//   GET /           HTML landing page
//   POST /-/reload  reload the config: 200 "reloaded", 400 config error, 503 still running,
//                   500 other error. Needs the header `X-Dbcanary-Reload: 1` (else 403),
//                   which an HTML form cannot send and a cross-site script cannot send
//                   without a CORS preflight that is never granted (docs/web-security.md).
//   GET /reports    drill reports, newest first: HTML, or JSON with ?format=json
//   GET /reports/<drill>/<file>  one report (.json or .md) from the reports directory
// Other methods on these paths get 405, other paths 404. No exception reaches CivetWeb.
// With basic_auth_users in the web config, every request needs valid credentials (else
// 401 with WWW-Authenticate) except GET/HEAD of the health and readiness paths, the kubelet's
// probes;
// so POST /-/reload and anything else that changes state or starts work always does.
// A TlsFront takes the listen address (terminating TLS with tls_server_config, plain HTTP
// without) and relays whole requests to CivetWeb on an ephemeral 127.0.0.1 port, which
// answers 403 to any connection the front did not open (tls_front.h, docs/web-security.md).
class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpBackend backend);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  bool tls() const { return tls_; }
  const std::string& host() const { return host_; }
  // Stops listening and waits for requests in progress. Idempotent.
  void Stop();
  // bcrypt verifications run and cache hits so far (tests and the bench read them).
  BasicAuthStats auth_stats() const;
  // Connections the front has open now.
  size_t connections() const;

  class Router;  // the CivetHandler; defined in http_server.cc

 private:
  HttpServer() = default;

  std::unique_ptr<Router> router_;
  std::unique_ptr<CivetServer> server_;
  std::unique_ptr<TlsFront> front_;  // the public listener, relaying to CivetWeb
  std::string host_;                 // the public listener
  int port_ = 0;
  std::string civet_host_;  // CivetWeb's listener: the public one, or loopback behind front_
  int civet_port_ = 0;
  bool tls_ = false;
};

// The header POST /-/reload needs (any non-empty value): a browser form cannot send it.
inline constexpr std::string_view kReloadHeader = "X-Dbcanary-Reload";

// Splits "host:port" (host may be empty or a bracketed IPv6 address).
struct ListenAddress {
  std::string host;
  int port = 0;
};
Result<ListenAddress> ParseListenAddress(std::string_view address);

// A metrics path must start with '/', hold no query, fragment, space or "..", and not be a path
// the server serves otherwise (/, /-/..., /healthz, /readyz, /reports..., /api/...).
Status CheckTelemetryPath(std::string_view path);

}  // namespace dbcanary
