#include "probes/kubernetes/k8s_cnpg_storage_probe.h"

#include <cmath>
#include <limits>
#include <utility>

#include "clients/kube/kube_common.h"

namespace dbcanary {
namespace {

using kube::Text;

constexpr const char* kPvcs = "dbcanary_k8s_cnpg_pvcs";
constexpr const char* kBound = "dbcanary_k8s_cnpg_pvc_bound";
constexpr const char* kCapacity = "dbcanary_k8s_cnpg_pvc_capacity_bytes";
constexpr const char* kClassMatch = "dbcanary_k8s_cnpg_pvc_storage_class_match";

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

kube::Resource PvcResource(const std::string& ns) {
  return kube::Resource{"", "v1", "persistentvolumeclaims", ns};
}

class K8sCnpgStorageProbe final : public Probe {
 public:
  K8sCnpgStorageProbe(KubernetesSettings kube, KubeCluster cluster, CnpgStorageExpect expect)
      : kube_(std::move(kube)), cluster_(std::move(cluster)), expect_(std::move(expect)) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sCnpgStorageMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto client = kube::MakeClient(kube_);
    if (!client) {
      result.Fail(client.error());
      return result;
    }
    auto list = client->List(PvcResource(cluster_.namespace_),
                             "cnpg.io/cluster=" + cluster_.cnpg_cluster, ctx.deadline);
    if (!list) {
      result.Fail(list.error());
      return result;
    }
    Status status = EvaluateCnpgStorage(*list, cluster_.name, cluster_.namespace_,
                                        cluster_.cnpg_cluster, expect_, result);
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
  CnpgStorageExpect expect_;
};

}  // namespace

const std::vector<MetricDesc>& K8sCnpgStorageMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kPvcs, "PersistentVolumeClaims labelled cnpg.io/cluster for the CNPG cluster.",
       MetricType::kGauge},
      {kBound, "1 when the PVC's status.phase is Bound, else 0.", MetricType::kGauge},
      {kCapacity, "The PVC's status.capacity.storage in bytes (absent until the volume is bound).",
       MetricType::kGauge},
      {kClassMatch,
       "1 when the PVC's spec.storageClassName is the declared storage class, else 0 (only with "
       "expect.storage_class).",
       MetricType::kGauge},
  };
  return descs;
}

Status EvaluateCnpgStorage(const nlohmann::json& pvc_list, const std::string& target,
                           const std::string& ns, const std::string& name,
                           const CnpgStorageExpect& expect, ProbeResult& out) {
  const auto* items = kube::Field(pvc_list, {"items"});
  if (items == nullptr || !items->is_array()) {
    return MakeError(ErrorCode::kProtocol,
                     "PersistentVolumeClaimList in " + ns + " has no items list");
  }
  const Labels base = {{"target", target}, {"k8s_namespace", ns}, {"cnpg_cluster", name}};
  double unbound = 0, wrong_class = 0, smallest = kNaN;
  std::string unbound_names, wrong_names, smallest_name;
  for (const auto& pvc : *items) {
    const std::string pvc_name = Text(pvc, {"metadata", "name"}).value_or("");
    Labels labels = base;
    labels.emplace_back("pvc", pvc_name);
    // cnpg.io/pvcRole: PG_DATA, PG_WAL or PG_TABLESPACE.
    labels.emplace_back("role", Text(pvc, {"metadata", "labels", "cnpg.io/pvcRole"}).value_or(""));
    const bool bound = Text(pvc, {"status", "phase"}).value_or("") == "Bound";
    out.Add(kBound, labels, bound ? 1 : 0);
    if (!bound) {
      ++unbound;
      unbound_names += (unbound_names.empty() ? "" : ",") + pvc_name;
    }
    if (auto text = Text(pvc, {"status", "capacity", "storage"})) {
      if (auto bytes = kube::ParseQuantity(*text)) {
        out.Add(kCapacity, labels, *bytes);
        if (std::isnan(smallest) || *bytes < smallest) {
          smallest = *bytes;
          smallest_name = pvc_name;
        }
      }
    }  // an unbound claim has no capacity yet: cnpg_pvcs_bound names it, not the size check
    if (expect.storage_class) {
      const bool match = Text(pvc, {"spec", "storageClassName"}) == expect.storage_class;
      out.Add(kClassMatch, labels, match ? 1 : 0);
      if (!match) {
        ++wrong_class;
        wrong_names += (wrong_names.empty() ? "" : ",") + pvc_name;
      }
    }
  }
  out.Add(kPvcs, base, static_cast<double>(items->size()));
  out.expectations.push_back(ExpectNumber("cnpg_pvc_count", target,
                                          static_cast<double>(items->size()),
                                          ">=", static_cast<double>(expect.min_pvcs)));
  auto bound = ExpectNumber("cnpg_pvcs_bound", target, unbound, "<=", 0);
  if (unbound > 0) bound.observed_text += " unbound: " + unbound_names;
  out.expectations.push_back(std::move(bound));
  if (expect.storage_class) {
    auto match = ExpectNumber("cnpg_pvc_storage_class", target, wrong_class, "<=", 0);
    if (wrong_class > 0)
      match.observed_text += " not " + *expect.storage_class + ": " + wrong_names;
    out.expectations.push_back(std::move(match));
  }
  if (expect.min_size_bytes) {
    auto size = ExpectNumber("cnpg_pvc_min_size", target, smallest, ">=", *expect.min_size_bytes);
    if (!smallest_name.empty()) size.observed_text += " (" + smallest_name + ")";
    out.expectations.push_back(std::move(size));
  }
  return Ok{};
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgStorageProbe(const ProbeSettings& settings,
                                                         const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    CnpgStorageExpect expect;
    if (settings.params) {
      if (auto map = settings.params->Map("expect")) {
        if (auto value = map->Int("min_pvcs", 0, 10000)) expect.min_pvcs = *value;
        expect.storage_class = map->String("storage_class");
        if (expect.storage_class && expect.storage_class->empty()) {
          map->Fail("storage_class", "must not be empty");
        }
        if (auto size = map->String("min_size")) {
          expect.min_size_bytes = kube::ParseQuantity(*size);
          if (!expect.min_size_bytes || *expect.min_size_bytes <= 0) {
            map->Fail("min_size", "must be a positive Kubernetes quantity such as 10Gi");
          }
        }
        map->Finish();
      }
      settings.params->Finish();
    }
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes) {
      return MakeError(ErrorCode::kConfig,
                       "k8s_cnpg_storage: no kubernetes cluster named \"" + settings.target + "\"");
    }
    return std::unique_ptr<Probe>(
        std::make_unique<K8sCnpgStorageProbe>(*config.kubernetes, *cluster, std::move(expect)));
  });
}

}  // namespace dbcanary
