#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "k8s_cnpg_backups", target: a kubernetes.clusters[] entry. Backup freshness from every
// source CNPG offers, as one set of families:
//   Backup objects of the cluster (newest completed / failed per method, count by phase, the
//   longest-running one), ScheduledBackups (suspended, last/next schedule, missed), the Barman
//   Cloud plugin ObjectStore status.serverRecoveryWindow[serverName], and -- only as a fallback
//   when none of those knows a completed backup -- the Cluster's deprecated status fields
//   (labelled source="cluster_status").
// Per run: GET Cluster, LIST Backups, LIST ScheduledBackups, GET ObjectStore (when one is used).
// Params:
//   label_selector: "cnpg.io/cluster=<cnpg_cluster>"  selector for the Backup list ("" = all in
//                   the namespace, filtered by spec.cluster.name)
//   object_store: NAME   default: the Cluster's barman-cloud plugin barmanObjectName, if any
//   server_name: NAME    default: the plugin's serverName parameter, else the cluster name
//   expect: { backup_max_age: 24h, backup_max_running: 6h, schedule_grace: 15m,
//             require_scheduled_backup: true }
Result<std::unique_ptr<Probe>> CreateK8sCnpgBackupsProbe(const ProbeSettings& settings,
                                                         const Config& config);

const std::vector<MetricDesc>& K8sCnpgBackupsMetricDescs();

struct BackupExpect {
  double max_age_seconds = 24 * 3600.0;
  double max_running_seconds = 6 * 3600.0;
  double schedule_grace_seconds = 15 * 60.0;
  bool require_scheduled_backup = true;
};

// What one run read. Null pointers: not read (no object store) or unavailable.
struct BackupInputs {
  const nlohmann::json* cluster = nullptr;       // Cluster object
  const nlohmann::json* backups = nullptr;       // BackupList
  const nlohmann::json* scheduled = nullptr;     // ScheduledBackupList
  const nlohmann::json* object_store = nullptr;  // ObjectStore object
  std::string server_name;                       // key of serverRecoveryWindow
};

// Bounded label values.
const std::vector<std::string>& BackupPhaseLabels();  // "pending" ... "other"
std::string BackupPhaseLabel(const std::string& phase);
std::string BackupMethodLabel(const std::string& method);  // barman_object_store, ...

// Where the object store and server name come from (params first, then Cluster spec.plugins).
struct ObjectStoreRef {
  std::string name;
  std::string server_name;
};
std::optional<ObjectStoreRef> FindObjectStore(const nlohmann::json& cluster,
                                              const std::optional<std::string>& object_store,
                                              const std::optional<std::string>& server_name,
                                              const std::string& cnpg_cluster);

// Pure: samples and expectations from what was read; `now` in Unix seconds.
void EvaluateBackups(const BackupInputs& in, const std::string& target,
                     const std::string& cnpg_cluster, const BackupExpect& expect, double now,
                     ProbeResult& out);

}  // namespace dbcanary
