// k8s_cnpg_storage, k8s_cnpg_placement and k8s_pdb: the pure evaluations on objects shaped as
// Kubernetes and CNPG write them (tests/fake_kube/fixtures), then whole runs against the fake API
// server. Each misconfiguration turns exactly its named check red.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cmath>
#include <stop_token>

#include "clients/kube/kube_common.h"
#include "config/config.h"
#include "probes/kubernetes/k8s_cnpg_backup_policy_probe.h"
#include "probes/kubernetes/k8s_cnpg_placement_probe.h"
#include "probes/kubernetes/k8s_cnpg_storage_probe.h"
#include "probes/kubernetes/k8s_pdb_probe.h"
#include "probes/probe.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

json Fixture(const std::string& name) { return json::parse(FakeKube::Fixture(name)); }

// "check=pass" for every expectation, in order: a whole verdict compared at once, so a check
// that turns red by accident shows too.
std::vector<std::string> Verdicts(const ProbeResult& result) {
  std::vector<std::string> out;
  for (const auto& e : result.expectations) {
    out.push_back(e.check + "|" + e.target + (e.pass ? "=pass" : "=FAIL"));
  }
  return out;
}

CnpgStorageExpect StorageExpect() {
  CnpgStorageExpect expect;
  expect.min_pvcs = 3;
  expect.storage_class = "gp3-encrypted";
  expect.min_size_bytes = 10.0 * 1024 * 1024 * 1024;
  return expect;
}

ProbeResult Storage(const json& pvcs) {
  ProbeResult out;
  EXPECT_TRUE(EvaluateCnpgStorage(pvcs, "pgmain-k8s", "db", "pgmain", StorageExpect(), out));
  return out;
}

TEST(KubeQuantity, ParsesKubernetesQuantities) {
  EXPECT_EQ(kube::ParseQuantity("10Gi"), 10.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(kube::ParseQuantity("500M"), 500e6);
  EXPECT_EQ(kube::ParseQuantity("1.5Ti"), 1.5 * 1024.0 * 1024 * 1024 * 1024);
  EXPECT_EQ(kube::ParseQuantity("2e9"), 2e9);
  EXPECT_EQ(kube::ParseQuantity("100m"), 0.1);
  EXPECT_EQ(kube::ParseQuantity("1E"), 1e18);
  EXPECT_EQ(kube::ParseQuantity("1024"), 1024);
  for (const char* bad : {"", "Gi", "10GB", "ten", "1.2.3Gi", "10 Gi"}) {
    EXPECT_FALSE(kube::ParseQuantity(bad)) << bad;
  }
}

TEST(K8sCnpgStorageTest, HealthyVolumesPassEveryCheck) {
  auto out = Storage(Fixture("pvcs.json"));
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{
                "cnpg_pvc_count|pgmain-k8s=pass", "cnpg_pvcs_bound|pgmain-k8s=pass",
                "cnpg_pvc_storage_class|pgmain-k8s=pass", "cnpg_pvc_min_size|pgmain-k8s=pass"}));
  int bound = 0;
  for (const auto& sample : out.samples) {
    if (sample.name == "dbcanary_k8s_cnpg_pvc_bound") bound += static_cast<int>(sample.value);
    if (sample.name == "dbcanary_k8s_cnpg_pvc_capacity_bytes") {
      EXPECT_EQ(sample.value, 10.0 * 1024 * 1024 * 1024);
    }
  }
  EXPECT_EQ(bound, 3);
}

// A claim still Pending (no volume provisioned: no capacity, no volumeName) fails only
// cnpg_pvcs_bound, and names the claim.
TEST(K8sCnpgStorageTest, UnboundClaimFailsOnlyTheBoundCheck) {
  auto pvcs = Fixture("pvcs.json");
  auto& pending = pvcs["items"][1];
  pending["status"] = json{{"phase", "Pending"}};
  pending["spec"].erase("volumeName");
  pending["metadata"]["annotations"].erase("pv.kubernetes.io/bind-completed");
  auto out = Storage(pvcs);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{
                "cnpg_pvc_count|pgmain-k8s=pass", "cnpg_pvcs_bound|pgmain-k8s=FAIL",
                "cnpg_pvc_storage_class|pgmain-k8s=pass", "cnpg_pvc_min_size|pgmain-k8s=pass"}));
  EXPECT_NE(out.expectations[1].observed_text.find("pgmain-2"), std::string::npos);
}

