#include "drills/restore/restore_backend.h"

#include <fmt/format.h>

#include "clients/kube/client.h"
#include "clients/kube/kube_common.h"
#include "drills/command.h"
#include "drills/runtime/ownership.h"

namespace dbcanary {
namespace {

using std::chrono::milliseconds;

// Runs a backup or restore command with the label in its arguments ("{label}") and in
// DBCANARY_BACKUP_LABEL; its output becomes evidence "<what> command output". A non-zero exit
// is an error. Returns the output.
Result<std::string> RunLabelledCommand(const DrillContext& ctx,
                                       const std::vector<std::string>& argv,
                                       const std::string& label, const char* what,
                                       DrillResult& result) {
  auto env = ctx.command_env;
  env.emplace_back("DBCANARY_BACKUP_LABEL", label);
  auto outcome = RunDrillCommand(SubstituteLabel(argv, label), env, ctx.deadline, ctx.stop);
  if (!outcome) return outcome.error();
  result.AddEvidence(std::string(what) + " command output", outcome->output);
  if (outcome->exit_code != 0) {
    return MakeError(ErrorCode::kUnexpected, std::string(what) + " command exited with " +
                                                 std::to_string(outcome->exit_code) + ": " +
                                                 LastLines(outcome->output, 3));
  }
  return std::move(outcome->output);
}

// backup: { command }: the command takes the backup and may announce its size.
class CommandBackupBackend final : public BackupBackend {
 public:
  explicit CommandBackupBackend(std::vector<std::string> command) : command_(std::move(command)) {}

  Result<TakenBackup> TakeBackup(const DrillContext& ctx, const std::string& label,
                                 DrillResult& result) const override {
    ctx.progress("backup: " + DescribeCommand(command_));
    auto output = RunLabelledCommand(ctx, command_, label, "backup", result);
    if (!output) return output.error();
    return TakenBackup{label, std::nullopt, ParseBackupBytes(*output), "label " + label};
  }

 private:
  std::vector<std::string> command_;
};

// backup: { kubernetes }: a CNPG Backup object, polled until its phase is completed.
class CnpgBackupBackend final : public BackupBackend {
 public:
  CnpgBackupBackend(KubernetesSettings kube, KubeCluster target, std::string method,
                    std::string plugin)
      : kube_(std::move(kube)),
        target_(std::move(target)),
        method_(std::move(method)),
        plugin_(std::move(plugin)) {}

  Result<TakenBackup> TakeBackup(const DrillContext& ctx, const std::string& label,
                                 DrillResult& result) const override {
    (void)label;  // CNPG names the Backup itself (generateName)
    auto client = kube::MakeClient(kube_);
    if (!client) return client.error();
    const auto backups = kube::CnpgResource("backups", target_.namespace_);
    ctx.progress("creating a CNPG Backup of " + target_.cnpg_cluster);
    auto created = client->Create(
        backups, BuildCnpgBackup(target_.namespace_, target_.cnpg_cluster, method_, plugin_),
        ctx.deadline);
    if (!created) return created.error();
    auto name = kube::Text(*created, {"metadata", "name"});
    if (!name || name->empty()) {
      return MakeError(ErrorCode::kProtocol, "the created Backup has no metadata.name");
    }
    auto backup = WaitCompleted(ctx, *client, *name);
    if (!backup) return backup.error();
    return Describe(*name, *backup, result);
  }

  Status CleanUp(const DrillContext& ctx) const override {
    auto client = kube::MakeClient(kube_);
    if (!client) return client.error();
    const auto backups = kube::CnpgResource("backups", target_.namespace_);
    auto listed = client->List(backups,
                               std::string(kOwnerLabel) + "=" + std::string(kOwnerLabelValue) +
                                   ",dbcanary.io/drill=restore",
                               ctx.deadline);
    if (!listed) return listed.error();
    const auto* items = kube::Field(*listed, {"items"});
    if (items == nullptr || !items->is_array()) return Ok{};
    for (const auto& item : *items) {
      auto name = kube::Text(item, {"metadata", "name"});
      // The selector chose them; the label is checked again on the object itself.
      if (!name || kube::Text(item, {"spec", "cluster", "name"}) != target_.cnpg_cluster ||
          !HasOwnerLabel(item)) {
        continue;
      }
      Status deleted = client->Delete(backups, *name, ctx.deadline);
      if (!deleted && deleted.error().cause.http_status != 404) return deleted.error();
    }
    return Ok{};
  }

