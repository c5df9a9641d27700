// k8s_dragonfly: the pure evaluation of the Dragonfly CR and its StatefulSet, and whole runs
// against the in-process fake API server (ready, rolling/degraded, missing, forbidden).

#include "probes/kubernetes/k8s_dragonfly_probe.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cmath>
#include <stop_token>

#include "config/config.h"
#include "probes/probe.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

constexpr const char* kCrPath =
    "/apis/dragonflydb.io/v1alpha1/namespaces/cache/dragonflies/dragonfly";
constexpr const char* kStsPath = "/apis/apps/v1/namespaces/cache/statefulsets/dragonfly";
constexpr const char* kOperatorPath =
    "/apis/apps/v1/namespaces/dragonfly-operator-system/deployments/"
    "dragonfly-operator-controller-manager";

json Fixture(const std::string& name) { return json::parse(FakeKube::Fixture(name)); }

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

const ExpectationResult* Expectation(const ProbeResult& result, const std::string& check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

TEST(K8sDragonflyEvalTest, PhaseLabelsAcrossOperatorVersions) {
  EXPECT_EQ(DragonflyPhaseLabel("Ready"), "ready");
  EXPECT_EQ(DragonflyPhaseLabel("ready"), "ready");
  EXPECT_EQ(DragonflyPhaseLabel("ResourcesCreated"), "resources_created");
  EXPECT_EQ(DragonflyPhaseLabel("resources-created"), "resources_created");
  EXPECT_EQ(DragonflyPhaseLabel("configuring-replication"), "configuring");
  EXPECT_EQ(DragonflyPhaseLabel("Configuring"), "configuring");
  EXPECT_EQ(DragonflyPhaseLabel("RollingUpdate"), "rolling_update");
  EXPECT_EQ(DragonflyPhaseLabel(""), "none");
  EXPECT_EQ(DragonflyPhaseLabel("Exploded"), "other");
  EXPECT_EQ(DragonflyPhaseLabels().size(), 6u);
}

// Ready CR with every StatefulSet replica ready: state set, replicas, both checks pass.
TEST(K8sDragonflyEvalTest, ReadyInstance) {
  ProbeResult out;
  auto sts = Fixture("statefulset-dragonfly-ready.json");
  ASSERT_TRUE(EvaluateDragonfly(Fixture("dragonfly-ready.json"), &sts, "cache", std::nullopt, out));
  const Labels base = {{"target", "cache"}, {"k8s_namespace", "cache"}, {"dragonfly", "dragonfly"}};
  Labels ready_phase = base;
  ready_phase.emplace_back("phase", "ready");
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_phase", ready_phase), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_phase", {{"phase", "rolling_update"}}), 0);
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_rolling_update", base), 0);
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_replicas", base), 2);
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_ready_replicas", base), 2);
  EXPECT_TRUE(Expectation(out, "dragonfly_phase_ready")->pass);
  EXPECT_TRUE(Expectation(out, "dragonfly_replicas_ready")->pass);
  ProbeResult legacy;
  ASSERT_TRUE(EvaluateDragonfly(Fixture("dragonfly-legacy-ready.json"), &sts, "cache", std::nullopt,
                                legacy));
  EXPECT_TRUE(Expectation(legacy, "dragonfly_phase_ready")->pass);
}

// Rolling update with one replica down: both checks fail; min_ready_replicas relaxes one.
TEST(K8sDragonflyEvalTest, RollingUpdateAndDegradedStatefulSet) {
  ProbeResult out;
  auto sts = Fixture("statefulset-dragonfly-degraded.json");
  ASSERT_TRUE(EvaluateDragonfly(Fixture("dragonfly-rolling-update.json"), &sts, "cache",
                                std::nullopt, out));
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_phase", {{"phase", "rolling_update"}}), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_rolling_update", {}), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_ready_replicas", {}), 1);
  const auto* phase = Expectation(out, "dragonfly_phase_ready");
  EXPECT_FALSE(phase->pass);
  EXPECT_EQ(phase->observed_text, "rolling_update");
  const auto* replicas = Expectation(out, "dragonfly_replicas_ready");
  EXPECT_FALSE(replicas->pass);
  EXPECT_EQ(replicas->expected_text, "== 2");
  ProbeResult relaxed;
  ASSERT_TRUE(
      EvaluateDragonfly(Fixture("dragonfly-rolling-update.json"), &sts, "cache", 1, relaxed));
  EXPECT_TRUE(Expectation(relaxed, "dragonfly_replicas_ready")->pass);
}

