#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clients/kube/client.h"
#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_operator", target: a kubernetes.clusters[] entry (the operator is
// cluster-wide; the target only names the series). Per run: GET the operator Deployment,
// GET each CRD (apiextensions.k8s.io/v1), and read the webhook Service's endpoints
// (discovery.k8s.io/v1 EndpointSlices by label, or core/v1 Endpoints).
// Params (all optional):
//   namespace: cnpg-system, deployment: cnpg-controller-manager,
//   webhook_service: cnpg-webhook-service, webhook_source: endpointslices | endpoints,
//   crds: [clusters.postgresql.cnpg.io, backups..., scheduledbackups..., poolers...],
//   expect: { min_ready_replicas: N (default spec.replicas, at least 1),
//             min_webhook_endpoints: N (default 1) }.
// Expectations: cnpg_operator_ready, cnpg_crds_established, cnpg_webhook_endpoints.
Result<std::unique_ptr<Probe>> CreateK8sCnpgOperatorProbe(const ProbeSettings& settings,
                                                          const Config& config);

const std::vector<MetricDesc>& K8sCnpgOperatorMetricDescs();

// Families shared with k8s_dragonfly: an operator's Deployment.
const std::vector<MetricDesc>& K8sOperatorDeploymentMetricDescs();

// Samples for one apps/v1 Deployment (labels target, operator, namespace, deployment) and
// whether it counts as ready: readyReplicas >= max(1, min_ready or spec.replicas) and the
// Available condition True. Pure. kProtocol when the object has no spec.
Result<bool> EvaluateOperatorDeployment(const nlohmann::json& deployment, const std::string& target,
                                        const std::string& op, std::optional<int64_t> min_ready,
                                        ProbeResult& out, double* ready_replicas = nullptr,
                                        double* wanted_replicas = nullptr);

// True for the client's 404 error (cause.http_status 404, filled by clients/kube).
bool IsKubeNotFound(const Error& error);

// 1 when the CRD's Established condition is True (0 otherwise). Pure.
double CrdEstablished(const nlohmann::json& crd);

// Ready endpoint addresses of a Service: from an EndpointSliceList (endpoints[].conditions.ready,
// absent = ready, as the API defines) or from a core/v1 Endpoints (subsets[].addresses).
// Also the not-ready count. Pure.
struct EndpointCounts {
  double ready = 0;
  double not_ready = 0;
};
EndpointCounts CountSliceEndpoints(const nlohmann::json& slice_list);
EndpointCounts CountCoreEndpoints(const nlohmann::json& endpoints);

}  // namespace dbcanary
