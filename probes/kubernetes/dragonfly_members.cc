#include "probes/kubernetes/dragonfly_members.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "clients/kube/kube_common.h"
#include "config/yaml_reader.h"

namespace dbcanary {
namespace {

using nlohmann::json;

constexpr int kDragonflyPort = 6379;  // the operator's DragonflyPort

// One member list per discovery, reused for `refresh`.
struct PodCache {
  std::mutex mutex;
  std::optional<SteadyClock::time_point> listed_at;
  DragonflyMemberList members;
};

std::string CacheKey(const Dragonfly& target) {
  const DragonflyDiscovery& d = *target.discover;
  return target.name + "|" + d.namespace_ + "/" + d.dragonfly + ":" +
         std::to_string(d.port.value_or(0)) + "/" + std::to_string(d.refresh.count()) + "|" +
         target.master.username + "/" + target.master.password.source() + "/" +
         std::to_string(target.master.connect_timeout.count());
}

}  // namespace

std::string DragonflyPodSelector(const std::string& dragonfly) {
  return "app=" + dragonfly + ",app.kubernetes.io/name=dragonfly";
}

Result<DragonflyMemberList> ReadDragonflyPods(const json& pods, const DragonflyDiscovery& discovery,
                                              const RedisEndpoint& defaults) {
  const json* items = kube::Field(pods, {"items"});
  if (items == nullptr || !items->is_array()) {
    return MakeError(ErrorCode::kProtocol, "pods of Dragonfly " + discovery.namespace_ + "/" +
                                               discovery.dragonfly + ": no items list");
  }
  std::vector<std::pair<RedisEndpoint, std::string>> found;
  for (const auto& pod : *items) {
    const auto name = kube::Text(pod, {"metadata", "name"});
    const auto ip = kube::Text(pod, {"status", "podIP"});
    if (!name || !ip || ip->empty()) continue;
    if (kube::Field(pod, {"metadata", "deletionTimestamp"}) != nullptr) continue;
    RedisEndpoint member = defaults;
    member.name = *name;
    member.host = *ip;
    member.port =
        discovery.port.value_or(kube::NamedContainerPort(pod, "redis").value_or(kDragonflyPort));
    found.emplace_back(std::move(member),
                       kube::Text(pod, {"metadata", "labels", "role"}).value_or(""));
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first.name < b.first.name; });
  DragonflyMemberList list;
  for (auto& [member, role] : found) {
    list.members.push_back(std::move(member));
    list.labelled_roles.push_back(std::move(role));
  }
  return list;
}

DragonflyMemberLister MakeDragonflyPodLister(const Dragonfly& target, const Config& config) {
  if (!config.kubernetes) {
    throw ConfigError("dragonfly " + target.name +
                      ": discover.kubernetes needs the top-level kubernetes: section");
  }
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<PodCache>> registry;
  std::shared_ptr<PodCache> cache;
  {
    std::lock_guard lock(registry_mutex);
    auto& slot = registry[CacheKey(target)];
    cache = slot.lock();
    if (!cache) {
      cache = std::make_shared<PodCache>();
      slot = cache;
    }
    std::erase_if(registry, [](const auto& entry) { return entry.second.expired(); });
  }
  return [cache, discovery = *target.discover, defaults = target.master,
          kube_settings = *config.kubernetes](Deadline deadline) -> Result<DragonflyMemberList> {
    std::lock_guard lock(cache->mutex);
    if (cache->listed_at && SteadyClock::now() - *cache->listed_at < discovery.refresh) {
      return cache->members;
    }
    auto client = kube::MakeClient(kube_settings);
    if (!client) return client.error();
    auto pods = client->List(kube::Resource{"", "v1", "pods", discovery.namespace_},
                             DragonflyPodSelector(discovery.dragonfly), deadline);
    if (!pods) return pods.error();
    auto found = ReadDragonflyPods(*pods, discovery, defaults);
    if (!found) return found.error();
    cache->members = std::move(*found);
    cache->listed_at = SteadyClock::now();
    return cache->members;
  };
}

}  // namespace dbcanary