TEST(K8sCnpgStorageTest, WrongStorageClassFailsOnlyItsCheck) {
  auto pvcs = Fixture("pvcs.json");
  pvcs["items"][2]["spec"]["storageClassName"] = "standard";
  auto out = Storage(pvcs);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{
                "cnpg_pvc_count|pgmain-k8s=pass", "cnpg_pvcs_bound|pgmain-k8s=pass",
                "cnpg_pvc_storage_class|pgmain-k8s=FAIL", "cnpg_pvc_min_size|pgmain-k8s=pass"}));
  EXPECT_NE(out.expectations[2].observed_text.find("pgmain-3"), std::string::npos);
}

TEST(K8sCnpgStorageTest, SmallVolumeFailsOnlyTheSizeCheck) {
  auto pvcs = Fixture("pvcs.json");
  pvcs["items"][0]["status"]["capacity"]["storage"] = "5Gi";
  auto out = Storage(pvcs);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{
                "cnpg_pvc_count|pgmain-k8s=pass", "cnpg_pvcs_bound|pgmain-k8s=pass",
                "cnpg_pvc_storage_class|pgmain-k8s=pass", "cnpg_pvc_min_size|pgmain-k8s=FAIL"}));
  EXPECT_EQ(out.expectations[3].observed, 5.0 * 1024 * 1024 * 1024);
}

ProbeResult Placement(const json& pods, const json* nodes) {
  ProbeResult out;
  EXPECT_TRUE(EvaluateCnpgPlacement(pods, nodes, "pgmain-k8s", "db", "pgmain", out));
  return out;
}

TEST(K8sCnpgPlacementTest, InstancesOnDistinctNodesAndZonesPass) {
  const auto nodes = Fixture("nodes.json");
  auto out = Placement(Fixture("pods-cnpg-placement.json"), &nodes);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"cnpg_instances_distinct_nodes|pgmain-k8s=pass",
                                      "cnpg_instances_distinct_zones|pgmain-k8s=pass"}));
  // The join job's pod on worker-a is not an instance.
  for (const char* name : {"dbcanary_k8s_cnpg_instance_pods", "dbcanary_k8s_cnpg_instance_nodes",
                           "dbcanary_k8s_cnpg_instance_zones", "dbcanary_k8s_zones"}) {
    int found = 0;
    for (const auto& sample : out.samples) {
      if (sample.name != name) continue;
      ++found;
      EXPECT_EQ(sample.value, 3) << name;
    }
    EXPECT_EQ(found, 1) << name;
  }
}

// Two instances on one node: the node check fails and names both pods (zones not read here,
// as with check_zones: false).
TEST(K8sCnpgPlacementTest, TwoInstancesOnOneNodeFailOnlyTheNodeCheck) {
  auto pods = Fixture("pods-cnpg-placement.json");
  pods["items"][2]["spec"]["nodeName"] = "worker-b";
  auto out = Placement(pods, nullptr);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"cnpg_instances_distinct_nodes|pgmain-k8s=FAIL"}));
  EXPECT_NE(out.expectations[0].observed_text.find("worker-b: pgmain-2 pgmain-3"),
            std::string::npos)
      << out.expectations[0].observed_text;
}

// Three instances on three nodes, two of them in one zone while a third zone has a node: the
// node check passes, the zone check fails.
TEST(K8sCnpgPlacementTest, TwoInstancesInOneZoneFailOnlyTheZoneCheck) {
  auto nodes = Fixture("nodes.json");
  auto spare = nodes["items"][2];  // eu-west-1c keeps a node, with no instance on it
  spare["metadata"]["name"] = "worker-d";
  spare["metadata"]["labels"]["kubernetes.io/hostname"] = "worker-d";
  nodes["items"].push_back(spare);
  nodes["items"][2]["metadata"]["labels"]["topology.kubernetes.io/zone"] = "eu-west-1b";
  auto out = Placement(Fixture("pods-cnpg-placement.json"), &nodes);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"cnpg_instances_distinct_nodes|pgmain-k8s=pass",
                                      "cnpg_instances_distinct_zones|pgmain-k8s=FAIL"}));
}

// Nodes without zone labels (a single-zone or bare-metal cluster): no zone check at all.
TEST(K8sCnpgPlacementTest, NodesWithoutZoneLabelsSkipTheZoneCheck) {
  auto nodes = Fixture("nodes.json");
  for (auto& node : nodes["items"]) node["metadata"]["labels"].erase("topology.kubernetes.io/zone");
  auto out = Placement(Fixture("pods-cnpg-placement.json"), &nodes);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"cnpg_instances_distinct_nodes|pgmain-k8s=pass"}));
}

