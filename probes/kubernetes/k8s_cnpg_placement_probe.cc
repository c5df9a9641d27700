#include "probes/kubernetes/k8s_cnpg_placement_probe.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "clients/kube/kube_common.h"
#include "probes/kubernetes/cnpg_members.h"

namespace dbcanary {
namespace {

using kube::Text;

constexpr const char* kPods = "dbcanary_k8s_cnpg_instance_pods";
constexpr const char* kNodes = "dbcanary_k8s_cnpg_instance_nodes";
constexpr const char* kZones = "dbcanary_k8s_cnpg_instance_zones";
constexpr const char* kAvailableZones = "dbcanary_k8s_zones";
constexpr const char* kZoneLabel = "topology.kubernetes.io/zone";

class K8sCnpgPlacementProbe final : public Probe {
 public:
  K8sCnpgPlacementProbe(KubernetesSettings kube, KubeCluster cluster, bool check_zones)
      : kube_(std::move(kube)), cluster_(std::move(cluster)), check_zones_(check_zones) {}

  const std::vector<MetricDesc>& Describe() const override { return K8sCnpgPlacementMetricDescs(); }

  ProbeResult Run(const ProbeContext& ctx) override {
    ProbeResult result;
    auto client = kube::MakeClient(kube_);
    if (!client) {
      result.Fail(client.error());
      return result;
    }
    auto pods = client->List(kube::Resource{"", "v1", "pods", cluster_.namespace_},
                             "cnpg.io/cluster=" + cluster_.cnpg_cluster, ctx.deadline);
    if (!pods) {
      result.Fail(pods.error());
      return result;
    }
    std::optional<nlohmann::json> nodes;
    if (check_zones_) {
      auto listed = client->List(kube::Resource{"", "v1", "nodes", ""}, "", ctx.deadline);
      if (!listed) {
        result.Fail(listed.error());
        return result;
      }
      nodes = std::move(*listed);
    }
    Status status = EvaluateCnpgPlacement(*pods, nodes ? &*nodes : nullptr, cluster_.name,
                                          cluster_.namespace_, cluster_.cnpg_cluster, result);
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
  bool check_zones_;
};

}  // namespace

const std::vector<MetricDesc>& K8sCnpgPlacementMetricDescs() {
  static const std::vector<MetricDesc> descs = {
      {kPods, "Instance pods of the CNPG cluster scheduled on a node (spec.nodeName set).",
       MetricType::kGauge},
      {kNodes, "Distinct nodes the CNPG cluster's instance pods run on.", MetricType::kGauge},
      {kZones,
       "Distinct zones (topology.kubernetes.io/zone) of the nodes the instance pods run on; "
       "absent when those nodes carry no zone label.",
       MetricType::kGauge},
      {kAvailableZones,
       "Distinct zones among all the Kubernetes cluster's nodes (absent without zone labels).",
       MetricType::kGauge},
  };
  return descs;
}

Status EvaluateCnpgPlacement(const nlohmann::json& pods, const nlohmann::json* nodes,
                             const std::string& target, const std::string& ns,
                             const std::string& name, ProbeResult& out) {
  const auto* pod_items = kube::Field(pods, {"items"});
  const auto* node_items = nodes != nullptr ? kube::Field(*nodes, {"items"}) : nullptr;
  if (pod_items == nullptr || !pod_items->is_array() ||
      (nodes != nullptr && (node_items == nullptr || !node_items->is_array()))) {
    return MakeError(ErrorCode::kProtocol,
                     "PodList or NodeList for cluster " + ns + "/" + name + " has no items list");
  }
  std::map<std::string, std::string> zone_of;  // node name -> zone
  std::set<std::string> all_zones;
  if (node_items != nullptr) {
    for (const auto& node : *node_items) {
      auto zone = Text(node, {"metadata", "labels", kZoneLabel});
      auto node_name = Text(node, {"metadata", "name"});
      if (!zone || !node_name) continue;
      zone_of[*node_name] = *zone;
      all_zones.insert(*zone);
    }
  }
  std::map<std::string, std::vector<std::string>> pods_on;  // node -> pods
  std::set<std::string> zones;
  bool every_node_zoned = true;
  double scheduled = 0;
  for (const auto& pod : *pod_items) {
    if (!IsCnpgInstancePod(pod) || kube::Field(pod, {"metadata", "deletionTimestamp"}) != nullptr) {
      continue;
    }
    auto node = Text(pod, {"spec", "nodeName"});
    if (!node || node->empty()) continue;  // pending: the cluster probe counts ready instances
    ++scheduled;
    pods_on[*node].push_back(Text(pod, {"metadata", "name"}).value_or("?"));
    auto zone = zone_of.find(*node);
    if (zone == zone_of.end()) {
      every_node_zoned = false;
    } else {
      zones.insert(zone->second);
    }
  }
  const Labels base = {{"target", target}, {"k8s_namespace", ns}, {"cnpg_cluster", name}};
  const auto node_count = static_cast<double>(pods_on.size());
  out.Add(kPods, base, scheduled);
  out.Add(kNodes, base, node_count);
  auto distinct =
      ExpectNumber("cnpg_instances_distinct_nodes", target, node_count, ">=", scheduled);
  for (const auto& [node, names] : pods_on) {
    if (names.size() < 2) continue;
    distinct.observed_text += " (" + node + ":";
    for (const auto& pod_name : names) distinct.observed_text += " " + pod_name;
    distinct.observed_text += ")";
  }
  out.expectations.push_back(std::move(distinct));
  if (all_zones.empty()) return Ok{};
  out.Add(kAvailableZones, base, static_cast<double>(all_zones.size()));
  if (!every_node_zoned || scheduled == 0) return Ok{};
  out.Add(kZones, base, static_cast<double>(zones.size()));
  // Spread over as many zones as there are instances, or as the Kubernetes cluster has.
  const double want = std::min(scheduled, static_cast<double>(all_zones.size()));
  out.expectations.push_back(ExpectNumber("cnpg_instances_distinct_zones", target,
                                          static_cast<double>(zones.size()), ">=", want));
  return Ok{};
}

Result<std::unique_ptr<Probe>> CreateK8sCnpgPlacementProbe(const ProbeSettings& settings,
                                                           const Config& config) {
  return BuildProbe([&]() -> Result<std::unique_ptr<Probe>> {
    bool check_zones = true;
    if (settings.params) {
      check_zones = settings.params->Bool("check_zones").value_or(true);
      settings.params->Finish();
    }
    const KubeCluster* cluster = config.FindKubeCluster(settings.target);
    if (cluster == nullptr || !config.kubernetes) {
      return MakeError(ErrorCode::kConfig, "k8s_cnpg_placement: no kubernetes cluster named \"" +
                                               settings.target + "\"");
    }
    return std::unique_ptr<Probe>(
        std::make_unique<K8sCnpgPlacementProbe>(*config.kubernetes, *cluster, check_zones));
  });
}

}  // namespace dbcanary
