list(APPEND DBCANARY_PROBE_SOURCES
  pooler/pgbouncer_rows.cc
  pooler/pooler_admin_probe.cc
  pooler/pooler_roundtrip_probe.cc
)
