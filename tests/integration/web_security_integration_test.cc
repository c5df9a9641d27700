// --web.config.file on the real exporter: basic auth with bcrypt users in front of every
// endpoint but the kubelet's, and TLS served by dbcanary's own OpenSSL front (server and
// client certificates, minimum version, the loopback leg closed to everyone else, handshake
// timeout), checked with curl against PKI made with the openssl CLI. No database is needed:
// the exporter runs with an empty config.
#include <arpa/inet.h>
#include <crypt.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/fake_kube/tls_terminator.h"  // TestPki
#include "tests/integration/harness/exporter_process.h"
#include "tests/unit/loopback.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "c0rrect-h0rse:battery";

std::string BcryptHash(const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2y$", 5, nullptr, 0, salt, sizeof(salt)), nullptr);
  crypt_data data{};
  const char* hash = crypt_rn(password.c_str(), salt, &data, sizeof(data));
  return hash != nullptr ? hash : "";
}

// The HTTP status curl got for METHOD PATH, with `user` (USER:PASSWORD) passed on stdin
// so it never shows in a process list; 0 when no answer came.
int Status(int port, const std::string& method, const std::string& path,
           const std::string& user = "", std::string* headers = nullptr,
           const std::string& header = "") {
  std::string output;
  std::string config = user.empty() ? "" : "user = \"" + user + "\"\n";
  if (!header.empty()) config += "header = \"" + header + "\"\n";
  RunCommand("curl -sS -K - -o /dev/null -D /dev/stderr -w '\\nSTATUS=%{http_code}' -X " + method +
                 " --max-time 10 http://127.0.0.1:" + std::to_string(port) + path,
             config, &output);
  if (headers != nullptr) *headers = output;
  auto at = output.rfind("STATUS=");
  return at == std::string::npos ? 0 : std::stoi(output.substr(at + 7));
}

// The exit status once the exporter ended by itself (waited for up to 30 s), else it is stopped.
int ExitStatus(ExporterProcess& exporter) {
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (exporter.Running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exporter.Stop(seconds(5));
}

class WebSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.Write("dbcanary.yaml", "exporter:\n  workers: 2\n");
    hash_ = BcryptHash(kPassword);
    ASSERT_FALSE(hash_.empty());
  }

  TempDir dir_;
  std::string config_;
  std::string hash_;
};

// Pins: with basic_auth_users every endpoint (reload included) answers 401 with a Basic
// challenge unless the right password comes, while the kubelet's GET /healthz and /readyz
// stay open; neither password nor hash reaches the log.
TEST_F(WebSecurityTest, BasicAuthGuardsEverythingButTheKubeletProbes) {
  std::string web = dir_.Write("web.yml", "basic_auth_users:\n  prometheus: '" + hash_ + "'\n");
  ExporterProcess exporter({"serve", "--config", config_, "--web.config.file", web});
  ASSERT_TRUE(exporter.WaitReady(seconds(60))) << exporter.Log();
  int port = exporter.port();
  std::string right = std::string("prometheus:") + kPassword;

  std::string headers;
  EXPECT_EQ(Status(port, "GET", "/metrics", "", &headers), 401);
  EXPECT_THAT(headers, HasSubstr("WWW-Authenticate: Basic realm=\"dbcanary\""));
  EXPECT_EQ(Status(port, "GET", "/metrics", "prometheus:wrong"), 401);
  EXPECT_EQ(Status(port, "GET", "/metrics", std::string("nobody:") + kPassword), 401);
  EXPECT_EQ(Status(port, "GET", "/metrics", right), 200);
  EXPECT_EQ(Status(port, "GET", "/metrics", right), 200);  // from the cache
  for (const char* path : {"/", "/api/checks", "/reports", "/no-such-page"}) {
    EXPECT_EQ(Status(port, "GET", path), 401) << path;
  }
  EXPECT_EQ(Status(port, "GET", "/api/checks", right), 200);

  EXPECT_EQ(Status(port, "GET", "/healthz"), 200);
  EXPECT_EQ(Status(port, "GET", "/readyz"), 200);
  EXPECT_EQ(Status(port, "POST", "/healthz"), 401);  // only reads are exempt

  EXPECT_EQ(Status(port, "POST", "/-/reload"), 401);
  EXPECT_EQ(Status(port, "POST", "/-/reload", "prometheus:wrong"), 401);
  // The right user without the reload header (what a browser form sends) reloads nothing.
  EXPECT_EQ(Status(port, "POST", "/-/reload", right), 403);
  EXPECT_EQ(Status(port, "POST", "/-/reload", right, nullptr, "X-Dbcanary-Reload: 1"), 200);

  std::string log = exporter.Log();
  EXPECT_THAT(log, HasSubstr("configuration reloaded"));  // exactly one reload ran
  EXPECT_THAT(log, HasSubstr("basic auth, 1 users"));
  EXPECT_THAT(log, Not(HasSubstr(kPassword)));
  EXPECT_THAT(log, Not(HasSubstr(hash_.substr(7))));
}

