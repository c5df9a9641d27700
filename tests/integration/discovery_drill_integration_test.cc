// Drills on a cluster that discovers its members, against the local stack's real servers: the
// fake API server serves a CNPG Cluster and its Pods whose pod IP is 127.0.0.1 and whose
// "postgresql" container port is each stack instance's port, so the discovery finds the real
// shared-postgres-1..3 (each verified against tls_server_name localhost, sslmode verify-full).
// The drill lock, the failover drill's preconditions and a whole failover drill (command trigger:
// stack.sh failover) run on those members. Teardown fails back to shared-postgres-1.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/yaml_reader.h"
#include "drills/drill.h"
#include "drills/health.h"
#include "drills/runtime/drill_lock.h"
#include "tests/fake_kube/fake_kube_server.h"
#include "tests/integration/harness/stack.h"
#include "tests/unit/temp_dir.h"

namespace dbcanary {
namespace {

using nlohmann::json;
using testing::FakeKube;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
constexpr char kPrimary[] = "shared-postgres-1";
const std::vector<std::string> kInstances = {"shared-postgres-1", "shared-postgres-2",
                                             "shared-postgres-3"};

json ClusterObject() {
  return {{"apiVersion", "postgresql.cnpg.io/v1"},
          {"kind", "Cluster"},
          {"metadata", {{"name", kCluster}, {"namespace", "db"}}},
          {"status", {{"instanceNames", kInstances}, {"currentPrimary", kPrimary}}}};
}

// The instance pods as CNPG writes them, each pointing at one stack instance.
json PodList(const Stack& stack) {
  json items = json::array();
  for (const auto& name : kInstances) {
    items.push_back(
        {{"apiVersion", "v1"},
         {"kind", "Pod"},
         {"metadata",
          {{"name", name},
           {"namespace", "db"},
           {"labels", {{"cnpg.io/cluster", kCluster}, {"cnpg.io/podRole", "instance"}}}}},
         {"spec",
          {{"containers",
            {{{"name", "postgres"},
              {"ports", {{{"name", "postgresql"}, {"containerPort", stack.Port(name)}}}}}}}}},
         {"status", {{"phase", "Running"}, {"podIP", "127.0.0.1"}}}});
  }
  return {{"apiVersion", "v1"}, {"kind", "PodList"}, {"items", items}};
}

// The stack's config with shared-postgres discovered through `fake` instead of `instances:`.
class DiscoveredStack {
 public:
  DiscoveredStack() {
    const Stack& stack = Stack::Get();
    fake_.SetToken("stack-token");
    fake_.SetBody("/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/shared-postgres",
                  ClusterObject().dump());
    fake_.SetBody("/api/v1/namespaces/db/pods", PodList(stack).dump());
    const std::string kubeconfig = dir_.Write("kubeconfig", R"(
current-context: test
clusters: [{ name: fake, cluster: { server: ")" + fake_.url() +
                                                                R"(" } }]
users: [{ name: u, user: { token: stack-token } }]
contexts: [{ name: test, context: { cluster: fake, user: u } }]
)");
    auto loaded = stack.LoadConfig();
    if (!loaded) {
      ADD_FAILURE() << loaded.error().message;
      return;
    }
    auto config = std::make_shared<Config>(**loaded);
    for (auto& cluster : config->postgres_clusters) {
      if (cluster.name != kCluster) continue;
      cluster.member_defaults = cluster.instances.front();  // user, password, TLS settings
      PgDiscovery discovery;
      discovery.cnpg_cluster = kCluster;
      discovery.namespace_ = "db";
      discovery.tls_server_name = "localhost";  // what the stack's certificates name
      discovery.refresh = std::chrono::seconds(1);
      cluster.discover = discovery;
      cluster.instances.clear();
    }
    KubernetesSettings kube = config->kubernetes.value_or(KubernetesSettings{});
    kube.in_cluster = false;
    kube.kubeconfig = kubeconfig;
    config->kubernetes = kube;
    config_ = config;
  }

  const Config& config() const { return *config_; }
  const PostgresCluster& cluster() const { return *config_->FindCluster(kCluster); }

