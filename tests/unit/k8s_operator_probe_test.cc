// k8s_cnpg_operator: the pure evaluation of Deployment, CRD and endpoint objects, and whole runs
// against the in-process fake API server (ready, not ready, missing, forbidden).

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cmath>
#include <stop_token>

#include "config/config.h"
#include "probes/kubernetes/k8s_cnpg_operator_probe.h"
#include "probes/probe.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

constexpr const char* kDeploymentPath =
    "/apis/apps/v1/namespaces/cnpg-system/deployments/cnpg-controller-manager";
constexpr const char* kCrdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/";
constexpr const char* kSlicesPath =
    "/apis/discovery.k8s.io/v1/namespaces/cnpg-system/endpointslices";
constexpr const char* kEndpointsPath =
    "/api/v1/namespaces/cnpg-system/endpoints/cnpg-webhook-service";

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

const ExpectationResult* Expectation(const ProbeResult& result, const std::string& check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

// Ready Deployment: replicas/ready/available exported with bounded labels; counts as ready.
TEST(K8sOperatorEvalTest, ReadyDeployment) {
  ProbeResult out;
  double ready = -1, wanted = -1;
  auto result = EvaluateOperatorDeployment(Fixture("operator-deployment-ready.json"), "pg", "cnpg",
                                           std::nullopt, out, &ready, &wanted);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(*result);
  EXPECT_EQ(ready, 1);
  EXPECT_EQ(wanted, 1);
  const Labels labels = {{"target", "pg"},
                         {"operator", "cnpg"},
                         {"k8s_namespace", "cnpg-system"},
                         {"deployment", "cnpg-controller-manager"}};
  EXPECT_EQ(Value(out, "dbcanary_k8s_operator_replicas", labels), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_operator_ready_replicas", labels), 1);
  EXPECT_EQ(Value(out, "dbcanary_k8s_operator_available", labels), 1);
  // Asking for more ready replicas than exist makes it not ready.
  ProbeResult more;
  auto two =
      EvaluateOperatorDeployment(Fixture("operator-deployment-ready.json"), "pg", "cnpg", 2, more);
  ASSERT_TRUE(two);
  EXPECT_FALSE(*two);
}

// Unavailable Deployment (readyReplicas absent, Available False) is not ready; no spec is an error.
TEST(K8sOperatorEvalTest, UnavailableDeploymentAndMalformedObject) {
  ProbeResult out;
  auto result = EvaluateOperatorDeployment(Fixture("operator-deployment-unavailable.json"), "pg",
                                           "cnpg", std::nullopt, out);
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result);
  EXPECT_EQ(Value(out, "dbcanary_k8s_operator_ready_replicas", {}), 0);
  EXPECT_EQ(Value(out, "dbcanary_k8s_operator_available", {}), 0);
  ProbeResult bad;
  auto malformed =
      EvaluateOperatorDeployment(json{{"kind", "Deployment"}}, "pg", "cnpg", std::nullopt, bad);
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, ErrorCode::kProtocol);
}

TEST(K8sOperatorEvalTest, CrdEstablishedAndEndpointCounts) {
  EXPECT_EQ(CrdEstablished(Fixture("crd-clusters.json")), 1);
  EXPECT_EQ(CrdEstablished(Fixture("crd-poolers-installing.json")), 0);
  EXPECT_EQ(CrdEstablished(json::object()), 0);
  auto ready = CountSliceEndpoints(Fixture("endpointslices-webhook-ready.json"));
  EXPECT_EQ(ready.ready, 1);
  EXPECT_EQ(ready.not_ready, 0);
  auto not_ready = CountSliceEndpoints(Fixture("endpointslices-webhook-not-ready.json"));
  EXPECT_EQ(not_ready.ready, 0);
  EXPECT_EQ(not_ready.not_ready, 1);
  auto empty = CountSliceEndpoints(Fixture("endpointslices-webhook-empty.json"));
  EXPECT_EQ(empty.ready + empty.not_ready, 0);
  // discovery/v1: an endpoint without a ready condition counts as ready.
  auto implicit = Fixture("endpointslices-webhook-ready.json");
  implicit["items"][0]["endpoints"][0].erase("conditions");
  EXPECT_EQ(CountSliceEndpoints(implicit).ready, 1);
  auto core = CountCoreEndpoints(Fixture("endpoints-webhook.json"));
  EXPECT_EQ(core.ready, 1);
  EXPECT_EQ(core.not_ready, 1);
}

