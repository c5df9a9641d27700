#include "clients/redis/redis_info.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace dbcanary {

RedisInfo RedisInfo::Parse(std::string_view text) {
  RedisInfo info;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    info.fields_.emplace(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  return info;
}

std::optional<std::string_view> RedisInfo::Text(std::string_view name) const {
  auto it = fields_.find(name);
  if (it == fields_.end()) return std::nullopt;
  return std::string_view(it->second);
}

std::optional<double> RedisInfo::Number(std::string_view name) const {
  auto it = fields_.find(name);
  if (it == fields_.end() || it->second.empty()) return std::nullopt;
  const char* begin = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  double value = std::strtod(begin, &end);
  if (errno != 0 || end == begin || *end != '\0' || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<double> RedisInfo::FirstNumber(std::initializer_list<std::string_view> names) const {
  for (std::string_view name : names) {
    if (auto value = Number(name)) return value;
  }
  return std::nullopt;
}

RedisInfoFacts ExtractInfoFacts(const RedisInfo& info) {
  RedisInfoFacts facts;
  auto dragonfly_version = info.Text("dragonfly_version");
  facts.mode = dragonfly_version ? "dragonfly" : "redis";
  if (dragonfly_version) {
    facts.version = std::string(*dragonfly_version);
  } else if (auto version = info.Text("redis_version")) {
    facts.version = std::string(*version);
  }
  if (auto role = info.Text("role")) {
    facts.role = (*role == "slave") ? "replica" : std::string(*role);
  }
  facts.uptime_seconds = info.Number("uptime_in_seconds");
  facts.used_memory_bytes = info.Number("used_memory");
  facts.max_memory_bytes = info.Number("maxmemory");
  facts.connected_clients = info.Number("connected_clients");
  facts.blocked_clients = info.Number("blocked_clients");
  facts.keyspace_hits = info.Number("keyspace_hits");
  facts.keyspace_misses = info.Number("keyspace_misses");
  facts.expired_keys = info.Number("expired_keys");
  facts.evicted_keys = info.Number("evicted_keys");

  facts.last_save_time = info.FirstNumber({"rdb_last_save_time", "last_success_save"});
  if (auto status = info.Text("rdb_last_bgsave_status")) {
    facts.last_save_ok = (*status == "ok");
  } else if (auto failed = info.Number("last_failed_save")) {
    // Dragonfly: a failure newer than the last success means the last save failed.
    double success = info.Number("last_success_save").value_or(0);
    facts.last_save_ok = !(*failed > 0 && *failed >= success);
  }
  if (auto error = info.Text("last_error")) facts.last_save_error = std::string(*error);
  facts.changes_since_last_save =
      info.FirstNumber({"rdb_changes_since_last_save", "rdb_changes_since_last_success_save"});
  if (auto aof = info.Number("aof_enabled")) facts.aof_enabled = (*aof != 0);
  if (auto saving = info.FirstNumber({"rdb_bgsave_in_progress", "saving"})) {
    facts.save_in_progress = (*saving != 0);
  }

  facts.connected_replicas = info.Number("connected_slaves");
  if (auto link = info.Text("master_link_status")) facts.master_link_up = (*link == "up");
  facts.master_last_io_seconds = info.Number("master_last_io_seconds_ago");
  return facts;
}

}  // namespace dbcanary
