#include "probes/dragonfly/dragonfly_roles.h"

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_info.h"
#include "clients/redis/redis_util.h"

namespace dbcanary {

std::vector<RedisEndpoint> DragonflyMembers(const Dragonfly& target) {
  std::vector<RedisEndpoint> members = {target.master};
  members.insert(members.end(), target.replicas.begin(), target.replicas.end());
  return members;
}

const RedisEndpoint& DragonflyRoles::Master() const {
  for (size_t i = 0; i < members.size(); ++i) {
    if (roles[i] == "master") return members[i];
  }
  return members.front();
}

std::vector<RedisEndpoint> DragonflyRoles::Replicas() const {
  const RedisEndpoint* master = &Master();
  std::vector<RedisEndpoint> replicas;
  for (const auto& member : members) {
    if (&member != master) replicas.push_back(member);
  }
  return replicas;
}

DragonflyRoles ResolveDragonflyRoles(const std::vector<RedisEndpoint>& members, Deadline deadline) {
  DragonflyRoles resolved;
  resolved.members = members;
  resolved.roles.resize(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    // A fair share of what is left, so one hung member cannot starve the others.
    const Deadline share =
        Deadline::In(deadline.Remaining() / static_cast<int64_t>(members.size() - i));
    auto client = RedisClient::Connect(members[i], share);
    if (!client) continue;
    auto text = RedisInfoText(*client, "replication");
    if (!text) continue;
    resolved.roles[i] = ExtractInfoFacts(RedisInfo::Parse(*text)).role;
  }
  return resolved;
}

}  // namespace dbcanary
