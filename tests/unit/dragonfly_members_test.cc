// Members of a Dragonfly discovered through the Kubernetes API (probes/kubernetes/
// dragonfly_members.h), from Pod objects shaped as the Dragonfly operator
// (github.com/dragonflydb/dragonfly-operator) writes them, served by the fake API server.
// Field origins:
//   Pod (core/v1 Pod, listed with labelSelector app=NAME,app.kubernetes.io/name=dragonfly, the
//   StatefulSet's selector in internal/resources/resources.go):
//     .metadata.labels["app"]                           DragonflyNameLabelKey = the Dragonfly name
//     .metadata.labels["app.kubernetes.io/name"]        KubernetesAppNameLabelKey = "dragonfly"
//     .metadata.labels["app.kubernetes.io/part-of"]     KubernetesPartOfLabelKey = "dragonfly"
//     .metadata.labels["app.kubernetes.io/instance"]    KubernetesAppInstanceLabelKey = name
//     .metadata.labels["app.kubernetes.io/component"]   KubernetesAppComponentLabelKey
//     .metadata.labels["app.kubernetes.io/managed-by"]  "dragonfly-operator"
//     .metadata.labels["role"]        RoleLabelKey: "master" / "replica", set by the controller
//                                     (internal/controller/dragonfly_instance.go) after
//                                     SLAVE OF NO ONE / REPLICAOF; absent until then
//     .metadata.labels["master-ip"]   MasterIpLabelKey, on replicas: the master's pod IP
//     .metadata.annotations["operator.dragonflydb.io/masterIP"]  MasterIpAnnotationKey (master)
//     .metadata.labels["statefulset.kubernetes.io/pod-name"]     set by the StatefulSet controller
//     .metadata.deletionTimestamp     (ObjectMeta.DeletionTimestamp: a pod going away)
//     .spec.containers[name=dragonfly].ports[]  {name: "redis", containerPort: 6379}
//                                     (DragonflyPortName/DragonflyPort), {name: "admin", 9999}
//     .status.podIP                   (PodStatus.PodIP)

#include "probes/kubernetes/dragonfly_members.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

constexpr char kPodsPath[] = "/api/v1/namespaces/cache/pods";

json Pod(const std::string& name, const std::string& ip, const std::string& role,
         int redis_port = 6379) {
  json labels = {{"app", "sessions"},
                 {"app.kubernetes.io/name", "dragonfly"},
                 {"app.kubernetes.io/part-of", "dragonfly"},
                 {"app.kubernetes.io/instance", "sessions"},
                 {"app.kubernetes.io/component", "dragonfly"},
                 {"app.kubernetes.io/managed-by", "dragonfly-operator"},
                 {"controller-revision-hash", "sessions-6c9f7d8b5"},
                 {"statefulset.kubernetes.io/pod-name", name}};
  json annotations = json::object();
  if (!role.empty()) labels["role"] = role;
  if (role == "replica") labels["master-ip"] = "10.42.3.10";
  if (role == "master") annotations["operator.dragonflydb.io/masterIP"] = ip;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "cache"},
            {"labels", labels},
            {"annotations", annotations},
            {"ownerReferences",
             {{{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"name", "sessions"}}}}}},
          {"spec",
           {{"containers",
             {{{"name", "dragonfly"},
               {"image", "docker.dragonflydb.io/dragonflydb/dragonfly:v1.21.2"},
               {"ports",
                {{{"name", "redis"}, {"containerPort", redis_port}, {"protocol", "TCP"}},
                 {{"name", "admin"}, {"containerPort", 9999}, {"protocol", "TCP"}}}}}}}}},
          {"status", {{"phase", "Running"}, {"podIP", ip}}}};
}

json Pods(std::vector<json> items) {
  return {{"apiVersion", "v1"}, {"kind", "PodList"}, {"items", std::move(items)}};
}

DragonflyDiscovery Discovery() {
  DragonflyDiscovery discovery;
  discovery.dragonfly = "sessions";
  discovery.namespace_ = "cache";
  return discovery;
}

RedisEndpoint Defaults() {
  RedisEndpoint defaults;
  defaults.name = "sessions";
  defaults.username = "dbcanary";
  return defaults;
}

std::vector<std::string> Described(const DragonflyMemberList& list) {
  std::vector<std::string> out;
  for (size_t i = 0; i < list.members.size(); ++i) {
    const RedisEndpoint& member = list.members[i];
    out.push_back(member.name + "@" + member.host + ":" + std::to_string(member.port) + "=" +
                  list.labelled_roles[i]);
  }
  return out;
}

