// Drills on a cluster that discovers its members (`discover: kubernetes:`): their health checks,
// their member lookups and the drill lock take the members the discovery sees now (the member
// source the probes use), served here by the fake API server. The pods point at a closed
// loopback port, so every connection fails: what is proven is which members were asked.
// Objects as in cnpg_members_test.cc: Cluster (postgresql.cnpg.io/v1, .status.instanceNames,
// .status.currentPrimary) and Pods (core/v1, .status.podIP, .spec.containers[].ports[] with
// CNPG's {name: "postgresql", containerPort}).

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "drills/drill.h"
#include "drills/health.h"
#include "drills/runtime/drill_lock.h"
#include "drills/runtime/drill_scheduler.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

constexpr char kClusterPath[] = "/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pgmain";
constexpr char kPodsPath[] = "/api/v1/namespaces/db/pods";
constexpr int kClosedPort = 1;  // nothing listens on port 1

json Cluster(const std::vector<std::string>& names) {
  return {{"apiVersion", "postgresql.cnpg.io/v1"},
          {"kind", "Cluster"},
          {"metadata", {{"name", "pgmain"}, {"namespace", "db"}}},
          {"status",
           {{"instanceNames", names}, {"currentPrimary", names.empty() ? "" : names.front()}}}};
}

json Pod(const std::string& name, const std::string& ip, int port) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "db"},
            {"labels", {{"cnpg.io/cluster", "pgmain"}, {"cnpg.io/podRole", "instance"}}}}},
          {"spec",
           {{"containers",
             {{{"name", "postgres"},
               {"ports",
                {{{"name", "postgresql"}, {"containerPort", port}, {"protocol", "TCP"}},
                 {{"name", "metrics"}, {"containerPort", 9187}, {"protocol", "TCP"}}}}}}}}},
          {"status", {{"phase", "Running"}, {"podIP", ip}}}};
}

json Pods(std::vector<json> items) {
  return {{"apiVersion", "v1"}, {"kind", "PodList"}, {"items", std::move(items)}};
}

class DrillDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.SetToken("drill-token");
    const std::string kubeconfig = dir_.Write("kubeconfig", R"(
current-context: test
clusters: [{ name: fake, cluster: { server: ")" + fake_.url() +
                                                                R"(" } }]
users: [{ name: u, user: { token: drill-token } }]
contexts: [{ name: test, context: { cluster: fake, user: u } }]
)");
    auto config = ParseConfig(
        "kubernetes:\n  kubeconfig: " + kubeconfig +
            "\npostgres:\n  clusters:\n    - name: pgmain\n"
            "      defaults: { user: dbcanary, connect_timeout: 1s }\n"
            "      discover: { kubernetes: { cluster: pgmain, namespace: db, refresh: 1s, "
            "tls_server_name: localhost } }\n"
            "poolers:\n  - name: pgmain-rw\n    cluster: pgmain\n"
            "    connection: { host: 127.0.0.1, port: 1, user: app, connect_timeout: 1s }\n"
            "drills:\n  reports_dir: " +
            dir_.path() +
            "\n  lock: { cluster: pgmain, timeout: 3s }\n"
            "  jobs:\n    restore: { cluster: pgmain, backup: { command: [backup.sh] }, restore: { "
            "command: [restore.sh], cleanup: [drop.sh], connection: { host: 127.0.0.1, port: "
            "55432 } } }\n",
        "test.yaml");
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
  }

  void Serve(const std::vector<std::string>& names, std::vector<json> pods) {
    fake_.SetBody(kClusterPath, Cluster(names).dump());
    fake_.SetBody(kPodsPath, Pods(std::move(pods)).dump());
  }

  DrillContext Context() {
    return DrillContext{Deadline::In(std::chrono::seconds(10)), {}, log_, [](std::string_view) {}};
  }

  FakeKube fake_;
  TempDir dir_;
  std::shared_ptr<const Config> config_;
  spdlog::logger log_{"test", std::make_shared<spdlog::sinks::null_sink_mt>()};
};

std::vector<std::string> Described(const std::vector<PgEndpoint>& members) {
  std::vector<std::string> out;
  for (const auto& m : members) {
    out.push_back(m.name + "@" + m.host + "(" + m.hostaddr + "):" + std::to_string(m.port));
  }
  return out;
}