TEST(K8sPdbTest, ExistingPdbsAllowingDisruptionsPassAMissingOneFailsExistsOnly) {
  ProbeResult out;
  EvaluatePdb(Fixture("pdb-replicas.json"), {"pgmain", 1}, "pgmain-k8s", "db", out);
  EvaluatePdb(Fixture("pdb-primary.json"), {"pgmain-primary", 0}, "pgmain-k8s", "db", out);
  EvaluatePdb(std::nullopt, {"gitlab-pooler-rw", 1}, "pgmain-k8s", "db", out);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"k8s_pdb_exists|pgmain-k8s/pgmain=pass",
                                      "k8s_pdb_disruptions_allowed|pgmain-k8s/pgmain=pass",
                                      "k8s_pdb_exists|pgmain-k8s/pgmain-primary=pass",
                                      "k8s_pdb_disruptions_allowed|pgmain-k8s/pgmain-primary=pass",
                                      "k8s_pdb_exists|pgmain-k8s/gitlab-pooler-rw=FAIL"}));
}

// A PDB that allows no disruption (every replica must stay: a drain can never finish) fails
// only its disruptions check.
TEST(K8sPdbTest, PdbAllowingNoDisruptionFailsOnlyItsDisruptionsCheck) {
  auto pdb = Fixture("pdb-replicas.json");
  pdb["spec"]["minAvailable"] = 2;
  pdb["status"]["desiredHealthy"] = 2;
  pdb["status"]["disruptionsAllowed"] = 0;
  ProbeResult out;
  EvaluatePdb(pdb, {"pgmain", 1}, "pgmain-k8s", "db", out);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"k8s_pdb_exists|pgmain-k8s/pgmain=pass",
                                      "k8s_pdb_disruptions_allowed|pgmain-k8s/pgmain=FAIL"}));
}

constexpr double kNow = 1795600000;  // 2026-11-25T09:46:40Z; the oldest pgmain backup: 11-20

ProbeResult Policy(const json& cluster, const json* store) {
  ProbeResult out;
  EvaluateBackupPolicy(cluster, store, Fixture("backups.json"), "pgmain-k8s", "pgmain", 2 * 86400.0,
                       kNow, out);
  return out;
}

TEST(K8sCnpgBackupPolicyTest, RetentionPolicies) {
  EXPECT_EQ(ParseRetentionPolicy("30d"), 30 * 86400.0);
  EXPECT_EQ(ParseRetentionPolicy("4w"), 28 * 86400.0);
  EXPECT_EQ(ParseRetentionPolicy("6m"), 180 * 86400.0);
  for (const char* bad : {"", "d", "30", "30h", "0d", "-1d", "1.5d", "30D"}) {
    EXPECT_FALSE(ParseRetentionPolicy(bad)) << bad;
  }
}

// The plugin's ObjectStore declares the destination and 30d; the oldest kept completed backup
// of pgmain (2026-11-20; pgother's and the failed one do not count) is within it.
TEST(K8sCnpgBackupPolicyTest, PluginDestinationAndRetentionPass) {
  const auto store = Fixture("objectstore.json");
  auto out = Policy(Fixture("cluster-healthy.json"), &store);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"cnpg_backup_destination|pgmain-k8s=pass",
                                      "cnpg_backup_retention_declared|pgmain-k8s=pass",
                                      "cnpg_backup_retention_enforced|pgmain-k8s=pass"}));
  EXPECT_NEAR(out.expectations[2].observed, kNow - 1795144001.0, 1);
}

// Retention 3d with a 2d grace: a 5.3-day-old backup still kept breaches it (cleanup is not
// running); only the enforced check fails.
TEST(K8sCnpgBackupPolicyTest, RetentionBreachFailsOnlyTheEnforcedCheck) {
  auto store = Fixture("objectstore.json");
  store["spec"]["retentionPolicy"] = "3d";
  auto out = Policy(Fixture("cluster-healthy.json"), &store);
  EXPECT_EQ(Verdicts(out),
            (std::vector<std::string>{"cnpg_backup_destination|pgmain-k8s=pass",
                                      "cnpg_backup_retention_declared|pgmain-k8s=pass",
                                      "cnpg_backup_retention_enforced|pgmain-k8s=FAIL"}));
}

// In-tree barmanObjectStore: no retentionPolicy fails only the declared check; no
// destinationPath only the destination check.
TEST(K8sCnpgBackupPolicyTest, InTreeMissingRetentionOrDestination) {
  auto cluster = Fixture("cluster-healthy.json");
  cluster["spec"].erase("plugins");
  cluster["spec"]["backup"] = {{"barmanObjectStore", {{"destinationPath", "s3://backups/"}}}};
  EXPECT_EQ(Verdicts(Policy(cluster, nullptr)),
            (std::vector<std::string>{"cnpg_backup_destination|pgmain-k8s=pass",
                                      "cnpg_backup_retention_declared|pgmain-k8s=FAIL"}));
  cluster["spec"]["backup"] = {{"retentionPolicy", "30d"}};
  EXPECT_EQ(Verdicts(Policy(cluster, nullptr)),
            (std::vector<std::string>{"cnpg_backup_destination|pgmain-k8s=FAIL",
                                      "cnpg_backup_retention_declared|pgmain-k8s=pass",
                                      "cnpg_backup_retention_enforced|pgmain-k8s=pass"}));
}

