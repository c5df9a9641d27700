#include "probes/kubernetes/k8s_cnpg_backups_probe.h"

#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "clients/kube/kube_common.h"

namespace dbcanary {
namespace {

using kube::Text;
using kube::Timestamp;

// The `items` array of a list answer; empty when there is none (operator[] on a const json
// without the key is undefined behaviour, found by tests/fuzz/kube_json_fuzzer).
const nlohmann::json& Items(const nlohmann::json& list) {
  static const nlohmann::json kNone = nlohmann::json::array();
  const nlohmann::json* items = kube::Field(list, {"items"});
  return items != nullptr && items->is_array() ? *items : kNone;
}

constexpr const char* kLastCompleted = "dbcanary_backup_last_completed_timestamp_seconds";
constexpr const char* kLastFailed = "dbcanary_backup_last_failed_timestamp_seconds";
constexpr const char* kFirstRecoverability =
    "dbcanary_backup_first_recoverability_point_timestamp_seconds";
constexpr const char* kObjects = "dbcanary_backup_objects";
constexpr const char* kRunning = "dbcanary_backup_running_seconds";
constexpr const char* kScheduled = "dbcanary_scheduled_backups";
constexpr const char* kScheduledInfo = "dbcanary_scheduled_backup_info";
constexpr const char* kSuspended = "dbcanary_scheduled_backup_suspended";
constexpr const char* kLastSchedule = "dbcanary_scheduled_backup_last_schedule_timestamp_seconds";
constexpr const char* kNextSchedule = "dbcanary_scheduled_backup_next_schedule_timestamp_seconds";
constexpr const char* kMissed = "dbcanary_scheduled_backup_missed";

constexpr const char* kBarmanPlugin = "barman-cloud.cloudnative-pg.io";
const double kNaN = std::numeric_limits<double>::quiet_NaN();

bool IsRunningPhase(const std::string& label) {
  return label == "pending" || label == "started" || label == "running" || label == "finalizing";
}

// Newest timestamp per (method, source).
using Newest = std::map<std::pair<std::string, std::string>, double>;
void Keep(Newest& newest, const std::string& method, const std::string& source, double at) {
  auto [it, inserted] = newest.try_emplace({method, source}, at);
  if (!inserted) it->second = std::max(it->second, at);
}

std::string BackupMethod(const nlohmann::json& backup) {
  auto method = Text(backup, {"status", "method"});
  if (!method || method->empty()) method = Text(backup, {"spec", "method"});
  return BackupMethodLabel(method.value_or("barmanObjectStore"));  // CNPG's default method
}

class K8sCnpgBackupsProbe final : public Probe {
 public:
  K8sCnpgBackupsProbe(KubernetesSettings kube, KubeCluster cluster, std::string label_selector,
                      std::optional<std::string> object_store,
                      std::optional<std::string> server_name, BackupExpect expect)
      : kube_(std::move(kube)),
        cluster_(std::move(cluster)),
        label_selector_(std::move(label_selector)),
        object_store_(std::move(object_store)),
        server_name_(std::move(server_name)),
        expect_(expect) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sCnpgBackupsMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto client = kube::MakeClient(kube_);
    if (!client) {
      result.Fail(client.error());
      return result;
    }
    const std::string& ns = cluster_.namespace_;
    auto cluster =
        client->Get(kube::CnpgResource("clusters", ns), cluster_.cnpg_cluster, ctx.deadline);
    if (!cluster) {
      result.Fail(cluster.error());
      return result;
    }
    auto backups = client->List(kube::CnpgResource("backups", ns), label_selector_, ctx.deadline);
    if (!backups) {
      result.Fail(backups.error());
      return result;
    }
    auto scheduled = client->List(kube::CnpgResource("scheduledbackups", ns), "", ctx.deadline);
    if (!scheduled) {
      result.Fail(scheduled.error());
      return result;
    }
    BackupInputs in;
    in.cluster = &*cluster;
    in.backups = &*backups;
    in.scheduled = &*scheduled;
    std::optional<nlohmann::json> store;
    if (auto ref = FindObjectStore(*cluster, object_store_, server_name_, cluster_.cnpg_cluster)) {
      auto fetched = client->Get(kube::Resource{"barmancloud.cnpg.io", "v1", "objectstores", ns},
                                 ref->name, ctx.deadline);
      if (!fetched) {
        result.Fail(fetched.error());
        return result;
      }
      store = std::move(*fetched);
      in.object_store = &*store;
      in.server_name = ref->server_name;
    }
    EvaluateBackups(in, cluster_.name, cluster_.cnpg_cluster, expect_, kube::NowSeconds(), result);
    result.success = true;
    return result;
  }