class K8sOperatorRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fake_ = new FakeKube(); }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }
  void SetUp() override {
    fake_->Clear();
    fake_->SetToken("operator-token");
    kubeconfig_ = dir_.Write("kubeconfig",
                             "current-context: t\nclusters: [{ name: f, cluster: "
                             "{ server: \"" +
                                 fake_->url() +
                                 "\" } }]\nusers: [{ name: u, user: { token: "
                                 "operator-token } }]\ncontexts: [{ name: t, "
                                 "context: { cluster: f, user: u } }]\n");
  }

  Result<std::unique_ptr<Probe>> Build(const std::string& params) {
    auto config = ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ +
                                  "\n  clusters:\n    - name: pgmain-k8s\n      namespace: db\n"
                                  "      probes:\n        k8s_cnpg_operator: " +
                                  params + "\n",
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

  void ServeHealthy() {
    fake_->SetFixture(kDeploymentPath, "operator-deployment-ready.json");
    for (const char* crd : {"clusters", "backups", "scheduledbackups", "poolers"}) {
      fake_->SetFixture(std::string(kCrdPath) + crd + ".postgresql.cnpg.io",
                        std::string("crd-") + crd + ".json");
    }
    fake_->SetFixture(kSlicesPath, "endpointslices-webhook-ready.json");
  }

  static FakeKube* fake_;
  TempDir dir_;
  std::string kubeconfig_;
  std::shared_ptr<const Config> config_;
};
FakeKube* K8sOperatorRunTest::fake_ = nullptr;

// Pins: a healthy operator reads Deployment, 4 CRDs and the webhook slices; all checks pass.
TEST_F(K8sOperatorRunTest, HealthyOperatorPassesEveryCheck) {
  ServeHealthy();
  auto probe = Build("{}");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  for (const char* check :
       {"cnpg_operator_ready", "cnpg_crds_established", "cnpg_webhook_endpoints"}) {
    ASSERT_NE(Expectation(result, check), nullptr) << check;
    EXPECT_TRUE(Expectation(result, check)->pass) << check;
    EXPECT_EQ(Expectation(result, check)->target, "pgmain-k8s");
  }
  EXPECT_EQ(Value(result, "dbcanary_k8s_crd_established",
                  {{"target", "pgmain-k8s"}, {"crd", "scheduledbackups.postgresql.cnpg.io"}}),
            1);
  EXPECT_EQ(Value(result, "dbcanary_k8s_operator_webhook_endpoints",
                  {{"k8s_service", "cnpg-webhook-service"}, {"state", "ready"}}),
            1);
  auto requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[0], std::string("GET ") + kDeploymentPath);
  EXPECT_EQ(requests[5], std::string("GET ") + kSlicesPath +
                             "?labelSelector=kubernetes.io%2Fservice-name%3Dcnpg-webhook-service");
}

// Pins: an unavailable operator, a CRD still installing, a missing CRD and a webhook with no
// ready endpoint are a successful measurement whose three expectations all fail.
TEST_F(K8sOperatorRunTest, NotReadyOperatorFailsExpectationsNotTheRun) {
  ServeHealthy();
  fake_->SetFixture(kDeploymentPath, "operator-deployment-unavailable.json");
  fake_->SetFixture(std::string(kCrdPath) + "poolers.postgresql.cnpg.io",
                    "crd-poolers-installing.json");
  fake_->Set(std::string(kCrdPath) + "backups.postgresql.cnpg.io",
             FakeKube::Error(404, "NotFound", "customresourcedefinitions \"backups\" not found"));
  fake_->SetFixture(kSlicesPath, "endpointslices-webhook-not-ready.json");
  auto probe = Build("{}");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_FALSE(Expectation(result, "cnpg_operator_ready")->pass);
  const auto* crds = Expectation(result, "cnpg_crds_established");
  EXPECT_FALSE(crds->pass);
  EXPECT_EQ(crds->observed, 2);
  EXPECT_EQ(crds->threshold, 4);
  EXPECT_EQ(Value(result, "dbcanary_k8s_crd_established", {{"crd", "backups.postgresql.cnpg.io"}}),
            0);
  EXPECT_EQ(Value(result, "dbcanary_k8s_crd_established", {{"crd", "poolers.postgresql.cnpg.io"}}),
            0);
  EXPECT_FALSE(Expectation(result, "cnpg_webhook_endpoints")->pass);
  EXPECT_EQ(Value(result, "dbcanary_k8s_operator_webhook_endpoints", {{"state", "not_ready"}}), 1);
}

// Pins: Available False with enough ready replicas still fails cnpg_operator_ready.
TEST_F(K8sOperatorRunTest, AvailableConditionIsRequired) {
  ServeHealthy();
  auto deployment = Fixture("operator-deployment-ready.json");
  deployment["status"]["conditions"][0]["status"] = "False";
  fake_->SetBody(kDeploymentPath, deployment.dump());
  auto probe = Build("{}");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  const auto* ready = Expectation(result, "cnpg_operator_ready");
  EXPECT_FALSE(ready->pass);
  EXPECT_NE(ready->observed_text.find("Available not True"), std::string::npos);
}

