// Pure parts of the restore and dragonfly_persistence drills: params validation, the
// verification verdict, the CNPG objects built, the command runner.

#include "drills/restore/restore_drill.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.h"
#include "drills/command.h"
#include "drills/drill.h"
#include "drills/persistence/dragonfly_persistence_drill.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using nlohmann::json;

class DrillParamsTest : public ::testing::Test {
 protected:
  // A config with one postgres cluster, one dragonfly, a kubernetes cluster and `job` as the
  // only drill (a YAML flow mapping: "restore: {...}").
  Result<std::unique_ptr<Drill>> Build(const std::string& job) {
    std::string pw = dir_.Write("pw", "secret");
    std::string kubeconfig = dir_.Write("kubeconfig", "current-context: t\n");
    auto config = ParseConfig(
        "postgres:\n  clusters:\n    - name: pg\n      defaults: { user: dbcanary, "
        "password_file: " +
            pw +
            ", sslmode: verify-full, sslrootcert: /ca.crt }\n"
            "      primary: { name: pg-1, host: 127.0.0.1, port: 5432 }\n"
            "dragonfly:\n  - name: df\n    master: { name: df-0, host: 127.0.0.1, port: 6379 }\n"
            "kubernetes:\n  kubeconfig: " +
            kubeconfig +
            "\n  clusters:\n    - name: pg-k8s\n      namespace: db\n      cnpg_cluster: pgmain\n"
            "drills:\n  reports_dir: " +
            dir_.path() + "\n  jobs:\n    " + job + "\n",
        "test.yaml");
    if (!config) return config.error();
    config_ = *config;
    DrillRegistry registry;
    RegisterBuiltinDrills(registry);
    return registry.Create(config_->drills->jobs.at(0), *config_);
  }

  testing::TempDir dir_;
  std::shared_ptr<const Config> config_;
};

constexpr char kCommandRestore[] =
    "restore: { cluster: pg, backup: { command: [backup.sh] }, restore: { command: [restore.sh, "
    "\"{label}\", \"55432\"], cleanup: [drop.sh, \"55432\"], connection: { host: 127.0.0.1, port: "
    "55432, sslmode: require } }, expect: { max_rto_seconds: 60, max_rpo_seconds: 30 } }";

TEST_F(DrillParamsTest, CommandRestoreBuilds) {
  auto drill = Build(kCommandRestore);
  ASSERT_TRUE(drill) << drill.error().message;
  std::vector<std::string> names;
  for (const auto& desc : (*drill)->Describe()) names.push_back(desc.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "dbcanary_drill_restore_backup_seconds", "dbcanary_drill_restore_restore_seconds",
                "dbcanary_drill_restore_rpo_seconds", "dbcanary_drill_restore_verified",
                "dbcanary_drill_restore_backup_bytes"}));
}

TEST_F(DrillParamsTest, RestoreParamsRead) {
  ASSERT_TRUE(Build(kCommandRestore));
  YamlMap params = *config_->drills->jobs.at(0).params;
  RestoreDrillParams p = ReadRestoreDrillParams(params, *config_);
  EXPECT_EQ(p.cluster, "pg");
  EXPECT_EQ(p.marker_dbname, "postgres");
  EXPECT_EQ(p.marker_schema, "dbcanary");
  EXPECT_EQ(p.marker_rows, 1000);
  EXPECT_EQ(p.restore_command.at(1), "{label}");
  ASSERT_TRUE(p.restore_connection);
  // inherited from the cluster's defaults, overridden where given
  EXPECT_EQ(p.restore_connection->user, "dbcanary");
  EXPECT_EQ(p.restore_connection->port, 55432);
  EXPECT_EQ(p.restore_connection->sslmode, "require");
  EXPECT_EQ(*p.max_rto_seconds, 60);
  EXPECT_EQ(*p.max_rpo_seconds, 30);
}

