// Secrets (issue #10 part 4): every password and token the exporter holds, from the stack's
// secrets directory and the test's own, never appears (raw, base64, or as user:password
// base64) in its logs (text and JSON), /metrics, the status page, /api/checks, /reports,
// reload errors, `check-config` or `validate` output and reports -- including the connection
// failures libpq, PgBouncer, hiredis and HTTP servers produce (wrong password, wrong host,
// server down, a server that echoes the request with its Authorization header).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/faults.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The web endpoint's basic-auth user: password kWebPassword, bcrypt hash below (cost 10).
constexpr char kWebUser[] = "scraper";
constexpr char kWebPassword[] = "Tok3n-web-basic";
constexpr char kWebHash[] = "$2y$10$oqJIkZBjmOLEbnK3ZXrk2e4uTpKNgheJ0TUSdosVgzSwBkLk8MrkG";
constexpr char kVlUser[] = "vmuser";

std::string Base64(std::string_view in, bool url = false) {
  const char* table = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += table[(n >> shift) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    if (!url) out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    if (!url) out += "=";
  }
  return out;
}

std::string RandomToken(const std::string& prefix) {
  std::random_device device;
  std::mt19937_64 random(device());
  const char* alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string token = prefix;
  for (int i = 0; i < 24; ++i) token += alphabet[random() % 57];
  return token;
}

std::string ReadFirstLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text << "\n";
}

