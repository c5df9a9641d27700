#include "probes/kubernetes/k8s_cnpg_operator_probe.h"

#include <algorithm>
#include <utility>

#include "clients/kube/kube_common.h"

namespace dbcanary {
namespace {

constexpr const char* kReplicas = "dbcanary_k8s_operator_replicas";
constexpr const char* kReadyReplicas = "dbcanary_k8s_operator_ready_replicas";
constexpr const char* kAvailable = "dbcanary_k8s_operator_available";
constexpr const char* kCrdEstablished = "dbcanary_k8s_crd_established";
constexpr const char* kWebhookEndpoints = "dbcanary_k8s_operator_webhook_endpoints";

const std::vector<std::string>& DefaultCrds() {
  static const std::vector<std::string> crds = {
      "clusters.postgresql.cnpg.io", "backups.postgresql.cnpg.io",
      "scheduledbackups.postgresql.cnpg.io", "poolers.postgresql.cnpg.io"};
  return crds;
}

// A CRD name is PLURAL.GROUP, a lower-case DNS subdomain.
bool IsCrdName(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.find('.') == std::string::npos) return false;
  if (name.front() == '.' || name.back() == '.' || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

struct OperatorParams {
  std::string namespace_ = "cnpg-system";
  std::string deployment = "cnpg-controller-manager";
  std::string webhook_service = "cnpg-webhook-service";
  bool use_slices = true;
  std::vector<std::string> crds = DefaultCrds();
  std::optional<int64_t> min_ready_replicas;
  int64_t min_webhook_endpoints = 1;
};

class K8sCnpgOperatorProbe final : public Probe {
 public:
  K8sCnpgOperatorProbe(KubernetesSettings kube, std::string target, OperatorParams params)
      : kube_(std::move(kube)), target_(std::move(target)), params_(std::move(params)) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sCnpgOperatorMetricDescs(); }

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

    // 1. The operator Deployment: a missing one fails the run (wrong name or not installed).
    auto deployment = client->Get(kube::Resource{"apps", "v1", "deployments", params_.namespace_},
                                  params_.deployment, ctx.deadline);
    if (!deployment) return deployment.error();
    double ready = 0, wanted = 0;
    auto deployment_ready = EvaluateOperatorDeployment(
        *deployment, target_, "cnpg", params_.min_ready_replicas, out, &ready, &wanted);
    if (!deployment_ready) return deployment_ready.error();
    ExpectationResult operator_ready =
        ExpectNumber("cnpg_operator_ready", target_, ready, ">=", wanted);
    if (!*deployment_ready && operator_ready.pass) {
      operator_ready.pass = false;
      operator_ready.observed_text += " (Available not True)";
    }
    operator_ready.expected_text += " and Available";
    out.expectations.push_back(std::move(operator_ready));

    // 2. Each CRD: a missing CRD (404) is an observation (established 0), not a failure.
    const kube::Resource crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", ""};
    double established = 0;
    for (const auto& name : params_.crds) {
      auto crd = client->Get(crds, name, ctx.deadline);
      double value = 0;
      if (crd) {
        value = CrdEstablished(*crd);
      } else if (!IsKubeNotFound(crd.error())) {
        return crd.error();
      }
      established += value;
      out.Add(kCrdEstablished, {{"target", target_}, {"crd", name}}, value);
    }
    out.expectations.push_back(ExpectNumber("cnpg_crds_established", target_, established,
                                            "==", static_cast<double>(params_.crds.size())));

    // 3. The webhook Service's endpoints.
    EndpointCounts counts;
    if (params_.use_slices) {
      auto slices = client->List(
          kube::Resource{"discovery.k8s.io", "v1", "endpointslices", params_.namespace_},
          "kubernetes.io/service-name=" + params_.webhook_service, ctx.deadline);
      if (!slices) return slices.error();
      counts = CountSliceEndpoints(*slices);
    } else {
      auto endpoints = client->Get(kube::Resource{"", "v1", "endpoints", params_.namespace_},
                                   params_.webhook_service, ctx.deadline);
      if (endpoints) {
        counts = CountCoreEndpoints(*endpoints);
      } else if (!IsKubeNotFound(endpoints.error())) {
        return endpoints.error();
      }
    }
    const Labels base = {{"target", target_},
                         {"operator", "cnpg"},
                         {"k8s_namespace", params_.namespace_},
                         {"k8s_service", params_.webhook_service}};
    Labels ready_labels = base, not_ready_labels = base;
    ready_labels.emplace_back("state", "ready");
    not_ready_labels.emplace_back("state", "not_ready");
    out.Add(kWebhookEndpoints, std::move(ready_labels), counts.ready);
    out.Add(kWebhookEndpoints, std::move(not_ready_labels), counts.not_ready);
    out.expectations.push_back(ExpectNumber("cnpg_webhook_endpoints", target_, counts.ready, ">=",
                                            static_cast<double>(params_.min_webhook_endpoints)));
    return Ok{};
  }

  KubernetesSettings kube_;
  std::string target_;
  OperatorParams params_;
};

}  // namespace

const std::vector<MetricDesc>& K8sOperatorDeploymentMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kReplicas, "Operator Deployment spec.replicas.", MetricType::kGauge},
      {kReadyReplicas, "Operator Deployment status.readyReplicas.", MetricType::kGauge},
      {kAvailable, "Operator Deployment condition Available: 1 True, 0 otherwise or absent.",
       MetricType::kGauge},
  };
  return descs;
}

