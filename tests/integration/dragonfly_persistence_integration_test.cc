// The dragonfly_persistence drill on the local stack: a real restart of the redis master
// (standing in for Dragonfly) through `stack.sh restart dragonfly-0`.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "clients/redis/redis_client.h"
#include "config/config.h"
#include "drills/drill.h"
#include "drills/health.h"
#include "drills/persistence/dragonfly_persistence_drill.h"
#include "tests/integration/harness/stack.h"

namespace dbcanary {
namespace {

namespace harness = ::dbcanary::testing;
using std::chrono::seconds;

const Sample* Find(const DrillResult& result, const std::string& name) {
  for (const auto& sample : result.samples) {
    if (sample.name == name) return &sample;
  }
  return nullptr;
}

const ExpectationResult* FindCheck(const DrillResult& result, const std::string& check) {
  for (const auto& expectation : result.expectations) {
    if (expectation.check == check) return &expectation;
  }
  return nullptr;
}

std::string Describe(const DrillResult& result) {
  std::string text = result.error ? "error: " + result.error->message + "\n" : "no error\n";
  for (const auto& phase : result.phases) {
    text += fmt::format("  phase {} {:.3f}s {} {}\n", phase.name, phase.duration_seconds,
                        phase.ok ? "ok" : "FAILED", phase.detail);
  }
  for (const auto& e : result.expectations) {
    text += fmt::format("  expect {} {} {} ({} vs {})\n", e.check, e.target,
                        e.pass ? "pass" : "FAIL", e.observed_text, e.expected_text);
  }
  return text;
}

class DragonflyPersistenceDrillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DBCANARY_REQUIRE_STACK();
    const auto& stack = harness::Stack::Get();
    std::ifstream in(stack.ConfigPath());
    std::stringstream text;
    text << in.rdbuf();
    stack_yaml_ = text.str();
  }
  // Whatever a test did, both redis processes run again and the replica is linked.
  void TearDown() override {
    const auto& stack = harness::Stack::Get();
    if (!stack.available()) return;
    EXPECT_TRUE(stack.Start("dragonfly-0"));
    EXPECT_TRUE(stack.Start("dragonfly-1"));
  }

  Result<std::unique_ptr<Drill>> Build(const std::string& restart_argv) {
    const auto& stack = harness::Stack::Get();
    auto config = ParseConfig(
        harness::WithoutDrillsSection(stack_yaml_) +
            "drills:\n  reports_dir: /tmp\n  jobs:\n    dragonfly_persistence: { dragonfly: "
            "dragonfly, keys: 100, restart: { command: " +
            restart_argv + " }, expect: { max_recovery_seconds: 30 } }\n",
        stack.ConfigPath());
    if (!config) return config.error();
    config_ = *config;
    DrillRegistry registry;
    RegisterBuiltinDrills(registry);
    return registry.Create(config_->drills->jobs.at(0), *config_);
  }

  std::string Script(const std::string& shell_tail) const {
    const auto& stack = harness::Stack::Get();
    return fmt::format("[env, \"DBCANARY_STACK_DIR={}\", \"{}\", {}]", stack.dir(),
                       stack.Env("DBCANARY_STACK_SCRIPT"), shell_tail);
  }

  DrillContext Context(seconds budget) {
    return DrillContext{Deadline::In(budget), {}, harness::TestLogger(), [](std::string_view line) {
                          fprintf(stderr, "[drill] %.*s\n", static_cast<int>(line.size()),
                                  line.data());
                        }};
  }

  // How many of the drill's keys exist on the master now.
  long long DrillKeys() const {
    const Dragonfly* dragonfly = config_->FindDragonfly("dragonfly");
    auto client = RedisClient::Connect(dragonfly->master, Deadline::In(seconds(5)));
    EXPECT_TRUE(client) << client.error().message;
    if (!client) return -1;
    auto reply = client->Command({"EVAL", "return #redis.call('KEYS', ARGV[1])", "0",
                                  dragonfly->key_prefix + "drill:persistence:*"});
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? reply->integer() : -1;
  }

  std::string stack_yaml_;
  std::shared_ptr<const Config> config_;
};

