#pragma once

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace dbcanary {

// The fields of an INFO reply by name. Both Redis 7 and Dragonfly answer "# Section" headers
// and "name:value" lines separated by CRLF; the value is everything after the first ':'.
// Section headers, blank lines and lines without ':' are skipped; a repeated name keeps its
// first value (Dragonfly repeats "module").
class RedisInfo {
 public:
  static RedisInfo Parse(std::string_view text);

  std::optional<std::string_view> Text(std::string_view name) const;
  // The field as a number (integer or decimal); nullopt when absent or not a number.
  std::optional<double> Number(std::string_view name) const;
  // The first of `names` present as a number: the Redis spelling first, then Dragonfly's.
  std::optional<double> FirstNumber(std::initializer_list<std::string_view> names) const;
  bool Has(std::string_view name) const { return fields_.find(name) != fields_.end(); }
  size_t size() const { return fields_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> fields_;
};

// What dragonfly_info reads from one server's INFO ALL, with Redis and Dragonfly spellings
// merged. Every field is optional: a server that does not report it leaves it empty.
struct RedisInfoFacts {
  std::string mode;     // "dragonfly" when dragonfly_version is reported, else "redis"
  std::string version;  // dragonfly_version, else redis_version; empty when neither
  std::string role;     // "master", "replica" ("slave" is normalised to "replica")
  std::optional<double> uptime_seconds;
  std::optional<double> used_memory_bytes;
  std::optional<double> max_memory_bytes;
  std::optional<double> connected_clients;
  std::optional<double> blocked_clients;
  std::optional<double> keyspace_hits;
  std::optional<double> keyspace_misses;
  std::optional<double> expired_keys;
  std::optional<double> evicted_keys;
  // Persistence.
  std::optional<double> last_save_time;  // rdb_last_save_time | last_success_save
  std::optional<bool> last_save_ok;      // rdb_last_bgsave_status | last_failed_save
  // Why the last save failed, as the server words it: Dragonfly's last_error (Redis reports
  // no reason in INFO, only rdb_last_bgsave_status:err). Empty when none is reported.
  std::string last_save_error;
  std::optional<double> changes_since_last_save;  // rdb_changes_since_last_save | ..._success_save
  std::optional<bool> aof_enabled;                // aof_enabled (Redis only)
  std::optional<bool> save_in_progress;           // rdb_bgsave_in_progress | saving
  // Replication.
  std::optional<double> connected_replicas;      // connected_slaves
  std::optional<bool> master_link_up;            // master_link_status (replicas)
  std::optional<double> master_last_io_seconds;  // master_last_io_seconds_ago (replicas)
};

RedisInfoFacts ExtractInfoFacts(const RedisInfo& info);

}  // namespace dbcanary
