list(APPEND DBCANARY_PROBE_SOURCES
  dragonfly/dragonfly_roles.cc
  dragonfly/dragonfly_ops.cc
  dragonfly/dragonfly_basics_probe.cc
  dragonfly/dragonfly_info_probe.cc
  dragonfly/dragonfly_replication_probe.cc
  dragonfly/dragonfly_structures_probe.cc
  dragonfly/dragonfly_pubsub_probe.cc
)
