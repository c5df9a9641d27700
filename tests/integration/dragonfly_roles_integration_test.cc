// Dragonfly roles follow the servers (issue 18), on the local stack's redis pair: REPLICAOF
// swapped (the replica promoted, the master made its replica) is followed by the probes with the
// same config; the original roles are restored at the end, pass or fail.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "clients/redis/redis_client.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FindExpectation;
using testing::RunProbeOnce;
using testing::Stack;

Status Replicaof(const RedisEndpoint& server, const std::string& host, const std::string& port) {
  auto client = RedisClient::Connect(server, Deadline::In(seconds(5)));
  if (!client) return client.error();
  auto reply = client->Command({"REPLICAOF", host, port});
  if (!reply) return reply.error();
  return Ok{};
}

// Puts dragonfly-0 back as the master and dragonfly-1 as its replica.
class RestoreRoles {
 public:
  RestoreRoles(RedisEndpoint master, RedisEndpoint replica)
      : master_(std::move(master)), replica_(std::move(replica)) {}
  ~RestoreRoles() {
    EXPECT_TRUE(Replicaof(master_, "NO", "ONE"));
    EXPECT_TRUE(Replicaof(replica_, "127.0.0.1", std::to_string(master_.port)));
  }

 private:
  RedisEndpoint master_;
  RedisEndpoint replica_;
};

// Runs `probe` until it succeeds with every expectation met (the new link needs a full sync
// first), at most 60 s; returns the last run.
ProbeResult RunUntilGreen(Probe& probe) {
  const auto started = SteadyClock::now();
  ProbeResult result;
  while (SteadyClock::now() - started < seconds(60)) {
    result = RunProbeOnce(probe, milliseconds(3000)).result;
    bool green = result.success;
    for (const auto& e : result.expectations) green = green && e.pass;
    if (green) return result;
    std::this_thread::sleep_for(milliseconds(500));
  }
  return result;
}

// Pins: after the swap the writes go to dragonfly-1 (it reports role:master), the replica
// watched is dragonfly-0, master_role holds on the new master, and the basics probe writes
// without READONLY; all with the config that named dragonfly-0 `master`.
TEST(DragonflyRolesIntegrationTest, ReplicaofSwapIsFollowedWithoutAConfigChange) {
  DBCANARY_REQUIRE_STACK();
  auto config = Stack::Get().LoadConfig();
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_FALSE((*config)->dragonflies.empty());
  const Dragonfly& dragonfly = (*config)->dragonflies.front();
  ASSERT_EQ(dragonfly.replicas.size(), 1u);
  const RedisEndpoint& configured_master = dragonfly.master;
  const RedisEndpoint& configured_replica = dragonfly.replicas.front();
  auto replication = testing::MakeProbe(**config, "dragonfly_replication", dragonfly.name);
  ASSERT_TRUE(replication) << replication.error().message;
  auto basics = testing::MakeProbe(**config, "dragonfly_basics", dragonfly.name);
  ASSERT_TRUE(basics) << basics.error().message;

  RestoreRoles restore(configured_master, configured_replica);
  ASSERT_TRUE(Replicaof(configured_replica, "NO", "ONE"));
  ASSERT_TRUE(Replicaof(configured_master, "127.0.0.1", std::to_string(configured_replica.port)));

  ProbeResult result = RunUntilGreen(**replication);
  ASSERT_TRUE(result.success) << result.error->message;
  const auto* master_role = FindExpectation(result, "master_role", configured_replica.name);
  ASSERT_NE(master_role, nullptr) << "the master is not the promoted " << configured_replica.name;
  EXPECT_TRUE(master_role->pass) << master_role->observed_text;
  const auto* visible =
      FindExpectation(result, "max_replica_visibility_seconds", configured_master.name);
  ASSERT_NE(visible, nullptr) << "the demoted " << configured_master.name << " is not watched";
  EXPECT_TRUE(visible->pass) << visible->observed_text;
  auto wrote = RunProbeOnce(**basics, milliseconds(3000));
  EXPECT_TRUE(wrote.result.success) << wrote.result.error->message;
}

}  // namespace
}  // namespace dbcanary
