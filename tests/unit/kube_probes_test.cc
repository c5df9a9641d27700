// k8s_cnpg_cluster and k8s_cnpg_backups: the pure evaluation on fixture objects, and whole runs
// against the in-process fake API server.

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cmath>
#include <stop_token>

#include "config/config.h"
#include "probes/kubernetes/backup_directory_probe.h"
#include "probes/kubernetes/k8s_cnpg_backups_probe.h"
#include "probes/kubernetes/k8s_cnpg_cluster_probe.h"
#include "probes/kubernetes/k8s_cnpg_pooler_probe.h"
#include "probes/probe.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

constexpr double kNow = 1795600000;  // 2026-11-25T09:46:40Z

json Fixture(const std::string& name) { return json::parse(FakeKube::Fixture(name)); }

// The value of the one sample of `name` whose labels include all of `want`; NaN if none.
double Value(const ProbeResult& result, const std::string& name, const Labels& want) {
  double found = std::nan("");
  int matches = 0;
  for (const auto& sample : result.samples) {
    if (sample.name != name) continue;
    bool all = true;
    for (const auto& label : want) {
      bool has = false;
      for (const auto& own : sample.labels) has = has || own == label;
      all = all && has;
    }
    if (all) {
      found = sample.value;
      ++matches;
    }
  }
  EXPECT_LE(matches, 1) << name;
  return found;
}

int Count(const ProbeResult& result, const std::string& name) {
  int count = 0;
  for (const auto& sample : result.samples) count += sample.name == name ? 1 : 0;
  return count;
}

const ExpectationResult* Expectation(const ProbeResult& result, const std::string& check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

TEST(K8sCnpgClusterTest, PhaseSentencesMapToBoundedLabels) {
  EXPECT_EQ(CnpgPhaseLabel("Cluster in healthy state"), "healthy");
  EXPECT_EQ(CnpgPhaseLabel("Failing over"), "failing_over");
  EXPECT_EQ(CnpgPhaseLabel("Something new in CNPG 1.40"), "other");
  EXPECT_EQ(CnpgPhaseLabels().back(), "other");
}

// A healthy cluster: every gauge is exported and both expectations pass.
TEST(K8sCnpgClusterTest, HealthyClusterPassesExpectations) {
  ProbeResult out;
  ASSERT_TRUE(EvaluateCnpgCluster(Fixture("cluster-healthy.json"), "pgmain-k8s", "db", "pgmain", {},
                                  kNow, out));
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_phase", {{"phase", "healthy"}}), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_phase", {{"phase", "other"}}), 0);
  EXPECT_EQ(Count(out, "dbcanary_k8s_cnpg_cluster_phase"),
            static_cast<int>(CnpgPhaseLabels().size()));
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_instances", {}), 3);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_ready_instances", {}), 3);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_failover_in_progress", {}), 0);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_timeline_id", {}), 2);
  EXPECT_EQ(
      Value(out, "dbcanary_k8s_cnpg_cluster_condition", {{"condition", "ContinuousArchiving"}}), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_certificate_expiry_timestamp_seconds",
                  {{"secret", "pgmain-server"},
                   {"target", "pgmain-k8s"},
                   {"k8s_namespace", "db"},
                   {"cnpg_cluster", "pgmain"}}),
            1803805200);
  ASSERT_NE(Expectation(out, "cnpg_min_ready_instances"), nullptr);
  EXPECT_TRUE(Expectation(out, "cnpg_min_ready_instances")->pass);
  EXPECT_TRUE(Expectation(out, "cnpg_certificate_min_validity")->pass);
}

// Failover in progress (targetPrimary "pending") with an expired server certificate.
TEST(K8sCnpgClusterTest, FailoverAndExpiredCertificateAreVisible) {
  ProbeResult out;
  ASSERT_TRUE(
      EvaluateCnpgCluster(Fixture("cluster-failover.json"), "t", "db", "pgmain", {}, kNow, out));
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_failover_in_progress", {}), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_phase", {{"phase", "failing_over"}}), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_phase", {{"phase", "healthy"}}), 0);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_ready_instances", {}), 2);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_condition", {{"condition", "Ready"}}), 0);
  EXPECT_TRUE(std::isnan(
      Value(out, "dbcanary_k8s_cnpg_cluster_condition", {{"condition", "LastBackupSucceeded"}})));
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_certificate_expiry_timestamp_seconds",
                  {{"secret", "pgmain-server"}}),
            1767268800);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_certificate_expiry_timestamp_seconds",
                  {{"secret", "pgmain-replication"}}),
            1793361600);
  EXPECT_DOUBLE_EQ(Value(out, "dbcanary_k8s_cnpg_cluster_certificate_expiry_timestamp_seconds",
                         {{"secret", "pgmain-ca"}}),
                   1803805200.5);
  EXPECT_FALSE(Expectation(out, "cnpg_min_ready_instances")->pass);
  const auto* validity = Expectation(out, "cnpg_certificate_min_validity");
  ASSERT_NE(validity, nullptr);
  EXPECT_FALSE(validity->pass);
  EXPECT_EQ(validity->observed, 1767268800 - kNow);
}

