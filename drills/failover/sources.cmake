# Sources of the failover drill area, appended to DBCANARY_DRILL_SOURCES (paths relative to drills/).
list(APPEND DBCANARY_DRILL_SOURCES
  failover/failover_drill.cc
  failover/monitor_check.cc
  failover/trigger.cc
  failover/write_log.cc
)