// Data written and SAVEd before a restart must all be there afterwards, and the replica must
// re-attach; a restart that loses data or never comes back must not pass.
TEST_F(DragonflyPersistenceDrillTest, RealRestartKeepsEveryKeyAndTheReplicaRelinks) {
  auto drill = Build(Script("restart, dragonfly-0"));
  ASSERT_TRUE(drill) << drill.error().message;
  auto ctx = Context(seconds(90));
  ASSERT_TRUE((*drill)->CleanUp(ctx));
  auto ready = (*drill)->CheckPreconditions(ctx);
  ASSERT_TRUE(ready) << ready.error().message;
  const auto run_started = std::chrono::steady_clock::now();
  DrillResult result = (*drill)->Run(ctx);
  const double run_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - run_started).count();
  ASSERT_FALSE(result.error) << Describe(result);
  EXPECT_TRUE(result.Passed()) << Describe(result);
  const Sample* recovery = Find(result, "dbcanary_drill_dragonfly_persistence_recovery_seconds");
  const Sample* verified = Find(result, "dbcanary_drill_dragonfly_persistence_keys_verified");
  const Sample* written = Find(result, "dbcanary_drill_dragonfly_persistence_keys_written");
  ASSERT_TRUE(recovery && verified && written) << Describe(result);
  // The recovery really spanned the restart (it is timed from the restart's start, which an
  // idle host does in a fraction of a second and a busy one in several), inside the run; the
  // upper bound is the drill's own declared target (max_recovery_seconds: 30).
  double restart_seconds = -1;
  for (const auto& phase : result.phases) {
    if (phase.name == "restart") restart_seconds = phase.duration_seconds;
  }
  EXPECT_GT(restart_seconds, 0) << Describe(result);
  EXPECT_GE(recovery->value, restart_seconds);
  EXPECT_LT(recovery->value, run_seconds);
  EXPECT_LT(recovery->value, 30);
  EXPECT_EQ(written->value, 100);
  EXPECT_EQ(verified->value, 100);
  const auto* keys = FindCheck(result, "keys_verified");
  ASSERT_NE(keys, nullptr);
  EXPECT_TRUE(keys->pass);
  EXPECT_EQ(keys->observed, 102);  // 100 keys, the hash and the set
  const auto* linked = FindCheck(result, "replica_linked");
  ASSERT_NE(linked, nullptr);
  EXPECT_TRUE(linked->pass);
  EXPECT_EQ(linked->target, "dragonfly-1");
  EXPECT_NE(Find(result, "dbcanary_drill_dragonfly_persistence_replica_link_seconds"), nullptr);
  fprintf(stderr, "persistence drill: recovery %.3f s, save %.3f s\n", recovery->value,
          Find(result, "dbcanary_drill_dragonfly_persistence_save_seconds")->value);
  // the drill's keys are still there until CleanUp, then gone
  EXPECT_EQ(DrillKeys(), 102);
  ASSERT_TRUE((*drill)->CleanUp(ctx));
  EXPECT_EQ(DrillKeys(), 0);
  // the stack is healthy again
  auto healthy = CheckDragonflyHealthy(*config_->FindDragonfly("dragonfly"), ctx);
  EXPECT_TRUE(healthy) << healthy.error().message;
}

// A SAVE refused because the server runs a save of its own (Redis: a plain "ERR Background save
// already in progress", an error word shared by every other refusal) is waited out on INFO's
// rdb_bgsave_in_progress, then repeated; the phase does not fail.
TEST_F(DragonflyPersistenceDrillTest, SaveRefusedDuringABackgroundSaveWaitsForIt) {
  auto drill = Build(Script("restart, dragonfly-0"));
  ASSERT_TRUE(drill) << drill.error().message;
  auto ctx = Context(seconds(90));
  ASSERT_TRUE((*drill)->CleanUp(ctx));
  const Dragonfly* dragonfly = config_->FindDragonfly("dragonfly");
  auto admin = RedisClient::Connect(dragonfly->master, Deadline::In(seconds(10)));
  ASSERT_TRUE(admin) << admin.error().message;
  // 50 filler keys (under the drill's prefix: its CleanUp removes them) at 100 ms each make the
  // background save last about 5 s; the forked child keeps the delay, the server drops it.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(admin->Command(
        {"SET", dragonfly->key_prefix + "drill:persistence:filler:" + std::to_string(i), "x"}));
  }
  ASSERT_TRUE(admin->Command({"CONFIG", "SET", "rdb-key-save-delay", "100000"}));
  auto started = admin->Command({"BGSAVE"});
  ASSERT_TRUE(admin->Command({"CONFIG", "SET", "rdb-key-save-delay", "0"}));
  ASSERT_TRUE(started) << started.error().message;
  auto refused = admin->Command({"SAVE"});
  ASSERT_FALSE(refused) << "the background save ended before it could be observed";
  EXPECT_EQ(refused.error().cause.redis_error, "ERR") << refused.error().message;

  DrillResult result = (*drill)->Run(ctx);
  ASSERT_FALSE(result.error) << Describe(result);
  EXPECT_TRUE(result.Passed()) << Describe(result);
  const Sample* save = Find(result, "dbcanary_drill_dragonfly_persistence_save_seconds");
  ASSERT_NE(save, nullptr);
  EXPECT_GT(save->value, 1.0) << "SAVE did not wait for the background save";
  ASSERT_TRUE((*drill)->CleanUp(ctx));
}

// A restart that comes back without the data (the persistence files deleted while it was
// down) fails keys_verified instead of passing silently.
TEST_F(DragonflyPersistenceDrillTest, RestartThatLosesTheDataFailsKeysVerified) {
  const auto& stack = harness::Stack::Get();
  std::string data = stack.dir() + "/redis/dragonfly-0";
  std::string shell = fmt::format(
      "\"{0}\" stop dragonfly-0 && rm -rf \"{1}/dump.rdb\" \"{1}/appendonlydir\" && \"{0}\" start "
      "dragonfly-0",
      stack.Env("DBCANARY_STACK_SCRIPT"), data);
  auto drill =
      Build(fmt::format("[env, \"DBCANARY_STACK_DIR={}\", sh, -c, '{}']", stack.dir(), shell));
  ASSERT_TRUE(drill) << drill.error().message;
  auto ctx = Context(seconds(90));
  DrillResult result = (*drill)->Run(ctx);
  ASSERT_FALSE(result.error) << Describe(result);  // the measurement worked
  EXPECT_FALSE(result.Passed());
  const auto* keys = FindCheck(result, "keys_verified");
  ASSERT_NE(keys, nullptr);
  EXPECT_FALSE(keys->pass);
  EXPECT_EQ(keys->observed, 0);
  EXPECT_TRUE((*drill)->CleanUp(ctx));
}

}  // namespace
}  // namespace dbcanary
