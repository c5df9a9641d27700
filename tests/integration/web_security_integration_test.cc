// --web.config.file on the real exporter: basic auth with bcrypt users in front of every
// endpoint but the kubelet's, checked with curl; TLS refused clearly where CivetWeb cannot
// serve it. No database is needed: the exporter runs with an empty config.
#include <crypt.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/harness/exporter_process.h"
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
           const std::string& user = "", std::string* headers = nullptr) {
  std::string output;
  std::string config = user.empty() ? "" : "user = \"" + user + "\"\n";
  RunCommand("curl -sS -K - -o /dev/null -D /dev/stderr -w '\\nSTATUS=%{http_code}' -X " + method +
                 " --max-time 10 http://127.0.0.1:" + std::to_string(port) + path,
             config, &output);
  if (headers != nullptr) *headers = output;
  auto at = output.rfind("STATUS=");
  return at == std::string::npos ? 0 : std::stoi(output.substr(at + 7));
}

// The exit status once the exporter ended by itself (within 10 s), else it is stopped.
int ExitStatus(ExporterProcess& exporter) {
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
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
  ASSERT_TRUE(exporter.WaitReady(seconds(20))) << exporter.Log();
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
  EXPECT_EQ(Status(port, "POST", "/-/reload", right), 200);

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

// Pins: with Debian 12's CivetWeb (built for the OpenSSL 1.1 API, crashing on the first
// TLS handshake under OpenSSL 3) tls_server_config is refused at start with a clear
// error and exit code 1, never accepted and then killed by SIGSEGV on a scrape.
TEST_F(WebSecurityTest, TlsRefusedClearlyWhereCivetWebCannotServeIt) {
  std::string cert = dir_.path() + "/tls.crt";
  std::string key = dir_.path() + "/tls.key";
  std::string output;
  ASSERT_EQ(RunCommand("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                       "-nodes -days 1 -subj /CN=localhost -keyout " +
                           key + " -out " + cert,
                       "", &output),
            0)
      << output;
  std::string web = dir_.Write(
      "web.yml", "tls_server_config:\n  cert_file: " + cert + "\n  key_file: " + key + "\n");
  ExporterProcess exporter({"serve", "--config", config_, "--web.config.file", web});
  int status = ExitStatus(exporter);
  std::string log = exporter.Log();
  ASSERT_THAT(log, HasSubstr("built for the OpenSSL 1.1 API"))
      << "this CivetWeb may serve TLS: then extend this test with the TLS checks of "
         "docs/web-security.md instead of the refusal";
  EXPECT_EQ(status, 1) << log;
  EXPECT_THAT(log, HasSubstr("web.yml: tls_server_config: this CivetWeb (1.15)"));
}

}  // namespace
}  // namespace dbcanary::testing
