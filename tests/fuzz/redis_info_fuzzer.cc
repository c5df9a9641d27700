// libFuzzer target: the INFO reply parser (clients/redis/redis_info.h). The reply comes from
// the network (a redis, a Dragonfly, or anything listening on the port), so any bytes must give
// a RedisInfo without crashing, and every number read from it is finite.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "clients/redis/redis_info.h"

namespace {

void CheckFinite(const std::optional<double>& value) {
  if (value && !std::isfinite(*value)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  dbcanary::RedisInfo info = dbcanary::RedisInfo::Parse(input);
  if (info.size() > size) std::abort();  // every field needs at least one byte of its own
  dbcanary::RedisInfoFacts facts = dbcanary::ExtractInfoFacts(info);
  if (facts.mode != "redis" && facts.mode != "dragonfly") std::abort();
  for (const auto& value :
       {facts.uptime_seconds, facts.used_memory_bytes, facts.max_memory_bytes,
        facts.connected_clients, facts.blocked_clients, facts.keyspace_hits, facts.keyspace_misses,
        facts.expired_keys, facts.evicted_keys, facts.last_save_time, facts.changes_since_last_save,
        facts.connected_replicas, facts.master_last_io_seconds}) {
    CheckFinite(value);
  }
  // Look every line's name up again, as the probe's expectations do.
  CheckFinite(info.FirstNumber({"used_memory", "used_memory_rss", "role", "db0"}));
  return 0;
}
