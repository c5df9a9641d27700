#include "probes/kubernetes/k8s_cnpg_cluster_probe.h"

#include <cmath>
#include <limits>
#include <utility>

#include "clients/kube/kube_common.h"
#include "clients/kube/time.h"

namespace dbcanary {
namespace {

using kube::Number;
using kube::Text;

constexpr const char* kPhase = "dbcanary_k8s_cnpg_cluster_phase";
constexpr const char* kInstances = "dbcanary_k8s_cnpg_cluster_instances";
constexpr const char* kReady = "dbcanary_k8s_cnpg_cluster_ready_instances";
constexpr const char* kFailover = "dbcanary_k8s_cnpg_cluster_failover_in_progress";
constexpr const char* kTimeline = "dbcanary_k8s_cnpg_cluster_timeline_id";
constexpr const char* kCondition = "dbcanary_k8s_cnpg_cluster_condition";
constexpr const char* kCertExpiry =
    "dbcanary_k8s_cnpg_cluster_certificate_expiry_timestamp_seconds";

const std::vector<std::pair<std::string, std::string>>& KnownPhases() {
  static const std::vector<std::pair<std::string, std::string>> phases = {
      {"Cluster in healthy state", "healthy"},
      {"Failing over", "failing_over"},
      {"Switchover in progress", "switchover"},
      {"Setting up primary", "setting_up_primary"},
      {"Creating a new replica", "creating_replica"},
      {"Upgrading cluster", "upgrading"},
      {"Waiting for the instances to become active", "waiting_for_instances"},
      {"Primary instance is being restarted in-place", "restarting_primary"},
      {"Cluster is unrecoverable and needs manual intervention", "unrecoverable"},
  };
  return phases;
}

constexpr const char* kConditions[] = {"Ready", "ContinuousArchiving", "LastBackupSucceeded"};

class K8sCnpgClusterProbe final : public Probe {
 public:
  K8sCnpgClusterProbe(KubernetesSettings kube, KubeCluster cluster, CnpgClusterExpect expect)
      : kube_(std::move(kube)), cluster_(std::move(cluster)), expect_(expect) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sCnpgClusterMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto client = kube::MakeClient(kube_);
    if (!client) {
      result.Fail(client.error());
      return result;
    }
    auto object = client->Get(kube::CnpgResource("clusters", cluster_.namespace_),
                              cluster_.cnpg_cluster, ctx.deadline);
    if (!object) {
      result.Fail(object.error());
      return result;
    }
    Status status = EvaluateCnpgCluster(*object, cluster_.name, cluster_.namespace_,
                                        cluster_.cnpg_cluster, expect_, kube::NowSeconds(), result);
    if (!status) {
      result.Fail(status.error());
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  KubernetesSettings kube_;
  KubeCluster cluster_;
  CnpgClusterExpect expect_;
};

}  // namespace

const std::vector<std::string>& CnpgPhaseLabels() {
  static const std::vector<std::string> labels = [] {
    std::vector<std::string> out;
    for (const auto& [sentence, label] : KnownPhases()) out.push_back(label);
    out.push_back("other");
    return out;
  }();
  return labels;
}

std::string CnpgPhaseLabel(const std::string& phase) {
  for (const auto& [sentence, label] : KnownPhases()) {
    if (sentence == phase) return label;
  }
  return "other";
}

const std::vector<MetricDesc>& K8sCnpgClusterMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kPhase,
       "CNPG Cluster status.phase as a state set: 1 for the current phase, 0 for the others "
       "(unknown sentences count as \"other\").",
       MetricType::kGauge},
      {kInstances, "CNPG Cluster status.instances (spec.instances when the status lacks it).",
       MetricType::kGauge},
      {kReady, "CNPG Cluster status.readyInstances.", MetricType::kGauge},
      {kFailover,
       "1 while status.currentPrimary differs from status.targetPrimary (failover or "
       "switchover in progress, including targetPrimary \"pending\"), else 0.",
       MetricType::kGauge},
      {kTimeline, "CNPG Cluster status.timelineID: PostgreSQL timeline of the primary.",
       MetricType::kGauge},
      {kCondition,
       "CNPG Cluster condition (Ready, ContinuousArchiving, LastBackupSucceeded): 1 when "
       "status is True, 0 otherwise; absent when the operator has not set it.",
       MetricType::kGauge},
      {kCertExpiry,
       "Expiry of each certificate the operator manages "
       "(status.certificates.expirations), as a Unix timestamp.",
       MetricType::kGauge},
  };
  return descs;
}

