#include "probes/postgres/pg_tenants_probe.h"

#include <gtest/gtest.h>

#include "config/config.h"

namespace dbcanary {
namespace {

std::shared_ptr<const Config> Load(const std::string& probe_line) {
  auto config = ParseConfig(R"(
postgres:
  clusters:
    - name: pg
      defaults: { user: dbcanary }
      primary: { name: pg-1, host: 127.0.0.1 }
      probes:
)" + probe_line + "\n",
                            "test.yaml");
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return std::make_shared<const Config>();
  }
  return *config;
}

Result<std::unique_ptr<Probe>> Create(const Config& config) {
  ProbeRegistry registry;
  RegisterBuiltinProbes(registry);
  return registry.Create(config.postgres_clusters.at(0).probes.at(0), config);
}

TEST(PgTenantsProbeTest, FactoryAcceptsDeclaredTenants) {
  auto probe = Create(
      *Load("        pg_tenants: { tenants: [{database: app, owner: app, extensions: [pg_trgm]}, "
            "{database: other, encoding: SQL_ASCII}] }"));
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), 4u);
}

TEST(PgTenantsProbeTest, FactoryIsStrict) {
  struct Case {
    std::string line;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {"        pg_tenants: {}", "at least one"},
           {"        pg_tenants: { tenants: [{owner: app}] }", "tenants[0].database"},
           {"        pg_tenants: { tenants: [{database: a, ownr: app}] }", "tenants[0].ownr"},
           {"        pg_tenants: { tenants: [{database: a}, {database: a}] }", "declared twice"},
           {"        pg_tenants: { tenants: [{database: a, login: {user: u, pass: x}}] }",
            "login.pass"},
           {"        pg_tenants: { tenants: [{database: a}], extra: 1 }", "pg_tenants.extra"},
       }) {
    auto probe = Create(*Load(c.line));
    ASSERT_FALSE(probe) << c.line;
    EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
    EXPECT_NE(probe.error().message.find(c.message), std::string::npos)
        << c.line << " -> " << probe.error().message;
  }
}

TEST(PgTenantsProbeTest, TextArrayLiteralQuotesAndEscapes) {
  EXPECT_EQ(TextArrayLiteral({}), "{}");
  EXPECT_EQ(TextArrayLiteral({"a", "b c"}), "{\"a\",\"b c\"}");
  EXPECT_EQ(TextArrayLiteral({"x\"y\\z", "NULL"}), "{\"x\\\"y\\\\z\",\"NULL\"}");
}

const ExpectationResult* Find(const ProbeResult& result, const std::string& check) {
  for (const auto& e : result.expectations) {
    if (e.check == check) return &e;
  }
  return nullptr;
}

TEST(PgTenantsProbeTest, ReportsMismatchesWithBoundedChecks) {
  TenantSpec spec;
  spec.database = "app";
  spec.owner = "app";
  spec.extensions = {"pg_trgm", "btree_gist", "uuid-ossp"};
  TenantFacts facts;
  facts.exists = true;
  facts.owner = "postgres";
  facts.encoding = "UTF8";
  facts.size_bytes = 8e6;
  facts.extensions_read = true;
  facts.extensions = {"plpgsql", "pg_trgm"};
  facts.login_success = false;
  ProbeResult result;
  ReportTenant("pg", spec, facts, result);
  EXPECT_TRUE(Find(result, "tenant_database_exists")->pass);
  EXPECT_FALSE(Find(result, "tenant_owner")->pass);
  EXPECT_EQ(Find(result, "tenant_owner")->target, "app");
  EXPECT_TRUE(Find(result, "tenant_encoding")->pass);
  EXPECT_FALSE(Find(result, "tenant_extensions")->pass);
  EXPECT_EQ(Find(result, "tenant_extensions")->observed_text, "missing: btree_gist, uuid-ossp");
  EXPECT_FALSE(Find(result, "tenant_login")->pass);
  int extension_samples = 0;
  for (const auto& sample : result.samples) {
    if (sample.name == kPgTenantExtensionInstalled) extension_samples++;  // declared only
  }
  EXPECT_EQ(extension_samples, 3);
}

TEST(PgTenantsProbeTest, MissingDatabaseReportsOnlyExistence) {
  TenantSpec spec;
  spec.database = "gone";
  spec.owner = "app";
  spec.extensions = {"pg_trgm"};
  ProbeResult result;
  ReportTenant("pg", spec, TenantFacts{}, result);
  ASSERT_EQ(result.expectations.size(), 1u);
  EXPECT_FALSE(result.expectations[0].pass);
  EXPECT_EQ(result.expectations[0].check, "tenant_database_exists");
  ASSERT_EQ(result.samples.size(), 1u);
  EXPECT_EQ(result.samples[0].name, kPgTenantDatabaseExists);
  EXPECT_EQ(result.samples[0].value, 0);
}

}  // namespace
}  // namespace dbcanary
