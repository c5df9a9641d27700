#pragma once

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "core/result.h"
#include "probes/dragonfly/dragonfly_roles.h"

// Members of a Dragonfly discovered through the Kubernetes API: the pods the Dragonfly operator
// (dragonflydb/dragonfly-operator) creates through the Dragonfly's StatefulSet. The roles are
// still asked of the servers (INFO replication); the operator's `role` label is kept beside them
// so that a disagreement can be reported.

namespace dbcanary {

// The label selector of a Dragonfly's pods: the StatefulSet's selector labels
// app=<name>,app.kubernetes.io/name=dragonfly.
std::string DragonflyPodSelector(const std::string& dragonfly);

// Reads the members from the list of the Dragonfly's pods (core/v1 PodList). A pod is a member
// when it is not being deleted and has an IP. Each member is named after its pod, connects to
// the pod IP on discovery.port, else the pod's container port named "redis", else 6379, with the
// credentials of `defaults`; its labelled role is the pod's `role` label. Sorted by name.
Result<DragonflyMemberList> ReadDragonflyPods(const nlohmann::json& pods,
                                              const DragonflyDiscovery& discovery,
                                              const RedisEndpoint& defaults);

// A member lister that lists the pods at most once per discover.refresh, shared by every probe
// of the same target settings. Throws ConfigError when `config` has no kubernetes: section.
DragonflyMemberLister MakeDragonflyPodLister(const Dragonfly& target, const Config& config);

}  // namespace dbcanary
