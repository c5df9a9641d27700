#include "core/acceptance_groups.h"

#include <iterator>
#include <string>

namespace dbcanary {
namespace {

constexpr GroupInfo kGroups[] = {
    {CheckGroup::kOperator, "operator", "Operator"},
    {CheckGroup::kCluster, "cluster", "Cluster and replication"},
    {CheckGroup::kTenants, "tenants", "Tenants"},
    {CheckGroup::kPoolers, "poolers", "Poolers"},
    {CheckGroup::kBackups, "backups", "Backups"},
    {CheckGroup::kDragonfly, "dragonfly", "Dragonfly"},
    {CheckGroup::kPerformance, "performance", "Performance"},
    {CheckGroup::kMonitoring, "monitoring", "Monitoring"},
    {CheckGroup::kOther, "other", "Other"},
};

}  // namespace

std::span<const GroupInfo> AllGroups() { return kGroups; }

const GroupInfo& GetGroupInfo(CheckGroup group) {
  for (const auto& info : kGroups) {
    if (info.group == group) return info;
  }
  return kGroups[std::size(kGroups) - 1];
}

std::optional<CheckGroup> FindGroupBySlug(std::string_view slug) {
  for (const auto& info : kGroups) {
    if (info.slug == slug && info.group != CheckGroup::kOther) return info.group;
  }
  return std::nullopt;
}

const std::string& GroupSlugList() {
  static const std::string list = [] {
    std::string out;
    for (const auto& info : kGroups) {
      if (info.group == CheckGroup::kOther) continue;
      out += out.empty() ? "" : ", ";
      out += info.slug;
    }
    return out;
  }();
  return list;
}

}  // namespace dbcanary