 private:
  // Polls Backup `name` until its phase is completed; "failed" and the deadline end the wait.
  Result<nlohmann::json> WaitCompleted(const DrillContext& ctx, const kube::Client& client,
                                       const std::string& name) const {
    const auto backups = kube::CnpgResource("backups", target_.namespace_);
    for (;;) {
      auto got = client.Get(backups, name, ctx.deadline);
      if (!got) return got.error();
      const std::string phase = kube::Text(*got, {"status", "phase"}).value_or("");
      if (phase == "completed") return std::move(*got);
      if (phase == "failed") {
        return MakeError(ErrorCode::kUnexpected,
                         "Backup " + name + " failed: " +
                             kube::Text(*got, {"status", "error"}).value_or("no status.error"));
      }
      if (!PauseDrill(ctx, milliseconds(2000))) {
        return MakeError(ErrorCode::kTimeout,
                         "Backup " + name + " still in phase \"" + phase + "\"");
      }
    }
  }

  // The completed Backup's duration (stoppedAt - startedAt) and summary.
  TakenBackup Describe(const std::string& name, const nlohmann::json& backup,
                       DrillResult& result) const {
    TakenBackup taken;
    taken.label = name;
    auto started = kube::Timestamp(backup, {"status", "startedAt"});
    auto stopped = kube::Timestamp(backup, {"status", "stoppedAt"});
    if (started && stopped && *stopped >= *started) taken.seconds = *stopped - *started;
    auto status = [&](const char* field) {
      return kube::Text(backup, {"status", field}).value_or("-");
    };
    taken.detail = fmt::format(
        "Backup {}/{}: phase completed, method {}, backupId {}, startedAt {}, stoppedAt {}, "
        "beginWal {}, endWal {}",
        target_.namespace_, name, method_, status("backupId"), status("startedAt"),
        status("stoppedAt"), status("beginWal"), status("endWal"));
    result.AddEvidence("backup", taken.detail);
    return taken;
  }

  KubernetesSettings kube_;
  KubeCluster target_;
  std::string method_;  // barmanObjectStore | volumeSnapshot | plugin
  std::string plugin_;
};

// restore: { command, cleanup, connection }: commands create and remove the scratch instance.
class CommandRestoreBackend final : public RestoreBackend {
 public:
  CommandRestoreBackend(std::string cluster_name, std::vector<std::string> restore,
                        std::vector<std::string> cleanup, PgEndpoint connection)
      : cluster_name_(std::move(cluster_name)),
        restore_(std::move(restore)),
        cleanup_(std::move(cleanup)),
        connection_(std::move(connection)) {}

  Status Restore(const DrillContext& ctx, const std::string& label, DrillResult& result,
                 bool& created) const override {
    ctx.progress("restore: " + DescribeCommand(restore_));
    created = true;  // whatever the command got to before failing, cleanup removes it
    auto output = RunLabelledCommand(ctx, restore_, label, "restore", result);
    if (!output) return output.error();
    return Ok{};
  }

  const PgEndpoint& ScratchConnection() const override { return connection_; }

  Result<std::string> CleanUp(const DrillContext& ctx) const override {
    auto outcome = RunDrillCommand(cleanup_, ctx.command_env, ctx.deadline, ctx.stop);
    if (!outcome) return outcome.error();
    if (outcome->exit_code != 0) {
      return MakeError(ErrorCode::kUnexpected, cluster_name_ + ": cleanup command \"" +
                                                   DescribeCommand(cleanup_) + "\" exited with " +
                                                   std::to_string(outcome->exit_code) + ": " +
                                                   LastLines(outcome->output, 3));
    }
    return outcome->output;
  }

 private:
  std::string cluster_name_;
  std::vector<std::string> restore_;
  std::vector<std::string> cleanup_;
  PgEndpoint connection_;
};

// restore: { kubernetes }: a CNPG recovery Cluster bootstrapped from the drill's Backup.
class CnpgRestoreBackend final : public RestoreBackend {
 public:
  CnpgRestoreBackend(const RestoreDrillParams& params, const PostgresCluster& cluster,
                     KubernetesSettings kube, KubeCluster target)
      : cluster_name_(cluster.name),
        kube_(std::move(kube)),
        target_(std::move(target)),
        name_(RecoveryClusterName(target_.cnpg_cluster)),
        method_(params.backup_kube_method),
        plugin_(params.backup_plugin),
        barman_object_(params.restore_barman_object),
        instances_(params.restore_instances),
        connection_(params.restore_connection ? *params.restore_connection
                                              : ServiceConnection(cluster.BaseEndpoint())) {}

