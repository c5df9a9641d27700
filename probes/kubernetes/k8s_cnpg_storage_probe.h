#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_storage", target: a kubernetes.clusters[] entry. One LIST of the
// PersistentVolumeClaims (core/v1) labelled cnpg.io/cluster=<cnpg_cluster> per run: each must
// be Bound (status.phase), of the declared storage class (spec.storageClassName) and at least
// the declared size (status.capacity.storage, a resource.Quantity). Volume usage is not read
// here: kubelet's kubelet_volume_stats_* series, queried by monitoring_pipeline, measure the
// filesystem itself (docs/probes/k8s_cnpg_storage.md says why).
// Params: expect: { min_pvcs: N (default 1), storage_class: NAME, min_size: QUANTITY }.
Result<std::unique_ptr<Probe>> CreateK8sCnpgStorageProbe(const ProbeSettings& settings,
                                                         const Config& config);

const std::vector<MetricDesc>& K8sCnpgStorageMetricDescs();

struct CnpgStorageExpect {
  int64_t min_pvcs = 1;
  std::optional<std::string> storage_class;
  std::optional<double> min_size_bytes;
};

// Turns a PersistentVolumeClaimList into samples and expectations (pure). kProtocol when the
// list has no items array.
Status EvaluateCnpgStorage(const nlohmann::json& pvc_list, const std::string& target,
                           const std::string& ns, const std::string& name,
                           const CnpgStorageExpect& expect, ProbeResult& out);

}  // namespace dbcanary
