// INFO text -> fields -> facts, for Redis 7 and Dragonfly layouts (fixtures written by hand
// after each server's field names; values made up).

#include "clients/redis/redis_info.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "probes/dragonfly/dragonfly_info_probe.h"
#include "probes/probe.h"

namespace dbcanary {
namespace {

// Redis 7 master, trimmed, plus a field this exporter does not know (extra_future_field).
constexpr char kRedis7Master[] =
    "# Server\r\n"
    "redis_version:7.0.15\r\n"
    "redis_mode:standalone\r\n"
    "uptime_in_seconds:3600\r\n"
    "\r\n"
    "# Clients\r\n"
    "connected_clients:7\r\n"
    "blocked_clients:1\r\n"
    "\r\n"
    "# Memory\r\n"
    "used_memory:1048576\r\n"
    "maxmemory:2097152\r\n"
    "maxmemory_policy:allkeys-lru\r\n"
    "\r\n"
    "# Persistence\r\n"
    "loading:0\r\n"
    "rdb_changes_since_last_save:12\r\n"
    "rdb_bgsave_in_progress:0\r\n"
    "rdb_last_save_time:1790000000\r\n"
    "rdb_last_bgsave_status:ok\r\n"
    "aof_enabled:1\r\n"
    "extra_future_field:a:b:c\r\n"
    "\r\n"
    "# Stats\r\n"
    "expired_keys:40\r\n"
    "evicted_keys:3\r\n"
    "keyspace_hits:100\r\n"
    "keyspace_misses:20\r\n"
    "\r\n"
    "# Replication\r\n"
    "role:master\r\n"
    "connected_slaves:1\r\n"
    "slave0:ip=127.0.0.1,port=23421,state=online,offset=1234,lag=0\r\n";

constexpr char kRedis7Replica[] =
    "# Server\r\nredis_version:7.0.15\r\n\r\n# Persistence\r\nrdb_last_bgsave_status:err\r\n"
    "rdb_last_save_time:0\r\n\r\n# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n"
    "master_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\n";

// Dragonfly: "dragonfly_version", PERSISTENCE spelled last_success_save & co, no AOF,
// "module" repeated, a failed save newer than the last success.
constexpr char kDragonflyReplica[] =
    "# Server\r\n"
    "redis_version:7.4.0\r\n"
    "dragonfly_version:df-v1.25.0\r\n"
    "redis_mode:standalone\r\n"
    "uptime_in_seconds:120\r\n"
    "\r\n"
    "# Clients\r\n"
    "connected_clients:3\r\n"
    "blocked_clients:0\r\n"
    "\r\n"
    "# Memory\r\n"
    "used_memory:5000\r\n"
    "maxmemory:48540578611\r\n"
    "\r\n"
    "# Stats\r\n"
    "expired_keys:5\r\n"
    "evicted_keys:0\r\n"
    "keyspace_hits:9\r\n"
    "keyspace_misses:1\r\n"
    "\r\n"
    "# Persistence\r\n"
    "current_snapshot_perc:0\r\n"
    "last_success_save:1791035031\r\n"
    "last_saved_file:/data/dump-summary.dfs\r\n"
    "last_success_save_duration_sec:0\r\n"
    "loading:0\r\n"
    "saving:1\r\n"
    "rdb_changes_since_last_success_save:4\r\n"
    "last_failed_save:1791035099\r\n"
    "last_error:Input/output error\r\n"
    "\r\n"
    "# Replication\r\n"
    "role:replica\r\n"
    "master_host:10.0.0.1\r\n"
    "master_link_status:up\r\n"
    "master_last_io_seconds_ago:2\r\n"
    "\r\n"
    "# Modules\r\n"
    "module:name=ReJSON,ver=20000\r\n"
    "module:name=search,ver=20000\r\n";

TEST(RedisInfoTest, ParsesFieldsSkippingHeadersAndBlankLines) {
  RedisInfo info = RedisInfo::Parse(kRedis7Master);
  EXPECT_EQ(info.Text("redis_version"), "7.0.15");
  EXPECT_EQ(info.Number("used_memory"), 1048576);
  EXPECT_FALSE(info.Has("# Server"));
  EXPECT_FALSE(info.Has(""));
  // The value is everything after the first colon.
  EXPECT_EQ(info.Text("extra_future_field"), "a:b:c");
  EXPECT_EQ(info.Number("extra_future_field"), std::nullopt);
  EXPECT_EQ(info.Number("maxmemory_policy"), std::nullopt);
  EXPECT_EQ(info.Number("absent"), std::nullopt);
}

TEST(RedisInfoTest, AcceptsBareNewlinesAndKeepsTheFirstOfARepeatedField) {
  RedisInfo info = RedisInfo::Parse("a:1\nb:2\nnocolon\n:empty\nmodule:x\nmodule:y");
  EXPECT_EQ(info.Number("a"), 1);
  EXPECT_EQ(info.Number("b"), 2);
  EXPECT_EQ(info.Text("module"), "x");
  EXPECT_EQ(info.size(), 3u);
  EXPECT_EQ(RedisInfo::Parse("").size(), 0u);
}

TEST(RedisInfoTest, Redis7MasterFacts) {
  RedisInfoFacts facts = ExtractInfoFacts(RedisInfo::Parse(kRedis7Master));
  EXPECT_EQ(facts.mode, "redis");
  EXPECT_EQ(facts.version, "7.0.15");
  EXPECT_EQ(facts.role, "master");
  EXPECT_EQ(facts.uptime_seconds, 3600);
  EXPECT_EQ(facts.used_memory_bytes, 1048576);
  EXPECT_EQ(facts.max_memory_bytes, 2097152);
  EXPECT_EQ(facts.connected_clients, 7);
  EXPECT_EQ(facts.blocked_clients, 1);
  EXPECT_EQ(facts.keyspace_hits, 100);
  EXPECT_EQ(facts.keyspace_misses, 20);
  EXPECT_EQ(facts.expired_keys, 40);
  EXPECT_EQ(facts.evicted_keys, 3);
  EXPECT_EQ(facts.last_save_time, 1790000000);
  EXPECT_EQ(facts.last_save_ok, true);
  EXPECT_EQ(facts.changes_since_last_save, 12);
  EXPECT_EQ(facts.aof_enabled, true);
  EXPECT_EQ(facts.save_in_progress, false);
  EXPECT_EQ(facts.connected_replicas, 1);
  EXPECT_EQ(facts.master_link_up, std::nullopt);
}

TEST(RedisInfoTest, Redis7ReplicaWithMissingFieldsAndFailedSave) {
  RedisInfoFacts facts = ExtractInfoFacts(RedisInfo::Parse(kRedis7Replica));
  EXPECT_EQ(facts.role, "replica");  // "slave" normalised
  EXPECT_EQ(facts.last_save_ok, false);
  EXPECT_EQ(facts.master_link_up, false);
  EXPECT_EQ(facts.master_last_io_seconds, -1);
  EXPECT_EQ(facts.used_memory_bytes, std::nullopt);
  EXPECT_EQ(facts.aof_enabled, std::nullopt);
  EXPECT_EQ(facts.connected_replicas, std::nullopt);
}

TEST(RedisInfoTest, DragonflyFacts) {
  RedisInfoFacts facts = ExtractInfoFacts(RedisInfo::Parse(kDragonflyReplica));
  EXPECT_EQ(facts.mode, "dragonfly");
  EXPECT_EQ(facts.version, "df-v1.25.0");
  EXPECT_EQ(facts.role, "replica");
  EXPECT_EQ(facts.last_save_time, 1791035031);
  EXPECT_EQ(facts.last_save_ok, false);  // last_failed_save is newer
  EXPECT_EQ(facts.changes_since_last_save, 4);
  EXPECT_EQ(facts.save_in_progress, true);
  EXPECT_EQ(facts.aof_enabled, std::nullopt);  // Dragonfly has no AOF
  EXPECT_EQ(facts.master_link_up, true);
  EXPECT_EQ(facts.master_last_io_seconds, 2);
  EXPECT_EQ(facts.max_memory_bytes, 48540578611.0);
}

TEST(RedisInfoTest, DragonflySaveOkWhenNoFailureOrAnOlderOne) {
  auto ok = [](const char* text) { return ExtractInfoFacts(RedisInfo::Parse(text)).last_save_ok; };
  EXPECT_EQ(ok("dragonfly_version:x\nlast_success_save:100\nlast_failed_save:0\n"), true);
  EXPECT_EQ(ok("dragonfly_version:x\nlast_success_save:100\nlast_failed_save:50\n"), true);
  EXPECT_EQ(ok("dragonfly_version:x\nlast_success_save:100\nlast_failed_save:150\n"), false);
  EXPECT_EQ(ok("dragonfly_version:x\nlast_success_save:100\n"), std::nullopt);
}

// Pins the undeclared last_save_succeeded check: red at the first failed save, with
// Dragonfly's own reason (last_error) when it gives one, and Redis' bare status otherwise.
TEST(RedisInfoTest, LastSaveSucceededFailsAtOnceWithTheServersReason) {
  RedisInfoFacts dragonfly = ExtractInfoFacts(RedisInfo::Parse(kDragonflyReplica));
  EXPECT_EQ(dragonfly.last_save_error, "Input/output error");
  ExpectationResult failed = LastSaveSucceeded("dragonfly-1", dragonfly);
  EXPECT_EQ(failed.check, "last_save_succeeded");
  EXPECT_EQ(failed.target, "dragonfly-1");
  EXPECT_FALSE(failed.pass);
  EXPECT_EQ(failed.observed_text, "failed: Input/output error");

  RedisInfoFacts redis =
      ExtractInfoFacts(RedisInfo::Parse("redis_version:7\nrdb_last_bgsave_status:err\n"));
  ExpectationResult redis_failed = LastSaveSucceeded("r", redis);
  EXPECT_FALSE(redis_failed.pass);
  EXPECT_NE(redis_failed.observed_text.find("failed"), std::string::npos);

  RedisInfoFacts ok =
      ExtractInfoFacts(RedisInfo::Parse("redis_version:7\nrdb_last_bgsave_status:ok\n"));
  EXPECT_TRUE(LastSaveSucceeded("r", ok).pass);
}

TEST(RedisInfoTest, SamplesCarryTargetAndServerAndSkipUnknownFields) {
  ProbeResult result;
  RedisInfoFacts facts = ExtractInfoFacts(RedisInfo::Parse(kRedis7Replica));
  AppendInfoSamples("df", "dragonfly-1", facts, std::nullopt, 1000.0, result);
  bool saw_info = false;
  for (const auto& sample : result.samples) {
    EXPECT_EQ(sample.labels[0], (std::pair<std::string, std::string>{"target", "df"}));
    EXPECT_EQ(sample.labels[1], (std::pair<std::string, std::string>{"server", "dragonfly-1"}));
    EXPECT_NE(sample.name, "dbcanary_dragonfly_memory_used_bytes");            // not reported
    EXPECT_NE(sample.name, "dbcanary_dragonfly_last_save_timestamp_seconds");  // 0 = never
    EXPECT_NE(sample.name, "dbcanary_dragonfly_rdb_enabled");  // CONFIG GET not allowed
    if (sample.name == "dbcanary_dragonfly_server_info") {
      saw_info = true;
      EXPECT_EQ(sample.labels.size(), 4u);
      EXPECT_EQ(sample.labels[3].second, "redis");
    }
    if (sample.name == "dbcanary_dragonfly_last_save_ok") {
      EXPECT_EQ(sample.value, 0);
    }
  }
  EXPECT_TRUE(saw_info);

  ProbeResult master;
  AppendInfoSamples("df", "dragonfly-0", ExtractInfoFacts(RedisInfo::Parse(kRedis7Master)), true,
                    10000.0, master);
  auto find = [&](const std::string& name) {
    for (const auto& sample : master.samples) {
      if (sample.name == name) return sample.value;
    }
    return std::nan("");
  };
  EXPECT_EQ(find("dbcanary_dragonfly_start_time_seconds"), 6400);
  EXPECT_EQ(find("dbcanary_dragonfly_evicted_keys_total"), 3);
  EXPECT_EQ(find("dbcanary_dragonfly_rdb_enabled"), 1);
  EXPECT_EQ(find("dbcanary_dragonfly_aof_enabled"), 1);
  EXPECT_EQ(find("dbcanary_dragonfly_last_save_timestamp_seconds"), 1790000000);
}

}  // namespace
}  // namespace dbcanary