// Whole runs against the fake API server, configured through a kubeconfig.
class KubePlacementRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.SetToken("probe-token");
    kubeconfig_ = dir_.Write("kubeconfig", R"(
current-context: test
clusters: [{ name: fake, cluster: { server: ")" +
                                               fake_.url() + R"(" } }]
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

  ProbeResult Run(Probe& probe) {
    spdlog::logger log("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    std::stop_source stop;
    ProbeContext ctx{Deadline::In(std::chrono::milliseconds(3000)), stop.get_token(), log};
    return probe.Run(ctx);
  }

  FakeKube fake_;
  TempDir dir_;
  std::string kubeconfig_;
  std::shared_ptr<const Config> config_;
};

TEST_F(KubePlacementRunTest, StorageListsTheClustersClaimsBySelector) {
  fake_.SetFixture("/api/v1/namespaces/db/persistentvolumeclaims", "pvcs.json");
  auto probe = Build("k8s_cnpg_storage",
                     "{ expect: { min_pvcs: 3, storage_class: gp3-encrypted, min_size: 10Gi } }");
  ASSERT_TRUE(probe) << probe.error().message;
  auto result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(fake_.Requests(),
            (std::vector<std::string>{"GET /api/v1/namespaces/db/persistentvolumeclaims?"
                                      "labelSelector=cnpg.io%2Fcluster%3Dpgmain"}));
  for (const auto& e : result.expectations) EXPECT_TRUE(e.pass) << e.check;
  EXPECT_NE(
      Build("k8s_cnpg_storage", "{ expect: { min_size: 10GB } }").error().message.find("min_size"),
      std::string::npos);
}

TEST_F(KubePlacementRunTest, PlacementReadsPodsAndNodesAndNeedsNodeRbac) {
  fake_.SetFixture("/api/v1/namespaces/db/pods", "pods-cnpg-placement.json");
  fake_.SetFixture("/api/v1/nodes", "nodes.json");
  auto probe = Build("k8s_cnpg_placement", "{}");
  ASSERT_TRUE(probe) << probe.error().message;
  auto result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(result.expectations.size(), 2u);
  fake_.Set(
      "/api/v1/nodes",
      FakeKube::Error(403, "Forbidden",
                      "nodes is forbidden: User \"system:serviceaccount:monitoring:dbcanary\" "
                      "cannot list resource \"nodes\" in API group \"\" at the cluster scope"));
  auto denied = Run(**probe);
  ASSERT_FALSE(denied.success);
  EXPECT_EQ(denied.error->code, ErrorCode::kAuth) << denied.error->message;
}

TEST_F(KubePlacementRunTest, BackupPolicyReadsClusterObjectStoreAndBackups) {
  fake_.SetFixture("/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pgmain",
                   "cluster-healthy.json");
  fake_.SetFixture("/apis/barmancloud.cnpg.io/v1/namespaces/db/objectstores/pgmain-store",
                   "objectstore.json");
  fake_.SetFixture("/apis/postgresql.cnpg.io/v1/namespaces/db/backups", "backups.json");
  auto probe = Build("k8s_cnpg_backup_policy", "{ expect: { retention_grace: 1d } }");
  ASSERT_TRUE(probe) << probe.error().message;
  auto result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(fake_.Requests().size(), 3u);
  EXPECT_EQ(result.expectations.size(), 3u);
}

TEST_F(KubePlacementRunTest, PdbDefaultsToCnpgsOwnAndA404IsAMissingPdb) {
  fake_.SetFixture("/apis/policy/v1/namespaces/db/poddisruptionbudgets/pgmain",
                   "pdb-replicas.json");
  auto probe = Build("k8s_pdb", "{}");
  ASSERT_TRUE(probe) << probe.error().message;
  auto result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(Verdicts(result),
            (std::vector<std::string>{"k8s_pdb_exists|pgmain-k8s/pgmain=pass",
                                      "k8s_pdb_disruptions_allowed|pgmain-k8s/pgmain=pass",
                                      "k8s_pdb_exists|pgmain-k8s/pgmain-primary=FAIL"}));
  fake_.Set("/apis/policy/v1/namespaces/db/poddisruptionbudgets/pgmain",
            FakeKube::Error(500, "InternalError", "etcdserver: request timed out"));
  auto broken = Run(**probe);
  EXPECT_FALSE(broken.success);
}

}  // namespace
}  // namespace dbcanary
