#pragma once

#include <memory>
#include <optional>
#include <string>

#include "clients/pg/pg_session.h"
#include "config/config.h"
#include "core/result.h"
#include "drills/drill.h"
#include "drills/restore/restore_drill.h"

// How the restore drill takes its backup and restores it into a scratch target. The config
// chooses each independently (backup: { command | kubernetes }, restore: { command | kubernetes
// }, the kubernetes restore only from a kubernetes backup), once, when the drill is built: the
// drill's phases then call the backends without asking which method is configured.

namespace dbcanary {

// What a backup backend reports of a backup it took.
struct TakenBackup {
  std::string label;              // the backup's name from now on (a CNPG Backup's generated name)
  std::optional<double> seconds;  // the backup's own duration, when the method reports it
  std::optional<double> bytes;    // its size, when the method reports it
  std::string detail;             // the backup phase's detail in the report
};

class BackupBackend {
 public:
  virtual ~BackupBackend() = default;
  // Takes a backup labelled `label`, waiting until it completed. Adds its evidence (command
  // output, the Backup's status) to `result`, also when it fails.
  virtual Result<TakenBackup> TakeBackup(const DrillContext& ctx, const std::string& label,
                                         DrillResult& result) const = 0;
  // Removes the backup objects the drill created (CNPG Backups carrying the owner label), once
  // the restore no longer needs them; idempotent. The backup data itself stays in the store.
  virtual Status CleanUp(const DrillContext& ctx) const {
    (void)ctx;
    return Ok{};
  }
};

class RestoreBackend {
 public:
  virtual ~RestoreBackend() = default;
  // Restores the backup `label` into the scratch target and returns once the method reports it
  // ready. Sets `created` as soon as the scratch target may exist: from then on it must be
  // removed, even when the restore fails. Adds its evidence to `result`.
  virtual Status Restore(const DrillContext& ctx, const std::string& label, DrillResult& result,
                         bool& created) const = 0;
  // Where the restored data is served (the drill sets the dbname).
  virtual const PgEndpoint& ScratchConnection() const = 0;
  // Removes the scratch target, whatever run left it; idempotent. Returns the output to show in
  // the report (empty: none).
  virtual Result<std::string> CleanUp(const DrillContext& ctx) const = 0;
};

// The backends `params` configure. `config` must be the one ReadRestoreDrillParams checked
// `params` against (the names it refers to exist).
std::unique_ptr<BackupBackend> MakeBackupBackend(const RestoreDrillParams& params,
                                                 const Config& config);
std::unique_ptr<RestoreBackend> MakeRestoreBackend(const RestoreDrillParams& params,
                                                   const Config& config);

}  // namespace dbcanary