TEST_F(DrillParamsTest, RestoreParamsRejected) {
  struct Case {
    std::string job;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"restore: { cluster: nope, backup: { command: [b] }, restore: { command: [r], cleanup: [c], "
       "connection: { host: h } } }",
       "no postgres cluster named \"nope\""},
      {"restore: { cluster: pg, restore: { command: [r], cleanup: [c], connection: { host: h } } }",
       "backup"},
      {"restore: { cluster: pg, backup: { command: [b], kubernetes: { cluster: pg-k8s } }, "
       "restore: { command: [r], cleanup: [c], connection: { host: h } } }",
       "exactly one of command, kubernetes"},
      {"restore: { cluster: pg, backup: { command: [] }, restore: { command: [r], cleanup: [c], "
       "connection: { host: h } } }",
       "backup.command"},
      {"restore: { cluster: pg, backup: { command: [b] }, restore: { command: [r], connection: { "
       "host: h } } }",
       "cleanup"},
      {"restore: { cluster: pg, backup: { command: [b] }, restore: { command: [r], cleanup: [c] } "
       "}",
       "connection"},
      {"restore: { cluster: pg, backup: { command: [b] }, restore: { kubernetes: {} } }",
       "needs backup.kubernetes"},
      {"restore: { cluster: pg, backup: { kubernetes: { cluster: pg-k8s, method: tape } }, "
       "restore: { kubernetes: {} } }",
       "method"},
      {"restore: { cluster: pg, backup: { kubernetes: { cluster: pg-k8s, method: plugin } }, "
       "restore: { kubernetes: {} } }",
       "plugin"},
      {"restore: { cluster: pg, marker: { schema: \"x; drop\" }, backup: { command: [b] }, "
       "restore: { command: [r], cleanup: [c], connection: { host: h } } }",
       "marker.schema"},
      {"restore: { cluster: pg, backup: { command: [b] }, restore: { command: [r], cleanup: [c], "
       "connection: { host: h } }, expect: { max_rto: 5 } }",
       "max_rto"},
      {"restore: { cluster: pg, backup: { command: [b] }, restore: { command: [r], cleanup: [c], "
       "connection: { host: h } }, typo: 1 }",
       "typo"},
  };
  for (const auto& c : cases) {
    auto drill = Build(c.job);
    ASSERT_FALSE(drill) << c.job;
    EXPECT_EQ(drill.error().code, ErrorCode::kConfig);
    EXPECT_NE(drill.error().message.find(c.fragment), std::string::npos)
        << c.job << " -> " << drill.error().message;
  }
}

TEST_F(DrillParamsTest, KubernetesRestoreParamsRead) {
  auto drill = Build(
      "restore: { cluster: pg, backup: { kubernetes: { cluster: pg-k8s, method: plugin, plugin: "
      "barman-cloud.cloudnative-pg.io } }, restore: { kubernetes: { barman_object_name: store } } "
      "}");
  ASSERT_TRUE(drill) << drill.error().message;
}

TEST_F(DrillParamsTest, PersistenceParams) {
  auto drill = Build(
      "dragonfly_persistence: { dragonfly: df, keys: 50, restart: { command: [stack.sh, restart, "
      "dragonfly-0] }, expect: { max_recovery_seconds: 20 } }");
  ASSERT_TRUE(drill) << drill.error().message;
  YamlMap params = *config_->drills->jobs.at(0).params;
  auto p = ReadDragonflyPersistenceParams(params, *config_);
  EXPECT_EQ(p.keys, 50);
  EXPECT_EQ(p.restart_command.size(), 3u);
  EXPECT_TRUE(p.check_replicas);
  EXPECT_EQ(*p.max_recovery_seconds, 20);
  for (const std::string& job : {
           std::string("dragonfly_persistence: { dragonfly: nope, restart: { command: [x] } }"),
           std::string("dragonfly_persistence: { dragonfly: df }"),
           std::string("dragonfly_persistence: { dragonfly: df, restart: { command: [] } }"),
           std::string(
               "dragonfly_persistence: { dragonfly: df, keys: 0, restart: { command: [x] } }"),
           std::string(
               "dragonfly_persistence: { dragonfly: df, restart: { command: [x], pod: p } }"),
       }) {
    auto bad = Build(job);
    ASSERT_FALSE(bad) << job;
    EXPECT_EQ(bad.error().code, ErrorCode::kConfig) << job;
  }
}

