// pg_tenants against the local stack's real tenant databases on the PostgreSQL primary.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>

#include "probes/postgres/pg_tenants_probe.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::FindExpectation;
using testing::FindSample;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";

// The stack's config with `probes: { pg_tenants: PARAMS }` on the cluster.
std::shared_ptr<const Config> StackConfigWith(const std::string& params) {
  YAML::Node root = YAML::LoadFile(Stack::Get().ConfigPath());
  for (YAML::Node cluster : root["postgres"]["clusters"]) {
    if (cluster["name"].as<std::string>() == kCluster)
      cluster["probes"]["pg_tenants"] = YAML::Load(params);
  }
  auto config = ParseConfig(YAML::Dump(root), Stack::Get().ConfigPath());
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return nullptr;
  }
  return *config;
}

std::string Login(const std::string& user, const std::string& password_owner) {
  return "login: {user: " + user +
         ", password_file: " + Stack::Get().Env("DBCANARY_STACK_SECRETS_DIR") + "/" +
         password_owner + ".password}";
}

// The four tenants exactly as deploy/local/stack.sh creates them.
std::string StackTenants() {
  return "{tenants: ["
         "{database: gitlabhq_production, owner: gitlab, extensions: [pg_trgm, btree_gist], " +
         Login("gitlab", "gitlab") +
         "},"
         "{database: registry, owner: harbor, extensions: [uuid-ossp], " +
         Login("harbor", "harbor") +
         "},"
         "{database: keycloak, owner: keycloak, encoding: UTF8, " +
         Login("keycloak", "keycloak") +
         "},"
         "{database: synergyflow, owner: synergyflow, " +
         Login("synergyflow", "synergyflow") + "}]}";
}

class PgTenantsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { DBCANARY_REQUIRE_STACK(); }

  ProbeResult RunWith(const std::string& params) {
    auto config = StackConfigWith(params);
    if (config == nullptr) return {};
    auto probe = testing::MakeProbe(*config, "pg_tenants", kCluster);
    EXPECT_TRUE(probe) << probe.error().message;
    if (!probe) return {};
    return RunProbeOnce(**probe, milliseconds(5000)).result;
  }
};

// Pins the healthy baseline: every stack tenant exists with its owner, encoding, extensions
// and a working login.
TEST_F(PgTenantsIntegrationTest, AllStackTenantsPass) {
  auto config = StackConfigWith(StackTenants());
  ASSERT_NE(config, nullptr);
  auto probe = testing::MakeProbe(*config, "pg_tenants", kCluster);
  ASSERT_TRUE(probe) << probe.error().message;
  std::vector<double> runs_ms;
  ProbeResult result;
  for (int i = 0; i < 3; ++i) {
    auto run = RunProbeOnce(**probe, milliseconds(5000));
    ASSERT_TRUE(run.result.success) << run.result.error->message;
    runs_ms.push_back(run.seconds * 1000);
    result = std::move(run.result);
  }
  std::printf(
      "[ measure  ] pg_tenants run (4 tenants, 4 logins): median %.2f ms, max %.2f ms "
      "over %zu runs (1 + 2 TLS connects as dbcanary, 3 queries, 4 tenant logins)\n",
      testing::Median(runs_ms), *std::max_element(runs_ms.begin(), runs_ms.end()), runs_ms.size());

  auto sizes = Stack::Get().AdminQuery("shared-postgres-1",
                                       "SELECT pg_database_size('gitlabhq_production') AS size");
  ASSERT_TRUE(sizes) << sizes.error().message;
  for (const char* database : {"gitlabhq_production", "registry", "keycloak", "synergyflow"}) {
    Labels labels = {{"target", kCluster}, {"database", database}};
    EXPECT_EQ(FindSample(result, kPgTenantDatabaseExists, labels), 1) << database;
    EXPECT_EQ(FindSample(result, kPgTenantLoginSuccess, labels), 1) << database;
    EXPECT_GT(FindSample(result, kPgTenantDatabaseSize, labels).value_or(0), 1e6) << database;
    for (const char* check :
         {"tenant_database_exists", "tenant_owner", "tenant_encoding", "tenant_login"}) {
      const auto* expectation = FindExpectation(result, check, database);
      ASSERT_NE(expectation, nullptr) << check << " " << database;
      EXPECT_TRUE(expectation->pass)
          << check << " " << database << ": " << expectation->observed_text;
    }
  }
  // Sizes move a little with autovacuum; within 1 MB of what the superuser sees.
  EXPECT_NEAR(*FindSample(result, kPgTenantDatabaseSize,
                          {{"target", kCluster}, {"database", "gitlabhq_production"}}),
              sizes->Number(0, "size")->value_or(0), 1 << 20);
  for (const char* extension : {"pg_trgm", "btree_gist"}) {
    EXPECT_EQ(
        FindSample(
            result, kPgTenantExtensionInstalled,
            {{"target", kCluster}, {"database", "gitlabhq_production"}, {"extension", extension}}),
        1)
        << extension;
  }
  for (const char* database : {"gitlabhq_production", "registry"}) {
    const auto* extensions = FindExpectation(result, "tenant_extensions", database);
    ASSERT_NE(extensions, nullptr) << database;
    EXPECT_TRUE(extensions->pass) << extensions->observed_text;
  }
}

// Pins each failure mode of a declaration that does not match the server: wrong owner, missing
// extension (named), missing database, refused login; none of them fails the run.
TEST_F(PgTenantsIntegrationTest, MismatchesFailTheirChecks) {
  auto result = RunWith(
      "{tenants: ["
      "{database: gitlabhq_production, owner: harbor},"
      "{database: registry, owner: harbor, extensions: [uuid-ossp, pg_trgm]},"
      "{database: keycloak, owner: keycloak, " +
      Login("keycloak", "harbor") +
      "},"
      "{database: no_such_tenant_db, owner: nobody}]}");
  ASSERT_TRUE(result.success) << (result.error ? result.error->message : "");

  const auto* owner = FindExpectation(result, "tenant_owner", "gitlabhq_production");
  ASSERT_NE(owner, nullptr);
  EXPECT_FALSE(owner->pass);
  EXPECT_EQ(owner->observed_text, "gitlab");

  const auto* extensions = FindExpectation(result, "tenant_extensions", "registry");
  ASSERT_NE(extensions, nullptr);
  EXPECT_FALSE(extensions->pass);
  EXPECT_EQ(extensions->observed_text, "missing: pg_trgm");
  EXPECT_EQ(FindSample(result, kPgTenantExtensionInstalled,
                       {{"target", kCluster}, {"database", "registry"}, {"extension", "pg_trgm"}}),
            0);
  EXPECT_EQ(
      FindSample(result, kPgTenantExtensionInstalled,
                 {{"target", kCluster}, {"database", "registry"}, {"extension", "uuid-ossp"}}),
      1);

  const auto* login = FindExpectation(result, "tenant_login", "keycloak");
  ASSERT_NE(login, nullptr);
  EXPECT_FALSE(login->pass);
  EXPECT_EQ(
      FindSample(result, kPgTenantLoginSuccess, {{"target", kCluster}, {"database", "keycloak"}}),
      0);

  const auto* exists = FindExpectation(result, "tenant_database_exists", "no_such_tenant_db");
  ASSERT_NE(exists, nullptr);
  EXPECT_FALSE(exists->pass);
  EXPECT_EQ(FindSample(result, kPgTenantDatabaseExists,
                       {{"target", kCluster}, {"database", "no_such_tenant_db"}}),
            0);
}

}  // namespace
}  // namespace dbcanary
