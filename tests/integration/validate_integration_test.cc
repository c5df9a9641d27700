// `dbcanary validate` against the real local stack: GO with every check listed, NO-GO
// naming the failing check with a standby down, exit codes, and the evidence files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/integration/harness/exporter_process.h"
#include "tests/integration/harness/monitoring.h"
#include "tests/integration/harness/report_plots.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string Quote(const std::string& text) { return "'" + text + "'"; }

struct CliRun {
  int exit_code = -1;
  std::string output;
};

CliRun Validate(const std::string& args) {
  CliRun run;
  run.exit_code = RunCommand(std::string(DBCANARY_BINARY) + " validate " + args, "", &run.output);
  return run;
}

// The stack's config with its three latency targets (heartbeat lag, replica visibility, pooler
// client wait: 1 s each) raised to the probes' 3 s timeout, i.e. "within the run". validate runs
// every probe once: whether replication or a pooler answers within 1 s on that one run is the
// host's business (a busy CI machine may not), while the verdict it must give is what is tested.
std::string WithHostIndependentTargets(const std::string& dir) {
  std::string text = ReadFile(Stack::Get().ConfigPath());
  for (const std::string key :
       {"max_lag_seconds", "max_replica_visibility_seconds", "max_wait_seconds"}) {
    const std::string from = key + ": 1 }";
    const std::string to = key + ": 3 }";
    size_t replaced = 0;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), to);
      ++replaced;
    }
    EXPECT_GT(replaced, 0u) << key << " not found in " << Stack::Get().ConfigPath();
  }
  const std::string path = dir + "/host-independent-targets.yaml";
  std::ofstream(path) << text;
  return path;
}

// `config_text` with its drills section replaced by the stack's two benchmarks, scheduled
// nightly as on the stack but with small parameters (seconds, not minutes), reports under
// `dir`/reports. Returns the new config's path.
std::string WithCheapScheduledBenchmarks(const std::string& config_text, const std::string& dir,
                                         const std::string& min_ops_per_second) {
  const std::string stack_text = ReadFile(Stack::Get().ConfigPath());
  const size_t admin_at = stack_text.find("admin: { user: dbcanary_drill");
  EXPECT_NE(admin_at, std::string::npos) << "the stack's pg_benchmark admin login";
  const std::string admin = stack_text.substr(admin_at, stack_text.find('\n', admin_at) - admin_at);
  const std::string path = dir + "/scheduled-benchmarks.yaml";
  std::ofstream(path)
      << WithoutDrillsSection(config_text) << "drills:\n  reports_dir: " << dir
      << "/reports\n  jobs:\n"
      << "    pg_benchmark:\n      enabled: true\n      schedule: \"30 2 * * *\"\n"
      << "      timeout: 2m\n      cluster: shared-postgres\n      pooler: gitlab-pooler-rw\n"
      << "      " << admin << "\n"
      << "      scale: 1\n      clients: 2\n      threads: 1\n      transactions: 20\n"
      << "      duration: 60s\n      expect: { min_tps: 0.001 }\n"
      << "    dragonfly_benchmark:\n      enabled: true\n      schedule: \"0 3 * * *\"\n"
      << "      timeout: 2m\n      dragonfly: dragonfly\n      connections: 2\n"
      << "      requests: 200\n      duration: 30s\n      keyspace: 100\n"
      << "      expect: { min_ops_per_second: " << min_ops_per_second << " }\n";
  return path;
}

// `dbcanary drill NAME`: a run as the schedule would make it, its report in reports_dir.
int RunDrillCli(const std::string& config, const std::string& drill, std::string* output) {
  return RunCommand(std::string(DBCANARY_BINARY) + " drill " + drill + " --config " + Quote(config),
                    "", output);
}

class ValidateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    char pattern[] = "/tmp/dbcanary-validate-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // The check rows of summary.json, keyed "check|target" -> state.
  static std::map<std::string, std::string> States(const nlohmann::json& summary) {
    std::map<std::string, std::string> states;
    for (const auto& group : summary["groups"]) {
      for (const auto& check : group["checks"]) {
        states[check["kind"].get<std::string>() + ":" + check["check"].get<std::string>() + "|" +
               check["target"].get<std::string>()] = check["state"];
      }
    }
    return states;
  }

  std::string dir_;
};