TEST(RestoreVerdictTest, VerifiedWithTail) {
  RestoredMarker restored{true, true, 1000.0, 1010.0, "abc", "abc", 1000};
  auto verdict = JudgeRestore(restored, "abc", 1000, 1012.5);
  EXPECT_TRUE(verdict.verified) << verdict.detail;
  ASSERT_TRUE(verdict.rpo_seconds);
  EXPECT_DOUBLE_EQ(*verdict.rpo_seconds, 2.5);  // the tail row is the newest restored
}

TEST(RestoreVerdictTest, WithoutTailRpoCountsFromTheMarker) {
  RestoredMarker restored{true, true, 1000.0, std::nullopt, "abc", "abc", 1000};
  auto verdict = JudgeRestore(restored, "abc", 1000, 1012.5);
  EXPECT_TRUE(verdict.verified);
  EXPECT_DOUBLE_EQ(*verdict.rpo_seconds, 12.5);
}

TEST(RestoreVerdictTest, Failures) {
  EXPECT_FALSE(JudgeRestore(RestoredMarker{}, "abc", 1000, 1).verified);
  RestoredMarker no_marker{true, false, std::nullopt, std::nullopt, "", "", 0};
  auto verdict = JudgeRestore(no_marker, "abc", 1000, 1);
  EXPECT_FALSE(verdict.verified);
  EXPECT_FALSE(verdict.rpo_seconds);
  EXPECT_NE(verdict.detail.find("marker"), std::string::npos);
  RestoredMarker stale{true, true, 1000.0, std::nullopt, "old", "old", 1000};
  EXPECT_FALSE(JudgeRestore(stale, "abc", 1000, 1001).verified);
  RestoredMarker short_rows{true, true, 1000.0, std::nullopt, "abc", "xyz", 999};
  verdict = JudgeRestore(short_rows, "abc", 1000, 1001);
  EXPECT_FALSE(verdict.verified);
  EXPECT_NE(verdict.detail.find("999 rows"), std::string::npos);
  RestoredMarker damaged{true, true, 1000.0, std::nullopt, "abc", "xyz", 1000};
  EXPECT_FALSE(JudgeRestore(damaged, "abc", 1000, 1001).verified);
  // a clock step backwards never gives a negative RPO
  RestoredMarker future{true, true, 2000.0, std::nullopt, "abc", "abc", 1000};
  EXPECT_DOUBLE_EQ(*JudgeRestore(future, "abc", 1000, 1000).rpo_seconds, 0);
}

TEST(RestoreHelpersTest, BackupBytesAndLabel) {
  EXPECT_EQ(*ParseBackupBytes("label: x\nDBCANARY_BACKUP_BYTES=55439631\nSTART TIME: y\n"),
            55439631);
  EXPECT_FALSE(ParseBackupBytes("DBCANARY_BACKUP_BYTES=12x\n"));
  EXPECT_FALSE(ParseBackupBytes("no size"));
  EXPECT_EQ(SubstituteLabel({"r", "{label}", "--from={label}/x"}, "L1"),
            (std::vector<std::string>{"r", "L1", "--from=L1/x"}));
}

