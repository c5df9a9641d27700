// Members of a CNPG cluster discovered through the Kubernetes API (probes/kubernetes/
// cnpg_members.h), from objects shaped like the real ones, served by the fake API server.
// Field origins:
//   Cluster (postgresql.cnpg.io/v1 Cluster, status: ClusterStatus):
//     .status.instanceNames   ClusterStatus.InstanceNames   every instance pod the operator owns
//     .status.currentPrimary  ClusterStatus.CurrentPrimary
//     .status.targetPrimary   ClusterStatus.TargetPrimary
//   Pod (core/v1 Pod, listed with labelSelector cnpg.io/cluster=NAME):
//     .metadata.labels["cnpg.io/cluster"], ["cnpg.io/podRole"] ("instance"),
//     ["cnpg.io/instanceRole"] and the older ["role"] ("primary" / "replica"),
//     ["cnpg.io/jobRole"] (initdb/join job pods: not members)
//     .metadata.deletionTimestamp  (ObjectMeta.DeletionTimestamp: a pod going away)
//     .status.podIP                (PodStatus.PodIP)

#include "probes/kubernetes/cnpg_members.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <stop_token>

#include "probes/postgres/pg_instance_probe.h"
#include "probes/probe.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

constexpr char kClusterPath[] = "/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pgmain";
constexpr char kPodsPath[] = "/api/v1/namespaces/db/pods";

json Cluster(const std::vector<std::string>& names, const std::string& primary) {
  return {{"apiVersion", "postgresql.cnpg.io/v1"},
          {"kind", "Cluster"},
          {"metadata", {{"name", "pgmain"}, {"namespace", "db"}}},
          {"spec", {{"instances", names.size()}}},
          {"status",
           {{"instances", names.size()},
            {"readyInstances", names.size()},
            {"instanceNames", names},
            {"currentPrimary", primary},
            {"targetPrimary", primary},
            {"phase", "Cluster in healthy state"}}}};
}

json Pod(const std::string& name, const std::string& ip, const std::string& role) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "db"},
            {"labels",
             {{"cnpg.io/cluster", "pgmain"},
              {"cnpg.io/instanceName", name},
              {"cnpg.io/podRole", "instance"},
              {"cnpg.io/instanceRole", role},
              {"role", role}}}}},
          {"status", {{"phase", "Running"}, {"podIP", ip}}}};
}

json Pods(std::vector<json> items) {
  return {{"apiVersion", "v1"}, {"kind", "PodList"}, {"items", std::move(items)}};
}

PgDiscovery Discovery() {
  PgDiscovery discovery;
  discovery.cnpg_cluster = "pgmain";
  discovery.namespace_ = "db";
  discovery.tls_server_name = "pgmain-rw.db.svc";
  return discovery;
}

PgEndpoint Defaults() {
  PgEndpoint defaults;
  defaults.user = "dbcanary";
  defaults.sslmode = "verify-full";
  defaults.sslrootcert = "/etc/ca.crt";
  return defaults;
}

std::vector<std::string> Names(const std::vector<PgEndpoint>& members) {
  std::vector<std::string> names;
  for (const auto& member : members) names.push_back(member.name + "@" + member.hostaddr);
  return names;
}

// Each instance pod is a member reached by its IP and verified against the service name; a job
// pod, a pod without an IP yet and a pod being deleted are not members.
TEST(CnpgMembersTest, InstancePodsBecomeMembersConnectedByIpVerifiedByServiceName) {
  json job = Pod("pgmain-4-join-x7k2p", "10.42.0.20", "");
  job["metadata"]["labels"].erase("cnpg.io/podRole");
  job["metadata"]["labels"]["cnpg.io/jobRole"] = "join";
  json pending = Pod("pgmain-5", "", "replica");
  json leaving = Pod("pgmain-6", "10.42.0.26", "replica");
  leaving["metadata"]["deletionTimestamp"] = "2026-12-03T10:00:00Z";
  auto found = ReadCnpgMembers(
      Cluster({"pgmain-1", "pgmain-2", "pgmain-3", "pgmain-5", "pgmain-6"}, "pgmain-2"),
      Pods({Pod("pgmain-3", "10.42.0.13", "replica"), Pod("pgmain-1", "10.42.0.11", "replica"),
            Pod("pgmain-2", "10.42.0.12", "primary"), job, pending, leaving}),
      Discovery(), Defaults());
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(Names(found->members),
            (std::vector<std::string>{"pgmain-1@10.42.0.11", "pgmain-2@10.42.0.12",
                                      "pgmain-3@10.42.0.13"}));
  const PgEndpoint& member = found->members.front();
  EXPECT_EQ(member.host, "pgmain-rw.db.svc");  // what verify-full checks the certificate against
  EXPECT_EQ(member.port, 5432);
  EXPECT_EQ(member.user, "dbcanary");
  EXPECT_EQ(member.sslmode, "verify-full");
  EXPECT_EQ(member.Describe(), "dbcanary@pgmain-rw.db.svc(10.42.0.11):5432/postgres");
  EXPECT_EQ(found->current_primary, "pgmain-2");
  EXPECT_EQ(found->target_primary, "pgmain-2");
  EXPECT_EQ(found->labelled_primaries, std::vector<std::string>{"pgmain-2"});
}

