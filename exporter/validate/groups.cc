#include "exporter/validate/groups.h"

namespace dbcanary {
namespace {

using enum CheckSource;
using enum CheckGroup;

// Adding a probe or drill kind: add its row here (a unit test checks every
// registered kind has one).
constexpr KindGroup kKindGroups[] = {
    // Operator
    {kProbe, "k8s_cnpg_operator", kOperator},
    {kProbe, "k8s_cnpg_webhook", kOperator},
    // Cluster and replication
    {kProbe, "pg_replication", kCluster},
    {kProbe, "pg_heartbeat", kCluster},
    {kProbe, "pg_sync_commit", kCluster},
    {kProbe, "pg_tls", kCluster},
    {kProbe, "pg_instance", kCluster},
    {kProbe, "pg_hazards", kCluster},
    {kProbe, "k8s_cnpg_cluster", kCluster},
    {kProbe, "k8s_cnpg_storage", kCluster},
    {kProbe, "k8s_cnpg_placement", kCluster},
    {kProbe, "k8s_pdb", kCluster},
    {kDrill, "failover", kCluster},
    // Tenants
    {kProbe, "pg_tenants", kTenants},
    // Poolers
    {kProbe, "pooler_roundtrip", kPoolers},
    {kProbe, "pooler_admin", kPoolers},
    {kProbe, "k8s_cnpg_pooler", kPoolers},
    // Backups
    {kProbe, "pg_archiver", kBackups},
    {kProbe, "k8s_cnpg_backups", kBackups},
    {kProbe, "k8s_cnpg_backup_policy", kBackups},
    {kProbe, "backup_directory", kBackups},
    {kDrill, "restore", kBackups},
    // Dragonfly
    {kProbe, "dragonfly_basics", kDragonfly},
    {kProbe, "dragonfly_structures", kDragonfly},
    {kProbe, "dragonfly_pubsub", kDragonfly},
    {kProbe, "dragonfly_replication", kDragonfly},
    {kProbe, "dragonfly_info", kDragonfly},
    {kProbe, "k8s_dragonfly", kDragonfly},
    {kDrill, "dragonfly_persistence", kDragonfly},
    // Performance
    {kDrill, "pg_benchmark", kPerformance},
    {kDrill, "dragonfly_benchmark", kPerformance},
    // Monitoring
    {kProbe, "monitoring_pipeline", kMonitoring},
};

}  // namespace

std::span<const KindGroup> KindGroups() { return kKindGroups; }

CheckGroup GroupOfKind(CheckSource source, std::string_view kind) {
  for (const auto& row : kKindGroups) {
    if (row.source == source && row.kind == kind) return row.group;
  }
  return kOther;
}

std::string_view SourceName(CheckSource source) { return source == kProbe ? "probe" : "drill"; }

}  // namespace dbcanary