// Each pod with an IP is a member reached by its IP on its "redis" container port, with the
// target's credentials; its role label is kept; a pod not scheduled yet and a pod being deleted
// are not members. A pod the operator has not labelled yet is a member without a label.
TEST(DragonflyMembersTest, OperatorPodsBecomeMembersByIpWithTheirRoleLabel) {
  json leaving = Pod("sessions-3", "10.42.3.13", "replica");
  leaving["metadata"]["deletionTimestamp"] = "2026-12-03T10:00:00Z";
  auto found = ReadDragonflyPods(
      Pods({Pod("sessions-1", "10.42.3.11", "replica"), Pod("sessions-0", "10.42.3.10", "master"),
            Pod("sessions-2", "10.42.3.12", ""), Pod("sessions-4", "", ""), leaving}),
      Discovery(), Defaults());
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_EQ(Described(*found), (std::vector<std::string>{"sessions-0@10.42.3.10:6379=master",
                                                         "sessions-1@10.42.3.11:6379=replica",
                                                         "sessions-2@10.42.3.12:6379="}));
  EXPECT_EQ(found->members.front().username, "dbcanary");
}

// The port: `port:` when set, else the pod's container port named "redis", else 6379.
TEST(DragonflyMembersTest, PortFromConfigElseFromTheRedisContainerPort) {
  json unnamed = Pod("sessions-1", "10.42.3.11", "replica");
  unnamed["spec"]["containers"][0]["ports"] = json::array();
  auto found = ReadDragonflyPods(Pods({Pod("sessions-0", "10.42.3.10", "master", 7000), unnamed}),
                                 Discovery(), Defaults());
  ASSERT_TRUE(found);
  EXPECT_EQ(found->members.at(0).port, 7000);
  EXPECT_EQ(found->members.at(1).port, 6379);
  DragonflyDiscovery fixed = Discovery();
  fixed.port = 6380;
  auto overridden =
      ReadDragonflyPods(Pods({Pod("sessions-0", "10.42.3.10", "master", 7000)}), fixed, Defaults());
  ASSERT_TRUE(overridden);
  EXPECT_EQ(overridden->members.at(0).port, 6380);
}

TEST(DragonflyMembersTest, APodListWithoutItemsIsAProtocolError) {
  auto found = ReadDragonflyPods(json{{"kind", "Status"}}, Discovery(), Defaults());
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, ErrorCode::kProtocol);
}

// A label that says something else than the server is named; members without a label or without
// an answer are not compared.
TEST(DragonflyMembersTest, LabelDisagreementsNameTheMember) {
  DragonflyRoles roles;
  for (const char* name : {"sessions-0", "sessions-1", "sessions-2", "sessions-3"}) {
    RedisEndpoint member;
    member.name = name;
    roles.members.push_back(member);
  }
  roles.roles = {"replica", "master", "replica", ""};
  roles.labelled_roles = {"master", "master", "", "replica"};
  EXPECT_EQ(roles.LabelDisagreements(),
            std::vector<std::string>{"sessions-0: labelled master, answers replica"});
  EXPECT_EQ(roles.Master().name, "sessions-1");  // the server's word, not the label's
}

class DragonflyDiscoveryRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.SetToken("df-token");
    kubeconfig_ = dir_.Write("kubeconfig", R"(
current-context: test
clusters: [{ name: fake, cluster: { server: ")" +
                                               fake_.url() + R"(" } }]
users: [{ name: u, user: { token: df-token } }]
contexts: [{ name: test, context: { cluster: fake, user: u } }]
)");
  }

  std::shared_ptr<const Config> Load(const std::string& refresh) {
    auto config = ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ +
                                  "\ndragonfly:\n  - name: sessions\n"
                                  "    defaults: { username: dbcanary, connect_timeout: 1s }\n"
                                  "    discover: { kubernetes: { namespace: cache, refresh: " +
                                  refresh + " } }\n",
                              "test.yaml");
    EXPECT_TRUE(config) << config.error().message;
    return config ? *config : nullptr;
  }

  FakeKube fake_;
  TempDir dir_;
  std::string kubeconfig_;
};

