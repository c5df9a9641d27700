#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_cluster", target: a kubernetes.clusters[] entry. One GET of the CNPG Cluster
// object per run: phase (state set), instances vs readyInstances, currentPrimary vs
// targetPrimary (failover in progress), timeline, conditions Ready / ContinuousArchiving /
// LastBackupSucceeded, and the expiry of every certificate in status.certificates.expirations.
// Params: expect: { min_ready_instances: N (default spec.instances),
//                   certificate_min_validity: DURATION (default 7d) }.
Result<std::unique_ptr<Probe>> CreateK8sCnpgClusterProbe(const ProbeSettings& settings,
                                                         const Config& config);

const std::vector<MetricDesc>& K8sCnpgClusterMetricDescs();

struct CnpgClusterExpect {
  std::optional<int64_t> min_ready_instances;
  double certificate_min_validity_seconds = 7 * 86400.0;
};

// The phase label for a Cluster status.phase sentence ("Cluster in healthy state" -> "healthy");
// "other" for anything not in the known list.
std::string CnpgPhaseLabel(const std::string& phase);
const std::vector<std::string>& CnpgPhaseLabels();

// Turns one Cluster object into samples and expectations (pure; `now` in Unix seconds).
// Returns an error when the object has no status at all (kProtocol).
Status EvaluateCnpgCluster(const nlohmann::json& cluster, const std::string& target,
                           const std::string& ns, const std::string& name,
                           const CnpgClusterExpect& expect, double now, ProbeResult& out);

}  // namespace dbcanary
