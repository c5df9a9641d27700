# Sources of the restore drill area, appended to DBCANARY_DRILL_SOURCES (paths relative to drills/).
list(APPEND DBCANARY_DRILL_SOURCES
  restore/restore_backend.cc
  restore/restore_drill.cc
)
