#include "probes/kubernetes/k8s_dragonfly_probe.h"

#include <cctype>
#include <utility>

#include "clients/kube/kube_common.h"
#include "probes/kubernetes/k8s_cnpg_operator_probe.h"

namespace dbcanary {
namespace {

constexpr const char* kPhase = "dbcanary_k8s_dragonfly_phase";
constexpr const char* kRollingUpdate = "dbcanary_k8s_dragonfly_rolling_update";
constexpr const char* kReplicas = "dbcanary_k8s_dragonfly_replicas";
constexpr const char* kReadyReplicas = "dbcanary_k8s_dragonfly_ready_replicas";

struct DragonflyParams {
  std::string namespace_;
  std::string name;
  std::string operator_namespace = "dragonfly-operator-system";
  std::string operator_deployment = "dragonfly-operator-controller-manager";
  std::optional<int64_t> min_ready_replicas;
};

class K8sDragonflyProbe final : public Probe {
 public:
  K8sDragonflyProbe(KubernetesSettings kube, std::string target, DragonflyParams params)
      : kube_(std::move(kube)), target_(std::move(target)), params_(std::move(params)) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sDragonflyMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    Status status = Measure(ctx, result);
    if (!status) {
      result.samples.clear();
      result.expectations.clear();
      result.Fail(status.error());
      return result;
    }
    result.success = true;
    return result;
  }

 private:
  Status Measure(const ProbeContext& ctx, ProbeResult& out) const {
    auto client = kube::MakeClient(kube_);
    if (!client) return client.error();
    // A missing CR fails the run (wrong name, or the instance was deleted).
    auto dragonfly =
        client->Get(kube::Resource{"dragonflydb.io", "v1alpha1", "dragonflies", params_.namespace_},
                    params_.name, ctx.deadline);
    if (!dragonfly) return dragonfly.error();
    // A missing StatefulSet is an observation: the operator has not created it (0 ready).
    auto statefulset = client->Get(kube::Resource{"apps", "v1", "statefulsets", params_.namespace_},
                                   params_.name, ctx.deadline);
    if (!statefulset && !IsKubeNotFound(statefulset.error())) return statefulset.error();
    Status evaluated = EvaluateDragonfly(*dragonfly, statefulset ? &*statefulset : nullptr, target_,
                                         params_.min_ready_replicas, out);
    if (!evaluated) return evaluated;

    auto deployment =
        client->Get(kube::Resource{"apps", "v1", "deployments", params_.operator_namespace},
                    params_.operator_deployment, ctx.deadline);
    if (!deployment) return deployment.error();
    double ready = 0, wanted = 0;
    auto operator_ready = EvaluateOperatorDeployment(*deployment, target_, "dragonfly",
                                                     std::nullopt, out, &ready, &wanted);
    if (!operator_ready) return operator_ready.error();
    ExpectationResult expectation =
        ExpectNumber("dragonfly_operator_ready", target_, ready, ">=", wanted);
    if (!*operator_ready && expectation.pass) {
      expectation.pass = false;
      expectation.observed_text += " (Available not True)";
    }
    expectation.expected_text += " and Available";
    out.expectations.push_back(std::move(expectation));
    return Ok{};
  }

