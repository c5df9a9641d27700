// A Dragonfly target discovered through the Kubernetes API, against the local stack's redis
// pair: the fake API server serves Pods shaped as the Dragonfly operator writes them (labels
// app, app.kubernetes.io/name, role; container port "redis"), with pod IP 127.0.0.1 and each
// stack server's port. The probes find the master by INFO replication on the discovered members;
// a role label that disagrees with the servers is reported by dragonfly_replication
// (dbcanary_dragonfly_role_label_mismatch per member) while the probes keep working.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "tests/fake_kube/fake_kube_server.h"
#include "tests/integration/harness/stack.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::FakeKube;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kPodsPath[] = "/api/v1/namespaces/cache/pods";

json Pod(const std::string& name, int port, const std::string& role) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", "cache"},
        {"labels",
         {{"app", "dragonfly"},
          {"app.kubernetes.io/name", "dragonfly"},
          {"app.kubernetes.io/part-of", "dragonfly"},
          {"role", role}}}}},
      {"spec",
       {{"containers",
         {{{"name", "dragonfly"}, {"ports", {{{"name", "redis"}, {"containerPort", port}}}}}}}}},
      {"status", {{"phase", "Running"}, {"podIP", "127.0.0.1"}}}};
}

// Pins: the writing probes reach the real master through discovery, labels that agree read 0,
// and swapped labels (the operator lagging behind a failover) read 1 on both pods without failing
// the run or moving the writes off the server that says it is master.
TEST(DragonflyDiscoveryIntegrationTest, DiscoveredMembersAndRoleLabelDisagreement) {
  DBCANARY_REQUIRE_STACK();
  const Stack& stack = Stack::Get();
  FakeKube fake;
  fake.SetToken("df-token");
  testing::TempDir dir;
  const std::string kubeconfig = dir.Write("kubeconfig", R"(
current-context: test
clusters: [{ name: fake, cluster: { server: ")" + fake.url() +
                                                             R"(" } }]
users: [{ name: u, user: { token: df-token } }]
contexts: [{ name: test, context: { cluster: fake, user: u } }]
)");
  auto loaded = stack.LoadConfig();
  ASSERT_TRUE(loaded) << loaded.error().message;
  auto config = std::make_shared<Config>(**loaded);
  ASSERT_FALSE(config->dragonflies.empty());
  Dragonfly& dragonfly = config->dragonflies.front();
  const std::string master_name = dragonfly.master.name;  // dragonfly-0
  const std::string replica_name = dragonfly.replicas.at(0).name;
  dragonfly.master.host.clear();  // the credentials stay: they are what `defaults:` holds
  dragonfly.replicas.clear();
  DragonflyDiscovery discovery;
  discovery.dragonfly = "dragonfly";
  discovery.namespace_ = "cache";
  discovery.refresh = std::chrono::seconds(1);
  dragonfly.discover = discovery;
  KubernetesSettings kube = config->kubernetes.value_or(KubernetesSettings{});
  kube.in_cluster = false;
  kube.kubeconfig = kubeconfig;
  config->kubernetes = kube;

  auto serve = [&](const std::string& master_label, const std::string& replica_label) {
    fake.SetBody(kPodsPath, json{{"kind", "PodList"},
                                 {"apiVersion", "v1"},
                                 {"items",
                                  {Pod(master_name, stack.Port(master_name), master_label),
                                   Pod(replica_name, stack.Port(replica_name), replica_label)}}}
                                .dump());
  };
  serve("master", "replica");
  auto replication = testing::MakeProbe(*config, "dragonfly_replication", dragonfly.name);
  ASSERT_TRUE(replication) << replication.error().message;
  auto basics = testing::MakeProbe(*config, "dragonfly_basics", dragonfly.name);
  ASSERT_TRUE(basics) << basics.error().message;

  ProbeResult agreed = RunProbeOnce(**replication, milliseconds(3000)).result;
  ASSERT_TRUE(agreed.success) << agreed.error->message;
  const auto* master_role = FindExpectation(agreed, "master_role", master_name);
  ASSERT_NE(master_role, nullptr) << "the discovered master is not " << master_name;
  EXPECT_TRUE(master_role->pass) << master_role->observed_text;
  auto mismatch = [&](const ProbeResult& result, const std::string& server) {
    return FindSample(result, "dbcanary_dragonfly_role_label_mismatch",
                      {{"target", dragonfly.name}, {"server", server}});
  };
  EXPECT_EQ(mismatch(agreed, master_name), 0);
  EXPECT_EQ(mismatch(agreed, replica_name), 0);
  auto wrote = RunProbeOnce(**basics, milliseconds(3000));
  EXPECT_TRUE(wrote.result.success) << wrote.result.error->message;

  serve("replica", "master");
  std::this_thread::sleep_for(milliseconds(1100));  // the configured refresh
  ProbeResult swapped = RunProbeOnce(**replication, milliseconds(3000)).result;
  ASSERT_TRUE(swapped.success) << swapped.error->message;
  EXPECT_EQ(mismatch(swapped, master_name), 1);
  EXPECT_EQ(mismatch(swapped, replica_name), 1);
  master_role = FindExpectation(swapped, "master_role", master_name);
  ASSERT_NE(master_role, nullptr) << "the writes followed the label, not the server";
  EXPECT_TRUE(master_role->pass);
}

}  // namespace
}  // namespace dbcanary
