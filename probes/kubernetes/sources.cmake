list(APPEND DBCANARY_PROBE_SOURCES
  kubernetes/k8s_cnpg_cluster_probe.cc
  kubernetes/k8s_cnpg_backups_probe.cc
  kubernetes/k8s_cnpg_pooler_probe.cc
  kubernetes/k8s_cnpg_operator_probe.cc
  kubernetes/k8s_dragonfly_probe.cc
  kubernetes/backup_directory_probe.cc
  kubernetes/cnpg_members.cc
  kubernetes/dragonfly_members.cc
)
