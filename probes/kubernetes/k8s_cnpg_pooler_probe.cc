#include "probes/kubernetes/k8s_cnpg_pooler_probe.h"

#include <cstdlib>
#include <utility>

#include "clients/kube/kube_common.h"

namespace dbcanary {
namespace {

constexpr const char* kInstances = "dbcanary_k8s_cnpg_pooler_instances";
constexpr const char* kObserved = "dbcanary_k8s_cnpg_pooler_status_instances";
constexpr const char* kPoolMode = "dbcanary_k8s_cnpg_pooler_declared_pool_mode";
constexpr const char* kParameter = "dbcanary_k8s_cnpg_pooler_declared_parameter";
constexpr const char* kPoolModes[] = {"session", "transaction", "statement"};
constexpr const char* kParameters[] = {"max_client_conn", "default_pool_size"};

class K8sCnpgPoolerProbe final : public Probe {
 public:
  K8sCnpgPoolerProbe(KubernetesSettings kube, KubeCluster cluster, std::string pooler,
                     std::optional<int64_t> min_instances)
      : kube_(std::move(kube)),
        cluster_(std::move(cluster)),
        pooler_(std::move(pooler)),
        min_instances_(min_instances) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sCnpgPoolerMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto client = kube::MakeClient(kube_);
    if (!client) {
      result.Fail(client.error());
      return result;
    }
    auto object =
        client->Get(kube::CnpgResource("poolers", cluster_.namespace_), pooler_, ctx.deadline);
    if (!object) {
      result.Fail(object.error());
      return result;
    }
    Status status = EvaluateCnpgPooler(*object, cluster_.name, cluster_.namespace_, pooler_,
                                       min_instances_, result);
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
  std::string pooler_;
  std::optional<int64_t> min_instances_;
};

}  // namespace

const std::vector<MetricDesc>& K8sCnpgPoolerMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kInstances, "CNPG Pooler spec.instances: PgBouncer pods declared.", MetricType::kGauge},
      {kObserved, "CNPG Pooler status.instances: PgBouncer pods the operator reports.",
       MetricType::kGauge},
      {kPoolMode, "Declared spec.pgbouncer.poolMode as a state set (session is CNPG's default).",
       MetricType::kGauge},
      {kParameter,
       "Declared spec.pgbouncer.parameters max_client_conn and default_pool_size; absent "
       "when not declared (PgBouncer's default applies).",
       MetricType::kGauge},
  };
  return descs;
}

Status EvaluateCnpgPooler(const nlohmann::json& pooler, const std::string& target,
                          const std::string& ns, const std::string& name,
                          std::optional<int64_t> min_instances, ProbeResult& out) {
  if (kube::Field(pooler, {"spec"}) == nullptr) {
    return MakeError(ErrorCode::kProtocol, "Pooler " + ns + "/" + name + " has no spec");
  }
  const Labels base = {{"target", target}, {"k8s_namespace", ns}, {"pooler", name}};
  auto with = [&](const char* key, std::string value) {
    Labels labels = base;
    labels.emplace_back(key, std::move(value));
    return labels;
  };
  const double declared = kube::Number(pooler, {"spec", "instances"}).value_or(1);  // CRD default
  const double observed = kube::Number(pooler, {"status", "instances"}).value_or(0);
  out.Add(kInstances, base, declared);
  out.Add(kObserved, base, observed);
  const std::string mode =
      kube::Text(pooler, {"spec", "pgbouncer", "poolMode"}).value_or("session");
  for (const char* known : kPoolModes)
    out.Add(kPoolMode, with("pool_mode", known), mode == known ? 1 : 0);
  for (const char* parameter : kParameters) {
    // Parameters are strings in the CRD ("500"); accept numbers too.
    const auto* value = kube::Field(pooler, {"spec", "pgbouncer", "parameters", parameter});
    if (value == nullptr) continue;
    double number;
    if (value->is_number()) {
      number = value->get<double>();
    } else if (value->is_string()) {
      const std::string text = value->get<std::string>();
      char* end = nullptr;
      number = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') {
        return MakeError(ErrorCode::kProtocol, "Pooler " + ns + "/" + name + ": parameter " +
                                                   parameter + " is not a number");
      }
    } else {
      continue;
    }
    out.Add(kParameter, with("parameter", parameter), number);
  }
  out.expectations.push_back(
      ExpectNumber("cnpg_pooler_instances", target, observed,
                   ">=", min_instances ? static_cast<double>(*min_instances) : declared));
  return Ok{};
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgPoolerProbe(const ProbeSettings& settings,
                                                        const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes || !settings.params) {
      return MakeError(ErrorCode::kConfig,
                       "k8s_cnpg_pooler: no kubernetes cluster named \"" + settings.target + "\"");
    }
    std::string pooler = settings.params->RequiredString("pooler");
    std::optional<int64_t> min_instances;
    if (auto map = settings.params->Map("expect")) {
      min_instances = map->Int("min_instances", 0, 1000);
      map->Finish();
    }
    settings.params->Finish();
    return std::unique_ptr<Probe>(std::make_unique<K8sCnpgPoolerProbe>(
        *config.kubernetes, *cluster, std::move(pooler), min_instances));
  });
}

}  // namespace dbcanary