// Every form in which a secret could leak, with a label for the message.
struct Needle {
  std::string text;
  std::string what;  // never the secret itself
};

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    const auto& stack = Stack::Get();
    dir_ = fs::temp_directory_path() / ("dbcanary-secrets-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // The stack's passwords.
    for (const auto& entry : fs::directory_iterator(stack.Env("DBCANARY_STACK_SECRETS_DIR"))) {
      std::string value = ReadFirstLine(entry.path());
      ASSERT_GE(value.size(), 8u) << entry.path();
      AddSecret(value, entry.path().filename().string());
    }
    dbcanary_password_ =
        ReadFirstLine(stack.Env("DBCANARY_STACK_SECRETS_DIR") + "/dbcanary.password");
    // The test's own: a wrong password, a bearer token, a basic-auth password for an HTTP
    // endpoint, the web endpoint's own password and a wrong one sent to it.
    wrong_password_ = RandomToken("Wr0ngPass-");
    bearer_token_ = RandomToken("Bearer-t0k-");
    vl_password_ = RandomToken("VlPass-");
    web_wrong_ = RandomToken("WebWrong-");
    AddSecret(wrong_password_, "wrong password");
    AddSecret(bearer_token_, "bearer token");
    AddSecret(vl_password_, "victorialogs password");
    AddSecret(kWebPassword, "web password");
    AddSecret(web_wrong_, "wrong web password");
    AddPair(kVlUser, vl_password_, "victorialogs basic auth");
    AddPair(kWebUser, kWebPassword, "web basic auth");
    AddPair(kWebUser, web_wrong_, "wrong web basic auth");
    AddPair("dbcanary", dbcanary_password_, "dbcanary user:password");
    WriteFile(dir_ / "wrong.password", wrong_password_);
    WriteFile(dir_ / "bearer.token", bearer_token_);
    WriteFile(dir_ / "vl.password", vl_password_);
    WriteFile(dir_ / "web.yml", std::string("basic_auth_users:\n  ") + kWebUser + ": " + kWebHash);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  void AddSecret(const std::string& value, const std::string& what) {
    needles_.push_back({value, what});
    needles_.push_back({Base64(value), what + " (base64)"});
    needles_.push_back({Base64(value, true), what + " (base64url)"});
    if (value.size() >= 16)
      needles_.push_back({value.substr(0, 12), what + " (first 12 characters)"});
  }
  void AddPair(const std::string& user, const std::string& password, const std::string& what) {
    needles_.push_back({Base64(user + ":" + password), what + " (base64 user:password)"});
  }

  // Fails for every needle found in `text`; `where` names the text.
  void ExpectClean(const std::string& text, const std::string& where) {
    ++checked_;
    for (const auto& needle : needles_) {
      auto at = text.find(needle.text);
      EXPECT_EQ(at, std::string::npos)
          << needle.what << " appears in " << where
          << " near: " << (at == std::string::npos ? "" : text.substr(at > 40 ? at - 40 : 0, 40));
    }
  }

  std::string Config(const std::string& log_format, int echo_port) const {
    const auto& stack = Stack::Get();
    const std::string ca = stack.Env("DBCANARY_STACK_CA_CERT");
    const std::string secrets = stack.Env("DBCANARY_STACK_SECRETS_DIR");
    const std::string down = std::to_string(UnusedLoopbackPort());
    auto port = [&](const char* component) { return std::to_string(stack.Port(component)); };
    auto pg = [&](const std::string& name, const std::string& host, const std::string& p,
                  const std::string& password, const std::string& probes) {
      return "    - name: " + name + "\n      defaults: { dbname: postgres, user: dbcanary, " +
             password + ", sslmode: verify-full, sslrootcert: " + ca +
             ", connect_timeout: 1s }\n      primary: { name: " + name + "-1, host: " + host +
             ", port: " + p + " }\n      probes: " + probes + "\n";
    };
    const std::string good_file = "password_file: " + secrets + "/dbcanary.password";
    const std::string wrong_file = "password_file: " + (dir_ / "wrong.password").string();
    std::ostringstream out;
    out << "exporter:\n  workers: 4\n  default_interval: 1s\n  default_timeout: 1s\n"
        << "  log: { format: " << log_format << ", level: debug }\n"
        << "postgres:\n  clusters:\n"
        << pg("good-pg", "127.0.0.1", port("shared-postgres-1"),
              "password: \"${DBCANARY_TEST_PG_PASSWORD}\"",
              "{ pg_replication: {}, pg_tenants: { interval: 3s, timeout: 3s, tenants: [ "
              "{ database: gitlabhq_production, owner: gitlab, login: { user: gitlab, "
              "password_file: " +
                  secrets + "/gitlab.password } } ] } }")
        << pg("wrongpass-pg", "127.0.0.1", port("shared-postgres-1"), wrong_file,
              "{ pg_replication: {} }")
        << pg("wronghost-pg", "127.0.0.2", port("shared-postgres-1"), good_file,
              "{ pg_replication: {} }")
        << pg("down-pg", "127.0.0.1", down, good_file, "{ pg_replication: {} }") << "poolers:\n";
    auto pooler = [&](const std::string& name, const std::string& password_file, bool admin) {
      out << "  - name: " << name
          << "\n    connection: { host: 127.0.0.1, port: " << port("gitlab-pooler-rw")
          << ", dbname: gitlabhq_production, user: gitlab, password_file: " << password_file
          << ", sslmode: verify-full, sslrootcert: " << ca
          << ", connect_timeout: 1s }\n    probes:\n      pooler_roundtrip: {}\n";
      if (admin) {
        out << "      pooler_admin: { admin: { user: pgbouncer_admin, password_file: " << secrets
            << "/pgbouncer_admin.password } }\n";
      }
    };
    pooler("good-pooler", secrets + "/gitlab.password", true);
    pooler("wrongpass-pooler", (dir_ / "wrong.password").string(), false);
    out << "dragonfly:\n";
    auto redis = [&](const std::string& name, const std::string& p,
                     const std::string& password_file) {
      out << "  - name: " << name << "\n    master: { name: " << name
          << "-0, host: 127.0.0.1, port: " << p << ", password_file: " << password_file
          << ", connect_timeout: 1s }\n"
          << "    probes: { dragonfly_basics: {} }\n";
    };
    redis("good-redis", port("dragonfly-0"), secrets + "/dragonfly.password");
    redis("wrongpass-redis", port("dragonfly-0"), (dir_ / "wrong.password").string());
    redis("down-redis", down, secrets + "/dragonfly.password");
    const std::string echo = "http://127.0.0.1:" + std::to_string(echo_port);
    out << "monitoring:\n  - name: echo-monitoring\n"
        << "    prometheus: { url: \"" << echo
        << "\", bearer_token_file: " << (dir_ / "bearer.token").string() << " }\n"
        << "    victorialogs: { url: \"" << echo << "\", basic_auth: { username: " << kVlUser
        << ", password_file: " << (dir_ / "vl.password").string() << " } }\n"
        << "    probes:\n      monitoring_pipeline:\n"
        << "        queries: [ { name: up, promql: \"up\" } ]\n"
        << "        logs: [ { name: all, logsql: \"*\" } ]\n";
    return out.str();
  }

  // curl against the exporter with the web credentials (or `password`).
  std::string Fetch(const ExporterProcess& exporter, const std::string& path,
                    const std::string& password = kWebPassword, const std::string& method = "GET") {
    std::string output;
    // A POST is a reload here: with the header /-/reload needs (docs/web-security.md).
    std::string reload_header = method == "POST" ? " -H 'X-Dbcanary-Reload: 1'" : "";
    RunCommand("curl -s -S -m 5 -X " + method + reload_header + " -u " + kWebUser + ":" + password +
                   " 'http://127.0.0.1:" + std::to_string(exporter.port()) + path + "'",
               "", &output);
    return output;
  }

  fs::path dir_;
  std::vector<Needle> needles_;
  std::string dbcanary_password_, wrong_password_, bearer_token_, vl_password_, web_wrong_;
  int checked_ = 0;
};