TEST(K8sCnpgClusterTest, ObjectWithoutStatusIsProtocolError) {
  ProbeResult out;
  auto status = EvaluateCnpgCluster(json{{"kind", "Cluster"}}, "t", "db", "pgmain", {}, kNow, out);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kProtocol);
}

TEST(K8sCnpgBackupsTest, PhaseAndMethodLabelsAreBounded) {
  EXPECT_EQ(BackupPhaseLabel(""), "pending");
  EXPECT_EQ(BackupPhaseLabel("walArchivingFailing"), "wal_archiving_failing");
  EXPECT_EQ(BackupPhaseLabel("invalid backup definition"), "invalid_backup_definition");
  EXPECT_EQ(BackupPhaseLabel("exploded"), "other");
  EXPECT_EQ(BackupMethodLabel("volumeSnapshot"), "volume_snapshot");
  EXPECT_EQ(BackupMethodLabel("x"), "other");
}

TEST(K8sCnpgBackupsTest, ObjectStoreComesFromPluginOrParams) {
  auto healthy = Fixture("cluster-healthy.json");
  auto ref = FindObjectStore(healthy, std::nullopt, std::nullopt, "pgmain");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->name, "pgmain-store");
  EXPECT_EQ(ref->server_name, "pgmain");
  EXPECT_FALSE(FindObjectStore(healthy, std::string(""), std::nullopt, "pgmain"));
  EXPECT_FALSE(
      FindObjectStore(Fixture("cluster-legacy.json"), std::nullopt, std::nullopt, "pgmain"));
  auto explicit_ref = FindObjectStore(Fixture("cluster-legacy.json"), std::string("s"),
                                      std::string("srv"), "pgmain");
  ASSERT_TRUE(explicit_ref);
  EXPECT_EQ(explicit_ref->server_name, "srv");
}