// No StatefulSet (operator has not created it) counts 0 ready; a CR without spec is an error.
TEST(K8sDragonflyEvalTest, MissingStatefulSetAndMalformedCr) {
  ProbeResult out;
  ASSERT_TRUE(
      EvaluateDragonfly(Fixture("dragonfly-ready.json"), nullptr, "cache", std::nullopt, out));
  EXPECT_EQ(Value(out, "dbcanary_k8s_dragonfly_ready_replicas", {}), 0);
  EXPECT_FALSE(Expectation(out, "dragonfly_replicas_ready")->pass);
  auto no_status = Fixture("dragonfly-ready.json");
  no_status.erase("status");
  ProbeResult fresh;
  ASSERT_TRUE(EvaluateDragonfly(no_status, nullptr, "cache", std::nullopt, fresh));
  EXPECT_EQ(Value(fresh, "dbcanary_k8s_dragonfly_phase", {{"phase", "none"}}), 1);
  ProbeResult bad;
  auto malformed =
      EvaluateDragonfly(json{{"kind", "Dragonfly"}}, nullptr, "cache", std::nullopt, bad);
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kProtocol);
}

class K8sDragonflyRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new FakeKube(); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    fake_->Clear();
    fake_->SetToken("dragonfly-token");
    kubeconfig_ = dir_.Write("kubeconfig",
                             "current-context: t\nclusters: [{ name: f, cluster: "
                             "{ server: \"" +
                                 fake_->url() +
                                 "\" } }]\nusers: [{ name: u, user: { token: "
                                 "dragonfly-token } }]\ncontexts: [{ name: t, "
                                 "context: { cluster: f, user: u } }]\n");
  }

  Result<std::unique_ptr<Probe>> Build(const std::string& params, bool with_kubernetes = true) {
    std::string text =
        "dragonfly:\n  - name: cache\n    master: { host: 127.0.0.1, port: 6379 }\n"
        "    probes:\n      k8s_dragonfly: " +
        params + "\n";
    if (with_kubernetes) text += "kubernetes:\n  kubeconfig: " + kubeconfig_ + "\n";
    auto config = ParseConfig(text, "test.yaml");
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

  void ServeHealthy() {
    fake_->SetFixture(kCrPath, "dragonfly-ready.json");
    fake_->SetFixture(kStsPath, "statefulset-dragonfly-ready.json");
    fake_->SetFixture(kOperatorPath, "dragonfly-operator-deployment.json");
  }

  static FakeKube* fake_;
  TempDir dir_;
  std::string kubeconfig_;
  std::shared_ptr<const Config> config_;
};
FakeKube* K8sDragonflyRunTest::fake_ = nullptr;

constexpr const char* kParams = "{ namespace: cache, name: dragonfly }";

// Pins: one run reads CR, StatefulSet and operator Deployment; all three checks pass.
TEST_F(K8sDragonflyRunTest, HealthyInstanceAndOperator) {
  ServeHealthy();
  auto probe = Build(kParams);
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  for (const char* check :
       {"dragonfly_phase_ready", "dragonfly_replicas_ready", "dragonfly_operator_ready"}) {
    ASSERT_NE(Expectation(result, check), nullptr) << check;
    EXPECT_TRUE(Expectation(result, check)->pass) << check;
  }
  EXPECT_EQ(Value(result, "dbcanary_k8s_operator_ready_replicas",
                  {{"target", "cache"},
                   {"operator", "dragonfly"},
                   {"k8s_namespace", "dragonfly-operator-system"},
                   {"deployment", "dragonfly-operator-controller-manager"}}),
            1);
  auto requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0], std::string("GET ") + kCrPath);
  EXPECT_EQ(requests[1], std::string("GET ") + kStsPath);
  EXPECT_EQ(requests[2], std::string("GET ") + kOperatorPath);
}

// Pins: a rolling, degraded instance under a down operator is measured, and every check fails.
TEST_F(K8sDragonflyRunTest, NotReadyFailsExpectationsNotTheRun) {
  ServeHealthy();
  fake_->SetFixture(kCrPath, "dragonfly-rolling-update.json");
  fake_->SetFixture(kStsPath, "statefulset-dragonfly-degraded.json");
  auto down = Fixture("dragonfly-operator-deployment.json");
  down["status"].erase("readyReplicas");
  down["status"]["conditions"][0]["status"] = "False";
  fake_->SetBody(kOperatorPath, down.dump());
  auto probe = Build(kParams);
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_FALSE(Expectation(result, "dragonfly_phase_ready")->pass);
  EXPECT_FALSE(Expectation(result, "dragonfly_replicas_ready")->pass);
  EXPECT_FALSE(Expectation(result, "dragonfly_operator_ready")->pass);
  EXPECT_EQ(Value(result, "dbcanary_k8s_operator_available", {}), 0);
}

