#include "probes/dragonfly/dragonfly_basics_probe.h"
#include "probes/dragonfly/dragonfly_info_probe.h"
#include "probes/dragonfly/dragonfly_pubsub_probe.h"
#include "probes/dragonfly/dragonfly_replication_probe.h"
#include "probes/dragonfly/dragonfly_structures_probe.h"
#include "probes/kubernetes/backup_directory_probe.h"
#include "probes/kubernetes/k8s_cnpg_backup_policy_probe.h"
#include "probes/kubernetes/k8s_cnpg_backups_probe.h"
#include "probes/kubernetes/k8s_cnpg_cluster_probe.h"
#include "probes/kubernetes/k8s_cnpg_operator_probe.h"
#include "probes/kubernetes/k8s_cnpg_placement_probe.h"
#include "probes/kubernetes/k8s_cnpg_pooler_probe.h"
#include "probes/kubernetes/k8s_cnpg_storage_probe.h"
#include "probes/kubernetes/k8s_cnpg_webhook_probe.h"
#include "probes/kubernetes/k8s_dragonfly_probe.h"
#include "probes/kubernetes/k8s_pdb_probe.h"
#include "probes/monitoring/monitoring_pipeline_probe.h"
#include "probes/pooler/pooler_admin_probe.h"
#include "probes/pooler/pooler_roundtrip_probe.h"
#include "probes/postgres/pg_archiver_probe.h"
#include "probes/postgres/pg_hazards_probe.h"
#include "probes/postgres/pg_heartbeat_probe.h"
#include "probes/postgres/pg_instance_probe.h"
#include "probes/postgres/pg_replication_probe.h"
#include "probes/postgres/pg_sync_commit_probe.h"
#include "probes/postgres/pg_tenants_probe.h"
#include "probes/postgres/pg_tls_probe.h"
#include "probes/probe.h"

namespace dbcanary {

// Explicit on purpose: static-initializer self-registration is dropped by the linker
// for object files nothing references in a static library.
void RegisterBuiltinProbes(ProbeRegistry& registry) {
  registry.Add("pg_replication", CreatePgReplicationProbe);
  registry.Add("pg_heartbeat", CreatePgHeartbeatProbe);
  registry.Add("pg_sync_commit", CreatePgSyncCommitProbe);
  registry.Add("pg_tls", CreatePgTlsProbe);
  registry.Add("pg_tenants", CreatePgTenantsProbe);
  registry.Add("pg_archiver", CreatePgArchiverProbe);
  registry.Add("pg_hazards", CreatePgHazardsProbe);
  registry.Add("pg_instance", CreatePgInstanceProbe);
  registry.Add("pooler_roundtrip", CreatePoolerRoundtripProbe);
  registry.Add("pooler_admin", CreatePoolerAdminProbe);
  registry.Add("dragonfly_basics", CreateDragonflyBasicsProbe);
  registry.Add("k8s_cnpg_cluster", CreateK8sCnpgClusterProbe);
  registry.Add("k8s_cnpg_backups", CreateK8sCnpgBackupsProbe);
  registry.Add("k8s_cnpg_pooler", CreateK8sCnpgPoolerProbe);
  registry.Add("k8s_cnpg_operator", CreateK8sCnpgOperatorProbe);
  registry.Add("k8s_dragonfly", CreateK8sDragonflyProbe);
  registry.Add("backup_directory", CreateBackupDirectoryProbe);
  registry.Add("dragonfly_structures", CreateDragonflyStructuresProbe);
  registry.Add("dragonfly_pubsub", CreateDragonflyPubsubProbe);
  registry.Add("dragonfly_replication", CreateDragonflyReplicationProbe);
  registry.Add("dragonfly_info", CreateDragonflyInfoProbe);
  registry.Add("monitoring_pipeline", CreateMonitoringPipelineProbe);
  registry.Add("k8s_cnpg_storage", CreateK8sCnpgStorageProbe);
  registry.Add("k8s_cnpg_placement", CreateK8sCnpgPlacementProbe);
  registry.Add("k8s_pdb", CreateK8sPdbProbe);
  registry.Add("k8s_cnpg_webhook", CreateK8sCnpgWebhookProbe);
  registry.Add("k8s_cnpg_backup_policy", CreateK8sCnpgBackupPolicyProbe);
}

}  // namespace dbcanary
