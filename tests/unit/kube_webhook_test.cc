// k8s_cnpg_webhook: the server-side dry-run create against the fake API server. Accepted,
// refused by admission and slow each turn exactly their named check red; our own RBAC and no
// answer fail the run.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <cmath>
#include <stop_token>

#include "config/config.h"
#include "probes/kubernetes/k8s_cnpg_webhook_probe.h"
#include "probes/probe.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using dbcanary::testing::FakeKube;
using dbcanary::testing::TempDir;
using nlohmann::json;

constexpr const char* kClusters = "POST /apis/postgresql.cnpg.io/v1/namespaces/db/clusters";

std::vector<std::string> Verdicts(const ProbeResult& result) {
  std::vector<std::string> out;
  for (const auto& e : result.expectations) out.push_back(e.check + (e.pass ? "=pass" : "=FAIL"));
  return out;
}

// What the API server answers a dry-run create: the object as it would be stored, defaulted by
// the mutating webhook (a trimmed real answer: uid and creationTimestamp set, no status).
std::string DefaultedCluster() {
  json object = WebhookProbeCluster("dbcanary-webhook-probe", "db");
  object["metadata"]["uid"] = "7a1b2c3d-0000-4000-8000-000000000901";
  object["metadata"]["creationTimestamp"] = "2026-12-03T17:40:00Z";
  object["metadata"]["generation"] = 1;
  object["spec"]["imageName"] = "ghcr.io/cloudnative-pg/postgresql:17.2";
  object["spec"]["enablePDB"] = true;
  object["spec"]["primaryUpdateStrategy"] = "unsupervised";
  object["spec"]["postgresql"] = {{"parameters", {{"max_connections", "100"}}}};
  return object.dump();
}

class KubeWebhookTest : public ::testing::Test {
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

