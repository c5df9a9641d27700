#pragma once

#include <chrono>
#include <stop_token>
#include <string>
#include <vector>

#include "clients/kube/client.h"
#include "core/deadline.h"
#include "core/result.h"

// The two ways the failover drill makes the primary fail.

namespace dbcanary {

// The command trigger runs through drills/command.h (RunDrillCommand).

// CNPG labels of the pod that runs the primary of cluster `cnpg_cluster`.
std::string CnpgPrimarySelector(const std::string& cnpg_cluster);

// Deletes the pod labelled as the primary of `cnpg_cluster` in `namespace_` (the CNPG
// operator then promotes a replica). Refuses (kUnexpected) unless exactly one pod carries
// the primary label. Returns the deleted pod's name.
Result<std::string> DeleteCnpgPrimaryPod(const kube::Client& client, const std::string& namespace_,
                                         const std::string& cnpg_cluster, Deadline deadline);

}  // namespace dbcanary
