#include "exporter/cli/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "exporter/version.h"
#include "tests/unit/fake_probe.h"
#include "tests/unit/http_client.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

CliRun Cli(std::vector<std::string> args, const ProbeRegistry& registry = ProbeRegistry()) {
  std::ostringstream out;
  std::ostringstream err;
  int code = RunCli(args, CliContext{registry, out, err});
  return {code, out.str(), err.str()};
}

const char kGoodConfig[] =
    "exporter:\n  listen_address: \"127.0.0.1:0\"\n  log: { level: error }\n"
    "dragonfly:\n  - name: df\n    master: { host: 127.0.0.1 }\n"
    "    probes:\n      fake: { interval: 100ms, timeout: 100ms }\n";

TEST(CliTest, Version) {
  auto run = Cli({"--version"});
  EXPECT_EQ(run.code, kExitOk);
  EXPECT_THAT(run.out, StartsWith("dbcanary, version " + std::string(Version()) +
                                  " (revision: " + std::string(Revision()) + ")\n"));
  // The multi-line form of Prometheus exporters: version line, then indented fields.
  EXPECT_TRUE(std::regex_match(run.out,
                               std::regex(R"(dbcanary, version \d+\.\d+\.\d+ \(revision: \S+\)\n)"
                                          R"(  build date:       \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n)"
                                          R"(  compiler:         .+\n)"
                                          R"(  platform:         linux/[a-z0-9]+\n)")))
      << run.out;
  EXPECT_EQ(Cli({"version"}).out, run.out);
}

TEST(CliTest, ServeRejectsBadConventionFlagValuesAsUsageErrors) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--log.level", "loud"},
                                             {"--log.format", "xml"},
                                             {"--web.telemetry-path", "metrics"},
                                             {"--web.telemetry-path", "/-/healthy"},
                                             {"--web.telemetry-path", "/readyz"},
                                             {"--web.telemetry-path", "/x?y=1"}}) {
    args.insert(args.begin(), {"serve", "--config", "/nonexistent/dbcanary.yaml"});
    auto run = Cli(args, testing::FakeRegistry());
    EXPECT_EQ(run.code, kExitUsage) << ::testing::PrintToString(args);
    EXPECT_THAT(run.err, HasSubstr(args[3])) << run.err;
    EXPECT_THAT(run.err, HasSubstr(args[4])) << run.err;
  }
}

TEST(CliTest, HelpListsCommandsAndFlags) {
  for (const char* spelling : {"--help", "-h", "help"}) {
    auto run = Cli({spelling});
    EXPECT_EQ(run.code, kExitOk) << spelling;
    EXPECT_THAT(run.out, StartsWith("usage: dbcanary <command>"));
    EXPECT_THAT(run.out, HasSubstr("serve --config FILE [--web.listen-address HOST:PORT]"));
    EXPECT_THAT(run.out, HasSubstr("check-config FILE"));
    EXPECT_THAT(run.out, HasSubstr("--version"));
  }
  EXPECT_EQ(Cli({"check-config", "--help"}).code, kExitOk);
}

TEST(CliTest, UsageErrorsExitTwoWithUsageOnStderr) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"--frobnicate"},
                                             {"serve"},
                                             {"serve", "--config"},
                                             {"serve", "--config", "x", "--bogus", "1"},
                                             {"serve", "--config", "a", "--config", "b"},
                                             {"check-config"},
                                             {"check-config", "a", "b"}}) {
    auto run = Cli(args);
    EXPECT_EQ(run.code, kExitUsage) << ::testing::PrintToString(args);
    EXPECT_THAT(run.err, HasSubstr("usage: dbcanary")) << ::testing::PrintToString(args);
    EXPECT_TRUE(run.out.empty());
  }
  EXPECT_THAT(Cli({"frobnicate"}).err, StartsWith("dbcanary: unknown command frobnicate\n"));
}