  KubernetesSettings kube_;
  std::string target_;
  DragonflyParams params_;
};

bool IsDnsLabel(const std::string& text) {
  if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& DragonflyPhaseLabels() {
  static const std::vector<std::string> labels = {
      "ready", "resources_created", "configuring", "rolling_update", "none", "other"};
  return labels;
}

std::string DragonflyPhaseLabel(const std::string& phase) {
  std::string folded;
  for (char c : phase) {
    if (c == '-' || c == '_' || c == ' ') continue;
    folded.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (folded.empty()) return "none";
  if (folded == "ready") return "ready";
  if (folded == "resourcescreated") return "resources_created";
  if (folded == "configuring" || folded == "configuringreplication") return "configuring";
  if (folded == "rollingupdate") return "rolling_update";
  return "other";
}

const std::vector<MetricDesc>& K8sDragonflyMetricDescs() {
  static const std::vector<MetricDesc> descs = [] {
    std::vector<MetricDesc> out = {
        {kPhase,
         "Dragonfly CR status.phase as a state set (ready, resources_created, configuring, "
         "rolling_update, none, other).",
         MetricType::kGauge},
        {kRollingUpdate,
         "1 while the operator rolls the Dragonfly pods (status.isRollingUpdate or phase "
         "RollingUpdate).",
         MetricType::kGauge},
        {kReplicas, "Dragonfly CR spec.replicas (master included).", MetricType::kGauge},
        {kReadyReplicas,
         "readyReplicas of the Dragonfly StatefulSet; 0 when the StatefulSet does not exist.",
         MetricType::kGauge},
    };
    for (const auto& desc : K8sOperatorDeploymentMetricDescs()) out.push_back(desc);
    return out;
  }();
  return descs;
}

Status EvaluateDragonfly(const nlohmann::json& dragonfly, const nlohmann::json* statefulset,
                         const std::string& target, std::optional<int64_t> min_ready_replicas,
                         ProbeResult& out) {
  const std::string ns = kube::Text(dragonfly, {"metadata", "namespace"}).value_or("");
  const std::string name = kube::Text(dragonfly, {"metadata", "name"}).value_or("");
  if (kube::Field(dragonfly, {"spec"}) == nullptr) {
    return MakeError(ErrorCode::kProtocol, "Dragonfly " + ns + "/" + name + " has no spec");
  }
  const Labels base = {{"target", target}, {"k8s_namespace", ns}, {"dragonfly", name}};
  const std::string phase =
      DragonflyPhaseLabel(kube::Text(dragonfly, {"status", "phase"}).value_or(""));
  for (const auto& label : DragonflyPhaseLabels()) {
    Labels labels = base;
    labels.emplace_back("phase", label);
    out.Add(kPhase, std::move(labels), label == phase ? 1 : 0);
  }
  const bool rolling = kube::Flag(dragonfly, {"status", "isRollingUpdate"}).value_or(false) ||
                       phase == "rolling_update";
  out.Add(kRollingUpdate, base, rolling ? 1 : 0);
  const double replicas = kube::Number(dragonfly, {"spec", "replicas"}).value_or(1);
  const double ready = statefulset != nullptr
                           ? kube::Number(*statefulset, {"status", "readyReplicas"}).value_or(0)
                           : 0;
  out.Add(kReplicas, base, replicas);
  out.Add(kReadyReplicas, base, ready);
  out.expectations.push_back(ExpectText("dragonfly_phase_ready", target, phase, "ready"));
  out.expectations.push_back(
      min_ready_replicas ? ExpectNumber("dragonfly_replicas_ready", target, ready,
                                        ">=", static_cast<double>(*min_ready_replicas))
                         : ExpectNumber("dragonfly_replicas_ready", target, ready, "==", replicas));
  return Ok{};
}

Result<std::unique_ptr<Probe>> CreateK8sDragonflyProbe(const ProbeSettings& settings,
                                                       const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const Dragonfly* target = config.FindDragonfly(settings.target);
    if (target == nullptr || !settings.params) {
      return MakeError(ErrorCode::kConfig,
                       "k8s_dragonfly: no dragonfly target named \"" + settings.target + "\"");
    }
    YamlMap& params = *settings.params;
    if (!config.kubernetes) {
      params.FailHere("k8s_dragonfly needs the top-level kubernetes: section (API access)");
    }
    DragonflyParams p;
    auto label = [&](const char* key, std::string& field) {
      if (!IsDnsLabel(field))
        params.Fail(key, "not a valid Kubernetes name (lower-case DNS label)");
    };
    p.namespace_ = params.RequiredString("namespace");
    label("namespace", p.namespace_);
    p.name = params.String("name").value_or(target->name);
    label("name", p.name);
    p.operator_namespace = params.String("operator_namespace").value_or(p.operator_namespace);
    label("operator_namespace", p.operator_namespace);
    p.operator_deployment = params.String("operator_deployment").value_or(p.operator_deployment);
    label("operator_deployment", p.operator_deployment);
    if (auto expect = params.Map("expect")) {
      p.min_ready_replicas = expect->Int("min_ready_replicas", 0, 1000);
      expect->Finish();
    }
    params.Finish();
    return std::unique_ptr<Probe>(
        std::make_unique<K8sDragonflyProbe>(*config.kubernetes, target->name, std::move(p)));
  });
}

}  // namespace dbcanary