double Sample(const std::string& body, const std::string& probe, const std::string& target,
              const std::string& reason) {
  return SampleValue(body, "dbcanary_probe_failures_total{probe=\"" + probe + "\",target=\"" +
                               target + "\",reason=\"" + reason + "\"}");
}

// A leak of any secret through a log line, a served page or an error message, in both log
// formats, while probes fail in every way that makes a client library or server talk about the
// connection (and the credentials) it was given.
TEST_F(SecretsTest, NoSecretInLogsPagesReportsOrCommandOutput) {
  EchoHttpServer echo(500);  // an error status: the probe quotes the body in its error
  ASSERT_GT(echo.port(), 0);
  for (const std::string format : {"text", "json"}) {
    SCOPED_TRACE("log format " + format);
    const fs::path config = dir_ / ("dbcanary-" + format + ".yaml");
    WriteFile(config, Config(format, echo.port()));
    const std::map<std::string, std::string> env = {
        {"DBCANARY_TEST_PG_PASSWORD", dbcanary_password_}};
    ExporterProcess exporter(
        {"serve", "--config", config.string(), "--web.config.file", (dir_ / "web.yml").string()},
        env);
    ASSERT_TRUE(exporter.WaitReady(seconds(30))) << exporter.Log();
    // Until a failed run of each kind and a successful run of each good target have been counted
    // (and the echo server has seen the monitoring probe twice): waited for, not assumed after
    // a fixed delay, since one run of a 1 s probe can trip over a busy machine.
    std::string metrics;
    for (auto until = std::chrono::steady_clock::now() + seconds(60);;) {
      metrics = Fetch(exporter, "/metrics");
      auto success = [&](const std::string& probe, const std::string& target) {
        return SampleValue(
            metrics, "dbcanary_probe_success{probe=\"" + probe + "\",target=\"" + target + "\"}");
      };
      const bool all =
          Sample(metrics, "pg_replication", "wrongpass-pg", "auth") >= 1 &&
          Sample(metrics, "pg_replication", "wronghost-pg", "connect") >= 1 &&
          Sample(metrics, "pg_replication", "down-pg", "connect") >= 1 &&
          Sample(metrics, "pooler_roundtrip", "wrongpass-pooler", "auth") >= 1 &&
          Sample(metrics, "dragonfly_basics", "wrongpass-redis", "auth") >= 1 &&
          Sample(metrics, "dragonfly_basics", "down-redis", "connect") >= 1 &&
          success("pg_tenants", "good-pg") == 1 && success("pooler_admin", "good-pooler") == 1 &&
          success("dragonfly_basics", "good-redis") == 1 &&
          success("monitoring_pipeline", "echo-monitoring") == 0 && echo.requests() >= 2;
      if (all || std::chrono::steady_clock::now() > until) break;
      std::this_thread::sleep_for(milliseconds(250));
    }
    // The failures really happened, with their bounded reasons (else the test proves nothing).
    EXPECT_GE(Sample(metrics, "pg_replication", "wrongpass-pg", "auth"), 1)
        << metrics.substr(0, 2000);
    EXPECT_GE(Sample(metrics, "pg_replication", "wronghost-pg", "connect"), 1);
    EXPECT_GE(Sample(metrics, "pg_replication", "down-pg", "connect"), 1);
    EXPECT_GE(Sample(metrics, "pooler_roundtrip", "wrongpass-pooler", "auth"), 1);
    EXPECT_GE(Sample(metrics, "dragonfly_basics", "wrongpass-redis", "auth"), 1);
    EXPECT_GE(Sample(metrics, "dragonfly_basics", "down-redis", "connect"), 1);
    EXPECT_EQ(
        SampleValue(metrics, "dbcanary_probe_success{probe=\"pg_tenants\",target=\"good-pg\"}"), 1);
    EXPECT_EQ(SampleValue(metrics,
                          "dbcanary_probe_success{probe=\"pooler_admin\",target=\"good-pooler\"}"),
              1);
    EXPECT_EQ(
        SampleValue(metrics,
                    "dbcanary_probe_success{probe=\"dragonfly_basics\",target=\"good-redis\"}"),
        1);
    EXPECT_EQ(
        SampleValue(
            metrics,
            "dbcanary_probe_success{probe=\"monitoring_pipeline\",target=\"echo-monitoring\"}"),
        0);
    EXPECT_GE(echo.requests(), 2) << "the monitoring probe never sent its credentials";
    ExpectClean(metrics, format + " /metrics");

    for (const char* path :
         {"/", "/api/checks", "/reports", "/reports?format=json", "/readyz", "/healthz"}) {
      std::string page = Fetch(exporter, path);
      EXPECT_FALSE(page.empty()) << path;
      ExpectClean(page, format + " " + path);
    }
    const std::string checks = Fetch(exporter, "/api/checks");
    EXPECT_NE(checks.find("wrongpass-pg"), std::string::npos) << "no error detail to check";
    // Wrong web credentials are refused, and neither set reaches the log.
    EXPECT_EQ(Fetch(exporter, "/metrics", web_wrong_).find("dbcanary_probe_success"),
              std::string::npos);

    // A reload with a literal password (refused) must not echo it.
    const fs::path bad = dir_ / "literal.yaml";
    std::string literal = Config(format, echo.port());
    const std::string from = "password: \"${DBCANARY_TEST_PG_PASSWORD}\"";
    literal.replace(literal.find(from), from.size(), "password: \"" + dbcanary_password_ + "\"");
    WriteFile(bad, literal);
    fs::copy_file(bad, config, fs::copy_options::overwrite_existing);
    std::string reload = Fetch(exporter, "/-/reload", kWebPassword, "POST");
    EXPECT_FALSE(reload.empty());
    ExpectClean(reload, format + " reload error");
    EXPECT_EQ(SampleValue(Fetch(exporter, "/metrics"), "dbcanary_config_last_reload_successful"),
              0);

    exporter.Stop(seconds(5));
    const std::string log = exporter.Log();
    EXPECT_NE(log.find("wrongpass-pg"), std::string::npos) << "the failures were not logged";
    if (format == "json") {
      EXPECT_EQ(log.rfind('{', 0), 0u) << "not JSON lines:\n" << log.substr(0, 500);
    }
    ExpectClean(log, format + " log");

    // The same config through the one-shot commands.
    std::string output;
    const std::string binary = DBCANARY_BINARY;
    RunCommand(binary + " check-config " + bad.string(), "", &output);
    EXPECT_FALSE(output.empty());
    ExpectClean(output, "check-config of a literal password");
    WriteFile(config, Config(format, echo.port()));
    RunCommand(binary + " check-config " + config.string(), "", &output);
    ExpectClean(output, "check-config");
    const fs::path report = dir_ / ("report-" + format);
    RunCommand("DBCANARY_TEST_PG_PASSWORD='" + dbcanary_password_ + "' timeout 120 " + binary +
                   " validate --config " + config.string() + " --report " + report.string() +
                   " --junit " + (dir_ / "junit.xml").string(),
               "", &output);
    EXPECT_NE(output.find("NO-GO"), std::string::npos) << output.substr(0, 3000);
    ExpectClean(output, "validate output");
    std::ifstream junit(dir_ / "junit.xml");
    std::stringstream junit_text;
    junit_text << junit.rdbuf();
    EXPECT_FALSE(junit_text.str().empty());
    ExpectClean(junit_text.str(), "validate junit");
    int files = 0;
    if (fs::exists(report)) {
      for (const auto& entry : fs::recursive_directory_iterator(report)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        ExpectClean(text.str(), "validate report " + entry.path().filename().string());
        ++files;
      }
    }
    EXPECT_GT(files, 0) << "validate wrote no report";
  }
  std::cout << "[ figures  ] " << needles_.size() << " secret forms checked in " << checked_
            << " texts" << std::endl;
}

}  // namespace
}  // namespace dbcanary::testing
