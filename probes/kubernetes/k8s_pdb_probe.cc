#include "probes/kubernetes/k8s_pdb_probe.h"

#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "clients/kube/kube_common.h"

namespace dbcanary {
namespace {

using kube::Number;

constexpr const char* kExists = "dbcanary_k8s_pdb_exists";
constexpr const char* kAllowed = "dbcanary_k8s_pdb_disruptions_allowed";
constexpr const char* kHealthy = "dbcanary_k8s_pdb_current_healthy";
constexpr const char* kDesired = "dbcanary_k8s_pdb_desired_healthy";

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class K8sPdbProbe final : public Probe {
 public:
  K8sPdbProbe(KubernetesSettings kube, KubeCluster cluster, std::vector<PdbExpect> pdbs)
      : kube_(std::move(kube)), cluster_(std::move(cluster)), pdbs_(std::move(pdbs)) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sPdbMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto client = kube::MakeClient(kube_);
    if (!client) {
      result.Fail(client.error());
      return result;
    }
    const kube::Resource resource{"policy", "v1", "poddisruptionbudgets", cluster_.namespace_};
    for (const auto& expect : pdbs_) {
      auto object = client->Get(resource, expect.name, ctx.deadline);
      // 404 is an answer (the PDB is missing: the expectation says so); anything else is not.
      if (!object && object.error().cause.http_status != 404) {
        result.Fail(object.error());
        return result;
      }
      std::optional<nlohmann::json> pdb;
      if (object) pdb = std::move(*object);
      EvaluatePdb(pdb, expect, cluster_.name, cluster_.namespace_, result);
    }
    result.success = true;
    return result;
  }

 private:
  KubernetesSettings kube_;
  KubeCluster cluster_;
  std::vector<PdbExpect> pdbs_;
};

}  // namespace

const std::vector<MetricDesc>& K8sPdbMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kExists, "1 when the declared PodDisruptionBudget exists, else 0.", MetricType::kGauge},
      {kAllowed, "The PodDisruptionBudget's status.disruptionsAllowed.", MetricType::kGauge},
      {kHealthy, "The PodDisruptionBudget's status.currentHealthy.", MetricType::kGauge},
      {kDesired, "The PodDisruptionBudget's status.desiredHealthy.", MetricType::kGauge},
  };
  return descs;
}

void EvaluatePdb(const std::optional<nlohmann::json>& pdb, const PdbExpect& expect,
                 const std::string& target, const std::string& ns, ProbeResult& out) {
  const Labels labels = {{"target", target}, {"k8s_namespace", ns}, {"pdb", expect.name}};
  const std::string check_target = target + "/" + expect.name;
  out.Add(kExists, labels, pdb ? 1 : 0);
  out.expectations.push_back(ExpectNumber("k8s_pdb_exists", check_target, pdb ? 1 : 0, "==", 1));
  double allowed = kNaN;
  if (pdb) {
    allowed = Number(*pdb, {"status", "disruptionsAllowed"}).value_or(kNaN);
    if (!std::isnan(allowed)) out.Add(kAllowed, labels, allowed);
    if (auto value = Number(*pdb, {"status", "currentHealthy"})) out.Add(kHealthy, labels, *value);
    if (auto value = Number(*pdb, {"status", "desiredHealthy"})) out.Add(kDesired, labels, *value);
  }
  // A missing PDB fails k8s_pdb_exists alone: its disruptions check is not judged.
  if (pdb) {
    out.expectations.push_back(
        ExpectNumber("k8s_pdb_disruptions_allowed", check_target, allowed,
                     ">=", static_cast<double>(expect.min_disruptions_allowed)));
  }
}

Result<std::unique_ptr<Probe>> CreateK8sPdbProbe(const ProbeSettings& settings,
                                                 const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes) {
      return MakeError(ErrorCode::kConfig,
                       "k8s_pdb: no kubernetes cluster named \"" + settings.target + "\"");
    }
    std::vector<PdbExpect> pdbs;
    if (settings.params) {
      std::set<std::string> names;
      for (auto& map : settings.params->ListOfMaps("pdbs")) {
        PdbExpect pdb;
        pdb.name = map.RequiredString("name");
        if (pdb.name.empty() || pdb.name.size() > 253)
          map.Fail("name", "must be 1..253 characters");
        if (!names.insert(pdb.name).second) map.Fail("name", "duplicate PDB \"" + pdb.name + "\"");
        if (auto value = map.Int("min_disruptions_allowed", 0, 1000)) {
          pdb.min_disruptions_allowed = *value;
        }
        map.Finish();
        pdbs.push_back(std::move(pdb));
      }
      settings.params->Finish();
    }
    if (pdbs.empty()) {
      pdbs = {{cluster->cnpg_cluster, 1}, {cluster->cnpg_cluster + "-primary", 0}};
    }
    return std::unique_ptr<Probe>(
        std::make_unique<K8sPdbProbe>(*config.kubernetes, *cluster, std::move(pdbs)));
  });
}

}  // namespace dbcanary