TEST(CnpgObjectsTest, Backup) {
  json backup = BuildCnpgBackup("db", "pgmain", "barmanObjectStore", "");
  EXPECT_EQ(backup["apiVersion"], "postgresql.cnpg.io/v1");
  EXPECT_EQ(backup["kind"], "Backup");
  EXPECT_EQ(backup["metadata"]["generateName"], "pgmain-dbcanary-");
  EXPECT_EQ(backup["metadata"]["namespace"], "db");
  EXPECT_EQ(backup["spec"]["cluster"]["name"], "pgmain");
  EXPECT_EQ(backup["spec"]["method"], "barmanObjectStore");
  EXPECT_FALSE(backup["spec"].contains("pluginConfiguration"));
  json plugin = BuildCnpgBackup("db", "pgmain", "plugin", "barman-cloud.cloudnative-pg.io");
  EXPECT_EQ(plugin["spec"]["pluginConfiguration"]["name"], "barman-cloud.cloudnative-pg.io");
}

TEST(CnpgObjectsTest, RecoveryClusterFromBackup) {
  json source = json::parse(R"({"apiVersion":"postgresql.cnpg.io/v1","kind":"Cluster",
    "metadata":{"name":"pgmain","namespace":"db"},
    "spec":{"instances":3,"imageName":"ghcr.io/cloudnative-pg/postgresql:16.4",
      "storage":{"size":"10Gi","storageClass":"fast"},
      "postgresql":{"parameters":{"max_connections":"300"},
                    "synchronous":{"method":"any","number":1}},
      "backup":{"barmanObjectStore":{"destinationPath":"s3://prod","serverName":"pgmain"}},
      "plugins":[{"name":"barman-cloud.cloudnative-pg.io","isWALArchiver":true}]}})");
  json cluster = BuildCnpgRecoveryCluster("db", "pgmain", "pgmain-dbcanary-x7k2p", "volumeSnapshot",
                                          "", "", 1, source);
  EXPECT_EQ(cluster["kind"], "Cluster");
  EXPECT_EQ(cluster["metadata"]["name"], "pgmain-dbcanary-restore");
  EXPECT_NE(cluster["metadata"]["name"], source["metadata"]["name"]);
  EXPECT_EQ(cluster["spec"]["instances"], 1);
  EXPECT_EQ(cluster["spec"]["imageName"], "ghcr.io/cloudnative-pg/postgresql:16.4");
  EXPECT_EQ(cluster["spec"]["storage"]["size"], "10Gi");
  EXPECT_EQ(cluster["spec"]["postgresql"]["parameters"]["max_connections"], "300");
  EXPECT_EQ(cluster["spec"]["bootstrap"]["recovery"]["backup"]["name"], "pgmain-dbcanary-x7k2p");
  // never archives: no backup section, no WAL archiver plugin, no synchronous replication
  EXPECT_FALSE(cluster["spec"].contains("backup"));
  EXPECT_FALSE(cluster["spec"].contains("plugins"));
  EXPECT_FALSE(cluster["spec"]["postgresql"].contains("synchronous"));
}

TEST(CnpgObjectsTest, RecoveryClusterThroughPlugin) {
  json cluster = BuildCnpgRecoveryCluster(
      "db", "pgmain", "b", "plugin", "barman-cloud.cloudnative-pg.io", "store", 1, json::object());
  EXPECT_EQ(cluster["spec"]["bootstrap"]["recovery"]["source"], "dbcanary-origin");
  EXPECT_FALSE(cluster["spec"]["bootstrap"]["recovery"].contains("backup"));
  const json& origin = cluster["spec"]["externalClusters"].at(0);
  EXPECT_EQ(origin["name"], "dbcanary-origin");
  EXPECT_EQ(origin["plugin"]["name"], "barman-cloud.cloudnative-pg.io");
  EXPECT_EQ(origin["plugin"]["parameters"]["barmanObjectName"], "store");
  EXPECT_EQ(origin["plugin"]["parameters"]["serverName"], "pgmain");
  EXPECT_FALSE(cluster["spec"].contains("plugins"));
}

