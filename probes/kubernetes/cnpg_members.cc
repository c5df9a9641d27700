#include "probes/kubernetes/cnpg_members.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include "clients/kube/kube_common.h"
#include "config/yaml_reader.h"

namespace dbcanary {
namespace {

using nlohmann::json;

constexpr int kPostgresPort = 5432;

bool LabelledPrimary(const json& pod) {
  for (const char* label : {"cnpg.io/instanceRole", "role"}) {
    if (kube::Text(pod, {"metadata", "labels", label}).value_or("") == "primary") return true;
  }
  return false;
}

}  // namespace

bool IsCnpgInstancePod(const json& pod) {
  if (kube::Field(pod, {"metadata", "labels", "cnpg.io/jobRole"}) != nullptr) return false;
  const auto role = kube::Text(pod, {"metadata", "labels", "cnpg.io/podRole"});
  return !role || *role == "instance";
}

Result<CnpgMembers> ReadCnpgMembers(const json& cluster, const json& pods,
                                    const PgDiscovery& discovery, const PgEndpoint& defaults) {
  CnpgMembers found;
  found.current_primary = kube::Text(cluster, {"status", "currentPrimary"}).value_or("");
  found.target_primary = kube::Text(cluster, {"status", "targetPrimary"}).value_or("");
  std::optional<std::set<std::string>> instance_names;
  if (const json* names = kube::Field(cluster, {"status", "instanceNames"});
      names != nullptr && names->is_array()) {
    instance_names.emplace();
    for (const auto& name : *names) {
      if (name.is_string()) instance_names->insert(name.get<std::string>());
    }
  }
  const json* items = kube::Field(pods, {"items"});
  if (items == nullptr || !items->is_array()) {
    return MakeError(ErrorCode::kProtocol, "pods of CNPG cluster " + discovery.namespace_ + "/" +
                                               discovery.cnpg_cluster + ": no items list");
  }
  for (const auto& pod : *items) {
    const auto name = kube::Text(pod, {"metadata", "name"});
    const auto ip = kube::Text(pod, {"status", "podIP"});
    if (!name || !ip || ip->empty() || !IsCnpgInstancePod(pod)) continue;
    if (kube::Field(pod, {"metadata", "deletionTimestamp"}) != nullptr) continue;
    if (instance_names && !instance_names->contains(*name)) continue;
    PgEndpoint member = defaults;
    member.name = *name;  // CNPG streams with the pod name as application_name
    member.host = discovery.tls_server_name;
    member.hostaddr = *ip;
    member.port = discovery.port.value_or(
        kube::NamedContainerPort(pod, "postgresql").value_or(kPostgresPort));
    found.members.push_back(std::move(member));
    if (LabelledPrimary(pod)) found.labelled_primaries.push_back(*name);
  }
  std::sort(found.members.begin(), found.members.end(),
            [](const PgEndpoint& a, const PgEndpoint& b) { return a.name < b.name; });
  std::sort(found.labelled_primaries.begin(), found.labelled_primaries.end());
  return found;
}

PgMemberLister MakeCnpgMemberLister(const PgDiscovery& discovery, const PgEndpoint& defaults,
                                    const Config& config) {
  if (!config.kubernetes) {
    throw ConfigError("postgres cluster discovering " + discovery.namespace_ + "/" +
                      discovery.cnpg_cluster +
                      ": discover.kubernetes needs the top-level kubernetes: section");
  }
  struct Cache {
    std::mutex mutex;
    std::optional<SteadyClock::time_point> listed_at;
    std::vector<PgEndpoint> members;
  };
  auto cache = std::make_shared<Cache>();
  return [cache, discovery, defaults, kube_settings = *config.kubernetes](
             Deadline deadline, std::stop_token) -> Result<std::vector<PgEndpoint>> {
    std::lock_guard lock(cache->mutex);
    if (cache->listed_at && SteadyClock::now() - *cache->listed_at < discovery.refresh) {
      return cache->members;
    }
    auto client = kube::MakeClient(kube_settings);
    if (!client) return client.error();
    auto cluster = client->Get(kube::CnpgResource("clusters", discovery.namespace_),
                               discovery.cnpg_cluster, deadline);
    if (!cluster) return cluster.error();
    auto pods = client->List(kube::Resource{"", "v1", "pods", discovery.namespace_},
                             "cnpg.io/cluster=" + discovery.cnpg_cluster, deadline);
    if (!pods) return pods.error();
    auto found = ReadCnpgMembers(*cluster, *pods, discovery, defaults);
    if (!found) return found.error();
    cache->members = std::move(found->members);
    cache->listed_at = SteadyClock::now();
    return cache->members;
  };
}

}  // namespace dbcanary
