# Sources of the framework drill area, appended to DBCANARY_DRILL_SOURCES (paths relative to drills/).
list(APPEND DBCANARY_DRILL_SOURCES
  framework/cron.cc
  framework/drill_cli.cc
  framework/drill_lock.cc
  framework/drill_metrics.cc
  framework/drill_scheduler.cc
  framework/record.cc
  framework/report.cc
  framework/runner.cc
  framework/state_store.cc)
