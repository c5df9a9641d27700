#include "probes/kubernetes/k8s_cnpg_backup_policy_probe.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "clients/kube/kube_common.h"
#include "probes/kubernetes/k8s_cnpg_backups_probe.h"

namespace dbcanary {
namespace {

using kube::Text;

constexpr const char* kDestination = "dbcanary_k8s_cnpg_backup_destination_configured";
constexpr const char* kRetention = "dbcanary_k8s_cnpg_backup_retention_seconds";
constexpr const char* kOldest = "dbcanary_k8s_cnpg_backup_oldest_completed_timestamp_seconds";

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class K8sCnpgBackupPolicyProbe final : public Probe {
 public:
  K8sCnpgBackupPolicyProbe(KubernetesSettings kube, KubeCluster cluster, double grace)
      : kube_(std::move(kube)), cluster_(std::move(cluster)), grace_(grace) {}

  const std::vector<MetricDesc>& Describe() const override {
    return K8sCnpgBackupPolicyMetricDescs();
  }

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
    std::optional<nlohmann::json> store;
    if (auto ref = FindObjectStore(*cluster, std::nullopt, std::nullopt, cluster_.cnpg_cluster)) {
      auto object = client->Get(kube::Resource{"barmancloud.cnpg.io", "v1", "objectstores", ns},
                                ref->name, ctx.deadline);
      if (!object) {
        result.Fail(object.error());
        return result;
      }
      store = std::move(*object);
    }
    auto backups = client->List(kube::CnpgResource("backups", ns),
                                "cnpg.io/cluster=" + cluster_.cnpg_cluster, ctx.deadline);
    if (!backups) {
      result.Fail(backups.error());
      return result;
    }
    EvaluateBackupPolicy(*cluster, store ? &*store : nullptr, *backups, cluster_.name,
                         cluster_.cnpg_cluster, grace_, kube::NowSeconds(), result);
    result.success = true;
    return result;
  }

 private:
  KubernetesSettings kube_;
  KubeCluster cluster_;
  double grace_;
};

}  // namespace

const std::vector<MetricDesc>& K8sCnpgBackupPolicyMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kDestination,
       "1 when a backup destination is configured (barmanObjectStore destinationPath, or the "
       "Barman Cloud plugin ObjectStore's), else 0.",
       MetricType::kGauge},
      {kRetention,
       "The declared retention policy in seconds (months count 30 days); absent when none is "
       "declared.",
       MetricType::kGauge},
      {kOldest, "Completion time (status.stoppedAt) of the oldest completed Backup object kept.",
       MetricType::kGauge},
  };
  return descs;
}

std::optional<double> ParseRetentionPolicy(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  double unit = 0;
  switch (text.back()) {
    case 'd':
      unit = 86400.0;
      break;
    case 'w':
      unit = 7 * 86400.0;
      break;
    case 'm':
      unit = 30 * 86400.0;
      break;
    default:
      return std::nullopt;
  }
  double count = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || (i == 0 && text[i] == '0')) return std::nullopt;
    count = count * 10 + (text[i] - '0');
  }
  return count * unit;
}

void EvaluateBackupPolicy(const nlohmann::json& cluster, const nlohmann::json* object_store,
                          const nlohmann::json& backups, const std::string& target,
                          const std::string& cnpg_cluster, double retention_grace_seconds,
                          double now, ProbeResult& out) {
  const Labels labels = {{"target", target}, {"cnpg_cluster", cnpg_cluster}};
  std::string destination, policy;
  if (object_store != nullptr) {
    destination = Text(*object_store, {"spec", "configuration", "destinationPath"}).value_or("");
    policy = Text(*object_store, {"spec", "retentionPolicy"}).value_or("");
  } else {
    destination =
        Text(cluster, {"spec", "backup", "barmanObjectStore", "destinationPath"}).value_or("");
    policy = Text(cluster, {"spec", "backup", "retentionPolicy"}).value_or("");
  }
  out.Add(kDestination, labels, destination.empty() ? 0 : 1);
  out.expectations.push_back(
      ExpectNumber("cnpg_backup_destination", target, destination.empty() ? 0 : 1, "==", 1));
  const auto retention = ParseRetentionPolicy(policy);
  if (retention) out.Add(kRetention, labels, *retention);
  auto declared =
      ExpectNumber("cnpg_backup_retention_declared", target, retention ? 1 : 0, "==", 1);
  if (!policy.empty() && !retention) declared.observed_text += " (unparsable \"" + policy + "\")";
  out.expectations.push_back(std::move(declared));

  double oldest = kNaN;
  if (const auto* items = kube::Field(backups, {"items"}); items != nullptr && items->is_array()) {
    for (const auto& backup : *items) {
      if (Text(backup, {"spec", "cluster", "name"}).value_or("") != cnpg_cluster) continue;
      if (Text(backup, {"status", "phase"}).value_or("") != "completed") continue;
      if (auto at = kube::Timestamp(backup, {"status", "stoppedAt"})) {
        oldest = std::isnan(oldest) ? *at : std::min(oldest, *at);
      }
    }
  }
  if (!std::isnan(oldest)) out.Add(kOldest, labels, oldest);
  // Judged only with a policy and a completed backup: the other checks name what is missing.
  if (retention && !std::isnan(oldest)) {
    out.expectations.push_back(ExpectNumber("cnpg_backup_retention_enforced", target, now - oldest,
                                            "<=", *retention + retention_grace_seconds));
  }
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgBackupPolicyProbe(const ProbeSettings& settings,
                                                              const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    double grace = 2 * 86400.0;
    if (settings.params) {
      if (auto map = settings.params->Map("expect")) {
        if (auto value = map->Duration("retention_grace")) {
          grace = std::chrono::duration<double>(*value).count();
        }
        map->Finish();
      }
      settings.params->Finish();
    }
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes) {
      return MakeError(
          ErrorCode::kConfig,
          "k8s_cnpg_backup_policy: no kubernetes cluster named \"" + settings.target + "\"");
    }
    return std::unique_ptr<Probe>(
        std::make_unique<K8sCnpgBackupPolicyProbe>(*config.kubernetes, *cluster, grace));
  });
}

}  // namespace dbcanary