// Every Backup phase, plugin and snapshot methods, a stuck running backup, a missed schedule and
// the ObjectStore recovery window; the Cluster's deprecated fields are not used when better
// sources exist.
TEST(K8sCnpgBackupsTest, EveryPhaseStuckBackupAndMissedSchedule) {
  auto cluster = Fixture("cluster-healthy.json");
  auto backups = Fixture("backups.json");
  auto scheduled = Fixture("scheduledbackups.json");
  auto store = Fixture("objectstore.json");
  BackupInputs in{&cluster, &backups, &scheduled, &store, "pgmain"};
  ProbeResult out;
  EvaluateBackups(in, "pgmain-k8s", "pgmain", {}, kNow, out);
  const std::string completed = "dbcanary_backup_last_completed_timestamp_seconds";
  EXPECT_EQ(Value(out, completed, {{"method", "plugin"}, {"source", "backup_object"}}), 1795576001);
  EXPECT_EQ(Value(out, completed, {{"method", "volume_snapshot"}, {"source", "backup_object"}}),
            1795485609);
  EXPECT_EQ(Value(out, completed, {{"method", "plugin"}, {"source", "object_store"}}), 1795579800);
  EXPECT_EQ(Count(out, completed), 3);  // no cluster_status fallback
  const std::string failed = "dbcanary_backup_last_failed_timestamp_seconds";
  EXPECT_EQ(Value(out, failed, {{"method", "barman_object_store"}, {"source", "backup_object"}}),
            1795402810);
  EXPECT_EQ(Value(out, failed, {{"method", "plugin"}, {"source", "object_store"}}), 1794279600);
  EXPECT_EQ(Value(out, "dbcanary_backup_first_recoverability_point_timestamp_seconds",
                  {{"source", "object_store"}}),
            1793491200);
  const std::map<std::string, double> phases = {{"pending", 1},
                                                {"started", 1},
                                                {"running", 1},
                                                {"finalizing", 1},
                                                {"completed", 3},
                                                {"failed", 1},
                                                {"wal_archiving_failing", 1},
                                                {"invalid_backup_definition", 1},
                                                {"other", 1}};
  for (const auto& [phase, count] : phases) {
    EXPECT_EQ(Value(out, "dbcanary_backup_objects", {{"phase", phase}}), count) << phase;
  }
  EXPECT_EQ(Value(out, "dbcanary_backup_running_seconds", {}), kNow - 1767225600);
  EXPECT_EQ(Value(out, "dbcanary_scheduled_backups", {}), 3);
  EXPECT_EQ(Value(out, "dbcanary_scheduled_backup_missed", {{"scheduled_backup", "pgmain-hourly"}}),
            1);
  EXPECT_EQ(Value(out, "dbcanary_scheduled_backup_missed", {{"scheduled_backup", "pgmain-daily"}}),
            0);
  EXPECT_EQ(
      Value(out, "dbcanary_scheduled_backup_missed", {{"scheduled_backup", "pgmain-weekly-snap"}}),
      0);
  EXPECT_EQ(Value(out, "dbcanary_scheduled_backup_suspended",
                  {{"scheduled_backup", "pgmain-weekly-snap"}}),
            1);
  EXPECT_EQ(Value(out, "dbcanary_scheduled_backup_info",
                  {{"scheduled_backup", "pgmain-weekly-snap"},
                   {"schedule", "0 0 4 * * 0"},
                   {"method", "volume_snapshot"}}),
            1);
  EXPECT_EQ(Value(out, "dbcanary_scheduled_backup_next_schedule_timestamp_seconds",
                  {{"scheduled_backup", "pgmain-daily"}}),
            4070919600);
  EXPECT_EQ(Value(out, "dbcanary_scheduled_backup_last_schedule_timestamp_seconds",
                  {{"scheduled_backup", "pgmain-hourly"}}),
            1767261600);
  const auto* age = Expectation(out, "backup_max_age");
  ASSERT_NE(age, nullptr);
  EXPECT_TRUE(age->pass);
  EXPECT_EQ(age->observed, kNow - 1795579800);
  EXPECT_FALSE(Expectation(out, "backup_max_running")->pass);
  const auto* on_time = Expectation(out, "scheduled_backup_on_time");
  EXPECT_FALSE(on_time->pass);
  EXPECT_EQ(on_time->observed, 1);
}

// Without Backup objects or an ObjectStore, the deprecated Cluster fields are the fallback,
// labelled source="cluster_status"; a missing ScheduledBackup fails the schedule check.
TEST(K8sCnpgBackupsTest, DeprecatedClusterStatusIsFallbackOnly) {
  auto cluster = Fixture("cluster-legacy.json");
  auto backups = Fixture("backups-empty.json");
  auto scheduled = Fixture("scheduledbackups-empty.json");
  BackupInputs in{&cluster, &backups, &scheduled, nullptr, ""};
  ProbeResult out;
  BackupExpect expect;
  expect.max_age_seconds = 3600;
  EvaluateBackups(in, "t", "pgmain", expect, kNow, out);
  const std::string completed = "dbcanary_backup_last_completed_timestamp_seconds";
  EXPECT_EQ(
      Value(out, completed, {{"method", "barman_object_store"}, {"source", "cluster_status"}}),
      1795489500);
  EXPECT_EQ(Value(out, completed, {{"method", "volume_snapshot"}, {"source", "cluster_status"}}),
            1795399209);
  EXPECT_EQ(
      Value(out, "dbcanary_backup_last_failed_timestamp_seconds", {{"source", "cluster_status"}}),
      1795316430);
  EXPECT_EQ(Value(out, "dbcanary_backup_first_recoverability_point_timestamp_seconds",
                  {{"source", "cluster_status"}}),
            1793502000);
  EXPECT_EQ(Value(out, "dbcanary_backup_running_seconds", {}), 0);
  EXPECT_FALSE(Expectation(out, "backup_max_age")->pass);  // 24h old, limit 1h
  EXPECT_TRUE(Expectation(out, "backup_max_running")->pass);
  EXPECT_FALSE(Expectation(out, "scheduled_backup_on_time")->pass);
  expect.require_scheduled_backup = false;
  ProbeResult relaxed;
  EvaluateBackups(in, "t", "pgmain", expect, kNow, relaxed);
  EXPECT_TRUE(Expectation(relaxed, "scheduled_backup_on_time")->pass);
}

