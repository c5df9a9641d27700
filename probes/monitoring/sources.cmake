list(APPEND DBCANARY_PROBE_SOURCES
  monitoring/responses.cc
  monitoring/rules.cc
  monitoring/monitoring_pipeline_probe.cc
)