TEST(DrillCommandTest, OutputExitAndEnv) {
  auto outcome =
      RunDrillCommand({"sh", "-c", "echo out; echo err >&2; echo $DBCANARY_X; exit 3"},
                      {{"DBCANARY_X", "from-env"}}, Deadline::In(std::chrono::seconds(10)));
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 3);
  EXPECT_EQ(outcome->output, "out\nerr\nfrom-env\n");
  auto missing = RunDrillCommand({"/nonexistent/cmd"}, {}, Deadline::In(std::chrono::seconds(10)));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->exit_code, 127);
  EXPECT_FALSE(RunDrillCommand({}, {}, Deadline::In(std::chrono::seconds(1))));
}

// Pins: arguments reach the program as they are; no shell expands them.
TEST(DrillCommandTest, ArgumentsAreNotInterpretedByAShell) {
  auto outcome =
      RunDrillCommand({"echo", "$HOME;", "`id`"}, {}, Deadline::In(std::chrono::seconds(10)));
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(outcome->output, "$HOME; `id`\n");
}

TEST(DrillCommandTest, DeadlineKillsTheProcessGroup) {
  auto start = std::chrono::steady_clock::now();
  auto outcome = RunDrillCommand({"sh", "-c", "echo started; sleep 30 & wait"}, {},
                                 Deadline::In(std::chrono::milliseconds(300)));
  double seconds = SecondsSince(start);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kTimeout);
  EXPECT_NE(outcome.error().message.find("started"), std::string::npos);
  // Ended at the 300 ms deadline by SIGTERM (1.7 s of room for a loaded host): ignoring the
  // deadline would wait out the 30 s sleep, and a group that needed the SIGKILL after the 2 s
  // grace would take at least 2.3 s.
  EXPECT_LT(seconds, 2.0);
}

// The daemon blocks SIGTERM/SIGINT/SIGHUP for its signal thread; a drill command must not
// inherit that mask: on timeout its TERM trap runs (here it writes a file) before any SIGKILL.
TEST(DrillCommandTest, CommandTrappingTermRunsItsTrapOnTimeout) {
  testing::TempDir dir;
  const std::string mark = dir.path() + "/trapped";
  sigset_t daemon_mask;
  sigemptyset(&daemon_mask);
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&daemon_mask, signal);
  sigset_t saved;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &daemon_mask, &saved), 0);
  auto outcome = RunDrillCommand(
      {"sh", "-c", "trap 'echo trapped > \"$0\"; exit 0' TERM; echo started; sleep 30 & wait",
       mark},
      {}, Deadline::In(std::chrono::milliseconds(500)));
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, ErrorCode::kTimeout);
  std::ifstream in(mark);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "trapped") << "the TERM trap did not run: the command was SIGKILLed";
}

// Dispositions are reset too: a signal the daemon ignores (SIGPIPE) is default in the child.
TEST(DrillCommandTest, CommandStartsWithAnEmptyMaskAndDefaultDispositions) {
  sigset_t daemon_mask;
  sigemptyset(&daemon_mask);
  sigaddset(&daemon_mask, SIGTERM);
  sigset_t saved;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &daemon_mask, &saved), 0);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGUSR2, &ignore, &previous), 0);
  auto outcome = RunDrillCommand({"sh", "-c", "grep -E '^Sig(Blk|Ign):' /proc/self/status"}, {},
                                 Deadline::In(std::chrono::seconds(10)));
  sigaction(SIGUSR2, &previous, nullptr);
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_NE(outcome->output.find("SigBlk:\t0000000000000000"), std::string::npos)
      << outcome->output;
  EXPECT_NE(outcome->output.find("SigIgn:\t0000000000000000"), std::string::npos)
      << outcome->output;
}

