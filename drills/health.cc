#include "drills/health.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <utility>

#include "clients/pg/pg_session.h"
#include "clients/redis/redis_client.h"
#include "clients/redis/redis_info.h"
#include "core/deadline.h"

namespace dbcanary {
namespace {

// One instance that hangs must not eat the budget of the others.
constexpr std::chrono::milliseconds kPerInstanceBudget{5000};

Deadline InstanceDeadline(const DrillContext& ctx) {
  return Deadline(std::min(ctx.deadline.at(), SteadyClock::now() + kPerInstanceBudget));
}

const char* kReplicationSql =
    "SELECT application_name, state, sync_state, client_addr::text AS client_addr,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_lag_bytes,"
    " replay_lag::text AS replay_lag"
    " FROM pg_stat_replication ORDER BY application_name";

std::string Cell(const PgTable& table, size_t row, std::string_view column) {
  auto value = table.Text(row, column);
  if (!value || !value->has_value()) return "";
  return **value;
}

// A plain-text table of every column, for evidence.
std::string FormatTable(const PgTable& table) {
  std::vector<size_t> widths;
  for (const auto& column : table.columns()) widths.push_back(column.size());
  for (size_t row = 0; row < table.size(); ++row) {
    for (size_t col = 0; col < table.columns().size(); ++col) {
      widths[col] = std::max(widths[col], Cell(table, row, table.columns()[col]).size());
    }
  }
  auto line = [&](auto&& value_of) {
    std::string text;
    for (size_t col = 0; col < widths.size(); ++col) {
      std::string value = value_of(col);
      value.resize(widths[col], ' ');
      text += (col == 0 ? "" : " | ") + value;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + "\n";
  };
  std::string text = line([&](size_t col) { return table.columns()[col]; });
  text += line([&](size_t col) { return std::string(widths[col], '-'); });
  for (size_t row = 0; row < table.size(); ++row) {
    text += line([&](size_t col) { return Cell(table, row, table.columns()[col]); });
  }
  // Appended piecewise: `"(" + std::to_string(...)` trips a false -Wrestrict in GCC 12 at -O2.
  text.append("(").append(std::to_string(table.size())).append(" rows)\n");
  return text;
}

std::vector<const PgEndpoint*> Instances(const PostgresCluster& cluster) {
  std::vector<const PgEndpoint*> instances;
  for (const auto& member : cluster.instances) instances.push_back(&member);
  return instances;
}

std::string Join(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// A discovery asked by a drill gets at most this long (the API server's own timeout caps it too).
constexpr std::chrono::milliseconds kListBudget{10000};

}  // namespace

ClusterMembers::ClusterMembers(const PostgresCluster& cluster, const Config& config)
    : settings_(cluster),
      source_(cluster.discover ? PgTopologySource::For(cluster, config) : nullptr) {}

Result<PostgresCluster> ClusterMembers::Now(const DrillContext& ctx) const {
  if (source_ == nullptr) return settings_;
  const Deadline deadline(std::min(ctx.deadline.at(), SteadyClock::now() + kListBudget));
  auto members = source_->Members(deadline, ctx.stop);
  if (!members) {
    return MakeError(
        members.error().code,
        "cluster " + settings_.name + ": members not discovered: " + members.error().message);
  }
  PostgresCluster now = settings_;
  now.instances = std::move(*members);
  return now;
}

PgMemberLister ClusterMembers::Lister() const {
  if (source_ == nullptr) {
    return [members = settings_.instances](Deadline, std::stop_token) {
      return Result<std::vector<PgEndpoint>>(members);
    };
  }
  return [source = source_](Deadline deadline, std::stop_token stop) {
    return source->Members(deadline, std::move(stop));
  };
}

Result<PgClusterHealth> InspectPostgresCluster(const PostgresCluster& cluster,
                                               const DrillContext& ctx) {
  PgClusterHealth health;
  std::optional<Error> last_error;
  std::optional<PgSession> primary_session;
  for (const PgEndpoint* instance : Instances(cluster)) {
    Deadline deadline = InstanceDeadline(ctx);
    PgConnectOptions options;
    options.statement_timeout = deadline.Remaining();
    auto session = PgSession::Connect(*instance, options, deadline, ctx.stop);
    if (!session) {
      health.unreachable.push_back(instance->name);
      last_error = session.error();
      continue;
    }
    auto rows = session->Query("SELECT pg_is_in_recovery() AS in_recovery", deadline, ctx.stop);
    std::optional<bool> in_recovery;
    if (rows && !rows->empty()) {
      auto value = rows->Bool(0, "in_recovery");
      if (value && value->has_value()) in_recovery = **value;
    }
    if (!in_recovery) {
      health.unreachable.push_back(instance->name);
      last_error = rows ? MakeError(ErrorCode::kProtocol,
                                    instance->Describe() + ": pg_is_in_recovery() gave no answer")
                        : rows.error();
      continue;
    }
    if (!*in_recovery) {
      ++health.primaries;
      if (health.primary.empty()) {
        health.primary = instance->name;
        primary_session.emplace(std::move(*session));
      }
    }
  }
  if (health.primaries == 0 && health.unreachable.size() == Instances(cluster).size()) {
    return MakeError(last_error ? last_error->code : ErrorCode::kConnect,
                     "cluster " + cluster.name + ": no instance answered" +
                         (last_error ? " (last error: " + last_error->message + ")" : ""));
  }
  if (primary_session) {
    auto rows = primary_session->Query(kReplicationSql, InstanceDeadline(ctx), ctx.stop);
    if (!rows) return rows.error();
    health.replication_table = FormatTable(*rows);
    for (const PgEndpoint* instance : Instances(cluster)) {
      if (instance->name == health.primary) continue;
      bool streaming = false;
      for (size_t row = 0; row < rows->size(); ++row) {
        if (Cell(*rows, row, "application_name") != instance->name) continue;
        if (Cell(*rows, row, "state") != "streaming") continue;
        streaming = true;
        std::string sync_state = Cell(*rows, row, "sync_state");
        if (sync_state == "sync" || sync_state == "quorum") ++health.sync_standbys;
      }
      (streaming ? health.streaming : health.not_streaming).push_back(instance->name);
    }
  } else {
    for (const PgEndpoint* instance : Instances(cluster)) {
      health.not_streaming.push_back(instance->name);
    }
  }
  return health;
}

Result<PgEndpoint> FindCurrentPrimary(const PostgresCluster& cluster, const DrillContext& ctx) {
  auto health = InspectPostgresCluster(cluster, ctx);
  if (!health) return health.error();
  if (health->primaries != 1) {
    return MakeError(ErrorCode::kUnexpected,
                     "cluster " + cluster.name + ": " + std::to_string(health->primaries) +
                         " instances answer as primary (expected exactly 1)");
  }
  for (const PgEndpoint* instance : Instances(cluster)) {
    if (instance->name == health->primary) return *instance;
  }
  return MakeError(ErrorCode::kInternal, "primary " + health->primary + " is not configured");
}

Status CheckPostgresHealthy(const PostgresCluster& cluster, const DrillContext& ctx) {
  auto health = InspectPostgresCluster(cluster, ctx);
  if (!health) return health.error();
  std::vector<std::string> problems;
  if (health->primaries != 1) {
    problems.push_back(std::to_string(health->primaries) + " instances answer as primary");
  }
  if (!health->unreachable.empty()) problems.push_back("unreachable: " + Join(health->unreachable));
  // Every member but the primary is meant to be a standby.
  size_t configured_standbys = cluster.instances.empty() ? 0 : cluster.instances.size() - 1;
  size_t need_streaming = cluster.expect.min_streaming_standbys
                              ? static_cast<size_t>(*cluster.expect.min_streaming_standbys)
                              : configured_standbys;
  if (health->primaries == 1 && health->streaming.size() < need_streaming) {
    problems.push_back(std::to_string(health->streaming.size()) + " standbys streaming, need " +
                       std::to_string(need_streaming) +
                       (health->not_streaming.empty()
                            ? std::string()
                            : " (not streaming: " + Join(health->not_streaming) + ")"));
  }
  int64_t need_sync = cluster.expect.min_sync_standbys.value_or(configured_standbys > 0 ? 1 : 0);
  if (health->primaries == 1 && health->sync_standbys < need_sync) {
    problems.push_back(std::to_string(health->sync_standbys) + " synchronous standbys, need " +
                       std::to_string(need_sync));
  }
  if (problems.empty()) return Ok{};
  return MakeError(ErrorCode::kUnexpected,
                   "cluster " + cluster.name + " is not healthy: " + Join(problems));
}

Status CheckDragonflyHealthy(const Dragonfly& dragonfly, const DrillContext& ctx) {
  auto role_of = [&](const RedisEndpoint& target,
                     std::string_view field) -> Result<std::pair<std::string, std::string>> {
    auto client = RedisClient::Connect(target, InstanceDeadline(ctx));
    if (!client) return client.error();
    auto reply = client->Command({"INFO", "replication"});
    if (!reply) return reply.error();
    if (!reply->Is(RedisType::kString)) {
      return MakeError(ErrorCode::kProtocol, client->describe() + ": INFO did not answer a string");
    }
    RedisInfo info = RedisInfo::Parse(reply->text());
    std::string role(info.Text("role").value_or(""));
    std::string value(info.Text(field).value_or(""));
    return std::make_pair(role, value);
  };
  auto master = role_of(dragonfly.master, "role");
  if (!master) return master.error();
  if (master->first != "master") {
    return MakeError(ErrorCode::kUnexpected, "dragonfly " + dragonfly.name + ": " +
                                                 dragonfly.master.name + " has role \"" +
                                                 master->first + "\", expected master");
  }
  for (const auto& replica : dragonfly.replicas) {
    auto state = role_of(replica, "master_link_status");
    if (!state) return state.error();
    if (state->second != "up") {
      return MakeError(ErrorCode::kUnexpected, "dragonfly " + dragonfly.name + ": replica " +
                                                   replica.name + " master_link_status is \"" +
                                                   state->second + "\", expected up");
    }
  }
  return Ok{};
}

}  // namespace dbcanary
