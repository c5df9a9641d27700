list(APPEND DBCANARY_PROBE_SOURCES
  dragonfly/redis_connection.cc
  dragonfly/dragonfly_ops.cc
  dragonfly/dragonfly_basics_probe.cc
)
