#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_backup_policy", target: a kubernetes.clusters[] entry. Where backups go and how
// long they are kept, as declared: the destination (in-tree spec.backup.barmanObjectStore
// destinationPath, or the Barman Cloud plugin's ObjectStore spec.configuration.destinationPath),
// the retention policy (spec.backup.retentionPolicy, or the ObjectStore's spec.retentionPolicy:
// "30d", "4w", "6m"), and whether the oldest completed Backup object kept is within it (retention
// enforced: older ones are removed). Per run: GET Cluster, GET ObjectStore (plugin only),
// LIST Backups (labelSelector cnpg.io/cluster). Params: expect: { retention_grace: 2d }.
Result<std::unique_ptr<Probe>> CreateK8sCnpgBackupPolicyProbe(const ProbeSettings& settings,
                                                              const Config& config);

const std::vector<MetricDesc>& K8sCnpgBackupPolicyMetricDescs();

// A CNPG retention policy ("30d", "4w", "6m": days, weeks, months of 30 days) in seconds.
std::optional<double> ParseRetentionPolicy(const std::string& text);

// Pure: `object_store` is null for the in-tree barmanObjectStore; `now` in Unix seconds.
void EvaluateBackupPolicy(const nlohmann::json& cluster, const nlohmann::json* object_store,
                          const nlohmann::json& backups, const std::string& target,
                          const std::string& cnpg_cluster, double retention_grace_seconds,
                          double now, ProbeResult& out);

}  // namespace dbcanary
