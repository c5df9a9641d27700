// The restore drill on the local stack: a real pg_basebackup restored into a real temporary
// instance, and the CNPG methods against the fake Kubernetes API server (with the stack's
// primary standing in for the recovery Cluster's service).

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "config/config.h"
#include "drills/drill.h"
#include "drills/restore/restore_drill.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

namespace harness = ::dbcanary::testing;
using std::chrono::seconds;

const Sample* Find(const DrillResult& result, const std::string& name) {
  for (const auto& sample : result.samples) {
    if (sample.name == name) return &sample;
  }
  return nullptr;
}

const ExpectationResult* FindCheck(const DrillResult& result, const std::string& check) {
  for (const auto& expectation : result.expectations) {
    if (expectation.check == check) return &expectation;
  }
  return nullptr;
}

std::string Describe(const DrillResult& result) {
  std::string text = result.error ? "error: " + result.error->message + "\n" : "no error\n";
  for (const auto& phase : result.phases) {
    text += fmt::format("  phase {} {:.3f}s {} {}\n", phase.name, phase.duration_seconds,
                        phase.ok ? "ok" : "FAILED", phase.detail);
  }
  return text;
}

// Whether something accepts TCP connections on 127.0.0.1:port.
bool PortOpen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return open;
}

class RestoreDrillTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto& stack = harness::Stack::Get();
    if (!stack.available()) return;
    // The least privilege the drill needs beyond owning its schema (docs/drills/restore.md).
    auto granted = stack.AdminQuery(stack.Env("DBCANARY_STACK_PG_PRIMARY"),
                                    "GRANT EXECUTE ON FUNCTION pg_switch_wal() TO dbcanary");
    ASSERT_TRUE(granted) << granted.error().message;
  }

  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    const auto& stack = harness::Stack::Get();
    script_ = stack.Env("DBCANARY_STACK_SCRIPT");
    port_ = harness::UnusedLoopbackPort();
  }

  // The stack's config plus `extra` top-level sections, with `job` as the only drill.
  Result<std::unique_ptr<Drill>> Build(const std::string& job, const std::string& extra = "") {
    const auto& stack = harness::Stack::Get();
    std::ifstream in(stack.ConfigPath());
    std::stringstream text;
    text << in.rdbuf();
    auto config = ParseConfig(harness::WithoutDrillsSection(text.str()) + extra +
                                  "drills:\n  reports_dir: /tmp\n  jobs:\n    " + job + "\n",
                              stack.ConfigPath());
    if (!config) return config.error();
    config_ = *config;
    DrillRegistry registry;
    RegisterBuiltinDrills(registry);
    return registry.Create(config_->drills->jobs.at(0), *config_);
  }

  std::string Command(const std::vector<std::string>& args) const {
    std::string list =
        "[env, \"DBCANARY_STACK_DIR=" + harness::Stack::Get().dir() + "\", \"" + script_ + "\"";
    for (const auto& arg : args) list += ", \"" + arg + "\"";
    return list + "]";
  }

  std::string CommandJob() const {
    return fmt::format(
        "restore: {{ cluster: shared-postgres, backup: {{ command: {} }}, restore: {{ command: {}, "
        "cleanup: {}, connection: {{ host: localhost, port: {} }} }}, expect: {{ max_rto_seconds: "
        "120, max_rpo_seconds: 60 }} }}",
        Command({"backup"}), Command({"restore-scratch", "{label}", std::to_string(port_)}),
        Command({"drop-scratch", std::to_string(port_)}), port_);
  }

  DrillContext Context(seconds budget) {
    return DrillContext{Deadline::In(budget), {}, harness::TestLogger(), [](std::string_view line) {
                          fprintf(stderr, "[drill] %.*s\n", static_cast<int>(line.size()),
                                  line.data());
                        }};
  }

  // The port of a standby whose postmaster started after the primary's (0: none).
  static int LaterStartedStandbyPort() {
    const auto& stack = harness::Stack::Get();
    const std::string primary = stack.Env("DBCANARY_STACK_PG_PRIMARY");
    const char* sql = "SELECT extract(epoch FROM pg_postmaster_start_time())::float8 AS s";
    auto started = [&](const std::string& instance) -> double {
      auto rows = stack.AdminQuery(instance, sql);
      if (!rows || rows->empty()) return 0;
      auto value = rows->Number(0, "s");
      return value && value.value() ? **value : 0;
    };
    const double primary_started = started(primary);
    for (const char* instance : {"shared-postgres-1", "shared-postgres-2", "shared-postgres-3"}) {
      if (instance != primary && started(instance) > primary_started) {
        return stack.Port(instance);
      }
    }
    return 0;
  }

  std::string ScratchDir() const {
    return harness::Stack::Get().dir() + "/scratch/" + std::to_string(port_);
  }

  std::string script_;
  int port_ = 0;
  std::shared_ptr<const Config> config_;
};

