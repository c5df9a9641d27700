list(APPEND DBCANARY_PROBE_SOURCES
  monitoring/http_client.cc
  monitoring/responses.cc
  monitoring/monitoring_pipeline_probe.cc
)
