#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_dragonfly", target: a dragonflies[] entry (the instance the dragonfly_* probes
// talk to); needs the top-level `kubernetes:` section for API access. Per run: GET the
// Dragonfly CR (dragonflydb.io/v1alpha1), GET its StatefulSet (apps/v1, same name) and GET
// the Dragonfly operator Deployment.
// Params: namespace: NS (required), name: CR name (default: the target name),
//   operator_namespace: dragonfly-operator-system,
//   operator_deployment: dragonfly-operator-controller-manager,
//   expect: { min_ready_replicas: N (default: ready == spec.replicas) }.
// Expectations: dragonfly_phase_ready, dragonfly_replicas_ready, dragonfly_operator_ready.
Result<std::unique_ptr<Probe>> CreateK8sDragonflyProbe(const ProbeSettings& settings,
                                                       const Config& config);

const std::vector<MetricDesc>& K8sDragonflyMetricDescs();

// Bounded phase label of a Dragonfly status.phase across operator versions
// ("Ready"/"ready" -> "ready", "ResourcesCreated"/"resources-created" -> "resources_created",
// "Configuring"/"configuring-replication" -> "configuring", "RollingUpdate" -> "rolling_update",
// empty -> "none", anything else -> "other").
std::string DragonflyPhaseLabel(const std::string& phase);
const std::vector<std::string>& DragonflyPhaseLabels();

// Samples and the phase/replica expectations from the CR and its StatefulSet (nullptr when
// the StatefulSet does not exist: 0 ready). Pure. kProtocol when the CR has no spec.
Status EvaluateDragonfly(const nlohmann::json& dragonfly, const nlohmann::json* statefulset,
                         const std::string& target, std::optional<int64_t> min_ready_replicas,
                         ProbeResult& out);

}  // namespace dbcanary