// A backup that does not restore, or restores without the data written before it, must fail
// the drill; the scratch instance must never outlive the run.
TEST_F(RestoreDrillTest, RealBaseBackupRestoresIntoAScratchInstanceAndIsVerified) {
  auto drill = Build(CommandJob());
  ASSERT_TRUE(drill) << drill.error().message;
  auto ctx = Context(seconds(180));
  ASSERT_TRUE((*drill)->CleanUp(ctx));
  auto ready = (*drill)->CheckPreconditions(ctx);
  ASSERT_TRUE(ready) << ready.error().message;
  auto start = std::chrono::steady_clock::now();
  DrillResult result = (*drill)->Run(ctx);
  double seconds_taken = SecondsSince(start);
  ASSERT_FALSE(result.error) << Describe(result);
  EXPECT_TRUE(result.Passed()) << Describe(result);

  const Sample* verified = Find(result, "dbcanary_drill_restore_verified");
  ASSERT_NE(verified, nullptr);
  EXPECT_EQ(verified->value, 1);
  EXPECT_EQ(verified->labels, (Labels{{"target", "shared-postgres"}}));
  const auto* check = FindCheck(result, "restore_verified");
  ASSERT_NE(check, nullptr);
  EXPECT_TRUE(check->pass);
  const Sample* backup = Find(result, "dbcanary_drill_restore_backup_seconds");
  const Sample* rto = Find(result, "dbcanary_drill_restore_restore_seconds");
  const Sample* rpo = Find(result, "dbcanary_drill_restore_rpo_seconds");
  const Sample* bytes = Find(result, "dbcanary_drill_restore_backup_bytes");
  ASSERT_TRUE(backup && rto && rpo && bytes) << Describe(result);
  // No figure is compared with a constant (an idle host restores in well under a second, a busy
  // one takes many): each is checked against the wall time the run really took.
  // The backup and the restore really happened, inside the run, one after the other.
  EXPECT_GT(backup->value, 0);
  EXPECT_GT(rto->value, 0);
  EXPECT_LT(backup->value + rto->value, seconds_taken);
  EXPECT_GE(rpo->value, 0);
  // The tail row written after the backup came back through the WAL archive: the data age at
  // the restore point is at most the time from writing the tail row to the restore point (the
  // switch_wal phase), where data from the backup alone would be older than the backup itself.
  const DrillPhase* switch_wal = nullptr;
  for (const auto& phase : result.phases) {
    if (phase.name == "switch_wal") switch_wal = &phase;
  }
  ASSERT_NE(switch_wal, nullptr) << Describe(result);
  // (The RPO is read on the primary's wall clock, the phase on the steady clock: 0.1 % and
  // 10 ms cover their rates and roundings.)
  EXPECT_LE(rpo->value, switch_wal->duration_seconds * 1.001 + 0.01) << Describe(result);
  EXPECT_GT(bytes->value, 1e6);
  ASSERT_NE(FindCheck(result, "max_rto_seconds"), nullptr);
  ASSERT_NE(FindCheck(result, "max_rpo_seconds"), nullptr);
  bool saw_tail = false, saw_name = false;
  for (const auto& evidence : result.evidence) {
    if (evidence.title == "verification query on the scratch target") {
      saw_tail = evidence.text.find("tail") != std::string::npos;
    }
    if (evidence.title == "restore command output") {
      saw_name = evidence.text.find("cluster_name=dbcanary-scratch-" + std::to_string(port_)) !=
                 std::string::npos;
    }
  }
  EXPECT_TRUE(saw_tail) << "the tail row was not restored";
  EXPECT_TRUE(saw_name) << "the scratch instance must carry a distinct cluster_name";
  fprintf(stderr, "restore drill: backup %.3f s, RTO %.3f s, RPO %.3f s, %.0f bytes, run %.3f s\n",
          backup->value, rto->value, rpo->value, bytes->value, seconds_taken);
  // the scratch instance is gone: port closed, data directory deleted
  EXPECT_FALSE(PortOpen(port_));
  EXPECT_FALSE(std::filesystem::exists(ScratchDir()));
}

