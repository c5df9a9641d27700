#include "probes/dragonfly/dragonfly_roles.h"

#include "clients/redis/redis_client.h"
#include "clients/redis/redis_info.h"
#include "clients/redis/redis_util.h"
#include "probes/kubernetes/dragonfly_members.h"

namespace dbcanary {

std::vector<RedisEndpoint> DragonflyMembers(const Dragonfly& target) {
  std::vector<RedisEndpoint> members = {target.master};
  members.insert(members.end(), target.replicas.begin(), target.replicas.end());
  return members;
}

DragonflyMemberLister MakeDragonflyMemberLister(const Dragonfly& target, const Config& config) {
  if (target.discover) return MakeDragonflyPodLister(target, config);
  DragonflyMemberList configured;
  configured.members = DragonflyMembers(target);
  configured.labelled_roles.resize(configured.members.size());
  return [configured](Deadline) { return Result<DragonflyMemberList>(configured); };
}

const RedisEndpoint& DragonflyRoles::Master() const {
  static const RedisEndpoint kNone;
  for (size_t i = 0; i < members.size(); ++i) {
    if (roles[i] == "master") return members[i];
  }
  return members.empty() ? kNone : members.front();
}

std::vector<RedisEndpoint> DragonflyRoles::Replicas() const {
  const RedisEndpoint* master = &Master();
  std::vector<RedisEndpoint> replicas;
  for (const auto& member : members) {
    if (&member != master) replicas.push_back(member);
  }
  return replicas;
}

std::vector<std::string> DragonflyRoles::LabelDisagreements() const {
  std::vector<std::string> disagreements;
  for (size_t i = 0; i < members.size() && i < labelled_roles.size(); ++i) {
    if (labelled_roles[i].empty() || roles[i].empty() || labelled_roles[i] == roles[i]) continue;
    disagreements.push_back(members[i].name + ": labelled " + labelled_roles[i] + ", answers " +
                            roles[i]);
  }
  return disagreements;
}

DragonflyRoles ResolveDragonflyRoles(const std::vector<RedisEndpoint>& members, Deadline deadline) {
  DragonflyRoles resolved;
  resolved.members = members;
  resolved.roles.resize(members.size());
  resolved.labelled_roles.resize(members.size());
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

DragonflyRoles ResolveDragonflyRoles(const DragonflyMemberLister& members,
                                     const std::string& target, Deadline deadline) {
  // Listing (an API call when discovered) takes at most half of the budget.
  auto listed = members(Deadline::In(deadline.Remaining() / 2));
  if (!listed) {
    DragonflyRoles none;
    none.error =
        Error{listed.error().code,
              "dragonfly " + target + ": members not discovered: " + listed.error().message};
    return none;
  }
  if (listed->members.empty()) {
    DragonflyRoles none;
    none.error = Error{ErrorCode::kUnexpected, "dragonfly " + target + ": no member found"};
    return none;
  }
  DragonflyRoles resolved = ResolveDragonflyRoles(listed->members, deadline);
  resolved.labelled_roles = std::move(listed->labelled_roles);
  resolved.labelled_roles.resize(resolved.members.size());
  return resolved;
}

}  // namespace dbcanary