const std::vector<MetricDesc>& K8sCnpgOperatorMetricDescs() {
  static const std::vector<MetricDesc> descs = [] {
    std::vector<MetricDesc> out = K8sOperatorDeploymentMetricDescs();
    out.push_back({kCrdEstablished,
                   "CustomResourceDefinition condition Established: 1 True, 0 otherwise or when "
                   "the CRD is not installed.",
                   MetricType::kGauge});
    out.push_back({kWebhookEndpoints,
                   "Endpoints of the operator's webhook Service by state (ready, not_ready).",
                   MetricType::kGauge});
    return out;
  }();
  return descs;
}

Result<bool> EvaluateOperatorDeployment(const nlohmann::json& deployment, const std::string& target,
                                        const std::string& op, std::optional<int64_t> min_ready,
                                        ProbeResult& out, double* ready_replicas,
                                        double* wanted_replicas) {
  const std::string ns = kube::Text(deployment, {"metadata", "namespace"}).value_or("");
  const std::string name = kube::Text(deployment, {"metadata", "name"}).value_or("");
  if (kube::Field(deployment, {"spec"}) == nullptr) {
    return MakeError(ErrorCode::kProtocol, "Deployment " + ns + "/" + name + " has no spec");
  }
  const double replicas = kube::Number(deployment, {"spec", "replicas"}).value_or(1);  // default
  const double ready = kube::Number(deployment, {"status", "readyReplicas"}).value_or(0);
  const double available = kube::ConditionTrue(deployment, "Available").value_or(0);
  const Labels labels = {
      {"target", target}, {"operator", op}, {"k8s_namespace", ns}, {"deployment", name}};
  out.Add(kReplicas, labels, replicas);
  out.Add(kReadyReplicas, labels, ready);
  out.Add(kAvailable, labels, available);
  const double wanted = std::max(1.0, min_ready ? static_cast<double>(*min_ready) : replicas);
  if (ready_replicas != nullptr) *ready_replicas = ready;
  if (wanted_replicas != nullptr) *wanted_replicas = wanted;
  return ready >= wanted && available == 1;
}

bool IsKubeNotFound(const Error& error) { return error.cause.http_status == 404; }

double CrdEstablished(const nlohmann::json& crd) {
  return kube::ConditionTrue(crd, "Established").value_or(0);
}

EndpointCounts CountSliceEndpoints(const nlohmann::json& slice_list) {
  EndpointCounts counts;
  const auto* items = kube::Field(slice_list, {"items"});
  if (items == nullptr || !items->is_array()) return counts;
  for (const auto& slice : *items) {
    const auto* endpoints = kube::Field(slice, {"endpoints"});
    if (endpoints == nullptr || !endpoints->is_array()) continue;  // null when none
    for (const auto& endpoint : *endpoints) {
      // discovery/v1: a nil ready condition is to be read as ready; each endpoint carries
      // one or more addresses of the same pod, so it counts once.
      const bool ready = kube::Flag(endpoint, {"conditions", "ready"}).value_or(true);
      (ready ? counts.ready : counts.not_ready) += 1;
    }
  }
  return counts;
}

EndpointCounts CountCoreEndpoints(const nlohmann::json& endpoints) {
  EndpointCounts counts;
  const auto* subsets = kube::Field(endpoints, {"subsets"});
  if (subsets == nullptr || !subsets->is_array()) return counts;
  for (const auto& subset : *subsets) {
    if (const auto* list = kube::Field(subset, {"addresses"}); list && list->is_array()) {
      counts.ready += static_cast<double>(list->size());
    }
    if (const auto* list = kube::Field(subset, {"notReadyAddresses"}); list && list->is_array()) {
      counts.not_ready += static_cast<double>(list->size());
    }
  }
  return counts;
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgOperatorProbe(const ProbeSettings& settings,
                                                          const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes || !settings.params) {
      return MakeError(ErrorCode::kConfig, "k8s_cnpg_operator: no kubernetes cluster named \"" +
                                               settings.target + "\"");
    }
    YamlMap& params = *settings.params;
    OperatorParams p;
    auto non_empty = [&](const char* key, std::string& field) {
      field = params.String(key).value_or(field);
      if (field.empty()) params.Fail(key, "must not be empty");
    };
    non_empty("namespace", p.namespace_);
    non_empty("deployment", p.deployment);
    non_empty("webhook_service", p.webhook_service);
    p.use_slices =
        params.Enum("webhook_source", {"endpointslices", "endpoints"}).value_or("endpointslices") ==
        "endpointslices";
    if (params.Has("crds")) {
      p.crds = params.ListOfStrings("crds");
      if (p.crds.empty()) params.Fail("crds", "list at least one CRD (PLURAL.GROUP)");
      for (const auto& crd : p.crds) {
        if (!IsCrdName(crd))
          params.Fail("crds", "\"" + crd + "\" is not a CRD name (PLURAL.GROUP)");
      }
    }
    if (auto expect = params.Map("expect")) {
      p.min_ready_replicas = expect->Int("min_ready_replicas", 1, 100);
      p.min_webhook_endpoints =
          expect->Int("min_webhook_endpoints", 0, 100).value_or(p.min_webhook_endpoints);
      expect->Finish();
    }
    params.Finish();
    return std::unique_ptr<Probe>(
        std::make_unique<K8sCnpgOperatorProbe>(*config.kubernetes, cluster->name, std::move(p)));
  });
}

}  // namespace dbcanary