// A run killed midway leaves a scratch instance running: the next run's CleanUp removes it.
TEST_F(RestoreDrillTest, CleanUpRemovesTheScratchOfAnInterruptedRun) {
  const auto& stack = harness::Stack::Get();
  std::string output;
  const std::string label = "interrupted-run-" + std::to_string(::getpid());
  ASSERT_TRUE(stack.Script({"backup", label}, &output)) << output;
  struct DropGuard {  // the test's own safety net, pass or fail
    const harness::Stack& stack;
    int port;
    ~DropGuard() { (void)stack.Script({"drop-scratch", std::to_string(port)}); }
  } guard{stack, port_};
  ASSERT_TRUE(stack.Script({"restore-scratch", label, std::to_string(port_)}, &output)) << output;
  ASSERT_TRUE(PortOpen(port_));
  ASSERT_TRUE(std::filesystem::exists(ScratchDir()));

  auto drill = Build(CommandJob());
  ASSERT_TRUE(drill) << drill.error().message;
  auto ctx = Context(seconds(60));
  auto cleaned = (*drill)->CleanUp(ctx);
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_FALSE(PortOpen(port_));
  EXPECT_FALSE(std::filesystem::exists(ScratchDir()));
  // and the cluster is fit for the next run
  auto ready = (*drill)->CheckPreconditions(ctx);
  EXPECT_TRUE(ready) << ready.error().message;
  // CleanUp is idempotent
  EXPECT_TRUE((*drill)->CleanUp(ctx));
}

