list(APPEND DBCANARY_PROBE_SOURCES
  pooler/pooler_roundtrip_probe.cc
)
