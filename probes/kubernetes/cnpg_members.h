#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "probes/postgres/pg_topology_source.h"

// Members of a CNPG cluster discovered through the Kubernetes API, for the topology resolver
// (probes/postgres/pg_topology_source.h). The roles themselves are still asked of the servers;
// what the operator says (currentPrimary, the role labels) is kept for comparison.

namespace dbcanary {

struct CnpgMembers {
  std::vector<PgEndpoint> members;              // one per instance pod with an IP, in name order
  std::string current_primary;                  // Cluster .status.currentPrimary
  std::string target_primary;                   // Cluster .status.targetPrimary
  std::vector<std::string> labelled_primaries;  // pods labelled role / cnpg.io/instanceRole primary
};

// Reads the members from a Cluster object (postgresql.cnpg.io/v1) and the list of its pods
// (core/v1 PodList, selected by cnpg.io/cluster). A pod is a member when it is an instance (not
// a job: no cnpg.io/jobRole label), is not being deleted, has an IP, and (when the Cluster lists
// .status.instanceNames) is one of them. Each member connects to the pod IP (hostaddr) and
// verifies the certificate against discovery.tls_server_name (host).
Result<CnpgMembers> ReadCnpgMembers(const nlohmann::json& cluster, const nlohmann::json& pods,
                                    const PgDiscovery& discovery, const PgEndpoint& defaults);

// Whether a pod of the cluster (core/v1 Pod) is a PostgreSQL instance: cnpg.io/podRole
// "instance" (or unset, before CNPG 1.18), and not a job (no cnpg.io/jobRole label).
bool IsCnpgInstancePod(const nlohmann::json& pod);

// A member lister that asks the API server at most once per discovery.refresh. Throws
// ConfigError when `config` has no kubernetes: section.
PgMemberLister MakeCnpgMemberLister(const PgDiscovery& discovery, const PgEndpoint& defaults,
                                    const Config& config);

}  // namespace dbcanary
