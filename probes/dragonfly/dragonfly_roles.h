#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/endpoint.h"
#include "core/deadline.h"
#include "core/result.h"

// Roles of a Dragonfly target's members, asked of the servers on every run (INFO replication),
// so that a replica promoted and a master demoted (the operator's failover, or REPLICAOF) are
// followed without a config change. The members are `master:` and `replicas:` in the config, or
// the operator's pods when the target is discovered (probes/kubernetes/dragonfly_members.h).

namespace dbcanary {

// The members of a target right now, with what the operator says of each.
struct DragonflyMemberList {
  std::vector<RedisEndpoint> members;
  // Per member: the operator's `role` pod label ("master", "replica"); empty when there is none
  // (configured members, a pod the operator has not labelled yet). Same length as members.
  std::vector<std::string> labelled_roles;
};

using DragonflyMemberLister = std::function<Result<DragonflyMemberList>(Deadline deadline)>;

// Every configured member: `master:` first, then `replicas:`.
std::vector<RedisEndpoint> DragonflyMembers(const Dragonfly& target);

// The member source of `target`: its configured members, or the pods its discovery sees now
// (asked again after discover.refresh, one list shared by the probes of the same discovery).
// Throws ConfigError when the target discovers and `config` has no kubernetes: section.
DragonflyMemberLister MakeDragonflyMemberLister(const Dragonfly& target, const Config& config);

struct DragonflyRoles {
  std::vector<RedisEndpoint> members;
  std::vector<std::string> roles;           // per member: "master", "replica"; empty: no answer
  std::vector<std::string> labelled_roles;  // per member, as DragonflyMemberList
  // Why there is no member to use: the discovery failed, or found no pod. Probes fail with it.
  std::optional<Error> error;

  // The member that reports role:master (the first one when several do); when none does, the
  // first member, whose own error then says why writes fail. A default endpoint when there is
  // no member (see error).
  const RedisEndpoint& Master() const;
  // Every member but Master().
  std::vector<RedisEndpoint> Replicas() const;
  // Members whose operator role label says something else than the server ("NAME: labelled
  // replica, answers master"); members without a label or an answer are not compared.
  std::vector<std::string> LabelDisagreements() const;
};

// Asks every member for its role (one connection and one INFO replication each), each within a
// fair share of `deadline`.
DragonflyRoles ResolveDragonflyRoles(const std::vector<RedisEndpoint>& members, Deadline deadline);
// The same for the members listed now; `target` names the error when there are none.
DragonflyRoles ResolveDragonflyRoles(const DragonflyMemberLister& members,
                                     const std::string& target, Deadline deadline);

}  // namespace dbcanary
