# Sources of the persistence drill area, appended to DBCANARY_DRILL_SOURCES (paths relative to drills/).
list(APPEND DBCANARY_DRILL_SOURCES persistence/dragonfly_persistence_drill.cc)
