#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "probes/probe.h"

namespace dbcanary {

// Kind "backup_directory", target: a postgres.clusters[] entry. Backup freshness from a
// directory (e.g. a PVC mounted into the exporter's pod) that holds pg_basebackup output:
// either the directory itself or its immediate subdirectories, one backup each, in plain
// (-Fp: backup_label + data files) or tar (-Ft: base.tar[.gz|.lz4|.zst]) format. A backup counts
// as complete when it has a backup_manifest whose first key is "PostgreSQL-Backup-Manifest-Version"
// (pg_basebackup writes the manifest last); its completion time is the manifest's mtime. A
// backup made with --no-manifest counts when it has backup_label (plain) or base.tar* (tar), with
// the newest mtime of its top-level files as completion time.
// Exports the same family as k8s_cnpg_backups, with method="pg_basebackup", source="directory".
// Params: path: DIR (required), expect: { backup_max_age: 24h, min_backups: 1, min_size_bytes }.
Result<std::unique_ptr<Probe>> CreateBackupDirectoryProbe(const ProbeSettings& settings,
                                                          const Config& config);

const std::vector<MetricDesc>& BackupDirectoryMetricDescs();

struct DirectoryBackup {
  std::string path;
  double completed_at = 0;  // Unix seconds
  double size_bytes = 0;    // every regular file under the backup
  bool has_manifest = false;
  bool tar_format = false;
};

// Every complete backup under `dir` (see above). Fails with kConnect when `dir` is unreadable.
Result<std::vector<DirectoryBackup>> FindDirectoryBackups(const std::string& dir);

}  // namespace dbcanary
