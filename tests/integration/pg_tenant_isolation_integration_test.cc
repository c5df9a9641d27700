// pg_tenants with `isolation: true` against the local stack's real tenant databases: each
// misconfiguration is made for real with GRANT/ALTER, turns exactly its own check red, and is
// undone, pass or fail.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::RunProbeOnce;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";
constexpr char kPrimary[] = "shared-postgres-1";
constexpr char kVictim[] = "synergyflow";  // the database every test misconfigures

void Admin(const std::string& sql, const std::string& dbname = "postgres") {
  auto done = Stack::Get().AdminQuery(kPrimary, sql, dbname);
  EXPECT_TRUE(done) << sql << ": " << done.error().message;
}

// Applies `apply` now and `undo` when the scope ends, pass or fail.
class Misconfigured {
 public:
  Misconfigured(const std::string& apply, std::string undo, std::string dbname = "postgres")
      : undo_(std::move(undo)), dbname_(std::move(dbname)) {
    Admin(apply, dbname_);
  }
  ~Misconfigured() { Admin(undo_, dbname_); }
  Misconfigured(const Misconfigured&) = delete;
  Misconfigured& operator=(const Misconfigured&) = delete;

 private:
  std::string undo_;
  std::string dbname_;
};

class PgTenantIsolationIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    // The stack's own pg_tenants settings (isolation: true and every tenant's login).
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
    auto probe = testing::MakeProbe(*config_, "pg_tenants", kCluster);
    ASSERT_TRUE(probe) << probe.error().message;
    probe_ = std::move(*probe);
  }

  // "check target" of every failing expectation.
  std::set<std::string> Red() {
    auto run = RunProbeOnce(*probe_, milliseconds(10000));
    EXPECT_TRUE(run.result.success) << (run.result.error ? run.result.error->message : "");
    std::printf("[ measure  ] pg_tenants run with isolation: %.2f ms\n", run.seconds * 1000);
    std::set<std::string> red;
    for (const auto& check : run.result.expectations) {
      if (!check.pass) red.insert(check.check + " " + check.target);
    }
    seen_ = run.result.expectations.size();
    return red;
  }

  std::shared_ptr<const Config> config_;
  std::unique_ptr<Probe> probe_;
  size_t seen_ = 0;
};

using Names = std::set<std::string>;

// Pins the stack's baseline: every tenant is isolated, PUBLIC holds nothing, every owner can
// create; 4 isolation checks per tenant are reported.
TEST_F(PgTenantIsolationIntegrationTest, StackTenantsAreIsolated) {
  EXPECT_EQ(Red(), Names{});
  EXPECT_GE(seen_, 4u * 4u);
}

// Pins: GRANT CONNECT ... TO PUBLIC fails tenant_public_connect, and tenant_isolation with it
// (the other tenants' roles now get in), on that database only.
TEST_F(PgTenantIsolationIntegrationTest, ConnectGrantedToPublicFailsPublicConnect) {
  {
    Misconfigured grant(std::string("GRANT CONNECT ON DATABASE ") + kVictim + " TO PUBLIC",
                        std::string("REVOKE CONNECT ON DATABASE ") + kVictim + " FROM PUBLIC");
    EXPECT_EQ(Red(), (Names{std::string("tenant_public_connect ") + kVictim,
                            std::string("tenant_isolation ") + kVictim}));
  }
  EXPECT_EQ(Red(), Names{});
}

// Pins: another tenant's role granted CONNECT fails tenant_isolation alone.
TEST_F(PgTenantIsolationIntegrationTest, OtherTenantGrantedConnectFailsIsolation) {
  {
    Misconfigured grant(std::string("GRANT CONNECT ON DATABASE ") + kVictim + " TO keycloak",
                        std::string("REVOKE CONNECT ON DATABASE ") + kVictim + " FROM keycloak");
    EXPECT_EQ(Red(), Names{std::string("tenant_isolation ") + kVictim});
  }
  EXPECT_EQ(Red(), Names{});
}

// Pins: CREATE on schema public granted to PUBLIC fails tenant_public_create alone.
TEST_F(PgTenantIsolationIntegrationTest, CreateOnSchemaPublicForPublicFailsPublicCreate) {
  {
    Misconfigured grant("GRANT CREATE ON SCHEMA public TO PUBLIC",
                        "REVOKE CREATE ON SCHEMA public FROM PUBLIC", kVictim);
    EXPECT_EQ(Red(), Names{std::string("tenant_public_create ") + kVictim});
  }
  EXPECT_EQ(Red(), Names{});
}

// Pins: an owner that lost its schema public cannot create, and tenant_owner_can_create alone
// fails; nothing the check tried is left behind.
TEST_F(PgTenantIsolationIntegrationTest, OwnerWithoutSchemaFailsOwnerCanCreate) {
  {
    Misconfigured take("ALTER SCHEMA public OWNER TO CURRENT_USER",
                       "ALTER SCHEMA public OWNER TO pg_database_owner", kVictim);
    EXPECT_EQ(Red(), Names{std::string("tenant_owner_can_create ") + kVictim});
  }
  EXPECT_EQ(Red(), Names{});
  auto left = Stack::Get().AdminQuery(
      kPrimary, "SELECT count(*) AS n FROM pg_class WHERE relname LIKE 'dbcanary_owner%'", kVictim);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->Number(0, "n")->value_or(-1), 0);
}

}  // namespace
}  // namespace dbcanary