// Pins: a healthy stack must give GO (exit 0) with every configured probe's run and
// expectations listed, grouped, and the evidence and JUnit files well-formed.
TEST_F(ValidateTest, HealthyStackIsGoWithEveryCheckAndEvidence) {
  const auto& stack = Stack::Get();
  auto config = stack.LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  // The Monitoring group checks that this exporter's series reach victoria-metrics through the
  // stack's vmagent: one must be serving where vmagent scrapes.
  auto exporter = StartScrapedExporter(stack.ConfigPath());
  ASSERT_TRUE(exporter->WaitReady(std::chrono::seconds(60))) << exporter->Log();
  ASSERT_TRUE(WaitForQuery(
      "dbcanary_build_info{job=\"dbcanary\"}", [](double v) { return !std::isnan(v); },
      std::chrono::seconds(60)))
      << "vmagent did not deliver dbcanary's series to victoria-metrics within 60 s";
  std::string report = dir_ + "/report";
  std::string junit = dir_ + "/junit.xml";
  // Performance is verified by the scheduled benchmarks' last runs, read from their reports.
  const std::string scheduled =
      WithCheapScheduledBenchmarks(ReadFile(WithHostIndependentTargets(dir_)), dir_, "0.001");
  for (const char* drill : {"pg_benchmark", "dragonfly_benchmark"}) {
    std::string output;
    ASSERT_EQ(RunDrillCli(scheduled, drill, &output), 0) << output;
  }
  CliRun run = Validate("--config " + Quote(scheduled) + " --report " + Quote(report) +
                        " --junit " + Quote(junit));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("\nGO ("));
  for (const char* group :
       {"== Operator == SKIPPED: no Kubernetes API here", "== Cluster and replication == PASS",
        "== Tenants == PASS", "== Poolers == PASS", "== Backups == PASS", "== Dragonfly == PASS",
        "== Performance == PASS", "== Monitoring == PASS"}) {
    EXPECT_THAT(run.output, HasSubstr(group));
  }
  EXPECT_THAT(run.output, HasSubstr("drill pg_benchmark: last run pass at "));
  // The verdict line names what it did not verify.
  EXPECT_THAT(run.output, HasSubstr("; skipped: operator (no Kubernetes API here))"));
  // The HTML evidence page: plots, and a link to each benchmark's own page.
  const std::string html = ReadFile(report + "/summary.html");
  EXPECT_THAT(html, HasSubstr("Heartbeat lag per standby"));
  EXPECT_THAT(html, HasSubstr("Newest backup age"));
  EXPECT_THAT(html, HasSubstr("/reports/pg_benchmark/"));
  EXPECT_THAT(html, HasSubstr("-pass.html\">page</a>"));
  std::error_code ignored;  // kept for CI's screenshots (tests/screenshots.sh)
  fs::create_directories(ArtifactsDir(), ignored);
  fs::copy_file(report + "/summary.html", fs::path(ArtifactsDir()) / "validate-summary.html",
                fs::copy_options::overwrite_existing, ignored);
  // One progress line and one run row per configured probe.
  const auto probes = (*config)->AllProbes();
  for (const auto* probe : probes) {
    EXPECT_THAT(run.output, HasSubstr(probe->kind + "/" + probe->target + " ok")) << probe->kind;
    EXPECT_THAT(run.output, HasSubstr(probe->kind + " run")) << probe->kind;
  }

  auto summary = nlohmann::json::parse(ReadFile(report + "/summary.json"));
  EXPECT_EQ(summary["verdict"], "GO");
  EXPECT_EQ(summary["counts"]["fail"], 0);
  EXPECT_GT(summary["counts"]["total"].get<size_t>(), probes.size());  // runs + expectations
  auto states = States(summary);
  EXPECT_EQ(states["pg_replication:min_streaming_standbys|shared-postgres"], "pass");
  EXPECT_EQ(states["pooler_admin:pool_mode|keycloak-pooler-rw"], "pass");
  EXPECT_EQ(states["dragonfly_replication:min_connected_replicas|dragonfly"], "pass");
  EXPECT_EQ(states["pg_benchmark:pg_benchmark_min_tps|gitlab-pooler-rw"], "pass");
  size_t runs = 0;
  for (const auto& [key, state] : states) runs += key.find(":run|") != std::string::npos;
  EXPECT_EQ(runs, probes.size() + 2);  // and the two benchmarks' last runs
  for (const char* group : {"operator", "cluster", "tenants", "poolers", "backups", "dragonfly",
                            "performance", "monitoring"}) {
    std::string base = report + "/" + group;
    ASSERT_TRUE(fs::exists(base + ".md")) << base;
    auto json = nlohmann::json::parse(ReadFile(base + ".json"));
    EXPECT_EQ(json["id"], group);
  }
  EXPECT_THAT(ReadFile(report + "/summary.md"), HasSubstr("# dbcanary validate: GO"));
  std::string output;
  int xml = RunCommand(
      "python3 -c 'import xml.dom.minidom,sys; d=xml.dom.minidom.parse(sys.argv[1]); "
      "print(len(d.getElementsByTagName(\"testsuite\")), "
      "len(d.getElementsByTagName(\"testcase\")) - len(d.getElementsByTagName(\"skipped\")), "
      "len(d.getElementsByTagName(\"failure\")))' " +
          Quote(junit),
      "", &output);
  EXPECT_EQ(xml, 0) << output;
  EXPECT_EQ(output, "8 " + std::to_string(summary["counts"]["total"].get<size_t>()) + " 0\n");
}