// Children get PATH, LANG, HOME and what the config names; nothing else of the daemon's
// environment (credentials given to the daemon, KUBECONFIG...).
TEST(DrillCommandTest, CommandGetsAMinimalEnvironment) {
  ASSERT_EQ(::setenv("DBCANARY_TEST_DAEMON_ONLY", "leaked-value", 1), 0);
  auto outcome = RunDrillCommand({"env"}, {{"DBCANARY_CONFIGURED", "named"}},
                                 Deadline::In(std::chrono::seconds(10)));
  ::unsetenv("DBCANARY_TEST_DAEMON_ONLY");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->output.find("leaked-value"), std::string::npos) << outcome->output;
  EXPECT_NE(outcome->output.find("DBCANARY_CONFIGURED=named\n"), std::string::npos);
  EXPECT_NE(outcome->output.find("PATH="), std::string::npos);
  for (size_t start = 0; start < outcome->output.size();) {
    size_t end = outcome->output.find('\n', start);
    std::string name = outcome->output.substr(start, outcome->output.find('=', start) - start);
    EXPECT_THAT(
        name, ::testing::AnyOf("PATH", "LANG", "HOME", "DBCANARY_CONFIGURED", "PWD", "SHLVL", "_"));
    start = end == std::string::npos ? outcome->output.size() : end + 1;
  }
}

// Cleanup UNLINKs what SCAN MATCH finds: a key prefix with glob specials must match only
// itself, not a tenant's keys ("*" would match every key ending in drill:persistence:...).
TEST(PersistenceHelpersTest, CleanupScanPatternEscapesTheKeyPrefix) {
  EXPECT_EQ(PersistenceScanPattern("dbcanary:"), "dbcanary:drill:persistence:*");
  EXPECT_EQ(PersistenceScanPattern("*"), "\\*drill:persistence:*");
  EXPECT_EQ(PersistenceScanPattern("app[1]?:"), "app\\[1\\]\\?:drill:persistence:*");
}

TEST(PersistenceHelpersTest, KeysAndVerification) {
  EXPECT_EQ(PersistenceKey("dbcanary:", 7), "dbcanary:drill:persistence:k:7");
  EXPECT_EQ(PersistenceHashKey("p:"), "p:drill:persistence:hash");
  EXPECT_EQ(PersistenceSetKey("p:"), "p:drill:persistence:set");
  std::vector<std::optional<std::string>> values = {PersistenceValue("t1", 10), std::nullopt,
                                                    PersistenceValue("t0", 12),
                                                    PersistenceValue("t1", 13)};
  EXPECT_EQ(CountVerified(values, "t1", 10), 2);  // nil and an older run's value do not count
  EXPECT_TRUE(RestartedSince("a", "b", 100, 1));
  EXPECT_FALSE(RestartedSince("a", "a", 0, 10));
  EXPECT_TRUE(RestartedSince("", "", 2, 3));  // no run_id (Dragonfly): by uptime
  EXPECT_FALSE(RestartedSince("", "", 30, 3));
  EXPECT_FALSE(RestartedSince("", "", std::nullopt, 3));
}

// SAVE refused while a save of the server's own runs is decided on typed facts, not wording.
TEST(PersistenceHelpersTest, SaveRetryOnTypedCause) {
  ErrorCause busy;
  busy.redis_error = "ERR";  // Dragonfly: "SAVING - can not save database"; Redis: "Background..."
  const Error refused = MakeError(ErrorCode::kQuery, "any wording", busy);
  EXPECT_TRUE(ShouldRetrySave(refused, true, false));  // a save runs: wait it out
  EXPECT_TRUE(ShouldRetrySave(refused, true, true));
  EXPECT_TRUE(ShouldRetrySave(refused, false, false));  // it may just have ended: once more
  EXPECT_FALSE(ShouldRetrySave(refused, false, true));
  EXPECT_TRUE(ShouldRetrySave(refused, std::nullopt, false));
  EXPECT_FALSE(ShouldRetrySave(refused, std::nullopt, true));
  // not an answer of the server (I/O failure): never retried
  EXPECT_FALSE(ShouldRetrySave(MakeError(ErrorCode::kConnect, "in progress"), true, false));
}

}  // namespace
}  // namespace dbcanary