 private:
  KubernetesSettings kube_;
  KubeCluster cluster_;
  std::string label_selector_;
  std::optional<std::string> object_store_;
  std::optional<std::string> server_name_;
  BackupExpect expect_;
};

}  // namespace

const std::vector<std::string>& BackupPhaseLabels() {
  static const std::vector<std::string> labels = {"pending",
                                                  "started",
                                                  "running",
                                                  "finalizing",
                                                  "completed",
                                                  "failed",
                                                  "wal_archiving_failing",
                                                  "invalid_backup_definition",
                                                  "other"};
  return labels;
}

std::string BackupPhaseLabel(const std::string& phase) {
  if (phase.empty() || phase == "pending") return "pending";  // not reconciled yet
  if (phase == "walArchivingFailing") return "wal_archiving_failing";
  if (phase == "invalid backup definition") return "invalid_backup_definition";
  for (const auto& label : BackupPhaseLabels()) {
    if (label == phase) return label;
  }
  return "other";
}

std::string BackupMethodLabel(const std::string& method) {
  if (method == "barmanObjectStore") return "barman_object_store";
  if (method == "volumeSnapshot") return "volume_snapshot";
  if (method == "plugin") return "plugin";
  return "other";
}

std::optional<ObjectStoreRef> FindObjectStore(const nlohmann::json& cluster,
                                              const std::optional<std::string>& object_store,
                                              const std::optional<std::string>& server_name,
                                              const std::string& cnpg_cluster) {
  ObjectStoreRef ref;
  if (object_store) {
    if (object_store->empty()) return std::nullopt;  // explicitly disabled
    ref.name = *object_store;
  }
  if (const auto* plugins = kube::Field(cluster, {"spec", "plugins"});
      plugins != nullptr && plugins->is_array()) {
    for (const auto& plugin : *plugins) {
      if (Text(plugin, {"name"}) != std::string(kBarmanPlugin)) continue;
      if (ref.name.empty())
        ref.name = Text(plugin, {"parameters", "barmanObjectName"}).value_or("");
      ref.server_name = Text(plugin, {"parameters", "serverName"}).value_or("");
      break;
    }
  }
  if (ref.name.empty()) return std::nullopt;
  if (server_name) ref.server_name = *server_name;
  if (ref.server_name.empty()) ref.server_name = cnpg_cluster;
  return ref;
}

const std::vector<MetricDesc>& K8sCnpgBackupsMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kLastCompleted,
       "Completion time of the newest successful backup, per method and source "
       "(backup_object, object_store, cluster_status fallback, directory).",
       MetricType::kGauge},
      {kLastFailed, "Time of the newest failed backup, per method and source.", MetricType::kGauge},
      {kFirstRecoverability, "Earliest point in time the backups allow recovering to, per source.",
       MetricType::kGauge},
      {kObjects, "Backup objects of the cluster by phase.", MetricType::kGauge},
      {kRunning,
       "Longest time any backup of the cluster has been pending or running (0 when none); "
       "a growing value is a stuck backup.",
       MetricType::kGauge},
      {kScheduled, "ScheduledBackup objects of the cluster.", MetricType::kGauge},
      {kScheduledInfo, "Always 1 per ScheduledBackup, carrying its schedule and method.",
       MetricType::kGauge},
      {kSuspended, "1 when the ScheduledBackup is suspended (spec.suspend).", MetricType::kGauge},
      {kLastSchedule, "status.lastScheduleTime of the ScheduledBackup.", MetricType::kGauge},
      {kNextSchedule, "status.nextScheduleTime of the ScheduledBackup.", MetricType::kGauge},
      {kMissed,
       "1 when an unsuspended ScheduledBackup's nextScheduleTime is further in the past "
       "than the grace period (the operator is not scheduling it).",
       MetricType::kGauge},
  };
  return descs;
}

