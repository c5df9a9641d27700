#include "probes/pooler/pooler_admin_probe.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

std::shared_ptr<const Config> Load(const std::string& params) {
  ::setenv("DBCANARY_TEST_PGB_ADMIN_PASSWORD", "admin-secret-x1", 1);
  auto config = ParseConfig(R"(
poolers:
  - name: gitlab-pooler-rw
    type: rw
    connection: { host: 127.0.0.1, port: 6432, dbname: gitlab, user: gitlab }
    probes:
      pooler_admin: )" + params +
                                "\n",
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
  return registry.Create(config.poolers.at(0).probes.at(0), config);
}

constexpr char kAdmin[] =
    "admin: { user: pgbouncer_admin, password: \"${DBCANARY_TEST_PGB_ADMIN_PASSWORD}\" }";

TEST(PoolerAdminProbeTest, FactoryAcceptsAdminAndEveryExpectKey) {
  auto config = Load(std::string("{ ") + kAdmin +
                     ", expect: { pool_mode: transaction, max_client_conn: 200, "
                     "default_pool_size: 15, max_db_connections: 0, database: gitlab, "
                     "max_wait_seconds: 1.5 } }");
  auto probe = Create(*config);
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ((*probe)->Describe().size(), PgBouncerMetricDescs().size());
}

TEST(PoolerAdminProbeTest, FactoryRequiresAdmin) {
  auto probe = Create(*Load("{}"));
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
  EXPECT_NE(probe.error().message.find("admin"), std::string::npos) << probe.error().message;
}

TEST(PoolerAdminProbeTest, FactoryRequiresAdminUser) {
  auto probe = Create(*Load("{ admin: { dbname: pgbouncer } }"));
  ASSERT_FALSE(probe);
  EXPECT_NE(probe.error().message.find("pooler_admin.admin.user"), std::string::npos)
      << probe.error().message;
}

TEST(PoolerAdminProbeTest, FactoryRejectsUnknownKeysWithPath) {
  for (const auto& [params, path] : std::vector<std::pair<std::string, std::string>>{
           {std::string("{ ") + kAdmin + ", expect: { poolmode: session } }",
            "pooler_admin.expect.poolmode"},
           {"{ admin: { user: a, colour: red } }", "pooler_admin.admin.colour"},
           {std::string("{ ") + kAdmin + ", query: SHOW POOLS }", "pooler_admin.query"},
       }) {
    SCOPED_TRACE(params);
    auto probe = Create(*Load(params));
    ASSERT_FALSE(probe);
    EXPECT_EQ(probe.error().code, ErrorCode::kConfig);
    EXPECT_NE(probe.error().message.find(path), std::string::npos) << probe.error().message;
  }
}

TEST(PoolerAdminProbeTest, FactoryRejectsBadExpectValues) {
  for (const auto& params : {
           std::string("{ ") + kAdmin + ", expect: { pool_mode: sometimes } }",
           std::string("{ ") + kAdmin + ", expect: { max_client_conn: 0 } }",
           std::string("{ ") + kAdmin + ", expect: { max_wait_seconds: -1 } }",
       }) {
    SCOPED_TRACE(params);
    auto probe = Create(*Load(params));
    ASSERT_FALSE(probe);
    EXPECT_NE(probe.error().message.find("pooler_admin.expect."), std::string::npos)
        << probe.error().message;
  }
}

TEST(PoolerAdminProbeTest, LiteralPasswordIsRefusedWithoutEchoingIt) {
  auto probe = Create(*Load("{ admin: { user: a, password: hunter2-literal } }"));
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().message.find("hunter2-literal"), std::string::npos)
      << probe.error().message;
}

}  // namespace
}  // namespace dbcanary
