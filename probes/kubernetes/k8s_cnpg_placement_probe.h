#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_placement", target: a kubernetes.clusters[] entry. What 3-instance HA is for:
// the instances on distinct nodes, and on distinct zones when the nodes carry
// topology.kubernetes.io/zone. Per run: one LIST of the cluster's pods (core/v1, selected by
// cnpg.io/cluster; instance pods only, spec.nodeName) and, with check_zones, one LIST of the
// Nodes (cluster-scoped: a ClusterRole). Params: check_zones: true (default).
Result<std::unique_ptr<Probe>> CreateK8sCnpgPlacementProbe(const ProbeSettings& settings,
                                                           const Config& config);

const std::vector<MetricDesc>& K8sCnpgPlacementMetricDescs();

// Turns the PodList (and the NodeList, null without check_zones) into samples and
// expectations (pure). kProtocol when a list has no items array.
Status EvaluateCnpgPlacement(const nlohmann::json& pods, const nlohmann::json* nodes,
                             const std::string& target, const std::string& ns,
                             const std::string& name, ProbeResult& out);

}  // namespace dbcanary