void EvaluateBackups(const BackupInputs& in, const std::string& target,
                     const std::string& cnpg_cluster, const BackupExpect& expect, double now,
                     ProbeResult& out) {
  Newest completed;
  Newest failed;
  std::map<std::string, double> first_point;  // by source
  std::map<std::string, int> phases;
  for (const auto& label : BackupPhaseLabels()) phases[label] = 0;
  double running = 0;

  if (in.backups != nullptr) {
    for (const auto& backup : Items(*in.backups)) {
      auto owner = Text(backup, {"spec", "cluster", "name"});
      if (owner && *owner != cnpg_cluster) continue;
      const std::string phase = BackupPhaseLabel(Text(backup, {"status", "phase"}).value_or(""));
      ++phases[phase];
      const std::string method = BackupMethod(backup);
      if (phase == "completed") {
        if (auto at = Timestamp(backup, {"status", "stoppedAt"}))
          Keep(completed, method, "backup_object", *at);
      } else if (phase == "failed") {
        auto at = Timestamp(backup, {"status", "stoppedAt"});
        if (!at) at = Timestamp(backup, {"status", "startedAt"});
        if (!at) at = Timestamp(backup, {"metadata", "creationTimestamp"});
        if (at) Keep(failed, method, "backup_object", *at);
      } else if (IsRunningPhase(phase)) {
        auto since = Timestamp(backup, {"status", "startedAt"});
        if (!since) since = Timestamp(backup, {"metadata", "creationTimestamp"});
        if (since) running = std::max(running, now - *since);
      }
    }
  }
  if (in.object_store != nullptr) {
    if (const auto* window = kube::Field(*in.object_store, {"status", "serverRecoveryWindow"});
        window != nullptr && window->is_object() && window->contains(in.server_name)) {
      const auto& server = (*window)[in.server_name];
      if (auto at = Timestamp(server, {"lastSuccessfulBackupTime"}))
        Keep(completed, "plugin", "object_store", *at);
      if (auto at = Timestamp(server, {"lastFailedBackupTime"}))
        Keep(failed, "plugin", "object_store", *at);
      if (auto at = Timestamp(server, {"firstRecoverabilityPoint"}))
        first_point["object_store"] = *at;
    }
  }
  // Deprecated Cluster status fields (not set for plugin backups): a fallback only.
  if (in.cluster != nullptr) {
    if (completed.empty()) {
      if (const auto* by_method =
              kube::Field(*in.cluster, {"status", "lastSuccessfulBackupByMethod"});
          by_method != nullptr && by_method->is_object()) {
        for (const auto& [method, value] : by_method->items()) {
          if (!value.is_string()) continue;
          if (auto at = kube::Timestamp(
                  *in.cluster, {"status", "lastSuccessfulBackupByMethod", method.c_str()})) {
            Keep(completed, BackupMethodLabel(method), "cluster_status", *at);
          }
        }
      }
      if (completed.empty()) {
        if (auto at = Timestamp(*in.cluster, {"status", "lastSuccessfulBackup"})) {
          Keep(completed, "other", "cluster_status", *at);
        }
      }
    }
    if (failed.empty()) {
      if (auto at = Timestamp(*in.cluster, {"status", "lastFailedBackup"}))
        Keep(failed, "other", "cluster_status", *at);
    }
    if (first_point.empty()) {
      if (auto at = Timestamp(*in.cluster, {"status", "firstRecoverabilityPoint"})) {
        first_point["cluster_status"] = *at;
      }
    }
  }

  double newest = -std::numeric_limits<double>::infinity();
  for (const auto& [key, at] : completed) {
    out.Add(kLastCompleted, {{"target", target}, {"method", key.first}, {"source", key.second}},
            at);
    newest = std::max(newest, at);
  }
  for (const auto& [key, at] : failed) {
    out.Add(kLastFailed, {{"target", target}, {"method", key.first}, {"source", key.second}}, at);
  }
  for (const auto& [source, at] : first_point) {
    out.Add(kFirstRecoverability, {{"target", target}, {"source", source}}, at);
  }
  for (const auto& [phase, count] : phases) {
    out.Add(kObjects, {{"target", target}, {"phase", phase}}, count);
  }
  out.Add(kRunning, {{"target", target}}, running);

  int schedules = 0;
  int missed = 0;
  if (in.scheduled != nullptr) {
    for (const auto& item : Items(*in.scheduled)) {
      if (Text(item, {"spec", "cluster", "name"}) != cnpg_cluster) continue;
      ++schedules;
      const std::string name = Text(item, {"metadata", "name"}).value_or("");
      const Labels labels = {{"target", target}, {"scheduled_backup", name}};
      const bool suspended = kube::Flag(item, {"spec", "suspend"}).value_or(false);
      out.Add(kScheduledInfo,
              {{"target", target},
               {"scheduled_backup", name},
               {"schedule", Text(item, {"spec", "schedule"}).value_or("")},
               {"method",
                BackupMethodLabel(Text(item, {"spec", "method"}).value_or("barmanObjectStore"))}},
              1);
      out.Add(kSuspended, labels, suspended ? 1 : 0);
      if (auto at = Timestamp(item, {"status", "lastScheduleTime"}))
        out.Add(kLastSchedule, labels, *at);
      auto next = Timestamp(item, {"status", "nextScheduleTime"});
      if (next) out.Add(kNextSchedule, labels, *next);
      const bool is_missed = !suspended && next && now - *next > expect.schedule_grace_seconds;
      if (is_missed) ++missed;
      out.Add(kMissed, labels, is_missed ? 1 : 0);
    }
  }
  out.Add(kScheduled, {{"target", target}}, schedules);

  out.expectations.push_back(ExpectNumber("backup_max_age", target,
                                          std::isfinite(newest) ? now - newest : kNaN,
                                          "<=", expect.max_age_seconds));
  out.expectations.push_back(
      ExpectNumber("backup_max_running", target, running, "<=", expect.max_running_seconds));
  if (expect.require_scheduled_backup && schedules == 0) {
    ExpectationResult missing = ExpectNumber("scheduled_backup_on_time", target, kNaN, "==", 0);
    missing.pass = false;
    missing.observed_text = "no ScheduledBackup for cluster " + cnpg_cluster;
    out.expectations.push_back(std::move(missing));
  } else {
    out.expectations.push_back(ExpectNumber("scheduled_backup_on_time", target, missed, "==", 0));
  }
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgBackupsProbe(const ProbeSettings& settings,
                                                         const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes) {
      return MakeError(ErrorCode::kConfig,
                       "k8s_cnpg_backups: no kubernetes cluster named \"" + settings.target + "\"");
    }
    std::string selector = "cnpg.io/cluster=" + cluster->cnpg_cluster;
    std::optional<std::string> object_store;
    std::optional<std::string> server_name;
    BackupExpect expect;
    if (settings.params) {
      auto& params = *settings.params;
      if (auto value = params.String("label_selector")) selector = *value;
      object_store = params.String("object_store");
      server_name = params.String("server_name");
      if (auto map = params.Map("expect")) {
        auto seconds = [](std::chrono::milliseconds d) {
          return std::chrono::duration<double>(d).count();
        };
        if (auto d = map->Duration("backup_max_age")) expect.max_age_seconds = seconds(*d);
        if (auto d = map->Duration("backup_max_running")) expect.max_running_seconds = seconds(*d);
        if (auto d = map->Duration("schedule_grace")) expect.schedule_grace_seconds = seconds(*d);
        if (auto b = map->Bool("require_scheduled_backup")) expect.require_scheduled_backup = *b;
        map->Finish();
      }
      params.Finish();
    }
    return std::unique_ptr<Probe>(std::make_unique<K8sCnpgBackupsProbe>(
        *config.kubernetes, *cluster, selector, object_store, server_name, expect));
  });
}

}  // namespace dbcanary