// The CNPG methods: a Backup created with the right body and polled to completed, a recovery
// Cluster created from it under a distinct name, and deleted again.
TEST_F(RestoreDrillTest, KubernetesMethodsCreateBackupAndRecoveryCluster) {
  harness::FakeKube fake;
  const std::string base = "/apis/postgresql.cnpg.io/v1/namespaces/db/";
  const std::string backup_name = "pgmain-dbcanary-x7k2p";
  const std::string recovery = base + "clusters/pgmain-dbcanary-restore";
  fake.SetFixture("GET " + base + "clusters/pgmain", "cluster-healthy.json");
  fake.Set("POST " + base + "backups",
           {201, R"({"apiVersion":"postgresql.cnpg.io/v1","kind":"Backup","metadata":{"name":")" +
                     backup_name + R"(","namespace":"db"},"spec":{"cluster":{"name":"pgmain"}}})"});
  const std::string running =
      R"({"kind":"Backup","metadata":{"name":")" + backup_name +
      R"("},"status":{"phase":"running","startedAt":"2026-11-01T03:00:00Z"}})";
  const std::string completed =
      R"({"kind":"Backup","metadata":{"name":")" + backup_name +
      R"("},"status":{"phase":"completed","method":"barmanObjectStore","startedAt":"2026-11-01T03:00:00Z","stoppedAt":"2026-11-01T03:00:42Z","backupId":"20261101T030000","beginWal":"000000010000000000000010","endWal":"000000010000000000000011"}})";
  fake.SetBody("GET " + base + "backups/" + backup_name, running);
  fake.Set("POST " + base + "clusters",
           {201, R"({"kind":"Cluster","metadata":{"name":"pgmain-dbcanary-restore"}})"});
  fake.Set("DELETE " + recovery, {200, R"({"kind":"Status","status":"Success"})"});
  // The recovery Cluster as the API server returns it: with the labels the drill set.
  const std::string healthy =
      R"({"kind":"Cluster","metadata":{"name":"pgmain-dbcanary-restore","labels":{"app.kubernetes.io/managed-by":"dbcanary","dbcanary.io/drill":"restore"}},"status":{"phase":"Cluster in healthy state","readyInstances":1}})";
  fake.SetBody(
      "GET " + base + "backups",
      R"({"kind":"BackupList","items":[{"metadata":{"name":")" + backup_name +
          R"(","labels":{"app.kubernetes.io/managed-by":"dbcanary","dbcanary.io/drill":"restore"}},"spec":{"cluster":{"name":"pgmain"}}},{"metadata":{"name":"pgmain-nightly","labels":{"app.kubernetes.io/managed-by":"dbcanary"}},"spec":{"cluster":{"name":"other"}}}]})");
  fake.Set("DELETE " + base + "backups/" + backup_name,
           {200, R"({"kind":"Status","status":"Success"})"});
  // Run() calls no CleanUp before creating, so the recovery Cluster can answer healthy from
  // the start (a GET right after a create never misses it on a real API server).
  fake.SetBody("GET " + recovery, healthy);
  // The operator's part: the backup completes after being polled once, the recovery Cluster
  // disappears once deleted.
  std::atomic<bool> done{false};
  std::thread operator_thread([&] {
    size_t seen = 0;
    bool completed_set = false;
    while (!done.load()) {
      auto requests = fake.Requests();
      for (; seen < requests.size(); ++seen) {
        const auto& line = requests[seen];
        if (!completed_set && line == "GET " + base + "backups/" + backup_name) {
          fake.SetBody("GET " + base + "backups/" + backup_name, completed);
          completed_set = true;
        } else if (line == "DELETE " + recovery) {
          fake.Set("GET " + recovery, harness::FakeKube::Error(404, "NotFound", "not found"));
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  struct Join {
    std::atomic<bool>& done;
    std::thread& thread;
    ~Join() {
      done = true;
      thread.join();
    }
  } join{done, operator_thread};

  char dir_template[] = "/tmp/rs-kubeconfig-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  std::string kubeconfig = std::string(dir_template) + "/kubeconfig";
  {
    std::ofstream out(kubeconfig);
    out << "current-context: t\nclusters: [{ name: f, cluster: { server: \"" << fake.url()
        << "\" } }]\nusers: [{ name: u, user: { token: test-token } }]\n"
           "contexts: [{ name: t, context: { cluster: f, user: u } }]\n";
  }
  // A standby stands in for the recovery Cluster's service: a server at another address whose
  // postmaster started after the primary's, as a restored one would (the drill refuses the
  // primary itself). Reached as 127.0.0.1: the config names the instances "localhost".
  const int scratch_port = LaterStartedStandbyPort();
  ASSERT_NE(scratch_port, 0) << "no standby started after the primary";
  auto drill = Build(
      fmt::format("restore: {{ cluster: shared-postgres, backup: {{ kubernetes: {{ cluster: "
                  "pgmain-k8s }} }}, restore: {{ kubernetes: {{ connection: {{ host: 127.0.0.1, "
                  "port: {} }} }} }} }}",
                  scratch_port),
      "kubernetes:\n  kubeconfig: " + kubeconfig +
          "\n  clusters:\n    - { name: pgmain-k8s, namespace: db, cnpg_cluster: pgmain }\n");
  struct RemoveDir {
    std::string path;
    ~RemoveDir() { std::filesystem::remove_all(path); }
  } remove_dir{dir_template};
  ASSERT_TRUE(drill) << drill.error().message;
  auto ctx = Context(seconds(60));
  DrillResult result = (*drill)->Run(ctx);
  ASSERT_FALSE(result.error) << Describe(result);
  EXPECT_TRUE(result.Passed()) << Describe(result);
  const Sample* backup = Find(result, "dbcanary_drill_restore_backup_seconds");
  ASSERT_NE(backup, nullptr);
  EXPECT_EQ(backup->value, 42);  // stoppedAt - startedAt
  EXPECT_EQ(Find(result, "dbcanary_drill_restore_backup_bytes"), nullptr);

  auto requests = fake.Requests();
  auto bodies = fake.RequestBodies();
  ASSERT_EQ(requests.size(), bodies.size());
  int backup_polls = 0;
  std::optional<nlohmann::json> backup_body, cluster_body;
  size_t post_cluster = 0, delete_cluster = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i] == "POST " + base + "backups") backup_body = nlohmann::json::parse(bodies[i]);
    if (requests[i] == "GET " + base + "backups/" + backup_name) ++backup_polls;
    if (requests[i] == "POST " + base + "clusters") {
      cluster_body = nlohmann::json::parse(bodies[i]);
      post_cluster = i;
    }
    if (requests[i] == "DELETE " + recovery) delete_cluster = i;
  }
  EXPECT_GE(backup_polls, 2) << "polled while running, then completed";
  ASSERT_TRUE(backup_body);
  EXPECT_EQ((*backup_body)["kind"], "Backup");
  EXPECT_EQ((*backup_body)["spec"]["cluster"]["name"], "pgmain");
  EXPECT_EQ((*backup_body)["spec"]["method"], "barmanObjectStore");
  ASSERT_TRUE(cluster_body);
  EXPECT_EQ((*cluster_body)["metadata"]["name"], "pgmain-dbcanary-restore");
  EXPECT_EQ((*cluster_body)["spec"]["bootstrap"]["recovery"]["backup"]["name"], backup_name);
  EXPECT_EQ((*cluster_body)["spec"]["imageName"], "ghcr.io/cloudnative-pg/postgresql:16.4");
  EXPECT_FALSE((*cluster_body)["spec"].contains("plugins"));
  EXPECT_GT(delete_cluster, post_cluster) << "the recovery Cluster must be deleted after the run";

  // The runner's cleanup after the run deletes the drill's Backups of this cluster, only those.
  auto cleaned = (*drill)->CleanUp(ctx);
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  requests = fake.Requests();
  EXPECT_NE(
      std::find(requests.begin(), requests.end(), "DELETE " + base + "backups/" + backup_name),
      requests.end());
  EXPECT_EQ(
      std::find(requests.begin(), requests.end(), "DELETE " + base + "backups/pgmain-nightly"),
      requests.end());
}

// Kubernetes-mode cleanup deletes the scratch Cluster only when it carries the owner label: a
// Cluster of that name made by someone else is left alone and the cleanup says why.
TEST_F(RestoreDrillTest, KubernetesCleanupLeavesAnUnlabelledClusterAlone) {
  harness::FakeKube fake;
  const std::string base = "/apis/postgresql.cnpg.io/v1/namespaces/db/";
  fake.SetBody("GET " + base + "clusters/pgmain-dbcanary-restore",
               R"({"kind":"Cluster","metadata":{"name":"pgmain-dbcanary-restore"}})");
  fake.Set("DELETE " + base + "clusters/pgmain-dbcanary-restore",
           {200, R"({"kind":"Status","status":"Success"})"});
  char dir_template[] = "/tmp/rs-kubeconfig-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  struct RemoveDir {
    std::string path;
    ~RemoveDir() { std::filesystem::remove_all(path); }
  } remove_dir{dir_template};
  const std::string kubeconfig = std::string(dir_template) + "/kubeconfig";
  {
    std::ofstream out(kubeconfig);
    out << "current-context: t\nclusters: [{ name: f, cluster: { server: \"" << fake.url()
        << "\" } }]\nusers: [{ name: u, user: { token: test-token } }]\n"
           "contexts: [{ name: t, context: { cluster: f, user: u } }]\n";
  }
  auto drill = Build(
      "restore: { cluster: shared-postgres, backup: { kubernetes: { cluster: pgmain-k8s } }, "
      "restore: { kubernetes: {} } }",
      "kubernetes:\n  kubeconfig: " + kubeconfig +
          "\n  clusters:\n    - { name: pgmain-k8s, namespace: db, cnpg_cluster: pgmain }\n");
  ASSERT_TRUE(drill) << drill.error().message;
  auto ctx = Context(seconds(30));
  auto cleaned = (*drill)->CleanUp(ctx);
  ASSERT_FALSE(cleaned);
  EXPECT_NE(cleaned.error().message.find("without the label app.kubernetes.io/managed-by=dbcanary"),
            std::string::npos)
      << cleaned.error().message;
  auto requests = fake.Requests();
  EXPECT_EQ(std::find(requests.begin(), requests.end(),
                      "DELETE " + base + "clusters/pgmain-dbcanary-restore"),
            requests.end());
}