// Pins: a stopped standby must turn the verdict to NO-GO (exit 1) and name the unmet
// replication target, not just a generic failure.
TEST_F(ValidateTest, StoppedStandbyIsNoGoNamingTheCheck) {
  const auto& stack = Stack::Get();
  StoppedComponents stopped;
  ASSERT_TRUE(stopped.Stop("shared-postgres-3"));
  std::string report = dir_ + "/report";
  CliRun run = Validate("--config " + Quote(stack.ConfigPath()) + " --report " + Quote(report));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("\nNO-GO ("));
  EXPECT_THAT(run.output, HasSubstr("min_streaming_standbys on shared-postgres"));
  EXPECT_THAT(run.output,
              ::testing::ContainsRegex("FAIL +min_streaming_standbys +shared-postgres +1 +>= 2"));
  auto summary = nlohmann::json::parse(ReadFile(report + "/summary.json"));
  EXPECT_EQ(summary["verdict"], "NO-GO");
  auto states = States(summary);
  EXPECT_EQ(states["pg_replication:min_streaming_standbys|shared-postgres"], "fail");
  EXPECT_EQ(states["pooler_admin:pool_mode|keycloak-pooler-rw"], "pass");  // the rest still runs
}

// Pins: backups older than the declared maximum age turn the Backups group red, naming the check;
// fresh ones bring it back.
TEST_F(ValidateTest, StaleBackupsAreNoGoInTheBackupsGroup) {
  const auto& stack = Stack::Get();
  const std::string manifests = "'" + stack.dir() + "'/backups/*/backup_manifest";
  std::string output;
  ASSERT_EQ(RunCommand("touch -d '2 days ago' " + manifests, "", &output), 0) << output;
  CliRun stale = Validate("--config " + Quote(stack.ConfigPath()) + " --skip monitoring");
  ASSERT_EQ(RunCommand("touch " + manifests, "", &output), 0) << output;
  EXPECT_EQ(stale.exit_code, 1) << stale.output;
  EXPECT_THAT(stale.output, HasSubstr("== Backups == FAIL"));
  EXPECT_THAT(stale.output,
              ::testing::ContainsRegex("FAIL +backup_max_age +shared-postgres +2\\.0 d"));
  EXPECT_THAT(stale.output, HasSubstr("backup_max_age on shared-postgres"));
  CliRun fresh = Validate("--config " + Quote(stack.ConfigPath()) + " --skip monitoring");
  EXPECT_THAT(fresh.output, HasSubstr("== Backups == PASS")) << fresh.output;
}

// Pins: a group named on the command line leaves the verdict and is named; an unknown one is a
// usage error.
TEST_F(ValidateTest, SkipOnTheCommandLineIsNamedInTheVerdict) {
  const auto& stack = Stack::Get();
  // The stack's scheduled benchmarks have not run here: Performance is skipped too, or it would
  // be NOT VERIFIED (PerformanceIsTheScheduledBenchmarksLastRuns).
  CliRun run =
      Validate("--config " + Quote(stack.ConfigPath()) + " --skip tenants --skip performance");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("== Tenants == SKIPPED: --skip on the command line"));
  EXPECT_THAT(run.output, HasSubstr("tenants (--skip on the command line)"));
  run = Validate("--config " + Quote(stack.ConfigPath()) + " --skip clusters");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("--skip: unknown group \"clusters\""));
}