// The lister asks for the pods by the StatefulSet's selector and follows, on the next call once
// `refresh` has passed, a pod replaced with a new IP, a relabelled failover, a pod gone and a
// new one; the API server refusing is the call's error, not an empty target.
TEST_F(DragonflyDiscoveryRunTest, FollowsPodsAppearingDisappearingAndChangingIp) {
  auto config = Load("1s");
  ASSERT_TRUE(config);
  const Dragonfly& target = config->dragonflies.at(0);
  ASSERT_TRUE(target.discover);
  EXPECT_EQ(target.discover->dragonfly, "sessions");  // name defaults to the target's
  // Within refresh the list is reused; 0 makes every call ask, as after one interval.
  Dragonfly every_call = target;
  every_call.discover->refresh = std::chrono::milliseconds(0);
  auto list = MakeDragonflyMemberLister(every_call, *config);
  auto members = [&] { return list(Deadline::In(std::chrono::seconds(3))); };

  fake_.SetBody(kPodsPath, Pods({Pod("sessions-0", "10.42.3.10", "master"),
                                 Pod("sessions-1", "10.42.3.11", "replica")})
                               .dump());
  auto first = members();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(Described(*first), (std::vector<std::string>{"sessions-0@10.42.3.10:6379=master",
                                                         "sessions-1@10.42.3.11:6379=replica"}));
  ASSERT_FALSE(fake_.Requests().empty());
  EXPECT_EQ(fake_.Requests().back(),
            std::string("GET ") + kPodsPath +
                "?labelSelector=app%3Dsessions%2Capp.kubernetes.io%2Fname%3Ddragonfly");

  // The operator's failover: sessions-0 rescheduled with a new IP and now a replica,
  // sessions-1 promoted; then sessions-1 gone and sessions-2 added.
  fake_.SetBody(kPodsPath, Pods({Pod("sessions-0", "10.42.5.20", "replica"),
                                 Pod("sessions-1", "10.42.3.11", "master")})
                               .dump());
  auto moved = members();
  ASSERT_TRUE(moved);
  EXPECT_EQ(Described(*moved), (std::vector<std::string>{"sessions-0@10.42.5.20:6379=replica",
                                                         "sessions-1@10.42.3.11:6379=master"}));
  fake_.SetBody(kPodsPath, Pods({Pod("sessions-0", "10.42.5.20", "master"),
                                 Pod("sessions-2", "10.42.3.12", "replica")})
                               .dump());
  auto replaced = members();
  ASSERT_TRUE(replaced);
  EXPECT_EQ(Described(*replaced), (std::vector<std::string>{"sessions-0@10.42.5.20:6379=master",
                                                            "sessions-2@10.42.3.12:6379=replica"}));

  fake_.Set(kPodsPath, FakeKube::Error(403, "Forbidden", "pods is forbidden"));
  auto refused = members();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kAuth);
}

// Probes of the same target share one list: within refresh the API server is asked once.
TEST_F(DragonflyDiscoveryRunTest, ProbesOfOneTargetShareTheListWithinRefresh) {
  auto config = Load("60s");
  ASSERT_TRUE(config);
  fake_.SetBody(kPodsPath, Pods({Pod("sessions-0", "10.42.3.10", "master")}).dump());
  auto first = MakeDragonflyMemberLister(config->dragonflies.at(0), *config);
  auto second = MakeDragonflyMemberLister(config->dragonflies.at(0), *config);
  ASSERT_TRUE(first(Deadline::In(std::chrono::seconds(3))));
  const size_t calls = fake_.Requests().size();
  auto again = second(Deadline::In(std::chrono::seconds(3)));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->members.size(), 1u);
  EXPECT_EQ(fake_.Requests().size(), calls);
}

// No pod at all, or no list: the roles carry an error naming the target (what the probes fail
// with), never a member to write on.
TEST_F(DragonflyDiscoveryRunTest, NoPodIsANamedErrorNotAMember) {
  auto config = Load("1s");
  ASSERT_TRUE(config);
  fake_.SetBody(kPodsPath, Pods({}).dump());
  auto lister = MakeDragonflyMemberLister(config->dragonflies.at(0), *config);
  DragonflyRoles roles =
      ResolveDragonflyRoles(lister, "sessions", Deadline::In(std::chrono::seconds(3)));
  ASSERT_TRUE(roles.error);
  EXPECT_EQ(roles.error->message, "dragonfly sessions: no member found");
  EXPECT_TRUE(roles.members.empty());
  EXPECT_TRUE(roles.Master().host.empty());
}

TEST(DragonflyDiscoveryConfigTest, DiscoverIsExclusiveWithMasterAndNeedsKubernetes) {
  auto both = ParseConfig(
      "kubernetes: { kubeconfig: /dev/null }\n"
      "dragonfly:\n  - name: s\n    master: { host: h }\n"
      "    discover: { kubernetes: { namespace: cache } }\n",
      "test.yaml");
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("set either discover: or master:/replicas:, not both"),
            std::string::npos)
      << both.error().message;
  auto no_kube = ParseConfig(
      "dragonfly:\n  - name: s\n    discover: { kubernetes: { namespace: cache } }\n", "test.yaml");
  ASSERT_FALSE(no_kube);
  EXPECT_NE(no_kube.error().message.find("dragonfly \"s\" discovers its members"),
            std::string::npos)
      << no_kube.error().message;
  auto host = ParseConfig(
      "kubernetes: { kubeconfig: /dev/null }\n"
      "dragonfly:\n  - name: s\n    defaults: { host: h }\n"
      "    discover: { kubernetes: { namespace: cache } }\n",
      "test.yaml");
  ASSERT_FALSE(host);
  EXPECT_NE(host.error().message.find("defaults.host: not with discover:"), std::string::npos)
      << host.error().message;
}

}  // namespace
}  // namespace dbcanary
