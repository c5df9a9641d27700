#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clients/pg/pg_session.h"
#include "config/config.h"
#include "core/result.h"
#include "drills/drill.h"

// The `restore` drill (docs/drills/restore.md): writes a marker row and a checksummed table on
// the primary, takes a backup (a CNPG Backup object or a command), restores it into a scratch
// target (a CNPG recovery Cluster or a command), verifies marker and checksum there and
// measures backup time, RTO and RPO. The scratch target is always removed.

namespace dbcanary {

// How the drill takes and restores backups: `command` or `kubernetes`.
enum class RestoreMethod { kCommand, kKubernetes };

struct RestoreDrillParams {
  std::string cluster;  // postgres cluster (target name)
  std::string marker_dbname = "postgres";
  std::string marker_schema = "dbcanary";
  int marker_rows = 1000;
  std::chrono::milliseconds archive_wait{std::chrono::seconds(30)};

  RestoreMethod backup_method = RestoreMethod::kCommand;
  std::vector<std::string> backup_command;
  std::string backup_kube_cluster;                       // kubernetes.clusters[] target
  std::string backup_kube_method = "barmanObjectStore";  // barmanObjectStore|volumeSnapshot|plugin
  std::string backup_plugin;                             // plugin name (method plugin)

  RestoreMethod restore_method = RestoreMethod::kCommand;
  std::vector<std::string> restore_command;
  std::vector<std::string> cleanup_command;
  std::optional<PgEndpoint> restore_connection;  // command: required; kubernetes: override
  int restore_instances = 1;                     // kubernetes
  std::string restore_barman_object;             // kubernetes, method plugin: ObjectStore name

  std::optional<double> max_rto_seconds;
  std::optional<double> max_rpo_seconds;
};

// Reads `params` strictly (calls Finish()). Throws ConfigError with the key path.
RestoreDrillParams ReadRestoreDrillParams(YamlMap& params, const Config& config);

// CNPG objects (postgresql.cnpg.io/v1) the kubernetes methods create.
// A Backup of `cnpg_cluster` (metadata.generateName "<cluster>-dbcanary-").
nlohmann::json BuildCnpgBackup(const std::string& namespace_, const std::string& cnpg_cluster,
                               const std::string& method, const std::string& plugin);
// The scratch recovery Cluster "<cluster>-dbcanary-restore" bootstrapped from Backup
// `backup_name`. `source` is the production Cluster object (imageName, storage and
// postgresql.parameters are copied; backup, plugins and replica settings are not, so the
// scratch cluster archives nowhere). Method plugin recovers through an externalClusters entry
// that reads the production serverName and never writes.
nlohmann::json BuildCnpgRecoveryCluster(const std::string& namespace_,
                                        const std::string& cnpg_cluster,
                                        const std::string& backup_name, const std::string& method,
                                        const std::string& plugin, const std::string& barman_object,
                                        int instances, const nlohmann::json& source);
std::string RecoveryClusterName(const std::string& cnpg_cluster);

// What the restored data says, and the verdict.
struct RestoredMarker {
  bool tables_present = false;
  bool marker_found = false;
  std::optional<double> marker_written_at;  // Unix seconds
  std::optional<double> tail_written_at;    // the row written after the backup, if restored
  std::string stored_checksum;              // the checksum the primary computed at write time
  std::string actual_checksum;              // recomputed over the restored rows
  int64_t actual_rows = 0;
};

struct RestoreVerdict {
  bool verified = false;
  std::string detail;                 // why not, or what matched
  std::optional<double> rpo_seconds;  // restore start - newest drill row restored
};

// Pure: compares the restored data with what was written. `expected_checksum` and
// `expected_rows` come from the primary; `restore_started_at` is the primary's clock when the
// restore began.
RestoreVerdict JudgeRestore(const RestoredMarker& restored, const std::string& expected_checksum,
                            int64_t expected_rows, double restore_started_at);

// A backup size announced by a backup command on a line "DBCANARY_BACKUP_BYTES=N".
std::optional<double> ParseBackupBytes(const std::string& output);

// Replaces "{label}" in every argument.
std::vector<std::string> SubstituteLabel(const std::vector<std::string>& argv,
                                         const std::string& label);

Result<std::unique_ptr<Drill>> MakeRestoreDrill(const DrillSettings& settings,
                                                const Config& config);

}  // namespace dbcanary