// Pins: config and usage errors exit 2 with the error printed, before any probe runs.
TEST_F(ValidateTest, BadConfigAndUsageExitTwo) {
  std::string bad = dir_ + "/bad.yaml";
  std::ofstream(bad) << "exporter:\n  no_such_key: 1\n";
  CliRun run = Validate("--config " + Quote(bad));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("no_such_key"));
  EXPECT_THAT(run.output, ::testing::Not(HasSubstr("GO")));

  run = Validate("--config " + Quote(dir_ + "/missing.yaml"));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("missing.yaml"));

  run = Validate("");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("--config"));
}

// Pins: Performance passing (or silently skipped) while the scheduled benchmarks never ran, or
// ignoring a failed last run read back from its report.
TEST_F(ValidateTest, PerformanceIsTheScheduledBenchmarksLastRuns) {
  const std::string config = WithCheapScheduledBenchmarks(
      ReadFile(WithHostIndependentTargets(dir_)), dir_, "1000000000000");
  CliRun never = Validate("--config " + Quote(config) + " --skip monitoring");
  EXPECT_EQ(never.exit_code, 1) << never.output;
  EXPECT_THAT(never.output, HasSubstr("drill dragonfly_benchmark: scheduled, no completed run"));
  EXPECT_THAT(never.output, HasSubstr("== Performance == NOT VERIFIED"));

  std::string output;
  EXPECT_EQ(RunDrillCli(config, "dragonfly_benchmark", &output), 1) << output;  // min unmet
  CliRun failed = Validate("--config " + Quote(config) + " --skip monitoring");
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_THAT(failed.output, HasSubstr("drill dragonfly_benchmark: last run fail at "));
  EXPECT_THAT(failed.output, HasSubstr("== Performance == FAIL"));
  EXPECT_THAT(failed.output, HasSubstr("dragonfly_benchmark_min_set_ops_per_second"));
}

}  // namespace
}  // namespace dbcanary::testing

namespace dbcanary::testing {
namespace {

// The stack's config with its `drills:` section replaced by one cheap dragonfly_benchmark job.
std::string ConfigWithCheapDrill(const std::string& dir) {
  std::ifstream in(Stack::Get().ConfigPath());
  std::string path = dir + "/with-drill.yaml";
  std::ofstream out(path);
  std::stringstream text;
  text << in.rdbuf();
  out << WithoutDrillsSection(text.str());
  out << "drills:\n  reports_dir: " << dir << "/reports\n  jobs:\n"
      << "    dragonfly_benchmark:\n      timeout: 30s\n      dragonfly: dragonfly\n"
      << "      connections: 2\n      duration: 1s\n      keyspace: 100\n"
      // Met by one operation (a busy host does fewer, not none): the drill must pass anywhere.
      << "      expect: { min_ops_per_second: 0.001 }\n";
  return path;
}

// Pins: `--drill NAME` runs the drill after the probes and lists its run and expectations in
// the checklist and the evidence; an unknown drill is a usage error before anything runs.
TEST_F(ValidateTest, NamedDrillRunsAndJoinsTheChecklist) {
  std::string config = ConfigWithCheapDrill(dir_);
  std::string report = dir_ + "/report";
  CliRun run = Validate("--config " + Quote(config) + " --drill dragonfly_benchmark --report " +
                        Quote(report));
  EXPECT_THAT(run.output, HasSubstr("drill dragonfly_benchmark: pass")) << run.output;
  auto summary = nlohmann::json::parse(ReadFile(report + "/summary.json"));
  auto states = States(summary);
  size_t drill_rows = 0;
  for (const auto& [key, state] : states) {
    if (key.rfind("dragonfly_benchmark:", 0) == 0) {
      ++drill_rows;
      EXPECT_EQ(state, "pass") << key;
    }
  }
  EXPECT_GE(drill_rows, 3u) << "the drill's run row and its ops/s expectations";
  EXPECT_TRUE(fs::exists(dir_ + "/reports/dragonfly_benchmark"));

  CliRun unknown = Validate("--config " + Quote(config) + " --drill no_such_drill");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("no_such_drill"));
  EXPECT_THAT(unknown.output, ::testing::Not(HasSubstr("running")));
}

}  // namespace
}  // namespace dbcanary::testing