// Pins: a web config error stops the start with the file, line and key named (and no
// hash printed), instead of serving without the protection the operator asked for.
TEST_F(WebSecurityTest, BadWebConfigRefusesToStart) {
  std::string web = dir_.Write(
      "web.yml", "basic_auth_users:\n  prometheus: 'plain-" + std::string(kPassword) + "'\n");
  ExporterProcess exporter({"serve", "--config", config_, "--web.config.file", web});
  EXPECT_EQ(ExitStatus(exporter), 1);
  std::string log = exporter.Log();
  EXPECT_THAT(log, HasSubstr("web.yml:2:15: basic_auth_users.prometheus: not a bcrypt hash"));
  EXPECT_THAT(log, Not(HasSubstr(kPassword)));
}

// ---- TLS (tls_server_config): served by dbcanary's own TLS front (tls_front.h) ----

// The status curl got (0: no HTTP answer, e.g. a failed handshake) and the body.
struct CurlResult {
  int status = 0;
  std::string body;
  std::string output;  // everything curl printed, for failure messages
};

// curl OPTIONS URL; `user` (USER:PASSWORD) goes on stdin so it never shows in a process list.
CurlResult Curl(const std::string& options, const std::string& url, const std::string& user = "") {
  CurlResult result;
  std::string config = user.empty() ? "" : "user = \"" + user + "\"\n";
  RunCommand("curl -sS -K - --max-time 10 -w '\\nSTATUS=%{http_code}\\n' " + options + " " + url,
             config, &result.output);
  auto at = result.output.rfind("STATUS=");
  if (at == std::string::npos) return result;
  result.status = std::atoi(result.output.c_str() + at + 7);
  result.body = result.output.substr(0, at);
  return result;
}