TEST(CliTest, CheckConfigOk) {
  testing::TempDir dir;
  auto path = dir.Write("ok.yaml", kGoodConfig);
  auto run = Cli({"check-config", path}, testing::FakeRegistry());
  EXPECT_EQ(run.code, kExitOk) << run.err;
  EXPECT_EQ(run.out, path + ": OK (1 probes)\n");
}

TEST(CliTest, CheckConfigReportsConfigErrorsWithTheirLocation) {
  testing::TempDir dir;
  auto path = dir.Write("bad.yaml", "exporter:\n  workers: lots\n");
  auto run = Cli({"check-config", path}, testing::FakeRegistry());
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, StartsWith(path + ":2:"));
  EXPECT_THAT(run.err, HasSubstr("workers"));
  EXPECT_TRUE(run.out.empty());

  auto missing = Cli({"check-config", dir.path() + "/missing.yaml"}, testing::FakeRegistry());
  EXPECT_EQ(missing.code, kExitError);
  EXPECT_THAT(missing.err, HasSubstr("cannot open"));
}

TEST(CliTest, CheckConfigBuildsProbesSoTheirParamsAreValidated) {
  testing::TempDir dir;
  std::string text = kGoodConfig;
  text.replace(text.find("timeout: 100ms"), 14, "timeout: 100ms, colour: blue");
  auto path = dir.Write("params.yaml", text);
  auto run = Cli({"check-config", path}, testing::FakeRegistry());
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, HasSubstr("colour"));
  // A kind no factory knows is an error too.
  auto unknown_kind = Cli({"check-config", path}, ProbeRegistry());
  EXPECT_EQ(unknown_kind.code, kExitError);
  EXPECT_THAT(unknown_kind.err, HasSubstr("unknown probe kind"));
}

// deploy/dbcanary.example.yaml with its secrets pointed at temp files and the
// built-in kinds stood in for by permissive fakes (the real ones have their own tests).
TEST(CliTest, CheckConfigAcceptsTheExampleConfig) {
  testing::TempDir dir;
  std::ifstream in(std::string(DBCANARY_SOURCE_DIR) + "/deploy/dbcanary.example.yaml");
  ASSERT_TRUE(in);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  const std::string secrets = "/etc/dbcanary/secrets/";
  for (size_t at; (at = text.find(secrets)) != std::string::npos;)
    text.replace(at, secrets.size(), dir.path() + "/");
  for (const char* file :
       {"dbcanary-password", "gitlab-password", "dragonfly-password", "drill-password"}) {
    dir.Write(file, std::string("example-") + file + "\n");
  }
  ::setenv("GITLAB_DB_PASSWORD", "example-env-password", 1);
  auto path = dir.Write("example.yaml", text);
  ProbeRegistry registry;
  for (const char* kind : {"pg_replication", "pooler_roundtrip", "dragonfly_basics"}) {
    registry.Add(kind, [](const ProbeSettings&, const Config&) -> Result<std::unique_ptr<Probe>> {
      return std::unique_ptr<Probe>(
          std::make_unique<testing::FakeProbe>(std::make_shared<testing::FakeProbeState>()));
    });
  }
  auto run = Cli({"check-config", path}, registry);
  EXPECT_EQ(run.code, kExitOk) << run.err;
  EXPECT_EQ(run.out, path + ": OK (4 probes, 2 drills)\n");
}