// A restore whose "scratch" target is the production primary would find the marker just written
// there and pass with nothing restored: the run ends in an error, by address when it is the
// configured one, by identity (system identifier and postmaster start) under another name.
TEST_F(RestoreDrillTest, ScratchThatIsTheProductionPrimaryEndsError) {
  const auto& stack = harness::Stack::Get();
  const int primary_port = stack.Port(stack.Env("DBCANARY_STACK_PG_PRIMARY"));
  struct Case {
    const char* host;
    const char* reason;
  };
  for (const Case& test : {Case{"localhost", "is the address of instance"},
                           Case{"127.0.0.1", "is the production primary"}}) {
    auto drill = Build(fmt::format(
        "restore: {{ cluster: shared-postgres, archive_wait: 1s, backup: {{ command: [\"true\"] "
        "}}, restore: {{ command: [\"true\"], cleanup: [\"true\"], connection: {{ host: {}, "
        "port: {} }} }} }}",
        test.host, primary_port));
    ASSERT_TRUE(drill) << drill.error().message;
    auto ctx = Context(seconds(60));
    DrillResult result = (*drill)->Run(ctx);
    ASSERT_TRUE(result.error) << test.host << ": " << Describe(result);
    EXPECT_EQ(result.error->code, ErrorCode::kUnexpected) << Describe(result);
    EXPECT_NE(result.error->message.find(test.reason), std::string::npos) << Describe(result);
    EXPECT_FALSE(result.Passed());
    EXPECT_EQ(Find(result, "dbcanary_drill_restore_verified"), nullptr) << Describe(result);
  }
}

}  // namespace
}  // namespace dbcanary