class WebTlsTest : public WebSecurityTest {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new TempDir();
    pki_ = new TestPki(TestPki::Make(pki_dir_->path()));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete pki_dir_;
  }

  // Starts the exporter with `extra` web config lines after tls_server_config's cert and key;
  // waits for its https start line.
  std::unique_ptr<ExporterProcess> StartTls(const std::string& extra_tls,
                                            const std::string& extra_top = "") {
    std::string web = dir_.Write(
        "web.yml", "tls_server_config:\n  cert_file: " + pki_->server_cert +
                       "\n  key_file: " + pki_->server_key + "\n" + extra_tls + extra_top);
    auto exporter = std::make_unique<ExporterProcess>(
        std::vector<std::string>{"serve", "--config", config_, "--web.config.file", web});
    auto deadline = std::chrono::steady_clock::now() + seconds(60);  // ends at the line
    while (exporter->Running() && std::chrono::steady_clock::now() < deadline &&
           exporter->Log().find("listening on https://") == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exporter;
  }

  static std::string Url(const ExporterProcess& exporter, const std::string& path) {
    return "https://127.0.0.1:" + std::to_string(exporter.port()) + path;
  }

  // CivetWeb's loopback port behind the front, from the start line "relayed to 127.0.0.1:N".
  static int InnerPort(const ExporterProcess& exporter) {
    std::string log = exporter.Log();
    static constexpr std::string_view kMark = "relayed to 127.0.0.1:";
    auto at = log.find(kMark);
    return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + kMark.size());
  }

  std::string Trusting() const { return "--cacert " + pki_->ca_cert; }

  // GET `url` (curl `options`) until `done` holds for the page: a failed handshake is counted
  // by the front's connection thread, which may do so after the client has already given up,
  // so the counters are waited for rather than read once.
  static CurlResult CurlUntil(const std::string& options, const std::string& url,
                              const std::function<bool(const CurlResult&)>& done,
                              const std::string& user = "") {
    CurlResult result;
    for (auto until = std::chrono::steady_clock::now() + seconds(30);;) {
      result = Curl(options, url, user);
      if (done(result) || std::chrono::steady_clock::now() > until) return result;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  static TempDir* pki_dir_;
  static TestPki* pki_;
};

TempDir* WebTlsTest::pki_dir_ = nullptr;
TestPki* WebTlsTest::pki_ = nullptr;

// Seconds until the peer closed `fd` (recv returns 0 or an error), at most `limit`.
double SecondsUntilClosed(int fd, double limit) {
  auto start = std::chrono::steady_clock::now();
  pollfd entry{fd, POLLIN, 0};
  char byte = 0;
  while (::poll(&entry, 1, static_cast<int>(limit * 1000)) > 0 &&
         ::recv(fd, &byte, 1, MSG_DONTWAIT) > 0) {
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Pins: with tls_server_config the exporter serves /metrics over TLS (a client trusting the
// CA gets 200) instead of refusing to start or crashing in CivetWeb; a client trusting another
// CA and a plain-HTTP client fail without disturbing it; both failures are counted by reason;
// SIGTERM still stops it at once while a connection sits in its handshake.
TEST_F(WebTlsTest, ServesMetricsOverTlsAndCountsFailedHandshakes) {
  auto exporter = StartTls("");
  ASSERT_THAT(exporter->Log(), HasSubstr("listening on https://127.0.0.1:")) << exporter->Log();
  std::string url = Url(*exporter, "/metrics");

  CurlResult ok = Curl(Trusting(), url);
  ASSERT_EQ(ok.status, 200) << ok.output << exporter->Log();
  EXPECT_THAT(ok.body, HasSubstr("dbcanary_build_info{"));

  EXPECT_EQ(Curl("--cacert " + pki_->other_ca_cert, url).status, 0);
  CurlResult plain = Curl("", "http://127.0.0.1:" + std::to_string(exporter->port()) + "/metrics");
  EXPECT_EQ(plain.status, 0) << plain.output;
  EXPECT_EQ(Curl("--insecure", url).status, 200);  // still serving

  CurlResult after = CurlUntil(Trusting(), url, [](const CurlResult& page) {
    return page.status == 200 &&
           SampleValue(page.body,
                       "dbcanary_web_tls_handshake_failures_total{reason=\"protocol\"}") >= 1 &&
           SampleValue(page.body,
                       "dbcanary_web_tls_handshake_failures_total{reason=\"certificate\"}") >= 1;
  });
  ASSERT_EQ(after.status, 200) << after.output;
  EXPECT_EQ(
      SampleValue(after.body, "dbcanary_web_tls_handshake_failures_total{reason=\"protocol\"}"), 1);
  EXPECT_EQ(
      SampleValue(after.body, "dbcanary_web_tls_handshake_failures_total{reason=\"certificate\"}"),
      1);
  EXPECT_EQ(
      SampleValue(after.body, "dbcanary_web_tls_handshake_failures_total{reason=\"timeout\"}"), 0);
  EXPECT_EQ(SampleValue(after.body, "dbcanary_web_connections_rejected_total"), 0);

  int idle = testing::ConnectLoopback(exporter->port());
  ASSERT_GE(idle, 0);
  double taken = 0;
  EXPECT_EQ(exporter->Stop(seconds(15), &taken), 0) << exporter->Log();
  // Promise: SIGTERM stops within the 1.5 s stop limit, plus room for a loaded host; far below
  // the 10 s handshake timeout that would otherwise end the idle connection first.
  EXPECT_LT(taken, 1.5 + 2.5);
  ::close(idle);
}

// Pins: min_version TLS13 is enforced (a client limited to TLS 1.2 is refused, 1.3 works),
// which CivetWeb's own option could not express.
TEST_F(WebTlsTest, MinVersionTls13RefusesTls12) {
  auto exporter = StartTls("  min_version: TLS13\n");
  std::string url = Url(*exporter, "/healthz");
  EXPECT_EQ(Curl(Trusting() + " --tls-max 1.2", url).status, 0);
  EXPECT_EQ(Curl(Trusting() + " --tlsv1.3", url).status, 200) << exporter->Log();
  CurlResult metrics =
      CurlUntil(Trusting(), Url(*exporter, "/metrics"), [](const CurlResult& page) {
        return SampleValue(page.body,
                           "dbcanary_web_tls_handshake_failures_total{reason=\"protocol\"}") >= 1;
      });
  EXPECT_EQ(
      SampleValue(metrics.body, "dbcanary_web_tls_handshake_failures_total{reason=\"protocol\"}"),
      1);
}

// Pins: RequireAndVerifyClientCert lets in only clients with a certificate from
// client_ca_file: none, or one from another CA, is refused during the handshake.
TEST_F(WebTlsTest, RequireAndVerifyClientCertAdmitsOnlyTheRightClients) {
  auto exporter = StartTls(
      "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: " + pki_->ca_cert + "\n");
  std::string url = Url(*exporter, "/metrics");
  EXPECT_EQ(Curl(Trusting(), url).status, 0);
  EXPECT_EQ(
      Curl(Trusting() + " --cert " + pki_->stranger_cert + " --key " + pki_->stranger_key, url)
          .status,
      0);
  CurlResult right = CurlUntil(
      Trusting() + " --cert " + pki_->client_cert + " --key " + pki_->client_key, url,
      [](const CurlResult& page) {
        return page.status == 200 &&
               SampleValue(page.body,
                           "dbcanary_web_tls_handshake_failures_total{reason=\"certificate\"}") >=
                   2;
      });
  ASSERT_EQ(right.status, 200) << right.output << exporter->Log();
  EXPECT_EQ(
      SampleValue(right.body, "dbcanary_web_tls_handshake_failures_total{reason=\"certificate\"}"),
      2);
}

// Pins: basic auth works over TLS as over plain HTTP (reload guarded, kubelet paths open);
// CivetWeb's loopback port behind the front answers 403 to anyone but the front, even with
// valid credentials (no bypass of TLS and client certificates from inside the pod); a client
// that connects and sends nothing blocks nobody and is closed after the 10 s handshake
// timeout, counted as reason "timeout".
TEST_F(WebTlsTest, BasicAuthOverTlsNoLoopbackBypassAndIdleClientsTimeOut) {
  auto exporter = StartTls("", "basic_auth_users:\n  prometheus: '" + hash_ + "'\n");
  ASSERT_THAT(exporter->Log(), HasSubstr("basic auth, 1 users")) << exporter->Log();
  // Timed from before the connect: the front's handshake deadline starts after it.
  auto idle_since = std::chrono::steady_clock::now();
  int idle = testing::ConnectLoopback(exporter->port());
  ASSERT_GE(idle, 0);
  std::string right = std::string("prometheus:") + kPassword;

  CurlResult scrape = Curl(Trusting(), Url(*exporter, "/metrics"), right);
  EXPECT_EQ(scrape.status, 200) << scrape.output;
  // Not behind the idle one, which holds its connection for the 10 s handshake timeout: half of
  // that leaves a loaded host room.
  EXPECT_LT(std::chrono::steady_clock::now() - idle_since, seconds(5));
  EXPECT_EQ(Curl(Trusting(), Url(*exporter, "/metrics"), "prometheus:wrong").status, 401);
  EXPECT_EQ(Curl(Trusting(), Url(*exporter, "/metrics")).status, 401);
  EXPECT_EQ(Curl(Trusting(), Url(*exporter, "/healthz")).status, 200);
  EXPECT_EQ(Curl(Trusting() + " -X POST", Url(*exporter, "/-/reload")).status, 401);
  EXPECT_EQ(
      Curl(Trusting() + " -X POST -H 'X-Dbcanary-Reload: 1'", Url(*exporter, "/-/reload"), right)
          .status,
      200);

  int inner = InnerPort(*exporter);
  ASSERT_GT(inner, 0) << exporter->Log();
  EXPECT_NE(inner, exporter->port());
  EXPECT_EQ(HttpRequest(inner, "GET", "/healthz").status, 403);
  std::string inner_url = "http://127.0.0.1:" + std::to_string(inner) + "/metrics";
  EXPECT_EQ(Curl("", inner_url, right).status, 403);

  (void)SecondsUntilClosed(idle, 30);
  const double closed_after =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - idle_since).count();
  ::close(idle);
  // Closed at the 10 s handshake timeout: not before it, and not much after (room for a loaded
  // host; the 60 s idle timeout, or never, otherwise).
  EXPECT_GE(closed_after, 10.0 - 0.005);  // 5 ms for clock granularity
  EXPECT_LT(closed_after, 10.0 + 2.0);
  CurlResult metrics = CurlUntil(
      Trusting(), Url(*exporter, "/metrics"),
      [](const CurlResult& page) {
        return SampleValue(page.body,
                           "dbcanary_web_tls_handshake_failures_total{reason=\"timeout\"}") >= 1;
      },
      right);
  EXPECT_EQ(
      SampleValue(metrics.body, "dbcanary_web_tls_handshake_failures_total{reason=\"timeout\"}"),
      1);
  EXPECT_THAT(exporter->Log(), Not(HasSubstr(kPassword)));
}

}  // namespace
}  // namespace dbcanary::testing