// Pins: a missing CR fails the run naming it; a missing StatefulSet is 0 ready, not a failure.
TEST_F(K8sDragonflyRunTest, MissingObjects) {
  fake_->SetFixture(kOperatorPath, "dragonfly-operator-deployment.json");
  auto probe = Build(kParams);
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult missing_cr = Run(**probe);
  ASSERT_FALSE(missing_cr.success);
  EXPECT_EQ(missing_cr.error->code, ErrorCode::kQuery);
  EXPECT_NE(missing_cr.error->message.find("dragonflies.dragonflydb.io cache/dragonfly"),
            std::string::npos)
      << missing_cr.error->message;
  fake_->SetFixture(kCrPath, "dragonfly-ready.json");
  ProbeResult missing_sts = Run(**probe);
  ASSERT_TRUE(missing_sts.success) << missing_sts.error->message;
  EXPECT_EQ(Value(missing_sts, "dbcanary_k8s_dragonfly_ready_replicas", {}), 0);
  EXPECT_FALSE(Expectation(missing_sts, "dragonfly_replicas_ready")->pass);
}

// Pins: 403 on the CR or on the operator Deployment fails the run with the grant to add.
TEST_F(K8sDragonflyRunTest, ForbiddenNamesTheMissingGrant) {
  ServeHealthy();
  fake_->Set(kCrPath, FakeKube::Error(403, "Forbidden", "dragonflies is forbidden"));
  auto probe = Build(kParams);
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult cr = Run(**probe);
  ASSERT_FALSE(cr.success);
  EXPECT_EQ(cr.error->code, ErrorCode::kAuth);
  EXPECT_NE(cr.error->message.find(
                "grant verb \"get\" on resource \"dragonflies\" (group dragonflydb.io)"),
            std::string::npos)
      << cr.error->message;
  ServeHealthy();
  fake_->Set(kOperatorPath, FakeKube::Error(403, "Forbidden", "deployments is forbidden"));
  ProbeResult op = Run(**probe);
  ASSERT_FALSE(op.success);
  EXPECT_NE(op.error->message.find("grant verb \"get\" on resource \"deployments\" (group apps)"),
            std::string::npos)
      << op.error->message;
  EXPECT_NE(op.error->message.find("in namespace dragonfly-operator-system"), std::string::npos);
  EXPECT_TRUE(op.samples.empty());
}

// Pins: name defaults to the target, operator location is configurable, params are strict.
TEST_F(K8sDragonflyRunTest, ParamsDefaultsAndStrictness) {
  auto cr = Fixture("dragonfly-ready.json");
  cr["metadata"]["name"] = "cache";
  fake_->SetBody("/apis/dragonflydb.io/v1alpha1/namespaces/cache/dragonflies/cache", cr.dump());
  fake_->SetFixture("/apis/apps/v1/namespaces/ops/deployments/dfop",
                    "dragonfly-operator-deployment.json");
  auto probe = Build(
      "{ namespace: cache, operator_namespace: ops, operator_deployment: dfop, "
      "expect: { min_ready_replicas: 0 } }");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_TRUE(Expectation(result, "dragonfly_replicas_ready")->pass);  // 0 >= 0, no StatefulSet
  auto no_namespace = Build("{ name: dragonfly }");
  ASSERT_FALSE(no_namespace);
  EXPECT_NE(no_namespace.error().message.find("k8s_dragonfly.namespace"), std::string::npos)
      << no_namespace.error().message;
  auto unknown = Build("{ namespace: cache, replicas: 2 }");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("k8s_dragonfly.replicas"), std::string::npos);
  auto no_kube = Build(kParams, false);
  ASSERT_FALSE(no_kube);
  EXPECT_NE(no_kube.error().message.find("kubernetes: section"), std::string::npos)
      << no_kube.error().message;
  auto bad_name = Build("{ namespace: Cache }");
  ASSERT_FALSE(bad_name);
}

}  // namespace
}  // namespace dbcanary