  std::unique_ptr<Probe> Build(const std::string& params) {
    auto config = ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ +
                                  "\n  clusters:\n    - name: pgmain-k8s\n      namespace: db\n"
                                  "      cnpg_cluster: pgmain\n      probes:\n        "
                                  "k8s_cnpg_webhook: " +
                                  params + "\n",
                              "test.yaml");
    EXPECT_TRUE(config) << config.error().message;
    if (!config) return nullptr;
    config_ = *config;
    ProbeRegistry registry;
    RegisterBuiltinProbes(registry);
    auto probe = registry.Create(*config_->AllProbes().at(0), *config_);
    EXPECT_TRUE(probe) << probe.error().message;
    return probe ? std::move(*probe) : nullptr;
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

// Pins: the create is a dry run (dryRun=All, nothing stored) of a Cluster named with the
// dbcanary- prefix; an accepted answer passes both checks.
TEST_F(KubeWebhookTest, AcceptedDryRunPassesAndStoresNothing) {
  fake_.Set(kClusters, FakeKube::Route{201, DefaultedCluster()});
  auto probe = Build("{ expect: { max_duration: 2s } }");
  ASSERT_NE(probe, nullptr);
  auto result = Run(*probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(Verdicts(result), (std::vector<std::string>{"cnpg_webhook_dry_run=pass",
                                                        "cnpg_webhook_dry_run_seconds=pass"}));
  ASSERT_EQ(fake_.Requests().size(), 1u);
  EXPECT_EQ(fake_.Requests()[0], std::string(kClusters) + "?dryRun=All");
  auto sent = json::parse(fake_.RequestBodies()[0]);
  EXPECT_EQ(sent["kind"], "Cluster");
  EXPECT_EQ(sent["metadata"]["name"], "dbcanary-webhook-probe");
  EXPECT_EQ(sent["spec"]["instances"], 1);
}

// Pins: a refusal by the validating webhook (422 Invalid with its reason) and a webhook that
// cannot be called (500 InternalError "failed calling webhook") fail cnpg_webhook_dry_run only;
// the run itself succeeds: admission answered.
TEST_F(KubeWebhookTest, RefusedDryRunFailsOnlyTheDryRunCheck) {
  auto probe = Build("{}");
  ASSERT_NE(probe, nullptr);
  fake_.Set(kClusters,
            FakeKube::Error(422, "Invalid",
                            "admission webhook \"vcluster.cnpg.io\" denied the request: "
                            "Cluster.cluster.cnpg.io \"dbcanary-webhook-probe\" is invalid: "
                            "spec.storage.size: Invalid value: \"1Gi\": quota exceeded"));
  auto refused = Run(*probe);
  ASSERT_TRUE(refused.success) << refused.error->message;
  EXPECT_EQ(Verdicts(refused), (std::vector<std::string>{"cnpg_webhook_dry_run=FAIL",
                                                         "cnpg_webhook_dry_run_seconds=pass"}));
  EXPECT_NE(refused.expectations[0].observed_text.find("vcluster.cnpg.io"), std::string::npos)
      << refused.expectations[0].observed_text;
  fake_.Set(kClusters, FakeKube::Error(500, "InternalError",
                                       "Internal error occurred: failed calling webhook "
                                       "\"mcluster.cnpg.io\": failed to call webhook: Post "
                                       "\"https://cnpg-webhook-service.cnpg-system.svc:443/"
                                       "mutate-postgresql-cnpg-io-v1-cluster?timeout=10s\": "
                                       "dial tcp 10.96.12.7:443: connect: connection refused"));
  auto unreachable = Run(*probe);
  ASSERT_TRUE(unreachable.success) << unreachable.error->message;
  EXPECT_EQ(Verdicts(unreachable), (std::vector<std::string>{"cnpg_webhook_dry_run=FAIL",
                                                             "cnpg_webhook_dry_run_seconds=pass"}));
}

// Pins: an accepted answer slower than max_duration fails cnpg_webhook_dry_run_seconds only.
TEST_F(KubeWebhookTest, SlowDryRunFailsOnlyTheDurationCheck) {
  fake_.Set(kClusters, FakeKube::Route{201, DefaultedCluster(), std::chrono::milliseconds(400)});
  auto probe = Build("{ expect: { max_duration: 100ms } }");
  ASSERT_NE(probe, nullptr);
  auto result = Run(*probe);
  ASSERT_TRUE(result.success) << result.error->message;
  EXPECT_EQ(Verdicts(result), (std::vector<std::string>{"cnpg_webhook_dry_run=pass",
                                                        "cnpg_webhook_dry_run_seconds=FAIL"}));
}

// Pins: without the create grant (403) the probe cannot run (kAuth naming the verb); it says
// nothing about the webhook, so both checks fail as unknown.
TEST_F(KubeWebhookTest, MissingCreateGrantFailsTheRun) {
  fake_.Set(kClusters,
            FakeKube::Error(403, "Forbidden", "clusters.postgresql.cnpg.io is forbidden"));
  auto probe = Build("{}");
  ASSERT_NE(probe, nullptr);
  auto result = Run(*probe);
  ASSERT_FALSE(result.success);
  EXPECT_EQ(result.error->code, ErrorCode::kAuth);
  EXPECT_NE(result.error->message.find("\"create\""), std::string::npos) << result.error->message;
  EXPECT_EQ(Verdicts(result), (std::vector<std::string>{"cnpg_webhook_dry_run=FAIL",
                                                        "cnpg_webhook_dry_run_seconds=FAIL"}));
  EXPECT_TRUE(std::isnan(result.expectations[0].observed));
}

TEST_F(KubeWebhookTest, ObjectNameKeepsTheDbcanaryPrefix) {
  auto config = ParseConfig("kubernetes:\n  kubeconfig: " + kubeconfig_ +
                                "\n  clusters:\n    - name: c\n      namespace: db\n      probes:\n"
                                "        k8s_cnpg_webhook: { object_name: prod-cluster }\n",
                            "test.yaml");
  ASSERT_TRUE(config) << config.error().message;
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  auto probe = registry.Create(*(*config)->AllProbes().at(0), **config);
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().message.find("must start with dbcanary-"), std::string::npos);
}

}  // namespace
}  // namespace dbcanary
