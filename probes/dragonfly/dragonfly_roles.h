#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/endpoint.h"
#include "core/deadline.h"

// Roles of a Dragonfly target's members, asked of the servers on every run (INFO replication),
// so that a replica promoted and a master demoted (the operator's failover, or REPLICAOF) are
// followed without a config change. `master:` and `replicas:` in the config are the members.

namespace dbcanary {

// Every configured member: `master:` first, then `replicas:`.
std::vector<RedisEndpoint> DragonflyMembers(const Dragonfly& target);

struct DragonflyRoles {
  std::vector<RedisEndpoint> members;
  std::vector<std::string> roles;  // per member: "master", "replica"; empty: did not answer

  // The member that reports role:master (the first one when several do); when none does, the
  // first member, whose own error then says why writes fail.
  const RedisEndpoint& Master() const;
  // Every member but Master().
  std::vector<RedisEndpoint> Replicas() const;
};

// Asks every member for its role (one connection and one INFO replication each), each within a
// fair share of `deadline`.
DragonflyRoles ResolveDragonflyRoles(const std::vector<RedisEndpoint>& members, Deadline deadline);

}  // namespace dbcanary