 private:
  FakeKube fake_;
  testing::TempDir dir_;
  std::shared_ptr<const Config> config_;
};

DrillContext Context(std::chrono::seconds timeout) {
  return DrillContext{
      Deadline::In(timeout), std::stop_token{}, testing::TestLogger(), [](std::string_view line) {
        std::fprintf(stderr, "[drill] %.*s\n", static_cast<int>(line.size()), line.data());
      }};
}

std::unique_ptr<Drill> FailoverDrill(const Config& config, const Stack& stack) {
  DrillSettings settings;
  settings.kind = "failover";
  settings.timeout = std::chrono::minutes(3);
  const std::string yaml = std::string("{cluster: ") + kCluster +
                           ", pooler: gitlab-pooler-rw, trigger: {command: [env, "
                           "\"DBCANARY_STACK_DIR=" +
                           stack.dir() + "\", \"" + DBCANARY_SOURCE_DIR +
                           "/deploy/local/stack.sh\", failover], timeout: 150s}, "
                           "min_writes_before: 20, min_writes_after: 20, settle: 1s, "
                           "expect: {max_downtime_seconds: 30, max_lost_writes: 0}}";
  settings.params = std::make_shared<YamlMap>(YAML::Load(yaml), "drills.jobs.failover",
                                              std::make_shared<const std::string>("test.yaml"));
  DrillRegistry registry;
  RegisterBuiltinDrills(registry);
  auto drill = registry.Create(settings, config);
  EXPECT_TRUE(drill) << drill.error().message;
  return drill ? std::move(*drill) : nullptr;
}

std::string Cell(const Result<PgTable>& table, std::string_view column) {
  if (!table || table->empty()) return "<no answer>";
  auto value = table->Text(0, column);
  return value && value->has_value() ? **value : "<null>";
}

// The discovered members are the real instances: the health check sees the primary and both
// standbys streaming, the drill lock takes and releases its lease on the discovered primary,
// and the failover drill's preconditions pass.
TEST(DiscoveryDrillIntegrationTest, LockAndHealthUseTheDiscoveredMembers) {
  DBCANARY_REQUIRE_STACK();
  DiscoveredStack discovered;
  ASSERT_TRUE(discovered.cluster().discover);
  const ClusterMembers members(discovered.cluster(), discovered.config());
  auto ctx = Context(std::chrono::seconds(60));
  auto now = members.Now(ctx);
  ASSERT_TRUE(now) << now.error().message;
  ASSERT_EQ(now->instances.size(), 3u);
  EXPECT_EQ(now->instances.at(1).hostaddr, "127.0.0.1");
  EXPECT_EQ(now->instances.at(1).port, Stack::Get().Port("shared-postgres-2"));
  auto health = InspectPostgresCluster(*now, ctx);
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->primary, kPrimary);
  EXPECT_EQ(health->streaming.size(), 2u) << health->replication_table;
  auto healthy = CheckPostgresHealthy(*now, ctx);
  EXPECT_TRUE(healthy) << healthy.error().message;

  DrillLock lock(discovered.cluster(), std::chrono::seconds(5), std::chrono::seconds(30),
                 DrillLock::DefaultHolder(), members.Lister());
  auto lease = lock.Acquire("failover", testing::TestLogger());
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_TRUE((*lease)->Release());

  auto drill = FailoverDrill(discovered.config(), Stack::Get());
  ASSERT_TRUE(drill);
  ASSERT_TRUE(drill->CleanUp(ctx));
  auto ready = drill->CheckPreconditions(ctx);
  EXPECT_TRUE(ready) << ready.error().message;
}

// Brings the primary back to shared-postgres-1, also when the test failed midway.
class FailBack {
 public:
  ~FailBack() {
    const Stack& stack = Stack::Get();
    std::string output;
    auto back = stack.Script({"failover", "--to", kPrimary}, &output, std::chrono::seconds(180));
    EXPECT_TRUE(back) << "fail back: " << (back ? output : back.error().message);
    EXPECT_EQ(Cell(stack.AdminQuery(kPrimary, "SELECT pg_is_in_recovery()::text AS r"), "r"),
              "false");
  }
};

// A whole failover drill on the discovered cluster: a standby is promoted, writes resume with
// none lost, the standbys stream again from the new primary and dbcanary's own probes (built on
// the same discovered cluster) are green again: every check of the drill passes.
TEST(DiscoveryDrillIntegrationTest, FailoverDrillRunsOnTheDiscoveredMembers) {
  DBCANARY_REQUIRE_STACK();
  DiscoveredStack discovered;
  auto drill = FailoverDrill(discovered.config(), Stack::Get());
  ASSERT_TRUE(drill);
  auto ctx = Context(std::chrono::seconds(170));
  ASSERT_TRUE(drill->CleanUp(ctx));
  auto ready = drill->CheckPreconditions(ctx);
  ASSERT_TRUE(ready) << ready.error().message;

  FailBack fail_back;
  DrillResult result = drill->Run(ctx);
  for (const auto& phase : result.phases) {
    std::fprintf(stderr, "phase %-20s %7.3f s %s %s\n", phase.name.c_str(), phase.duration_seconds,
                 phase.ok ? "ok  " : "FAIL", phase.detail.c_str());
  }
  ASSERT_FALSE(result.error) << result.error->message;
  for (const auto& expectation : result.expectations) {
    EXPECT_TRUE(expectation.pass) << expectation.check << " on " << expectation.target
                                  << ": observed " << expectation.observed_text << ", expected "
                                  << expectation.expected_text;
  }
  EXPECT_EQ(Cell(Stack::Get().AdminQuery(kPrimary, "SELECT pg_is_in_recovery()::text AS r"), "r"),
            "true");
}

}  // namespace
}  // namespace dbcanary