// Complete pod lists in the two label generations CNPG has written (fixtures pods-cnpg.json:
// `role` and `cnpg.io/instanceRole`, plus an initdb job pod; pods-cnpg-legacy.json: `role` only,
// the primary elsewhere): the same members, the primary found from either label.
TEST(CnpgMembersTest, PodsAsCnpgWritesThemInBothLabelGenerations) {
  const json cluster = json::parse(FakeKube::Fixture("cluster-healthy.json"));
  auto newer = ReadCnpgMembers(cluster, json::parse(FakeKube::Fixture("pods-cnpg.json")),
                               Discovery(), Defaults());
  ASSERT_TRUE(newer) << newer.error().message;
  EXPECT_EQ(Names(newer->members),
            (std::vector<std::string>{"pgmain-1@10.244.1.11", "pgmain-2@10.244.2.12",
                                      "pgmain-3@10.244.3.13"}));
  EXPECT_EQ(newer->labelled_primaries, std::vector<std::string>{"pgmain-1"});
  auto older = ReadCnpgMembers(cluster, json::parse(FakeKube::Fixture("pods-cnpg-legacy.json")),
                               Discovery(), Defaults());
  ASSERT_TRUE(older) << older.error().message;
  EXPECT_EQ(older->members.size(), 3U);
  EXPECT_EQ(older->labelled_primaries, std::vector<std::string>{"pgmain-2"});
}

// A pod with the cluster label that the operator no longer lists (an orphan) is not a member.
TEST(CnpgMembersTest, PodsTheClusterDoesNotListAreNotMembers) {
  auto found = ReadCnpgMembers(
      Cluster({"pgmain-1"}, "pgmain-1"),
      Pods({Pod("pgmain-1", "10.42.0.11", "primary"), Pod("pgmain-9", "10.42.0.19", "replica")}),
      Discovery(), Defaults());
  ASSERT_TRUE(found);
  EXPECT_EQ(Names(found->members), std::vector<std::string>{"pgmain-1@10.42.0.11"});
}

TEST(CnpgMembersTest, APodListWithoutItemsIsAProtocolError) {
  auto found = ReadCnpgMembers(Cluster({}, ""), json{{"kind", "Status"}}, Discovery(), Defaults());
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, ErrorCode::kProtocol);
}

class CnpgDiscoveryRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.SetToken("discovery-token");
    kubeconfig_ = dir_.Write("kubeconfig", R"(
current-context: test
clusters: [{ name: fake, cluster: { server: ")" +
                                               fake_.url() + R"(" } }]
users: [{ name: u, user: { token: discovery-token } }]
contexts: [{ name: test, context: { cluster: fake, user: u } }]
)");
  }

  void Serve(const json& cluster, const json& pods) {
    fake_.SetBody(kClusterPath, cluster.dump());
    fake_.SetBody(kPodsPath, pods.dump());
  }

  FakeKube fake_;
  TempDir dir_;
  std::string kubeconfig_;
};