TEST(CliTest, ServeExitsOneOnAConfigError) {
  testing::TempDir dir;
  auto path = dir.Write("bad.yaml", "nope: 1\n");
  auto run = Cli({"serve", "--config", path}, testing::FakeRegistry());
  EXPECT_EQ(run.code, kExitError);
  EXPECT_THAT(run.err, HasSubstr("nope"));
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Kills the child if the test fails before it exits.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  std::optional<int> WaitExit(std::chrono::milliseconds limit) {
    int status = 0;
    bool exited = testing::WaitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, limit);
    if (!exited) return std::nullopt;
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

// Runs `dbcanary serve` in a child process: signals are process-wide, so they
// cannot be sent to the test process itself.
void ForkServe(Child& child, const std::string& config_path, int port) {
  child.pid = ::fork();
  ASSERT_GE(child.pid, 0);
  if (child.pid == 0) {
    ProbeRegistry registry = testing::FakeRegistry();
    std::ostringstream out;
    std::ostringstream err;
    int code = RunCli({"serve", "--config", config_path, "--web.listen-address",
                       "127.0.0.1:" + std::to_string(port)},
                      CliContext{registry, out, err});
    std::_Exit(code);
  }
}

TEST(CliServeTest, ReloadsOnSighupAndStopsCleanlyOnSigterm) {
  testing::TempDir dir;
  auto path = dir.Write("serve.yaml", kGoodConfig);
  int port = FreePort();
  Child child;
  ForkServe(child, path, port);
  ASSERT_TRUE(testing::WaitFor([&] {
    auto ready = testing::HttpGet(port, "/readyz");
    return ready && ready->status == 200;
  }));

  ::kill(child.pid, SIGHUP);
  EXPECT_TRUE(testing::WaitFor([&] {
    auto metrics = testing::HttpGet(port, "/metrics");
    return metrics && metrics->body.find("dbcanary_config_reloads_total{result=\"success\"} 1\n") !=
                          std::string::npos;
  }));

  auto started = std::chrono::steady_clock::now();
  ::kill(child.pid, SIGTERM);
  auto code = child.WaitExit(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, kExitOk);
  // Promise: serve stops within its stop limit (1.5 s; the probe runs are quick here anyway),
  // plus room for a loaded host.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms + 2500ms);
  EXPECT_FALSE(testing::HttpGet(port, "/healthz").has_value());
}

// A probe stuck in a call that honours neither deadline nor stop_token must not hold
// the process: serve gives up on it after the stop limit (1.5 s) and exits anyway.
TEST(CliServeTest, SigtermExitsInBoundedTimeWithAStuckProbe) {
  testing::TempDir dir;
  std::string text = kGoodConfig;
  text.replace(text.find("timeout: 100ms"), 14, "timeout: 100ms, stuck: true, sleep: 1h");
  auto path = dir.Write("stuck.yaml", text);
  int port = FreePort();
  Child child;
  ForkServe(child, path, port);
  // Scraped once the first (stuck) run holds its worker: its later 100 ms slots are then skipped
  // (waited for, not assumed after a fixed sleep). A skip also counts a run that is only queued,
  // so several are waited for: by then the worker has long picked the run up.
  ASSERT_TRUE(testing::WaitFor([&] { return testing::HttpGet(port, "/healthz").has_value(); }));
  const std::string skipped = "dbcanary_probe_skipped_total{probe=\"fake\",target=\"df\"} ";
  std::optional<testing::HttpResponse> metrics;
  ASSERT_TRUE(testing::WaitFor([&] {
    metrics = testing::HttpGet(port, "/metrics");
    if (!metrics) return false;
    auto at = metrics->body.find(skipped);
    return at != std::string::npos && std::stod(metrics->body.substr(at + skipped.size())) >= 5;
  })) << (metrics ? metrics->body : "no /metrics");
  EXPECT_THAT(metrics->body,
              HasSubstr("dbcanary_probe_runs_total{probe=\"fake\",target=\"df\"} 0\n"));

  auto started = std::chrono::steady_clock::now();
  ::kill(child.pid, SIGTERM);
  auto code = child.WaitExit(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, kExitOk);
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_GE(elapsed, 1500ms - 5ms);  // it did wait for the run, up to the 1.5 s stop limit
  // ... and no longer (the run is stuck for an hour), plus room for a loaded host.
  EXPECT_LT(elapsed, 1500ms + 2500ms);
}

}  // namespace
}  // namespace dbcanary