Status EvaluateCnpgCluster(const nlohmann::json& cluster, const std::string& target,
                           const std::string& ns, const std::string& name,
                           const CnpgClusterExpect& expect, double now, ProbeResult& out) {
  const auto* status = kube::Field(cluster, {"status"});
  if (status == nullptr || !status->is_object()) {
    return MakeError(ErrorCode::kProtocol,
                     "Cluster " + ns + "/" + name + " has no status (operator not reconciling?)");
  }
  const Labels base = {{"target", target}, {"k8s_namespace", ns}, {"cnpg_cluster", name}};
  auto with = [&](const char* key, std::string value) {
    Labels labels = base;
    labels.emplace_back(key, std::move(value));
    return labels;
  };
  const std::string phase = CnpgPhaseLabel(Text(cluster, {"status", "phase"}).value_or(""));
  for (const auto& label : CnpgPhaseLabels()) {
    out.Add(kPhase, with("phase", label), label == phase ? 1 : 0);
  }
  auto instances = Number(cluster, {"status", "instances"});
  if (!instances) instances = Number(cluster, {"spec", "instances"});
  const double ready = Number(cluster, {"status", "readyInstances"}).value_or(0);
  if (instances) out.Add(kInstances, base, *instances);
  out.Add(kReady, base, ready);
  auto current = Text(cluster, {"status", "currentPrimary"});
  auto wanted = Text(cluster, {"status", "targetPrimary"});
  out.Add(kFailover, base, current && wanted && *current != *wanted ? 1 : 0);
  if (auto timeline = Number(cluster, {"status", "timelineID"}))
    out.Add(kTimeline, base, *timeline);
  for (const char* condition : kConditions) {
    if (auto value = kube::ConditionTrue(cluster, condition)) {
      out.Add(kCondition, with("condition", condition), *value);
    }
  }
  double min_validity = std::numeric_limits<double>::infinity();
  if (const auto* expirations = kube::Field(cluster, {"status", "certificates", "expirations"});
      expirations != nullptr && expirations->is_object()) {
    for (const auto& [secret, value] : expirations->items()) {
      if (!value.is_string()) continue;
      auto at = kube::ParseGoTimeString(value.get<std::string>());
      if (!at) {
        return MakeError(
            ErrorCode::kProtocol,
            "Cluster " + ns + "/" + name + ": unparsable certificate expiration for " + secret);
      }
      out.Add(kCertExpiry, with("secret", secret), *at);
      min_validity = std::min(min_validity, *at - now);
    }
  }
  const double want_ready =
      expect.min_ready_instances
          ? static_cast<double>(*expect.min_ready_instances)
          : Number(cluster, {"spec", "instances"}).value_or(instances.value_or(1));
  out.expectations.push_back(
      ExpectNumber("cnpg_min_ready_instances", target, ready, ">=", want_ready));
  if (std::isfinite(min_validity)) {
    out.expectations.push_back(ExpectNumber("cnpg_certificate_min_validity", target, min_validity,
                                            ">=", expect.certificate_min_validity_seconds));
  }
  return Ok{};
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgClusterProbe(const ProbeSettings& settings,
                                                         const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    CnpgClusterExpect expect;
    if (settings.params) {
      if (auto map = settings.params->Map("expect")) {
        expect.min_ready_instances = map->Int("min_ready_instances", 0, 1000);
        if (auto validity = map->Duration("certificate_min_validity")) {
          expect.certificate_min_validity_seconds =
              std::chrono::duration<double>(*validity).count();
        }
        map->Finish();
      }
      settings.params->Finish();
    }
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes) {
      return MakeError(ErrorCode::kConfig,
                       "k8s_cnpg_cluster: no kubernetes cluster named \"" + settings.target + "\"");
    }
    return std::unique_ptr<Probe>(
        std::make_unique<K8sCnpgClusterProbe>(*config.kubernetes, *cluster, expect));
  });
}

}  // namespace dbcanary
