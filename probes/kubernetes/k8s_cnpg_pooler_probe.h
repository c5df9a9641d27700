#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_pooler", target: a kubernetes.clusters[] entry. One GET of a CNPG Pooler per
// run: spec.instances vs status.instances, the declared pgbouncer.poolMode (state set) and the
// declared max_client_conn / default_pool_size, to compare with what pooler_admin observes.
// Params: pooler: NAME (required), expect: { min_instances: N (default spec.instances) }.
Result<std::unique_ptr<Probe>> CreateK8sCnpgPoolerProbe(const ProbeSettings& settings,
                                                        const Config& config);

const std::vector<MetricDesc>& K8sCnpgPoolerMetricDescs();

// Pure: samples and expectations from one Pooler object.
Status EvaluateCnpgPooler(const nlohmann::json& pooler, const std::string& target,
                          const std::string& ns, const std::string& name,
                          std::optional<int64_t> min_instances, ProbeResult& out);

}  // namespace dbcanary