  Status Restore(const DrillContext& ctx, const std::string& label, DrillResult& result,
                 bool& created) const override {
    auto client = kube::MakeClient(kube_);
    if (!client) return client.error();
    const auto clusters = kube::CnpgResource("clusters", target_.namespace_);
    auto source = client->Get(clusters, target_.cnpg_cluster, ctx.deadline);
    if (!source) return source.error();
    ctx.progress("creating the recovery Cluster " + name_ + " from Backup " + label);
    created = true;
    auto made = client->Create(
        clusters,
        BuildCnpgRecoveryCluster(target_.namespace_, target_.cnpg_cluster, label, method_, plugin_,
                                 barman_object_, instances_, *source),
        ctx.deadline);
    if (!made) return made.error();
    return WaitHealthy(ctx, *client, result);
  }

  const PgEndpoint& ScratchConnection() const override { return connection_; }

  Result<std::string> CleanUp(const DrillContext& ctx) const override {
    auto client = kube::MakeClient(kube_);
    if (!client) return client.error();
    const auto clusters = kube::CnpgResource("clusters", target_.namespace_);
    // Only a Cluster carrying the owner label: a namesake someone else made is left alone.
    Status deleted = DeleteOwnedKubeObject(*client, clusters, name_, ctx.deadline);
    if (!deleted) return deleted.error();
    // Wait until it is gone, so the next Create does not meet a terminating namesake.
    for (;;) {
      auto got = client->Get(clusters, name_, ctx.deadline);
      if (!got && got.error().cause.http_status == 404) return std::string();
      if (!got && got.error().code != ErrorCode::kQuery) return got.error();
      if (!PauseDrill(ctx, milliseconds(1000))) {
        return MakeError(ErrorCode::kTimeout,
                         cluster_name_ + ": recovery Cluster " + name_ + " still exists");
      }
    }
  }

 private:
  // Polls the recovery Cluster until the operator reports it healthy with every instance ready.
  Status WaitHealthy(const DrillContext& ctx, const kube::Client& client,
                     DrillResult& result) const {
    const auto clusters = kube::CnpgResource("clusters", target_.namespace_);
    for (;;) {
      auto got = client.Get(clusters, name_, ctx.deadline);
      if (!got) return got.error();
      const std::string phase = kube::Text(*got, {"status", "phase"}).value_or("");
      const double ready = kube::Number(*got, {"status", "readyInstances"}).value_or(0);
      if (phase == "Cluster in healthy state" && ready >= instances_) {
        result.AddEvidence("recovery Cluster status",
                           fmt::format("Cluster {}/{}: phase \"{}\", readyInstances {}",
                                       target_.namespace_, name_, phase, ready));
        return Ok{};
      }
      if (!PauseDrill(ctx, milliseconds(2000))) {
        return MakeError(ErrorCode::kTimeout,
                         "recovery Cluster " + name_ + " not healthy (phase \"" + phase + "\")");
      }
    }
  }

  // The recovery Cluster's rw Service, with the production primary's credentials.
  PgEndpoint ServiceConnection(const PgEndpoint& primary) const {
    PgEndpoint connection = primary;
    connection.name = name_;
    connection.host = name_ + "-rw." + target_.namespace_ + ".svc";
    connection.port = 5432;
    // the recovery Cluster has its own, new CA: verify-* cannot work with the production one
    if (connection.sslmode == "verify-full" || connection.sslmode == "verify-ca") {
      connection.sslmode = "require";
    }
    connection.sslrootcert.clear();
    return connection;
  }

  std::string cluster_name_;
  KubernetesSettings kube_;
  KubeCluster target_;
  std::string name_;  // of the recovery Cluster
  std::string method_;
  std::string plugin_;
  std::string barman_object_;
  int instances_;
  PgEndpoint connection_;
};

}  // namespace

std::unique_ptr<BackupBackend> MakeBackupBackend(const RestoreDrillParams& params,
                                                 const Config& config) {
  if (params.backup_method == RestoreMethod::kCommand) {
    return std::make_unique<CommandBackupBackend>(params.backup_command);
  }
  return std::make_unique<CnpgBackupBackend>(*config.kubernetes,
                                             *config.FindKubeCluster(params.backup_kube_cluster),
                                             params.backup_kube_method, params.backup_plugin);
}

std::unique_ptr<RestoreBackend> MakeRestoreBackend(const RestoreDrillParams& params,
                                                   const Config& config) {
  const PostgresCluster& cluster = *config.FindCluster(params.cluster);
  if (params.restore_method == RestoreMethod::kCommand) {
    return std::make_unique<CommandRestoreBackend>(
        cluster.name, params.restore_command, params.cleanup_command, *params.restore_connection);
  }
  // ReadRestoreDrillParams allows the kubernetes restore only with the kubernetes backup.
  return std::make_unique<CnpgRestoreBackend>(params, cluster, *config.kubernetes,
                                              *config.FindKubeCluster(params.backup_kube_cluster));
}

}  // namespace dbcanary