TEST(K8sCnpgBackupsTest, NoBackupAnywhereFailsMaxAgeWithNaN) {
  auto backups = Fixture("backups-empty.json");
  BackupInputs in{nullptr, &backups, nullptr, nullptr, ""};
  ProbeResult out;
  EvaluateBackups(in, "t", "pgmain", {}, kNow, out);
  const auto* age = Expectation(out, "backup_max_age");
  ASSERT_NE(age, nullptr);
  EXPECT_FALSE(age->pass);
  EXPECT_TRUE(std::isnan(age->observed));
  EXPECT_EQ(Count(out, "dbcanary_backup_last_completed_timestamp_seconds"), 0);
}

// Whole probe runs against the fake API server, configured through a kubeconfig.
class K8sProbeRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new FakeKube(); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    fake_->Clear();
    fake_->SetToken("probe-token");
    kubeconfig_ = dir_.Write("kubeconfig", R"(
current-context: test
clusters: [{ name: fake, cluster: { server: ")" +
                                               fake_->url() + R"(" } }]
users: [{ name: u, user: { token: probe-token } }]
contexts: [{ name: test, context: { cluster: fake, user: u } }]
)");
  }

  Result<std::unique_ptr<Probe>> Build(const std::string& kind, const std::string& params) {
    auto config = ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ +
                                  "\n  clusters:\n    - name: pgmain-k8s\n      namespace: db\n"
                                  "      cnpg_cluster: pgmain\n      probes:\n        " +
                                  kind + ": " + params + "\n",
                              "test.yaml");
    if (!config) return config.error();
    config_ = *config;
    ProbeRegistry registry;
    RegisterBuiltinProbes(registry);
    return registry.Create(*config_->AllProbes().at(0), *config_);
  }

  ProbeResult Run(Probe& probe,
                  std::chrono::milliseconds budget = std::chrono::milliseconds(3000)) {
    spdlog::logger log("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    std::stop_source stop;
    ProbeContext ctx{Deadline::In(budget), stop.get_token(), log};
    return probe.Run(ctx);
  }

  void ServeBackupObjects() {
    fake_->SetFixture("/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pgmain",
                      "cluster-healthy.json");
    fake_->SetFixture("/apis/postgresql.cnpg.io/v1/namespaces/db/backups", "backups.json");
    fake_->SetFixture("/apis/postgresql.cnpg.io/v1/namespaces/db/scheduledbackups",
                      "scheduledbackups.json");
    fake_->SetFixture("/apis/barmancloud.cnpg.io/v1/namespaces/db/objectstores/pgmain-store",
                      "objectstore.json");
  }

  static FakeKube* fake_;
  TempDir dir_;
  std::string kubeconfig_;
  std::shared_ptr<const Config> config_;
};
FakeKube* K8sProbeRunTest::fake_ = nullptr;

TEST_F(K8sProbeRunTest, FactoriesRejectUnknownParamsWithKeyPath) {
  auto cluster = Build("k8s_cnpg_cluster", "{ expect: { min_ready: 2 } }");
  ASSERT_FALSE(cluster);
  EXPECT_NE(cluster.error().message.find(
                "kubernetes.clusters[0].probes.k8s_cnpg_cluster.expect.min_ready"),
            std::string::npos)
      << cluster.error().message;
  auto backups = Build("k8s_cnpg_backups", "{ objectstore: x }");
  ASSERT_FALSE(backups);
  EXPECT_NE(backups.error().message.find("k8s_cnpg_backups.objectstore"), std::string::npos)
      << backups.error().message;
}

// One run reads Cluster, Backups (by label), ScheduledBackups and the plugin's ObjectStore.
TEST_F(K8sProbeRunTest, BackupsProbeReadsEverySource) {
  ServeBackupObjects();
  auto probe = Build("k8s_cnpg_backups", "{ expect: { backup_max_age: 1000d } }");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(Value(result, "dbcanary_backup_last_completed_timestamp_seconds",
                  {{"target", "pgmain-k8s"}, {"method", "plugin"}, {"source", "object_store"}}),
            1795579800);
  EXPECT_EQ(Value(result, "dbcanary_backup_objects", {{"phase", "completed"}}), 3);
  EXPECT_TRUE(Expectation(result, "backup_max_age")->pass);
  auto requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_NE(requests[1].find("labelSelector=cnpg.io%2Fcluster%3Dpgmain"), std::string::npos);
  EXPECT_EQ(requests[3],
            "GET /apis/barmancloud.cnpg.io/v1/namespaces/db/objectstores/pgmain-store");
}