// A drill's members are the pods seen now, each by its IP and the port its container declares,
// verified against tls_server_name; a pod replaced with a new IP is followed once `refresh` has
// passed; a refusal of the API server is the drill's error, naming the cluster.
TEST_F(DrillDiscoveryTest, MembersAreThePodsTheDiscoverySeesNow) {
  ClusterMembers members(config_->postgres_clusters.at(0), *config_);
  EXPECT_TRUE(members.discovered());
  Serve({"pgmain-1", "pgmain-2"},
        {Pod("pgmain-1", "10.42.0.11", 5432), Pod("pgmain-2", "10.42.0.12", 5433)});
  auto now = members.Now(Context());
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_EQ(Described(now->instances),
            (std::vector<std::string>{"pgmain-1@localhost(10.42.0.11):5432",
                                      "pgmain-2@localhost(10.42.0.12):5433"}));
  EXPECT_EQ(now->instances.at(0).user, "dbcanary");

  Serve({"pgmain-1", "pgmain-2"},
        {Pod("pgmain-1", "10.42.0.11", 5432), Pod("pgmain-2", "10.42.7.2", 5433)});
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the configured refresh
  auto moved = members.Now(Context());
  ASSERT_TRUE(moved);
  EXPECT_EQ(Described(moved->instances).at(1), "pgmain-2@localhost(10.42.7.2):5433");

  fake_.Set(kPodsPath, FakeKube::Error(403, "Forbidden", "pods is forbidden"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto refused = members.Now(Context());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAuth);
  EXPECT_NE(refused.error().message.find("cluster pgmain: members not discovered"),
            std::string::npos)
      << refused.error().message;
}

// The drill lock of a discovered lock cluster asks the discovered pods (here nothing answers
// there: no primary reachable, with the pod's address in the last error); no pod at all is a
// named error, not a division by an empty member list.
TEST_F(DrillDiscoveryTest, DrillLockUsesTheDiscoveredMembers) {
  auto lock = MakeDrillLock(*config_);
  ASSERT_TRUE(lock);
  Serve({"pgmain-1"}, {Pod("pgmain-1", "127.0.0.1", kClosedPort)});
  auto refused = lock->Acquire("failover", log_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("drill lock on cluster pgmain: no primary reachable"),
            std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("127.0.0.1"), std::string::npos)
      << refused.error().message;

  Serve({}, {});
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the configured refresh
  auto empty = lock->Acquire("failover", log_);
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("the cluster has no member"), std::string::npos)
      << empty.error().message;
}

// The failover drill builds on a discovered cluster and its precondition asks the discovered
// pods: the refusal carries the connection error of a pod, not "no instance" of an empty list.
TEST_F(DrillDiscoveryTest, FailoverDrillChecksTheDiscoveredMembers) {
  DrillSettings settings;
  settings.kind = "failover";
  settings.params = std::make_shared<YamlMap>(
      YAML::Load("{cluster: pgmain, pooler: pgmain-rw, trigger: "
                 "{command: [true]}}"),
      "drills.jobs.failover", std::make_shared<const std::string>("test.yaml"));
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  auto drill = registry.Create(settings, *config_);
  ASSERT_TRUE(drill) << drill.error().message;
  Serve({"pgmain-1", "pgmain-2"},
        {Pod("pgmain-1", "127.0.0.1", kClosedPort), Pod("pgmain-2", "127.0.0.1", kClosedPort)});
  auto ready = (*drill)->CheckPreconditions(Context());
  ASSERT_FALSE(ready);
  EXPECT_EQ(ready.error().code, ErrorCode::kConnect) << ready.error().message;
  EXPECT_NE(ready.error().message.find("last error"), std::string::npos) << ready.error().message;
  bool listed = false;
  for (const auto& request : fake_.Requests())
    listed = listed || request.starts_with("GET /api/v1/");
  EXPECT_TRUE(listed) << "the drill did not ask the API server for the pods";
}

// The restore drill's precondition asks the discovered pods too.
TEST_F(DrillDiscoveryTest, RestoreDrillChecksTheDiscoveredMembers) {
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  auto drill = registry.Create(config_->drills->jobs.at(0), *config_);
  ASSERT_TRUE(drill) << drill.error().message;
  Serve({"pgmain-1"}, {Pod("pgmain-1", "127.0.0.1", kClosedPort)});
  auto ready = (*drill)->CheckPreconditions(Context());
  ASSERT_FALSE(ready);
  EXPECT_EQ(ready.error().code, ErrorCode::kConnect) << ready.error().message;
  EXPECT_NE(ready.error().message.find("last error"), std::string::npos) << ready.error().message;
}

}  // namespace
}  // namespace dbcanary