// Pins: custom names, a CRD subset and core/v1 Endpoints as the webhook source.
TEST_F(K8sOperatorRunTest, CustomNamesAndCoreEndpoints) {
  auto deployment = Fixture("operator-deployment-ready.json");
  deployment["metadata"]["namespace"] = "operators";
  deployment["metadata"]["name"] = "cnpg";
  fake_->SetBody("/apis/apps/v1/namespaces/operators/deployments/cnpg", deployment.dump());
  fake_->SetFixture(std::string(kCrdPath) + "clusters.postgresql.cnpg.io", "crd-clusters.json");
  fake_->SetFixture("/api/v1/namespaces/operators/endpoints/cnpg-webhook",
                    "endpoints-webhook.json");
  auto probe = Build(
      "{ namespace: operators, deployment: cnpg, webhook_service: cnpg-webhook, webhook_source: "
      "endpoints, crds: [clusters.postgresql.cnpg.io], expect: { min_webhook_endpoints: 2 } }");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_TRUE(Expectation(result, "cnpg_operator_ready")->pass);
  EXPECT_TRUE(Expectation(result, "cnpg_crds_established")->pass);
  EXPECT_EQ(Value(result, "dbcanary_k8s_operator_webhook_endpoints",
                  {{"k8s_namespace", "operators"}, {"state", "ready"}}),
            1);
  EXPECT_FALSE(Expectation(result, "cnpg_webhook_endpoints")->pass);  // 1 < 2
  EXPECT_EQ(fake_->Requests().size(), 3u);
}

// Pins: a missing operator Deployment fails the run (kQuery) naming the object.
TEST_F(K8sOperatorRunTest, MissingDeploymentFailsTheRun) {
  ServeHealthy();
  fake_->Set(kDeploymentPath, FakeKube::Error(404, "NotFound", "deployments.apps not found"));
  auto probe = Build("{}");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult result = Run(**probe);
  ASSERT_FALSE(result.success);
  EXPECT_EQ(result.error->code, ErrorCode::kQuery);
  EXPECT_NE(result.error->message.find("deployments.apps cnpg-system/cnpg-controller-manager"),
            std::string::npos)
      << result.error->message;
  EXPECT_TRUE(result.samples.empty());
}

// Pins: missing RBAC (403) on CRDs or EndpointSlices fails the run with the grant to add.
TEST_F(K8sOperatorRunTest, ForbiddenNamesTheMissingGrant) {
  ServeHealthy();
  fake_->Set(std::string(kCrdPath) + "clusters.postgresql.cnpg.io",
             FakeKube::Error(403, "Forbidden", "customresourcedefinitions is forbidden"));
  auto probe = Build("{}");
  ASSERT_TRUE(probe) << probe.error().message;
  ProbeResult crd = Run(**probe);
  ASSERT_FALSE(crd.success);
  EXPECT_EQ(crd.error->code, ErrorCode::kAuth);
  EXPECT_NE(crd.error->message.find("grant verb \"get\" on resource \"customresourcedefinitions\" "
                                    "(group apiextensions.k8s.io)"),
            std::string::npos)
      << crd.error->message;
  EXPECT_TRUE(crd.samples.empty());
  ServeHealthy();
  fake_->Set(kSlicesPath, FakeKube::Error(403, "Forbidden", "endpointslices is forbidden"));
  ProbeResult slices = Run(**probe);
  ASSERT_FALSE(slices.success);
  EXPECT_NE(slices.error->message.find(
                "grant verb \"list\" on resource \"endpointslices\" (group discovery.k8s.io)"),
            std::string::npos)
      << slices.error->message;
}

// Pins: params are read strictly (unknown keys, bad CRD names, unknown webhook source).
TEST_F(K8sOperatorRunTest, FactoryRejectsBadParams) {
  auto unknown = Build("{ expect: { ready: 1 } }");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("k8s_cnpg_operator.expect.ready"), std::string::npos)
      << unknown.error().message;
  auto crd = Build("{ crds: [Clusters] }");
  ASSERT_FALSE(crd);
  EXPECT_NE(crd.error().message.find("not a CRD name"), std::string::npos) << crd.error().message;
  auto source = Build("{ webhook_source: pods }");
  ASSERT_FALSE(source);
  EXPECT_NE(source.error().message.find("webhook_source"), std::string::npos);
}

}  // namespace
}  // namespace dbcanary