// Missing RBAC on objectstores fails the run with the grant that would fix it.
TEST_F(K8sProbeRunTest, BackupsProbeForbiddenObjectStoreNamesTheGrant) {
  ServeBackupObjects();
  fake_->Set("/apis/barmancloud.cnpg.io/v1/namespaces/db/objectstores/pgmain-store",
             FakeKube::Error(403, "Forbidden", "objectstores is forbidden"));
  auto probe = Build("k8s_cnpg_backups", "{}");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_FALSE(result.success);
  EXPECT_EQ(result.error->code, ErrorCode::kAuth);
  EXPECT_NE(result.error->message.find(
                "grant verb \"get\" on resource \"objectstores\" (group barmancloud.cnpg.io)"),
            std::string::npos)
      << result.error->message;
}

// A Cluster in failover is a successful measurement with failover_in_progress 1.
TEST_F(K8sProbeRunTest, ClusterProbeReportsFailover) {
  fake_->SetFixture("/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pgmain",
                    "cluster-failover.json");
  auto probe = Build("k8s_cnpg_cluster",
                     "{ expect: { min_ready_instances: 2, certificate_min_validity: 1d } }");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(
      Value(result, "dbcanary_k8s_cnpg_cluster_failover_in_progress", {{"target", "pgmain-k8s"}}),
      1);
  EXPECT_TRUE(Expectation(result, "cnpg_min_ready_instances")->pass);
  EXPECT_FALSE(Expectation(result, "cnpg_certificate_min_validity")->pass);
}

// A slow API server makes the run fail as a timeout at its deadline, not later.
TEST_F(K8sProbeRunTest, ClusterProbeTimesOutAtDeadline) {
  fake_->Set("/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pgmain",
             FakeKube::Route{200, FakeKube::Fixture("cluster-healthy.json"),
                             std::chrono::milliseconds(3000)});
  auto probe = Build("k8s_cnpg_cluster", "{}");
  ASSERT_TRUE(probe) << probe.error().message;
  auto started = std::chrono::steady_clock::now();
  ProbeResult result = Run(**probe, std::chrono::milliseconds(300));
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(result.success);
  EXPECT_EQ(result.error->code, ErrorCode::kTimeout);
  // The 300 ms deadline plus 1 s for a loaded host: far below the 3 s the answer takes.
  EXPECT_LT(elapsed, 0.3 + 1.0);
}

// A missing Cluster object (404) fails the run as a query error naming the object.
TEST_F(K8sProbeRunTest, ClusterProbeNotFound) {
  auto probe = Build("k8s_cnpg_cluster", "{}");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_FALSE(result.success);
  EXPECT_EQ(result.error->code, ErrorCode::kQuery);
  EXPECT_NE(result.error->message.find("clusters.postgresql.cnpg.io db/pgmain"), std::string::npos)
      << result.error->message;
}

}  // namespace
}  // namespace dbcanary

namespace dbcanary {
namespace {

// Declared pool mode and parameters are exported; fewer pods than declared fails the check.
TEST(K8sCnpgPoolerTest, DeclaredConfigAndInstances) {
  ProbeResult out;
  ASSERT_TRUE(
      EvaluateCnpgPooler(Fixture("pooler.json"), "t", "db", "gitlab-pooler-rw", std::nullopt, out));
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_pooler_instances", {{"pooler", "gitlab-pooler-rw"}}), 2);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_pooler_status_instances", {}), 1);
  EXPECT_EQ(
      Value(out, "dbcanary_k8s_cnpg_pooler_declared_pool_mode", {{"pool_mode", "transaction"}}), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_pooler_declared_pool_mode", {{"pool_mode", "session"}}),
            0);
  EXPECT_EQ(
      Value(out, "dbcanary_k8s_cnpg_pooler_declared_parameter", {{"parameter", "max_client_conn"}}),
      500);
  EXPECT_EQ(Value(out, "dbcanary_k8s_cnpg_pooler_declared_parameter",
                  {{"parameter", "default_pool_size"}}),
            20);
  EXPECT_FALSE(Expectation(out, "cnpg_pooler_instances")->pass);
  ProbeResult relaxed;
  ASSERT_TRUE(EvaluateCnpgPooler(Fixture("pooler.json"), "t", "db", "p", 1, relaxed));
  EXPECT_TRUE(Expectation(relaxed, "cnpg_pooler_instances")->pass);
  auto bad = Fixture("pooler.json");
  bad["spec"]["pgbouncer"]["parameters"]["max_client_conn"] = "lots";
  ProbeResult invalid;
  EXPECT_FALSE(EvaluateCnpgPooler(bad, "t", "db", "p", std::nullopt, invalid));
}

}  // namespace
}  // namespace dbcanary