// The lister asks the API server (Cluster, then its pods by label) and follows a pod replaced
// with a new IP and a scale-down on the next call once `refresh` has passed.
TEST_F(CnpgDiscoveryRunTest, FollowsPodIpChangeAndScaleDown) {
  auto config = ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ + "\n", "test.yaml");
  ASSERT_TRUE(config) << config.error().message;
  PgDiscovery discovery = Discovery();
  discovery.refresh = std::chrono::milliseconds(0);
  auto list = MakeCnpgMemberLister(discovery, Defaults(), **config);
  auto members = [&] { return list(Deadline::In(std::chrono::seconds(3)), std::stop_token{}); };

  Serve(Cluster({"pgmain-1", "pgmain-2", "pgmain-3"}, "pgmain-1"),
        Pods({Pod("pgmain-1", "10.42.0.11", "primary"), Pod("pgmain-2", "10.42.0.12", "replica"),
              Pod("pgmain-3", "10.42.0.13", "replica")}));
  auto first = members();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(Names(*first), (std::vector<std::string>{"pgmain-1@10.42.0.11", "pgmain-2@10.42.0.12",
                                                     "pgmain-3@10.42.0.13"}));
  bool asked_by_label = false;
  for (const auto& request : fake_.Requests()) {
    asked_by_label = asked_by_label || request == std::string("GET ") + kPodsPath +
                                                      "?labelSelector=cnpg.io%2Fcluster%3Dpgmain";
  }
  EXPECT_TRUE(asked_by_label) << "pods not listed by the cnpg.io/cluster label";

  // pgmain-2 rescheduled: same name, new IP.
  Serve(Cluster({"pgmain-1", "pgmain-2", "pgmain-3"}, "pgmain-1"),
        Pods({Pod("pgmain-1", "10.42.0.11", "primary"), Pod("pgmain-2", "10.42.1.52", "replica"),
              Pod("pgmain-3", "10.42.0.13", "replica")}));
  auto moved = members();
  ASSERT_TRUE(moved);
  EXPECT_EQ(Names(*moved), (std::vector<std::string>{"pgmain-1@10.42.0.11", "pgmain-2@10.42.1.52",
                                                     "pgmain-3@10.42.0.13"}));

  // Scaled down to two instances.
  Serve(Cluster({"pgmain-1", "pgmain-2"}, "pgmain-1"),
        Pods({Pod("pgmain-1", "10.42.0.11", "primary"), Pod("pgmain-2", "10.42.1.52", "replica")}));
  auto scaled = members();
  ASSERT_TRUE(scaled);
  EXPECT_EQ(Names(*scaled),
            (std::vector<std::string>{"pgmain-1@10.42.0.11", "pgmain-2@10.42.1.52"}));

  // The API server refusing is the run's error, named, not an empty cluster.
  fake_.Set(kPodsPath, FakeKube::Error(403, "Forbidden", "pods is forbidden"));
  auto refused = members();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAuth);
}

// Within `refresh` the member list is reused: one discovery serves every probe run of the
// interval instead of two API calls per run.
TEST_F(CnpgDiscoveryRunTest, ReusesTheMemberListWithinRefresh) {
  auto config = ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ + "\n", "test.yaml");
  ASSERT_TRUE(config);
  PgDiscovery discovery = Discovery();
  discovery.refresh = std::chrono::seconds(60);
  auto list = MakeCnpgMemberLister(discovery, Defaults(), **config);
  Serve(Cluster({"pgmain-1"}, "pgmain-1"), Pods({Pod("pgmain-1", "10.42.0.11", "primary")}));
  ASSERT_TRUE(list(Deadline::In(std::chrono::seconds(3)), std::stop_token{}));
  const size_t calls = fake_.Requests().size();
  Serve(Cluster({}, ""), Pods({}));
  auto again = list(Deadline::In(std::chrono::seconds(3)), std::stop_token{});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), 1u);
  EXPECT_EQ(fake_.Requests().size(), calls);
}

// A whole pg_instance run on a discovered cluster: each discovered pod is a member of the run
// (here on a closed loopback port: server_up 0), and a scale-down is followed by the next run.
TEST_F(CnpgDiscoveryRunTest, ProbesSeeTheDiscoveredMembers) {
  auto config =
      ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ +
                      "\npostgres:\n  clusters:\n    - name: pgmain\n"
                      "      defaults: { user: dbcanary, connect_timeout: 1s }\n"
                      "      discover: { kubernetes: { cluster: pgmain, namespace: db, port: 1, "
                      "refresh: 1s, tls_server_name: localhost } }\n"
                      "      probes:\n        pg_instance: {}\n",
                  "test.yaml");
  ASSERT_TRUE(config) << config.error().message;
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  auto probe = registry.Create(*(*config)->AllProbes().at(0), **config);
  ASSERT_TRUE(probe) << probe.error().message;
  spdlog::logger log("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto run = [&] {
    return (*probe)->Run(ProbeContext{Deadline::In(std::chrono::seconds(3)), {}, log});
  };
  auto servers = [](const ProbeResult& result) {
    std::vector<std::string> names;
    for (const auto& sample : result.samples) {
      if (sample.name == kPgServerUp) names.push_back(sample.labels.at(1).second);
    }
    return names;
  };
  Serve(Cluster({"pgmain-1", "pgmain-2"}, "pgmain-1"),
        Pods({Pod("pgmain-1", "127.0.0.1", "primary"), Pod("pgmain-2", "127.0.0.1", "replica")}));
  auto first = run();
  EXPECT_EQ(servers(first), (std::vector<std::string>{"pgmain-1", "pgmain-2"}));
  ASSERT_TRUE(first.error);
  EXPECT_EQ(first.error->code, ErrorCode::kConnect);  // nothing listens on port 1

  Serve(Cluster({"pgmain-1"}, "pgmain-1"), Pods({Pod("pgmain-1", "127.0.0.1", "primary")}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the configured refresh
  EXPECT_EQ(servers(run()), std::vector<std::string>{"pgmain-1"});
}

}  // namespace
}  // namespace dbcanary
