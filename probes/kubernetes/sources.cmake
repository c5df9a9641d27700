list(APPEND DBCANARY_PROBE_SOURCES
  kubernetes/k8s_cnpg_cluster_probe.cc
  kubernetes/k8s_cnpg_backups_probe.cc
  kubernetes/k8s_cnpg_pooler_probe.cc
  kubernetes/k8s_cnpg_operator_probe.cc
  kubernetes/k8s_dragonfly_probe.cc
  kubernetes/backup_directory_probe.cc
  kubernetes/cnpg_members.cc
  kubernetes/dragonfly_members.cc
  kubernetes/k8s_cnpg_storage_probe.cc
  kubernetes/k8s_cnpg_placement_probe.cc
  kubernetes/k8s_pdb_probe.cc
  kubernetes/k8s_cnpg_webhook_probe.cc
  kubernetes/k8s_cnpg_backup_policy_probe.cc
)
