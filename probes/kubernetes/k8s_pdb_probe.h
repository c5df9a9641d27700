#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_pdb", target: a kubernetes.clusters[] entry. The PodDisruptionBudgets (policy/v1)
// that keep a node drain from taking the cluster or a pooler down: one GET per declared PDB per
// run. Each must exist and allow at least the declared disruptions (status.disruptionsAllowed):
// a PDB that allows none blocks every drain, one that is missing protects nothing.
// Params: pdbs: [ { name, min_disruptions_allowed: 1 } ]; default: CNPG's own, <cnpg_cluster>
// (the replicas, min 1) and <cnpg_cluster>-primary (min 0: it keeps the one primary).
// Pooler PDBs are not created by CNPG: declare the names the platform gives them.
Result<std::unique_ptr<Probe>> CreateK8sPdbProbe(const ProbeSettings& settings,
                                                 const Config& config);

const std::vector<MetricDesc>& K8sPdbMetricDescs();

struct PdbExpect {
  std::string name;
  int64_t min_disruptions_allowed = 1;
};

// One declared PDB: `pdb` is the object, nullopt when the API server answered 404 (pure).
void EvaluatePdb(const std::optional<nlohmann::json>& pdb, const PdbExpect& expect,
                 const std::string& target, const std::string& ns, ProbeResult& out);

}  // namespace dbcanary
