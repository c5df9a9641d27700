#include "drills/failover/trigger.h"

namespace dbcanary {

std::string CnpgPrimarySelector(const std::string& cnpg_cluster) {
  return "cnpg.io/cluster=" + cnpg_cluster + ",cnpg.io/instanceRole=primary";
}

Result<std::string> DeleteCnpgPrimaryPod(const kube::Client& client, const std::string& namespace_,
                                         const std::string& cnpg_cluster, Deadline deadline) {
  const kube::Resource pods{"", "v1", "pods", namespace_};
  auto list = client.List(pods, CnpgPrimarySelector(cnpg_cluster), deadline);
  if (!list) return list.error();
  std::vector<std::string> names;
  auto items = list->find("items");
  if (items != list->end() && items->is_array()) {
    for (const auto& item : *items) {
      const auto metadata = item.find("metadata");
      if (metadata == item.end() || !metadata->is_object()) continue;
      const auto name = metadata->find("name");
      if (name != metadata->end() && name->is_string()) names.push_back(name->get<std::string>());
    }
  } else {
    return MakeError(ErrorCode::kProtocol, "pods list in " + namespace_ + " has no items array");
  }
  if (names.size() != 1) {
    return MakeError(ErrorCode::kUnexpected,
                     std::to_string(names.size()) + " pods in namespace " + namespace_ + " match " +
                         CnpgPrimarySelector(cnpg_cluster) + " (expected exactly one primary)");
  }
  auto deleted = client.Delete(pods, names[0], deadline);
  if (!deleted) return deleted.error();
  return names[0];
}

}  // namespace dbcanary
