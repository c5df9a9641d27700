// drills/health.cc against the real stack: what drills check before they start and while
// they wait for a cluster to heal.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "drills/health.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using testing::Stack;

constexpr char kCluster[] = "shared-postgres";

class DrillHealthIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    auto config = Stack::Get().LoadConfig();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
    cluster_ = config_->FindCluster(kCluster);
    ASSERT_NE(cluster_, nullptr);
    ASSERT_FALSE(config_->dragonflies.empty());
  }

  DrillContext Context(milliseconds budget = milliseconds(10000)) {
    return DrillContext{
        Deadline::In(budget), {}, *spdlog::default_logger(), [](std::string_view) {}};
  }

  Result<PgClusterHealth> WaitHealth(size_t streaming) {
    Result<PgClusterHealth> health = MakeError(ErrorCode::kInternal, "not run");
    for (int i = 0; i < 240; ++i) {  // ends as soon as `streaming` standbys stream
      health = InspectPostgresCluster(*cluster_, Context());
      if (health && health->streaming.size() == streaming) break;
      std::this_thread::sleep_for(milliseconds(250));
    }
    return health;
  }

  std::shared_ptr<const Config> config_;
  const PostgresCluster* cluster_ = nullptr;
  testing::StoppedComponents stopped_;  // restarted in teardown, pass or fail
};

// Pins the healthy baseline a drill needs: one primary, both standbys streaming, quorum sync.
TEST_F(DrillHealthIntegrationTest, HealthyStackPassesEveryPrecondition) {
  auto health = InspectPostgresCluster(*cluster_, Context());
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->primary, "shared-postgres-1");
  EXPECT_EQ(health->primaries, 1);
  EXPECT_TRUE(health->unreachable.empty());
  EXPECT_EQ(health->streaming.size(), 2u);
  EXPECT_GE(health->sync_standbys, 1);
  EXPECT_NE(health->replication_table.find("shared-postgres-2"), std::string::npos);
  EXPECT_NE(health->replication_table.find("(2 rows)"), std::string::npos);

  auto primary = FindCurrentPrimary(*cluster_, Context());
  ASSERT_TRUE(primary) << primary.error().message;
  EXPECT_EQ(primary->name, "shared-postgres-1");
  auto healthy = CheckPostgresHealthy(*cluster_, Context());
  EXPECT_TRUE(healthy) << healthy.error().message;
  auto dragonfly = CheckDragonflyHealthy(config_->dragonflies.front(), Context());
  EXPECT_TRUE(dragonfly) << dragonfly.error().message;
}

// Pins the refusal a drill gives on a degraded cluster: it names the standby that is down.
TEST_F(DrillHealthIntegrationTest, StoppedStandbyRefusesNamingIt) {
  ASSERT_TRUE(stopped_.Stop("shared-postgres-3"));
  auto health = WaitHealth(1);
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->primary, "shared-postgres-1");
  ASSERT_EQ(health->unreachable.size(), 1u);
  EXPECT_EQ(health->unreachable.front(), "shared-postgres-3");
  EXPECT_EQ(health->not_streaming, std::vector<std::string>{"shared-postgres-3"});

  auto refused = CheckPostgresHealthy(*cluster_, Context());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnexpected);
  EXPECT_NE(refused.error().message.find("shared-postgres-3"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("streaming"), std::string::npos);

  ASSERT_TRUE(stopped_.Start("shared-postgres-3"));
  health = WaitHealth(2);
  ASSERT_TRUE(health) << health.error().message;
  EXPECT_EQ(health->streaming.size(), 2u);
}

// Pins the Dragonfly refusal: a stopped replica is named, not reported as a healthy set.
TEST_F(DrillHealthIntegrationTest, StoppedDragonflyReplicaRefuses) {
  ASSERT_TRUE(stopped_.Stop("dragonfly-1"));
  auto refused = CheckDragonflyHealthy(config_->dragonflies.front(), Context());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("dragonfly-1"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace dbcanary
